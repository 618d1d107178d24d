/* smtoken-agent: the agent's life cycle and one handler per request (requests.h,
 * PROTOCOL.md).  Per-endpoint state lives in endpoint.c, credential processes and deferred
 * replies in credjob.c; agent/agent_internal.h holds what they share.
 */
#include <config.h> /* autoconf's; "config.h" would find agent/config.h */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "agent/agent_internal.h"
#include "agent/audit.h"
#include "agent/cache.h"
#include "agent/config.h"
#include "agent/credjob.h"
#include "agent/creds.h"
#include "agent/creds_internal.h"
#include "agent/log.h"
#include "agent/requests.h"
#include "agent/token.h"
#include "proto/msg.h"
#include "proto/proto.h"

static bool str_eq(const char *x, const char *y)
{
    return (!x && !y) || (x && y && strcmp(x, y) == 0);
}

/* ---------------------------------------------------------------------------------------------
 * agent life cycle */

static void eps_free(struct ep *eps, size_t n)
{
    for (size_t i = 0; eps && i < n; i++)
        smt_ep_clear(&eps[i]);
    free(eps);
}

/* Best effort, so LIST shows regions before the first request; errors wait for a request. */
static void eps_prefetch_regions(struct smt_agent *a, struct ep *eps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct smt_diag d = {{0}, {0}, {0}};

        if (smt_ep_region(a, &eps[i], &d) < 0)
            log_debug("endpoint '%s': region not known yet: %s", eps[i].e->name, d.msg);
    }
}

void smt_agent_free(struct smt_agent *a)
{
    struct added *x, *next;

    if (!a)
        return;
    eps_free(a->eps, a->n_eps); /* releases running jobs: kills and reaps their processes */
    smt_credjobs_free(a->jobs);
    for (x = a->added; x; x = next) {
        next = x->next;
        smt_added_free(x);
    }
    smt_creds_free(a->env_creds);
    smt_config_free(a->config);
    free(a->config_path);
    free(a);
}

int smt_agent_new(const char *config_path, const struct smt_clock *clock, struct smt_agent **ret,
                  struct smt_diag *d)
{
    struct smt_agent *a = NULL;
    int r;

