/* Unit tests for agent/sink.c: every format's exact bytes, and the writer's refusals (symlink,
 * directory, fifo, shared or foreign directories), its mode, its atomic replace and that no
 * temp file is ever left behind.  Works as root or not (ownership cases need root to chown). */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include "agent/sink.h"
#include "tests/tap.h"

#define TOK  "sagemaker-api-key-c2FnZW1ha2VyLmFtYXpvbmF3cy5jb20vP0FjdGlvbj0x+/="
#define BTOK "bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29tLz9BY3Rpb249MQ=="
#define URL  "https://runtime.sagemaker.us-west-2.amazonaws.com/endpoints/e/openai/v1"

static char root[1024]; /* a private directory for the whole test */
static char text[64 * 1024];

static const char *at(const char *rel)
{
    static char p[4][2048];
    static int k;

    k = (k + 1) % 4;
    snprintf(p[k], sizeof(p[k]), "%s/%s", root, rel);
    return p[k];
}

/* The file's bytes as a C string, or NULL. */
static const char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    size_t n;

    if (!f)
        return NULL;
    n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static int put_file(const char *path, const char *s)
{
    FILE *f = fopen(path, "w");
    int ok;

    if (!f)
        return 0;
    ok = fputs(s, f) >= 0;
    return fclose(f) == 0 && ok;
}

/* The names in dir (without . and ..), sorted, joined with spaces. */
static const char *listing(const char *dir)
{
    static char out[4096];
    struct dirent **ents = NULL;
    int n, i;
    size_t len = 0;

    out[0] = '\0';
    n = scandir(dir, &ents, NULL, alphasort);
    for (i = 0; i < n; i++) {
        if (strcmp(ents[i]->d_name, ".") != 0 && strcmp(ents[i]->d_name, "..") != 0 &&
            len + strlen(ents[i]->d_name) + 2 < sizeof(out))
            len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", len ? " " : "",
                                    ents[i]->d_name);
        free(ents[i]);
    }
    free(ents);
    return n < 0 ? "(unreadable)" : out;
}

static int write_str(const char *path, const char *s, unsigned *flags, struct smt_diag *d)
{
    return smt_sink_write(path, s, strlen(s), flags, d);
}

static int make_dir(const char *rel, mode_t mode)
{
    return mkdir(at(rel), 0700) == 0 && chmod(at(rel), mode) == 0;
}

static void render_is(enum smt_sink_format f, const char *tok, uint8_t svc, const char *url,
                      const char *want, const char *what)
{
    struct smt_buf *b = smt_buf_new(SMT_SINK_RENDER_MAX);
    struct smt_diag d = {.msg = ""};
    size_t n;
    int r;

    r = smt_sink_render(b, f, tok, 1700000000, url, svc, &d);
    n = smt_buf_len(b) < sizeof(text) - 1 ? smt_buf_len(b) : sizeof(text) - 1;
    memcpy(text, smt_buf_ptr(b), n);
    text[n] = '\0';
    tap_ok(r == 0 && tap_streq(text, want, what), "%s", what);
    smt_buf_free(b);
}

