/* smtoken-agent: the agent's state and one handler per request (requests.h, PROTOCOL.md).
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
 * Slow credential sources: smt_creds_resolve may run a credential_process or the AWS CLI for up
 * to SMT_PROC_TIMEOUT_MS.  Once the server has asked for deferred replies
 * (smt_agent_set_deferred), each resolution runs on a detached worker thread (it only reads files
 * and the environment and spawns a process; it does not log or touch agent state) and hands its
 * result back through a job record under jobs_mu; an eventfd wakes the loop, and smt_agent_tick
 * installs the result and answers the GET_TOKEN requests that waited for it.  Requests that can
 * be served with the credentials at hand (a refresh ahead of expiry) do not wait.  A job whose
 * endpoint or agent went away meanwhile is orphaned: the thread frees it when it finishes.
 *
 * Sinks (`sink = PATH`): the agent keeps the file holding the current token.  It asks to be
 * woken at the cache's rotation point, re-mints in smt_agent_tick and writes the file through
 * agent/sink.c; a failed write is logged and retried after SINK_RETRY_USEC.
 */
#include <config.h> /* autoconf's; "config.h" would find agent/config.h */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "agent/audit.h"
#include "agent/cache.h"
#include "agent/config.h"
#include "agent/creds.h"
#include "agent/creds_internal.h"
#include "agent/log.h"
#include "agent/requests.h"
#include "agent/sink.h"
#include "agent/token.h"
#include "proto/msg.h"
#include "proto/proto.h"

#define USEC             1000000ULL
#define CREDS_RETRY_USEC (30 * USEC)
#define SINK_RETRY_USEC  (30 * USEC)
#define SINK_MIN_USEC    USEC /* never rewrite a sink more often (1 s lifetimes) */
#define CREDS_WINDOW_MAX 900  /* botocore's advisory refresh: 15 min */
#define ADDED_MAX        64   /* profiles held from ADD_CREDS */
#define ERR_MAX          512
#define PENDING          1 /* internal: waiting for a worker thread */

/* Guards every job's done/orphan/result fields, across agents (a job may outlive its agent). */
static pthread_mutex_t jobs_mu = PTHREAD_MUTEX_INITIALIZER;

struct job {
    char *profile; /* NULL: the default chain */
    int efd;       /* the agent's eventfd, until orphaned */
    bool done;
    bool orphan;
    int r;
    struct smt_creds *creds; /* locked */
    char source[SMT_SOURCE_MAX];
    struct smt_diag d;
};

struct waiter {
    struct smt_peer *conn;
    struct waiter *next;
};

enum origin {
    ORIGIN_NONE = 0,
    ORIGIN_RESOLVED, /* smt_creds_resolve: can be refreshed */
    ORIGIN_ENV,      /* the start-up environment's snapshot */
    ORIGIN_ADDED,    /* ADD_CREDS */
};

struct ep {
    const struct smt_endpoint *e; /* in agent->config */
    char *region;                 /* resolved; NULL until known */
    char *base_url;               /* set with region */
    struct smt_creds *creds;      /* locked while idle; NULL until obtained */
    enum origin origin;
    char source[SMT_SOURCE_MAX];
    int64_t creds_at;        /* wall clock when obtained */
    uint64_t creds_next_try; /* boottime: no refresh attempt before (throttle) */
    bool refresh_failed;     /* last_error holds a failed refresh */
    struct smt_minter *minter;
    struct smt_cache *cache; /* created with the region */
    uint64_t gen;            /* +1 per minted token */
    uint64_t sink_gen;       /* gen of the token in the sink file, 0 = none written */
    uint64_t sink_written;   /* boottime of the last sink write */
    uint64_t sink_retry;     /* boottime: no sink attempt before */
    bool sink_tmpfs_warned;
    int64_t last_refresh; /* wall clock of the last mint */
    char last_error[ERR_MAX];
    struct job *job;        /* credentials being resolved in the background */
    bool job_stale;         /* ADD/REMOVE_CREDS since job started: ignore its result */
    struct waiter *waiters; /* GET_TOKEN requests waiting for job */
};

struct added {
    char *profile;
    struct smt_creds *creds; /* locked */
    struct added *next;
};

