/* smtoken-agent: per-endpoint token cache and rotation (cache.h, DESIGN §2, §4).
 *
 * One cached token per endpoint, in sodium_malloc memory.  Two buffers alternate: a new token is
 * minted into the spare one, so a failed mint never clobbers the last good token, and the old
 * one is wiped as soon as the new one is in place.
 *
 * The rules, with T = the wall-clock second the token was minted (its X-Amz-Date), B = boottime
 * at that moment, life L = min(lifetime, credential expiry - T) and floor F (cache.h):
 *
 *   expires_at = T + L                       what the token itself says; what clients are told
 *   elapsed    = max(now_real - T, now_boot - B)
 *   remaining  = L - elapsed                 never more than expires_at - now_real
 *   rotate     when elapsed >= min(L * refresh%, L - F)
 *   serve      only while remaining >= F
 *
 * Taking the larger of the two elapsed times covers every way the clocks can disagree:
 *   - suspend/resume: boottime keeps counting through suspend; if the wall clock has not caught
 *     up yet (no RTC sync so far), boottime still says the token is old;
 *   - wall clock jumps forward (NTP step, +1 day): now_real - T is large, the token is replaced
 *     before AWS (whose clock is right) sees it expired;
 *   - wall clock jumps backward: now_real < T, i.e. the token was "minted in the future".  Its
 *     X-Amz-Date and expiry are in a time frame the current clock disagrees with, and we cannot
 *     tell which clock AWS agrees with.  Rule: the current wall clock wins.  Such a token is
 *     never served (not even as the fallback when a mint fails): it is re-minted so that the
 *     expiry we report and the token's own X-Amz-Date + X-Amz-Expires are the same instant by
 *     the clock the client will compare them with.
 * The wall clock is read in whole seconds, the resolution of X-Amz-Date itself; so expires_at -
 * now is exactly what a client computes from SMTOKEN_EXPIRES_AT.
 *
 * floor = min(min_remaining, lifetime / 5), at least 1 s, so a 5 s endpoint gets a 1 s floor and
 * still works (it rotates at 4 s and re-mints a request arriving after that).  The rotation
 * point is capped at L - F so that refresh = 99% cannot leave a window in which the token is
 * neither rotated nor servable.  Credentials that expire in less than F cannot mint at all:
 * SMT_ERR_EXPIRED.
 *
 * per_request: every get mints; there is no fallback to the previous token, which another
 * client already holds.
 */
#include <config.h> /* autoconf's; "config.h" would find agent/config.h */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "agent/cache.h"
#include "agent/creds.h"
#include "agent/log.h"
#include "agent/token.h"

#define USEC 1000000LL

struct smt_cache {
    struct smt_clock clock;
    enum smt_service service;
    char *region;
    uint32_t lifetime;
    uint32_t floor;
    unsigned refresh_pct;
    bool per_request;

    char *tok[2]; /* sodium_malloc'd; tok[cur] holds the current token when tok_len > 0 */
    size_t tok_size[2];
    int cur;
    size_t tok_len;
    int64_t minted_at;  /* T, wall clock */
    int64_t expires_at; /* T + L */
    uint64_t minted_bt; /* B, boottime usec */
};

static int64_t system_realtime(void *userdata)
{
    struct timespec ts;

    (void)userdata;
    if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
        return 0;
    return (int64_t)ts.tv_sec;
}

static uint64_t system_boottime(void *userdata)
{
    struct timespec ts;

    (void)userdata;
    if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
        return 0;
    return (uint64_t)ts.tv_sec * USEC + (uint64_t)ts.tv_nsec / 1000;
}

const struct smt_clock smt_clock_system = {system_realtime, system_boottime, NULL};

/* DESIGN §4: token slots are PROT_NONE except between smt_cache_get and smt_cache_release
 * (the current one, read-only) and while a mint writes the spare one. */
