/* smtoken-agent: credential sources (creds_env.c, creds_file.c, creds_process.c), shared with
 * creds.c, the unit tests and (for the child process API) the agent's event loop. */
#ifndef SMT_CREDS_INTERNAL_H
#define SMT_CREDS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/creds.h"
#include "proto/err.h"

/* ---- creds.c ---- */

/* "2024-05-01T12:00:00Z", "2024-05-01 12:00:00.5+02:00", "...+0200" -> epoch seconds (fractions
 * dropped).  SMT_ERR_FORMAT for anything else or an impossible date. */
int smt_parse_rfc3339(const char *s, size_t len, int64_t *ret) SMT_WUR;

/* Access and secret keys are printable ASCII without spaces (what AWS issues); a value that is
 * not (a stray newline from a continuation line, a quote) gets a message naming what (never the
 * value). */
int smt_creds_check_chars(const char *what, const char *v, size_t len, struct smt_diag *d) SMT_WUR;

/* The profile the default chain uses: AWS_DEFAULT_PROFILE > AWS_PROFILE > "default" (botocore:
 * a variable that is set but empty means "default").  Static or environment storage; *ret_var
 * (if non-NULL) names the variable it came from, or NULL. */
const char *smt_creds_default_profile(const char **ret_var);

/* A file path from the environment variable var ('~/' expanded), or ~/.aws/<file>. malloc'd. */
int smt_creds_aws_path(const char *var, const char *file, char **ret) SMT_WUR;

/* ---- creds_env.c ---- */

/* AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SECURITY_TOKEN / AWS_SESSION_TOKEN,
 * AWS_CREDENTIAL_EXPIRATION), as botocore's EnvProvider.  SMT_ERR_NOT_FOUND (d untouched) when
 * AWS_ACCESS_KEY_ID is unset or empty; SMT_ERR_CREDS when it is set but unusable. */
int smt_creds_from_env(struct smt_creds **ret, struct smt_diag *d) SMT_WUR;

/* ---- resolution plans (creds.c, creds_file.c, creds_process.c) ----
 *
 * Resolution is split in two so the agent's event loop never waits for a child: the plan step
 * reads the environment and the shared files (fast, no children) and yields either credentials
 * now or a command to run; the run step is either smt_creds_plan_run (blocking: --once, unit
 * tests, an agent without an event loop) or agent/credjob.c (sd-event io, child and timer
 * sources).  Both end in smt_creds_plan_finish, so a child's result reads the same either way. */
struct smt_creds_plan {
    struct smt_creds *creds;     /* no command needed: the credentials (unlocked), or NULL */
    char **argv;                 /* else the command to run (smt_strv_free), no shell */
    char what[300];              /* names the command in every message */
    char fail_hint[300];         /* hint when it exits non-zero ("" = none) */
    bool aws_cli;                /* argv is `aws configure export-credentials ...` */
    char source[SMT_SOURCE_MAX]; /* where the credentials come from, once they do */
};

/* The plan for profile (NULL: the default chain), like smt_creds_resolve.  On failure d says
 * what is wrong. */
int smt_creds_plan_new(const char *profile, struct smt_creds_plan **ret,
                       struct smt_diag *d) SMT_WUR;
/* Wipes the credentials it holds.  NULL ok. */
void smt_creds_plan_free(struct smt_creds_plan *pl);

/* The profile's plan from the shared files, botocore's order: role_arn / web_identity_token_file
 * / sso_* (through the AWS CLI), static keys in the credentials file, credential_process, static
 * keys in the config file.  The paths come from AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE.
 * pl->source gets e.g. "shared-credentials-file (profile work)". */
int smt_creds_plan_files(const char *profile, bool explicit_profile, struct smt_creds_plan *pl,
                         struct smt_diag *d) SMT_WUR;

/* ---- creds_process.c ---- */

#define SMT_PROC_OUT_MAX (64 * 1024) /* credential_process stdout cap */
#define SMT_PROC_ERR_MAX 1024        /* stderr kept for the message (the rest is drained) */

/* One child process with its stdout (secure memory) and stderr collected.  Spawn and collection
 * are separate so an event loop can drive the pipes (smt_proc_pump on readable) and reap the
 * child itself; smt_proc_run does all of it, blocking, for --once. */
