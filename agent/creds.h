/* smtoken-agent: one AWS credential set in libsodium secure memory.
 *
 * All three strings live in one sodium_malloc arena (one allocation = pages + guard pages,
 * see NOTES.md), NUL-terminated.  The arena is kept PROT_NONE while idle: call
 * smt_creds_unlock() before reading and smt_creds_lock() after.  Freed with a wipe.
 */
#ifndef SMT_CREDS_H
#define SMT_CREDS_H

#include <stddef.h>
#include <stdint.h>

#include "proto/err.h"

#define SMT_ACCESS_KEY_MAX    128
#define SMT_SECRET_KEY_MAX    128
#define SMT_SESSION_TOKEN_MAX 16384 /* inclusive: real ones are 1-3 KB, DESIGN §4 wants >= 16 KiB */

struct smt_creds {
    char *access_key; /* inside the arena, NUL-terminated */
    size_t access_key_len;
    char *secret_key;
    size_t secret_key_len;
    char *session_token; /* NULL when there is none; "" given to _new counts as none */
    size_t session_token_len;
    int64_t expiration; /* epoch seconds; 0 = does not expire */

    /* private */
    void *arena;
    size_t arena_size;
};

/* Copy the given strings into a new secure arena. Lengths exclude any NUL; the strings need
 * not be NUL-terminated.  Embedded NULs, an empty access or secret key, and values longer than
 * the caps are SMT_ERR_CREDS / SMT_ERR_TOO_LARGE.  The new set is returned unlocked. */
int smt_creds_new(const char *access_key, size_t access_key_len, const char *secret_key,
                  size_t secret_key_len, const char *session_token, size_t session_token_len,
                  int64_t expiration, struct smt_creds **ret) SMT_WUR;
void smt_creds_free(struct smt_creds *c);
/* PROT_NONE while idle / PROT_READ while in use. NULL is accepted. */
void smt_creds_lock(const struct smt_creds *c);
void smt_creds_unlock(const struct smt_creds *c);

/* Where a credential set came from, for `smtoken status` (never secret). */
#define SMT_SOURCE_MAX 160

/* Resolve credentials the way the AWS CLI does (DESIGN §4).  profile NULL means the default
 * chain: environment variables first, then AWS_DEFAULT_PROFILE / AWS_PROFILE / "default" in the
 * shared files.  An explicit profile skips the environment keys.  On success *ret holds an
 * unlocked set and source (if non-NULL) names where it came from, e.g. "env",
 * "shared-credentials-file (profile work)". On failure d says what is wrong and what to do. */
int smt_creds_resolve(const char *profile, struct smt_creds **ret, char *source, size_t source_len,
                      struct smt_diag *d) SMT_WUR;

/* How long a credential_process or `aws configure export-credentials` may run ([agent]
 * credential_timeout in smtoken.conf; the AWS CLI may refresh an SSO token over the network). */
#define SMT_CREDS_TIMEOUT_MS 30000
struct smt_creds_opts {
    int timeout_ms; /* <= 0: SMT_CREDS_TIMEOUT_MS */
};
/* smt_creds_resolve with options; o NULL means the defaults.  Blocks while a process runs: the
 * agent's event loop runs them through agent/credjob.c instead. */
int smt_creds_resolve_opts(const char *profile, const struct smt_creds_opts *o,
                           struct smt_creds **ret, char *source, size_t source_len,
                           struct smt_diag *d) SMT_WUR;

/* The region a profile names in the AWS config file (region = ...), or AWS_REGION /
 * AWS_DEFAULT_REGION from the environment, in the AWS CLI's order.  *ret is malloc'd, or NULL
 * when none is set (that is not an error). */
int smt_creds_region(const char *profile, char **ret, struct smt_diag *d) SMT_WUR;

#endif