static void test_formats(void)
{
    struct smt_buf *b = smt_buf_new(SMT_SINK_RENDER_MAX);
    struct smt_diag d = {.msg = ""};
    enum smt_sink_format f = SMT_SINK_RAW;
    int r;

    tap_ok(smt_sink_format_parse("raw", &f) == 0 && f == SMT_SINK_RAW &&
               smt_sink_format_parse("env", &f) == 0 && f == SMT_SINK_ENV &&
               smt_sink_format_parse("dotenv", &f) == 0 && f == SMT_SINK_DOTENV &&
               smt_sink_format_parse("json", &f) == 0 && f == SMT_SINK_JSON,
           "format names parse");
    tap_ok(smt_sink_format_parse("yaml", &f) == SMT_ERR_INVALID &&
               smt_sink_format_parse("", &f) == SMT_ERR_INVALID &&
               smt_sink_format_parse(NULL, &f) == SMT_ERR_INVALID && f == SMT_SINK_JSON,
           "unknown format refused, *ret untouched");
    tap_ok(strcmp(smt_sink_format_name(SMT_SINK_DOTENV), "dotenv") == 0 &&
               strcmp(smt_sink_format_name((enum smt_sink_format)9), "?") == 0,
           "format names print");

    render_is(SMT_SINK_RAW, TOK, 0, NULL, TOK "\n", "raw: the token and a newline");
    render_is(SMT_SINK_ENV, TOK, 0, URL,
              "export OPENAI_API_KEY='" TOK "';\n"
              "export OPENAI_BASE_URL='" URL "';\n"
              "export OPENAI_API_BASE='" URL "';\n"
              "export SMTOKEN_EXPIRES_AT='1700000000';\n",
              "env: sh exports, as smtoken env");
    render_is(SMT_SINK_ENV, BTOK, 1, URL,
              "export OPENAI_API_KEY='" BTOK "';\n"
              "export OPENAI_BASE_URL='" URL "';\n"
              "export OPENAI_API_BASE='" URL "';\n"
              "export SMTOKEN_EXPIRES_AT='1700000000';\n"
              "export AWS_BEARER_TOKEN_BEDROCK='" BTOK "';\n",
              "env for bedrock adds AWS_BEARER_TOKEN_BEDROCK");
    render_is(SMT_SINK_DOTENV, TOK, 0, URL,
              "OPENAI_API_KEY='" TOK "'\n"
              "OPENAI_BASE_URL='" URL "'\n"
              "OPENAI_API_BASE='" URL "'\n"
              "SMTOKEN_EXPIRES_AT='1700000000'\n",
              "dotenv: K='v' lines");
    render_is(SMT_SINK_JSON, TOK, 0, URL,
              "{\"token\":\"" TOK "\",\"expires_at\":1700000000,\"base_url\":\"" URL "\"}\n",
              "json: one object, as smtoken token --json");

    r = smt_sink_render(b, SMT_SINK_RAW, "sagemaker-api-key-ab';rm -rf ~;'", 1, URL, 0, &d);
    tap_ok(r == SMT_ERR_FORMAT && d.msg[0] && !strstr(d.msg, "rm -rf"),
           "raw: a malformed token is refused and not quoted in the message");
    smt_buf_reset(b);
    tap_ok(smt_sink_render(b, SMT_SINK_RAW, TOK, 1, URL, 1, &d) == SMT_ERR_FORMAT,
           "raw: a SageMaker token for a Bedrock endpoint is refused");
    smt_buf_reset(b);
    tap_ok(smt_sink_render(b, SMT_SINK_ENV, TOK, 1, "http://h/it's", 0, &d) == SMT_ERR_FORMAT,
           "env: a base URL with a quote is refused");
    smt_buf_reset(b);
    tap_ok(smt_sink_render(b, SMT_SINK_DOTENV, TOK, 1, "http://h/a\\b", 0, &d) == SMT_ERR_FORMAT,
           "dotenv: a base URL with a backslash is refused");
    smt_buf_reset(b);
    tap_ok(smt_sink_render(b, SMT_SINK_JSON, TOK, 1, "", 0, &d) == SMT_ERR_FORMAT,
           "json: an empty base URL is refused");
    smt_buf_reset(b);
    tap_ok(smt_sink_render(b, (enum smt_sink_format)7, TOK, 1, URL, 0, &d) == SMT_ERR_INVALID,
           "an out-of-range format is refused");
    smt_buf_free(b);
}

static void test_write_new_and_replace(void)
{
    struct smt_diag d = {.msg = ""};
    struct stat st1, st2;
    unsigned flags = 99;
    struct statfs sf;
    mode_t old;
    int r, tmpfs;

    old = umask(0);
    r = write_str(at("a"), "first\n", &flags, &d);
    umask(old);
    tap_ok(r == 0 && stat(at("a"), &st1) == 0 && (st1.st_mode & 07777) == 0600,
           "umask 0: new file has mode 0600 (%s)", d.msg);
    tap_ok(tap_streq(slurp(at("a")), "first\n", "content"), "content is exact");
    tap_ok(statfs(root, &sf) == 0, "statfs the test directory");
    tmpfs = sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC;
    tap_ok(flags == (tmpfs ? 0u : SMT_SINK_NOT_TMPFS), "not-on-tmpfs flag matches statfs (%s)",
           tmpfs ? "tmpfs" : "not tmpfs");

    old = umask(0277);
    r = write_str(at("a"), "second, longer than the first\n", NULL, &d);
    umask(old);
    tap_ok(r == 0 && stat(at("a"), &st2) == 0 && (st2.st_mode & 07777) == 0600,
           "umask 0277: replaced file still has mode 0600");
    tap_ok(tap_streq(slurp(at("a")), "second, longer than the first\n", "content"),
           "replaced content is exact");
    tap_ok(st1.st_ino != st2.st_ino, "replace is a rename: the inode changed");
    tap_ok(chmod(at("a"), 0644) == 0 && write_str(at("a"), "", NULL, &d) == 0 &&
               stat(at("a"), &st2) == 0 && (st2.st_mode & 07777) == 0600 && st2.st_size == 0,
           "an empty write works and a looser old mode is not kept");
    tap_ok(tap_streq(listing(root), "a", "listing"), "no temp file left after success");

    /* A relative name is relative to the current directory. */
    tap_ok(chdir(root) == 0 && write_str("rel", "r\n", NULL, &d) == 0 &&
               tap_streq(slurp(at("rel")), "r\n", "rel"),
           "a relative file name works");
    tap_ok(chdir("/") == 0 && unlink(at("rel")) == 0, "cleanup");
}

