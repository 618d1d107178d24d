/* make bench: nanoseconds per token for smt_token_mint.
 *
 * Four figures, each over SMT_BENCH_MINTS mints (default 200000, at least 100000):
 *   cold   smt_minter_reset before every mint, so each one derives kSigning again (what the
 *          first mint of a day, or of new credentials, costs);
 *   cached the key derived once and reused (every other mint of the day);
 * each without a session token and with a 1.2 KB one (real ones are 1-3 KB); then the cached
 * mint on a locked minter, the agent's path (DESIGN §4: the key cache and scratch are PROT_NONE
 * while idle, so each mint opens and closes them: four mprotect calls).  Times come from
 * CLOCK_MONOTONIC around the whole loop; the X-Amz-Date moves by a second per mint within one
 * day, so no two tokens in a run are alike and the key stays cached.  Peak RSS is getrusage's.
 * No assertions on speed: the figures are for reading (tests/bench/bench-botocore.py prints the
 * same lines for botocore).  The credentials are made up; nothing here is a secret.
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <sodium.h>

#include "agent/creds.h"
#include "agent/token.h"

#define MINTS_MIN     100000
#define MINTS_DEFAULT 200000
#define ST_LEN        1200
#define T0            1735689600 /* 2025-01-01T00:00:00Z */

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* One line per figure; bench-botocore.py prints the same layout. */
static void report(const char *what, unsigned long mints, double ns)
{
    printf("%-48s %8lu mints %10.1f ms %10.0f ns/token\n", what, mints, ns / 1e6,
           ns / (double)mints);
    fflush(stdout);
}

static int run(struct smt_minter *m, const struct smt_creds *c, int cold, unsigned long mints,
               char *out, size_t out_size, const char *what)
{
    unsigned long i;
    size_t len = 0, total = 0;
    double t0, t1;
    int r = 0;

    /* Warm up (and derive the key once for the cached run). */
    for (i = 0; i < 1000 && r == 0; i++)
        r = smt_token_mint(m, c, SMT_SVC_SAGEMAKER, "us-west-2", 43200, T0, out, out_size, &len);
    if (r < 0)
        goto out;
    t0 = now_ns();
    for (i = 0; i < mints; i++) {
        if (cold)
            smt_minter_reset(m);
        r = smt_token_mint(m, c, SMT_SVC_SAGEMAKER, "us-west-2", 43200, (time_t)(T0 + i % 86400),
                           out, out_size, &len);
        if (r < 0)
            goto out;
        total += len;
    }
    t1 = now_ns();
    report(what, mints, t1 - t0);
    if (total / mints == 0)
        r = SMT_ERR_INTERNAL;
out:
    if (r < 0)
        fprintf(stderr, "bench-mint: %s: %s\n", what, smt_strerror(r));
    return r;
}

int main(void)
{
    static const char ak[] = "ASIAIOSFODNN7EXAMPLE";
    static const char sk[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    static const char st_pattern[] = "IQoJb3JpZ2luX2VjEPr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+abc";
    struct smt_creds *plain = NULL, *with_st = NULL;
    struct smt_minter *m = NULL;
    struct rusage ru;
    unsigned long mints = MINTS_DEFAULT;
    const char *env = getenv("SMT_BENCH_MINTS");
    char *st = NULL, *out = NULL, *end = NULL;
    size_t out_size = smt_token_size(ST_LEN), i;
    int r;

    if (env && *env) {
        mints = strtoul(env, &end, 10);
        if (*end || mints < MINTS_MIN)
            mints = MINTS_MIN;
    }
    if (sodium_init() < 0) {
        r = SMT_ERR_CRYPTO;
        goto out;
    }
    /* A session token looks like base64 with a few '/' and '+' (encoded to %2F, %2B). */
    if (!(st = malloc(ST_LEN)) || !(out = sodium_malloc(out_size))) {
        r = SMT_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < ST_LEN; i++)
        st[i] = st_pattern[i % (sizeof(st_pattern) - 1)];
    if ((r = smt_creds_new(ak, strlen(ak), sk, strlen(sk), NULL, 0, 0, &plain)) < 0 ||
        (r = smt_creds_new(ak, strlen(ak), sk, strlen(sk), st, ST_LEN, 0, &with_st)) < 0 ||
        (r = smt_minter_new(&m)) < 0)
        goto out;

    printf("smt_token_mint, sagemaker, us-west-2, lifetime 12h\n");
    if ((r = run(m, plain, 1, mints, out, out_size, "cold (kSigning derived), no session token")) <
            0 ||
        (r = run(m, plain, 0, mints, out, out_size, "cached kSigning, no session token")) < 0 ||
        (r = run(m, with_st, 1, mints, out, out_size,
                 "cold (kSigning derived), 1.2 KB session token")) < 0 ||
        (r = run(m, with_st, 0, mints, out, out_size, "cached kSigning, 1.2 KB session token")) < 0)
        goto out;
    smt_minter_lock(m);
    if ((r = run(m, plain, 0, mints, out, out_size, "cached, locked minter (agent), no ST")) < 0)
        goto out;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        printf("%-48s %8ld KiB\n", "peak RSS (getrusage ru_maxrss)", ru.ru_maxrss);
    r = 0;
out:
    if (r < 0)
        fprintf(stderr, "bench-mint: %s\n", smt_strerror(r));
    smt_minter_free(m);
    smt_creds_free(plain);
    smt_creds_free(with_st);
    sodium_free(out);
    free(st);
    return r < 0 ? 1 : 0;
}
