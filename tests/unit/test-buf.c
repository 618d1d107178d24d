/* Unit tests for proto/buf.c: the bounded, wiping buffer every wire byte goes through. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "proto/buf.h"
#include "tests/tap.h"

static int all_zero(const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

static void test_integers(void)
{
    struct smt_buf *b = smt_buf_new(64);
    static const uint8_t want[] = {0xab, 0x01, 0x02, 0x03, 0x04, 0x01, 0x02,
                                   0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    uint8_t u8 = 0;
    uint32_t u32 = 0;
    uint64_t u64 = 0;

    tap_ok(b != NULL, "smt_buf_new");
    tap_ok(smt_buf_put_u8(b, 0xab) == 0 && smt_buf_put_u32(b, 0x01020304) == 0 &&
               smt_buf_put_u64(b, 0x0102030405060708ULL) == 0,
           "put u8, u32, u64");
    tap_ok(smt_buf_len(b) == sizeof(want) && memcmp(smt_buf_ptr(b), want, sizeof(want)) == 0,
           "integers are big-endian on the wire");
    tap_ok(smt_buf_get_u8(b, &u8) == 0 && u8 == 0xab, "get u8");
    tap_ok(smt_buf_get_u32(b, &u32) == 0 && u32 == 0x01020304, "get u32");
    tap_ok(smt_buf_get_u64(b, &u64) == 0 && u64 == 0x0102030405060708ULL, "get u64");
    tap_ok(smt_buf_len(b) == 0, "everything consumed");
    tap_ok(smt_buf_get_u8(b, &u8) == SMT_ERR_TRUNCATED, "get u8 from empty: truncated");

    tap_ok(smt_buf_put_u8(b, 1) == 0 && smt_buf_put_u8(b, 2) == 0 && smt_buf_put_u8(b, 3) == 0,
           "three bytes");
    u32 = 77;
    tap_ok(smt_buf_get_u32(b, &u32) == SMT_ERR_TRUNCATED && u32 == 77 && smt_buf_len(b) == 3,
           "get u32 from 3 bytes: truncated, nothing consumed, *ret untouched");
    tap_ok(smt_buf_get_u64(b, &u64) == SMT_ERR_TRUNCATED && smt_buf_len(b) == 3,
           "get u64 from 3 bytes: truncated");
    smt_buf_free(b);
}

static void test_strings(void)
{
    struct smt_buf *b = smt_buf_new(1024);
    static const uint8_t nul[] = {'a', 0, 'b'};
    const uint8_t *p;
    char *s = NULL;
    size_t len = 99;

    tap_ok(smt_buf_put_cstring(b, "hello") == 0 && smt_buf_len(b) == 9 &&
               memcmp(smt_buf_ptr(b), "\0\0\0\5hello", 9) == 0,
           "put_cstring: u32 length + bytes, no terminator");
    tap_ok(smt_buf_peek_string(b, 16, &p, &len) == 0 && len == 5 && memcmp(p, "hello", 5) == 0 &&
               smt_buf_len(b) == 9,
           "peek_string points at the bytes and does not consume");
    tap_ok(smt_buf_get_cstring(b, 5, &s, &len) == 0 && s && strcmp(s, "hello") == 0 && len == 5,
           "get_cstring at exactly max_len");
    smt_buf_free_cstring(s);
    s = NULL;

    tap_ok(smt_buf_put_cstring(b, NULL) == 0 && smt_buf_get_cstring(b, 0, &s, NULL) == 0 && s &&
               *s == '\0',
           "NULL is the empty string; ret_len may be NULL");
    smt_buf_free_cstring(s);
    s = NULL;

    tap_ok(smt_buf_put_cstring(b, "toolong") == 0, "put a 7-byte string");
    tap_ok(smt_buf_get_cstring(b, 6, &s, NULL) == SMT_ERR_TOO_LARGE && !s && smt_buf_len(b) == 11,
           "get_cstring over max_len: too large, nothing consumed");
    tap_ok(smt_buf_consume(b, 11) == 0 && smt_buf_len(b) == 0, "consume skips it");

    tap_ok(smt_buf_put_u32(b, 0xffffffff) == 0 &&
               smt_buf_get_cstring(b, 1024, &s, NULL) == SMT_ERR_TOO_LARGE,
           "length 0xffffffff with no bytes: too large (the cap is checked before the bytes)");
    smt_buf_reset(b);
    tap_ok(smt_buf_put_u32(b, 10) == 0 && smt_buf_put(b, "abc", 3) == 0 &&
               smt_buf_get_cstring(b, 1024, &s, NULL) == SMT_ERR_TRUNCATED && smt_buf_len(b) == 7,
           "length 10 with 3 bytes: truncated, nothing consumed");
    smt_buf_reset(b);
    tap_ok(smt_buf_put_u8(b, 0) == 0 && smt_buf_put_u8(b, 0) == 0 &&
               smt_buf_get_cstring(b, 1024, &s, NULL) == SMT_ERR_TRUNCATED,
           "a 2-byte length field: truncated");
    smt_buf_reset(b);
    tap_ok(smt_buf_put_string(b, nul, sizeof(nul)) == 0 &&
               smt_buf_get_cstring(b, 1024, &s, NULL) == SMT_ERR_FORMAT && !s,
           "embedded NUL: format error");
    tap_ok(smt_buf_peek_string(b, 1024, &p, &len) == 0 && len == 3,
           "peek_string allows NUL bytes (not a C string)");
    smt_buf_free(b);
}

static void test_bounds(void)
{
    struct smt_buf *b = smt_buf_new(8);
    uint8_t *p = NULL;
    uint32_t v;
    int i, ok;

    tap_ok(smt_buf_max(b) == 8, "max reported");
    tap_ok(smt_buf_put(b, "12345678", 8) == 0, "fill to max");
    tap_ok(smt_buf_put_u8(b, 9) == SMT_ERR_TOO_LARGE && smt_buf_len(b) == 8,
           "one byte past max: too large, buffer unchanged");
    tap_ok(smt_buf_put_string(b, "", 0) == SMT_ERR_TOO_LARGE && smt_buf_len(b) == 8,
           "a string that does not fit leaves nothing behind");
    tap_ok(smt_buf_consume(b, 9) == SMT_ERR_TRUNCATED && smt_buf_len(b) == 8,
           "consume past the end: truncated");
    tap_ok(smt_buf_consume(b, 4) == 0 && smt_buf_put(b, "abcd", 4) == 0 && smt_buf_len(b) == 8 &&
               memcmp(smt_buf_ptr(b), "5678abcd", 8) == 0,
           "consumed bytes free room again (max bounds bytes held, data kept in order)");

    /* A ring of puts and gets through a small buffer: compaction and growth keep order. */
    smt_buf_free(b);
    b = smt_buf_new(300);
    ok = 1;
    for (i = 0; i < 5000 && ok; i++) {
        ok = smt_buf_put_u32(b, (uint32_t)i) == 0 && smt_buf_put_u32(b, (uint32_t)~i) == 0;
        if (i % 3 == 2) {
            while (ok && smt_buf_len(b) >= 8) {
                uint32_t a, c;

                ok = smt_buf_get_u32(b, &a) == 0 && smt_buf_get_u32(b, &c) == 0 && c == ~a;
            }
        }
    }
    tap_ok(ok, "5000 interleaved puts and gets through a 300-byte buffer stay in order");

    smt_buf_reset(b);
    tap_ok(smt_buf_reserve(b, 301, &p) == SMT_ERR_TOO_LARGE, "reserve past max: too large");
    tap_ok(smt_buf_reserve(b, 16, &p) == 0 && p && smt_buf_len(b) == 16, "reserve 16");
    memcpy(p, "ABCDEFGHIJKLMNOP", 16);
    smt_buf_unreserve(b, 10);
    tap_ok(smt_buf_len(b) == 6 && memcmp(smt_buf_ptr(b), "ABCDEF", 6) == 0,
           "unreserve gives back the tail");
    tap_ok(all_zero(p + 6, 10), "... and wipes it");

    tap_ok(smt_buf_poke_u32(b, 2, 0x31323334) == 0 && memcmp(smt_buf_ptr(b), "AB1234", 6) == 0,
           "poke_u32 overwrites in place");
    tap_ok(smt_buf_poke_u32(b, 3, 1) == SMT_ERR_INVALID, "poke_u32 past the end: invalid");
    v = 0;
    tap_ok(smt_buf_consume(b, 2) == 0 && smt_buf_get_u32(b, &v) == 0 && v == 0x31323334,
           "read back");
    smt_buf_free(b);
}

