/* Unit tests for agent/once.c (smtoken-agent --once).  Token minting is replaced by a stub that
 * prints its inputs, so these tests check what once.c decides (endpoint, credentials, region,
 * lifetime, output, errors, hardening), not the token itself (test-token and the vectors do). */
#include <config.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/creds.h"
#include "agent/once.h"
#include "agent/token.h"
#include "tests/tap.h"

/* ---- stub of agent/token.h ---- */
struct smt_minter {
    int unused;
};

int smt_minter_new(struct smt_minter **ret)
{
    *ret = calloc(1, sizeof(**ret));
    return *ret ? 0 : SMT_ERR_NOMEM;
}

void smt_minter_free(struct smt_minter *m)
{
    free(m);
}

size_t smt_token_size(size_t session_token_len)
{
    return 300 + session_token_len;
}

int smt_token_mint(struct smt_minter *m, const struct smt_creds *c, enum smt_service svc,
                   const char *region, uint32_t lifetime, time_t now, char *out, size_t out_size,
                   size_t *ret_len)
{
    int n = snprintf(out, out_size, "stub|%s|%s|%u|%lld|%s|%s",
                     svc == SMT_SVC_BEDROCK ? "bedrock" : "sagemaker", region, lifetime,
                     (long long)now, c->access_key, c->session_token ? c->session_token : "-");

    if (n < 0 || (size_t)n >= out_size)
        return SMT_ERR_TOO_LARGE;
    *ret_len = (size_t)n;
    return 0;
}

/* ---- running smt_once_main in a child ---- */

static char dir[] = "/tmp/test-once.XXXXXX";
static char conf[300], facts[300];
static char out[4096], err[4096];
static int status;

static void slurp(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, size - 1, f) : 0;

    buf[n] = '\0';
    if (f)
        fclose(f);
}

static void run_once(const char *name, const char *config)
{
    char po[320], pe[320];
    pid_t pid;

    snprintf(po, sizeof(po), "%s/stdout", dir);
    snprintf(pe, sizeof(pe), "%s/stderr", dir);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        int fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        struct rlimit rl;
        mode_t mask;
        FILE *f;
        int rc;

        dup2(fo, 1);
        dup2(fe, 2);
        umask(022);
        rc = smt_once_main(name, config);
        fflush(stderr);
        mask = umask(0);
        getrlimit(RLIMIT_CORE, &rl);
        f = fopen(facts, "w");
        if (f) {
            fprintf(f, "dumpable=%d core=%llu umask=%03o", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0),
                    (unsigned long long)rl.rlim_cur, (unsigned)mask);
            fclose(f);
        }
        _exit(rc);
    }
    waitpid(pid, &status, 0);
    status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    slurp(po, out, sizeof(out));
    slurp(pe, err, sizeof(err));
}

static void write_conf(const char *text)
{
    FILE *f = fopen(conf, "w");

    fputs(text, f);
    fclose(f);
}

/* The stub token's fields: "stub|svc|region|lifetime|now|ak|st\n". */
static int field(int k, char *buf, size_t size)
{
    const char *p = out;

    for (int i = 0; i < k; i++) {
        p = strchr(p, '|');
        if (!p)
            return 0;
        p++;
    }
    snprintf(buf, size, "%.*s", (int)strcspn(p, "|\n"), p);
    return 1;
}

static void fails(const char *name, const char *config, const char *want, const char *desc)
{
    size_t lines = 0;

    run_once(name, config);
    for (const char *p = err; *p; p++)
        lines += *p == '\n';
    if (!tap_ok(status == 1 && out[0] == '\0' && strncmp(err, "smtoken-agent: ", 15) == 0 &&
                    strstr(err, want) && lines >= 1 && lines <= 2,
                "%s: exit 1, nothing on stdout, 'smtoken-agent: ...' on stderr", desc))
        tap_diag("status %d stdout '%s' stderr '%s' (want '%s')", status, out, err, want);
    else
        tap_diag("%.*s", (int)strcspn(err, "\n"), err);
}

