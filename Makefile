# zkrelay build. Quiet unless V=1. Everything generated lands in $(BUILD).
#   make              the relay, its tools, libzkrelay, zkrelay-safe, zkrelay-cli
#   make check        unit, integration and deploy tests
#   make check-asan   the same under AddressSanitizer + UBSan (build/asan)
#   make run          the demo: relay, two data-safes, enrolled CLIs (deploy/demo.sh)
#   make bench        load scenarios (bench/README.md)
#   make bench-compare  zkrelay beside NATS and Mosquitto (deploy/install-bench-deps.sh)
BUILD ?= build
SAN ?= 0
CC ?= cc

PKGS := libuv libwebsockets openssl libprotobuf-c inih jansson libseccomp
# The relay alone allocates with jemalloc (see RELAY_ALLOC).
ALLOC_PKGS := jemalloc
TEST_PKGS := check

Q := $(if $(filter 1,$(V)),,@)
ECHO := $(if $(filter 1,$(V)),@true,@echo)

# Missing development packages: say exactly what to run instead of failing
# with a compiler error three screens down.
ifeq ($(filter deps clean,$(MAKECMDGOALS)),)
MISSING := $(shell for p in $(PKGS) $(ALLOC_PKGS) $(TEST_PKGS); do pkg-config --exists $$p || echo $$p; done)
ifneq ($(MISSING),)
$(error missing packages ($(MISSING)); run: sudo deploy/install-deps.sh  (or: make deps))
endif
endif

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-unused-parameter -Wvla
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE $(WARN) -fstack-protector-strong -fPIC
ifeq ($(SAN),1)
CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
else
CFLAGS += -D_FORTIFY_SOURCE=2
endif
CPPFLAGS += -Icommon -Irelay -Iclient/lib -Iclient/doc -I$(BUILD)/gen $(shell pkg-config --cflags $(PKGS))
LIBS := $(shell pkg-config --libs $(PKGS)) -lm
TEST_LIBS := $(shell pkg-config --libs $(TEST_PKGS))

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
CPPFLAGS += -DZK_VERSION=\"$(VERSION)\"

