/* smtoken-agent: argv, hardening, daemonizing and the event loop (DESIGN §4).
 *
 *   smtoken-agent [-c | -s | -f]     daemonize, print the variables to eval (like ssh-agent);
 *                                    logs to the journal, else syslog (agent/log.c)
 *   smtoken-agent --foreground       stay attached (systemd, tests); logs to stderr or journal
 *   smtoken-agent -k                 stop the agent named by $SMTOKEN_AGENT_PID
 *   smtoken-agent --once [NAME]      mint one token to stdout (agent/once.c)
 *
 * Start-up order matters: harden, take the AWS secrets out of the environment block, make the
 * AWS file variables absolute (the daemon chdirs to /), and for the daemon close inherited file
 * descriptors before opening any of its own; then load the
 * config (a bad one stops us before any socket exists), bind the socket, then tell the world
 * (the daemon's parent prints the variables only now; systemd gets READY=1).
 */
#include <config.h> /* autoconf's; "config.h" would find agent/config.h */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "agent/config.h"
#include "agent/log.h"
#include "agent/once.h"
#include "agent/requests.h"
#include "agent/server.h"

#define EXIT_USAGE 64
/* -k waits this long for the agent to go, so its socket is gone when -k returns. */
#define KILL_WAIT_MS 5000

extern char **environ;

enum mode { MODE_DAEMON, MODE_FOREGROUND, MODE_KILL, MODE_ONCE };
enum shell { SHELL_SH, SHELL_CSH, SHELL_FISH };

struct opts {
    enum mode mode;
    enum shell shell;
    bool shell_set, debug;
    const char *socket_path, *config_path, *once_name;
};

/* The running agent, for the signal handlers. */
struct loop {
    sd_event *e;
    struct smt_agent *agent;
    struct smt_server *server;
};

static void report(int fd, const struct smt_diag *d)
{
    char line[sizeof(d->msg) + sizeof(d->hint) + 32];
    int n;

    if (d->hint[0])
        n = snprintf(line, sizeof(line), "smtoken-agent: %s\nhint: %s\n", d->msg, d->hint);
    else
        n = snprintf(line, sizeof(line), "smtoken-agent: %s\n", d->msg);
    if (n > 0 && write(fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1) < 0)
        return; /* nowhere left to say it */
}

/* ---- hardening and the environment ------------------------------------------------------ */

/* DESIGN §4, in every mode, before any config or credential is read. */
static int harden(struct smt_diag *d)
{
    struct rlimit no_core = {0, 0};

    umask(077);
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || setrlimit(RLIMIT_CORE, &no_core) < 0)
        return smt_diag_set(d, SMT_ERR_SYSTEM, "cannot harden the process: %s", strerror(errno));
    if (sodium_init() < 0)
        return smt_diag_set(d, SMT_ERR_CRYPTO, "libsodium failed to initialise");
    return 0;
}

/* The variables that hold secrets.  agent/creds_env.c reads them with getenv(), so until the
 * agent has its own copy (serve() releases them right after smt_agent_new; --once keeps them,
 * it exits after one token) they must stay readable to getenv(); but /proc/PID/environ shows
 * the initial environment block, which must not keep them. */
static const char *const secret_vars[] = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
};
static char *secret_copies[sizeof(secret_vars) / sizeof(secret_vars[0])];

