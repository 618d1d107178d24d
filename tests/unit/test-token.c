/* Unit tests for agent/token.c beyond the vectors (test-sigv4 has those): the edges and refusals
 * of smt_token_mint (lifetime bounds, empty region, missing secret, session tokens from none to
 * the 16 KiB cap, odd bytes anywhere, an output buffer one byte short), the token's shape for
 * both services, the fingerprint, and the kSigning cache: reused within a day, re-derived when
 * the date, region, service or secret changes, and never changing a token.
 *
 * Tokens are checked byte for byte against a reference minter written here from DESIGN §2 with
 * nothing shared with agent/: gmtime_r for the date, its own percent-encoder, a sort for the
 * canonical query and OpenSSL's one-shot HMAC() for the key chain. */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "agent/creds.h"
#include "agent/sigv4.h"
#include "agent/token.h"
#include "tests/tap.h"

#define T0  1735689600 /* 2025-01-01T00:00:00Z */
#define DAY 86400

static const char AK[] = "AKIDEXAMPLE";
static const char SK[] = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY";
static const char SK2[] = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEZ"; /* same length, last byte */

/* ---------------------------------------------------------------------------------------------
 * The reference minter */

struct ref {
    const char *ak, *sk, *st; /* st NULL: none */
    size_t ak_len, sk_len, st_len;
    const char *region; /* NUL-terminated */
    const char *service, *host, *prefix;
    uint32_t expires;
    time_t now;
};

struct sb {
    char *p;
    size_t len, cap;
};

static void sb_add(struct sb *b, const void *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->p, cap);

        if (!p)
            abort();
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(struct sb *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_enc(struct sb *b, const char *s, size_t n)
{
    char esc[4];
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            sb_add(b, &s[i], 1);
        } else {
            snprintf(esc, sizeof(esc), "%%%02X", (unsigned)c);
            sb_add(b, esc, 3);
        }
    }
}

struct pair {
    char *kv; /* "key=value", encoded */
    size_t key_len;
};

static int pair_cmp(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->kv, y->kv, n);

    return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static void hmac(const void *key, size_t key_len, const void *msg, size_t len, unsigned char *out)
{
    unsigned int n = 0;

    if (!HMAC(EVP_sha256(), key, (int)key_len, msg, len, out, &n) || n != 32)
        abort();
}

