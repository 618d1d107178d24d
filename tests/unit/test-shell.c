/* Unit tests for client/shell.c (quoting and output layout) and client/procjson.c
 * (credential_process JSON, RFC 3339).  The shells themselves run in
 * tests/integration/agent-shells.sh; here every byte of the output is pinned. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/procjson.h"
#include "client/shell.h"
#include "tests/tap.h"

#define TOK "sagemaker-api-key-c2FnZW1ha2VyLmFtYXpvbmF3cy5jb20vP0FjdGlvbj0x+/="
#define URL "https://runtime.sagemaker.us-west-2.amazonaws.com/endpoints/e/openai/v1"

static struct smt_buf *out;
static char text[64 * 1024];

/* out's bytes as a C string (test data, never a real secret). */
static const char *out_str(void)
{
    size_t n = smt_buf_len(out);

    if (n >= sizeof(text))
        n = sizeof(text) - 1;
    memcpy(text, smt_buf_ptr(out), n);
    text[n] = '\0';
    return text;
}

static struct smt_msg_token token(uint8_t service, const char *tok, const char *url)
{
    struct smt_msg_token t = {(char *)"main", service, (char *)tok, 1700000000, (char *)url};

    return t;
}

static void test_parse_and_checks(void)
{
    enum smt_shell sh = SMT_SHELL_JSON;

    tap_ok(smt_shell_parse("sh", &sh) == 0 && sh == SMT_SHELL_SH, "parse sh");
    tap_ok(smt_shell_parse("tcsh", &sh) == 0 && sh == SMT_SHELL_CSH, "parse tcsh as csh");
    tap_ok(smt_shell_parse("fish", &sh) == 0 && sh == SMT_SHELL_FISH, "parse fish");
    tap_ok(smt_shell_parse("dotenv", &sh) == 0 && sh == SMT_SHELL_DOTENV, "parse dotenv");
    tap_ok(smt_shell_parse("powershell", &sh) == SMT_ERR_INVALID, "unknown shell refused");
    tap_ok(smt_shell_default("/bin/tcsh") == SMT_SHELL_CSH &&
               smt_shell_default("/usr/bin/csh") == SMT_SHELL_CSH &&
               smt_shell_default("/usr/local/bin/fish") == SMT_SHELL_FISH &&
               smt_shell_default("/bin/bash") == SMT_SHELL_SH &&
               smt_shell_default(NULL) == SMT_SHELL_SH && smt_shell_default("") == SMT_SHELL_SH,
           "default shell from $SHELL");

    tap_ok(smt_shell_check_token(TOK, 0) == 0, "a SageMaker token passes");
    tap_ok(smt_shell_check_token("bedrock-api-key-QUJD", 1) == 0, "a Bedrock token passes");
    tap_ok(smt_shell_check_token(TOK, 1) == SMT_ERR_FORMAT,
           "SageMaker prefix for Bedrock: refused");
    tap_ok(smt_shell_check_token("sagemaker-api-key-", 0) == SMT_ERR_FORMAT,
           "prefix alone: refused");
    tap_ok(smt_shell_check_token("sagemaker-api-key-ab'c", 0) == SMT_ERR_FORMAT,
           "a quote in the token: refused");
    tap_ok(smt_shell_check_token("sagemaker-api-key-ab c", 0) == SMT_ERR_FORMAT,
           "a space: refused");
    tap_ok(smt_shell_check_token("sagemaker-api-key-ab\nc", 0) == SMT_ERR_FORMAT,
           "a newline: refused");
    tap_ok(smt_shell_check_token("sagemaker-api-key-a$b", 0) == SMT_ERR_FORMAT, "a '$': refused");
    tap_ok(smt_shell_check_token("sagemaker-api-key-ab\x1b[2J", 0) == SMT_ERR_FORMAT,
           "a terminal escape: refused");
    tap_ok(smt_shell_check_token("SAGEMAKER-api-key-abc", 0) == SMT_ERR_FORMAT, "wrong prefix");
    tap_ok(smt_shell_check_value("https://h/p?a=$HOME&b=*&c=`id`!\"x\\") == 0,
           "a value with shell metacharacters passes (it will be single-quoted)");
    tap_ok(smt_shell_check_value("a'b") == SMT_ERR_FORMAT, "a single quote: refused");
    tap_ok(smt_shell_check_value("a\tb") == SMT_ERR_FORMAT, "a tab: refused");
    tap_ok(smt_shell_check_value("a\x7f") == SMT_ERR_FORMAT, "DEL: refused");
    tap_ok(smt_shell_check_value("h\xc3\xa9llo") == 0, "UTF-8 passes");
}

