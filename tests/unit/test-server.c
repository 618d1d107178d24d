/* Unit tests for agent/server.c (and agent/log.c's escaping and choice of target): socket path
 * choice, the socket directory checks, stale and live sockets, socket activation, and the
 * connection handling in a real sd-event loop against a fake agent defined here (so this binary
 * needs no credentials, config or token code).  Everything happens in a private temp directory. */
#include <config.h> /* autoconf's; "config.h" would find agent/config.h */

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
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
#include "proto/msg.h"
#include "proto/proto.h"
#include "tests/tap.h"

/* ---- a fake agent: what server.c calls ------------------------------------------------- */

struct smt_agent {
    int calls;
    uint8_t last_type, last_version;
    uint64_t wakeup;
    int ticks;
    /* deferred mode: TYPE_DEFER requests wait until the test writes efd */
    int efd; /* 0 until smt_agent_set_deferred (the struct is zero-initialised) */
    sd_event_source *efd_src;
    void (*reply)(struct smt_peer *conn, struct smt_buf *frame, void *userdata);
    void *reply_userdata;
    struct smt_peer *waiting[4];
    int n_waiting, forgets;
};

static uid_t peer_uid_shift; /* pretend connections come from uid + this */
static int refused_calls;
static uid_t refused_uid, refused_agent_uid;

int smt_peer_from_fd(int fd, struct smt_peer *ret)
{
    struct ucred uc;
    socklen_t len = sizeof(uc);

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
        return SMT_ERR_SYSTEM;
    memset(ret, 0, sizeof(*ret));
    ret->uid = uc.uid + peer_uid_shift;
    ret->gid = uc.gid;
    ret->pid = uc.pid;
    return 0;
}

void smt_audit_refused(const struct smt_peer *p, uid_t agent_uid, const char *why)
{
    refused_calls++;
    refused_uid = p->uid;
    refused_agent_uid = agent_uid;
}

enum { TYPE_NO_CONSUME = 99, TYPE_FAIL = 98, TYPE_DEFER = 97 };

/* GET_TOKEN: FAILURE whose message is the name (an echo); LIST: SUCCESS; TYPE_NO_CONSUME:
 * SUCCESS without touching the body; TYPE_FAIL: no reply at all. */
int smt_agent_handle(struct smt_agent *a, struct smt_peer *peer, uint8_t version, uint8_t type,
                     struct smt_buf *body, size_t body_len, struct smt_buf *out)
{
    char *name = NULL;
    int r;

    a->calls++;
    a->last_type = type;
    a->last_version = version;
    switch (type) {
    case SMT_MSG_GET_TOKEN:
        if (smt_msg_get_name(body, body_len, &name) < 0)
            return smt_msg_put_failure(out, SMT_FAIL_BAD_REQUEST, "bad", "");
        r = smt_msg_put_failure(out, SMT_FAIL_GENERIC, name, "");
        smt_buf_free_cstring(name);
        return r;
    case TYPE_NO_CONSUME:
        return smt_msg_put_success(out);
    case TYPE_FAIL:
        return SMT_ERR_NOMEM;
    case TYPE_DEFER:
        if ((r = smt_buf_consume(body, body_len)) < 0)
            return r;
        if (!a->reply || a->n_waiting >= 4)
            return smt_msg_put_failure(out, SMT_FAIL_GENERIC, "cannot defer", "");
        a->waiting[a->n_waiting++] = peer;
        return SMT_AGENT_DEFERRED;
    default:
        if ((r = smt_buf_consume(body, body_len)) < 0)
            return r;
        return smt_msg_put_success(out);
    }
}

uint64_t smt_agent_next_wakeup(const struct smt_agent *a)
{
    return a->wakeup;
}

void smt_agent_tick(struct smt_agent *a)
{
    a->ticks++;
    a->wakeup = 0;
}

/* The fake's "process finished" (the test writes efd, a source of the server's loop that the
 * fake adds itself, as the real agent adds its jobs' sources): every waiting request gets
 * FAILURE "deferred". */
static int fake_on_done(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
    struct smt_agent *a = userdata;
    uint64_t n;

    if (read(a->efd, &n, sizeof(n)) != (ssize_t)sizeof(n))
        return 0;
    for (int i = 0; i < a->n_waiting; i++) {
        struct smt_buf *f = smt_buf_new(SMT_FRAME_MAX);

        if (f && smt_msg_put_failure(f, SMT_FAIL_GENERIC, "deferred", "") == 0)
            a->reply(a->waiting[i], f, a->reply_userdata);
        smt_buf_free(f);
    }
    a->n_waiting = 0;
    return 0;
}

