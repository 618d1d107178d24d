/* smtoken-agent: the AWS CLI's shared files, read the way botocore reads them (see awsfiles.h).
 *
 * Hand-written rather than inih: inih cuts lines at 200 bytes and session tokens are several KB,
 * and botocore's rules (Python's RawConfigParser: continuation lines, [DEFAULT], strict duplicate
 * checks, shlex-split profile headers) are not inih's.  A lookup rescans the whole file, which is
 * small, so that a file botocore would refuse is refused here too, wherever the error is.
 */
#include <config.h> /* autoconf's; "config.h" would find agent/config.h */

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "agent/awsfiles.h"

/* ---------------------------------------------------------------------------------------------
 * Characters, the way Python's str sees them (the files are decoded as UTF-8). */

/* Bytes of the whitespace character at p (str.isspace()), or 0.  Line breaks never get here. */
static size_t ws_at(const unsigned char *p, size_t n)
{
    if (n >= 1 && (p[0] == ' ' || (p[0] >= 0x09 && p[0] <= 0x0d) || (p[0] >= 0x1c && p[0] <= 0x1f)))
        return 1;
    if (n >= 2 && p[0] == 0xc2 && (p[1] == 0x85 || p[1] == 0xa0))
        return 2;
    if (n >= 3 && p[0] == 0xe1 && p[1] == 0x9a && p[2] == 0x80)
        return 3;
    if (n >= 3 && p[0] == 0xe2 && p[1] == 0x80 &&
        (p[2] <= 0x8a || p[2] == 0xa8 || p[2] == 0xa9 || p[2] == 0xaf))
        return 3;
    if (n >= 3 && p[0] == 0xe2 && p[1] == 0x81 && p[2] == 0x9f)
        return 3;
    if (n >= 3 && p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80)
        return 3;
    return 0;
}

/* Trim whitespace at both ends of [*p, *p + *n); *indent counts the characters trimmed at the
 * front (configparser compares indents in characters). */
static void strip(const unsigned char **p, size_t *n, size_t *indent)
{
    size_t k, cols = 0;

    while (*n > 0 && (k = ws_at(*p, *n)) > 0) {
        *p += k;
        *n -= k;
        cols++;
    }
    for (;;) {
        if (*n >= 1 && ws_at(*p + *n - 1, 1) == 1)
            *n -= 1;
        else if (*n >= 2 && ws_at(*p + *n - 2, 2) == 2)
            *n -= 2;
        else if (*n >= 3 && ws_at(*p + *n - 3, 3) == 3)
            *n -= 3;
        else
            break;
    }
    if (indent)
        *indent = cols;
}

/* Strict UTF-8, as Python's decoder: no overlong forms, no surrogates, nothing past U+10FFFF. */
bool smt_utf8_valid(const void *v, size_t n)
{
    const unsigned char *p = v;
    size_t i = 0;

    while (i < n) {
        unsigned char c = p[i];
        size_t need;
        unsigned char lo = 0x80, hi = 0xbf;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            need = 1;
        else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else
            return false;
        if (n - i <= need)
            return false;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= need; k++)
            if (p[i + k] < 0x80 || p[i + k] > 0xbf)
                return false;
        i += need + 1;
    }
    return true;
}

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Key equality after configparser's optionxform (str.lower); keys we look up are ASCII. */
static int keycmp(const unsigned char *a, size_t an, const unsigned char *b, size_t bn)
{
    size_t n = an < bn ? an : bn;

    for (size_t i = 0; i < n; i++) {
        if (lower(a[i]) != lower(b[i]))
            return lower(a[i]) < lower(b[i]) ? -1 : 1;
    }
    return an < bn ? -1 : an > bn ? 1 : 0;
}

/* ---------------------------------------------------------------------------------------------
 * Lines: Python's universal newlines (\n, \r\n, \r). */

struct line {
    const unsigned char *p; /* the line without its terminator */
    size_t n;
    size_t off; /* offset of the line in the text */
    unsigned no;
};

static bool next_line(const unsigned char *text, size_t len, size_t *pos, unsigned *no,
                      struct line *l)
{
    size_t i = *pos;

