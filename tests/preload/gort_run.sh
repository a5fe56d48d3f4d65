#!/usr/bin/env bash
# tools/gort-run finds the library (beside itself in the build tree, via GORT_LIB,
# via --lib) and passes the debug keys.
#   gort_run.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
py=/usr/bin/python3
prog=(/bin/sh -c 'ls / >/dev/null')
fail() { echo "gort_run.sh: $*"; exit 1; }

# The copy in the build tree, beside libgort_malloc.so.
out=$("$build/gort-run" --allocstats -- "${prog[@]}" 2>&1) || fail "build-tree gort-run failed: $out"
grep -q "gort allocstats" <<<"$out" || fail "no allocstats report: $out"
# The source-tree script, told where the library is.
out=$(GORT_LIB="$build/libgort_malloc.so" "$src/tools/gort-run" --allocstats -- "${prog[@]}" 2>&1) ||
    fail "GORT_LIB: $out"
grep -q "gort allocstats" <<<"$out" || fail "GORT_LIB: no report: $out"
out=$("$src/tools/gort-run" --lib "$build/libgort_malloc.so" --gctrace -- /usr/bin/env 2>&1) || fail "--lib: $out"
grep -q "^LD_PRELOAD=.*libgort_malloc.so" <<<"$out" || fail "--lib: LD_PRELOAD not set: $out"
grep -q "^GORT_DEBUG=.*gctrace=1" <<<"$out" || fail "--gctrace: GORT_DEBUG not set: $out"
# An existing LD_PRELOAD and GORT_DEBUG are kept.
out=$(GORT_DEBUG=scavenge=0 LD_PRELOAD=/nonexistent.so "$build/gort-run" --allocstats -- /usr/bin/env 2>/dev/null)
grep -q "^GORT_DEBUG=scavenge=0,allocstats=1$" <<<"$out" || fail "GORT_DEBUG not merged: $out"
grep -q "^LD_PRELOAD=.*libgort_malloc.so:/nonexistent.so$" <<<"$out" || fail "LD_PRELOAD not kept: $out"
# Exit status passes through; a missing library is a clear error.
rc=0; "$build/gort-run" -- /bin/sh -c 'exit 7' || rc=$?
[ $rc = 7 ] || fail "exit status $rc, wanted 7"
rc=0; out=$(GORT_LIB=/nonexistent/libgort_malloc.so "$build/gort-run" -- /bin/true 2>&1) || rc=$?
[ $rc = 127 ] && grep -q "cannot find libgort_malloc.so" <<<"$out" || fail "missing library: rc $rc: $out"
echo "gort-run: ok"
