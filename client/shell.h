/* smtoken client: pure quoting and output formatting (no I/O, no clock, no environment), so that
 * every byte `smtoken` prints can be unit-tested (tests/unit/test-shell.c).
 *
 * Output is appended to a struct smt_buf (it wipes, and the caller prints it only once the whole
 * output is built, so a failure prints nothing on stdout).  Values are checked before they are
 * quoted: a token must be its service's prefix + standard base64; other values must hold no
 * single quote and no control character.  Failures are SMT_ERR_FORMAT with a message in diag
 * that never contains the value itself.
 */
#ifndef SMT_SHELL_H
#define SMT_SHELL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "proto/buf.h"
#include "proto/err.h"
#include "proto/msg.h"

enum smt_shell {
    SMT_SHELL_SH,     /* export K='v'; */
    SMT_SHELL_CSH,    /* setenv K 'v'; */
    SMT_SHELL_FISH,   /* set -gx K 'v'; */
    SMT_SHELL_JSON,   /* {"K":"v",...} */
    SMT_SHELL_DOTENV, /* K='v' */
};

/* "sh", "csh", "fish", "json", "dotenv" (also "bash", "zsh", "ksh", "dash" as sh and "tcsh" as
 * csh). SMT_ERR_INVALID for anything else. */
int smt_shell_parse(const char *name, enum smt_shell *ret) SMT_WUR;
/* The default for a $SHELL value (NULL ok): csh if it ends in csh (tcsh too), fish if it ends
 * in fish, sh otherwise. */
enum smt_shell smt_shell_default(const char *shell_env);

/* 0 when token is "sagemaker-api-key-" (service 0) or "bedrock-api-key-" (service 1) followed
 * by one or more of [A-Za-z0-9+/=]; SMT_ERR_FORMAT otherwise. */
int smt_shell_check_token(const char *token, uint8_t service) SMT_WUR;
/* 0 when v holds no single quote, no byte below 0x20 and no DEL; SMT_ERR_FORMAT otherwise. */
int smt_shell_check_value(const char *v) SMT_WUR;

/* The variables `env` and `exec` set, in order. */
#define SMT_ENV_MAX 5
struct smt_env {
    size_t n;
    const char *name[SMT_ENV_MAX];
    const char *value[SMT_ENV_MAX]; /* point into the token reply, or at expires below */
    char expires[24];
};
/* Fill e from a TOKEN reply after checking it (token alphabet, a non-empty base URL without
 * quotes or control characters).  e points into t: keep t alive while e is used. */
int smt_env_from_token(struct smt_env *e, const struct smt_msg_token *t,
                       struct smt_diag *d) SMT_WUR;
/* Every name `env` may set (for --unset); *ret_n of them. */
const char *const *smt_env_all_names(size_t *ret_n);

/* The lines (or JSON object) that set e's variables in shell sh. */
int smt_shell_format_env(struct smt_buf *out, enum smt_shell sh, const struct smt_env *e,
                         struct smt_diag *d) SMT_WUR;
/* The lines that unset every name smt_env_all_names() lists: sh, csh, fish only
 * (SMT_ERR_INVALID for json and dotenv, which have no "unset"). */
int smt_shell_format_unset(struct smt_buf *out, enum smt_shell sh) SMT_WUR;
/* `token --json`: {"token":"…","expires_at":N,"base_url":"…"} and a newline. */
int smt_format_token_json(struct smt_buf *out, const struct smt_msg_token *t,
                          struct smt_diag *d) SMT_WUR;
/* A JSON string literal (quotes included) with every character JSON requires escaped. */
int smt_json_put_string(struct smt_buf *out, const char *s) SMT_WUR;

/* Copy src into dst (always NUL-terminated) with control characters and DEL shown as '?', so
 * a peer's string cannot move the cursor or recolour a terminal. Returns dst. */
char *smt_sanitize(char *dst, size_t dst_size, const char *src);
/* "2024-05-01T12:00:00Z" for an epoch time, "-" for 0. Returns buf. */
char *smt_format_time(char *buf, size_t size, uint64_t t);
/* "in 14m", "3h ago", "now"; from t relative to now. Returns buf. */
char *smt_format_relative(char *buf, size_t size, uint64_t t, time_t now);

/* `list`: one line per endpoint: name, service, region, profile ("-" = default chain), token
 * expiry ("-" = none cached), and "default" on the default endpoint; columns aligned. */
int smt_format_list(struct smt_buf *out, const struct smt_msg_list *l) SMT_WUR;
/* `status`: a block per endpoint with credential source and expiry, token expiry, last refresh
 * and last error, relative to now.  Neither prints a token (a LIST_REPLY holds none). */
int smt_format_status(struct smt_buf *out, const struct smt_msg_list *l, time_t now) SMT_WUR;

#endif
