/* smtoken-agent: credential sets in libsodium secure memory, and resolution the AWS CLI's way.
 *
 * The sources live in creds_env.c, creds_file.c and creds_process.c; this file holds the arena,
 * the order in which sources are tried (DESIGN §4) as a resolution plan (creds_internal.h),
 * what a planned command's run means, the region lookup and small shared helpers.
 */
#include <config.h> /* autoconf's; "config.h" would find agent/config.h */

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "agent/awsfiles.h"
#include "agent/creds.h"
#include "agent/creds_internal.h"

#define REGION_MAX 64

/* ---------------------------------------------------------------------------------------------
 * The arena */

int smt_creds_new(const char *access_key, size_t access_key_len, const char *secret_key,
                  size_t secret_key_len, const char *session_token, size_t session_token_len,
                  int64_t expiration, struct smt_creds **ret)
{
    struct smt_creds *c = NULL;
    size_t size;
    char *p;
    int r;

    if (!session_token)
        session_token_len = 0;
    if (!access_key || !secret_key || access_key_len == 0 || secret_key_len == 0) {
        r = SMT_ERR_CREDS;
        goto out;
    }
    if (access_key_len > SMT_ACCESS_KEY_MAX || secret_key_len > SMT_SECRET_KEY_MAX ||
        session_token_len > SMT_SESSION_TOKEN_MAX) {
        r = SMT_ERR_TOO_LARGE;
        goto out;
    }
    if (memchr(access_key, '\0', access_key_len) || memchr(secret_key, '\0', secret_key_len) ||
        (session_token_len && memchr(session_token, '\0', session_token_len))) {
        r = SMT_ERR_CREDS;
        goto out;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        r = SMT_ERR_NOMEM;
        goto out;
    }
    /* One allocation: sodium_malloc costs whole pages plus guard pages (NOTES.md). */
    size =
        access_key_len + 1 + secret_key_len + 1 + (session_token_len ? session_token_len + 1 : 0);
    c->arena = sodium_malloc(size);
    if (!c->arena) {
        r = SMT_ERR_NOMEM;
        goto out;
    }
    c->arena_size = size;
    p = c->arena;
    c->access_key = p;
    c->access_key_len = access_key_len;
    memcpy(p, access_key, access_key_len);
    p[access_key_len] = '\0';
    p += access_key_len + 1;
    c->secret_key = p;
    c->secret_key_len = secret_key_len;
    memcpy(p, secret_key, secret_key_len);
    p[secret_key_len] = '\0';
    p += secret_key_len + 1;
    if (session_token_len) {
        c->session_token = p;
        c->session_token_len = session_token_len;
        memcpy(p, session_token, session_token_len);
        p[session_token_len] = '\0';
    }
    c->expiration = expiration;
    sodium_mprotect_readonly(c->arena);
    *ret = c;
    c = NULL;
    r = 0;
out:
    smt_creds_free(c);
    return r;
}

void smt_creds_free(struct smt_creds *c)
{
    if (!c)
        return;
    if (c->arena)
        sodium_free(c->arena); /* makes it writable, wipes, unmaps */
    sodium_memzero(c, sizeof(*c));
    free(c);
}

void smt_creds_lock(const struct smt_creds *c)
{
    if (c && c->arena)
        sodium_mprotect_noaccess(c->arena);
}

void smt_creds_unlock(const struct smt_creds *c)
{
    if (c && c->arena)
        sodium_mprotect_readonly(c->arena);
}

/* ---------------------------------------------------------------------------------------------
 * Helpers shared by the sources */

int smt_creds_check_chars(const char *what, const char *v, size_t len, struct smt_diag *d)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];

        if (c <= 0x20 || c >= 0x7f) {
            smt_diag_set(d, SMT_ERR_CREDS,
                         "%s contains %s (byte %zu); AWS keys and tokens are printable ASCII", what,
                         c == '\n'  ? "a line break"
                         : c == ' ' ? "a space"
                                    : "an unexpected byte",
                         i + 1);
            smt_diag_hint(d, "check for a stray indented line, quote or space around the value");
            return SMT_ERR_CREDS;
        }
    }
    return 0;
}