static void hex(const unsigned char *md, size_t n, char *out)
{
    size_t i;

    for (i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The token DESIGN §2 describes, malloc'd. */
static char *ref_token(const struct ref *in)
{
    struct sb scope = {0}, cred = {0}, cr = {0}, sts = {0}, url = {0}, seed = {0}, tok = {0};
    struct pair pairs[7], sorted[7];
    char amzdate[17], expires[16], crhex[65], sighex[65], *b64;
    unsigned char k[32], md[32];
    size_t n = 0, i, b64_len;
    struct tm tm;

    if (!gmtime_r(&in->now, &tm) || strftime(amzdate, sizeof(amzdate), "%Y%m%dT%H%M%SZ", &tm) != 16)
        abort();
    snprintf(expires, sizeof(expires), "%u", (unsigned)in->expires);
    sb_add(&scope, amzdate, 8);
    sb_str(&scope, "/");
    sb_str(&scope, in->region);
    sb_str(&scope, "/");
    sb_str(&scope, in->service);
    sb_str(&scope, "/aws4_request");
    sb_add(&cred, in->ak, in->ak_len);
    sb_str(&cred, "/");
    sb_add(&cred, scope.p, scope.len);

    {
        const char *keys[] = {
            "Action",        "X-Amz-Algorithm",     "X-Amz-Credential",    "X-Amz-Date",
            "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Security-Token"};
        const char *vals[] = {
            "CallWithBearerToken", "AWS4-HMAC-SHA256", cred.p, amzdate, expires, "host", in->st};
        size_t lens[] = {19, 16, cred.len, 16, strlen(expires), 4, in->st_len};

        for (n = 0; n < 7; n++) {
            struct sb kv = {0};

            if (n == 6 && !in->st)
                break;
            sb_enc(&kv, keys[n], strlen(keys[n]));
            pairs[n].key_len = kv.len;
            sb_str(&kv, "=");
            sb_enc(&kv, vals[n], lens[n]);
            pairs[n].kv = kv.p;
        }
    }
    memcpy(sorted, pairs, sizeof(pairs[0]) * n);
    qsort(sorted, n, sizeof(sorted[0]), pair_cmp);

    sb_str(&cr, "POST\n/\n");
    for (i = 0; i < n; i++) {
        if (i)
            sb_str(&cr, "&");
        sb_str(&cr, sorted[i].kv);
    }
    sb_str(&cr, "\nhost:");
    sb_str(&cr, in->host);
    sb_str(&cr, "\n\nhost\n");
    SHA256((const unsigned char *)"", 0, md);
    hex(md, 32, crhex);
    sb_str(&cr, crhex);
    SHA256((const unsigned char *)cr.p, cr.len, md);
    hex(md, 32, crhex);

    sb_str(&sts, "AWS4-HMAC-SHA256\n");
    sb_str(&sts, amzdate);
    sb_str(&sts, "\n");
    sb_add(&sts, scope.p, scope.len);
    sb_str(&sts, "\n");
    sb_str(&sts, crhex);

    sb_str(&seed, "AWS4");
    sb_add(&seed, in->sk, in->sk_len);
    hmac(seed.p, seed.len, amzdate, 8, k);
    hmac(k, 32, in->region, strlen(in->region), k);
    hmac(k, 32, in->service, strlen(in->service), k);
    hmac(k, 32, "aws4_request", 12, k);
    hmac(k, 32, sts.p, sts.len, md);
    hex(md, 32, sighex);

    sb_str(&url, in->host);
    sb_str(&url, "/?");
    for (i = 0; i < n; i++) {
        if (i)
            sb_str(&url, "&");
        sb_str(&url, pairs[i].kv);
    }
    sb_str(&url, "&X-Amz-Signature=");
    sb_str(&url, sighex);
    sb_str(&url, "&Version=1");

    b64_len = sodium_base64_ENCODED_LEN(url.len, sodium_base64_VARIANT_ORIGINAL);
    if (!(b64 = malloc(b64_len)))
        abort();
    sodium_bin2base64(b64, b64_len, (const unsigned char *)url.p, url.len,
                      sodium_base64_VARIANT_ORIGINAL);
    sb_str(&tok, in->prefix);
    sb_str(&tok, b64);

    free(b64);
    for (i = 0; i < n; i++)
        free(pairs[i].kv);
    free(scope.p);
    free(cred.p);
    free(cr.p);
    free(sts.p);
    free(url.p);
    free(seed.p);
    return tok.p;
}

/* ---------------------------------------------------------------------------------------------
 * Helpers */

static struct smt_creds creds_by_hand(const char *ak, size_t ak_len, const char *sk, size_t sk_len,
                                      const char *st, size_t st_len)
{
    struct smt_creds c;

    memset(&c, 0, sizeof(c));
    c.access_key = (char *)ak;
    c.access_key_len = ak_len;
    c.secret_key = (char *)sk;
    c.secret_key_len = sk_len;
    c.session_token = (char *)st;
    c.session_token_len = st_len;
    return c;
}

static struct ref ref_for(const struct smt_creds *c, enum smt_service svc, const char *region,
                          uint32_t expires, time_t now)
{
    struct ref r = {
        .ak = c->access_key,
        .ak_len = c->access_key_len,
        .sk = c->secret_key,
        .sk_len = c->secret_key_len,
        /* DESIGN §2: "" counts as none. */
        .st = c->session_token_len ? c->session_token : NULL,
        .st_len = c->session_token_len,
        .region = region,
        .service = smt_service_name(svc),
        .host = smt_service_host(svc),
        .prefix = smt_service_prefix(svc),
        .expires = expires,
        .now = now,
    };
    return r;
}

/* Mint into a fresh buffer of smt_token_size(); *ret is malloc'd.  Returns the mint's result. */
static int mint(struct smt_minter *m, const struct smt_creds *c, enum smt_service svc,
                const char *region, uint32_t lifetime, time_t now, char **ret)
{
    size_t size = smt_token_size(c->session_token_len), len = 0;
    char *out = malloc(size);
    int r;

    *ret = NULL;
    if (!out)
        return SMT_ERR_NOMEM;
    r = smt_token_mint(m, c, svc, region, lifetime, now, out, size, &len);
    if (r == 0 && len != strlen(out))
        r = SMT_ERR_INTERNAL;
    if (r < 0) {
        free(out);
        return r;
    }
    *ret = out;
    return 0;
}

/* The token's base64 body decoded ("<host>/?...&Version=1"), malloc'd and NUL-terminated, or
 * NULL when the token lacks the service's prefix or is not padded standard base64. */
static char *decode(const char *tok, enum smt_service svc)
{
    const char *prefix = smt_service_prefix(svc), *end = NULL;
    size_t plen = strlen(prefix), n = strlen(tok), bin_len = 0;
    unsigned char *bin;

    if (n < plen || strncmp(tok, prefix, plen) != 0)
        return NULL;
    if (!(bin = malloc(n + 1)))
        return NULL;
    if (sodium_base642bin(bin, n, tok + plen, n - plen, NULL, &bin_len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != tok + n || memchr(bin, '\0', bin_len)) {
        free(bin);
        return NULL;
    }
    bin[bin_len] = '\0';
    return (char *)bin;
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);

    return n >= t && memcmp(s + n - t, tail, t) == 0;
}

/* Mint with m and check against the reference; returns 1 when equal. */
static int mint_matches(struct smt_minter *m, const struct smt_creds *c, enum smt_service svc,
                        const char *region, uint32_t lifetime, time_t now)
{
    struct ref in = ref_for(c, svc, region, lifetime, now);
    char *got = NULL, *want = ref_token(&in);
    int r = mint(m, c, svc, region, lifetime, now, &got), ok;

    ok = r == 0 && strcmp(got, want) == 0;
    if (!ok)
        tap_diag("mint: %s; token %s the reference", smt_strerror(r),
                 got ? "differs from" : "missing, want");
    free(got);
    free(want);
    return ok;
}

/* ---------------------------------------------------------------------------------------------
 * Tests */

static void test_lifetime_region(struct smt_minter *m)
{
    struct smt_creds c = creds_by_hand(AK, strlen(AK), SK, strlen(SK), NULL, 0);
    static const uint32_t bad[] = {0, SMT_LIFETIME_MAX + 1, 604800, UINT32_MAX};
    char out[2048], *tok = NULL, *body;
    size_t i, len = 7;
    int r;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(out, 'Q', sizeof(out));
        len = 7;
        r = smt_token_mint(m, &c, SMT_SVC_SAGEMAKER, "us-east-1", bad[i], T0, out, sizeof(out),
                           &len);
        tap_ok(r == SMT_ERR_LIFETIME && out[0] == 'Q' && len == 7,
               "lifetime %u: SMT_ERR_LIFETIME (%s), not clamped, out and len untouched",
               (unsigned)bad[i], smt_strerror(r));
    }
    tap_ok(SMT_LIFETIME_MIN == 1 && SMT_LIFETIME_MAX == 43200, "lifetime bounds are 1..43200");
    for (i = 0; i < 2; i++) {
        uint32_t lt = i ? SMT_LIFETIME_MAX : SMT_LIFETIME_MIN;
        char want[40];

        r = mint(m, &c, SMT_SVC_SAGEMAKER, "us-east-1", lt, T0, &tok);
        body = tok ? decode(tok, SMT_SVC_SAGEMAKER) : NULL;
        snprintf(want, sizeof(want), "&X-Amz-Expires=%u&", (unsigned)lt);
        tap_ok(r == 0 && body && strstr(body, want) &&
                   mint_matches(m, &c, SMT_SVC_SAGEMAKER, "us-east-1", lt, T0),
               "lifetime %u mints, X-Amz-Expires=%u, equal to the reference", (unsigned)lt,
               (unsigned)lt);
        free(body);
        free(tok);
        tok = NULL;
    }

    memset(out, 'Q', sizeof(out));
    r = smt_token_mint(m, &c, SMT_SVC_SAGEMAKER, "", 900, T0, out, sizeof(out), &len);
    tap_ok(r == SMT_ERR_INVALID && out[0] == 'Q', "empty region: SMT_ERR_INVALID (%s)",
           smt_strerror(r));
    r = smt_token_mint(m, &c, SMT_SVC_SAGEMAKER, NULL, 900, T0, out, sizeof(out), &len);
    tap_ok(r == SMT_ERR_INVALID, "NULL region: SMT_ERR_INVALID");
    {
        char region[SMT_SIGV4_REGION_MAX + 2];

        memset(region, 'a', sizeof(region) - 1);
        region[sizeof(region) - 1] = '\0';
        r = smt_token_mint(m, &c, SMT_SVC_SAGEMAKER, region, 900, T0, out, sizeof(out), &len);
        tap_ok(r == SMT_ERR_INVALID, "region of %zu bytes refused (%s)", strlen(region),
               smt_strerror(r));
        region[SMT_SIGV4_REGION_MAX] = '\0';
        tap_ok(mint_matches(m, &c, SMT_SVC_BEDROCK, region, 900, T0),
               "region of %d bytes mints, equal to the reference", SMT_SIGV4_REGION_MAX);
    }
    r = smt_token_mint(m, &c, SMT_SVC_SAGEMAKER, "us-east-1", 900, -1, out, sizeof(out), &len);
    tap_ok(r == SMT_ERR_INVALID, "time before 1970: SMT_ERR_INVALID (%s)", smt_strerror(r));
    r = smt_token_mint(m, &c, (enum smt_service)2, "us-east-1", 900, T0, out, sizeof(out), &len);
    tap_ok(r == SMT_ERR_INVALID, "unknown service value: SMT_ERR_INVALID");
    tap_ok(smt_token_mint(NULL, &c, SMT_SVC_SAGEMAKER, "us-east-1", 900, T0, out, sizeof(out),
                          &len) == SMT_ERR_INVALID &&
               smt_token_mint(m, NULL, SMT_SVC_SAGEMAKER, "us-east-1", 900, T0, out, sizeof(out),
                              &len) == SMT_ERR_INVALID &&
               smt_token_mint(m, &c, SMT_SVC_SAGEMAKER, "us-east-1", 900, T0, NULL, sizeof(out),
                              &len) == SMT_ERR_INVALID,
           "NULL minter, creds or out: SMT_ERR_INVALID");
    r = smt_token_mint(m, &c, SMT_SVC_SAGEMAKER, "us-east-1", 900, T0, out, sizeof(out), NULL);
    tap_ok(r == 0 && strncmp(out, "sagemaker-api-key-", 18) == 0, "ret_len NULL is allowed");
}

static void test_missing_secret(struct smt_minter *m)
{
    struct smt_creds *c = NULL, hand;
    char out[2048];
    size_t len = 0;
    int r;

    r = smt_creds_new(AK, strlen(AK), "", 0, NULL, 0, 0, &c);
    tap_ok(r == SMT_ERR_CREDS && !c, "smt_creds_new refuses an empty secret (%s)", smt_strerror(r));
    smt_creds_free(c);
    c = NULL;
    r = smt_creds_new(AK, strlen(AK), NULL, 0, NULL, 0, 0, &c);
    tap_ok(r == SMT_ERR_CREDS && !c, "smt_creds_new refuses a NULL secret");
    smt_creds_free(c);
    c = NULL;
    r = smt_creds_new("", 0, SK, strlen(SK), NULL, 0, 0, &c);
    tap_ok(r == SMT_ERR_CREDS && !c, "smt_creds_new refuses an empty access key");
    smt_creds_free(c);
    c = NULL;

    memset(out, 'Q', sizeof(out));
    hand = creds_by_hand(AK, strlen(AK), "", 0, NULL, 0);
    r = smt_token_mint(m, &hand, SMT_SVC_SAGEMAKER, "us-east-1", 900, T0, out, sizeof(out), &len);
    tap_ok(r == SMT_ERR_CREDS && out[0] == 'Q',
           "hand-built creds with an empty secret: mint refuses (%s), out untouched",
           smt_strerror(r));
    hand = creds_by_hand(AK, strlen(AK), NULL, 5, NULL, 0);
    r = smt_token_mint(m, &hand, SMT_SVC_SAGEMAKER, "us-east-1", 900, T0, out, sizeof(out), &len);
    tap_ok(r == SMT_ERR_CREDS, "hand-built creds with a NULL secret: mint refuses (%s)",
           smt_strerror(r));
    hand = creds_by_hand("", 0, SK, strlen(SK), NULL, 0);
    r = smt_token_mint(m, &hand, SMT_SVC_SAGEMAKER, "us-east-1", 900, T0, out, sizeof(out), &len);
    tap_ok(r == SMT_ERR_CREDS, "hand-built creds with an empty access key: mint refuses (%s)",
           smt_strerror(r));
    hand = creds_by_hand(AK, strlen(AK), SK, strlen(SK), NULL, 12);
    r = smt_token_mint(m, &hand, SMT_SVC_SAGEMAKER, "us-east-1", 900, T0, out, sizeof(out), &len);
    tap_ok(r == SMT_ERR_CREDS, "session token length without a pointer: refused (%s)",
           smt_strerror(r));
    hand = creds_by_hand(AK, SMT_ACCESS_KEY_MAX + 1, SK, strlen(SK), NULL, 0);
    r = smt_token_mint(m, &hand, SMT_SVC_SAGEMAKER, "us-east-1", 900, T0, out, sizeof(out), &len);
    tap_ok(r == SMT_ERR_TOO_LARGE, "access key over its cap: SMT_ERR_TOO_LARGE (%s)",
           smt_strerror(r));
    /* The minter still works after all these refusals. */
    tap_ok(mint_matches(m,
                        &(struct smt_creds){.access_key = (char *)AK,
                                            .access_key_len = strlen(AK),
                                            .secret_key = (char *)SK,
                                            .secret_key_len = strlen(SK)},
                        SMT_SVC_SAGEMAKER, "us-east-1", 900, T0),
           "the minter still mints after refusals");
}

static void test_session_tokens(struct smt_minter *m)
{
    char *st = malloc(SMT_SESSION_TOKEN_MAX + 1), *enc = malloc(3 * SMT_SESSION_TOKEN_MAX + 64);
    char *tok = NULL, *tok2 = NULL, *body = NULL;
    struct smt_creds *c = NULL, hand;
    size_t i, n;
    int r;

    if (!tap_ok(st && enc, "allocations"))
        goto out;
    /* A session token's alphabet (base64 plus a few '='), worst case for encoding: '/' '+' '='. */
    for (i = 0; i < SMT_SESSION_TOKEN_MAX; i++)
        st[i] = "AZaz09+/="[randombytes_uniform(9)];
    st[SMT_SESSION_TOKEN_MAX] = '\0';

    r = smt_creds_new(AK, strlen(AK), SK, strlen(SK), st, SMT_SESSION_TOKEN_MAX, 0, &c);
    if (!tap_ok(r == 0, "smt_creds_new takes a %d-byte session token", SMT_SESSION_TOKEN_MAX))
        goto out;
    r = mint(m, c, SMT_SVC_SAGEMAKER, "us-west-2", 3600, T0, &tok);
    body = tok ? decode(tok, SMT_SVC_SAGEMAKER) : NULL;
    memcpy(enc, "&X-Amz-Security-Token=", 22);
    n = 22 + smt_sigv4_encode(enc + 22, st, SMT_SESSION_TOKEN_MAX);
    memcpy(enc + n, "&X-Amz-Signature=", 18); /* with the NUL */
    tap_ok(r == 0 && body && strstr(body, enc) && ends_with(body, "&Version=1"),
           "16 KiB session token mints; the token holds it percent-encoded once (%zu bytes)", n);
    tap_ok(mint_matches(m, c, SMT_SVC_SAGEMAKER, "us-west-2", 3600, T0),
           "16 KiB session token: equal to the reference");
    tap_ok(tok && strlen(tok) + 1 <= smt_token_size(SMT_SESSION_TOKEN_MAX),
           "smt_token_size(16 KiB) is enough (%zu <= %zu)", tok ? strlen(tok) + 1 : 0,
           smt_token_size(SMT_SESSION_TOKEN_MAX));
    free(tok);
    free(body);
    tok = body = NULL;
    smt_creds_free(c);
    c = NULL;

    r = smt_creds_new(AK, strlen(AK), SK, strlen(SK), st, SMT_SESSION_TOKEN_MAX + 1, 0, &c);
    tap_ok(r == SMT_ERR_TOO_LARGE && !c, "smt_creds_new refuses 16 KiB + 1 (%s)", smt_strerror(r));
    smt_creds_free(c);
    c = NULL;
    hand = creds_by_hand(AK, strlen(AK), SK, strlen(SK), st, SMT_SESSION_TOKEN_MAX + 1);
    {
        size_t size = smt_token_size(SMT_SESSION_TOKEN_MAX + 1) * 2, len = 0;
        char *out = malloc(size);

        r = out ? smt_token_mint(m, &hand, SMT_SVC_SAGEMAKER, "us-west-2", 60, T0, out, size, &len)
                : SMT_ERR_NOMEM;
        tap_ok(r == SMT_ERR_TOO_LARGE,
               "hand-built 16 KiB + 1 session token: SMT_ERR_TOO_LARGE (%s)", smt_strerror(r));
        free(out);
    }

    /* "" is no session token: smt_creds_new drops it, and a hand-built "" mints without one. */
    r = smt_creds_new(AK, strlen(AK), SK, strlen(SK), "", 0, 0, &c);
    tap_ok(r == 0 && c->session_token == NULL && c->session_token_len == 0,
           "smt_creds_new: \"\" session token is none");
    hand = creds_by_hand(AK, strlen(AK), SK, strlen(SK), "", 0);
    r = mint(m, &hand, SMT_SVC_SAGEMAKER, "us-east-1", 900, T0, &tok);
    body = tok ? decode(tok, SMT_SVC_SAGEMAKER) : NULL;
    hand = creds_by_hand(AK, strlen(AK), SK, strlen(SK), NULL, 0);
    if (r == 0)
        r = mint(m, &hand, SMT_SVC_SAGEMAKER, "us-east-1", 900, T0, &tok2);
    tap_ok(r == 0 && body && !strstr(body, "Security-Token") && tok2 && strcmp(tok, tok2) == 0,
           "empty session token: no X-Amz-Security-Token, same token as none");
    free(tok);
    free(tok2);
    free(body);
    tok = tok2 = body = NULL;

    /* Growing and shrinking the minter's scratch buffer changes nothing. */
    hand = creds_by_hand(AK, strlen(AK), SK, strlen(SK), st, 1200);
    tap_ok(mint_matches(m, &hand, SMT_SVC_BEDROCK, "eu-west-1", 43200, T0 + 5) &&
               mint_matches(m, c, SMT_SVC_BEDROCK, "eu-west-1", 43200, T0 + 5) &&
               mint_matches(m, &hand, SMT_SVC_BEDROCK, "eu-west-1", 43200, T0 + 5),
           "1.2 KB token, none, 1.2 KB again from one minter: all equal to the reference");
out:
    smt_creds_free(c);
    free(st);
    free(enc);
}

/* Bytes a region, key or token would never hold, through smt_creds_new and straight in. */
static void test_odd_bytes(struct smt_minter *m)
{
    static const char ak[] = "AK\xc3\xa9 /+=%&?#\x01\x7f\xff~._-";
    static const char sk[] = "s\xe2\x82\xac/+= \t\xff";
    static const char region[] = "us-east-1/\xe2\x80\x8b%2F &=\x80";
    static const char st[] = "tok/+= \x01\x80\xff\n\r&X-Amz-Signature=0";
    struct smt_creds *c = NULL;
    char enc[512], want[600], *tok = NULL, *body = NULL, date[9];
    size_t n, i;
    int r, bad = 0;

    r = smt_creds_new(ak, strlen(ak), sk, strlen(sk), st, strlen(st), 0, &c);
    if (!tap_ok(r == 0, "smt_creds_new takes odd bytes (%s)", smt_strerror(r)))
        goto out;
    r = mint(m, c, SMT_SVC_SAGEMAKER, region, 900, T0, &tok);
    body = tok ? decode(tok, SMT_SVC_SAGEMAKER) : NULL;
    if (!tap_ok(r == 0 && body, "odd access key, secret, region and session token mint (%s)",
                smt_strerror(r)))
        goto out;
    memcpy(date, "20250101", 9);
    n = smt_sigv4_encode(enc, ak, strlen(ak));
    enc[n] = '\0';
    snprintf(want, sizeof(want), "&X-Amz-Credential=%s%%2F%s%%2F", enc, date);
    tap_ok(strstr(body, want) != NULL, "access key percent-encoded as smt_sigv4_encode does");
    n = smt_sigv4_encode(enc, region, strlen(region));
    enc[n] = '\0';
    snprintf(want, sizeof(want), "%%2F%s%%2Fsagemaker%%2Faws4_request&X-Amz-Date=", enc);
    tap_ok(strstr(body, want) != NULL && strstr(enc, "%252F") && strstr(enc, "%E2%80%8B"),
           "region percent-encoded in the credential ('%%' itself becomes %%25)");
    n = smt_sigv4_encode(enc, st, strlen(st));
    enc[n] = '\0';
    snprintf(want, sizeof(want), "&X-Amz-Security-Token=%s&X-Amz-Signature=", enc);
    tap_ok(strstr(body, want) != NULL && strstr(enc, "%0A%0D%26"),
           "session token percent-encoded; its '&X-Amz-Signature=' cannot forge a parameter");
    for (i = 0; body[i]; i++)
        if ((unsigned char)body[i] < 0x21 || (unsigned char)body[i] > 0x7e)
            bad = 1;
    tap_ok(!bad, "decoded token is printable ASCII only");
    tap_ok(mint_matches(m, c, SMT_SVC_SAGEMAKER, region, 900, T0) &&
               mint_matches(m, c, SMT_SVC_BEDROCK, region, 900, T0),
           "odd bytes: both services equal to the reference (raw region in the scope)");
out:
    free(tok);
    free(body);
    smt_creds_free(c);
}

/* Random inputs of every length up to the caps, against the reference. */
static void test_random(struct smt_minter *m)
{
    char ak[SMT_ACCESS_KEY_MAX], sk[SMT_SECRET_KEY_MAX], st[600], region[SMT_SIGV4_REGION_MAX + 1];
    int i, bad = 0;

    for (i = 0; i < 300 && !bad; i++) {
        size_t ak_len = 1 + randombytes_uniform(SMT_ACCESS_KEY_MAX);
        size_t sk_len = 1 + randombytes_uniform(SMT_SECRET_KEY_MAX);
        size_t st_len = randombytes_uniform(sizeof(st) + 1);
        size_t region_len = 1 + randombytes_uniform(SMT_SIGV4_REGION_MAX);
        enum smt_service svc = (enum smt_service)randombytes_uniform(2);
        uint32_t lt = 1 + randombytes_uniform(SMT_LIFETIME_MAX);
        time_t now = (time_t)(((uint64_t)randombytes_random() << 32 | randombytes_random()) %
                              ((uint64_t)SMT_SIGV4_TIME_MAX + 1));
        struct smt_creds *c = NULL;
        size_t j;

        /* Mostly printable, sometimes any byte but NUL (the C string APIs end there). */
        randombytes_buf(ak, sizeof(ak));
        randombytes_buf(sk, sizeof(sk));
        randombytes_buf(st, sizeof(st));
        randombytes_buf(region, sizeof(region));
        for (j = 0; j < sizeof(st); j++) {
            if (i % 2 == 0) {
                if (j < sizeof(ak))
                    ak[j] = (char)(0x20 + (unsigned char)ak[j] % 95);
                if (j < sizeof(sk))
                    sk[j] = (char)(0x20 + (unsigned char)sk[j] % 95);
                if (j < sizeof(region))
                    region[j] = (char)(0x20 + (unsigned char)region[j] % 95);
                st[j] = (char)(0x20 + (unsigned char)st[j] % 95);
            } else {
                if (j < sizeof(ak) && !ak[j])
                    ak[j] = 1;
                if (j < sizeof(sk) && !sk[j])
                    sk[j] = 1;
                if (j < sizeof(region) && !region[j])
                    region[j] = 1;
                if (!st[j])
                    st[j] = 1;
            }
        }
        region[region_len] = '\0';
        if (i % 10 == 0)
            smt_minter_reset(m);
        if (smt_creds_new(ak, ak_len, sk, sk_len, st, st_len, 0, &c) != 0 ||
            !mint_matches(m, c, svc, region, lt, now)) {
            tap_diag("random case %d: ak %zu, sk %zu, st %zu, region %zu bytes, t=%lld", i, ak_len,
                     sk_len, st_len, region_len, (long long)now);
            bad = 1;
        }
        smt_creds_free(c);
    }
    tap_ok(!bad, "300 random inputs (printable and binary, any length to the caps, any date): "
                 "equal to the reference");
}

static void test_out_size(struct smt_minter *m)
{
    struct smt_creds c = creds_by_hand(AK, strlen(AK), SK, strlen(SK), "FwoGZXIvYXdzEBY/+=", 18);
    size_t need, len = 0, i, guard = 64;
    char *buf, *tok = NULL;
    int r, untouched = 1;

    if (!tap_ok(mint(m, &c, SMT_SVC_BEDROCK, "us-east-1", 900, T0, &tok) == 0, "reference mint"))
        return;
    need = strlen(tok) + 1;
    tap_ok(need <= smt_token_size(c.session_token_len), "smt_token_size covers it (%zu <= %zu)",
           need, smt_token_size(c.session_token_len));
    buf = malloc(need + guard);
    if (!buf) {
        free(tok);
        return;
    }
    memset(buf, 'Q', need + guard);
    r = smt_token_mint(m, &c, SMT_SVC_BEDROCK, "us-east-1", 900, T0, buf, need - 1, &len);
    for (i = 0; i < need + guard; i++)
        if (buf[i] != 'Q')
            untouched = 0;
    tap_ok(r == SMT_ERR_TOO_LARGE && untouched && len == 0,
           "out one byte too small: SMT_ERR_TOO_LARGE (%s), nothing written, len untouched",
           smt_strerror(r));
    r = smt_token_mint(m, &c, SMT_SVC_BEDROCK, "us-east-1", 900, T0, buf, 0, &len);
    tap_ok(r == SMT_ERR_TOO_LARGE && buf[0] == 'Q', "out of size 0: SMT_ERR_TOO_LARGE");
    r = smt_token_mint(m, &c, SMT_SVC_BEDROCK, "us-east-1", 900, T0, buf, need, &len);
    untouched = 1;
    for (i = need; i < need + guard; i++)
        if (buf[i] != 'Q')
            untouched = 0;
    tap_ok(r == 0 && len == need - 1 && strcmp(buf, tok) == 0 && untouched,
           "out of exactly the token's size: mints the same token, nothing past it written");
    free(buf);
    free(tok);
}

static void test_shape(struct smt_minter *m)
{
    static const struct {
        enum smt_service svc;
        const char *name, *host, *prefix;
    } svcs[] = {
        {SMT_SVC_SAGEMAKER, "sagemaker", "sagemaker.amazonaws.com", "sagemaker-api-key-"},
        {SMT_SVC_BEDROCK, "bedrock", "bedrock.amazonaws.com", "bedrock-api-key-"},
    };
    struct smt_creds c = creds_by_hand(AK, strlen(AK), SK, strlen(SK), "IQoJb3JpZ2luX2Vj", 16);
    char want[512], fp[13], fp_want[13], *tok = NULL, *body = NULL;
    unsigned char md[32];
    size_t i, j;
    int r, alpha;

    for (i = 0; i < 2; i++) {
        tap_ok(strcmp(smt_service_name(svcs[i].svc), svcs[i].name) == 0 &&
                   strcmp(smt_service_host(svcs[i].svc), svcs[i].host) == 0 &&
                   strcmp(smt_service_prefix(svcs[i].svc), svcs[i].prefix) == 0,
               "%s: name, host %s, prefix %s", svcs[i].name, svcs[i].host, svcs[i].prefix);
        r = mint(m, &c, svcs[i].svc, "ap-southeast-2", 7200, T0 + 59, &tok);
        body = tok ? decode(tok, svcs[i].svc) : NULL;
        if (!tap_ok(r == 0 && body, "%s: mints and decodes", svcs[i].name))
            goto next;
        alpha = 1;
        for (j = strlen(svcs[i].prefix); tok[j]; j++)
            if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=",
                        tok[j]))
                alpha = 0;
        tap_ok(alpha && strlen(tok) % 4 == strlen(svcs[i].prefix) % 4,
               "%s: prefix then padded standard base64", svcs[i].name);
        snprintf(want, sizeof(want),
                 "%s/?Action=CallWithBearerToken&X-Amz-Algorithm=AWS4-HMAC-SHA256&"
                 "X-Amz-Credential=AKIDEXAMPLE%%2F20250101%%2Fap-southeast-2%%2F%s%%2Faws4_request&"
                 "X-Amz-Date=20250101T000059Z&X-Amz-Expires=7200&X-Amz-SignedHeaders=host&"
                 "X-Amz-Security-Token=IQoJb3JpZ2luX2Vj&X-Amz-Signature=",
                 svcs[i].host, svcs[i].name);
        tap_ok(strncmp(body, want, strlen(want)) == 0 &&
                   strlen(body) == strlen(want) + 64 + strlen("&Version=1") &&
                   ends_with(body, "&Version=1"),
               "%s: host, parameters in botocore's order, 64-hex signature, ends with "
               "\"&Version=1\"",
               svcs[i].name);
        tap_ok(mint_matches(m, &c, svcs[i].svc, "ap-southeast-2", 7200, T0 + 59),
               "%s: equal to the reference", svcs[i].name);
        SHA256((const unsigned char *)tok, strlen(tok), md);
        hex(md, 6, fp_want);
        r = smt_token_fingerprint(tok, strlen(tok), fp);
        tap_ok(r == 0 && strlen(fp) == 12 && strcmp(fp, fp_want) == 0,
               "%s: fingerprint = first 12 hex of sha256(token)", svcs[i].name);
    next:
        free(tok);
        free(body);
        tok = body = NULL;
    }
    r = smt_token_fingerprint("", 0, fp);
    tap_ok(r == 0 && strcmp(fp, "e3b0c44298fc") == 0, "fingerprint of \"\" is e3b0c44298fc");
    tap_ok(smt_token_fingerprint(NULL, 0, fp) == SMT_ERR_INVALID &&
               smt_token_fingerprint("x", 1, NULL) == SMT_ERR_INVALID,
           "fingerprint: NULL arguments refused");
    tap_ok(!smt_service_name((enum smt_service)2) && !smt_service_host((enum smt_service) - 1) &&
               !smt_service_prefix((enum smt_service)7),
           "name/host/prefix of an unknown service value: NULL");
}

