/* Unit tests for agent/config.c: smtoken.conf (DESIGN §5). */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/config.h"
#include "tests/tap.h"

static struct smt_diag diag;

static struct smt_config *parse(const char *text)
{
    struct smt_config *c = NULL;

    memset(&diag, 0, sizeof(diag));
    if (smt_config_parse(text, strlen(text), "t.conf", &c, &diag) < 0)
        return NULL;
    return c;
}

/* text must be refused with "t.conf:LINE: " and a message containing what. */
static void refused(const char *text, unsigned line, const char *what, const char *desc)
{
    struct smt_config *sentinel = (struct smt_config *)&diag, *c = sentinel;
    char prefix[32];
    int r;

    memset(&diag, 0, sizeof(diag));
    r = smt_config_parse(text, strlen(text), "t.conf", &c, &diag);
    snprintf(prefix, sizeof(prefix), "t.conf:%u: ", line);
    if (!tap_ok(r == SMT_ERR_CONFIG && c == sentinel &&
                    strncmp(diag.msg, prefix, strlen(prefix)) == 0 &&
                    (!what || strstr(diag.msg, what)),
                "refused: %s", desc))
        tap_diag("r=%d msg '%s' want prefix '%s' and '%s'", r, diag.msg, prefix, what ? what : "");
}

#define EP "[endpoint e]\nregion = us-west-2\nendpoint = ep\n"

static void test_full(void)
{
    const char *text = "; smtoken.conf\n"
                       "[agent]\n"
                       "default = main            ; endpoint used when NAME is omitted\n"
                       "refresh = 75%\n"
                       "min_remaining = 2m\n"
                       "mint = per-request\n"
                       "credential_timeout = 90s\n"
                       "# a comment\n"
                       "[endpoint main]\n"
                       "service = sagemaker\n"
                       "region = us-west-2\n"
                       "endpoint = my-llm\n"
                       "inference_component = ic1\n"
                       "profile = work\n"
                       "lifetime = 15m\n"
                       "base_url = https://proxy.example/v1\n"
                       "sink = /run/user/1000/smtoken/main.env\n"
                       "[endpoint br]\n"
                       "service = bedrock\n"
                       "lifetime = 90\n";
    struct smt_config *c = parse(text);
    const struct smt_endpoint *e, *b;

    if (!tap_ok(c != NULL, "a config using every key parses"))
        tap_diag("%s", diag.msg);
    if (!c)
        return;
    tap_ok(tap_streq(c->path, "t.conf", "path") && tap_streq(c->default_name, "main", "default"),
           "path and default");
    tap_ok(c->refresh_pct == 75 && c->min_remaining == 120 && c->per_request &&
               c->credential_timeout == 90,
           "refresh, min_remaining, mint, credential_timeout");
    tap_ok(c->n_endpoints == 2, "two endpoints");
    e = smt_config_find(c, "main");
    b = smt_config_find(c, "br");
    tap_ok(e && e->service == SMT_SVC_SAGEMAKER && tap_streq(e->region, "us-west-2", "region") &&
               tap_streq(e->endpoint, "my-llm", "endpoint") &&
               tap_streq(e->inference_component, "ic1", "ic") &&
               tap_streq(e->profile, "work", "profile") && e->lifetime == 900 &&
               tap_streq(e->base_url, "https://proxy.example/v1", "base_url") &&
               tap_streq(e->sink, "/run/user/1000/smtoken/main.env", "sink") && e->line == 9,
           "every endpoint key");
    tap_ok(b && b->service == SMT_SVC_BEDROCK && b->lifetime == 90 && !b->region && !b->endpoint &&
               !b->profile && !b->base_url && !b->sink && b->line == 18,
           "bedrock endpoint, bare-number lifetime, unset keys are NULL");
    tap_ok(smt_config_find(c, NULL) == e && smt_config_find(c, "") == e,
           "NULL / \"\" finds [agent] default");
    tap_ok(smt_config_find(c, "nope") == NULL, "unknown name: NULL");
    smt_config_free(c);
}