struct smt_agent {
    char *config_path;
    struct smt_clock clock;
    struct smt_config *config;
    struct ep *eps;
    size_t n_eps;
    struct added *added;
    size_t n_added;
    struct smt_creds *env_creds; /* locked; NULL when the environment had none */
    int env_r;                   /* < 0: the environment's credentials were unusable */
    struct smt_diag env_diag;
    /* deferred replies (smt_agent_set_deferred) */
    void (*reply)(struct smt_peer *conn, struct smt_buf *frame, void *userdata);
    void *reply_userdata;
    int efd;
};

/* ---------------------------------------------------------------------------------------------
 * small helpers */

static int64_t now_rt(const struct smt_agent *a)
{
    return a->clock.realtime(a->clock.userdata);
}

static uint64_t now_bt(const struct smt_agent *a)
{
    return a->clock.boottime(a->clock.userdata);
}

static void iso8601(int64_t t, char *out, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (!gmtime_r(&tt, &tm) || strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, size, "@%lld", (long long)t);
}

static const char *profile_of(const struct smt_endpoint *e)
{
    return e->profile ? e->profile : "default";
}

static bool str_eq(const char *x, const char *y)
{
    return (!x && !y) || (x && y && strcmp(x, y) == 0);
}

static uint32_t ep_floor(const struct smt_agent *a, const struct ep *p)
{
    return smt_cache_floor(p->e->lifetime, a->config->min_remaining);
}

static void set_error(struct ep *p, const char *msg)
{
    size_t n = msg ? strnlen(msg, sizeof(p->last_error) - 1) : 0;

    memcpy(p->last_error, msg ? msg : "", n); /* cut to fit, like a log line */
    p->last_error[n] = '\0';
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

static struct added *added_find(const struct smt_agent *a, const char *profile)
{
    for (struct added *x = a->added; x; x = x->next)
        if (strcmp(x->profile, profile) == 0)
            return x;
    return NULL;
}

static void added_free(struct added *x)
{
    if (!x)
        return;
    smt_creds_free(x->creds);
    free(x->profile);
    free(x);
}

/* ---------------------------------------------------------------------------------------------
 * background credential resolution */

static void job_free(struct job *j)
{
    if (!j)
        return;
    smt_creds_free(j->creds);
    free(j->profile);
    free(j);
}

static void *job_run(void *arg)
{
    struct job *j = arg;
    struct smt_creds *c = NULL;
    struct smt_diag d = {{0}, {0}};
    char source[SMT_SOURCE_MAX] = "";
    uint64_t one = 1;
    int r;

    r = smt_creds_resolve(j->profile, &c, source, sizeof(source), &d);
    if (r == 0)
        smt_creds_lock(c);
    pthread_mutex_lock(&jobs_mu);
    if (j->orphan) {
        smt_creds_free(c);
        job_free(j);
    } else {
        j->r = r;
        j->creds = c;
        memcpy(j->source, source, sizeof(source));
        j->d = d;
        j->done = true;
        /* Under the lock: the agent closes efd only after orphaning its jobs. */
        if (write(j->efd, &one, sizeof(one)) < 0) {
            /* EAGAIN: the counter is already non-zero, so the loop wakes up anyway */
        }
    }
    pthread_mutex_unlock(&jobs_mu);
    return NULL;
}

/* Start resolving p's credentials on a worker thread.  0 when started; < 0 when no thread could
 * be started (the caller resolves synchronously instead). */
static int job_start(struct smt_agent *a, struct ep *p)
{
    pthread_attr_t attr;
    pthread_t t;
    struct job *j;
    int r;

    if (!(j = calloc(1, sizeof(*j))) || (p->e->profile && !(j->profile = strdup(p->e->profile)))) {
        job_free(j);
        return SMT_ERR_NOMEM;
    }
    j->efd = a->efd;
    if (pthread_attr_init(&attr) != 0) {
        job_free(j);
        return SMT_ERR_SYSTEM;
    }
    r = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
                pthread_create(&t, &attr, job_run, j) == 0
            ? 0
            : SMT_ERR_SYSTEM;
    pthread_attr_destroy(&attr);
    if (r < 0) {
        job_free(j);
        return r;
    }
    p->job = j;
    return 0;
}

/* The endpoint no longer wants the job's result. */
static void job_release(struct job *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&jobs_mu);
    if (j->done)
        job_free(j);
    else
        j->orphan = true; /* job_run frees it */
    pthread_mutex_unlock(&jobs_mu);
}

