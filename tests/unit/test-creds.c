/* Unit tests for agent/creds*.c: the secure arena, the AWS CLI's resolution order, the shared
 * files, credential_process and the AWS CLI bridge (with a stand-in `aws`), and the region. */
#include <config.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "agent/creds.h"
#include "agent/creds_internal.h"
#include "tests/tap.h"

static char dir[] = "/tmp/test-creds.XXXXXX";
static char path_creds[300], path_config[300], path_bin[300];
static struct smt_diag diag;
static char source[SMT_SOURCE_MAX];

static void clear_env(void)
{
    static const char *const vars[] = {
        "AWS_ACCESS_KEY_ID",   "AWS_SECRET_ACCESS_KEY",       "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",  "AWS_CREDENTIAL_EXPIRATION",   "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
        "AWS_REGION",          "AWS_DEFAULT_REGION",
    };

    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
    setenv("AWS_SHARED_CREDENTIALS_FILE", path_creds, 1);
    setenv("AWS_CONFIG_FILE", path_config, 1);
}

static void write_file(const char *path, const char *text, int mode)
{
    FILE *f = fopen(path, "w");

    if (!f)
        abort();
    fputs(text, f);
    fclose(f);
    chmod(path, (mode_t)mode);
}

static void files(const char *creds, const char *config)
{
    unlink(path_creds);
    unlink(path_config);
    if (creds)
        write_file(path_creds, creds, 0600);
    if (config)
        write_file(path_config, config, 0600);
}

/* Resolve; on success check the access key (and session token: NULL = none). */
static int resolve(const char *profile, const char *want_ak, const char *want_st)
{
    struct smt_creds *c = NULL;
    int r, ok;

    memset(&diag, 0, sizeof(diag));
    source[0] = '\0';
    r = smt_creds_resolve(profile, &c, source, sizeof(source), &diag);
    if (r < 0)
        return r;
    ok = want_ak && strcmp(c->access_key, want_ak) == 0 &&
         ((!want_st && !c->session_token) ||
          (want_st && c->session_token && strcmp(c->session_token, want_st) == 0));
    if (!ok)
        tap_diag("got access key '%s', session token %s", c->access_key,
                 c->session_token ? "set" : "none");
    smt_creds_free(c);
    return ok ? 0 : -999;
}

static void resolves(const char *profile, const char *ak, const char *st, const char *src,
                     const char *desc)
{
    int r = resolve(profile, ak, st);

    if (!tap_ok(r == 0 && (!src || strcmp(source, src) == 0), "%s", desc))
        tap_diag("r=%d msg '%s' source '%s'", r, diag.msg, source);
}

static void fails(const char *profile, int want, const char *msg_part, const char *desc)
{
    int r = resolve(profile, "x", NULL);
    char text[sizeof(diag.msg) + sizeof(diag.detail) + 2];

    if (!tap_ok(r == want && strstr(smt_diag_text(&diag, text, sizeof(text)), msg_part) != NULL,
                "%s", desc))
        tap_diag("r=%d msg '%s' hint '%s' (want %d, '%s')", r, diag.msg, diag.hint, want, msg_part);
}

static void fault_exit(int sig)
{
    (void)sig;
    _exit(77);
}

