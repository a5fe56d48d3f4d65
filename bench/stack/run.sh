#!/usr/bin/env bash
# bench/stack/run.sh BUILD_DIR — the stack benchmarks of issue 4.
#
# BUILD_DIR is a Release build with -DGORT_BUILD_BENCH=ON (nothing is built here).
#   1. Google Benchmark (bench_stack): a context switch with gort_ctx_switch, with
#      Boost.Context's jump_fcontext and with glibc's swapcontext (ping-pong; ns per
#      switch = CPU time of a round trip / 2); stack get+put from the pool; a whole
#      context life (alloc, make, first switch, free).  5 repetitions, median.
#   2. callgrind: instructions per switch, (Ir(2N) - Ir(N)) / 2N round trips
#      (stack_icount), so set-up cancels.
#   3. RSS per parked stack: stack_rss parks 100 000 contexts, each switched into
#      once, and reads VmRSS + VmPTE.
#   4. bench/results/stack.md.
# Knobs: STACK_BENCH_MIN_TIME (seconds per repetition, default 0.2), STACK_ICOUNT_N
# (round trips, default 200000), STACK_RSS_N (default 100000).  About a minute.
set -euo pipefail

build=$(cd "${1:?usage: bench/stack/run.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
results="$root/bench/results"
bin="$build/bench/stack"
min_time=${STACK_BENCH_MIN_TIME:-0.2}
icount_n=${STACK_ICOUNT_N:-200000}
rss_n=${STACK_RSS_N:-100000}

for exe in bench_stack stack_icount stack_rss; do
    if [ ! -x "$bin/$exe" ]; then
        echo "bench/stack: $bin/$exe missing (configure with -DCMAKE_BUILD_TYPE=Release -DGORT_BUILD_BENCH=ON)" >&2
        exit 1
    fi
done
have_valgrind=1
command -v valgrind >/dev/null || { have_valgrind=0; echo "bench/stack: valgrind not found: no instruction counts (tools/deps.sh bench)" >&2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$results"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- 1. wall-clock benchmarks -------------------------------------------------------------
echo "bench/stack: Google Benchmark (bench_stack)"
"$bin/bench_stack" --benchmark_min_time="$min_time" --benchmark_repetitions=5 \
    --benchmark_report_aggregates_only=true --benchmark_format=csv \
    >"$tmp/gb.csv" 2>"$tmp/gb.err" || { cat "$tmp/gb.err" >&2; exit 1; }

# median CPU ns of one iteration of NAME (as Google Benchmark names it, without _median)
gb() {
    awk -F, -v want="\"$1_median\"" '$1 == want {
        t = $4; u = $5
        if (u == "us") t *= 1e3; else if (u == "ms") t *= 1e6; else if (u == "s") t *= 1e9
        print t; found = 1 }
        END { if (!found) print "nan" }' "$tmp/gb.csv"
}

# ---- 2. instruction counts ----------------------------------------------------------------
declare -A ipsw
impls=(gort fcontext ucontext)
for impl in "${impls[@]}"; do
    ipsw[$impl]=nan
    [ $have_valgrind = 1 ] || continue
    tot=()
    for n in "$icount_n" $((2 * icount_n)); do
        echo "bench/stack: callgrind $impl $n"
        out="$tmp/cg-$impl-$n.out"
        if ! valgrind --tool=callgrind --callgrind-out-file="$out" "$bin/stack_icount" "$impl" "$n" \
            >/dev/null 2>"$out.err"; then
            echo "bench/stack: callgrind $impl failed:" >&2
            cat "$out.err" >&2
            continue 2
        fi
        tot+=("$(awk '/^(summary|totals):/ { print $2; exit }' "$out")")
    done
    ipsw[$impl]=$(awk -v a="${tot[0]}" -v b="${tot[1]}" -v n="$icount_n" 'BEGIN { printf "%.1f", (b - a) / (2 * n) }')
done

# ---- 3. RSS per parked stack ---------------------------------------------------------------
echo "bench/stack: stack_rss $rss_n"
"$bin/stack_rss" "$rss_n" >"$tmp/rss.txt"
rss() { awk -F= -v k="$1" '$1 == k { print $2 }' "$tmp/rss.txt"; }

load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- 4. report ------------------------------------------------------------------------------
sw=()
for i in $(seq 0 15); do sw+=("$(gb "BM_stack_switch/$i")"); done
read -r sw_med sw_min sw_max < <(printf '%s\n' "${sw[@]}" | sort -g |
    awk '{ v[NR] = $1 / 2 } END { printf "%.2f %.2f %.2f\n", (v[8] + v[9]) / 2, v[1], v[NR] }')
fctx=$(gb BM_stack_fcontext | awk '{ printf "%.2f", $1 / 2 }')
uctx=$(gb BM_stack_swapcontext | awk '{ printf "%.2f", $1 / 2 }')
pool0=$(gb BM_stack_pool/0 | awk '{ printf "%.2f", $1 }')
pool1m=$(gb BM_stack_pool/1048576 | awk '{ printf "%.2f", $1 }')
spawn=$(gb BM_stack_spawn | awk '{ printf "%.2f", $1 }')

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "–"; else printf "%.2f×", a / b }'; }
mark() {  # mark VALUE TARGET: ✅ if VALUE <= TARGET
    awk -v a="$1" -v t="$2" 'BEGIN { if (a == "nan") print "–"; else if (a <= t) print "✅"; else print "❌" }'
}

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$root" diff --quiet HEAD -- stack include/gort/stack.h bench/stack 2>/dev/null || commit="$commit (modified)"
boost=$(dpkg-query -W -f='${Version}' libboost-context-dev 2>/dev/null || echo "?")
glibc=$(ldd --version 2>/dev/null | sed -n '1s/.* //p')   # sed reads it all: no SIGPIPE under pipefail
per_stack=$(rss bytes_per_stack)

