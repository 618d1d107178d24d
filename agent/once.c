/* smtoken-agent --once: one token on stdout (see once.h). */
#include <config.h> /* autoconf's; "config.h" would find agent/config.h */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "agent/cache.h"
#include "agent/config.h"
#include "agent/creds.h"
#include "agent/log.h"
#include "agent/once.h"
#include "agent/token.h"

static void report(const struct smt_diag *d)
{
    char text[sizeof(d->msg) + sizeof(d->detail) + 2];

    fprintf(stderr, "smtoken-agent: %s\n", smt_diag_text(d, text, sizeof(text)));
    if (d->hint[0])
        fprintf(stderr, "hint: %s\n", d->hint);
}

/* DESIGN §4: before any credential is read, in every mode. */
static int harden(struct smt_diag *d)
{
    struct rlimit no_core = {0, 0};

    umask(077);
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || setrlimit(RLIMIT_CORE, &no_core) < 0)
        return smt_diag_set(d, SMT_ERR_SYSTEM, "cannot harden the process: %s", strerror(errno));
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);

        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return SMT_ERR_SYSTEM;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int smt_once_main(const char *name, const char *config_path)
{
    struct smt_diag d = {{0}, {0}, {0}};
    struct smt_config *c = NULL;
    const struct smt_endpoint *e;
    struct smt_creds *creds = NULL;
    struct smt_minter *m = NULL;
    char *path = NULL, *region = NULL, *tok = NULL, source[SMT_SOURCE_MAX];
    size_t size = 0, len = 0;
    struct smt_creds_opts opts = {0};
    uint32_t lifetime, floor;
    time_t now;
    int r;

    if ((r = harden(&d)) < 0)
        goto out;
    if (sodium_init() < 0) {
        r = smt_diag_set(&d, SMT_ERR_CRYPTO, "libsodium failed to initialise");
        goto out;
    }
    if ((r = smt_config_default_path(config_path, &path)) < 0) {
        smt_diag_set(&d, r, "out of memory");
        goto out;
    }
    if ((r = smt_config_load(path, &c, &d)) < 0) {
        if (r == SMT_ERR_NOT_FOUND)
            smt_diag_hint(&d, "create it (see smtoken.conf(5)) or name another with --config");
        goto out;
    }
    e = smt_config_find(c, name);
    if (!e) {
        if (name && *name)
            r = smt_diag_set(&d, SMT_ERR_NOT_FOUND, "no endpoint '%s' in %s", name, path);
        else
            r = smt_diag_set(&d, SMT_ERR_NOT_FOUND, "no default endpoint in %s: %s", path,
                             c->n_endpoints ? "there are several; name one"
                                            : "it has no [endpoint NAME] section");
        if (name && *name && c->n_endpoints > 0) {
            char names[200] = "";
            size_t o = 0;

            for (size_t i = 0; i < c->n_endpoints && o < sizeof(names); i++) {
                int n = snprintf(names + o, sizeof(names) - o, "%s%s", i ? ", " : "",
                                 c->endpoints[i].name);

                o = n < 0 ? sizeof(names) : o + (size_t)n;
            }
            smt_diag_hint(&d, "known endpoints: %s%s", names, o >= sizeof(names) ? "..." : "");
        } else if (c->n_endpoints > 1) {
            smt_diag_hint(&d, "name one of its %zu endpoints, or set 'default = NAME' in [agent]",
                          c->n_endpoints);
        }
        goto out;
    }
    /* [agent] credential_timeout bounds a credential_process here as in the agent. */
    opts.timeout_ms = (int)c->credential_timeout * 1000;
    if ((r = smt_creds_resolve_opts(e->profile, &opts, &creds, source, sizeof(source), &d)) < 0)
        goto out;
    if (e->region) {
        if (!(region = strdup(e->region))) {
            r = smt_diag_set(&d, SMT_ERR_NOMEM, "out of memory");
            goto out;
        }
    } else {
        if ((r = smt_creds_region(e->profile, &region, &d)) < 0)
            goto out;
        if (!region) {
            r = smt_diag_set(&d, SMT_ERR_CONFIG, "no region for endpoint '%s'", e->name);
            smt_diag_hint(&d, "set 'region = ...' under [endpoint %s] in %s, or AWS_REGION",
                          e->name, path);
            goto out;
        }
    }
    now = time(NULL);
    lifetime = e->lifetime;
    floor = smt_cache_floor(e->lifetime, c->min_remaining);
    if (creds->expiration) {
        if (creds->expiration - (int64_t)now < (int64_t)floor) {
            char when[32];

            smt_iso8601(creds->expiration, when, sizeof(when));
            if (creds->expiration <= (int64_t)now)
                r = smt_diag_set(&d, SMT_ERR_EXPIRED, "the AWS credentials from %s expired at %s",
                                 source, when);
            else
                r = smt_diag_set(&d, SMT_ERR_EXPIRED,
                                 "the AWS credentials from %s expire at %s, in %llds: less than "
                                 "the %us a token must have left (min_remaining)",
                                 source, when, (long long)(creds->expiration - (int64_t)now),
                                 floor);
            if (strcmp(source, "env") == 0)
                smt_diag_hint(&d, "export fresh AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
                                  "AWS_SESSION_TOKEN and AWS_CREDENTIAL_EXPIRATION");
            else
                smt_diag_hint(&d, "refresh them (e.g. aws sso login --profile %s) and try again",
                              e->profile ? e->profile : "default");
            goto out;
        }
        if (creds->expiration - (int64_t)now < (int64_t)lifetime)
            lifetime = (uint32_t)(creds->expiration - (int64_t)now);
    }
    if ((r = smt_minter_new(&m)) < 0) {
        smt_diag_set(&d, r, "cannot set up token minting: %s", smt_strerror(r));
        goto out;
    }
    size = smt_token_size(creds->session_token_len) + 1; /* room for the newline */
    tok = sodium_malloc(size);
    if (!tok) {
        r = smt_diag_set(&d, SMT_ERR_NOMEM, "cannot allocate secure memory");
        goto out;
    }
    r = smt_token_mint(m, creds, e->service, region, lifetime, now, tok, size - 1, &len);
    if (r < 0) {
        smt_diag_set(&d, r, "cannot mint a token for endpoint '%s': %s", e->name, smt_strerror(r));
        goto out;
    }
    tok[len] = '\n';
    if ((r = write_all(STDOUT_FILENO, tok, len + 1)) < 0) {
        smt_diag_set(&d, r, "cannot write the token to stdout: %s", strerror(errno));
        goto out;
    }
    r = 0;
out:
    if (r < 0)
        report(&d);
    if (tok)
        sodium_free(tok); /* wipes */
    smt_minter_free(m);
    smt_creds_free(creds);
    smt_config_free(c);
    free(region);
    free(path);
    return r < 0 ? 1 : 0;
}