static void test_arena(void)
{
    struct smt_creds *c = NULL;
    char big[SMT_SESSION_TOKEN_MAX + 2];
    pid_t pid;
    int st;

    memset(big, 'T', sizeof(big));
    tap_ok(smt_creds_new("AKID", 4, "SECRET", 6, "TOKEN", 5, 42, &c) == 0 && c &&
               strcmp(c->access_key, "AKID") == 0 && c->access_key_len == 4 &&
               strcmp(c->secret_key, "SECRET") == 0 && strcmp(c->session_token, "TOKEN") == 0 &&
               c->session_token_len == 5 && c->expiration == 42,
           "new: three strings in one arena");
    tap_ok(c && (char *)c->arena == c->access_key && c->secret_key == c->access_key + 5 &&
               c->session_token == c->secret_key + 7,
           "new: laid out in the one sodium_malloc arena");
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        volatile char x;

        /* our own handler, so the result is the same with and without ASan */
        signal(SIGSEGV, fault_exit);
        signal(SIGBUS, fault_exit);
        smt_creds_lock(c);
        x = c->secret_key[0]; /* must fault */
        (void)x;
        _exit(0);
    }
    tap_ok(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 77,
           "lock: reading a locked set faults");
    smt_creds_lock(c);
    smt_creds_unlock(c);
    tap_ok(c && c->secret_key[0] == 'S', "unlock: readable again");
    smt_creds_free(c);
    c = NULL;
    smt_creds_free(NULL);
    smt_creds_lock(NULL);
    smt_creds_unlock(NULL);
    tap_ok(smt_creds_new("A", 1, "S", 1, "", 0, 0, &c) == 0 && c && !c->session_token &&
               c->session_token_len == 0,
           "new: an empty session token is none");
    smt_creds_free(c);
    c = NULL;
    tap_ok(smt_creds_new("A", 1, "S", 1, big, SMT_SESSION_TOKEN_MAX, 0, &c) == 0 && c &&
               c->session_token_len == SMT_SESSION_TOKEN_MAX,
           "new: a 16 KiB session token fits");
    smt_creds_free(c);
    c = NULL;
    tap_ok(smt_creds_new("A", 1, "S", 1, big, SMT_SESSION_TOKEN_MAX + 1, 0, &c) ==
                   SMT_ERR_TOO_LARGE &&
               !c,
           "new: 16 KiB + 1 is too large");
    tap_ok(smt_creds_new(big, SMT_ACCESS_KEY_MAX + 1, "S", 1, NULL, 0, 0, &c) == SMT_ERR_TOO_LARGE,
           "new: access key cap");
    tap_ok(smt_creds_new("A", 1, big, SMT_SECRET_KEY_MAX + 1, NULL, 0, 0, &c) == SMT_ERR_TOO_LARGE,
           "new: secret key cap");
    tap_ok(smt_creds_new("", 0, "S", 1, NULL, 0, 0, &c) == SMT_ERR_CREDS &&
               smt_creds_new("A", 1, "", 0, NULL, 0, 0, &c) == SMT_ERR_CREDS,
           "new: empty keys are refused");
    tap_ok(smt_creds_new("A\0B", 3, "S", 1, NULL, 0, 0, &c) == SMT_ERR_CREDS &&
               smt_creds_new("A", 1, "S", 1, "T\0", 2, 0, &c) == SMT_ERR_CREDS && !c,
           "new: embedded NULs are refused");
}

static void test_rfc3339(void)
{
    int64_t t = 0;

    tap_ok(smt_parse_rfc3339("1970-01-01T00:00:00Z", 20, &t) == 0 && t == 0, "rfc3339: epoch");
    tap_ok(smt_parse_rfc3339("2024-02-29T12:34:56Z", 20, &t) == 0 && t == 1709210096,
           "rfc3339: leap day");
    tap_ok(smt_parse_rfc3339("2024-02-29T14:34:56.123+02:00", 29, &t) == 0 && t == 1709210096,
           "rfc3339: fraction and +02:00");
    tap_ok(smt_parse_rfc3339("2024-02-29 10:34:56-0200", 24, &t) == 0 && t == 1709210096,
           "rfc3339: space and -0200");
    tap_ok(smt_parse_rfc3339("2023-02-29T00:00:00Z", 20, &t) < 0, "rfc3339: 2023-02-29 refused");
    tap_ok(smt_parse_rfc3339("2024-13-01T00:00:00Z", 20, &t) < 0 &&
               smt_parse_rfc3339("2024-01-01T24:00:00Z", 20, &t) < 0 &&
               smt_parse_rfc3339("2024-01-01T00:00:00", 19, &t) < 0 &&
               smt_parse_rfc3339("2024-01-01T00:00:00.Z", 21, &t) < 0 &&
               smt_parse_rfc3339("2024-01-01T00:00:00Zjunk", 24, &t) < 0 &&
               smt_parse_rfc3339("tomorrow", 8, &t) < 0,
           "rfc3339: bad times refused");
}