static void test_service_parse(void)
{
    static const char *const bad[] = {"",          "SageMaker", "Bedrock",         "sagemaker ",
                                      " bedrock",  "sage",      "bedrock-runtime", "s3",
                                      "sagemakerx"};
    enum smt_service s = SMT_SVC_BEDROCK;
    size_t i;
    int ok = 1;

    tap_ok(smt_service_parse("sagemaker", &s) == 0 && s == SMT_SVC_SAGEMAKER,
           "service_parse: sagemaker");
    tap_ok(smt_service_parse("bedrock", &s) == 0 && s == SMT_SVC_BEDROCK, "service_parse: bedrock");
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        s = (enum smt_service)42;
        if (smt_service_parse(bad[i], &s) != SMT_ERR_INVALID || s != (enum smt_service)42) {
            tap_diag("service_parse accepted '%s' or touched ret", bad[i]);
            ok = 0;
        }
    }
    tap_ok(ok, "service_parse: exact lower-case names only; ret untouched on failure");
    tap_ok(smt_service_parse(NULL, &s) == SMT_ERR_INVALID &&
               smt_service_parse("bedrock", NULL) == SMT_ERR_INVALID,
           "service_parse: NULL arguments");
}

/* One step of the cache test: mint with trace, expect key_derived, and equality with a fresh
 * minter's token. */
