/* Unit tests for agent/sigv4.c and the mint path of agent/token.c against the 47 vectors in
 * tests/vectors/token-vectors.json (botocore, frozen clock): every intermediate, byte for byte,
 * through the bare signer, through one minter twice (cached kSigning) and through a minter whose
 * cache holds another date and region (key change).  Plus X-Amz-Date formatting against
 * gmtime_r and percent-encoding of all 256 byte values.  Fails when the vector file is missing. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json.h>
#include <sodium.h>

#include "agent/creds.h"
#include "agent/sigv4.h"
#include "agent/token.h"
#include "tests/tap.h"

#define N_VECTORS 47

struct vec {
    const char *id;
    const char *ak, *sk, *st, *region, *service, *prefix, *host, *timestamp;
    size_t st_len;
    uint32_t expires;
    time_t now;
    enum smt_service svc;
    const char *cr, *cr_sha256, *sts, *signing_key, *signature, *url, *token;
};

static const char *str_field(json_object *o, const char *key)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static int load_vec(json_object *o, struct vec *v)
{
    json_object *in, *st, *ex;
    struct tm tm;
    const char *end;

    memset(v, 0, sizeof(*v));
    v->id = str_field(o, "id");
    if (!v->id || !json_object_object_get_ex(o, "inputs", &in))
        return -1;
    v->ak = str_field(in, "access_key");
    v->sk = str_field(in, "secret_key");
    v->region = str_field(in, "region");
    v->service = str_field(in, "service");
    v->prefix = str_field(in, "prefix");
    v->host = str_field(in, "host");
    v->timestamp = str_field(in, "timestamp");
    if (!json_object_object_get_ex(in, "session_token", &st) ||
        !json_object_object_get_ex(in, "expires", &ex))
        return -1;
    if (st && json_object_is_type(st, json_type_string)) {
        v->st = json_object_get_string(st);
        v->st_len = (size_t)json_object_get_string_len(st);
    }
    v->expires = (uint32_t)json_object_get_int64(ex);
    v->cr = str_field(o, "canonical_request");
    v->cr_sha256 = str_field(o, "canonical_request_sha256");
    v->sts = str_field(o, "string_to_sign");
    v->signing_key = str_field(o, "signing_key");
    v->signature = str_field(o, "signature");
    v->url = str_field(o, "presigned_url");
    v->token = str_field(o, "token");
    if (!v->ak || !v->sk || !v->region || !v->service || !v->prefix || !v->host ||
        !v->timestamp || !v->cr || !v->cr_sha256 || !v->sts || !v->signing_key ||
        !v->signature || !v->url || !v->token)
        return -1;
    if (smt_service_parse(v->service, &v->svc) < 0)
        return -1;
    memset(&tm, 0, sizeof(tm));
    end = strptime(v->timestamp, "%Y%m%dT%H%M%SZ", &tm);
    if (!end || *end)
        return -1;
    v->now = timegm(&tm);
    return 0;
}

static struct smt_sigv4_request vec_request(const struct vec *v, int empty_token_is_none)
{
    struct smt_sigv4_request req = {
        .access_key = v->ak,
        .access_key_len = strlen(v->ak),
        .secret_key = v->sk,
        .secret_key_len = strlen(v->sk),
        .session_token = v->st,
        .session_token_len = v->st_len,
        .region = v->region,
        .region_len = strlen(v->region),
        .service = v->service,
        .host = v->host,
        .expires = v->expires,
        .now = v->now,
    };

    if (empty_token_is_none && v->st && !v->st_len)
        req.session_token = NULL;
    return req;
}

static struct smt_creds vec_creds(const struct vec *v)
{
    struct smt_creds c;

    memset(&c, 0, sizeof(c));
    c.access_key = (char *)v->ak;
    c.access_key_len = strlen(v->ak);
    c.secret_key = (char *)v->sk;
    c.secret_key_len = strlen(v->sk);
    c.session_token = (char *)v->st;
    c.session_token_len = v->st_len;
    return c;
}

/* prefix + base64(url without "https://" + "&Version=1"), built here independently. */
static char *token_from_url(const char *prefix, const char *url)
{
    size_t ulen = strlen(url) - 8, plen = strlen(prefix), n;
    unsigned char *body = malloc(ulen + 10);
    char *tok;

    n = sodium_base64_ENCODED_LEN(ulen + 10, sodium_base64_VARIANT_ORIGINAL);
    tok = malloc(plen + n);
    if (!body || !tok) {
        free(body);
        free(tok);
        return NULL;
    }
    memcpy(body, url + 8, ulen);
    memcpy(body + ulen, "&Version=1", 10);
    memcpy(tok, prefix, plen);
    sodium_bin2base64(tok + plen, n, body, ulen + 10, sodium_base64_VARIANT_ORIGINAL);
    free(body);
    return tok;
}