    if (!config_path || !ret) {
        r = smt_diag_set(d, SMT_ERR_INVALID, "no configuration file given");
        goto out;
    }
    if (sodium_init() < 0) {
        r = smt_diag_set(d, SMT_ERR_CRYPTO, "libsodium failed to initialise");
        goto out;
    }
    if (!(a = calloc(1, sizeof(*a))) || !(a->config_path = strdup(config_path))) {
        r = smt_diag_set(d, SMT_ERR_NOMEM, "out of memory");
        goto out;
    }
    a->clock = clock ? *clock : smt_clock_system;
    if ((r = smt_config_load(config_path, &a->config, d)) < 0)
        goto out;
    /* The environment's credentials, now: main.c clears them from the environment later. */
    r = smt_creds_from_env(&a->env_creds, &a->env_diag);
    if (r == 0)
        smt_creds_lock(a->env_creds);
    else if (r != SMT_ERR_NOT_FOUND)
        a->env_r = r;
    if (a->config->n_endpoints && !(a->eps = calloc(a->config->n_endpoints, sizeof(*a->eps)))) {
        r = smt_diag_set(d, SMT_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (; a->n_eps < a->config->n_endpoints; a->n_eps++) {
        if ((r = smt_ep_init(&a->eps[a->n_eps], &a->config->endpoints[a->n_eps])) < 0) {
            smt_diag_set(d, r, "cannot set up token minting: %s", smt_strerror(r));
            goto out;
        }
    }
    eps_prefetch_regions(a, a->eps, a->n_eps);
    *ret = a;
    a = NULL;
    r = 0;
out:
    smt_agent_free(a);
    return r;
}

/* Same settings, so the cached state (token, credentials, region) stays right. */
static bool endpoint_same(const struct smt_config *oc, const struct smt_endpoint *o,
                          const struct smt_config *nc, const struct smt_endpoint *n)
{
    return strcmp(o->name, n->name) == 0 && o->service == n->service &&
           str_eq(o->region, n->region) && str_eq(o->endpoint, n->endpoint) &&
           str_eq(o->inference_component, n->inference_component) &&
           str_eq(o->profile, n->profile) && o->lifetime == n->lifetime &&
           str_eq(o->base_url, n->base_url) && str_eq(o->sink, n->sink) &&
           o->sink_format == n->sink_format && oc->refresh_pct == nc->refresh_pct &&
           oc->min_remaining == nc->min_remaining && oc->per_request == nc->per_request;
}

int smt_agent_reload(struct smt_agent *a, struct smt_diag *d)
{
    struct smt_config *nc = NULL;
    struct ep *neps = NULL;
    size_t *match = NULL, n = 0, kept = 0;
    int r;

    if (!a) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if ((r = smt_config_load(a->config_path, &nc, d)) < 0)
        goto out;
    if (nc->n_endpoints && (!(neps = calloc(nc->n_endpoints, sizeof(*neps))) ||
                            !(match = calloc(nc->n_endpoints, sizeof(*match))))) {
        r = smt_diag_set(d, SMT_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* Pass 1 can fail and changes nothing of the agent; pass 2 cannot fail. */
    for (; n < nc->n_endpoints; n++) {
        const struct smt_endpoint *ne = &nc->endpoints[n];

        match[n] = SIZE_MAX;
        for (size_t i = 0; i < a->n_eps; i++)
            if (endpoint_same(a->config, a->eps[i].e, nc, ne))
                match[n] = i;
        if (match[n] == SIZE_MAX && (r = smt_ep_init(&neps[n], ne)) < 0) {
            smt_diag_set(d, r, "cannot set up token minting: %s", smt_strerror(r));
            n++; /* neps[n] is half built: smt_ep_clear copes */
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (match[i] == SIZE_MAX)
            continue;
        neps[i] = a->eps[match[i]];
        neps[i].e = &nc->endpoints[i];
        memset(&a->eps[match[i]], 0, sizeof(a->eps[match[i]]));
        kept++;
    }
    for (size_t i = 0; i < a->n_eps; i++)
        if (a->eps[i].e)
            smt_agent_answer_waiters_gone(a, &a->eps[i]);
    eps_free(a->eps, a->n_eps);
    smt_config_free(a->config);
    a->config = nc;
    a->eps = neps;
    a->n_eps = n;
    nc = NULL;
    neps = NULL;
    n = 0;
    eps_prefetch_regions(a, a->eps, a->n_eps);
    log_notice("reloaded %s: %zu endpoint(s), %zu unchanged", a->config_path, a->n_eps, kept);
    r = 0;
out:
    eps_free(neps, n);
    free(match);
    smt_config_free(nc);
    return r;
}

/* ---------------------------------------------------------------------------------------------
 * requests */

static int reply_failure(struct smt_buf *out, uint32_t code, const char *hint, const char *fmt, ...)
    SMT_PRINTF(4, 5);

static int reply_failure(struct smt_buf *out, uint32_t code, const char *hint, const char *fmt, ...)
{
    char msg[ERR_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return smt_msg_put_failure(out, code, msg, hint ? hint : "");
}

static int reply_bad_request(struct smt_buf *out, uint8_t type, int r)
{
    return reply_failure(out, SMT_FAIL_BAD_REQUEST, NULL, "malformed %s request: %s",
                         smt_msg_type_name(type), smt_strerror(r));
}

/* "endpoints: a, b, c" (cut with "..." when long). */
static void names_hint(const struct smt_agent *a, char *out, size_t size)
{
    size_t o;

    o = (size_t)snprintf(out, size, "known endpoints: ");
    for (size_t i = 0; i < a->n_eps && o < size; i++) {
        int k = snprintf(out + o, size - o, "%s%s", i ? ", " : "", a->eps[i].e->name);

        if (k < 0 || (size_t)k >= size - o) {
            snprintf(out + (size > 4 ? size - 4 : 0), size > 4 ? 4 : size, "...");
            return;
        }
        o += (size_t)k;
    }
}

static struct ep *find_ep(struct smt_agent *a, const char *name)
{
    const struct smt_endpoint *e = smt_config_find(a->config, name);

    for (size_t i = 0; e && i < a->n_eps; i++)
        if (a->eps[i].e == e)
            return &a->eps[i];
    return NULL;
}

/* The reply to GET_TOKEN for p, appended to out; PENDING when it has to wait for a job. */
int smt_agent_token_reply(struct smt_agent *a, struct ep *p, struct smt_peer *peer, bool throttle,
                          struct smt_buf *out)
{
    struct smt_diag d = {{0}, {0}, {0}};
    char text[sizeof(d.msg) + sizeof(d.detail) + 2];
    struct smt_msg_token m;
    const char *tok = NULL;
    size_t len = 0;
    int64_t exp = 0;
    bool minted = false;
    uint32_t fail = SMT_FAIL_GENERIC;
    char fp[13];
    int r;

    r = smt_ep_token(a, p, &tok, &len, &exp, &minted, &fail, throttle, &d);
    if (r == PENDING)
        goto out;
    if (r < 0) {
        log_warning("endpoint '%s': refused a token to pid %ld: %s", p->e->name,
                    peer ? (long)peer->pid : 0L, d.msg);
        /* The log line above has d.msg only; the peer (same uid) also gets d.detail. */
        r = smt_msg_put_failure(out, fail, smt_diag_text(&d, text, sizeof(text)), d.hint);
        goto out;
    }
    m = (struct smt_msg_token){
        .name = (char *)p->e->name,
        .service = (uint8_t)p->e->service,
        .token = (char *)tok,
        .expires_at = (uint64_t)exp,
        .base_url = p->base_url,
    };
    if ((r = smt_msg_put_token(out, &m)) < 0) {
        if (r == SMT_ERR_NOMEM)
            goto out;
        r = reply_failure(out, SMT_FAIL_GENERIC, NULL, "cannot send the token: %s",
                          smt_strerror(r));
        goto out;
    }
    if (smt_token_fingerprint(tok, len, fp) < 0)
        snprintf(fp, sizeof(fp), "-");
    smt_audit_token(peer, p->e->name, fp, exp, minted);
    r = 0;
out:
    smt_cache_release(p->cache); /* tok: PROT_NONE again */
    return r;
}

static int handle_get_token(struct smt_agent *a, struct smt_peer *peer, struct smt_buf *body,
                            size_t body_len, struct smt_buf *out)
{
    struct waiter *w;
    struct ep *p;
    char *name = NULL, shown[100], hint[256];
    int r;

    if ((r = smt_msg_get_name(body, body_len, &name)) < 0) {
        r = reply_bad_request(out, SMT_MSG_GET_TOKEN, r);
        goto out;
    }
    if (!(p = find_ep(a, name))) {
        names_hint(a, hint, sizeof(hint));
        if (*name)
            r = reply_failure(out, SMT_FAIL_UNKNOWN_ENDPOINT, a->n_eps ? hint : NULL,
                              "no endpoint '%s' in %s", smt_log_escape(name, shown, sizeof(shown)),
                              a->config->path);
        else if (a->n_eps)
            r = reply_failure(out, SMT_FAIL_UNKNOWN_ENDPOINT,
                              "name one, or set 'default = NAME' in [agent]",
                              "no default endpoint: %s has %zu endpoints and no 'default ='",
                              a->config->path, a->n_eps);
        else
            r = reply_failure(out, SMT_FAIL_UNKNOWN_ENDPOINT,
                              "add an [endpoint NAME] section and run 'smtoken reload'",
                              "no endpoints are configured in %s", a->config->path);
        goto out;
    }
    r = smt_agent_token_reply(a, p, peer, false, out);
    if (r == PENDING) {
        /* Deferred mode only (a job runs only then); the reply comes when the job ends. */
        if (!(w = calloc(1, sizeof(*w)))) {
            r = SMT_ERR_NOMEM;
            goto out;
        }
        w->conn = peer;
        w->next = p->waiters;
        p->waiters = w;
        r = SMT_AGENT_DEFERRED;
    }
out:
    smt_buf_free_cstring(name);
    return r;
}

static int handle_list(struct smt_agent *a, struct smt_buf *body, size_t body_len,
                       struct smt_buf *out)
{
    const struct smt_endpoint *def;
    struct smt_msg_list m = {0, NULL};
    struct {
        char text[2 * ERR_MAX + 2];
    } *errs = NULL;
    int64_t rt = smt_agent_now_rt(a);
    int r;

    if ((r = smt_msg_get_empty(body, body_len)) < 0) {
        r = reply_bad_request(out, SMT_MSG_LIST, r);
        goto out;
    }
    if (a->n_eps > SMT_LIST_MAX) {
        r = reply_failure(out, SMT_FAIL_GENERIC, NULL,
                          "%zu endpoints are more than LIST can carry (%d)", a->n_eps,
                          SMT_LIST_MAX);
        goto out;
    }
    if (a->n_eps && !(m.e = calloc(a->n_eps, sizeof(*m.e)))) {
        r = SMT_ERR_NOMEM;
        goto out;
    }
    /* each endpoint's last error, joined from its parts (smt_ep_error) */
    if (a->n_eps && !(errs = calloc(a->n_eps, sizeof(*errs)))) {
        r = SMT_ERR_NOMEM;
        goto out;
    }
    def = smt_config_find(a->config, NULL);
    for (size_t i = 0; i < a->n_eps; i++) {
        const struct ep *p = &a->eps[i];
        const struct smt_endpoint *e = p->e;
        int64_t texp = smt_cache_expires_at(p->cache);

        /* The strings point into the agent's state: m is not freed with smt_msg_list_free. */
        m.e[i] = (struct smt_msg_endpoint_info){
            .name = e->name,
            .service = (uint8_t)e->service,
            .is_default = e == def,
            .region = p->region   ? p->region
                      : e->region ? e->region
                                  : (char *)"",
            .profile = e->profile ? e->profile : (char *)"",
            .source = (char *)(p->creds ? p->source : ""),
            .cred_expires_at =
                p->creds && p->creds->expiration > 0 ? (uint64_t)p->creds->expiration : 0,
            .token_expires_at = texp > rt ? (uint64_t)texp : 0,
            .last_refresh = p->last_refresh > 0 ? (uint64_t)p->last_refresh : 0,
            .last_error = (char *)smt_ep_error(p, errs[i].text, sizeof(errs[i].text)),
            .base_url = p->base_url   ? p->base_url
                        : e->base_url ? e->base_url
                                      : (char *)"",
        };
    }
    m.n = (uint32_t)a->n_eps;
    if ((r = smt_msg_put_list_reply(out, &m)) < 0 && r != SMT_ERR_NOMEM)
        r = reply_failure(out, SMT_FAIL_GENERIC, NULL, "cannot send the list: %s", smt_strerror(r));
out:
    free(errs);
    free(m.e);
    return r;
}

static bool profile_name_ok(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

static int handle_add_creds(struct smt_agent *a, struct smt_buf *body, size_t body_len,
                            struct smt_buf *out)
{
    struct smt_msg_add_creds m = {NULL, NULL, NULL, NULL, 0};
    struct smt_creds *c = NULL;
    struct added *x = NULL;
    char shown[100], when[40];
    int64_t rt = smt_agent_now_rt(a);
    size_t affected = 0;
    int r;

    if ((r = smt_msg_get_add_creds(body, body_len, &m)) < 0) {
        r = reply_bad_request(out, SMT_MSG_ADD_CREDS, r);
        goto out;
    }
    smt_log_escape(m.profile, shown, sizeof(shown));
    if (!profile_name_ok(m.profile)) {
        r = reply_failure(out, SMT_FAIL_BAD_REQUEST, NULL,
                          "profile name '%s' holds a space or control character", shown);
        goto out;
    }
    if (m.expiration > (uint64_t)INT64_MAX) {
        r = reply_failure(out, SMT_FAIL_BAD_REQUEST, NULL, "expiration %" PRIu64 " is out of range",
                          m.expiration);
        goto out;
    }
    if (m.expiration && (int64_t)m.expiration <= rt) {
        smt_iso8601((int64_t)m.expiration, when, sizeof(when));
        r = reply_failure(out, SMT_FAIL_EXPIRED, "get fresh credentials and add them again",
                          "the credentials for profile '%s' expired at %s", shown, when);
        goto out;
    }
    if (!smt_added_find(a, m.profile) && a->n_added >= ADDED_MAX) {
        r = reply_failure(out, SMT_FAIL_GENERIC, "remove one with 'smtoken remove PROFILE'",
                          "the agent already holds credentials for %d profiles", ADDED_MAX);
        goto out;
    }
    r = smt_creds_new(m.access_key, strlen(m.access_key), m.secret_key, strlen(m.secret_key),
                      m.session_token, m.session_token ? strlen(m.session_token) : 0,
                      (int64_t)m.expiration, &c);
    if (r < 0) {
        if (r == SMT_ERR_NOMEM)
            goto out;
        r = reply_failure(out, SMT_FAIL_CREDENTIALS, NULL,
                          "unusable credentials for profile '%s': %s", shown, smt_strerror(r));
        goto out;
    }
    smt_creds_lock(c);
    if (!(x = smt_added_find(a, m.profile))) {
        if (!(x = calloc(1, sizeof(*x))) || !(x->profile = strdup(m.profile))) {
            smt_added_free(x);
            r = SMT_ERR_NOMEM;
            goto out;
        }
        x->next = a->added;
        a->added = x;
        a->n_added++;
    }
    smt_creds_free(x->creds);
    x->creds = c;
    c = NULL;
    for (size_t i = 0; i < a->n_eps; i++) {
        if (strcmp(smt_ep_profile(a->eps[i].e), x->profile) == 0) {
            smt_ep_forget_creds(&a->eps[i]);
            affected++;
        }
    }
    log_notice("added credentials for profile '%s' (held in memory only; %zu endpoint(s) use "
               "them)",
               shown, affected);
    r = smt_msg_put_success(out);
out:
    smt_creds_free(c);
    smt_msg_add_creds_free(&m);
    return r;
}

static int handle_remove_creds(struct smt_agent *a, struct smt_buf *body, size_t body_len,
                               struct smt_buf *out)
{
    struct added **pp, *x = NULL;
    char *profile = NULL, shown[100];
    int r;

    if ((r = smt_msg_get_name(body, body_len, &profile)) < 0) {
        r = reply_bad_request(out, SMT_MSG_REMOVE_CREDS, r);
        goto out;
    }
    if (!*profile) {
        r = reply_failure(out, SMT_FAIL_BAD_REQUEST, NULL, "REMOVE_CREDS needs a profile name");
        goto out;
    }
    smt_log_escape(profile, shown, sizeof(shown));
    for (pp = &a->added; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->profile, profile) == 0) {
            x = *pp;
            *pp = x->next;
            a->n_added--;
            break;
        }
    }
    if (!x) {
        r = reply_failure(out, SMT_FAIL_CREDENTIALS,
                          "'smtoken list' shows where each endpoint's credentials come from",
                          "no credentials were added for profile '%s'", shown);
        goto out;
    }
    for (size_t i = 0; i < a->n_eps; i++)
        if (a->eps[i].origin == ORIGIN_ADDED &&
            strcmp(smt_ep_profile(a->eps[i].e), x->profile) == 0)
            smt_ep_forget_creds(&a->eps[i]);
    smt_added_free(x); /* wipes */
    log_notice("removed the added credentials for profile '%s'", shown);
    r = smt_msg_put_success(out);
out:
    smt_buf_free_cstring(profile);
    return r;
}

static int handle_reload(struct smt_agent *a, struct smt_buf *body, size_t body_len,
                         struct smt_buf *out)
{
    struct smt_diag d = {{0}, {0}, {0}};
    int r;

    if ((r = smt_msg_get_empty(body, body_len)) < 0) {
        r = reply_bad_request(out, SMT_MSG_RELOAD, r);
        goto out;
    }
    if ((r = smt_agent_reload(a, &d)) < 0) {
        log_error("reload refused, the old configuration stays in use: %s", d.msg);
        r = smt_msg_put_failure(out, SMT_FAIL_CONFIG, d.msg, "the old configuration stays in use");
        goto out;
    }
    r = smt_msg_put_success(out);
out:
    return r;
}

int smt_agent_handle(struct smt_agent *a, struct smt_peer *peer, uint8_t version, uint8_t type,
                     struct smt_buf *body, size_t body_len, struct smt_buf *out)
{
    size_t have;
    int r;

    if (!a || !body || !out) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    have = smt_buf_len(body);
    if (have < body_len) {
        /* The server hands whole frames only; answer rather than misread what follows. */
        r = smt_buf_consume(body, have);
        r = r < 0 ? r : reply_failure(out, SMT_FAIL_BAD_REQUEST, NULL, "truncated frame");
        goto out;
    }
    if (version != SMT_PROTO_VERSION) {
        if ((r = smt_buf_consume(body, body_len)) < 0)
            goto out;
        r = smt_msg_put_version(out);
        goto out;
    }
    switch (type) {
    case SMT_MSG_GET_TOKEN:
        r = handle_get_token(a, peer, body, body_len, out);
        break;
    case SMT_MSG_LIST:
        r = handle_list(a, body, body_len, out);
        break;
    case SMT_MSG_ADD_CREDS:
        r = handle_add_creds(a, body, body_len, out);
        break;
    case SMT_MSG_REMOVE_CREDS:
        r = handle_remove_creds(a, body, body_len, out);
        break;
    case SMT_MSG_RELOAD:
        r = handle_reload(a, body, body_len, out);
        break;
    default:
        if ((r = smt_buf_consume(body, body_len)) < 0)
            goto out;
        r = reply_failure(out, SMT_FAIL_BAD_REQUEST, NULL, "unknown request type %u (%s)",
                          (unsigned)type, smt_msg_type_name(type));
        break;
    }
out:
    return r < 0 || r == SMT_AGENT_DEFERRED ? r : 0;
}
