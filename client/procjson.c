/* smtoken client: credential_process JSON and RFC 3339 times (procjson.h).
 *
 * Hand-written on purpose: the client links libc only (DESIGN.md §1: no json-c, no libsodium in
 * smtoken), and all it needs is one flat object of a few strings and one number.  It reads the
 * bytes once, front to back, bounded by SMT_PROCJSON_MAX and a nesting limit for skipped
 * members, and it never copies a value anywhere but its own wiped result.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "client/procjson.h"

#define NEST_MAX 32
#define KEY_MAX  128

struct reader {
    const char *start, *p, *end;
    struct smt_diag *d;
};

static size_t at(const struct reader *rd)
{
    return (size_t)(rd->p - rd->start);
}

static int fail(struct reader *rd, const char *what)
{
    return smt_diag_set(rd->d, SMT_ERR_FORMAT, "credential_process JSON: %s at byte %zu", what,
                        at(rd));
}

static void skip_ws(struct reader *rd)
{
    while (rd->p < rd->end && (*rd->p == ' ' || *rd->p == '\t' || *rd->p == '\n' || *rd->p == '\r'))
        rd->p++;
}

static int expect(struct reader *rd, char c, const char *what)
{
    skip_ws(rd);
    if (rd->p >= rd->end || *rd->p != c)
        return fail(rd, what);
    rd->p++;
    return 0;
}

static int hex4(const char *p, unsigned *ret)
{
    unsigned v = 0;
    int i;

    for (i = 0; i < 4; i++) {
        char c = p[i];

        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *ret = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* One JSON string at rd->p (after whitespace) into a new NUL-terminated copy of at most cap
 * bytes (ret NULL: check and skip it).  The decoded form is never longer than the raw one. */
static int read_string(struct reader *rd, size_t cap, char **ret)
{
    const char *q;
    char *s = NULL, *o;
    size_t alloc = 0;
    unsigned cp, lo;
    int r;

    if ((r = expect(rd, '"', "expected a string")) < 0)
        goto out;
    for (q = rd->p; q < rd->end && *q != '"'; q++)
        if (*q == '\\')
            q++;
    if (q >= rd->end) {
        r = fail(rd, "unterminated string");
        goto out;
    }
    alloc = (size_t)(q - rd->p) + 1;
    if (!(s = malloc(alloc))) {
        r = SMT_ERR_NOMEM;
        goto out;
    }
    o = s;
    while (*rd->p != '"') {
        unsigned char c = (unsigned char)*rd->p;

        if (c < 0x20) {
            r = fail(rd, "control character in a string");
            goto out;
        }
        if (c != '\\') {
            *o++ = (char)c;
            rd->p++;
            continue;
        }
        rd->p++; /* q's scan guarantees a byte after the backslash, before the quote */
        switch (*rd->p) {
        case '"':
        case '\\':
        case '/':
            *o++ = *rd->p++;
            continue;
        case 'b':
            *o++ = '\b';
            rd->p++;
            continue;
        case 'f':
            *o++ = '\f';
            rd->p++;
            continue;
        case 'n':
            *o++ = '\n';
            rd->p++;
            continue;
        case 'r':
            *o++ = '\r';
            rd->p++;
            continue;
        case 't':
            *o++ = '\t';
            rd->p++;
            continue;
        case 'u':
            break;
        default:
            r = fail(rd, "bad escape in a string");
            goto out;
        }
        /* \uXXXX, and a surrogate pair as two of them; 6 raw bytes give at most 3 decoded,
         * 12 give 4, so o never passes the raw length. */
        if (q - rd->p < 5 || hex4(rd->p + 1, &cp) < 0) {
            r = fail(rd, "bad \\u escape");
            goto out;
        }
        rd->p += 5;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (q - rd->p < 6 || rd->p[0] != '\\' || rd->p[1] != 'u' || hex4(rd->p + 2, &lo) < 0 ||
                lo < 0xdc00 || lo > 0xdfff) {
                r = fail(rd, "unpaired surrogate");
                goto out;
            }
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            rd->p += 6;
        } else if ((cp >= 0xdc00 && cp <= 0xdfff) || cp == 0) {
            r = fail(rd, cp ? "unpaired surrogate" : "NUL in a string");
            goto out;
        }
        o += put_utf8(o, cp);
    }
    rd->p++;
    *o = '\0';
    if ((size_t)(o - s) > cap) {
        r = smt_diag_set(rd->d, SMT_ERR_TOO_LARGE,
                         "credential_process JSON: a value is longer than %zu bytes", cap);
        goto out;
    }
    if (ret) {
        *ret = s;
        s = NULL;
    }
    r = 0;