/* All intermediates of a trace against the expected ones; names the first that differs. */
static int trace_matches(const struct smt_sigv4_trace *t, const struct smt_sigv4_trace *want,
                         const char *what)
{
    char label[128];

    snprintf(label, sizeof(label), "%s canonical request", what);
    if (!tap_streq(t->canonical_request, want->canonical_request, label))
        return 0;
    snprintf(label, sizeof(label), "%s hash/sts/key/signature/url", what);
    return tap_streq(t->canonical_request_sha256, want->canonical_request_sha256, label) &&
           tap_streq(t->string_to_sign, want->string_to_sign, label) &&
           tap_streq(t->signing_key, want->signing_key, label) &&
           tap_streq(t->signature, want->signature, label) &&
           tap_streq(t->presigned_url, want->presigned_url, label);
}

static void check_vector(const struct vec *v, struct smt_sigv4 *signer, struct smt_minter *m1,
                         struct smt_minter *m2)
{
    struct smt_sigv4_request req = vec_request(v, 0);
    struct smt_creds c = vec_creds(v);
    struct smt_sigv4_trace t = {0}, ref = {0}, t1 = {0}, t2 = {0}, t3 = {0};
    size_t size = smt_token_size(v->st_len), url_size, len1 = 0, len2 = 0, len3 = 0, junk_len;
    char *url, *tok1 = malloc(size), *tok2 = malloc(size), *tok3 = malloc(size), *want_tok = NULL;
    char *junk = malloc(size), *built;
    int r;

    /* 1. The bare signer, with botocore's semantics for "" (an empty X-Amz-Security-Token). */
    url_size = smt_sigv4_url_size(req.access_key_len, req.region_len, strlen(v->service),
                                  strlen(v->host), v->st_len);
    url = malloc(url_size);
    r = smt_sigv4_presign(signer, &req, url, url_size, NULL, &t);
    if (!tap_ok(r == 0, "%s: presign (%s)", v->id, smt_strerror(r)))
        goto out;
    tap_ok(tap_streq(t.canonical_request, v->cr, "canonical request"), "%s: canonical request",
           v->id);
    tap_ok(tap_streq(t.canonical_request_sha256, v->cr_sha256, "sha256"),
           "%s: canonical request sha256", v->id);
    tap_ok(tap_streq(t.string_to_sign, v->sts, "string to sign"), "%s: string to sign", v->id);
    tap_ok(tap_streq(t.signing_key, v->signing_key, "signing key"), "%s: signing key", v->id);
    tap_ok(tap_streq(t.signature, v->signature, "signature"), "%s: signature", v->id);
    tap_ok(tap_streq(url, v->url, "url") && tap_streq(t.presigned_url, v->url, "trace url"),
           "%s: presigned URL", v->id);
    built = token_from_url(v->prefix, url);
    tap_ok(tap_streq(built, v->token, "token"), "%s: token from the presigned URL", v->id);
    free(built);

    /* What the token layer must produce: the vector, except that "" counts as no session
     * token (DESIGN §2), so v41's reference is the same request without the parameter. */
    if (v->st && !v->st_len) {
        req = vec_request(v, 1);
        r = smt_sigv4_presign(signer, &req, url, url_size, NULL, &ref);
        want_tok = r == 0 ? token_from_url(v->prefix, url) : NULL;
        tap_ok(r == 0 && want_tok && strcmp(want_tok, v->token) != 0 &&
                   !strstr(ref.presigned_url, "Security-Token"),
               "%s: empty session token counts as none in the token layer (botocore would "
               "send X-Amz-Security-Token=)",
               v->id);
    } else {
        ref = t;
        memset(&t, 0, sizeof(t));
        want_tok = strdup(v->token);
    }
    if (!want_tok || !ref.presigned_url)
        goto out;

    /* 2. One minter, twice: the first mint derives kSigning, the second reuses it. */
    smt_minter_reset(m1);
    r = smt_token_mint_trace(m1, &c, v->svc, v->region, v->expires, v->now, tok1, size, &len1,
                             &t1);
    tap_ok(r == 0 && t1.key_derived == 1 && len1 == strlen(want_tok) &&
               tap_streq(tok1, want_tok, "minter token") && trace_matches(&t1, &ref, "minter"),
           "%s: minter, fresh key: token and every intermediate", v->id);
    r = smt_token_mint_trace(m1, &c, v->svc, v->region, v->expires, v->now, tok2, size, &len2,
                             &t2);
    tap_ok(r == 0 && t2.key_derived == 0 && len2 == len1 && strcmp(tok2, tok1) == 0 &&
               trace_matches(&t2, &ref, "cached"),
           "%s: minter, cached key: identical token and intermediates", v->id);

