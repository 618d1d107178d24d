/* smtoken-agent: per-endpoint state: credentials, tokens, sinks and timers (requests.h).
 *
 * Per endpoint: its config, region and base URL, credentials (struct smt_creds, kept
 * PROT_NONE with smt_creds_lock while idle), a minter, a token cache, status for LIST.  A failing
 * endpoint only ever touches its own state.
 *
 * Where credentials come from, for an endpoint whose profile is P (no `profile` = "default"):
 *   1. credentials handed over with ADD_CREDS for P (`smtoken add P`), held in memory only;
 *   2. without `profile`: the AWS_* variables the agent was started with.  They are copied into
 *      secure memory when the agent starts (smt_agent_new), because main.c clears them from the
 *      environment after start-up (DESIGN §4), and the environment cannot change afterwards;
 *   3. otherwise smt_creds_resolve(profile), the AWS CLI's chain, at the first request.
 *
 * Refreshing credentials that expire (source 3 only: env and added credentials cannot be
 * re-read), botocore-like but scaled for short-lived credentials:
 *     window  = clamp(life / 3, floor, 15 min)    life = expiration - when they were obtained
 *     refresh when expiration - now <= window
 * so 1 h credentials are refreshed 15 min early (botocore's advisory window), 15 min ones 5 min
 * early, 3 min ones 1 min early, and never later than the token floor.  While the old set
 * still has the floor left, attempts are at most every CREDS_RETRY_USEC; once it has not, every
 * request tries again (the user may just have run `aws sso login`).  A failed refresh keeps
 * the old set; the cache keeps serving its last good token while that has the floor left;
 * after that the request is refused with the resolver's message and hint.
 *
 * Slow credential sources: resolving may run a credential_process or the AWS CLI for up to
 * [agent] credential_timeout.  The plan step (smt_creds_plan_new: environment and files, no
 * child) runs inline; in deferred mode (smt_agent_set_deferred) a planned command runs as a job
 * on the event loop (agent/credjob.c) and the request waits for it; requests that can be served
 * with the credentials at hand (a refresh ahead of expiry) do not wait.  Without an event loop
 * the command runs blocking (smt_creds_plan_run).
 *
 * Sinks (`sink = PATH`): the agent keeps the file holding the current token.  It asks to be
 * woken at the cache's rotation point, re-mints in smt_agent_tick and writes the file through
 * agent/sink.c; a failed write is logged and retried after SINK_RETRY_USEC.
 */
#include <config.h> /* autoconf's; "config.h" would find agent/config.h */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "agent/agent_internal.h"
#include "agent/cache.h"
#include "agent/config.h"
#include "agent/credjob.h"
#include "agent/creds.h"
#include "agent/creds_internal.h"
#include "agent/log.h"
#include "agent/requests.h"
#include "agent/sink.h"
#include "agent/token.h"
#include "proto/msg.h"

/* ---------------------------------------------------------------------------------------------
 * small helpers */

int64_t smt_agent_now_rt(const struct smt_agent *a)
{
    return a->clock.realtime(a->clock.userdata);
}

uint64_t smt_agent_now_bt(const struct smt_agent *a)
{
    return a->clock.boottime(a->clock.userdata);
}

const char *smt_ep_profile(const struct smt_endpoint *e)
{
    return e->profile ? e->profile : "default";
}

static uint32_t ep_floor(const struct smt_agent *a, const struct ep *p)
{
    return smt_cache_floor(p->e->lifetime, a->config->min_remaining);
}

void smt_ep_set_error(struct ep *p, const char *msg)
{
    size_t n = msg ? strnlen(msg, sizeof(p->last_error) - 1) : 0;

    memcpy(p->last_error, msg ? msg : "", n); /* cut to fit, like a log line */
    p->last_error[n] = '\0';
}

const char *smt_ep_error(const struct ep *p, char *buf, size_t size)
{
    if (!p->sink_error[0])
        snprintf(buf, size, "%s", p->last_error);
    else if (!p->last_error[0])
        snprintf(buf, size, "%s", p->sink_error);
    else
        snprintf(buf, size, "%s; %s", p->last_error, p->sink_error);
    return buf;
}

