/* smtoken-agent: smtoken.conf (DESIGN §5), parsed with inih.
 *
 * inih on Debian cuts lines at 199 bytes into chunks it parses as separate lines, and its line
 * numbers then count chunks (NOTES.md).  So the bytes are checked first (no line longer than
 * SMT_CONFIG_LINE_MAX, no NUL), and inih reads them through our own reader, one physical line per
 * call, which keeps its line numbers true and lets the handler know the line it is looking at.
 * The reader also strips leading whitespace, so an indented line is an ordinary line instead of a
 * silent continuation of the previous value, and reads section headers itself (inih truncates
 * section names at 50 bytes).  Everything is staged in a new struct smt_config, returned only
 * when the whole file is valid.
 */
#include <config.h> /* autoconf's; "config.h" would find agent/config.h */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "agent/config.h"

#define CONFIG_FILE_MAX (1024 * 1024)
#define REGION_MAX      64
#define VALUE_MAX       256 /* endpoint, component and profile names */

enum sect { S_NONE, S_AGENT, S_ENDPOINT, S_BAD };

enum agent_key { A_DEFAULT, A_REFRESH, A_MIN_REMAINING, A_MINT, A_CREDENTIAL_TIMEOUT, A_COUNT };
static const char *const agent_keys[A_COUNT] = {"default", "refresh", "min_remaining", "mint",
                                                "credential_timeout"};

enum ep_key {
    E_SERVICE,
    E_REGION,
    E_ENDPOINT,
    E_COMPONENT,
    E_PROFILE,
    E_LIFETIME,
    E_BASE_URL,
    E_SINK,
    E_SINK_FORMAT,
    E_COUNT
};
static const char *const ep_keys[E_COUNT] = {
    "service",  "region",   "endpoint", "inference_component", "profile",
    "lifetime", "base_url", "sink",     "sink_format"};

struct ctx {
    const char *name; /* for messages */
    const char *text;
    size_t len, pos;
    unsigned line; /* physical line the reader last returned */

    enum sect sect;
    size_t cur; /* index of the current endpoint */
    unsigned agent_line;
    unsigned agent_seen[A_COUNT];
    unsigned ep_seen[E_COUNT];
    struct smt_config *c;

    int oom;
    unsigned err_line;
    char err[400];
    /* Errors about a whole section (a missing key) count only when no line has an error: the
     * missing key may be the one on a line already reported as invalid. */
    struct ctx *late;
};

static void cfg_error(struct ctx *x, unsigned line, const char *fmt, ...) SMT_PRINTF(3, 4);
static void cfg_error(struct ctx *x, unsigned line, const char *fmt, ...)
{
    va_list ap;

    if (x->err_line != 0 && x->err_line <= line)
        return; /* the first error in the file is the one reported */
    x->err_line = line;
    va_start(ap, fmt);
    vsnprintf(x->err, sizeof(x->err), fmt, ap);
    va_end(ap);
}

/* A printable, bounded copy of a (non-secret) value for a message. */
static const char *shown(const char *s, char *buf, size_t size)
{
    size_t o = 0, i;

    for (i = 0; s[i] && o + 4 < size && i < 64; i++)
        buf[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (s[i] && o + 4 <= size) {
        buf[o++] = '.';
        buf[o++] = '.';
        buf[o++] = '.';
    }
    buf[o] = '\0';
    return buf;
}

static bool all_of(const char *s, const char *set)
{
    return strspn(s, set) == strlen(s);
}

#define LOWER_DIGITS "abcdefghijklmnopqrstuvwxyz0123456789"
#define NAME_CHARS   "ABCDEFGHIJKLMNOPQRSTUVWXYZ" LOWER_DIGITS "_.-"

static bool region_valid(const char *s)
{
    size_t n = strlen(s);

    return n > 0 && n <= REGION_MAX && all_of(s, LOWER_DIGITS "-");
}

static bool name_valid(const char *s)
{
    size_t n = strlen(s);

    return n > 0 && n <= SMT_NAME_MAX && all_of(s, NAME_CHARS);
}

/* No control characters; spaces only if allowed. */
static bool printable(const char *s, bool spaces)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c < 0x20 || c == 0x7f || (c == ' ' && !spaces))
            return false;
    }
    return true;
}