{
    echo "# Stack benchmarks"
    echo
    echo "Generated by \`bench/stack/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') at commit $commit"
    echo "(issue 4). Do not edit by hand; rerun the script."
    echo
    echo "- Machine: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) CPUs, Linux $(uname -r);"
    echo "  load average $load_before → $load_after (1/5/15 min, before → after)."
    echo "- Google Benchmark, \`--benchmark_min_time=$min_time --benchmark_repetitions=5\`, median CPU time."
    echo "  A switch is half a round trip of a ping-pong between the main context and one other"
    echo "  (an iteration: switch in, switch back). Boost.Context $boost (\`jump_fcontext\`, called"
    echo "  through the PLT of libboost_context.so), glibc $glibc (\`swapcontext\`)."
    echo "- gort keeps a suspended context's sp in its \`gort_ctx_t\` (memory), \`jump_fcontext\` returns"
    echo "  it in a register; a load whose address matches an in-flight store in its low 12 bits may"
    echo "  stall (4K aliasing), so gort's time depends slightly on where the two \`gort_ctx_t\` sit."
    echo "  \`BM_stack_switch/0..15\` places them at 16 page offsets (side by side, as two globals):"
    echo "  the median is reported, and the range."
    echo
    echo "## Context switch"
    echo
    echo "Target (issue 4): a switch no slower than \`jump_fcontext\` (measured at 4.6–5.7 ns;"
    echo "\`swapcontext\` 171 ns)."
    echo
    echo "| switch | ns / switch | vs jump_fcontext | instructions / switch | vs jump_fcontext |"
    echo "|---|---:|---:|---:|---:|"
    echo "| gort_ctx_switch | $sw_med (range $sw_min–$sw_max) | $(ratio "$sw_med" "$fctx") $(mark "$sw_med" "$fctx") | ${ipsw[gort]} | $(ratio "${ipsw[gort]}" "${ipsw[fcontext]}") |"
    echo "| Boost jump_fcontext | $fctx | 1.00× | ${ipsw[fcontext]} | 1.00× |"
    echo "| glibc swapcontext | $uctx | $(ratio "$uctx" "$fctx") | ${ipsw[ucontext]} (+ a system call) | $(ratio "${ipsw[ucontext]}" "${ipsw[fcontext]}") |"
    echo
    echo "Instructions: \`valgrind --tool=callgrind bench/stack/stack_icount <impl> N\` for N = $icount_n"
    echo "and $((2 * icount_n)) round trips, (Ir(2N) − Ir(N)) / 2N: the switch with its share of the"
    echo "calling loop, set-up cancelled; callgrind counts no kernel instructions, so \`swapcontext\`'s"
    echo "\`rt_sigprocmask\` system call is not in its figure. Both gort and \`jump_fcontext\` save the"
    echo "MXCSR and x87 control words."
    echo
    echo "gort by placement of the two \`gort_ctx_t\` (ns / switch):"
    echo
    echo "| placement | $(seq -s ' | ' 0 15) |"
    echo "|---|$(printf -- '---:|%.0s' $(seq 0 15))"
    echo "| ns | $(printf '%s\n' "${sw[@]}" | awk '{ printf "%s%.2f", (NR > 1 ? " | " : ""), $1 / 2 }') |"
    echo
    echo "## Stack pool"
    echo
    echo "Target: get + put ≤ 50 ns."
    echo
    echo "| operation | ns | target |"
    echo "|---|---:|---|"
    echo "| \`gort_stack_alloc(0)\` + \`gort_stack_free\` (64 KiB class, per-thread cache) | $pool0 | $(mark "$pool0" 50) |"
    echo "| \`gort_stack_alloc(1 MiB)\` + \`gort_stack_free\` (global pool, one lock each way) | $pool1m | $(mark "$pool1m" 50) |"
    echo "| a context's life: alloc + \`gort_ctx_make\` + switch in and back + free | $spawn | |"
    echo
    echo "## Memory per parked stack"
    echo
    echo "Target: ≤ 4 500 bytes of RSS per parked stack, page tables included, guard protection on."
    echo
    echo "\`bench/stack/stack_rss $(rss stacks)\`: that many default stacks ($(rss stack_size) bytes usable each),"
    echo "a context made on each and switched into once (it switches straight back), then VmRSS and"
    echo "VmPTE from /proc/self/status against the same before. Everything counts: the stack pages,"
    echo "the page tables, the pool's slot records and the program's own arrays of \`gort_stack_t\` and"
    echo "\`gort_ctx_t\` ($(rss struct_bytes_per_stack) bytes a stack)."
    echo
    echo "| bytes / stack | RSS | page tables | new mappings for all $(rss stacks) stacks | target |"
    echo "|---:|---:|---:|---:|---|"
    echo "| $per_stack | $(rss rss_bytes_per_stack) | $(rss pte_bytes_per_stack) | $(rss new_mappings) | $(mark "$per_stack" 4500) |"
    echo
    echo "Every stack has its guard page (\`MADV_GUARD_INSTALL\` on this kernel; a guard costs a"
    echo "page-table entry, no memory and no mapping)."
    echo
    echo "## Raw Google Benchmark output (CSV, medians)"
    echo
    echo '```'
    grep -E '^name|_median' "$tmp/gb.csv" | cut -d, -f1-7
    echo '```'
} >"$results/stack.md"

echo "bench/stack: wrote $results/stack.md"
echo "  switch: gort $sw_med ns (range $sw_min-$sw_max), jump_fcontext $fctx ns, swapcontext $uctx ns"
echo "  instructions/switch: gort ${ipsw[gort]}, jump_fcontext ${ipsw[fcontext]}, swapcontext ${ipsw[ucontext]}"
echo "  pool get+put: $pool0 ns (64 KiB), $pool1m ns (1 MiB); spawn $spawn ns"
echo "  RSS per parked stack: $per_stack bytes"
