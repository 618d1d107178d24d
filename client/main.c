/* smtoken: the client (DESIGN.md §3, §7).  One request per connection to smtoken-agent over its
 * Unix socket (proto/PROTOCOL.md), then: print variables, a token, a list, exec a command, or
 * write a token file (through agent/sink.c, the writer the agent's `sink =` uses too).
 *
 * Output rules: everything meant for stdout is built in one wiping buffer and written only when
 * the command has succeeded, so a failure prints nothing on stdout; messages go to stderr as
 * `smtoken: <what>: <why>` plus an optional `hint: <what to do>` line, and never hold a token.
 * Exit codes: 0 ok, 1 the agent refused or failed (or anything else went wrong), 2 the agent
 * cannot be reached or did not answer, 64 usage; exec: the command's own, or 126/127.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "agent/sink.h"
#include "client/procjson.h"
#include "client/shell.h"
#include "proto/io.h"
#include "proto/msg.h"

enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,
    EXIT_UNREACHABLE = 2,
    EXIT_USAGE = 64,
    EXIT_CANNOT_EXEC = 126,
    EXIT_NOT_FOUND = 127,
};

#define OUT_MAX (1024 * 1024)

struct client {
    const char *socket_opt;
    char socket[4096];
    struct smt_buf *out; /* stdout, printed at the very end */
};

/* One stderr line: prefix, the message, tail (DESIGN §7). */
SMT_PRINTF(2, 0) static void vline(const char *prefix, const char *fmt, va_list ap, const char *tail)
{
    fputs(prefix, stderr);
    vfprintf(stderr, fmt, ap);
    fputs(tail, stderr);
}

SMT_PRINTF(1, 2) static void say(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vline("smtoken: ", fmt, ap, "\n");
    va_end(ap);
}

SMT_PRINTF(1, 2) static void hint(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vline("hint: ", fmt, ap, "\n");
    va_end(ap);
}

SMT_PRINTF(1, 2) static int usage_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vline("smtoken: ", fmt, ap, "\nTry 'smtoken --help'.\n");
    va_end(ap);
    return EXIT_USAGE;
}

static void print_diag(const struct smt_diag *d, int r)
{
    say("%s", d->msg[0] ? d->msg : smt_strerror(r));
    if (d->hint[0])
        hint("%s", d->hint);
}

static int print_help(void)
{
    fputs("Usage: smtoken [--socket PATH] COMMAND [ARGS]\n"
          "\n"
          "Short-lived bearer tokens for SageMaker and Bedrock OpenAI-compatible endpoints, from\n"
          "smtoken-agent (which holds your AWS credentials in memory).\n"
          "\n"
          "Commands:\n"
          "  env [NAME] [--shell sh|csh|fish|json|dotenv] [--unset]\n"
          "                      print OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_API_BASE,\n"
          "                      SMTOKEN_EXPIRES_AT (and AWS_BEARER_TOKEN_BEDROCK for Bedrock):\n"
          "                      eval \"$(smtoken env NAME)\"; --unset prints the unsets\n"
          "  token [NAME] [--json]\n"
          "                      print the token alone (or JSON with expires_at and base_url)\n"
          "  exec [NAME] -- CMD [ARG...]\n"
          "                      run CMD with those variables set; its exit status is CMD's\n"
          "  write [NAME] FILE [--format raw|env|dotenv|json]\n"
          "                      write the token (raw, the default), the env exports, dotenv\n"
          "                      lines or token JSON to FILE: mode 0600, replaced atomically,\n"
          "                      refused for a symlink or a directory others can write to\n"
          "  list                endpoints: name, service, region, profile, token expiry\n"
          "  status              per endpoint: credentials, token expiry, last refresh and error\n"
          "  add PROFILE [--from-env | --process-json -]\n"
          "                      hand credentials to the agent (memory only): from\n"
          "                      AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN/\n"
          "                      AWS_CREDENTIAL_EXPIRATION (default), or credential_process\n"
          "                      JSON on stdin\n"
          "  remove PROFILE      forget credentials added with 'add'\n"
          "  reload              make the agent re-read smtoken.conf\n"
          "\n"
          "NAME defaults to the config's default endpoint (or its only one).\n"
          "\n"
          "Options:\n"
          "  --socket PATH       the agent's socket; default $SMTOKEN_SOCK, then\n"
          "                      $XDG_RUNTIME_DIR/smtoken/agent.sock, then\n"
          "                      /tmp/smtoken-<uid>/agent.sock\n"
          "  -h, --help          this help\n"
          "  -V, --version       the version\n"
          "\n"
          "Exit status: 0 ok, 1 the agent refused or failed, 2 the agent cannot be reached,\n"
          "64 usage error; exec returns the command's status (126/127 if it cannot run).\n",
          stdout);
    return EXIT_OK;
}

