/* smtoken: blocking framed I/O with deadlines (see io.h).
 *
 * Every wait is a poll() bounded by one deadline per call, measured on CLOCK_BOOTTIME so a
 * suspend counts as time passed; the transfers themselves use MSG_DONTWAIT, so a blocking fd
 * can never hang us past the deadline.  EINTR restarts the wait with the time that is left.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proto/io.h"
#include "proto/msg.h"
#include "proto/proto.h"

static int64_t now_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t deadline_after(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* Wait until fd is ready for events or the deadline (-1: none) passes. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    struct pollfd pfd = {.fd = fd, .events = events};
    int64_t left;
    int n;

    for (;;) {
        left = -1;
        if (deadline >= 0) {
            left = deadline - now_ms();
            if (left <= 0)
                return SMT_ERR_TIMEOUT;
            if (left > 60 * 60 * 1000)
                left = 60 * 60 * 1000;
        }
        n = poll(&pfd, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return SMT_ERR_SYSTEM;
        if (n == 0)
            continue; /* time is re-checked at the top */
        if (pfd.revents & POLLNVAL) {
            errno = EBADF;
            return SMT_ERR_SYSTEM;
        }
        /* Ready, or POLLERR/POLLHUP: the next send/recv reports which. */
        return 0;
    }
}

int smt_io_connect_timeout(const char *path, int timeout_ms, int *ret_fd)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct timeval tv = {0};
    int64_t deadline = deadline_after(timeout_ms);
    size_t len;
    int fd = -1, r, saved;

    if (!path || !ret_fd) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    len = strlen(path);
    if (len == 0 || len >= sizeof(sa.sun_path)) {
        errno = len == 0 ? ENOENT : ENAMETOOLONG;
        r = SMT_ERR_SYSTEM;
        goto out;
    }
    memcpy(sa.sun_path, path, len + 1);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        r = SMT_ERR_SYSTEM;
        goto out;
    }
    /* connect(2) on a Unix socket blocks while the listener's backlog is full; SO_SNDTIMEO is
     * what bounds that wait (a non-blocking connect would fail with EAGAIN at once instead). */
    if (timeout_ms >= 0) {
        tv.tv_sec = timeout_ms / 1000;
        tv.tv_usec = (timeout_ms % 1000) * 1000;
        if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
            r = SMT_ERR_SYSTEM;
            goto out;
        }
    }
    while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (errno == EINTR && (deadline < 0 || now_ms() < deadline))
            continue;
        r = (errno == EAGAIN || errno == EINTR) ? SMT_ERR_TIMEOUT : SMT_ERR_SYSTEM;
        goto out;
    }
    tv.tv_sec = 0;
    tv.tv_usec = 0;
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    *ret_fd = fd;
    fd = -1;
    r = 0;
out:
    if (fd >= 0) {
        saved = errno; /* the caller reports connect's errno, not close's */
        close(fd);
        errno = saved;
    }
    return r;
}

int smt_io_connect(const char *path, int *ret_fd)
{
    return smt_io_connect_timeout(path, SMT_IO_TIMEOUT_MS, ret_fd);
}

int smt_io_write_all(int fd, struct smt_buf *buf, int timeout_ms)
{
    int64_t deadline = deadline_after(timeout_ms);
    ssize_t n;
    int r;

    if (fd < 0 || !buf) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    while (smt_buf_len(buf) > 0) {
        n = send(fd, smt_buf_ptr(buf), smt_buf_len(buf), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            if ((r = smt_buf_consume(buf, (size_t)n)) < 0)
                goto out;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if ((r = wait_fd(fd, POLLOUT, deadline)) < 0)
                goto out;
            continue;
        }
        if (n == 0)
            errno = EPIPE;
        r = SMT_ERR_SYSTEM;
        goto out;
    }
    r = 0;
out:
    return r;
}

static uint32_t peek_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int smt_io_read_frame(int fd, struct smt_buf *in, size_t max_frame, int timeout_ms,
                      uint8_t *ret_version, uint8_t *ret_type, size_t *ret_body_len)
{
    int64_t deadline = deadline_after(timeout_ms);
    uint8_t version, type, *p;
    size_t have, want, body_len;
    ssize_t n;
    int r;

    if (fd < 0 || !in || !ret_version || !ret_type || !ret_body_len) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    smt_buf_reset(in);
    for (;;) {
        if ((r = smt_frame_parse(in, max_frame, &version, &type, &body_len)) < 0)
            goto out;
        if (r == 1)
            break;
        /* Read exactly up to the end of the header, then of the frame: never past it, so a
         * second frame behind this one stays in the socket for the next call. */
        have = smt_buf_len(in);
        if (have < SMT_FRAME_HEADER)
            want = SMT_FRAME_HEADER + 2;
        else
            want = SMT_FRAME_HEADER + (size_t)peek_be32(smt_buf_ptr(in)); /* <= max_frame */
        if ((r = smt_buf_reserve(in, want - have, &p)) < 0)
            goto out;
        n = recv(fd, p, want - have, MSG_DONTWAIT);
        smt_buf_unreserve(in, n > 0 ? want - have - (size_t)n : want - have);
        if (n > 0)
            continue;
        if (n == 0) {
            r = SMT_ERR_EOF;
            goto out;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if ((r = wait_fd(fd, POLLIN, deadline)) < 0)
                goto out;
            continue;
        }
        r = SMT_ERR_SYSTEM;
        goto out;
    }
    *ret_version = version;
    *ret_type = type;
    *ret_body_len = body_len;
    r = 0;
out:
    return r;
}