static int env_protect(struct smt_diag *d)
{
    size_t i, nlen, len;
    char **src, **dst, *copy;

    for (i = 0; i < sizeof(secret_vars) / sizeof(secret_vars[0]); i++) {
        nlen = strlen(secret_vars[i]);
        copy = NULL;
        /* Keep the first NAME=value (getenv's choice) in secure memory, wipe every one in
         * place and drop its pointer (duplicates included), then put the copy back.  putenv
         * does not copy: getenv now returns sodium_malloc'd, mlocked bytes. */
        for (src = dst = environ; environ && *src; src++) {
            if (strncmp(*src, secret_vars[i], nlen) != 0 || (*src)[nlen] != '=') {
                *dst++ = *src;
                continue;
            }
            len = strlen(*src);
            if (!copy) {
                if (!(copy = sodium_malloc(len + 1)))
                    return smt_diag_set(d, SMT_ERR_NOMEM, "cannot allocate secure memory");
                memcpy(copy, *src, len + 1);
            }
            explicit_bzero(*src, len);
        }
        if (environ)
            *dst = NULL;
        if (copy && putenv(copy) != 0) {
            sodium_free(copy);
            return smt_diag_set(d, SMT_ERR_NOMEM, "out of memory");
        }
        secret_copies[i] = copy;
    }
    return 0;
}

/* fork(2) does not carry memory locks over to the child. */
static void env_relock(void)
{
    size_t i;

    for (i = 0; i < sizeof(secret_copies) / sizeof(secret_copies[0]); i++)
        if (secret_copies[i])
            (void)sodium_mlock(secret_copies[i], strlen(secret_copies[i]) + 1);
}

static void env_release(void)
{
    size_t i;

    for (i = 0; i < sizeof(secret_copies) / sizeof(secret_copies[0]); i++) {
        if (!secret_copies[i])
            continue;
        (void)unsetenv(secret_vars[i]);
        sodium_free(secret_copies[i]); /* wipes */
        secret_copies[i] = NULL;
    }
}

/* ---- printing for eval ------------------------------------------------------------------ */

/* A path as one shell word (control characters never get here: smt_socket_path_default
 * refuses them).  sh and csh: bare when it is plain, else single-quoted, a quote as '\'' (csh
 * also expands ! inside quotes).  fish: always single-quoted, its bare words having rules of
 * their own (~, braces, $); inside its quotes \' and \\ are the only escapes. */
static void put_word(FILE *f, const char *s, enum shell sh)
{
    const char *p;

    if (sh == SHELL_FISH) {
        fputc('\'', f);
        for (p = s; *p; p++) {
            if (*p == '\'' || *p == '\\')
                fputc('\\', f);
            fputc(*p, f);
        }
        fputc('\'', f);
        return;
    }
    if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-+,:@%") ==
        strlen(s)) {
        fputs(s, f);
        return;
    }
    fputc('\'', f);
    for (p = s; *p; p++) {
        if (*p == '\'')
            fputs("'\\''", f);
        else if (*p == '!' && sh == SHELL_CSH)
            fputs("\\!", f);
        else
            fputc(*p, f);
    }
    fputc('\'', f);
}

static int print_env(enum shell sh, const char *path, pid_t pid)
{
    if (sh == SHELL_CSH) {
        fputs("setenv SMTOKEN_SOCK ", stdout);
        put_word(stdout, path, sh);
        printf(";\nsetenv SMTOKEN_AGENT_PID %ld;\n", (long)pid);
    } else if (sh == SHELL_FISH) {
        fputs("set -gx SMTOKEN_SOCK ", stdout);
        put_word(stdout, path, sh);
        printf(";\nset -gx SMTOKEN_AGENT_PID %ld;\n", (long)pid);
    } else {
        fputs("SMTOKEN_SOCK=", stdout);
        put_word(stdout, path, sh);
        printf("; export SMTOKEN_SOCK;\nSMTOKEN_AGENT_PID=%ld; export SMTOKEN_AGENT_PID;\n",
               (long)pid);
    }
    printf("echo Agent pid %ld;\n", (long)pid);
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}

/* ---- the event loop --------------------------------------------------------------------- */

static int on_term(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
    struct loop *l = userdata;

    log_info("stopping (signal %s)", strsignal((int)si->ssi_signo));
    (void)sd_notify(0, "STOPPING=1");
    return sd_event_exit(l->e, 0);
}

