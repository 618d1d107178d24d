# agent/: smtoken-agent.  Everything but main.c goes into libsmtagent.a so unit tests,
# fuzzers and benchmarks link the same objects.
noinst_LIBRARIES += libsmtagent.a
libsmtagent_a_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS) $(CRYPTO_CFLAGS) $(INIH_CFLAGS) $(SYSTEMD_CFLAGS)
libsmtagent_a_SOURCES = \
	agent/sigv4.c agent/sigv4.h \
	agent/token.c agent/token.h \
	agent/creds.c agent/creds.h \
	agent/awsfiles.c agent/awsfiles.h \
	agent/creds_env.c agent/creds_file.c agent/creds_process.c agent/creds_internal.h \
	agent/config.c agent/config.h \
	agent/once.c agent/once.h \
	agent/cache.c agent/cache.h \
	agent/sink.c agent/sink.h client/shell.c client/shell.h \
	agent/log.c agent/log.h \
	agent/audit.c agent/audit.h \
	agent/server.c agent/server.h \
	agent/requests.c agent/requests.h agent/agent_internal.h \
	agent/endpoint.c agent/credjob.c agent/credjob.h

AGENT_LIBS = libsmtagent.a libsmtproto.a $(SODIUM_LIBS) $(CRYPTO_LIBS) $(INIH_LIBS) $(SYSTEMD_LIBS)

bin_PROGRAMS += smtoken-agent
smtoken_agent_SOURCES = agent/main.c
smtoken_agent_CFLAGS = $(libsmtagent_a_CFLAGS)
smtoken_agent_LDADD = $(AGENT_LIBS)
