# blikveld: a plain Makefile (hiredis-style). Targets: all deps test demo bench fuzz lint clean.
# SANITIZE=address,undefined builds into build-san/ instead of build/.

PKGS     := libevent libevent_openssl libcurl yajl libpcre2-8 hiredis yaml-0.1 libhs libutf8proc openssl
DEB_PKGS := build-essential pkg-config libevent-dev libcurl4-openssl-dev libyajl-dev libpcre2-dev \
            libhiredis-dev libyaml-dev libvectorscan-dev libutf8proc-dev libssl-dev libcmocka-dev \
            redis-server python3 clang libwslay-dev python3-websockets openssl \
            python3-aiosmtpd prometheus-alertmanager chromium fonts-liberation

CC      ?= cc
OPT     ?= -O2
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wwrite-strings -Wformat=2 \
           -Wno-unused-parameter
ifeq ($(CI),true)
WARN    += -Werror
endif
ifneq ($(SANITIZE),)
BUILD   ?= build-san
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
OPT     := -O1
else
BUILD   ?= build
SANFLAGS :=
endif

# Read when the Makefile is parsed: targets that first install packages (test, demo, bench) build
# in a sub-make, so these are read again once the packages are there.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libwslay (WebSocket framing) ships no pkg-config file
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lwslay -lm
CFLAGS  += -std=gnu11 -g $(OPT) $(WARN) $(SANFLAGS) -Ilib -MMD -MP $(PKG_CFLAGS) -D_GNU_SOURCE
LDFLAGS += $(SANFLAGS)

LIB_SRC   := $(sort $(wildcard lib/*/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB_A     := $(BUILD)/libblikveld.a
CMD_SRC   := $(sort $(wildcard cmd/blikveld/*.c))
CMD_OBJ   := $(CMD_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_RUN  := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

ifeq ($(BUILD),build)
BIN := bin/blikveld
else
BIN := $(BUILD)/bin/blikveld
endif

.PHONY: all deps test test-one demo bench fuzz lint clean units
all: $(BIN)

# Installs the Debian packages that are missing; does nothing (no apt-get update) when all are there.
# Node: any node on PATH will do (NodeSource's conflicts with Debian's npm, so npm is never in
# DEB_PKGS); without one, Debian's nodejs + npm (node 18). Then the browser test's one npm package
# (tests/browser: playwright-core, no browser download) when missing or older than its lock file.
PW_CORE := tests/browser/node_modules/playwright-core
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@if ! command -v node >/dev/null 2>&1; then \
	  echo "deps: installing nodejs npm"; \
	  if [ "$$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends nodejs npm; \
	fi
	@if [ ! -d $(PW_CORE) ] || [ tests/browser/package-lock.json -nt $(PW_CORE) ]; then \
	  echo "deps: npm ci in tests/browser"; \
	  cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund; \
	fi

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# The console's page is compiled into the binary: lib/console/www/* become lib/console/assets.inc
# (generated, not kept in git).
lib/console/assets.inc: lib/console/gen_assets.py $(wildcard lib/console/www/*)
	python3 lib/console/gen_assets.py $@

$(BUILD)/lib/console/assets.o: lib/console/assets.inc

$(LIB_A): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BIN): $(CMD_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(CMD_OBJ) $(LIB_A) $(PKG_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB_A) $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(LIB_A) $(PKG_LIBS) -lcmocka

# Each fuzz target linked with a plain main that replays its corpus (gcc; no libFuzzer needed).
$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/corpus_main.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< tests/fuzz/corpus_main.c $(LIB_A) $(PKG_LIBS)

$(BUILD)/bench/%: bench/%.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_A) $(PKG_LIBS)

units: $(BIN) $(UNIT_BIN) $(FUZZ_RUN)

# The whole suite: plain build, then AddressSanitizer + UndefinedBehaviorSanitizer build.
test: deps
	@$(MAKE) --no-print-directory units
	@$(MAKE) --no-print-directory SANITIZE=address,undefined units
	@tests/run-all

# Libfuzzer builds (clang): make fuzz FUZZ_TIME=60
FUZZ_TIME ?= 30
fuzz: deps
	@mkdir -p build-fuzz
	@cf=$$(pkg-config --cflags $(PKGS)); lf="$$(pkg-config --libs $(PKGS)) -lwslay -lm"; \
	for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  clang -g -O1 -fsanitize=fuzzer,address,undefined -Ilib -D_GNU_SOURCE $$cf \
	    -o build-fuzz/$$n $$f $(LIB_SRC) $$lf || exit 1; \
	  mkdir -p build-fuzz/corpus-$$n; \
	  build-fuzz/$$n -max_total_time=$(FUZZ_TIME) build-fuzz/corpus-$$n tests/fuzz/corpus/$$n || exit 1; \
	done

# demo and bench build in a sub-make: its pkg-config flags are read after deps installed them
demo: deps
	@$(MAKE) --no-print-directory all $(BUILD)/bench/gen
	@bench/demo

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BIN)
	@bench/run

lint:
	@! grep -rnE '\b(strcpy|strcat|sprintf|strtok|atoi|gets)[[:space:]]*\(' lib cmd tests bench --include='*.c' --include='*.h' || { echo "lint: banned call"; exit 1; }
	@echo "lint: ok"

clean:
	rm -rf build build-san build-fuzz bin

-include $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d)