/* ---------------------------------------------------------------------------------------------
 * Values */

int smt_parse_duration(const char *s, uint32_t *ret)
{
    uint64_t v = 0, mult = 1;
    size_t i = 0;

    if (!s)
        return SMT_ERR_INVALID;
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > UINT32_MAX)
            return SMT_ERR_INVALID;
    }
    if (i == 0)
        return SMT_ERR_INVALID;
    if (s[i] == 's')
        i++;
    else if (s[i] == 'm')
        mult = 60, i++;
    else if (s[i] == 'h')
        mult = 3600, i++;
    if (s[i] != '\0' || v * mult > UINT32_MAX)
        return SMT_ERR_INVALID;
    *ret = (uint32_t)(v * mult);
    return 0;
}

int smt_parse_percent(const char *s, unsigned *ret)
{
    unsigned v = 0;
    size_t i = 0;

    if (!s)
        return SMT_ERR_INVALID;
    for (; s[i] >= '0' && s[i] <= '9' && i < 4; i++)
        v = v * 10 + (unsigned)(s[i] - '0');
    if (i == 0)
        return SMT_ERR_INVALID;
    if (s[i] == '%')
        i++;
    if (s[i] != '\0' || v > 100)
        return SMT_ERR_INVALID;
    *ret = v;
    return 0;
}

static int set_string(struct ctx *x, char **field, const char *value)
{
    char *v = strdup(value);

    if (!v) {
        x->oom = 1;
        return 0;
    }
    free(*field);
    *field = v;
    return 1;
}

/* ---------------------------------------------------------------------------------------------
 * Sections */

/* Checks that need a whole [endpoint] section; called when the next one starts and at EOF. */
static void finish_endpoint(struct ctx *x)
{
    struct smt_endpoint *e;
    struct ctx *late = x->late ? x->late : x;

    if (x->sect != S_ENDPOINT)
        return;
    e = &x->c->endpoints[x->cur];
    if (x->ep_seen[E_SINK_FORMAT] && !e->sink)
        cfg_error(late, x->ep_seen[E_SINK_FORMAT],
                  "'sink_format' without 'sink = PATH' in [endpoint %s]", e->name);
    /* Two endpoints rewriting one file would each clobber the other's token. */
    for (size_t i = 0; e->sink && i < x->cur; i++)
        if (x->c->endpoints[i].sink && strcmp(x->c->endpoints[i].sink, e->sink) == 0)
            cfg_error(x, x->ep_seen[E_SINK], "sink %s is also the sink of [endpoint %s]", e->sink,
                      x->c->endpoints[i].name);
    if (e->service == SMT_SVC_BEDROCK) {
        if (e->endpoint)
            cfg_error(x, x->ep_seen[E_ENDPOINT],
                      "'endpoint' is for service sagemaker; [endpoint %s] "
                      "is service bedrock",
                      e->name);
        if (e->inference_component)
            cfg_error(x, x->ep_seen[E_COMPONENT],
                      "'inference_component' is for service "
                      "sagemaker; [endpoint %s] is service bedrock",
                      e->name);
    } else if (!e->endpoint && !e->base_url) {
        cfg_error(late, e->line,
                  "[endpoint %s] needs 'endpoint = NAME' (the SageMaker endpoint) or "
                  "'base_url = URL'",
                  e->name);
    }
}