static void test_refusals(void)
{
    struct smt_diag d = {.msg = ""};
    struct stat st;
    int r;

    /* A symlink target: refused, and the file it points to stays as it was. */
    tap_ok(put_file(at("victim"), "victim\n") && symlink(at("victim"), at("link")) == 0,
           "setup symlink");
    r = write_str(at("link"), "evil\n", NULL, &d);
    tap_ok(r == SMT_ERR_UNSAFE && strstr(d.msg, "symlink") && strstr(d.msg, at("link")),
           "a symlinked target is refused, the message names it (%s)", d.msg);
    tap_ok(tap_streq(slurp(at("victim")), "victim\n", "victim") && lstat(at("link"), &st) == 0 &&
               S_ISLNK(st.st_mode),
           "the symlink's target is untouched and the link stays a link");
    tap_ok(symlink(at("nowhere"), at("dangling")) == 0 &&
               write_str(at("dangling"), "x\n", NULL, &d) == SMT_ERR_UNSAFE &&
               access(at("nowhere"), F_OK) < 0,
           "a dangling symlink is refused and its target not created");

    tap_ok(mkdir(at("adir"), 0700) == 0 &&
               write_str(at("adir"), "x\n", NULL, &d) == SMT_ERR_UNSAFE &&
               strstr(d.msg, "not a regular file"),
           "a directory target is refused");
    tap_ok(mkfifo(at("fifo"), 0600) == 0 &&
               write_str(at("fifo"), "x\n", NULL, &d) == SMT_ERR_UNSAFE,
           "a fifo target is refused (and does not block)");

    tap_ok(write_str(at("missing/f"), "x\n", NULL, &d) == SMT_ERR_NOT_FOUND && d.hint[0],
           "a missing directory: not found, with a hint");
    tap_ok(write_str("", "x", NULL, &d) == SMT_ERR_INVALID &&
               write_str(at("adir/"), "x", NULL, &d) == SMT_ERR_INVALID &&
               write_str(at("adir/."), "x", NULL, &d) == SMT_ERR_INVALID &&
               write_str(at("adir/.."), "x", NULL, &d) == SMT_ERR_INVALID &&
               smt_sink_write(NULL, "x", 1, NULL, &d) == SMT_ERR_INVALID,
           "empty name, trailing slash, . and .. are refused");
    tap_ok(tap_streq(listing(root), "a adir dangling fifo link victim", "listing") &&
               tap_streq(listing(at("adir")), "", "adir"),
           "no temp file left after the refusals");
}

static void test_directories(void)
{
    static const mode_t bad[] = {0770, 0730, 0707, 0703, 01777, 01770};
    struct smt_diag d = {.msg = ""};
    char name[32];
    size_t i;
    int r;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(name, sizeof(name), "shared%04o", (unsigned)bad[i]);
        tap_ok(make_dir(name, bad[i]), "setup %s", name);
        snprintf(name + strlen(name), sizeof(name) - strlen(name), "/f");
        r = write_str(at(name), "x\n", NULL, &d);
        tap_ok(r == SMT_ERR_UNSAFE && strstr(d.msg, "writable") && d.hint[0],
               "parent with mode %04o is refused (%s)", (unsigned)bad[i], d.msg);
        tap_ok(access(at(name), F_OK) < 0, "and nothing was written into it");
        name[strlen(name) - 2] = '\0';
        tap_ok(tap_streq(listing(at(name)), "", name), "no temp file in %s", name);
    }

    /* A private directory below a shared non-sticky one: the shared one could rename it. */
    tap_ok(make_dir("open", 0777) && make_dir("open/private", 0700), "setup open/private");
    r = write_str(at("open/private/f"), "x\n", NULL, &d);
    tap_ok(r == SMT_ERR_UNSAFE && strstr(d.msg, "below"),
           "private dir inside a world-writable non-sticky dir is refused (%s)", d.msg);
    /* ...but below a sticky one (like /tmp) it is fine: that is how this test runs. */
    d.msg[0] = '\0';
    tap_ok(make_dir("sticky", 01777) && make_dir("sticky/private", 0700) &&
               write_str(at("sticky/private/f"), "x\n", NULL, &d) == 0,
           "private dir inside a sticky world-writable dir is accepted (%s)", d.msg);

    /* Writing straight into /tmp (or /dev/shm) is refused. */
    snprintf(name, sizeof(name), "/tmp/smt-sink-%ld", (long)getpid());
    r = write_str(name, "x\n", NULL, &d);
    tap_ok(r == SMT_ERR_UNSAFE && access(name, F_OK) < 0,
           "writing directly into /tmp is refused (%s)", d.msg);
    tap_ok(strstr(d.hint, "private directory") && !strstr(d.hint, "chmod"),
           "... and the hint is a private directory, never chmod /tmp (%s)", d.hint);
    if (r == 0)
        unlink(name);

    /* A symlinked parent is resolved: the file lands in the real directory. */
    d.msg[0] = '\0';
    tap_ok(make_dir("real", 0700) && symlink(at("real"), at("via")) == 0 &&
               write_str(at("via/f"), "v\n", NULL, &d) == 0 &&
               tap_streq(slurp(at("real/f")), "v\n", "real/f"),
           "a symlinked parent directory resolves to the real one (%s)", d.msg);
}

