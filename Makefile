# Build, test and install flom.
#   make                 build the release binary ($(CARGO_TARGET_DIR)/release/flom)
#   make check           run every test (unit and integration)
#   make lint            cargo clippy on every target, warnings as errors
#   make install         install the binary, the man pages flom(1) and flom.conf(5),
#                        the bash, zsh and fish completions, the sample config
#                        and the systemd units flom.service and flom.socket
#   make uninstall       remove what make install installed
#   make fuzz            AFL++ fuzzing, FUZZ_SECONDS per target (fuzz/README.md)
#   make soak            the chaos soak for SOAK_SECONDS (default 300)
#   make bench-etcd      the README's etcd figures against a 3-member etcd
#                        cluster it starts (tests/bench/etcd.sh; ETCD_BENCH_RUNS)
#   make vendor          copy every dependency's source into vendor/ and point
#                        cargo at it (.cargo/config.toml), for offline builds
#
# Directory variables, GNU style (lower case) or upper case; a lower-case one
# wins when both are given:
#   prefix (PREFIX) = /usr/local      exec_prefix = $(prefix)
#   bindir (BINDIR) = $(exec_prefix)/bin
#   libdir (LIBDIR) = $(exec_prefix)/lib     libflom.so.0 and pkgconfig/flom.pc
#   includedir (INCLUDEDIR) = $(prefix)/include   the C and C++ headers of libflom
#   datarootdir = $(prefix)/share     datadir (DATADIR) = $(datarootdir)
#   mandir (MANDIR) = $(datarootdir)/man     docdir (DOCDIR) = $(datarootdir)/doc/flom
#   sysconfdir (SYSCONFDIR) = /etc    where flom reads flom.conf: compiled into
#                   the binary and written into the man pages. Unlike the GNU
#                   default ($(prefix)/etc) it does not follow prefix, so that
#                   /etc/flom.conf works for every prefix, as with C FLoM packages.
#   bashcompdir = $(datadir)/bash-completion/completions
#   zshcompdir  = $(datadir)/zsh/site-functions
#   fishcompdir = $(datadir)/fish/vendor_completions.d
#   systemdunitdir (SYSTEMDUNITDIR) = $(prefix)/lib/systemd/system
#                   flom.service and flom.socket (systemd/), ExecStart
#                   naming $(bindir)/flom
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
SYSTEMDUNITDIR ?= $(prefix)/lib/systemd/system
systemdunitdir ?= $(SYSTEMDUNITDIR)
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

.PHONY: all build check test lint bench bench-etcd vendor install uninstall clean fuzz soak

all: build

build:
	$(CARGO) build --release $(CARGO_FLAGS)

check test:
	$(CARGO) build --release $(CARGO_FLAGS)
	$(CARGO) test --profile test-release $(CARGO_FLAGS) -- --test-threads=4

# Not part of check: it needs clippy (rustup component clippy), which a
# minimal toolchain may lack. The fuzz/ crate is its own workspace, not linted.
lint:
	$(CARGO) clippy $(CARGO_FLAGS) --all-targets -- -D warnings

# Short default benchmark set against a fresh daemon on a private socket;
# prints a table and the issue-6 targets. BENCH_ARGS adds flom-bench options.
bench: build
	@d=$$(mktemp -d /tmp/flom-bench.XXXXXX); s=$$d/s; \
	$(FLOM_BIN) -s $$s -d -1 -- true && \
	pid=$$(pgrep -o -f -- "flom -s $$s -d -1"); \
	$(CARGO_TARGET_DIR)/release/flom-bench all -s $$s -p $$pid --flom $(FLOM_BIN) $(BENCH_ARGS); rc=$$?; \
	$(FLOM_BIN) -s $$s -X >/dev/null; rm -rf $$d; exit $$rc

# The figures of the README's etcd table: a 3-member etcd cluster on free
# loopback ports (data on /dev/shm), flom-bench cycle and contend -c 8 against
# an etcd daemon and an in-memory daemon, then `flom -- true` against
# `etcdctl lock NAME true`, ETCD_BENCH_RUNS runs each. Needs etcd and etcdctl.
ETCD_BENCH_RUNS ?= 40
bench-etcd: build
	ETCD_BENCH_RUNS=$(ETCD_BENCH_RUNS) tests/bench/etcd.sh $(FLOM_BIN) $(CARGO_TARGET_DIR)/release/flom-bench

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

# ---------------------------------------------------------------- reliability
# make fuzz   every AFL++ target for FUZZ_SECONDS each (default 60), corpora
#             seeded from ../shared/vectors (FUZZ_VECTORS); fails on a finding
# make soak   the chaos soak for SOAK_SECONDS (default 300) against one daemon
FUZZ_SECONDS ?= 60
SOAK_SECONDS ?= 300

fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) ./fuzz/run.sh

soak:
	SOAK_SECONDS=$(SOAK_SECONDS) $(CARGO) test --release $(CARGO_FLAGS) --test soak -- --nocapture

