/* Unit tests for proto/io.c: framed I/O over socketpairs and a real Unix socket, with deadlines,
 * EOF, the frame cap (checked before the body is read), EINTR, and no SIGPIPE. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto/io.h"
#include "proto/msg.h"
#include "tests/tap.h"

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void on_alarm(int sig)
{
    (void)sig;
}

static void test_roundtrip(void)
{
    int sv[2];
    struct smt_buf *out = smt_buf_new(SMT_FRAME_MAX + 4), *in = smt_buf_new(SMT_FRAME_MAX + 4);
    uint8_t v, t;
    size_t bl;
    char *name = NULL;
    int r;

    tap_ok(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
    tap_ok(smt_msg_put_get_token(out, "main") == 0 && smt_msg_put_list(out) == 0, "two requests");
    tap_ok(smt_io_write_all(sv[0], out, 1000) == 0 && smt_buf_len(out) == 0,
           "write_all sends (and consumes) everything");
    r = smt_io_read_frame(sv[1], in, SMT_REQUEST_MAX, 1000, &v, &t, &bl);
    tap_ok(r == 0 && v == SMT_PROTO_VERSION && t == SMT_MSG_GET_TOKEN && smt_buf_len(in) == bl,
           "read_frame: the first frame, and nothing past it");
    tap_ok(smt_msg_get_name(in, bl, &name) == 0 && strcmp(name, "main") == 0, "... decodes");
    smt_buf_free_cstring(name);
    r = smt_io_read_frame(sv[1], in, SMT_REQUEST_MAX, 1000, &v, &t, &bl);
    tap_ok(r == 0 && t == SMT_MSG_LIST && bl == 0, "read_frame: the second frame");

    /* Nothing more: the deadline. */
    {
        struct timespec t0;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        r = smt_io_read_frame(sv[1], in, SMT_REQUEST_MAX, 200, &v, &t, &bl);
        tap_ok(r == SMT_ERR_TIMEOUT && elapsed_ms(&t0) >= 190,
               "read_frame with nothing to read: timeout after 200 ms (r=%d)", r);
    }

    /* A frame cut short by the peer closing. */
    tap_ok(write(sv[0], "\0\0\0\x08\1\1\0\0", 8) == 8, "half a frame");
    close(sv[0]);
    r = smt_io_read_frame(sv[1], in, SMT_REQUEST_MAX, 1000, &v, &t, &bl);
    tap_ok(r == SMT_ERR_EOF, "peer closes mid-frame: EOF (r=%d)", r);
    r = smt_io_read_frame(sv[1], in, SMT_REQUEST_MAX, 1000, &v, &t, &bl);
    tap_ok(r == SMT_ERR_EOF, "peer closed before a frame: EOF");

    /* Writing to a closed peer: an error, not SIGPIPE (we would not be here). */
    tap_ok(smt_msg_put_reload(out) == 0, "one more request");
    r = smt_io_write_all(sv[1], out, 1000);
    tap_ok(r == SMT_ERR_SYSTEM && errno == EPIPE, "write_all to a closed peer: EPIPE, no SIGPIPE");
    close(sv[1]);
    smt_buf_free(out);
    smt_buf_free(in);
}

