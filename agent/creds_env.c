/* smtoken-agent: credentials from environment variables, as botocore's EnvProvider reads them.
 *
 * AWS_ACCESS_KEY_ID set and non-empty selects this source; then AWS_SECRET_ACCESS_KEY must be
 * too.  The session token is the first non-empty of AWS_SECURITY_TOKEN and AWS_SESSION_TOKEN
 * (botocore's order); AWS_CREDENTIAL_EXPIRATION (RFC 3339) bounds the credentials' life.
 * The values are copied into the secure arena; the environment itself belongs to the caller
 * (the agent clears it after start-up, DESIGN §4).
 */
#include <config.h> /* autoconf's; "config.h" would find agent/config.h */

#include <stdlib.h>
#include <string.h>

#include "agent/creds.h"
#include "agent/creds_internal.h"

static const char *nonempty_env(const char *name)
{
    const char *v = getenv(name);

    return v && *v ? v : NULL;
}

int smt_creds_from_env(struct smt_creds **ret, struct smt_diag *d)
{
    const char *ak, *sk, *st, *st_var = "AWS_SECURITY_TOKEN", *exp;
    int64_t expiration = 0;
    struct smt_creds *c = NULL;
    int r;

    ak = nonempty_env("AWS_ACCESS_KEY_ID");
    if (!ak)
        return SMT_ERR_NOT_FOUND;
    sk = nonempty_env("AWS_SECRET_ACCESS_KEY");
    if (!sk) {
        r = smt_diag_set(d, SMT_ERR_CREDS,
                         "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
        smt_diag_hint(d, "export AWS_SECRET_ACCESS_KEY as well, or unset AWS_ACCESS_KEY_ID to use "
                         "a profile from ~/.aws");
        goto out;
    }
    st = nonempty_env(st_var);
    if (!st) {
        st_var = "AWS_SESSION_TOKEN";
        st = nonempty_env(st_var);
    }
    exp = nonempty_env("AWS_CREDENTIAL_EXPIRATION");
    if (exp && smt_parse_rfc3339(exp, strlen(exp), &expiration) < 0) {
        r = smt_diag_set(d, SMT_ERR_CREDS,
                         "AWS_CREDENTIAL_EXPIRATION is not an RFC 3339 time (like "
                         "2024-05-01T12:00:00Z)");
        goto out;
    }
    if ((r = smt_creds_check_chars("AWS_ACCESS_KEY_ID", ak, strlen(ak), d)) < 0 ||
        (r = smt_creds_check_chars("AWS_SECRET_ACCESS_KEY", sk, strlen(sk), d)) < 0 ||
        (st && (r = smt_creds_check_chars(st_var, st, strlen(st), d)) < 0))
        goto out;
    r = smt_creds_new(ak, strlen(ak), sk, strlen(sk), st, st ? strlen(st) : 0, expiration, &c);
    if (r < 0) {
        smt_diag_set(d, r,
                     "the credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / "
                     "AWS_SESSION_TOKEN are unusable: %s",
                     r == SMT_ERR_TOO_LARGE ? "a value is too long" : smt_strerror(r));
        goto out;
    }
    *ret = c;
    c = NULL;
    r = 0;
out:
    smt_creds_free(c);
    return r;
}
