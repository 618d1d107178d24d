/* smtoken-agent: who is asking, and one audit line per served token (audit.h, DESIGN §4).
 *
 * The audit line names the peer (uid, pid, executable, systemd unit), the endpoint, the token's
 * fingerprint and its expiry: enough to tell which program got which token, never the token.
 * The executable path comes from the peer's /proc entry and may hold anything a file name can,
 * so it is escaped before it reaches a log line.
 */
#include <config.h> /* autoconf's; "config.h" would find agent/config.h */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-login.h>

#include "agent/audit.h"
#include "agent/log.h"

int smt_peer_from_fd(int fd, struct smt_peer *ret)
{
    struct ucred uc;
    socklen_t len = sizeof(uc);
    int r;

    if (!ret) {
        r = SMT_ERR_INVALID;
        goto out;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0) {
        r = SMT_ERR_SYSTEM;
        goto out;
    }
    if (len != sizeof(uc)) {
        errno = EPROTO;
        r = SMT_ERR_SYSTEM;
        goto out;
    }
    memset(ret, 0, sizeof(*ret));
    ret->uid = uc.uid;
    ret->gid = uc.gid;
    ret->pid = uc.pid;
    r = 0;
out:
    return r;
}

void smt_peer_describe(struct smt_peer *p)
{
    char path[64], *unit = NULL;
    ssize_t n;

    if (!p)
        return;
    p->exe[0] = p->unit[0] = '\0';
    if (p->pid <= 0)
        return;
    snprintf(path, sizeof(path), "/proc/%d/exe", (int)p->pid);
    /* readlink does not terminate; a path that fills the buffer may be cut: mark it. */
    n = readlink(path, p->exe, sizeof(p->exe) - 1);
    if (n < 0)
        n = 0;
    p->exe[n] = '\0';
    if ((size_t)n == sizeof(p->exe) - 1)
        memcpy(p->exe + n - 3, "...", 3);
    if (sd_pid_get_unit(p->pid, &unit) >= 0 && unit) {
        snprintf(p->unit, sizeof(p->unit), "%s", unit);
        free(unit);
    }
}

void smt_audit_token(struct smt_peer *p, const char *endpoint, const char *fingerprint,
                     int64_t expires_at, bool minted)
{
    char exe[300], unit[160], name[100], when[40];
    char f_ep[120], f_uid[40], f_pid[40], f_exe[320], f_unit[180], f_fp[48], f_exp[64];
    const char *fields[8];
    struct smt_peer none = {.uid = (uid_t)-1, .gid = (gid_t)-1, .pid = 0};

    if (!p)
        p = &none;
    /* The server may not have looked yet: fill exe and unit now, while the peer is connected. */
    if (p->pid > 0 && !p->exe[0] && !p->unit[0])
        smt_peer_describe(p);
    smt_log_escape(p->exe[0] ? p->exe : "-", exe, sizeof(exe));
    smt_log_escape(p->unit[0] ? p->unit : "-", unit, sizeof(unit));
    smt_log_escape(endpoint ? endpoint : "-", name, sizeof(name));
    smt_iso8601(expires_at, when, sizeof(when));

    snprintf(f_ep, sizeof(f_ep), "SMTOKEN_ENDPOINT=%s", name);
    snprintf(f_uid, sizeof(f_uid), "SMTOKEN_PEER_UID=%ld", (long)(int)p->uid);
    snprintf(f_pid, sizeof(f_pid), "SMTOKEN_PEER_PID=%ld", (long)p->pid);
    snprintf(f_exe, sizeof(f_exe), "SMTOKEN_PEER_EXE=%s", exe);
    snprintf(f_unit, sizeof(f_unit), "SMTOKEN_PEER_UNIT=%s", unit);
    snprintf(f_fp, sizeof(f_fp), "SMTOKEN_TOKEN_FP=%s", fingerprint ? fingerprint : "-");
    snprintf(f_exp, sizeof(f_exp), "SMTOKEN_EXPIRES=%s", when);
    fields[0] = f_ep;
    fields[1] = f_uid;
    fields[2] = f_pid;
    fields[3] = f_exe;
    fields[4] = f_unit;
    fields[5] = f_fp;
    fields[6] = f_exp;
    fields[7] = NULL;
    smt_log_audit(fields,
                  "served token endpoint=%s uid=%ld pid=%ld exe=%s unit=%s fp=%s expires=%s "
                  "minted=%s",
                  name, (long)(int)p->uid, (long)p->pid, exe, unit, fingerprint ? fingerprint : "-",
                  when, minted ? "yes" : "no");
}

void smt_audit_refused(const struct smt_peer *p, uid_t agent_uid, const char *why)
{
    char reason[600], f_uid[40], f_pid[40], f_why[640];
    const char *fields[4];
    long uid = p ? (long)(int)p->uid : -1, pid = p ? (long)p->pid : 0;

    smt_log_escape(why ? why : "refused", reason, sizeof(reason));
    snprintf(f_uid, sizeof(f_uid), "SMTOKEN_PEER_UID=%ld", uid);
    snprintf(f_pid, sizeof(f_pid), "SMTOKEN_PEER_PID=%ld", pid);
    snprintf(f_why, sizeof(f_why), "SMTOKEN_REFUSED=%s", reason);
    fields[0] = f_uid;
    fields[1] = f_pid;
    fields[2] = f_why;
    fields[3] = NULL;
    smt_log_audit(fields, "refused uid=%ld pid=%ld (agent uid %ld): %s", uid, pid, (long)agent_uid,
                  reason);
}
