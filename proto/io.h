/* smtoken: blocking framed I/O with a deadline, for the client (the agent reads
 * incrementally in its event loop with smt_frame_parse). */
#ifndef SMT_IO_H
#define SMT_IO_H

#include <stdint.h>

#include "proto/buf.h"
#include "proto/err.h"

/* The client's deadline for connecting and sending: a live agent accepts and reads at once. */
#define SMT_IO_TIMEOUT_MS 10000
/* The client's deadline for a reply.  The agent answers most requests at once, but a GET_TOKEN
 * may wait for a credential_process or the AWS CLI ([agent] credential_timeout, default 30 s). */
#define SMT_IO_REPLY_TIMEOUT_MS 120000

/* Connect to a Unix socket path (SOCK_CLOEXEC) within SMT_IO_TIMEOUT_MS. *ret_fd on success.
 * Failures keep errno (SMT_ERR_SYSTEM: ENOENT, ECONNREFUSED, EACCES, ENAMETOOLONG, ...);
 * a listen backlog that stays full is SMT_ERR_TIMEOUT. */
int smt_io_connect(const char *path, int *ret_fd) SMT_WUR;
int smt_io_connect_timeout(const char *path, int timeout_ms, int *ret_fd) SMT_WUR;
/* Write all of buf's unread bytes within timeout_ms (consuming, so wiping, what was sent).
 * fd must be a socket: send(MSG_NOSIGNAL) turns a closed peer into EPIPE, not SIGPIPE.
 * timeout_ms < 0 waits forever.  EINTR is retried; the deadline runs on CLOCK_BOOTTIME. */
int smt_io_write_all(int fd, struct smt_buf *buf, int timeout_ms) SMT_WUR;
/* Read one frame into in (reset first) within timeout_ms. On success the header has been
 * consumed and *ret_version, *ret_type, *ret_body_len describe the body left in `in` (exactly
 * that: nothing past the frame is read).  An announced length over max_frame is
 * SMT_ERR_TOO_LARGE before any body byte is read; a peer closing early is SMT_ERR_EOF. */
int smt_io_read_frame(int fd, struct smt_buf *in, size_t max_frame, int timeout_ms,
                      uint8_t *ret_version, uint8_t *ret_type, size_t *ret_body_len) SMT_WUR;

#endif