static void env_creds(void)
{
    setenv("AWS_ACCESS_KEY_ID", "AKONCE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "SKONCE", 1);
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_CREDENTIAL_EXPIRATION");
}

int main(void)
{
    char f[200], cmd[400], nofile[320], exp[64];
    time_t now;

    if (!mkdtemp(dir))
        return 99;
    snprintf(conf, sizeof(conf), "%s/smtoken.conf", dir);
    snprintf(facts, sizeof(facts), "%s/facts", dir);
    snprintf(nofile, sizeof(nofile), "%s/none", dir);
    for (const char *const *v = (const char *const[]){"AWS_PROFILE", "AWS_DEFAULT_PROFILE",
                                                      "AWS_REGION", "AWS_DEFAULT_REGION",
                                                      "AWS_SECURITY_TOKEN", "SMTOKEN_CONFIG", NULL};
         *v; v++)
        unsetenv(*v);
    setenv("AWS_SHARED_CREDENTIALS_FILE", nofile, 1);
    setenv("AWS_CONFIG_FILE", nofile, 1);
    env_creds();

    write_conf("[endpoint main]\nregion = us-west-2\nendpoint = demo\nlifetime = 1h\n");
    now = time(NULL);
    run_once("main", conf);
    tap_ok(status == 0 && err[0] == '\0', "success: exit 0, nothing on stderr");
    tap_ok(strncmp(out, "stub|sagemaker|us-west-2|3600|", 30) == 0 && strstr(out, "|AKONCE|-\n") &&
               strchr(out, '\n') == out + strlen(out) - 1,
           "success: one line, the endpoint's service, region and lifetime, env credentials");
    tap_ok(field(4, f, sizeof(f)) && llabs(strtoll(f, NULL, 10) - (long long)now) <= 2,
           "success: minted at the current time");
    slurp(facts, f, sizeof(f));
    tap_ok(strcmp(f, "dumpable=0 core=0 umask=077") == 0, "hardened: %s", f);
    run_once(NULL, conf);
    tap_ok(status == 0 && strncmp(out, "stub|sagemaker|us-west-2|", 25) == 0,
           "NAME omitted: the only endpoint");
    setenv("SMTOKEN_CONFIG", conf, 1);
    run_once("main", NULL);
    tap_ok(status == 0 && out[0] == 's', "config path from $SMTOKEN_CONFIG");
    unsetenv("SMTOKEN_CONFIG");

    /* lifetime = min(lifetime, credential expiry - now) */
    now = time(NULL);
    strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", gmtime(&(time_t){now + 600}));
    setenv("AWS_CREDENTIAL_EXPIRATION", exp, 1);
    setenv("AWS_SESSION_TOKEN", "STONCE", 1);
    run_once("main", conf);
    tap_ok(status == 0 && field(3, f, sizeof(f)) && (int)strtol(f, NULL, 10) >= 595 &&
               (int)strtol(f, NULL, 10) <= 600 && strstr(out, "|AKONCE|STONCE\n"),
           "credentials expiring in 10 min: lifetime %s, session token passed", f);
    strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", gmtime(&(time_t){now + 7200}));
    setenv("AWS_CREDENTIAL_EXPIRATION", exp, 1);
    run_once("main", conf);
    tap_ok(status == 0 && field(3, f, sizeof(f)) && strcmp(f, "3600") == 0,
           "credentials expiring after the lifetime: lifetime stays 3600");
    strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", gmtime(&(time_t){now - 5}));
    setenv("AWS_CREDENTIAL_EXPIRATION", exp, 1);
    fails("main", conf, "expired", "expired credentials");
    strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", gmtime(&(time_t){time(NULL)}));
    setenv("AWS_CREDENTIAL_EXPIRATION", exp, 1);
    fails("main", conf, "expired", "credentials expiring now (< 1 s left)");
    env_creds();

    /* region: the endpoint's, else AWS_REGION / the profile */
    write_conf("[endpoint br]\nservice = bedrock\n[endpoint sm]\nendpoint = x\nregion = "
               "eu-west-1\n");
    setenv("AWS_REGION", "ap-northeast-1", 1);
    run_once("br", conf);
    tap_ok(status == 0 && strncmp(out, "stub|bedrock|ap-northeast-1|43200|", 34) == 0,
           "bedrock, region from AWS_REGION, default lifetime 12h");
    run_once("sm", conf);
    tap_ok(status == 0 && strncmp(out, "stub|sagemaker|eu-west-1|", 25) == 0,
           "the endpoint's region beats AWS_REGION");
    unsetenv("AWS_REGION");
    fails("br", conf, "no region for endpoint 'br'", "no region anywhere");
    tap_ok(strstr(err, "\nhint: ") != NULL, "... with a hint line");
    fails(NULL, conf, "no default endpoint", "two endpoints and no default");
    fails("nosuch", conf, "no endpoint 'nosuch'", "unknown endpoint");

    /* configuration errors: FILE:LINE */
    write_conf("[endpoint e]\nregion = us-west-2\nendpoint = x\nlifetime = 13h\n");
    snprintf(cmd, sizeof(cmd), "%s:4: ", conf);
    fails("e", conf, cmd, "a lifetime over 12h");
    fails("e", nofile, "No such file", "a missing config file");

    /* credentials errors */
    write_conf("[endpoint e]\nregion = us-west-2\nendpoint = x\nprofile = nosuch\n");
    fails("e", conf, "profile 'nosuch'", "an unknown profile");
    unsetenv("AWS_ACCESS_KEY_ID");
    write_conf("[endpoint e]\nregion = us-west-2\nendpoint = x\n");
    fails("e", conf, "no AWS credentials found", "no credentials at all");

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", dir);
    return tap_done();
}