static void test_ownership(void)
{
    struct smt_diag d = {.msg = ""};
    int r;

    if (geteuid() != 0) {
        tap_skip("ownership cases need root to chown (running as uid %lu)",
                 (unsigned long)geteuid());
        return;
    }
    /* As root, "owned by someone else" is easy to set up. */
    tap_ok(put_file(at("theirs"), "theirs\n") && chown(at("theirs"), 65534, 65534) == 0,
           "setup a file owned by nobody");
    r = write_str(at("theirs"), "x\n", NULL, &d);
    tap_ok(r == SMT_ERR_PERM && tap_streq(slurp(at("theirs")), "theirs\n", "theirs"),
           "a target owned by another user is refused and untouched (%s)", d.msg);
    tap_ok(make_dir("foreign", 0700) && chown(at("foreign"), 65534, 65534) == 0,
           "setup a directory owned by nobody");
    r = write_str(at("foreign/f"), "x\n", NULL, &d);
    tap_ok(r == SMT_ERR_UNSAFE && strstr(d.msg, "owned by uid 65534"),
           "a parent owned by another user is refused (%s)", d.msg);
    tap_ok(make_dir("foreign/mine", 0700) == 1, "setup foreign/mine");
    r = write_str(at("foreign/mine/f"), "x\n", NULL, &d);
    tap_ok(r == SMT_ERR_UNSAFE && strstr(d.msg, "below"),
           "a private dir below another user's dir is refused (%s)", d.msg);
}

static void test_failed_write(void)
{
    static char big[256 * 1024];
    struct smt_diag d = {.msg = ""};
    struct rlimit old, lim;
    int r;

    /* A write that fails half-way (RLIMIT_FSIZE: EFBIG) leaves the old file and no temp. */
    tap_ok(make_dir("full", 0700) && put_file(at("full/t"), "old\n"), "setup full/t");
    memset(big, 'A', sizeof(big));
    signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 64 * 1024;
    tap_ok(setrlimit(RLIMIT_FSIZE, &lim) == 0, "setup RLIMIT_FSIZE 64 KiB");
    r = smt_sink_write(at("full/t"), big, sizeof(big), NULL, &d);
    setrlimit(RLIMIT_FSIZE, &old);
    tap_ok(r == SMT_ERR_SYSTEM && strstr(d.msg, at("full/t")),
           "a failing write reports an error naming the file (%s)", d.msg);
    tap_ok(tap_streq(slurp(at("full/t")), "old\n", "full/t"), "the old file is intact");
    tap_ok(tap_streq(listing(at("full")), "t", "full"), "no temp file left after the failure");
}

int main(void)
{
    char tmpl[] = "/tmp/smt-test-sink.XXXXXX";

    if (!mkdtemp(tmpl)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    snprintf(root, sizeof(root), "%s", tmpl);
    test_formats();
    test_write_new_and_replace();
    test_refusals();
    test_directories();
    test_ownership();
    test_failed_write();
    if (!tap_failed) {
        char cmd[PATH_MAX + 32];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        if (system(cmd) != 0)
            tap_diag("could not remove %s", root);
    } else {
        tap_diag("kept %s", root);
    }
    return tap_done();
}
