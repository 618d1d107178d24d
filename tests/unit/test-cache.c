/* Unit tests for agent/cache.c with a fake clock: floor arithmetic, rotation at refresh%, the
 * floor (5 s lifetime), suspend (boottime ahead of the wall clock), wall-clock jumps of +/- 1 day,
 * credentials that expire before the token would, the fallback to the last good token when a
 * mint fails, per-request mode.  Tokens are really minted (agent/token.c) and decoded, so the
 * checks also see X-Amz-Date and X-Amz-Expires. */
#include <config.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "agent/cache.h"
#include "agent/creds.h"
#include "agent/token.h"
#include "tests/tap.h"
#include "tests/unit/tokfacts.h"

#define SEC 1000000ULL
#define T0  1767225600 /* 2026-01-01T00:00:00Z */

struct fake_clock {
    int64_t rt;
    uint64_t bt;
};

static int64_t fake_rt(void *u)
{
    return ((struct fake_clock *)u)->rt;
}

static uint64_t fake_bt(void *u)
{
    return ((struct fake_clock *)u)->bt;
}

static struct fake_clock fc;
static const struct smt_clock clk = {fake_rt, fake_bt, &fc};
static struct smt_minter *minter;

/* Advance both clocks by s seconds (a normal second passing). */
static void tick(int64_t s)
{
    fc.rt += s;
    fc.bt += (uint64_t)s * SEC;
}

static void reset_clock(void)
{
    fc.rt = T0;
    fc.bt = 1000 * SEC;
}

static struct smt_creds *creds(const char *ak, int64_t expiration, const char *st)
{
    struct smt_creds *c = NULL;
    const char *sk = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    if (smt_creds_new(ak, strlen(ak), sk, strlen(sk), st, st ? strlen(st) : 0, expiration, &c) < 0)
        return NULL;
    return c;
}

static struct smt_cache *cache(uint32_t lifetime, unsigned pct, uint32_t min_rem, bool per_req)
{
    struct smt_cache_params p = {
        .service = SMT_SVC_SAGEMAKER,
        .region = "us-west-2",
        .lifetime = lifetime,
        .refresh_pct = pct,
        .min_remaining = min_rem,
        .per_request = per_req,
    };
    struct smt_cache *c = NULL;

    if (smt_cache_new(&p, &clk, &c) < 0)
        return NULL;
    return c;
}

/* One get; copies the token so it can be compared after the next call. */
struct got {
    int r;
    char tok[4096];
    int64_t exp;
    bool minted;
    struct tokfacts f;
    struct smt_diag d;
};

static void get(struct smt_cache *c, const struct smt_creds *cr, struct got *g)
{
    const char *t = NULL;
    size_t len = 0;

    memset(g, 0, sizeof(*g));
    g->r = smt_cache_get(c, minter, cr, &t, &len, &g->exp, &g->minted, &g->d);
    if (g->r == 0 && t && len < sizeof(g->tok)) {
        memcpy(g->tok, t, len + 1);
        if (strlen(t) != len || !tokfacts_decode(g->tok, &g->f))
            g->r = -999;
    }
}

/* Invariant for every served token: its own expiry is the one reported, and it has the floor. */
static int sane(const struct got *g, uint32_t floor)
{
    return g->r == 0 && g->f.date + g->f.expires == g->exp && g->exp - fc.rt >= (int64_t)floor;
}

static void test_floor(void)
{
    tap_ok(smt_cache_floor(43200, 60) == 60, "floor: 12h lifetime, min_remaining 60 -> 60");
    tap_ok(smt_cache_floor(3600, 900) == 720,
           "floor: 1h lifetime, min_remaining 900 -> 720 (20%%)");
    tap_ok(smt_cache_floor(100, 60) == 20, "floor: 100s lifetime -> 20");
    tap_ok(smt_cache_floor(300, 60) == 60, "floor: 300s lifetime -> 60 (exactly 20%%)");
    tap_ok(smt_cache_floor(5, 60) == 1, "floor: 5s lifetime -> 1");
    tap_ok(smt_cache_floor(4, 60) == 1, "floor: 4s lifetime -> 1 (never 0)");
    tap_ok(smt_cache_floor(1, 60) == 1, "floor: 1s lifetime -> 1");
    tap_ok(smt_cache_floor(3600, 0) == 1, "floor: min_remaining 0 -> 1");
}

