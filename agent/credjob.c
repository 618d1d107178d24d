/* smtoken-agent: credential processes run by the event loop, and the replies that wait for
 * them (credjob.h, requests.h).
 *
 * A job is one child of smt_proc_spawn (posix_spawnp: no shell, stdin /dev/null) watched by
 * four sd-event sources: io on its stdout and on its stderr (smt_proc_pump), a child source
 * (WEXITED) and a CLOCK_BOOTTIME timer at credential_timeout.  It has its result once the child
 * is reaped and both pipes are at EOF, or once it was given up (timeout, or stdout over the
 * cap: SIGKILL, then the reap); smt_creds_plan_finish turns that into credentials or a message,
 * exactly as the blocking path (--once) does.  The child source "owns" the process
 * (sd_event_source_set_child_process_own): freeing it kills and reaps a child still running, so
 * releasing a job (reload, ADD_CREDS, exit) never leaves a process or a zombie behind.  sd-event
 * reaps an exited child right after the child callback returns, so a pid is never reused while
 * a job still refers to it.
 *
 * Deferred mode (smt_agent_set_deferred): a GET_TOKEN whose endpoint needs a process for its
 * credentials starts a job and waits in the endpoint's waiter list; the server stops reading that
 * connection.  A finished job enables the set's defer source, whose callback
 * (smt_agent_jobs_collect) installs the result and answers each waiting request through the
 * server's reply callback.  A connection that closes first takes itself off the list with
 * smt_agent_forget.
 */
#include <config.h> /* autoconf's; "config.h" would find agent/config.h */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>
#include <systemd/sd-event.h>

#include "agent/agent_internal.h"
#include "agent/credjob.h"
#include "agent/creds.h"
#include "agent/creds_internal.h"
#include "agent/log.h"
#include "agent/requests.h"
#include "proto/msg.h"
#include "proto/proto.h"

/* ---------------------------------------------------------------------------------------------
 * jobs */

struct smt_credjobs {
    sd_event *e;
    sd_event_source *done_src; /* defer, ONESHOT when a job finished */
    void (*done)(void *userdata);
    void *userdata;
};

struct smt_credjob {
    struct smt_credjobs *js;
    struct smt_creds_plan *plan;
    struct smt_proc *proc;
    sd_event_source *out_src, *err_src, *child_src, *timer_src;
    uint32_t timeout_s;
    bool reaped;
    int run_r; /* < 0 once given up (timeout, overflow); run_d says why */
    struct smt_diag run_d;
    bool done;
    /* the result, once done */
    int r;
    struct smt_creds *creds; /* locked */
    struct smt_diag d;
};

/* The wait status waitpid would have given, from the child source's siginfo. */
static int wait_status(const siginfo_t *si)
{
    switch (si->si_code) {
    case CLD_EXITED:
        return W_EXITCODE(si->si_status & 0xff, 0);
    case CLD_KILLED:
        return W_EXITCODE(0, si->si_status & 0x7f);
    case CLD_DUMPED:
        return W_EXITCODE(0, si->si_status & 0x7f) | WCOREFLAG;
    default:
        return -1;
    }
}

static void job_stop_pipe(struct smt_credjob *j, sd_event_source **src)
{
    int fd;

    if (!*src)
        return;
    fd = sd_event_source_get_io_fd(*src);
    /* Out of epoll first, then closed: never close an fd the loop still watches. */
    *src = sd_event_source_disable_unref(*src);
    smt_proc_close_pipe(j->proc, fd);
}

/* Complete once the child is reaped and its pipes are done (or the job was given up). */
static void job_check(struct smt_credjob *j)
{
    if (j->done || !j->reaped || (j->run_r == 0 && (j->out_src || j->err_src)))
        return;
    job_stop_pipe(j, &j->out_src);
    job_stop_pipe(j, &j->err_src);
    j->timer_src = sd_event_source_disable_unref(j->timer_src);
    j->r = smt_creds_plan_finish(j->plan, j->proc, j->run_r, &j->run_d, &j->creds, &j->d);
    if (j->r == 0)
        smt_creds_lock(j->creds);
    /* The output held the keys: wipe it now rather than when the job is released. */
    sodium_memzero(j->proc->out, SMT_PROC_OUT_MAX + 1);
    j->proc->out_len = 0;
    j->done = true;
    (void)sd_event_source_set_enabled(j->js->done_src, SD_EVENT_ONESHOT);
}