static void start_section(struct ctx *x, const char *p, size_t n)
{
    const char *close = memchr(p, ']', n);
    char inner[SMT_CONFIG_LINE_MAX + 1], buf[80];
    size_t a, b, k;
    struct smt_endpoint *v;

    finish_endpoint(x);
    x->sect = S_BAD;
    if (!close) {
        cfg_error(x, x->line, "section header without ']'");
        return;
    }
    for (k = (size_t)(close - p) + 1; k < n && (p[k] == ' ' || p[k] == '\t'); k++)
        ;
    if (k < n && p[k] != ';' && p[k] != '#') {
        cfg_error(x, x->line, "unexpected text after the section header");
        return;
    }
    /* trim the text between the brackets */
    for (a = 1; a < (size_t)(close - p) && (p[a] == ' ' || p[a] == '\t'); a++)
        ;
    for (b = (size_t)(close - p); b > a && (p[b - 1] == ' ' || p[b - 1] == '\t'); b--)
        ;
    memcpy(inner, p + a, b - a);
    inner[b - a] = '\0';
    if (strcmp(inner, "agent") == 0) {
        if (x->agent_line) {
            cfg_error(x, x->line, "duplicate [agent] section (first on line %u)", x->agent_line);
            return;
        }
        x->agent_line = x->line;
        x->sect = S_AGENT;
        return;
    }
    if (strncmp(inner, "endpoint", 8) != 0 || (inner[8] != ' ' && inner[8] != '\t')) {
        cfg_error(x, x->line, "unknown section [%s]; expected [agent] or [endpoint NAME]",
                  shown(inner, buf, sizeof(buf)));
        return;
    }
    for (a = 8; inner[a] == ' ' || inner[a] == '\t'; a++)
        ;
    if (!name_valid(inner + a)) {
        cfg_error(x, x->line, "endpoint name '%s' is not 1-%d characters of A-Z a-z 0-9 _ . -",
                  shown(inner + a, buf, sizeof(buf)), SMT_NAME_MAX);
        return;
    }
    for (k = 0; k < x->c->n_endpoints; k++) {
        if (strcmp(x->c->endpoints[k].name, inner + a) == 0) {
            cfg_error(x, x->line, "duplicate [endpoint %s] (first on line %u)", inner + a,
                      x->c->endpoints[k].line);
            return;
        }
    }
    v = reallocarray(x->c->endpoints, x->c->n_endpoints + 1, sizeof(*v));
    if (!v) {
        x->oom = 1;
        return;
    }
    x->c->endpoints = v;
    x->cur = x->c->n_endpoints;
    v = &v[x->cur];
    *v = (struct smt_endpoint){
        .service = SMT_SVC_SAGEMAKER, .lifetime = SMT_LIFETIME_MAX, .line = x->line};
    x->c->n_endpoints++;
    if (!(v->name = strdup(inner + a))) {
        x->oom = 1;
        return;
    }
    memset(x->ep_seen, 0, sizeof(x->ep_seen));
    x->sect = S_ENDPOINT;
}