GEN := $(BUILD)/gen/zkrelay.pb-c.c
GEN_H := $(BUILD)/gen/zkrelay.pb-c.h
COMMON_SRC := $(wildcard common/*.c)
RELAY_SRC := $(filter-out relay/main.c,$(wildcard relay/*.c))
UNIT_SRC := $(wildcard tests/unit/*.c)
ITEST_SRC := $(wildcard tests/integration/*.c)
BENCH_SRC := $(wildcard bench/*.c)
ZKR_SRC := $(wildcard client/lib/*.c)
DOC_SRC := $(wildcard client/doc/*.c)
SAFE_SRC := $(wildcard client/safe/*.c)
CLI_SRC := $(wildcard client/cli/*.c)
COMPARE_SRC := $(wildcard bench/compare/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

COMMON_OBJ := $(call obj,$(COMMON_SRC)) $(BUILD)/obj/gen/zkrelay.pb-c.o
RELAY_OBJ := $(call obj,$(RELAY_SRC))

.PHONY: bench-guard all check check-unit check-integration check-deploy check-bench check-asan run bench bench-compare clean deps pki

TOOLS := $(BUILD)/zkrelay-token $(BUILD)/zkrelay-audit $(BUILD)/zkrelay-safe $(BUILD)/zkrelay-cli
all: $(BUILD)/zkrelay $(TOOLS) $(BUILD)/libzkrelay.a $(BUILD)/libzkrelay.so $(BUILD)/examples/zkr-send

deps:
	deploy/install-deps.sh

$(GEN) $(GEN_H): proto/zkrelay.proto
	$(ECHO) "  PROTOC  $<"
	$(Q)mkdir -p $(BUILD)/gen
	$(Q)protoc-c --c_out=$(BUILD)/gen -Iproto $<

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	$(ECHO) "  CC      $<"
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes -c -o $@ $<

$(BUILD)/obj/%.o: %.c $(GEN_H)
	$(ECHO) "  CC      $<"
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

# The plaintext guard reads every judged byte of every frame: let the
# compiler vectorize its loops.
$(BUILD)/obj/relay/guard.o: CFLAGS += -O3

$(BUILD)/libzkcommon.a: $(COMMON_OBJ)
	$(ECHO) "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/librelay.a: $(RELAY_OBJ)
	$(ECHO) "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

# The relay allocates with jemalloc: per idle connection 25 KiB of RSS
# instead of glibc's 29 (OpenSSL and libwebsockets make ~225 small
# allocations each), handshakes cheaper too (README "Performance").
# Sanitizer builds keep the sanitizer's allocator.
RELAY_ALLOC := $(if $(filter 1,$(SAN)),,$(shell pkg-config --libs $(ALLOC_PKGS)))

$(BUILD)/zkrelay: $(BUILD)/obj/relay/main.o $(BUILD)/librelay.a $(BUILD)/libzkcommon.a
	$(ECHO) "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(RELAY_ALLOC)

# libzkrelay, the SDK: the common objects it needs are inside, so an
# application links it alone (plus libuv, OpenSSL, jansson). The shared
# library exports the zkr_ names only.
ZKR_OBJ := $(call obj,$(ZKR_SRC)) $(COMMON_OBJ)
$(BUILD)/libzkrelay.a: $(ZKR_OBJ)
	$(ECHO) "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/libzkrelay.so: $(ZKR_OBJ) client/lib/libzkrelay.map
	$(ECHO) "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -shared -Wl,-soname,libzkrelay.so.0 \
		-Wl,--version-script=client/lib/libzkrelay.map -o $@ $(ZKR_OBJ) $(LIBS)

# The README's SDK example, built against the shared library the way an
# application would (public header only).
$(BUILD)/examples/zkr-send: client/examples/zkr-send.c client/lib/zkrelay.h $(BUILD)/libzkrelay.so
	$(ECHO) "  LD      $@"
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -Iclient/lib $(shell pkg-config --cflags libuv) $(LDFLAGS) -o $@ $< \
		-L$(BUILD) -l:libzkrelay.so -Wl,-rpath,'$$ORIGIN/..' $(shell pkg-config --libs libuv)

$(BUILD)/zkrelay-safe: $(call obj,$(SAFE_SRC) $(DOC_SRC)) $(BUILD)/libzkrelay.a
	$(ECHO) "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/zkrelay-cli: $(call obj,$(CLI_SRC) $(DOC_SRC)) $(BUILD)/libzkrelay.a
	$(ECHO) "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/zkrelay-token: $(BUILD)/obj/client/zkrelay-token.o $(BUILD)/librelay.a $(BUILD)/libzkcommon.a
	$(ECHO) "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/zkrelay-audit: $(BUILD)/obj/client/zkrelay-audit.o $(BUILD)/librelay.a $(BUILD)/libzkcommon.a
	$(ECHO) "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/unit: $(call obj,$(UNIT_SRC) $(DOC_SRC)) $(BUILD)/librelay.a $(BUILD)/libzkrelay.a $(BUILD)/libzkcommon.a
	$(ECHO) "  LD      $@"
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(TEST_LIBS)

$(BUILD)/tests/integration: $(call obj,$(ITEST_SRC)) $(BUILD)/libzkrelay.a $(BUILD)/libzkcommon.a
	$(ECHO) "  LD      $@"
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(TEST_LIBS)

$(BUILD)/zkrelay-bench: $(call obj,$(BENCH_SRC)) $(filter-out $(BUILD)/obj/tests/integration/test_%.o,$(call obj,$(ITEST_SRC))) $(BUILD)/libzkcommon.a
	$(ECHO) "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -pthread -o $@ $^ $(LIBS)

# The comparison's load generators, built only for make bench-compare
# (libnats-dev and libmosquitto-dev: deploy/install-bench-deps.sh).
$(BUILD)/obj/bench/compare/%.o: bench/compare/%.c
	$(ECHO) "  CC      $<"
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

CMP_COMMON := $(BUILD)/obj/bench/compare/cmpload.o $(BUILD)/obj/bench/procstat.o

$(BUILD)/cmpload-nats: $(BUILD)/obj/bench/compare/nats_load.o $(CMP_COMMON)
	$(ECHO) "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -pthread -o $@ $^ $$(pkg-config --libs libnats) -lcrypto

$(BUILD)/cmpload-mqtt: $(BUILD)/obj/bench/compare/mqtt_load.o $(CMP_COMMON)
	$(ECHO) "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -pthread -o $@ $^ $$(pkg-config --libs libmosquitto) -lcrypto

$(BUILD)/zkrelay-guard-fpr: $(BUILD)/obj/bench/guard/guard_fpr.o $(BUILD)/librelay.a $(BUILD)/libzkcommon.a
	$(ECHO) "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# The plaintext guard on 10 million random payloads (about a minute).
bench-guard: $(BUILD)/zkrelay-guard-fpr
	$(Q)$(BUILD)/zkrelay-guard-fpr $(GUARD_PAYLOADS)

check-unit: $(BUILD)/tests/unit
	$(Q)$(BUILD)/tests/unit

# Under the sanitizers the relay runs without its syscall filter by
# default: LeakSanitizer's check at exit stops the process's threads with
# ptrace, which the filter (rightly) forbids. The seccomp suite turns it
# on there too, with the leak check off.
check-integration: $(BUILD)/zkrelay $(TOOLS) $(BUILD)/tests/integration
	$(Q)$(if $(filter 1,$(SAN)),ZK_ITEST_SECCOMP=off) \
		ZKRELAY_BIN=$(abspath $(BUILD)/zkrelay) ZK_PKI_SCRIPT=$(abspath deploy/dev-pki.sh) \
		ZK_SAFE_BIN=$(abspath $(BUILD)/zkrelay-safe) ZK_CLI_BIN=$(abspath $(BUILD)/zkrelay-cli) \
		ZK_REGISTRY_SCRIPT=$(abspath deploy/dev-registry.sh) \
		$(BUILD)/tests/integration

check-deploy: $(BUILD)/zkrelay
	$(Q)ZKRELAY_BIN=$(abspath $(BUILD)/zkrelay) tests/deploy/check-deploy.sh

# Every bench scenario once with tiny counts: each must report its line.
check-bench: $(BUILD)/zkrelay $(BUILD)/zkrelay-bench $(BUILD)/dev/pki/ca.crt $(BUILD)/dev/registry/.made
	$(Q)$(if $(filter 1,$(SAN)),ZK_BENCH_SECCOMP=off) \
		tests/bench-smoke.sh $(BUILD)/zkrelay-bench $(BUILD)/zkrelay $(BUILD)/dev/pki $(SAN)

check: check-unit check-integration check-deploy check-bench

check-asan:
	$(Q)$(MAKE) --no-print-directory BUILD=build/asan SAN=1 check

pki: $(BUILD)/dev/pki/ca.crt $(BUILD)/dev/registry/.made
$(BUILD)/dev/pki/ca.crt: deploy/dev-pki.sh
	$(Q)deploy/dev-pki.sh $(BUILD)/dev/pki

# The sample registry: one JSON file per demo practice, with its token key
# (the private half stays in the PKI directory, as it would on the
# data-safe) and its data-safes' SPKI pins.
$(BUILD)/dev/registry/.made: $(BUILD)/dev/pki/ca.crt deploy/dev-registry.sh
	$(Q)deploy/dev-registry.sh $(BUILD)/dev/pki $(BUILD)/dev/registry && touch $@

# The demo: the relay, a data-safe per demo practice with sample documents,
# enrolled CLI state directories and the commands to try (deploy/demo.sh).
# As root, the demo's relay says so explicitly ([relay] allow_root): a relay
# started as root without a user to drop to refuses to run.
run: $(BUILD)/zkrelay $(TOOLS) $(BUILD)/dev/pki/ca.crt $(BUILD)/dev/registry/.made
	$(Q)exec deploy/demo.sh --build $(BUILD)

bench: $(BUILD)/zkrelay $(BUILD)/zkrelay-bench $(BUILD)/dev/pki/ca.crt $(BUILD)/dev/registry/.made
	$(Q)$(BUILD)/zkrelay-bench --relay $(BUILD)/zkrelay --pki $(BUILD)/dev/pki

# zkrelay, NATS and Mosquitto side by side: bench/results/compare.md and
# the plots beside it. Needs deploy/install-bench-deps.sh.
bench-compare: $(BUILD)/zkrelay $(BUILD)/zkrelay-bench $(BUILD)/cmpload-nats $(BUILD)/cmpload-mqtt \
		$(BUILD)/dev/pki/ca.crt $(BUILD)/dev/registry/.made
	$(Q)BUILD=$(BUILD) bench/compare/compare.sh

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# libFuzzer harnesses (clang); see tests/fuzz/README.md.
include tests/fuzz/fuzz.mk
.PHONY: fuzz fuzz-smoke
fuzz: $(FUZZ_BINS)
fuzz-smoke: $(FUZZ_BINS)
	$(Q)$(foreach h,$(FUZZ_NAMES),$(call fuzz_run,$(h),$(FUZZ_SMOKE_S)) && ) true