static void test_env(void)
{
    clear_env();
    files(NULL, NULL);
    setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "SKENV", 1);
    resolves(NULL, "AKENV", NULL, "env", "env: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY");
    setenv("AWS_SESSION_TOKEN", "STENV", 1);
    resolves(NULL, "AKENV", "STENV", "env", "env: AWS_SESSION_TOKEN");
    setenv("AWS_SECURITY_TOKEN", "STSEC", 1);
    resolves(NULL, "AKENV", "STSEC", "env", "env: AWS_SECURITY_TOKEN first (botocore)");
    setenv("AWS_SECURITY_TOKEN", "", 1);
    setenv("AWS_SESSION_TOKEN", "", 1);
    resolves(NULL, "AKENV", NULL, "env", "env: empty session tokens are none");
    setenv("AWS_CREDENTIAL_EXPIRATION", "2030-01-01T00:00:00Z", 1);
    {
        struct smt_creds *c = NULL;

        tap_ok(smt_creds_resolve(NULL, &c, NULL, 0, &diag) == 0 && c && c->expiration == 1893456000,
               "env: AWS_CREDENTIAL_EXPIRATION");
        smt_creds_free(c);
    }
    setenv("AWS_CREDENTIAL_EXPIRATION", "soon", 1);
    fails(NULL, SMT_ERR_CREDS, "AWS_CREDENTIAL_EXPIRATION", "env: bad expiration");
    unsetenv("AWS_CREDENTIAL_EXPIRATION");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    fails(NULL, SMT_ERR_CREDS, "AWS_SECRET_ACCESS_KEY is not", "env: missing secret key");
    tap_ok(strstr(diag.hint, "AWS_SECRET_ACCESS_KEY") != NULL, "... with a hint");
    setenv("AWS_SECRET_ACCESS_KEY", "", 1);
    fails(NULL, SMT_ERR_CREDS, "AWS_SECRET_ACCESS_KEY is not", "env: empty secret key");
    setenv("AWS_SECRET_ACCESS_KEY", "SK ENV", 1);
    fails(NULL, SMT_ERR_CREDS, "AWS_SECRET_ACCESS_KEY contains a space", "env: a space");
    tap_ok(strstr(diag.msg, "SK") == NULL, "... and the message does not quote it");

    /* The environment is skipped for an explicit profile and when AWS_ACCESS_KEY_ID is empty. */
    setenv("AWS_SECRET_ACCESS_KEY", "SKENV", 1);
    files("[work]\naws_access_key_id = AKWORK\naws_secret_access_key = SKWORK\n"
          "[default]\naws_access_key_id = AKDEF\naws_secret_access_key = SKDEF\n",
          NULL);
    resolves("work", "AKWORK", NULL, "shared-credentials-file (profile work)",
             "an explicit profile skips the environment");
    resolves(NULL, "AKENV", NULL, "env", "no profile: the environment wins over [default]");
    setenv("AWS_PROFILE", "work", 1);
    resolves(NULL, "AKENV", NULL, "env", "... even with AWS_PROFILE set (botocore)");
    unsetenv("AWS_PROFILE");
    setenv("AWS_ACCESS_KEY_ID", "", 1);
    resolves(NULL, "AKDEF", NULL, NULL, "an empty AWS_ACCESS_KEY_ID counts as unset");
}

static void test_profiles(void)
{
    clear_env();
    files("[default]\naws_access_key_id = AKDEF\naws_secret_access_key = S\n"
          "[a]\naws_access_key_id = AKA\naws_secret_access_key = S\n"
          "[b]\naws_access_key_id = AKB\naws_secret_access_key = S\n",
          NULL);
    resolves(NULL, "AKDEF", NULL, "shared-credentials-file (profile default)",
             "default chain: [default]");
    setenv("AWS_PROFILE", "b", 1);
    resolves(NULL, "AKB", NULL, NULL, "AWS_PROFILE");
    setenv("AWS_DEFAULT_PROFILE", "a", 1);
    resolves(NULL, "AKA", NULL, NULL, "AWS_DEFAULT_PROFILE beats AWS_PROFILE (botocore)");
    setenv("AWS_DEFAULT_PROFILE", "", 1);
    resolves(NULL, "AKDEF", NULL, NULL, "a set but empty AWS_DEFAULT_PROFILE means default");
    setenv("AWS_DEFAULT_PROFILE", "nosuch", 1);
    fails(NULL, SMT_ERR_NOT_FOUND, "profile 'nosuch'", "AWS_DEFAULT_PROFILE naming no profile");
    clear_env();
    resolves("b", "AKB", NULL, NULL, "an explicit profile");

    /* Which file wins, and what each holds. */
    files("[both]\naws_access_key_id = AKCRED\naws_secret_access_key = S\n",
          "[profile both]\naws_access_key_id = AKCONF\naws_secret_access_key = S\n"
          "[profile cfgonly]\naws_access_key_id = AKCONF\naws_secret_access_key = S\n"
          "aws_session_token = STCONF\n[default]\naws_access_key_id = AKCONFDEF\n"
          "aws_secret_access_key = S\n[cfgbare]\naws_access_key_id = AKBARE\n"
          "aws_secret_access_key = S\n");
    resolves("both", "AKCRED", NULL, "shared-credentials-file (profile both)",
             "the credentials file beats the config file");
    resolves("cfgonly", "AKCONF", "STCONF", "config-file (profile cfgonly)",
             "config file [profile NAME] with a session token");
    resolves(NULL, "AKCONFDEF", NULL, "config-file (profile default)", "config file [default]");
    fails("cfgbare", SMT_ERR_NOT_FOUND, "profile 'cfgbare'",
          "config file [cfgbare] is not profile cfgbare");
    tap_ok(strstr(diag.msg, path_creds) && strstr(diag.msg, path_config),
           "... the message names both files");

    /* AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE are honoured; else ~/.aws/ */
    {
        char home[400], awsdir[420], p[440];

        snprintf(home, sizeof(home), "%s/home", dir);
        snprintf(awsdir, sizeof(awsdir), "%s/.aws", home);
        mkdir(home, 0700);
        mkdir(awsdir, 0700);
        snprintf(p, sizeof(p), "%s/credentials", awsdir);
        write_file(p, "[h]\naws_access_key_id = AKHOME\naws_secret_access_key = S\n", 0600);
        snprintf(p, sizeof(p), "%s/config", awsdir);
        write_file(p, "[profile hc]\naws_access_key_id = AKHOMECFG\naws_secret_access_key = S\n",
                   0600);
        setenv("HOME", home, 1);
        unsetenv("AWS_SHARED_CREDENTIALS_FILE");
        unsetenv("AWS_CONFIG_FILE");
        resolves("h", "AKHOME", NULL, NULL, "default path ~/.aws/credentials");
        resolves("hc", "AKHOMECFG", NULL, NULL, "default path ~/.aws/config");
        fails("both", SMT_ERR_NOT_FOUND, ".aws/credentials", "... and not the variables' files");
        setenv("AWS_CONFIG_FILE", "~/.aws/credentials", 1);
        setenv("AWS_SHARED_CREDENTIALS_FILE", "~/nothing", 1);
        fails("hc", SMT_ERR_NOT_FOUND, "profile 'hc'", "AWS_CONFIG_FILE with '~/' expanded");
        clear_env();
        resolves("both", "AKCRED", NULL, NULL, "the variables win over ~/.aws");
    }
}

