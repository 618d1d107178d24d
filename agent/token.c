/* smtoken-agent: bearer tokens from presigned CallWithBearerToken URLs (DESIGN §2, token.h).
 *
 * token = prefix + base64("<host>/?<query>&X-Amz-Signature=<sig>&Version=1"), standard alphabet
 * with padding, exactly what the SageMaker SDK's token generator produces.  The URL is built in
 * a scratch buffer of the minter's (sodium_malloc memory: it holds the session token), which is
 * sized from the session token's length, reused between mints and wiped after each one.
 */
#include <config.h> /* autoconf's; "config.h" would find agent/config.h */

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "agent/creds.h"
#include "agent/sigv4.h"
#include "agent/token.h"

_Static_assert(SMT_ACCESS_KEY_MAX <= SMT_SIGV4_ACCESS_KEY_MAX, "access key cap");
_Static_assert(SMT_SECRET_KEY_MAX <= SMT_SIGV4_SECRET_KEY_MAX, "secret key cap");
_Static_assert(SMT_SESSION_TOKEN_MAX <= SMT_SIGV4_SESSION_TOKEN_MAX, "session token cap");

#define B64_VARIANT sodium_base64_VARIANT_ORIGINAL

static const char S_VERSION[] = "&Version=1";
#define VERSION_LEN (sizeof(S_VERSION) - 1)

#define STR_AND_LEN(s) s, sizeof(s) - 1

static const struct service_info {
    const char *name;
    size_t name_len;
    const char *host;
    size_t host_len;
    const char *prefix;
    size_t prefix_len;
} services[] = {
    [SMT_SVC_SAGEMAKER] = {STR_AND_LEN("sagemaker"), STR_AND_LEN("sagemaker.amazonaws.com"),
                           STR_AND_LEN("sagemaker-api-key-")},
    [SMT_SVC_BEDROCK] = {STR_AND_LEN("bedrock"), STR_AND_LEN("bedrock.amazonaws.com"),
                         STR_AND_LEN("bedrock-api-key-")},
};
#define N_SERVICES (sizeof(services) / sizeof(services[0]))

struct smt_minter {
    struct smt_sigv4 *sig;
    char *scratch; /* sodium_malloc: the presigned URL, then "&Version=1" */
    size_t scratch_size;
    bool locked; /* scratch and the signer's key cache are PROT_NONE */
};

static const struct service_info *service_info(enum smt_service s)
{
    return (unsigned)s < N_SERVICES ? &services[s] : NULL;
}

const char *smt_service_name(enum smt_service s)
{
    const struct service_info *si = service_info(s);

    return si ? si->name : NULL;
}

const char *smt_service_host(enum smt_service s)
{
    const struct service_info *si = service_info(s);

    return si ? si->host : NULL;
}

const char *smt_service_prefix(enum smt_service s)
{
    const struct service_info *si = service_info(s);

    return si ? si->prefix : NULL;
}

int smt_service_parse(const char *s, enum smt_service *ret)
{
    size_t i;

    if (!s || !ret)
        return SMT_ERR_INVALID;
    for (i = 0; i < N_SERVICES; i++) {
        if (strcmp(s, services[i].name) == 0) {
            *ret = (enum smt_service)i;
            return 0;
        }
    }
    return SMT_ERR_INVALID;
}

/* The URL plus "&Version=1" for this session token length, every other input at its cap. */
static size_t scratch_size_for(size_t session_token_len)
{
    size_t i, svc = 0, host = 0;

    for (i = 0; i < N_SERVICES; i++) {
        if (services[i].name_len > svc)
            svc = services[i].name_len;
        if (services[i].host_len > host)
            host = services[i].host_len;
    }
    return smt_sigv4_url_size(SMT_ACCESS_KEY_MAX, SMT_SIGV4_REGION_MAX, svc, host,
                              session_token_len) +
           VERSION_LEN;
}

size_t smt_token_size(size_t session_token_len)
{
    size_t i, prefix = 0, body;

    /* A longer session token is refused by smt_token_mint before it touches out. */
    if (session_token_len > SMT_SESSION_TOKEN_MAX)
        session_token_len = SMT_SESSION_TOKEN_MAX;
    for (i = 0; i < N_SERVICES; i++)
        if (services[i].prefix_len > prefix)
            prefix = services[i].prefix_len;
    /* The base64 input is the URL without "https://" and its NUL, plus "&Version=1". */
    body = scratch_size_for(session_token_len) - 1 - SMT_SIGV4_SCHEME_LEN;
    return prefix + sodium_base64_ENCODED_LEN(body, B64_VARIANT);
}

/* Grow the scratch buffer to hold need bytes (in 1 KiB steps, so small changes in the inputs'
 * lengths do not reallocate).  sodium_free wipes the old one. */
static int ensure_scratch(struct smt_minter *m, size_t need)
{
    char *p;

    if (m->scratch && m->scratch_size >= need)
        return 0;
    need = (need + 1023) & ~(size_t)1023;
    if (!(p = sodium_malloc(need)))
        return SMT_ERR_NOMEM;
    sodium_free(m->scratch);
    m->scratch = p;
    m->scratch_size = need;
    return 0;
}

void smt_minter_free(struct smt_minter *m)
{
    if (!m)
        return;
    smt_sigv4_free(m->sig);
    sodium_free(m->scratch);
    free(m);
}

void smt_minter_reset(struct smt_minter *m)
{
    if (m)
        smt_sigv4_reset(m->sig);
}

