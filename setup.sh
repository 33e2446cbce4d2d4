#!/usr/bin/env bash
# setup.sh - install what heapsnap needs (Debian 12), build it, and trace the bundled
# example: the Quick start's first command.  Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"

# To build, then for the test suite: go, jemalloc, tcmalloc, the corpus programs, clang,
# node and chromium (heapsnap report's page: its script's tests and the browser test).
packages=(build-essential g++ meson ninja-build pkg-config libunwind-dev libdw-dev
          libelf-dev zlib1g-dev libdeflate-dev libisal-dev check uthash-dev golang-go libjemalloc2
          libtcmalloc-minimal4 git python3 jq sqlite3 cppcheck xz-utils make clang
          libclang-rt-14-dev llvm-14 nodejs chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

[ -f build/build.ninja ] || meson setup build
meson compile -C build

out=$(mktemp -d)
echo "setup: tracing the example: heapsnap run -- build/examples/wordcount"
build/analyzer/heapsnap run --dir "$out" -- build/examples/wordcount
snapshot=$(ls "$out"/heapsnap.*.exit.pb.gz)
echo "setup: heapsnap top $snapshot"
build/analyzer/heapsnap top "$snapshot"