    /* 3. A minter whose cache holds another date and region: the key must change. */
    r = smt_token_mint(m2, &c, v->svc, "xx-cache-9", 60, v->now - 3 * 86400, junk, size,
                       &junk_len);
    r = r ? r
          : smt_token_mint_trace(m2, &c, v->svc, v->region, v->expires, v->now, tok3, size,
                                 &len3, &t3);
    tap_ok(r == 0 && t3.key_derived == 1 && tap_streq(tok3, want_tok, "key change token") &&
               trace_matches(&t3, &ref, "key change"),
           "%s: minter after another date/region: key re-derived, same token", v->id);
out:
    smt_sigv4_trace_clear(&t);
    smt_sigv4_trace_clear(&ref);
    smt_sigv4_trace_clear(&t1);
    smt_sigv4_trace_clear(&t2);
    smt_sigv4_trace_clear(&t3);
    free(url);
    free(tok1);
    free(tok2);
    free(tok3);
    free(junk);
    free(want_tok);
}

static json_object *load_vectors(void)
{
    const char *path = getenv("SMT_VECTORS"), *top = getenv("top_srcdir");
    char buf[4096];
    json_object *root;

    if (!path || !*path) {
        snprintf(buf, sizeof(buf), "%s/tests/vectors/token-vectors.json", top ? top : ".");
        path = buf;
    }
    tap_diag("vectors: %s", path);
    root = json_object_from_file(path);
    if (!root)
        tap_diag("cannot read %s: %s", path, json_util_get_last_err());
    return root;
}

static void test_vectors(void)
{
    json_object *root = load_vectors(), *arr = NULL;
    struct smt_sigv4 *signer = NULL;
    struct smt_minter *m1 = NULL, *m2 = NULL;
    size_t i, n = 0, loaded = 0;

    if (!tap_ok(root && json_object_object_get_ex(root, "vectors", &arr) &&
                    json_object_is_type(arr, json_type_array),
                "vector file loads and has a vectors array"))
        goto out;
    n = json_object_array_length(arr);
    tap_ok(n == N_VECTORS, "%zu vectors (want %d)", n, N_VECTORS);
    if (!tap_ok(smt_sigv4_new(&signer) == 0 && smt_minter_new(&m1) == 0 &&
                    smt_minter_new(&m2) == 0,
                "signer and minters"))
        goto out;
    for (i = 0; i < n; i++) {
        struct vec v;

        if (!tap_ok(load_vec(json_object_array_get_idx(arr, i), &v) == 0,
                    "vector %zu has every field", i))
            continue;
        loaded++;
        tap_ok(strcmp(v.prefix, smt_service_prefix(v.svc)) == 0 &&
                   strcmp(v.host, smt_service_host(v.svc)) == 0,
               "%s: prefix and host are the service's", v.id);
        check_vector(&v, signer, m1, m2);
    }
    tap_ok(loaded == N_VECTORS, "all %d vectors checked", N_VECTORS);
out:
    smt_minter_free(m1);
    smt_minter_free(m2);
    smt_sigv4_free(signer);
    json_object_put(root);
}

static void test_amzdate(void)
{
    static const struct {
        time_t t;
        const char *want;
    } fixed[] = {
        {0, "19700101T000000Z"},
        {951782400, "20000229T000000Z"},
        {1830297599, "20271231T235959Z"},
        {1835395199, "20280228T235959Z"},
        {1835481599, "20280229T235959Z"},
        {1835567999, "20280301T235959Z"},
        {4107542400, "21000301T000000Z"},
        {SMT_SIGV4_TIME_MAX, "99991231T235959Z"},
    };
    char got[17], want[17];
    struct tm tm;
    size_t i;
    int bad = 0;

    for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        tap_ok(smt_sigv4_amzdate(fixed[i].t, got) == 0 && tap_streq(got, fixed[i].want, "amzdate"),
               "amzdate %lld", (long long)fixed[i].t);
    for (i = 0; i < 200000 && !bad; i++) {
        time_t t = (time_t)(((uint64_t)randombytes_random() << 32 | randombytes_random()) %
                            ((uint64_t)SMT_SIGV4_TIME_MAX + 1));

        if (i < 86400 * 2)
            t = (time_t)(1709164800 + i); /* two whole days around 2024-02-29, second by second */
        if (!gmtime_r(&t, &tm) || strftime(want, sizeof(want), "%Y%m%dT%H%M%SZ", &tm) != 16 ||
            smt_sigv4_amzdate(t, got) != 0 || strcmp(got, want) != 0) {
            tap_diag("amzdate %lld: got %s want %s", (long long)t, got, want);
            bad = 1;
        }
    }
    tap_ok(!bad, "amzdate agrees with gmtime_r+strftime on 200000 times (172800 consecutive)");
    tap_ok(smt_sigv4_amzdate(-1, got) == SMT_ERR_INVALID, "amzdate: negative time refused");
    tap_ok(smt_sigv4_amzdate(SMT_SIGV4_TIME_MAX + 1, got) == SMT_ERR_INVALID,
           "amzdate: year 10000 refused");
}

