# client/: smtoken. Links proto and libc only.
bin_PROGRAMS += smtoken
smtoken_SOURCES = client/main.c client/shell.c client/shell.h client/procjson.c client/procjson.h
smtoken_LDADD = libsmtproto.a