static void test_file_values(void)
{
    char big[4000], text[5000];

    clear_env();
    memset(big, 'Q', 3000);
    big[3000] = '\0';
    snprintf(text, sizeof(text),
             "[s]\naws_access_key_id = AKS\naws_secret_access_key = S\naws_session_token = %s\n"
             "[sec]\naws_access_key_id = AKSEC\naws_secret_access_key = S\n"
             "aws_session_token = ST2\naws_security_token = ST1\n"
             "[empty]\naws_access_key_id = AKE\naws_secret_access_key = S\naws_session_token =\n"
             "[nosecret]\naws_access_key_id = AKN\n"
             "[multi]\naws_access_key_id = AKM\naws_secret_access_key = S\n  more\n"
             "[nocreds]\nregion = us-east-1\n"
             "[AnyCase]\nAWS_ACCESS_KEY_ID = AKCASE\nAws_Secret_Access_Key = S\n",
             big);
    files(text, NULL);
    resolves("s", "AKS", big, NULL, "a 3000-byte session token from the credentials file");
    resolves("sec", "AKSEC", "ST1", NULL, "aws_security_token before aws_session_token");
    resolves("empty", "AKE", NULL, NULL, "an empty aws_session_token is none");
    resolves("AnyCase", "AKCASE", NULL, NULL, "keys in any case");
    fails("nosecret", SMT_ERR_CREDS, "has aws_access_key_id but no aws_secret_access_key",
          "missing secret key");
    tap_ok(strstr(diag.msg, "'nosecret'") && strstr(diag.msg, path_creds) &&
               strstr(diag.hint, "aws configure --profile nosecret"),
           "... names the profile and the file, and says what to run");
    fails("multi", SMT_ERR_CREDS, "contains a line break", "a value continued on an indented line");
    fails("nocreds", SMT_ERR_CREDS, "no aws_access_key_id, credential_process",
          "a profile without credentials");
    files("[a]\naws_access_key_id = A\naws_access_key_id = B\n", NULL);
    fails("a", SMT_ERR_FORMAT, ":3: duplicate key", "a file botocore refuses");
    tap_ok(strstr(diag.msg, path_creds) != NULL, "... is named with its line");
    files(NULL, NULL);
    fails(NULL, SMT_ERR_CREDS, "no AWS credentials found", "nothing anywhere");
    tap_ok(strstr(diag.hint, "aws configure") != NULL, "... with a hint");
}

static void script(const char *name, const char *body)
{
    char p[400], text[70000];

    snprintf(p, sizeof(p), "%s/%s", path_bin, name);
    snprintf(text, sizeof(text), "#!/bin/sh\n%s", body);
    write_file(p, text, 0700);
}

