/* smtoken-agent: SigV4 query presigning for CallWithBearerToken (DESIGN §2, sigv4.h).
 *
 * The mint path is: format X-Amz-Date, write the URL (percent-encoding the inputs once), hash the
 * canonical request from pieces of that URL (it holds the same encoded pairs, only the session
 * token sorts elsewhere), HMAC the string to sign with the cached kSigning, append the signature.
 * No allocation on that path except OpenSSL's own context copies.
 */
#include <config.h> /* autoconf's; "config.h" would find agent/config.h */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include "agent/sigv4.h"

#define SHA256_LEN   32
#define SHA256_BLOCK 64
#define SECS_PER_DAY 86400

/* The fixed pieces of the URL and the canonical request. */
static const char S_SCHEME[] = "https://";
static const char S_QUERY_START[] = "/?";
static const char S_HEAD[] =
    "Action=CallWithBearerToken&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=";
static const char S_SLASH[] = "%2F";
static const char S_SCOPE_END[] = "%2Faws4_request&X-Amz-Date=";
static const char S_EXPIRES[] = "&X-Amz-Expires=";
static const char S_SIGNED_HEADERS[] = "&X-Amz-SignedHeaders=host";
static const char S_TOKEN[] = "&X-Amz-Security-Token=";
static const char S_SIGNATURE[] = "&X-Amz-Signature=";
static const char S_CR_HEAD[] = "POST\n/\n";
static const char S_CR_HOST[] = "&X-Amz-SignedHeaders=host\nhost:";
/* The rest after the host: no more headers, the signed header list, sha256("") (botocore hashes
 * the empty body of the POST; it does not send UNSIGNED-PAYLOAD for this request). */
static const char S_CR_TAIL[] =
    "\n\nhost\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
static const char S_STS_HEAD[] = "AWS4-HMAC-SHA256\n";
static const char S_AWS4[] = "AWS4";
static const char S_AWS4_REQUEST[] = "aws4_request";
static const char S_SCOPE_TAIL[] = "/aws4_request\n";

#define LIT(s) (sizeof(s) - 1)

/* kSigning and the inputs it was derived from, in one sodium_malloc arena so the secret copy,
 * the key and every chain intermediate are locked, guarded and wiped together. */
struct keycache {
    unsigned char ksigning[SHA256_LEN];
    unsigned char scratch[SHA256_BLOCK]; /* kDate..kService, then the HMAC pads */
    unsigned char seed[LIT(S_AWS4) + SMT_SIGV4_SECRET_KEY_MAX]; /* "AWS4" + secret */
    unsigned char secret[SMT_SIGV4_SECRET_KEY_MAX];
    char region[SMT_SIGV4_REGION_MAX];
    char service[SMT_SIGV4_SERVICE_MAX];
    size_t secret_len;
    size_t region_len;
    size_t service_len;
    int64_t day;
    int valid;
};

struct smt_sigv4 {
    EVP_MD *sha256; /* fetched once: EVP_sha256()/HMAC() look it up on every call */
    EVP_MAC *hmac;
    EVP_MD_CTX *sha;   /* canonical request hash, reused */
    EVP_MD_CTX *inner; /* SHA-256 after absorbing kSigning ^ ipad */
    EVP_MD_CTX *outer; /* SHA-256 after absorbing kSigning ^ opad */
    EVP_MD_CTX *work;  /* per presign copy of inner, then outer */
    struct keycache *kc;
    int locked; /* kc is PROT_NONE (smt_sigv4_lock) */
};

/* RFC 3986 unreserved characters: the only bytes AWS leaves unencoded in a query. */
static const unsigned char unreserved[256] = {
    ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
    ['-'] = 1,         ['_'] = 1,         ['.'] = 1,         ['~'] = 1,
};

size_t smt_sigv4_encode(char *dst, const char *src, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    char *p = dst;
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];

        if (unreserved[c]) {
            *p++ = (char)c;
        } else {
            p[0] = '%';
            p[1] = hex[c >> 4];
            p[2] = hex[c & 15];
            p += 3;
        }
    }
    return (size_t)(p - dst);
}

