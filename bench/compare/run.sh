#!/usr/bin/env bash
# make bench: the allocator comparison.  Every workload of bench/compare runs under
# glibc, jemalloc, mimalloc, tcmalloc and gort (LD_PRELOAD), RUNS times each, the
# allocators alternating run by run (so drift on a shared machine spreads over all
# of them).  Time is what the workload measures of itself; peak RSS is
# /usr/bin/time's %M.  report.py turns the raw table into ratios to jemalloc
# (bench/results/compare.md) and gnuplot draws compare-time.png / compare-rss.png.
# Then callgrind profiles gort on the workload where it does worst against jemalloc
# (bench/results/compare-callgrind.txt).
#   run.sh BUILD_DIR          env: RUNS (5), SCALE (1.0), ONLY="wl ...", CALLGRIND (1)
set -euo pipefail
build=$(cd "${1:-build/release}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
results=$(cd "$here/.." && pwd)/results
mkdir -p "$results"
runs=${RUNS:-5}
scale=${SCALE:-1.0}
workloads=${ONLY:-"churn larson xmalloc cache_thrash cache_scratch mstress realloc large frag"}

# The peers, from the multiarch library directory (Debian: libjemalloc2,
# libmimalloc2.0, libtcmalloc-minimal4).
ma=$(gcc -print-multiarch 2>/dev/null || dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || true)
find_lib() {
    for d in /usr/lib/$ma /lib/$ma /usr/lib /usr/lib64; do
        [ -f "$d/$1" ] && { echo "$d/$1"; return; }
    done
    echo "compare: $1 not found (apt-get install ${2})" >&2
    exit 1
}
declare -A lib=(
    [glibc]=""
    [jemalloc]=$(find_lib libjemalloc.so.2 libjemalloc2)
    [mimalloc]=$(find_lib libmimalloc.so.2 libmimalloc2.0)
    [tcmalloc]=$(find_lib libtcmalloc_minimal.so.4 libtcmalloc-minimal4)
    [gort]=$build/libgort_malloc.so
)
[ -f "${lib[gort]}" ] || { echo "compare: ${lib[gort]} missing: build the gort_malloc target" >&2; exit 1; }
allocs=(glibc jemalloc mimalloc tcmalloc gort)
[ -x /usr/bin/time ] || { echo "compare: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }

raw=$results/compare-raw.tsv
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
    echo "# $(date -u +%FT%TZ) $(uname -srm) $(nproc) CPUs; RUNS=$runs SCALE=$scale; gort $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?')"
    printf "workload\tallocator\trun\ttime_s\tmaxrss_kb\trss_after_kb\n"
} >"$raw"
start=$SECONDS
for run in $(seq 1 "$runs"); do
    w=0
    for wl in $workloads; do
        # Rotate the order by run and workload.
        n=${#allocs[@]}
        for k in $(seq 0 $((n - 1))); do
            a=${allocs[$(((k + run + w) % n))]}
            /usr/bin/time -f "%M" -o "$tmp/time" \
                env ${lib[$a]:+LD_PRELOAD=${lib[$a]}} "$build/bench/compare/wl_$wl" "$scale" >"$tmp/out"
            t=$(awk '$1 == "time_s" { print $2 }' "$tmp/out")
            ra=$(awk '$1 == "rss_after_kb" { print $2 }' "$tmp/out")
            printf "%s\t%s\t%d\t%s\t%s\t%s\n" "$wl" "$a" "$run" "$t" "$(tail -1 "$tmp/time")" "${ra:--}" >>"$raw"
        done
        w=$((w + 1))
    done
    echo "compare: run $run/$runs done ($((SECONDS - start)) s)"
done

python3 "$here/report.py" "$raw" "$results"
if command -v gnuplot >/dev/null; then
    gnuplot -e "datadir='$results'" "$here/plot.gp"
else
    echo "compare: gnuplot missing: no charts" >&2
fi

# Where gort's time goes on its three worst workloads (relative to jemalloc).
if [ "${CALLGRIND:-1}" = 1 ] && command -v valgrind >/dev/null; then
    out=$results/compare-callgrind.txt
    : >"$out"
    for worst in $(cat "$results/compare-worst.txt"); do
        echo "compare: callgrind of gort on $worst"
        # The workload linked with libgort.a (wl_*_direct): under Valgrind the preloaded
        # shim would take its client-request path and distort the profile.
        valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
            "$build/bench/compare/wl_${worst}_direct" 0.05 >/dev/null 2>"$tmp/cg.err" || true
        {
            echo "# callgrind: gort on wl_${worst}_direct (scale 0.05): instructions, self, by function"
            callgrind_annotate "$tmp/cg.out" 2>/dev/null | sed -n '/PROGRAM TOTALS/p; /file:function/,$p' | sed -n '1,16p'
            echo
        } >>"$out"
    done
fi
echo "compare: $results/compare.md"
