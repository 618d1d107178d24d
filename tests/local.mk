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
TESTS += tests/unit/test-sigv4 tests/unit/test-token tests/integration/once-botocore.sh \
	tests/integration/vectors-sync.sh
EXTRA_DIST += tests/integration/once-botocore.sh tests/integration/vectors-sync.sh
tests_unit_test_sigv4_SOURCES = tests/unit/test-sigv4.c $(SIGV4_UNIT_SOURCES)
tests_unit_test_sigv4_CFLAGS = $(UNIT_CFLAGS) $(JSONC_CFLAGS)
tests_unit_test_sigv4_LDADD = $(UNIT_LIBS) $(JSONC_LIBS)
# test-token and bench-mint also use smt_creds_new (test-token checks what it refuses).
SIGV4_CREDS_SOURCES = agent/creds.c agent/creds_env.c agent/creds_file.c agent/creds_process.c \
	agent/awsfiles.c
tests_unit_test_token_SOURCES = tests/unit/test-token.c $(SIGV4_UNIT_SOURCES) $(SIGV4_CREDS_SOURCES)
tests_unit_test_token_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_token_LDADD = $(UNIT_LIBS)
# Benchmarks are built only by `make bench` (EXTRA_PROGRAMS), never by make or make check.
EXTRA_PROGRAMS += tests/bench/bench-mint
SMT_BENCH += tests/bench/bench-mint
tests_bench_bench_mint_SOURCES = tests/bench/bench-mint.c $(SIGV4_UNIT_SOURCES) $(SIGV4_CREDS_SOURCES)
tests_bench_bench_mint_CFLAGS = $(UNIT_CFLAGS)
tests_bench_bench_mint_LDADD = $(UNIT_LIBS)
CLEANFILES += $(SMT_BENCH)
# Python benchmarks run by `make bench` after the programs, with $(PYTHON3); the botocore
# comparison skips itself when botocore is missing.
SMT_BENCH_PY = tests/bench/bench-botocore.py
EXTRA_DIST += $(SMT_BENCH_PY)
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
# test-cache: the token cache with a fake clock, minting real tokens.  test-requests: the
# agent's request handlers end to end through the proto encoders, with a temp config, env
# credentials, a credential_process profile, a sink and a fake clock (its log is read back).
CACHE_UNIT_SOURCES = agent/cache.c agent/cache.h agent/sigv4.c agent/token.c \
	agent/creds.c agent/creds_env.c agent/creds_file.c agent/creds_process.c agent/awsfiles.c \
	tests/unit/tokfacts.h
check_PROGRAMS += tests/unit/test-cache tests/unit/test-requests
TESTS += tests/unit/test-cache tests/unit/test-requests
tests_unit_test_cache_SOURCES = tests/unit/test-cache.c $(CACHE_UNIT_SOURCES) proto/err.c
tests_unit_test_cache_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_cache_LDADD = $(UNIT_LIBS)
tests_unit_test_requests_SOURCES = tests/unit/test-requests.c agent/log.c \
	agent/requests.c agent/requests.h agent/agent_internal.h agent/endpoint.c \
	agent/credjob.c agent/credjob.h agent/audit.c agent/audit.h agent/config.c \
	agent/sink.c client/shell.c $(CACHE_UNIT_SOURCES) $(PROTO_UNIT_SOURCES)
tests_unit_test_requests_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_requests_LDADD = $(UNIT_LIBS)
# --- requests/cache (end) ---

# --- sink (begin) ---
# The safe file writer and the token-file formats (agent/sink.c reuses client/shell.c's quoting),
# and `smtoken write` against a fake agent (client-write.sh).
SINK_UNIT_SOURCES = agent/sink.c agent/sink.h client/shell.c client/shell.h proto/err.c proto/buf.c
check_PROGRAMS += tests/unit/test-sink
TESTS += tests/unit/test-sink tests/integration/client-write.sh
EXTRA_DIST += tests/integration/client-write.sh
tests_unit_test_sink_SOURCES = tests/unit/test-sink.c $(SINK_UNIT_SOURCES)
tests_unit_test_sink_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_sink_LDADD = $(UNIT_LIBS)
# --- sink (end) ---

# --- systemd/man (begin) ---
# The user units (verify + sandbox rating) and the docs (man pages render cleanly, completions
# parse, --help and config keys are documented).  The units and man pages themselves are in
# systemd/local.mk, man/local.mk and contrib/local.mk.
SYSTEMD_MAN_TESTS = tests/integration/systemd-units.sh tests/integration/docs.sh
TESTS += $(SYSTEMD_MAN_TESTS)
EXTRA_DIST += $(SYSTEMD_MAN_TESTS)
# --- systemd/man (end) ---

# --- agent runtime (begin) ---
# test-server links server.c and log.c with a fake agent (smt_agent_handle, smt_peer_from_fd, ...)
# defined in the test itself, so it needs neither requests.c nor credentials.
check_PROGRAMS += tests/unit/test-server
TESTS += tests/unit/test-server
tests_unit_test_server_SOURCES = tests/unit/test-server.c agent/server.c agent/server.h \
	agent/log.c agent/log.h proto/err.c proto/buf.c proto/msg.c proto/io.c
tests_unit_test_server_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_server_LDADD = $(UNIT_LIBS)
# The agent end to end: daemonize/eval, -k, stale and live sockets, SIGHUP, socket activation.
TESTS += tests/integration/agent-lifecycle.sh
EXTRA_DIST += tests/integration/agent-lifecycle.sh
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
	tests/integration/lib.sh tests/integration/leakscan.py tests/integration/fakeagent.py \
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
	@set -e; for s in $(SMT_BENCH_PY); do echo "== $$s"; \
	  if test -n "$(PYTHON3)"; then $(PYTHON3) $(srcdir)/$$s; \
	  else echo "$$s: skipped: python3 not found (configure looks for it)"; fi; done

# --- creds integration (begin) ---
# Credential expiry/rotation, credential_process failures, sinks and `smtoken write`, reload,
# `smtoken add`, wall-clock jumps (libfaketime) and the AWS CLI bridge: TAP shell scenarios
# (tests/integration/lib.sh) with the stand-in programs they run in tests/integration/fixtures.
CREDS_SCENARIOS = \
	tests/integration/creds-process-expiry.sh \
	tests/integration/creds-process-failures.sh \
	tests/integration/agent-sink.sh \
	tests/integration/agent-reload.sh \
	tests/integration/agent-add.sh \
	tests/integration/agent-clockjump.sh \
	tests/integration/awscli-bridge.sh
TESTS += $(CREDS_SCENARIOS)
EXTRA_DIST += $(CREDS_SCENARIOS) \
	tests/integration/fixtures/cred-process-rotating.sh \
	tests/integration/fixtures/cred-process-bad.sh \
	tests/integration/fixtures/aws-sso-expired.sh \
	tests/integration/fixtures/aws-v1.sh \
	tests/integration/fixtures/faketime-timerfd-fix.c
# --- creds integration (end) ---

# --- security review (begin) ---
# Regression scenarios from the security review (one finding per file).
SECURITY_TESTS = tests/integration/agent-envchild.sh tests/integration/client-nodump.sh
TESTS += $(SECURITY_TESTS)
EXTRA_DIST += $(SECURITY_TESTS)
# --- security review (end) ---
