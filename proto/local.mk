# proto/: the wire protocol shared by agent and client (links libc only).
noinst_LIBRARIES += libsmtproto.a
libsmtproto_a_SOURCES = \
	proto/proto.h \
	proto/err.c proto/err.h \
	proto/buf.c proto/buf.h \
	proto/msg.c proto/msg.h \
	proto/io.c proto/io.h
EXTRA_DIST += proto/PROTOCOL.md
