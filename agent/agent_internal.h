/* smtoken-agent: the agent's state, shared by requests.c (life cycle and request handlers),
 * endpoint.c (per-endpoint credentials, tokens, sinks, timers) and credjob.c (credential
 * processes on the event loop, and deferred replies).  Private to those three files. */
#ifndef SMT_AGENT_INTERNAL_H
#define SMT_AGENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/audit.h"
#include "agent/cache.h"
#include "agent/config.h"
#include "agent/creds.h"
#include "agent/creds_internal.h"
#include "agent/credjob.h"
#include "agent/token.h"
#include "proto/buf.h"
#include "proto/err.h"

#define USEC             1000000ULL
#define CREDS_RETRY_USEC (30 * USEC)
#define SINK_RETRY_USEC  (30 * USEC)
#define SINK_MIN_USEC    USEC /* never rewrite a sink more often (1 s lifetimes) */
#define CREDS_WINDOW_MAX 900  /* botocore's advisory refresh: 15 min */
#define ADDED_MAX        64   /* profiles held from ADD_CREDS */
#define ERR_MAX          512
#define PENDING          1 /* internal: waiting for a credential process (a job) */

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
    char sink_error[ERR_MAX]; /* the last sink write's failure; "" once a write succeeds */
    int64_t last_refresh;     /* wall clock of the last mint */
    char last_error[ERR_MAX];
    struct smt_credjob *job; /* credentials being resolved in the background */
    bool job_stale;          /* ADD/REMOVE_CREDS since job started: ignore its result */
    struct waiter *waiters;  /* GET_TOKEN requests waiting for job */
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
    /* deferred replies (smt_agent_set_deferred); jobs (in the server's loop) is NULL until then */
    void (*reply)(struct smt_peer *conn, struct smt_buf *frame, void *userdata);
    void *reply_userdata;
    struct smt_credjobs *jobs;
};

/* ---- endpoint.c ---- */
int64_t smt_agent_now_rt(const struct smt_agent *a);
uint64_t smt_agent_now_bt(const struct smt_agent *a);
const char *smt_ep_profile(const struct smt_endpoint *e);
void smt_ep_set_error(struct ep *p, const char *msg);
/* What STATUS/LIST shows as the endpoint's last error: last_error (tokens, credentials) and
 * sink_error (the sink file), joined with "; " when both are set.  Returns buf. */
const char *smt_ep_error(const struct ep *p, char *buf, size_t size);
struct added *smt_added_find(const struct smt_agent *a, const char *profile);
void smt_added_free(struct added *x);
int smt_ep_init(struct ep *p, const struct smt_endpoint *e) SMT_WUR;
void smt_ep_clear(struct ep *p);
void smt_ep_forget_creds(struct ep *p);
int smt_ep_region(struct smt_agent *a, struct ep *p, struct smt_diag *d) SMT_WUR;
void smt_ep_install_creds(struct smt_agent *a, struct ep *p, struct smt_creds *c,
                          enum origin origin, const char *source);
/* A token for the endpoint (GET_TOKEN and sinks); PENDING while a job fetches credentials.
 * On failure d says what went wrong and what to do, and *ret_fail is the wire code. */
int smt_ep_token(struct smt_agent *a, struct ep *p, const char **ret_token, size_t *ret_len,
                 int64_t *ret_expires_at, bool *ret_minted, uint32_t *ret_fail, bool throttle,
                 struct smt_diag *d) SMT_WUR;

/* ---- requests.c ---- */
/* The reply to GET_TOKEN for p, appended to out; PENDING when it has to wait for a job. */
int smt_agent_token_reply(struct smt_agent *a, struct ep *p, struct smt_peer *peer, bool throttle,
                          struct smt_buf *out) SMT_WUR;

/* ---- credjob.c ---- */
/* Start a job for p's credentials running *plan's command: 0 (p->job set, *plan taken), or < 0
 * with d (not in deferred mode, or the command cannot be started). */
int smt_ep_job_start(struct smt_agent *a, struct ep *p, struct smt_creds_plan **plan,
                     struct smt_diag *d) SMT_WUR;
/* Install the results of finished jobs and answer the requests that waited for them. */
void smt_agent_jobs_collect(struct smt_agent *a);
/* The endpoint is going away (reload): its waiting requests get a FAILURE. */
void smt_agent_answer_waiters_gone(struct smt_agent *a, struct ep *p);

#endif