/* Copy a credential set (src locked on entry and exit); the copy is returned locked. */
static int creds_copy(const struct smt_creds *src, struct smt_creds **ret)
{
    struct smt_creds *c = NULL;
    int r;

    smt_creds_unlock(src);
    r = smt_creds_new(src->access_key, src->access_key_len, src->secret_key, src->secret_key_len,
                      src->session_token, src->session_token_len, src->expiration, &c);
    smt_creds_lock(src);
    if (r < 0)
        return r;
    smt_creds_lock(c);
    *ret = c;
    return 0;
}

struct added *smt_added_find(const struct smt_agent *a, const char *profile)
{
    for (struct added *x = a->added; x; x = x->next)
        if (strcmp(x->profile, profile) == 0)
            return x;
    return NULL;
}

void smt_added_free(struct added *x)
{
    if (!x)
        return;
    smt_creds_free(x->creds);
    free(x->profile);
    free(x);
}

/* ---------------------------------------------------------------------------------------------
 * endpoint state */

void smt_ep_clear(struct ep *p)
{
    struct waiter *w, *next;

    smt_credjob_release(p->job);
    for (w = p->waiters; w; w = next) {
        next = w->next;
        free(w);
    }
    smt_creds_free(p->creds);
    smt_minter_free(p->minter);
    smt_cache_free(p->cache);
    free(p->region);
    free(p->base_url);
    memset(p, 0, sizeof(*p));
}

int smt_ep_init(struct ep *p, const struct smt_endpoint *e)
{
    memset(p, 0, sizeof(*p));
    p->e = e;
    if (smt_minter_new(&p->minter) < 0)
        return SMT_ERR_NOMEM;
    smt_minter_lock(p->minter); /* DESIGN §4: PROT_NONE between mints */
    return 0;
}

/* Drop the credentials and every token minted from them (ADD_CREDS / REMOVE_CREDS). */
void smt_ep_forget_creds(struct ep *p)
{
    smt_creds_free(p->creds);
    p->creds = NULL;
    p->origin = ORIGIN_NONE;
    p->source[0] = '\0';
    p->creds_next_try = 0;
    p->refresh_failed = false;
    p->last_error[0] = '\0';
    smt_minter_reset(p->minter);
    smt_cache_invalidate(p->cache);
    if (p->job)
        p->job_stale = true; /* it resolves what no longer applies */
}

/* Region, base URL and cache: once per endpoint (the region comes from files or the
 * environment, so a failure is retried at the next request). */
int smt_ep_region(struct smt_agent *a, struct ep *p, struct smt_diag *d)
{
    const struct smt_endpoint *e = p->e;
    struct smt_cache_params cp;
    char *region = NULL, *url = NULL;
    struct smt_cache *cache = NULL;
    int r;

    if (p->cache)
        return 0;
    if (e->region) {
        if (!(region = strdup(e->region))) {
            r = smt_diag_set(d, SMT_ERR_NOMEM, "out of memory");
            goto out;
        }
    } else {
        if ((r = smt_creds_region(e->profile, &region, d)) < 0)
            goto out;
        if (!region) {
            r = smt_diag_set(d, SMT_ERR_CONFIG, "no region for endpoint '%s'", e->name);
            smt_diag_hint(d, "set 'region = ...' under [endpoint %s] in %s, or AWS_REGION", e->name,
                          a->config->path);
            goto out;
        }
    }
    if ((r = smt_endpoint_base_url(e, region, &url)) < 0) {
        smt_diag_set(d, r, "cannot build the base URL of endpoint '%s' in region %s: %s", e->name,
                     region, smt_strerror(r));
        goto out;
    }
    cp = (struct smt_cache_params){
        .service = e->service,
        .region = region,
        .lifetime = e->lifetime,
        .refresh_pct = a->config->refresh_pct,
        .min_remaining = a->config->min_remaining,
        .per_request = a->config->per_request,
    };
    if ((r = smt_cache_new(&cp, &a->clock, &cache)) < 0) {
        smt_diag_set(d, r, "cannot set up the token cache of endpoint '%s': %s", e->name,
                     smt_strerror(r));
        goto out;
    }
    p->region = region;
    p->base_url = url;
    p->cache = cache;
    region = url = NULL;
    cache = NULL;
    r = 0;
out:
    smt_cache_free(cache);
    free(region);
    free(url);
    return r;
}

