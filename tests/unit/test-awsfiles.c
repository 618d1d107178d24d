/* Unit tests for agent/awsfiles.c: the AWS CLI's shared files, read as botocore reads them.
 * Expected results for the syntax cases were checked against botocore 1.43's configloader. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "agent/awsfiles.h"
#include "tests/tap.h"

#define CRED SMT_AWSFILE_CREDENTIALS
#define CONF SMT_AWSFILE_CONFIG

static struct smt_diag diag;
static char got[1 << 17];
static size_t got_len;

/* Look key up; got holds a copy of the value (test data only). */
static int lk(const char *text, enum smt_awsfile_kind kind, const char *profile, const char *key)
{
    char *v = NULL;
    size_t n = 0;
    int r;

    memset(&diag, 0, sizeof(diag));
    got[0] = '\0';
    got_len = 0;
    r = smt_awsfile_lookup(text, strlen(text), "F", kind, profile, key, key ? &v : NULL,
                           key ? &n : NULL, &diag);
    if (r == 0 && v) {
        if (n < sizeof(got)) {
            memcpy(got, v, n + 1);
            got_len = n;
        }
        sodium_free(v);
    }
    return r;
}

static void value_is(const char *text, enum smt_awsfile_kind kind, const char *profile,
                     const char *key, const char *want, const char *desc)
{
    int r = lk(text, kind, profile, key);

    if (!tap_ok(r == 0 && strcmp(got, want) == 0, "%s", desc))
        tap_diag("r=%d (%s) got '%s' want '%s'", r, diag.msg, got, want);
}

static void missing(const char *text, enum smt_awsfile_kind kind, const char *profile,
                    const char *key, const char *desc)
{
    int r = lk(text, kind, profile, key);

    if (!tap_ok(r == SMT_ERR_NOT_FOUND, "%s", desc))
        tap_diag("r=%d (%s) got '%s'", r, diag.msg, got);
}

/* A file botocore refuses: SMT_ERR_FORMAT with "F:LINE: " in the message. */
static void refused(const char *text, enum smt_awsfile_kind kind, unsigned line, const char *desc)
{
    char prefix[32];
    int r = lk(text, kind, "a", "k");

    snprintf(prefix, sizeof(prefix), "F:%u: ", line);
    if (!tap_ok(r == SMT_ERR_FORMAT && strncmp(diag.msg, prefix, strlen(prefix)) == 0, "%s", desc))
        tap_diag("r=%d msg '%s' want prefix '%s'", r, diag.msg, prefix);
}

static void test_sections(void)
{
    const char *cred =
        "[default]\naws_access_key_id = AKDEF\n\n[work]\naws_access_key_id = AKWORK\n"
        "[profile work]\naws_access_key_id = AKPROFILE\n";
    const char *conf = "[default]\nregion = us-east-1\nonly_in_first = 1\n[work]\nregion = nope\n"
                       "[profile work]\nregion = eu-west-1\n[profile default]\nregion = sa-east-1\n"
                       "[profile  spaced]\nregion = r2\n[profile \"my profile\"]\nregion = r3\n"
                       "[profile x y]\nregion = r4\n[Profile z]\nregion = r5\n[profilex q]\n"
                       "region = r6\n[profile 'unclosed]\nregion = r7\n[sso-session s]\n"
                       "region = r8\n";

    value_is(cred, CRED, "default", "aws_access_key_id", "AKDEF", "credentials: [default]");
    value_is(cred, CRED, "work", "aws_access_key_id", "AKWORK", "credentials: [work] is 'work'");
    value_is(cred, CRED, "profile work", "aws_access_key_id", "AKPROFILE",
             "credentials: [profile work] is the profile named 'profile work'");
    missing(cred, CRED, "nosuch", "aws_access_key_id", "credentials: unknown profile");
    missing(cred, CRED, "work", "aws_secret_access_key", "credentials: unset key");
    tap_ok(lk(cred, CRED, "work", NULL) == 0, "credentials: profile exists (key NULL)");
    tap_ok(lk(cred, CRED, "nosuch", NULL) == SMT_ERR_NOT_FOUND, "credentials: profile absent");

    value_is(conf, CONF, "work", "region", "eu-west-1", "config: [profile work] is 'work'");
    missing(conf, CONF, "work x", "region", "config: nothing named 'work x'");
    value_is(conf, CONF, "default", "region", "sa-east-1",
             "config: [profile default] after [default] wins");
    missing(conf, CONF, "default", "only_in_first", "config: ... and replaces it entirely");
    value_is(conf, CONF, "spaced", "region", "r2", "config: [profile  spaced] (shlex split)");
    value_is(conf, CONF, "my profile", "region", "r3", "config: [profile \"my profile\"]");
    missing(conf, CONF, "x", "region", "config: [profile x y] has three words: no profile");
    missing(conf, CONF, "z", "region", "config: [Profile z] is not a profile (case)");
    value_is(conf, CONF, "q", "region", "r6", "config: [profilex q] is 'q' (botocore quirk)");
    missing(conf, CONF, "unclosed", "region", "config: unsplittable header is skipped");
    missing(conf, CONF, "s", "region", "config: [sso-session s] is not a profile");
    tap_ok(lk("[default]\nregion=x\n", CONF, "default", NULL) == 0, "config: [default] exists");
    tap_ok(lk("[default]\nregion=x\n", CRED, "DEFAULT", NULL) == SMT_ERR_NOT_FOUND,
           "credentials: profile 'DEFAULT' never exists");
}

