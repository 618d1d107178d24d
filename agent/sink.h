/* smtoken: the safe token-file writer (DESIGN §6), shared by `smtoken write` and the agent's
 * `sink = PATH` endpoints.
 *
 * smt_sink_write() puts bytes into a file so that a reader sees either the old file or the
 * complete new one, never a partial file, and so that no other user can redirect or read it:
 *
 * - The parent directory is resolved (realpath) and then walked again from "/" one component at
 *   a time with O_NOFOLLOW, so what is checked is what is written into.  Every ancestor must be
 *   owned by root or by us and, if group/world-writable, sticky (like /tmp).  The parent itself
 *   must be owned by us and not group/world-writable at all: writing straight into /tmp (or any
 *   shared directory, sticky or not) is refused, because another user could have created the
 *   name first or watch it; use a private directory such as $XDG_RUNTIME_DIR/smtoken or
 *   `mkdir -m 700 /tmp/smtoken-$UID`.
 * - An existing target must be a regular file owned by us (a symlink, directory, fifo, device
 *   or another user's file is refused; a symlink's target is never touched).
 * - The bytes go to a new temp file in the same directory (openat O_CREAT|O_EXCL|O_NOFOLLOW|
 *   O_CLOEXEC, mode exactly 0600 whatever the umask), are fsync'd, the temp file is renamed
 *   over the target and the directory is fsync'd.  On failure the temp file is truncated and
 *   unlinked, and the target keeps its old contents.
 *
 * libc only (plus proto/err for the diagnostics): the client links this file too.
 *
 * smt_sink_render() builds the file contents.  It reuses the client's quoting (client/shell.c,
 * which is pure: proto + libc), so `write --format env` and `smtoken env` print the same bytes;
 * whatever links agent/sink.c must also link client/shell.c, proto/buf.c and proto/err.c.
 */
#ifndef SMT_SINK_H
#define SMT_SINK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/buf.h"
#include "proto/err.h"

enum smt_sink_format {
    SMT_SINK_RAW,    /* the token and a newline */
    SMT_SINK_ENV,    /* `smtoken env --shell sh`: export K='v'; lines, for `. FILE` */
    SMT_SINK_DOTENV, /* `smtoken env --shell dotenv`: K='v' lines (docker, systemd, dotenv) */
    SMT_SINK_JSON,   /* `smtoken token --json`: {"token":…,"expires_at":N,"base_url":…} */
};

/* The names, in enum order.  Inline so that agent/config.c can parse `sink_format =` without
 * linking the writer (and what it links). */
static inline const char *smt_sink_format_name(enum smt_sink_format f)
{
    static const char *const names[] = {"raw", "env", "dotenv", "json"};

    return (unsigned)f < sizeof(names) / sizeof(names[0]) ? names[f] : "?";
}

/* "raw", "env", "dotenv", "json" -> the format; SMT_ERR_INVALID for anything else (*ret
 * untouched). */
static inline int smt_sink_format_parse(const char *name, enum smt_sink_format *ret)
{
    unsigned i;

    for (i = 0; name && ret && i <= SMT_SINK_JSON; i++) {
        if (strcmp(name, smt_sink_format_name((enum smt_sink_format)i)) == 0) {
            *ret = (enum smt_sink_format)i;
            return 0;
        }
    }
    return SMT_ERR_INVALID;
}

/* A buffer this large always holds smt_sink_render's output for tokens and base URLs that fit
 * the protocol's string caps; use it as smt_buf_new()'s max_size. */
#define SMT_SINK_RENDER_MAX (256 * 1024)

/* Append the file contents for format f to out.  token must be the service's prefix + base64
 * (service 0 sagemaker, 1 bedrock); base_url (ignored for raw) must be non-empty without quotes
 * or control characters.  SMT_ERR_FORMAT with d set (never quoting the token) otherwise; on
 * failure out may hold part of the output (smt_buf_reset it). */
int smt_sink_render(struct smt_buf *out, enum smt_sink_format f, const char *token,
                    uint64_t expires_at, const char *base_url, uint8_t service,
                    struct smt_diag *d) SMT_WUR;

/* Flags smt_sink_write reports through ret_flags (warnings only: the file was written). */
#define SMT_SINK_NOT_TMPFS 0x1u /* the directory is not on tmpfs/ramfs: the token may hit disk */

/* Write len bytes of data to path as described above.  Returns 0 and sets *ret_flags (may be
 * NULL); or SMT_ERR_UNSAFE (symlink, not a regular file, shared or foreign directory),
 * SMT_ERR_PERM (owned by someone else), SMT_ERR_NOT_FOUND (no such directory), SMT_ERR_INVALID
 * (empty path, a path ending in '/', "." or ".."), SMT_ERR_SYSTEM (errno kept), each with d set
 * to a message naming the path and, where it helps, a hint.  Nothing is logged. */
int smt_sink_write(const char *path, const void *data, size_t len, unsigned *ret_flags,
                   struct smt_diag *d) SMT_WUR;

#endif