static void wipe_slot(struct smt_cache *c, int i)
{
    if (c->tok[i]) {
        sodium_mprotect_readwrite(c->tok[i]);
        sodium_memzero(c->tok[i], c->tok_size[i]);
        sodium_mprotect_noaccess(c->tok[i]);
    }
}

void smt_cache_release(struct smt_cache *c)
{
    if (!c)
        return;
    for (int i = 0; i < 2; i++)
        if (c->tok[i])
            sodium_mprotect_noaccess(c->tok[i]);
}

void smt_cache_invalidate(struct smt_cache *c)
{
    if (!c)
        return;
    wipe_slot(c, 0);
    wipe_slot(c, 1);
    c->tok_len = 0;
    c->minted_at = 0;
    c->expires_at = 0;
    c->minted_bt = 0;
}

void smt_cache_free(struct smt_cache *c)
{
    if (!c)
        return;
    for (int i = 0; i < 2; i++)
        sodium_free(c->tok[i]); /* wipes */
    free(c->region);
    free(c);
}

int smt_cache_new(const struct smt_cache_params *p, const struct smt_clock *clock,
                  struct smt_cache **ret)
{
    struct smt_cache *c = NULL;
    int r;

    if (!p || !ret || !p->region || !*p->region || p->lifetime < SMT_LIFETIME_MIN ||
        p->lifetime > SMT_LIFETIME_MAX || p->refresh_pct < 1 || p->refresh_pct > 99 ||
        (p->service != SMT_SVC_SAGEMAKER && p->service != SMT_SVC_BEDROCK)) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if (sodium_init() < 0) {
        r = SMT_ERR_CRYPTO;
        goto out;
    }
    if (!(c = calloc(1, sizeof(*c))) || !(c->region = strdup(p->region))) {
        r = SMT_ERR_NOMEM;
        goto out;
    }
    c->clock = clock ? *clock : smt_clock_system;
    c->service = p->service;
    c->lifetime = p->lifetime;
    c->refresh_pct = p->refresh_pct;
    c->floor = smt_cache_floor(p->lifetime, p->min_remaining);
    c->per_request = p->per_request;
    *ret = c;
    c = NULL;
    r = 0;
out:
    smt_cache_free(c);
    return r;
}

/* ---- the rules from the top of the file ---- */

static int64_t life_us(const struct smt_cache *c)
{
    return (c->expires_at - c->minted_at) * USEC;
}

static int64_t rotate_after_us(const struct smt_cache *c)
{
    int64_t l = life_us(c), at = l * (int64_t)c->refresh_pct / 100;

    if (at > l - (int64_t)c->floor * USEC)
        at = l - (int64_t)c->floor * USEC;
    return at < 0 ? 0 : at;
}

/* Time since the mint by the clock that says more; -1 when the token was minted in the
 * future (wall clock went back) or boottime went back (cannot happen; treated the same). */
static int64_t elapsed_us(const struct smt_cache *c, int64_t now_rt, uint64_t now_bt)
{
    int64_t rt, bt;

    if (now_rt < c->minted_at || now_bt < c->minted_bt)
        return -1;
    rt = (now_rt - c->minted_at) * USEC;
    bt = (int64_t)(now_bt - c->minted_bt);
    return rt > bt ? rt : bt;
}

static bool servable(const struct smt_cache *c, int64_t elapsed)
{
    return c->tok_len > 0 && elapsed >= 0 && life_us(c) - elapsed >= (int64_t)c->floor * USEC;
}

