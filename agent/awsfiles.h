/* smtoken-agent: reader for the AWS CLI's shared files (~/.aws/credentials, ~/.aws/config).
 *
 * Same reading as botocore (configloader.py over Python's RawConfigParser): sections `[name]` in
 * the credentials file, `[profile name]` / `[default]` in the config file (the name after
 * "profile" is shlex-split; `[profile default]` and `[default]` name one profile, the later
 * section wins); `key = value` or `key: value` split at the first of '=' / ':'; keys are
 * case-insensitive; whole-line `#` / `;` comments, no inline comments; an indented line continues
 * the previous value (an empty first value makes it a block of nested `k = v` settings, as in
 * `s3 =`); `[DEFAULT]` supplies values to every section.  Like botocore, a file it cannot parse
 * (a duplicate section or key, a line that is neither, invalid UTF-8) is an error for the whole
 * file, reported as "FILE:LINE: what is wrong".  No line or value length limit.
 *
 * Inih is not used here: it has a 200-byte line limit and session tokens run to several KB
 * (NOTES.md).  Files are read with open/read into sodium_malloc memory and wiped when freed.
 */
#ifndef SMT_AWSFILES_H
#define SMT_AWSFILES_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/err.h"

#define SMT_AWSFILE_MAX (1024 * 1024) /* larger files are refused */

enum smt_awsfile_kind {
    SMT_AWSFILE_CREDENTIALS = 0, /* sections are profile names */
    SMT_AWSFILE_CONFIG = 1,      /* [profile NAME] and [default] */
};

struct smt_awsfile {
    char *path; /* malloc'd, for messages */
    char *data; /* sodium_malloc'd copy of the file (len bytes + NUL); NULL if it does not exist */
    size_t len;
    enum smt_awsfile_kind kind;
};

/* Read path (at most SMT_AWSFILE_MAX bytes).  A missing file is not an error: *ret then has
 * data == NULL and every lookup finds nothing.  Other failures: message in d. */
int smt_awsfile_read(const char *path, enum smt_awsfile_kind kind, struct smt_awsfile **ret,
                     struct smt_diag *d) SMT_WUR;
/* Wipes and frees; NULL is accepted. */
void smt_awsfile_free(struct smt_awsfile *f);

/* Pure lookup over text (len bytes, need not be NUL-terminated); name is used in messages.
 * key NULL: 0 when the profile has a section, else SMT_ERR_NOT_FOUND.
 * key non-NULL (lower case): 0 and *ret_value (sodium_malloc'd, NUL-terminated, *ret_len bytes,
 * release with sodium_free, which wipes; ret_value and ret_len may be NULL) when the profile sets
 * it; SMT_ERR_NOT_FOUND when it
 * does not; SMT_ERR_FORMAT (with "NAME:LINE: ..." in d) when the file cannot be parsed or the key
 * holds nested settings or a NUL byte instead of a value.  Messages never quote a value. */
int smt_awsfile_lookup(const char *text, size_t len, const char *name, enum smt_awsfile_kind kind,
                       const char *profile, const char *key, char **ret_value, size_t *ret_len,
                       struct smt_diag *d) SMT_WUR;
/* The same over a file read with smt_awsfile_read (ret_len may be NULL). */
int smt_awsfile_get(const struct smt_awsfile *f, const char *profile, const char *key,
                    char **ret_value, size_t *ret_len, struct smt_diag *d) SMT_WUR;
/* Check the whole file parses (0 or SMT_ERR_FORMAT with d). */
int smt_awsfile_check(const struct smt_awsfile *f, struct smt_diag *d) SMT_WUR;

/* Split a command line like Python's shlex.split(s) (POSIX mode, no comments): whitespace
 * separates words, '...' is literal, "..." honours \" and \\, a backslash outside quotes escapes
 * the next character.  No shell is involved.  An unclosed quote or a trailing backslash is
 * SMT_ERR_FORMAT.  *ret_argv is a malloc'd NULL-terminated vector (free with smt_strv_free). */
int smt_shlex_split(const char *s, size_t len, char ***ret_argv, size_t *ret_argc) SMT_WUR;
void smt_strv_free(char **v);

/* Strict UTF-8 (as Python decodes): no overlong forms, surrogates or code points past U+10FFFF. */
bool smt_utf8_valid(const void *p, size_t n);

#endif
