/* smtoken tests: what a minted token says about itself (test-cache, test-requests).
 * Decodes prefix + base64(URL) and pulls out the query fields the tests check.  Test data only:
 * the tokens here come from throwaway keys. */
#ifndef SMT_TOKFACTS_H
#define SMT_TOKFACTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

struct tokfacts {
    char service[16];     /* "sagemaker" / "bedrock" from the prefix */
    char credential[256]; /* X-Amz-Credential, still percent-encoded (AK%2Fdate%2F...) */
    int64_t date;         /* X-Amz-Date as epoch seconds */
    long expires;         /* X-Amz-Expires */
    bool has_session_token;
};

/* Copy the value of "&key=" (or "?key=") out of url into out; false when absent. */
static inline bool tokfacts_param(const char *url, const char *key, char *out, size_t size)
{
    size_t klen = strlen(key), n;
    const char *p = url;

    while ((p = strstr(p, key)) != NULL) {
        if (p > url && (p[-1] == '&' || p[-1] == '?') && p[klen] == '=') {
            p += klen + 1;
            n = strcspn(p, "&");
            if (n >= size)
                return false;
            memcpy(out, p, n);
            out[n] = '\0';
            return true;
        }
        p += klen;
    }
    return false;
}

static inline bool tokfacts_decode(const char *tok, struct tokfacts *f)
{
    static const char *const prefixes[] = {"sagemaker-api-key-", "bedrock-api-key-"};
    char url[24576], v[256];
    size_t url_len = 0;
    const char *b64 = NULL;
    struct tm tm;

    memset(f, 0, sizeof(*f));
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(prefixes[i]);

        if (strncmp(tok, prefixes[i], n) == 0) {
            b64 = tok + n;
            memcpy(f->service, prefixes[i], strcspn(prefixes[i], "-"));
        }
    }
    if (!b64 || sodium_base642bin((unsigned char *)url, sizeof(url) - 1, b64, strlen(b64), NULL,
                                  &url_len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
        return false;
    url[url_len] = '\0';
    if (!tokfacts_param(url, "X-Amz-Credential", f->credential, sizeof(f->credential)))
        return false;
    if (!tokfacts_param(url, "X-Amz-Date", v, sizeof(v)) || strlen(v) != 16)
        return false;
    memset(&tm, 0, sizeof(tm));
    if (!strptime(v, "%Y%m%dT%H%M%SZ", &tm))
        return false;
    f->date = (int64_t)timegm(&tm);
    if (!tokfacts_param(url, "X-Amz-Expires", v, sizeof(v)))
        return false;
    f->expires = strtol(v, NULL, 10);
    f->has_session_token = strstr(url, "&X-Amz-Security-Token=") != NULL;
    return true;
}

#endif
