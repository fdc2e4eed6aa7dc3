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

.PHONY: all build check test bench install uninstall clean

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

# ---------------------------------------------------------------------------
# libflom: the C API as libflom.so.0 (built by cargo as a cdylib), its C and
# C++ headers, flom.pc, and the Python package's tests.
#   make install          also installs $(libdir)/libflom.so.0.2.0 with the
#                         links libflom.so.0 and libflom.so, the headers under
#                         $(includedir), $(libdir)/pkgconfig/flom.pc
#   make check            also runs the Python package's pytest tests
#   make bench-capi       lock/unlock cycles through the C API (BENCH_CYCLES),
#                         with C FLoM's library too when CFLOM_LIBDIR names it
CARGO_TARGET_DIR ?= target
LIBDIR     ?= $(PREFIX)/lib
libdir     ?= $(LIBDIR)
INCLUDEDIR ?= $(PREFIX)/include
includedir ?= $(INCLUDEDIR)
prefix     ?= $(PREFIX)
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