    if (i >= len)
        return false;
    l->p = text + i;
    l->off = i;
    l->no = ++*no;
    while (i < len && text[i] != '\n' && text[i] != '\r')
        i++;
    l->n = (size_t)(text + i - l->p);
    if (i < len)
        i += (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n') ? 2 : 1;
    *pos = i;
    return true;
}

/* What a stripped, non-empty, non-comment line is. */
enum kind_of_line { L_SECTION, L_OPTION, L_BAD };

struct parsed {
    enum kind_of_line kind;
    const unsigned char *a; /* section name, or key */
    size_t an;
    const unsigned char *v; /* value (options) */
    size_t vn;
};

static void parse_line(const unsigned char *s, size_t n, struct parsed *out)
{
    size_t i;

    /* SECTCRE is \[(?P<header>.+)\] matched at the start: up to the last ']', at least one
     * character between. */
    if (n >= 3 && s[0] == '[') {
        for (i = n - 1; i >= 2; i--) {
            if (s[i] == ']') {
                out->kind = L_SECTION;
                out->a = s + 1;
                out->an = i - 1;
                return;
            }
        }
    }
    /* OPTCRE: (?P<option>.*?)\s*(?P<vi>[=:])\s*(?P<value>.*)$ */
    for (i = 0; i < n && s[i] != '=' && s[i] != ':'; i++)
        ;
    if (i == n) {
        out->kind = L_BAD;
        return;
    }
    out->kind = L_OPTION;
    out->a = s;
    out->an = i;
    strip(&out->a, &out->an, NULL);
    out->v = s + i + 1;
    out->vn = n - i - 1;
    strip(&out->v, &out->vn, NULL);
}

/* ---------------------------------------------------------------------------------------------
 * shlex.split */

void smt_strv_free(char **v)
{
    if (!v)
        return;
    for (size_t i = 0; v[i]; i++)
        free(v[i]);
    free(v);
}

static bool shlex_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int smt_shlex_split(const char *s, size_t len, char ***ret_argv, size_t *ret_argc)
{
    char **argv = NULL, *word = NULL;
    size_t argc = 0, wn = 0, i = 0;
    bool in_word = false;
    int r;

    if (memchr(s, '\0', len)) {
        r = SMT_ERR_FORMAT;
        goto out;
    }
    /* At most one word per two bytes (plus one), each at most len bytes. */
    argv = calloc(len / 2 + 2, sizeof(*argv));
    word = malloc(len + 1);
    if (!argv || !word) {
        r = SMT_ERR_NOMEM;
        goto out;
    }
    while (i <= len) {
        char c = i < len ? s[i] : ' ';

        if (shlex_space(c)) {
            if (in_word) {
                word[wn] = '\0';
                argv[argc] = strndup(word, wn);
                if (!argv[argc]) {
                    r = SMT_ERR_NOMEM;
                    goto out;
                }
                argc++;
                in_word = false;
                wn = 0;
            }
            i++;
            continue;
        }
        in_word = true;
        if (c == '\\') {
            if (i + 1 >= len) {
                r = SMT_ERR_FORMAT; /* "No escaped character" */
                goto out;
            }
            word[wn++] = s[i + 1];
            i += 2;
        } else if (c == '\'') {
            for (i++; i < len && s[i] != '\''; i++)
                word[wn++] = s[i];
            if (i >= len) {
                r = SMT_ERR_FORMAT; /* "No closing quotation" */
                goto out;
            }
            i++;
        } else if (c == '"') {
            for (i++; i < len && s[i] != '"'; i++) {
                if (s[i] == '\\' && i + 1 < len && (s[i + 1] == '"' || s[i + 1] == '\\'))
                    i++;
                word[wn++] = s[i];
            }
            if (i >= len) {
                r = SMT_ERR_FORMAT;
                goto out;
            }
            i++;
        } else {
            word[wn++] = c;
            i++;
        }
    }
    argv[argc] = NULL;
    *ret_argv = argv;
    argv = NULL;
    if (ret_argc)
        *ret_argc = argc;
    r = 0;
out:
    free(word);
    smt_strv_free(argv);
    return r;
}

/* ---------------------------------------------------------------------------------------------
 * The scan */

struct rec {
    const unsigned char *sect; /* section name */
    size_t sect_n;
    const unsigned char *key; /* NULL for a section record */
    size_t key_n;
    unsigned line;
};

struct recs {
    struct rec *v;
    size_t n, cap;
};

struct scan {
    const unsigned char *text;
    size_t len;
    const char *name;
    enum smt_awsfile_kind kind;
    const char *profile;
    const char *key;

    bool target_exists;
    bool found, def_found;
    size_t found_off, def_off;
    unsigned found_line, def_line;

    struct recs sects, opts;
    unsigned err_line;
    char err[200];
};

static int recs_add(struct recs *r, const struct rec *x)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        struct rec *v = reallocarray(r->v, cap, sizeof(*v));

        if (!v)
            return SMT_ERR_NOMEM;
        r->v = v;
        r->cap = cap;
    }
    r->v[r->n++] = *x;
    return 0;
}

