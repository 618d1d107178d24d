# contrib/: shell completions and the example config.
#
# Completions go where each shell finds them by command name; override on the make command line
# (e.g. make install bashcompletiondir=/etc/bash_completion.d).  Each file also covers
# smtoken-agent, installed a second time under that name for shells that load by name.
bashcompletiondir = $(datadir)/bash-completion/completions
zshcompletiondir = $(datadir)/zsh/site-functions
fishcompletiondir = $(datadir)/fish/vendor_completions.d
exampledir = $(docdir)/examples

EXTRA_DIST += contrib/completions/smtoken.bash contrib/completions/_smtoken \
	contrib/completions/smtoken.fish
dist_example_DATA = contrib/smtoken.conf.example
dist_zshcompletion_DATA = contrib/completions/_smtoken

# bash-completion and fish load completions by the command's name, not the file's.
install-data-local: install-completions
install-completions:
	$(MKDIR_P) '$(DESTDIR)$(bashcompletiondir)' '$(DESTDIR)$(fishcompletiondir)'
	$(INSTALL_DATA) $(srcdir)/contrib/completions/smtoken.bash '$(DESTDIR)$(bashcompletiondir)/smtoken'
	$(INSTALL_DATA) $(srcdir)/contrib/completions/smtoken.bash '$(DESTDIR)$(bashcompletiondir)/smtoken-agent'
	$(INSTALL_DATA) $(srcdir)/contrib/completions/smtoken.fish '$(DESTDIR)$(fishcompletiondir)/smtoken.fish'
	$(INSTALL_DATA) $(srcdir)/contrib/completions/smtoken.fish '$(DESTDIR)$(fishcompletiondir)/smtoken-agent.fish'
uninstall-local: uninstall-completions
uninstall-completions:
	rm -f '$(DESTDIR)$(bashcompletiondir)/smtoken' '$(DESTDIR)$(bashcompletiondir)/smtoken-agent' \
	  '$(DESTDIR)$(fishcompletiondir)/smtoken.fish' '$(DESTDIR)$(fishcompletiondir)/smtoken-agent.fish'
.PHONY: install-completions uninstall-completions
