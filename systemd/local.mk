# systemd/: the user units.  The socket is installed as is; the service is made from
# smtoken-agent.service.in at build time so ExecStart names the installed smtoken-agent
# ($(bindir), expanded by make, so `make bindir=...` and DESTDIR installs work).
EXTRA_DIST += systemd/smtoken-agent.socket systemd/smtoken-agent.service.in
CLEANFILES += systemd/smtoken-agent.service

if HAVE_SYSTEMDUSERUNITDIR
dist_systemduserunit_DATA = systemd/smtoken-agent.socket
nodist_systemduserunit_DATA = systemd/smtoken-agent.service
endif

# Built by `make` (and by make check, for tests/integration/systemd-units.sh) even when the units
# are not installed.
noinst_DATA = systemd/smtoken-agent.service

systemd/smtoken-agent.service: $(srcdir)/systemd/smtoken-agent.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && \
	sed -e 's|@bindir[@]|$(bindir)|g' $(srcdir)/systemd/smtoken-agent.service.in > $@.tmp && \
	mv -f $@.tmp $@
