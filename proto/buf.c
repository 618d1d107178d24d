/* smtoken: bounded, wiping byte buffer (see buf.h).
 *
 * Layout: d[0 .. off) consumed (already wiped), d[off .. end) unread, d[end .. alloc) free.
 * The bytes held (end - off) never exceed max.  Every byte that leaves the buffer's use is
 * wiped: consumed bytes at once, the old block when the buffer grows (we never realloc, which
 * could leave a copy behind), the free tail after compaction, everything on reset and free.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "proto/buf.h"

struct smt_buf {
    uint8_t *d;
    size_t alloc; /* bytes allocated at d */
    size_t off;   /* first unread byte */
    size_t end;   /* one past the last written byte */
    size_t max;   /* most bytes end - off may reach */
};

#define SMT_BUF_MIN_ALLOC 256

struct smt_buf *smt_buf_new(size_t max_size)
{
    struct smt_buf *b = calloc(1, sizeof(*b));

    if (!b)
        return NULL;
    b->max = max_size;
    return b;
}

int smt_buf_new_from(const void *p, size_t len, struct smt_buf **ret)
{
    struct smt_buf *b = NULL;
    int r;

    if (!ret || (!p && len > 0)) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if (!(b = smt_buf_new(len))) {
        r = SMT_ERR_NOMEM;
        goto out;
    }
    if ((r = smt_buf_put(b, p, len)) < 0)
        goto out;
    *ret = b;
    b = NULL;
    r = 0;
out:
    smt_buf_free(b);
    return r;
}

void smt_buf_free(struct smt_buf *b)
{
    if (!b)
        return;
    if (b->d) {
        explicit_bzero(b->d, b->alloc);
        free(b->d);
    }
    explicit_bzero(b, sizeof(*b));
    free(b);
}

void smt_buf_reset(struct smt_buf *b)
{
    if (!b)
        return;
    if (b->d)
        explicit_bzero(b->d, b->end);
    b->off = 0;
    b->end = 0;
}

size_t smt_buf_len(const struct smt_buf *b)
{
    return b ? b->end - b->off : 0;
}

const uint8_t *smt_buf_ptr(const struct smt_buf *b)
{
    /* Never NULL, so callers may pass it to memcpy with a zero length. */
    static const uint8_t empty[1];

    if (!b || !b->d)
        return empty;
    return b->d + b->off;
}

size_t smt_buf_max(const struct smt_buf *b)
{
    return b ? b->max : 0;
}

/* Make room for len more bytes at the end: first by moving the unread bytes to the front, then
 * by moving everything into a bigger block (copy + wipe, never realloc). */
static int buf_make_room(struct smt_buf *b, size_t len)
{
    size_t held = b->end - b->off;
    size_t want, n;
    uint8_t *nd;

    if (len > b->max - held)
        return SMT_ERR_TOO_LARGE;
    if (len <= b->alloc - b->end)
        return 0;
    if (b->off > 0) {
        memmove(b->d, b->d + b->off, held);
        explicit_bzero(b->d + held, b->end - held);
        b->off = 0;
        b->end = held;
        if (len <= b->alloc - b->end)
            return 0;
    }
    want = held + len; /* <= max, so no overflow */
    n = b->alloc ? b->alloc : SMT_BUF_MIN_ALLOC;
    while (n < want && n <= SIZE_MAX / 2)
        n *= 2;
    if (n < want)
        n = want;
    if (n > b->max)
        n = b->max;
    if (!(nd = malloc(n)))
        return SMT_ERR_NOMEM;
    if (b->d) {
        memcpy(nd, b->d, b->end);
        explicit_bzero(b->d, b->alloc);
        free(b->d);
    }
    b->d = nd;
    b->alloc = n;
    return 0;
}

int smt_buf_reserve(struct smt_buf *b, size_t len, uint8_t **ret)
{
    int r;

    if (!b || !ret)
        return SMT_ERR_INVALID;
    if ((r = buf_make_room(b, len)) < 0)
        return r;
    /* A zero-length reserve on a never-used buffer has no block to point into. */
    *ret = b->d ? b->d + b->end : (uint8_t *)smt_buf_ptr(b);
    b->end += len;
    return 0;
}

void smt_buf_unreserve(struct smt_buf *b, size_t len)
{
    if (!b)
        return;
    if (len > b->end - b->off)
        len = b->end - b->off;
    b->end -= len;
    if (len > 0)
        explicit_bzero(b->d + b->end, len);
}

int smt_buf_consume(struct smt_buf *b, size_t len)
{
    if (!b)
        return SMT_ERR_INVALID;
    if (len > b->end - b->off)
        return SMT_ERR_TRUNCATED;
    if (len == 0)
        return 0;
    explicit_bzero(b->d + b->off, len);
    b->off += len;
    if (b->off == b->end)
        b->off = b->end = 0;
    return 0;
}

