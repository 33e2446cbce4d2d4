#!/bin/sh
# run-fuzz.sh - a bounded libFuzzer run of tests/fuzz-pprof.c, for CI.
#
# usage: run-fuzz.sh FUZZ_BUILD_DIR SOURCE_ROOT
#
# Configures a clang build with -Dfuzz=true and ASan+UBSan in FUZZ_BUILD_DIR (once:
# later runs reuse it, and ninja reconfigures it when a meson.build changes), compiles
# only the fuzz-pprof target, replays every input in tests/fuzz-regressions/ and
# tests/fuzz-corpus/, then fuzzes a copy of tests/fuzz-corpus for FUZZ_SECONDS
# (default 60).  Exits 0 when nothing crashed, 1 on a crash, a leak, a UBSan report,
# a timeout (FUZZ_TIMEOUT seconds for one input, default 10) or a failed build, and
# names the crashing input, which is kept under FUZZ_BUILD_DIR/crashes/.  The last line
# is the summary: "fuzz: N executions in S s, C crashes" (or "fuzz: not run: ..." when
# clang, its libFuzzer runtime or the build is missing).
set -u

if [ $# -ne 2 ]; then
	echo "usage: run-fuzz.sh FUZZ_BUILD_DIR SOURCE_ROOT" >&2
	exit 2
fi
build=$1
src=$2
seconds=${FUZZ_SECONDS:-60}
timeout=${FUZZ_TIMEOUT:-10}
crash_dir=$build/crashes

fail() {
	echo "fuzz: FAIL: $*"
	echo "fuzz: not run: 0 executions, setup failed"
	exit 1
}

case $seconds in '' | *[!0-9]* | 0) fail "FUZZ_SECONDS must be a whole number of seconds, not '$seconds'" ;; esac
command -v meson >/dev/null 2>&1 || fail "meson is not on PATH"

# clang and its libFuzzer runtime (Debian puts it in libclang-rt-N-dev, which clang
# only recommends).
if ! command -v clang >/dev/null 2>&1 || ! command -v clang++ >/dev/null 2>&1; then
	fail "clang is not installed; install it with
    sudo apt-get install clang libclang-rt-14-dev"
fi
major=$(clang -dumpversion | cut -d. -f1)
probe=$(mktemp -d) || fail "mktemp failed"
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
	>"$probe/probe.c"
if ! clang -fsanitize=fuzzer,address,undefined "$probe/probe.c" -o "$probe/probe" \
	>"$probe/log" 2>&1; then
	cat "$probe/log"
	rm -rf "$probe"
	fail "clang $major cannot link a libFuzzer program; install its runtime with
    sudo apt-get install libclang-rt-$major-dev"
fi
rm -rf "$probe"

# Configure once, compile the target alone; a lock keeps concurrent runs apart.
mkdir -p "$(dirname "$build")" || fail "cannot create $(dirname "$build")"
exec 9>"$build.lock"
flock 9
if [ ! -f "$build/build.ninja" ]; then
	wipe=
	[ -d "$build/meson-private" ] && wipe=--wipe
	echo "fuzz: configuring a clang build in $build"
	CC=clang CXX=clang++ meson setup $wipe "$build" "$src" -Dfuzz=true \
		-Db_sanitize=address,undefined -Db_lundef=false --buildtype=debugoptimized \
		>"$build.setup.log" 2>&1 || {
		cat "$build.setup.log"
		fail "meson setup of the fuzz build failed (log above)"
	}
fi
meson compile -C "$build" fuzz-pprof >"$build.compile.log" 2>&1 || {
	cat "$build.compile.log"
	fail "building fuzz-pprof failed (log above)"
}
flock -u 9
fuzzer=$build/tests/fuzz-pprof
[ -x "$fuzzer" ] || fail "$fuzzer was not built"

# Sanitizer reports are crashes (meson test sets its own options; these replace them).
export ASAN_OPTIONS=detect_leaks=1:print_summary=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:print_summary=1
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && [ -x "/usr/lib/llvm-$major/bin/llvm-symbolizer" ]; then
	export ASAN_SYMBOLIZER_PATH="/usr/lib/llvm-$major/bin/llvm-symbolizer"
fi

# Replay the regression inputs and the seeds, each once.
replayed=0
for dir in "$src/tests/fuzz-regressions" "$src/tests/fuzz-corpus"; do
	[ -d "$dir" ] || continue
	for f in "$dir"/*; do
		if [ ! -f "$f" ] || [ "$(basename "$f")" = README.txt ]; then
			continue
		fi
		if ! "$fuzzer" -timeout="$timeout" "$f" >"$build.replay.log" 2>&1; then
			cat "$build.replay.log"
			echo "fuzz: FAIL: replaying $f crashed (log above)"
			echo "fuzz: $((replayed + 1)) executions, 1 crashes (replay of $f)"
			exit 1
		fi
		replayed=$((replayed + 1))
	done
done
echo "fuzz: replayed $replayed inputs from tests/fuzz-regressions and tests/fuzz-corpus"

# Fuzz a copy of the corpus, so new inputs never land in the source tree.
work=$(mktemp -d "${TMPDIR:-/tmp}/heapsnap-fuzz.XXXXXX") || fail "mktemp failed"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$crash_dir"
cp "$src/tests/fuzz-corpus/"* "$work/corpus/" 2>/dev/null
echo "fuzz: fuzzing for $seconds s ($fuzzer, corpus copy in $work/corpus)"
start=$(date +%s)
"$fuzzer" "$work/corpus" -max_total_time="$seconds" -timeout="$timeout" \
	-print_final_stats=1 -artifact_prefix="$crash_dir/" >"$work/log" 2>&1
status=$?
elapsed=$(($(date +%s) - start))
execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$work/log" | tail -n 1)
[ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\)[[:space:]]*DONE.*/\1/p' "$work/log" | tail -n 1)
[ -n "$execs" ] || execs=unknown

if [ "$status" -ne 0 ]; then
	# The log can be long: the report is at its end.
	tail -n 80 "$work/log"
	input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$work/log" | tail -n 1)
	echo "fuzz: FAIL: fuzz-pprof exited with status $status"
	if [ -n "$input" ]; then
		echo "fuzz: crashing input saved as $input"
		echo "fuzz: reproduce: $fuzzer $input"
		echo "fuzz: once fixed, keep it: cp $input $src/tests/fuzz-regressions/"
	fi
	echo "fuzz: $execs executions in $elapsed s, 1 crashes"
	exit 1
fi
grep -E '^(#[0-9]+[[:space:]]+DONE|stat::)' "$work/log"
echo "fuzz: $execs executions in $elapsed s, 0 crashes"