static void test_defaults(void)
{
    struct smt_config *c = parse("[endpoint only]\nendpoint = x\n");
    const struct smt_endpoint *e;

    if (!tap_ok(c != NULL, "minimal config parses"))
        return;
    e = &c->endpoints[0];
    tap_ok(c->refresh_pct == 80 && c->min_remaining == 60 && !c->per_request && !c->default_name &&
               c->credential_timeout == 30,
           "agent defaults: 80%%, 60s, cached, no default, credential_timeout 30s");
    tap_ok(e->service == SMT_SVC_SAGEMAKER && e->lifetime == 43200 && !e->region,
           "endpoint defaults: sagemaker, 12h, region from elsewhere");
    tap_ok(smt_config_find(c, NULL) == e, "the only endpoint is the default");
    smt_config_free(c);

    c = parse(EP "[endpoint f]\nendpoint = y\n");
    tap_ok(c && smt_config_find(c, NULL) == NULL, "two endpoints, no default: NULL");
    smt_config_free(c);
    c = parse("");
    tap_ok(c && c->n_endpoints == 0, "an empty file is a config with no endpoints");
    smt_config_free(c);
}

static void test_syntax(void)
{
    struct smt_config *c;
    char line199[260], text[700];

    c = parse("[agent]\r\nmint = cached\r\n\r\n[endpoint e]\r\nregion = us-east-1\r\n"
              "endpoint = x\r\n");
    tap_ok(c && c->endpoints[0].region && strcmp(c->endpoints[0].region, "us-east-1") == 0,
           "CRLF line ends");
    smt_config_free(c);
    c = parse("\xef\xbb\xbf[endpoint e]\nendpoint = x\n");
    tap_ok(c && c->n_endpoints == 1, "UTF-8 BOM");
    smt_config_free(c);
    c = parse("[endpoint e]\n    region = us-east-1\n    endpoint = x\n\tlifetime = 60\n");
    tap_ok(c && c->endpoints[0].region && strcmp(c->endpoints[0].region, "us-east-1") == 0 &&
               c->endpoints[0].endpoint && strcmp(c->endpoints[0].endpoint, "x") == 0 &&
               c->endpoints[0].lifetime == 60,
           "indented keys are keys, not continuation lines");
    smt_config_free(c);
    c = parse("[endpoint e] ; comment\n# c\n  ; c\nendpoint = x ; inline\nregion: eu-west-1\n");
    tap_ok(c && strcmp(c->endpoints[0].endpoint, "x") == 0 &&
               strcmp(c->endpoints[0].region, "eu-west-1") == 0,
           "comments, inline comments, ':'");
    smt_config_free(c);
    c = parse("[endpoint e]\nendpoint = x\nbase_url = https://h/a;b?c=d\n");
    tap_ok(c && strcmp(c->endpoints[0].base_url, "https://h/a;b?c=d") == 0,
           "';' and '=' inside a value");
    smt_config_free(c);
    c = parse("[endpoint e]\nendpoint = x");
    tap_ok(c && strcmp(c->endpoints[0].endpoint, "x") == 0, "no newline at the end");
    smt_config_free(c);

    /* Line length: 199 bytes is fine, 200 is not, wherever the line is. */
    memset(line199, 'x', 198);
    line199[0] = '#';
    line199[198] = '\0';
    snprintf(text, sizeof(text), "%sx\n" EP "lifetime = 13h\n", line199);
    refused(text, 5, "over 12h", "a 199-byte line passes and line numbers stay true after it");
    snprintf(text, sizeof(text), "%sx\r\n" EP, line199);
    c = parse(text);
    tap_ok(c != NULL, "a 199-byte line with CRLF passes");
    smt_config_free(c);
    snprintf(text, sizeof(text), "%sxx\n" EP, line199);
    refused(text, 1, "200 bytes", "a 200-byte line is refused");
    memset(text, 0, sizeof(text));
    strcpy(text, "[endpoint e]\nregion = us-west-2\nendpoint = "); /* style-ok: test data */
    memset(text + strlen(text), 'a', 500 - 11);
    strcat(text, "\n"); /* style-ok: test data */
    refused(text, 3, "500 bytes", "a 500-byte line is refused with its line number");
    memset(text, 0, sizeof(text));
    strcpy(text, EP "; "); /* style-ok: test data */
    memset(text + strlen(text), 'c', 400);
    strcat(text, "\n"); /* style-ok: test data */
    refused(text, 4, "bytes long", "a long comment line is refused too");
    {
        static const char nul[] = "[endpoint e]\nendpoint = x\0y\n";
        struct smt_config *cn = NULL;

        tap_ok(smt_config_parse(nul, sizeof(nul) - 1, "t.conf", &cn, &diag) == SMT_ERR_CONFIG &&
                   strncmp(diag.msg, "t.conf:2: ", 10) == 0,
               "a NUL byte is refused with its line");
    }
}