static void resolve_socket(struct client *c)
{
    const char *s = getenv("SMTOKEN_SOCK"), *xdg = getenv("XDG_RUNTIME_DIR");

    if (c->socket_opt)
        snprintf(c->socket, sizeof(c->socket), "%s", c->socket_opt);
    else if (s && *s)
        snprintf(c->socket, sizeof(c->socket), "%s", s);
    else if (xdg && *xdg)
        snprintf(c->socket, sizeof(c->socket), "%s/smtoken/agent.sock", xdg);
    else
        snprintf(c->socket, sizeof(c->socket), "/tmp/smtoken-%lu/agent.sock",
                 (unsigned long)getuid());
}

/* Send req, read the reply.  Returns an exit status, having said why on failure; on 0 `in`
 * holds the body (*ret_body_len bytes) of a reply of type want. */
static int agent_call(struct client *c, struct smt_buf *req, uint8_t want, struct smt_buf *in,
                      size_t *ret_body_len)
{
    struct smt_msg_failure f = {0};
    char msg[SMT_TEXT_MAX + 1];
    uint8_t version = 0, type = 0, v;
    size_t body_len = 0;
    int fd = -1, r, rc = EXIT_FAIL;

    resolve_socket(c);
    if ((r = smt_io_connect(c->socket, &fd)) < 0) {
        say("cannot reach agent at %s: %s", c->socket, smt_strerror(r));
        hint("start it with 'systemctl --user start smtoken-agent.socket' or "
             "'eval \"$(smtoken-agent)\"'");
        rc = EXIT_UNREACHABLE;
        goto out;
    }
    if ((r = smt_io_write_all(fd, req, SMT_IO_TIMEOUT_MS)) < 0 ||
        (r = smt_io_read_frame(fd, in, SMT_FRAME_MAX, SMT_IO_REPLY_TIMEOUT_MS, &version, &type,
                               &body_len)) < 0) {
        if (r == SMT_ERR_TOO_LARGE || r == SMT_ERR_FORMAT) {
            say("invalid reply from agent at %s: %s", c->socket, smt_strerror(r));
            goto out;
        }
        if (r == SMT_ERR_EOF)
            say("no answer from agent at %s: it closed the connection", c->socket);
        else
            say("no answer from agent at %s: %s", c->socket, smt_strerror(r));
        hint("see the agent's log (journalctl --user -u smtoken-agent)");
        rc = EXIT_UNREACHABLE;
        goto out;
    }
    if (type == SMT_MSG_VERSION) {
        if (smt_msg_get_version(in, body_len, &v) < 0)
            v = version;
        if (v == SMT_PROTO_VERSION) {
            say("invalid reply from agent at %s: a version mismatch for the same version",
                c->socket);
            goto out;
        }
        say("agent speaks protocol %u, client speaks %u: agent is %s than client", v,
            SMT_PROTO_VERSION, v < SMT_PROTO_VERSION ? "older" : "newer");
        hint("restart the agent so that smtoken and smtoken-agent come from the same release");
        goto out;
    }
    if (version != SMT_PROTO_VERSION) {
        say("invalid reply from agent at %s: protocol version %u in a %s reply", c->socket, version,
            smt_msg_type_name(type));
        goto out;
    }
    if (type == SMT_MSG_FAILURE) {
        if ((r = smt_msg_get_failure(in, body_len, &f)) < 0) {
            say("invalid reply from agent at %s: %s", c->socket, smt_strerror(r));
            goto out;
        }
        say("%s",
            f.message[0] ? smt_sanitize(msg, sizeof(msg), f.message) : smt_fail_describe(f.code));
        if (f.hint[0])
            hint("%s", smt_sanitize(msg, sizeof(msg), f.hint));
        goto out;
    }
    if (type != want) {
        say("invalid reply from agent at %s: %s instead of %s", c->socket, smt_msg_type_name(type),
            smt_msg_type_name(want));
        goto out;
    }
    *ret_body_len = body_len;
    rc = EXIT_OK;
out:
    smt_msg_failure_free(&f);
    if (fd >= 0)
        close(fd);
    return rc;
}