static void test_wiping(void)
{
    struct smt_buf *b = smt_buf_new(64);
    const uint8_t *p;
    struct smt_buf *c = NULL;
    char *s = NULL;

    tap_ok(smt_buf_put_cstring(b, "secret-value") == 0, "put a secret");
    p = smt_buf_ptr(b);
    tap_ok(smt_buf_get_cstring(b, 64, &s, NULL) == 0 && strcmp(s, "secret-value") == 0,
           "get it back");
    tap_ok(all_zero(p, 16), "consumed bytes are wiped at once");
    smt_buf_free_cstring(s);

    tap_ok(smt_buf_put(b, "another", 7) == 0, "put more");
    p = smt_buf_ptr(b);
    smt_buf_reset(b);
    tap_ok(smt_buf_len(b) == 0 && all_zero(p, 7), "reset wipes and empties");

    tap_ok(smt_buf_new_from("xyz", 3, &c) == 0 && smt_buf_len(c) == 3 && smt_buf_max(c) == 3 &&
               memcmp(smt_buf_ptr(c), "xyz", 3) == 0,
           "new_from copies the bytes, max = length");
    tap_ok(smt_buf_put_u8(c, 0) == SMT_ERR_TOO_LARGE, "... and is full");
    smt_buf_free(c);
    c = NULL;
    tap_ok(smt_buf_new_from(NULL, 0, &c) == 0 && smt_buf_len(c) == 0, "new_from an empty string");
    smt_buf_free(c);
    smt_buf_free(b);
    smt_buf_free(NULL);
    smt_buf_free_cstring(NULL);
    smt_buf_reset(NULL);
    tap_ok(1, "free/reset accept NULL");
}

int main(void)
{
    test_integers();
    test_strings();
    test_bounds();
    test_wiping();
    return tap_done();
}
