/* Unit tests for agent/requests.c (and agent/audit.c): requests built with the proto encoders,
 * handed to smt_agent_handle, replies decoded.  A temp config, credentials from setenv'd AWS_*
 * variables, a credential_process profile (cat of a file the test rewrites), and a fake clock.
 * The agent's log (stderr) goes to a temp file, read back to check the audit lines. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <systemd/sd-event.h>

#include "agent/audit.h"
#include "agent/requests.h"
#include "agent/token.h"
#include "proto/buf.h"
#include "proto/msg.h"
#include "proto/proto.h"
#include "tests/tap.h"
#include "tests/unit/tokfacts.h"

#define SEC    1000000ULL
#define T0     1767225600 /* 2026-01-01T00:00:00Z */
#define ENV_AK "AKIDENVTEST"
#define ADD_AK "AKIDADDEDTEST"

struct fake_clock {
    int64_t rt;
    uint64_t bt;
};
static int64_t fake_rt(void *u)
{
    return ((struct fake_clock *)u)->rt;
}
static uint64_t fake_bt(void *u)
{
    return ((struct fake_clock *)u)->bt;
}
static struct fake_clock fc = {T0, 5000 * SEC};
static const struct smt_clock clk = {fake_rt, fake_bt, &fc};

static void tick(int64_t s)
{
    fc.rt += s;
    fc.bt += (uint64_t)s * SEC;
}

static char dir[] = "/tmp/test-requests.XXXXXX";
static char conf[256], logpath[256], procfile[256], awsconf[256], sinkdir[256], sinkpath[300];
static struct smt_peer peer;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        printf("Bail out! cannot write %s\n", path);
        exit(1);
    }
}

