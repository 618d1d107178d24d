# tests/: unit binaries (TAP), integration scenarios (TAP shell scripts), benchmarks.
# Unit tests link the module sources they test (so one module can be built alone).
UNIT_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS) $(CRYPTO_CFLAGS) $(INIH_CFLAGS) $(SYSTEMD_CFLAGS)
UNIT_LIBS = $(SODIUM_LIBS) $(CRYPTO_LIBS) $(INIH_LIBS) $(SYSTEMD_LIBS)
EXTRA_DIST += tests/vectors/token-vectors.json

# --- sigv4/token (begin) ---
# The vectors (test-sigv4), edge and negative cases (test-token), SigV4 against botocore
# through smtoken-agent --once (once-botocore.sh), and the mint benchmark (make bench).
SIGV4_UNIT_SOURCES = agent/sigv4.c agent/sigv4.h agent/token.c agent/token.h proto/err.c
check_PROGRAMS += tests/unit/test-sigv4 tests/unit/test-token
TESTS += tests/unit/test-sigv4 tests/unit/test-token tests/integration/once-botocore.sh
EXTRA_DIST += tests/integration/once-botocore.sh
tests_unit_test_sigv4_SOURCES = tests/unit/test-sigv4.c $(SIGV4_UNIT_SOURCES)
tests_unit_test_sigv4_CFLAGS = $(UNIT_CFLAGS) $(JSONC_CFLAGS)
tests_unit_test_sigv4_LDADD = $(UNIT_LIBS) $(JSONC_LIBS)
tests_unit_test_token_SOURCES = tests/unit/test-token.c $(SIGV4_UNIT_SOURCES)
tests_unit_test_token_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_token_LDADD = $(UNIT_LIBS)
# Benchmarks are built only by `make bench` (EXTRA_PROGRAMS), never by make or make check.
EXTRA_PROGRAMS += tests/bench/bench-mint
SMT_BENCH += tests/bench/bench-mint
tests_bench_bench_mint_SOURCES = tests/bench/bench-mint.c $(SIGV4_UNIT_SOURCES)
tests_bench_bench_mint_CFLAGS = $(UNIT_CFLAGS)
tests_bench_bench_mint_LDADD = $(UNIT_LIBS)
CLEANFILES += $(SMT_BENCH)
# --- sigv4/token (end) ---

# --- proto/client (begin) ---
PROTO_UNIT_SOURCES = proto/err.c proto/buf.c proto/msg.c
check_PROGRAMS += tests/unit/test-buf tests/unit/test-msg tests/unit/test-io tests/unit/test-shell
TESTS += tests/unit/test-buf tests/unit/test-msg tests/unit/test-io tests/unit/test-shell
tests_unit_test_buf_SOURCES = tests/unit/test-buf.c proto/err.c proto/buf.c
tests_unit_test_buf_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_buf_LDADD = $(UNIT_LIBS)
tests_unit_test_msg_SOURCES = tests/unit/test-msg.c $(PROTO_UNIT_SOURCES)
tests_unit_test_msg_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_msg_LDADD = $(UNIT_LIBS)
tests_unit_test_io_SOURCES = tests/unit/test-io.c $(PROTO_UNIT_SOURCES) proto/io.c
tests_unit_test_io_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_io_LDADD = $(UNIT_LIBS)
tests_unit_test_shell_SOURCES = tests/unit/test-shell.c client/shell.c client/shell.h \
	client/procjson.c client/procjson.h $(PROTO_UNIT_SOURCES)
tests_unit_test_shell_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_shell_LDADD = $(UNIT_LIBS)
TESTS += tests/integration/client-usage.sh tests/integration/client-fakeagent.sh
EXTRA_DIST += tests/integration/client-usage.sh tests/integration/client-fakeagent.sh
# --- proto/client (end) ---

# --- config/creds (begin) ---
CREDS_UNIT_SOURCES = agent/creds.c agent/creds_env.c agent/creds_file.c agent/creds_process.c \
	agent/awsfiles.c proto/err.c
check_PROGRAMS += tests/unit/test-config tests/unit/test-awsfiles tests/unit/test-creds
TESTS += tests/unit/test-config tests/unit/test-awsfiles tests/unit/test-creds
tests_unit_test_config_SOURCES = tests/unit/test-config.c agent/config.c proto/err.c
tests_unit_test_config_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_config_LDADD = $(UNIT_LIBS)
tests_unit_test_awsfiles_SOURCES = tests/unit/test-awsfiles.c agent/awsfiles.c proto/err.c
tests_unit_test_awsfiles_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_awsfiles_LDADD = $(UNIT_LIBS)
tests_unit_test_creds_SOURCES = tests/unit/test-creds.c $(CREDS_UNIT_SOURCES)
tests_unit_test_creds_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_creds_LDADD = $(UNIT_LIBS)
# test-once replaces agent/token.c with a stub that prints its inputs.
check_PROGRAMS += tests/unit/test-once
TESTS += tests/unit/test-once
tests_unit_test_once_SOURCES = tests/unit/test-once.c agent/once.c agent/config.c \
	$(CREDS_UNIT_SOURCES)
tests_unit_test_once_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_once_LDADD = $(UNIT_LIBS)
# smtoken-agent --once against the real binary (they skip if it has no --once yet).
CREDS_INTEGRATION_TESTS = tests/integration/once-errors.sh tests/integration/once-tokens.sh
TESTS += $(CREDS_INTEGRATION_TESTS)
EXTRA_DIST += $(CREDS_INTEGRATION_TESTS)
# --- config/creds (end) ---

# --- requests/cache (begin) ---
# --- requests/cache (end) ---

# --- sink (begin) ---
# --- sink (end) ---

# --- systemd/man (begin) ---
# --- systemd/man (end) ---

# --- agent runtime (begin) ---
# --- agent runtime (end) ---

# --- integration (begin) ---
# Shell scenarios (TAP) against the built smtoken/smtoken-agent, the mock endpoint and the real
# OpenAI Node SDK.  mock-vectors.sh checks the mock's verifier first; it needs no binaries.
INTEGRATION_TESTS = \
	tests/integration/mock-vectors.sh \
	tests/integration/agent-openai-env.sh \
	tests/integration/agent-curl.sh \
	tests/integration/agent-exec.sh \
	tests/integration/agent-shells.sh \
	tests/integration/agent-expiry.sh \
	tests/integration/agent-errors.sh \
	tests/integration/agent-peeruid.sh \
	tests/integration/agent-awsfiles.sh \
	tests/integration/agent-noleak.sh
TESTS += $(INTEGRATION_TESTS)
EXTRA_DIST += $(INTEGRATION_TESTS) \
	tests/integration/lib.sh tests/integration/leakscan.py \
	tests/mock/mock.py tests/mock/selftest.py \
	tests/node/package.json tests/node/package-lock.json tests/node/chat.mjs tests/node/models.mjs \
	contrib/demo.sh

# The README's one-command demo: agent + a real OpenAI SDK call against the local mock.
demo: smtoken smtoken-agent
	$(SHELL) $(srcdir)/contrib/demo.sh $(abs_top_builddir)
.PHONY: demo
# --- integration (end) ---

# make bench: builds and runs every program in SMT_BENCH (modules add theirs with +=).
bench: $(SMT_BENCH)
	@set -e; for p in $(SMT_BENCH); do echo "== $$p"; ./$$p; done