static int mint(struct smt_cache *c, struct smt_minter *m, const struct smt_creds *creds,
                int64_t now_rt, uint64_t now_bt, struct smt_diag *d)
{
    uint32_t life = c->lifetime;
    int spare = !c->cur;
    size_t need, len = 0;
    char when[40];
    int r;

    if (!creds || !m) {
        r = smt_diag_set(d, SMT_ERR_CREDS, "no credentials to mint a token with");
        goto out;
    }
    if (creds->expiration) {
        int64_t left = creds->expiration - now_rt;

        smt_iso8601(creds->expiration, when, sizeof(when));
        if (left <= 0) {
            r = smt_diag_set(d, SMT_ERR_EXPIRED, "the credentials expired at %s", when);
            goto out;
        }
        if (left < (int64_t)c->floor) {
            r = smt_diag_set(d, SMT_ERR_EXPIRED,
                             "the credentials expire at %s, in %llds: less than the %us a token "
                             "must have left",
                             when, (long long)left, c->floor);
            goto out;
        }
        if (left < (int64_t)life)
            life = (uint32_t)left;
    }
    need = smt_token_size(creds->session_token_len);
    if (c->tok_size[spare] < need) {
        char *p = sodium_malloc(need);

        if (!p) {
            r = smt_diag_set(d, SMT_ERR_NOMEM, "cannot allocate secure memory for a token");
            goto out;
        }
        sodium_free(c->tok[spare]);
        c->tok[spare] = p;
        c->tok_size[spare] = need;
    }
    sodium_mprotect_readwrite(c->tok[spare]);
    r = smt_token_mint(m, creds, c->service, c->region, life, (time_t)now_rt, c->tok[spare],
                       c->tok_size[spare], &len);
    sodium_mprotect_noaccess(c->tok[spare]);
    if (r < 0) {
        wipe_slot(c, spare);
        smt_diag_set(d, r, "cannot mint a token: %s", smt_strerror(r));
        goto out;
    }
    wipe_slot(c, c->cur);
    c->cur = spare;
    c->tok_len = len;
    c->minted_at = now_rt;
    c->expires_at = now_rt + (int64_t)life;
    c->minted_bt = now_bt;
    r = 0;
out:
    return r;
}

int smt_cache_get(struct smt_cache *c, struct smt_minter *m, const struct smt_creds *creds,
                  const char **ret_token, size_t *ret_len, int64_t *ret_expires_at,
                  bool *ret_minted, struct smt_diag *d)
{
    int64_t now_rt, elapsed = -1;
    uint64_t now_bt;
    bool minted = false;
    int r;

    if (!c || !ret_token) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if (d)
        d->msg[0] = d->hint[0] = '\0';
    now_rt = c->clock.realtime(c->clock.userdata);
    now_bt = c->clock.boottime(c->clock.userdata);
    if (c->tok_len > 0)
        elapsed = elapsed_us(c, now_rt, now_bt);

    if (!c->per_request && servable(c, elapsed) && elapsed < rotate_after_us(c)) {
        r = 0;
        goto done;
    }
    r = mint(c, m, creds, now_rt, now_bt, d);
    if (r == 0) {
        minted = true;
        goto done;
    }
    /* The mint failed: the last good token, while it has the floor left (d keeps the why). */
    if (!c->per_request && servable(c, elapsed)) {
        r = 0;
        goto done;
    }
    smt_cache_invalidate(c); /* nothing servable left: do not keep it around */
    goto out;
done:
    sodium_mprotect_readonly(c->tok[c->cur]); /* until smt_cache_release */
    *ret_token = c->tok[c->cur];
    if (ret_len)
        *ret_len = c->tok_len;
    if (ret_expires_at)
        *ret_expires_at = c->expires_at;
    if (ret_minted)
        *ret_minted = minted;
    r = 0;
out:
    return r;
}

uint64_t smt_cache_rotate_at(const struct smt_cache *c)
{
    if (!c || c->tok_len == 0)
        return 0;
    return c->minted_bt + (uint64_t)rotate_after_us(c);
}

int64_t smt_cache_expires_at(const struct smt_cache *c)
{
    return c && c->tok_len ? c->expires_at : 0;
}

int64_t smt_cache_minted_at(const struct smt_cache *c)
{
    return c && c->tok_len ? c->minted_at : 0;
}