static void test_process(void)
{
    char text[4000];

    clear_env();
    script("good", "printf '%s' '{\"Version\": 1, \"AccessKeyId\": \"AKPROC\", "
                   "\"SecretAccessKey\": \"SKPROC\", \"SessionToken\": \"STPROC\", "
                   "\"Expiration\": \"2030-01-01T00:00:00Z\", \"Extra\": [1, {\"a\": null}]}'\n");
    script("args", "[ \"$1\" = 'one arg' ] && [ \"$2\" = \"x'y\" ] && [ $# = 2 ] || exit 9\n"
                   "echo '{\"Version\": 1, \"AccessKeyId\": \"AKARGS\", \"SecretAccessKey\": "
                   "\"S\", \"SessionToken\": null}'\n");
    script("fail", "echo 'token expired: run the login' >&2\nexit 3\n");
    script("junk", "echo 'not json'\n");
    script("v2", "echo '{\"Version\": 2, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\"}'\n");
    script("noak", "echo '{\"Version\": 1, \"SecretAccessKey\": \"S\"}'\n");
    script("huge", "head -c 70000 /dev/zero | tr '\\\\0' ' '\n");
    snprintf(text, sizeof(text),
             "[profile p]\ncredential_process = %s/good\n"
             "[profile args]\ncredential_process = %s/args 'one arg' \"x'y\"\n"
             "[profile fail]\ncredential_process = %s/fail\n"
             "[profile junk]\ncredential_process = %s/junk\n"
             "[profile v2]\ncredential_process = %s/v2\n"
             "[profile noak]\ncredential_process = %s/noak\n"
             "[profile huge]\ncredential_process = %s/huge\n"
             "[profile missing]\ncredential_process = %s/no-such-program\n"
             "[profile quote]\ncredential_process = %s/good 'unclosed\n"
             "[profile both]\ncredential_process = %s/good\n",
             path_bin, path_bin, path_bin, path_bin, path_bin, path_bin, path_bin, path_bin,
             path_bin, path_bin);
    files("[both]\naws_access_key_id = AKSTATIC\naws_secret_access_key = S\n"
          "[viacreds]\ncredential_process = /bin/false\n",
          text);
    {
        struct smt_creds *c = NULL;

        tap_ok(smt_creds_resolve("p", &c, source, sizeof(source), &diag) == 0 && c &&
                   strcmp(c->access_key, "AKPROC") == 0 && strcmp(c->secret_key, "SKPROC") == 0 &&
                   strcmp(c->session_token, "STPROC") == 0 && c->expiration == 1893456000 &&
                   strcmp(source, "credential_process (profile p)") == 0,
               "credential_process: keys, token, expiration");
        if (!c)
            tap_diag("%s", diag.msg);
        smt_creds_free(c);
    }
    resolves("args", "AKARGS", NULL, NULL, "credential_process: shlex-split arguments, no shell");
    resolves("both", "AKSTATIC", NULL, NULL, "static keys in the credentials file come first");
    fails("fail", SMT_ERR_CREDS, "failed (exit status 3): token expired: run the login",
          "credential_process failing: status and its stderr");
    tap_ok(strstr(diag.msg, "credential_process of profile 'fail'") != NULL, "... names it");
    tap_ok(strstr(diag.msg, "token expired") == NULL &&
               strcmp(diag.detail, "token expired: run the login") == 0,
           "... its stderr line is a detail (for the user), not in the message (for logs)");
    fails("viacreds", SMT_ERR_CREDS, "exit status 1",
          "credential_process in the credentials file is used too (merged profile)");
    fails("junk", SMT_ERR_FORMAT, "not valid JSON", "credential_process printing junk");
    fails("v2", SMT_ERR_FORMAT, "only Version 1", "credential_process Version 2");
    fails("noak", SMT_ERR_CREDS, "no \"AccessKeyId\"", "credential_process without AccessKeyId");
    fails("huge", SMT_ERR_TOO_LARGE, "more than 65536 bytes", "credential_process output cap");
    fails("missing", SMT_ERR_SYSTEM, "cannot run", "credential_process that does not exist");
    fails("quote", SMT_ERR_CONFIG, "cannot split", "credential_process with an unclosed quote");
}

/* The child API directly, with short deadlines. */
static void proc_case(const char *shell, int timeout_ms, int want, bool check_io, const char *desc)
{
    char *argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)shell, NULL};
    struct smt_proc *p = NULL;
    int r;

    memset(&diag, 0, sizeof(diag));
    r = smt_proc_spawn(argv, &p, &diag);
    if (r == 0)
        r = smt_proc_run(p, timeout_ms, &diag);
    if (!tap_ok(r == want && p && p->pid == 0, "process: %s", desc))
        tap_diag("r=%d msg '%s'", r, diag.msg);
    if (r == 0 && p && check_io)
        tap_ok(WIFEXITED(p->status) && WEXITSTATUS(p->status) == 7 && p->out_len == 4 &&
                   memcmp(p->out, "out\n", 4) == 0 && p->err_len == 4 &&
                   memcmp(p->err, "err\n", 4) == 0,
               "process: status, stdout and stderr collected");
    smt_proc_free(p);
}

static void test_proc(void)
{
    proc_case("echo out; echo err >&2; exit 7", 5000, 0, true, "runs to completion");
    proc_case("sleep 5", 300, SMT_ERR_TIMEOUT, false,
              "a child that hangs is killed at the deadline");
    proc_case("exec >&- 2>&-; sleep 5", 300, SMT_ERR_TIMEOUT, false,
              "a child that closes its pipes and lingers is killed too");
    proc_case("(sleep 5 &); exit 0", 300, SMT_ERR_TIMEOUT, false,
              "a grandchild holding the pipes does not hang us");
    proc_case("head -c 200000 /dev/zero", 5000, SMT_ERR_TOO_LARGE, false, "stdout over the cap");
    proc_case("head -c 200000 /dev/zero >&2", 5000, 0, false,
              "stderr over its cap is drained, not fatal");
}