/* Install a new credential set (c is taken over). */
void smt_ep_install_creds(struct smt_agent *a, struct ep *p, struct smt_creds *c,
                          enum origin origin, const char *source)
{
    smt_creds_free(p->creds);
    p->creds = c;
    p->origin = origin;
    snprintf(p->source, sizeof(p->source), "%s", source);
    p->creds_at = smt_agent_now_rt(a);
    p->refresh_failed = false;
    /* New keys: the signing key and tokens of the old ones go (the old tokens stay valid
     * where they were handed out; the next request gets one with the full lifetime). */
    smt_minter_reset(p->minter);
    smt_cache_invalidate(p->cache);
}

/* A fresh credential set for the endpoint, from the first source that applies (top of file).
 * Installed only on success; the old set stays otherwise.  PENDING: a job runs a process for
 * them (deferred mode), p->job says which. */
static int ep_obtain_creds(struct smt_agent *a, struct ep *p, struct smt_diag *d)
{
    const struct smt_endpoint *e = p->e;
    struct smt_creds_plan *plan = NULL;
    struct smt_creds *c = NULL;
    char source[SMT_SOURCE_MAX] = "";
    enum origin origin;
    struct added *x;
    int r;

    if ((x = smt_added_find(a, smt_ep_profile(e)))) {
        if ((r = creds_copy(x->creds, &c)) < 0) {
            smt_diag_set(d, r, "cannot copy the added credentials: %s", smt_strerror(r));
            goto out;
        }
        origin = ORIGIN_ADDED;
        snprintf(source, sizeof(source), "added (smtoken add %s)", smt_ep_profile(e));
    } else if (!e->profile && a->env_creds) {
        if ((r = creds_copy(a->env_creds, &c)) < 0) {
            smt_diag_set(d, r, "cannot copy the environment's credentials: %s", smt_strerror(r));
            goto out;
        }
        origin = ORIGIN_ENV;
        snprintf(source, sizeof(source), "env");
    } else if (!e->profile && a->env_r < 0) {
        if (d)
            *d = a->env_diag;
        r = a->env_r;
        goto out;
    } else {
        if (p->job) {
            r = PENDING;
            goto out;
        }
        if ((r = smt_creds_plan_new(e->profile, &plan, d)) < 0)
            goto out;
        if (plan->argv && a->jobs) {
            if ((r = smt_ep_job_start(a, p, &plan, d)) == 0)
                r = PENDING;
            goto out;
        }
        r = smt_creds_plan_run(plan, (int)a->config->credential_timeout * 1000, &c, d);
        if (r < 0)
            goto out;
        smt_creds_lock(c);
        snprintf(source, sizeof(source), "%s", plan->source);
        origin = ORIGIN_RESOLVED;
    }
    smt_ep_install_creds(a, p, c, origin, source);
    c = NULL;
    r = 0;
out:
    smt_creds_plan_free(plan);
    smt_creds_free(c);
    return r;
}

/* When (wall clock) the endpoint's credentials should be refreshed; 0 = never. */
static int64_t creds_refresh_point(const struct smt_agent *a, const struct ep *p)
{
    int64_t life, window;

    if (!p->creds || p->origin != ORIGIN_RESOLVED || !p->creds->expiration)
        return 0;
    life = p->creds->expiration - p->creds_at;
    window = life / 3;
    if (window > CREDS_WINDOW_MAX)
        window = CREDS_WINDOW_MAX;
    if (window < (int64_t)ep_floor(a, p))
        window = ep_floor(a, p);
    return p->creds->expiration - window;
}

