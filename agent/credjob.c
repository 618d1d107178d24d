/* smtoken-agent: credentials fetched on worker threads, and the replies that wait for them
 * (credjob.h, requests.h).
 *
 * Deferred mode (smt_agent_set_deferred): a GET_TOKEN whose endpoint has no usable credentials
 * starts a job for them and waits in the endpoint's waiter list; the server stops reading that
 * connection.  A finished job writes the set's eventfd; the loop calls smt_agent_tick, which
 * installs the result and answers each waiting request through the server's reply callback.  A
 * connection that closes first takes itself off the list with smt_agent_forget.  A job whose
 * endpoint goes away (reload) is released: its process is killed and its thread joined once it
 * has noticed; smt_agent_free joins every thread before it returns.
 */
#include <config.h> /* autoconf's; "config.h" would find agent/config.h */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <sodium.h>

#include "agent/agent_internal.h"
#include "agent/credjob.h"
#include "agent/creds.h"
#include "agent/log.h"
#include "agent/requests.h"
#include "proto/msg.h"
#include "proto/proto.h"

/* ---------------------------------------------------------------------------------------------
 * worker threads
 *
 * What a worker touches: its own struct smt_credjob (inputs are written before pthread_create,
 * results under js->mu), the environment and files read-only (getenv; the main thread changes
 * the environment only at start-up, before the server exists, and in main.c's env_release after
 * smt_agent_free, which joins every worker first), its own secure arenas (sodium_malloc and
 * sodium_mprotect work on whole pages of that allocation only), errno (thread-local), strerror
 * (thread-safe in glibc >= 2.32), getpwuid_r (creds.c), and posix_spawnp, which glibc runs with
 * clone(CLONE_VM|CLONE_VFORK): no fork, so no non-async-signal-safe call runs in a child of a
 * threaded process.  Every fd the agent opens is close-on-exec, so a child started by one
 * worker does not inherit another's pipes or the agent's sockets.  Workers block every
 * signal: SIGTERM, SIGINT and SIGHUP go to the event loop's signalfd. */

struct smt_credjobs {
    pthread_mutex_t mu;
    int efd;
    struct smt_credjob *jobs; /* every job whose thread has not been joined */
};

struct smt_credjob {
    struct smt_credjobs *js;
    struct smt_credjob *prev, *next;
    pthread_t thread;
    int cancel_fd;
    char *profile; /* NULL: the default chain */
    uint32_t timeout_s;
    bool done;     /* under js->mu */
    bool released; /* main thread only */
    /* results, written by the worker before done */
    int r;
    struct smt_creds *creds; /* locked */
    char source[SMT_SOURCE_MAX];
    struct smt_diag d;
};

static void *credjob_run(void *arg)
{
    struct smt_credjob *j = arg;
    struct smt_creds_opts o = {.timeout_ms = (int)j->timeout_s * 1000, .cancel_fd = j->cancel_fd};
    struct smt_creds *c = NULL;
    struct smt_diag d = {{0}, {0}};
    char source[SMT_SOURCE_MAX] = "";
    uint64_t one = 1;
    int r;

    r = smt_creds_resolve_opts(j->profile, &o, &c, source, sizeof(source), &d);
    if (r == 0)
        smt_creds_lock(c);
    pthread_mutex_lock(&j->js->mu);
    j->r = r;
    j->creds = c;
    memcpy(j->source, source, sizeof(source));
    j->d = d;
    j->done = true;
    if (write(j->js->efd, &one, sizeof(one)) < 0) {
        /* EAGAIN: the counter is already non-zero, so the loop wakes up anyway */
    }
    pthread_mutex_unlock(&j->js->mu);
    sodium_memzero(&d, sizeof(d));
    return NULL;
}

/* Unlinked, joined: free. */
static void credjob_free(struct smt_credjob *j)
{
    if (!j)
        return;
    if (j->cancel_fd >= 0)
        close(j->cancel_fd);
    smt_creds_free(j->creds);
    free(j->profile);
    sodium_memzero(j, sizeof(*j));
    free(j);
}

