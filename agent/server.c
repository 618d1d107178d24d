/* smtoken-agent: socket set-up, peer checks and connections (see server.h).
 *
 * Modelled on ssh-agent: a private directory, a 0600 socket, SO_PEERCRED on every connection.
 * Each connection is an sd-event io source with two bounded buffers: requests are read without
 * blocking into `in` (never more than one maximal frame plus its header), every whole frame goes
 * to smt_agent_handle, and replies queue in `out` until the socket takes them.  While a full
 * reply is queued the connection stops reading, so a client that never reads cannot make the
 * agent buffer without bound.
 *
 * Deferred replies (requests.h): a GET_TOKEN whose credentials are being fetched by a process
 * gets no reply at once.  Its connection then stops reading and its idle timer is off (the
 * agent bounds the wait with credential_timeout), and other connections go on being served.
 * The agent runs the process in this loop; when it has finished, the agent hands each reply to
 * on_deferred_reply, which queues it on the connection that asked.  A connection that
 * closes while it waits (peer gone, or the server stopping) tells the agent with
 * smt_agent_forget before it is freed, so no reply is ever routed to a freed connection.
 */
#include <config.h> /* autoconf's; "config.h" would find agent/config.h */

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "agent/audit.h"
#include "agent/log.h"
#include "agent/requests.h"
#include "agent/server.h"
#include "proto/buf.h"
#include "proto/io.h"
#include "proto/msg.h"
#include "proto/proto.h"

#define SUN_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)
#define READ_CHUNK   16384
#define IN_MAX       (SMT_FRAME_HEADER + SMT_REQUEST_MAX)
/* No new request is handled while this much reply is queued; one more reply always fits. */
#define OUT_HIGH (SMT_FRAME_HEADER + SMT_FRAME_MAX)
#define OUT_MAX  (2 * OUT_HIGH)
/* Connecting to decide whether a socket file is stale: a live agent answers at once. */
#define STALE_CONNECT_MS 2000
#define USEC_PER_SEC     1000000ULL
/* accept(2) failing for lack of fds would wake a level-triggered loop forever: pause instead. */
#define ACCEPT_PAUSE_USEC USEC_PER_SEC

struct conn {
    struct smt_server *srv;
    struct conn *prev, *next;
    int fd;
    unsigned long long id;
    sd_event_source *io, *idle;
    struct smt_buf *in, *out;
    struct smt_peer peer;
    bool eof;     /* the peer shut its side: answer what is complete, then close */
    bool closing; /* a framing error: flush the FAILURE, then close */
    bool waiting; /* a request's reply is deferred: read nothing, no idle timeout */
};

struct smt_server {
    sd_event *e;
    struct smt_agent *agent;
    int fd;
    sd_event_source *listen_src, *resume_src, *wake_src, *post_src;
    char *unlink_path;
    dev_t dev;
    ino_t ino;
    struct conn *conns;
    unsigned n_conns, max_conns;
    uint64_t idle_usec;
    uint64_t last_tick;
    uid_t uid;
    unsigned long long next_id;
};

/* ---- socket path and directory ---------------------------------------------------------- */

