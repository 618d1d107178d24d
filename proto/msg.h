/* smtoken: encode and decode of every protocol message (proto/PROTOCOL.md), in one place.
 *
 * Encoders append one whole frame (length, version, type, body) to a buffer.  Decoders take
 * the body of one frame (after smt_frame_parse) and read it like the format: a straight list of
 * gets, then "nothing left over".  Strings returned by decoders are malloc'd copies; secrets
 * among them (token, keys) are freed with the *_free functions below, which wipe.
 */
#ifndef SMT_MSG_H
#define SMT_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"
#include "proto/err.h"
#include "proto/proto.h"

/* Frame layer.  smt_frame_parse looks at buf's unread bytes: if a whole frame is there it
 * sets *ret_version, *ret_type, and *ret_body_len and consumes the 6 header bytes (the body is
 * then the next *ret_body_len unread bytes); returns 1.  Returns 0 if more bytes are needed,
 * SMT_ERR_TOO_LARGE if the announced length exceeds max_frame (checked before any body is
 * read), SMT_ERR_FORMAT if the length is below 2. */
int smt_frame_parse(struct smt_buf *buf, size_t max_frame, uint8_t *ret_version, uint8_t *ret_type,
                    size_t *ret_body_len) SMT_WUR;

/* Begin a frame of type in out (reserves the length), finish it (fills the length in;
 * SMT_ERR_TOO_LARGE past SMT_FRAME_MAX).  Nothing may be consumed from out in between. */
int smt_frame_begin(struct smt_buf *out, uint8_t type, size_t *ret_mark) SMT_WUR;
int smt_frame_end(struct smt_buf *out, size_t mark) SMT_WUR;
/* The same with an explicit version byte (tests; a VERSION reply always uses ours). */
int smt_frame_begin_version(struct smt_buf *out, uint8_t version, uint8_t type,
                            size_t *ret_mark) SMT_WUR;

/* "GET_TOKEN", "FAILURE", ...; "unknown" for other numbers.  For messages, never NULL. */
const char *smt_msg_type_name(uint8_t type);
/* A short English description of an SMT_FAIL_* code; never NULL. */
const char *smt_fail_describe(uint32_t code);

/* Encoders check every field against its cap (proto.h, PROTOCOL.md), requests against
 * SMT_REQUEST_MAX, and on any failure leave out exactly as it was (no half frame).
 *
 * Decoders: body must hold at least body_len unread bytes.  Whatever the outcome, exactly
 * body_len bytes are consumed from body (so a next frame behind it stays in place), unless it
 * holds fewer (then SMT_ERR_TRUNCATED and nothing is consumed).  Failures: SMT_ERR_TRUNCATED,
 * SMT_ERR_TOO_LARGE (a length field over its cap), SMT_ERR_FORMAT (embedded NUL, bad enum value,
 * empty required field), SMT_ERR_TRAILING (bytes after the last field), SMT_ERR_NOMEM.  *ret is
 * written only on success; decoders read no clock, file or environment (fuzzable). */

/* ---- requests ---- */
int smt_msg_put_get_token(struct smt_buf *out, const char *name) SMT_WUR;
int smt_msg_put_list(struct smt_buf *out) SMT_WUR;
int smt_msg_put_reload(struct smt_buf *out) SMT_WUR;
int smt_msg_put_remove_creds(struct smt_buf *out, const char *profile) SMT_WUR;

struct smt_msg_add_creds {
    char *profile;
    char *access_key;    /* secret-ish */
    char *secret_key;    /* secret */
    char *session_token; /* secret; "" = none */
    uint64_t expiration; /* epoch s, 0 = none */
};
int smt_msg_put_add_creds(struct smt_buf *out, const struct smt_msg_add_creds *m) SMT_WUR;
void smt_msg_add_creds_free(struct smt_msg_add_creds *m); /* wipes; frees members, not m */

/* Body decoders (body = the frame's body: its next body_len unread bytes, see above). */
/* GET_TOKEN ("" = default endpoint) and REMOVE_CREDS (the agent rejects ""); free with
 * smt_buf_free_cstring(). */
int smt_msg_get_name(struct smt_buf *body, size_t body_len, char **ret_name) SMT_WUR;
int smt_msg_get_empty(struct smt_buf *body, size_t body_len) SMT_WUR; /* LIST, RELOAD, SUCCESS */
/* profile, access_key and secret_key must be non-empty (SMT_ERR_FORMAT). */
int smt_msg_get_add_creds(struct smt_buf *body, size_t body_len,
                          struct smt_msg_add_creds *ret) SMT_WUR;

/* ---- replies ---- */
int smt_msg_put_success(struct smt_buf *out) SMT_WUR;
int smt_msg_put_failure(struct smt_buf *out, uint32_t code, const char *message,
                        const char *hint) SMT_WUR;
/* VERSION reply: the frame's version byte and body both carry SMT_PROTO_VERSION. */
int smt_msg_put_version(struct smt_buf *out) SMT_WUR;

struct smt_msg_failure {
    uint32_t code;
    char *message;
    char *hint;
};
int smt_msg_get_failure(struct smt_buf *body, size_t body_len, struct smt_msg_failure *ret) SMT_WUR;
void smt_msg_failure_free(struct smt_msg_failure *m);
int smt_msg_get_version(struct smt_buf *body, size_t body_len, uint8_t *ret_version) SMT_WUR;

struct smt_msg_token {
    char *name;          /* the endpoint's real name (default resolved) */
    uint8_t service;     /* 0 sagemaker, 1 bedrock */
    char *token;         /* secret */
    uint64_t expires_at; /* epoch s */
    char *base_url;
};
/* name and token must be non-empty, service 0 or 1 (SMT_ERR_INVALID / SMT_ERR_FORMAT). */
int smt_msg_put_token(struct smt_buf *out, const struct smt_msg_token *m) SMT_WUR;
int smt_msg_get_token(struct smt_buf *body, size_t body_len, struct smt_msg_token *ret) SMT_WUR;
void smt_msg_token_free(struct smt_msg_token *m); /* wipes the token */

struct smt_msg_endpoint_info {
    char *name;
    uint8_t service;
    uint8_t is_default;
    char *region;
    char *profile;             /* "" = default chain */
    char *source;              /* credential source, "" if not resolved yet */
    uint64_t cred_expires_at;  /* 0 = none / unknown */
    uint64_t token_expires_at; /* 0 = no token cached */
    uint64_t last_refresh;     /* epoch s of last mint, 0 = never */
    char *last_error;          /* "" = none */
    char *base_url;
};
struct smt_msg_list {
    uint32_t n;
    struct smt_msg_endpoint_info *e;
};
/* n <= SMT_LIST_MAX; names non-empty; service and is_default 0 or 1; at most one default. */
int smt_msg_put_list_reply(struct smt_buf *out, const struct smt_msg_list *m) SMT_WUR;
int smt_msg_get_list_reply(struct smt_buf *body, size_t body_len, struct smt_msg_list *ret) SMT_WUR;
void smt_msg_list_free(struct smt_msg_list *m);

#endif