static void test_params(void)
{
    struct smt_cache_params p = {SMT_SVC_SAGEMAKER, "us-west-2", 3600, 80, 60, false};
    struct smt_cache *c = NULL;

    p.lifetime = 0;
    tap_ok(smt_cache_new(&p, &clk, &c) == SMT_ERR_INVALID && !c, "new: lifetime 0 refused");
    p.lifetime = 43201;
    tap_ok(smt_cache_new(&p, &clk, &c) == SMT_ERR_INVALID && !c, "new: lifetime 43201 refused");
    p.lifetime = 3600;
    p.refresh_pct = 100;
    tap_ok(smt_cache_new(&p, &clk, &c) == SMT_ERR_INVALID && !c, "new: refresh 100%% refused");
    p.refresh_pct = 0;
    tap_ok(smt_cache_new(&p, &clk, &c) == SMT_ERR_INVALID && !c, "new: refresh 0%% refused");
    p.refresh_pct = 80;
    p.region = "";
    tap_ok(smt_cache_new(&p, &clk, &c) == SMT_ERR_INVALID && !c, "new: empty region refused");
    p.region = "us-west-2";
    tap_ok(smt_cache_new(&p, NULL, &c) == 0 && c, "new: NULL clock = the system clock");
    tap_ok(smt_cache_expires_at(c) == 0 && smt_cache_rotate_at(c) == 0 &&
               smt_cache_minted_at(c) == 0,
           "a new cache holds no token");
    smt_cache_free(c);
    smt_cache_free(NULL);
}

static void test_rotation(void)
{
    struct smt_creds *cr = creds("AKIDROTATION", 0, NULL);
    struct smt_cache *c = cache(3600, 80, 60, false);
    struct got g1, g2;
    uint64_t bt0;

    reset_clock();
    bt0 = fc.bt;
    get(c, cr, &g1);
    tap_ok(g1.r == 0 && g1.minted, "first get mints");
    tap_ok(g1.exp == T0 + 3600 && g1.f.date == T0 && g1.f.expires == 3600,
           "token: X-Amz-Date now, X-Amz-Expires 3600, expires_at = now + 3600");
    tap_ok(strncmp(g1.f.credential, "AKIDROTATION%2F20260101%2Fus-west-2%2Fsagemaker", 47) == 0,
           "token: credential scope");
    tap_ok(smt_cache_minted_at(c) == T0 && smt_cache_expires_at(c) == T0 + 3600,
           "minted_at / expires_at");
    tap_ok(smt_cache_rotate_at(c) == bt0 + 2880 * SEC, "rotate_at = boottime at mint + 80%%");
    tick(1);
    get(c, cr, &g2);
    tap_ok(g2.r == 0 && !g2.minted && strcmp(g1.tok, g2.tok) == 0 && g2.exp == g1.exp,
           "a second later: the cached token");
    tick(2878); /* 2879 s after the mint */
    get(c, cr, &g2);
    tap_ok(g2.r == 0 && !g2.minted && strcmp(g1.tok, g2.tok) == 0,
           "just before 80%%: still the cached token");
    tick(1);
    get(c, cr, &g2);
    tap_ok(g2.r == 0 && g2.minted && strcmp(g1.tok, g2.tok) != 0, "at 80%%: a new token");
    tap_ok(sane(&g2, 60) && g2.exp == T0 + 2880 + 3600, "... valid from now for the lifetime");
    tap_ok(smt_cache_rotate_at(c) == bt0 + (2880 + 2880) * SEC, "rotate_at moved on");

    smt_cache_invalidate(c);
    tap_ok(smt_cache_expires_at(c) == 0 && smt_cache_rotate_at(c) == 0,
           "invalidate drops the token");
    get(c, cr, &g1);
    tap_ok(g1.r == 0 && g1.minted, "after invalidate the next get mints");

    smt_cache_free(c);
    /* refresh 99% is capped at lifetime - floor: never a gap where the token is unservable */
    c = cache(100, 99, 60, false);
    reset_clock();
    get(c, cr, &g1);
    tap_ok(smt_cache_rotate_at(c) == fc.bt + 80 * SEC,
           "refresh 99%% of 100 s with a 20 s floor: rotates at 80 s");
    tick(80);
    get(c, cr, &g2);
    tap_ok(g2.minted && sane(&g2, 20), "... and does so");
    smt_cache_free(c);
    smt_creds_free(cr);
}

