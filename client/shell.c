/* smtoken client: quoting for sh/csh/fish/json/dotenv and the list/status layout (shell.h).
 *
 * Quoting rules, checked against the real shells by tests/integration/agent-shells.sh:
 * - Everything is single-quoted.  A single quote can never appear inside (values are refused
 *   before quoting), so in sh and dotenv nothing else needs care.
 * - csh/tcsh expand history (`!`) even inside single quotes, also under eval; `\!` is the
 *   escape that works there, and a lone backslash stays literal.
 * - fish treats `\\` and `\'` as escapes inside single quotes, so a backslash is doubled.
 * - dotenv readers disagree about backslashes inside single quotes (python-dotenv unescapes,
 *   docker compose does not), so a value with a backslash is refused there.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "client/shell.h"

static const char *const env_names[SMT_ENV_MAX] = {
    "OPENAI_API_KEY",     "OPENAI_BASE_URL",          "OPENAI_API_BASE",
    "SMTOKEN_EXPIRES_AT", "AWS_BEARER_TOKEN_BEDROCK",
};

static const char *const token_prefix[2] = {"sagemaker-api-key-", "bedrock-api-key-"};
static const char *const service_names[2] = {"sagemaker", "bedrock"};

int smt_shell_parse(const char *name, enum smt_shell *ret)
{
    static const struct {
        const char *name;
        enum smt_shell sh;
    } names[] = {
        {"sh", SMT_SHELL_SH},         {"bash", SMT_SHELL_SH},   {"zsh", SMT_SHELL_SH},
        {"ksh", SMT_SHELL_SH},        {"dash", SMT_SHELL_SH},   {"csh", SMT_SHELL_CSH},
        {"tcsh", SMT_SHELL_CSH},      {"fish", SMT_SHELL_FISH}, {"json", SMT_SHELL_JSON},
        {"dotenv", SMT_SHELL_DOTENV},
    };
    size_t i;
    int r = SMT_ERR_INVALID;

    for (i = 0; name && ret && r < 0 && i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i].name) == 0) {
            *ret = names[i].sh;
            r = 0;
        }
    }
    return r;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && strcmp(s + n - m, suffix) == 0;
}

enum smt_shell smt_shell_default(const char *shell_env)
{
    if (shell_env && ends_with(shell_env, "csh"))
        return SMT_SHELL_CSH;
    if (shell_env && ends_with(shell_env, "fish"))
        return SMT_SHELL_FISH;
    return SMT_SHELL_SH;
}

int smt_shell_check_token(const char *token, uint8_t service)
{
    const char *p;
    size_t plen;
    int r = SMT_ERR_FORMAT;

    if (!token || service > 1)
        goto out;
    plen = strlen(token_prefix[service]);
    if (strncmp(token, token_prefix[service], plen) != 0 || token[plen] == '\0')
        goto out;
    for (p = token + plen; *p; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '+' || *p == '/' || *p == '='))
            goto out;
    }
    r = 0;
out:
    return r;
}

int smt_shell_check_value(const char *v)
{
    const unsigned char *p;
    int r = SMT_ERR_FORMAT;

    if (!v)
        goto out;
    for (p = (const unsigned char *)v; *p; p++)
        if (*p == '\'' || *p < 0x20 || *p == 0x7f)
            goto out;
    r = 0;
out:
    return r;
}

char *smt_sanitize(char *dst, size_t dst_size, const char *src)
{
    size_t i;

    if (!dst || dst_size == 0)
        return dst;
    for (i = 0; src && src[i] && i + 1 < dst_size; i++) {
        unsigned char c = (unsigned char)src[i];

        dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    dst[i] = '\0';
    return dst;
}

int smt_env_from_token(struct smt_env *e, const struct smt_msg_token *t, struct smt_diag *d)
{
    char name[SMT_NAME_LEN_MAX + 1];
    struct smt_env x = {0};
    int r;

    if (!e || !t) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    smt_sanitize(name, sizeof(name), t->name);
    if (smt_shell_check_token(t->token, t->service) < 0) {
        r = smt_diag_set(d, SMT_ERR_FORMAT,
                         "the agent sent a malformed token for endpoint '%s'; not using it", name);
        smt_diag_hint(d, "check that smtoken and smtoken-agent come from the same release");
        goto out;
    }
    if (!t->base_url || !*t->base_url) {
        r = smt_diag_set(d, SMT_ERR_FORMAT, "the agent sent no base URL for endpoint '%s'", name);
        goto out;
    }
    if (smt_shell_check_value(t->base_url) < 0) {
        r = smt_diag_set(d, SMT_ERR_FORMAT,
                         "the base URL of endpoint '%s' contains a quote or a control character",
                         name);
        smt_diag_hint(d, "fix base_url for [endpoint %s] in smtoken.conf", name);
        goto out;
    }
    snprintf(x.expires, sizeof(x.expires), "%llu", (unsigned long long)t->expires_at);
    x.name[0] = env_names[0];
    x.value[0] = t->token;
    x.name[1] = env_names[1];
    x.value[1] = t->base_url;
    x.name[2] = env_names[2];
    x.value[2] = t->base_url;
    x.name[3] = env_names[3];
    x.n = 4;
    if (t->service == 1) {
        x.name[4] = env_names[4];
        x.value[4] = t->token;
        x.n = 5;
    }
    *e = x;
    e->value[3] = e->expires; /* into *e, not into the local copy */
    r = 0;