static int on_hup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
    struct loop *l = userdata;
    struct smt_diag d = {{0}, {0}, {0}};
    struct timespec ts = {0, 0};

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    (void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
                     (unsigned long long)ts.tv_sec * 1000000ULL +
                         (unsigned long long)ts.tv_nsec / 1000ULL);
    /* smt_agent_reload logs a success itself; a failure is ours to report. */
    if (smt_agent_reload(l->agent, &d) < 0)
        log_error("reload failed, keeping the old configuration: %s", d.msg);
    (void)sd_notify(0, "READY=1");
    smt_server_rearm(l->server);
    return 0;
}

/* "/x" for "x" relative to the working directory: the daemon chdirs to / and re-reads its
 * config on SIGHUP, and the socket path it prints must work from anywhere. */
static int make_absolute(const char *p, char **ret)
{
    char cwd[PATH_MAX];
    size_t size;
    char *s;

    if (p[0] == '/') {
        s = strdup(p);
    } else {
        if (!getcwd(cwd, sizeof(cwd)))
            return SMT_ERR_SYSTEM;
        size = strlen(cwd) + strlen(p) + 2;
        if ((s = malloc(size)))
            snprintf(s, size, "%s/%s", cwd, p);
    }
    if (!s)
        return SMT_ERR_NOMEM;
    *ret = s;
    return 0;
}

/* AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE relative to the start-up directory, in every
 * mode (the daemon chdirs to /, and reads them at each refresh).  "~" and "~/..." are left for
 * smt_creds_aws_path to expand, as the AWS CLI does. */
static int aws_paths_absolute(struct smt_diag *d)
{
    static const char *const vars[] = {"AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"};
    const char *v;
    char *abs = NULL;
    size_t i;
    int r;

    for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        v = getenv(vars[i]);
        if (!v || !*v || v[0] == '/' || (v[0] == '~' && (v[1] == '/' || v[1] == '\0')))
            continue;
        if ((r = make_absolute(v, &abs)) < 0) {
            smt_diag_set(d, r, "cannot make %s absolute: %s", vars[i],
                         r == SMT_ERR_SYSTEM ? strerror(errno) : smt_strerror(r));
            goto out;
        }
        if (setenv(vars[i], abs, 1) < 0) {
            r = smt_diag_set(d, SMT_ERR_NOMEM, "out of memory");
            goto out;
        }
        free(abs);
        abs = NULL;
    }
    r = 0;
out:
    free(abs);
    return r;
}

