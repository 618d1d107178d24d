/* smtoken: blocking framed I/O with a deadline, for the client (the agent reads
 * incrementally in its event loop with smt_frame_parse). */
#ifndef SMT_IO_H
#define SMT_IO_H

#include <stdint.h>

#include "proto/buf.h"
#include "proto/err.h"

/* Connect to a Unix socket path (SOCK_CLOEXEC). *ret_fd on success. */
int smt_io_connect(const char *path, int *ret_fd) SMT_WUR;
/* Write all of buf's unread bytes within timeout_ms. */
int smt_io_write_all(int fd, struct smt_buf *buf, int timeout_ms) SMT_WUR;
/* Read one frame into in (reset first) within timeout_ms. On success the header has been
 * consumed and *ret_version, *ret_type, *ret_body_len describe the body left in `in`. */
int smt_io_read_frame(int fd, struct smt_buf *in, size_t max_frame, int timeout_ms,
                      uint8_t *ret_version, uint8_t *ret_type, size_t *ret_body_len) SMT_WUR;

#endif