static void test_errors(void)
{
    refused("[agent]\nfrobnicate = 1\n", 2, "unknown key 'frobnicate' in [agent]",
            "unknown agent key");
    refused("[endpoint demo]\nservice = sagemaker\nfrobnication = yes\nregion = us-west-2\n", 3,
            "unknown key 'frobnication' in [endpoint demo]", "unknown endpoint key");
    refused(EP "[endpoints x]\n", 4, "unknown section [endpoints x]", "unknown section");
    refused(EP "[endpoint]\n", 4, "unknown section", "[endpoint] without a name");
    refused("[Agent]\n", 1, "unknown section", "sections are case-sensitive");
    refused("region = us-west-2\n" EP, 1, "outside any section", "a key before any section");
    refused(EP "[endpoint e]\nendpoint = y\n", 4, "duplicate [endpoint e] (first on line 1)",
            "duplicate endpoint name");
    refused(EP "region = us-east-1\n", 4, "duplicate key 'region' (first on line 2)",
            "duplicate key");
    refused("[agent]\n[agent]\n", 2, "duplicate [agent]", "duplicate [agent]");
    refused("[agent]\nrefresh = 50%\nrefresh = 60%\n", 3, "duplicate key 'refresh'",
            "duplicate agent key");
    refused("[endpoint e]\nregion = us-west-2\n", 1, "needs 'endpoint = NAME'",
            "sagemaker without endpoint or base_url: the header's line");
    refused(EP "[endpoint f]\nservice = sagemaker\n[endpoint g]\nendpoint = z\n", 4,
            "[endpoint f] needs", "... of the right section");
    refused("[endpoint b]\nservice = bedrock\nendpoint = x\n", 3, "'endpoint' is for service",
            "bedrock with endpoint");
    refused("[endpoint b]\nservice = bedrock\ninference_component = x\n", 3, "inference_component",
            "bedrock with inference_component");
    refused("[agent]\ndefault = nope\n" EP, 2, "names no [endpoint nope]",
            "default naming no endpoint");
    refused("[agent]\ndefault = a b\n" EP, 2, "not an endpoint name", "default with a space");
    refused(EP "lifetime = 13h\n", 4, "over 12h", "lifetime over 12h is an error (not clamped)");
    refused(EP "lifetime = 43201\n", 4, "over 12h", "lifetime 43201");
    refused(EP "lifetime = 0\n", 4, "zero", "lifetime 0");
    refused(EP "lifetime = 0s\n", 4, "zero", "lifetime 0s");
    refused(EP "lifetime = 5x\n", 4, "not a duration", "bad lifetime suffix");
    refused(EP "lifetime = 1 h\n", 4, "not a duration", "space in lifetime");
    refused(EP "lifetime = -5\n", 4, "not a duration", "negative lifetime");
    refused(EP "lifetime = 99999999999999999999\n", 4, "not a duration", "huge lifetime");
    refused(EP "lifetime =\n", 4, "needs a value", "empty lifetime");
    refused("[agent]\nrefresh = 0%\n", 2, "refresh", "refresh 0%");
    refused("[agent]\nrefresh = 100%\n", 2, "refresh", "refresh 100%");
    refused("[agent]\nrefresh = eighty\n", 2, "refresh", "refresh not a number");
    refused("[agent]\nmin_remaining = soon\n", 2, "min_remaining", "bad min_remaining");
    refused("[agent]\nmin_remaining = 13h\n", 2, "min_remaining", "min_remaining over 12h");
    refused("[agent]\nmint = always\n", 2, "cached or per-request", "bad mint");
    refused("[agent]\ncredential_timeout = 0\n", 2, "credential_timeout", "credential_timeout 0");
    refused("[agent]\n\ncredential_timeout = 5m1s\n", 3, "credential_timeout",
            "credential_timeout with a bad suffix, on line 3");
    refused("[agent]\ncredential_timeout = 101\n", 2, "between 1s and 100s",
            "credential_timeout over 100s (the client waits 120 s for a reply)");
    refused("[agent]\ncredential_timeout = soon\n", 2, "credential_timeout",
            "credential_timeout not a duration");
    refused("[agent]\ncredential_timeout =\n", 2, "needs a value", "empty credential_timeout");
    {
        struct smt_config *t = parse("[agent]\ncredential_timeout = 1s\n" EP);
        struct smt_config *u = parse("[agent]\ncredential_timeout = 100\n" EP);

        tap_ok(t && t->credential_timeout == 1 && u && u->credential_timeout == 100,
               "credential_timeout bounds 1s and 100s are accepted");
        smt_config_free(t);
        smt_config_free(u);
    }
    refused("[endpoint e]\nservice = SageMaker\nendpoint = x\n", 2, "sagemaker or bedrock",
            "bad service");
    refused("[endpoint e]\nendpoint = x\nregion = US-WEST-2\n", 3, "region", "upper-case region");
    refused("[endpoint e]\nendpoint = x\nregion = us_west\n", 3, "region", "region with '_'");
    refused("[endpoint e]\nendpoint = x\nregion = us-west-2/x\n", 3, "region", "region with '/'");
    refused("[endpoint e]\nendpoint = a b\n", 2, "not a SageMaker name", "endpoint with a space");
    refused("[endpoint e]\nendpoint = x\nbase_url = ftp://x\n", 3, "base_url", "bad base_url");
    refused("[endpoint e]\nendpoint = x\n\nbase_url = http://x/'$(id)\n", 4, "single quote",
            "a base_url with a single quote (smtoken env could not quote it)");
    refused("[endpoint e]\nendpoint = x\nsink = relative.env\n", 3, "sink", "relative sink");
    refused("[endpoint a/b]\n", 1, "endpoint name", "endpoint name with '/'");
    refused("[endpoint "
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\nendpoint = x\n",
            1, "endpoint name", "65-character endpoint name");
    refused(EP "just some text\n", 4, "expected", "a line that is not key = value");
    refused(EP "[endpoint f\n", 4, "']'", "unterminated section header");
    refused(EP "[endpoint f] junk\n", 4, "after the section header", "junk after ']'");
    refused(EP "= 1\n", 4, "unknown key ''", "empty key");
    refused("[endpoint e]\nlifetime = 13h\nfoo\n", 2, "over 12h", "the first error is reported");
    refused("[endpoint e]\nfoo\nlifetime = 13h\n", 2, "expected", "the first error (syntax)");
    {
        struct smt_config *c = parse(
            "[endpoint "
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\nendpoint = x\n");
        tap_ok(c && strlen(c->endpoints[0].name) == 64,
               "a 64-character endpoint name is kept whole (inih would cut it at 50)");
        smt_config_free(c);
    }
}

static void test_durations(void)
{
    uint32_t d = 0;
    unsigned p = 0;

    tap_ok(smt_parse_duration("90", &d) == 0 && d == 90, "duration 90");
    tap_ok(smt_parse_duration("90s", &d) == 0 && d == 90, "duration 90s");
    tap_ok(smt_parse_duration("15m", &d) == 0 && d == 900, "duration 15m");
    tap_ok(smt_parse_duration("12h", &d) == 0 && d == 43200, "duration 12h");
    tap_ok(smt_parse_duration("0", &d) == 0 && d == 0, "duration 0 parses (callers range-check)");
    tap_ok(smt_parse_duration("", &d) < 0 && smt_parse_duration("h", &d) < 0 &&
               smt_parse_duration("1d", &d) < 0 && smt_parse_duration("1hh", &d) < 0 &&
               smt_parse_duration(" 1", &d) < 0 && smt_parse_duration("4294967296", &d) < 0 &&
               smt_parse_duration("1193047h", &d) < 0 && smt_parse_duration(NULL, &d) < 0,
           "bad durations");
    tap_ok(smt_parse_percent("80%", &p) == 0 && p == 80 && smt_parse_percent("80", &p) == 0 &&
               p == 80,
           "percent with and without %%");
    tap_ok(smt_parse_percent("101", &p) < 0 && smt_parse_percent("%", &p) < 0 &&
               smt_parse_percent("8 0", &p) < 0 && smt_parse_percent("80%%", &p) < 0,
           "bad percents");
}

static void url_is(struct smt_endpoint *e, const char *region, const char *want, const char *desc)
{
    char *url = NULL;
    int r = smt_endpoint_base_url(e, region, &url);

    tap_ok(r == 0 && tap_streq(url, want, "url"), "base URL: %s", desc);
    free(url);
}

static void test_base_url(void)
{
    struct smt_endpoint e = {.service = SMT_SVC_SAGEMAKER, .endpoint = (char *)"my-llm"};
    char *url = NULL;

    url_is(&e, "us-west-2",
           "https://runtime.sagemaker.us-west-2.amazonaws.com/endpoints/my-llm/openai/v1",
           "sagemaker endpoint");
    e.inference_component = (char *)"ic-1";
    url_is(&e, "eu-central-1",
           "https://runtime.sagemaker.eu-central-1.amazonaws.com/endpoints/my-llm/"
           "inference-components/ic-1/openai/v1",
           "inference component");
    e.endpoint = (char *)"a b/c%d~e_f.g";
    e.inference_component = (char *)"x?y#z";
    url_is(&e, "us-east-1",
           "https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/a%20b%2Fc%25d~e_f.g/"
           "inference-components/x%3Fy%23z/openai/v1",
           "path segments are percent-encoded");
    e = (struct smt_endpoint){.service = SMT_SVC_BEDROCK};
    url_is(&e, "us-east-1", "https://bedrock-runtime.us-east-1.amazonaws.com/openai/v1", "bedrock");
    e.base_url = (char *)"http://127.0.0.1:8080/openai/v1";
    url_is(&e, NULL, "http://127.0.0.1:8080/openai/v1", "base_url wins, no region needed");
    e = (struct smt_endpoint){.service = SMT_SVC_SAGEMAKER, .endpoint = (char *)"x"};
    tap_ok(smt_endpoint_base_url(&e, NULL, &url) == SMT_ERR_INVALID && !url,
           "base URL: no region is SMT_ERR_INVALID");
    tap_ok(smt_endpoint_base_url(&e, "evil.com/", &url) == SMT_ERR_INVALID && !url,
           "base URL: a region that is not a region name is refused");
    e.endpoint = NULL;
    tap_ok(smt_endpoint_base_url(&e, "us-west-2", &url) == SMT_ERR_INVALID && !url,
           "base URL: sagemaker without endpoint is SMT_ERR_INVALID");
}

static void test_paths(void)
{
    char *p = NULL;

    tap_ok(smt_config_default_path("/x/y.conf", &p) == 0 && tap_streq(p, "/x/y.conf", "p"),
           "default path: explicit wins");
    free(p);
    setenv("SMTOKEN_CONFIG", "/env/smtoken.conf", 1);
    setenv("XDG_CONFIG_HOME", "/xdg", 1);
    setenv("HOME", "/home/u", 1);
    tap_ok(smt_config_default_path(NULL, &p) == 0 && tap_streq(p, "/env/smtoken.conf", "p"),
           "default path: $SMTOKEN_CONFIG");
    free(p);
    unsetenv("SMTOKEN_CONFIG");
    tap_ok(smt_config_default_path("", &p) == 0 && tap_streq(p, "/xdg/smtoken/smtoken.conf", "p"),
           "default path: $XDG_CONFIG_HOME");
    free(p);
    setenv("XDG_CONFIG_HOME", "relative", 1);
    tap_ok(smt_config_default_path(NULL, &p) == 0 &&
               tap_streq(p, "/home/u/.config/smtoken/smtoken.conf", "p"),
           "default path: ~/.config (a relative XDG_CONFIG_HOME is ignored)");
    free(p);
}

static void test_load(void)
{
    char dir[] = "/tmp/test-config.XXXXXX", path[300];
    struct smt_config *c = NULL;
    FILE *f;

    if (!mkdtemp(dir)) {
        tap_ok(0, "mkdtemp");
        return;
    }
    snprintf(path, sizeof(path), "%s/smtoken.conf", dir);
    tap_ok(smt_config_load(path, &c, &diag) == SMT_ERR_NOT_FOUND && !c && strstr(diag.msg, path),
           "load: a missing file is SMT_ERR_NOT_FOUND and named");
    f = fopen(path, "w");
    fputs("[endpoint e]\nendpoint = x\nlifetime = 13h\n", f);
    fclose(f);
    tap_ok(smt_config_load(path, &c, &diag) == SMT_ERR_CONFIG && !c &&
               strncmp(diag.msg, path, strlen(path)) == 0 &&
               strncmp(diag.msg + strlen(path), ":3: ", 4) == 0,
           "load: errors say FILE:LINE: %s", diag.msg);
    f = fopen(path, "w");
    fputs("[endpoint e]\nendpoint = x\n", f);
    fclose(f);
    tap_ok(smt_config_load(path, &c, &diag) == 0 && c && strcmp(c->path, path) == 0,
           "load: a good file");
    smt_config_free(c);
    c = NULL;
    tap_ok(smt_config_load(dir, &c, &diag) < 0 && !c, "load: a directory is refused");
    smt_config_free(NULL);
    /* A FIFO nobody writes to: refused at once, never a hang (the alarm turns a hang into a
     * failure of this test instead of a stuck make check). */
    unlink(path);
    if (mkfifo(path, 0600) == 0) {
        alarm(30);
        tap_ok(smt_config_load(path, &c, &diag) == SMT_ERR_CONFIG && !c &&
                   strstr(diag.msg, "not a regular file"),
               "load: a FIFO is refused without blocking: %s", diag.msg);
        alarm(0);
    } else {
        tap_skip("mkfifo failed; cannot check that a FIFO is refused");
    }
    unlink(path);
    rmdir(dir);
}

/* sink_format (agent/sink.h names) and the shape of sink = PATH. */
static void test_sink(void)
{
    static const char *const names[] = {"raw", "env", "dotenv", "json"};
    const struct smt_endpoint *e;
    struct smt_config *c;
    char text[256];
    size_t i;

    c = parse("[endpoint e]\nendpoint = x\nsink = /run/user/1000/smtoken/e.tok\n");
    e = c ? smt_config_find(c, "e") : NULL;
    tap_ok(e && e->sink_format == SMT_SINK_RAW, "sink_format defaults to raw");
    smt_config_free(c);
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(text, sizeof(text), "[endpoint e]\nendpoint = x\nsink = /r/e\nsink_format = %s\n",
                 names[i]);
        c = parse(text);
        e = c ? smt_config_find(c, "e") : NULL;
        tap_ok(e && e->sink_format == (enum smt_sink_format)i && tap_streq(e->sink, "/r/e", "sink"),
               "sink_format = %s", names[i]);
        smt_config_free(c);
    }
    c = parse("[endpoint e]\nendpoint = x\nsink = /r/e\n[endpoint f]\nendpoint = y\n");
    e = c ? smt_config_find(c, "f") : NULL;
    tap_ok(e && !e->sink && e->sink_format == SMT_SINK_RAW, "an endpoint without sink: NULL, raw");
    smt_config_free(c);
    refused("[endpoint e]\nendpoint = x\nsink = /r/e\nsink_format = yaml\n", 4,
            "expected raw, env, dotenv or json", "unknown sink_format");
    refused("[endpoint e]\nendpoint = x\nsink = /r/e\nsink_format = ENV\n", 4, "sink_format",
            "sink_format is case-sensitive");
    refused("[endpoint e]\nendpoint = x\nsink = /r/e\nsink_format = env\nsink_format = raw\n", 5,
            "duplicate", "duplicate sink_format");
    refused("[endpoint e]\nendpoint = x\nsink_format = env\n", 3, "without 'sink",
            "sink_format without sink");
    refused("[endpoint e]\nsink_format = env\nendpoint = x\nsink = rel\n", 4, "absolute",
            "a bad sink is reported on its own line, not as a missing sink");
    refused("[endpoint e]\nendpoint = x\nsink = ~/e.env\n", 3, "absolute", "sink with ~");
    refused("[endpoint e]\nendpoint = x\nsink = /run/user/1000/\n", 3, "absolute",
            "sink naming a directory (trailing '/')");
    refused("[endpoint e]\nendpoint = x\nsink = /r/a\tb\n", 3, "absolute", "sink with a tab");
    refused("[endpoint e]\nendpoint = x\nsink = /r/same\n"
            "[endpoint f]\nendpoint = y\nsink = /r/same\n",
            6, "also the sink of [endpoint e]", "two endpoints with one sink file");
}

int main(void)
{
    test_full();
    test_defaults();
    test_syntax();
    test_errors();
    test_durations();
    test_base_url();
    test_paths();
    test_load();
    test_sink();
    return tap_done();
}