/* Timeout or overflow: stop reading, kill the child; the job ends at its reap. */
static void job_give_up(struct smt_credjob *j)
{
    job_stop_pipe(j, &j->out_src);
    job_stop_pipe(j, &j->err_src);
    j->timer_src = sd_event_source_disable_unref(j->timer_src);
    if (!j->reaped && j->child_src)
        (void)sd_event_source_send_child_signal(j->child_src, SIGKILL, NULL, 0);
    job_check(j);
}

static int on_pipe(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
    struct smt_credjob *j = userdata;
    int r = smt_proc_pump(j->proc, fd);

    if (j->proc->out_overflow) {
        j->run_r = smt_proc_diag_overflow(&j->run_d);
        job_give_up(j);
        return 0;
    }
    if (r == 1)
        job_stop_pipe(j, s == j->out_src ? &j->out_src : &j->err_src);
    job_check(j);
    return 0;
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata)
{
    struct smt_credjob *j = userdata;

    /* sd-event reaps it when this returns; the source must not be freed before that. */
    j->proc->status = wait_status(si);
    j->reaped = true;
    job_check(j);
    return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
    struct smt_credjob *j = userdata;

    j->run_r = smt_proc_diag_timeout(&j->run_d, (int)j->timeout_s * 1000);
    job_give_up(j);
    return 0;
}

static int on_jobs_done(sd_event_source *s, void *userdata)
{
    struct smt_credjobs *js = userdata;

    js->done(js->userdata);
    return 0;
}

int smt_credjobs_new(sd_event *e, void (*done)(void *userdata), void *userdata,
                     struct smt_credjobs **ret)
{
    struct smt_credjobs *js = NULL;
    int r;

