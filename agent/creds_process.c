/* smtoken-agent: credentials from a child process: a profile's credential_process, or the AWS
 * CLI's `aws configure export-credentials --format process` for SSO / assume-role / web
 * identity profiles.  Both print the credential_process JSON (Version 1).
 *
 * Planning, spawning and parsing are separate: the plan (argv, no shell) is made while the
 * files are read; smt_proc_spawn/pump let the agent's event loop drive the child
 * (agent/credjob.c); smt_proc_run drives it here, blocking, for --once.  The JSON reader is
 * hand-written (STYLE 12): the agent links no JSON library, and the strings it decodes are secrets
 * that must land in sodium memory, not in a library's heap.
 */
#include <config.h> /* autoconf's; "config.h" would find agent/config.h */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "agent/awsfiles.h"
#include "agent/creds.h"
#include "agent/creds_internal.h"

extern char **environ;

/* ---------------------------------------------------------------------------------------------
 * The child */

void smt_proc_free(struct smt_proc *p)
{
    if (!p)
        return;
    if (p->pid > 0) {
        kill(p->pid, SIGKILL);
        while (waitpid(p->pid, &p->status, 0) < 0 && errno == EINTR)
            ;
    }
    if (p->out_fd >= 0)
        close(p->out_fd);
    if (p->err_fd >= 0)
        close(p->err_fd);
    if (p->out)
        sodium_free(p->out); /* wipes */
    sodium_memzero(p, sizeof(*p));
    free(p);
}

