#!/bin/sh
# tree.sh - the process-tree workloads of the tree-* benchmarks (bench/meson.build):
#   tree.sh make DIR     make -j2 rebuilding 30 one-function C files in DIR
#   tree.sh gcc DIR      one 'cc -O2 -c' of such a file
#   tree.sh cc1 DIR      the compiler proper alone on such a file
#   tree.sh procs N      a shell starting N short processes that allocate a little
set -eu
sources() {
	mkdir -p "$1"
	i=1
	while [ $i -le 30 ]; do
		[ -f "$1/f$i.c" ] || printf 'int f%d(int x) { return x * %d; }\n' $i $i > "$1/f$i.c"
		i=$((i + 1))
	done
	[ -f "$1/Makefile" ] || printf 'OBJS = $(patsubst %%.c,%%.o,$(wildcard f*.c))\nall: $(OBJS)\n%%.o: %%.c\n\t$(CC) -O2 -c $< -o $@\n' > "$1/Makefile"
}
case "$1" in
make) sources "$2"; exec make -s -B -j2 -C "$2" ;;
gcc) sources "$2"; exec cc -O2 -c "$2/f1.c" -o "$2/f1.o" ;;
cc1) sources "$2"; exec "$(cc -print-prog-name=cc1)" -quiet -O2 "$2/f1.c" -o "$2/f1.s" ;;
procs)
	i=0
	while [ $i -lt "$2" ]; do
		echo "$i" | tr 0-9 a-j > /dev/null
		i=$((i + 1))
	done ;;
*) echo "usage: tree.sh make|gcc|cc1 DIR | procs N" >&2; exit 2 ;;
esac
