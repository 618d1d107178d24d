/* smtoken: the one error vocabulary (STYLE.md 1).
 *
 * Fallible functions return int: 0 on success or a negative SMT_ERR_*.  SMT_ERR_SYSTEM
 * leaves errno as the failing call set it.  Human-readable detail that does not fit a code
 * (file:line, a peer's message) travels in a struct smt_diag filled by the callee.
 */
#ifndef SMT_ERR_H
#define SMT_ERR_H

#include <stddef.h>

#define SMT_WUR    __attribute__((warn_unused_result))
#define SMT_PRINTF(a, b) __attribute__((format(printf, a, b)))

enum {
    SMT_OK = 0,
    SMT_ERR_INTERNAL = -1,   /* a bug: should not happen */
    SMT_ERR_NOMEM = -2,      /* allocation (or secure allocation) failed */
    SMT_ERR_SYSTEM = -3,     /* a system call failed; errno says why */
    SMT_ERR_CRYPTO = -4,     /* OpenSSL failed */
    SMT_ERR_INVALID = -5,    /* an argument is out of range or malformed */
    SMT_ERR_TRUNCATED = -6,  /* input ended before the message did */
    SMT_ERR_TOO_LARGE = -7,  /* input or output exceeds a cap */
    SMT_ERR_TRAILING = -8,   /* bytes left over after a complete message */
    SMT_ERR_FORMAT = -9,     /* bytes do not follow the format */
    SMT_ERR_VERSION = -10,   /* protocol version mismatch */
    SMT_ERR_TIMEOUT = -11,   /* a deadline passed */
    SMT_ERR_EOF = -12,       /* the peer closed the connection */
    SMT_ERR_NOT_FOUND = -13, /* no such endpoint, profile or file */
    SMT_ERR_LIFETIME = -14,  /* token lifetime outside 1..43200 s */
    SMT_ERR_CONFIG = -15,    /* configuration file is invalid */
    SMT_ERR_CREDS = -16,     /* credentials missing or unusable */
    SMT_ERR_EXPIRED = -17,   /* credentials or token expired */
    SMT_ERR_PERM = -18,      /* permission or ownership check failed */
    SMT_ERR_UNSAFE = -19,    /* refused: unsafe path (symlink, writable dir) */
    SMT_ERR_REFUSED = -20,   /* the agent refused the request */
    SMT_ERR_BUSY = -21,      /* too many connections */
};

/* A static English description; never NULL. For SMT_ERR_SYSTEM it describes errno. */
const char *smt_strerror(int r);

/* Room for one message line plus an optional hint, filled by the function that knows.
 * detail holds another program's words (a credential_process's first stderr line): they may hold
 * a secret, so they reach the user who asked (smt_diag_text) but never a log, which gets msg. */
struct smt_diag {
    char msg[512];
    char hint[256];
    char detail[256];
};

/* Set d->msg (and clear the hint). d may be NULL. Returns r, so: return smt_diag_set(d, r, ...). */
int smt_diag_set(struct smt_diag *d, int r, const char *fmt, ...) SMT_PRINTF(3, 4);
/* Set d->hint. d may be NULL. */
void smt_diag_hint(struct smt_diag *d, const char *fmt, ...) SMT_PRINTF(2, 3);
/* Set d->detail. d may be NULL. */
void smt_diag_detail(struct smt_diag *d, const char *fmt, ...) SMT_PRINTF(2, 3);
/* The message for the user: "msg: detail", or msg when there is no detail.  Returns buf. */
const char *smt_diag_text(const struct smt_diag *d, char *buf, size_t size);

#endif