/* stdin, stdout (and stderr unless keep_stderr) to /dev/null. */
static int detach_stdio(bool keep_stderr)
{
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

    if (fd < 0)
        return SMT_ERR_SYSTEM;
    if (dup2(fd, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0 ||
        (!keep_stderr && dup2(fd, STDERR_FILENO) < 0)) {
        close(fd);
        return SMT_ERR_SYSTEM;
    }
    close(fd);
    return 0;
}

/* Load, bind, serve.  notify_fd >= 0: the daemon's pipe to its parent, which gets "OK\n" once
 * the socket is bound and the config loaded, or the error lines.  socket_path: already chosen
 * (daemon) or NULL (foreground: socket activation, else the usual choice). */
static int serve(const struct opts *o, const char *socket_path, const char *config_path,
                 int notify_fd)
{
    struct smt_diag d = {{0}, {0}, {0}};
    struct loop l = {NULL, NULL, NULL};
    char *cpath = NULL, *spath = NULL, name[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
    struct sockaddr_un sa;
    socklen_t salen = sizeof(sa);
    sigset_t ss;
    int lfd = -1, activated = 0, r;

    sigemptyset(&ss);
    sigaddset(&ss, SIGTERM);
    sigaddset(&ss, SIGINT);
    sigaddset(&ss, SIGHUP);
    /* sd_event_add_signal needs them blocked, and sd_event_add_child SIGCHLD (the agent's
     * credential processes); a TERM during start-up waits for the loop.  Children start with
     * an empty mask (smt_proc_spawn). */
    sigaddset(&ss, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0 || signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        r = smt_diag_set(&d, SMT_ERR_SYSTEM, "cannot set up signals: %s", strerror(errno));
        goto out;
    }
    if ((r = smt_config_default_path(config_path, &cpath)) < 0) {
        smt_diag_set(&d, r, "out of memory");
        goto out;
    }
    if ((r = smt_agent_new(cpath, NULL, &l.agent, &d)) < 0) {
        if (r == SMT_ERR_NOT_FOUND && !d.hint[0])
            smt_diag_hint(&d, "create it (see smtoken.conf(5)) or name another with --config");
        goto out;
    }
    /* smt_agent_new took its copy of the AWS_* credentials (agent/requests.c); from here on
     * they are not in the environment (DESIGN §4), so no credential_process or aws CLI the
     * agent runs inherits them, and getenv finds nothing to resolve a second time. */
    env_release();
    if (!socket_path && (activated = smt_socket_activated(&lfd, &d)) < 0) {
        r = activated;
        goto out;
    }
    if (activated) {
        if (getsockname(lfd, (struct sockaddr *)&sa, &salen) == 0 && salen > sizeof(sa_family_t) &&
            sa.sun_path[0]) {
            memcpy(name, sa.sun_path, sizeof(sa.sun_path));
            name[sizeof(sa.sun_path)] = '\0';
        } else {
            memcpy(name, "(socket from systemd)", sizeof("(socket from systemd)"));
        }
    } else {
        if (!socket_path) {
            if ((r = smt_socket_path_default(o->socket_path, &spath)) < 0) {
                smt_diag_set(&d, r, "invalid socket path: %s",
                             r == SMT_ERR_INVALID ? "empty, too long for a Unix socket, or "
                                                    "holding control characters"
                                                  : smt_strerror(r));
                goto out;
            }
            socket_path = spath;
        }
        if ((r = smt_socket_listen(socket_path, geteuid(), &lfd, &d)) < 0)
            goto out;
        snprintf(name, sizeof(name), "%s", socket_path);
    }
    if ((r = sd_event_new(&l.e)) < 0 ||
        (r = sd_event_add_signal(l.e, NULL, SIGTERM, on_term, &l)) < 0 ||
        (r = sd_event_add_signal(l.e, NULL, SIGINT, on_term, &l)) < 0 ||
        (r = sd_event_add_signal(l.e, NULL, SIGHUP, on_hup, &l)) < 0 ||
        (r = sd_event_set_watchdog(l.e, true)) < 0) {
        errno = -r;
        r = smt_diag_set(&d, SMT_ERR_SYSTEM, "cannot set up the event loop: %s", strerror(errno));
        goto out;
    }
    if ((r = smt_server_new(l.e, l.agent, lfd, activated ? NULL : socket_path, &l.server)) < 0) {
        smt_diag_set(&d, r, "cannot set up the server: %s", smt_strerror(r));
        goto out;
    }
    lfd = -1; /* the server's now */
    if (notify_fd >= 0) {
        if (chdir("/") < 0 || detach_stdio(o->debug) < 0) {
            r = smt_diag_set(&d, SMT_ERR_SYSTEM, "cannot detach: %s", strerror(errno));
            goto out;
        }
        if (write(notify_fd, "OK\n", 3) != 3) {
            r = SMT_ERR_SYSTEM; /* the parent is gone: nobody will learn where we are */
            goto out;
        }
        close(notify_fd);
        notify_fd = -1;
    }
    log_info("listening on %s (pid %ld)%s", name, (long)getpid(),
             activated ? ", socket from systemd" : "");
    (void)sd_notifyf(0, "READY=1\nSTATUS=Serving tokens on %s", name);
    if ((r = sd_event_loop(l.e)) < 0) {
        log_error("the event loop failed: %s", strerror(-r));
        goto out;
    }
    r = 0;
out:
    if (r < 0 && d.msg[0]) {
        report(notify_fd >= 0 ? notify_fd : STDERR_FILENO, &d);
        (void)sd_notifyf(0, "STATUS=%s", d.msg);
    }
    smt_server_free(l.server); /* removes the socket file it bound */
    if (lfd >= 0 && !activated) {
        close(lfd);
        (void)unlink(socket_path); /* bound by us just now, never served */
    } else if (lfd >= 0) {
        close(lfd);
    }
    smt_agent_free(l.agent); /* wipes every secret */
    sd_event_unref(l.e);
    free(spath);
    free(cpath);
    return r < 0 ? 1 : 0;
}

/* Close every inherited descriptor above stderr (the launching job's pipes, a terminal's
 * extra fds): the daemon outlives whoever opened them, and would hold them open and pass them to
 * its credential processes.  Nothing of ours is open yet (libsodium keeps no fd: getrandom). */
static int close_inherited(void)
{
    struct rlimit rl;
    unsigned fd, max;

    if (close_range(3, ~0U, 0) == 0)
        return 0;
    if (errno != ENOSYS && errno != EINVAL)
        return SMT_ERR_SYSTEM;
    /* kernels before 5.9 */
    max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 65536
              ? (unsigned)rl.rlim_cur
              : 65536;
    for (fd = 3; fd < max; fd++)
        (void)close((int)fd);
    return 0;
}

/* No mode: fork, let the child load and bind, print the variables only once it says so. */
static int daemonize(const struct opts *o)
{
    struct smt_diag d = {{0}, {0}, {0}};
    char *spath = NULL, *apath = NULL, *cfg = NULL, *cpath = NULL, buf[1024];
    size_t got = 0;
    ssize_t n;
    int p[2] = {-1, -1}, status, r;
    pid_t pid;

    if (close_inherited() < 0) {
        r = smt_diag_set(&d, SMT_ERR_SYSTEM, "cannot close inherited files: %s", strerror(errno));
        goto fail;
    }
    /* The parent prints the path, so the parent chooses it. */
    if ((r = smt_socket_path_default(o->socket_path, &spath)) < 0) {
        smt_diag_set(&d, r, "invalid socket path: %s",
                     r == SMT_ERR_INVALID
                         ? "empty, too long for a Unix socket, or holding control characters"
                         : smt_strerror(r));
        goto fail;
    }
    if ((r = smt_config_default_path(o->config_path, &cfg)) < 0 ||
        (r = make_absolute(spath, &apath)) < 0 || (r = make_absolute(cfg, &cpath)) < 0) {
        smt_diag_set(&d, r, "cannot resolve a relative path: %s", smt_strerror(r));
        goto fail;
    }
    if (strlen(apath) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        r = smt_diag_set(&d, SMT_ERR_INVALID, "socket path too long for a Unix socket: %s", apath);
        goto fail;
    }
    if (pipe2(p, O_CLOEXEC) < 0) {
        r = smt_diag_set(&d, SMT_ERR_SYSTEM, "cannot create a pipe: %s", strerror(errno));
        goto fail;
    }
    fflush(NULL);
    if ((pid = fork()) < 0) {
        r = smt_diag_set(&d, SMT_ERR_SYSTEM, "cannot fork: %s", strerror(errno));
        goto fail;
    }
    if (pid == 0) {
        close(p[0]);
        (void)setsid();
        env_relock();
        /* Nothing of the child's reaches the terminal but through the pipe, unless --debug:
         * its log goes to the journal or syslog (stderr is /dev/null from serve() on). */
        smt_log_setup(
            smt_log_choose(true, o->debug, smt_log_journal_wanted(), smt_log_journal_running()),
            o->debug);
        r = serve(o, apath, cpath, p[1]);
        free(apath);
        free(cpath);
        free(cfg);
        free(spath);
        return r;
    }
    close(p[1]);
    p[1] = -1;
    for (;;) {
        n = read(p[0], buf + got, sizeof(buf) - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || (got += (size_t)n) == sizeof(buf) - 1)
            break;
    }
    buf[got] = '\0';
    if (got >= 3 && memcmp(buf, "OK\n", 3) == 0) {
        r = print_env(o->shell, apath, pid);
        goto done;
    }
    (void)waitpid(pid, &status, 0);
    if (got > 0)
        fputs(buf, stderr);
    else
        fputs("smtoken-agent: the agent exited during start-up\n", stderr);
    r = 1;
    goto done;
fail:
    report(STDERR_FILENO, &d);
    r = 1;
done:
    if (p[0] >= 0)
        close(p[0]);
    if (p[1] >= 0)
        close(p[1]);
    free(apath);
    free(cpath);
    free(cfg);
    free(spath);
    return r;
}

/* ---- -k ------------------------------------------------------------------------------- */

/* Is pid a process of ours running smtoken-agent? */
static int check_ours(pid_t pid, struct smt_diag *d)
{
    char path[64], line[256], exe[PATH_MAX], *base, *nl;
    unsigned long uid = ULONG_MAX;
    FILE *f;
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    if (!(f = fopen(path, "re")))
        return smt_diag_set(d, SMT_ERR_NOT_FOUND, "no agent with pid %ld is running", (long)pid);
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "Uid: %lu", &uid) == 1)
            break;
    fclose(f);
    if (uid != (unsigned long)getuid())
        return smt_diag_set(d, SMT_ERR_PERM, "process %ld does not belong to you", (long)pid);
    /* The agent is not dumpable, so /proc/PID/exe may be unreadable even to its owner; the
     * command name (comm) is readable and holds the whole of "smtoken-agent". */
    snprintf(path, sizeof(path), "/proc/%ld/exe", (long)pid);
    n = readlink(path, exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        if (n > 10 && strcmp(exe + n - 10, " (deleted)") == 0)
            exe[n - 10] = '\0';
        base = strrchr(exe, '/');
        base = base ? base + 1 : exe;
    } else {
        snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
        if (!(f = fopen(path, "re")))
            return smt_diag_set(d, SMT_ERR_NOT_FOUND, "no agent with pid %ld is running",
                                (long)pid);
        if (!fgets(exe, sizeof(exe), f))
            exe[0] = '\0';
        fclose(f);
        if ((nl = strchr(exe, '\n')))
            *nl = '\0';
        base = exe;
    }
    if (strcmp(base, "smtoken-agent") != 0)
        return smt_diag_set(d, SMT_ERR_PERM, "process %ld is not an smtoken-agent", (long)pid);
    return 0;
}

