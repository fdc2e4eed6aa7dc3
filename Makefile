# Build, test and install flom.
#   make                 build the release binary (target/release/flom)
#   make check           run every test (unit and integration)
#   make install         install binary, man page and sample config
#   make uninstall
# Variables: PREFIX (default /usr/local), DESTDIR (staging root),
# SYSCONFDIR (where flom reads flom.conf; fixed at build time, default /etc).

PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
DESTDIR    ?=
BINDIR      = $(PREFIX)/bin
MANDIR      = $(PREFIX)/share/man
DOCDIR      = $(PREFIX)/share/doc/flom
CARGO      ?= cargo

export FLOM_SYSCONFDIR = $(SYSCONFDIR)

.PHONY: all build check test bench install uninstall clean fuzz soak

all: build

build:
	$(CARGO) build --release

check test:
	$(CARGO) build --release
	$(CARGO) test --release -- --test-threads=4

# Short default benchmark set against a fresh daemon on a private socket;
# prints a table and the issue-6 targets. BENCH_ARGS adds flom-bench options.
bench: build
	@d=$$(mktemp -d /tmp/flom-bench.XXXXXX); s=$$d/s; \
	./target/release/flom -s $$s -d -1 -- true && \
	pid=$$(pgrep -o -f -- "flom -s $$s -d -1"); \
	./target/release/flom-bench all -s $$s -p $$pid --flom ./target/release/flom $(BENCH_ARGS); rc=$$?; \
	./target/release/flom -s $$s -X >/dev/null; rm -rf $$d; exit $$rc

install: build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DOCDIR)
	install -m 0755 target/release/flom $(DESTDIR)$(BINDIR)/flom
	sed 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' man/flom.1 > $(DESTDIR)$(MANDIR)/man1/flom.1
	chmod 0644 $(DESTDIR)$(MANDIR)/man1/flom.1
	install -m 0644 etc/flom.conf $(DESTDIR)$(DOCDIR)/flom.conf
	install -m 0644 README.md COPYING $(DESTDIR)$(DOCDIR)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/flom $(DESTDIR)$(MANDIR)/man1/flom.1
	rm -f $(DESTDIR)$(DOCDIR)/flom.conf $(DESTDIR)$(DOCDIR)/README.md $(DESTDIR)$(DOCDIR)/COPYING
	-rmdir $(DESTDIR)$(DOCDIR)

clean:
	$(CARGO) clean

# ---------------------------------------------------------------- reliability
# make fuzz   every AFL++ target for FUZZ_SECONDS each (default 60), corpora
#             seeded from ../shared/vectors (FUZZ_VECTORS); fails on a finding
# make soak   the chaos soak for SOAK_SECONDS (default 300) against one daemon
FUZZ_SECONDS ?= 60
SOAK_SECONDS ?= 300

fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) ./fuzz/run.sh

soak:
	SOAK_SECONDS=$(SOAK_SECONDS) $(CARGO) test --release --test soak -- --nocapture
