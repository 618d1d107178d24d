/* smtoken: bounded, wiping byte buffer for every byte that crosses the wire (STYLE.md 5).
 * Modelled on OpenSSH's sshbuf: a read offset, a write end, a hard per-instance maximum.
 * Freed and reset buffers are wiped with explicit_bzero (proto/ links libc only).
 */
#ifndef SMT_BUF_H
#define SMT_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "proto/err.h"

struct smt_buf;

struct smt_buf *smt_buf_new(size_t max_size); /* NULL on ENOMEM */
void smt_buf_free(struct smt_buf *b);          /* wipes; NULL ok */
void smt_buf_reset(struct smt_buf *b);         /* wipes, empties */

size_t smt_buf_len(const struct smt_buf *b);  /* unread bytes */
const uint8_t *smt_buf_ptr(const struct smt_buf *b); /* first unread byte */
size_t smt_buf_max(const struct smt_buf *b);

/* Reserve len bytes at the end (for read(2) into the buffer): *ret points at them. Fails with
 * SMT_ERR_TOO_LARGE past the maximum. smt_buf_unreserve() gives back what was not filled. */
int smt_buf_reserve(struct smt_buf *b, size_t len, uint8_t **ret) SMT_WUR;
void smt_buf_unreserve(struct smt_buf *b, size_t len);
int smt_buf_consume(struct smt_buf *b, size_t len) SMT_WUR; /* skip unread bytes */

int smt_buf_put(struct smt_buf *b, const void *p, size_t len) SMT_WUR;
int smt_buf_put_u8(struct smt_buf *b, uint8_t v) SMT_WUR;
int smt_buf_put_u32(struct smt_buf *b, uint32_t v) SMT_WUR;
int smt_buf_put_u64(struct smt_buf *b, uint64_t v) SMT_WUR;
/* u32 length + bytes */
int smt_buf_put_string(struct smt_buf *b, const void *p, size_t len) SMT_WUR;
int smt_buf_put_cstring(struct smt_buf *b, const char *s) SMT_WUR; /* NULL = "" */

int smt_buf_get_u8(struct smt_buf *b, uint8_t *ret) SMT_WUR;
int smt_buf_get_u32(struct smt_buf *b, uint32_t *ret) SMT_WUR;
int smt_buf_get_u64(struct smt_buf *b, uint64_t *ret) SMT_WUR;
/* A string field into a new NUL-terminated malloc'd copy; rejects embedded NULs and
 * lengths over max_len (SMT_ERR_TOO_LARGE), truncation (SMT_ERR_TRUNCATED). */
int smt_buf_get_cstring(struct smt_buf *b, size_t max_len, char **ret, size_t *ret_len) SMT_WUR;
/* A string field as a pointer into the buffer (valid until the buffer changes). */
int smt_buf_peek_string(struct smt_buf *b, size_t max_len, const uint8_t **ret,
                        size_t *ret_len) SMT_WUR;

#endif