/* Gone, or a zombie waiting for its parent. */
static bool process_gone(pid_t pid)
{
    char path[64], line[128];
    bool gone = true;
    FILE *f;

    if (kill(pid, 0) < 0 && errno == ESRCH)
        return true;
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    if (!(f = fopen(path, "re")))
        return true;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "State:", 6) == 0) {
            gone = strchr(line, 'Z') != NULL;
            break;
        }
    fclose(f);
    return gone;
}

static int kill_agent(const struct opts *o)
{
    struct smt_diag d = {{0}, {0}, {0}};
    const char *s = getenv("SMTOKEN_AGENT_PID");
    struct timespec tick = {0, 50 * 1000 * 1000};
    char *end = NULL;
    long v;
    int i, r;

    if (!s || !*s) {
        r = smt_diag_set(&d, SMT_ERR_NOT_FOUND, "SMTOKEN_AGENT_PID is not set: no agent to stop");
        smt_diag_hint(&d, "start one with 'eval \"$(smtoken-agent)\"', or stop a systemd one "
                          "with 'systemctl --user stop smtoken-agent'");
        goto out;
    }
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || !end || *end || v < 2 || v > INT_MAX) {
        r = smt_diag_set(&d, SMT_ERR_INVALID, "SMTOKEN_AGENT_PID is not a process id");
        goto out;
    }
    if ((r = check_ours((pid_t)v, &d)) < 0)
        goto out;
    if (kill((pid_t)v, SIGTERM) < 0) {
        r = smt_diag_set(&d, SMT_ERR_SYSTEM, "cannot stop the agent (pid %ld): %s", v,
                         strerror(errno));
        goto out;
    }
    for (i = 0; i < KILL_WAIT_MS / 50 && !process_gone((pid_t)v); i++)
        nanosleep(&tick, NULL);
    if (o->shell == SHELL_CSH)
        fputs("unsetenv SMTOKEN_SOCK;\nunsetenv SMTOKEN_AGENT_PID;\n", stdout);
    else if (o->shell == SHELL_FISH) /* set -e fails on an unset variable: ask first */
        fputs("set -q SMTOKEN_SOCK; and set -e SMTOKEN_SOCK;\n"
              "set -q SMTOKEN_AGENT_PID; and set -e SMTOKEN_AGENT_PID;\n",
              stdout);
    else
        fputs("unset SMTOKEN_SOCK;\nunset SMTOKEN_AGENT_PID;\n", stdout);
    printf("echo Agent pid %ld killed;\n", v);
    r = fflush(stdout) == 0 ? 0 : SMT_ERR_SYSTEM;
