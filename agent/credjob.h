/* smtoken-agent: credential resolution on worker threads (agent/credjob.c).
 *
 * smt_creds_resolve may run a credential_process or the AWS CLI for up to the configured
 * credential_timeout; the agent's event loop must not wait for it.  A job runs one
 * smt_creds_resolve_opts on its own thread; the set of jobs owns one eventfd that becomes
 * readable whenever a job finishes.  Nothing here logs or touches agent state.
 */
#ifndef SMT_CREDJOB_H
#define SMT_CREDJOB_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/creds.h"
#include "proto/err.h"

struct smt_credjobs;
struct smt_credjob;

/* The set (one per agent) and its eventfd (close-on-exec, non-blocking). */
int smt_credjobs_new(struct smt_credjobs **ret) SMT_WUR;
int smt_credjobs_fd(const struct smt_credjobs *js);
/* Read the eventfd empty and join the threads of released jobs that have finished. */
void smt_credjobs_ack(struct smt_credjobs *js);
/* Cancels every job (a running process is killed), joins every thread, frees.  After this no
 * worker thread of the set runs, so the caller may change the environment again.  NULL ok. */
void smt_credjobs_free(struct smt_credjobs *js);

/* Start resolving profile (NULL: the default chain) on a new thread, a process allowed to run
 * for timeout_s seconds. */
int smt_credjob_start(struct smt_credjobs *js, const char *profile, uint32_t timeout_s,
                      struct smt_credjob **ret) SMT_WUR;
/* true once the job has its result. */
bool smt_credjob_done(struct smt_credjob *j);
/* A finished job's result: its smt_creds_resolve return value; on 0, *ret_creds (locked; the
 * caller owns it) and source; on failure, *ret_d.  Call once, only when smt_credjob_done. */
int smt_credjob_result(struct smt_credjob *j, struct smt_creds **ret_creds, char *source,
                       size_t source_len, struct smt_diag *ret_d);
/* The owner no longer needs the job: a running process is killed; the job is freed (its
 * thread joined, its result wiped) now if it has finished, else by smt_credjobs_ack/free.
 * NULL ok. */
void smt_credjob_release(struct smt_credjob *j);

#endif