/* Credentials for a mint: obtained at first use, refreshed ahead of expiry.  A failure with no
 * credentials at all returns < 0 (d set); a failed refresh keeps the old set, records why and
 * returns 0. throttle: respect creds_next_try even when the old set is past the floor (timers). */
static int ep_ensure_creds(struct smt_agent *a, struct ep *p, bool throttle, struct smt_diag *d)
{
    int64_t rt = smt_agent_now_rt(a), point;
    uint64_t bt = smt_agent_now_bt(a);
    struct smt_diag rd = {{0}, {0}, {0}};
    char when[40];
    bool usable;
    int r;

    if (!p->creds)
        return ep_obtain_creds(a, p, d);
    usable = !p->creds->expiration || p->creds->expiration - rt >= (int64_t)ep_floor(a, p);
    if (p->job) /* a refresh is running: wait for it only when the old set cannot serve */
        return usable ? 0 : PENDING;
    point = creds_refresh_point(a, p);
    if (!point || rt < point)
        return 0;
    if (bt < p->creds_next_try && (usable || throttle))
        return 0;
    p->creds_next_try = bt + CREDS_RETRY_USEC;
    smt_iso8601(p->creds->expiration, when, sizeof(when));
    r = ep_obtain_creds(a, p, &rd);
    if (r == PENDING)
        return usable ? 0 : PENDING;
    if (r < 0) {
        char msg[2 * ERR_MAX + 200];

        char text[sizeof(rd.msg) + sizeof(rd.detail) + 2];

        /* The log gets the message without the process's own words (rd.detail). */
        snprintf(msg, sizeof(msg), "cannot refresh the credentials (%s, expire %s): %s", p->source,
                 when, rd.msg);
        log_warning("endpoint '%s': %s", p->e->name, msg);
        snprintf(msg, sizeof(msg), "cannot refresh the credentials (%s, expire %s): %s", p->source,
                 when, smt_diag_text(&rd, text, sizeof(text)));
        smt_ep_set_error(p, msg);
        p->refresh_failed = true;
        return 0;
    }
    log_info("endpoint '%s': refreshed credentials from %s (the old ones expire %s)", p->e->name,
             p->source, when);
    return 0;
}

static void expired_hint(const struct ep *p, struct smt_diag *d)
{
    switch (p->origin) {
    case ORIGIN_ENV:
        smt_diag_hint(d, "start the agent with fresh AWS_* credentials, or hand fresh ones over "
                         "with 'smtoken add default --from-env'");
        break;
    case ORIGIN_ADDED:
        smt_diag_hint(d, "hand fresh credentials over with 'smtoken add %s'", smt_ep_profile(p->e));
        break;
    default:
        if (p->e->profile)
            smt_diag_hint(d, "refresh them (e.g. 'aws sso login --profile %s') and try again",
                          p->e->profile);
        else
            smt_diag_hint(d, "refresh them (e.g. 'aws sso login') and try again");
        break;
    }
}

/* A token for the endpoint (the heart of GET_TOKEN and of sinks).  On failure d says what went
 * wrong and what to do, and *ret_fail is the wire code. */
int smt_ep_token(struct smt_agent *a, struct ep *p, const char **ret_token, size_t *ret_len,
                 int64_t *ret_expires_at, bool *ret_minted, uint32_t *ret_fail, bool throttle,
                 struct smt_diag *d)
{
    struct smt_diag cd = {{0}, {0}, {0}}, gd = {{0}, {0}, {0}};
    const char *name = p->e->name;
    const char *tok = NULL;
    size_t len = 0;
    int64_t exp = 0;
    bool minted = false;
    int r, rc;