static int rec_cmp(const void *pa, const void *pb)
{
    const struct rec *a = pa, *b = pb;
    size_t n = a->sect_n < b->sect_n ? a->sect_n : b->sect_n;
    int c = memcmp(a->sect, b->sect, n);

    if (c == 0 && a->sect_n != b->sect_n)
        c = a->sect_n < b->sect_n ? -1 : 1;
    if (c == 0 && a->key)
        c = keycmp(a->key, a->key_n, b->key, b->key_n);
    if (c == 0)
        c = a->line < b->line ? -1 : a->line > b->line ? 1 : 0;
    return c;
}

/* Copy s into a message, printable ASCII only, at most 48 characters. */
static void show(char *out, size_t size, const unsigned char *s, size_t n)
{
    size_t o = 0;

    for (size_t i = 0; i < n && o + 4 < size && i < 48; i++)
        out[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
    if (n > 48 && o + 4 < size) {
        out[o++] = '.';
        out[o++] = '.';
        out[o++] = '.';
    }
    out[o] = '\0';
}

static void scan_error(struct scan *s, unsigned line, const char *what)
{
    if (s->err_line == 0 || line < s->err_line) {
        s->err_line = line;
        snprintf(s->err, sizeof(s->err), "%s", what);
    }
}

/* Duplicates (configparser is strict): the earliest second occurrence. */
static void find_duplicates(struct scan *s, struct recs *r, bool sections)
{
    char shown[64], shown2[64], msg[200];

    if (r->n < 2)
        return;
    qsort(r->v, r->n, sizeof(*r->v), rec_cmp);
    for (size_t i = 1; i < r->n; i++) {
        const struct rec *a = &r->v[i - 1], *b = &r->v[i];

        if (a->sect_n != b->sect_n || memcmp(a->sect, b->sect, a->sect_n) != 0)
            continue;
        if (!sections && keycmp(a->key, a->key_n, b->key, b->key_n) != 0)
            continue;
        if (s->err_line != 0 && b->line >= s->err_line)
            continue;
        show(shown, sizeof(shown), b->sect, b->sect_n);
        if (sections) {
            snprintf(msg, sizeof(msg), "duplicate section [%s] (first on line %u)", shown, a->line);
        } else {
            show(shown2, sizeof(shown2), b->key, b->key_n);
            snprintf(msg, sizeof(msg), "duplicate key '%s' in [%s] (first on line %u)", shown2,
                     shown, a->line);
        }
        scan_error(s, b->line, msg);
    }
}

/* Does section header [h] name s->profile? */
static int is_target(const struct scan *s, const unsigned char *h, size_t n, bool *ret)
{
    char **parts = NULL;
    size_t nparts = 0, plen = strlen(s->profile);
    int r;

    *ret = false;
    if (s->kind == SMT_AWSFILE_CREDENTIALS) {
        *ret = n == plen && memcmp(h, s->profile, n) == 0 && !(n == 7 && !memcmp(h, "DEFAULT", 7));
        return 0;
    }
    if (n == 7 && memcmp(h, "default", 7) == 0) {
        *ret = strcmp(s->profile, "default") == 0;
        return 0;
    }
    if (n < 7 || memcmp(h, "profile", 7) != 0)
        return 0;
    /* botocore: shlex.split(section); exactly two words -> profile words[1]; unsplittable
     * headers are skipped. */
    r = smt_shlex_split((const char *)h, n, &parts, &nparts);
    if (r == SMT_ERR_FORMAT)
        return 0;
    if (r < 0)
        return r;
    *ret = nparts == 2 && strcmp(parts[1], s->profile) == 0;
    smt_strv_free(parts);
    return 0;
}

static int scan_text(struct scan *s)
{
    struct line l;
    size_t pos = 0, indent_level = 0;
    unsigned no = 0;
    bool have_sect = false, sect_default = false, sect_target = false;
    const unsigned char *sect = NULL;
    size_t sect_n = 0;
    bool have_opt = false, opt_nested = false;
    int r;

    while (next_line(s->text, s->len, &pos, &no, &l)) {
        const unsigned char *p = l.p;
        size_t n = l.n, indent;
        struct parsed pl;

        if (!smt_utf8_valid(l.p, l.n)) {
            scan_error(s, l.no, "not valid UTF-8");
            break;
        }
        strip(&p, &n, &indent);
        if (n == 0 || p[0] == '#' || p[0] == ';')
            continue; /* blank lines and comments do not end a value */
        if (have_sect && have_opt && indent > indent_level) {
            /* A continuation line.  A value that starts empty is a block of nested settings,
             * each of which needs an '='. */
            if (opt_nested && !memchr(p, '=', n)) {
                scan_error(s, l.no, "expected 'key = value' in an indented block of settings");
                break;
            }
            continue;
        }
        indent_level = indent;
        parse_line(p, n, &pl);
        if (pl.kind == L_SECTION) {
            have_sect = true;
            have_opt = false;
            sect = pl.a;
            sect_n = pl.an;
            sect_default = sect_n == 7 && memcmp(sect, "DEFAULT", 7) == 0;
            sect_target = false;
            if (!sect_default) {
                struct rec x = {.sect = sect, .sect_n = sect_n, .line = l.no};

                if ((r = recs_add(&s->sects, &x)) < 0)
                    return r;
                if ((r = is_target(s, sect, sect_n, &sect_target)) < 0)
                    return r;
            }
            if (sect_target) {
                /* A later section for the same profile replaces the earlier one. */
                s->target_exists = true;
                s->found = false;
            }
            continue;
        }
        if (!have_sect) {
            scan_error(s, l.no, "a line before the first [section]");
            break;
        }
        if (pl.kind == L_BAD) {
            scan_error(s, l.no, "expected [section] or 'key = value'");
            break;
        }
        if (pl.an == 0) {
            scan_error(s, l.no, "a value without a key");
            break;
        }
        {
            struct rec x = {
                .sect = sect, .sect_n = sect_n, .key = pl.a, .key_n = pl.an, .line = l.no};

            if ((r = recs_add(&s->opts, &x)) < 0)
                return r;
        }
        have_opt = true;
        opt_nested = pl.vn == 0;
        if (s->key && keycmp(pl.a, pl.an, (const unsigned char *)s->key, strlen(s->key)) == 0) {
            if (sect_target) {
                s->found = true;
                s->found_off = l.off;
                s->found_line = l.no;
            } else if (sect_default) {
                s->def_found = true;
                s->def_off = l.off;
                s->def_line = l.no;
            }
        }
    }
    find_duplicates(s, &s->sects, true);
    find_duplicates(s, &s->opts, false);
    return 0;
}

/* The value of the option on the line at off: its first line's value, then each continuation
 * line ('' for a blank one), joined by '\n', trailing whitespace removed (configparser).  Pass 0
 * measures (keep = up to the last non-blank piece), pass 1 copies. */
static int extract(const struct scan *s, size_t off, char **ret_value, size_t *ret_len)
{
    char *v = NULL;
    size_t keep = 0;
    bool nested = false;

    for (int pass = 0; pass < 2; pass++) {
        struct line l;
        struct parsed pl;
        const unsigned char *p;
        size_t pos = off, n, indent0, total;
        unsigned no = 0;

        next_line(s->text, s->len, &pos, &no, &l);
        p = l.p;
        n = l.n;
        strip(&p, &n, &indent0);
        parse_line(p, n, &pl);
        total = pl.vn;
        if (pass == 0)
            keep = pl.vn;
        else
            memcpy(v, pl.v, pl.vn);
        while (next_line(s->text, s->len, &pos, &no, &l)) {
            size_t indent;

            p = l.p;
            n = l.n;
            strip(&p, &n, &indent);
            if (n > 0 && (p[0] == '#' || p[0] == ';'))
                continue;
            if (n > 0 && indent <= indent0)
                break;
            if (pass == 1 && total + 1 + n <= keep) {
                v[total] = '\n';
                memcpy(v + total + 1, p, n);
            }
            total += 1 + n;
            if (n > 0) {
                nested = nested || pl.vn == 0;
                if (pass == 0)
                    keep = total;
            }
        }
        if (pass == 0) {
            if (nested)
                return SMT_ERR_FORMAT;
            v = sodium_malloc(keep + 1);
            if (!v)
                return SMT_ERR_NOMEM;
        }
    }
    v[keep] = '\0';
    *ret_value = v;
    *ret_len = keep;
    return 0;
}

int smt_awsfile_lookup(const char *text, size_t len, const char *name, enum smt_awsfile_kind kind,
                       const char *profile, const char *key, char **ret_value, size_t *ret_len,
                       struct smt_diag *d)
{
    struct scan s = {
        .text = (const unsigned char *)text,
        .len = len,
        .name = name ? name : "(AWS file)",
        .kind = kind,
        .profile = profile ? profile : "default",
        .key = key,
    };
    char *v = NULL;
    size_t vn = 0;
    int r;

    if ((r = scan_text(&s)) < 0) {
        smt_diag_set(d, r, "%s: %s", s.name, smt_strerror(r));
        goto out;
    }
    if (s.err_line) {
        r = smt_diag_set(d, SMT_ERR_FORMAT, "%s:%u: %s", s.name, s.err_line, s.err);
        goto out;
    }
    if (!s.target_exists || (key && !s.found && !s.def_found)) {
        r = SMT_ERR_NOT_FOUND;
        goto out;
    }
    if (!key) {
        r = 0;
        goto out;
    }
    r = extract(&s, s.found ? s.found_off : s.def_off, &v, &vn);
    if (r == SMT_ERR_FORMAT) {
        smt_diag_set(d, r, "%s:%u: '%s' holds indented settings, not a value", s.name,
                     s.found ? s.found_line : s.def_line, key);
        goto out;
    }
    if (r < 0)
        goto out;
    /* Every caller uses the value as a C string: an embedded NUL would cut it silently (a
     * credential_process "/bin/x\0 --flag" would run "/bin/x").  botocore refuses such a value
     * too (subprocess: "embedded null byte"). */
    if (memchr(v, '\0', vn)) {
        r = smt_diag_set(d, SMT_ERR_FORMAT, "%s:%u: '%s' holds a NUL byte", s.name,
                         s.found ? s.found_line : s.def_line, key);
        goto out;
    }
    if (ret_value) {
        *ret_value = v;
        v = NULL;
    }
    if (ret_len)
        *ret_len = vn;
    r = 0;
out:
    free(s.sects.v);
    free(s.opts.v);
    if (v)
        sodium_free(v);
    return r;
}

int smt_awsfile_get(const struct smt_awsfile *f, const char *profile, const char *key,
                    char **ret_value, size_t *ret_len, struct smt_diag *d)
{
    if (!f || !f->data)
        return SMT_ERR_NOT_FOUND;
    return smt_awsfile_lookup(f->data, f->len, f->path, f->kind, profile, key, ret_value, ret_len,
                              d);
}

int smt_awsfile_check(const struct smt_awsfile *f, struct smt_diag *d)
{
    int r;

    if (!f || !f->data)
        return 0;
    /* A profile name no section can have: only the parse errors remain. */
    r = smt_awsfile_lookup(f->data, f->len, f->path, f->kind, "\n", NULL, NULL, NULL, d);
    return r == SMT_ERR_NOT_FOUND ? 0 : r;
}

/* ---------------------------------------------------------------------------------------------
 * Reading a file into secure memory */

void smt_awsfile_free(struct smt_awsfile *f)
{
    if (!f)
        return;
    if (f->data)
        sodium_free(f->data); /* wipes */
    free(f->path);
    free(f);
}

int smt_awsfile_read(const char *path, enum smt_awsfile_kind kind, struct smt_awsfile **ret,
                     struct smt_diag *d)
{
    struct smt_awsfile *f = NULL;
    struct stat st;
    size_t got = 0;
    int fd = -1, r;

    f = calloc(1, sizeof(*f));
    if (!f || !(f->path = strdup(path))) {
        r = smt_diag_set(d, SMT_ERR_NOMEM, "out of memory reading %s", path);
        goto out;
    }
    f->kind = kind;
    /* O_NONBLOCK: a FIFO with no writer (a stale AWS_CONFIG_FILE=<(...)) would block the
     * agent's event loop in open(); it is skipped below like any other non-regular file. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0 && (errno == ENOENT || errno == ENOTDIR)) {
        r = 0; /* botocore: a missing file is an empty one */
        goto done;
    }
    if (fd < 0 || fstat(fd, &st) < 0) {
        r = smt_diag_set(d, SMT_ERR_SYSTEM, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        r = 0; /* botocore reads only regular files (os.path.isfile) */
        goto done;
    }
    if (st.st_size > SMT_AWSFILE_MAX) {
        r = smt_diag_set(d, SMT_ERR_TOO_LARGE, "%s is larger than %d bytes", path, SMT_AWSFILE_MAX);
        goto out;
    }
    f->data = sodium_malloc((size_t)st.st_size + 1);
    if (!f->data) {
        r = smt_diag_set(d, SMT_ERR_NOMEM, "cannot allocate secure memory for %s", path);
        goto out;
    }
    while (got < (size_t)st.st_size) {
        ssize_t k = read(fd, f->data + got, (size_t)st.st_size - got);

        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            r = smt_diag_set(d, SMT_ERR_SYSTEM, "cannot read %s: %s", path, strerror(errno));
            goto out;
        }
        if (k == 0)
            break; /* the file shrank: use what is there */
        got += (size_t)k;
    }
    f->data[got] = '\0';
    f->len = got;
done:
    *ret = f;
    f = NULL;
    r = 0;
out:
    if (fd >= 0)
        close(fd);
    smt_awsfile_free(f);
    return r;
}