out:
    if (r < 0 && d.msg[0])
        report(STDERR_FILENO, &d);
    return r < 0 ? 1 : 0;
}

/* ---- arguments -------------------------------------------------------------------------- */

enum {
    OPT_SOCKET = 256,
    OPT_CONFIG,
    OPT_DEBUG,
    OPT_VERSION,
    OPT_ONCE,
};

static const struct option long_options[] = {
    {"foreground", no_argument, NULL, 'D'},
    {"socket", required_argument, NULL, OPT_SOCKET},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"debug", no_argument, NULL, OPT_DEBUG},
    {"version", no_argument, NULL, OPT_VERSION},
    {"help", no_argument, NULL, 'h'},
    {"once", optional_argument, NULL, OPT_ONCE},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
    fputs(
        "Usage: smtoken-agent [-c | -s | -f] [--socket PATH] [--config PATH] [--debug]\n"
        "       smtoken-agent --foreground [--socket PATH] [--config PATH] [--debug]\n"
        "       smtoken-agent -k [-c | -s | -f]\n"
        "       smtoken-agent --once [NAME] [--config PATH]\n"
        "\n"
        "Holds AWS credentials in locked memory and serves short-lived bearer tokens for\n"
        "SageMaker and Bedrock OpenAI-compatible endpoints over a Unix socket.\n"
        "\n"
        "  -c, -s, -f        print csh, sh or fish commands (default: from $SHELL)\n"
        "  -D, --foreground  stay in the foreground (logs to stderr, or the journal)\n"
        "  -k                stop the agent named by $SMTOKEN_AGENT_PID\n"
        "  --socket PATH     socket (default $SMTOKEN_SOCK, $XDG_RUNTIME_DIR/smtoken/agent.sock,\n"
        "                    /tmp/smtoken-UID/agent.sock)\n"
        "  --config PATH     config (default $SMTOKEN_CONFIG, "
        "$XDG_CONFIG_HOME/smtoken/smtoken.conf)\n"
        "  --debug           log debug messages (the daemon also keeps stderr and logs\n"
        "                    there; otherwise it logs to the journal, else to syslog)\n"
        "  --once [NAME]     print one token for endpoint NAME and exit\n"
        "  -V, --version     print the version\n"
        "  -h, --help        this help\n"
        "\n"
        "eval \"$(smtoken-agent)\" (fish: smtoken-agent | source) starts an agent;\n"
        "see smtoken-agent(1).\n",
        f);
}