static void cache_step(struct smt_minter *m, const struct smt_creds *c, enum smt_service svc,
                       const char *region, time_t now, int want_derived, const char *what)
{
    struct smt_sigv4_trace t;
    struct smt_minter *fresh = NULL;
    size_t size = smt_token_size(c->session_token_len), len = 0, flen = 0;
    char *out = malloc(size), *fout = malloc(size);
    int r, rf = SMT_ERR_NOMEM;

    memset(&t, 0, sizeof(t));
    if (!out || !fout) {
        tap_ok(0, "%s: allocations", what);
        goto out;
    }
    r = smt_token_mint_trace(m, c, svc, region, 900, now, out, size, &len, &t);
    if (smt_minter_new(&fresh) == 0)
        rf = smt_token_mint(fresh, c, svc, region, 900, now, fout, size, &flen);
    tap_ok(r == 0 && t.key_derived == want_derived && rf == 0 && len == flen &&
               strcmp(out, fout) == 0,
           "%s: kSigning %s, token equal to a fresh minter's", what,
           want_derived ? "derived" : "reused");
    if (r == 0 && t.key_derived != want_derived)
        tap_diag("key_derived = %d", t.key_derived);
out:
    smt_sigv4_trace_clear(&t);
    smt_minter_free(fresh);
    free(out);
    free(fout);
}

