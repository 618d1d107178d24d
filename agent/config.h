/* smtoken-agent: smtoken.conf (DESIGN §5).
 *
 * Parsed with inih through our own line reader (agent/config.c says why).  A config is built
 * whole and returned only when every line is valid; on error the caller gets "file:line: what"
 * in a struct smt_diag and keeps whatever config it had.
 */
#ifndef SMT_CONFIG_H
#define SMT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/sink.h"
#include "agent/token.h"
#include "proto/err.h"

/* inih on Debian reads lines of at most 199 bytes (INI_MAX_LINE 200, NOTES.md); longer lines are
 * rejected with their real line number instead of being cut. */
#define SMT_CONFIG_LINE_MAX 199
/* Endpoint names: 1..64 of A-Z a-z 0-9 _ . - */
#define SMT_NAME_MAX 64

struct smt_endpoint {
    char *name;
    enum smt_service service; /* default sagemaker */
    char *region;             /* NULL: AWS_REGION / AWS_DEFAULT_REGION / the profile's */
    char *endpoint;           /* SageMaker endpoint name */
    char *inference_component;
    char *profile;       /* NULL: the AWS CLI's default chain */
    uint32_t lifetime;   /* seconds, 1..43200 (default 43200) */
    char *base_url;      /* NULL: derived (smt_endpoint_base_url) */
    char *sink;          /* NULL: no file sink; else an absolute file name */
    /* sink_format = raw|env|dotenv|json (default raw): what smt_sink_render writes */
    enum smt_sink_format sink_format;
    unsigned line;       /* line of the [endpoint NAME] header */
};

struct smt_config {
    char *path; /* the name it was parsed under, for messages */
    char *default_name;
    unsigned refresh_pct;   /* 1..99, default 80 */
    uint32_t min_remaining; /* seconds, default 60 */
    bool per_request;       /* mint = per-request */
    /* credential_timeout: seconds a credential_process or the AWS CLI may run */
    uint32_t credential_timeout;
    struct smt_endpoint *endpoints;
    size_t n_endpoints;
};

#define SMT_CREDENTIAL_TIMEOUT_MIN     1
#define SMT_CREDENTIAL_TIMEOUT_MAX     100 /* below the client's 120 s reply wait (proto/io.h) */
#define SMT_CREDENTIAL_TIMEOUT_DEFAULT 30

/* "900", "900s", "15m", "12h" -> seconds. */
int smt_parse_duration(const char *s, uint32_t *ret) SMT_WUR;
/* "80" or "80%" -> 80 (0..100; callers check their own range). */
int smt_parse_percent(const char *s, unsigned *ret) SMT_WUR;

/* Parse len bytes of text; name is used in messages ("name:line: ...").  SMT_ERR_CONFIG with d
 * set on any error; *ret is untouched then. */
int smt_config_parse(const char *text, size_t len, const char *name, struct smt_config **ret,
                     struct smt_diag *d) SMT_WUR;
/* Read and parse a file (a regular file of at most 1 MiB).  SMT_ERR_NOT_FOUND when missing. */
int smt_config_load(const char *path, struct smt_config **ret, struct smt_diag *d) SMT_WUR;
void smt_config_free(struct smt_config *c);

/* explicit_path (if set) > $SMTOKEN_CONFIG > $XDG_CONFIG_HOME/smtoken/smtoken.conf >
 * ~/.config/smtoken/smtoken.conf.  *ret is malloc'd. */
int smt_config_default_path(const char *explicit_path, char **ret) SMT_WUR;

/* The endpoint called name; NULL or "" is the default (the named default, or the only one). */
const struct smt_endpoint *smt_config_find(const struct smt_config *c, const char *name);

/* The OpenAI base URL for an endpoint in region (DESIGN §2); base_url wins.  *ret malloc'd. */
int smt_endpoint_base_url(const struct smt_endpoint *e, const char *region, char **ret) SMT_WUR;

#endif
