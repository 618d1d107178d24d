/* smtoken-agent: who is asking (SO_PEERCRED) and the audit line per served token (DESIGN §4). */
#ifndef SMT_AUDIT_H
#define SMT_AUDIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/err.h"

struct smt_peer {
    uid_t uid;
    gid_t gid;
    pid_t pid;
    char exe[256];  /* readlink /proc/PID/exe, "" when unknown; filled by smt_peer_describe */
    char unit[128]; /* sd_pid_get_unit, "" when none */
};

/* uid, gid and pid of the process at the other end of a Unix socket (SO_PEERCRED). */
int smt_peer_from_fd(int fd, struct smt_peer *ret) SMT_WUR;
/* Fill exe and unit (best effort; the peer may be gone). */
void smt_peer_describe(struct smt_peer *p);

/* One audit line: "served token endpoint=NAME uid=U pid=P exe=... unit=... fp=FINGERPRINT
 * expires=ISO8601 minted=yes|no".  fingerprint is smt_token_fingerprint's 12 hex digits. */
void smt_audit_token(struct smt_peer *p, const char *endpoint, const char *fingerprint,
                     int64_t expires_at, bool minted);
/* A refused connection or request: "refused uid=U pid=P (agent uid A): why". */
void smt_audit_refused(const struct smt_peer *p, uid_t agent_uid, const char *why);

#endif
