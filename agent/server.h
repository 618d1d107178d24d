/* smtoken-agent: the listening socket, peer checks and connections (DESIGN §3, §4; PROTOCOL.md).
 *
 * Socket set-up (path, directory checks, stale sockets, socket activation) is a set of small
 * functions main.c calls in order, each reporting in a struct smt_diag, so a failure is one
 * line for the user.  The server proper runs inside an sd-event loop owned by the caller: it
 * accepts connections, checks each peer's uid (SO_PEERCRED), reads requests incrementally into
 * bounded buffers, hands every whole frame to smt_agent_handle and writes the replies without
 * blocking.  It also keeps one CLOCK_BOOTTIME timer armed at smt_agent_next_wakeup().
 */
#ifndef SMT_SERVER_H
#define SMT_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "proto/err.h"

struct smt_agent;

#define SMT_SERVER_MAX_CONNECTIONS 64
#define SMT_SERVER_IDLE_USEC       (10ULL * 1000000ULL) /* per-connection idle/read timeout */

/* --foreground and the daemon alike: explicit_path > env_sock > runtime_dir/smtoken/agent.sock >
 * /tmp/smtoken-UID/agent.sock.  Empty strings count as unset.  Fails with SMT_ERR_INVALID for a
 * path that does not fit a sockaddr_un or holds a control character.  *ret is malloc'd. */
int smt_socket_path_choose(const char *explicit_path, const char *env_sock, const char *runtime_dir,
                           uid_t uid, char **ret) SMT_WUR;
/* The same, from $SMTOKEN_SOCK, $XDG_RUNTIME_DIR and getuid(). */
int smt_socket_path_default(const char *explicit_path, char **ret) SMT_WUR;

/* The directory that will hold the socket: created 0700 when missing (its parent must exist),
 * otherwise it must be a real directory (not a symlink) owned by uid with no group or world
 * access (SMT_ERR_UNSAFE / SMT_ERR_PERM, d says which and what to do). */
int smt_socket_dir_check(const char *dir, uid_t uid, struct smt_diag *d) SMT_WUR;

/* What is at the socket path now: nothing (0); a stale socket no agent answers, which is
 * unlinked (0); a live agent (SMT_ERR_BUSY, "an agent is already running at PATH"); anything
 * that is not a socket (SMT_ERR_UNSAFE). */
int smt_socket_clear_stale(const char *path, struct smt_diag *d) SMT_WUR;

/* Directory check, stale check, then a listening socket bound at path with mode 0600
 * (SOCK_CLOEXEC|SOCK_NONBLOCK).  *ret_fd on success. */
int smt_socket_listen(const char *path, uid_t uid, int *ret_fd, struct smt_diag *d) SMT_WUR;

/* Socket activation: 1 and *ret_fd when systemd passed exactly one listening AF_UNIX stream
 * socket, 0 when none was passed, < 0 (d set) when what was passed is unusable. */
int smt_socket_activated(int *ret_fd, struct smt_diag *d) SMT_WUR;

struct smt_server;

/* Serve agent on listen_fd (ownership moves to the server on success) in the loop e.  When
 * unlink_path is set it is the socket file this process created: smt_server_free removes it if
 * it is still the same file.  The agent must outlive the server.  The server puts the agent in
 * deferred mode (smt_agent_set_deferred) in loop e, so the agent's credential processes run as
 * sources of e (SIGCHLD must be blocked); after smt_server_free the loop must not run again
 * before the agent is freed. */
int smt_server_new(sd_event *e, struct smt_agent *agent, int listen_fd, const char *unlink_path,
                   struct smt_server **ret) SMT_WUR;
/* Closes every connection and the listening socket; unlinks the socket file (see above).
 * NULL ok. */
void smt_server_free(struct smt_server *s);

/* Tests: a lower connection cap or idle timeout (0 keeps the current value). */
void smt_server_set_limits(struct smt_server *s, unsigned max_connections, uint64_t idle_usec);
/* Open connections (tests, status). */
unsigned smt_server_connections(const struct smt_server *s);
/* Re-ask the agent when it next wants to be woken (after a reload, say). */
void smt_server_rearm(struct smt_server *s);

#endif