static void test_syntax(void)
{
    value_is("[a]\nAWS_Access_Key_ID = v\n", CRED, "a", "aws_access_key_id", "v",
             "keys are case-insensitive");
    value_is("[a]\nk: v\n", CRED, "a", "k", "v", "':' separates too");
    value_is("[a]\nk: 1=2\nj = x:y\n", CRED, "a", "k", "1=2", "the first of '=' or ':' wins (1)");
    value_is("[a]\nk: 1=2\nj = x:y\n", CRED, "a", "j", "x:y", "the first of '=' or ':' wins (2)");
    value_is("[a]\n\tk\t=\t v \t\n", CRED, "a", "k", "v", "whitespace around key and value");
    value_is("[a]\nk =\n", CRED, "a", "k", "", "empty value");
    value_is("[a]\n# c\n; c\n  # indented\nk = v ; not a comment\n", CRED, "a", "k",
             "v ; not a comment", "comment lines; no inline comments");
    value_is("[a]\nk = v # x\n", CRED, "a", "k", "v # x", "'#' inside a value stays");
    value_is("[a]\r\nk = v\r\nj = w\r\n", CRED, "a", "k", "v", "CRLF line ends");
    value_is("[a]\rk = v\rj = w\r", CRED, "a", "j", "w", "CR line ends");
    value_is("[a]\nk = v", CRED, "a", "k", "v", "no newline at the end");
    value_is("[a]\nk = v\xc2\xa0\n", CRED, "a", "k", "v", "U+00A0 is whitespace (str.strip)");
    value_is("[a]\nk = caf\xc3\xa9\n", CRED, "a", "k", "caf\xc3\xa9", "UTF-8 value");
    value_is("[a] trailing\nk = v\n", CRED, "a", "k", "v", "text after ']' ignored (SECTCRE)");
    value_is("[c]]\nk = v\n", CRED, "c]", "k", "v", "header up to the last ']'");
    value_is("[ b ]\nk = v\n", CRED, " b ", "k", "v", "header keeps inner spaces");
    value_is("[a]\n  [b]\nk = v\n", CRED, "b", "k", "v", "indented section header");
    value_is("[a]\n  k = v\nj = w\n", CRED, "a", "j", "w", "indented first key");
    value_is("[DEFAULT]\nregion = d\n[default]\nj = 1\n", CONF, "default", "region", "d",
             "config: [DEFAULT] values reach [default]...");
    missing("[DEFAULT]\nregion = d\n", CONF, "default", "region",
            "... but [DEFAULT] alone is no profile");
    value_is("[a]\nj = 1\n[DEFAULT]\nregion = d\n", CRED, "a", "region", "d",
             "[DEFAULT] supplies values to every section");
    value_is("[DEFAULT]\nregion = d\n[a]\nregion = own\n", CRED, "a", "region", "own",
             "a section's own value beats [DEFAULT]");
}

static void test_continuations(void)
{
    const char *nested = "[a]\ns3 =\n  max_concurrent_requests = 10\n  # c\n\n"
                         "  addressing_style = path\naws_access_key_id = AK\nregion = r\n";

    value_is(nested, CRED, "a", "aws_access_key_id", "AK", "key after an s3 = block");
    value_is(nested, CRED, "a", "region", "r", "... and the one after it");
    tap_ok(lk(nested, CRED, "a", "s3") == SMT_ERR_FORMAT && strstr(diag.msg, "F:2: ") != NULL,
           "the nested block itself is not a value (line 2)");
    missing(nested, CRED, "a", "max_concurrent_requests", "nested keys are not profile keys");
    value_is("[a]\nk = v\n  x=1\n", CRED, "a", "k", "v\nx=1", "continuation joins with newline");
    value_is("[a]\nk = v\n\n  x = y\n\nj = 1\n", CRED, "a", "k", "v\n\nx = y",
             "blank lines inside a value are kept, trailing ones dropped");
    value_is("[a]\nk = v\n\n  x = y\n\nj = 1\n", CRED, "a", "j", "1", "the key after it");
    value_is("[a]\nk =\n\nj = 1\n", CRED, "a", "k", "", "empty value then blank line");
    refused("[a]\ns3 =\n  novalue\n", CRED, 3, "nested line without '=' refuses the file");
    value_is("[a]\n  k = v\n    more\n  j = w\n", CRED, "a", "k", "v\nmore",
             "continuation relative to the key's indent");
}