/* inih's reader: one physical line per call, leading whitespace removed, sections noted. */
static char *reader(char *str, int num, void *stream)
{
    struct ctx *x = stream;
    const char *p, *eol;
    size_t n;

    if (x->pos >= x->len || num < 1)
        return NULL;
    p = x->text + x->pos;
    eol = memchr(p, '\n', x->len - x->pos);
    n = eol ? (size_t)(eol - p) : x->len - x->pos;
    x->pos += n + (eol ? 1 : 0);
    x->line++;
    if (n > 0 && p[n - 1] == '\r')
        n--;
    if (x->line == 1 && n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
        p += 3;
        n -= 3;
    }
    while (n > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    if (n > (size_t)num - 1)
        n = (size_t)num - 1; /* cannot happen: lines were checked against the limit */
    memcpy(str, p, n);
    str[n] = '\0';
    if (n > 0 && p[0] == '[')
        start_section(x, p, n);
    return str;
}

/* ---------------------------------------------------------------------------------------------
 * Keys */

static int agent_key(struct ctx *x, int k, const char *value)
{
    struct smt_config *c = x->c;
    char buf[80];
    uint32_t d;
    unsigned pct;

    switch (k) {
    case A_DEFAULT:
        if (!name_valid(value)) {
            cfg_error(x, x->line, "default = '%s' is not an endpoint name",
                      shown(value, buf, sizeof(buf)));
            return 0;
        }
        return set_string(x, &c->default_name, value);
    case A_REFRESH:
        if (smt_parse_percent(value, &pct) < 0 || pct < 1 || pct > 99) {
            cfg_error(x, x->line,
                      "refresh = '%s' is not a share of the lifetime between 1%% "
                      "and 99%%",
                      shown(value, buf, sizeof(buf)));
            return 0;
        }
        c->refresh_pct = pct;
        return 1;
    case A_MIN_REMAINING:
        if (smt_parse_duration(value, &d) < 0 || d > SMT_LIFETIME_MAX) {
            cfg_error(x, x->line,
                      "min_remaining = '%s' is not a duration between 0 and 12h "
                      "(like 60s, 5m)",
                      shown(value, buf, sizeof(buf)));
            return 0;
        }
        c->min_remaining = d;
        return 1;
    case A_MINT:
        if (strcmp(value, "cached") != 0 && strcmp(value, "per-request") != 0) {
            cfg_error(x, x->line, "mint = '%s': expected cached or per-request",
                      shown(value, buf, sizeof(buf)));
            return 0;
        }
        c->per_request = strcmp(value, "per-request") == 0;
        return 1;
    case A_CREDENTIAL_TIMEOUT:
        if (smt_parse_duration(value, &d) < 0 || d < SMT_CREDENTIAL_TIMEOUT_MIN ||
            d > SMT_CREDENTIAL_TIMEOUT_MAX) {
            cfg_error(x, x->line,
                      "credential_timeout = '%s' is not a duration between 1s and 100s "
                      "(like 30s, 2m)",
                      shown(value, buf, sizeof(buf)));
            return 0;
        }
        c->credential_timeout = d;
        return 1;
    }
    return 0;
}

static int endpoint_key(struct ctx *x, int k, const char *value)
{
    struct smt_endpoint *e = &x->c->endpoints[x->cur];
    char buf[80];
    uint32_t d;

    switch (k) {
    case E_SERVICE:
        if (strcmp(value, "sagemaker") == 0)
            e->service = SMT_SVC_SAGEMAKER;
        else if (strcmp(value, "bedrock") == 0)
            e->service = SMT_SVC_BEDROCK;
        else {
            cfg_error(x, x->line, "service = '%s': expected sagemaker or bedrock",
                      shown(value, buf, sizeof(buf)));
            return 0;
        }
        return 1;
    case E_REGION:
        if (!region_valid(value)) {
            cfg_error(x, x->line, "region = '%s' is not an AWS region name (like us-west-2)",
                      shown(value, buf, sizeof(buf)));
            return 0;
        }
        return set_string(x, &e->region, value);
    case E_ENDPOINT:
    case E_COMPONENT:
        if (strlen(value) > VALUE_MAX || !printable(value, false)) {
            cfg_error(x, x->line, "%s = '%s' is not a SageMaker name", ep_keys[k],
                      shown(value, buf, sizeof(buf)));
            return 0;
        }
        return set_string(x, k == E_ENDPOINT ? &e->endpoint : &e->inference_component, value);
    case E_PROFILE:
        if (strlen(value) > VALUE_MAX || !printable(value, true)) {
            cfg_error(x, x->line, "profile = '%s' is not an AWS profile name",
                      shown(value, buf, sizeof(buf)));
            return 0;
        }
        return set_string(x, &e->profile, value);
    case E_LIFETIME:
        if (smt_parse_duration(value, &d) < 0) {
            cfg_error(x, x->line, "lifetime = '%s' is not a duration (like 900, 15m, 12h)",
                      shown(value, buf, sizeof(buf)));
            return 0;
        }
        if (d < SMT_LIFETIME_MIN || d > SMT_LIFETIME_MAX) {
            cfg_error(x, x->line, "lifetime = %s is %s; tokens live 1s to 12h", value,
                      d == 0 ? "zero" : "over 12h");
            return 0;
        }
        e->lifetime = d;
        return 1;
    case E_BASE_URL:
        if ((strncmp(value, "https://", 8) != 0 && strncmp(value, "http://", 7) != 0) ||
            strlen(value) <= 8 || !printable(value, false)) {
            cfg_error(x, x->line, "base_url = '%s' is not an http:// or https:// URL",
                      shown(value, buf, sizeof(buf)));
            return 0;
        }
        if (strchr(value, '\'')) {
            /* smtoken env quotes every value in single quotes (client/shell.c): a quote could
             * never be printed safely, so it is refused here, where the user can fix it. */
            cfg_error(x, x->line, "base_url = '%s' contains a single quote; write it as %%27",
                      shown(value, buf, sizeof(buf)));
            return 0;
        }
        return set_string(x, &e->base_url, value);
    case E_SINK:
        /* agent/sink.c checks the directory when it writes; here only the name's shape. */
        if (value[0] != '/' || value[strlen(value) - 1] == '/' || strlen(value) >= PATH_MAX ||
            !printable(value, true)) {
            cfg_error(x, x->line, "sink = '%s' is not an absolute file name",
                      shown(value, buf, sizeof(buf)));
            return 0;
        }
        return set_string(x, &e->sink, value);
    case E_SINK_FORMAT:
        if (smt_sink_format_parse(value, &e->sink_format) < 0) {
            cfg_error(x, x->line, "sink_format = '%s': expected raw, env, dotenv or json",
                      shown(value, buf, sizeof(buf)));
            return 0;
        }
        return 1;
    }
    return 0;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct ctx *x = user;
    const char *const *keys;
    unsigned *seen;
    int n, k;
    char buf[80], sbuf[80];

    (void)section; /* ours, from the reader, is not truncated */
    if (x->sect == S_BAD)
        return 0; /* the header's error is already recorded */
    if (x->sect == S_NONE) {
        cfg_error(x, x->line,
                  "'%s' is outside any section; put it under [agent] or [endpoint "
                  "NAME]",
                  shown(name, buf, sizeof(buf)));
        return 0;
    }
    keys = x->sect == S_AGENT ? agent_keys : ep_keys;
    n = x->sect == S_AGENT ? A_COUNT : E_COUNT;
    seen = x->sect == S_AGENT ? x->agent_seen : x->ep_seen;
    for (k = 0; k < n && strcmp(name, keys[k]) != 0; k++)
        ;
    if (k == n) {
        if (x->sect == S_AGENT)
            snprintf(sbuf, sizeof(sbuf), "[agent]");
        else
            snprintf(sbuf, sizeof(sbuf), "[endpoint %s]", x->c->endpoints[x->cur].name);
        cfg_error(x, x->line, "unknown key '%s' in %s", shown(name, buf, sizeof(buf)), sbuf);
        return 0;
    }
    if (seen[k]) {
        cfg_error(x, x->line, "duplicate key '%s' (first on line %u)", keys[k], seen[k]);
        return 0;
    }
    seen[k] = x->line;
    if (!*value) {
        cfg_error(x, x->line, "'%s' needs a value", keys[k]);
        return 0;
    }
    return x->sect == S_AGENT ? agent_key(x, k, value) : endpoint_key(x, k, value);
}

/* ---------------------------------------------------------------------------------------------
 * The file */

void smt_config_free(struct smt_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_endpoints; i++) {
        struct smt_endpoint *e = &c->endpoints[i];

        free(e->name);
        free(e->region);
        free(e->endpoint);
        free(e->inference_component);
        free(e->profile);
        free(e->base_url);
        free(e->sink);
    }
    free(c->endpoints);
    free(c->default_name);
    free(c->path);
    free(c);
}