static int parse_json(const char *s, struct smt_creds **c)
{
    memset(&diag, 0, sizeof(diag));
    return smt_creds_parse_process_json(s, strlen(s), c, &diag);
}

static void test_json(void)
{
    static const char good[] = "{\"Version\":1,\"AccessKeyId\":\"AK\",\"SecretAccessKey\":"
                               "\"S\\/K\",\"SessionToken\":\"T\",\"Expiration\":"
                               "\"2030-01-01T00:00:00Z\"}";
    struct smt_creds *c = NULL;
    char buf[sizeof(good)];
    int bad = 0;

    tap_ok(parse_json(" \n{\"Version\": 1.0, \"AccessKeyId\": \"A\\u004b\", \"SecretAccessKey\": "
                      "\"\\\"\\\\\", \"Nested\": {\"x\": [true, false, null, -1.5e3, \"\\ud83d"
                      "\\ude00\"]}, \"SessionToken\": null, \"Expiration\": null}\n",
                      &c) == 0 &&
               c && strcmp(c->access_key, "AK") == 0 && strcmp(c->secret_key, "\"\\") == 0 &&
               !c->session_token && c->expiration == 0,
           "json: escapes, nested values skipped, nulls, Version 1.0");
    smt_creds_free(c);
    c = NULL;
    tap_ok(parse_json("{\"Version\": 1, \"AccessKeyId\": \"A\", \"AccessKeyId\": \"B\", "
                      "\"SecretAccessKey\": \"S\"}",
                      &c) == SMT_ERR_FORMAT &&
               strstr(diag.msg, "twice"),
           "json: a duplicate member is refused");
    tap_ok(parse_json("{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\"} x",
                      &c) == SMT_ERR_FORMAT,
           "json: trailing junk");
    tap_ok(parse_json("{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\\ud800\"}",
                      &c) == SMT_ERR_FORMAT,
           "json: a lone surrogate");
    tap_ok(parse_json("{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\\n\"}",
                      &c) == SMT_ERR_CREDS,
           "json: a newline in a key is refused");
    tap_ok(parse_json("{\"Version\": 1, \"AccessKeyId\": 5, \"SecretAccessKey\": \"S\"}", &c) ==
               SMT_ERR_CREDS,
           "json: a non-string key");
    tap_ok(parse_json("{\"Version\": \"1\", \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\"}",
                      &c) == SMT_ERR_FORMAT,
           "json: Version as a string");
    tap_ok(parse_json("{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\", "
                      "\"Expiration\": \"later\"}",
                      &c) == SMT_ERR_FORMAT &&
               strstr(diag.msg, "Expiration"),
           "json: a bad Expiration");
    tap_ok(parse_json("[1]", &c) == SMT_ERR_FORMAT && parse_json("", &c) == SMT_ERR_FORMAT &&
               parse_json("{", &c) == SMT_ERR_FORMAT && !c,
           "json: not an object");
    tap_ok(parse_json(good, &c) == 0 && c && strcmp(c->secret_key, "S/K") == 0, "json: compact");
    smt_creds_free(c);
    c = NULL;
    /* every truncation and bit flip: a defined result, and no crash */
    for (size_t i = 0; i < sizeof(good) - 1; i++) {
        int r = smt_creds_parse_process_json(good, i, &c, NULL);

        bad += r == 0 || (r != SMT_ERR_FORMAT && r != SMT_ERR_CREDS);
        smt_creds_free(c);
        c = NULL;
    }
    for (size_t i = 0; i < (sizeof(good) - 1) * 8; i++) {
        int r;

        memcpy(buf, good, sizeof(good));
        buf[i / 8] ^= (char)(1 << (i % 8));
        r = smt_creds_parse_process_json(buf, sizeof(good) - 1, &c, NULL);
        bad += r != 0 && r != SMT_ERR_FORMAT && r != SMT_ERR_CREDS;
        smt_creds_free(c);
        c = NULL;
    }
    tap_ok(bad == 0, "json: truncations refused, bit flips give defined results (%d bad)", bad);
}