static int is_help(const char *a)
{
    return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

static int is_option(const char *a)
{
    return a[0] == '-' && a[1] != '\0';
}

static int check_name(const char *what, const char *s)
{
    const unsigned char *p;
    int rc = EXIT_OK;

    if (!*s)
        rc = usage_error("empty %s", what);
    else if (strlen(s) > SMT_NAME_LEN_MAX)
        rc = usage_error("%s too long (at most %d bytes)", what, SMT_NAME_LEN_MAX);
    for (p = (const unsigned char *)s; rc == EXIT_OK && *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            rc = usage_error("control character in %s", what);
    return rc;
}

/* Parse a command's arguments: at most one positional (NAME or PROFILE; required when need_pos)
 * and the flags listed in flags[] ("--json", "--shell=" takes a value, also as "--shell V").
 * Values land in val[] (a flag without a value gets "1").  With last_what set, one more
 * positional is required and always lands in last (write's [NAME] FILE). */
struct argspec {
    const char *flags[4];
    const char *val[4];
    const char *pos;
    const char *last_what;
    const char *last;
};

static int parse_args(const char *cmd, int argc, char **argv, struct argspec *a, int need_pos,
                      const char *pos_what)
{
    size_t k, n;
    int i, rc = EXIT_OK;

    for (i = 1; rc == EXIT_OK && i < argc; i++) {
        for (k = 0; k < 4 && a->flags[k]; k++) {
            n = strlen(a->flags[k]);
            if (a->flags[k][n - 1] != '=') {
                if (strcmp(argv[i], a->flags[k]) == 0) {
                    a->val[k] = "1";
                    break;
                }
            } else if (strncmp(argv[i], a->flags[k], n) == 0) {
                a->val[k] = argv[i] + n;
                break;
            } else if (strncmp(argv[i], a->flags[k], n - 1) == 0 && argv[i][n - 1] == '\0') {
                if (i + 1 >= argc)
                    rc = usage_error("%s: %.*s needs a value", cmd, (int)(n - 1), a->flags[k]);
                else
                    a->val[k] = argv[++i];
                break;
            }
        }
        if (k < 4 && a->flags[k])
            continue;
        if (is_option(argv[i]))
            rc = usage_error("%s: unknown option '%s'", cmd, argv[i]);
        else if (a->pos && a->last_what && !a->last)
            a->last = argv[i];
        else if (a->pos && a->last_what)
            rc = usage_error("%s: unexpected argument '%s'", cmd, argv[i]);
        else if (a->pos)
            rc = usage_error("%s: more than one %s", cmd, pos_what);
        else
            a->pos = argv[i];
    }
    if (rc == EXIT_OK && a->last_what && a->pos && !a->last) {
        a->last = a->pos; /* a lone positional is the required last one */
        a->pos = NULL;
    }
    if (rc == EXIT_OK && a->last_what && (!a->last || !*a->last))
        rc = usage_error("%s: %s %s", cmd, a->last ? "empty" : "missing", a->last_what);
    if (rc == EXIT_OK && need_pos && !a->pos)
        rc = usage_error("%s: missing %s", cmd, pos_what);
    if (rc == EXIT_OK && a->pos)
        rc = check_name(pos_what, a->pos);
    return rc;
}

/* GET_TOKEN name ("" = default) into *ret. */
static int fetch_token(struct client *c, const char *name, struct smt_msg_token *ret)
{
    struct smt_buf *req = smt_buf_new(SMT_FRAME_MAX), *in = smt_buf_new(SMT_FRAME_MAX + 4);
    size_t body_len;
    int r, rc = EXIT_FAIL;

    if (!req || !in) {
        say("%s", smt_strerror(SMT_ERR_NOMEM));
        goto out;
    }
    if ((r = smt_msg_put_get_token(req, name ? name : "")) < 0) {
        say("cannot build the request: %s", smt_strerror(r));
        goto out;
    }
    if ((rc = agent_call(c, req, SMT_MSG_TOKEN, in, &body_len)) != EXIT_OK)
        goto out;
    if ((r = smt_msg_get_token(in, body_len, ret)) < 0) {
        say("invalid reply from agent at %s: %s", c->socket, smt_strerror(r));
        rc = EXIT_FAIL;
        goto out;
    }
    rc = EXIT_OK;
out:
    smt_buf_free(req);
    smt_buf_free(in);
    return rc;
}

/* A request whose answer is SUCCESS. */
static int call_simple(struct client *c, struct smt_buf *req)
{
    struct smt_buf *in = smt_buf_new(SMT_FRAME_MAX + 4);
    size_t body_len;
    int r, rc = EXIT_FAIL;

    if (!in) {
        say("%s", smt_strerror(SMT_ERR_NOMEM));
        goto out;
    }
    if ((rc = agent_call(c, req, SMT_MSG_SUCCESS, in, &body_len)) != EXIT_OK)
        goto out;
    if ((r = smt_msg_get_empty(in, body_len)) < 0) {
        say("invalid reply from agent at %s: %s", c->socket, smt_strerror(r));
        rc = EXIT_FAIL;
        goto out;
    }
    rc = EXIT_OK;
out:
    smt_buf_free(in);
    return rc;
}

static int cmd_env(struct client *c, int argc, char **argv)
{
    struct argspec a = {.flags = {"--shell=", "--unset"}};
    struct smt_msg_token t = {0};
    struct smt_diag d = {.msg = ""};
    struct smt_env e;
    enum smt_shell sh = smt_shell_default(getenv("SHELL"));
    int r, rc;

    if ((rc = parse_args("env", argc, argv, &a, 0, "NAME")) != EXIT_OK)
        goto out;
    if (a.val[0] && smt_shell_parse(a.val[0], &sh) < 0) {
        rc = usage_error("env: unknown shell '%s' (sh, csh, fish, json, dotenv)", a.val[0]);
        goto out;
    }
    if (a.val[1]) {
        /* No agent needed: the names are fixed. */
        if (smt_shell_format_unset(c->out, sh) < 0)
            rc = usage_error("env: --unset works with --shell sh, csh or fish");
        goto out;
    }
    if ((rc = fetch_token(c, a.pos, &t)) != EXIT_OK)
        goto out;
    rc = EXIT_FAIL;
    if ((r = smt_env_from_token(&e, &t, &d)) < 0 ||
        (r = smt_shell_format_env(c->out, sh, &e, &d)) < 0) {
        print_diag(&d, r);
        goto out;
    }
    rc = EXIT_OK;
out:
    smt_msg_token_free(&t);
    return rc;
}

static int cmd_token(struct client *c, int argc, char **argv)
{
    struct argspec a = {.flags = {"--json"}};
    struct smt_msg_token t = {0};
    struct smt_diag d = {.msg = ""};
    int r, rc;

    if ((rc = parse_args("token", argc, argv, &a, 0, "NAME")) != EXIT_OK)
        goto out;
    if ((rc = fetch_token(c, a.pos, &t)) != EXIT_OK)
        goto out;
    rc = EXIT_FAIL;
    if (a.val[0]) {
        r = smt_format_token_json(c->out, &t, &d);
    } else if (smt_shell_check_token(t.token, t.service) < 0) {
        r = smt_diag_set(&d, SMT_ERR_FORMAT, "the agent sent a malformed token; not printing it");
    } else if ((r = smt_buf_put(c->out, t.token, strlen(t.token))) == 0) {
        r = smt_buf_put_u8(c->out, '\n');
    }
    if (r < 0) {
        print_diag(&d, r);
        goto out;
    }
    rc = EXIT_OK;
out:
    smt_msg_token_free(&t);
    return rc;
}

static int cmd_exec(struct client *c, int argc, char **argv)
{
    struct argspec a = {.flags = {NULL}};
    struct smt_msg_token t = {0};
    struct smt_diag d = {.msg = ""};
    struct smt_env e;
    size_t k;
    int i, r, rc, err;

    for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        ;
    if (i >= argc) {
        rc = usage_error("exec: put '--' before the command: smtoken exec [NAME] -- CMD [ARG...]");
        goto out;
    }
    if (i + 1 >= argc) {
        rc = usage_error("exec: no command after '--'");
        goto out;
    }
    /* Only what comes before "--" is ours; CMD and its arguments pass untouched. */
    if ((rc = parse_args("exec", i, argv, &a, 0, "NAME")) != EXIT_OK)
        goto out;
    i++;
    if ((rc = fetch_token(c, a.pos, &t)) != EXIT_OK)
        goto out;
    rc = EXIT_FAIL;
    if ((r = smt_env_from_token(&e, &t, &d)) < 0) {
        print_diag(&d, r);
        goto out;
    }
    for (k = 0; k < e.n; k++) {
        if (setenv(e.name[k], e.value[k], 1) < 0) {
            say("cannot set %s: %s", e.name[k], strerror(errno));
            goto out;
        }
    }
    /* The environment now holds the only copy the command needs: wipe ours first. */
    smt_msg_token_free(&t);
    execvp(argv[i], &argv[i]);
    err = errno;
    say("cannot run '%s': %s", argv[i], strerror(err));
    rc = err == ENOENT || err == ENOTDIR ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC;
out:
    smt_msg_token_free(&t);
    return rc;
}

/* `write`: the token file goes through the same writer as the agent's sink (agent/sink.h), so
 * the checks and the formats are the same.  Nothing on stdout; a failure leaves FILE as it was. */
static int cmd_write(struct client *c, int argc, char **argv)
{
    struct argspec a = {.flags = {"--format="}, .last_what = "FILE"};
    struct smt_msg_token t = {0};
    struct smt_diag d = {.msg = ""};
    struct smt_buf *file = NULL;
    enum smt_sink_format f = SMT_SINK_RAW;
    unsigned flags = 0;
    int r, rc;

    if ((rc = parse_args("write", argc, argv, &a, 0, "NAME")) != EXIT_OK)
        goto out;
    if (a.val[0] && smt_sink_format_parse(a.val[0], &f) < 0) {
        rc = usage_error("write: unknown format '%s' (raw, env, dotenv, json)", a.val[0]);
        goto out;
    }
    if ((rc = fetch_token(c, a.pos, &t)) != EXIT_OK)
        goto out;
    rc = EXIT_FAIL;
    if (!(file = smt_buf_new(SMT_SINK_RENDER_MAX))) {
        say("%s", smt_strerror(SMT_ERR_NOMEM));
        goto out;
    }
    if ((r = smt_sink_render(file, f, t.token, t.expires_at, t.base_url, t.service, &d)) < 0 ||
        (r = smt_sink_write(a.last, smt_buf_ptr(file), smt_buf_len(file), &flags, &d)) < 0) {
        print_diag(&d, r);
        goto out;
    }
    if (flags & SMT_SINK_NOT_TMPFS)
        say("warning: %s is not on tmpfs, so the token may reach the disk", a.last);
    rc = EXIT_OK;
out:
    smt_buf_free(file);
    smt_msg_token_free(&t);
    return rc;
}

static int cmd_list_status(struct client *c, int argc, char **argv)
{
    struct smt_buf *req = smt_buf_new(SMT_FRAME_MAX), *in = smt_buf_new(SMT_FRAME_MAX + 4);
    struct smt_msg_list l = {0};
    size_t body_len;
    int r, rc;

    if (argc > 1) {
        rc = usage_error("%s: unexpected argument '%s'", argv[0], argv[1]);
        goto out;
    }
    rc = EXIT_FAIL;
    if (!req || !in || (r = smt_msg_put_list(req)) < 0) {
        say("%s", smt_strerror(SMT_ERR_NOMEM));
        goto out;
    }
    if ((rc = agent_call(c, req, SMT_MSG_LIST_REPLY, in, &body_len)) != EXIT_OK)
        goto out;
    rc = EXIT_FAIL;
    if ((r = smt_msg_get_list_reply(in, body_len, &l)) < 0) {
        say("invalid reply from agent at %s: %s", c->socket, smt_strerror(r));
        goto out;
    }
    if (l.n == 0)
        say("the agent has no endpoints (add an [endpoint NAME] section to smtoken.conf)");
    r = strcmp(argv[0], "list") == 0 ? smt_format_list(c->out, &l)
                                     : smt_format_status(c->out, &l, time(NULL));
    if (r < 0) {
        say("%s", smt_strerror(r));
        goto out;
    }
    rc = EXIT_OK;
out:
    smt_msg_list_free(&l);
    smt_buf_free(req);
    smt_buf_free(in);
    return rc;
}

/* All of stdin, up to SMT_PROCJSON_MAX bytes, into a wiping buffer. */
static int read_stdin(struct smt_buf *b)
{
    uint8_t *p;
    size_t room;
    ssize_t n;
    int r;

    for (;;) {
        room = smt_buf_max(b) - smt_buf_len(b);
        if (room == 0) {
            r = SMT_ERR_TOO_LARGE;
            goto out;
        }
        if ((r = smt_buf_reserve(b, room, &p)) < 0)
            goto out;
        n = read(STDIN_FILENO, p, room);
        smt_buf_unreserve(b, n > 0 ? room - (size_t)n : room);
        if (n == 0)
            break;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = SMT_ERR_SYSTEM;
            goto out;
        }
    }
    r = 0;
out:
    return r;
}

/* Credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and
 * AWS_CREDENTIAL_EXPIRATION, as the AWS CLI reads them.  Pointers into the environment. */
static int creds_from_env(struct smt_msg_add_creds *m, struct smt_diag *d)
{
    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    const char *st = getenv("AWS_SESSION_TOKEN"), *exp = getenv("AWS_CREDENTIAL_EXPIRATION");
    int r;

    if (!ak || !*ak || !sk || !*sk) {
        r = smt_diag_set(d, SMT_ERR_CREDS, "%s is not set",
                         !ak || !*ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY");
        smt_diag_hint(d, "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pipe "
                         "credential_process JSON into 'smtoken add PROFILE --process-json -'");
        goto out;
    }
    m->expiration = 0;
    if (exp && *exp && smt_rfc3339_parse(exp, &m->expiration) < 0) {
        r = smt_diag_set(d, SMT_ERR_FORMAT,
                         "AWS_CREDENTIAL_EXPIRATION is not an RFC 3339 time "
                         "(like 2024-05-01T12:00:00Z)");
        goto out;
    }
    m->access_key = (char *)ak;
    m->secret_key = (char *)sk;
    m->session_token = (char *)(st ? st : "");
    r = 0;
out:
    return r;
}

static int cmd_add(struct client *c, int argc, char **argv)
{
    struct argspec a = {.flags = {"--from-env", "--process-json="}};
    struct smt_buf *req = smt_buf_new(SMT_FRAME_MAX), *json = smt_buf_new(SMT_PROCJSON_MAX + 1);
    struct smt_procjson pj = {0};
    struct smt_msg_add_creds m = {0};
    struct smt_diag d = {.msg = ""};
    char when[40];
    int r, rc;

    if ((rc = parse_args("add", argc, argv, &a, 1, "PROFILE")) != EXIT_OK)
        goto out;
    if (a.val[0] && a.val[1]) {
        rc = usage_error("add: --from-env and --process-json exclude each other");
        goto out;
    }
    if (a.val[1] && strcmp(a.val[1], "-") != 0) {
        rc = usage_error("add: --process-json takes '-' (the JSON comes on stdin)");
        goto out;
    }
    rc = EXIT_FAIL;
    if (!req || !json) {
        say("%s", smt_strerror(SMT_ERR_NOMEM));
        goto out;
    }
    if (a.val[1]) {
        if ((r = read_stdin(json)) < 0) {
            if (r == SMT_ERR_TOO_LARGE)
                say("credential_process JSON on stdin is larger than %d bytes", SMT_PROCJSON_MAX);
            else
                say("cannot read stdin: %s", smt_strerror(r));
            goto out;
        }
        if ((r = smt_procjson_parse((const char *)smt_buf_ptr(json), smt_buf_len(json), &pj, &d)) <
            0) {
            print_diag(&d, r);
            goto out;
        }
        m.access_key = pj.access_key;
        m.secret_key = pj.secret_key;
        m.session_token = pj.session_token;
        m.expiration = pj.expiration;
    } else if ((r = creds_from_env(&m, &d)) < 0) {
        print_diag(&d, r);
        goto out;
    }
    if (m.expiration && m.expiration <= (uint64_t)time(NULL)) {
        say("these credentials expired at %s", smt_format_time(when, sizeof(when), m.expiration));
        hint("get fresh ones (e.g. 'aws sso login') and run smtoken add again");
        goto out;
    }
    m.profile = (char *)a.pos;
    if ((r = smt_msg_put_add_creds(req, &m)) < 0) {
        say("cannot send these credentials: %s",
            r == SMT_ERR_TOO_LARGE ? "a key or the session token is too long" : smt_strerror(r));
        goto out;
    }
    if ((rc = call_simple(c, req)) == EXIT_OK)
        fprintf(stderr, "Credentials for profile '%s' added (held in the agent's memory only).\n",
                a.pos);
out:
    smt_procjson_free(&pj);
    smt_buf_free(json);
    smt_buf_free(req);
    return rc;
}

static int cmd_remove(struct client *c, int argc, char **argv)
{
    struct argspec a = {.flags = {NULL}};
    struct smt_buf *req = smt_buf_new(SMT_FRAME_MAX);
    int rc;

    if ((rc = parse_args("remove", argc, argv, &a, 1, "PROFILE")) != EXIT_OK)
        goto out;
    rc = EXIT_FAIL;
    if (!req || smt_msg_put_remove_creds(req, a.pos) < 0) {
        say("%s", smt_strerror(SMT_ERR_NOMEM));
        goto out;
    }
    if ((rc = call_simple(c, req)) == EXIT_OK)
        fprintf(stderr, "Credentials for profile '%s' removed from the agent.\n", a.pos);
out:
    smt_buf_free(req);
    return rc;
}

static int cmd_reload(struct client *c, int argc, char **argv)
{
    struct smt_buf *req = smt_buf_new(SMT_FRAME_MAX);
    int rc;

    if (argc > 1) {
        rc = usage_error("reload: unexpected argument '%s'", argv[1]);
        goto out;
    }
    rc = EXIT_FAIL;
    if (!req || smt_msg_put_reload(req) < 0) {
        say("%s", smt_strerror(SMT_ERR_NOMEM));
        goto out;
    }
    if ((rc = call_simple(c, req)) == EXIT_OK)
        fprintf(stderr, "The agent reloaded its configuration.\n");
out:
    smt_buf_free(req);
    return rc;
}

/* Write the whole of out to stdout. */
static int flush_out(struct smt_buf *out)
{
    ssize_t n;
    int rc = EXIT_OK;

    while (smt_buf_len(out) > 0) {
        n = write(STDOUT_FILENO, smt_buf_ptr(out), smt_buf_len(out));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            say("cannot write to stdout: %s", n < 0 ? strerror(errno) : "short write");
            rc = EXIT_FAIL;
            break;
        }
        if (smt_buf_consume(out, (size_t)n) < 0)
            break;
    }
    smt_buf_reset(out);
    return rc;
}

static const struct {
    const char *name;
    int (*run)(struct client *c, int argc, char **argv);
} commands[] = {
    {"env", cmd_env},     {"token", cmd_token},      {"exec", cmd_exec},
    {"write", cmd_write}, {"list", cmd_list_status}, {"status", cmd_list_status},
    {"add", cmd_add},     {"remove", cmd_remove},    {"reload", cmd_reload},
};

int main(int argc, char **argv)
{
    struct client c = {0};
    size_t k;
    int i, j, rc;

    /* The client holds tokens, and for `add` AWS secret keys, in ordinary memory: no core
     * file (systemd-coredump keeps them on disk) and no ptrace or /proc/PID/mem reading by
     * other processes of the user.  execve resets this, so `exec`'s command is unaffected.
     * Best effort: a failure changes nothing about what the client does. */
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    for (i = 1; i < argc && is_option(argv[i]); i++) {
        if (strcmp(argv[i], "--socket") == 0) {
            if (i + 1 >= argc) {
                rc = usage_error("--socket needs a path");
                goto out;
            }
            c.socket_opt = argv[++i];
        } else if (strncmp(argv[i], "--socket=", 9) == 0) {
            c.socket_opt = argv[i] + 9;
        } else if (is_help(argv[i])) {
            rc = print_help();
            goto out;
        } else if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
            printf("smtoken %s (protocol %d)\n", PACKAGE_VERSION, SMT_PROTO_VERSION);
            rc = EXIT_OK;
            goto out;
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else {
            rc = usage_error("unknown option '%s'", argv[i]);
            goto out;
        }
    }
    if (c.socket_opt && !*c.socket_opt) {
        rc = usage_error("--socket needs a path");
        goto out;
    }
    if (i >= argc) {
        rc = usage_error("no command given");
        goto out;
    }
    if (strcmp(argv[i], "help") == 0) {
        rc = print_help();
        goto out;
    }
    for (k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
        if (strcmp(argv[i], commands[k].name) == 0)
            break;
    if (k == sizeof(commands) / sizeof(commands[0])) {
        rc = usage_error("unknown command '%s'", argv[i]);
        goto out;
    }
    /* --help anywhere among the command's own arguments (not after exec's "--") */
    for (j = i + 1; j < argc && strcmp(argv[j], "--") != 0; j++) {
        if (is_help(argv[j])) {
            rc = print_help();
            goto out;
        }
    }
    if (!(c.out = smt_buf_new(OUT_MAX))) {
        say("%s", smt_strerror(SMT_ERR_NOMEM));
        rc = EXIT_FAIL;
        goto out;
    }
    rc = commands[k].run(&c, argc - i, argv + i);
    if (rc == EXIT_OK)
        rc = flush_out(c.out);
out:
    smt_buf_free(c.out);
    return rc;
}
