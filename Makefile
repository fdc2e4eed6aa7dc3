# Build, test and install flom.
#   make                 build the release binary ($(CARGO_TARGET_DIR)/release/flom)
#   make check           run every test (unit and integration)
#   make install         install the binary, the man pages flom(1) and flom.conf(5),
#                        the bash, zsh and fish completions and the sample config
#   make uninstall       remove what make install installed
#   make vendor          copy every dependency's source into vendor/ and point
#                        cargo at it (.cargo/config.toml), for offline builds
#
# Directory variables, GNU style (lower case) or upper case; a lower-case one
# wins when both are given:
#   prefix (PREFIX) = /usr/local      exec_prefix = $(prefix)
#   bindir (BINDIR) = $(exec_prefix)/bin
#   libdir (LIBDIR) = $(exec_prefix)/lib     nothing is installed there yet
#   includedir (INCLUDEDIR) = $(prefix)/include   nothing is installed there yet
#   datarootdir = $(prefix)/share     datadir (DATADIR) = $(datarootdir)
#   mandir (MANDIR) = $(datarootdir)/man     docdir (DOCDIR) = $(datarootdir)/doc/flom
#   sysconfdir (SYSCONFDIR) = /etc    where flom reads flom.conf: compiled into
#                   the binary and written into the man pages. Unlike the GNU
#                   default ($(prefix)/etc) it does not follow prefix, so that
#                   /etc/flom.conf works for every prefix, as with C FLoM packages.
#   bashcompdir = $(datadir)/bash-completion/completions
#   zshcompdir  = $(datadir)/zsh/site-functions
#   fishcompdir = $(datadir)/fish/vendor_completions.d
#   DESTDIR         staging root prepended to every installed path
# Other variables:
#   CARGO (cargo)   CARGO_FLAGS, passed to every cargo call (e.g. --locked --offline)
#   CARGO_TARGET_DIR (target), as cargo itself reads it

PREFIX      ?= /usr/local
prefix      ?= $(PREFIX)
exec_prefix ?= $(prefix)
BINDIR      ?= $(exec_prefix)/bin
bindir      ?= $(BINDIR)
LIBDIR      ?= $(exec_prefix)/lib
libdir      ?= $(LIBDIR)
INCLUDEDIR  ?= $(prefix)/include
includedir  ?= $(INCLUDEDIR)
datarootdir ?= $(prefix)/share
DATADIR     ?= $(datarootdir)
datadir     ?= $(DATADIR)
MANDIR      ?= $(datarootdir)/man
mandir      ?= $(MANDIR)
man1dir     ?= $(mandir)/man1
man5dir     ?= $(mandir)/man5
DOCDIR      ?= $(datarootdir)/doc/flom
docdir      ?= $(DOCDIR)
SYSCONFDIR  ?= /etc
sysconfdir  ?= $(SYSCONFDIR)
bashcompdir ?= $(datadir)/bash-completion/completions
zshcompdir  ?= $(datadir)/zsh/site-functions
fishcompdir ?= $(datadir)/fish/vendor_completions.d
DESTDIR     ?=

CARGO            ?= cargo
CARGO_FLAGS      ?=
CARGO_TARGET_DIR ?= target
INSTALL          ?= install
FLOM_BIN          = $(CARGO_TARGET_DIR)/release/flom

# The system configuration directory is compiled in (cargo rebuilds when it
# changes). The man pages name /etc/flom.conf; install rewrites that path.
export FLOM_SYSCONFDIR = $(sysconfdir)
MAN_SUBST = sed 's|/etc/flom\.conf|$(sysconfdir)/flom.conf|g'

.PHONY: all build check test bench vendor install uninstall clean

all: build

build:
	$(CARGO) build --release $(CARGO_FLAGS)

check test:
	$(CARGO) build --release $(CARGO_FLAGS)
	$(CARGO) test --release $(CARGO_FLAGS) -- --test-threads=4

# Short default benchmark set against a fresh daemon on a private socket;
# prints a table and the issue-6 targets. BENCH_ARGS adds flom-bench options.
bench: build
	@d=$$(mktemp -d /tmp/flom-bench.XXXXXX); s=$$d/s; \
	$(FLOM_BIN) -s $$s -d -1 -- true && \
	pid=$$(pgrep -o -f -- "flom -s $$s -d -1"); \
	$(CARGO_TARGET_DIR)/release/flom-bench all -s $$s -p $$pid --flom $(FLOM_BIN) $(BENCH_ARGS); rc=$$?; \
	$(FLOM_BIN) -s $$s -X >/dev/null; rm -rf $$d; exit $$rc

# Offline builds: run "make vendor" once with network access, then build with
# make CARGO_FLAGS='--locked --offline' (the vendor/ tree can be shipped).
vendor:
	mkdir -p .cargo
	$(CARGO) vendor $(CARGO_FLAGS) vendor > .cargo/config.toml.new
	mv .cargo/config.toml.new .cargo/config.toml

install: build
	$(INSTALL) -d $(DESTDIR)$(bindir) $(DESTDIR)$(man1dir) $(DESTDIR)$(man5dir) \
	    $(DESTDIR)$(docdir) $(DESTDIR)$(bashcompdir) $(DESTDIR)$(zshcompdir) \
	    $(DESTDIR)$(fishcompdir)
	$(INSTALL) -m 0755 $(FLOM_BIN) $(DESTDIR)$(bindir)/flom
	$(MAN_SUBST) man/flom.1 > $(DESTDIR)$(man1dir)/flom.1
	$(MAN_SUBST) man/flom.conf.5 > $(DESTDIR)$(man5dir)/flom.conf.5
	chmod 0644 $(DESTDIR)$(man1dir)/flom.1 $(DESTDIR)$(man5dir)/flom.conf.5
	$(INSTALL) -m 0644 completions/flom.bash $(DESTDIR)$(bashcompdir)/flom
	$(INSTALL) -m 0644 completions/_flom $(DESTDIR)$(zshcompdir)/_flom
	$(INSTALL) -m 0644 completions/flom.fish $(DESTDIR)$(fishcompdir)/flom.fish
	$(INSTALL) -m 0644 etc/flom.conf README.md COPYING $(DESTDIR)$(docdir)/

uninstall:
	rm -f $(DESTDIR)$(bindir)/flom
	rm -f $(DESTDIR)$(man1dir)/flom.1 $(DESTDIR)$(man5dir)/flom.conf.5
	rm -f $(DESTDIR)$(bashcompdir)/flom $(DESTDIR)$(zshcompdir)/_flom \
	    $(DESTDIR)$(fishcompdir)/flom.fish
	rm -f $(DESTDIR)$(docdir)/flom.conf $(DESTDIR)$(docdir)/README.md \
	    $(DESTDIR)$(docdir)/COPYING
	-rmdir $(DESTDIR)$(docdir)

clean:
	$(CARGO) clean $(CARGO_FLAGS)
