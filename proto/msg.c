/* smtoken: every protocol message, encoded and decoded in one place (proto/PROTOCOL.md).
 *
 * Encoders: frame_begin, one put per field in wire order, frame_close (which fills the length
 * in, or rolls the whole frame back on any failure).  Decoders: body_open (take exactly body_len
 * bytes into a private buffer), one get per field in wire order, body_close ("nothing left
 * over"), then the few value checks the format makes.  Reading from a private copy means no
 * decoder can run into the next frame, whatever the length fields say.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "proto/msg.h"

/* ---- frames ---- */

int smt_frame_parse(struct smt_buf *buf, size_t max_frame, uint8_t *ret_version, uint8_t *ret_type,
                    size_t *ret_body_len)
{
    const uint8_t *p;
    uint32_t len;
    uint8_t version, type;
    int r;

    if (!buf || !ret_version || !ret_type || !ret_body_len) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if (smt_buf_len(buf) < SMT_FRAME_HEADER) {
        r = 0;
        goto out;
    }
    p = smt_buf_ptr(buf);
    len = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    /* Decided from the length field alone, before any of the body is waited for. */
    if (len > max_frame || len > SMT_FRAME_MAX) {
        r = SMT_ERR_TOO_LARGE;
        goto out;
    }
    if (len < 2) {
        r = SMT_ERR_FORMAT;
        goto out;
    }
    if (smt_buf_len(buf) - SMT_FRAME_HEADER < len) {
        r = 0;
        goto out;
    }
    version = p[4];
    type = p[5];
    if ((r = smt_buf_consume(buf, SMT_FRAME_HEADER + 2)) < 0)
        goto out;
    *ret_version = version;
    *ret_type = type;
    *ret_body_len = len - 2;
    r = 1;
out:
    return r;
}

int smt_frame_begin_version(struct smt_buf *out, uint8_t version, uint8_t type, size_t *ret_mark)
{
    const uint8_t head[SMT_FRAME_HEADER + 2] = {0, 0, 0, 0, version, type};
    size_t mark;
    int r;

    if (!out || !ret_mark) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    mark = smt_buf_len(out);
    if ((r = smt_buf_put(out, head, sizeof(head))) < 0)
        goto out;
    *ret_mark = mark;
    r = 0;
out:
    return r;
}

int smt_frame_begin(struct smt_buf *out, uint8_t type, size_t *ret_mark)
{
    return smt_frame_begin_version(out, SMT_PROTO_VERSION, type, ret_mark);
}

int smt_frame_end(struct smt_buf *out, size_t mark)
{
    size_t held = smt_buf_len(out);
    size_t len;

    if (!out || mark > held || held - mark < SMT_FRAME_HEADER + 2)
        return SMT_ERR_INVALID;
    len = held - mark - SMT_FRAME_HEADER;
    if (len > SMT_FRAME_MAX)
        return SMT_ERR_TOO_LARGE;
    return smt_buf_poke_u32(out, mark, (uint32_t)len);
}

/* Finish the frame begun at mark if r (the body's status) is 0 and the frame fits cap;
 * otherwise remove everything written since mark.  Returns the final status. */
static int frame_close(struct smt_buf *out, size_t mark, size_t cap, int r)
{
    size_t held = smt_buf_len(out);

    if (r == 0 && held - mark - SMT_FRAME_HEADER > cap)
        r = SMT_ERR_TOO_LARGE;
    if (r == 0)
        r = smt_frame_end(out, mark);
    if (r < 0 && held > mark)
        smt_buf_unreserve(out, held - mark);
    return r;
}

const char *smt_msg_type_name(uint8_t type)
{
    switch (type) {
    case SMT_MSG_GET_TOKEN:
        return "GET_TOKEN";
    case SMT_MSG_LIST:
        return "LIST";
    case SMT_MSG_ADD_CREDS:
        return "ADD_CREDS";
    case SMT_MSG_REMOVE_CREDS:
        return "REMOVE_CREDS";
    case SMT_MSG_RELOAD:
        return "RELOAD";
    case SMT_MSG_SUCCESS:
        return "SUCCESS";
    case SMT_MSG_FAILURE:
        return "FAILURE";
    case SMT_MSG_VERSION:
        return "VERSION";
    case SMT_MSG_TOKEN:
        return "TOKEN";
    case SMT_MSG_LIST_REPLY:
        return "LIST_REPLY";
    }
    return "unknown";
}

