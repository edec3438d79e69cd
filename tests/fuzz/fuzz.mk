# libFuzzer harnesses, one per parser of untrusted bytes; see
# tests/fuzz/README.md. Included by the top-level Makefile (make fuzz,
# make fuzz-smoke); also usable alone: make -f tests/fuzz/fuzz.mk.
#
# The project's sources are compiled again with clang, ASan and UBSan and
# libFuzzer's coverage instrumentation into $(BUILD)/fuzz/obj; each
# harness links them into $(BUILD)/fuzz/<name>.

BUILD ?= build
PKGS ?= libuv libwebsockets openssl libprotobuf-c inih jansson libseccomp
Q ?= $(if $(filter 1,$(V)),,@)
ECHO ?= $(if $(filter 1,$(V)),@true,@echo)

FUZZ_CC ?= clang
FUZZ_DIR := tests/fuzz
FUZZ_OUT := $(BUILD)/fuzz
FUZZ_NAMES := fuzz_wire fuzz_paseto fuzz_token fuzz_registry fuzz_config fuzz_rx_split \
	fuzz_noise
FUZZ_BINS := $(addprefix $(FUZZ_OUT)/,$(FUZZ_NAMES))
# Seconds each harness runs in fuzz-smoke.
FUZZ_SMOKE_S ?= 10
# Scratch files (fuzz_registry writes one per input) go to memory when
# the machine has /dev/shm: on a disk-backed /tmp that harness runs about
# 40 times slower.
FUZZ_TMPDIR ?= $(if $(wildcard /dev/shm/.),/dev/shm,/tmp)

FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) \
	-Wall -Wextra -Wshadow -Wformat=2 -Wno-format-nonliteral -Wno-unused-parameter -Wvla
FUZZ_CPPFLAGS := -Icommon -Irelay -I$(BUILD)/gen $(shell pkg-config --cflags $(PKGS)) \
	-DZK_VERSION=\"fuzz\"
FUZZ_LIBS := $(shell pkg-config --libs $(PKGS))

FUZZ_GEN := $(BUILD)/gen/zkrelay.pb-c.c
FUZZ_LIB_SRC := $(wildcard common/*.c) $(filter-out relay/main.c,$(wildcard relay/*.c))
FUZZ_LIB_OBJ := $(patsubst %.c,$(FUZZ_OUT)/obj/%.o,$(FUZZ_LIB_SRC)) $(FUZZ_OUT)/obj/gen/zkrelay.pb-c.o
FUZZ_LIB := $(FUZZ_OUT)/libzkfuzz.a

.PHONY: fuzz-all fuzz-corpus

fuzz-all: $(FUZZ_BINS)

# The top-level Makefile has the protoc-c rule; alone, make it here.
ifeq ($(origin GEN),undefined)
$(FUZZ_GEN): proto/zkrelay.proto
	$(Q)mkdir -p $(BUILD)/gen
	$(Q)protoc-c --c_out=$(BUILD)/gen -Iproto $<
endif

# Library code: coverage-instrumented, but without libFuzzer's main.
$(FUZZ_OUT)/obj/gen/%.o: $(BUILD)/gen/%.c
	$(ECHO) "  FUZZCC  $<"
	$(Q)mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_OUT)/obj/%.o: %.c $(FUZZ_GEN)
	$(ECHO) "  FUZZCC  $<"
	$(Q)mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_LIB_OBJ)
	$(ECHO) "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_OUT)/fuzz_%: $(FUZZ_DIR)/fuzz_%.c $(FUZZ_DIR)/fuzz_common.h $(FUZZ_LIB)
	$(ECHO) "  FUZZLD  $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB) $(FUZZ_LIBS)

# Regenerates the seed corpora from the project's encoders and token
# minting (the checked-in files are its output, plus the config seeds).
$(FUZZ_OUT)/mkcorpus: $(FUZZ_DIR)/mkcorpus.c $(FUZZ_DIR)/fuzz_common.h $(FUZZ_LIB)
	$(ECHO) "  FUZZLD  $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LIB) $(FUZZ_LIBS)

fuzz-corpus: $(FUZZ_OUT)/mkcorpus
	$(Q)$(FUZZ_OUT)/mkcorpus $(FUZZ_DIR)/corpus

# Runs harness $(1) for $(2) seconds, its output in $(FUZZ_OUT)/$(1).log.
# New inputs go to $(FUZZ_OUT)/corpus/$(1), never into the checked-in
# seeds; a crash, leak or timeout is saved under $(FUZZ_OUT)/artifacts/$(1)/
# and fails the run with the end of the log shown.
fuzz_run = mkdir -p $(FUZZ_OUT)/corpus/$(1) $(FUZZ_OUT)/artifacts/$(1) && \
	if TMPDIR=$(FUZZ_TMPDIR) $(FUZZ_OUT)/$(1) -max_total_time=$(2) -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix=$(FUZZ_OUT)/artifacts/$(1)/ \
		$(FUZZ_OUT)/corpus/$(1) $(FUZZ_DIR)/corpus/$(1) >$(FUZZ_OUT)/$(1).log 2>&1; \
	then echo "  FUZZ    $(1): $$(sed -n 's/^stat::number_of_executed_units: *//p' \
		$(FUZZ_OUT)/$(1).log) runs in $(2)s"; \
	else grep -av '^{' $(FUZZ_OUT)/$(1).log | tail -n 30; echo "  FUZZ    $(1) FAILED"; exit 1; fi

-include $(shell find $(FUZZ_OUT)/obj -name '*.d' 2>/dev/null)