/* Lines longer than inih's buffer and NUL bytes are rejected before inih sees anything. */
static bool check_bytes(struct ctx *x)
{
    size_t start = 0;
    unsigned line = 1;

    for (size_t i = 0; i <= x->len; i++) {
        if (i < x->len && x->text[i] == '\0') {
            cfg_error(x, line, "NUL byte in the file");
            return false;
        }
        if (i == x->len || x->text[i] == '\n') {
            size_t n = i - start;

            if (n > 0 && x->text[i - 1] == '\r')
                n--;
            if (n > SMT_CONFIG_LINE_MAX) {
                cfg_error(x, line, "line is %zu bytes long; the limit is %d", n,
                          SMT_CONFIG_LINE_MAX);
                return false;
            }
            start = i + 1;
            line++;
        }
    }
    return true;
}

int smt_config_parse(const char *text, size_t len, const char *name, struct smt_config **ret,
                     struct smt_diag *d)
{
    struct ctx late = {.err_line = 0};
    struct ctx x = {.name = name ? name : "smtoken.conf", .text = text, .len = len, .late = &late};
    struct smt_config *c = NULL;
    int r, line;

    c = calloc(1, sizeof(*c));
    if (!c || !(c->path = strdup(x.name))) {
        r = smt_diag_set(d, SMT_ERR_NOMEM, "out of memory");
        goto out;
    }
    c->refresh_pct = 80;
    c->min_remaining = 60;
    c->credential_timeout = SMT_CREDENTIAL_TIMEOUT_DEFAULT;
    x.c = c;
    if (check_bytes(&x)) {
        line = ini_parse_stream(reader, &x, handler, &x);
        finish_endpoint(&x);
        if (line < 0) {
            r = smt_diag_set(d, SMT_ERR_INTERNAL, "%s: inih failed (%d)", x.name, line);
            goto out;
        }
        if (line > 0 && (x.err_line == 0 || (unsigned)line < x.err_line)) {
            x.err_line = 0;
            cfg_error(&x, (unsigned)line, "expected [section], 'key = value' or a comment");
        }
    }
    if (x.oom) {
        r = smt_diag_set(d, SMT_ERR_NOMEM, "out of memory reading %s", x.name);
        goto out;
    }
    if (x.err_line == 0 && late.err_line != 0)
        cfg_error(&x, late.err_line, "%s", late.err);
    if (x.err_line == 0 && c->default_name && !smt_config_find(c, c->default_name))
        cfg_error(&x, x.agent_seen[A_DEFAULT], "default = %s names no [endpoint %s]",
                  c->default_name, c->default_name);
    if (x.err_line) {
        r = smt_diag_set(d, SMT_ERR_CONFIG, "%s:%u: %s", x.name, x.err_line, x.err);
        goto out;
    }
    *ret = c;
    c = NULL;
    r = 0;
out:
    smt_config_free(c);
    return r;
}