static void test_env(void)
{
    struct smt_msg_token t = token(0, TOK, URL), b = token(1, "bedrock-api-key-QUJD", URL);
    struct smt_diag d = {.msg = ""};
    struct smt_env e;

    tap_ok(smt_env_from_token(&e, &t, &d) == 0 && e.n == 4, "SageMaker: four variables");
    tap_ok(strcmp(e.value[3], "1700000000") == 0 && e.value[3] == e.expires,
           "SMTOKEN_EXPIRES_AT is the epoch, stored in the struct");

    smt_buf_reset(out);
    tap_ok(smt_shell_format_env(out, SMT_SHELL_SH, &e, &d) == 0, "sh");
    tap_ok(tap_streq(out_str(),
                     "export OPENAI_API_KEY='" TOK "';\n"
                     "export OPENAI_BASE_URL='" URL "';\n"
                     "export OPENAI_API_BASE='" URL "';\n"
                     "export SMTOKEN_EXPIRES_AT='1700000000';\n",
                     "sh"),
           "sh: export K='v'; lines");
    smt_buf_reset(out);
    tap_ok(smt_shell_format_env(out, SMT_SHELL_CSH, &e, &d) == 0 &&
               tap_streq(out_str(),
                         "setenv OPENAI_API_KEY '" TOK "';\n"
                         "setenv OPENAI_BASE_URL '" URL "';\n"
                         "setenv OPENAI_API_BASE '" URL "';\n"
                         "setenv SMTOKEN_EXPIRES_AT '1700000000';\n",
                         "csh"),
           "csh: setenv K 'v'; lines");
    smt_buf_reset(out);
    tap_ok(smt_shell_format_env(out, SMT_SHELL_FISH, &e, &d) == 0 &&
               tap_streq(out_str(),
                         "set -gx OPENAI_API_KEY '" TOK "';\n"
                         "set -gx OPENAI_BASE_URL '" URL "';\n"
                         "set -gx OPENAI_API_BASE '" URL "';\n"
                         "set -gx SMTOKEN_EXPIRES_AT '1700000000';\n",
                         "fish"),
           "fish: set -gx K 'v'; lines");
    smt_buf_reset(out);
    tap_ok(smt_shell_format_env(out, SMT_SHELL_DOTENV, &e, &d) == 0 &&
               tap_streq(out_str(),
                         "OPENAI_API_KEY='" TOK "'\n"
                         "OPENAI_BASE_URL='" URL "'\n"
                         "OPENAI_API_BASE='" URL "'\n"
                         "SMTOKEN_EXPIRES_AT='1700000000'\n",
                         "dotenv"),
           "dotenv: K='v' lines");
    smt_buf_reset(out);
    tap_ok(smt_shell_format_env(out, SMT_SHELL_JSON, &e, &d) == 0 &&
               tap_streq(out_str(),
                         "{\"OPENAI_API_KEY\":\"" TOK "\",\"OPENAI_BASE_URL\":\"" URL
                         "\",\"OPENAI_API_BASE\":\"" URL
                         "\",\"SMTOKEN_EXPIRES_AT\":\"1700000000\"}\n",
                         "json"),
           "json: one object");

    tap_ok(smt_env_from_token(&e, &b, &d) == 0 && e.n == 5 &&
               strcmp(e.name[4], "AWS_BEARER_TOKEN_BEDROCK") == 0 &&
               strcmp(e.value[4], "bedrock-api-key-QUJD") == 0,
           "Bedrock: AWS_BEARER_TOKEN_BEDROCK too");

    /* Values that need care in one shell or another. */
    t.base_url = (char *)"http://h/v1?a=$HOME&b=*&c=~x&d=$(id)!e\\f\"g";
    tap_ok(smt_env_from_token(&e, &t, &d) == 0, "a base URL with metacharacters is accepted");
    smt_buf_reset(out);
    tap_ok(smt_shell_format_env(out, SMT_SHELL_SH, &e, &d) == 0 &&
               strstr(out_str(),
                      "export OPENAI_BASE_URL='http://h/v1?a=$HOME&b=*&c=~x&d=$(id)!e\\f\"g';\n"),
           "sh: verbatim inside single quotes");
    smt_buf_reset(out);
    tap_ok(smt_shell_format_env(out, SMT_SHELL_CSH, &e, &d) == 0 &&
               strstr(out_str(),
                      "setenv OPENAI_BASE_URL 'http://h/v1?a=$HOME&b=*&c=~x&d=$(id)\\!e\\f\"g';\n"),
           "csh: '!' becomes '\\!' (history), a lone backslash stays");
    smt_buf_reset(out);
    tap_ok(
        smt_shell_format_env(out, SMT_SHELL_FISH, &e, &d) == 0 &&
            strstr(out_str(),
                   "set -gx OPENAI_BASE_URL 'http://h/v1?a=$HOME&b=*&c=~x&d=$(id)!e\\\\f\"g';\n"),
        "fish: a backslash is doubled");
    smt_buf_reset(out);
    tap_ok(smt_shell_format_env(out, SMT_SHELL_JSON, &e, &d) == 0 &&
               strstr(out_str(),
                      "\"OPENAI_BASE_URL\":\"http://h/v1?a=$HOME&b=*&c=~x&d=$(id)!e\\\\f\\\"g\""),
           "json: backslash and double quote escaped");
    smt_buf_reset(out);
    tap_ok(smt_shell_format_env(out, SMT_SHELL_DOTENV, &e, &d) == SMT_ERR_FORMAT &&
               smt_buf_len(out) == 0 && strstr(d.msg, "backslash"),
           "dotenv: a backslash is refused, nothing printed");
    t.base_url = (char *)"http://h/with space/v1";
    smt_buf_reset(out);
    tap_ok(smt_env_from_token(&e, &t, &d) == 0 &&
               smt_shell_format_env(out, SMT_SHELL_DOTENV, &e, &d) == 0 &&
               strstr(out_str(), "OPENAI_BASE_URL='http://h/with space/v1'\n"),
           "dotenv: spaces quoted");

    /* Refusals. */
    t.base_url = (char *)"http://h/it's";
    tap_ok(smt_env_from_token(&e, &t, &d) == SMT_ERR_FORMAT && strstr(d.msg, "main") &&
               strstr(d.hint, "base_url"),
           "a single quote in the base URL: refused with a hint");
    t.base_url = (char *)"http://h/\nexport X=1";
    tap_ok(smt_env_from_token(&e, &t, &d) == SMT_ERR_FORMAT, "a newline in the base URL: refused");
    t.base_url = (char *)"";
    tap_ok(smt_env_from_token(&e, &t, &d) == SMT_ERR_FORMAT, "an empty base URL: refused");
    t = token(0, "sagemaker-api-key-abc';rm -rf ~;'", URL);
    tap_ok(smt_env_from_token(&e, &t, &d) == SMT_ERR_FORMAT && !strstr(d.msg, "rm -rf"),
           "a token outside the alphabet: refused, and not echoed in the message");
    t = token(1, TOK, URL);
    tap_ok(smt_env_from_token(&e, &t, &d) == SMT_ERR_FORMAT,
           "a token with the other service's prefix");
}

