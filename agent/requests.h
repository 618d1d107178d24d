/* smtoken-agent: the agent's state and one handler per request (DESIGN §3, §4; PROTOCOL.md).
 *
 * struct smt_agent owns the loaded config, per-endpoint state (credentials in secure memory,
 * token cache, minter, status) and credentials added with `smtoken add`.  The server
 * (agent/server.c) owns sockets and the event loop; it hands every complete request frame to
 * smt_agent_handle and sends what comes back.  Nothing here touches a socket.
 */
#ifndef SMT_REQUESTS_H
#define SMT_REQUESTS_H

#include <stdint.h>

#include <systemd/sd-event.h>

#include "agent/audit.h"
#include "agent/cache.h"
#include "proto/buf.h"
#include "proto/err.h"

struct smt_agent;

/* Load the config at config_path (already resolved by the caller).  On a bad config returns
 * SMT_ERR_CONFIG (or SMT_ERR_NOT_FOUND) with d = "file:line: what is wrong".  Credentials are
 * resolved lazily, at the first request for an endpoint (and when they near expiry).
 * clock is copied; NULL means smt_clock_system. */
int smt_agent_new(const char *config_path, const struct smt_clock *clock, struct smt_agent **ret,
                  struct smt_diag *d) SMT_WUR;
/* Wipes every secret.  Credential processes still running are killed and reaped before it
 * returns.  NULL ok. */
void smt_agent_free(struct smt_agent *a);

/* Re-read the config (SIGHUP, RELOAD).  On failure the old config and state stay, and d says
 * file:line.  Endpoints whose settings did not change keep their cached tokens. */
int smt_agent_reload(struct smt_agent *a, struct smt_diag *d) SMT_WUR;

/* Handle one request: version and type from the frame header, body = its next body_len unread
 * bytes (all consumed).  Appends exactly one reply frame to out: VERSION when version differs
 * from SMT_PROTO_VERSION, FAILURE for anything refused or malformed, otherwise the reply of
 * the type.  peer is the checked peer (same uid).  Returns < 0 only when no reply could be
 * built (out of memory): the server then drops the connection.  SMT_AGENT_DEFERRED (> 0): no
 * reply yet, see smt_agent_set_deferred. */
int smt_agent_handle(struct smt_agent *a, struct smt_peer *peer, uint8_t version, uint8_t type,
                     struct smt_buf *body, size_t body_len, struct smt_buf *out) SMT_WUR;

/* Deferred replies.  Fetching credentials can take long (a credential_process or `aws
 * configure export-credentials` may run for [agent] credential_timeout), and one endpoint waiting
 * must not stall the others.  Once the server calls smt_agent_set_deferred with its sd-event
 * loop e, such processes run as sources of e (agent/credjob.c; SIGCHLD must be blocked), and
 * smt_agent_handle returns SMT_AGENT_DEFERRED for a GET_TOKEN that has to wait: it appended
 * nothing to out, and the server must not hand that connection another request until the reply
 * comes.  When the process has finished, the agent (from a source of e) calls reply(conn, frame,
 * userdata) once per waiting request, conn being the peer pointer given to smt_agent_handle and
 * frame one whole reply frame (take its bytes during the call; it is wiped afterwards; do not
 * call back into the agent from it).  A connection that closes while it waits must call
 * smt_agent_forget(a, conn) first.  Without smt_agent_set_deferred everything stays synchronous
 * (unit tests, tools).  The agent keeps a reference to e until smt_agent_free. */
#define SMT_AGENT_DEFERRED 1
int smt_agent_set_deferred(struct smt_agent *a, sd_event *e,
                           void (*reply)(struct smt_peer *conn, struct smt_buf *frame,
                                         void *userdata),
                           void *userdata) SMT_WUR;
void smt_agent_forget(struct smt_agent *a, const struct smt_peer *conn);

/* Proactive work: the earliest CLOCK_BOOTTIME (usec) at which some endpoint wants it (rotation
 * of a token with a sink, credential refresh ahead of expiry), 0 if none.  The server arms one
 * timer for it and calls smt_agent_tick when it fires (and re-asks after every event). */
uint64_t smt_agent_next_wakeup(const struct smt_agent *a);
void smt_agent_tick(struct smt_agent *a);

#endif
