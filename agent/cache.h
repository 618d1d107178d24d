/* smtoken-agent: per-endpoint token cache and rotation (DESIGN §2, §4).
 *
 * Time is injected: realtime (what tokens are signed with and expire by) and boottime (what
 * timers run on; it keeps counting through suspend).  A token is handed out only while it has
 * at least the effective floor left:  floor = min(min_remaining, lifetime / 5), at least 1 s.
 * It is re-minted when either clock says its rotation point (refresh% of its life) has passed,
 * so suspend, resume and clock jumps (either way) never yield an expired token.
 * Effective expiry = min(mint time + lifetime, credential expiry); X-Amz-Expires is clamped to it.
 */
#ifndef SMT_CACHE_H
#define SMT_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/token.h"
#include "proto/err.h"

struct smt_creds;

struct smt_clock {
    int64_t (*realtime)(void *userdata); /* CLOCK_REALTIME, whole seconds */
    uint64_t (*boottime)(void *userdata); /* CLOCK_BOOTTIME, microseconds */
    void *userdata;
};
/* The real clocks. */
extern const struct smt_clock smt_clock_system;

struct smt_cache_params {
    enum smt_service service;
    const char *region;     /* copied */
    uint32_t lifetime;      /* 1..43200 */
    unsigned refresh_pct;   /* 1..99 */
    uint32_t min_remaining; /* seconds; the floor is min(this, lifetime/5), >= 1 */
    bool per_request;       /* mint a new token for every get */
};

struct smt_cache;

int smt_cache_new(const struct smt_cache_params *p, const struct smt_clock *clock,
                  struct smt_cache **ret) SMT_WUR;
void smt_cache_free(struct smt_cache *c); /* wipes the token */

/* A token with at least the floor left, minting one from creds when needed (creds must be
 * unlocked by the caller; NULL means "none available": only a cached token can be served, else
 * SMT_ERR_CREDS). *ret_token points into the cache's secure memory and stays readable until
 * smt_cache_release or the next call on this cache. When creds expire too soon for the floor, returns SMT_ERR_EXPIRED
 * (d says when they expire[d]); on mint failure the last good token is still served while it
 * has the floor left (not in per_request mode): then the call succeeds, ret_minted is false and
 * d->msg says why the mint failed (d->msg is "" after any other success).  ret_minted (may be
 * NULL) says a new token was minted.  d may be NULL. */
int smt_cache_get(struct smt_cache *c, struct smt_minter *m, const struct smt_creds *creds,
                  const char **ret_token, size_t *ret_len, int64_t *ret_expires_at,
                  bool *ret_minted, struct smt_diag *d) SMT_WUR;

/* The token smt_cache_get returned is readable until this call (or the next call on the cache);
 * afterwards its memory is PROT_NONE again. */
void smt_cache_release(struct smt_cache *c);

/* Drop the cached token (wiped), e.g. when credentials changed. */
void smt_cache_invalidate(struct smt_cache *c);

/* Boottime (usec) at which the current token should be rotated; 0 if there is none. */
uint64_t smt_cache_rotate_at(const struct smt_cache *c);
/* Expiry (epoch s) of the cached token, 0 if none; the mint time likewise. */
int64_t smt_cache_expires_at(const struct smt_cache *c);
int64_t smt_cache_minted_at(const struct smt_cache *c);

/* The floor for a lifetime: min(min_remaining, lifetime / 5), at least 1.  Inline so that
 * --once (agent/once.c) applies the same rule without linking the cache. */
static inline uint32_t smt_cache_floor(uint32_t lifetime, uint32_t min_remaining)
{
    uint32_t f = lifetime / 5;

    if (min_remaining < f)
        f = min_remaining;
    return f < 1 ? 1 : f;
}

#endif