out:
    return r;
}

const char *const *smt_env_all_names(size_t *ret_n)
{
    if (ret_n)
        *ret_n = SMT_ENV_MAX;
    return env_names;
}

static int put_s(struct smt_buf *out, const char *s)
{
    return smt_buf_put(out, s, strlen(s));
}

SMT_PRINTF(2, 3) static int put_f(struct smt_buf *out, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line))
        return SMT_ERR_TOO_LARGE;
    return smt_buf_put(out, line, (size_t)n);
}

int smt_json_put_string(struct smt_buf *out, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p;
    char esc[7];
    int r;

    if ((r = smt_buf_put_u8(out, '"')) < 0)
        goto out;
    for (p = (const unsigned char *)(s ? s : ""); *p && r == 0; p++) {
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            r = smt_buf_put(out, esc, 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[*p >> 4];
            esc[5] = hex[*p & 15];
            r = smt_buf_put(out, esc, 6);
        } else {
            r = smt_buf_put_u8(out, *p);
        }
    }
    if (r == 0)
        r = smt_buf_put_u8(out, '"');
out:
    return r;
}

static int put_single_quoted(struct smt_buf *out, enum smt_shell sh, const char *v)
{
    const char *p;
    int r;

    r = smt_buf_put_u8(out, '\'');
    for (p = v; *p && r == 0; p++) {
        if (sh == SMT_SHELL_CSH && *p == '!')
            r = put_s(out, "\\!");
        else if (sh == SMT_SHELL_FISH && *p == '\\')
            r = put_s(out, "\\\\");
        else
            r = smt_buf_put_u8(out, (uint8_t)*p);
    }
    if (r == 0)
        r = smt_buf_put_u8(out, '\'');
    return r;
}

int smt_shell_format_env(struct smt_buf *out, enum smt_shell sh, const struct smt_env *e,
                         struct smt_diag *d)
{
    static const char *const before[] = {"export ", "setenv ", "set -gx ", "", ""};
    static const char *const between[] = {"=", " ", " ", "", "="};
    static const char *const after[] = {";\n", ";\n", ";\n", "", "\n"};
    size_t i;
    int r = 0;

    if (!out || !e || e->n > SMT_ENV_MAX || (unsigned)sh > SMT_SHELL_DOTENV) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    /* Check everything before writing anything. */
    for (i = 0; i < e->n; i++) {
        if (smt_shell_check_value(e->value[i]) < 0) {
            r = smt_diag_set(d, SMT_ERR_FORMAT, "%s would hold a quote or a control character",
                             e->name[i]);
            goto out;
        }
        if (sh == SMT_SHELL_DOTENV && strchr(e->value[i], '\\')) {
            r = smt_diag_set(d, SMT_ERR_FORMAT,
                             "%s holds a backslash, which dotenv readers do not agree on",
                             e->name[i]);
            smt_diag_hint(d, "use --shell sh or --shell json");
            goto out;
        }
    }
    if (sh == SMT_SHELL_JSON) {
        r = smt_buf_put_u8(out, '{');
        for (i = 0; i < e->n && r == 0; i++) {
            if ((i == 0 || (r = smt_buf_put_u8(out, ',')) == 0) &&
                (r = smt_json_put_string(out, e->name[i])) == 0 &&
                (r = smt_buf_put_u8(out, ':')) == 0)
                r = smt_json_put_string(out, e->value[i]);
        }
        if (r == 0)
            r = put_s(out, "}\n");
        goto out;
    }
    for (i = 0; i < e->n && r == 0; i++) {
        if ((r = put_s(out, before[sh])) == 0 && (r = put_s(out, e->name[i])) == 0 &&
            (r = put_s(out, between[sh])) == 0 &&
            (r = put_single_quoted(out, sh, e->value[i])) == 0)
            r = put_s(out, after[sh]);
    }
out:
    return r;
}

