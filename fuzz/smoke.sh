#!/bin/sh
# Fuzz smoke test: builds the libFuzzer targets with clang into build-fuzz
# (the libraries instrumented for coverage, ASan and UBSan) and runs each
# target for FUZZ_SECONDS (default 20) on a working copy of its seed corpus.
# Exits non-zero if a target fails to build or any input crashes, leaks,
# hits undefined behaviour or times out; the reproducer is kept in
# build-fuzz/artifacts/.
#
#   FUZZ_SECONDS=60 fuzz/smoke.sh            all targets
#   fuzz/smoke.sh cidr router                some of them
#   FUZZ_BUILD=build-fuzz2 fuzz/smoke.sh     another build folder
set -eu

cd "$(dirname "$0")/.."
SECONDS_EACH=${FUZZ_SECONDS:-20}
BUILD=${FUZZ_BUILD:-build-fuzz}
TARGETS=${*:-router cidr challenge json_body xff range feed_parse channel_schema release_signature chfile manifest e2e_handshake relay_frame ws rule pg_translate group_wire share_code}
WORK=fuzz/corpus-work           # grown corpora, kept between runs (git-ignored)
ARTIFACTS=$BUILD/artifacts

if [ ! -f "$BUILD/build.ninja" ]; then
	# -fsanitize=fuzzer-no-link gives the project's own code coverage
	# counters, so the fuzzer is guided through src/ and not only the
	# target. Warnings are not errors here: this build exists to fuzz, and
	# clang's warnings are the normal builds' business.
	CC=clang meson setup "$BUILD" -Db_lundef=false -Db_sanitize=address,undefined -Dwerror=false \
		-Dc_args=-fsanitize=fuzzer-no-link -Dc_link_args=-fsanitize=fuzzer-no-link
fi
build_targets=""
for t in $TARGETS; do
	build_targets="$build_targets fuzz/fuzz_$t"
done
# shellcheck disable=SC2086
ninja -C "$BUILD" $build_targets

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
mkdir -p "$ARTIFACTS"
failed=""
for t in $TARGETS; do
	exe="$BUILD/fuzz/fuzz_$t"
	seeds="fuzz/corpus/$t"
	work="$WORK/$t"
	mkdir -p "$work"
	cp -n "$seeds"/* "$work"/ 2>/dev/null || true
	echo "== fuzz_$t: ${SECONDS_EACH}s on $work"
	log="$ARTIFACTS/fuzz_$t.log"
	if "$exe" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
		-print_final_stats=1 -artifact_prefix="$ARTIFACTS/$t-" "$work" >"$log" 2>&1; then
		grep -E '^(stat::number_of_executed_units|stat::new_units_added|Done )' "$log" | tr '\n' ' '
		echo
		echo "   ok"
	else
		tail -n 40 "$log"
		echo "   FAILED: fuzz_$t (log: $log, reproducer: $ARTIFACTS/$t-*)"
		failed="$failed $t"
	fi
done
if [ -n "$failed" ]; then
	echo "fuzz smoke failed:$failed"
	exit 1
fi
echo "fuzz smoke passed: $TARGETS"
