/* smtoken-agent: a profile's credentials from the AWS CLI's shared files.
 *
 * botocore's order for a profile (credentials.py create_credential_resolver and
 * ProfileProviderBuilder): assume-role (role_arn), web identity, SSO, static keys in the
 * credentials file, credential_process, static keys in the config file.  The profile's settings
 * are the config file's `[profile P]` with the credentials file's `[P]` merged over it
 * (session.full_config), except for the static keys, which each provider reads from its own file.
 * Profiles that need the network (role_arn, web identity, SSO) go through the AWS CLI.  Nothing
 * here runs a process: a credential_process or the AWS CLI becomes a planned command
 * (creds_internal.h) that the caller runs.
 */
#include <config.h> /* autoconf's; "config.h" would find agent/config.h */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agent/awsfiles.h"
#include "agent/creds.h"
#include "agent/creds_internal.h"

struct files {
    const char *profile;
    struct smt_awsfile *creds;  /* AWS_SHARED_CREDENTIALS_FILE */
    struct smt_awsfile *config; /* AWS_CONFIG_FILE */
};

/* key from the merged profile: the credentials file's value over the config file's.
 * 0 (with *ret in secure memory), SMT_ERR_NOT_FOUND, or a parse error. */
static int merged(const struct files *f, const char *key, char **ret, struct smt_diag *d)
{
    int r = smt_awsfile_get(f->creds, f->profile, key, ret, NULL, d);

    if (r == SMT_ERR_NOT_FOUND)
        r = smt_awsfile_get(f->config, f->profile, key, ret, NULL, d);
    return r;
}

/* Does the merged profile set key?  (<0 on a parse error.) */
static int has(const struct files *f, const char *key, struct smt_diag *d)
{
    char *v = NULL;
    int r = merged(f, key, &v, d);

    if (v)
        sodium_free(v);
    return r == 0 ? 1 : r == SMT_ERR_NOT_FOUND ? 0 : r;
}

/* Static keys from one file's section, as SharedCredentialProvider / ConfigProvider. */
static int static_keys(const struct files *f, const struct smt_awsfile *file,
                       struct smt_creds **ret, struct smt_diag *d)
{
    char *ak = NULL, *sk = NULL, *st = NULL, what[300];
    size_t akn = 0, skn = 0, stn = 0;
    int r;

    if ((r = smt_awsfile_get(file, f->profile, "aws_access_key_id", &ak, &akn, d)) < 0)
        goto out;
    r = smt_awsfile_get(file, f->profile, "aws_secret_access_key", &sk, &skn, d);
    if (r == SMT_ERR_NOT_FOUND || (r == 0 && skn == 0)) {
        r = smt_diag_set(d, SMT_ERR_CREDS,
                         "profile '%s' in %s has aws_access_key_id but no aws_secret_access_key",
                         f->profile, file->path);
        smt_diag_hint(d, "add aws_secret_access_key to [%s%s] or run 'aws configure --profile %s'",
                      file->kind == SMT_AWSFILE_CONFIG && strcmp(f->profile, "default") != 0
                          ? "profile "
                          : "",
                      f->profile, f->profile);
        goto out;
    }
    if (r < 0)
        goto out;
    /* botocore: the first of these that is present, even if empty ("" = no token). */
    r = smt_awsfile_get(file, f->profile, "aws_security_token", &st, &stn, d);
    if (r == SMT_ERR_NOT_FOUND)
        r = smt_awsfile_get(file, f->profile, "aws_session_token", &st, &stn, d);
    if (r < 0 && r != SMT_ERR_NOT_FOUND)
        goto out;
    if (akn == 0) {
        r = smt_diag_set(d, SMT_ERR_CREDS, "aws_access_key_id of profile '%s' in %s is empty",
                         f->profile, file->path);
        goto out;
    }
    snprintf(what, sizeof(what), "aws_access_key_id of profile '%s' in %s", f->profile, file->path);
    if ((r = smt_creds_check_chars(what, ak, akn, d)) < 0)
        goto out;
    snprintf(what, sizeof(what), "aws_secret_access_key of profile '%s' in %s", f->profile,
             file->path);
    if ((r = smt_creds_check_chars(what, sk, skn, d)) < 0)
        goto out;
    snprintf(what, sizeof(what), "aws_session_token of profile '%s' in %s", f->profile, file->path);
    if (st && (r = smt_creds_check_chars(what, st, stn, d)) < 0)
        goto out;
    r = smt_creds_new(ak, akn, sk, skn, st, st ? stn : 0, 0, ret);
    if (r < 0) {
        smt_diag_set(d, r, "the credentials of profile '%s' in %s are unusable: %s", f->profile,
                     file->path, r == SMT_ERR_TOO_LARGE ? "a value is too long" : smt_strerror(r));
        goto out;
    }
out:
    if (ak)
        sodium_free(ak);
    if (sk)
        sodium_free(sk);
    if (st)
        sodium_free(st);
    return r;
}