static void test_aws_cli(void)
{
    char path[700], *old_path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;

    clear_env();
    files("[sso]\nregion = us-east-1\n",
          "[profile sso]\nsso_session = corp\nsso_account_id = 1\n"
          "[profile role]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = sso\n"
          "[profile web]\nweb_identity_token_file = /x\nrole_arn = arn:aws:iam::1:role/y\n"
          "[profile legacy]\nsso_start_url = https://x\n");
    setenv("PATH", path_bin, 1); /* no aws in it yet */
    fails("sso", SMT_ERR_CREDS, "uses SSO", "sso profile without the AWS CLI");
    tap_ok(strstr(diag.hint, "aws sso login --profile sso") != NULL, "... hint: aws sso login");
    fails("role", SMT_ERR_CREDS, "uses role_arn", "role_arn profile without the AWS CLI");
    script("aws",
           "[ \"$1 $2 $3 $5 $6\" = 'configure export-credentials --profile --format process' ] ||"
           " exit 8\n"
           "case $4 in sso|role|legacy) ;; *) echo \"no profile $4\" >&2; exit 1;; esac\n"
           "echo '{\"Version\": 1, \"AccessKeyId\": \"AKCLI'$4'\", \"SecretAccessKey\": "
           "\"S\", \"SessionToken\": \"T\", \"Expiration\": \"2031-01-01T00:00:00Z\"}'\n");
    resolves("sso", "AKCLIsso", "T", "aws-cli sso (profile sso)",
             "sso_session through the AWS CLI");
    resolves("legacy", "AKCLIlegacy", "T", NULL, "sso_start_url through the AWS CLI");
    resolves("role", "AKCLIrole", "T", "aws-cli assume-role (profile role)",
             "role_arn through the AWS CLI");
    fails("web", SMT_ERR_CREDS, "no profile web", "the AWS CLI failing: its message");
    tap_ok(strstr(diag.msg, "aws configure export-credentials --profile web failed") &&
               strstr(diag.hint, "aws sts get-caller-identity --profile web"),
           "... and a hint");
    script("aws", "echo 'Error loading SSO Token: Token for corp does not exist' >&2; exit 255\n");
    fails("sso", SMT_ERR_CREDS, "Token for corp does not exist", "expired SSO login");
    tap_ok(strstr(diag.hint, "aws sso login --profile sso") != NULL, "... hint: aws sso login");
    snprintf(path, sizeof(path), "%s/aws", path_bin);
    unlink(path);

    /* The real AWS CLI v2, offline, for a profile with static keys (NOTES.md). */
    if (access("/usr/bin/aws", X_OK) == 0) {
        struct smt_creds *c = NULL;
        int r;

        if (symlink("/usr/bin/aws", path) < 0)
            tap_diag("symlink failed");
        setenv("PATH", path_bin, 1);
        files("[static]\naws_access_key_id = AKIDREALCLI\naws_secret_access_key = SKREAL\n", "");
        r = smt_creds_from_aws_cli("static", "role_arn", &c, &diag);
        if (r == 0 || !strstr(diag.msg, "Invalid choice"))
            tap_ok(r == 0 && c && strcmp(c->access_key, "AKIDREALCLI") == 0 &&
                       strcmp(c->secret_key, "SKREAL") == 0,
                   "the real `aws configure export-credentials` output parses (%s)",
                   r ? diag.msg : "ok");
        else
            tap_skip("/usr/bin/aws has no 'configure export-credentials'");
        smt_creds_free(c);
        unlink(path);
    } else {
        tap_skip("/usr/bin/aws is not installed (apt-get install awscli)");
    }
    if (old_path) {
        setenv("PATH", old_path, 1);
        free(old_path);
    }
}

static void test_region(void)
{
    char *r = NULL;

    clear_env();
    files("[p]\nregion = ap-south-1\n[q]\naws_access_key_id = x\n",
          "[profile p]\nregion = eu-west-3\n[profile q]\nregion = eu-north-1\n"
          "[default]\nregion = sa-east-1\n[profile bad]\nregion = Not A Region\n");
    tap_ok(smt_creds_region("p", &r, &diag) == 0 && tap_streq(r, "ap-south-1", "region"),
           "region: the credentials file's region over the config file's (botocore merge)");
    free(r);
    r = NULL;
    tap_ok(smt_creds_region("q", &r, &diag) == 0 && tap_streq(r, "eu-north-1", "region"),
           "region: profile region from the config file");
    free(r);
    r = NULL;
    tap_ok(smt_creds_region(NULL, &r, &diag) == 0 && tap_streq(r, "sa-east-1", "region"),
           "region: the default profile's");
    free(r);
    r = NULL;
    setenv("AWS_PROFILE", "q", 1);
    tap_ok(smt_creds_region(NULL, &r, &diag) == 0 && tap_streq(r, "eu-north-1", "region"),
           "region: AWS_PROFILE's profile");
    free(r);
    r = NULL;
    setenv("AWS_DEFAULT_REGION", "us-east-2", 1);
    tap_ok(smt_creds_region("p", &r, &diag) == 0 && tap_streq(r, "us-east-2", "region"),
           "region: AWS_DEFAULT_REGION over the profile");
    free(r);
    r = NULL;
    setenv("AWS_REGION", "us-west-1", 1);
    tap_ok(smt_creds_region("p", &r, &diag) == 0 && tap_streq(r, "us-west-1", "region"),
           "region: AWS_REGION over AWS_DEFAULT_REGION");
    free(r);
    r = NULL;
    setenv("AWS_REGION", "us-west-1/../x", 1);
    tap_ok(smt_creds_region("p", &r, &diag) == SMT_ERR_CONFIG && !r &&
               strstr(diag.msg, "AWS_REGION"),
           "region: an invalid AWS_REGION is refused and named");
    clear_env();
    tap_ok(smt_creds_region("bad", &r, &diag) == SMT_ERR_CONFIG && !r &&
               strstr(diag.msg, path_config),
           "region: an invalid profile region is refused and its file named");
    files(NULL, NULL);
    r = (char *)"sentinel";
    tap_ok(smt_creds_region("p", &r, &diag) == 0 && r == NULL, "region: none anywhere is NULL");
}