static int usage_error(const char *fmt, ...) SMT_PRINTF(1, 2);
static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("smtoken-agent: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nhint: see 'smtoken-agent --help'\n", stderr);
    return EXIT_USAGE;
}

/* getopt_long says '?' both for an unknown long option and for a value given to one that
 * takes none ("--debug=1"): tell them apart. */
static int bad_long_option(const char *arg)
{
    const struct option *lo;
    const char *eq = strchr(arg, '=');
    size_t n;

    if (eq && strncmp(arg, "--", 2) == 0) {
        n = (size_t)(eq - arg) - 2;
        for (lo = long_options; lo->name; lo++)
            if (strlen(lo->name) == n && strncmp(lo->name, arg + 2, n) == 0)
                return usage_error("option '--%s' takes no value", lo->name);
    }
    return usage_error("unknown option '%s'", arg);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* 0: go on; otherwise the exit status (0 after --help/--version, 64 for a usage error). */
static int parse_args(int argc, char **argv, struct opts *o, bool *ret_exit)
{
    bool mode_set = false, once = false;
    const char *sh, *base;
    int c;

    *ret_exit = false;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":csfDkhV", long_options, NULL)) != -1) {
        switch (c) {
        case 'c':
        case 's':
        case 'f':
            o->shell = c == 'c' ? SHELL_CSH : c == 'f' ? SHELL_FISH : SHELL_SH;
            if (o->shell_set)
                return usage_error("%s", "-c, -s and -f cannot be combined");
            o->shell_set = true;
            break;
        case 'D':
        case 'k':
        case OPT_ONCE:
            if (mode_set)
                return usage_error("%s", "-k, --foreground and --once cannot be combined");
            mode_set = true;
            o->mode = c == 'D' ? MODE_FOREGROUND : c == 'k' ? MODE_KILL : MODE_ONCE;
            if (c == OPT_ONCE) {
                once = true;
                o->once_name = optarg;
            }
            break;
        case OPT_SOCKET:
            o->socket_path = optarg;
            break;
        case OPT_CONFIG:
            o->config_path = optarg;
            break;
        case OPT_DEBUG:
            o->debug = true;
            break;
        case 'V':
        case OPT_VERSION:
            printf("smtoken-agent %s\n", PACKAGE_VERSION);
            *ret_exit = true;
            return 0;
        case 'h':
            usage(stdout);
            *ret_exit = true;
            return 0;
        case ':':
            return usage_error("option '%s' needs an argument", argv[optind - 1]);
        default:
            if (optopt > 0 && optopt < 256)
                return usage_error("unknown option '-%c'", optopt);
            return bad_long_option(argv[optind - 1]);
        }
    }
    /* --once NAME: getopt leaves NAME as an operand (optional arguments attach only with =). */
    if (once && !o->once_name && optind < argc)
        o->once_name = argv[optind++];
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (once && o->socket_path)
        return usage_error("%s", "--once uses no socket; drop --socket");
    if (!o->shell_set) {
        sh = getenv("SHELL");
        base = sh ? strrchr(sh, '/') : NULL;
        base = base ? base + 1 : sh;
        o->shell = !sh                         ? SHELL_SH
                   : ends_with(sh, "csh")      ? SHELL_CSH
                   : strcmp(base, "fish") == 0 ? SHELL_FISH
                                               : SHELL_SH;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o = {.mode = MODE_DAEMON};
    struct smt_diag d = {{0}, {0}, {0}};
    bool done;
    int r;

    /* Hardening and the environment first, whatever the arguments turn out to be. */
    if (harden(&d) < 0 || env_protect(&d) < 0) {
        report(STDERR_FILENO, &d);
        r = 1;
        goto out;
    }
    if ((r = parse_args(argc, argv, &o, &done)) != 0 || done)
        goto out;
    if (aws_paths_absolute(&d) < 0) {
        report(STDERR_FILENO, &d);
        r = 1;
        goto out;
    }
    switch (o.mode) {
    case MODE_ONCE:
        r = smt_once_main(o.once_name, o.config_path);
        break;
    case MODE_KILL:
        r = kill_agent(&o);
        break;
    case MODE_FOREGROUND:
        smt_log_setup(
            smt_log_choose(false, o.debug, smt_log_journal_wanted(), smt_log_journal_running()),
            o.debug);
        r = serve(&o, NULL, o.config_path, -1);
        break;
    case MODE_DAEMON:
    default:
        r = daemonize(&o);
        break;
    }
out:
    env_release();
    return r;
}