    if ((r = smt_ep_region(a, p, &cd)) < 0) {
        *ret_fail = SMT_FAIL_CONFIG;
        if (d)
            *d = cd;
        smt_ep_set_error(p, cd.msg);
        goto out;
    }
    rc = ep_ensure_creds(a, p, throttle, &cd);
    if (rc == PENDING) {
        r = PENDING;
        goto out;
    }
    smt_creds_unlock(p->creds);
    r = smt_cache_get(p->cache, p->minter, p->creds, &tok, &len, &exp, &minted, &gd);
    smt_creds_lock(p->creds);
    if (r < 0) {
        if (rc < 0) {
            /* No credentials at all: the resolver's message says why and what to do. */
            *ret_fail = rc == SMT_ERR_EXPIRED ? SMT_FAIL_EXPIRED : SMT_FAIL_CREDENTIALS;
            if (d)
                *d = cd;
            r = rc;
        } else {
            *ret_fail = r == SMT_ERR_EXPIRED ? SMT_FAIL_EXPIRED
                        : r == SMT_ERR_CREDS ? SMT_FAIL_CREDENTIALS
                                             : SMT_FAIL_GENERIC;
            smt_diag_set(d, r, "endpoint '%s': %s (credentials from %s)", name, gd.msg,
                         p->source[0] ? p->source : "nowhere");
            if (r == SMT_ERR_EXPIRED || r == SMT_ERR_CREDS)
                expired_hint(p, d);
        }
        if (d) {
            char text[sizeof(d->msg) + sizeof(d->detail) + 2];

            smt_ep_set_error(p, smt_diag_text(d, text, sizeof(text)));
        }
        goto out;
    }
    if (minted) {
        p->gen++;
        p->last_refresh = smt_cache_minted_at(p->cache);
    }
    if (gd.msg[0]) {
        char msg[2 * ERR_MAX + 200], when[40];

        smt_iso8601(exp, when, sizeof(when));
        snprintf(msg, sizeof(msg),
                 "cannot mint a new token (%s); serving the last one, valid until %s",
                 rc < 0 ? cd.msg : gd.msg, when);
        log_warning("endpoint '%s': %s", name, msg);
        smt_ep_set_error(p, msg);
    } else if (!p->refresh_failed) {
        p->last_error[0] = '\0';
    }
    *ret_token = tok;
    *ret_len = len;
    *ret_expires_at = exp;
    if (ret_minted)
        *ret_minted = minted;
    r = 0;
out:
    return r;
}

/* ---------------------------------------------------------------------------------------------
 * sinks */

static uint64_t sink_wake(const struct ep *p, uint64_t bt)
{
    uint64_t w;

    if (!p->e->sink || p->job)
        return 0;
    if (p->sink_retry > bt)
        return p->sink_retry;
    if (!p->sink_gen || p->sink_gen != p->gen || !smt_cache_rotate_at(p->cache))
        return bt ? bt : 1; /* due now */
    w = smt_cache_rotate_at(p->cache);
    if (w < p->sink_written + SINK_MIN_USEC)
        w = p->sink_written + SINK_MIN_USEC;
    return w;
}

/* A failed write is logged and also kept for STATUS (smt_ep_error): a sink nobody can write
 * would otherwise be invisible to anyone not reading the log.  Cut to fit, like a log line. */
static void sink_set_error(struct ep *p, const struct smt_diag *d)
{
    if (snprintf(p->sink_error, sizeof(p->sink_error), "sink not written: %s%s%s", d->msg,
                 d->hint[0] ? "; hint: " : "", d->hint) < 0)
        snprintf(p->sink_error, sizeof(p->sink_error), "sink not written");
}

