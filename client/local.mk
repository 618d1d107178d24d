# client/: smtoken. Links proto and libc only.
bin_PROGRAMS += smtoken
smtoken_SOURCES = client/main.c client/shell.c client/shell.h
smtoken_LDADD = libsmtproto.a
