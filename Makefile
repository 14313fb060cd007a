# SPDX-License-Identifier: ISC
#
# kpool: make, make check, make run, make bench, make fuzz, make soak,
# make install.
# Everything is built under $(B) (build/, or build-san/ with SANITIZE=1).

CC	?= cc
CLANG	?= clang
VERSION	 = 0.2.0
SOVER	 = 0
PREFIX	?= /usr/local
DESTDIR	?=
# Debian's layout: the library in the multiarch directory, the server
# in sbin.
MULTIARCH != $(CC) -print-multiarch 2>/dev/null || true
BINDIR	?= $(PREFIX)/bin
SBINDIR	?= $(PREFIX)/sbin
LIBDIR	?= $(PREFIX)/lib$(if $(MULTIARCH),/$(MULTIARCH))
INCDIR	?= $(PREFIX)/include
PCDIR	?= $(LIBDIR)/pkgconfig
MANDIR	?= $(PREFIX)/share/man
# /etc for PREFIX=/usr, else PREFIX/etc; the systemd units under
# PREFIX/lib/systemd (Debian's package: /lib/systemd).
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
SYSTEMDDIR ?= $(PREFIX)/lib/systemd
SYSUNITDIR ?= $(SYSTEMDDIR)/system
USERUNITDIR ?= $(SYSTEMDDIR)/user
CFLAGS	?= -O2 -g
LDFLAGS	?=
SANITIZE ?=
PROVE	?= prove
JOBS	?= 2

ifeq ($(SANITIZE),1)
B	?= build-san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
else
B	?= build
SANFLAGS =
endif

# Debian package that provides each pkg-config module.
deb_libsodium	= libsodium-dev
deb_libcrypto	= libssl-dev
deb_libssl	= libssl-dev
deb_sqlite3	= libsqlite3-dev
deb_libcurl	= libcurl4-openssl-dev
deb_fuse3	= libfuse3-dev
deb_libmicrohttpd = libmicrohttpd-dev
deb_jansson	= libjansson-dev
deb_libpq	= libpq-dev

# pkg-config lookups are expanded lazily, only by the rules that compile or
# link, so that "make deps" runs on a machine that has none of them yet.
pc_check = $(if $(shell pkg-config --exists $(1) && echo y),,$(error \
	pkg-config cannot find $(1): install the Debian package $(deb_$(1)) \
	(or run "make deps")))
pc_cflags = $(foreach m,$(1),$(call pc_check,$(m))$(shell pkg-config --cflags $(m)))
pc_libs = $(foreach m,$(1),$(call pc_check,$(m))$(shell pkg-config --libs $(m)))

LIB_PKGS	= libsodium libcrypto sqlite3 libcurl jansson
SERVER_PKGS	= $(LIB_PKGS) libmicrohttpd libpq
FS_PKGS		= $(LIB_PKGS) fuse3

WARN	= -Wall -Wextra -Wformat=2 -Werror -Wshadow -Wpointer-arith \
	-Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
HARDEN	= -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIC
KCFLAGS	= -std=c11 -D_GNU_SOURCE $(WARN) $(HARDEN) $(SANFLAGS) $(CFLAGS)

# Each part's compile sees its own directory and lib's public headers,
# nothing else: those are copied to $(B)/include, and a part compiles
# with -IPART $(PUB_INC), never -Ilib, so a private header of lib
# (store.h, tls.h, httpsig.h, ...) cannot be included by mistake.  Only
# lib itself, and the tests, benchmarks and fuzzers, which may look
# inside, see -Ilib; the tests and benchmarks also -Iserver, after -Ilib
# (both have a store.h: the server's is reached through kps.h).
PUB_HDR	= lib/kpool.h lib/kpool-httpsig.h
PUB_INC	= -I$(B)/include
PUB_DEP	= $(PUB_HDR:lib/%=$(B)/include/%)

