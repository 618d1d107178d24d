/* smtoken-agent: bearer tokens for SageMaker / Bedrock (DESIGN §2).
 *
 * A token is prefix + base64("<host>/?<presigned query>&X-Amz-Signature=<sig>&Version=1").
 * Pure: the time is an argument; nothing here reads a clock or the environment.
 */
#ifndef SMT_TOKEN_H
#define SMT_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "proto/err.h"

struct smt_creds;

enum smt_service {
    SMT_SVC_SAGEMAKER = 0,
    SMT_SVC_BEDROCK = 1,
};

#define SMT_LIFETIME_MIN 1
#define SMT_LIFETIME_MAX 43200

/* "sagemaker" / "bedrock"; the global signing host; the token prefix. */
const char *smt_service_name(enum smt_service s);
const char *smt_service_host(enum smt_service s);
const char *smt_service_prefix(enum smt_service s);
/* Parse "sagemaker" or "bedrock" (exact, lower case). */
int smt_service_parse(const char *s, enum smt_service *ret) SMT_WUR;

/* Holds what can be reused between mints of one credential set: OpenSSL digest and contexts,
 * and kSigning (in sodium_malloc memory) for the last (secret, date, region, service), wiped
 * when any of them changes.  Not thread-safe; one per credential set. */
struct smt_minter;
int smt_minter_new(struct smt_minter **ret) SMT_WUR;
void smt_minter_free(struct smt_minter *m);
/* Forget (wipe) the cached signing key, e.g. when credentials change. */
void smt_minter_reset(struct smt_minter *m);
/* DESIGN §4: PROT_NONE on the signing key cache and the scratch (it held the session token)
 * while idle.  A new minter is unlocked; a mint on a locked one opens it for its own duration
 * (four mprotect calls: see make bench). */
void smt_minter_lock(struct smt_minter *m);
void smt_minter_unlock(struct smt_minter *m);

/* Bytes needed for a token (including the NUL) for a session token of st_len bytes. */
size_t smt_token_size(size_t session_token_len);

/* Mint one token into out (caller's memory, which should be secure; NUL-terminated).
 * lifetime outside SMT_LIFETIME_MIN..MAX is SMT_ERR_LIFETIME, an empty region is
 * SMT_ERR_INVALID, out too small is SMT_ERR_TOO_LARGE.  Any other byte in any input is
 * percent-encoded exactly as botocore does (the config layer validates region names). */
int smt_token_mint(struct smt_minter *m, const struct smt_creds *c, enum smt_service svc,
                   const char *region, uint32_t lifetime, time_t now, char *out, size_t out_size,
                   size_t *ret_len) SMT_WUR;

/* smt_token_mint that also copies every SigV4 intermediate into trace (agent/sigv4.h; start it
 * zeroed, release it with smt_sigv4_trace_clear).  For tests and benchmarks only: a trace holds
 * the signing key.  trace NULL is smt_token_mint. */
struct smt_sigv4_trace;
int smt_token_mint_trace(struct smt_minter *m, const struct smt_creds *c, enum smt_service svc,
                         const char *region, uint32_t lifetime, time_t now, char *out,
                         size_t out_size, size_t *ret_len, struct smt_sigv4_trace *trace) SMT_WUR;

/* Fingerprint for logs: the first 12 hex digits of sha256(token), NUL-terminated. */
int smt_token_fingerprint(const char *token, size_t len, char out[13]) SMT_WUR;

#endif