int smt_agent_set_deferred(struct smt_agent *a, sd_event *e,
                           void (*reply)(struct smt_peer *conn, struct smt_buf *frame,
                                         void *userdata),
                           void *userdata)
{
    if (a->efd <= 0 && (a->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        return SMT_ERR_SYSTEM;
    if (!a->efd_src && sd_event_add_io(e, &a->efd_src, a->efd, EPOLLIN, fake_on_done, a) < 0)
        return SMT_ERR_SYSTEM;
    a->reply = reply;
    a->reply_userdata = userdata;
    return 0;
}

void smt_agent_forget(struct smt_agent *a, const struct smt_peer *conn)
{
    for (int i = 0; i < a->n_waiting; i++) {
        if (a->waiting[i] == conn) {
            a->waiting[i] = a->waiting[--a->n_waiting];
            a->forgets++;
            i--;
        }
    }
}

/* ---- helpers ----------------------------------------------------------------------------- */

static char tmp[256];

static char *tpath(const char *name)
{
    static char p[4][512];
    static int i;

    i = (i + 1) % 4;
    snprintf(p[i], sizeof(p[i]), "%s/%s", tmp, name);
    return p[i];
}

static int connect_to(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* A bound, then closed (so stale) socket file at path. */
static int make_stale(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    r = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : -1;
    if (fd >= 0)
        close(fd);
    return r;
}

static int send_buf(int fd, struct smt_buf *b)
{
    ssize_t n = send(fd, smt_buf_ptr(b), smt_buf_len(b), MSG_NOSIGNAL);

    return n == (ssize_t)smt_buf_len(b) && smt_buf_consume(b, (size_t)n) == 0 ? 0 : -1;
}

/* Run the loop until a whole reply frame is in `in` (1), the server closed (0), or we give up
 * (-1; a bound on iterations, not a timing assertion). */
static int pump_reply(sd_event *e, int fd, struct smt_buf *in, uint8_t *ret_type, size_t *ret_len)
{
    uint8_t v, chunk[4096], *p;
    ssize_t n;
    int i, r;

    for (i = 0; i < 1000; i++) {
        if ((r = smt_frame_parse(in, SMT_FRAME_MAX, &v, ret_type, ret_len)) != 0)
            return r == 1 ? 1 : -1;
        n = recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT);
        if (n > 0) {
            if (smt_buf_reserve(in, (size_t)n, &p) < 0)
                return -1;
            memcpy(p, chunk, (size_t)n);
            continue;
        }
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return 0;
        (void)sd_event_run(e, 20000);
    }
    return -1;
}

/* The body of a FAILURE reply in `in`: its message (malloc'd) and code. */
static char *failure_message(struct smt_buf *in, size_t len, uint32_t *code)
{
    struct smt_msg_failure f = {0, NULL, NULL};
    char *m;

    if (smt_msg_get_failure(in, len, &f) < 0)
        return NULL;
    *code = f.code;
    m = strdup(f.message);
    smt_msg_failure_free(&f);
    return m;
}

static bool pump_until_conns(sd_event *e, struct smt_server *s, unsigned n)
{
    int i;

    for (i = 0; i < 1000 && smt_server_connections(s) != n; i++)
        (void)sd_event_run(e, 20000);
    return smt_server_connections(s) == n;
}

/* ---- path and directory ------------------------------------------------------------------ */

static void test_path_choose(void)
{
    char *p = NULL, longp[200];

    tap_ok(smt_socket_path_choose("/x/explicit.sock", "/y/env.sock", "/run/user/5", 5, &p) == 0 &&
               tap_streq(p, "/x/explicit.sock", "path"),
           "path: --socket wins");
    free(p);
    p = NULL;
    tap_ok(smt_socket_path_choose(NULL, "/y/env.sock", "/run/user/5", 5, &p) == 0 &&
               tap_streq(p, "/y/env.sock", "path"),
           "path: then $SMTOKEN_SOCK");
    free(p);
    p = NULL;
    tap_ok(smt_socket_path_choose("", "", "/run/user/5", 5, &p) == 0 &&
               tap_streq(p, "/run/user/5/smtoken/agent.sock", "path"),
           "path: then $XDG_RUNTIME_DIR/smtoken/agent.sock (empty values count as unset)");
    free(p);
    p = NULL;
    tap_ok(smt_socket_path_choose(NULL, NULL, NULL, 1234, &p) == 0 &&
               tap_streq(p, "/tmp/smtoken-1234/agent.sock", "path"),
           "path: then /tmp/smtoken-UID/agent.sock");
    free(p);
    p = NULL;
    tap_ok(smt_socket_path_choose(NULL, NULL, "relative/run", 7, &p) == 0 &&
               tap_streq(p, "/tmp/smtoken-7/agent.sock", "path"),
           "path: a relative $XDG_RUNTIME_DIR is ignored (XDG spec)");
    free(p);
    p = NULL;
    memset(longp, 'a', sizeof(longp) - 1);
    longp[0] = '/';
    longp[sizeof(longp) - 1] = '\0';
    tap_ok(smt_socket_path_choose(longp, NULL, NULL, 0, &p) == SMT_ERR_INVALID && !p,
           "path: longer than sun_path is refused, *ret untouched");
    tap_ok(smt_socket_path_choose("/tmp/a\nb.sock", NULL, NULL, 0, &p) == SMT_ERR_INVALID,
           "path: a control character is refused (it would break eval output and logs)");
    setenv("SMTOKEN_SOCK", "/from/env.sock", 1);
    tap_ok(smt_socket_path_default(NULL, &p) == 0 && tap_streq(p, "/from/env.sock", "path"),
           "smt_socket_path_default reads $SMTOKEN_SOCK");
    free(p);
    unsetenv("SMTOKEN_SOCK");
}

static void test_dir_check(void)
{
    struct smt_diag d = {{0}, {0}, {0}};
    struct stat st;
    uid_t me = geteuid();
    int fd;

    tap_ok(smt_socket_dir_check(tpath("new"), me, &d) == 0, "dir: a missing directory is created");
    tap_ok(stat(tpath("new"), &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700,
           "dir: ... with mode 0700");
    tap_ok(smt_socket_dir_check(tpath("new"), me, &d) == 0, "dir: an existing private one is fine");

    mkdir(tpath("open"), 0700);
    chmod(tpath("open"), 0755);
    tap_ok(smt_socket_dir_check(tpath("open"), me, &d) == SMT_ERR_UNSAFE && strstr(d.msg, "0755") &&
               strstr(d.hint, "chmod 700"),
           "dir: mode 0755 is refused, saying the mode and what to run");
    chmod(tpath("open"), 0710);
    tap_ok(smt_socket_dir_check(tpath("open"), me, &d) == SMT_ERR_UNSAFE,
           "dir: group search permission alone is refused too");
    chmod(tpath("open"), 0701);
    tap_ok(smt_socket_dir_check(tpath("open"), me, &d) == SMT_ERR_UNSAFE,
           "dir: so is world search permission");

    tap_ok(smt_socket_dir_check(tpath("new"), me + 1, &d) == SMT_ERR_PERM &&
               strstr(d.msg, "belongs to uid"),
           "dir: a directory owned by another uid is refused");

    tap_ok(symlink(tpath("new"), tpath("link")) == 0 &&
               smt_socket_dir_check(tpath("link"), me, &d) == SMT_ERR_UNSAFE &&
               strstr(d.msg, "symbolic link"),
           "dir: a symlink (even to a good directory) is refused");

    fd = open(tpath("file"), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    tap_ok(smt_socket_dir_check(tpath("file"), me, &d) == SMT_ERR_UNSAFE &&
               strstr(d.msg, "not a directory"),
           "dir: a regular file is refused");

    tap_ok(smt_socket_dir_check(tpath("missing/sub"), me, &d) == SMT_ERR_SYSTEM &&
               strstr(d.msg, "cannot create") && d.hint[0],
           "dir: a missing parent is an error with a hint (no mkdir -p)");
}

static void test_stale_and_listen(void)
{
    struct smt_diag d = {{0}, {0}, {0}};
    char *dir = tpath("s"), *sock;
    struct stat st;
    int fd = -1, fd2 = -1, c;

    mkdir(dir, 0700);
    sock = tpath("s/agent.sock");
    tap_ok(smt_socket_clear_stale(sock, &d) == 0, "stale: nothing there is fine");
    tap_ok(make_stale(sock) == 0 && smt_socket_clear_stale(sock, &d) == 0 && lstat(sock, &st) < 0 &&
               errno == ENOENT,
           "stale: a socket nobody listens on is removed");

    fd = open(sock, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    tap_ok(smt_socket_clear_stale(sock, &d) == SMT_ERR_UNSAFE && strstr(d.msg, "not a socket") &&
               lstat(sock, &st) == 0,
           "stale: a regular file there is refused and left alone");
    tap_ok(smt_socket_listen(sock, geteuid(), &fd, &d) == SMT_ERR_UNSAFE,
           "listen: refuses to replace a non-socket");
    unlink(sock);

    fd = -1;
    tap_ok(smt_socket_listen(sock, geteuid(), &fd, &d) == 0 && fd >= 0, "listen: binds");
    tap_ok(lstat(sock, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600,
           "listen: the socket file has mode 0600");
    tap_ok((fcntl(fd, F_GETFD) & FD_CLOEXEC) && (fcntl(fd, F_GETFL) & O_NONBLOCK),
           "listen: close-on-exec and non-blocking");
    c = connect_to(sock);
    tap_ok(c >= 0, "listen: it accepts connections");
    if (c >= 0)
        close(c);
    tap_ok(smt_socket_clear_stale(sock, &d) == SMT_ERR_BUSY &&
               strstr(d.msg, "an agent is already running at") && strstr(d.msg, sock),
           "stale: a live socket is an agent already running, named in the message");
    tap_ok(smt_socket_listen(sock, geteuid(), &fd2, &d) == SMT_ERR_BUSY && fd2 == -1 &&
               lstat(sock, &st) == 0,
           "listen: a second agent on the same path is refused, the first's socket stays");
    close(fd);
    tap_ok(smt_socket_listen(sock, geteuid(), &fd2, &d) == 0,
           "listen: once the first is gone its socket is stale and replaced");
    if (fd2 >= 0)
        close(fd2);
    unlink(sock);

    chmod(dir, 0755);
    fd = -1;
    tap_ok(smt_socket_listen(sock, geteuid(), &fd, &d) == SMT_ERR_UNSAFE && fd == -1 &&
               lstat(sock, &st) < 0,
           "listen: refuses a socket directory with mode 0755 before creating anything");
    chmod(dir, 0700);
}

static void test_activation(void)
{
    struct smt_diag d = {{0}, {0}, {0}};
    char pid[32];
    int fd = -1, saved = -1, s, r;

    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_PID");
    tap_ok(smt_socket_activated(&fd, &d) == 0 && fd == -1, "activation: none passed -> 0");
    /* fd 3 may be the test harness's: park it and put it back afterwards. */
    if (fcntl(SD_LISTEN_FDS_START, F_GETFD) >= 0 &&
        (saved = fcntl(SD_LISTEN_FDS_START, F_DUPFD_CLOEXEC, 10)) < 0) {
        tap_skip("fd %d is in use and cannot be moved", SD_LISTEN_FDS_START);
        tap_skip("fd %d is in use and cannot be moved", SD_LISTEN_FDS_START);
        return;
    }
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());

    /* A listening AF_UNIX stream socket at fd 3, as systemd passes it. */
    s = -1;
    r = smt_socket_listen(tpath("act.sock"), geteuid(), &s, &d);
    if (r == 0 && dup2(s, SD_LISTEN_FDS_START) == SD_LISTEN_FDS_START) {
        if (s != SD_LISTEN_FDS_START)
            close(s);
        setenv("LISTEN_PID", pid, 1);
        setenv("LISTEN_FDS", "1", 1);
        r = smt_socket_activated(&fd, &d);
        if (r != 1)
            tap_diag("smt_socket_activated: %d %s", r, d.msg);
        tap_ok(r == 1 && fd == SD_LISTEN_FDS_START && (fcntl(fd, F_GETFL) & O_NONBLOCK) &&
                   !getenv("LISTEN_FDS"),
               "activation: one listening Unix socket -> 1, fd 3, non-blocking, env consumed");
        close(SD_LISTEN_FDS_START);
    } else {
        tap_ok(0, "activation: set-up");
    }

    /* A socket that is not listening: refused. */
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s >= 0 && dup2(s, SD_LISTEN_FDS_START) == SD_LISTEN_FDS_START) {
        if (s != SD_LISTEN_FDS_START)
            close(s);
        setenv("LISTEN_PID", pid, 1);
        setenv("LISTEN_FDS", "1", 1);
        fd = -1;
        tap_ok(smt_socket_activated(&fd, &d) < 0 && fd == -1 && strstr(d.msg, "listening"),
               "activation: a socket that is not listening is refused");
        close(SD_LISTEN_FDS_START);
    } else {
        tap_ok(0, "activation: set-up 2");
    }
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_PID");
    if (saved >= 0) {
        if (dup2(saved, SD_LISTEN_FDS_START) < 0)
            tap_diag("cannot restore fd %d: %s", SD_LISTEN_FDS_START, strerror(errno));
        close(saved);
    }
}

/* ---- the server -------------------------------------------------------------------------- */

static void test_server(void)
{
    struct smt_diag d = {{0}, {0}, {0}};
    struct smt_agent agent = {0};
    struct smt_server *srv = NULL;
    struct smt_buf *out = smt_buf_new(SMT_FRAME_MAX), *in = smt_buf_new(4 * SMT_FRAME_MAX);
    sd_event *e = NULL;
    char *sock = tpath("srv.sock"), *m;
    uint8_t type, hdr[6];
    uint32_t code;
    size_t len, i;
    struct stat st;
    int lfd = -1, c, c2, c3, r;

    if (sd_event_new(&e) < 0 || smt_socket_listen(sock, geteuid(), &lfd, &d) < 0) {
        tap_ok(0, "server: set-up (%s)", d.msg);
        goto out;
    }
    tap_ok(smt_server_new(e, &agent, lfd, sock, &srv) == 0, "server: new");

    /* One request, one reply. */
    c = connect_to(sock);
    tap_ok(smt_msg_put_get_token(out, "main") == 0 && send_buf(c, out) == 0, "server: send");
    r = pump_reply(e, c, in, &type, &len);
    m = r == 1 && type == SMT_MSG_FAILURE ? failure_message(in, len, &code) : NULL;
    tap_ok(m && strcmp(m, "main") == 0 && agent.last_type == SMT_MSG_GET_TOKEN &&
               agent.last_version == SMT_PROTO_VERSION,
           "server: a request reaches the agent, its reply comes back");
    free(m);
    tap_ok(smt_server_connections(srv) == 1, "server: one connection open");

    /* Two requests in one write, answered in order on the same connection. */
    tap_ok(smt_msg_put_get_token(out, "first") == 0 && smt_msg_put_get_token(out, "second") == 0 &&
               send_buf(c, out) == 0,
           "server: two pipelined requests");
    r = pump_reply(e, c, in, &type, &len);
    m = r == 1 ? failure_message(in, len, &code) : NULL;
    tap_ok(m && strcmp(m, "first") == 0, "server: ... first reply first");
    free(m);
    r = pump_reply(e, c, in, &type, &len);
    m = r == 1 ? failure_message(in, len, &code) : NULL;
    tap_ok(m && strcmp(m, "second") == 0, "server: ... then the second");
    free(m);

    /* A request dribbled in one byte at a time. */
    if (smt_msg_put_get_token(out, "slow") == 0) {
        for (i = 0; smt_buf_len(out) > 0 && i < 100; i++) {
            if (send(c, smt_buf_ptr(out), 1, MSG_NOSIGNAL) != 1 || smt_buf_consume(out, 1) < 0)
                break;
            (void)sd_event_run(e, 0);
        }
    }
    r = pump_reply(e, c, in, &type, &len);
    m = r == 1 ? failure_message(in, len, &code) : NULL;
    tap_ok(m && strcmp(m, "slow") == 0, "server: a request split into 1-byte writes");
    free(m);

    /* A handler that leaves its body unread: the next frame is still found. */
    {
        size_t mark;

        r = smt_frame_begin(out, TYPE_NO_CONSUME, &mark);
        r = r < 0 ? r : smt_buf_put_cstring(out, "unread body");
        r = r < 0 ? r : smt_frame_end(out, mark);
        r = r < 0 ? r : smt_msg_put_get_token(out, "after");
    }
    tap_ok(r == 0 && send_buf(c, out) == 0, "server: a frame the handler does not consume");
    r = pump_reply(e, c, in, &type, &len);
    tap_ok(r == 1 && type == SMT_MSG_SUCCESS, "server: ... is answered");
    r = pump_reply(e, c, in, &type, &len);
    m = r == 1 ? failure_message(in, len, &code) : NULL;
    tap_ok(m && strcmp(m, "after") == 0, "server: ... and the frame behind it parses");
    free(m);

    /* EOF right after a request: answered, then closed. */
    tap_ok(smt_msg_put_get_token(out, "bye") == 0 && send_buf(c, out) == 0 &&
               shutdown(c, SHUT_WR) == 0,
           "server: request then shutdown(SHUT_WR)");
    r = pump_reply(e, c, in, &type, &len);
    m = r == 1 ? failure_message(in, len, &code) : NULL;
    tap_ok(m && strcmp(m, "bye") == 0, "server: ... still answered");
    free(m);
    tap_ok(pump_reply(e, c, in, &type, &len) == 0 && pump_until_conns(e, srv, 0),
           "server: ... then the connection is closed");
    close(c);
    smt_buf_reset(in);

    /* A frame over the request cap: FAILURE, then close, the handler never called. */
    agent.calls = 0;
    c = connect_to(sock);
    hdr[0] = (uint8_t)((SMT_REQUEST_MAX + 1) >> 24);
    hdr[1] = (uint8_t)((SMT_REQUEST_MAX + 1) >> 16);
    hdr[2] = (uint8_t)((SMT_REQUEST_MAX + 1) >> 8);
    hdr[3] = (uint8_t)(SMT_REQUEST_MAX + 1);
    hdr[4] = SMT_PROTO_VERSION;
    hdr[5] = SMT_MSG_GET_TOKEN;
    tap_ok(send(c, hdr, sizeof(hdr), MSG_NOSIGNAL) == (ssize_t)sizeof(hdr),
           "server: announce a frame one byte over SMT_REQUEST_MAX");
    r = pump_reply(e, c, in, &type, &len);
    m = r == 1 && type == SMT_MSG_FAILURE ? failure_message(in, len, &code) : NULL;
    tap_ok(m && code == SMT_FAIL_BAD_REQUEST && strstr(m, "too large"),
           "server: ... FAILURE BAD_REQUEST 'request too large'");
    free(m);
    tap_ok(pump_reply(e, c, in, &type, &len) == 0 && agent.calls == 0,
           "server: ... then closed, and the agent never saw it");
    close(c);
    smt_buf_reset(in);

    /* A length below 2. */
    c = connect_to(sock);
    memcpy(hdr, "\0\0\0\1\1\1", 6);
    (void)send(c, hdr, sizeof(hdr), MSG_NOSIGNAL);
    r = pump_reply(e, c, in, &type, &len);
    tap_ok(r == 1 && type == SMT_MSG_FAILURE, "server: a length below 2 gets FAILURE");
    smt_buf_reset(in);
    tap_ok(pump_reply(e, c, in, &type, &len) == 0, "server: ... then the connection closes");
    close(c);
    smt_buf_reset(in);

    /* A handler that cannot build a reply: the connection is dropped, the server lives on. */
    c = connect_to(sock);
    {
        size_t mark;

        r = smt_frame_begin(out, TYPE_FAIL, &mark);
        r = r < 0 ? r : smt_frame_end(out, mark);
    }
    tap_ok(r == 0 && send_buf(c, out) == 0 && pump_reply(e, c, in, &type, &len) == 0,
           "server: a handler failure drops that connection");
    close(c);
    smt_buf_reset(in);

    /* Another uid: closed without a word, and reported with both uids. */
    peer_uid_shift = 4242;
    refused_calls = 0;
    c = connect_to(sock);
    (void)(smt_msg_put_get_token(out, "main") == 0 && send_buf(c, out) == 0);
    r = pump_reply(e, c, in, &type, &len);
    tap_ok(r == 0 && refused_calls == 1 && refused_uid == geteuid() + 4242 &&
               refused_agent_uid == geteuid(),
           "server: a peer with another uid is refused (closed) and reported with both uids");
    peer_uid_shift = 0;
    close(c);
    smt_buf_reset(in);
    tap_ok(pump_until_conns(e, srv, 0), "server: no connection left open");

    /* A deferred reply: the connection waits (no idle timeout, nothing else read from it),
     * another connection is served meanwhile, the reply reaches the connection that asked, then
     * the request queued behind it is handled. */
    smt_server_set_limits(srv, 0, 50000);
    c = connect_to(sock);
    {
        size_t mark;

        r = smt_frame_begin(out, TYPE_DEFER, &mark);
        r = r < 0 ? r : smt_frame_end(out, mark);
        r = r < 0 ? r : smt_msg_put_get_token(out, "behind");
    }
    agent.calls = 0;
    tap_ok(r == 0 && send_buf(c, out) == 0, "deferred: a deferred request and one behind it");
    for (i = 0; i < 1000 && agent.n_waiting == 0; i++)
        (void)sd_event_run(e, 20000);
    tap_ok(agent.n_waiting == 1, "deferred: the agent holds the request");
    /* Well past the 50 ms idle timeout: the waiting connection must stay. */
    for (i = 0; i < 10; i++)
        (void)sd_event_run(e, 20000);
    tap_ok(smt_server_connections(srv) == 1 && agent.calls == 1,
           "deferred: the waiting connection outlives the idle timeout, the request behind it "
           "is not handled yet");
    c2 = connect_to(sock);
    tap_ok(smt_msg_put_get_token(out, "other") == 0 && send_buf(c2, out) == 0,
           "deferred: another connection asks meanwhile");
    r = pump_reply(e, c2, in, &type, &len);
    m = r == 1 ? failure_message(in, len, &code) : NULL;
    tap_ok(m && strcmp(m, "other") == 0 && agent.n_waiting == 1,
           "deferred: ... and is answered while the first still waits");
    free(m);
    close(c2);
    smt_buf_reset(in);
    {
        uint64_t one = 1;

        tap_ok(write(agent.efd, &one, sizeof(one)) == (ssize_t)sizeof(one),
               "deferred: the agent's process 'finishes' (its own source in the loop)");
    }
    r = pump_reply(e, c, in, &type, &len);
    m = r == 1 ? failure_message(in, len, &code) : NULL;
    tap_ok(m && strcmp(m, "deferred") == 0,
           "deferred: the reply reaches the connection that asked");
    free(m);
    r = pump_reply(e, c, in, &type, &len);
    m = r == 1 ? failure_message(in, len, &code) : NULL;
    tap_ok(m && strcmp(m, "behind") == 0, "deferred: ... then the request behind it is answered");
    free(m);
    close(c);
    smt_buf_reset(in);
    tap_ok(pump_until_conns(e, srv, 0), "deferred: both connections closed");

    /* A waiting connection closed by its peer: the agent is told (smt_agent_forget). */
    agent.forgets = 0;
    c = connect_to(sock);
    {
        size_t mark;

        r = smt_frame_begin(out, TYPE_DEFER, &mark);
        r = r < 0 ? r : smt_frame_end(out, mark);
    }
    tap_ok(r == 0 && send_buf(c, out) == 0, "deferred: another deferred request");
    for (i = 0; i < 1000 && agent.n_waiting == 0; i++)
        (void)sd_event_run(e, 20000);
    close(c);
    tap_ok(pump_until_conns(e, srv, 0) && agent.forgets == 1 && agent.n_waiting == 0,
           "deferred: its peer closes: the connection goes and the agent forgets it");
    smt_server_set_limits(srv, 0, SMT_SERVER_IDLE_USEC);

    /* The connection cap. */
    smt_server_set_limits(srv, 2, 0);
    c = connect_to(sock);
    c2 = connect_to(sock);
    tap_ok(pump_until_conns(e, srv, 2), "cap: two connections open");
    c3 = connect_to(sock);
    r = pump_reply(e, c3, in, &type, &len);
    m = r == 1 && type == SMT_MSG_FAILURE ? failure_message(in, len, &code) : NULL;
    tap_ok(m && code == SMT_FAIL_BUSY, "cap: the third gets FAILURE BUSY");
    free(m);
    tap_ok(pump_reply(e, c3, in, &type, &len) == 0 && smt_server_connections(srv) == 2,
           "cap: ... and is closed; the two stay");
    close(c3);
    smt_buf_reset(in);

    /* Idle connections are closed (by the timer, whenever it fires). */
    smt_server_set_limits(srv, SMT_SERVER_MAX_CONNECTIONS, 50000);
    (void)sd_event_run(e, 0);
    c3 = connect_to(sock);
    tap_ok(pump_reply(e, c3, in, &type, &len) == 0, "idle: a silent connection is closed");
    close(c3);
    close(c);
    close(c2);
    tap_ok(pump_until_conns(e, srv, 0), "idle: ... all of them");
    smt_server_set_limits(srv, SMT_SERVER_MAX_CONNECTIONS, SMT_SERVER_IDLE_USEC);

    /* The agent's wake-up timer. */
    {
        struct timespec ts;

        clock_gettime(CLOCK_BOOTTIME, &ts);
        agent.ticks = 0;
        agent.wakeup = (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000 + 1000;
        smt_server_rearm(srv);
        for (i = 0; i < 1000 && agent.ticks == 0; i++)
            (void)sd_event_run(e, 20000);
        tap_ok(agent.ticks == 1, "wake-up: smt_agent_tick runs when next_wakeup comes");
        for (i = 0; i < 5; i++)
            (void)sd_event_run(e, 0);
        tap_ok(agent.ticks == 1, "wake-up: next_wakeup 0 disarms the timer");
    }

    /* ... and one still waiting when the server is freed is forgotten too . */
    c = connect_to(sock);
    {
        size_t mark;

        r = smt_frame_begin(out, TYPE_DEFER, &mark);
        r = r < 0 ? r : smt_frame_end(out, mark);
    }
    (void)(r == 0 && send_buf(c, out) == 0);
    for (i = 0; i < 1000 && agent.n_waiting == 0; i++)
        (void)sd_event_run(e, 20000);
    tap_ok(agent.n_waiting == 1, "deferred: a connection left waiting");
    smt_server_free(srv);
    srv = NULL;
    tap_ok(lstat(sock, &st) < 0 && errno == ENOENT, "free: removes the socket it bound");
    tap_ok(agent.n_waiting == 0 && agent.forgets == 2,
           "free: the connection still waiting was forgotten");
    close(c);

    /* A socket file that is no longer ours is left alone. */
    lfd = -1;
    if (smt_socket_listen(sock, geteuid(), &lfd, &d) == 0 &&
        smt_server_new(e, &agent, lfd, sock, &srv) == 0) {
        unlink(sock);
        (void)make_stale(sock);
        smt_server_free(srv);
        srv = NULL;
        tap_ok(lstat(sock, &st) == 0, "free: leaves a socket file some other process made");
        unlink(sock);
    } else {
        tap_ok(0, "free: set-up");
    }
out:
    smt_server_free(srv);
    sd_event_source_disable_unref(agent.efd_src);
    if (agent.efd > 0)
        close(agent.efd);
    sd_event_unref(e);
    smt_buf_free(in);
    smt_buf_free(out);
}

static void test_escape(void)
{
    char b[16];

    tap_ok(tap_streq(smt_log_escape("plain", b, sizeof(b)), "plain", "escape"),
           "escape: printable text is unchanged");
    tap_ok(tap_streq(smt_log_escape("a\nb\x7f", b, sizeof(b)), "a\\x0ab\\x7f", "escape"),
           "escape: control bytes become \\xNN");
    tap_ok(tap_streq(smt_log_escape("0123456789abcdefghij", b, sizeof(b)), "0123456789ab...",
                     "escape"),
           "escape: cut to size-1 with '...'");
    tap_ok(tap_streq(smt_log_escape("0123456789\nxyz", b, sizeof(b)), "0123456789...", "escape"),
           "escape: an escape sequence is never cut in half");
    tap_ok(tap_streq(smt_log_escape(NULL, b, sizeof(b)), "(null)", "escape"), "escape: NULL");
}

/* Where the log goes (log.h): the daemon without --debug has only /dev/null as stderr. */
static void test_log_target(void)
{
    struct stat st;
    bool running = stat(SMT_LOG_JOURNAL_SOCKET, &st) == 0 && S_ISSOCK(st.st_mode);

    tap_ok(smt_log_choose(true, false, false, true) == SMT_LOG_TO_JOURNAL,
           "log: daemon, journald running: journal");
    tap_ok(smt_log_choose(true, false, true, true) == SMT_LOG_TO_JOURNAL,
           "log: daemon, journald running, stderr was the journal: journal");
    tap_ok(smt_log_choose(true, false, false, false) == SMT_LOG_TO_SYSLOG,
           "log: daemon, no journald: syslog");
    tap_ok(smt_log_choose(true, false, true, false) == SMT_LOG_TO_SYSLOG,
           "log: daemon, no journald, a stale JOURNAL_STREAM match: syslog");
    tap_ok(smt_log_choose(true, true, false, true) == SMT_LOG_TO_STDERR,
           "log: daemon --debug keeps stderr, even with journald running");
    tap_ok(smt_log_choose(true, true, true, false) == SMT_LOG_TO_JOURNAL,
           "log: daemon --debug whose stderr is the journal: journal");
    tap_ok(smt_log_choose(false, false, false, true) == SMT_LOG_TO_STDERR,
           "log: foreground: stderr, journald or not");
    tap_ok(smt_log_choose(false, false, false, false) == SMT_LOG_TO_STDERR,
           "log: foreground, no journald: stderr (never syslog)");
    tap_ok(smt_log_choose(false, false, true, false) == SMT_LOG_TO_JOURNAL,
           "log: foreground whose stderr is the journal (systemd): journal");
    tap_ok(smt_log_choose(false, true, true, true) == SMT_LOG_TO_JOURNAL,
           "log: foreground --debug whose stderr is the journal: journal");
    tap_ok(smt_log_journal_running() == running, "log: journald detection matches %s (%s)",
           SMT_LOG_JOURNAL_SOCKET, running ? "a socket here" : "absent here");
    unsetenv("JOURNAL_STREAM");
    tap_ok(!smt_log_journal_wanted(), "log: no JOURNAL_STREAM: stderr is not the journal");
    setenv("JOURNAL_STREAM", "1:2", 1);
    tap_ok(!smt_log_journal_wanted(), "log: a JOURNAL_STREAM naming another file: not the journal");
    if (fstat(STDERR_FILENO, &st) == 0) {
        char v[64];

        snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino);
        setenv("JOURNAL_STREAM", v, 1);
        tap_ok(smt_log_journal_wanted(), "log: a JOURNAL_STREAM naming our stderr: the journal");
    } else {
        tap_skip("stderr is closed: JOURNAL_STREAM match not checked");
    }
    unsetenv("JOURNAL_STREAM");
}

int main(void)
{
    char cmd[2 * sizeof(tmp) + 64];
    int r;

    smt_log_setup(SMT_LOG_TO_STDERR, false);
    snprintf(tmp, sizeof(tmp), "/tmp/test-server.XXXXXX");
    if (!mkdtemp(tmp)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    test_path_choose();
    test_dir_check();
    test_stale_and_listen();
    test_activation();
    test_server();
    test_escape();
    test_log_target();
    snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s' && rm -rf '%s'", tmp, tmp);
    r = system(cmd);
    (void)r;
    return tap_done();
}
