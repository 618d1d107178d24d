/* smtoken tests: a minimal TAP producer. Each check prints one "ok"/"not ok" line, which
 * automake's tap-driver counts, so the suite's totals are per assertion group, not per binary. */
#ifndef SMT_TAP_H
#define SMT_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

__attribute__((format(printf, 2, 3))) static inline int tap_ok(int cond, const char *fmt, ...)
{
    va_list ap;

    printf("%s %d - ", cond ? "ok" : "not ok", ++tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    if (!cond)
        tap_failed++;
    return cond;
}

__attribute__((format(printf, 1, 2))) static inline void tap_diag(const char *fmt, ...)
{
    va_list ap;

    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

__attribute__((format(printf, 1, 2))) static inline void tap_skip(const char *fmt, ...)
{
    va_list ap;

    printf("ok %d # SKIP ", ++tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

/* Compare two byte strings; on mismatch print both (they are test data, never real secrets). */
static inline int tap_streq(const char *got, const char *want, const char *what)
{
    int ok = got && want && strcmp(got, want) == 0;

    if (!ok)
        tap_diag("%s: got '%s', want '%s'", what, got ? got : "(null)", want ? want : "(null)");
    return ok;
}

static inline int tap_done(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

#endif