int smt_proc_spawn(char *const argv[], struct smt_proc **ret, struct smt_diag *d)
{
    struct smt_proc *p = NULL;
    int outp[2] = {-1, -1}, errp[2] = {-1, -1}, r, e;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    bool fa_init = false, attr_init = false;
    sigset_t none, all;

    p = calloc(1, sizeof(*p));
    if (!p) {
        r = smt_diag_set(d, SMT_ERR_NOMEM, "out of memory");
        goto out;
    }
    p->out_fd = p->err_fd = -1;
    p->out = sodium_malloc(SMT_PROC_OUT_MAX + 1);
    if (!p->out) {
        r = smt_diag_set(d, SMT_ERR_NOMEM, "cannot allocate secure memory");
        goto out;
    }
    if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
        fcntl(outp[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(errp[0], F_SETFL, O_NONBLOCK) < 0) {
        r = smt_diag_set(d, SMT_ERR_SYSTEM, "cannot create a pipe: %s", strerror(errno));
        goto out;
    }
    if ((e = posix_spawn_file_actions_init(&fa)) != 0)
        goto spawn_failed;
    fa_init = true;
    if ((e = posix_spawnattr_init(&attr)) != 0)
        goto spawn_failed;
    attr_init = true;
    /* The pipes' originals are close-on-exec; dup2 gives the child plain copies. */
    sigemptyset(&none);
    sigfillset(&all);
    if ((e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) != 0 ||
        (e = posix_spawn_file_actions_adddup2(&fa, outp[1], 1)) != 0 ||
        (e = posix_spawn_file_actions_adddup2(&fa, errp[1], 2)) != 0 ||
        (e = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
        (e = posix_spawnattr_setsigdefault(&attr, &all)) != 0 ||
        (e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) != 0)
        goto spawn_failed;
    e = posix_spawnp(&p->pid, argv[0], &fa, &attr, argv, environ);
    if (e != 0) {
        p->pid = 0;
        goto spawn_failed;
    }
    close(outp[1]);
    close(errp[1]);
    outp[1] = errp[1] = -1;
    p->out_fd = outp[0];
    p->err_fd = errp[0];
    outp[0] = errp[0] = -1;
    *ret = p;
    p = NULL;
    r = 0;
    goto out;
spawn_failed:
    errno = e;
    r = smt_diag_set(d, SMT_ERR_SYSTEM, "cannot run '%s': %s", argv[0], strerror(e));
out:
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    if (attr_init)
        posix_spawnattr_destroy(&attr);
    for (int i = 0; i < 2; i++) {
        if (outp[i] >= 0)
            close(outp[i]);
        if (errp[i] >= 0)
            close(errp[i]);
    }
    smt_proc_free(p);
    return r;
}

void smt_proc_close_pipe(struct smt_proc *p, int fd)
{
    if (fd < 0)
        return;
    if (fd == p->out_fd)
        p->out_fd = -1;
    else if (fd == p->err_fd)
        p->err_fd = -1;
    else
        return;
    close(fd);
}

int smt_proc_pump(struct smt_proc *p, int fd)
{
    unsigned char drop[4096];
    bool is_out = fd == p->out_fd;
    int r = 0;

    /* A bounded number of reads per call: a child that writes as fast as we read must not keep
     * an event loop here (the pipe stays readable, so the caller comes back). */
    for (int reads = 0; reads < 16; reads++) {
        bool into_out = is_out && p->out_len < SMT_PROC_OUT_MAX;
        ssize_t k;

        if (is_out && p->out_overflow)
            break; /* the caller kills it: reading more is pointless */
        k = into_out ? read(fd, p->out + p->out_len, SMT_PROC_OUT_MAX - p->out_len)
                     : read(fd, drop, sizeof(drop));

        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            r = 0;
            break;
        }
        if (k <= 0) {
            /* EOF, or a read error, which ends that pipe just the same */
            r = 1;
            break;
        }
        if (into_out) {
            p->out_len += (size_t)k;
        } else if (is_out) {
            p->out_overflow = true;
        } else {
            size_t room = SMT_PROC_ERR_MAX - p->err_len;
            size_t n = (size_t)k < room ? (size_t)k : room;

            memcpy(p->err + p->err_len, drop, n);
            p->err_len += n;
        }
    }
    sodium_memzero(drop, sizeof(drop)); /* may hold the end of an oversized stdout */
    return r;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reap(struct smt_proc *p)
{
    while (p->pid > 0 && waitpid(p->pid, &p->status, 0) < 0) {
        if (errno != EINTR) {
            p->status = -1;
            break;
        }
    }
    p->pid = 0;
}

int smt_proc_diag_timeout(struct smt_diag *d, int timeout_ms)
{
    return smt_diag_set(d, SMT_ERR_TIMEOUT, "did not finish within %d s", timeout_ms / 1000);
}

int smt_proc_diag_overflow(struct smt_diag *d)
{
    return smt_diag_set(d, SMT_ERR_TOO_LARGE, "printed more than %d bytes", SMT_PROC_OUT_MAX);
}

int smt_proc_run(struct smt_proc *p, int timeout_ms, struct smt_diag *d)
{
    int64_t deadline = now_ms() + timeout_ms;
    int r;

    /* Until the child has exited and both pipes are at EOF, all within the deadline (a child
     * that closes its pipes but lingers is waited for, too, then killed). */
    while (p->pid > 0 || p->out_fd >= 0 || p->err_fd >= 0) {
        struct pollfd pfd[2];
        nfds_t n = 0;
        int64_t left = deadline - now_ms();
        int k;

        if (p->out_fd < 0 && p->err_fd < 0) {
            pid_t w = waitpid(p->pid, &p->status, WNOHANG);

            if (w == p->pid || (w < 0 && errno != EINTR)) {
                if (w < 0)
                    p->status = -1;
                p->pid = 0;
                break;
            }
        }
        if (left <= 0) {
            if (p->pid > 0)
                kill(p->pid, SIGKILL); /* never kill(0, ...): that is our process group */
            reap(p);
            r = smt_proc_diag_timeout(d, timeout_ms);
            goto out;
        }
        if (p->out_fd >= 0)
            pfd[n++] = (struct pollfd){.fd = p->out_fd, .events = POLLIN};
        if (p->err_fd >= 0)
            pfd[n++] = (struct pollfd){.fd = p->err_fd, .events = POLLIN};
        /* with no pipe left this only sleeps: 10 ms between checks for the exit */
        k = poll(pfd, n, n == 0 ? (left < 10 ? (int)left : 10) : left > 60000 ? 60000 : (int)left);
        if (k < 0 && errno != EINTR) {
            r = smt_diag_set(d, SMT_ERR_SYSTEM, "poll: %s", strerror(errno));
            goto out;
        }
        for (nfds_t i = 0; k > 0 && i < n; i++) {
            if (!pfd[i].revents)
                continue;
            if ((r = smt_proc_pump(p, pfd[i].fd)) < 0)
                goto out;
            if (r == 1)
                smt_proc_close_pipe(p, pfd[i].fd);
        }
        if (p->out_overflow) {
            if (p->pid > 0)
                kill(p->pid, SIGKILL); /* never kill(0, ...): that is our process group */
            reap(p);
            r = smt_proc_diag_overflow(d);
            goto out;
        }
    }
    r = 0;
out:
    return r;
}

/* ---------------------------------------------------------------------------------------------
 * The credential_process JSON (what Python's json.loads accepts, for the parts that matter) */

struct json {
    const unsigned char *s;
    size_t n, i;
    char *out; /* secure scratch for decoded strings: never more than n + 1 bytes */
    size_t used;
    int depth;
};

struct member {
    const char *name;
    bool seen, is_null, is_string;
    size_t off, len; /* decoded string in out, or the number's text in s */
};

enum { M_VERSION, M_AK, M_SK, M_ST, M_EXP, M_COUNT };

static void json_ws(struct json *j)
{
    while (j->i < j->n &&
           (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' || j->s[j->i] == '\r'))
        j->i++;
}

static int hex4(struct json *j, unsigned *ret)
{
    unsigned v = 0;

    if (j->n - j->i < 4)
        return SMT_ERR_FORMAT;
    for (int k = 0; k < 4; k++) {
        unsigned char c = j->s[j->i++];

        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return SMT_ERR_FORMAT;
    }
    *ret = v;
    return 0;
}

/* Decode the string at j->i into out[used..]; NUL-terminated. */
static int json_string(struct json *j, size_t *ret_off, size_t *ret_len)
{
    size_t start = j->used;
    unsigned cp, lo;

    if (j->i >= j->n || j->s[j->i] != '"')
        return SMT_ERR_FORMAT;
    j->i++;
    for (;;) {
        unsigned char c;

        if (j->i >= j->n)
            return SMT_ERR_FORMAT;
        c = j->s[j->i++];
        if (c == '"')
            break;
        if (c < 0x20)
            return SMT_ERR_FORMAT; /* raw control characters are not allowed (strict) */
        if (c != '\\') {
            j->out[j->used++] = (char)c;
            continue;
        }
        if (j->i >= j->n)
            return SMT_ERR_FORMAT;
        c = j->s[j->i++];
        switch (c) {
        case '"':
        case '\\':
        case '/':
            j->out[j->used++] = (char)c;
            continue;
        case 'b':
            j->out[j->used++] = '\b';
            continue;
        case 'f':
            j->out[j->used++] = '\f';
            continue;
        case 'n':
            j->out[j->used++] = '\n';
            continue;
        case 'r':
            j->out[j->used++] = '\r';
            continue;
        case 't':
            j->out[j->used++] = '\t';
            continue;
        case 'u':
            break;
        default:
            return SMT_ERR_FORMAT;
        }
        if (hex4(j, &cp) < 0)
            return SMT_ERR_FORMAT;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (j->n - j->i < 6 || j->s[j->i] != '\\' || j->s[j->i + 1] != 'u')
                return SMT_ERR_FORMAT;
            j->i += 2;
            if (hex4(j, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                return SMT_ERR_FORMAT;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            return SMT_ERR_FORMAT;
        }
        if (cp < 0x80) {
            j->out[j->used++] = (char)cp;
        } else if (cp < 0x800) {
            j->out[j->used++] = (char)(0xc0 | (cp >> 6));
            j->out[j->used++] = (char)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            j->out[j->used++] = (char)(0xe0 | (cp >> 12));
            j->out[j->used++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            j->out[j->used++] = (char)(0x80 | (cp & 0x3f));
        } else {
            j->out[j->used++] = (char)(0xf0 | (cp >> 18));
            j->out[j->used++] = (char)(0x80 | ((cp >> 12) & 0x3f));
            j->out[j->used++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            j->out[j->used++] = (char)(0x80 | (cp & 0x3f));
        }
    }
    j->out[j->used++] = '\0';
    *ret_off = start;
    *ret_len = j->used - start - 1;
    return 0;
}

static bool json_lit(struct json *j, const char *lit)
{
    size_t n = strlen(lit);

    if (j->n - j->i < n || memcmp(j->s + j->i, lit, n) != 0)
        return false;
    j->i += n;
    return true;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)? and Python's NaN / Infinity / -Infinity */
static int json_number(struct json *j)
{
    size_t i0;

    if (json_lit(j, "NaN") || json_lit(j, "Infinity") || json_lit(j, "-Infinity"))
        return 0;
    if (j->i < j->n && j->s[j->i] == '-')
        j->i++;
    i0 = j->i;
    if (j->i < j->n && j->s[j->i] == '0') {
        j->i++;
    } else {
        while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
            j->i++;
        if (j->i == i0)
            return SMT_ERR_FORMAT;
    }
    if (j->i < j->n && j->s[j->i] == '.') {
        i0 = ++j->i;
        while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
            j->i++;
        if (j->i == i0)
            return SMT_ERR_FORMAT;
    }
    if (j->i < j->n && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
        j->i++;
        if (j->i < j->n && (j->s[j->i] == '+' || j->s[j->i] == '-'))
            j->i++;
        i0 = j->i;
        while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
            j->i++;
        if (j->i == i0)
            return SMT_ERR_FORMAT;
    }
    return 0;
}

/* Skip any value (members we do not use).  Strings are decoded and forgotten. */
static int json_skip(struct json *j)
{
    size_t off, len, mark = j->used;
    int r = 0;

    json_ws(j);
    if (j->i >= j->n)
        return SMT_ERR_FORMAT;
    if (++j->depth > 64)
        return SMT_ERR_FORMAT;
    switch (j->s[j->i]) {
    case '"':
        r = json_string(j, &off, &len);
        break;
    case '{':
    case '[': {
        unsigned char close = j->s[j->i] == '{' ? '}' : ']';

        j->i++;
        json_ws(j);
        if (j->i < j->n && j->s[j->i] == close) {
            j->i++;
            break;
        }
        for (;;) {
            if (close == '}') {
                json_ws(j);
                if ((r = json_string(j, &off, &len)) < 0)
                    break;
                json_ws(j);
                if (j->i >= j->n || j->s[j->i++] != ':') {
                    r = SMT_ERR_FORMAT;
                    break;
                }
            }
            if ((r = json_skip(j)) < 0)
                break;
            json_ws(j);
            if (j->i < j->n && j->s[j->i] == ',') {
                j->i++;
                continue;
            }
            if (j->i < j->n && j->s[j->i] == close) {
                j->i++;
                break;
            }
            r = SMT_ERR_FORMAT;
            break;
        }
        break;
    }
    default:
        if (!json_lit(j, "true") && !json_lit(j, "false") && !json_lit(j, "null"))
            r = json_number(j);
    }
    j->depth--;
    sodium_memzero(j->out + mark, j->used - mark);
    j->used = mark;
    return r;
}

static int json_member(struct json *j, struct member *m, bool number)
{
    size_t start;

    json_ws(j);
    if (json_lit(j, "null")) {
        m->is_null = true;
        return 0;
    }
    if (j->i < j->n && j->s[j->i] == '"') {
        m->is_string = true;
        return json_string(j, &m->off, &m->len);
    }
    start = j->i;
    if (number && json_number(j) == 0) {
        m->off = start;
        m->len = j->i - start;
        return 0;
    }
    j->i = start;
    return json_skip(j); /* a type we do not accept; reported by the caller */
}

/* Version: botocore compares the parsed number with 1, so 1, 1.0 and 1e0 all pass. */
static bool version_is_1(const struct json *j, const struct member *m)
{
    char buf[32];
    char *end;
    double v;

    if (!m->seen || m->is_null || m->is_string || m->len == 0 || m->len >= sizeof(buf))
        return false;
    memcpy(buf, j->s + m->off, m->len);
    buf[m->len] = '\0';
    v = strtod(buf, &end);
    return *end == '\0' && v == 1.0;
}

int smt_creds_parse_process_json(const char *text, size_t len, struct smt_creds **ret,
                                 struct smt_diag *d)
{
    struct member m[M_COUNT] = {
        {.name = "Version"},      {.name = "AccessKeyId"}, {.name = "SecretAccessKey"},
        {.name = "SessionToken"}, {.name = "Expiration"},
    };
    struct json j = {.s = (const unsigned char *)text, .n = len};
    int64_t expiration = 0;
    int r;

    if (len > SMT_PROC_OUT_MAX) {
        r = smt_diag_set(d, SMT_ERR_TOO_LARGE, "output is larger than %d bytes", SMT_PROC_OUT_MAX);
        goto out;
    }
    if (!smt_utf8_valid(text, len)) {
        r = smt_diag_set(d, SMT_ERR_FORMAT, "output is not valid UTF-8");
        goto out;
    }
    j.out = sodium_malloc(len + 1);
    if (!j.out) {
        r = smt_diag_set(d, SMT_ERR_NOMEM, "cannot allocate secure memory");
        goto out;
    }
    json_ws(&j);
    if (j.i >= j.n || j.s[j.i++] != '{')
        goto bad_json;
    json_ws(&j);
    if (j.i < j.n && j.s[j.i] == '}') {
        j.i++;
    } else {
        for (;;) {
            size_t koff, klen, mark = j.used;
            struct member *hit = NULL;

            json_ws(&j);
            if (json_string(&j, &koff, &klen) < 0)
                goto bad_json;
            for (int k = 0; k < M_COUNT; k++)
                if (strlen(m[k].name) == klen && memcmp(j.out + koff, m[k].name, klen) == 0)
                    hit = &m[k];
            j.used = mark; /* the key is not kept */
            json_ws(&j);
            if (j.i >= j.n || j.s[j.i++] != ':')
                goto bad_json;
            if (hit && hit->seen) {
                r = smt_diag_set(d, SMT_ERR_FORMAT, "output has \"%s\" twice", hit->name);
                goto out;
            }
            if (hit) {
                hit->seen = true;
                if (json_member(&j, hit, hit == &m[M_VERSION]) < 0)
                    goto bad_json;
            } else if (json_skip(&j) < 0) {
                goto bad_json;
            }
            json_ws(&j);
            if (j.i < j.n && j.s[j.i] == ',') {
                j.i++;
                continue;
            }
            if (j.i < j.n && j.s[j.i] == '}') {
                j.i++;
                break;
            }
            goto bad_json;
        }
    }
    json_ws(&j);
    if (j.i != j.n)
        goto bad_json;

    if (!version_is_1(&j, &m[M_VERSION])) {
        r = smt_diag_set(d, SMT_ERR_FORMAT,
                         "output has %s \"Version\"; only Version 1 is supported",
                         m[M_VERSION].seen ? "an unsupported" : "no");
        goto out;
    }
    for (int k = M_AK; k <= M_SK; k++) {
        if (!m[k].seen || !m[k].is_string || m[k].len == 0) {
            r = smt_diag_set(d, SMT_ERR_CREDS, "output has %s \"%s\"",
                             m[k].seen ? "an empty or non-string" : "no", m[k].name);
            goto out;
        }
    }
    if ((m[M_ST].seen && !m[M_ST].is_null && !m[M_ST].is_string) ||
        (m[M_EXP].seen && !m[M_EXP].is_null && !m[M_EXP].is_string)) {
        r = smt_diag_set(d, SMT_ERR_FORMAT, "output has a non-string \"%s\"",
                         m[M_EXP].seen && !m[M_EXP].is_null && !m[M_EXP].is_string
                             ? "Expiration"
                             : "SessionToken");
        goto out;
    }
    if (m[M_EXP].is_string &&
        smt_parse_rfc3339(j.out + m[M_EXP].off, m[M_EXP].len, &expiration) < 0) {
        r = smt_diag_set(d, SMT_ERR_FORMAT,
                         "output's \"Expiration\" is not an RFC 3339 time (like "
                         "2024-05-01T12:00:00Z)");
        goto out;
    }
    if ((r = smt_creds_check_chars("its AccessKeyId", j.out + m[M_AK].off, m[M_AK].len, d)) < 0 ||
        (r = smt_creds_check_chars("its SecretAccessKey", j.out + m[M_SK].off, m[M_SK].len, d)) <
            0 ||
        (m[M_ST].is_string &&
         (r = smt_creds_check_chars("its SessionToken", j.out + m[M_ST].off, m[M_ST].len, d)) < 0))
        goto out;
    r = smt_creds_new(j.out + m[M_AK].off, m[M_AK].len, j.out + m[M_SK].off, m[M_SK].len,
                      m[M_ST].is_string ? j.out + m[M_ST].off : NULL,
                      m[M_ST].is_string ? m[M_ST].len : 0, expiration, ret);
    if (r < 0)
        smt_diag_set(d, r, "its credentials are unusable: %s",
                     r == SMT_ERR_TOO_LARGE ? "a value is too long" : smt_strerror(r));
    goto out;
bad_json:
    r = smt_diag_set(d, SMT_ERR_FORMAT, "output is not valid JSON (at byte %zu)", j.i);
out:
    if (j.out)
        sodium_free(j.out); /* wipes */
    return r;
}

/* ---------------------------------------------------------------------------------------------
 * Planning the commands */

int smt_creds_plan_process(struct smt_creds_plan *pl, const char *cmdline, const char *what,
                           struct smt_diag *d)
{
    char **argv = NULL;
    size_t argc = 0;
    int r;

    r = smt_shlex_split(cmdline, strlen(cmdline), &argv, &argc);
    if (r < 0 || argc == 0) {
        r = smt_diag_set(d, SMT_ERR_CONFIG, "%s: %s", what,
                         r == SMT_ERR_NOMEM ? "out of memory"
                         : argc == 0 && r == 0
                             ? "the command is empty"
                             : "cannot split the command line (unclosed quote or trailing "
                               "backslash?)");
        goto out;
    }
    snprintf(pl->what, sizeof(pl->what), "%s", what);
    pl->fail_hint[0] = '\0';
    smt_strv_free(pl->argv);
    pl->argv = argv;
    argv = NULL;
    r = 0;
out:
    smt_strv_free(argv);
    return r;
}

int smt_creds_from_process(const char *cmdline, const char *what, int timeout_ms,
                           struct smt_creds **ret, struct smt_diag *d)
{
    struct smt_creds_plan pl = {.creds = NULL};
    int r;

    if ((r = smt_creds_plan_process(&pl, cmdline, what, d)) == 0)
        r = smt_creds_plan_run(&pl, timeout_ms, ret, d);
    smt_strv_free(pl.argv);
    return r;
}

/* argv[0] for a program found in PATH, or NULL. malloc'd. */
static char *find_in_path(const char *prog)
{
    const char *path = getenv("PATH");
    char *copy = NULL, *found = NULL, *dir, *save = NULL;
    struct stat st;

    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    copy = strdup(path);
    if (!copy)
        return NULL;
    for (dir = copy; dir; dir = save) {
        char *cand = NULL;

        save = strchr(dir, ':');
        if (save)
            *save++ = '\0';
        if (asprintf(&cand, "%s/%s", *dir ? dir : ".", prog) < 0)
            break;
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
            found = cand;
            break;
        }
        free(cand);
    }
    free(copy);
    return found;
}

int smt_creds_plan_aws_cli(struct smt_creds_plan *pl, const char *profile, const char *why,
                           struct smt_diag *d)
{
    static const char *const tail[] = {"configure", "export-credentials", "--profile",
                                       NULL,        "--format",           "process"};
    const size_t n = sizeof(tail) / sizeof(tail[0]);
    char **argv = NULL;
    bool sso = strcmp(why, "SSO") == 0;
    int r;

    if (!(argv = calloc(n + 2, sizeof(*argv)))) {
        r = smt_diag_set(d, SMT_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (!(argv[0] = find_in_path("aws"))) {
        r = smt_diag_set(d, SMT_ERR_CREDS,
                         "profile '%s' uses %s; smtoken-agent gets such credentials from the AWS "
                         "CLI, which is not on PATH",
                         profile, why);
        if (sso)
            smt_diag_hint(d, "install the AWS CLI v2, then run: aws sso login --profile %s",
                          profile);
        else
            smt_diag_hint(d,
                          "install the AWS CLI v2 and check: aws configure export-credentials "
                          "--profile %s",
                          profile);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(argv[i + 1] = strdup(tail[i] ? tail[i] : profile))) {
            r = smt_diag_set(d, SMT_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    snprintf(pl->what, sizeof(pl->what), "aws configure export-credentials --profile %s", profile);
    pl->aws_cli = true;
    if (sso)
        snprintf(pl->fail_hint, sizeof(pl->fail_hint), "run: aws sso login --profile %s", profile);
    else
        snprintf(pl->fail_hint, sizeof(pl->fail_hint),
                 "check that 'aws sts get-caller-identity --profile %s' works", profile);
    smt_strv_free(pl->argv);
    pl->argv = argv;
    argv = NULL;
    r = 0;
out:
    smt_strv_free(argv);
    return r;
}

int smt_creds_from_aws_cli(const char *profile, const char *why, struct smt_creds **ret,
                           struct smt_diag *d)
{
    struct smt_creds_plan pl = {.creds = NULL};
    int r;

    if ((r = smt_creds_plan_aws_cli(&pl, profile, why, d)) == 0)
        r = smt_creds_plan_run(&pl, 0, ret, d);
    smt_strv_free(pl.argv);
    return r;
}