static void test_short_lifetime(void)
{
    struct smt_creds *cr = creds("AKIDSHORT", 0, NULL);
    struct smt_cache *c = cache(5, 80, 60, false);
    struct got g1, g2;
    int bad = 0, mints = 0;

    reset_clock();
    get(c, cr, &g1);
    tap_ok(g1.r == 0 && g1.minted && g1.f.expires == 5 && g1.exp == T0 + 5,
           "5 s lifetime: X-Amz-Expires=5");
    tick(3);
    get(c, cr, &g2);
    tap_ok(g2.r == 0 && !g2.minted && strcmp(g1.tok, g2.tok) == 0, "3 s later: cached (2 s left)");
    tick(1);
    get(c, cr, &g2);
    tap_ok(g2.r == 0 && g2.minted && g2.exp == T0 + 4 + 5, "4 s later (80%%): re-minted");
    /* Half a second later by boottime: elapsed 4.5 s of a fresh token is fine; past the mint of
     * 4 s ago it would not be. */
    fc.bt += SEC / 2;
    get(c, cr, &g1);
    tap_ok(g1.r == 0 && !g1.minted, "0.5 s after a mint: cached");
    /* A request long after: never the expired token. */
    tick(60);
    get(c, cr, &g1);
    tap_ok(g1.r == 0 && g1.minted && sane(&g1, 1), "a minute later: a new token with >= 1 s left");
    /* Walk in uneven steps for 10 minutes: every token served has at least the floor. */
    for (int i = 0; i < 600; i++) {
        if (i % 3 == 0)
            fc.bt += 700000; /* 0.7 s of boottime without a wall-clock second */
        else
            tick(1);
        get(c, cr, &g1);
        if (!sane(&g1, 1))
            bad++;
        mints += g1.minted;
    }
    tap_ok(bad == 0, "600 uneven steps: every token had >= 1 s left (%d bad)", bad);
    tap_ok(mints > 50 && mints < 600, "... with rotation, not a mint per request (%d mints)",
           mints);
    smt_cache_free(c);
    smt_creds_free(cr);
}

static void test_suspend_and_jumps(void)
{
    struct smt_creds *cr = creds("AKIDCLOCK", 0, NULL);
    struct smt_cache *c = cache(3600, 80, 60, false);
    struct got g1, g2;

    /* Suspend: boottime advanced 50 min, the wall clock only 10 s (not synced yet). */
    reset_clock();
    get(c, cr, &g1);
    fc.bt += 3000 * SEC;
    fc.rt += 10;
    get(c, cr, &g2);
    tap_ok(g2.r == 0 && g2.minted, "suspend (boottime +50 min, wall +10 s): re-minted");
    tap_ok(sane(&g2, 60) && g2.f.date == fc.rt, "... dated by the wall clock, expiry consistent");

    /* Suspend past the whole life, wall clock not moved at all. */
    get(c, cr, &g1);
    fc.bt += 3590 * SEC;
    get(c, cr, &g2);
    tap_ok(g2.r == 0 && g2.minted, "boottime +3590 s, wall clock unchanged: re-minted");

    /* Wall clock jumps forward a day. */
    reset_clock();
    smt_cache_invalidate(c);
    get(c, cr, &g1);
    fc.rt += 86400;
    fc.bt += SEC;
    get(c, cr, &g2);
    tap_ok(g2.r == 0 && g2.minted && g2.f.date == T0 + 86400 && g2.exp == T0 + 86400 + 3600,
           "wall clock +1 day: re-minted, dated and expiring by the new clock");

    /* Wall clock jumps back a day: the cached token was "minted in the future". */
    reset_clock();
    smt_cache_invalidate(c);
    get(c, cr, &g1);
    fc.rt -= 86400;
    fc.bt += SEC;
    get(c, cr, &g2);
    tap_ok(g2.r == 0 && g2.minted && g2.f.date == T0 - 86400 && g2.exp == T0 - 86400 + 3600,
           "wall clock -1 day: re-minted, never served with the old (future) expiry");
    tap_ok(strcmp(g1.tok, g2.tok) != 0, "... a different token");

    /* Back a day and the mint fails: the future token is not a fallback. */
    reset_clock();
    smt_cache_invalidate(c);
    get(c, cr, &g1);
    fc.rt -= 86400;
    get(c, NULL, &g2);
    tap_ok(g2.r == SMT_ERR_CREDS, "wall clock -1 day and no credentials: refused, not served");
    tap_ok(smt_cache_expires_at(c) == 0, "... and the unusable token is dropped");

    /* A small step back (1 s) is still a token from the future: re-minted as well. */
    reset_clock();
    get(c, cr, &g1);
    fc.rt -= 1;
    get(c, cr, &g2);
    tap_ok(g2.r == 0 && g2.minted && g2.exp == T0 - 1 + 3600, "wall clock -1 s: re-minted");
    smt_cache_free(c);
    smt_creds_free(cr);
}