int smt_shell_format_unset(struct smt_buf *out, enum smt_shell sh)
{
    static const char *const cmd[] = {"unset ", "unsetenv ", "set -e "};
    size_t i;
    int r = 0;

    if (!out || (sh != SMT_SHELL_SH && sh != SMT_SHELL_CSH && sh != SMT_SHELL_FISH)) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    for (i = 0; i < SMT_ENV_MAX && r == 0; i++)
        r = put_f(out, "%s%s;\n", cmd[sh], env_names[i]);
out:
    return r;
}

int smt_format_token_json(struct smt_buf *out, const struct smt_msg_token *t, struct smt_diag *d)
{
    struct smt_env e;
    int r;

    /* The same checks as env: nothing odd reaches a program that parses this. */
    if ((r = smt_env_from_token(&e, t, d)) < 0)
        goto out;
    if ((r = put_s(out, "{\"token\":")) < 0 || (r = smt_json_put_string(out, t->token)) < 0 ||
        (r = put_f(out, ",\"expires_at\":%llu,\"base_url\":", (unsigned long long)t->expires_at)) <
            0 ||
        (r = smt_json_put_string(out, t->base_url)) < 0 || (r = put_s(out, "}\n")) < 0)
        goto out;
    r = 0;
out:
    return r;
}

/* ---- list and status ---- */

char *smt_format_time(char *buf, size_t size, uint64_t t)
{
    struct tm tm;
    time_t tt = (time_t)t;

    /* Beyond year 9999 gmtime and the format stop making sense: show the number. */
    if (t == 0)
        snprintf(buf, size, "-");
    else if (t > 253402300799ULL || !gmtime_r(&tt, &tm) ||
             strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, size, "@%llu", (unsigned long long)t);
    return buf;
}

char *smt_format_relative(char *buf, size_t size, uint64_t t, time_t now)
{
    long long d = (long long)(t > (uint64_t)INT64_MAX ? INT64_MAX : t) - (long long)now;
    unsigned long long a = d < 0 ? (unsigned long long)-d : (unsigned long long)d;
    char span[32];

    if (a < 60)
        snprintf(span, sizeof(span), "%llus", a);
    else if (a < 3600)
        snprintf(span, sizeof(span), "%llum", a / 60);
    else if (a < 2 * 86400)
        snprintf(span, sizeof(span), "%lluh%02llum", a / 3600, a % 3600 / 60);
    else
        snprintf(span, sizeof(span), "%llud", a / 86400);
    if (d == 0)
        snprintf(buf, size, "now");
    else if (d > 0)
        snprintf(buf, size, "in %s", span);
    else
        snprintf(buf, size, "%s ago", span);
    return buf;
}

#define LIST_COLS 5

