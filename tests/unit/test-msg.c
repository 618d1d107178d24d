/* Unit tests for proto/msg.c: every message round trip, the bytes against PROTOCOL.md written
 * out by hand (a field template per message), and for every decoder: each truncation point,
 * each string length field over its cap, a flip of every bit, a trailing byte, a second frame
 * behind the body.  Also the frame layer: caps, short lengths, the VERSION frame. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/msg.h"
#include "tests/tap.h"

#define BIG (1024 * 1024)

/* ---- field templates: the format written down independently of msg.c ---- */

enum fkind { F_U8, F_U32, F_U64, F_STR };
struct field {
    enum fkind k;
    uint64_t v;    /* integer value */
    const char *s; /* string value */
    size_t cap;    /* string cap from PROTOCOL.md section 4 */
};
#define U8(x)                                                                                      \
    {                                                                                              \
        F_U8, (x), NULL, 0                                                                         \
    }
#define U32(x)                                                                                     \
    {                                                                                              \
        F_U32, (x), NULL, 0                                                                        \
    }
#define U64(x)                                                                                     \
    {                                                                                              \
        F_U64, (x), NULL, 0                                                                        \
    }
#define STR(x, cap)                                                                                \
    {                                                                                              \
        F_STR, 0, (x), (cap)                                                                       \
    }
#define NFIELDS 40

/* Write the body; field `big` (index, or -1) gets a length of `biglen` (and that many bytes
 * when with_bytes, otherwise none). */
static void tmpl_body(struct smt_buf *b, const struct field *f, size_t nf, int big, uint32_t biglen,
                      int with_bytes)
{
    size_t i, j;
    int r = 0;

    for (i = 0; i < nf; i++) {
        switch (f[i].k) {
        case F_U8:
            r |= smt_buf_put_u8(b, (uint8_t)f[i].v);
            break;
        case F_U32:
            r |= smt_buf_put_u32(b, (uint32_t)f[i].v);
            break;
        case F_U64:
            r |= smt_buf_put_u64(b, f[i].v);
            break;
        case F_STR:
            if ((int)i != big) {
                r |= smt_buf_put_string(b, f[i].s, strlen(f[i].s));
                break;
            }
            r |= smt_buf_put_u32(b, biglen);
            for (j = 0; with_bytes && j < biglen; j++)
                r |= smt_buf_put_u8(b, 'a');
            break;
        }
    }
    if (r)
        tap_diag("template did not fit the test buffer");
}

/* ---- the cases ---- */