static void test_cred_expiry(void)
{
    struct smt_creds *cr;
    struct smt_cache *c = cache(3600, 80, 60, false);
    struct got g1, g2;

    reset_clock();
    cr = creds("AKIDEXPIRING", T0 + 600, "FwoGZXIvYXdzEXAMPLESESSIONTOKEN//+=");
    get(c, cr, &g1);
    tap_ok(g1.r == 0 && g1.exp == T0 + 600 && g1.f.expires == 600 && g1.f.date == T0,
           "credentials expiring in 600 s: X-Amz-Expires clamped to 600, expires_at with them");
    tap_ok(g1.f.has_session_token, "... the token carries the session token");
    tap_ok(smt_cache_rotate_at(c) == fc.bt + 480 * SEC, "rotation at 80%% of the clamped life");
    tick(480);
    get(c, cr, &g2);
    tap_ok(g2.r == 0 && g2.minted && g2.exp == T0 + 600 && g2.f.expires == 120,
           "at 480 s: a new token, clamped to the 120 s the credentials have left");
    tick(61); /* 59 s left: below the 60 s floor */
    get(c, cr, &g2);
    tap_ok(g2.r == SMT_ERR_EXPIRED, "59 s before the credentials expire: SMT_ERR_EXPIRED");
    tap_ok(strstr(g2.d.msg, "2026-01-01T00:10:00Z") != NULL, "... d says when: %s", g2.d.msg);
    tick(100);
    get(c, cr, &g2);
    tap_ok(g2.r == SMT_ERR_EXPIRED && strstr(g2.d.msg, "expired at") != NULL,
           "after they expired: '%s'", g2.d.msg);
    smt_creds_free(cr);
    /* Already expired before the first get. */
    cr = creds("AKIDEXPIRED", T0 - 1, NULL);
    reset_clock();
    smt_cache_invalidate(c);
    get(c, cr, &g1);
    tap_ok(g1.r == SMT_ERR_EXPIRED && smt_cache_expires_at(c) == 0,
           "expired credentials: no token");
    smt_creds_free(cr);
    smt_cache_free(c);
}

static void test_fallback(void)
{
    struct smt_creds *cr = creds("AKIDFALLBACK", 0, NULL);
    struct smt_creds broken;
    struct smt_cache *c = cache(3600, 80, 60, false);
    struct got g1, g2;

    /* Credentials the minter refuses (no access key): a mint failure. */
    memset(&broken, 0, sizeof(broken));
    broken.secret_key = (char *)"x";
    broken.secret_key_len = 1;
    reset_clock();
    get(c, &broken, &g1);
    tap_ok(g1.r == SMT_ERR_CREDS && g1.d.msg[0], "mint failure with nothing cached: refused (%s)",
           g1.d.msg);
    get(c, NULL, &g1);
    tap_ok(g1.r == SMT_ERR_CREDS, "no credentials and nothing cached: SMT_ERR_CREDS");
    get(c, cr, &g1);
    tap_ok(g1.r == 0 && g1.minted && g1.d.msg[0] == '\0', "a good mint: d->msg is empty");
    tick(3000); /* past the rotation point */
    get(c, &broken, &g2);
    tap_ok(g2.r == 0 && !g2.minted && strcmp(g1.tok, g2.tok) == 0 && g2.exp == g1.exp,
           "rotation due, mint fails: the last good token is served");
    tap_ok(g2.d.msg[0] != '\0', "... and d says why the mint failed");
    get(c, NULL, &g2);
    tap_ok(g2.r == 0 && strcmp(g1.tok, g2.tok) == 0, "... also when there are no credentials");
    tick(540); /* 60 s left: exactly the floor */
    get(c, NULL, &g2);
    tap_ok(g2.r == 0 && g2.exp - fc.rt == 60, "with exactly the floor left: still served");
    tick(1);
    get(c, NULL, &g2);
    tap_ok(g2.r == SMT_ERR_CREDS, "below the floor: refused");
    fc.bt += SEC;
    tap_ok(smt_cache_expires_at(c) == 0, "... and the old token is gone");
    /* Boottime alone (suspend) also ends the fallback. */
    reset_clock();
    get(c, cr, &g1);
    fc.bt += 3541 * SEC;
    get(c, NULL, &g2);
    tap_ok(g2.r == SMT_ERR_CREDS, "fallback after a suspend that ate the floor: refused");
    smt_cache_free(c);
    smt_creds_free(cr);
}