    if (!e || !done || !ret)
        return SMT_ERR_INVALID;
    if (!(js = calloc(1, sizeof(*js)))) {
        r = SMT_ERR_NOMEM;
        goto out;
    }
    js->e = sd_event_ref(e);
    js->done = done;
    js->userdata = userdata;
    if (sd_event_add_defer(e, &js->done_src, on_jobs_done, js) < 0 ||
        sd_event_source_set_enabled(js->done_src, SD_EVENT_OFF) < 0) {
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

void smt_credjobs_free(struct smt_credjobs *js)
{
    if (!js)
        return;
    sd_event_source_disable_unref(js->done_src);
    sd_event_unref(js->e);
    free(js);
}

void smt_credjob_release(struct smt_credjob *j)
{
    if (!j)
        return;
    job_stop_pipe(j, &j->out_src);
    job_stop_pipe(j, &j->err_src);
    sd_event_source_disable_unref(j->timer_src);
    /* Owned: a child still running is killed (SIGKILL) and reaped here. */
    sd_event_source_disable_unref(j->child_src);
    smt_proc_free(j->proc); /* pid is 0: the source had it; closes, wipes */
    smt_creds_plan_free(j->plan);
    smt_creds_free(j->creds);
    sodium_memzero(j, sizeof(*j));
    free(j);
}

int smt_credjob_start(struct smt_credjobs *js, struct smt_creds_plan **plan, uint32_t timeout_s,
                      struct smt_credjob **ret, struct smt_diag *d)
{
    struct smt_diag sub = {{0}, {0}, {0}};
    struct smt_credjob *j = NULL;
    struct smt_creds *unused = NULL;
    int r;

    if (!js || !plan || !*plan || !(*plan)->argv || !ret) {
        r = smt_diag_set(d, SMT_ERR_INVALID, "no command to run");
        goto out;
    }
    if (!(j = calloc(1, sizeof(*j)))) {
        r = smt_diag_set(d, SMT_ERR_NOMEM, "out of memory");
        goto out;
    }
    j->js = js;
    j->timeout_s = timeout_s ? timeout_s : SMT_CREDS_TIMEOUT_MS / 1000;
    if ((r = smt_proc_spawn((*plan)->argv, &j->proc, &sub)) < 0) {
        /* the message the blocking path gives ("... cannot run 'x': ...") */
        r = smt_creds_plan_finish(*plan, NULL, r, &sub, &unused, d);
        goto out;
    }
    /* From here the child source owns the process (it kills and reaps it when freed). */
    r = sd_event_add_child(js->e, &j->child_src, j->proc->pid, WEXITED, on_child, j);
    if (r >= 0)
        r = sd_event_source_set_child_process_own(j->child_src, 1);
    if (r >= 0)
        j->proc->pid = 0; /* else smt_proc_free kills and reaps it */
    if (r >= 0)
        r = sd_event_add_io(js->e, &j->out_src, j->proc->out_fd, EPOLLIN, on_pipe, j);
    if (r >= 0)
        r = sd_event_add_io(js->e, &j->err_src, j->proc->err_fd, EPOLLIN, on_pipe, j);
    if (r >= 0)
        r = sd_event_add_time_relative(js->e, &j->timer_src, CLOCK_BOOTTIME,
                                       (uint64_t)j->timeout_s * USEC, 0, on_timeout, j);
    if (r < 0) {
        int e = -r;

        errno = e;
        r = smt_diag_set(d, SMT_ERR_SYSTEM, "%s: cannot watch the process: %s%s", (*plan)->what,
                         strerror(e), e == EBUSY ? " (SIGCHLD is not blocked)" : "");
        goto out;
    }
    j->plan = *plan;
    *plan = NULL;
    *ret = j;
    j = NULL;
    r = 0;
out:
    smt_creds_free(unused);
    smt_credjob_release(j); /* kills and reaps a child already started */
    return r;
}

bool smt_credjob_done(const struct smt_credjob *j)
{
    return j && j->done;
}

int smt_credjob_result(struct smt_credjob *j, struct smt_creds **ret_creds, char *source,
                       size_t source_len, struct smt_diag *ret_d)
{
    int r = j->done ? j->r : SMT_ERR_INTERNAL;

    if (r == 0) {
        *ret_creds = j->creds;
        j->creds = NULL;
        if (source && source_len)
            snprintf(source, source_len, "%s", j->plan->source);
    } else if (ret_d) {
        *ret_d = j->done ? j->d : (struct smt_diag){.msg = "job still running"};
    }
    return r;
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

/* A job finished: install its result and answer the requests that waited for it. */
static void ep_job_done(struct smt_agent *a, struct ep *p, struct smt_credjob *job)
{
    struct smt_diag jd = {{0}, {0}, {0}};
    struct smt_creds *c = NULL;
    char source[SMT_SOURCE_MAX] = "";
    struct waiter *w, *next;
    char text[sizeof(jd.msg) + sizeof(jd.detail) + 2];
    bool stale = p->job_stale;
    int jr;

    jr = smt_credjob_result(job, &c, source, sizeof(source), &jd);
    smt_credjob_release(job);
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

        /* The log gets the message without the process's own words (jd.detail). */
        snprintf(msg, sizeof(msg), "cannot refresh the credentials (%s): %s", p->source, jd.msg);
        log_warning("endpoint '%s': %s", p->e->name, msg);
        snprintf(msg, sizeof(msg), "cannot refresh the credentials (%s): %s", p->source,
                 smt_diag_text(&jd, text, sizeof(text)));
        smt_ep_set_error(p, msg);
        p->refresh_failed = true;
    } else {
        smt_ep_set_error(p, smt_diag_text(&jd, text, sizeof(text)));
    }
    for (w = waiters_take(p); w; w = next) {
        struct smt_buf *out = smt_buf_new(SMT_FRAME_MAX);
        int r = out ? 0 : SMT_ERR_NOMEM;

        next = w->next;
        if (r == 0 && !stale && jr < 0 && !p->creds) {
            log_warning("endpoint '%s': refused a token to pid %ld: %s", p->e->name,
                        (long)w->conn->pid, jd.msg);
            r = smt_msg_put_failure(out,
                                    jr == SMT_ERR_EXPIRED ? SMT_FAIL_EXPIRED : SMT_FAIL_CREDENTIALS,
                                    smt_diag_text(&jd, text, sizeof(text)), jd.hint);
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
    for (size_t i = 0; a->jobs && i < a->n_eps; i++) {
        struct ep *p = &a->eps[i];

        if (p->job && smt_credjob_done(p->job))
            ep_job_done(a, p, p->job);
    }
}

static void on_jobs(void *userdata)
{
    smt_agent_jobs_collect(userdata);
}

int smt_ep_job_start(struct smt_agent *a, struct ep *p, struct smt_creds_plan **plan,
                     struct smt_diag *d)
{
    if (!a->jobs || !a->reply)
        return smt_diag_set(d, SMT_ERR_INVALID, "not in deferred mode");
    return smt_credjob_start(a->jobs, plan, a->config->credential_timeout, &p->job, d);
}

int smt_agent_set_deferred(struct smt_agent *a, sd_event *e,
                           void (*reply)(struct smt_peer *conn, struct smt_buf *frame,
                                         void *userdata),
                           void *userdata)
{
    int r;

    if (!a || !e || !reply)
        return SMT_ERR_INVALID;
    if (!a->jobs && (r = smt_credjobs_new(e, on_jobs, a, &a->jobs)) < 0)
        return r;
    a->reply = reply;
    a->reply_userdata = userdata;
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
