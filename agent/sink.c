/* smtoken: the safe token-file writer and the token-file formats (sink.h, DESIGN §6).
 *
 * Why the parent is walked from "/" instead of just opened: open(2) follows symlinks in every
 * component but the last, so a directory we check could sit below one that another user can
 * rename or re-point.  realpath() gives the canonical name (symlinks a user set up on purpose,
 * like /home -> /usr/home, still work); walking it again with O_NOFOLLOW proves that nothing
 * was swapped in between, and checking each ancestor's owner and mode (the rule OpenSSH's
 * safe_path applies to ~/.ssh) proves that nobody else can swap anything later.  Everything
 * after that is relative to the directory fd we checked (openat, fstatat, renameat).
 *
 * Only libc: `smtoken write` links this file.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "agent/sink.h"
#include "client/shell.h"
#include "proto/msg.h"

int smt_sink_render(struct smt_buf *out, enum smt_sink_format f, const char *token,
                    uint64_t expires_at, const char *base_url, uint8_t service, struct smt_diag *d)
{
    /* shell.c's formatters take a TOKEN reply; these pointers are only read. */
    struct smt_msg_token t = {
        .name = (char *)"sink",
        .service = service,
        .token = (char *)token,
        .expires_at = expires_at,
        .base_url = (char *)base_url,
    };
    struct smt_env e;
    int r;

    if (!out || (unsigned)f > SMT_SINK_JSON) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    switch (f) {
    case SMT_SINK_RAW:
        if (smt_shell_check_token(token, service) < 0) {
            r = smt_diag_set(d, SMT_ERR_FORMAT, "the token is malformed; not writing it");
            goto out;
        }
        if ((r = smt_buf_put(out, token, strlen(token))) < 0 || (r = smt_buf_put_u8(out, '\n')) < 0)
            goto out;
        break;
    case SMT_SINK_ENV:
    case SMT_SINK_DOTENV:
        if ((r = smt_env_from_token(&e, &t, d)) < 0 ||
            (r = smt_shell_format_env(out, f == SMT_SINK_ENV ? SMT_SHELL_SH : SMT_SHELL_DOTENV, &e,
                                      d)) < 0)
            goto out;
        break;
    case SMT_SINK_JSON:
        if ((r = smt_format_token_json(out, &t, d)) < 0)
            goto out;
        break;
    }
    r = 0;
out:
    return r;
}

/* ---- the writer ---- */

/* A directory we may walk through: owned by root or us, and writable by others only when
 * sticky (then others cannot rename or remove what is ours).  Returns 0 or SMT_ERR_UNSAFE. */
static int check_ancestor(const struct stat *st, const char *name, struct smt_diag *d)
{
    uid_t me = geteuid();

    if (st->st_uid != 0 && st->st_uid != me)
        return smt_diag_set(
            d, SMT_ERR_UNSAFE,
            "refusing to write below %s: it is owned by uid %lu, not by you or root", name,
            (unsigned long)st->st_uid);
    if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX))
        return smt_diag_set(d, SMT_ERR_UNSAFE,
                            "refusing to write below %s: it is group or world writable", name);
    return 0;
}

/* The directory the file goes into: ours, and nobody else may write to it. */
static int check_parent(const struct stat *st, const char *name, struct smt_diag *d)
{
    int r;

    if (st->st_uid != geteuid()) {
        r = smt_diag_set(d, SMT_ERR_UNSAFE,
                         "refusing to write into %s: it is owned by uid %lu, not by you", name,
                         (unsigned long)st->st_uid);
        smt_diag_hint(d, "use a private directory, e.g. $XDG_RUNTIME_DIR/smtoken (mkdir -m 700)");
        return r;
    }
    if (st->st_mode & (S_IWGRP | S_IWOTH)) {
        r = smt_diag_set(d, SMT_ERR_UNSAFE,
                         "refusing to write into %s: it is group or world writable", name);
        /* A sticky directory like /tmp is shared on purpose: never suggest opening it up. */
        if (st->st_mode & S_ISVTX)
            smt_diag_hint(d, "use a private directory in it: mkdir -m 700 %s/smtoken-$USER",
                          strcmp(name, "/") == 0 ? "" : name);
        else
            smt_diag_hint(d, "use a private directory (mkdir -m 700 DIR), or chmod go-w %s", name);
        return r;
    }
    return 0;
}

/* Open the canonical directory dir (from realpath) one component at a time, never following a
 * symlink, checking each level.  *ret_fd is an O_RDONLY directory fd (fsync needs one). */
