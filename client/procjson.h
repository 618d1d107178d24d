/* smtoken client: the credential_process JSON reader for `smtoken add PROFILE --process-json -`,
 * and the RFC 3339 time parser it and `--from-env` (AWS_CREDENTIAL_EXPIRATION) share.
 *
 * Accepted input (the AWS CLI's credential_process format, Version 1): one JSON object with
 * "Version": 1, "AccessKeyId", "SecretAccessKey", optional "SessionToken", optional
 * "Expiration" (RFC 3339); other members are skipped, duplicates of these are refused.
 * Pure: bytes in, struct out; the secrets live in malloc'd memory wiped by smt_procjson_free.
 */
#ifndef SMT_PROCJSON_H
#define SMT_PROCJSON_H

#include <stddef.h>
#include <stdint.h>

#include "proto/err.h"

#define SMT_PROCJSON_MAX (64 * 1024) /* largest input accepted */

struct smt_procjson {
    char *access_key;
    char *secret_key;
    char *session_token; /* "" = none */
    uint64_t expiration; /* epoch s, 0 = none */
};

/* Parse len bytes (need not be NUL-terminated).  SMT_ERR_FORMAT / SMT_ERR_TOO_LARGE with a
 * message in d that names the problem and its byte offset, never a value. */
int smt_procjson_parse(const char *text, size_t len, struct smt_procjson *ret,
                       struct smt_diag *d) SMT_WUR;
void smt_procjson_free(struct smt_procjson *p); /* wipes; frees members, not p */

/* "2024-05-01T12:00:00Z", "2024-05-01T12:00:00.123+02:00" (also 't', ' ', 'z') -> epoch s.
 * SMT_ERR_FORMAT for anything else, an impossible date, or a time before 1970. */
int smt_rfc3339_parse(const char *s, uint64_t *ret) SMT_WUR;

#endif
