#!/usr/bin/env bash
# Memcheck understands gort's blocks (alloc/malloc.c's client requests): a clean
# program gets a clean report, a leak is found with its size and stack, a
# use-after-free is reported against a freed block.  Valgrind replaces the malloc
# of any library that defines one unless told otherwise: somalloc=nouserintercepts
# keeps gort running (docs/preload.md; gort-run --valgrind does the same).
#   valgrind.sh LIBGORT_MALLOC PROGRAM
set -euo pipefail
lib=$1 prog=$2
command -v valgrind >/dev/null || { echo "valgrind not installed: skipped"; exit 77; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
vg() {
    LD_PRELOAD="$lib" valgrind --soname-synonyms=somalloc=nouserintercepts --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
        --errors-for-leak-kinds=definite "$@" >"$out" 2>&1
}
expect() {
    if ! grep -q -- "$1" "$out"; then
        echo "valgrind.sh: expected '$1' in memcheck's report:"
        cat "$out"
        exit 1
    fi
}

vg "$prog" clean || { echo "clean run: memcheck reported errors:"; cat "$out"; exit 1; }
expect "ERROR SUMMARY: 0 errors"
expect "All heap blocks were freed -- no leaks are possible\|definitely lost: 0 bytes"
echo "clean: no errors, no leaks"

rc=0; vg "$prog" leak || rc=$?
[ "$rc" = 99 ] || { echo "leak run: exit $rc, wanted 99"; cat "$out"; exit 1; }
expect "definitely lost: 4,242 bytes in 1 blocks"
expect "by 0x[0-9A-F]*: main"
expect "libgort_malloc.so\|(malloc.c:"   # the block came from gort, not memcheck's malloc
echo "leak: found (4,242 bytes in 1 block)"

rc=0; vg "$prog" uaf || rc=$?
[ "$rc" = 99 ] || { echo "uaf run: exit $rc, wanted 99"; cat "$out"; exit 1; }
expect "Invalid read of size 1"
expect "bytes inside a block of size [0-9]* free'd"
echo "use-after-free: found"