static int open_dir_safely(const char *dir, int *ret_fd, struct smt_diag *d)
{
    char walked[PATH_MAX];
    const char *p = dir, *end;
    size_t len = 0, n;
    struct stat st;
    int fd = -1, nfd, r;

    if (dir[0] != '/') {
        r = smt_diag_set(d, SMT_ERR_INTERNAL, "%s is not an absolute directory name", dir);
        goto out;
    }
    walked[0] = '\0';
    if ((fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        r = smt_diag_set(d, SMT_ERR_SYSTEM, "cannot open /: %s", strerror(errno));
        goto out;
    }
    for (;;) {
        if (fstat(fd, &st) < 0) {
            r = smt_diag_set(d, SMT_ERR_SYSTEM, "cannot stat %s: %s", len ? walked : "/",
                             strerror(errno));
            goto out;
        }
        while (*p == '/')
            p++;
        if (!*p)
            break; /* fd is the directory itself: the caller checks it as the parent */
        if ((r = check_ancestor(&st, len ? walked : "/", d)) < 0)
            goto out;
        end = strchr(p, '/');
        n = end ? (size_t)(end - p) : strlen(p);
        if (len + 1 + n >= sizeof(walked)) {
            errno = ENAMETOOLONG;
            r = smt_diag_set(d, SMT_ERR_SYSTEM, "%s: %s", dir, strerror(errno));
            goto out;
        }
        walked[len++] = '/';
        memcpy(walked + len, p, n);
        len += n;
        walked[len] = '\0';
        nfd = openat(fd, walked + len - n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (nfd < 0 && errno == EACCES) /* a directory we may search but not list */
            nfd = openat(fd, walked + len - n, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (nfd < 0) {
            /* ELOOP/ENOTDIR: something changed since realpath() looked. */
            r = smt_diag_set(d,
                             errno == ELOOP || errno == ENOTDIR ? SMT_ERR_UNSAFE : SMT_ERR_SYSTEM,
                             "cannot open directory %s: %s", walked,
                             errno == ELOOP ? "it became a symlink" : strerror(errno));
            goto out;
        }
        close(fd);
        fd = nfd;
        p += n;
    }
    if ((r = check_parent(&st, dir, d)) < 0)
        goto out;
    /* The last level may have been opened O_PATH: reopen it for reading (fsync needs it). */
    if ((nfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        r = smt_diag_set(d, SMT_ERR_SYSTEM, "cannot open directory %s: %s", dir, strerror(errno));
        goto out;
    }
    close(fd);
    *ret_fd = nfd;
    fd = -1;
    r = 0;
out:
    if (fd >= 0)
        close(fd);
    return r;
}

/* Split path into its canonical directory (malloc'd) and its last component (points into
 * path). */
static int split_path(const char *path, char **ret_dir, const char **ret_base, struct smt_diag *d)
{
    const char *slash, *base;
    char *dirpart = NULL, *canon = NULL;
    size_t n = path ? strlen(path) : 0;
    int r;

    if (n == 0 || path[n - 1] == '/') {
        r = smt_diag_set(d, SMT_ERR_INVALID, "'%s' is not a file name", path ? path : "");
        goto out;
    }
    slash = strrchr(path, '/');
    base = slash ? slash + 1 : path;
    if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0 || strlen(base) > NAME_MAX) {
        r = smt_diag_set(d, SMT_ERR_INVALID, "'%s' is not a file name", path);
        goto out;
    }
    if (!slash)
        dirpart = strdup(".");
    else if (slash == path)
        dirpart = strdup("/");
    else
        dirpart = strndup(path, (size_t)(slash - path));
    if (!dirpart) {
        r = SMT_ERR_NOMEM;
        goto out;
    }
    if (!(canon = realpath(dirpart, NULL))) {
        r = smt_diag_set(d, errno == ENOENT ? SMT_ERR_NOT_FOUND : SMT_ERR_SYSTEM,
                         "cannot write %s: directory %s: %s", path, dirpart, strerror(errno));
        if (errno == ENOENT)
            smt_diag_hint(d, "create it first: mkdir -m 700 '%s'", dirpart);
        goto out;
    }
    *ret_dir = canon;
    canon = NULL;
    *ret_base = base;
    r = 0;
out:
    free(dirpart);
    free(canon);
    return r;
}

/* The existing target, if any, must be a regular file of ours; renameat would replace a
 * symlink or another user's file without a word, so look first. */
static int check_target(int dfd, const char *base, const char *path, struct smt_diag *d)
{
    struct stat st;
    int r;

    if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return 0;
        return smt_diag_set(d, SMT_ERR_SYSTEM, "cannot write %s: %s", path, strerror(errno));
    }
    if (S_ISLNK(st.st_mode)) {
        r = smt_diag_set(d, SMT_ERR_UNSAFE, "refusing to write %s: it is a symlink", path);
        smt_diag_hint(d, "give the real file name, or remove the link");
        return r;
    }
    if (!S_ISREG(st.st_mode))
        return smt_diag_set(d, SMT_ERR_UNSAFE, "refusing to write %s: it is not a regular file",
                            path);
    if (st.st_uid != geteuid())
        return smt_diag_set(d, SMT_ERR_PERM, "refusing to write %s: it is owned by uid %lu", path,
                            (unsigned long)st.st_uid);
    return 0;
}

/* ".BASE.smtoken-XXXXXXXXXXXX" (BASE cut to stay within NAME_MAX), created O_EXCL. */
static int create_temp(int dfd, const char *base, char *name, size_t size, int *ret_fd)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char rnd[6];
    char suffix[2 * sizeof(rnd) + 1];
    size_t i;
    int tries, fd = -1, r = SMT_ERR_SYSTEM;

    for (tries = 0; tries < 16 && fd < 0; tries++) {
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
            goto out;
        for (i = 0; i < sizeof(rnd); i++) {
            suffix[2 * i] = hex[rnd[i] >> 4];
            suffix[2 * i + 1] = hex[rnd[i] & 15];
        }
        suffix[2 * sizeof(rnd)] = '\0';
        snprintf(name, size, ".%.200s.smtoken-%s", base, suffix);
        fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST)
            goto out;
    }
    if (fd < 0)
        goto out;
    *ret_fd = fd;
    r = 0;
out:
    return r;
}

