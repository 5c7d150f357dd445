# Thin wrapper over Meson. The two commands that do everything on a fresh
# Debian 12 machine are `make demo` and `make check`.
PYTHON  ?= /usr/bin/python3
BUILD   ?= build
ASAN    ?= build-asan
DATA    ?= var
LISTEN  ?= 127.0.0.1:8080

.PHONY: all deps build asan demo check unit integration integration-postgresql sync-lan browser fuzz bench deb clean

all: build

deps:
	@./scripts/deps

$(BUILD)/build.ninja:
	meson setup $(BUILD) >/dev/null

$(ASAN)/build.ninja:
	meson setup $(ASAN) -Db_sanitize=address,undefined -Db_lundef=false >/dev/null

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

asan: $(ASAN)/build.ninja
	ninja -C $(ASAN)

demo: deps build
	@./scripts/demo "$(BUILD)" "$(DATA)" "$(LISTEN)"

unit: build asan
	meson test -C $(BUILD) --suite unit --print-errorlogs
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(ASAN) --suite unit --print-errorlogs

# integration tests run the sanitizer build of the real binaries (the sync
# groups' LAN test apart: it times frames, so it runs alone, see sync-lan)
integration: asan
	VITRINE_BUILD=$(ASAN) $(PYTHON) -m pytest -q -p no:cacheprovider --ignore=tests/integration/test_sync_lan.py \
		tests/integration

# sync groups in network namespaces with three players and their kiosk
# browsers: alone, as a suite beside it would make frames late
sync-lan: asan
	VITRINE_BUILD=$(ASAN) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration/test_sync_lan.py

# the same suite with every server on PostgreSQL (a throwaway cluster,
# tests/support/pg.py), on the plain build
integration-postgresql: build
	VITRINE_TEST_DB=postgresql VITRINE_BUILD=$(BUILD) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

browser: build
	VITRINE_BUILD=$(BUILD) $(PYTHON) -m pytest -q -p no:cacheprovider tests/browser

fuzz:
	FUZZ_SECONDS=$${FUZZ_SECONDS:-20} ./fuzz/smoke.sh

check: deps
	./scripts/check

bench: deps
	./bench/run

# Debian packages into build-deb/ (scripts/deb)
deb: deps
	@./scripts/deb

clean:
	rm -rf $(BUILD) $(ASAN) build-fuzz build-deb