static const struct smt_msg_add_creds add_val = {
    (char *)"work", (char *)"AKIDEXAMPLE", (char *)"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    (char *)"FwoGZXIvYXdzEJr//////////wEaDM+session=", 1767225600};
static const struct smt_msg_add_creds add_val2 = {(char *)"p", (char *)"A", (char *)"S", (char *)"",
                                                  0};
static const struct smt_msg_token tok_val = {
    (char *)"main", 0, (char *)"sagemaker-api-key-c2FnZW1ha2VyLmFtYXpvbmF3cy5jb20vPw==", 1700000000,
    (char *)"https://runtime.sagemaker.us-west-2.amazonaws.com/endpoints/e/openai/v1"};
static const struct smt_msg_token tok_val2 = {
    (char *)"br", 1, (char *)"bedrock-api-key-QQ==", UINT64_MAX, (char *)""};
static struct smt_msg_endpoint_info ep_vals[2] = {
    {(char *)"main", 0, 1, (char *)"us-west-2", (char *)"work", (char *)"process", 1700003600,
     1700000900, 1700000000, (char *)"", (char *)"https://example.test/v1"},
    {(char *)"br", 1, 0, (char *)"eu-central-1", (char *)"", (char *)"", 0, 0, 0,
     (char *)"credential_process failed: exit 1", (char *)"https://bedrock.example/openai/v1"},
};
static const struct smt_msg_list list_val = {2, ep_vals};
static const struct smt_msg_list list_val0 = {0, NULL};

struct mcase {
    const char *name;
    uint8_t type;
    struct field f[NFIELDS];
    size_t nf;
};

/* The LIST_REPLY template is filled from ep_vals at start-up (static initializers cannot read
 * another object's members). */
static void ep_fields(struct field *f, const struct smt_msg_endpoint_info *e)
{
    const struct field x[11] = {
        STR(e->name, SMT_NAME_LEN_MAX),
        U8(e->service),
        U8(e->is_default),
        STR(e->region, SMT_SHORT_MAX),
        STR(e->profile, SMT_NAME_LEN_MAX),
        STR(e->source, SMT_SHORT_MAX),
        U64(e->cred_expires_at),
        U64(e->token_expires_at),
        U64(e->last_refresh),
        STR(e->last_error, SMT_TEXT_MAX),
        STR(e->base_url, SMT_URL_MAX),
    };

    memcpy(f, x, sizeof(x));
}

static struct mcase cases[] = {
    {"GET_TOKEN", SMT_MSG_GET_TOKEN, {STR("main", SMT_NAME_LEN_MAX)}, 1},
    {"GET_TOKEN default", SMT_MSG_GET_TOKEN, {STR("", SMT_NAME_LEN_MAX)}, 1},
    {"LIST", SMT_MSG_LIST, {{0}}, 0},
    {"RELOAD", SMT_MSG_RELOAD, {{0}}, 0},
    {"REMOVE_CREDS", SMT_MSG_REMOVE_CREDS, {STR("work", SMT_NAME_LEN_MAX)}, 1},
    {"ADD_CREDS",
     SMT_MSG_ADD_CREDS,
     {STR("work", SMT_NAME_LEN_MAX), STR("AKIDEXAMPLE", SMT_SHORT_MAX),
      STR("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", SMT_SHORT_MAX),
      STR("FwoGZXIvYXdzEJr//////////wEaDM+session=", SMT_STRING_MAX), U64(1767225600)},
     5},
    {"ADD_CREDS minimal",
     SMT_MSG_ADD_CREDS,
     {STR("p", SMT_NAME_LEN_MAX), STR("A", SMT_SHORT_MAX), STR("S", SMT_SHORT_MAX),
      STR("", SMT_STRING_MAX), U64(0)},
     5},
    {"SUCCESS", SMT_MSG_SUCCESS, {{0}}, 0},
    {"FAILURE",
     SMT_MSG_FAILURE,
     {U32(SMT_FAIL_EXPIRED), STR("credentials for profile 'work' expired", SMT_TEXT_MAX),
      STR("run 'aws sso login --profile work'", SMT_TEXT_MAX)},
     3},
    {"VERSION", SMT_MSG_VERSION, {U8(SMT_PROTO_VERSION)}, 1},
    {"TOKEN",
     SMT_MSG_TOKEN,
     {STR("main", SMT_NAME_LEN_MAX), U8(0),
      STR("sagemaker-api-key-c2FnZW1ha2VyLmFtYXpvbmF3cy5jb20vPw==", SMT_STRING_MAX),
      U64(1700000000),
      STR("https://runtime.sagemaker.us-west-2.amazonaws.com/endpoints/e/openai/v1", SMT_URL_MAX)},
     5},
    {"TOKEN bedrock",
     SMT_MSG_TOKEN,
     {STR("br", SMT_NAME_LEN_MAX), U8(1), STR("bedrock-api-key-QQ==", SMT_STRING_MAX),
      U64(UINT64_MAX), STR("", SMT_URL_MAX)},
     5},
    {"LIST_REPLY", SMT_MSG_LIST_REPLY, {U32(2)}, 23}, /* + ep_fields() x 2 */
    {"LIST_REPLY empty", SMT_MSG_LIST_REPLY, {U32(0)}, 1},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* Encode case i with msg.c's encoder. */
static int encode(size_t i, struct smt_buf *out)
{
    const struct mcase *c = &cases[i];

    switch (c->type) {
    case SMT_MSG_GET_TOKEN:
        return smt_msg_put_get_token(out, c->f[0].s);
    case SMT_MSG_LIST:
        return smt_msg_put_list(out);
    case SMT_MSG_RELOAD:
        return smt_msg_put_reload(out);
    case SMT_MSG_REMOVE_CREDS:
        return smt_msg_put_remove_creds(out, c->f[0].s);
    case SMT_MSG_ADD_CREDS:
        return smt_msg_put_add_creds(out, c->nf && c->f[0].s[1] ? &add_val : &add_val2);
    case SMT_MSG_SUCCESS:
        return smt_msg_put_success(out);
    case SMT_MSG_FAILURE:
        return smt_msg_put_failure(out, (uint32_t)c->f[0].v, c->f[1].s, c->f[2].s);
    case SMT_MSG_VERSION:
        return smt_msg_put_version(out);
    case SMT_MSG_TOKEN:
        return smt_msg_put_token(out, c->f[1].v ? &tok_val2 : &tok_val);
    case SMT_MSG_LIST_REPLY:
        return smt_msg_put_list_reply(out, c->f[0].v ? &list_val : &list_val0);
    }
    return SMT_ERR_INTERNAL;
}

static int str_ok(const char *s, size_t cap)
{
    return s && strlen(s) <= cap;
}

static int streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static int ep_equal(const struct smt_msg_endpoint_info *a, const struct smt_msg_endpoint_info *b)
{
    return streq(a->name, b->name) && a->service == b->service && a->is_default == b->is_default &&
           streq(a->region, b->region) && streq(a->profile, b->profile) &&
           streq(a->source, b->source) && a->cred_expires_at == b->cred_expires_at &&
           a->token_expires_at == b->token_expires_at && a->last_refresh == b->last_refresh &&
           streq(a->last_error, b->last_error) && streq(a->base_url, b->base_url);
}

/* Decode body_len bytes of body as case i's type.  Returns the decoder's status; on success
 * sets *valid (the struct keeps the format's promises) and *equal (it is case i's value). */
static int decode(size_t i, struct smt_buf *body, size_t body_len, int *valid, int *equal)
{
    const struct mcase *c = &cases[i];
    int r = SMT_ERR_INTERNAL;
    uint32_t k;

    *valid = *equal = 0;
    switch (c->type) {
    case SMT_MSG_GET_TOKEN:
    case SMT_MSG_REMOVE_CREDS: {
        char *name = NULL;

        if ((r = smt_msg_get_name(body, body_len, &name)) == 0) {
            *valid = str_ok(name, SMT_NAME_LEN_MAX);
            *equal = streq(name, c->f[0].s);
        }
        smt_buf_free_cstring(name);
        break;
    }
    case SMT_MSG_LIST:
    case SMT_MSG_RELOAD:
    case SMT_MSG_SUCCESS:
        if ((r = smt_msg_get_empty(body, body_len)) == 0)
            *valid = *equal = 1;
        break;
    case SMT_MSG_ADD_CREDS: {
        struct smt_msg_add_creds m = {0};
        const struct smt_msg_add_creds *w = c->f[0].s[1] ? &add_val : &add_val2;

        if ((r = smt_msg_get_add_creds(body, body_len, &m)) == 0) {
            *valid = str_ok(m.profile, SMT_NAME_LEN_MAX) && *m.profile &&
                     str_ok(m.access_key, SMT_SHORT_MAX) && *m.access_key &&
                     str_ok(m.secret_key, SMT_SHORT_MAX) && *m.secret_key &&
                     str_ok(m.session_token, SMT_STRING_MAX);
            *equal = streq(m.profile, w->profile) && streq(m.access_key, w->access_key) &&
                     streq(m.secret_key, w->secret_key) &&
                     streq(m.session_token, w->session_token) && m.expiration == w->expiration;
        }
        smt_msg_add_creds_free(&m);
        break;
    }
    case SMT_MSG_FAILURE: {
        struct smt_msg_failure m = {0};

        if ((r = smt_msg_get_failure(body, body_len, &m)) == 0) {
            *valid = str_ok(m.message, SMT_TEXT_MAX) && str_ok(m.hint, SMT_TEXT_MAX);
            *equal = m.code == c->f[0].v && streq(m.message, c->f[1].s) && streq(m.hint, c->f[2].s);
        }
        smt_msg_failure_free(&m);
        break;
    }
    case SMT_MSG_VERSION: {
        uint8_t v = 0;

        if ((r = smt_msg_get_version(body, body_len, &v)) == 0) {
            *valid = 1;
            *equal = v == SMT_PROTO_VERSION;
        }
        break;
    }
    case SMT_MSG_TOKEN: {
        struct smt_msg_token m = {0};
        const struct smt_msg_token *w = c->f[1].v ? &tok_val2 : &tok_val;

        if ((r = smt_msg_get_token(body, body_len, &m)) == 0) {
            *valid = str_ok(m.name, SMT_NAME_LEN_MAX) && *m.name && m.service <= 1 &&
                     str_ok(m.token, SMT_STRING_MAX) && *m.token && str_ok(m.base_url, SMT_URL_MAX);
            *equal = streq(m.name, w->name) && m.service == w->service &&
                     streq(m.token, w->token) && m.expires_at == w->expires_at &&
                     streq(m.base_url, w->base_url);
        }
        smt_msg_token_free(&m);
        break;
    }
    case SMT_MSG_LIST_REPLY: {
        struct smt_msg_list m = {0};
        const struct smt_msg_list *w = c->f[0].v ? &list_val : &list_val0;
        uint32_t defaults = 0;

        if ((r = smt_msg_get_list_reply(body, body_len, &m)) == 0) {
            *valid = m.n <= SMT_LIST_MAX && (m.n == 0 || m.e);
            for (k = 0; *valid && k < m.n; k++) {
                const struct smt_msg_endpoint_info *e = &m.e[k];

                *valid = str_ok(e->name, SMT_NAME_LEN_MAX) && *e->name && e->service <= 1 &&
                         e->is_default <= 1 && str_ok(e->region, SMT_SHORT_MAX) &&
                         str_ok(e->profile, SMT_NAME_LEN_MAX) && str_ok(e->source, SMT_SHORT_MAX) &&
                         str_ok(e->last_error, SMT_TEXT_MAX) && str_ok(e->base_url, SMT_URL_MAX);
                defaults += e->is_default;
            }
            *valid = *valid && defaults <= 1;
            *equal = m.n == w->n;
            for (k = 0; *equal && k < m.n; k++)
                *equal = ep_equal(&m.e[k], &w->e[k]);
        }
        smt_msg_list_free(&m);
        break;
    }
    }
    return r;
}

/* Decode `len` bytes as case i from a fresh buffer (plus `extra` bytes behind them). */
static int decode_bytes(size_t i, const uint8_t *p, size_t len, size_t extra, int *valid,
                        int *equal, size_t *left)
{
    struct smt_buf *b = smt_buf_new(BIG);
    int r;

    if (smt_buf_put(b, p, len + extra) < 0) {
        smt_buf_free(b);
        return SMT_ERR_INTERNAL;
    }
    r = decode(i, b, len, valid, equal);
    if (left)
        *left = smt_buf_len(b);
    smt_buf_free(b);
    return r;
}

static int clean_failure(int r)
{
    return r == SMT_ERR_TRUNCATED || r == SMT_ERR_TOO_LARGE || r == SMT_ERR_FORMAT ||
           r == SMT_ERR_TRAILING;
}

static void test_case(size_t i)
{
    const struct mcase *c = &cases[i];
    struct smt_buf *enc = smt_buf_new(BIG), *want = smt_buf_new(BIG), *tmp = smt_buf_new(BIG);
    uint8_t version = 0, type = 0, *body = NULL;
    size_t body_len = 0, k, left = 0, bad, nstr, bit;
    int r, valid, equal;

    /* Encoder against the hand-written template. */
    tap_ok(encode(i, enc) == 0, "%s: encodes", c->name);
    tmpl_body(want, c->f, c->nf, -1, 0, 0);
    r = smt_frame_parse(enc, SMT_FRAME_MAX, &version, &type, &body_len);
    tap_ok(r == 1 && version == SMT_PROTO_VERSION && type == c->type, "%s: frame header", c->name);
    tap_ok(body_len == smt_buf_len(enc) && body_len == smt_buf_len(want) &&
               memcmp(smt_buf_ptr(enc), smt_buf_ptr(want), body_len) == 0,
           "%s: body bytes are exactly PROTOCOL.md's fields (%zu bytes)", c->name, body_len);
    body = malloc(body_len + 1);
    memcpy(body, smt_buf_ptr(want), body_len);
    body[body_len] = 0x5a;

    /* Round trip. */
    r = decode_bytes(i, body, body_len, 0, &valid, &equal, NULL);
    tap_ok(r == 0 && valid && equal, "%s: round trip (r=%d)", c->name, r);

    /* A second frame behind the body is not trailing and stays in place. */
    r = decode_bytes(i, body, body_len, 1, &valid, &equal, &left);
    tap_ok(r == 0 && equal && left == 1, "%s: exactly body_len bytes consumed", c->name);

    /* Trailing byte. */
    r = decode_bytes(i, body, body_len + 1, 0, &valid, &equal, NULL);
    tap_ok(r == SMT_ERR_TRAILING, "%s: one trailing byte -> trailing (r=%d)", c->name, r);

    /* Every truncation point. */
    for (k = 0, bad = 0; k < body_len; k++) {
        r = decode_bytes(i, body, k, 0, &valid, &equal, &left);
        if (r != SMT_ERR_TRUNCATED || left != 0) {
            if (!bad)
                tap_diag("%s: %zu of %zu bytes: r=%d", c->name, k, body_len, r);
            bad++;
        }
    }
    if (body_len > 0)
        tap_ok(bad == 0, "%s: all %zu truncation points -> truncated", c->name, body_len);

    /* Every bit of every byte flipped: a clean failure or a struct that keeps the rules. */
    for (k = 0, bad = 0; k < body_len; k++) {
        for (bit = 0; bit < 8; bit++) {
            body[k] ^= (uint8_t)(1u << bit);
            r = decode_bytes(i, body, body_len, 0, &valid, &equal, NULL);
            if (!clean_failure(r) && !(r == 0 && valid)) {
                if (!bad)
                    tap_diag("%s: flip byte %zu bit %zu: r=%d valid=%d", c->name, k, bit, r, valid);
                bad++;
            }
            body[k] ^= (uint8_t)(1u << bit);
        }
    }
    if (body_len > 0)
        tap_ok(bad == 0, "%s: %zu bit flips: all fail cleanly or decode valid", c->name,
               body_len * 8);

    /* Each string field: length one over its cap (with and without the bytes), and 2^32-1. */
    for (k = 0, nstr = 0, bad = 0; k < c->nf; k++) {
        size_t v;
        uint32_t lens[2];

        if (c->f[k].k != F_STR)
            continue;
        nstr++;
        lens[0] = (uint32_t)c->f[k].cap + 1;
        lens[1] = UINT32_MAX;
        for (v = 0; v < 4; v++) {
            smt_buf_reset(tmp);
            tmpl_body(tmp, c->f, c->nf, (int)k, lens[v / 2], v == 0);
            r = decode_bytes(i, smt_buf_ptr(tmp), smt_buf_len(tmp), 0, &valid, &equal, NULL);
            if (r != SMT_ERR_TOO_LARGE) {
                tap_diag("%s: field %zu length %u: r=%d", c->name, k, lens[v / 2], r);
                bad++;
            }
        }
        /* At the cap exactly, the field is not refused for its size. */
        smt_buf_reset(tmp);
        tmpl_body(tmp, c->f, c->nf, (int)k, (uint32_t)c->f[k].cap, 1);
        r = decode_bytes(i, smt_buf_ptr(tmp), smt_buf_len(tmp), 0, &valid, &equal, NULL);
        if (r == SMT_ERR_TOO_LARGE) {
            tap_diag("%s: field %zu at its cap refused", c->name, k);
            bad++;
        }
    }
    if (nstr > 0)
        tap_ok(bad == 0, "%s: %zu string fields: over the cap -> too large, at the cap accepted",
               c->name, nstr);

    free(body);
    smt_buf_free(enc);
    smt_buf_free(want);
    smt_buf_free(tmp);
}

/* ---- value rules the format makes ---- */

static int decode_tmpl(size_t i, const struct field *f, size_t nf)
{
    struct smt_buf *b = smt_buf_new(BIG);
    int r, valid, equal;

    tmpl_body(b, f, nf, -1, 0, 0);
    r = decode_bytes(i, smt_buf_ptr(b), smt_buf_len(b), 0, &valid, &equal, NULL);
    smt_buf_free(b);
    return r;
}

static size_t case_index(const char *name)
{
    size_t i;

    for (i = 0; i < NCASES; i++)
        if (strcmp(cases[i].name, name) == 0)
            return i;
    abort();
}

static void test_rules(void)
{
    size_t tk = case_index("TOKEN"), ac = case_index("ADD_CREDS"), lr = case_index("LIST_REPLY");
    size_t gt = case_index("GET_TOKEN");
    struct field f[NFIELDS];
    struct smt_buf *b = smt_buf_new(BIG);
    static const uint8_t nul_name[] = {0, 0, 0, 3, 'a', 0, 'b'};
    char *name = NULL;
    int valid, equal;

    memcpy(f, cases[tk].f, sizeof(f));
    f[1].v = 2;
    tap_ok(decode_tmpl(tk, f, 5) == SMT_ERR_FORMAT, "TOKEN: service 2 -> format");
    memcpy(f, cases[tk].f, sizeof(f));
    f[2].s = "";
    tap_ok(decode_tmpl(tk, f, 5) == SMT_ERR_FORMAT, "TOKEN: empty token -> format");
    memcpy(f, cases[tk].f, sizeof(f));
    f[0].s = "";
    tap_ok(decode_tmpl(tk, f, 5) == SMT_ERR_FORMAT, "TOKEN: empty name -> format");

    memcpy(f, cases[ac].f, sizeof(f));
    f[0].s = "";
    tap_ok(decode_tmpl(ac, f, 5) == SMT_ERR_FORMAT, "ADD_CREDS: empty profile -> format");
    memcpy(f, cases[ac].f, sizeof(f));
    f[2].s = "";
    tap_ok(decode_tmpl(ac, f, 5) == SMT_ERR_FORMAT, "ADD_CREDS: empty secret key -> format");

    memcpy(f, cases[lr].f, sizeof(f));
    f[1 + 11 + 2].v = 1;
    tap_ok(decode_tmpl(lr, f, 23) == SMT_ERR_FORMAT, "LIST_REPLY: two defaults -> format");
    memcpy(f, cases[lr].f, sizeof(f));
    f[3].v = 2;
    tap_ok(decode_tmpl(lr, f, 23) == SMT_ERR_FORMAT, "LIST_REPLY: is_default 2 -> format");
    memcpy(f, cases[lr].f, sizeof(f));
    f[0].v = 1;
    tap_ok(decode_tmpl(lr, f, 23) == SMT_ERR_TRAILING,
           "LIST_REPLY: n=1 with two entries -> trailing");
    f[0].v = 3;
    tap_ok(decode_tmpl(lr, f, 23) == SMT_ERR_TRUNCATED, "LIST_REPLY: n=3 with two -> truncated");
    f[0].v = SMT_LIST_MAX + 1;
    tap_ok(decode_tmpl(lr, f, 23) == SMT_ERR_TOO_LARGE, "LIST_REPLY: n=%d -> too large",
           SMT_LIST_MAX + 1);
    f[0].v = UINT32_MAX;
    tap_ok(decode_tmpl(lr, f, 1) == SMT_ERR_TOO_LARGE, "LIST_REPLY: n=2^32-1 -> too large");

    tap_ok(decode_bytes(gt, nul_name, sizeof(nul_name), 0, &valid, &equal, NULL) == SMT_ERR_FORMAT,
           "GET_TOKEN: a NUL inside the name -> format");
    tap_ok(smt_buf_put(b, "\0\0\0\1", 4) == 0 &&
               smt_msg_get_name(b, 8, &name) == SMT_ERR_TRUNCATED && smt_buf_len(b) == 4,
           "a body_len longer than the bytes there: truncated, nothing consumed");
    smt_buf_free(b);
}

/* ---- frames ---- */

static int parse_bytes(const void *p, size_t len, size_t max, uint8_t *v, uint8_t *t, size_t *bl,
                       size_t *left)
{
    struct smt_buf *b = smt_buf_new(BIG);
    int r = smt_buf_put(b, p, len);

    if (r == 0)
        r = smt_frame_parse(b, max, v, t, bl);
    *left = smt_buf_len(b);
    smt_buf_free(b);
    return r;
}

static void test_frames(void)
{
    static const uint8_t golden[] = {0, 0, 0, 8, 1, 1, 0, 0, 0, 2, 'a', 'b'};
    static const uint8_t version_frame[] = {0, 0, 0, 3, 1, 130, 1};
    uint8_t over[4] = {0, 4, 0, 3}; /* SMT_FRAME_MAX + 3 */
    uint8_t req_over[4] = {0, 1, 0, 1};
    uint8_t v = 0, t = 0;
    size_t bl = 0, left = 0, mark, before;
    struct smt_buf *b = smt_buf_new(BIG);
    struct smt_msg_add_creds big = add_val;
    struct smt_msg_token tk = tok_val;
    struct smt_msg_list l = {0};
    char name65[66], *st = NULL, *text;

    tap_ok(smt_msg_put_get_token(b, "ab") == 0 && smt_buf_len(b) == sizeof(golden) &&
               memcmp(smt_buf_ptr(b), golden, sizeof(golden)) == 0,
           "GET_TOKEN \"ab\" is 00000008 01 01 00000002 6162");
    smt_buf_reset(b);
    tap_ok(smt_msg_put_version(b) == 0 && smt_buf_len(b) == sizeof(version_frame) &&
               memcmp(smt_buf_ptr(b), version_frame, sizeof(version_frame)) == 0,
           "VERSION is 00000003 <our version> 82 <our version>");

    tap_ok(parse_bytes(golden, 3, SMT_FRAME_MAX, &v, &t, &bl, &left) == 0 && left == 3,
           "3 bytes: need more");
    tap_ok(parse_bytes(golden, 11, SMT_FRAME_MAX, &v, &t, &bl, &left) == 0 && left == 11,
           "all but one byte: need more, nothing consumed");
    tap_ok(parse_bytes(golden, 12, SMT_FRAME_MAX, &v, &t, &bl, &left) == 1 && v == 1 && t == 1 &&
               bl == 6 && left == 6,
           "whole frame: version, type, body length; header consumed");
    tap_ok(parse_bytes(over, 4, SMT_FRAME_MAX, &v, &t, &bl, &left) == SMT_ERR_TOO_LARGE,
           "length SMT_FRAME_MAX+3 from the 4 length bytes alone -> too large");
    over[1] = 4;
    over[3] = 0;
    tap_ok(parse_bytes(over, 4, SMT_FRAME_MAX, &v, &t, &bl, &left) == 0,
           "length SMT_FRAME_MAX exactly: waits for the body");
    tap_ok(parse_bytes(req_over, 4, SMT_REQUEST_MAX, &v, &t, &bl, &left) == SMT_ERR_TOO_LARGE,
           "length SMT_REQUEST_MAX+1 against the request cap -> too large");
    tap_ok(parse_bytes("\xff\xff\xff\xff", 4, SIZE_MAX, &v, &t, &bl, &left) == SMT_ERR_TOO_LARGE,
           "length 2^32-1 with a huge max_frame: still capped at SMT_FRAME_MAX");
    tap_ok(parse_bytes("\0\0\0\1\1", 5, SMT_FRAME_MAX, &v, &t, &bl, &left) == SMT_ERR_FORMAT,
           "length 1 (no type byte) -> format");
    tap_ok(parse_bytes("\0\0\0\0", 4, SMT_FRAME_MAX, &v, &t, &bl, &left) == SMT_ERR_FORMAT,
           "length 0 -> format");

    /* A VERSION frame from a newer agent: the frame's byte and the body both say 7. */
    smt_buf_reset(b);
    tap_ok(smt_frame_begin_version(b, 7, SMT_MSG_VERSION, &mark) == 0 &&
               smt_buf_put_u8(b, 7) == 0 && smt_frame_end(b, mark) == 0,
           "build a version-7 VERSION frame");
    tap_ok(smt_frame_parse(b, SMT_FRAME_MAX, &v, &t, &bl) == 1 && v == 7 && t == SMT_MSG_VERSION &&
               smt_msg_get_version(b, bl, &v) == 0 && v == 7,
           "... parses as version 7, type VERSION, body 7");

    /* Two frames in one buffer: decoding the first leaves the second. */
    smt_buf_reset(b);
    tap_ok(smt_msg_put_get_token(b, "one") == 0 && smt_msg_put_list(b) == 0, "two frames");
    tap_ok(smt_frame_parse(b, SMT_FRAME_MAX, &v, &t, &bl) == 1 && t == SMT_MSG_GET_TOKEN &&
               smt_msg_get_name(b, bl, &st) == 0 && strcmp(st, "one") == 0,
           "first frame decodes");
    smt_buf_free_cstring(st);
    tap_ok(smt_frame_parse(b, SMT_FRAME_MAX, &v, &t, &bl) == 1 && t == SMT_MSG_LIST && bl == 0 &&
               smt_msg_get_empty(b, bl) == 0 && smt_buf_len(b) == 0,
           "second frame decodes");

    /* Encoders refuse what a decoder would refuse, and leave the buffer as it was. */
    smt_buf_reset(b);
    tap_ok(smt_msg_put_list(b) == 0, "one frame already in the buffer");
    before = smt_buf_len(b);
    memset(name65, 'n', 65);
    name65[65] = '\0';
    tap_ok(smt_msg_put_get_token(b, name65) == SMT_ERR_TOO_LARGE && smt_buf_len(b) == before,
           "a 65-byte name: too large, buffer unchanged");
    tap_ok(smt_msg_put_remove_creds(b, "") == SMT_ERR_INVALID && smt_buf_len(b) == before,
           "REMOVE_CREDS \"\": invalid");
    st = malloc(SMT_REQUEST_MAX);
    memset(st, 'S', SMT_REQUEST_MAX - 1);
    st[SMT_REQUEST_MAX - 1] = '\0';
    big.session_token = st;
    tap_ok(smt_msg_put_add_creds(b, &big) == SMT_ERR_TOO_LARGE && smt_buf_len(b) == before,
           "ADD_CREDS over SMT_REQUEST_MAX: too large, nothing (no secret) left behind");
    free(st);
    tk.service = 2;
    tap_ok(smt_msg_put_token(b, &tk) == SMT_ERR_INVALID && smt_buf_len(b) == before,
           "TOKEN with service 2: invalid");
    tk.service = 0;
    tk.token = (char *)"";
    tap_ok(smt_msg_put_token(b, &tk) == SMT_ERR_INVALID, "TOKEN with an empty token: invalid");
    l.n = SMT_LIST_MAX + 1;
    l.e = ep_vals;
    tap_ok(smt_msg_put_list_reply(b, &l) == SMT_ERR_TOO_LARGE && smt_buf_len(b) == before,
           "LIST_REPLY with %d entries: too large", SMT_LIST_MAX + 1);
    ep_vals[1].is_default = 1;
    l.n = 2;
    tap_ok(smt_msg_put_list_reply(b, &l) == SMT_ERR_INVALID,
           "LIST_REPLY with two defaults: invalid");
    ep_vals[1].is_default = 0;

    /* A reply over SMT_FRAME_MAX: 256 entries with long texts. */
    text = malloc(SMT_TEXT_MAX + 1);
    memset(text, 'e', SMT_TEXT_MAX);
    text[SMT_TEXT_MAX] = '\0';
    l.n = SMT_LIST_MAX;
    l.e = calloc(SMT_LIST_MAX, sizeof(*l.e));
    for (mark = 0; mark < SMT_LIST_MAX; mark++) {
        l.e[mark] = ep_vals[1];
        l.e[mark].last_error = text;
    }
    tap_ok(smt_msg_put_list_reply(b, &l) == SMT_ERR_TOO_LARGE && smt_buf_len(b) == before,
           "a LIST_REPLY frame over SMT_FRAME_MAX: too large, buffer unchanged");
    free(l.e);
    free(text);

    tap_ok(strcmp(smt_msg_type_name(SMT_MSG_TOKEN), "TOKEN") == 0 &&
               strcmp(smt_msg_type_name(99), "unknown") == 0 && *smt_fail_describe(12345),
           "type names and failure descriptions");
    smt_buf_free(b);
}

int main(void)
{
    size_t i = case_index("LIST_REPLY");

    ep_fields(&cases[i].f[1], &ep_vals[0]);
    ep_fields(&cases[i].f[12], &ep_vals[1]);

    for (i = 0; i < NCASES; i++)
        test_case(i);
    test_rules();
    test_frames();
    return tap_done();
}