struct smt_proc {
    pid_t pid;  /* 0 once reaped (or once an event loop's child source owns it) */
    int out_fd; /* -1 once at EOF */
    int err_fd;
    char *out; /* sodium_malloc'd, SMT_PROC_OUT_MAX + 1 bytes */
    size_t out_len;
    bool out_overflow;
    char err[SMT_PROC_ERR_MAX + 1];
    size_t err_len;
    int status; /* wait status once reaped */
};

/* Start argv[0] (searched in PATH, no shell) with stdin /dev/null, stdout and stderr on pipes
 * (non-blocking, close-on-exec), default signal dispositions and an empty signal mask. */
int smt_proc_spawn(char *const argv[], struct smt_proc **ret, struct smt_diag *d) SMT_WUR;
/* Read what fd (p->out_fd or p->err_fd) has now.  1: that pipe reached EOF (close it with
 * smt_proc_close_pipe, after taking it out of any poll set); 0: more may come.  Output beyond
 * the caps is counted as overflow and dropped. */
int smt_proc_pump(struct smt_proc *p, int fd) SMT_WUR;
void smt_proc_close_pipe(struct smt_proc *p, int fd);
/* Blocking: pump both pipes until EOF or timeout_ms, then reap (SIGKILL on timeout or
 * overflow).  0 when the child ran to completion (look at p->status). */
int smt_proc_run(struct smt_proc *p, int timeout_ms, struct smt_diag *d) SMT_WUR;
/* Kills (SIGKILL) and reaps a child still running (pid > 0), closes pipes, wipes the output. */
void smt_proc_free(struct smt_proc *p);
/* The messages of smt_proc_run's failures, for an event loop that runs the child itself. */
int smt_proc_diag_timeout(struct smt_diag *d, int timeout_ms);
int smt_proc_diag_overflow(struct smt_diag *d);

/* Parse credential_process output (JSON, Version 1: AccessKeyId, SecretAccessKey, optional
 * SessionToken and Expiration).  Pure; strings are decoded in secure memory.  Messages never
 * quote a value. */
int smt_creds_parse_process_json(const char *text, size_t len, struct smt_creds **ret,
                                 struct smt_diag *d) SMT_WUR;

/* Plan a profile's credential_process command line (split like shlex.split, no shell).  what
 * names it in messages, e.g. "credential_process of profile 'work'". */
int smt_creds_plan_process(struct smt_creds_plan *pl, const char *cmdline, const char *what,
                           struct smt_diag *d) SMT_WUR;
/* Plan `aws configure export-credentials --profile P --format process` (the AWS CLI resolves
 * SSO, assume-role and web identity profiles).  why names the profile's kind ("SSO",
 * "role_arn") for the hint. */
int smt_creds_plan_aws_cli(struct smt_creds_plan *pl, const char *profile, const char *why,
                           struct smt_diag *d) SMT_WUR;
/* What a planned command's run means.  p NULL: it could not be started (r, sub from
 * smt_proc_spawn); r < 0: it did not run to completion (sub says why: timeout, overflow);
 * otherwise p's exit status, stderr and output give *ret (unlocked) or d. */
int smt_creds_plan_finish(const struct smt_creds_plan *pl, const struct smt_proc *p, int r,
                          const struct smt_diag *sub, struct smt_creds **ret,
                          struct smt_diag *d) SMT_WUR;
/* Blocking: spawn pl's command, smt_proc_run it for timeout_ms (<= 0: SMT_CREDS_TIMEOUT_MS),
 * then smt_creds_plan_finish.  With no command, hands over pl->creds. */
int smt_creds_plan_run(struct smt_creds_plan *pl, int timeout_ms, struct smt_creds **ret,
                       struct smt_diag *d) SMT_WUR;

/* Plan and run in one (tests, tools). */
int smt_creds_from_process(const char *cmdline, const char *what, int timeout_ms,
                           struct smt_creds **ret, struct smt_diag *d) SMT_WUR;
int smt_creds_from_aws_cli(const char *profile, const char *why, struct smt_creds **ret,
                           struct smt_diag *d) SMT_WUR;

#endif