int smt_format_list(struct smt_buf *out, const struct smt_msg_list *l)
{
    char cell[LIST_COLS][SMT_SHORT_MAX + 1];
    size_t width[LIST_COLS] = {0}, pass, c, n;
    uint32_t i;
    int r = 0;

    if (!out || !l || (l->n > 0 && !l->e)) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    /* Pass 0 measures the columns, pass 1 prints them. */
    for (pass = 0; pass < 2 && r == 0; pass++) {
        for (i = 0; i < l->n && r == 0; i++) {
            const struct smt_msg_endpoint_info *e = &l->e[i];

            smt_sanitize(cell[0], sizeof(cell[0]), e->name);
            smt_sanitize(cell[1], sizeof(cell[1]), service_names[e->service > 1 ? 0 : e->service]);
            smt_sanitize(cell[2], sizeof(cell[2]), e->region && *e->region ? e->region : "-");
            smt_sanitize(cell[3], sizeof(cell[3]), e->profile && *e->profile ? e->profile : "-");
            smt_format_time(cell[4], sizeof(cell[4]), e->token_expires_at);
            for (c = 0; c < LIST_COLS && r == 0; c++) {
                n = strlen(cell[c]);
                if (pass == 0) {
                    width[c] = n > width[c] ? n : width[c];
                    continue;
                }
                /* The last column is padded only when "default" follows it. */
                if (c + 1 < LIST_COLS || e->is_default)
                    r = put_f(out, "%-*s  ", (int)width[c], cell[c]);
                else
                    r = put_s(out, cell[c]);
            }
            if (pass == 1 && r == 0)
                r = put_s(out, e->is_default ? "default\n" : "\n");
        }
    }
out:
    return r;
}

int smt_format_status(struct smt_buf *out, const struct smt_msg_list *l, time_t now)
{
    char name[SMT_NAME_LEN_MAX + 1], region[SMT_SHORT_MAX + 1], profile[SMT_NAME_LEN_MAX + 1];
    char source[SMT_SHORT_MAX + 1], url[SMT_URL_MAX + 1], err[SMT_TEXT_MAX + 1];
    char when[40], rel[40];
    uint32_t i;
    int r = 0;

    if (!out || !l || (l->n > 0 && !l->e)) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    for (i = 0; i < l->n && r == 0; i++) {
        const struct smt_msg_endpoint_info *e = &l->e[i];

        smt_sanitize(name, sizeof(name), e->name);
        smt_sanitize(region, sizeof(region), e->region && *e->region ? e->region : "-");
        smt_sanitize(profile, sizeof(profile), e->profile);
        smt_sanitize(source, sizeof(source), e->source);
        smt_sanitize(url, sizeof(url), e->base_url && *e->base_url ? e->base_url : "-");
        smt_sanitize(err, sizeof(err), e->last_error && *e->last_error ? e->last_error : "none");
        if ((i > 0 && (r = put_s(out, "\n")) < 0) ||
            (r = put_f(out, "%s%s\n", name, e->is_default ? " (default)" : "")) < 0 ||
            (r = put_f(out, "  service:      %s, region %s\n",
                       service_names[e->service > 1 ? 0 : e->service], region)) < 0 ||
            (r = put_f(out, "  profile:      %s\n", *profile ? profile : "(default chain)")) < 0 ||
            (r = put_s(out, "  base url:     ")) < 0 || (r = put_s(out, url)) < 0 ||
            (r = put_s(out, "\n  credentials:  ")) < 0)
            goto out;
        if (!*source)
            r = put_s(out, "not resolved yet\n");
        else if (e->cred_expires_at == 0)
            r = put_f(out, "%s, no expiry\n", source);
        else
            r = put_f(out, "%s, %s %s (%s)\n", source,
                      e->cred_expires_at > (uint64_t)now ? "expire" : "expired",
                      smt_format_time(when, sizeof(when), e->cred_expires_at),
                      smt_format_relative(rel, sizeof(rel), e->cred_expires_at, now));
        if (r < 0)
            goto out;
        if (e->token_expires_at == 0)
            r = put_s(out, "  token:        none cached\n");
        else
            r = put_f(out, "  token:        %s %s (%s)\n",
                      e->token_expires_at > (uint64_t)now ? "expires" : "expired",
                      smt_format_time(when, sizeof(when), e->token_expires_at),
                      smt_format_relative(rel, sizeof(rel), e->token_expires_at, now));
        if (r < 0)
            goto out;
        if (e->last_refresh == 0)
            r = put_s(out, "  last refresh: never\n");
        else
            r = put_f(out, "  last refresh: %s (%s)\n",
                      smt_format_time(when, sizeof(when), e->last_refresh),
                      smt_format_relative(rel, sizeof(rel), e->last_refresh, now));
        if (r < 0 || (r = put_s(out, "  last error:   ")) < 0 || (r = put_s(out, err)) < 0 ||
            (r = put_s(out, "\n")) < 0)
            goto out;
    }
out:
    return r;
}