static void test_unset_and_json(void)
{
    struct smt_msg_token t = token(0, TOK, URL);
    struct smt_diag d = {.msg = ""};
    size_t n = 0;

    tap_ok(smt_env_all_names(&n) && n == 5, "five names to unset");
    smt_buf_reset(out);
    tap_ok(smt_shell_format_unset(out, SMT_SHELL_SH) == 0 &&
               tap_streq(out_str(),
                         "unset OPENAI_API_KEY;\nunset OPENAI_BASE_URL;\nunset OPENAI_API_BASE;\n"
                         "unset SMTOKEN_EXPIRES_AT;\nunset AWS_BEARER_TOKEN_BEDROCK;\n",
                         "unset sh"),
           "sh: unset K; lines");
    smt_buf_reset(out);
    tap_ok(smt_shell_format_unset(out, SMT_SHELL_CSH) == 0 &&
               strstr(out_str(), "unsetenv OPENAI_API_KEY;\n") &&
               strstr(out_str(), "unsetenv AWS_BEARER_TOKEN_BEDROCK;\n"),
           "csh: unsetenv K; lines");
    smt_buf_reset(out);
    tap_ok(smt_shell_format_unset(out, SMT_SHELL_FISH) == 0 &&
               strstr(out_str(), "set -e OPENAI_API_KEY;\n") &&
               strstr(out_str(), "set -e SMTOKEN_EXPIRES_AT;\n"),
           "fish: set -e K; lines");
    tap_ok(smt_shell_format_unset(out, SMT_SHELL_JSON) == SMT_ERR_INVALID &&
               smt_shell_format_unset(out, SMT_SHELL_DOTENV) == SMT_ERR_INVALID,
           "json/dotenv have no unset");

    smt_buf_reset(out);
    tap_ok(smt_format_token_json(out, &t, &d) == 0 &&
               tap_streq(out_str(),
                         "{\"token\":\"" TOK "\",\"expires_at\":1700000000,\"base_url\":\"" URL
                         "\"}\n",
                         "token json"),
           "token --json: token, numeric expires_at, base_url");
    smt_buf_reset(out);
    tap_ok(smt_json_put_string(out, "a\"b\\c\n\x01\x7f/") == 0 &&
               tap_streq(out_str(), "\"a\\\"b\\\\c\\u000a\\u0001\\u007f/\"", "json escape"),
           "JSON string escaping");
}