void smt_minter_lock(struct smt_minter *m)
{
    if (!m || m->locked)
        return;
    if (m->scratch)
        sodium_mprotect_noaccess(m->scratch);
    smt_sigv4_lock(m->sig);
    m->locked = true;
}

void smt_minter_unlock(struct smt_minter *m)
{
    if (!m || !m->locked)
        return;
    if (m->scratch)
        sodium_mprotect_readwrite(m->scratch);
    smt_sigv4_unlock(m->sig);
    m->locked = false;
}

int smt_minter_new(struct smt_minter **ret)
{
    struct smt_minter *m = NULL;
    int r;

    if (!ret) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if (sodium_init() < 0) {
        r = SMT_ERR_CRYPTO;
        goto out;
    }
    if (!(m = calloc(1, sizeof(*m)))) {
        r = SMT_ERR_NOMEM;
        goto out;
    }
    if ((r = smt_sigv4_new(&m->sig)) < 0)
        goto out;
    /* Room for credentials without a session token up front: most mints never grow it. */
    if ((r = ensure_scratch(m, scratch_size_for(0))) < 0)
        goto out;
    *ret = m;
    m = NULL;
    r = 0;
out:
    smt_minter_free(m);
    return r;
}

int smt_token_mint_trace(struct smt_minter *m, const struct smt_creds *c, enum smt_service svc,
                         const char *region, uint32_t lifetime, time_t now, char *out,
                         size_t out_size, size_t *ret_len, struct smt_sigv4_trace *trace)
{
    const struct service_info *si = service_info(svc);
    struct smt_sigv4_request req;
    size_t region_len, url_len = 0, body_len, size;
    bool relock = false;
    int r;

    if (!m || !c || !region || !out || !si) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if (lifetime < SMT_LIFETIME_MIN || lifetime > SMT_LIFETIME_MAX) {
        r = SMT_ERR_LIFETIME;
        goto out;
    }
    region_len = strnlen(region, SMT_SIGV4_REGION_MAX + 1);
    if (region_len == 0 || region_len > SMT_SIGV4_REGION_MAX) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if (!c->access_key || !c->access_key_len || !c->secret_key || !c->secret_key_len) {
        r = SMT_ERR_CREDS;
        goto out;
    }
    if (c->access_key_len > SMT_ACCESS_KEY_MAX || c->secret_key_len > SMT_SECRET_KEY_MAX ||
        c->session_token_len > SMT_SESSION_TOKEN_MAX) {
        r = SMT_ERR_TOO_LARGE;
        goto out;
    }
    if (c->session_token_len && !c->session_token) {
        r = SMT_ERR_CREDS;
        goto out;
    }

    req = (struct smt_sigv4_request){
        .access_key = c->access_key,
        .access_key_len = c->access_key_len,
        .secret_key = c->secret_key,
        .secret_key_len = c->secret_key_len,
        /* DESIGN §2: "" counts as none (botocore would send an empty X-Amz-Security-Token). */
        .session_token = c->session_token_len ? c->session_token : NULL,
        .session_token_len = c->session_token_len,
        .region = region,
        .region_len = region_len,
        .service = si->name,
        .host = si->host,
        .expires = lifetime,
        .now = now,
    };
    if (m->locked) { /* locked while idle: open it for this mint only */
        relock = true;
        smt_minter_unlock(m);
    }
    if ((r = ensure_scratch(m, scratch_size_for(c->session_token_len))) < 0)
        goto out;
    if ((r = smt_sigv4_presign(m->sig, &req, m->scratch, m->scratch_size - VERSION_LEN, &url_len,
                               trace)) < 0)
        goto out;
    memcpy(m->scratch + url_len, S_VERSION, VERSION_LEN);
    body_len = url_len - SMT_SIGV4_SCHEME_LEN + VERSION_LEN;
    size = si->prefix_len + sodium_base64_ENCODED_LEN(body_len, B64_VARIANT);
    if (out_size < size) {
        r = SMT_ERR_TOO_LARGE;
        goto out;
    }
    memcpy(out, si->prefix, si->prefix_len);
    sodium_bin2base64(out + si->prefix_len, out_size - si->prefix_len,
                      (const unsigned char *)m->scratch + SMT_SIGV4_SCHEME_LEN, body_len,
                      B64_VARIANT);
    if (ret_len)
        *ret_len = size - 1;
    r = 0;
out:
    if (url_len)
        sodium_memzero(m->scratch, url_len + VERSION_LEN);
    if (relock)
        smt_minter_lock(m);
    if (r < 0)
        smt_sigv4_trace_clear(trace);
    return r;
}

int smt_token_mint(struct smt_minter *m, const struct smt_creds *c, enum smt_service svc,
                   const char *region, uint32_t lifetime, time_t now, char *out, size_t out_size,
                   size_t *ret_len)
{
    return smt_token_mint_trace(m, c, svc, region, lifetime, now, out, out_size, ret_len, NULL);
}

int smt_token_fingerprint(const char *token, size_t len, char out[13])
{
    unsigned char md[32];
    size_t n = 0;

    if (!token || !out)
        return SMT_ERR_INVALID;
    if (!EVP_Q_digest(NULL, "SHA256", NULL, token, len, md, &n) || n != sizeof(md))
        return SMT_ERR_CRYPTO;
    sodium_bin2hex(out, 13, md, 6);
    return 0;
}