static char *read_file(const char *path)
{
    static char buf[1 << 16];
    FILE *f = fopen(path, "r");
    size_t n = 0;

    buf[0] = '\0';
    if (f) {
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

static const char *BASE_CONF = "[agent]\n"
                               "default = main\n"
                               "refresh = 80%\n"
                               "min_remaining = 60s\n"
                               "\n"
                               "[endpoint main]\n"
                               "service = sagemaker\n"
                               "region = us-west-2\n"
                               "endpoint = my-llm\n"
                               "lifetime = 1h\n"
                               "\n"
                               "[endpoint br]\n"
                               "service = bedrock\n"
                               "region = us-east-1\n"
                               "lifetime = 15m\n"
                               "\n"
                               "[endpoint work]\n"
                               "region = eu-west-1\n"
                               "endpoint = x\n"
                               "profile = work\n"
                               "\n"
                               "[endpoint broken]\n"
                               "region = us-west-2\n"
                               "endpoint = y\n"
                               "profile = nosuch\n";

/* ---- one request, one reply ---- */

struct reply {
    int r;           /* smt_agent_handle's return */
    uint8_t version; /* of the reply frame */
    uint8_t type;
    int frames;    /* reply frames found in out (must be 1) */
    bool consumed; /* the request body was consumed */
    struct smt_msg_token tok;
    struct smt_msg_failure fail;
    struct smt_msg_list list;
    uint8_t agent_version;
    struct smt_buf *raw; /* the reply bytes (for "no token inside") */
};

static void reply_free(struct reply *rp)
{
    smt_msg_token_free(&rp->tok);
    smt_msg_failure_free(&rp->fail);
    smt_msg_list_free(&rp->list);
    smt_buf_free(rp->raw);
    memset(rp, 0, sizeof(*rp));
}

/* req holds one whole request frame. */
static void handle(struct smt_agent *a, struct smt_buf *req, struct reply *rp)
{
    struct smt_buf *out = smt_buf_new(SMT_FRAME_MAX + 16);
    uint8_t v = 0, t = 0;
    size_t len = 0;

    memset(rp, 0, sizeof(*rp));
    if (smt_frame_parse(req, SMT_REQUEST_MAX, &v, &t, &len) != 1) {
        rp->r = -999;
        goto out;
    }
    rp->r = smt_agent_handle(a, &peer, v, t, req, len, out);
    rp->consumed = smt_buf_len(req) == 0;
    if (smt_buf_new_from(smt_buf_ptr(out), smt_buf_len(out), &rp->raw) < 0)
        goto out;
    while (smt_buf_len(out) > 0) {
        if (smt_frame_parse(out, SMT_FRAME_MAX, &v, &t, &len) != 1)
            break;
        rp->frames++;
        rp->version = v;
        rp->type = t;
        switch (t) {
        case SMT_MSG_TOKEN:
            if (smt_msg_get_token(out, len, &rp->tok) < 0)
                rp->type = 0;
            break;
        case SMT_MSG_FAILURE:
            if (smt_msg_get_failure(out, len, &rp->fail) < 0)
                rp->type = 0;
            break;
        case SMT_MSG_LIST_REPLY:
            if (smt_msg_get_list_reply(out, len, &rp->list) < 0)
                rp->type = 0;
            break;
        case SMT_MSG_VERSION:
            if (smt_msg_get_version(out, len, &rp->agent_version) < 0)
                rp->type = 0;
            break;
        default:
            if (smt_buf_consume(out, len) < 0)
                rp->type = 0;
        }
    }
out:
    smt_buf_free(req);
    smt_buf_free(out);
}

static struct smt_buf *newbuf(void)
{
    return smt_buf_new(SMT_REQUEST_MAX + 16);
}

static void get_token(struct smt_agent *a, const char *name, struct reply *rp)
{
    struct smt_buf *b = newbuf();

    if (smt_msg_put_get_token(b, name) < 0)
        rp->r = -998;
    handle(a, b, rp);
}

static void simple(struct smt_agent *a, int which, const char *arg, struct reply *rp)
{
    struct smt_buf *b = newbuf();
    int r = which == SMT_MSG_LIST           ? smt_msg_put_list(b)
            : which == SMT_MSG_RELOAD       ? smt_msg_put_reload(b)
            : which == SMT_MSG_REMOVE_CREDS ? smt_msg_put_remove_creds(b, arg)
                                            : -1;

    if (r < 0)
        rp->r = -998;
    handle(a, b, rp);
}

static void add_creds(struct smt_agent *a, const char *profile, const char *ak, uint64_t exp,
                      struct reply *rp)
{
    struct smt_msg_add_creds m = {(char *)profile, (char *)ak,
                                  (char *)"addedSecretKeyForTests/abc+def", (char *)"", exp};
    struct smt_buf *b = newbuf();

    if (smt_msg_put_add_creds(b, &m) < 0)
        rp->r = -998;
    handle(a, b, rp);
}

/* A frame with any version/type and raw body bytes. */
static void raw_request(struct smt_agent *a, uint8_t version, uint8_t type, const void *body,
                        size_t n, struct reply *rp)
{
    struct smt_buf *b = newbuf();
    size_t mark;

    if (smt_frame_begin_version(b, version, type, &mark) < 0 || smt_buf_put(b, body, n) < 0 ||
        smt_frame_end(b, mark) < 0)
        rp->r = -998;
    handle(a, b, rp);
}

static bool is_token(const struct reply *rp, const char *name)
{
    return rp->r == 0 && rp->frames == 1 && rp->consumed && rp->type == SMT_MSG_TOKEN &&
           rp->version == SMT_PROTO_VERSION && rp->tok.name && strcmp(rp->tok.name, name) == 0;
}

static bool is_failure(const struct reply *rp, uint32_t code)
{
    bool ok = rp->r == 0 && rp->frames == 1 && rp->consumed && rp->type == SMT_MSG_FAILURE &&
              rp->fail.code == code;

    if (!ok)
        tap_diag("reply type %u, code %u, message '%s'", rp->type, rp->fail.code,
                 rp->fail.message ? rp->fail.message : "");
    return ok;
}

static const struct smt_msg_endpoint_info *list_find(const struct reply *rp, const char *name)
{
    for (uint32_t i = 0; i < rp->list.n; i++)
        if (strcmp(rp->list.e[i].name, name) == 0)
            return &rp->list.e[i];
    return NULL;
}

static bool starts(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- set-up ---- */

static void clean_env(void)
{
    static const char *const vars[] = {"AWS_ACCESS_KEY_ID",         "AWS_SECRET_ACCESS_KEY",
                                       "AWS_SESSION_TOKEN",         "AWS_SECURITY_TOKEN",
                                       "AWS_CREDENTIAL_EXPIRATION", "AWS_PROFILE",
                                       "AWS_DEFAULT_PROFILE",       "AWS_REGION",
                                       "AWS_DEFAULT_REGION"};

    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
}

static void set_env_creds(const char *expiration)
{
    clean_env();
    setenv("AWS_ACCESS_KEY_ID", ENV_AK, 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envSecretKeyForTests/abc+def", 1);
    if (expiration)
        setenv("AWS_CREDENTIAL_EXPIRATION", expiration, 1);
}

static struct smt_agent *agent(void)
{
    struct smt_agent *a = NULL;
    struct smt_diag d = {{0}, {0}, {0}};

    if (smt_agent_new(conf, &clk, &a, &d) < 0) {
        tap_diag("smt_agent_new: %s", d.msg);
        return NULL;
    }
    return a;
}

static void setup(void)
{
    int fd;

    if (!mkdtemp(dir)) {
        printf("Bail out! mkdtemp\n");
        exit(1);
    }
    snprintf(conf, sizeof(conf), "%s/smtoken.conf", dir);
    snprintf(logpath, sizeof(logpath), "%s/agent.log", dir);
    snprintf(procfile, sizeof(procfile), "%s/proc.json", dir);
    snprintf(awsconf, sizeof(awsconf), "%s/aws-config", dir);
    snprintf(sinkdir, sizeof(sinkdir), "%s/run", dir);
    snprintf(sinkpath, sizeof(sinkpath), "%s/main.token", sinkdir);
    mkdir(sinkdir, 0700);
    setenv("HOME", dir, 1);
    setenv("AWS_CONFIG_FILE", awsconf, 1);
    {
        char path[300];

        snprintf(path, sizeof(path), "%s/aws-credentials", dir);
        setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
        write_file(path, "");
    }
    {
        char text[600];

        snprintf(text, sizeof(text), "[profile proc]\ncredential_process = cat %s\n", procfile);
        write_file(awsconf, text);
    }
    /* The agent logs to stderr: keep it in a file the tests read. */
    fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || dup2(fd, STDERR_FILENO) < 0) {
        printf("Bail out! cannot redirect stderr\n");
        exit(1);
    }
    close(fd);
    peer.uid = getuid();
    peer.gid = getgid();
    peer.pid = getpid();
}

static void cleanup(void)
{
    char cmd[400];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", dir);
}

/* ---- the tests ---- */

static void test_new(void)
{
    struct smt_agent *a = NULL;
    struct smt_diag d = {{0}, {0}, {0}};
    char bad[300];

    snprintf(bad, sizeof(bad), "%s/missing.conf", dir);
    tap_ok(smt_agent_new(bad, &clk, &a, &d) == SMT_ERR_NOT_FOUND && !a,
           "a missing config: SMT_ERR_NOT_FOUND (%s)", d.msg);
    snprintf(bad, sizeof(bad), "%s/bad.conf", dir);
    write_file(bad, "[endpoint x]\nendpoint = e\nregion = us-west-2\nlifetme = 1h\n");
    tap_ok(smt_agent_new(bad, &clk, &a, &d) == SMT_ERR_CONFIG && !a && strstr(d.msg, "bad.conf:4"),
           "a bad config: SMT_ERR_CONFIG with file:line (%s)", d.msg);
    smt_agent_free(NULL);
}

static void test_tokens(struct smt_agent *a)
{
    struct reply r1, r2;
    struct tokfacts f;
    char fp[13], line[200], *log;

    get_token(a, "", &r1);
    tap_ok(is_token(&r1, "main"), "GET_TOKEN \"\": TOKEN for the default endpoint 'main'");
    tap_ok(r1.tok.service == 0 && r1.tok.expires_at == T0 + 3600,
           "... sagemaker, expires_at = now + lifetime");
    tap_ok(tap_streq(r1.tok.base_url,
                     "https://runtime.sagemaker.us-west-2.amazonaws.com/endpoints/my-llm/openai/v1",
                     "base_url"),
           "... base_url from region and endpoint");
    tap_ok(r1.tok.token && tokfacts_decode(r1.tok.token, &f) &&
               starts(f.credential, ENV_AK "%2F20260101%2Fus-west-2%2Fsagemaker%2F") &&
               f.date == T0 && f.expires == 3600,
           "... the token is signed with the environment's key, now, for 3600 s");

    get_token(a, "main", &r2);
    tap_ok(is_token(&r2, "main") && r2.tok.token && r1.tok.token &&
               strcmp(r1.tok.token, r2.tok.token) == 0,
           "GET_TOKEN main: the same cached token");

    /* the audit line: fingerprint, peer, expiry; never the token */
    log = read_file(logpath);
    tap_ok(r1.tok.token && smt_token_fingerprint(r1.tok.token, strlen(r1.tok.token), fp) == 0,
           "fingerprint");
    snprintf(line, sizeof(line), "served token endpoint=main uid=%ld pid=%ld exe=", (long)getuid(),
             (long)getpid());
    tap_ok(strstr(log, line) != NULL, "audit: endpoint, uid and pid");
    snprintf(line, sizeof(line), "fp=%s expires=2026-01-01T01:00:00Z minted=yes", fp);
    tap_ok(strstr(log, line) != NULL, "audit: fingerprint, ISO 8601 expiry, minted=yes");
    tap_ok(strstr(log, "test-requests") != NULL, "audit: the peer's executable");
    tap_ok(r1.tok.token && !strstr(log, r1.tok.token + 18) && !strstr(log, "envSecretKey"),
           "the log holds neither the token nor the secret key");
    reply_free(&r2);

    get_token(a, "br", &r2);
    tap_ok(is_token(&r2, "br") && r2.tok.service == 1 && r2.tok.expires_at == T0 + 900,
           "GET_TOKEN br: bedrock, 15 min");
    tap_ok(tap_streq(r2.tok.base_url, "https://bedrock-runtime.us-east-1.amazonaws.com/openai/v1",
                     "bedrock base_url") &&
               starts(r2.tok.token, "bedrock-api-key-"),
           "... bedrock base URL and token prefix");
    tap_ok(r2.tok.token && tokfacts_decode(r2.tok.token, &f) &&
               starts(f.credential, ENV_AK "%2F20260101%2Fus-east-1%2Fbedrock%2F") &&
               f.expires == 900,
           "... scoped to us-east-1/bedrock");
    reply_free(&r1);
    reply_free(&r2);
}

static void test_bad_requests(struct smt_agent *a)
{
    static const uint8_t trunc[] = {0, 0, 0, 9, 'a', 'b'};
    static const uint8_t trailing[] = {0, 0, 0, 4, 'm', 'a', 'i', 'n', 0};
    static const uint8_t nul[] = {0, 0, 0, 4, 'm', 0, 'i', 'n'};
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 'x'};
    static const uint8_t name[] = {0, 0, 0, 4, 'm', 'a', 'i', 'n'};
    struct reply rp;

    get_token(a, "nope", &rp);
    tap_ok(is_failure(&rp, SMT_FAIL_UNKNOWN_ENDPOINT) && strstr(rp.fail.message, "'nope'"),
           "unknown endpoint: UNKNOWN_ENDPOINT naming it: %s", rp.fail.message);
    tap_ok(rp.fail.hint && strstr(rp.fail.hint, "main, br, work, broken"),
           "... the hint lists the endpoints: %s", rp.fail.hint ? rp.fail.hint : "");
    reply_free(&rp);

    raw_request(a, 2, SMT_MSG_GET_TOKEN, name, sizeof(name), &rp);
    tap_ok(rp.r == 0 && rp.frames == 1 && rp.consumed && rp.type == SMT_MSG_VERSION &&
               rp.version == SMT_PROTO_VERSION && rp.agent_version == SMT_PROTO_VERSION,
           "version 2: a VERSION reply carrying ours, body consumed");
    reply_free(&rp);
    raw_request(a, 0, 77, junk, sizeof(junk), &rp);
    tap_ok(rp.frames == 1 && rp.type == SMT_MSG_VERSION,
           "version 0 with an unknown type: VERSION too (the body is not looked at)");
    reply_free(&rp);

    raw_request(a, SMT_PROTO_VERSION, SMT_MSG_GET_TOKEN, trunc, sizeof(trunc), &rp);
    tap_ok(is_failure(&rp, SMT_FAIL_BAD_REQUEST) && strstr(rp.fail.message, "GET_TOKEN"),
           "truncated GET_TOKEN body: BAD_REQUEST (%s)", rp.fail.message);
    reply_free(&rp);
    raw_request(a, SMT_PROTO_VERSION, SMT_MSG_GET_TOKEN, trailing, sizeof(trailing), &rp);
    tap_ok(is_failure(&rp, SMT_FAIL_BAD_REQUEST),
           "GET_TOKEN with a trailing byte: BAD_REQUEST (%s)", rp.fail.message);
    reply_free(&rp);
    raw_request(a, SMT_PROTO_VERSION, SMT_MSG_GET_TOKEN, nul, sizeof(nul), &rp);
    tap_ok(is_failure(&rp, SMT_FAIL_BAD_REQUEST), "a name with a NUL: BAD_REQUEST (%s)",
           rp.fail.message);
    reply_free(&rp);
    raw_request(a, SMT_PROTO_VERSION, SMT_MSG_GET_TOKEN, junk, sizeof(junk), &rp);
    tap_ok(is_failure(&rp, SMT_FAIL_BAD_REQUEST), "garbage GET_TOKEN body: BAD_REQUEST");
    reply_free(&rp);
    raw_request(a, SMT_PROTO_VERSION, SMT_MSG_GET_TOKEN, NULL, 0, &rp);
    tap_ok(is_failure(&rp, SMT_FAIL_BAD_REQUEST), "empty GET_TOKEN body: BAD_REQUEST");
    reply_free(&rp);
    raw_request(a, SMT_PROTO_VERSION, SMT_MSG_LIST, name, sizeof(name), &rp);
    tap_ok(is_failure(&rp, SMT_FAIL_BAD_REQUEST), "LIST with a body: BAD_REQUEST");
    reply_free(&rp);
    raw_request(a, SMT_PROTO_VERSION, SMT_MSG_ADD_CREDS, name, sizeof(name), &rp);
    tap_ok(is_failure(&rp, SMT_FAIL_BAD_REQUEST), "a short ADD_CREDS body: BAD_REQUEST");
    reply_free(&rp);
    raw_request(a, SMT_PROTO_VERSION, 99, name, sizeof(name), &rp);
    tap_ok(is_failure(&rp, SMT_FAIL_BAD_REQUEST) && strstr(rp.fail.message, "99"),
           "unknown type 99: BAD_REQUEST naming it (%s)", rp.fail.message);
    reply_free(&rp);
    raw_request(a, SMT_PROTO_VERSION, SMT_MSG_TOKEN, name, sizeof(name), &rp);
    tap_ok(is_failure(&rp, SMT_FAIL_BAD_REQUEST), "a reply type sent as a request: BAD_REQUEST");
    reply_free(&rp);

    /* Two frames in one buffer: the second is untouched by the first. */
    {
        struct smt_buf *b = newbuf(), *out = smt_buf_new(SMT_FRAME_MAX);
        uint8_t v, t;
        size_t len, left;
        int r;

        r = smt_msg_put_list(b) < 0 || smt_msg_put_get_token(b, "main") < 0 ||
            smt_frame_parse(b, SMT_REQUEST_MAX, &v, &t, &len) != 1;
        left = smt_buf_len(b);
        r = r || smt_agent_handle(a, &peer, v, t, b, len, out) < 0;
        tap_ok(!r && smt_buf_len(b) == left - len && smt_buf_len(b) > 0,
               "handle consumes exactly the frame's body");
        smt_buf_free(b);
        smt_buf_free(out);
    }
}

static void test_list_and_broken(struct smt_agent *a)
{
    const struct smt_msg_endpoint_info *m, *b, *w;
    struct reply rp, tk;

    get_token(a, "broken", &rp);
    tap_ok(is_failure(&rp, SMT_FAIL_CREDENTIALS) && strstr(rp.fail.message, "nosuch"),
           "endpoint with a missing profile: CREDENTIALS naming it (%s)", rp.fail.message);
    reply_free(&rp);
    get_token(a, "main", &tk);
    tap_ok(is_token(&tk, "main"), "... while 'main' keeps working");

    simple(a, SMT_MSG_LIST, NULL, &rp);
    tap_ok(rp.r == 0 && rp.frames == 1 && rp.type == SMT_MSG_LIST_REPLY && rp.list.n == 4,
           "LIST: 4 endpoints");
    m = list_find(&rp, "main");
    b = list_find(&rp, "broken");
    w = list_find(&rp, "work");
    tap_ok(m && m->is_default && m->service == 0 && !strcmp(m->region, "us-west-2") &&
               !strcmp(m->profile, "") && !strcmp(m->source, "env"),
           "LIST main: default, sagemaker, us-west-2, default chain, source env");
    tap_ok(m && m->token_expires_at == T0 + 3600 && m->last_refresh == T0 &&
               m->cred_expires_at == 0 && !strcmp(m->last_error, "") &&
               starts(m->base_url, "https://runtime.sagemaker."),
           "LIST main: token expiry, last refresh, no credential expiry, no error, base_url");
    tap_ok(b && !b->is_default && !strcmp(b->profile, "nosuch") && !strcmp(b->source, "") &&
               strstr(b->last_error, "nosuch") && b->token_expires_at == 0,
           "LIST broken: profile, not resolved, last_error says why");
    tap_ok(w && !strcmp(w->source, "") && w->last_refresh == 0 && !strcmp(w->region, "eu-west-1"),
           "LIST work: not used yet");
    tap_ok(tk.tok.token && rp.raw &&
               !memmem(smt_buf_ptr(rp.raw), smt_buf_len(rp.raw), tk.tok.token + 18, 40),
           "LIST carries no token");
    reply_free(&rp);
    reply_free(&tk);
}

static void test_add_remove(struct smt_agent *a)
{
    const struct smt_msg_endpoint_info *w;
    struct reply rp;
    struct tokfacts f;

    get_token(a, "work", &rp);
    tap_ok(is_failure(&rp, SMT_FAIL_CREDENTIALS), "work before ADD_CREDS: no credentials");
    reply_free(&rp);
    add_creds(a, "work", ADD_AK, 0, &rp);
    tap_ok(rp.r == 0 && rp.frames == 1 && rp.type == SMT_MSG_SUCCESS, "ADD_CREDS work: SUCCESS");
    reply_free(&rp);
    get_token(a, "work", &rp);
    tap_ok(is_token(&rp, "work") && tokfacts_decode(rp.tok.token, &f) &&
               starts(f.credential, ADD_AK "%2F20260101%2Feu-west-1%2Fsagemaker%2F"),
           "GET_TOKEN work: signed with the added access key");
    reply_free(&rp);
    get_token(a, "main", &rp);
    tap_ok(is_token(&rp, "main") && tokfacts_decode(rp.tok.token, &f) &&
               starts(f.credential, ENV_AK),
           "... 'main' still uses the environment's");
    reply_free(&rp);

    /* replaced, with an expiry: the token follows it */
    add_creds(a, "work", ADD_AK "2", T0 + 1200, &rp);
    tap_ok(rp.type == SMT_MSG_SUCCESS, "ADD_CREDS work again (replace, expiring in 20 min)");
    reply_free(&rp);
    get_token(a, "work", &rp);
    tap_ok(is_token(&rp, "work") && rp.tok.expires_at == T0 + 1200 &&
               tokfacts_decode(rp.tok.token, &f) && starts(f.credential, ADD_AK "2%2F") &&
               f.expires == 1200,
           "... the new key at once, expiry clamped to the credentials'");
    reply_free(&rp);
    simple(a, SMT_MSG_LIST, NULL, &rp);
    w = list_find(&rp, "work");
    tap_ok(w && starts(w->source, "added") && w->cred_expires_at == T0 + 1200,
           "LIST work: source added, credential expiry");
    reply_free(&rp);

    add_creds(a, "old", ADD_AK, T0 - 5, &rp);
    tap_ok(is_failure(&rp, SMT_FAIL_EXPIRED), "ADD_CREDS with expired credentials: EXPIRED");
    reply_free(&rp);
    add_creds(a, "bad name", ADD_AK, 0, &rp);
    tap_ok(is_failure(&rp, SMT_FAIL_BAD_REQUEST), "ADD_CREDS with a space in the profile: refused");
    reply_free(&rp);

    simple(a, SMT_MSG_REMOVE_CREDS, "work", &rp);
    tap_ok(rp.r == 0 && rp.type == SMT_MSG_SUCCESS, "REMOVE_CREDS work: SUCCESS");
    reply_free(&rp);
    get_token(a, "work", &rp);
    tap_ok(is_failure(&rp, SMT_FAIL_CREDENTIALS), "GET_TOKEN work afterwards: no credentials");
    reply_free(&rp);
    simple(a, SMT_MSG_REMOVE_CREDS, "work", &rp);
    tap_ok(is_failure(&rp, SMT_FAIL_CREDENTIALS), "REMOVE_CREDS work again: refused");
    reply_free(&rp);
    {
        static const uint8_t empty[] = {0, 0, 0, 0};

        raw_request(a, SMT_PROTO_VERSION, SMT_MSG_REMOVE_CREDS, empty, sizeof(empty), &rp);
    }
    tap_ok(is_failure(&rp, SMT_FAIL_BAD_REQUEST), "REMOVE_CREDS \"\": BAD_REQUEST");
    reply_free(&rp);
    tap_ok(!strstr(read_file(logpath), "addedSecretKey"), "the added secret key is not logged");
}

static void test_reload(struct smt_agent *a)
{
    struct reply rp, before, after;
    char text[2048];

    get_token(a, "main", &before);
    write_file(conf, "[agent]\ndefault = main\n\n[endpoint main]\nregion = us-west-2\n"
                     "endpoint = my-llm\nlifetme = 1h\n");
    simple(a, SMT_MSG_RELOAD, NULL, &rp);
    tap_ok(is_failure(&rp, SMT_FAIL_CONFIG) && strstr(rp.fail.message, "smtoken.conf:7"),
           "RELOAD with a broken config: CONFIG with file:line (%s)", rp.fail.message);
    tap_ok(rp.fail.hint && strstr(rp.fail.hint, "old configuration"),
           "... hint: the old one stays");
    reply_free(&rp);
    get_token(a, "br", &rp);
    tap_ok(is_token(&rp, "br"), "... the old config still serves 'br'");
    reply_free(&rp);
    get_token(a, "main", &after);
    tap_ok(is_token(&after, "main") && !strcmp(before.tok.token, after.tok.token),
           "... and 'main' its cached token");
    reply_free(&after);

    /* main unchanged, br with another lifetime, work and broken gone, three new */
    snprintf(text, sizeof(text), "%s", BASE_CONF);
    {
        char *p = strstr(text, "lifetime = 15m");

        if (p)
            memcpy(p, "lifetime = 10m", 14);
        p = strstr(text, "[endpoint work]");
        if (p)
            snprintf(p, sizeof(text) - (size_t)(p - text),
                     "[endpoint three]\nregion = ap-south-1\nbase_url = http://127.0.0.1:9/v1\n"
                     "endpoint = z\n");
    }
    write_file(conf, text);
    tick(5);
    simple(a, SMT_MSG_RELOAD, NULL, &rp);
    tap_ok(rp.r == 0 && rp.type == SMT_MSG_SUCCESS, "RELOAD with a good config: SUCCESS");
    reply_free(&rp);
    get_token(a, "main", &after);
    tap_ok(is_token(&after, "main") && !strcmp(before.tok.token, after.tok.token),
           "the unchanged endpoint keeps its cached token");
    reply_free(&after);
    get_token(a, "br", &rp);
    tap_ok(is_token(&rp, "br") && rp.tok.expires_at == (uint64_t)fc.rt + 600,
           "the changed endpoint mints with its new lifetime");
    reply_free(&rp);
    get_token(a, "three", &rp);
    tap_ok(is_token(&rp, "three") && !strcmp(rp.tok.base_url, "http://127.0.0.1:9/v1"),
           "the new endpoint serves, with its base_url");
    reply_free(&rp);
    get_token(a, "work", &rp);
    tap_ok(is_failure(&rp, SMT_FAIL_UNKNOWN_ENDPOINT), "the removed endpoint is gone");
    reply_free(&rp);
    simple(a, SMT_MSG_LIST, NULL, &rp);
    tap_ok(rp.type == SMT_MSG_LIST_REPLY && rp.list.n == 3 && list_find(&rp, "three") &&
               !list_find(&rp, "work"),
           "LIST shows the new set");
    reply_free(&rp);
    unlink(conf);
    simple(a, SMT_MSG_RELOAD, NULL, &rp);
    tap_ok(is_failure(&rp, SMT_FAIL_CONFIG), "RELOAD with the file gone: CONFIG (%s)",
           rp.fail.message);
    reply_free(&rp);
    get_token(a, "main", &rp);
    tap_ok(is_token(&rp, "main"), "... still serving");
    reply_free(&rp);
    reply_free(&before);
    write_file(conf, BASE_CONF);
}

static void test_expiring_env(void)
{
    struct smt_agent *a;
    struct reply rp;
    struct tokfacts f;

    fc.rt = T0;
    set_env_creds("2026-01-01T00:30:00Z");
    a = agent();
    clean_env(); /* as main.c does after start-up: the agent kept its copy */
    get_token(a, "main", &rp);
    tap_ok(is_token(&rp, "main") && rp.tok.expires_at == T0 + 1800,
           "AWS_CREDENTIAL_EXPIRATION in 30 min: expires_at clamped to it (not 1 h)");
    tap_ok(tokfacts_decode(rp.tok.token, &f) && f.expires == 1800 && starts(f.credential, ENV_AK),
           "... X-Amz-Expires=1800, from the environment's copy");
    reply_free(&rp);
    tick(1750);
    get_token(a, "main", &rp);
    tap_ok(is_failure(&rp, SMT_FAIL_EXPIRED) && rp.fail.hint && rp.fail.hint[0],
           "50 s before they expire (floor 60 s): EXPIRED with a hint (%s / %s)", rp.fail.message,
           rp.fail.hint);
    reply_free(&rp);
    smt_agent_free(a);

    set_env_creds("yesterday");
    a = agent();
    get_token(a, "main", &rp);
    tap_ok(is_failure(&rp, SMT_FAIL_CREDENTIALS) &&
               strstr(rp.fail.message, "AWS_CREDENTIAL_EXPIRATION"),
           "unparsable AWS_CREDENTIAL_EXPIRATION: CREDENTIALS naming it");
    reply_free(&rp);
    get_token(a, "br", &rp);
    tap_ok(is_failure(&rp, SMT_FAIL_CREDENTIALS), "... for every endpoint on the default chain");
    reply_free(&rp);
    smt_agent_free(a);
    clean_env();
}

static void write_proc(const char *ak, int64_t exp)
{
    char text[400], when[40];
    time_t t = (time_t)exp;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(text, sizeof(text),
             "{\"Version\": 1, \"AccessKeyId\": \"%s\", \"SecretAccessKey\": \"procSecret/x\", "
             "\"Expiration\": \"%s\"}\n",
             ak, when);
    write_file(procfile, text);
}

static void test_refresh(void)
{
    const struct smt_msg_endpoint_info *e;
    struct smt_agent *a;
    struct reply rp;
    struct tokfacts f;
    uint64_t w;

    write_file(conf, "[endpoint p]\nregion = us-west-2\nendpoint = e\nprofile = proc\n"
                     "lifetime = 12h\n");
    fc.rt = T0;
    write_proc("AKIDPROCONE", T0 + 3600);
    a = agent();
    tap_ok(a && smt_agent_next_wakeup(a) == 0, "no sink and no credentials yet: no wakeup");
    get_token(a, "p", &rp);
    tap_ok(is_token(&rp, "p") && rp.tok.expires_at == T0 + 3600 &&
               tokfacts_decode(rp.tok.token, &f) && starts(f.credential, "AKIDPROCONE"),
           "credential_process (1 h): token clamped to its Expiration");
    reply_free(&rp);
    w = smt_agent_next_wakeup(a);
    tap_ok(w == fc.bt + 2700 * SEC, "wakeup for the credential refresh 15 min before expiry");
    write_proc("AKIDPROCTWO", T0 + 7200);
    tick(2000);
    get_token(a, "p", &rp);
    tap_ok(is_token(&rp, "p") && tokfacts_decode(rp.tok.token, &f) &&
               starts(f.credential, "AKIDPROCONE"),
           "before the refresh window: the cached token, old key");
    reply_free(&rp);
    tick(701);
    smt_agent_tick(a);
    get_token(a, "p", &rp);
    tap_ok(is_token(&rp, "p") && tokfacts_decode(rp.tok.token, &f) &&
               starts(f.credential, "AKIDPROCTWO") && rp.tok.expires_at == T0 + 7200,
           "tick in the window refreshed the credentials: new key, new expiry");
    reply_free(&rp);

    /* the process starts failing: the last token stays while it has the floor */
    write_file(procfile, "not json\n");
    fc.rt = T0 + 6400;
    fc.bt += (uint64_t)(6400 - 2701) * SEC;
    get_token(a, "p", &rp);
    tap_ok(is_token(&rp, "p") && tokfacts_decode(rp.tok.token, &f) &&
               starts(f.credential, "AKIDPROCTWO"),
           "refresh fails: the last good token is still served");
    reply_free(&rp);
    simple(a, SMT_MSG_LIST, NULL, &rp);
    e = list_find(&rp, "p");
    tap_ok(e && strstr(e->last_error, "cannot refresh") && e->cred_expires_at == T0 + 7200,
           "LIST says the refresh failed: %s", e ? e->last_error : "");
    reply_free(&rp);
    fc.rt = T0 + 7150;
    fc.bt += 750 * SEC;
    get_token(a, "p", &rp);
    tap_ok(is_failure(&rp, SMT_FAIL_EXPIRED) && rp.fail.hint &&
               strstr(rp.fail.hint, "--profile proc"),
           "50 s before expiry: refused with the reason and the fix (%s / %s)", rp.fail.message,
           rp.fail.hint ? rp.fail.hint : "");
    reply_free(&rp);
    write_proc("AKIDPROCTHREE", T0 + 20000);
    get_token(a, "p", &rp);
    tap_ok(is_token(&rp, "p") && tokfacts_decode(rp.tok.token, &f) &&
               starts(f.credential, "AKIDPROCTHREE"),
           "once the process works again, the next request recovers");
    reply_free(&rp);
    smt_agent_free(a);
}

static void test_sink(void)
{
    struct smt_agent *a;
    struct reply rp;
    char text[600], first[4096];
    struct stat st;
    uint64_t w;

    snprintf(text, sizeof(text),
             "[agent]\nrefresh = 50%%\n\n[endpoint s]\nregion = us-west-2\nendpoint = e\n"
             "lifetime = 10s\nsink = %s\n\n[endpoint plain]\nregion = us-west-2\nendpoint = f\n",
             sinkpath);
    write_file(conf, text);
    set_env_creds(NULL);
    fc.rt = T0;
    a = agent();
    w = a ? smt_agent_next_wakeup(a) : 0;
    tap_ok(w != 0 && w <= fc.bt, "a sink endpoint wants a tick at once");
    smt_agent_tick(a);
    tap_ok(stat(sinkpath, &st) == 0 && (st.st_mode & 0777) == 0600,
           "tick wrote the sink, mode 0600");
    snprintf(first, sizeof(first), "%s", read_file(sinkpath));
    get_token(a, "s", &rp);
    tap_ok(is_token(&rp, "s") && strlen(first) == strlen(rp.tok.token) + 1 &&
               !strncmp(first, rp.tok.token, strlen(rp.tok.token)),
           "the sink holds the served token (raw format)");
    reply_free(&rp);
    w = smt_agent_next_wakeup(a);
    tap_ok(w == fc.bt + 5 * SEC, "next wakeup: rotation at 50%% of 10 s");
    tick(5);
    smt_agent_tick(a);
    tap_ok(strcmp(read_file(sinkpath), first) != 0, "after rotation the tick rewrote the sink");
    tap_ok(smt_agent_next_wakeup(a) == fc.bt + 5 * SEC, "... and the next rotation is armed");
    smt_agent_free(a);
    clean_env();
}

/* A sink that cannot be written shows in LIST's last_error (what `smtoken status` prints), stays
 * there while tokens are served, and goes once a later write succeeds. */
static const char *sink_last_error(struct smt_agent *a, struct reply *rp)
{
    const struct smt_msg_endpoint_info *e;

    simple(a, SMT_MSG_LIST, NULL, rp);
    e = rp->r == 0 && rp->type == SMT_MSG_LIST_REPLY ? list_find(rp, "s") : NULL;
    return e ? e->last_error : "(no LIST reply)";
}

static void test_sink_failure(void)
{
    struct smt_agent *a;
    struct reply rp, lr;
    char text[700], sdir[300], spath[400], cmd[400];
    const char *err;
    struct stat st;

    snprintf(sdir, sizeof(sdir), "%s/later", sinkdir);
    snprintf(spath, sizeof(spath), "%s/s.token", sdir);
    snprintf(text, sizeof(text),
             "[endpoint s]\nregion = us-west-2\nendpoint = e\nlifetime = 1h\nsink = %s\n", spath);
    write_file(conf, text);
    set_env_creds(NULL);
    fc.rt = T0;
    a = agent();
    smt_agent_tick(a);
    tap_ok(a && stat(spath, &st) < 0, "sink in a missing directory: not written");
    err = sink_last_error(a, &lr);
    tap_ok(starts(err, "sink not written: ") && strstr(err, spath) && strstr(err, "later"),
           "LIST last_error names the sink and the missing directory ('%s')", err);
    reply_free(&lr);
    get_token(a, "s", &rp);
    err = sink_last_error(a, &lr);
    tap_ok(is_token(&rp, "s") && strstr(err, spath),
           "a served token does not clear the sink's error ('%s')", err);
    reply_free(&rp);
    reply_free(&lr);

    /* group-writable: refused, and the message says so */
    mkdir(sdir, 0700);
    chmod(sdir, 0770);
    tick(31);
    smt_agent_tick(a);
    err = sink_last_error(a, &lr);
    tap_ok(stat(spath, &st) < 0 && starts(err, "sink not written: ") && strstr(err, sdir) &&
               strstr(err, "writable"),
           "group-writable directory: refused, last_error says so ('%s')", err);
    reply_free(&lr);

    chmod(sdir, 0700);
    tick(31);
    smt_agent_tick(a);
    err = sink_last_error(a, &lr);
    tap_ok(stat(spath, &st) == 0 && !strcmp(err, ""),
           "fixed: the retry writes the sink and clears last_error ('%s')", err);
    reply_free(&lr);
    smt_agent_free(a);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sdir);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", sdir);
    clean_env();
}

/* ---- deferred mode: a slow credential_process does not hold up other endpoints ---- */

static struct {
    int n;
    const struct smt_peer *conn;
    struct smt_buf *frame;
} delivered;

static void on_reply(struct smt_peer *conn, struct smt_buf *frame, void *userdata)
{
    (void)userdata;
    delivered.n++;
    delivered.conn = conn;
    smt_buf_free(delivered.frame);
    delivered.frame = NULL;
    if (smt_buf_new_from(smt_buf_ptr(frame), smt_buf_len(frame), &delivered.frame) < 0)
        delivered.frame = NULL;
}

/* Run the loop (generously) until n replies in all have been delivered: the job's pipes, child
 * and timer sources do the work, nothing else calls into the agent. */
static bool run_until_delivered(sd_event *e, int n)
{
    for (int i = 0; i < 1200 && delivered.n < n; i++)
        if (sd_event_run(e, 100000) < 0)
            return false;
    return delivered.n >= n;
}

/* The pid a script wrote to path, or 0. */
static pid_t read_pid(const char *path)
{
    const char *t = read_file(path);
    long v = 0;

    if (!t || sscanf(t, "%ld", &v) != 1)
        return 0;
    return (pid_t)v;
}

/* Wait (generously) for a script to have written its pid. */
static pid_t wait_pid_file(sd_event *e, const char *path)
{
    pid_t pid = 0;

    for (int i = 0; i < 1200 && !(pid = read_pid(path)); i++)
        (void)sd_event_run(e, 50000);
    return pid;
}

/* Decode the delivered frame as the reply of a GET_TOKEN. */
static void delivered_reply(struct reply *rp)
{
    uint8_t v, t;
    size_t len;

    memset(rp, 0, sizeof(*rp));
    rp->r = -1;
    if (!delivered.frame || smt_frame_parse(delivered.frame, SMT_FRAME_MAX, &v, &t, &len) != 1)
        return;
    rp->r = 0;
    rp->frames = 1;
    rp->consumed = true;
    rp->version = v;
    rp->type = t;
    if (t == SMT_MSG_TOKEN && smt_msg_get_token(delivered.frame, len, &rp->tok) < 0)
        rp->type = 0;
    if (t == SMT_MSG_FAILURE && smt_msg_get_failure(delivered.frame, len, &rp->fail) < 0)
        rp->type = 0;
}

static int handle_as(struct smt_agent *a, struct smt_peer *conn, const char *name,
                     struct smt_buf *out)
{
    struct smt_buf *req = newbuf();
    uint8_t v = 0, t = 0;
    size_t len = 0;
    int r = -999;

    if (smt_msg_put_get_token(req, name) == 0 &&
        smt_frame_parse(req, SMT_REQUEST_MAX, &v, &t, &len) == 1)
        r = smt_agent_handle(a, conn, v, t, req, len, out);
    smt_buf_free(req);
    return r;
}

static void test_deferred(void)
{
    struct smt_peer c1 = peer, c2 = peer;
    struct smt_agent *a;
    struct smt_buf *out = smt_buf_new(SMT_FRAME_MAX);
    struct reply rp;
    struct tokfacts f;
    char text[1600], script[300], go[300], pidfile[300];
    sd_event *e = NULL;
    pid_t pid;
    int r;

    snprintf(go, sizeof(go), "%s/go", dir);
    snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
    snprintf(script, sizeof(script), "%s/slow.sh", dir);
    snprintf(text, sizeof(text),
             "#!/bin/sh\n[ \"$1\" = hang ] && { echo $$ > '%s'; exec sleep 100; }\n"
             "[ \"$1\" = huge ] && exec head -c 200000 /dev/zero\n"
             "i=0\nwhile [ ! -e '%s' ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); "
             "done\n[ \"$1\" = fail ] && { echo 'vault sealed' >&2; exit 3; }\n"
             "echo '{\"Version\": 1, \"AccessKeyId\": \"AKIDSLOW\", \"SecretAccessKey\": "
             "\"slowSecret/x\"}'\n",
             pidfile, go);
    write_file(script, text);
    chmod(script, 0700);
    snprintf(text, sizeof(text),
             "[profile slow]\ncredential_process = %s\n[profile slowfail]\n"
             "credential_process = %s fail\n[profile hang]\ncredential_process = %s hang\n"
             "[profile huge]\ncredential_process = %s huge\n"
             "[profile missing]\ncredential_process = %s/no-such-program\n",
             script, script, script, script, dir);
    write_file(awsconf, text);
    write_file(conf, "[agent]\ncredential_timeout = 1s\n\n"
                     "[endpoint main]\nregion = us-west-2\nendpoint = m\n\n"
                     "[endpoint slow]\nregion = us-west-2\nendpoint = s\nprofile = slow\n\n"
                     "[endpoint slowfail]\nregion = us-west-2\nendpoint = f\nprofile = slowfail\n\n"
                     "[endpoint hang]\nregion = us-west-2\nendpoint = h\nprofile = hang\n\n"
                     "[endpoint huge]\nregion = us-west-2\nendpoint = g\nprofile = huge\n\n"
                     "[endpoint missing]\nregion = us-west-2\nendpoint = x\nprofile = missing\n");
    set_env_creds(NULL);
    fc.rt = T0;
    a = agent();
    clean_env();
    tap_ok(sd_event_new(&e) >= 0 && a && smt_agent_set_deferred(a, e, on_reply, NULL) == 0,
           "deferred mode in an sd-event loop");
    if (!a || !e)
        goto out;

    r = handle_as(a, &c1, "slow", out);
    tap_ok(r == SMT_AGENT_DEFERRED && smt_buf_len(out) == 0,
           "GET_TOKEN for a credential_process still running: DEFERRED, no reply yet");
    get_token(a, "main", &rp);
    tap_ok(is_token(&rp, "main"), "... meanwhile another endpoint answers at once");
    reply_free(&rp);
    simple(a, SMT_MSG_LIST, NULL, &rp);
    tap_ok(rp.type == SMT_MSG_LIST_REPLY && rp.list.n == 6, "... and LIST too");
    reply_free(&rp);
    r = handle_as(a, &c2, "slow", out);
    tap_ok(r == SMT_AGENT_DEFERRED && smt_buf_len(out) == 0, "a second request for it waits too");
    smt_agent_forget(a, &c2); /* that client hung up */
    for (int i = 0; i < 5; i++)
        (void)sd_event_run(e, 10000);
    tap_ok(delivered.n == 0, "nothing delivered while the process runs");
    write_file(go, "");
    tap_ok(run_until_delivered(e, 1), "the loop delivers a reply once the process finished");
    delivered_reply(&rp);
    tap_ok(delivered.n == 1 && delivered.conn == &c1 && rp.type == SMT_MSG_TOKEN &&
               tokfacts_decode(rp.tok.token, &f) && starts(f.credential, "AKIDSLOW%2F"),
           "one TOKEN, to the waiting connection, signed with the new key");
    reply_free(&rp);
    r = handle_as(a, &c1, "slow", out);
    tap_ok(r == 0 && smt_buf_len(out) > 0, "next time: answered at once");
    smt_buf_reset(out);

    delivered.n = 0;
    r = handle_as(a, &c2, "slowfail", out);
    tap_ok(r == SMT_AGENT_DEFERRED, "a failing credential_process: DEFERRED");
    tap_ok(run_until_delivered(e, 1), "... finishes");
    delivered_reply(&rp);
    tap_ok(delivered.n == 1 && delivered.conn == &c2 && rp.type == SMT_MSG_FAILURE &&
               rp.fail.code == SMT_FAIL_CREDENTIALS && rp.fail.message &&
               strstr(rp.fail.message, "slowfail") && strstr(rp.fail.message, "exit status 3") &&
               strstr(rp.fail.message, "vault sealed"),
           "... a FAILURE naming the profile, the exit status and its stderr line: %s",
           rp.fail.message ? rp.fail.message : "");
    reply_free(&rp);
    r = handle_as(a, &c2, "slowfail", out);
    tap_ok(r == SMT_AGENT_DEFERRED, "asking again tries again");
    tap_ok(run_until_delivered(e, 2), "... and fails again");

    /* Credentials added while a fetch runs win over its result. */
    unlink(go);
    delivered.n = 0;
    r = handle_as(a, &c1, "slowfail", out);
    tap_ok(r == SMT_AGENT_DEFERRED, "slowfail again: DEFERRED");
    add_creds(a, "slowfail", ADD_AK, 0, &rp);
    tap_ok(rp.type == SMT_MSG_SUCCESS, "ADD_CREDS slowfail while its process runs");
    reply_free(&rp);
    write_file(go, "");
    tap_ok(run_until_delivered(e, 1), "the process finishes");
    delivered_reply(&rp);
    tap_ok(delivered.n == 1 && rp.type == SMT_MSG_TOKEN && tokfacts_decode(rp.tok.token, &f) &&
               starts(f.credential, ADD_AK "%2F"),
           "the waiting request gets a token from the added credentials, not the stale fetch");
    reply_free(&rp);

    /* credential_timeout: the loop's timer kills the process and the waiter hears why. */
    delivered.n = 0;
    unlink(pidfile);
    r = handle_as(a, &c1, "hang", out);
    tap_ok(r == SMT_AGENT_DEFERRED, "a credential_process that hangs: DEFERRED");
    pid = wait_pid_file(e, pidfile);
    tap_ok(run_until_delivered(e, 1), "... answered after credential_timeout");
    delivered_reply(&rp);
    tap_ok(rp.type == SMT_MSG_FAILURE && rp.fail.code == SMT_FAIL_CREDENTIALS && rp.fail.message &&
               strstr(rp.fail.message, "did not finish within 1 s"),
           "... a FAILURE that says it timed out: %s", rp.fail.message ? rp.fail.message : "");
    reply_free(&rp);
    tap_ok(pid > 0 && kill(pid, 0) < 0 && errno == ESRCH,
           "... and the process is killed and reaped");

    /* Output over the cap, and a program that does not exist. */
    delivered.n = 0;
    r = handle_as(a, &c1, "huge", out);
    tap_ok(r == SMT_AGENT_DEFERRED && run_until_delivered(e, 1), "a process printing 200 KB");
    delivered_reply(&rp);
    tap_ok(rp.type == SMT_MSG_FAILURE && rp.fail.message &&
               strstr(rp.fail.message, "more than 65536 bytes"),
           "... a FAILURE about the output cap: %s", rp.fail.message ? rp.fail.message : "");
    reply_free(&rp);
    get_token(a, "missing", &rp);
    tap_ok(rp.type == SMT_MSG_FAILURE && rp.fail.message && strstr(rp.fail.message, "cannot run") &&
               strstr(rp.fail.message, "missing"),
           "a credential_process that cannot be started fails at once: %s",
           rp.fail.message ? rp.fail.message : "");
    reply_free(&rp);

    /* A reload that changes the endpoint: its process is killed, its waiter told. */
    delivered.n = 0;
    unlink(pidfile);
    r = handle_as(a, &c1, "hang", out);
    pid = r == SMT_AGENT_DEFERRED ? wait_pid_file(e, pidfile) : 0;
    write_file(conf, "[agent]\ncredential_timeout = 1s\n\n"
                     "[endpoint hang]\nregion = us-west-2\nendpoint = h2\nprofile = hang\n");
    simple(a, SMT_MSG_RELOAD, NULL, &rp);
    tap_ok(pid > 0 && rp.type == SMT_MSG_SUCCESS,
           "RELOAD while a process runs for a changed endpoint");
    reply_free(&rp);
    delivered_reply(&rp);
    tap_ok(delivered.n == 1 && delivered.conn == &c1 && rp.type == SMT_MSG_FAILURE &&
               rp.fail.code == SMT_FAIL_UNKNOWN_ENDPOINT,
           "... its waiter gets FAILURE UNKNOWN_ENDPOINT at once");
    reply_free(&rp);
    tap_ok(kill(pid, 0) < 0 && errno == ESRCH, "... and its process is killed and reaped");

    /* Freeing the agent kills and reaps a process still running. */
    delivered.n = 0;
    unlink(pidfile);
    r = handle_as(a, &c1, "hang", out);
    pid = r == SMT_AGENT_DEFERRED ? wait_pid_file(e, pidfile) : 0;
    tap_ok(pid > 0 && kill(pid, 0) == 0, "a hanging process runs");
    smt_agent_free(a);
    a = NULL;
    tap_ok(kill(pid, 0) < 0 && errno == ESRCH && delivered.n == 0,
           "smt_agent_free killed and reaped it (no zombie), delivering nothing");
out:
    smt_agent_free(a);
    sd_event_unref(e);
    smt_buf_free(out);
    smt_buf_free(delivered.frame);
    delivered.frame = NULL;
    write_file(conf, BASE_CONF);
}

int main(void)
{
    struct smt_agent *a;
    sigset_t ss;

    if (sodium_init() < 0) {
        printf("Bail out! libsodium\n");
        return 1;
    }
    /* as main.c does: sd-event's child sources need SIGCHLD blocked */
    sigemptyset(&ss);
    sigaddset(&ss, SIGCHLD);
    sigprocmask(SIG_BLOCK, &ss, NULL);
    setup();
    write_file(conf, BASE_CONF);
    test_new();
    set_env_creds(NULL);
    a = agent();
    if (!a) {
        printf("Bail out! cannot create the agent\n");
        cleanup();
        return 1;
    }
    clean_env(); /* main.c clears the environment after start-up: nothing may depend on it */
    test_tokens(a);
    test_bad_requests(a);
    test_list_and_broken(a);
    test_add_remove(a);
    test_reload(a);
    smt_agent_free(a);
    test_expiring_env();
    test_refresh();
    test_sink();
    test_sink_failure();
    test_deferred();
    cleanup();
    return tap_done();
}
