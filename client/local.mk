# client/: smtoken. Links proto and libc only (agent/sink.c, the safe file writer shared with
# the agent, is libc only too).
bin_PROGRAMS += smtoken
smtoken_SOURCES = client/main.c client/shell.c client/shell.h client/procjson.c client/procjson.h \
	agent/sink.c agent/sink.h
smtoken_LDADD = libsmtproto.a