int smt_config_load(const char *path, struct smt_config **ret, struct smt_diag *d)
{
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    int fd, r;

    /* O_NONBLOCK: opening a FIFO nobody writes to would otherwise block the whole agent (a
     * reload runs in its event loop); anything but a regular file is refused below anyway. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        r = smt_diag_set(d, errno == ENOENT ? SMT_ERR_NOT_FOUND : SMT_ERR_SYSTEM,
                         "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) < 0) {
        r = smt_diag_set(d, SMT_ERR_SYSTEM, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        r = smt_diag_set(d, SMT_ERR_CONFIG, "cannot read %s: %s", path,
                         S_ISDIR(st.st_mode) ? "it is a directory" : "not a regular file");
        goto out;
    }
    if (st.st_size > CONFIG_FILE_MAX) {
        r = smt_diag_set(d, SMT_ERR_TOO_LARGE, "%s is larger than %d bytes", path, CONFIG_FILE_MAX);
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        r = smt_diag_set(d, SMT_ERR_NOMEM, "out of memory reading %s", path);
        goto out;
    }
    while (got < (size_t)st.st_size) {
        ssize_t k = read(fd, buf + got, (size_t)st.st_size - got);

        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            r = smt_diag_set(d, SMT_ERR_SYSTEM, "cannot read %s: %s", path, strerror(errno));
            goto out;
        }
        if (k == 0)
            break;
        got += (size_t)k;
    }
    r = smt_config_parse(buf, got, path, ret, d);
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    return r;
}

int smt_config_default_path(const char *explicit_path, char **ret)
{
    const char *v;
    char *p = NULL;
    int n;

    if (explicit_path && *explicit_path) {
        n = asprintf(&p, "%s", explicit_path);
    } else if ((v = getenv("SMTOKEN_CONFIG")) && *v) {
        n = asprintf(&p, "%s", v);
    } else if ((v = getenv("XDG_CONFIG_HOME")) && v[0] == '/') {
        n = asprintf(&p, "%s/smtoken/smtoken.conf", v);
    } else {
        const char *home = getenv("HOME");
        struct passwd *pw;

        if (!home || !*home) {
            pw = getpwuid(getuid());
            home = pw && pw->pw_dir ? pw->pw_dir : "/";
        }
        n = asprintf(&p, "%s/.config/smtoken/smtoken.conf", home);
    }
    if (n < 0)
        return SMT_ERR_NOMEM;
    *ret = p;
    return 0;
}

const struct smt_endpoint *smt_config_find(const struct smt_config *c, const char *name)
{
    if (!c)
        return NULL;
    if (!name || !*name) {
        if (c->default_name)
            name = c->default_name;
        else if (c->n_endpoints == 1)
            return &c->endpoints[0];
        else
            return NULL;
    }
    for (size_t i = 0; i < c->n_endpoints; i++)
        if (strcmp(c->endpoints[i].name, name) == 0)
            return &c->endpoints[i];
    return NULL;
}

/* Percent-encode a path segment: unreserved A-Za-z0-9-_.~ pass, every other byte is %XX. */
static char *quote(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s), o = 0;
    char *out = malloc(n * 3 + 1);

    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return out;
}