const char *smt_fail_describe(uint32_t code)
{
    switch (code) {
    case SMT_FAIL_GENERIC:
        return "the agent failed";
    case SMT_FAIL_BAD_REQUEST:
        return "the agent did not understand the request";
    case SMT_FAIL_UNKNOWN_ENDPOINT:
        return "no such endpoint";
    case SMT_FAIL_CREDENTIALS:
        return "credentials missing or unusable";
    case SMT_FAIL_EXPIRED:
        return "credentials expired";
    case SMT_FAIL_CONFIG:
        return "the agent's configuration is invalid";
    case SMT_FAIL_UNSUPPORTED:
        return "the agent does not support this request";
    case SMT_FAIL_BUSY:
        return "the agent is busy";
    }
    return "the agent refused the request";
}

/* ---- field helpers ---- */

/* A string field from a C string (NULL = ""), refused past cap. */
static int put_str(struct smt_buf *out, const char *s, size_t cap)
{
    size_t len = s ? strlen(s) : 0;

    if (len > cap)
        return SMT_ERR_TOO_LARGE;
    return smt_buf_put_string(out, s ? s : "", len);
}

static int nonempty(const char *s)
{
    return s && *s;
}

/* Take exactly body_len bytes of body into a private buffer; see msg.h for the contract. */
static int body_open(struct smt_buf *body, size_t body_len, struct smt_buf **ret)
{
    struct smt_buf *b = NULL;
    int r;

    if (!body || !ret) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if (smt_buf_len(body) < body_len) {
        r = SMT_ERR_TRUNCATED;
        goto out;
    }
    r = smt_buf_new_from(smt_buf_ptr(body), body_len, &b);
    if (smt_buf_consume(body, body_len) < 0 && r == 0)
        r = SMT_ERR_INTERNAL;
    if (r < 0)
        goto out;
    *ret = b;
    b = NULL;
    r = 0;
out:
    smt_buf_free(b);
    return r;
}

static int body_close(const struct smt_buf *b)
{
    return smt_buf_len(b) == 0 ? 0 : SMT_ERR_TRAILING;
}

/* ---- requests ---- */

int smt_msg_put_get_token(struct smt_buf *out, const char *name)
{
    size_t mark;
    int r;

    if ((r = smt_frame_begin(out, SMT_MSG_GET_TOKEN, &mark)) < 0)
        goto out;
    r = put_str(out, name, SMT_NAME_LEN_MAX);
    r = frame_close(out, mark, SMT_REQUEST_MAX, r);
out:
    return r;
}

static int put_empty(struct smt_buf *out, uint8_t type, size_t cap)
{
    size_t mark;
    int r;

    if ((r = smt_frame_begin(out, type, &mark)) < 0)
        goto out;
    r = frame_close(out, mark, cap, 0);
out:
    return r;
}

int smt_msg_put_list(struct smt_buf *out)
{
    return put_empty(out, SMT_MSG_LIST, SMT_REQUEST_MAX);
}

int smt_msg_put_reload(struct smt_buf *out)
{
    return put_empty(out, SMT_MSG_RELOAD, SMT_REQUEST_MAX);
}

int smt_msg_put_remove_creds(struct smt_buf *out, const char *profile)
{
    size_t mark;
    int r;

    if (!nonempty(profile)) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if ((r = smt_frame_begin(out, SMT_MSG_REMOVE_CREDS, &mark)) < 0)
        goto out;
    r = put_str(out, profile, SMT_NAME_LEN_MAX);
    r = frame_close(out, mark, SMT_REQUEST_MAX, r);
out:
    return r;
}

static int put_add_creds_body(struct smt_buf *out, const struct smt_msg_add_creds *m)
{
    int r;

    if ((r = put_str(out, m->profile, SMT_NAME_LEN_MAX)) < 0 ||
        (r = put_str(out, m->access_key, SMT_SHORT_MAX)) < 0 ||
        (r = put_str(out, m->secret_key, SMT_SHORT_MAX)) < 0 ||
        (r = put_str(out, m->session_token, SMT_STRING_MAX)) < 0 ||
        (r = smt_buf_put_u64(out, m->expiration)) < 0)
        goto out;
    r = 0;
out:
    return r;
}

int smt_msg_put_add_creds(struct smt_buf *out, const struct smt_msg_add_creds *m)
{
    size_t mark;
    int r;

    if (!m || !nonempty(m->profile) || !nonempty(m->access_key) || !nonempty(m->secret_key)) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if ((r = smt_frame_begin(out, SMT_MSG_ADD_CREDS, &mark)) < 0)
        goto out;
    /* On failure frame_close rolls back (and the buffer wipes) the half-written secrets. */
    r = frame_close(out, mark, SMT_REQUEST_MAX, put_add_creds_body(out, m));
out:
    return r;
}

