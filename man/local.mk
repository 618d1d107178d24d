# man/: the manual pages (roff, man(7) macros), checked by tests/integration/docs.sh.
dist_man_MANS += man/smtoken.1 man/smtoken-agent.1 man/smtoken.conf.5
