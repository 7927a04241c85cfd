# Makefile: builds the pageturn tools, their shared library, tests and benchmarks.
include config.mk

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
HTTP_CFLAGS := $(shell pkg-config --cflags $(HTTP_PKGS) 2>/dev/null)
HTTP_LIBS   := $(shell pkg-config --libs $(HTTP_PKGS) 2>/dev/null)

CFLAGS  = $(OPT) $(CFLAGS_W) $(SANFLAGS) $(PKG_CFLAGS) $(HTTP_CFLAGS) -pthread
LDLIBS  = $(PKG_LIBS) $(HTTP_LIBS) -lm -pthread
LDFLAGS += $(SANFLAGS)

# The build directory differs per flavour so that sanitizer objects never mix with plain ones.
B ?= build$(if $(filter 1,$(SANITIZE)),-san,)
# make test, bench and demo build with one job a processor.
NPROC := $(shell nproc 2>/dev/null || echo 2)

COMMON_SRC = $(wildcard common/*.c)
COMMON_OBJ = $(COMMON_SRC:%.c=$(B)/%.o)
LIB        = $(B)/libpageturn.a

# A tool is tools/NAME.c or a folder tools/NAME/ of C files.
TOOL_FILES = $(wildcard tools/*.c)
TOOL_DIRS  = $(patsubst %/,%,$(filter %/,$(wildcard tools/*/)))
TOOLS      = $(sort $(notdir $(TOOL_FILES:.c=)) $(notdir $(TOOL_DIRS)))
BINS       = $(TOOLS:%=$(B)/bin/%)

UNIT_SRC   = $(wildcard tests/unit/test_*.c)
UNIT_BINS  = $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
HELPER_SRC = $(wildcard tests/helpers/*.c)
HELPER_BINS = $(HELPER_SRC:tests/helpers/%.c=$(B)/tests/%)
BENCH_SRC  = $(wildcard bench/*.c)
BENCH_BINS = $(BENCH_SRC:bench/%.c=$(B)/bench/%)

MAN1 = $(wildcard man/*.1)
MAN5 = $(wildcard man/*.5)
MAN7 = $(wildcard man/*.7)
# The cron replay and the systemd units (pageturn-replay.service runs SHAREDIR/pipelines/replay).
SYSTEMD_UNITS = $(wildcard pipelines/systemd/*)

.PHONY: all deps test unit bench demo install uninstall clean fuzz soak check-deps check-build-deps
all: check-deps $(BINS) $(UNIT_BINS) $(HELPER_BINS) $(BENCH_BINS)
	@ln -sfn $(B)/bin bin

check-deps:
	@tests/deps.sh check

deps:
	@tests/deps.sh install

# Order-only: a machine without the -dev packages hears which to install, not a missing header.
$(B)/common/%.o: common/%.c common/*.h | check-build-deps
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# -V says the version and the build; build-id changes only when git describe does, so that a new
# commit rebuilds toolopt.o and nothing else.
BUILD := $(shell git describe --always --dirty 2>/dev/null || echo $(VERSION))
$(B)/common/stats.o $(B)/common/toolopt.o: CPPFLAGS += -DPAGETURN_VERSION='"$(VERSION)"'
$(B)/common/toolopt.o: CPPFLAGS += -DPAGETURN_BUILD='"$(BUILD)"'
$(B)/common/toolopt.o: $(B)/build-id
$(B)/build-id: FORCE
	@mkdir -p $(@D)
	@echo '$(BUILD)' | cmp -s - $@ || echo '$(BUILD)' >$@
.PHONY: FORCE

$(LIB): $(COMMON_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(B)/bin/%: tools/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# A tool folder's files compile one by one (the compiler lists the headers each read); all but
# main.o form the tool's own library, which its unit tests and fuzz targets link too.
$(B)/tools/%.o: tools/%.c | check-build-deps
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -I$(<D) $(CFLAGS) -MMD -MP -c -o $@ $<
-include $(wildcard $(B)/tools/*/*.d)