static char *put(char *p, const void *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

static char *put_u32(char *p, uint32_t v)
{
    char tmp[10];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static void put_digits(char *p, unsigned v, int n)
{
    while (n-- > 0) {
        p[n] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* Days since 1970-01-01 to a civil date (H. Hinnant's days_from_civil inverse).  Written out
 * because gmtime_r takes glibc's time zone lock and reads TZ on first use; this code must not
 * touch the environment and is on every mint. */
static void civil_from_days(int64_t z, unsigned *ret_y, unsigned *ret_m, unsigned *ret_d)
{
    int64_t era, doe, yoe, doy, mp, y;

    z += 719468;
    era = z / 146097; /* z >= 0 here */
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *ret_d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *ret_m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *ret_y = (unsigned)(y + (*ret_m <= 2));
}

int smt_sigv4_amzdate(time_t now, char out[17])
{
    unsigned y, m, d, secs;

    if (now < 0 || now > SMT_SIGV4_TIME_MAX)
        return SMT_ERR_INVALID;
    civil_from_days((int64_t)now / SECS_PER_DAY, &y, &m, &d);
    secs = (unsigned)((int64_t)now % SECS_PER_DAY);
    put_digits(out, y, 4);
    put_digits(out + 4, m, 2);
    put_digits(out + 6, d, 2);
    out[8] = 'T';
    put_digits(out + 9, secs / 3600, 2);
    put_digits(out + 11, secs / 60 % 60, 2);
    put_digits(out + 13, secs % 60, 2);
    out[15] = 'Z';
    out[16] = '\0';
    return 0;
}

size_t smt_sigv4_url_size(size_t access_key_len, size_t region_len, size_t service_len,
                          size_t host_len, size_t session_token_len)
{
    if (access_key_len > SMT_SIGV4_ACCESS_KEY_MAX || region_len > SMT_SIGV4_REGION_MAX ||
        service_len > SMT_SIGV4_SERVICE_MAX || host_len > SMT_SIGV4_HOST_MAX ||
        session_token_len > SMT_SIGV4_SESSION_TOKEN_MAX)
        return 0;
    return LIT(S_SCHEME) + host_len + LIT(S_QUERY_START) + LIT(S_HEAD) + 3 * access_key_len +
           LIT(S_SLASH) + 8 + LIT(S_SLASH) + 3 * region_len + LIT(S_SLASH) + 3 * service_len +
           LIT(S_SCOPE_END) + 16 + LIT(S_EXPIRES) + 10 + LIT(S_SIGNED_HEADERS) + LIT(S_TOKEN) +
           3 * session_token_len + LIT(S_SIGNATURE) + 2 * SHA256_LEN + 1;
}

void smt_sigv4_trace_clear(struct smt_sigv4_trace *t)
{
    if (!t)
        return;
    if (t->canonical_request) {
        sodium_memzero(t->canonical_request, strlen(t->canonical_request));
        free(t->canonical_request);
    }
    if (t->presigned_url) {
        sodium_memzero(t->presigned_url, strlen(t->presigned_url));
        free(t->presigned_url);
    }
    sodium_memzero(t, sizeof(*t));
}

/* Wipe kSigning and its keyed states; s->kc must be writable (inside a presign). */
static void key_wipe(struct smt_sigv4 *s)
{
    if (s->kc)
        sodium_memzero(s->kc, sizeof(*s->kc));
    /* Resetting frees the keyed SHA-256 states; OpenSSL's provider clears them on free. */
    if (s->inner)
        EVP_MD_CTX_reset(s->inner);
    if (s->outer)
        EVP_MD_CTX_reset(s->outer);
    if (s->work)
        EVP_MD_CTX_reset(s->work);
}

void smt_sigv4_reset(struct smt_sigv4 *s)
{
    if (!s)
        return;
    if (s->locked)
        sodium_mprotect_readwrite(s->kc);
    key_wipe(s);
    if (s->locked)
        sodium_mprotect_noaccess(s->kc);
}

void smt_sigv4_lock(struct smt_sigv4 *s)
{
    if (s && s->kc && !s->locked && sodium_mprotect_noaccess(s->kc) == 0)
        s->locked = 1;
}

void smt_sigv4_unlock(struct smt_sigv4 *s)
{
    if (s && s->locked && sodium_mprotect_readwrite(s->kc) == 0)
        s->locked = 0;
}

void smt_sigv4_free(struct smt_sigv4 *s)
{
    if (!s)
        return;
    smt_sigv4_reset(s);
    EVP_MD_CTX_free(s->sha);
    EVP_MD_CTX_free(s->inner);
    EVP_MD_CTX_free(s->outer);
    EVP_MD_CTX_free(s->work);
    EVP_MAC_free(s->hmac);
    EVP_MD_free(s->sha256);
    sodium_free(s->kc);
    free(s);
}

int smt_sigv4_new(struct smt_sigv4 **ret)
{
    struct smt_sigv4 *s = NULL;
    int r;

    if (!ret) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if (sodium_init() < 0) {
        r = SMT_ERR_CRYPTO;
        goto out;
    }
    if (!(s = calloc(1, sizeof(*s)))) {
        r = SMT_ERR_NOMEM;
        goto out;
    }
    /* sodium_malloc memory is not aligned unless the size is a multiple of the alignment. */
    if (!(s->kc = sodium_malloc((sizeof(*s->kc) + 15) & ~(size_t)15))) {
        r = SMT_ERR_NOMEM;
        goto out;
    }
    sodium_memzero(s->kc, sizeof(*s->kc));
    s->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    s->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    s->sha = EVP_MD_CTX_new();
    s->inner = EVP_MD_CTX_new();
    s->outer = EVP_MD_CTX_new();
    s->work = EVP_MD_CTX_new();
    if (!s->sha256 || !s->hmac || !s->sha || !s->inner || !s->outer || !s->work) {
        r = SMT_ERR_CRYPTO;
        goto out;
    }
    *ret = s;
    s = NULL;
    r = 0;
out:
    smt_sigv4_free(s);
    return r;
}

static int mac(EVP_MAC_CTX *mc, const unsigned char *key, size_t key_len, const void *data,
               size_t len, unsigned char out[SHA256_LEN])
{
    size_t n = 0;

    if (!EVP_MAC_init(mc, key, key_len, NULL) || !EVP_MAC_update(mc, data, len) ||
        !EVP_MAC_final(mc, out, &n, SHA256_LEN) || n != SHA256_LEN)
        return SMT_ERR_CRYPTO;
    return 0;
}

static int keyed_state(EVP_MD_CTX *ctx, const EVP_MD *md, const unsigned char *pad)
{
    if (!EVP_DigestInit_ex2(ctx, md, NULL) || !EVP_DigestUpdate(ctx, pad, SHA256_BLOCK))
        return SMT_ERR_CRYPTO;
    return 0;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"),
 * then the two HMAC pad blocks of kSigning hashed once, so each presign's HMAC only copies a
 * SHA-256 state (RFC 2104: HMAC(K, m) = H(K^opad || H(K^ipad || m)) for a 32-byte K). */
static int derive(struct smt_sigv4 *s, const struct smt_sigv4_request *req, const char *date,
                  size_t service_len, int64_t day)
{
    struct keycache *kc = s->kc;
    EVP_MAC_CTX *mc = NULL;
    OSSL_PARAM params[2];
    size_t i;
    int r;

    key_wipe(s);
    if (!(mc = EVP_MAC_CTX_new(s->hmac))) {
        r = SMT_ERR_CRYPTO;
        goto out;
    }
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!EVP_MAC_CTX_set_params(mc, params)) {
        r = SMT_ERR_CRYPTO;
        goto out;
    }
    memcpy(kc->seed, S_AWS4, LIT(S_AWS4));
    memcpy(kc->seed + LIT(S_AWS4), req->secret_key, req->secret_key_len);
    if ((r = mac(mc, kc->seed, LIT(S_AWS4) + req->secret_key_len, date, 8, kc->scratch)) < 0 ||
        (r = mac(mc, kc->scratch, SHA256_LEN, req->region, req->region_len,
                 kc->scratch + SHA256_LEN)) < 0 ||
        (r = mac(mc, kc->scratch + SHA256_LEN, SHA256_LEN, req->service, service_len,
                 kc->scratch)) < 0 ||
        (r = mac(mc, kc->scratch, SHA256_LEN, S_AWS4_REQUEST, LIT(S_AWS4_REQUEST),
                 kc->ksigning)) < 0)
        goto out;

    for (i = 0; i < SHA256_BLOCK; i++)
        kc->scratch[i] = (unsigned char)((i < SHA256_LEN ? kc->ksigning[i] : 0) ^ 0x36);
    if ((r = keyed_state(s->inner, s->sha256, kc->scratch)) < 0)
        goto out;
    for (i = 0; i < SHA256_BLOCK; i++)
        kc->scratch[i] = (unsigned char)((i < SHA256_LEN ? kc->ksigning[i] : 0) ^ 0x5c);
    if ((r = keyed_state(s->outer, s->sha256, kc->scratch)) < 0)
        goto out;

    memcpy(kc->secret, req->secret_key, req->secret_key_len);
    kc->secret_len = req->secret_key_len;
    memcpy(kc->region, req->region, req->region_len);
    kc->region_len = req->region_len;
    memcpy(kc->service, req->service, service_len);
    kc->service_len = service_len;
    kc->day = day;
    kc->valid = 1;
    r = 0;
out:
    /* Freeing the MAC context clears its keyed states (OpenSSL cleanses on free). */
    EVP_MAC_CTX_free(mc);
    sodium_memzero(kc->seed, sizeof(kc->seed));
    sodium_memzero(kc->scratch, sizeof(kc->scratch));
    if (r < 0)
        key_wipe(s);
    return r;
}

static int cache_hit(const struct keycache *kc, const struct smt_sigv4_request *req,
                     size_t service_len, int64_t day)
{
    return kc->valid && kc->day == day && kc->secret_len == req->secret_key_len &&
           kc->region_len == req->region_len && kc->service_len == service_len &&
           sodium_memcmp(kc->secret, req->secret_key, req->secret_key_len) == 0 &&
           memcmp(kc->region, req->region, req->region_len) == 0 &&
           memcmp(kc->service, req->service, service_len) == 0;
}

/* The canonical request is hashed piece by piece; a trace also gets a copy of each piece, so
 * what a test compares is exactly what was hashed. */
struct cr {
    EVP_MD_CTX *ctx;
    char *copy; /* trace only */
    size_t len;
};

static int cr_put(struct cr *c, const void *p, size_t n)
{
    if (!EVP_DigestUpdate(c->ctx, p, n))
        return SMT_ERR_CRYPTO;
    if (c->copy)
        memcpy(c->copy + c->len, p, n);
    c->len += n;
    return 0;
}

static int hash_canonical_request(struct smt_sigv4 *s, const char *query, size_t query_len,
                                  const char *token, size_t token_len, const char *host,
                                  size_t host_len, unsigned char out[SHA256_LEN],
                                  struct smt_sigv4_trace *trace)
{
    struct cr c = {s->sha, NULL, 0};
    int r;

    if (trace) {
        size_t n = LIT(S_CR_HEAD) + query_len + token_len + LIT(S_CR_HOST) + host_len +
                   LIT(S_CR_TAIL) + 1;

        if (!(c.copy = malloc(n))) {
            r = SMT_ERR_NOMEM;
            goto out;
        }
    }
    if (!EVP_DigestInit_ex2(s->sha, s->sha256, NULL)) {
        r = SMT_ERR_CRYPTO;
        goto out;
    }
    if ((r = cr_put(&c, S_CR_HEAD, LIT(S_CR_HEAD))) < 0 || (r = cr_put(&c, query, query_len)) < 0 ||
        (r = cr_put(&c, token, token_len)) < 0 || (r = cr_put(&c, S_CR_HOST, LIT(S_CR_HOST))) < 0 ||
        (r = cr_put(&c, host, host_len)) < 0 || (r = cr_put(&c, S_CR_TAIL, LIT(S_CR_TAIL))) < 0)
        goto out;
    if (!EVP_DigestFinal_ex(s->sha, out, NULL)) {
        r = SMT_ERR_CRYPTO;
        goto out;
    }
    if (trace) {
        c.copy[c.len] = '\0';
        trace->canonical_request = c.copy;
        c.copy = NULL;
    }
    r = 0;
out:
    if (c.copy) {
        sodium_memzero(c.copy, c.len);
        free(c.copy);
    }
    return r;
}

/* hex(HMAC(kSigning, sts)) from the pre-keyed states. */
static int sign(struct smt_sigv4 *s, const char *sts, size_t sts_len, char hex[65])
{
    unsigned char md[SHA256_LEN];

    if (!EVP_MD_CTX_copy_ex(s->work, s->inner) || !EVP_DigestUpdate(s->work, sts, sts_len) ||
        !EVP_DigestFinal_ex(s->work, md, NULL) || !EVP_MD_CTX_copy_ex(s->work, s->outer) ||
        !EVP_DigestUpdate(s->work, md, sizeof(md)) || !EVP_DigestFinal_ex(s->work, md, NULL))
        return SMT_ERR_CRYPTO;
    sodium_bin2hex(hex, 65, md, sizeof(md));
    return 0;
}

static int check_request(const struct smt_sigv4_request *req, size_t *ret_service_len,
                         size_t *ret_host_len)
{
    size_t service_len, host_len;

    if (!req->access_key || !req->access_key_len || !req->secret_key || !req->secret_key_len ||
        !req->region || !req->region_len || !req->service || !req->host)
        return SMT_ERR_INVALID;
    service_len = strnlen(req->service, SMT_SIGV4_SERVICE_MAX + 1);
    host_len = strnlen(req->host, SMT_SIGV4_HOST_MAX + 1);
    if (!service_len || !host_len)
        return SMT_ERR_INVALID;
    if (req->access_key_len > SMT_SIGV4_ACCESS_KEY_MAX ||
        req->secret_key_len > SMT_SIGV4_SECRET_KEY_MAX ||
        req->session_token_len > SMT_SIGV4_SESSION_TOKEN_MAX ||
        req->region_len > SMT_SIGV4_REGION_MAX || service_len > SMT_SIGV4_SERVICE_MAX ||
        host_len > SMT_SIGV4_HOST_MAX)
        return SMT_ERR_TOO_LARGE;
    if (req->session_token_len && !req->session_token)
        return SMT_ERR_INVALID;
    if (req->expires < 1 || req->expires > SMT_SIGV4_EXPIRES_MAX)
        return SMT_ERR_LIFETIME;
    *ret_service_len = service_len;
    *ret_host_len = host_len;
    return 0;
}

int smt_sigv4_presign(struct smt_sigv4 *s, const struct smt_sigv4_request *req, char *url,
                      size_t url_size, size_t *ret_len, struct smt_sigv4_trace *trace)
{
    char amzdate[17], sts[256], crhex[65], sig[65];
    unsigned char crhash[SHA256_LEN];
    size_t service_len = 0, host_len = 0, sts_len;
    char *p = url, *query, *signed_headers, *token;
    int derived = 0, relock = 0, r;

    if (trace)
        smt_sigv4_trace_clear(trace);
    if (!s || !req || !url) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if (s->locked) { /* locked while idle: open it for this presign only */
        relock = 1;
        smt_sigv4_unlock(s);
    }
    if ((r = check_request(req, &service_len, &host_len)) < 0 ||
        (r = smt_sigv4_amzdate(req->now, amzdate)) < 0)
        goto out;
    if (url_size < smt_sigv4_url_size(req->access_key_len, req->region_len, service_len, host_len,
                                      req->session_token_len)) {
        r = SMT_ERR_TOO_LARGE;
        goto out;
    }
    if (!cache_hit(s->kc, req, service_len, (int64_t)req->now / SECS_PER_DAY)) {
        if ((r = derive(s, req, amzdate, service_len, (int64_t)req->now / SECS_PER_DAY)) < 0)
            goto out;
        derived = 1;
    }

    /* The URL, in botocore's order: the session token after SignedHeaders. */
    p = put(p, S_SCHEME, LIT(S_SCHEME));
    p = put(p, req->host, host_len);
    p = put(p, S_QUERY_START, LIT(S_QUERY_START));
    query = p;
    p = put(p, S_HEAD, LIT(S_HEAD));
    p += smt_sigv4_encode(p, req->access_key, req->access_key_len);
    p = put(p, S_SLASH, LIT(S_SLASH));
    p = put(p, amzdate, 8);
    p = put(p, S_SLASH, LIT(S_SLASH));
    p += smt_sigv4_encode(p, req->region, req->region_len);
    p = put(p, S_SLASH, LIT(S_SLASH));
    p += smt_sigv4_encode(p, req->service, service_len);
    p = put(p, S_SCOPE_END, LIT(S_SCOPE_END));
    p = put(p, amzdate, 16);
    p = put(p, S_EXPIRES, LIT(S_EXPIRES));
    p = put_u32(p, req->expires);
    signed_headers = p;
    p = put(p, S_SIGNED_HEADERS, LIT(S_SIGNED_HEADERS));
    token = p;
    if (req->session_token) {
        p = put(p, S_TOKEN, LIT(S_TOKEN));
        p += smt_sigv4_encode(p, req->session_token, req->session_token_len);
    }

    /* Canonical query: the same pairs sorted, so Security-Token moves before SignedHeaders. */
    if ((r = hash_canonical_request(s, query, (size_t)(signed_headers - query), token,
                                    (size_t)(p - token), req->host, host_len, crhash, trace)) < 0)
        goto out;
    sodium_bin2hex(crhex, sizeof(crhex), crhash, sizeof(crhash));

    /* The scope holds the region raw; only X-Amz-Credential encodes it.  Bounded by the caps:
     * 17 + 17 + 8 + 1 + 64 + 1 + 32 + 14 + 64 < sizeof(sts). */
    sts_len = 0;
    memcpy(sts, S_STS_HEAD, LIT(S_STS_HEAD));
    sts_len += LIT(S_STS_HEAD);
    memcpy(sts + sts_len, amzdate, 16);
    sts_len += 16;
    sts[sts_len++] = '\n';
    memcpy(sts + sts_len, amzdate, 8);
    sts_len += 8;
    sts[sts_len++] = '/';
    memcpy(sts + sts_len, req->region, req->region_len);
    sts_len += req->region_len;
    sts[sts_len++] = '/';
    memcpy(sts + sts_len, req->service, service_len);
    sts_len += service_len;
    memcpy(sts + sts_len, S_SCOPE_TAIL, LIT(S_SCOPE_TAIL));
    sts_len += LIT(S_SCOPE_TAIL);
    memcpy(sts + sts_len, crhex, 64);
    sts_len += 64;
    sts[sts_len] = '\0';

    if ((r = sign(s, sts, sts_len, sig)) < 0)
        goto out;
    p = put(p, S_SIGNATURE, LIT(S_SIGNATURE));
    p = put(p, sig, 64);
    *p = '\0';

    if (trace) {
        size_t n = (size_t)(p - url);

        if (!(trace->presigned_url = malloc(n + 1))) {
            r = SMT_ERR_NOMEM;
            goto out;
        }
        memcpy(trace->presigned_url, url, n + 1);
        memcpy(trace->canonical_request_sha256, crhex, sizeof(crhex));
        memcpy(trace->string_to_sign, sts, sts_len + 1);
        sodium_bin2hex(trace->signing_key, sizeof(trace->signing_key), s->kc->ksigning,
                       SHA256_LEN);
        memcpy(trace->signature, sig, sizeof(sig));
        trace->key_derived = derived;
    }
    if (ret_len)
        *ret_len = (size_t)(p - url);
    r = 0;
out:
    if (relock)
        smt_sigv4_lock(s);
    if (r < 0) {
        if (url && p > url)
            sodium_memzero(url, (size_t)(p - url));
        smt_sigv4_trace_clear(trace);
    }
    return r;
}
