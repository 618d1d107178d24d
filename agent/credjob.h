/* smtoken-agent: credential processes run by the agent's event loop (agent/credjob.c).
 *
 * A credential_process or `aws configure export-credentials` may run for up to the configured
 * credential_timeout; the agent's event loop must not wait for it.  A job runs the command of one
 * resolution plan (creds_internal.h) as sd-event sources: io sources on its stdout and stderr
 * (smt_proc_pump), a child source (WEXITED) and a CLOCK_BOOTTIME timer for the timeout.  No
 * threads: every callback runs on the loop.  The set of jobs (one per agent) owns a defer source
 * that calls done() once after jobs have finished.  Nothing here logs or touches agent state.
 *
 * SIGCHLD must be blocked (main.c does it) before a job starts: sd-event's child sources need it.
 */
#ifndef SMT_CREDJOB_H
#define SMT_CREDJOB_H

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "agent/creds.h"
#include "agent/creds_internal.h"
#include "proto/err.h"

struct smt_credjobs;
struct smt_credjob;

/* The set, in loop e (referenced).  done(userdata) runs from a defer source of e after one or
 * more jobs have finished (look with smt_credjob_done). */
int smt_credjobs_new(sd_event *e, void (*done)(void *userdata), void *userdata,
                     struct smt_credjobs **ret) SMT_WUR;
/* Release every job first.  NULL ok. */
void smt_credjobs_free(struct smt_credjobs *js);

/* Start the command of *plan (which must have one; it is taken over, *plan set to NULL, on
 * success), allowed to run for timeout_s seconds.  On failure (the command cannot be started:
 * the same message as smt_creds_plan_run gives) d says why and *plan stays the caller's. */
int smt_credjob_start(struct smt_credjobs *js, struct smt_creds_plan **plan, uint32_t timeout_s,
                      struct smt_credjob **ret, struct smt_diag *d) SMT_WUR;
/* true once the job has its result. */
bool smt_credjob_done(const struct smt_credjob *j);
/* A finished job's result: 0 with *ret_creds (locked; the caller owns it) and source, or < 0
 * with *ret_d.  Call once, only when smt_credjob_done. */
int smt_credjob_result(struct smt_credjob *j, struct smt_creds **ret_creds, char *source,
                       size_t source_len, struct smt_diag *ret_d);
/* The owner no longer needs the job: a process still running is killed (SIGKILL) and reaped
 * before this returns; its sources, pipes and output are freed and wiped.  NULL ok. */
void smt_credjob_release(struct smt_credjob *j);

#endif