static void test_per_request(void)
{
    struct smt_creds *cr = creds("AKIDPERREQ", 0, NULL);
    struct smt_cache *c = cache(900, 80, 60, true);
    struct smt_creds broken;
    struct got g1, g2;

    reset_clock();
    get(c, cr, &g1);
    get(c, cr, &g2);
    tap_ok(g1.r == 0 && g1.minted && g2.r == 0 && g2.minted, "per-request: every get mints");
    tick(1);
    get(c, cr, &g2);
    tap_ok(g2.minted && strcmp(g1.tok, g2.tok) != 0 && g2.exp == T0 + 1 + 900,
           "... a new token a second later, full lifetime");
    memset(&broken, 0, sizeof(broken));
    get(c, &broken, &g2);
    tap_ok(g2.r < 0, "per-request and the mint fails: refused (no token another client holds)");
    smt_cache_free(c);
    smt_creds_free(cr);
}

static void test_session_token_growth(void)
{
    struct smt_creds *small = creds("AKIDGROW", 0, NULL), *big;
    struct smt_cache *c = cache(3600, 80, 60, true);
    char st[3001];
    struct got g;

    for (size_t i = 0; i < sizeof(st) - 1; i++)
        st[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[i % 64];
    st[sizeof(st) - 1] = '\0';
    big = creds("AKIDGROW", 0, st);
    reset_clock();
    get(c, small, &g);
    tap_ok(g.r == 0 && !g.f.has_session_token, "no session token: small token");
    {
        const char *t = NULL;
        size_t len = 0;
        int r = smt_cache_get(c, minter, big, &t, &len, NULL, NULL, NULL);

        tap_ok(r == 0 && len > 4000 && strlen(t) == len,
               "a 3 KB session token: the buffer grows (%zu bytes)", len);
    }
    smt_cache_free(c);
    smt_creds_free(small);
    smt_creds_free(big);
}

static void fault_exit(int sig)
{
    (void)sig;
    _exit(77);
}

/* 77: reading p faulted; 0: it could be read. */
static int read_faults(const char *p)
{
    pid_t pid;
    int st;

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        volatile char x;

        /* our own handler, so the result is the same with and without ASan */
        signal(SIGSEGV, fault_exit);
        signal(SIGBUS, fault_exit);
        x = p[0];
        (void)x;
        _exit(0);
    }
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

/* DESIGN §4: the token is PROT_NONE except between get and release. */
static void test_noaccess(void)
{
    struct smt_creds *cr = creds("AKIDNOACCESS", 0, NULL);
    struct smt_cache *c = cache(3600, 80, 60, false);
    const char *t = NULL;
    size_t len = 0;

    reset_clock();
    tap_ok(cr && c && smt_cache_get(c, minter, cr, &t, &len, NULL, NULL, NULL) == 0 && t,
           "noaccess: a token");
    tap_ok(t && read_faults(t) == 0, "noaccess: readable after smt_cache_get");
    smt_cache_release(c);
    tap_ok(t && read_faults(t) == 77, "noaccess: PROT_NONE after smt_cache_release");
    tap_ok(smt_cache_get(c, minter, cr, &t, &len, NULL, NULL, NULL) == 0 && t &&
               read_faults(t) == 0 && strncmp(t, "sagemaker-api-key-", 18) == 0,
           "noaccess: the cached token is readable again on the next get");
    smt_cache_release(c);
    smt_cache_free(c);
    smt_creds_free(cr);
}

int main(void)
{
    if (sodium_init() < 0 || smt_minter_new(&minter) < 0) {
        printf("Bail out! cannot set up libsodium / a minter\n");
        return 1;
    }
    test_floor();
    test_params();
    test_rotation();
    test_short_lifetime();
    test_suspend_and_jumps();
    test_cred_expiry();
    test_fallback();
    test_per_request();
    test_session_token_growth();
    test_noaccess();
    smt_minter_free(minter);
    return tap_done();
}