int smt_creds_plan_files(const char *profile, bool explicit_profile, struct smt_creds_plan *pl,
                         struct smt_diag *d)
{
    struct files f = {.profile = profile};
    struct smt_creds *c = NULL;
    char *cpath = NULL, *fpath = NULL, *cmd = NULL, what[SMT_SOURCE_MAX];
    int r, in_creds, in_config;

    if ((r = smt_creds_aws_path("AWS_SHARED_CREDENTIALS_FILE", "credentials", &fpath)) < 0 ||
        (r = smt_creds_aws_path("AWS_CONFIG_FILE", "config", &cpath)) < 0) {
        smt_diag_set(d, r, "out of memory");
        goto out;
    }
    if ((r = smt_awsfile_read(fpath, SMT_AWSFILE_CREDENTIALS, &f.creds, d)) < 0 ||
        (r = smt_awsfile_read(cpath, SMT_AWSFILE_CONFIG, &f.config, d)) < 0)
        goto out;
    /* botocore refuses a file it cannot parse, whatever profile is asked for. */
    if ((r = smt_awsfile_check(f.creds, d)) < 0 || (r = smt_awsfile_check(f.config, d)) < 0) {
        smt_diag_hint(d, "fix the file; the AWS CLI refuses it too");
        goto out;
    }
    in_creds = smt_awsfile_get(f.creds, profile, NULL, NULL, NULL, d) == 0;
    in_config = smt_awsfile_get(f.config, profile, NULL, NULL, NULL, d) == 0;
    if (!in_creds && !in_config) {
        if (explicit_profile) {
            r = smt_diag_set(
                d, SMT_ERR_NOT_FOUND,
                "no AWS credentials found for profile '%s': it is in neither %s nor %s", profile,
                fpath, cpath);
            smt_diag_hint(d,
                          "create it with 'aws configure --profile %s' (or 'aws configure sso "
                          "--profile %s'), or fix the profile name",
                          profile, profile);
        } else {
            r = smt_diag_set(d, SMT_ERR_CREDS,
                             "no AWS credentials found: AWS_ACCESS_KEY_ID is not set and there is "
                             "no [default] profile in %s or %s",
                             fpath, cpath);
            smt_diag_hint(d, "run 'aws configure' (or 'aws configure sso'), set profile = NAME for "
                             "the endpoint, or export AWS_ACCESS_KEY_ID and "
                             "AWS_SECRET_ACCESS_KEY");
        }
        goto out;
    }

    /* Profiles that need the network: the AWS CLI resolves them. */
    if ((r = has(&f, "role_arn", d)) < 0)
        goto out;
    if (r) {
        r = smt_creds_plan_aws_cli(pl, profile, "role_arn", d);
        snprintf(what, sizeof(what), "aws-cli assume-role (profile %s)", profile);
        goto found;
    }
    if ((r = has(&f, "web_identity_token_file", d)) < 0)
        goto out;
    if (r) {
        r = smt_creds_plan_aws_cli(pl, profile, "web_identity_token_file", d);
        snprintf(what, sizeof(what), "aws-cli web identity (profile %s)", profile);
        goto found;
    }
    if ((r = has(&f, "sso_session", d)) < 0 || (!r && (r = has(&f, "sso_start_url", d)) < 0))
        goto out;
    if (r) {
        r = smt_creds_plan_aws_cli(pl, profile, "SSO", d);
        snprintf(what, sizeof(what), "aws-cli sso (profile %s)", profile);
        goto found;
    }

    r = static_keys(&f, f.creds, &c, d);
    snprintf(what, sizeof(what), "shared-credentials-file (profile %s)", profile);
    if (r != SMT_ERR_NOT_FOUND)
        goto found;

    r = merged(&f, "credential_process", &cmd, d);
    if (r == 0) {
        snprintf(what, sizeof(what), "credential_process of profile '%s'", profile);
        r = smt_creds_plan_process(pl, cmd, what, d);
        snprintf(what, sizeof(what), "credential_process (profile %s)", profile);
        goto found;
    }
    if (r != SMT_ERR_NOT_FOUND)
        goto out;

    r = static_keys(&f, f.config, &c, d);
    snprintf(what, sizeof(what), "config-file (profile %s)", profile);
    if (r != SMT_ERR_NOT_FOUND)
        goto found;

    r = smt_diag_set(d, SMT_ERR_CREDS,
                     "no AWS credentials found for profile '%s' in %s or %s: it has no "
                     "aws_access_key_id, credential_process, sso_session or role_arn",
                     profile, fpath, cpath);
    smt_diag_hint(d, "run 'aws configure --profile %s' or 'aws configure sso --profile %s'",
                  profile, profile);
    goto out;
found:
    if (r < 0)
        goto out;
    snprintf(pl->source, sizeof(pl->source), "%s", what);
    pl->creds = c; /* NULL when a command is planned */
    c = NULL;
    r = 0;
out:
    if (cmd)
        sodium_free(cmd);
    smt_creds_free(c);
    smt_awsfile_free(f.creds);
    smt_awsfile_free(f.config);
    free(cpath);
    free(fpath);
    return r;
}