out:
    if (s) {
        explicit_bzero(s, alloc);
        free(s);
    }
    return r;
}

/* A JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int skip_number(struct reader *rd)
{
    const char *p = rd->p, *e = rd->end;
    int r = 0;

    if (p < e && *p == '-')
        p++;
    if (p < e && *p == '0')
        p++;
    else if (p < e && *p >= '1' && *p <= '9')
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    else
        r = -1;
    if (r == 0 && p < e && *p == '.') {
        if (++p >= e || *p < '0' || *p > '9')
            r = -1;
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    if (r == 0 && p < e && (*p == 'e' || *p == 'E')) {
        if (++p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || *p < '0' || *p > '9')
            r = -1;
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    if (r < 0)
        return fail(rd, "bad number");
    rd->p = p;
    return 0;
}

static int skip_literal(struct reader *rd, const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(rd->end - rd->p) < n || memcmp(rd->p, word, n) != 0)
        return fail(rd, "expected a value");
    rd->p += n;
    return 0;
}

/* Skip one value of any kind (for members we do not use). */
static int skip_value(struct reader *rd, int depth)
{
    char close;
    int r;

    skip_ws(rd);
    if (rd->p >= rd->end) {
        r = fail(rd, "expected a value");
        goto out;
    }
    if (depth > NEST_MAX) {
        r = fail(rd, "nested too deeply");
        goto out;
    }
    switch (*rd->p) {
    case '"':
        r = read_string(rd, SMT_PROCJSON_MAX, NULL);
        goto out;
    case 't':
        r = skip_literal(rd, "true");
        goto out;
    case 'f':
        r = skip_literal(rd, "false");
        goto out;
    case 'n':
        r = skip_literal(rd, "null");
        goto out;
    case '{':
    case '[':
        break;
    default:
        r = skip_number(rd);
        goto out;
    }
    close = *rd->p == '{' ? '}' : ']';
    rd->p++;
    skip_ws(rd);
    if (rd->p < rd->end && *rd->p == close) {
        rd->p++;
        r = 0;
        goto out;
    }
    for (;;) {
        if (close == '}' && ((r = read_string(rd, SMT_PROCJSON_MAX, NULL)) < 0 ||
                             (r = expect(rd, ':', "expected ':'")) < 0))
            goto out;
        if ((r = skip_value(rd, depth + 1)) < 0)
            goto out;
        skip_ws(rd);
        if (rd->p >= rd->end || *rd->p != ',')
            break;
        rd->p++;
    }
    r = expect(rd, close, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
out:
    return r;
}

/* Only the number 1 (not "1", not 1.0): the format has had one version since 2018. */
static int read_version(struct reader *rd)
{
    const char *start;
    int r;

    skip_ws(rd);
    start = rd->p;
    if ((r = skip_number(rd)) < 0)
        goto out;
    if (rd->p - start != 1 || *start != '1') {
        r = smt_diag_set(rd->d, SMT_ERR_FORMAT,
                         "credential_process JSON: unsupported Version (only Version 1 is known)");
        goto out;
    }
    r = 0;
out:
    return r;
}

/* The members we read; bit marks them seen (duplicates are refused). */
enum { M_VERSION = 1, M_AK = 2, M_SK = 4, M_ST = 8, M_EXP = 16 };
static const struct {
    const char *key;
    int bit;
    size_t cap;
} members[] = {
    {"Version", M_VERSION, 0},         {"AccessKeyId", M_AK, 256}, {"SecretAccessKey", M_SK, 256},
    {"SessionToken", M_ST, 32 * 1024}, {"Expiration", M_EXP, 64},
};

static int read_member(struct reader *rd, struct smt_procjson *m, char **expiration, int *seen)
{
    char *key = NULL, **slot = NULL;
    size_t i, n = sizeof(members) / sizeof(members[0]);
    int r;

    if ((r = read_string(rd, KEY_MAX, &key)) < 0 || (r = expect(rd, ':', "expected ':'")) < 0)
        goto out;
    for (i = 0; i < n && strcmp(key, members[i].key) != 0; i++)
        ;
    if (i == n) {
        r = skip_value(rd, 1);
        goto out;
    }
    if (*seen & members[i].bit) {
        r = fail(rd, "duplicate member");
        goto out;
    }
    *seen |= members[i].bit;
    switch (members[i].bit) {
    case M_VERSION:
        r = read_version(rd);
        goto out;
    case M_AK:
        slot = &m->access_key;
        break;
    case M_SK:
        slot = &m->secret_key;
        break;
    case M_ST:
        slot = &m->session_token;
        break;
    default:
        slot = expiration;
        break;
    }
    skip_ws(rd);
    /* Optional members may be null. */
    if ((members[i].bit == M_ST || members[i].bit == M_EXP) && rd->p < rd->end && *rd->p == 'n')
        r = skip_literal(rd, "null");
    else
        r = read_string(rd, members[i].cap, slot);
out:
    free(key);
    return r;
}

int smt_procjson_parse(const char *text, size_t len, struct smt_procjson *ret, struct smt_diag *d)
{
    struct reader rd = {text, text, text + len, d};
    struct smt_procjson m = {0};
    char *expiration = NULL;
    int r, seen = 0;

    if (!text || !ret) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if (len > SMT_PROCJSON_MAX) {
        r = smt_diag_set(d, SMT_ERR_TOO_LARGE, "credential_process JSON is larger than %d bytes",
                         SMT_PROCJSON_MAX);
        goto out;
    }
    if ((r = expect(&rd, '{', "expected '{'")) < 0)
        goto out;
    skip_ws(&rd);
    if (rd.p < rd.end && *rd.p == '}') {
        rd.p++;
    } else {
        for (;;) {
            if ((r = read_member(&rd, &m, &expiration, &seen)) < 0)
                goto out;
            skip_ws(&rd);
            if (rd.p >= rd.end || *rd.p != ',')
                break;
            rd.p++;
        }
        if ((r = expect(&rd, '}', "expected ',' or '}'")) < 0)
            goto out;
    }
    skip_ws(&rd);
    if (rd.p != rd.end) {
        r = fail(&rd, "unexpected data after the object");
        goto out;
    }
    if (!(seen & M_VERSION)) {
        r = smt_diag_set(d, SMT_ERR_FORMAT, "credential_process JSON: no \"Version\": 1");
        goto out;
    }
    if (!m.access_key || !*m.access_key || !m.secret_key || !*m.secret_key) {
        r = smt_diag_set(d, SMT_ERR_FORMAT,
                         "credential_process JSON: AccessKeyId and SecretAccessKey are required");
        goto out;
    }
    if (expiration && smt_rfc3339_parse(expiration, &m.expiration) < 0) {
        r = smt_diag_set(d, SMT_ERR_FORMAT,
                         "credential_process JSON: Expiration is not an RFC 3339 time");
        goto out;
    }
    if (!m.session_token && !(m.session_token = calloc(1, 1))) {
        r = SMT_ERR_NOMEM;
        goto out;
    }
    *ret = m;
    explicit_bzero(&m, sizeof(m));
    r = 0;
out:
    free(expiration);
    smt_procjson_free(&m);
    return r;
}

void smt_procjson_free(struct smt_procjson *p)
{
    char **s[3];
    int i;

    if (!p)
        return;
    s[0] = &p->access_key;
    s[1] = &p->secret_key;
    s[2] = &p->session_token;
    for (i = 0; i < 3; i++) {
        if (*s[i]) {
            explicit_bzero(*s[i], strlen(*s[i]));
            free(*s[i]);
        }
    }
    explicit_bzero(p, sizeof(*p));
}

/* ---- RFC 3339 ---- */

static int digits(const char **p, int n, int *ret)
{
    int v = 0, i;

    for (i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *ret = v;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static long long days_from_civil(int y, int m, int d)
{
    long long era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int smt_rfc3339_parse(const char *s, uint64_t *ret)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = s;
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0, leap, r = SMT_ERR_FORMAT;
    long long t;

    if (!s || !ret) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if (digits(&p, 4, &y) < 0 || *p++ != '-' || digits(&p, 2, &mo) < 0 || *p++ != '-' ||
        digits(&p, 2, &d) < 0 || (*p != 'T' && *p != 't' && *p != ' ') || !*p++ ||
        digits(&p, 2, &h) < 0 || *p++ != ':' || digits(&p, 2, &mi) < 0 || *p++ != ':' ||
        digits(&p, 2, &sec) < 0)
        goto out;
    if (*p == '.') {
        if (*++p < '0' || *p > '9')
            goto out;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p++ == '+' ? 1 : -1;
        if (digits(&p, 2, &oh) < 0 || *p++ != ':' || digits(&p, 2, &om) < 0 || oh > 23 || om > 59)
            goto out;
    } else {
        goto out;
    }
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (*p || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
        h > 23 || mi > 59 || sec > 60)
        goto out;
    /* A leap second (:60) counts as the next second, as timegm would. */
    t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - sign * (oh * 3600 + om * 60);
    if (t < 0)
        goto out;
    *ret = (uint64_t)t;
    r = 0;
out:
    return r;
}