static void sink_refresh(struct smt_agent *a, struct ep *p)
{
    struct smt_diag d = {{0}, {0}, {0}};
    struct smt_buf *buf = NULL;
    const char *tok = NULL;
    size_t len = 0;
    int64_t exp = 0;
    uint32_t fail = 0;
    unsigned flags = 0;
    char fp[13] = "-", when[40];
    int r;

    r = smt_ep_token(a, p, &tok, &len, &exp, NULL, &fail, true, &d);
    if (r == PENDING) {
        r = 0; /* smt_agent_tick comes back when the credentials are there */
        goto out;
    }
    if (r < 0) {
        log_warning("endpoint '%s': no token for sink %s: %s", p->e->name, p->e->sink, d.msg);
        goto out;
    }
    if (p->sink_gen == p->gen) {
        r = 0; /* the file already holds this token */
        goto out;
    }
    if (!(buf = smt_buf_new(SMT_SINK_RENDER_MAX))) {
        r = smt_diag_set(&d, SMT_ERR_NOMEM, "out of memory");
        log_error("endpoint '%s': cannot write sink %s: %s", p->e->name, p->e->sink, d.msg);
        sink_set_error(p, &d);
        goto out;
    }
    /* sink: agent/sink.c renders and writes the file safely (DESIGN §6) */
    if ((r = smt_sink_render(buf, p->e->sink_format, tok, (uint64_t)exp, p->base_url,
                             (uint8_t)p->e->service, &d)) < 0 ||
        (r = smt_sink_write(p->e->sink, smt_buf_ptr(buf), smt_buf_len(buf), &flags, &d)) < 0) {
        log_warning("endpoint '%s': refused to write sink %s: %s%s%s", p->e->name, p->e->sink,
                    d.msg, d.hint[0] ? "; hint: " : "", d.hint);
        sink_set_error(p, &d);
        goto out;
    }
    p->sink_error[0] = '\0';
    p->sink_gen = p->gen;
    p->sink_written = smt_agent_now_bt(a);
    if ((flags & SMT_SINK_NOT_TMPFS) && !p->sink_tmpfs_warned) {
        log_warning("endpoint '%s': sink %s is not on tmpfs: its tokens may reach the disk",
                    p->e->name, p->e->sink);
        p->sink_tmpfs_warned = true;
    }
    if (smt_token_fingerprint(tok, len, fp) < 0)
        snprintf(fp, sizeof(fp), "-");
    smt_iso8601(exp, when, sizeof(when));
    log_info("endpoint '%s': wrote token fp=%s expires=%s to sink %s", p->e->name, fp, when,
             p->e->sink);
    r = 0;
out:
    /* A failure, or a fallback token past its rotation point (minting fails): retry later. */
    if (r < 0 || (!p->job && smt_cache_rotate_at(p->cache) <= smt_agent_now_bt(a)))
        p->sink_retry = smt_agent_now_bt(a) + SINK_RETRY_USEC;
    else
        p->sink_retry = 0;
    smt_cache_release(p->cache); /* tok: PROT_NONE again */
    smt_buf_free(buf);           /* wipes */
}

/* ---------------------------------------------------------------------------------------------
 * timers */

static uint64_t creds_wake(const struct smt_agent *a, const struct ep *p, int64_t rt, uint64_t bt)
{
    int64_t point = creds_refresh_point(a, p);
    uint64_t w;

    /* Past expiry, only a request tries again (its failure then tells someone). */
    if (!point || p->job || p->creds->expiration <= rt)
        return 0;
    w = point <= rt ? bt : bt + (uint64_t)(point - rt) * USEC;
    return w < p->creds_next_try ? p->creds_next_try : w;
}

static uint64_t earliest(uint64_t best, uint64_t w)
{
    return w && (!best || w < best) ? w : best;
}

uint64_t smt_agent_next_wakeup(const struct smt_agent *a)
{
    uint64_t best = 0, bt;
    int64_t rt;

    if (!a)
        return 0;
    rt = smt_agent_now_rt(a);
    bt = smt_agent_now_bt(a);
    for (size_t i = 0; i < a->n_eps; i++) {
        best = earliest(best, sink_wake(&a->eps[i], bt));
        best = earliest(best, creds_wake(a, &a->eps[i], rt, bt));
    }
    return best;
}

void smt_agent_tick(struct smt_agent *a)
{
    struct smt_diag d = {{0}, {0}, {0}};
    uint64_t bt, w;
    int64_t rt;

    if (!a)
        return;
    smt_agent_jobs_collect(a);
    for (size_t i = 0; i < a->n_eps; i++) {
        struct ep *p = &a->eps[i];

        rt = smt_agent_now_rt(a);
        bt = smt_agent_now_bt(a);
        w = creds_wake(a, p, rt, bt);
        if (w && w <= bt)
            (void)ep_ensure_creds(a, p, true, &d); /* never fails with creds held */
        w = sink_wake(p, bt);
        if (w && w <= bt)
            sink_refresh(a, p);
    }
}
