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

/* max_size bounds the bytes held (unread + written), not the bytes ever passed through. */
struct smt_buf *smt_buf_new(size_t max_size); /* NULL on ENOMEM */
/* A new buffer holding a copy of len bytes (max_size = len), for decoding a byte string. */
int smt_buf_new_from(const void *p, size_t len, struct smt_buf **ret) SMT_WUR;
void smt_buf_free(struct smt_buf *b);  /* wipes; NULL ok */
void smt_buf_reset(struct smt_buf *b); /* wipes, empties */

size_t smt_buf_len(const struct smt_buf *b);         /* unread bytes */
const uint8_t *smt_buf_ptr(const struct smt_buf *b); /* first unread byte */
size_t smt_buf_max(const struct smt_buf *b);

/* Reserve len bytes at the end (for read(2) into the buffer): *ret points at them. Fails with
 * SMT_ERR_TOO_LARGE past the maximum. smt_buf_unreserve() gives back (and wipes) the last len
 * written bytes: what a read did not fill, or a half-written message.  Reserving may move the
 * data: pointers from smt_buf_ptr()/smt_buf_peek_string() are valid until the buffer changes. */
int smt_buf_reserve(struct smt_buf *b, size_t len, uint8_t **ret) SMT_WUR;
void smt_buf_unreserve(struct smt_buf *b, size_t len);
/* Skip len unread bytes (SMT_ERR_TRUNCATED if fewer are there); the skipped bytes are wiped. */
int smt_buf_consume(struct smt_buf *b, size_t len) SMT_WUR;

int smt_buf_put(struct smt_buf *b, const void *p, size_t len) SMT_WUR;
int smt_buf_put_u8(struct smt_buf *b, uint8_t v) SMT_WUR;
int smt_buf_put_u32(struct smt_buf *b, uint32_t v) SMT_WUR;
int smt_buf_put_u64(struct smt_buf *b, uint64_t v) SMT_WUR;
/* Overwrite 4 already-written bytes at offset pos from the first unread byte (a frame length). */
int smt_buf_poke_u32(struct smt_buf *b, size_t pos, uint32_t v) SMT_WUR;
/* u32 length + bytes (written in one step: a failure leaves nothing behind) */
int smt_buf_put_string(struct smt_buf *b, const void *p, size_t len) SMT_WUR;
int smt_buf_put_cstring(struct smt_buf *b, const char *s) SMT_WUR; /* NULL = "" */

/* Getters consume what they return; on failure nothing is consumed and *ret is untouched. */
int smt_buf_get_u8(struct smt_buf *b, uint8_t *ret) SMT_WUR;
int smt_buf_get_u32(struct smt_buf *b, uint32_t *ret) SMT_WUR;
int smt_buf_get_u64(struct smt_buf *b, uint64_t *ret) SMT_WUR;
/* A string field into a new NUL-terminated malloc'd copy; rejects lengths over max_len
 * (SMT_ERR_TOO_LARGE, decided from the length field alone, before the bytes are looked at),
 * truncation (SMT_ERR_TRUNCATED) and embedded NULs (SMT_ERR_FORMAT).  ret_len may be NULL. */
int smt_buf_get_cstring(struct smt_buf *b, size_t max_len, char **ret, size_t *ret_len) SMT_WUR;
/* Wipe (strlen bytes) and free a string get_cstring returned; NULL ok. */
void smt_buf_free_cstring(char *s);
/* A string field as a pointer into the buffer (valid until the buffer changes), like sshbuf's
 * peek: it does NOT consume; smt_buf_consume(b, 4 + *ret_len) skips the field.  Embedded NULs
 * are allowed here (the bytes are not a C string). */
int smt_buf_peek_string(struct smt_buf *b, size_t max_len, const uint8_t **ret,
                        size_t *ret_len) SMT_WUR;

#endif