static bool digits(const char *s, size_t n, int *ret)
{
    int v = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *ret = v;
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int smt_parse_rfc3339(const char *s, size_t n, int64_t *ret)
{
    static const unsigned char mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
    size_t i = 19;
    bool leap;

    if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        s[13] != ':' || s[16] != ':')
        return SMT_ERR_FORMAT;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec))
        return SMT_ERR_FORMAT;
    if (s[i] == '.') {
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            ;
        if (i == 20)
            return SMT_ERR_FORMAT;
    }
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        sign = s[i] == '-' ? -1 : 1;
        if (n - i == 6 && s[i + 3] == ':' && digits(s + i + 1, 2, &oh) && digits(s + i + 4, 2, &om))
            i += 6;
        else if (n - i == 5 && digits(s + i + 1, 2, &oh) && digits(s + i + 3, 2, &om))
            i += 5;
        else
            return SMT_ERR_FORMAT;
        if (oh > 23 || om > 59)
            return SMT_ERR_FORMAT;
    } else {
        return SMT_ERR_FORMAT;
    }
    if (i != n)
        return SMT_ERR_FORMAT;
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
        h > 23 || mi > 59 || sec > 59)
        return SMT_ERR_FORMAT;
    *ret = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec -
           sign * (oh * 3600 + om * 60);
    return 0;
}

const char *smt_creds_default_profile(const char **ret_var)
{
    static const char *const vars[] = {"AWS_DEFAULT_PROFILE", "AWS_PROFILE"};

    for (size_t i = 0; i < 2; i++) {
        const char *v = getenv(vars[i]);

        if (v) {
            if (ret_var)
                *ret_var = vars[i];
            return *v ? v : "default";
        }
    }
    if (ret_var)
        *ret_var = NULL;
    return "default";
}

/* $HOME, else the passwd entry's directory (copied into buf), else "/".  getpwuid_r: the
 * result lands in our buffer, not in libc's static storage. */
static const char *home_dir(char *buf, size_t size)
{
    const char *h = getenv("HOME");
    struct passwd pw, *res = NULL;
    char pwbuf[4096];

    if (h && *h)
        return h;
    if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &res) != 0 || !res || !res->pw_dir ||
        strlen(res->pw_dir) >= size)
        return "/";
    memcpy(buf, res->pw_dir, strlen(res->pw_dir) + 1);
    return buf;
}