tool_objs = $(patsubst tools/%.c,$(B)/tools/%.o,$(filter-out tools/$(1)/main.c,$(wildcard tools/$(1)/*.c)))
define TOOL_DIR_RULES
$(B)/tools/lib$(1).a: $(call tool_objs,$(1))
	rm -f $$@
	$$(AR) rcs $$@ $$^
$(B)/bin/$(1): $(B)/tools/$(1)/main.o $(B)/tools/lib$(1).a $(LIB)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach t,$(notdir $(TOOL_DIRS)),$(eval $(call TOOL_DIR_RULES,$(t))))

# A unit test of a tool's internals says so in a line of its own, "/* test-links: q-score */":
# it then links that tool's library (every object but main.o) and includes its headers.
test_links = $(shell sed -n 's|^/\* *test-links: *\(.*[^ ]\) *\*/$$|\1|p' $(1))
define UNIT_RULE
$(B)/tests/$(1): tests/unit/$(1).c $(foreach t,$(2),$(B)/tools/lib$(t).a) $(LIB)
	@mkdir -p $$(@D)
	$$(CC) $$(CPPFLAGS) -Itests/unit $(foreach t,$(2),-Itools/$(t)) $$(CFLAGS) -MMD -MP -MT $$@ -MF $$@.d \
	    $$(LDFLAGS) -o $$@ $$< $(foreach t,$(2),$(B)/tools/lib$(t).a) $$(LIB) $$(LDLIBS)
endef
$(foreach u,$(UNIT_SRC:tests/unit/%.c=%),$(eval $(call UNIT_RULE,$(u),$(call test_links,tests/unit/$(u).c))))
-include $(wildcard $(B)/tests/*.d)

$(B)/tests/%: tests/helpers/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(B)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# make test: every unit test and every shell test; ends with "N passed, N failed".
# Each of these first installs what is missing, then builds in a fresh make so that the
# pkg-config flags are read after the install.
# Under the sanitizers a test runs 2 to 3 times slower: it gets 900 s before the runner stops it, not 300.
test: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all
	@B=$(B) $(if $(filter 1,$(SANITIZE)),TEST_TIMEOUT=$${TEST_TIMEOUT:-900}) tests/run $(TESTS)

bench: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all
	@B=$(B) bench/run

demo: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all
	@B=$(B) pipelines/demo

fuzz: deps
	@tests/fuzz/run

soak: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all
	@B=$(B) tests/soak

# make install builds the tools alone, and needs only what they build with (not the test tools).
# The replay and the units name the tools and the share directory under PREFIX, not /usr/local.
INSTALL_SUBST = sed -e 's|/usr/local/bin/|$(PREFIX)/bin/|g' -e 's|/usr/local/share/pageturn|$(SHAREDIR)|g' \
	-e 's|^bindir=$$|bindir=$(PREFIX)/bin|'
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
check-build-deps:
	@tests/deps.sh check build
install: check-build-deps
	@$(MAKE) --no-print-directory B=$(B) $(BINS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANPREFIX)/man1 $(DESTDIR)$(MANPREFIX)/man5 $(DESTDIR)$(MANPREFIX)/man7
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	$(if $(MAN1),install -m 644 $(MAN1) $(DESTDIR)$(MANPREFIX)/man1/)
	$(if $(MAN5),install -m 644 $(MAN5) $(DESTDIR)$(MANPREFIX)/man5/)
	$(if $(MAN7),install -m 644 $(MAN7) $(DESTDIR)$(MANPREFIX)/man7/)
	install -d $(DESTDIR)$(SHAREDIR)/pipelines $(DESTDIR)$(SHAREDIR)/systemd $(DESTDIR)$(SYSUSERSDIR)
	$(INSTALL_SUBST) pipelines/replay >$(DESTDIR)$(SHAREDIR)/pipelines/replay
	chmod 755 $(DESTDIR)$(SHAREDIR)/pipelines/replay
	for u in $(SYSTEMD_UNITS); do $(INSTALL_SUBST) $$u >$(DESTDIR)$(SHAREDIR)/systemd/$${u##*/} || exit 1; done
	install -m 644 pipelines/systemd/pageturn.sysusers $(DESTDIR)$(SYSUSERSDIR)/pageturn.conf

uninstall:
	rm -f $(TOOLS:%=$(DESTDIR)$(PREFIX)/bin/%)
	rm -f $(DESTDIR)$(SHAREDIR)/pipelines/replay $(SYSTEMD_UNITS:pipelines/systemd/%=$(DESTDIR)$(SHAREDIR)/systemd/%)
	rm -f $(DESTDIR)$(SYSUSERSDIR)/pageturn.conf
	rmdir $(DESTDIR)$(SHAREDIR)/pipelines $(DESTDIR)$(SHAREDIR)/systemd $(DESTDIR)$(SHAREDIR) 2>/dev/null || true
	rm -f $(MAN1:man/%=$(DESTDIR)$(MANPREFIX)/man1/%) $(MAN5:man/%=$(DESTDIR)$(MANPREFIX)/man5/%) $(MAN7:man/%=$(DESTDIR)$(MANPREFIX)/man7/%)

clean:
	rm -rf build build-san bin