static int write_all(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;
    ssize_t n;

    while (len > 0) {
        n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return SMT_ERR_SYSTEM;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int smt_sink_write(const char *path, const void *data, size_t len, unsigned *ret_flags,
                   struct smt_diag *d)
{
    char tmp[NAME_MAX + 1] = "", *dir = NULL;
    const char *base = NULL;
    struct statfs sf;
    unsigned flags = 0;
    int dfd = -1, fd = -1, r, err;

    if (!data && len > 0) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if ((r = split_path(path, &dir, &base, d)) < 0 || (r = open_dir_safely(dir, &dfd, d)) < 0 ||
        (r = check_target(dfd, base, path, d)) < 0)
        goto out;
    if ((r = create_temp(dfd, base, tmp, sizeof(tmp), &fd)) < 0) {
        tmp[0] = '\0'; /* not created by us: never unlink it */
        r = smt_diag_set(d, SMT_ERR_SYSTEM, "cannot create a temporary file in %s: %s", dir,
                         strerror(errno));
        goto out;
    }
    /* Exactly 0600 whatever the umask: readers may check it, as ssh does. */
    if (fchmod(fd, 0600) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        r = smt_diag_set(d, SMT_ERR_SYSTEM, "cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    r = close(fd);
    fd = -1;
    if (r < 0) {
        r = smt_diag_set(d, SMT_ERR_SYSTEM, "cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    if (renameat(dfd, tmp, dfd, base) < 0) {
        r = smt_diag_set(d, SMT_ERR_SYSTEM, "cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    tmp[0] = '\0'; /* it is the target now */
    /* Without this the rename may not survive a crash (the old file would come back). */
    if (fsync(dfd) < 0) {
        r = smt_diag_set(d, SMT_ERR_SYSTEM, "wrote %s but cannot sync directory %s: %s", path, dir,
                         strerror(errno));
        goto out;
    }
    if (fstatfs(dfd, &sf) == 0 && sf.f_type != TMPFS_MAGIC && sf.f_type != RAMFS_MAGIC)
        flags |= SMT_SINK_NOT_TMPFS;
    if (ret_flags)
        *ret_flags = flags;
    r = 0;
out:
    err = errno;
    if (fd >= 0) {
        /* Drop the bytes, then the name (below): nothing half-written stays behind.  A failed
         * truncate changes nothing about that, so its result is not looked at. */
        int ignored = ftruncate(fd, 0);

        (void)ignored;
        close(fd);
    }
    if (tmp[0] && dfd >= 0)
        unlinkat(dfd, tmp, 0);
    if (dfd >= 0)
        close(dfd);
    free(dir);
    errno = err;
    return r;
}