/* The plan step runs nothing; smt_creds_plan_finish reads a finished child the same for the
 * blocking path and the agent's event loop (fed here with made-up results). */
static void test_plan(void)
{
    struct smt_creds_plan *pl = NULL;
    struct smt_creds *c = NULL;
    struct smt_diag sub = {{0}, {0}, {0}};
    struct smt_proc p;
    char text[1000];
    static const char json[] = "{\"Version\": 1, \"AccessKeyId\": \"AKFIN\", "
                               "\"SecretAccessKey\": \"S\"}";
    int r;

    clear_env();
    snprintf(text, sizeof(text),
             "[profile cp]\ncredential_process = /nonexistent/prog 'a b' c\n"
             "[profile st]\naws_access_key_id = AKST\naws_secret_access_key = S\n");
    files(NULL, text);
    memset(&diag, 0, sizeof(diag));
    r = smt_creds_plan_new("cp", &pl, &diag);
    tap_ok(r == 0 && pl && !pl->creds && pl->argv &&
               strcmp(pl->argv[0], "/nonexistent/prog") == 0 && strcmp(pl->argv[1], "a b") == 0 &&
               strcmp(pl->argv[2], "c") == 0 && !pl->argv[3] &&
               strcmp(pl->what, "credential_process of profile 'cp'") == 0 &&
               strcmp(pl->source, "credential_process (profile cp)") == 0,
           "plan: a credential_process becomes a split argv, nothing runs yet");
    if (r == 0) {
        memset(&p, 0, sizeof(p));
        p.out = sodium_malloc(SMT_PROC_OUT_MAX + 1);
        p.out_fd = p.err_fd = -1;
        tap_ok(smt_creds_plan_finish(pl, NULL, SMT_ERR_SYSTEM,
                                     &(struct smt_diag){.msg = "cannot run 'x': gone"}, &c,
                                     &diag) == SMT_ERR_SYSTEM &&
                   strcmp(diag.msg, "credential_process of profile 'cp': cannot run 'x': gone") ==
                       0,
               "finish: not started");
        smt_proc_diag_timeout(&sub, 3000);
        tap_ok(smt_creds_plan_finish(pl, &p, SMT_ERR_TIMEOUT, &sub, &c, &diag) == SMT_ERR_TIMEOUT &&
                   strstr(diag.msg, "profile 'cp' did not finish within 3 s") != NULL,
               "finish: timed out");
        p.status = W_EXITCODE(0, SIGKILL);
        memcpy(p.err, "\n  boom\nmore", 13);
        p.err_len = 13;
        tap_ok(smt_creds_plan_finish(pl, &p, 0, NULL, &c, &diag) == SMT_ERR_CREDS &&
                   strstr(diag.msg, "was killed by signal 9") != NULL &&
                   strcmp(diag.detail, "boom") == 0,
               "finish: killed, first stderr line: %s", diag.msg);
        p.status = W_EXITCODE(0, 0);
        memcpy(p.out, json, sizeof(json) - 1);
        p.out_len = sizeof(json) - 1;
        r = smt_creds_plan_finish(pl, &p, 0, NULL, &c, &diag);
        tap_ok(r == 0 && c && strcmp(c->access_key, "AKFIN") == 0, "finish: exit 0 and JSON");
        smt_creds_free(c);
        c = NULL;
        sodium_free(p.out);
    }
    smt_creds_plan_free(pl);
    pl = NULL;
    r = smt_creds_plan_new("st", &pl, &diag);
    tap_ok(r == 0 && pl && pl->creds && !pl->argv && strcmp(pl->creds->access_key, "AKST") == 0,
           "plan: static keys are there at once, no command");
    smt_creds_plan_free(pl);
}

int main(void)
{
    char cmd[400];

    if (sodium_init() < 0 || !mkdtemp(dir))
        return 99;
    snprintf(path_creds, sizeof(path_creds), "%s/credentials", dir);
    snprintf(path_config, sizeof(path_config), "%s/config", dir);
    snprintf(path_bin, sizeof(path_bin), "%s/bin", dir);
    mkdir(path_bin, 0700);
    test_arena();
    test_rfc3339();
    test_env();
    test_profiles();
    test_file_values();
    test_process();
    test_proc();
    test_plan();
    test_json();
    test_aws_cli();
    test_region();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", dir);
    return tap_done();
}