static void test_list_status(void)
{
    struct smt_msg_endpoint_info e[2] = {
        {(char *)"main", 0, 1, (char *)"us-west-2", (char *)"work", (char *)"process", 1700003600,
         1700000900, 1700000000, (char *)"", (char *)URL},
        {(char *)"br\x1b[31m", 1, 0, (char *)"eu-central-1", (char *)"", (char *)"", 0, 0, 0,
         (char *)"credential_process failed:\nexit 1", (char *)"https://b/openai/v1"},
    };
    struct smt_msg_list l = {2, e};
    char buf[64];

    tap_ok(tap_streq(smt_format_time(buf, sizeof(buf), 1700000000), "2023-11-14T22:13:20Z", "time"),
           "RFC 3339 UTC times");
    tap_ok(tap_streq(smt_format_time(buf, sizeof(buf), 0), "-", "time 0"), "time 0 is '-'");
    tap_ok(tap_streq(smt_format_relative(buf, sizeof(buf), 10000 + 840, 10000), "in 14m", "rel") &&
               tap_streq(smt_format_relative(buf, sizeof(buf), 10000 - 5400, 10000), "1h30m ago",
                         "rel2") &&
               tap_streq(smt_format_relative(buf, sizeof(buf), 10000, 10000), "now", "rel3") &&
               tap_streq(smt_format_relative(buf, sizeof(buf), 10000 + 3 * 86400, 10000), "in 3d",
                         "rel4"),
           "relative times");
    smt_buf_reset(out);
    tap_ok(smt_format_list(out, &l) == 0 &&
               tap_streq(out_str(),
                         "main     sagemaker  us-west-2     work  2023-11-14T22:28:20Z  default\n"
                         "br?[31m  bedrock    eu-central-1  -     -\n",
                         "list"),
           "list: aligned columns, '-' for none, default marked, escapes neutralised");
    smt_buf_reset(out);
    tap_ok(smt_format_status(out, &l, 1700000060) == 0, "status formats");
    tap_ok(
        strstr(out_str(), "main (default)\n  service:      sagemaker, region us-west-2\n") &&
            strstr(out_str(), "  credentials:  process, expire 2023-11-14T23:13:20Z (in 59m)\n") &&
            strstr(out_str(), "  token:        expires 2023-11-14T22:28:20Z (in 14m)\n") &&
            strstr(out_str(), "  last refresh: 2023-11-14T22:13:20Z (1m ago)\n") &&
            strstr(out_str(), "  last error:   none\n"),
        "status: the default endpoint's block");
    tap_ok(strstr(out_str(), "\n\nbr?[31m\n") &&
               strstr(out_str(), "  profile:      (default chain)\n") &&
               strstr(out_str(), "  credentials:  not resolved yet\n") &&
               strstr(out_str(), "  token:        none cached\n") &&
               strstr(out_str(), "  last error:   credential_process failed:?exit 1\n") &&
               !strchr(out_str(), '\x1b'),
           "status: the other block, control characters shown as '?'");
    tap_ok(!strstr(out_str(), "api-key"), "status shows no token");
}