static void test_cap(void)
{
    int sv[2];
    struct smt_buf *in = smt_buf_new(SMT_FRAME_MAX + 4);
    uint8_t v, t, rest[16];
    size_t bl;
    int r;

    tap_ok(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
    /* Announces SMT_REQUEST_MAX + 1 bytes, then sends 10 of them. */
    tap_ok(write(sv[0],
                 "\0\1\0\1\1\1"
                 "abcdefgh\0\0",
                 16) == 16,
           "an oversized frame's start");
    r = smt_io_read_frame(sv[1], in, SMT_REQUEST_MAX, 1000, &v, &t, &bl);
    tap_ok(r == SMT_ERR_TOO_LARGE, "announced length over max_frame: too large (r=%d)", r);
    tap_ok(recv(sv[1], rest, sizeof(rest), MSG_DONTWAIT) == 10 && memcmp(rest, "abcdefgh", 8) == 0,
           "... decided after the length: the body was never read");
    tap_ok(write(sv[0], "\0\0\0\1\1", 5) == 5, "a frame of length 1");
    r = smt_io_read_frame(sv[1], in, SMT_REQUEST_MAX, 1000, &v, &t, &bl);
    tap_ok(r == SMT_ERR_FORMAT, "length below 2: format (r=%d)", r);
    close(sv[0]);
    close(sv[1]);
    smt_buf_free(in);
}

/* EINTR: alarms every 30 ms must neither end a wait early nor stretch it. */
static void test_eintr(void)
{
    struct sigaction sa = {0};
    struct itimerval it = {{0, 30000}, {0, 30000}}, off = {{0, 0}, {0, 0}};
    struct smt_buf *in = smt_buf_new(SMT_FRAME_MAX + 4), *out = smt_buf_new(SMT_FRAME_MAX + 4);
    struct timespec t0;
    uint8_t v, t;
    size_t bl;
    int sv[2], r, status;
    pid_t pid;

    sa.sa_handler = on_alarm; /* no SA_RESTART: poll and recv see EINTR */
    sigaction(SIGALRM, &sa, NULL);
    tap_ok(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
    setitimer(ITIMER_REAL, &it, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    r = smt_io_read_frame(sv[1], in, SMT_FRAME_MAX, 300, &v, &t, &bl);
    tap_ok(r == SMT_ERR_TIMEOUT && elapsed_ms(&t0) >= 290 && elapsed_ms(&t0) < 2000,
           "signals during a read: still a 300 ms timeout (r=%d)", r);

    pid = fork();
    if (pid == 0) {
        struct smt_buf *o = smt_buf_new(64);

        setitimer(ITIMER_REAL, &off, NULL);
        usleep(150 * 1000);
        if (smt_msg_put_success(o) < 0 || smt_io_write_all(sv[0], o, 1000) < 0)
            _exit(1);
        _exit(0);
    }
    r = smt_io_read_frame(sv[1], in, SMT_FRAME_MAX, 3000, &v, &t, &bl);
    tap_ok(r == 0 && t == SMT_MSG_SUCCESS, "signals during a read: the late frame arrives (r=%d)",
           r);
    waitpid(pid, &status, 0);

    /* A write bigger than the socket buffers, to a reader that starts late. */
    pid = fork();
    if (pid == 0) {
        char sink[65536];
        ssize_t n;
        size_t total = 0;

        setitimer(ITIMER_REAL, &off, NULL);
        close(sv[0]);
        usleep(200 * 1000);
        while ((n = read(sv[1], sink, sizeof(sink))) > 0)
            total += (size_t)n;
        _exit(total == 4 * 200000 ? 0 : 1);
    }
    close(sv[1]);
    r = 0;
    {
        char *chunk = calloc(1, 200000);
        int k;

        for (k = 0; k < 4 && r == 0; k++) {
            r = smt_buf_put(out, chunk, 200000);
            if (r == 0)
                r = smt_io_write_all(sv[0], out, 3000);
        }
        free(chunk);
    }
    close(sv[0]);
    waitpid(pid, &status, 0);
    tap_ok(r == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "800 KB written through full socket buffers under signals (r=%d)", r);
    setitimer(ITIMER_REAL, &off, NULL);

    /* Nobody reads: the write deadline. */
    tap_ok(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
    {
        char *chunk = calloc(1, 200000);
        int k;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (k = 0, r = 0; k < 20 && r == 0; k++) {
            r = smt_buf_put(out, chunk, 200000);
            if (r == 0)
                r = smt_io_write_all(sv[0], out, 200);
        }
        free(chunk);
    }
    tap_ok(r == SMT_ERR_TIMEOUT, "write_all with no reader: timeout (r=%d)", r);
    close(sv[0]);
    close(sv[1]);
    smt_buf_free(in);
    smt_buf_free(out);
}

static void test_connect(void)
{
    char dir[] = "/tmp/smt-test-io.XXXXXX", path[256], longpath[200];
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int lfd, fd = -1, r;

    errno = 0;
    r = smt_io_connect("/nonexistent/smtoken/agent.sock", &fd);
    tap_ok(r == SMT_ERR_SYSTEM && errno == ENOENT && fd == -1,
           "missing socket: ENOENT, kept in errno");
    memset(longpath, 'x', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    r = smt_io_connect(longpath, &fd);
    tap_ok(r == SMT_ERR_SYSTEM && errno == ENAMETOOLONG,
           "a path longer than sun_path: ENAMETOOLONG");

    if (!mkdtemp(dir)) {
        tap_skip("mkdtemp failed: %s", strerror(errno));
        return;
    }
    snprintf(path, sizeof(path), "%s/agent.sock", dir);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    tap_ok(lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind a test socket");
    r = smt_io_connect(path, &fd);
    tap_ok(r == SMT_ERR_SYSTEM && errno == ECONNREFUSED, "bound but not listening: ECONNREFUSED");
    tap_ok(listen(lfd, 4) == 0, "listen");
    r = smt_io_connect(path, &fd);
    tap_ok(r == 0 && fd >= 0, "connect");
    tap_ok(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC), "... close-on-exec");
    if (fd >= 0)
        close(fd);
    close(lfd);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    test_roundtrip();
    test_cap();
    test_eintr();
    test_connect();
    return tap_done();
}
