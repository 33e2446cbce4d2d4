#!/usr/bin/env bash
# test-readme.sh - runs the README's example blocks, so the README stays true.
#
# usage: test-readme.sh [README]
#   env: HEAPSNAP    the heapsnap binary to use (required)
#        BUILD_DIR   the meson build dir (default: two levels above $HEAPSNAP)
#        SOURCE_DIR  the source tree (default: this script's parent dir)
#   README defaults to $SOURCE_DIR/README.md.  Registered in tests/meson.build as the
#   meson test 'readme' of suite 'docs':  meson test -C build --suite docs
#
# Marking convention.  Only fenced code blocks whose opening fence is exactly
#
#     ```sh example
#
# are run (GitHub still highlights them as sh: it reads the first word).  Every other
# block (```sh, ```, ```console ...) is documentation only: mark a block only when it
# runs as written, without placeholders such as FILE, PID or ./prog.
#
# How a block runs.
# - Each block runs on its own, with bash -e -o pipefail, in a fresh empty temporary
#   directory (so a glob such as heapsnap.*.exit.pb.gz matches that block's files
#   only), with a time limit of $BLOCK_TIMEOUT seconds (default 120).
# - In that directory `build` is a symlink to the build dir, so the README's
#   build/analyzer/heapsnap, build/examples/wordcount and $PWD/build/preload/
#   libheapsnap.so resolve; PATH starts with the heapsnap binary's directory, so a
#   bare `heapsnap` is that binary.  $SOURCE_DIR and $BUILD_DIR are exported too.
# - Transcript blocks: when some line of a block starts with "$ ", only those lines
#   are run (without the "$ "), and the other lines (the output shown) are ignored.
#   Otherwise the whole block is run as a script.
# - A block passes when it exits 0.  Its output is shown only when it fails.
#
# Exit status: 0 when every block passes; 1 when a block fails, or when the README has
# no example blocks at all ("no example blocks found": the check would prove nothing).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
: "${HEAPSNAP:?set HEAPSNAP to the heapsnap binary}"
HEAPSNAP=$(cd "$(dirname "$HEAPSNAP")" && pwd)/$(basename "$HEAPSNAP")
SOURCE_DIR=${SOURCE_DIR:-$(dirname "$here")}
BUILD_DIR=${BUILD_DIR:-$(dirname "$(dirname "$HEAPSNAP")")}
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
readme=${1:-$SOURCE_DIR/README.md}
timeout_s=${BLOCK_TIMEOUT:-120}
export SOURCE_DIR BUILD_DIR HEAPSNAP

if [ ! -x "$HEAPSNAP" ]; then
	echo "test-readme: $HEAPSNAP is not executable" >&2
	exit 1
fi
if [ ! -r "$readme" ]; then
	echo "test-readme: cannot read $readme" >&2
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/heapsnap-readme.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Extract the marked blocks: $tmp/block.N holds the script, $tmp/line.N the README line
# of its opening fence.
awk -v dir="$tmp" '
	function flush() {
		if (!n) return
		out = dir "/block." count
		transcript = 0
		for (i = 1; i <= n; i++) if (body[i] ~ /^\$ /) transcript = 1
		for (i = 1; i <= n; i++) {
			if (!transcript) print body[i] > out
			else if (body[i] ~ /^\$ /) print substr(body[i], 3) > out
		}
		close(out)
		n = 0
	}
	in_block && /^```[ \t]*$/ { in_block = 0; flush(); next }
	in_block { body[++n] = $0; next }
	in_other && /^```[ \t]*$/ { in_other = 0; next }
	in_other { next }
	/^```sh example[ \t]*$/ {
		in_block = 1; n = 0; count++
		print NR > (dir "/line." count); close(dir "/line." count)
		next
	}
	/^```/ { in_other = 1 }
	END {
		if (in_block) { print "test-readme: unterminated example block" > "/dev/stderr"; exit 2 }
		print count + 0 > (dir "/count")
	}
' "$readme"

count=$(cat "$tmp/count")
if [ "$count" -eq 0 ]; then
	echo "test-readme: no example blocks found in $readme (mark runnable blocks with \`\`\`sh example)" >&2
	exit 1
fi

failed=0
for ((i = 1; i <= count; i++)); do
	where="$(basename "$readme"):$(cat "$tmp/line.$i")"
	work="$tmp/work.$i"
	mkdir "$work"
	ln -s "$BUILD_DIR" "$work/build"
	if [ ! -s "$tmp/block.$i" ]; then
		echo "not ok $i - $where: empty example block"
		failed=1
		continue
	fi
	if (cd "$work" && PATH="$(dirname "$HEAPSNAP"):$PATH" \
		timeout "$timeout_s" bash -e -o pipefail "$tmp/block.$i") >"$tmp/out.$i" 2>&1; then
		echo "ok $i - $where"
	else
		rc=$?
		echo "not ok $i - $where (exit status $rc)"
		sed 's/^/    | /' "$tmp/block.$i"
		echo "    output:"
		sed 's/^/    > /' "$tmp/out.$i"
		failed=1
	fi
done
exit "$failed"