void smt_msg_add_creds_free(struct smt_msg_add_creds *m)
{
    if (!m)
        return;
    smt_buf_free_cstring(m->profile);
    smt_buf_free_cstring(m->access_key);
    smt_buf_free_cstring(m->secret_key);
    smt_buf_free_cstring(m->session_token);
    explicit_bzero(m, sizeof(*m));
}

int smt_msg_get_name(struct smt_buf *body, size_t body_len, char **ret_name)
{
    struct smt_buf *b = NULL;
    char *name = NULL;
    int r;

    if (!ret_name) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if ((r = body_open(body, body_len, &b)) < 0)
        goto out;
    if ((r = smt_buf_get_cstring(b, SMT_NAME_LEN_MAX, &name, NULL)) < 0 || (r = body_close(b)) < 0)
        goto out;
    *ret_name = name;
    name = NULL;
    r = 0;
out:
    smt_buf_free_cstring(name);
    smt_buf_free(b);
    return r;
}

int smt_msg_get_empty(struct smt_buf *body, size_t body_len)
{
    struct smt_buf *b = NULL;
    int r;

    if ((r = body_open(body, body_len, &b)) < 0)
        goto out;
    if ((r = body_close(b)) < 0)
        goto out;
    r = 0;
out:
    smt_buf_free(b);
    return r;
}

int smt_msg_get_add_creds(struct smt_buf *body, size_t body_len, struct smt_msg_add_creds *ret)
{
    struct smt_buf *b = NULL;
    struct smt_msg_add_creds m = {0};
    int r;

    if (!ret) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if ((r = body_open(body, body_len, &b)) < 0)
        goto out;
    if ((r = smt_buf_get_cstring(b, SMT_NAME_LEN_MAX, &m.profile, NULL)) < 0 ||
        (r = smt_buf_get_cstring(b, SMT_SHORT_MAX, &m.access_key, NULL)) < 0 ||
        (r = smt_buf_get_cstring(b, SMT_SHORT_MAX, &m.secret_key, NULL)) < 0 ||
        (r = smt_buf_get_cstring(b, SMT_STRING_MAX, &m.session_token, NULL)) < 0 ||
        (r = smt_buf_get_u64(b, &m.expiration)) < 0 || (r = body_close(b)) < 0)
        goto out;
    if (!nonempty(m.profile) || !nonempty(m.access_key) || !nonempty(m.secret_key)) {
        r = SMT_ERR_FORMAT;
        goto out;
    }
    *ret = m;
    explicit_bzero(&m, sizeof(m));
    r = 0;
out:
    smt_msg_add_creds_free(&m);
    smt_buf_free(b);
    return r;
}

/* ---- replies ---- */

int smt_msg_put_success(struct smt_buf *out)
{
    return put_empty(out, SMT_MSG_SUCCESS, SMT_FRAME_MAX);
}

int smt_msg_put_failure(struct smt_buf *out, uint32_t code, const char *message, const char *hint)
{
    size_t mark;
    int r;

    if ((r = smt_frame_begin(out, SMT_MSG_FAILURE, &mark)) < 0)
        goto out;
    if ((r = smt_buf_put_u32(out, code)) == 0 && (r = put_str(out, message, SMT_TEXT_MAX)) == 0)
        r = put_str(out, hint, SMT_TEXT_MAX);
    r = frame_close(out, mark, SMT_FRAME_MAX, r);
out:
    return r;
}

int smt_msg_put_version(struct smt_buf *out)
{
    size_t mark;
    int r;

    if ((r = smt_frame_begin_version(out, SMT_PROTO_VERSION, SMT_MSG_VERSION, &mark)) < 0)
        goto out;
    r = smt_buf_put_u8(out, SMT_PROTO_VERSION);
    r = frame_close(out, mark, SMT_FRAME_MAX, r);
out:
    return r;
}

int smt_msg_get_failure(struct smt_buf *body, size_t body_len, struct smt_msg_failure *ret)
{
    struct smt_buf *b = NULL;
    struct smt_msg_failure m = {0};
    int r;

    if (!ret) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if ((r = body_open(body, body_len, &b)) < 0)
        goto out;
    /* Any code is accepted: a newer agent may know failures this client does not. */
    if ((r = smt_buf_get_u32(b, &m.code)) < 0 ||
        (r = smt_buf_get_cstring(b, SMT_TEXT_MAX, &m.message, NULL)) < 0 ||
        (r = smt_buf_get_cstring(b, SMT_TEXT_MAX, &m.hint, NULL)) < 0 || (r = body_close(b)) < 0)
        goto out;
    *ret = m;
    explicit_bzero(&m, sizeof(m));
    r = 0;
out:
    smt_msg_failure_free(&m);
    smt_buf_free(b);
    return r;
}