/* The finished job's result, taken out under the lock; NULL while it runs. */
static struct job *job_take(struct ep *p)
{
    struct job *j = NULL;

    if (!p->job)
        return NULL;
    pthread_mutex_lock(&jobs_mu);
    if (p->job->done) {
        j = p->job;
        p->job = NULL;
    }
    pthread_mutex_unlock(&jobs_mu);
    return j;
}

/* ---------------------------------------------------------------------------------------------
 * endpoint state */

static void ep_clear(struct ep *p)
{
    struct waiter *w, *next;

    job_release(p->job);
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

static int ep_init(struct ep *p, const struct smt_endpoint *e)
{
    memset(p, 0, sizeof(*p));
    p->e = e;
    return smt_minter_new(&p->minter);
}

/* Drop the credentials and every token minted from them (ADD_CREDS / REMOVE_CREDS). */
static void ep_forget_creds(struct ep *p)
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
static int ep_region(struct smt_agent *a, struct ep *p, struct smt_diag *d)
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
static void ep_install_creds(struct smt_agent *a, struct ep *p, struct smt_creds *c,
                             enum origin origin, const char *source)
{
    smt_creds_free(p->creds);
    p->creds = c;
    p->origin = origin;
    snprintf(p->source, sizeof(p->source), "%s", source);
    p->creds_at = now_rt(a);
    p->refresh_failed = false;
    /* New keys: the signing key and tokens of the old ones go (the old tokens stay valid
     * where they were handed out; the next request gets one with the full lifetime). */
    smt_minter_reset(p->minter);
    smt_cache_invalidate(p->cache);
}

/* A fresh credential set for the endpoint, from the first source that applies (top of file).
 * Installed only on success; the old set stays otherwise.  PENDING: a worker thread resolves
 * them (deferred mode), p->job says which. */
static int ep_obtain_creds(struct smt_agent *a, struct ep *p, struct smt_diag *d)
{
    const struct smt_endpoint *e = p->e;
    struct smt_creds *c = NULL;
    char source[SMT_SOURCE_MAX] = "";
    enum origin origin;
    struct added *x;
    int r;

    if ((x = added_find(a, profile_of(e)))) {
        if ((r = creds_copy(x->creds, &c)) < 0) {
            smt_diag_set(d, r, "cannot copy the added credentials: %s", smt_strerror(r));
            goto out;
        }
        origin = ORIGIN_ADDED;
        snprintf(source, sizeof(source), "added (smtoken add %s)", profile_of(e));
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
        if (p->job || (a->reply && job_start(a, p) == 0)) {
            r = PENDING;
            goto out;
        }
        if ((r = smt_creds_resolve(e->profile, &c, source, sizeof(source), d)) < 0)
            goto out;
        smt_creds_lock(c);
        origin = ORIGIN_RESOLVED;
    }
    ep_install_creds(a, p, c, origin, source);
    c = NULL;
    r = 0;
out:
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
    int64_t rt = now_rt(a), point;
    uint64_t bt = now_bt(a);
    struct smt_diag rd = {{0}, {0}};
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
    iso8601(p->creds->expiration, when, sizeof(when));
    r = ep_obtain_creds(a, p, &rd);
    if (r == PENDING)
        return usable ? 0 : PENDING;
    if (r < 0) {
        char msg[2 * ERR_MAX + 200];

        snprintf(msg, sizeof(msg), "cannot refresh the credentials (%s, expire %s): %s", p->source,
                 when, rd.msg);
        log_warning("endpoint '%s': %s", p->e->name, msg);
        set_error(p, msg);
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
        smt_diag_hint(d, "hand fresh credentials over with 'smtoken add %s'", profile_of(p->e));
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
static int ep_token(struct smt_agent *a, struct ep *p, const char **ret_token, size_t *ret_len,
                    int64_t *ret_expires_at, bool *ret_minted, uint32_t *ret_fail, bool throttle,
                    struct smt_diag *d)
{
    struct smt_diag cd = {{0}, {0}}, gd = {{0}, {0}};
    const char *name = p->e->name;
    const char *tok = NULL;
    size_t len = 0;
    int64_t exp = 0;
    bool minted = false;
    int r, rc;

    if ((r = ep_region(a, p, &cd)) < 0) {
        *ret_fail = SMT_FAIL_CONFIG;
        if (d)
            *d = cd;
        set_error(p, cd.msg);
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
        if (d)
            set_error(p, d->msg);
        goto out;
    }
    if (minted) {
        p->gen++;
        p->last_refresh = smt_cache_minted_at(p->cache);
    }
    if (gd.msg[0]) {
        char msg[2 * ERR_MAX + 200], when[40];

        iso8601(exp, when, sizeof(when));
        snprintf(msg, sizeof(msg),
                 "cannot mint a new token (%s); serving the last one, valid until %s",
                 rc < 0 ? cd.msg : gd.msg, when);
        log_warning("endpoint '%s': %s", name, msg);
        set_error(p, msg);
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

static void sink_refresh(struct smt_agent *a, struct ep *p)
{
    struct smt_diag d = {{0}, {0}};
    struct smt_buf *buf = NULL;
    const char *tok = NULL;
    size_t len = 0;
    int64_t exp = 0;
    uint32_t fail = 0;
    unsigned flags = 0;
    char fp[13] = "-", when[40];
    int r;

    r = ep_token(a, p, &tok, &len, &exp, NULL, &fail, true, &d);
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
        goto out;
    }
    /* sink: agent/sink.c renders and writes the file safely (DESIGN §6) */
    if ((r = smt_sink_render(buf, p->e->sink_format, tok, (uint64_t)exp, p->base_url,
                             (uint8_t)p->e->service, &d)) < 0 ||
        (r = smt_sink_write(p->e->sink, smt_buf_ptr(buf), smt_buf_len(buf), &flags, &d)) < 0) {
        log_warning("endpoint '%s': refused to write sink %s: %s%s%s", p->e->name, p->e->sink,
                    d.msg, d.hint[0] ? "; hint: " : "", d.hint);
        goto out;
    }
    p->sink_gen = p->gen;
    p->sink_written = now_bt(a);
    if ((flags & SMT_SINK_NOT_TMPFS) && !p->sink_tmpfs_warned) {
        log_warning("endpoint '%s': sink %s is not on tmpfs: its tokens may reach the disk",
                    p->e->name, p->e->sink);
        p->sink_tmpfs_warned = true;
    }
    if (smt_token_fingerprint(tok, len, fp) < 0)
        snprintf(fp, sizeof(fp), "-");
    iso8601(exp, when, sizeof(when));
    log_info("endpoint '%s': wrote token fp=%s expires=%s to sink %s", p->e->name, fp, when,
             p->e->sink);
    r = 0;
out:
    /* A failure, or a fallback token past its rotation point (minting fails): retry later. */
    if (r < 0 || (!p->job && smt_cache_rotate_at(p->cache) <= now_bt(a)))
        p->sink_retry = now_bt(a) + SINK_RETRY_USEC;
    else
        p->sink_retry = 0;
    smt_buf_free(buf); /* wipes */
}

/* ---------------------------------------------------------------------------------------------
 * deferred replies */

static int token_reply(struct smt_agent *a, struct ep *p, struct smt_peer *peer, bool throttle,
                       struct smt_buf *out);

/* Hand one reply frame to the server for conn (deferred mode). */
static void deliver(struct smt_agent *a, struct smt_peer *conn, struct smt_buf *frame)
{
    if (a->reply && smt_buf_len(frame) > 0)
        a->reply(conn, frame, a->reply_userdata);
}

static struct waiter *waiters_take(struct ep *p)
{
    struct waiter *w = p->waiters;

    p->waiters = NULL;
    return w;
}

/* The endpoint is going away (reload): its waiting requests get a FAILURE. */
static void answer_waiters_gone(struct smt_agent *a, struct ep *p)
{
    struct waiter *w, *next;

    for (w = waiters_take(p); w; w = next) {
        struct smt_buf *out = smt_buf_new(SMT_FRAME_MAX);

        next = w->next;
        if (out && smt_msg_put_failure(out, SMT_FAIL_UNKNOWN_ENDPOINT,
                                       "endpoint removed by a configuration reload",
                                       "ask again: 'smtoken list' shows the endpoints") == 0)
            deliver(a, w->conn, out);
        smt_buf_free(out);
        free(w);
    }
}

/* A worker finished: install its result and answer the requests that waited for it. */
static void ep_job_done(struct smt_agent *a, struct ep *p, struct job *j)
{
    struct waiter *w, *next;
    bool stale = p->job_stale;

    p->job_stale = false;
    if (stale) {
        /* The credentials changed meanwhile (smtoken add/remove): the waiters start over. */
    } else if (j->r == 0) {
        bool refresh = p->creds != NULL;

        ep_install_creds(a, p, j->creds, ORIGIN_RESOLVED, j->source);
        j->creds = NULL;
        if (refresh)
            log_info("endpoint '%s': refreshed credentials from %s", p->e->name, p->source);
    } else if (p->creds) {
        char msg[2 * ERR_MAX + 200];

        snprintf(msg, sizeof(msg), "cannot refresh the credentials (%s): %s", p->source, j->d.msg);
        log_warning("endpoint '%s': %s", p->e->name, msg);
        set_error(p, msg);
        p->refresh_failed = true;
    } else {
        set_error(p, j->d.msg);
    }
    for (w = waiters_take(p); w; w = next) {
        struct smt_buf *out = smt_buf_new(SMT_FRAME_MAX);
        int r = out ? 0 : SMT_ERR_NOMEM;

        next = w->next;
        if (r == 0 && !stale && j->r < 0 && !p->creds) {
            log_warning("endpoint '%s': refused a token to pid %ld: %s", p->e->name,
                        (long)w->conn->pid, j->d.msg);
            r = smt_msg_put_failure(
                out, j->r == SMT_ERR_EXPIRED ? SMT_FAIL_EXPIRED : SMT_FAIL_CREDENTIALS, j->d.msg,
                j->d.hint);
        } else if (r == 0) {
            /* throttled: a set that cannot serve is refused now rather than fetched again */
            r = token_reply(a, p, w->conn, true, out);
        }
        if (r == PENDING) {
            w->next = p->waiters; /* another fetch started: keep waiting */
            p->waiters = w;
            w = NULL;
        } else if (r == 0) {
            deliver(a, w->conn, out);
        }
        smt_buf_free(out);
        free(w);
    }
}

static void jobs_collect(struct smt_agent *a)
{
    uint64_t n;

    if (a->efd >= 0 && read(a->efd, &n, sizeof(n)) < 0) {
        /* EAGAIN: nothing signalled; look anyway (cheap) */
    }
    for (size_t i = 0; i < a->n_eps; i++) {
        struct job *j = job_take(&a->eps[i]);

        if (j) {
            ep_job_done(a, &a->eps[i], j);
            job_free(j);
        }
    }
}

int smt_agent_set_deferred(struct smt_agent *a,
                           void (*reply)(struct smt_peer *conn, struct smt_buf *frame,
                                         void *userdata),
                           void *userdata, int *ret_fd)
{
    if (!a || !reply || !ret_fd)
        return SMT_ERR_INVALID;
    if (a->efd < 0 && (a->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        return SMT_ERR_SYSTEM;
    a->reply = reply;
    a->reply_userdata = userdata;
    *ret_fd = a->efd;
    return 0;
}

void smt_agent_forget(struct smt_agent *a, const struct smt_peer *conn)
{
    for (size_t i = 0; a && i < a->n_eps; i++) {
        struct waiter **pp = &a->eps[i].waiters;

        while (*pp) {
            struct waiter *w = *pp;

            if (w->conn == conn) {
                *pp = w->next;
                free(w);
            } else {
                pp = &w->next;
            }
        }
    }
}

/* ---------------------------------------------------------------------------------------------
 * agent life cycle */

static void eps_free(struct ep *eps, size_t n)
{
    for (size_t i = 0; eps && i < n; i++)
        ep_clear(&eps[i]);
    free(eps);
}

/* Best effort, so LIST shows regions before the first request; errors wait for a request. */
static void eps_prefetch_regions(struct smt_agent *a, struct ep *eps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct smt_diag d = {{0}, {0}};

        if (ep_region(a, &eps[i], &d) < 0)
            log_debug("endpoint '%s': region not known yet: %s", eps[i].e->name, d.msg);
    }
}

void smt_agent_free(struct smt_agent *a)
{
    struct added *x, *next;

    if (!a)
        return;
    eps_free(a->eps, a->n_eps); /* orphans running jobs before efd goes */
    if (a->efd >= 0)
        close(a->efd);
    for (x = a->added; x; x = next) {
        next = x->next;
        added_free(x);
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
    a->efd = -1;
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
        if ((r = ep_init(&a->eps[a->n_eps], &a->config->endpoints[a->n_eps])) < 0) {
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
        if (match[n] == SIZE_MAX && (r = ep_init(&neps[n], ne)) < 0) {
            smt_diag_set(d, r, "cannot set up token minting: %s", smt_strerror(r));
            n++; /* neps[n] is half built: ep_clear copes */
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
            answer_waiters_gone(a, &a->eps[i]);
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
static int token_reply(struct smt_agent *a, struct ep *p, struct smt_peer *peer, bool throttle,
                       struct smt_buf *out)
{
    struct smt_diag d = {{0}, {0}};
    struct smt_msg_token m;
    const char *tok = NULL;
    size_t len = 0;
    int64_t exp = 0;
    bool minted = false;
    uint32_t fail = SMT_FAIL_GENERIC;
    char fp[13];
    int r;

    r = ep_token(a, p, &tok, &len, &exp, &minted, &fail, throttle, &d);
    if (r == PENDING)
        goto out;
    if (r < 0) {
        log_warning("endpoint '%s': refused a token to pid %ld: %s", p->e->name,
                    peer ? (long)peer->pid : 0L, d.msg);
        r = smt_msg_put_failure(out, fail, d.msg, d.hint);
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
    r = token_reply(a, p, peer, false, out);
    if (r == PENDING) {
        /* Deferred mode only (a job runs only then); the reply comes from smt_agent_tick. */
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
    int64_t rt = now_rt(a);
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
            .last_error = (char *)p->last_error,
            .base_url = p->base_url   ? p->base_url
                        : e->base_url ? e->base_url
                                      : (char *)"",
        };
    }
    m.n = (uint32_t)a->n_eps;
    if ((r = smt_msg_put_list_reply(out, &m)) < 0 && r != SMT_ERR_NOMEM)
        r = reply_failure(out, SMT_FAIL_GENERIC, NULL, "cannot send the list: %s", smt_strerror(r));
out:
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
    int64_t rt = now_rt(a);
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
        iso8601((int64_t)m.expiration, when, sizeof(when));
        r = reply_failure(out, SMT_FAIL_EXPIRED, "get fresh credentials and add them again",
                          "the credentials for profile '%s' expired at %s", shown, when);
        goto out;
    }
    if (!added_find(a, m.profile) && a->n_added >= ADDED_MAX) {
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
    if (!(x = added_find(a, m.profile))) {
        if (!(x = calloc(1, sizeof(*x))) || !(x->profile = strdup(m.profile))) {
            added_free(x);
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
        if (strcmp(profile_of(a->eps[i].e), x->profile) == 0) {
            ep_forget_creds(&a->eps[i]);
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
        if (a->eps[i].origin == ORIGIN_ADDED && strcmp(profile_of(a->eps[i].e), x->profile) == 0)
            ep_forget_creds(&a->eps[i]);
    added_free(x); /* wipes */
    log_notice("removed the added credentials for profile '%s'", shown);
    r = smt_msg_put_success(out);
out:
    smt_buf_free_cstring(profile);
    return r;
}

static int handle_reload(struct smt_agent *a, struct smt_buf *body, size_t body_len,
                         struct smt_buf *out)
{
    struct smt_diag d = {{0}, {0}};
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
    rt = now_rt(a);
    bt = now_bt(a);
    for (size_t i = 0; i < a->n_eps; i++) {
        best = earliest(best, sink_wake(&a->eps[i], bt));
        best = earliest(best, creds_wake(a, &a->eps[i], rt, bt));
    }
    return best;
}

void smt_agent_tick(struct smt_agent *a)
{
    struct smt_diag d = {{0}, {0}};
    uint64_t bt, w;
    int64_t rt;

    if (!a)
        return;
    jobs_collect(a);
    for (size_t i = 0; i < a->n_eps; i++) {
        struct ep *p = &a->eps[i];

        rt = now_rt(a);
        bt = now_bt(a);
        w = creds_wake(a, p, rt, bt);
        if (w && w <= bt)
            (void)ep_ensure_creds(a, p, true, &d); /* never fails with creds held */
        w = sink_wake(p, bt);
        if (w && w <= bt)
            sink_refresh(a, p);
    }
}