int smt_creds_aws_path(const char *var, const char *file, char **ret)
{
    const char *v = getenv(var);
    char *p = NULL, home[1024];
    int n;

    if (v && *v) {
        if (v[0] == '~' && (v[1] == '/' || v[1] == '\0'))
            n = asprintf(&p, "%s%s", home_dir(home, sizeof(home)), v + 1);
        else
            n = asprintf(&p, "%s", v);
    } else {
        n = asprintf(&p, "%s/.aws/%s", home_dir(home, sizeof(home)), file);
    }
    if (n < 0)
        return SMT_ERR_NOMEM;
    *ret = p;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Resolution */

int smt_creds_resolve(const char *profile, struct smt_creds **ret, char *source, size_t source_len,
                      struct smt_diag *d)
{
    return smt_creds_resolve_opts(profile, NULL, ret, source, source_len, d);
}

void smt_creds_plan_free(struct smt_creds_plan *pl)
{
    if (!pl)
        return;
    smt_creds_free(pl->creds);
    smt_strv_free(pl->argv);
    sodium_memzero(pl, sizeof(*pl));
    free(pl);
}

int smt_creds_plan_new(const char *profile, struct smt_creds_plan **ret, struct smt_diag *d)
{
    struct smt_creds_plan *pl = NULL;
    const char *var = NULL;
    bool explicit_profile = profile != NULL;
    int r;

    if (!(pl = calloc(1, sizeof(*pl)))) {
        r = smt_diag_set(d, SMT_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (!profile) {
        r = smt_creds_from_env(&pl->creds, d);
        if (r == 0) {
            snprintf(pl->source, sizeof(pl->source), "env");
            goto done;
        }
        if (r != SMT_ERR_NOT_FOUND)
            goto out;
        profile = smt_creds_default_profile(&var);
        explicit_profile = var != NULL;
    }
    if ((r = smt_creds_plan_files(profile, explicit_profile, pl, d)) < 0)
        goto out;
done:
    *ret = pl;
    pl = NULL;
    r = 0;
out:
    smt_creds_plan_free(pl);
    return r;
}

int smt_creds_resolve_opts(const char *profile, const struct smt_creds_opts *o,
                           struct smt_creds **ret, char *source, size_t source_len,
                           struct smt_diag *d)
{
    struct smt_creds_plan *pl = NULL;
    struct smt_creds *c = NULL;
    int r;

    if ((r = smt_creds_plan_new(profile, &pl, d)) < 0 ||
        (r = smt_creds_plan_run(pl, o ? o->timeout_ms : 0, &c, d)) < 0)
        goto out;
    if (source && source_len)
        snprintf(source, source_len, "%s", pl->source);
    *ret = c;
    r = 0;
out:
    smt_creds_plan_free(pl);
    return r;
}

/* ---------------------------------------------------------------------------------------------
 * What a planned command's run means (shared by smt_creds_plan_run and agent/credjob.c) */

/* The first line of the child's stderr, printable ASCII, for a message. */
static void first_line(const struct smt_proc *p, char *out, size_t size)
{
    size_t i = 0, o = 0;

    while (i < p->err_len && (p->err[i] == '\n' || p->err[i] == '\r' || p->err[i] == ' '))
        i++;
    for (; i < p->err_len && p->err[i] != '\n' && o + 4 < size && o < 200; i++)
        out[o++] = (p->err[i] >= 0x20 && p->err[i] < 0x7f) ? p->err[i] : '?';
    out[o] = '\0';
}

int smt_creds_plan_finish(const struct smt_creds_plan *pl, const struct smt_proc *p, int r,
                          const struct smt_diag *sub, struct smt_creds **ret, struct smt_diag *d)
{
    struct smt_diag jd = {{0}, {0}, {0}};
    char line[256];

    if (!p) {
        r = smt_diag_set(d, r < 0 ? r : SMT_ERR_INTERNAL, "%s: %s", pl->what, sub ? sub->msg : "");
        goto out;
    }
    if (r < 0) {
        smt_diag_set(d, r, "%s %s", pl->what, sub ? sub->msg : "");
        goto out;
    }
    if (pl->aws_cli && WIFEXITED(p->status) && WEXITSTATUS(p->status) != 0 &&
        memmem(p->err, p->err_len, "Invalid choice", 14) &&
        memmem(p->err, p->err_len, "AWS CLI version 2", 17)) {
        /* AWS CLI v1 prints its usage for the subcommand it does not have. */
        r = smt_diag_set(d, SMT_ERR_CREDS,
                         "%s: the 'aws' first on PATH is AWS CLI version 1, which has no "
                         "'configure export-credentials'",
                         pl->what);
        smt_diag_hint(d, "install AWS CLI version 2 (2.9 or later) and put it first on PATH");
        goto out;
    }
    if (!WIFEXITED(p->status) || WEXITSTATUS(p->status) != 0) {
        /* The reason the process gives (its first stderr line, cut to 200 printable bytes) is
         * a detail: the user who asked sees it, logs never do (it could hold a secret).
         * stdout, which holds keys, never leaves p. */
        first_line(p, line, sizeof(line));
        if (WIFSIGNALED(p->status))
            r = smt_diag_set(d, SMT_ERR_CREDS, "%s was killed by signal %d", pl->what,
                             WTERMSIG(p->status));
        else
            r = smt_diag_set(d, SMT_ERR_CREDS, "%s failed (exit status %d)", pl->what,
                             WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -1);
        if (line[0])
            smt_diag_detail(d, "%s", line);
        if (pl->fail_hint[0])
            smt_diag_hint(d, "%s", pl->fail_hint);
        goto out;
    }
    if ((r = smt_creds_parse_process_json(p->out, p->out_len, ret, &jd)) < 0) {
        smt_diag_set(d, r, "%s: %s", pl->what, jd.msg);
        if (jd.hint[0])
            smt_diag_hint(d, "%s", jd.hint);
        goto out;
    }
    r = 0;
out:
    return r;
}

int smt_creds_plan_run(struct smt_creds_plan *pl, int timeout_ms, struct smt_creds **ret,
                       struct smt_diag *d)
{
    struct smt_diag sub = {{0}, {0}, {0}};
    struct smt_proc *p = NULL;
    int r;

    if (!pl->argv) {
        if (!pl->creds) {
            r = smt_diag_set(d, SMT_ERR_INTERNAL, "nothing to resolve");
            goto out;
        }
        *ret = pl->creds;
        pl->creds = NULL;
        r = 0;
        goto out;
    }
    if (timeout_ms <= 0)
        timeout_ms = SMT_CREDS_TIMEOUT_MS;
    r = smt_proc_spawn(pl->argv, &p, &sub);
    if (r == 0)
        r = smt_proc_run(p, timeout_ms, &sub);
    r = smt_creds_plan_finish(pl, p, r, &sub, ret, d);
out:
    smt_proc_free(p);
    return r;
}

/* ---------------------------------------------------------------------------------------------
 * Region */

static bool region_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > REGION_MAX)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* Printable copy of an untrusted, non-secret value for a message. */
static void show(char *out, size_t size, const char *s)
{
    size_t o = 0;

    for (size_t i = 0; s[i] && o + 4 < size && i < 64; i++)
        out[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    out[o] = '\0';
}

int smt_creds_region(const char *profile, char **ret, struct smt_diag *d)
{
    static const char *const vars[] = {"AWS_REGION", "AWS_DEFAULT_REGION"};
    struct smt_awsfile *fc = NULL, *ff = NULL;
    char *cpath = NULL, *fpath = NULL, *v = NULL, *out_v = NULL, shown[80];
    const char *from = NULL;
    int r;

    for (size_t i = 0; i < 2 && !from; i++) {
        const char *e = getenv(vars[i]);

        if (e && *e) {
            if (!(out_v = strdup(e))) {
                r = SMT_ERR_NOMEM;
                goto out;
            }
            from = vars[i];
        }
    }
    if (!from) {
        if (!profile)
            profile = smt_creds_default_profile(NULL);
        if ((r = smt_creds_aws_path("AWS_SHARED_CREDENTIALS_FILE", "credentials", &fpath)) < 0 ||
            (r = smt_creds_aws_path("AWS_CONFIG_FILE", "config", &cpath)) < 0)
            goto out;
        if ((r = smt_awsfile_read(fpath, SMT_AWSFILE_CREDENTIALS, &ff, d)) < 0 ||
            (r = smt_awsfile_read(cpath, SMT_AWSFILE_CONFIG, &fc, d)) < 0)
            goto out;
        /* botocore merges the credentials file's values over the config file's profile. */
        r = smt_awsfile_get(ff, profile, "region", &v, NULL, d);
        if (r == 0)
            from = fpath;
        if (r == SMT_ERR_NOT_FOUND) {
            r = smt_awsfile_get(fc, profile, "region", &v, NULL, d);
            if (r == 0)
                from = cpath;
        }
        if (r == SMT_ERR_NOT_FOUND) {
            *ret = NULL; /* no region anywhere: the caller says what to set */
            r = 0;
            goto out;
        }
        if (r < 0)
            goto out;
        if (!(out_v = strdup(v))) {
            r = SMT_ERR_NOMEM;
            goto out;
        }
    }
    if (!region_valid(out_v)) {
        show(shown, sizeof(shown), out_v);
        r = smt_diag_set(d, SMT_ERR_CONFIG, "region '%s' from %s is not a valid AWS region name",
                         shown, from);
        smt_diag_hint(d, "region names look like us-west-2");
        goto out;
    }
    *ret = out_v;
    out_v = NULL;
    r = 0;
out:
    if (v)
        sodium_free(v);
    free(out_v);
    free(cpath);
    free(fpath);
    smt_awsfile_free(fc);
    smt_awsfile_free(ff);
    return r;
}