void smt_msg_failure_free(struct smt_msg_failure *m)
{
    if (!m)
        return;
    smt_buf_free_cstring(m->message);
    smt_buf_free_cstring(m->hint);
    explicit_bzero(m, sizeof(*m));
}

int smt_msg_get_version(struct smt_buf *body, size_t body_len, uint8_t *ret_version)
{
    struct smt_buf *b = NULL;
    uint8_t v;
    int r;

    if (!ret_version) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if ((r = body_open(body, body_len, &b)) < 0)
        goto out;
    if ((r = smt_buf_get_u8(b, &v)) < 0 || (r = body_close(b)) < 0)
        goto out;
    *ret_version = v;
    r = 0;
out:
    smt_buf_free(b);
    return r;
}

static int valid_service(uint8_t service)
{
    return service == 0 || service == 1;
}

static int put_token_body(struct smt_buf *out, const struct smt_msg_token *m)
{
    int r;

    if ((r = put_str(out, m->name, SMT_NAME_LEN_MAX)) < 0 ||
        (r = smt_buf_put_u8(out, m->service)) < 0 ||
        (r = put_str(out, m->token, SMT_STRING_MAX)) < 0 ||
        (r = smt_buf_put_u64(out, m->expires_at)) < 0 ||
        (r = put_str(out, m->base_url, SMT_URL_MAX)) < 0)
        goto out;
    r = 0;
out:
    return r;
}

int smt_msg_put_token(struct smt_buf *out, const struct smt_msg_token *m)
{
    size_t mark;
    int r;

    if (!m || !nonempty(m->name) || !nonempty(m->token) || !valid_service(m->service)) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if ((r = smt_frame_begin(out, SMT_MSG_TOKEN, &mark)) < 0)
        goto out;
    r = frame_close(out, mark, SMT_FRAME_MAX, put_token_body(out, m));
out:
    return r;
}

int smt_msg_get_token(struct smt_buf *body, size_t body_len, struct smt_msg_token *ret)
{
    struct smt_buf *b = NULL;
    struct smt_msg_token m = {0};
    int r;

    if (!ret) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if ((r = body_open(body, body_len, &b)) < 0)
        goto out;
    if ((r = smt_buf_get_cstring(b, SMT_NAME_LEN_MAX, &m.name, NULL)) < 0 ||
        (r = smt_buf_get_u8(b, &m.service)) < 0 ||
        (r = smt_buf_get_cstring(b, SMT_STRING_MAX, &m.token, NULL)) < 0 ||
        (r = smt_buf_get_u64(b, &m.expires_at)) < 0 ||
        (r = smt_buf_get_cstring(b, SMT_URL_MAX, &m.base_url, NULL)) < 0 || (r = body_close(b)) < 0)
        goto out;
    if (!nonempty(m.name) || !nonempty(m.token) || !valid_service(m.service)) {
        r = SMT_ERR_FORMAT;
        goto out;
    }
    *ret = m;
    explicit_bzero(&m, sizeof(m));
    r = 0;
out:
    smt_msg_token_free(&m);
    smt_buf_free(b);
    return r;
}

void smt_msg_token_free(struct smt_msg_token *m)
{
    if (!m)
        return;
    smt_buf_free_cstring(m->name);
    smt_buf_free_cstring(m->token);
    smt_buf_free_cstring(m->base_url);
    explicit_bzero(m, sizeof(*m));
}

static int put_endpoint_info(struct smt_buf *out, const struct smt_msg_endpoint_info *e)
{
    int r;

    if (!nonempty(e->name) || !valid_service(e->service) || e->is_default > 1) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if ((r = put_str(out, e->name, SMT_NAME_LEN_MAX)) < 0 ||
        (r = smt_buf_put_u8(out, e->service)) < 0 || (r = smt_buf_put_u8(out, e->is_default)) < 0 ||
        (r = put_str(out, e->region, SMT_SHORT_MAX)) < 0 ||
        (r = put_str(out, e->profile, SMT_NAME_LEN_MAX)) < 0 ||
        (r = put_str(out, e->source, SMT_SHORT_MAX)) < 0 ||
        (r = smt_buf_put_u64(out, e->cred_expires_at)) < 0 ||
        (r = smt_buf_put_u64(out, e->token_expires_at)) < 0 ||
        (r = smt_buf_put_u64(out, e->last_refresh)) < 0 ||
        (r = put_str(out, e->last_error, SMT_TEXT_MAX)) < 0 ||
        (r = put_str(out, e->base_url, SMT_URL_MAX)) < 0)
        goto out;
    r = 0;
out:
    return r;
}

