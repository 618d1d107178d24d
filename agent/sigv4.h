/* smtoken-agent: the SigV4 query presigner behind every token (DESIGN §2).
 *
 * Pure: the time is an argument; nothing here reads a clock, the environment or a file, and
 * nothing logs.  One request shape only, the one the SageMaker SDK presigns:
 *   POST https://<host>/?Action=CallWithBearerToken&X-Amz-Algorithm=...&X-Amz-Signature=<sig>
 * with `host` the only signed header and sha256("") as the payload hash.
 *
 * A struct smt_sigv4 keeps what is reused between presigns: the prefetched SHA-256, reusable
 * digest contexts and kSigning (in sodium_malloc memory) for the last (secret, date, region,
 * service), with the HMAC pads of kSigning already hashed.  Not thread-safe.
 */
#ifndef SMT_SIGV4_H
#define SMT_SIGV4_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "proto/err.h"

/* Caps on the inputs (bytes, before encoding).  They bound the URL (smt_sigv4_url_size) and the
 * signer's cache; the credential caps match agent/creds.h. */
#define SMT_SIGV4_ACCESS_KEY_MAX    128
#define SMT_SIGV4_SECRET_KEY_MAX    128
#define SMT_SIGV4_SESSION_TOKEN_MAX (1024 * 1024)
#define SMT_SIGV4_REGION_MAX        64
#define SMT_SIGV4_SERVICE_MAX       32
#define SMT_SIGV4_HOST_MAX          255
/* SigV4 refuses presigned URLs valid for longer than 7 days. */
#define SMT_SIGV4_EXPIRES_MAX 604800
/* Latest time an X-Amz-Date can express: 9999-12-31T23:59:59Z. */
#define SMT_SIGV4_TIME_MAX ((time_t)253402300799LL)

/* Length of "https://" at the front of every presigned URL. */
#define SMT_SIGV4_SCHEME_LEN 8

struct smt_sigv4_request {
    const char *access_key; /* any bytes; percent-encoded in the URL */
    size_t access_key_len;
    const char *secret_key;
    size_t secret_key_len;
    /* NULL: no X-Amz-Security-Token.  Non-NULL with length 0: an empty X-Amz-Security-Token=,
     * which is what botocore does for "" (vector v41).  The token layer maps "" to NULL. */
    const char *session_token;
    size_t session_token_len;
    const char *region; /* raw in the scope, percent-encoded in X-Amz-Credential */
    size_t region_len;
    const char *service; /* NUL-terminated, e.g. "sagemaker" */
    const char *host;    /* NUL-terminated, e.g. "sagemaker.amazonaws.com"; written as is */
    uint32_t expires;    /* X-Amz-Expires, 1..SMT_SIGV4_EXPIRES_MAX */
    time_t now;          /* X-Amz-Date, 0..SMT_SIGV4_TIME_MAX */
};

/* Every intermediate of one presign, for tests (pass NULL in production).  Strings are
 * NUL-terminated; the two long ones are malloc'd and released, wiped, by
 * smt_sigv4_trace_clear().  signing_key is kSigning in hex: never fill a trace in the agent. */
struct smt_sigv4_trace {
    char *canonical_request;
    char canonical_request_sha256[65];
    char string_to_sign[256];
    char signing_key[65];
    char signature[65];
    char *presigned_url;
    int key_derived; /* 1: this presign derived kSigning; 0: it came from the cache */
};
void smt_sigv4_trace_clear(struct smt_sigv4_trace *t);

struct smt_sigv4;
int smt_sigv4_new(struct smt_sigv4 **ret) SMT_WUR;
/* Wipes the cached key and frees.  NULL is accepted. */
void smt_sigv4_free(struct smt_sigv4 *s);
/* Wipe the cached kSigning (and its keyed HMAC state); the next presign derives it again. */
void smt_sigv4_reset(struct smt_sigv4 *s);
/* DESIGN §4: make the key cache PROT_NONE while idle / accessible again.  A new signer is
 * unlocked; a presign on a locked signer opens it for its own duration (two mprotect calls). */
void smt_sigv4_lock(struct smt_sigv4 *s);
void smt_sigv4_unlock(struct smt_sigv4 *s);

/* Bytes a presigned URL (plus NUL) can need for inputs of these lengths (every byte of access
 * key, region and session token assumed to need %XX).  0 when an input is over its cap. */
size_t smt_sigv4_url_size(size_t access_key_len, size_t region_len, size_t service_len,
                          size_t host_len, size_t session_token_len);

/* Presign: writes "https://<host>/?<query>&X-Amz-Signature=<64 hex>" NUL-terminated into url.
 * url_size must be at least smt_sigv4_url_size() for the request's lengths, else
 * SMT_ERR_TOO_LARGE (checked before anything is written).  An input over its cap is
 * SMT_ERR_TOO_LARGE, a missing or empty access key, secret, region, service or host
 * SMT_ERR_INVALID, expires outside 1..SMT_SIGV4_EXPIRES_MAX SMT_ERR_LIFETIME, now outside
 * 0..SMT_SIGV4_TIME_MAX SMT_ERR_INVALID.  url holds the session token: make it secure memory
 * and wipe it after use.  trace (may be NULL) receives copies of every intermediate. */
int smt_sigv4_presign(struct smt_sigv4 *s, const struct smt_sigv4_request *req, char *url,
                      size_t url_size, size_t *ret_len, struct smt_sigv4_trace *trace) SMT_WUR;

/* now as X-Amz-Date "YYYYMMDDTHHMMSSZ" (UTC; proleptic Gregorian, no leap seconds).
 * SMT_ERR_INVALID outside 0..SMT_SIGV4_TIME_MAX. */
int smt_sigv4_amzdate(time_t now, char out[17]) SMT_WUR;

/* Percent-encode len bytes of src into dst (room for 3 * len bytes; not NUL-terminated):
 * A-Z a-z 0-9 - _ . ~ pass, every other byte becomes %XX with upper-case hex.  Returns the
 * number of bytes written. */
size_t smt_sigv4_encode(char *dst, const char *src, size_t len);

#endif