static int path_ok(const char *p)
{
    size_t n = strlen(p);

    if (n == 0 || n >= SUN_PATH_MAX)
        return SMT_ERR_INVALID;
    for (; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return SMT_ERR_INVALID;
    return 0;
}

int smt_socket_path_choose(const char *explicit_path, const char *env_sock, const char *runtime_dir,
                           uid_t uid, char **ret)
{
    char *p = NULL;
    size_t size;
    int r;

    if (!ret) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if (explicit_path && *explicit_path) {
        p = strdup(explicit_path);
    } else if (env_sock && *env_sock) {
        p = strdup(env_sock);
    } else if (runtime_dir && runtime_dir[0] == '/') {
        /* XDG Base Directory: a relative $XDG_RUNTIME_DIR is invalid and ignored. */
        size = strlen(runtime_dir) + sizeof("/smtoken/agent.sock");
        if ((p = malloc(size)))
            snprintf(p, size, "%s/smtoken/agent.sock", runtime_dir);
    } else {
        size = sizeof("/tmp/smtoken-/agent.sock") + 20;
        if ((p = malloc(size)))
            snprintf(p, size, "/tmp/smtoken-%lu/agent.sock", (unsigned long)uid);
    }
    if (!p) {
        r = SMT_ERR_NOMEM;
        goto out;
    }
    if ((r = path_ok(p)) < 0)
        goto out;
    *ret = p;
    p = NULL;
    r = 0;
out:
    free(p);
    return r;
}

int smt_socket_path_default(const char *explicit_path, char **ret)
{
    return smt_socket_path_choose(explicit_path, getenv("SMTOKEN_SOCK"), getenv("XDG_RUNTIME_DIR"),
                                  getuid(), ret);
}

int smt_socket_dir_check(const char *dir, uid_t uid, struct smt_diag *d)
{
    struct stat st;
    int r;

    if (mkdir(dir, 0700) == 0) {
        log_debug("created the socket directory %s", dir);
    } else if (errno != EEXIST) {
        r = smt_diag_set(d, SMT_ERR_SYSTEM, "cannot create the socket directory %s: %s", dir,
                         strerror(errno));
        if (errno == ENOENT)
            smt_diag_hint(d, "create its parent directory, or choose another path with --socket");
        goto out;
    }
    /* lstat: a symlink planted where the directory should be must not redirect the socket. */
    if (lstat(dir, &st) < 0) {
        r = smt_diag_set(d, SMT_ERR_SYSTEM, "cannot inspect the socket directory %s: %s", dir,
                         strerror(errno));
        goto out;
    }
    if (S_ISLNK(st.st_mode)) {
        r = smt_diag_set(d, SMT_ERR_UNSAFE, "the socket directory %s is a symbolic link", dir);
        smt_diag_hint(d, "remove it, or choose another path with --socket");
        goto out;
    }
    if (!S_ISDIR(st.st_mode)) {
        r = smt_diag_set(d, SMT_ERR_UNSAFE, "the socket directory %s is not a directory", dir);
        smt_diag_hint(d, "remove it, or choose another path with --socket");
        goto out;
    }
    if (st.st_uid != uid) {
        r = smt_diag_set(d, SMT_ERR_PERM,
                         "the socket directory %s belongs to uid %lu, not to you (uid %lu)", dir,
                         (unsigned long)st.st_uid, (unsigned long)uid);
        smt_diag_hint(d, "choose a directory of your own with --socket");
        goto out;
    }
    if (st.st_mode & 077) {
        r = smt_diag_set(d, SMT_ERR_UNSAFE,
                         "the socket directory %s has mode %04o: other users can reach it", dir,
                         (unsigned)(st.st_mode & 07777));
        smt_diag_hint(d, "run 'chmod 700 %s', or choose another path with --socket", dir);
        goto out;
    }
    r = 0;
out:
    return r;
}

int smt_socket_clear_stale(const char *path, struct smt_diag *d)
{
    struct stat st;
    int fd = -1, r;

    if (lstat(path, &st) < 0) {
        if (errno == ENOENT) {
            r = 0;
            goto out;
        }
        r = smt_diag_set(d, SMT_ERR_SYSTEM, "cannot inspect %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISSOCK(st.st_mode)) {
        r = smt_diag_set(d, SMT_ERR_UNSAFE, "%s exists and is not a socket", path);
        smt_diag_hint(d, "remove it, or choose another path with --socket");
        goto out;
    }
    r = smt_io_connect_timeout(path, STALE_CONNECT_MS, &fd);
    if (r == 0 || r == SMT_ERR_TIMEOUT) {
        /* Someone accepts (or has a full backlog): a live agent, never replace its socket. */
        r = smt_diag_set(d, SMT_ERR_BUSY, "an agent is already running at %s", path);
        smt_diag_hint(d, "stop it first ('smtoken-agent -k'), or choose another path with "
                         "--socket");
        goto out;
    }
    if (r == SMT_ERR_SYSTEM && errno == ECONNREFUSED) {
        if (unlink(path) < 0 && errno != ENOENT) {
            r = smt_diag_set(d, SMT_ERR_SYSTEM, "cannot remove the stale socket %s: %s", path,
                             strerror(errno));
            goto out;
        }
        log_info("removed the stale socket %s", path);
        r = 0;
        goto out;
    }
    smt_diag_set(d, r, "cannot check the existing socket %s: %s", path, smt_strerror(r));
out:
    if (fd >= 0)
        close(fd);
    return r;
}

int smt_socket_listen(const char *path, uid_t uid, int *ret_fd, struct smt_diag *d)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char *dir = NULL, *slash;
    mode_t old;
    int fd = -1, r, e;

    if (!path || path_ok(path) < 0 || !ret_fd) {
        r = smt_diag_set(d, SMT_ERR_INVALID,
                         "invalid socket path (empty, too long for a Unix "
                         "socket, or holding control characters)");
        goto out;
    }
    if (!(dir = strdup(path))) {
        r = smt_diag_set(d, SMT_ERR_NOMEM, "out of memory");
        goto out;
    }
    slash = strrchr(dir, '/');
    if (!slash)
        memcpy(dir, ".", 2);
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    if ((r = smt_socket_dir_check(dir, uid, d)) < 0 || (r = smt_socket_clear_stale(path, d)) < 0)
        goto out;
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
        r = smt_diag_set(d, SMT_ERR_SYSTEM, "cannot create a socket: %s", strerror(errno));
        goto out;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    /* bind(2) creates the file with 0777 & ~umask: 0600 from the start, no chmod window. */
    old = umask(0177);
    r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    e = errno;
    umask(old);
    if (r < 0) {
        if (e == EADDRINUSE) {
            r = smt_diag_set(d, SMT_ERR_BUSY, "an agent is already running at %s", path);
        } else {
            r = smt_diag_set(d, SMT_ERR_SYSTEM, "cannot bind the socket %s: %s", path, strerror(e));
        }
        goto out;
    }
    if (listen(fd, SOMAXCONN) < 0) {
        r = smt_diag_set(d, SMT_ERR_SYSTEM, "cannot listen on %s: %s", path, strerror(errno));
        (void)unlink(path);
        goto out;
    }
    *ret_fd = fd;
    fd = -1;
    r = 0;
out:
    if (fd >= 0)
        close(fd);
    free(dir);
    return r;
}

int smt_socket_activated(int *ret_fd, struct smt_diag *d)
{
    int n, fd = SD_LISTEN_FDS_START, flags, r;

    n = sd_listen_fds(1);
    if (n < 0) {
        errno = -n;
        r = smt_diag_set(d, SMT_ERR_SYSTEM, "cannot take the sockets systemd passed: %s",
                         strerror(errno));
        goto out;
    }
    if (n == 0) {
        r = 0;
        goto out;
    }
    if (n > 1) {
        r = smt_diag_set(d, SMT_ERR_INVALID, "systemd passed %d sockets; smtoken-agent takes one",
                         n);
        smt_diag_hint(d, "list a single ListenStream= in smtoken-agent.socket");
        goto out;
    }
    if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
        r = smt_diag_set(d, SMT_ERR_INVALID,
                         "the socket systemd passed is not a listening Unix stream socket");
        smt_diag_hint(d, "use ListenStream=%%t/smtoken/agent.sock in smtoken-agent.socket");
        goto out;
    }
    if ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        r = smt_diag_set(d, SMT_ERR_SYSTEM, "cannot set up the socket systemd passed: %s",
                         strerror(errno));
        goto out;
    }
    *ret_fd = fd;
    r = 1;