int smt_msg_put_list_reply(struct smt_buf *out, const struct smt_msg_list *m)
{
    size_t mark;
    uint32_t i, defaults = 0;
    int r;

    if (!m || m->n > SMT_LIST_MAX || (m->n > 0 && !m->e)) {
        r = m && m->n > SMT_LIST_MAX ? SMT_ERR_TOO_LARGE : SMT_ERR_INVALID;
        goto out;
    }
    for (i = 0; i < m->n; i++)
        defaults += m->e[i].is_default ? 1 : 0;
    if (defaults > 1) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if ((r = smt_frame_begin(out, SMT_MSG_LIST_REPLY, &mark)) < 0)
        goto out;
    r = smt_buf_put_u32(out, m->n);
    for (i = 0; r == 0 && i < m->n; i++)
        r = put_endpoint_info(out, &m->e[i]);
    r = frame_close(out, mark, SMT_FRAME_MAX, r);
out:
    return r;
}

static void endpoint_info_clear(struct smt_msg_endpoint_info *e)
{
    smt_buf_free_cstring(e->name);
    smt_buf_free_cstring(e->region);
    smt_buf_free_cstring(e->profile);
    smt_buf_free_cstring(e->source);
    smt_buf_free_cstring(e->last_error);
    smt_buf_free_cstring(e->base_url);
    explicit_bzero(e, sizeof(*e));
}

static int get_endpoint_info(struct smt_buf *b, struct smt_msg_endpoint_info *e)
{
    int r;

    if ((r = smt_buf_get_cstring(b, SMT_NAME_LEN_MAX, &e->name, NULL)) < 0 ||
        (r = smt_buf_get_u8(b, &e->service)) < 0 || (r = smt_buf_get_u8(b, &e->is_default)) < 0 ||
        (r = smt_buf_get_cstring(b, SMT_SHORT_MAX, &e->region, NULL)) < 0 ||
        (r = smt_buf_get_cstring(b, SMT_NAME_LEN_MAX, &e->profile, NULL)) < 0 ||
        (r = smt_buf_get_cstring(b, SMT_SHORT_MAX, &e->source, NULL)) < 0 ||
        (r = smt_buf_get_u64(b, &e->cred_expires_at)) < 0 ||
        (r = smt_buf_get_u64(b, &e->token_expires_at)) < 0 ||
        (r = smt_buf_get_u64(b, &e->last_refresh)) < 0 ||
        (r = smt_buf_get_cstring(b, SMT_TEXT_MAX, &e->last_error, NULL)) < 0 ||
        (r = smt_buf_get_cstring(b, SMT_URL_MAX, &e->base_url, NULL)) < 0)
        goto out;
    if (!nonempty(e->name) || !valid_service(e->service) || e->is_default > 1) {
        r = SMT_ERR_FORMAT;
        goto out;
    }
    r = 0;
out:
    return r;
}

int smt_msg_get_list_reply(struct smt_buf *body, size_t body_len, struct smt_msg_list *ret)
{
    struct smt_buf *b = NULL;
    struct smt_msg_list m = {0};
    uint32_t n, i, defaults = 0;
    int r;

    if (!ret) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if ((r = body_open(body, body_len, &b)) < 0)
        goto out;
    if ((r = smt_buf_get_u32(b, &n)) < 0)
        goto out;
    if (n > SMT_LIST_MAX) {
        r = SMT_ERR_TOO_LARGE;
        goto out;
    }
    if (n > 0 && !(m.e = calloc(n, sizeof(*m.e)))) {
        r = SMT_ERR_NOMEM;
        goto out;
    }
    m.n = n; /* calloc'd entries free cleanly even if never filled */
    for (i = 0; i < n; i++) {
        if ((r = get_endpoint_info(b, &m.e[i])) < 0)
            goto out;
        defaults += m.e[i].is_default;
    }
    if ((r = body_close(b)) < 0)
        goto out;
    if (defaults > 1) {
        r = SMT_ERR_FORMAT;
        goto out;
    }
    *ret = m;
    explicit_bzero(&m, sizeof(m));
    r = 0;
out:
    smt_msg_list_free(&m);
    smt_buf_free(b);
    return r;
}

void smt_msg_list_free(struct smt_msg_list *m)
{
    uint32_t i;

    if (!m)
        return;
    for (i = 0; m->e && i < m->n; i++)
        endpoint_info_clear(&m->e[i]);
    free(m->e);
    explicit_bzero(m, sizeof(*m));
}