static void test_errors(void)
{
    refused("[a]\nk = 1\nk = 2\n", CRED, 3, "duplicate key: line of the second");
    refused("[a]\nK = 1\nk = 2\n", CRED, 3, "duplicate key differing in case");
    refused("[a]\nk = 1\n[b]\nj = 1\n[a]\nj = 2\n", CRED, 5, "duplicate section");
    refused("[DEFAULT]\nk = 1\n[DEFAULT]\nk = 2\n", CRED, 4, "duplicate key across [DEFAULT]s");
    value_is("[DEFAULT]\nk = 1\n[DEFAULT]\nj = 2\n[a]\n", CRED, "a", "j", "2",
             "[DEFAULT] may repeat");
    value_is("[a]\nk = 1\n[b]\nk = 2\n", CRED, "b", "k", "2", "same key in two sections");
    refused("k = 1\n[a]\n", CRED, 1, "a key before any section");
    refused("\n# c\nk = 1\n[a]\n", CRED, 3, "... with its real line number");
    refused("[a]\nfoo\nk = 1\n", CRED, 2, "a line without '='");
    refused("[a]\n= 1\n", CRED, 2, "an empty key");
    refused("[a]\nk = \xff\n", CRED, 2, "invalid UTF-8 (0xff)");
    refused("[a]\nk = 1\nj = \xc3\x28\n", CRED, 3, "invalid UTF-8 (bad continuation byte)");
    refused("[a]\nk = \xed\xa0\x80\n", CRED, 2, "invalid UTF-8 (surrogate)");
    refused("[a]\nk = \xc0\xaf\n", CRED, 2, "invalid UTF-8 (overlong)");
    refused("[a]\nk = \xe2\x82\n", CRED, 2, "invalid UTF-8 (truncated sequence)");
    refused("\xef\xbb\xbf[a]\nk = 1\n", CRED, 1, "a BOM (botocore reads plain utf-8)");
    refused("[a]\nk = 1\nj = 1\n[a\n", CRED, 4, "truncated section header");
    refused("[a]\nk = 1\naws_access_key", CRED, 3, "file cut in the middle of a key");
    refused("[a]\nk = 1\nk = 2\nfoo\n", CRED, 3, "the earliest error is reported");
    refused("[a]\nfoo\nk = 1\nk = 2\n", CRED, 2, "the earliest error is reported (2)");
    tap_ok(lk("[b]\nk = 1\n[a]\nj = 1\nj = 2\n", CRED, "b", "k") == SMT_ERR_FORMAT,
           "an error anywhere refuses the lookup of any profile");
    tap_ok(lk("", CRED, "a", "k") == SMT_ERR_NOT_FOUND, "empty file: nothing");
    tap_ok(lk("\n\n# only comments\n", CRED, "a", NULL) == SMT_ERR_NOT_FOUND,
           "comments only: nothing");
    tap_ok(lk("[a]\nk = 1\nk = 2\n", CRED, "a", "k") == SMT_ERR_FORMAT &&
               strstr(diag.msg, "duplicate key 'k'") && strstr(diag.msg, "line 2"),
           "duplicate message names the key and the first line");
}

/* An embedded NUL would cut the value where callers treat it as a C string (found by fuzzing:
 * "credential_process = /bi\0\0\0\0ho" came back as 10 bytes whose strlen is 3). */
