/* smtoken-agent --once NAME [--config PATH]: mint one token and print it, no daemon.
 *
 * For scripts and for checking a configuration: hardens the process (DESIGN §4), loads the
 * config, resolves the endpoint's credentials and region, mints one token valid for
 * min(lifetime, credential expiry - now) and writes it plus "\n" to stdout.  On failure prints
 * one "smtoken-agent: ..." line (and a "hint: ..." line where it helps) on stderr, nothing on
 * stdout.
 */
#ifndef SMT_ONCE_H
#define SMT_ONCE_H

/* name NULL or "": the default endpoint; config_path NULL: smt_config_default_path's choice.
 * Returns the process exit status: 0, or 1 on any failure. */
int smt_once_main(const char *name, const char *config_path);

#endif
