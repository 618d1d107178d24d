/* smtoken: error codes and diagnostics. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proto/err.h"

const char *smt_strerror(int r)
{
    switch (r) {
    case SMT_OK:
        return "success";
    case SMT_ERR_INTERNAL:
        return "internal error";
    case SMT_ERR_NOMEM:
        return "out of memory";
    case SMT_ERR_SYSTEM:
        return strerror(errno);
    case SMT_ERR_CRYPTO:
        return "cryptographic library failure";
    case SMT_ERR_INVALID:
        return "invalid argument";
    case SMT_ERR_TRUNCATED:
        return "message truncated";
    case SMT_ERR_TOO_LARGE:
        return "message too large";
    case SMT_ERR_TRAILING:
        return "unexpected bytes after message";
    case SMT_ERR_FORMAT:
        return "malformed data";
    case SMT_ERR_VERSION:
        return "protocol version mismatch";
    case SMT_ERR_TIMEOUT:
        return "timed out";
    case SMT_ERR_EOF:
        return "connection closed by peer";
    case SMT_ERR_NOT_FOUND:
        return "not found";
    case SMT_ERR_LIFETIME:
        return "lifetime must be between 1 and 43200 seconds";
    case SMT_ERR_CONFIG:
        return "invalid configuration";
    case SMT_ERR_CREDS:
        return "credentials missing or unusable";
    case SMT_ERR_EXPIRED:
        return "expired";
    case SMT_ERR_PERM:
        return "permission denied";
    case SMT_ERR_UNSAFE:
        return "unsafe path";
    case SMT_ERR_REFUSED:
        return "refused by agent";
    case SMT_ERR_BUSY:
        return "too many connections";
    }
    return "unknown error";
}

int smt_diag_set(struct smt_diag *d, int r, const char *fmt, ...)
{
    va_list ap;

    if (!d)
        return r;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
    va_end(ap);
    d->hint[0] = '\0';
    d->detail[0] = '\0';
    return r;
}

void smt_diag_hint(struct smt_diag *d, const char *fmt, ...)
{
    va_list ap;

    if (!d)
        return;
    va_start(ap, fmt);
    vsnprintf(d->hint, sizeof(d->hint), fmt, ap);
    va_end(ap);
}

void smt_diag_detail(struct smt_diag *d, const char *fmt, ...)
{
    va_list ap;

    if (!d)
        return;
    va_start(ap, fmt);
    vsnprintf(d->detail, sizeof(d->detail), fmt, ap);
    va_end(ap);
}

const char *smt_diag_text(const struct smt_diag *d, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    if (d->detail[0])
        snprintf(buf, size, "%s: %s", d->msg, d->detail);
    else
        snprintf(buf, size, "%s", d->msg);
    return buf;
}