static void test_procjson(void)
{
    struct smt_procjson p = {0};
    struct smt_diag d = {.msg = ""};
    const char *ok_json =
        "{\n  \"Version\": 1,\n  \"AccessKeyId\": \"AKIDEXAMPLE\",\n"
        "  \"SecretAccessKey\": \"wJalr/K7+x\",\n  \"SessionToken\": \"FwoG\\u00e9\\/x\",\n"
        "  \"Expiration\": \"2024-05-01T12:00:00Z\", \"Extra\": [1, {\"a\": null}, true, "
        "-2.5e3]\n}\n";
    static const struct {
        const char *json;
        const char *why;
    } bad[] = {
        {"{\"Version\": 2, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\"}", "Version 2"},
        {"{\"Version\": \"1\", \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\"}",
         "Version as a string"},
        {"{\"Version\": 1.0, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\"}", "Version 1.0"},
        {"{\"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\"}", "no Version"},
        {"{\"Version\": 1, \"SecretAccessKey\": \"S\"}", "no AccessKeyId"},
        {"{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"\"}", "empty secret"},
        {"{\"Version\": 1, \"AccessKeyId\": \"A\", \"AccessKeyId\": \"B\", \"SecretAccessKey\": "
         "\"S\"}",
         "duplicate member"},
        {"{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\",}", "trailing comma"},
        {"{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\"} x", "data after"},
        {"{\"Version\": 1, \"AccessKeyId\": \"A\\u0000B\", \"SecretAccessKey\": \"S\"}", "\\u0000"},
        {"{\"Version\": 1, \"AccessKeyId\": \"A\nB\", \"SecretAccessKey\": \"S\"}", "raw newline"},
        {"{\"Version\": 1, \"AccessKeyId\": \"A\\ud800\", \"SecretAccessKey\": \"S\"}",
         "lone surrogate"},
        {"{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\", \"Expiration\": "
         "\"soon\"}",
         "bad Expiration"},
        {"{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\", \"X\": tru}",
         "bad literal"},
        {"{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\"",
         "unterminated object"},
        {"{\"Version\": 1, \"AccessKeyId\": \"A", "unterminated string"},
        {"[1]", "not an object"},
        {"", "empty input"},
    };
    const char *nulls = "{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
                        "\"SessionToken\":null}";
    char deep[200], *big;
    size_t i, nbad = 0;
    uint64_t t = 0;

    tap_ok(smt_procjson_parse(ok_json, strlen(ok_json), &p, &d) == 0,
           "credential_process JSON parses");
    tap_ok(p.access_key && strcmp(p.access_key, "AKIDEXAMPLE") == 0 &&
               strcmp(p.secret_key, "wJalr/K7+x") == 0 &&
               strcmp(p.session_token, "FwoG\xc3\xa9/x") == 0 && p.expiration == 1714564800,
           "... values, escapes decoded, Expiration as epoch, unknown members skipped");
    smt_procjson_free(&p);
    tap_ok(!p.access_key && !p.secret_key && !p.session_token, "free clears the struct");
    tap_ok(smt_procjson_parse(nulls, strlen(nulls), &p, &d) == 0 && p.session_token &&
               *p.session_token == '\0' && p.expiration == 0,
           "SessionToken null / Expiration absent: none");
    smt_procjson_free(&p);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        d.msg[0] = '\0';
        if (smt_procjson_parse(bad[i].json, strlen(bad[i].json), &p, &d) == 0 || !d.msg[0]) {
            tap_diag("accepted or no message: %s", bad[i].why);
            nbad++;
        }
    }
    tap_ok(nbad == 0, "%zu malformed inputs refused with a message", sizeof(bad) / sizeof(bad[0]));
    tap_ok(
        smt_procjson_parse("{\"Version\": 1, \"AccessKeyId\": \"AKIDSECRETVALUE\", \"Version\": 1}",
                           60, &p, &d) < 0 &&
            !strstr(d.msg, "AKIDSECRETVALUE"),
        "messages name the position, never a value");
    tap_ok(
        smt_procjson_parse("{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\"}",
                           20, &p, &d) < 0,
        "the length bounds the input (no NUL needed, no read past it)");

    memset(deep, '[', sizeof(deep));
    memcpy(deep, "{\"x\":", 5);
    tap_ok(smt_procjson_parse(deep, sizeof(deep), &p, &d) < 0 && strstr(d.msg, "deep"),
           "nesting past the limit refused");
    big = calloc(1, SMT_PROCJSON_MAX + 2);
    memset(big, ' ', SMT_PROCJSON_MAX + 1);
    tap_ok(smt_procjson_parse(big, SMT_PROCJSON_MAX + 1, &p, &d) == SMT_ERR_TOO_LARGE,
           "input over 64 KiB refused");
    free(big);

    tap_ok(smt_rfc3339_parse("2024-05-01T12:00:00Z", &t) == 0 && t == 1714564800, "RFC 3339 Z");
    tap_ok(smt_rfc3339_parse("2024-05-01T14:00:00.123+02:00", &t) == 0 && t == 1714564800,
           "fraction and offset");
    tap_ok(smt_rfc3339_parse("2024-02-29t00:00:00z", &t) == 0 && t == 1709164800,
           "leap day, lower-case t and z");
    tap_ok(smt_rfc3339_parse("2023-02-29T00:00:00Z", &t) < 0, "29 Feb in a common year refused");
    tap_ok(smt_rfc3339_parse("2024-05-01T12:00:00", &t) < 0, "no zone refused");
    tap_ok(smt_rfc3339_parse("2024-05-01T24:00:00Z", &t) < 0, "hour 24 refused");
    tap_ok(smt_rfc3339_parse("1969-12-31T23:59:59Z", &t) < 0, "before 1970 refused");
    tap_ok(smt_rfc3339_parse("2024-05-01T12:00:00Zjunk", &t) < 0, "trailing junk refused");
    tap_ok(smt_rfc3339_parse("2024-5-1T12:00:00Z", &t) < 0, "short fields refused");
}

int main(void)
{
    out = smt_buf_new(1024 * 1024);
    test_parse_and_checks();
    test_env();
    test_unset_and_json();
    test_list_status();
    test_procjson();
    smt_buf_free(out);
    return tap_done();
}