out:
    return r;
}

/* ---- connections ------------------------------------------------------------------------ */

static uint64_t now_boottime(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
        return 0;
    return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

static void conn_free(struct conn *c)
{
    if (!c)
        return;
    if (c->srv) {
        if (c->prev)
            c->prev->next = c->next;
        else
            c->srv->conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
        c->srv->n_conns--;
        if (c->waiting)
            smt_agent_forget(c->srv->agent, &c->peer);
    }
    sd_event_source_disable_unref(c->io);
    sd_event_source_disable_unref(c->idle);
    if (c->fd >= 0)
        close(c->fd);
    smt_buf_free(c->in);  /* wipes: requests may carry credentials */
    smt_buf_free(c->out); /* wipes: replies carry tokens */
    explicit_bzero(c, sizeof(*c));
    free(c);
}

static bool conn_wants_read(const struct conn *c)
{
    return !c->eof && !c->closing && !c->waiting && smt_buf_len(c->in) < IN_MAX &&
           smt_buf_len(c->out) < OUT_HIGH;
}

static int conn_read(struct conn *c, bool *progress)
{
    size_t room;
    uint8_t *p;
    ssize_t n;
    int r;

    while (!c->eof && (room = IN_MAX - smt_buf_len(c->in)) > 0) {
        if (room > READ_CHUNK)
            room = READ_CHUNK;
        if ((r = smt_buf_reserve(c->in, room, &p)) < 0)
            return r;
        n = recv(c->fd, p, room, MSG_DONTWAIT);
        smt_buf_unreserve(c->in, n > 0 ? room - (size_t)n : room);
        if (n > 0) {
            *progress = true;
            continue;
        }
        if (n == 0) {
            c->eof = true;
            *progress = true;
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
        log_debug("connection %llu: read failed: %s", c->id, strerror(errno));
        return SMT_ERR_SYSTEM;
    }
    return 0;
}

static int conn_write(struct conn *c, bool *progress)
{
    ssize_t n;
    int r;

    while (smt_buf_len(c->out) > 0) {
        n = send(c->fd, smt_buf_ptr(c->out), smt_buf_len(c->out), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            *progress = true;
            if ((r = smt_buf_consume(c->out, (size_t)n)) < 0)
                return r;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        log_debug("connection %llu: write failed: %s", c->id, n < 0 ? strerror(errno) : "EOF");
        return SMT_ERR_SYSTEM;
    }
    return 0;
}

/* Hand every whole frame in `in` to the agent while there is room for its reply. */
static int conn_process(struct conn *c)
{
    uint8_t version, type;
    size_t body_len, before, used;
    int r;

    while (!c->closing && !c->waiting && smt_buf_len(c->out) < OUT_HIGH) {
        r = smt_frame_parse(c->in, SMT_REQUEST_MAX, &version, &type, &body_len);
        if (r == 0)
            break;
        if (r < 0) {
            /* The stream cannot be resynchronised (PROTOCOL.md §2): say why, then close. */
            log_warning("connection %llu (pid %ld): %s; closing it", c->id, (long)c->peer.pid,
                        r == SMT_ERR_TOO_LARGE ? "request over the size limit"
                                               : "malformed frame header");
            smt_buf_reset(c->in);
            c->closing = true;
            if (smt_msg_put_failure(c->out, SMT_FAIL_BAD_REQUEST,
                                    r == SMT_ERR_TOO_LARGE ? "request too large"
                                                           : "malformed request frame",
                                    "") < 0)
                log_debug("connection %llu: no room for the FAILURE reply", c->id);
            break;
        }
        before = smt_buf_len(c->in);
        if ((r = smt_agent_handle(c->srv->agent, &c->peer, version, type, c->in, body_len,
                                  c->out)) < 0) {
            log_warning("connection %llu: cannot answer a %s request: %s; closing it", c->id,
                        smt_msg_type_name(type), smt_strerror(r));
            return r;
        }
        if (r == SMT_AGENT_DEFERRED) {
            /* The reply comes from on_deferred_reply; until then the idle timer must not
             * close the connection (the agent's credential_timeout bounds the wait). */
            log_debug("connection %llu: %s reply deferred", c->id, smt_msg_type_name(type));
            c->waiting = true;
            (void)sd_event_source_set_enabled(c->idle, SD_EVENT_OFF);
        }
        used = before - smt_buf_len(c->in);
        if (used > body_len) {
            log_error("connection %llu: the %s handler read past its frame", c->id,
                      smt_msg_type_name(type));
            return SMT_ERR_INTERNAL;
        }
        /* The handler consumes its body; make sure the next frame starts where it should. */
        if (used < body_len && (r = smt_buf_consume(c->in, body_len - used)) < 0)
            return r;
    }
    return 0;
}

static int conn_update(struct conn *c)
{
    uint32_t events = 0;

    if (conn_wants_read(c))
        events |= EPOLLIN;
    if (smt_buf_len(c->out) > 0)
        events |= EPOLLOUT;
    return sd_event_source_set_io_events(c->io, events);
}

static int conn_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
    struct conn *c = userdata;
    bool progress = false;

    if ((revents & EPOLLIN) && conn_read(c, &progress) < 0)
        goto drop;
    if (conn_process(c) < 0)
        goto drop;
    if (smt_buf_len(c->out) > 0 && conn_write(c, &progress) < 0)
        goto drop;
    if (smt_buf_len(c->out) == 0 && !c->waiting && (c->eof || c->closing)) {
        log_debug("connection %llu: done", c->id);
        goto drop;
    }
    /* A hang-up or error we are not reading for would otherwise be reported forever (also
     * while waiting: the peer is gone, conn_free tells the agent). */
    if ((revents & (EPOLLHUP | EPOLLERR)) && !progress)
        goto drop;
    if (progress && !c->waiting) {
        (void)sd_event_source_set_time_relative(c->idle, c->srv->idle_usec);
        (void)sd_event_source_set_enabled(c->idle, SD_EVENT_ONESHOT);
    }
    if (conn_update(c) < 0)
        goto drop;
    return 0;
drop:
    conn_free(c);
    return 0;
}

static int conn_on_idle(sd_event_source *s, uint64_t usec, void *userdata)
{
    struct conn *c = userdata;

    if (c->waiting)
        return 0; /* the timer is off while waiting; a late expiry changes nothing */
    log_debug("connection %llu (pid %ld): idle for %llu s; closing it", c->id, (long)c->peer.pid,
              (unsigned long long)(c->srv->idle_usec / USEC_PER_SEC));
    conn_free(c);
    return 0;
}

/* At the cap: one FAILURE BUSY frame, best effort, then the caller closes. */
static void refuse_busy(int fd)
{
    struct smt_buf *b = smt_buf_new(512);

    if (b && smt_msg_put_failure(b, SMT_FAIL_BUSY, "the agent has too many connections open",
                                 "try again in a moment") == 0)
        (void)send(fd, smt_buf_ptr(b), smt_buf_len(b), MSG_NOSIGNAL | MSG_DONTWAIT);
    smt_buf_free(b);
}

static void conn_accept(struct smt_server *srv, int fd)
{
    struct smt_peer peer;
    struct conn *c = NULL;
    int r;

    memset(&peer, 0, sizeof(peer));
    if ((r = smt_peer_from_fd(fd, &peer)) < 0) {
        log_warning("cannot identify the process behind a new connection: %s; closing it",
                    smt_strerror(r));
        goto fail;
    }
    /* SO_PEERCRED, not file modes, decides (PROTOCOL.md §6): another uid gets nothing. */
    if (peer.uid != srv->uid) {
        smt_audit_refused(&peer, srv->uid, "connection from another user");
        goto fail;
    }
    if (srv->n_conns >= srv->max_conns) {
        log_warning("%u connections open; refusing one from pid %ld", srv->n_conns, (long)peer.pid);
        refuse_busy(fd);
        goto fail;
    }
    if (!(c = calloc(1, sizeof(*c))))
        goto nomem;
    c->fd = fd;
    c->peer = peer;
    c->id = ++srv->next_id;
    if (!(c->in = smt_buf_new(IN_MAX)) || !(c->out = smt_buf_new(OUT_MAX)))
        goto nomem;
    if ((r = sd_event_add_io(srv->e, &c->io, fd, EPOLLIN, conn_on_io, c)) < 0 ||
        (r = sd_event_add_time_relative(srv->e, &c->idle, CLOCK_BOOTTIME, srv->idle_usec, 0,
                                        conn_on_idle, c)) < 0) {
        log_warning("cannot watch a new connection: %s", strerror(-r));
        c->fd = -1; /* closed below, once */
        goto fail;
    }
    c->srv = srv;
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->n_conns++;
    log_debug("connection %llu from pid %ld", c->id, (long)peer.pid);
    return;
nomem:
    log_warning("out of memory for a new connection; closing it");
    if (c)
        c->fd = -1;
fail:
    conn_free(c);
    close(fd);
}

static int on_resume_accept(sd_event_source *s, uint64_t usec, void *userdata)
{
    struct smt_server *srv = userdata;

    (void)sd_event_source_set_enabled(srv->listen_src, SD_EVENT_ON);
    return 0;
}

static int on_listen(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
    struct smt_server *srv = userdata;
    int cfd, i;

    /* A bounded batch per wake-up keeps the loop fair to open connections. */
    for (i = 0; i < 16; i++) {
        cfd = accept4(srv->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd >= 0) {
            conn_accept(srv, cfd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
        log_warning("cannot accept a connection: %s; pausing for a second", strerror(errno));
        (void)sd_event_source_set_enabled(srv->listen_src, SD_EVENT_OFF);
        (void)sd_event_source_set_time_relative(srv->resume_src, ACCEPT_PAUSE_USEC);
        (void)sd_event_source_set_enabled(srv->resume_src, SD_EVENT_ONESHOT);
        break;
    }
    return 0;
}

/* ---- deferred replies ------------------------------------------------------------------- */

/* The agent's deferred-reply callback: peer is &conn->peer of a connection that is still open
 * (a closing one calls smt_agent_forget first).  Only queues the frame: freeing a connection here
 * would pull it from under the agent's list of waiters. */
static void on_deferred_reply(struct smt_peer *peer, struct smt_buf *frame, void *userdata)
{
    struct conn *c = (struct conn *)(void *)((char *)peer - offsetof(struct conn, peer));
    struct smt_server *s = userdata;

    if (c->srv != s || !c->waiting) {
        log_error("a deferred reply for a connection that is not waiting; dropped");
        return;
    }
    c->waiting = false;
    /* out holds less than OUT_HIGH (conn_process stops there) and one frame fits OUT_HIGH. */
    if (smt_buf_put(c->out, smt_buf_ptr(frame), smt_buf_len(frame)) < 0) {
        log_warning("connection %llu: no room for a deferred reply; closing it", c->id);
        c->closing = true;
        (void)sd_event_source_set_time_relative(c->idle, 1);
    } else {
        log_debug("connection %llu: deferred reply queued", c->id);
        (void)sd_event_source_set_time_relative(c->idle, s->idle_usec);
    }
    (void)sd_event_source_set_enabled(c->idle, SD_EVENT_ONESHOT);
    /* EPOLLOUT now: conn_on_io writes it, then handles any request queued behind it. */
    if (conn_update(c) < 0)
        (void)sd_event_source_set_time_relative(c->idle, 1);
}

/* ---- the agent's own timer -------------------------------------------------------------- */

void smt_server_rearm(struct smt_server *s)
{
    uint64_t next;

    if (!s || !s->wake_src)
        return;
    next = smt_agent_next_wakeup(s->agent);
    if (next == 0) {
        (void)sd_event_source_set_enabled(s->wake_src, SD_EVENT_OFF);
        return;
    }
    /* A wake-up the last tick did not move would fire back to back: at most one per second. */
    if (s->last_tick && next < s->last_tick + USEC_PER_SEC)
        next = s->last_tick + USEC_PER_SEC;
    (void)sd_event_source_set_time(s->wake_src, next);
    (void)sd_event_source_set_enabled(s->wake_src, SD_EVENT_ONESHOT);
}

static int on_wake(sd_event_source *src, uint64_t usec, void *userdata)
{
    struct smt_server *s = userdata;

    s->last_tick = now_boottime();
    smt_agent_tick(s->agent);
    return 0;
}

/* Post sources run after every other dispatched event: whatever a request or signal changed,
 * the timer follows. */
static int on_post(sd_event_source *src, void *userdata)
{
    smt_server_rearm(userdata);
    return 0;
}

/* ---- the server ------------------------------------------------------------------------- */

int smt_server_new(sd_event *e, struct smt_agent *agent, int listen_fd, const char *unlink_path,
                   struct smt_server **ret)
{
    struct smt_server *s = NULL;
    struct stat st;
    int r;

    if (!e || !agent || listen_fd < 0 || !ret) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if (!(s = calloc(1, sizeof(*s)))) {
        r = SMT_ERR_NOMEM;
        goto out;
    }
    s->fd = -1;
    s->e = sd_event_ref(e);
    s->agent = agent;
    s->uid = geteuid();
    s->max_conns = SMT_SERVER_MAX_CONNECTIONS;
    s->idle_usec = SMT_SERVER_IDLE_USEC;
    if (unlink_path) {
        /* Remember which file we bound, so exit never removes someone else's socket. */
        if (lstat(unlink_path, &st) < 0 || !(s->unlink_path = strdup(unlink_path))) {
            r = errno == ENOMEM ? SMT_ERR_NOMEM : SMT_ERR_SYSTEM;
            goto out;
        }
        s->dev = st.st_dev;
        s->ino = st.st_ino;
    }
    if (sd_event_add_io(e, &s->listen_src, listen_fd, EPOLLIN, on_listen, s) < 0 ||
        sd_event_add_time_relative(e, &s->resume_src, CLOCK_BOOTTIME, ACCEPT_PAUSE_USEC, 0,
                                   on_resume_accept, s) < 0 ||
        sd_event_source_set_enabled(s->resume_src, SD_EVENT_OFF) < 0 ||
        sd_event_add_time_relative(e, &s->wake_src, CLOCK_BOOTTIME, USEC_PER_SEC, 0, on_wake, s) <
            0 ||
        sd_event_source_set_enabled(s->wake_src, SD_EVENT_OFF) < 0 ||
        sd_event_add_post(e, &s->post_src, on_post, s) < 0) {
        r = SMT_ERR_SYSTEM;
        goto out;
    }
    /* Credential processes run in this loop from now on; their replies come deferred. */
    if ((r = smt_agent_set_deferred(agent, e, on_deferred_reply, s)) < 0)
        goto out;
    s->fd = listen_fd;
    smt_server_rearm(s);
    *ret = s;
    s = NULL;
    r = 0;
out:
    if (s) {
        /* Failed: the socket file stays the caller's to remove. */
        free(s->unlink_path);
        s->unlink_path = NULL;
    }
    smt_server_free(s);
    return r;
}

void smt_server_free(struct smt_server *s)
{
    struct stat st;

    if (!s)
        return;
    while (s->conns)
        conn_free(s->conns);
    sd_event_source_disable_unref(s->listen_src);
    sd_event_source_disable_unref(s->resume_src);
    sd_event_source_disable_unref(s->wake_src);
    sd_event_source_disable_unref(s->post_src);
    if (s->fd >= 0)
        close(s->fd);
    if (s->unlink_path) {
        if (lstat(s->unlink_path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == s->dev &&
            st.st_ino == s->ino && unlink(s->unlink_path) == 0)
            log_debug("removed %s", s->unlink_path);
        free(s->unlink_path);
    }
    sd_event_unref(s->e);
    free(s);
}

void smt_server_set_limits(struct smt_server *s, unsigned max_connections, uint64_t idle_usec)
{
    if (!s)
        return;
    if (max_connections)
        s->max_conns = max_connections;
    if (idle_usec)
        s->idle_usec = idle_usec;
}

unsigned smt_server_connections(const struct smt_server *s)
{
    return s ? s->n_conns : 0;
}