static void test_cache(void)
{
    struct smt_creds a = creds_by_hand(AK, strlen(AK), SK, strlen(SK), NULL, 0);
    struct smt_creds a_st = creds_by_hand(AK, strlen(AK), SK, strlen(SK), "ST/1", 4);
    struct smt_creds ak2 = creds_by_hand("AKIDOTHER", 9, SK, strlen(SK), NULL, 0);
    struct smt_creds sk2 = creds_by_hand(AK, strlen(AK), SK2, strlen(SK2), NULL, 0);
    struct smt_creds sk_short = creds_by_hand(AK, strlen(AK), SK, strlen(SK) - 1, NULL, 0);
    struct smt_sigv4_trace t;
    struct smt_minter *m = NULL;
    char out[4096];
    size_t len;
    int r;

    if (!tap_ok(smt_minter_new(&m) == 0, "minter for the cache test"))
        return;
    cache_step(m, &a, SMT_SVC_SAGEMAKER, "us-east-1", T0, 1, "first mint");
    cache_step(m, &a, SMT_SVC_SAGEMAKER, "us-east-1", T0 + 3600, 0, "same day, an hour later");
    cache_step(m, &a, SMT_SVC_SAGEMAKER, "us-east-1", T0 + DAY - 1, 0, "23:59:59 the same day");
    cache_step(m, &a_st, SMT_SVC_SAGEMAKER, "us-east-1", T0 + DAY - 1, 0,
               "a session token added (same secret)");
    cache_step(m, &ak2, SMT_SVC_SAGEMAKER, "us-east-1", T0 + DAY - 1, 0,
               "another access key, same secret (kSigning does not depend on it)");
    cache_step(m, &a, SMT_SVC_SAGEMAKER, "us-east-1", T0 + DAY, 1, "00:00:00 the next day");
    cache_step(m, &a, SMT_SVC_SAGEMAKER, "us-east-1", T0, 1, "back to the previous day");
    cache_step(m, &a, SMT_SVC_SAGEMAKER, "us-east-2", T0, 1, "another region");
    cache_step(m, &a, SMT_SVC_SAGEMAKER, "us-east-2a", T0, 1, "a region extending the last");
    cache_step(m, &a, SMT_SVC_SAGEMAKER, "us-east-2", T0, 1, "a region that is its prefix");
    cache_step(m, &a, SMT_SVC_BEDROCK, "us-east-2", T0, 1, "another service");
    cache_step(m, &a, SMT_SVC_BEDROCK, "us-east-2", T0 + 10, 0, "same service again");
    cache_step(m, &sk2, SMT_SVC_BEDROCK, "us-east-2", T0 + 10, 1,
               "another secret of the same length");
    cache_step(m, &sk_short, SMT_SVC_BEDROCK, "us-east-2", T0 + 10, 1,
               "a secret that is a prefix of the last");
    cache_step(m, &sk_short, SMT_SVC_BEDROCK, "us-east-2", T0 + 20, 0, "that secret again");
    smt_minter_reset(m);
    cache_step(m, &sk_short, SMT_SVC_BEDROCK, "us-east-2", T0 + 20, 1, "after smt_minter_reset");

    /* A refused mint (out too small) leaves the cache usable and unchanged. */
    r = smt_token_mint(m, &sk_short, SMT_SVC_BEDROCK, "us-east-2", 900, T0 + 30, out, 10, &len);
    tap_ok(r == SMT_ERR_TOO_LARGE, "out too small on a cached key");
    cache_step(m, &sk_short, SMT_SVC_BEDROCK, "us-east-2", T0 + 30, 0,
               "after a refused mint the key is still cached");
    /* A mint refused for a bad time clears the trace it was given. */
    memset(&t, 0, sizeof(t));
    r = smt_token_mint_trace(m, &a, SMT_SVC_BEDROCK, "us-east-2", 900, -5, out, sizeof(out), &len,
                             &t);
    tap_ok(r == SMT_ERR_INVALID && !t.presigned_url && !t.canonical_request && !t.signing_key[0],
           "failed mint clears the trace");
    smt_sigv4_trace_clear(&t);
    cache_step(m, &sk_short, SMT_SVC_BEDROCK, "us-east-2", T0 + 40, 0,
               "a mint refused before signing does not disturb the cache");
    /* Locked (PROT_NONE while idle, the agent's way): mints open it for themselves, the key
     * stays cached, a reset and a growing scratch work on a locked minter. */
    smt_minter_lock(m);
    cache_step(m, &sk_short, SMT_SVC_BEDROCK, "us-east-2", T0 + 50, 0,
               "locked minter: the key is still cached");
    cache_step(m, &a_st, SMT_SVC_SAGEMAKER, "us-east-1", T0 + 50, 1,
               "locked minter: new inputs derive a new key");
    smt_minter_reset(m);
    cache_step(m, &a_st, SMT_SVC_SAGEMAKER, "us-east-1", T0 + 60, 1,
               "locked minter: reset wipes the key");
    smt_minter_lock(m);
    smt_minter_unlock(m);
    smt_minter_unlock(m);
    cache_step(m, &a, SMT_SVC_SAGEMAKER, "us-east-1", T0 + 60, 0,
               "unlocked again (twice is harmless): the key is still cached");
    smt_minter_lock(NULL);
    smt_minter_unlock(NULL);
    smt_minter_free(m);
    smt_minter_free(NULL);
    smt_minter_reset(NULL);
}

int main(void)
{
    struct smt_minter *m = NULL;

    if (sodium_init() < 0) {
        tap_ok(0, "sodium_init");
        return tap_done();
    }
    tap_ok(smt_minter_new(NULL) == SMT_ERR_INVALID, "smt_minter_new(NULL) refused");
    if (!tap_ok(smt_minter_new(&m) == 0, "minter"))
        return tap_done();
    test_lifetime_region(m);
    test_missing_secret(m);
    test_session_tokens(m);
    test_odd_bytes(m);
    test_random(m);
    test_out_size(m);
    test_shape(m);
    test_service_parse();
    test_cache();
    smt_minter_free(m);
    return tap_done();
}