int smt_endpoint_base_url(const struct smt_endpoint *e, const char *region, char **ret)
{
    char *ep = NULL, *ic = NULL, *url = NULL;
    int r;

    if (e->base_url) {
        url = strdup(e->base_url);
        r = url ? 0 : SMT_ERR_NOMEM;
        goto done;
    }
    if (!region || !region_valid(region) || (e->service == SMT_SVC_SAGEMAKER && !e->endpoint)) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if (e->service == SMT_SVC_BEDROCK) {
        r = asprintf(&url, "https://bedrock-runtime.%s.amazonaws.com/openai/v1", region) < 0
                ? SMT_ERR_NOMEM
                : 0;
        goto done;
    }
    ep = quote(e->endpoint);
    ic = e->inference_component ? quote(e->inference_component) : NULL;
    if (!ep || (e->inference_component && !ic)) {
        r = SMT_ERR_NOMEM;
        goto out;
    }
    if (ic)
        r = asprintf(&url,
                     "https://runtime.sagemaker.%s.amazonaws.com/endpoints/%s/"
                     "inference-components/%s/openai/v1",
                     region, ep, ic);
    else
        r = asprintf(&url, "https://runtime.sagemaker.%s.amazonaws.com/endpoints/%s/openai/v1",
                     region, ep);
    r = r < 0 ? SMT_ERR_NOMEM : 0;
done:
    if (r < 0)
        goto out;
    *ret = url;
    url = NULL;
    r = 0;
out:
    free(ep);
    free(ic);
    free(url);
    return r;
}
