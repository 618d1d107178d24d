/* smtoken-agent: logging (STYLE.md 10).
 *
 * One line per event, to one of three targets (smt_log_choose): stderr in the foreground; the
 * journal (sd_journal_send, with CODE_FUNC and PRIORITY) when stderr is connected to it
 * ($JOURNAL_STREAM), or for the daemon when journald runs; otherwise, for the daemon, syslog
 * (its stderr is /dev/null).  Never pass a secret or a token: log a fingerprint
 * (smt_token_fingerprint).  Strings that came from a peer or a file go through smt_log_escape
 * first.
 */
#ifndef SMT_LOG_H
#define SMT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "proto/err.h"

/* syslog priorities */
enum {
    SMT_LOG_ERR = 3,
    SMT_LOG_WARNING = 4,
    SMT_LOG_NOTICE = 5,
    SMT_LOG_INFO = 6,
    SMT_LOG_DEBUG = 7,
};

enum smt_log_target {
    SMT_LOG_TO_STDERR,
    SMT_LOG_TO_JOURNAL,
    SMT_LOG_TO_SYSLOG, /* openlog("smtoken-agent", LOG_PID, LOG_AUTH) */
};

/* journald's native socket: the daemon logs there when it exists (sd_journal_send's target). */
#define SMT_LOG_JOURNAL_SOCKET "/run/systemd/journal/socket"

/* Where to log, as ssh-agent decides: a detached daemon (daemon && !debug: its stderr is
 * /dev/null) logs to the journal when journald runs, else to syslog; anything else logs to
 * stderr, or to the journal when stderr is connected to it.  Pure, for the tests; the inputs
 * come from smt_log_journal_wanted() and smt_log_journal_running(). */
enum smt_log_target smt_log_choose(bool daemon, bool debug, bool stderr_is_journal,
                                   bool journal_running);
/* target: where the lines go (syslog: opened here); debug: also log SMT_LOG_DEBUG. */
void smt_log_setup(enum smt_log_target target, bool debug);
/* Is stderr the journal?  True when $JOURNAL_STREAM names our stderr. */
bool smt_log_journal_wanted(void);
/* Does journald run?  True when SMT_LOG_JOURNAL_SOCKET is a socket. */
bool smt_log_journal_running(void);

void smt_log_full(int level, const char *func, const char *fmt, ...) SMT_PRINTF(3, 4);
/* An audit record (DESIGN §4): level INFO, and under journald extra fields (SMTOKEN_ENDPOINT=,
 * SMTOKEN_PEER_UID=, ...) given as NULL-terminated "KEY=value" strings. */
void smt_log_audit(const char *const *fields, const char *fmt, ...) SMT_PRINTF(2, 3);

#define log_error(...)   smt_log_full(SMT_LOG_ERR, __func__, __VA_ARGS__)
#define log_warning(...) smt_log_full(SMT_LOG_WARNING, __func__, __VA_ARGS__)
#define log_notice(...)  smt_log_full(SMT_LOG_NOTICE, __func__, __VA_ARGS__)
#define log_info(...)    smt_log_full(SMT_LOG_INFO, __func__, __VA_ARGS__)
#define log_debug(...)   smt_log_full(SMT_LOG_DEBUG, __func__, __VA_ARGS__)

/* An epoch time for a message: "2026-11-29T21:11:08Z" (UTC), or "@N" if it cannot be shown.
 * Inline so that modules without the logger (cache.c, once.c) share it. */
static inline void smt_iso8601(int64_t t, char *out, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (!gmtime_r(&tt, &tm) || strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, size, "@%lld", (long long)t);
}

/* A printable copy of s for a log line: bytes outside 0x20..0x7e become \xNN, at most size-1
 * bytes, "..." when cut.  Returns buf. */
const char *smt_log_escape(const char *s, char *buf, size_t size);

#endif