int smt_buf_put(struct smt_buf *b, const void *p, size_t len)
{
    uint8_t *dst;
    int r;

    if (!p && len > 0)
        return SMT_ERR_INVALID;
    if ((r = smt_buf_reserve(b, len, &dst)) < 0)
        return r;
    if (len > 0)
        memcpy(dst, p, len);
    return 0;
}

int smt_buf_put_u8(struct smt_buf *b, uint8_t v)
{
    return smt_buf_put(b, &v, 1);
}

int smt_buf_put_u32(struct smt_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

    return smt_buf_put(b, x, sizeof(x));
}

int smt_buf_put_u64(struct smt_buf *b, uint64_t v)
{
    uint8_t x[8];
    int i;

    for (i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (56 - 8 * i));
    return smt_buf_put(b, x, sizeof(x));
}

int smt_buf_put_string(struct smt_buf *b, const void *p, size_t len)
{
    uint8_t *dst;
    int r;

    if (len > UINT32_MAX)
        return SMT_ERR_TOO_LARGE;
    if (!p && len > 0)
        return SMT_ERR_INVALID;
    /* One reservation, so a failure leaves nothing half-written. */
    if ((r = smt_buf_reserve(b, 4 + len, &dst)) < 0)
        return r;
    dst[0] = (uint8_t)(len >> 24);
    dst[1] = (uint8_t)(len >> 16);
    dst[2] = (uint8_t)(len >> 8);
    dst[3] = (uint8_t)len;
    if (len > 0)
        memcpy(dst + 4, p, len);
    return 0;
}

int smt_buf_put_cstring(struct smt_buf *b, const char *s)
{
    return smt_buf_put_string(b, s ? s : "", s ? strlen(s) : 0);
}

int smt_buf_poke_u32(struct smt_buf *b, size_t pos, uint32_t v)
{
    uint8_t *p;

    if (!b || pos > b->end - b->off || b->end - b->off - pos < 4)
        return SMT_ERR_INVALID;
    p = b->d + b->off + pos;
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return 0;
}

static uint64_t load_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

int smt_buf_get_u8(struct smt_buf *b, uint8_t *ret)
{
    uint8_t v;

    if (!b || !ret)
        return SMT_ERR_INVALID;
    if (smt_buf_len(b) < 1)
        return SMT_ERR_TRUNCATED;
    v = b->d[b->off];
    *ret = v;
    return smt_buf_consume(b, 1);
}

int smt_buf_get_u32(struct smt_buf *b, uint32_t *ret)
{
    uint32_t v;

    if (!b || !ret)
        return SMT_ERR_INVALID;
    if (smt_buf_len(b) < 4)
        return SMT_ERR_TRUNCATED;
    v = (uint32_t)load_be(b->d + b->off, 4);
    *ret = v;
    return smt_buf_consume(b, 4);
}

int smt_buf_get_u64(struct smt_buf *b, uint64_t *ret)
{
    uint64_t v;

    if (!b || !ret)
        return SMT_ERR_INVALID;
    if (smt_buf_len(b) < 8)
        return SMT_ERR_TRUNCATED;
    v = load_be(b->d + b->off, 8);
    *ret = v;
    return smt_buf_consume(b, 8);
}

int smt_buf_peek_string(struct smt_buf *b, size_t max_len, const uint8_t **ret, size_t *ret_len)
{
    uint32_t len;

    if (!b || !ret || !ret_len)
        return SMT_ERR_INVALID;
    if (smt_buf_len(b) < 4)
        return SMT_ERR_TRUNCATED;
    len = (uint32_t)load_be(b->d + b->off, 4);
    /* The cap is checked on the length field alone, before looking for the bytes. */
    if (len > max_len)
        return SMT_ERR_TOO_LARGE;
    if (len > smt_buf_len(b) - 4)
        return SMT_ERR_TRUNCATED;
    *ret = b->d + b->off + 4;
    *ret_len = len;
    return 0;
}

int smt_buf_get_cstring(struct smt_buf *b, size_t max_len, char **ret, size_t *ret_len)
{
    const uint8_t *p;
    size_t len;
    char *s = NULL;
    int r;

    if (!ret) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if ((r = smt_buf_peek_string(b, max_len, &p, &len)) < 0)
        goto out;
    if (memchr(p, '\0', len)) {
        r = SMT_ERR_FORMAT;
        goto out;
    }
    if (!(s = malloc(len + 1))) {
        r = SMT_ERR_NOMEM;
        goto out;
    }
    memcpy(s, p, len);
    s[len] = '\0';
    if ((r = smt_buf_consume(b, 4 + len)) < 0)
        goto out;
    *ret = s;
    s = NULL;
    if (ret_len)
        *ret_len = len;
    r = 0;
out:
    smt_buf_free_cstring(s);
    return r;
}

void smt_buf_free_cstring(char *s)
{
    if (!s)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}