# ---------------------------------------------------------------------------
# libflom: the C API as libflom.so.0 (built by cargo as a cdylib), its C and
# C++ headers, flom.pc, and the Python package's tests.
#   make install          also installs $(libdir)/libflom.so.0.2.0 with the
#                         links libflom.so.0 and libflom.so, the headers under
#                         $(includedir), $(libdir)/pkgconfig/flom.pc
#   make check            also runs the Python package's pytest tests
#   make bench-capi       lock/unlock cycles through the C API (BENCH_CYCLES),
#                         with C FLoM's library too when CFLOM_LIBDIR names it
PYTHON     ?= $(shell for p in python3 /usr/bin/python3; do $$p -c 'import pytest' 2>/dev/null && { echo $$p; break; }; done)
LIBFLOM_SO       = libflom.so.0.2.0
LIBFLOM_HEADERS  = flom.h flom_errors.h flom_handle.h flom_types.h flom.hh FlomHandle.hh

.PHONY: install-libflom uninstall-libflom check-python bench-capi
install: install-libflom
uninstall: uninstall-libflom
check: check-python

install-libflom: build
	install -d $(DESTDIR)$(libdir)/pkgconfig $(DESTDIR)$(includedir)
	install -m 0755 $(CARGO_TARGET_DIR)/release/libflom.so $(DESTDIR)$(libdir)/$(LIBFLOM_SO)
	ln -sf $(LIBFLOM_SO) $(DESTDIR)$(libdir)/libflom.so.0
	ln -sf libflom.so.0 $(DESTDIR)$(libdir)/libflom.so
	for h in $(LIBFLOM_HEADERS); do install -m 0644 include/$$h $(DESTDIR)$(includedir)/$$h || exit 1; done
	sed -e 's|@prefix@|$(prefix)|' -e 's|@libdir@|$(libdir)|' -e 's|@includedir@|$(includedir)|' \
	    -e "s|@version@|$$(sed -n 's/^version = \"\(.*\)\"/\1/p' Cargo.toml | head -1)|" \
	    flom.pc.in > $(DESTDIR)$(libdir)/pkgconfig/flom.pc
	chmod 0644 $(DESTDIR)$(libdir)/pkgconfig/flom.pc

uninstall-libflom:
	rm -f $(DESTDIR)$(libdir)/$(LIBFLOM_SO) $(DESTDIR)$(libdir)/libflom.so.0 $(DESTDIR)$(libdir)/libflom.so
	rm -f $(DESTDIR)$(libdir)/pkgconfig/flom.pc
	for h in $(LIBFLOM_HEADERS); do rm -f $(DESTDIR)$(includedir)/$$h; done

check-python: build
	@test -n "$(PYTHON)" || { echo "flom: pytest is missing: install python3-pytest (apt) or pytest (pip), or set PYTHON"; exit 1; }
	PYTHONDONTWRITEBYTECODE=1 FLOM_LIBRARY=$(CURDIR)/$(CARGO_TARGET_DIR)/release/libflom.so FLOM_BIN=$(CURDIR)/$(CARGO_TARGET_DIR)/release/flom \
	    PYTHONPATH=$(CURDIR)/python $(PYTHON) -m pytest -q -p no:cacheprovider python/tests

BENCH_CYCLES ?= 2000
bench-capi: build
	@d=$$(mktemp -d /tmp/flom-bench-capi.XXXXXX); \
	cc -O2 -Iinclude -o $$d/capi_bench tests/c/capi_bench.c -ldl && \
	./$(CARGO_TARGET_DIR)/release/flom -s $$d/s -d -1 -- true && \
	$$d/capi_bench $$d/s $(BENCH_CYCLES) $(CURDIR)/$(CARGO_TARGET_DIR)/release/libflom.so \
	    $(if $(CFLOM_LIBDIR),$(CFLOM_LIBDIR)/libflom.so.0); rc=$$?; \
	./$(CARGO_TARGET_DIR)/release/flom -s $$d/s -X >/dev/null; rm -rf $$d; exit $$rc

# ---------------------------------------------------------------------------
# systemd: flom.service (Type=notify, flom --foreground-daemon) and
# flom.socket (socket activation) under $(systemdunitdir); the service's
# ExecStart names $(bindir)/flom.
.PHONY: install-systemd uninstall-systemd
install: install-systemd
uninstall: uninstall-systemd

install-systemd:
	$(INSTALL) -d $(DESTDIR)$(systemdunitdir)
	sed 's|@bindir@|$(bindir)|g' systemd/flom.service > $(DESTDIR)$(systemdunitdir)/flom.service
	$(INSTALL) -m 0644 systemd/flom.socket $(DESTDIR)$(systemdunitdir)/flom.socket
	chmod 0644 $(DESTDIR)$(systemdunitdir)/flom.service

uninstall-systemd:
	rm -f $(DESTDIR)$(systemdunitdir)/flom.service $(DESTDIR)$(systemdunitdir)/flom.socket