static void credjob_cancel(struct smt_credjob *j)
{
    uint64_t one = 1;

    if (write(j->cancel_fd, &one, sizeof(one)) < 0) {
        /* EAGAIN: already cancelled */
    }
}

/* Take j out of the set and join its thread (it has finished, or was cancelled). */
static void credjob_reap(struct smt_credjob *j)
{
    struct smt_credjobs *js = j->js;

    pthread_mutex_lock(&js->mu);
    if (j->prev)
        j->prev->next = j->next;
    else
        js->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    pthread_mutex_unlock(&js->mu);
    (void)pthread_join(j->thread, NULL);
    credjob_free(j);
}

int smt_credjobs_new(struct smt_credjobs **ret)
{
    struct smt_credjobs *js = NULL;
    int r;

    if (!ret)
        return SMT_ERR_INVALID;
    if (!(js = calloc(1, sizeof(*js)))) {
        r = SMT_ERR_NOMEM;
        goto out;
    }
    js->efd = -1;
    if (pthread_mutex_init(&js->mu, NULL) != 0) {
        free(js);
        js = NULL;
        r = SMT_ERR_SYSTEM;
        goto out;
    }
    if ((js->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
        r = SMT_ERR_SYSTEM;
        goto out;
    }
    *ret = js;
    js = NULL;
    r = 0;
out:
    smt_credjobs_free(js);
    return r;
}

int smt_credjobs_fd(const struct smt_credjobs *js)
{
    return js ? js->efd : -1;
}

void smt_credjobs_ack(struct smt_credjobs *js)
{
    struct smt_credjob *j, *next;
    uint64_t n;

    if (!js)
        return;
    if (read(js->efd, &n, sizeof(n)) < 0) {
        /* EAGAIN: nothing signalled; look anyway (cheap) */
    }
    for (j = js->jobs; j; j = next) {
        next = j->next;
        if (j->released && smt_credjob_done(j))
            credjob_reap(j);
    }
}

void smt_credjobs_free(struct smt_credjobs *js)
{
    if (!js)
        return;
    for (struct smt_credjob *j = js->jobs; j; j = j->next)
        credjob_cancel(j);
    while (js->jobs)
        credjob_reap(js->jobs);
    if (js->efd >= 0)
        close(js->efd);
    pthread_mutex_destroy(&js->mu);
    free(js);
}

int smt_credjob_start(struct smt_credjobs *js, const char *profile, uint32_t timeout_s,
                      struct smt_credjob **ret)
{
    struct smt_credjob *j = NULL;
    sigset_t all, old;
    int r, e;

    if (!js || !ret) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if (!(j = calloc(1, sizeof(*j)))) {
        r = SMT_ERR_NOMEM;
        goto out;
    }
    j->js = js;
    j->timeout_s = timeout_s;
    if ((j->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
        r = SMT_ERR_SYSTEM;
        goto out;
    }
    if (profile && !(j->profile = strdup(profile))) {
        r = SMT_ERR_NOMEM;
        goto out;
    }
    /* The thread inherits the mask: it never takes a signal meant for the loop. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_mutex_lock(&js->mu);
    e = pthread_create(&j->thread, NULL, credjob_run, j);
    if (e == 0) {
        j->next = js->jobs;
        if (js->jobs)
            js->jobs->prev = j;
        js->jobs = j;
    }
    pthread_mutex_unlock(&js->mu);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        errno = e;
        r = SMT_ERR_SYSTEM;
        goto out;
    }
    *ret = j;
    j = NULL;
    r = 0;
out:
    credjob_free(j);
    return r;
}

bool smt_credjob_done(struct smt_credjob *j)
{
    bool done;

    pthread_mutex_lock(&j->js->mu);
    done = j->done;
    pthread_mutex_unlock(&j->js->mu);
    return done;
}

int smt_credjob_result(struct smt_credjob *j, struct smt_creds **ret_creds, char *source,
                       size_t source_len, struct smt_diag *ret_d)
{
    int r;

    pthread_mutex_lock(&j->js->mu);
    r = j->done ? j->r : SMT_ERR_INTERNAL;
    if (r == 0) {
        *ret_creds = j->creds;
        j->creds = NULL;
        if (source && source_len)
            snprintf(source, source_len, "%s", j->source);
    } else if (ret_d) {
        *ret_d = j->done ? j->d : (struct smt_diag){"job still running", ""};
    }
    pthread_mutex_unlock(&j->js->mu);
    return r;
}

void smt_credjob_release(struct smt_credjob *j)
{
    if (!j)
        return;
    j->released = true;
    if (smt_credjob_done(j))
        credjob_reap(j);
    else
        credjob_cancel(j); /* smt_credjobs_ack reaps it once the worker notices */
}

/* ---------------------------------------------------------------------------------------------
 * deferred replies */

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
void smt_agent_answer_waiters_gone(struct smt_agent *a, struct ep *p)
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
static void ep_job_done(struct smt_agent *a, struct ep *p, struct smt_credjob *job)
{
    struct smt_diag jd = {{0}, {0}};
    struct smt_creds *c = NULL;
    char source[SMT_SOURCE_MAX] = "";
    struct waiter *w, *next;
    bool stale = p->job_stale;
    int jr;

    jr = smt_credjob_result(job, &c, source, sizeof(source), &jd);
    smt_credjob_release(job); /* finished: freed now */
    p->job = NULL;
    p->job_stale = false;
    if (stale) {
        /* The credentials changed meanwhile (smtoken add/remove): the waiters start over. */
        smt_creds_free(c);
    } else if (jr == 0) {
        bool refresh = p->creds != NULL;

        smt_ep_install_creds(a, p, c, ORIGIN_RESOLVED, source);
        if (refresh)
            log_info("endpoint '%s': refreshed credentials from %s", p->e->name, p->source);
    } else if (p->creds) {
        char msg[2 * ERR_MAX + 200];

        snprintf(msg, sizeof(msg), "cannot refresh the credentials (%s): %s", p->source, jd.msg);
        log_warning("endpoint '%s': %s", p->e->name, msg);
        smt_ep_set_error(p, msg);
        p->refresh_failed = true;
    } else {
        smt_ep_set_error(p, jd.msg);
    }
    for (w = waiters_take(p); w; w = next) {
        struct smt_buf *out = smt_buf_new(SMT_FRAME_MAX);
        int r = out ? 0 : SMT_ERR_NOMEM;

        next = w->next;
        if (r == 0 && !stale && jr < 0 && !p->creds) {
            log_warning("endpoint '%s': refused a token to pid %ld: %s", p->e->name,
                        (long)w->conn->pid, jd.msg);
            r = smt_msg_put_failure(
                out, jr == SMT_ERR_EXPIRED ? SMT_FAIL_EXPIRED : SMT_FAIL_CREDENTIALS, jd.msg,
                jd.hint);
        } else if (r == 0) {
            /* throttled: a set that cannot serve is refused now rather than fetched again */
            r = smt_agent_token_reply(a, p, w->conn, true, out);
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

void smt_agent_jobs_collect(struct smt_agent *a)
{
    if (!a->jobs)
        return;
    smt_credjobs_ack(a->jobs);
    for (size_t i = 0; i < a->n_eps; i++) {
        struct ep *p = &a->eps[i];

        if (p->job && smt_credjob_done(p->job))
            ep_job_done(a, p, p->job);
    }
}

int smt_ep_job_start(struct smt_agent *a, struct ep *p)
{
    if (!a->jobs || !a->reply)
        return SMT_ERR_INVALID;
    return smt_credjob_start(a->jobs, p->e->profile, a->config->credential_timeout, &p->job);
}

int smt_agent_set_deferred(struct smt_agent *a,
                           void (*reply)(struct smt_peer *conn, struct smt_buf *frame,
                                         void *userdata),
                           void *userdata, int *ret_fd)
{
    int r;

    if (!a || !reply || !ret_fd)
        return SMT_ERR_INVALID;
    if (!a->jobs && (r = smt_credjobs_new(&a->jobs)) < 0)
        return r;
    a->reply = reply;
    a->reply_userdata = userdata;
    *ret_fd = smt_credjobs_fd(a->jobs);
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
