/* smtoken-agent: logging to stderr, the journal or syslog (see log.h).
 *
 * Every line is formatted once into a stack buffer, made single-line (a control character in a
 * message would let a peer-supplied string forge a second log line), and then written with one
 * write(2) (stderr), one sd_journal_sendv (journal) or one syslog(3) call.  errno is preserved, so
 * callers may log and then still report strerror(errno).
 */
#include <config.h> /* autoconf's; "config.h" would find agent/config.h */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

/* the location sd_journal_sendv would add is emit()'s, never the caller's: CODE_FUNC is ours */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "agent/log.h"

/* A log line never needs more: messages are one sentence plus escaped names. */
#define LOG_LINE_MAX 2048
/* Extra journal fields an audit record may carry. */
#define AUDIT_FIELDS_MAX 16

static enum smt_log_target log_target = SMT_LOG_TO_STDERR;
static bool log_debug_on;

enum smt_log_target smt_log_choose(bool daemon, bool debug, bool stderr_is_journal,
                                   bool journal_running)
{
    if (daemon && !debug)
        return journal_running ? SMT_LOG_TO_JOURNAL : SMT_LOG_TO_SYSLOG;
    return stderr_is_journal ? SMT_LOG_TO_JOURNAL : SMT_LOG_TO_STDERR;
}

void smt_log_setup(enum smt_log_target target, bool debug)
{
    if (log_target == SMT_LOG_TO_SYSLOG && target != SMT_LOG_TO_SYSLOG)
        closelog();
    /* LOG_AUTH, as ssh-agent: the audit lines (who got a token for what) are authentication
     * events and belong in auth.log with sshd's and sudo's; no line carries a secret.  No
     * LOG_NDELAY: syslog(3) connects at the first line and retries if syslogd starts later. */
    if (target == SMT_LOG_TO_SYSLOG)
        openlog("smtoken-agent", LOG_PID, LOG_AUTH);
    log_target = target;
    log_debug_on = debug;
}

bool smt_log_journal_running(void)
{
    struct stat st;

    return stat(SMT_LOG_JOURNAL_SOCKET, &st) == 0 && S_ISSOCK(st.st_mode);
}

bool smt_log_journal_wanted(void)
{
    const char *e = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    char tail;

    /* systemd sets JOURNAL_STREAM=DEV:INO for a stderr connected to journald; it is inherited
     * by children whose stderr may point elsewhere, hence the comparison (sd_journal_stream_fd
     * documentation). */
    if (!e || sscanf(e, "%llu:%llu%c", &dev, &ino, &tail) != 2)
        return false;
    if (fstat(STDERR_FILENO, &st) < 0)
        return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static const char *level_name(int level)
{
    switch (level) {
    case SMT_LOG_ERR:
        return "error";
    case SMT_LOG_WARNING:
        return "warning";
    case SMT_LOG_NOTICE:
        return "notice";
    case SMT_LOG_INFO:
        return "info";
    default:
        return "debug";
    }
}

/* Control characters become spaces: one event, one line. */
static void flatten(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = ' ';
}

static void write_stderr(const char *p, size_t n)
{
    ssize_t k;

    while (n > 0) {
        k = write(STDERR_FILENO, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return; /* nowhere left to report it */
        p += k;
        n -= (size_t)k;
    }
}

/* Send msg at level, with optional extra journal fields. */
static void emit(int level, const char *func, const char *msg, const char *const *fields)
{
    struct iovec iov[4 + AUDIT_FIELDS_MAX];
    char prio[16], cfunc[128], line[LOG_LINE_MAX + 64];
    char mfield[LOG_LINE_MAX + 16];
    size_t n = 0, i;
    int len;

    if (log_target == SMT_LOG_TO_SYSLOG) {
        /* ident and pid come from openlog; debug lines name their function as on stderr */
        if (level == SMT_LOG_DEBUG && func)
            syslog(level, "debug: %s: %s", func, msg);
        else
            syslog(level, "%s", msg);
        return;
    }
    if (log_target == SMT_LOG_TO_JOURNAL) {
        snprintf(mfield, sizeof(mfield), "MESSAGE=%s", msg);
        snprintf(prio, sizeof(prio), "PRIORITY=%d", level);
        snprintf(cfunc, sizeof(cfunc), "CODE_FUNC=%s", func ? func : "?");
        iov[n++] = (struct iovec){.iov_base = mfield, .iov_len = strlen(mfield)};
        iov[n++] = (struct iovec){.iov_base = prio, .iov_len = strlen(prio)};
        iov[n++] = (struct iovec){.iov_base = cfunc, .iov_len = strlen(cfunc)};
        iov[n++] = (struct iovec){.iov_base = (char *)"SYSLOG_IDENTIFIER=smtoken-agent",
                                  .iov_len = strlen("SYSLOG_IDENTIFIER=smtoken-agent")};
        for (i = 0; fields && fields[i] && i < AUDIT_FIELDS_MAX; i++)
            iov[n++] = (struct iovec){.iov_base = (char *)fields[i], .iov_len = strlen(fields[i])};
        (void)sd_journal_sendv(iov, (int)n);
        return;
    }
    if (level == SMT_LOG_DEBUG && func)
        len = snprintf(line, sizeof(line), "smtoken-agent: debug: %s: %s\n", func, msg);
    else
        len = snprintf(line, sizeof(line), "smtoken-agent: %s: %s\n", level_name(level), msg);
    if (len < 0)
        return;
    if ((size_t)len >= sizeof(line)) {
        len = (int)sizeof(line) - 1;
        line[len - 1] = '\n';
    }
    write_stderr(line, (size_t)len);
}

static void vlog(int level, const char *func, const char *const *fields, const char *fmt,
                 va_list ap) SMT_PRINTF(4, 0);
static void vlog(int level, const char *func, const char *const *fields, const char *fmt,
                 va_list ap)
{
    char msg[LOG_LINE_MAX];
    int saved = errno;

    if (level >= SMT_LOG_DEBUG && !log_debug_on)
        goto out;
    if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
        goto out;
    flatten(msg);
    emit(level, func, msg, fields);
out:
    errno = saved;
}

void smt_log_full(int level, const char *func, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(level, func, NULL, fmt, ap);
    va_end(ap);
}

void smt_log_audit(const char *const *fields, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(SMT_LOG_INFO, "audit", fields, fmt, ap);
    va_end(ap);
}

const char *smt_log_escape(const char *s, char *buf, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, need = 0, room, k;
    const unsigned char *p;
    char piece[4];

    if (!buf || size == 0)
        return buf;
    if (!s)
        s = "(null)";
    /* First pass: does the whole escaped string fit?  If not, stop early enough to leave room
     * for "..." (or what of it fits) and never cut an escape in half. */
    for (p = (const unsigned char *)s; *p; p++)
        need += (*p < 0x20 || *p > 0x7e) ? 4 : 1;
    room = need <= size - 1 ? size - 1 : (size - 1 > 3 ? size - 1 - 3 : 0);
    for (p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p > 0x7e) {
            piece[0] = '\\';
            piece[1] = 'x';
            piece[2] = hex[*p >> 4];
            piece[3] = hex[*p & 0xf];
            k = 4;
        } else {
            piece[0] = (char)*p;
            k = 1;
        }
        if (o + k > room)
            break;
        memcpy(buf + o, piece, k);
        o += k;
    }
    if (need > size - 1)
        for (k = 0; k < 3 && o < size - 1; k++)
            buf[o++] = '.';
    buf[o] = '\0';
    return buf;
}