static void test_nul(void)
{
    static const char crash[] = "[default]\naws_access_key_id = AK\naws_secret_access_key=SK\n"
                                "[profile work]\nregion = us-east-1\n"
                                "credential_process = /bi\0\0\0\0ho";
    static const char other[] = "[profile work]\nnote = a\0b\nregion = us-east-1\n";
    char *v = NULL;
    size_t n = 0;
    int r;

    memset(&diag, 0, sizeof(diag));
    r = smt_awsfile_lookup(crash, sizeof(crash) - 1, "F", CONF, "work", "credential_process", &v,
                           &n, &diag);
    if (!tap_ok(r == SMT_ERR_FORMAT && !v && strncmp(diag.msg, "F:6: ", 5) == 0 &&
                    strstr(diag.msg, "NUL"),
                "a value with a NUL byte is refused, with its line: %s", diag.msg))
        tap_diag("r=%d n=%zu", r, n);
    if (v)
        sodium_free(v);
    v = NULL;
    tap_ok(smt_awsfile_lookup(crash, sizeof(crash) - 1, "F", CONF, "work", "region", &v, &n,
                              &diag) == 0 &&
               v && strcmp(v, "us-east-1") == 0,
           "... while the file's other values still read");
    if (v)
        sodium_free(v);
    v = NULL;
    tap_ok(smt_awsfile_lookup(other, sizeof(other) - 1, "F", CONF, "work", "region", &v, &n,
                              &diag) == 0 &&
               v && n == 9 && strlen(v) == n,
           "a NUL in another key's value does not matter");
    if (v)
        sodium_free(v);
}