LIB_SRC	= $(sort $(wildcard lib/*.c))
LIB_OBJ	= $(LIB_SRC:%.c=$(B)/%.o)
SRV_SRC	= $(sort $(wildcard server/*.c))
SRV_OBJ	= $(SRV_SRC:%.c=$(B)/%.o)
# The server but its main() is libkps.a, which the tests and benchmarks
# link as kpool-server does.
KPS_OBJ	= $(filter-out $(B)/server/main.o,$(SRV_OBJ))
FS_SRC	= $(sort $(wildcard kpoolfs/*.c))
# kpoolfs's objects go to $(B)/fs/: $(B)/kpoolfs is the program.
FS_OBJ	= $(FS_SRC:kpoolfs/%.c=$(B)/fs/%.o)
# kpool, the command (cli/): its objects go to $(B)/cli/.
CLI_SRC	= $(sort $(wildcard cli/*.c))
CLI_OBJ	= $(CLI_SRC:%.c=$(B)/%.o)
# t/NNNN-*.c are TAP tests; other t/*.c are helper programs (t/kptool.c).
# The TAP helper and t/support/ (what only tests call) make libkptest.a.
KPT_SRC	= t/tap.c $(sort $(wildcard t/support/*.c))
KPT_OBJ	= $(KPT_SRC:t/%.c=$(B)/t/%.o)
KPT_LIB	= $(B)/t/libkptest.a
TEST_SRC = $(sort $(wildcard t/[0-9]*.c))
TEST_BIN = $(TEST_SRC:t/%.c=$(B)/t/%.t)
TOOL_SRC = $(filter-out t/tap.c $(TEST_SRC),$(sort $(wildcard t/*.c)))
TOOL_BIN = $(TOOL_SRC:t/%.c=$(B)/t/%)
BENCH_SRC = $(sort $(wildcard bench/*.c))
BENCH_BIN = $(BENCH_SRC:bench/%.c=$(B)/bench/%)
SH_TESTS = $(sort $(wildcard t/[0-9]*.t))
# The store and API tests (t/2xxx) run on both backends: as they are, on
# SQLite, and again on PostgreSQL through a wrapper in $(B)/t/pg/ that
# sets KP_BACKEND=pg (t/kps_db.h), in the cluster mk/pg.sh starts for
# the run.  NOT_PG: those with no store (2005, the signature codec).
# PG_ONLY: those of what PostgreSQL alone does, run on PostgreSQL only:
# 2018, instances sharing a database (a SQLite file has one server);
# 2019, the database server restarted under load (SQLite has none).
NOT_PG	= t/2005-httpsig.c
PG_ONLY	= t/2018-server-instances.c t/2019-server-pg-restart.c
# t/4104, the scenario runner's seeds, runs a few of them on
# PostgreSQL too.
PG_SRC	= $(filter-out $(NOT_PG),$(wildcard t/2[0-9][0-9][0-9]-*.c)) \
	$(wildcard t/2[0-9][0-9][0-9]-*.t) t/4104-fault-scenario.t
PG_TESTS = $(patsubst t/%,$(B)/t/pg/%,$(PG_SRC:.c=.t))
RUN_BIN	= $(filter-out $(PG_ONLY:t/%.c=$(B)/t/%.t),$(TEST_BIN))
RUN_SH	= $(filter-out $(PG_ONLY),$(SH_TESTS))
MANPAGES = $(wildcard man/*.[1-8])

PROGS	= $(if $(SRV_SRC),$(B)/kpool-server) $(if $(FS_SRC),$(B)/kpoolfs) \
	$(if $(CLI_SRC),$(B)/kpool)

all: $(B)/libkpool.a $(B)/libkpool.so $(PROGS)

# The copies stay: they are what a part compiles against.
.SECONDARY: $(PUB_DEP)
$(B)/include/%.h: lib/%.h
	@mkdir -p $(@D)
	cp $< $@

$(B)/lib/%.o: lib/%.c lib/*.h
	@mkdir -p $(@D)
	$(CC) $(KCFLAGS) -Ilib $(call pc_cflags,$(LIB_PKGS)) -c $< -o $@

$(B)/server/%.o: server/%.c server/*.h $(PUB_DEP)
	@mkdir -p $(@D)
	$(CC) $(KCFLAGS) -DKPS_VERSION='"$(VERSION)"' -Iserver $(PUB_INC) \
	    $(call pc_cflags,$(SERVER_PKGS)) \
	    -c $< -o $@

$(B)/fs/%.o: kpoolfs/%.c kpoolfs/*.h $(PUB_DEP)
	@mkdir -p $(@D)
	$(CC) $(KCFLAGS) -Ikpoolfs $(PUB_INC) $(call pc_cflags,$(FS_PKGS)) \
	    -c $< -o $@

$(B)/cli/%.o: cli/%.c $(wildcard cli/*.h) $(PUB_DEP)
	@mkdir -p $(@D)
	$(CC) $(KCFLAGS) -Icli $(PUB_INC) $(call pc_cflags,$(LIB_PKGS)) \
	    -c $< -o $@

$(B)/libkpool.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

# libkpool.so.VERSION, named libkpool.so.SOVER inside, and its two links.
$(B)/libkpool.so.$(VERSION): $(LIB_OBJ)
	$(CC) -shared $(SANFLAGS) $(LDFLAGS) -Wl,-soname,libkpool.so.$(SOVER) -o $@ $^ \
	    $(call pc_libs,$(LIB_PKGS))

$(B)/libkpool.so: $(B)/libkpool.so.$(VERSION)
	ln -sf libkpool.so.$(VERSION) $(B)/libkpool.so.$(SOVER)
	ln -sf libkpool.so.$(VERSION) $@

$(B)/kpool.pc: mk/kpool.pc.in Makefile
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCDIR@|$(INCDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@REQUIRES@|$(LIB_PKGS)|' mk/kpool.pc.in > $@

$(B)/libkps.a: $(KPS_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(B)/kpool-server: $(B)/server/main.o $(B)/libkps.a $(B)/libkpool.a
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(SERVER_PKGS)) \
	    -lpthread

$(B)/kpoolfs: $(FS_OBJ) $(B)/libkpool.a
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ $(FS_OBJ) $(B)/libkpool.a \
	    $(call pc_libs,$(FS_PKGS)) -lpthread

$(B)/kpool: $(CLI_OBJ) $(B)/libkpool.a
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(B)/libkpool.a \
	    $(call pc_libs,$(LIB_PKGS)) -lpthread

$(B)/t/%.o: t/%.c t/*.h t/support/*.h lib/*.h
	@mkdir -p $(@D)
	$(CC) $(KCFLAGS) -It -It/support -Ilib $(call pc_cflags,$(LIB_PKGS)) \
	    -c $< -o $@

$(KPT_LIB): $(KPT_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(B)/t/%.t: t/%.c $(KPT_LIB) $(B)/libkps.a $(B)/libkpool.a t/*.h \
    t/support/*.h t/fault/*.h lib/*.h server/*.h
	@mkdir -p $(@D)
	$(CC) $(KCFLAGS) -It -It/support -Ilib -Iserver \
	    $(call pc_cflags,$(SERVER_PKGS)) -o $@ $< $(KPT_LIB) \
	    $(B)/libkps.a $(B)/libkpool.a $(call pc_libs,$(SERVER_PKGS)) \
	    -lpthread

$(B)/t/%: t/%.c $(B)/libkpool.a lib/*.h
	@mkdir -p $(@D)
	$(CC) $(KCFLAGS) -It -Ilib $(call pc_cflags,$(LIB_PKGS)) -o $@ $< \
	    $(B)/libkpool.a $(call pc_libs,$(LIB_PKGS)) -lpthread

# The benchmarks link libssl too: loadgen -s speaks TLS.
$(B)/bench/%: bench/%.c $(B)/libkps.a $(B)/libkpool.a lib/*.h server/*.h
	@mkdir -p $(@D)
	$(CC) $(KCFLAGS) -Ilib -Iserver $(call pc_cflags,$(SERVER_PKGS) libssl) \
	    -o $@ $< $(B)/libkps.a $(B)/libkpool.a \
	    $(call pc_libs,$(SERVER_PKGS) libssl) -lpthread

# The tree benchmark's reference file system is a FUSE program too.
$(B)/bench/memfs: bench/memfs.c
	@mkdir -p $(@D)
	$(CC) $(KCFLAGS) $(call pc_cflags,fuse3) -o $@ $< \
	    $(call pc_libs,fuse3) -lpthread

# t/0008's driver of the C TAP helper.
$(B)/t/taptool: t/taptool.c $(KPT_LIB) $(B)/libkpool.a t/tap.h
	@mkdir -p $(@D)
	$(CC) $(KCFLAGS) -It -o $@ $< $(KPT_LIB) $(B)/libkpool.a

# A PostgreSQL run of a shell test, then of a C test.
$(B)/t/pg/%.t: t/%.t
	@mkdir -p $(@D)
	printf '#!/bin/sh\n# %s on PostgreSQL\nKP_BACKEND=pg exec "%s" "$$@"\n' \
	    $* $(abspath $<) >$@
	chmod +x $@

$(B)/t/pg/%.t: $(B)/t/%.t
	@mkdir -p $(@D)
	printf '#!/bin/sh\n# %s on PostgreSQL\nKP_BACKEND=pg exec "%s" "$$@"\n' \
	    $* $(abspath $<) >$@
	chmod +x $@

# The fault harness's tools (t/fault/, docs/reliability.md): plain
# sockets and threads, no library of ours.
FAULT_COMMON = t/fault/util.c t/fault/http.c
FAULT_BIN = $(B)/t/faultproxy $(B)/t/faultcrash
$(B)/t/faultproxy: t/fault/proxy.c t/fault/relay.c $(FAULT_COMMON) \
    t/fault/*.h
	@mkdir -p $(@D)
	$(CC) $(KCFLAGS) -It/fault -o $@ t/fault/proxy.c t/fault/relay.c \
	    $(FAULT_COMMON) -lpthread -lm

$(B)/t/faultcrash: t/fault/crash.c $(FAULT_COMMON) t/fault/*.h
	@mkdir -p $(@D)
	$(CC) $(KCFLAGS) -It/fault -o $@ t/fault/crash.c $(FAULT_COMMON) \
	    -lpthread -lm

# The framing test of those tools links their code, the TAP helper and
# the one piece of libkpool that helper uses (kp_unhex).
$(B)/t/4103-fault-framing.t: t/4103-fault-framing.c $(FAULT_COMMON) \
    $(B)/t/tap.o $(B)/libkpool.a t/fault/*.h t/tap.h
	@mkdir -p $(@D)
	$(CC) $(KCFLAGS) -It -It/fault -o $@ t/4103-fault-framing.c \
	    $(FAULT_COMMON) $(B)/t/tap.o $(B)/libkpool.a -lm

# The scenario runner (docs/reliability.md, "The scenario runner"):
# libkpool, the tests' Welcome builder, and libpq for a server on
# PostgreSQL.
SCEN_SRC = t/fault/scen_main.c t/fault/scenario.c t/fault/scen_world.c \
	t/fault/scen_check.c
$(B)/t/scenario: $(SCEN_SRC) t/fault/*.h t/*.h t/support/*.h lib/*.h \
    $(KPT_LIB) $(B)/libkpool.a
	@mkdir -p $(@D)
	$(CC) $(KCFLAGS) -It -It/support -Ilib \
	    $(call pc_cflags,$(LIB_PKGS) libpq) -o $@ $(SCEN_SRC) $(KPT_LIB) \
	    $(B)/libkpool.a $(call pc_libs,$(LIB_PKGS) libpq) -lpthread

tests: all $(TEST_BIN) $(TOOL_BIN) $(FAULT_BIN) $(B)/t/scenario $(PG_TESTS)

# Install the Debian packages that are missing (needs root or sudo).
deps:
	@sh mk/deps.sh

# Everything the tests need, then every test under prove.
check: deps
	@$(MAKE) --no-print-directory test

# Sanitizer builds: the first error ends the program with exit 134, in a
# test program or in a daemon a test started.  t/tap.sh adds log_path=
# its $TMP/sanitizer and fails the test on any report found there.
SAN_OPTS = halt_on_error=1:exitcode=134:abort_on_error=0:print_stacktrace=1

# One PostgreSQL cluster for the whole run (mk/pg.sh run removes it
# however the run ends); each test makes its own databases in it.
test: tests
	@sh mk/interop-deps.sh
	PATH=$(CURDIR)/t/interop/.node/bin:$$PATH \
	    ASAN_OPTIONS=$(SAN_OPTS) UBSAN_OPTIONS=$(SAN_OPTS) \
	    KP_BUILD=$(abspath $(B)) KP_TOP=$(CURDIR) sh mk/pg.sh run \
	    $(PROVE) -j$(JOBS) $(RUN_BIN:%=./%) $(RUN_SH:%=./%) \
	    $(PG_TESTS:%=./%)

# The fault harness's soak: make soak SEEDS=N [FIRST=S] [JOBS=2], one
# line per seed and the totals (docs/reliability.md).
SEEDS	?= 100
FIRST	?= 1
soak: deps
	@$(MAKE) --no-print-directory all $(FAULT_BIN) $(B)/t/scenario
	KP_BUILD=$(abspath $(B)) $(B)/t/scenario --first $(FIRST) \
	    --seeds $(SEEDS) --jobs $(JOBS)

# Start a local server and mount a demo pool at ./mnt; "make stop" ends it.
run: deps
	@$(MAKE) --no-print-directory all
	@sh mk/run.sh start

stop:
	@sh mk/run.sh stop

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BIN) $(TOOL_BIN)
	@sh mk/interop-deps.sh
	@PATH=$(CURDIR)/t/interop/.node/bin:$$PATH \
	    KP_BUILD=$(abspath $(B)) KP_TOP=$(CURDIR) sh bench/run.sh

# libFuzzer targets (clang): make fuzz FUZZTIME=60
FUZZTIME ?= 60
FUZZ_SRC = $(sort $(wildcard fuzz/*.c))
FUZZ_BIN = $(FUZZ_SRC:fuzz/%.c=build-fuzz/%)
FUZZ_SUPPORT = $(sort $(wildcard t/support/*.c))
build-fuzz/%: fuzz/%.c $(LIB_SRC) lib/*.h $(FUZZ_SUPPORT) t/support/*.h
	@mkdir -p $(@D)
	$(CLANG) -std=c11 -D_GNU_SOURCE -g -O1 -Ilib -It/support \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    $(call pc_cflags,$(LIB_PKGS)) -o $@ $< $(LIB_SRC) $(FUZZ_SUPPORT) \
	    $(call pc_libs,$(LIB_PKGS)) -lpthread

# The server's head checks (server/head.c) are fuzzed on their own.
build-fuzz/head: fuzz/head.c server/head.c server/*.h lib/*.h
	@mkdir -p $(@D)
	$(CLANG) -std=c11 -D_GNU_SOURCE -g -O1 -Iserver -Ilib \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -o $@ fuzz/head.c server/head.c

fuzz: deps
	@$(MAKE) --no-print-directory $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do \
	    n=$$(basename $$f); mkdir -p build-fuzz/corpus-$$n; \
	    echo "fuzz: $$n for $(FUZZTIME) s"; \
	    $$f -max_total_time=$(FUZZTIME) -max_len=8192 \
	        build-fuzz/corpus-$$n fuzz/seeds/$$n || exit 1; \
	done

# make install [DESTDIR=D] [PREFIX=/usr]: the programs, the library with
# its SONAME links, the headers, kpool.pc, the man pages, the systemd
# units and the server's settings (SYSCONFDIR/kpool/kpool-server.conf,
# written only when absent, removed by uninstall only when unchanged).
CONF	= $(SYSCONFDIR)/kpool/kpool-server.conf
INSTALLED = $(if $(FS_SRC),$(BINDIR)/kpoolfs) \
	$(if $(CLI_SRC),$(BINDIR)/kpool) \
	$(if $(SRV_SRC),$(SBINDIR)/kpool-server) \
	$(SYSUNITDIR)/kpool-server.service \
	$(USERUNITDIR)/kpoolfs@.service $(CONF) \
	$(LIBDIR)/libkpool.a $(LIBDIR)/libkpool.so.$(VERSION) \
	$(LIBDIR)/libkpool.so.$(SOVER) $(LIBDIR)/libkpool.so \
	$(PUB_HDR:lib/%=$(INCDIR)/%) $(PCDIR)/kpool.pc \
	$(foreach m,$(MANPAGES),$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m)))

# The systemd units get this install's paths.
UNIT_SED = sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SBINDIR@|$(SBINDIR)|g' \
	    -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'

install: all $(B)/kpool.pc
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
	    $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) $(DESTDIR)$(PCDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSUNITDIR) \
	    $(DESTDIR)$(USERUNITDIR) $(DESTDIR)$(SYSCONFDIR)/kpool
	install -m 644 $(B)/libkpool.a $(DESTDIR)$(LIBDIR)/
	install -m 644 $(B)/libkpool.so.$(VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libkpool.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libkpool.so.$(SOVER)
	ln -sf libkpool.so.$(SOVER) $(DESTDIR)$(LIBDIR)/libkpool.so
	install -m 644 $(PUB_HDR) $(DESTDIR)$(INCDIR)/
	install -m 644 $(B)/kpool.pc $(DESTDIR)$(PCDIR)/
	$(if $(FS_SRC),install -m 755 $(B)/kpoolfs $(DESTDIR)$(BINDIR)/)
	$(if $(CLI_SRC),install -m 755 $(B)/kpool $(DESTDIR)$(BINDIR)/)
	$(if $(SRV_SRC),install -m 755 $(B)/kpool-server $(DESTDIR)$(SBINDIR)/)
	for m in $(MANPAGES); do \
	    s=$${m##*.}; install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done
	$(UNIT_SED) systemd/kpool-server.service.in \
	    >$(DESTDIR)$(SYSUNITDIR)/kpool-server.service
	$(UNIT_SED) systemd/kpoolfs@.service.in \
	    >$(DESTDIR)$(USERUNITDIR)/kpoolfs@.service
	chmod 644 $(DESTDIR)$(SYSUNITDIR)/kpool-server.service \
	    $(DESTDIR)$(USERUNITDIR)/kpoolfs@.service
	test -e $(DESTDIR)$(CONF) || \
	    install -m 644 systemd/kpool-server.conf $(DESTDIR)$(CONF)

# What install wrote, and nothing else; directories are left, and so
# is a settings file the operator changed.
REMOVED	= $(filter-out $(CONF),$(INSTALLED))
uninstall:
	cmp -s systemd/kpool-server.conf $(DESTDIR)$(CONF) && \
	    rm -f $(DESTDIR)$(CONF) || true
	rm -f $(REMOVED:%=$(DESTDIR)%)

# The list install writes, for t/9005.
install-list:
	@for f in $(INSTALLED); do echo "$$f"; done

clean:
	rm -rf build build-san build-fuzz

.PHONY: all tests deps check test soak run stop bench fuzz install \
	uninstall install-list clean
.DELETE_ON_ERROR:

$(B)/t/2002-server-auth.t $(B)/t/2003-server-keys.t: t/kps_test.h
$(B)/t/4100-fault-proxy.t: t/fault/ctl.h