static void test_encode(void)
{
    char src[256], dst[768], want[768];
    size_t i, n = 0, got;

    for (i = 0; i < 256; i++) {
        int c = (int)i;

        src[i] = (char)c;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~')
            want[n++] = (char)c;
        else
            n += (size_t)snprintf(want + n, 4, "%%%02X", (unsigned)c);
    }
    got = smt_sigv4_encode(dst, src, sizeof(src));
    tap_ok(got == n && memcmp(dst, want, n) == 0, "encode: all 256 byte values (%zu bytes)", got);
    got = smt_sigv4_encode(dst, "a/b+c=d é", 10);
    tap_ok(got == 22 && memcmp(dst, "a%2Fb%2Bc%3Dd%20%C3%A9", 22) == 0,
           "encode: '/', '+', '=', ' ', UTF-8 upper-case hex");
}

static void test_presign_errors(void)
{
    struct smt_sigv4 *s = NULL;
    struct smt_sigv4_request ok = {
        .access_key = "AKIDEXAMPLE",
        .access_key_len = 11,
        .secret_key = "secret",
        .secret_key_len = 6,
        .region = "us-east-1",
        .region_len = 9,
        .service = "sagemaker",
        .host = "sagemaker.amazonaws.com",
        .expires = 900,
        .now = 1735689600,
    }, req;
    size_t size = smt_sigv4_url_size(11, 9, 9, 23, 0), len = 0;
    char *url = malloc(size + 1);

    if (!tap_ok(smt_sigv4_new(&s) == 0 && url, "signer"))
        goto out;
    url[0] = 'X';
    tap_ok(smt_sigv4_presign(s, &ok, url, size - 1, &len, NULL) == SMT_ERR_TOO_LARGE &&
               url[0] != 'h',
           "presign: url_size one below smt_sigv4_url_size is refused before writing");
    tap_ok(smt_sigv4_presign(s, &ok, url, size, &len, NULL) == 0 && len == strlen(url) &&
               len < size,
           "presign: smt_sigv4_url_size is enough");
    req = ok;
    req.expires = 0;
    tap_ok(smt_sigv4_presign(s, &req, url, size, &len, NULL) == SMT_ERR_LIFETIME, "expires 0");
    req.expires = SMT_SIGV4_EXPIRES_MAX + 1;
    tap_ok(smt_sigv4_presign(s, &req, url, size, &len, NULL) == SMT_ERR_LIFETIME,
           "expires over 7 days");
    req = ok;
    req.now = -1;
    tap_ok(smt_sigv4_presign(s, &req, url, size, &len, NULL) == SMT_ERR_INVALID, "time < 0");
    req = ok;
    req.region_len = 0;
    tap_ok(smt_sigv4_presign(s, &req, url, size, &len, NULL) == SMT_ERR_INVALID, "empty region");
    req = ok;
    req.secret_key = NULL;
    tap_ok(smt_sigv4_presign(s, &req, url, size, &len, NULL) == SMT_ERR_INVALID, "no secret");
    req = ok;
    req.access_key_len = SMT_SIGV4_ACCESS_KEY_MAX + 1;
    tap_ok(smt_sigv4_presign(s, &req, url, size, &len, NULL) == SMT_ERR_TOO_LARGE,
           "access key over the cap");
    req = ok;
    req.session_token_len = 5;
    tap_ok(smt_sigv4_presign(s, &req, url, size, &len, NULL) == SMT_ERR_INVALID,
           "session token length without a pointer");
    tap_ok(smt_sigv4_url_size(SMT_SIGV4_ACCESS_KEY_MAX + 1, 1, 1, 1, 0) == 0 &&
               smt_sigv4_url_size(1, 1, 1, 1, SMT_SIGV4_SESSION_TOKEN_MAX + 1) == 0,
           "url_size: 0 over a cap");
    tap_ok(smt_sigv4_presign(NULL, &ok, url, size, &len, NULL) == SMT_ERR_INVALID &&
               smt_sigv4_presign(s, NULL, url, size, &len, NULL) == SMT_ERR_INVALID &&
               smt_sigv4_presign(s, &ok, NULL, size, &len, NULL) == SMT_ERR_INVALID,
           "presign: NULL arguments");
out:
    smt_sigv4_free(s);
    free(url);
}

int main(void)
{
    if (sodium_init() < 0) {
        tap_ok(0, "sodium_init");
        return tap_done();
    }
    test_vectors();
    test_amzdate();
    test_encode();
    test_presign_errors();
    smt_sigv4_free(NULL);
    smt_sigv4_reset(NULL);
    smt_sigv4_trace_clear(NULL);
    return tap_done();
}