static void test_sizes(void)
{
    size_t sizes[] = {3000, 16384, 100000};

    for (size_t s = 0; s < 3; s++) {
        size_t n = sizes[s];
        char *val = malloc(n + 1), *text = malloc(n + 200);

        for (size_t i = 0; i < n; i++)
            val[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[i % 64];
        val[n] = '\0';
        snprintf(text, n + 200, "[a]\naws_access_key_id = AK\naws_session_token = %s\nregion = r\n",
                 val);
        tap_ok(lk(text, CRED, "a", "aws_session_token") == 0 && got_len == n &&
                   memcmp(got, val, n) == 0,
               "a %zu-byte value comes back whole", n);
        value_is(text, CRED, "a", "region", "r", "the key after it");
        /* cut the file at every 997th byte: never a crash, never a wrong value */
        for (size_t cut = 0; cut < strlen(text); cut += 997) {
            int r = smt_awsfile_lookup(text, cut, "F", CRED, "a", "aws_access_key_id", NULL, NULL,
                                       NULL);
            if (r != 0 && r != SMT_ERR_NOT_FOUND && r != SMT_ERR_FORMAT) {
                tap_ok(0, "cut at %zu: r=%d", cut, r);
                break;
            }
        }
        free(val);
        free(text);
    }
}

/* Every single-bit flip and every truncation of a realistic file: a defined result, and when a
 * value is found it is inside the file. */
static void test_mutations(void)
{
    const char *base = "[default]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = "
                       "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n# comment\n[profile p]\n"
                       "s3 =\n  x = 1\nregion: us-west-2\n";
    size_t n = strlen(base);
    char *buf = malloc(n);
    int bad = 0;

    for (size_t i = 0; i < n * 8; i++) {
        char *v = NULL;
        size_t vn = 0;
        int r;

        memcpy(buf, base, n);
        buf[i / 8] ^= (char)(1 << (i % 8));
        for (int kind = 0; kind < 2; kind++) {
            r = smt_awsfile_lookup(buf, n, "F", (enum smt_awsfile_kind)kind, kind ? "p" : "default",
                                   kind ? "region" : "aws_access_key_id", &v, &vn, NULL);
            if (r == 0) {
                if (vn > n || v[vn] != '\0')
                    bad++;
                sodium_free(v);
                v = NULL;
            } else if (r != SMT_ERR_NOT_FOUND && r != SMT_ERR_FORMAT) {
                bad++;
            }
        }
    }
    for (size_t cut = 0; cut <= n; cut++) {
        int r = smt_awsfile_lookup(base, cut, "F", CRED, "default", "aws_secret_access_key", NULL,
                                   NULL, NULL);
        if (r != 0 && r != SMT_ERR_NOT_FOUND && r != SMT_ERR_FORMAT)
            bad++;
    }
    tap_ok(bad == 0, "%zu bit flips and %zu truncations: defined results (%d bad)", n * 8, n + 1,
           bad);
    free(buf);
}

static void argv_is(const char *s, const char *const *want, const char *desc)
{
    char **v = NULL;
    size_t n = 0, k = 0;
    int r = smt_shlex_split(s, strlen(s), &v, &n), ok = r == 0;

    for (; ok && want[k]; k++)
        ok = k < n && strcmp(v[k], want[k]) == 0;
    ok = ok && k == n && v[n] == NULL;
    if (!tap_ok(ok, "shlex: %s", desc))
        tap_diag("r=%d n=%zu", r, n);
    smt_strv_free(v);
}

static void test_shlex(void)
{
    char **v = NULL;

    argv_is("a b", (const char *[]){"a", "b", NULL}, "words");
    argv_is("  a\t b  ", (const char *[]){"a", "b", NULL}, "extra whitespace");
    argv_is("a \"b c\" d", (const char *[]){"a", "b c", "d", NULL}, "double quotes");
    argv_is("a\\ b", (const char *[]){"a b", NULL}, "escaped space");
    argv_is("\"a\\b\" \"a\\\\b\" \"a\\\"b\"", (const char *[]){"a\\b", "a\\b", "a\"b", NULL},
            "backslashes inside double quotes");
    argv_is("'a\\b'", (const char *[]){"a\\b", NULL}, "single quotes are literal");
    argv_is("a#b", (const char *[]){"a#b", NULL}, "no comments");
    argv_is("x \"\"", (const char *[]){"x", "", NULL}, "empty quoted word");
    argv_is("a\"b\"c", (const char *[]){"abc", NULL}, "quotes inside a word");
    argv_is("", (const char *[]){NULL}, "empty line: no words");
    tap_ok(smt_shlex_split("\"a", 2, &v, NULL) == SMT_ERR_FORMAT, "shlex: unclosed quote");
    tap_ok(smt_shlex_split("a\\", 2, &v, NULL) == SMT_ERR_FORMAT, "shlex: trailing backslash");
    tap_ok(smt_shlex_split("a\0b", 3, &v, NULL) == SMT_ERR_FORMAT, "shlex: NUL byte");
}

static void test_read(void)
{
    char dir[] = "/tmp/test-awsfiles.XXXXXX", path[300];
    struct smt_awsfile *f = NULL;
    char *v = NULL;
    FILE *fp;

    if (!mkdtemp(dir)) {
        tap_ok(0, "mkdtemp");
        return;
    }
    snprintf(path, sizeof(path), "%s/missing", dir);
    tap_ok(smt_awsfile_read(path, CRED, &f, &diag) == 0 && f && !f->data,
           "a missing file reads as absent");
    tap_ok(smt_awsfile_get(f, "default", "k", &v, NULL, &diag) == SMT_ERR_NOT_FOUND,
           "... and has no values");
    smt_awsfile_free(f);
    f = NULL;
    tap_ok(smt_awsfile_read(dir, CRED, &f, &diag) == 0 && f && !f->data,
           "a directory reads as absent (botocore: os.path.isfile)");
    smt_awsfile_free(f);
    f = NULL;
    snprintf(path, sizeof(path), "%s/credentials", dir);
    fp = fopen(path, "w");
    fputs("[default]\naws_access_key_id = AKFILE\n", fp);
    fclose(fp);
    tap_ok(smt_awsfile_read(path, CRED, &f, &diag) == 0 && f && f->data && f->len == 37,
           "a file is read whole");
    tap_ok(smt_awsfile_get(f, "default", "aws_access_key_id", &v, NULL, &diag) == 0 &&
               strcmp(v, "AKFILE") == 0,
           "... and looked up");
    if (v)
        sodium_free(v);
    tap_ok(smt_awsfile_check(f, &diag) == 0, "... and it parses");
    smt_awsfile_free(f);
    f = NULL;
    fp = fopen(path, "w");
    fputs("[default]\nk = 1\nk = 2\n", fp);
    fclose(fp);
    tap_ok(smt_awsfile_read(path, CRED, &f, &diag) == 0 && smt_awsfile_check(f, &diag) < 0 &&
               strstr(diag.msg, path) && strstr(diag.msg, ":3: "),
           "check names the file and the line: %s", diag.msg);
    smt_awsfile_free(f);
    f = NULL;
    /* A FIFO nobody writes to (a stale AWS_CONFIG_FILE=<(...)): absent, like botocore's
     * os.path.isfile says, and never a hang of the agent (the alarm makes a hang a failure). */
    unlink(path);
    if (mkfifo(path, 0600) == 0) {
        alarm(30);
        tap_ok(smt_awsfile_read(path, CRED, &f, &diag) == 0 && f && !f->data,
               "a FIFO without a writer reads as absent, without blocking");
        alarm(0);
        smt_awsfile_free(f);
    } else {
        tap_skip("mkfifo failed; cannot check that a FIFO is skipped");
    }
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    if (sodium_init() < 0)
        return 99;
    test_sections();
    test_syntax();
    test_continuations();
    test_errors();
    test_nul();
    test_sizes();
    test_mutations();
    test_shlex();
    test_read();
    return tap_done();
}
