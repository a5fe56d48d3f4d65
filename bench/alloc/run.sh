#!/usr/bin/env bash
# bench/alloc/run.sh BUILD_DIR — the allocator micro-benchmarks of issue 2.
#
# BUILD_DIR is a Release build with -DGORT_BUILD_BENCH=ON (nothing is built here).
#   1. Google Benchmark: BM_alloc_pair and BM_alloc_batch64 at 16 B .. 256 KiB for gort
#      (bench_alloc_gort) and for glibc, jemalloc, mimalloc, tcmalloc (bench_alloc_libc,
#      the peers by LD_PRELOAD), 3 repetitions, median; allocators alternate.
#   2. callgrind: instructions per malloc(32)+free pair, pair loop and batch of 64,
#      as (Ir(2N) - Ir(N)) / N with collection limited to the loop (alloc_icount).
#   3. bench/results/alloc.md, alloc-pair.png, alloc-batch64.png, alloc-icount-gort.txt.
# Knobs: ALLOC_BENCH_MIN_TIME (seconds per repetition, default 0.1), ALLOC_ICOUNT_N
# (default 200000).  Takes about two minutes on two cores.
set -euo pipefail

build=$(cd "${1:?usage: bench/alloc/run.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
results="$root/bench/results"
bin="$build/bench/alloc"
min_time=${ALLOC_BENCH_MIN_TIME:-0.1}
icount_n=${ALLOC_ICOUNT_N:-200000}

for exe in bench_alloc_gort bench_alloc_libc alloc_icount; do
    if [ ! -x "$bin/$exe" ]; then
        echo "bench/alloc: $bin/$exe missing (configure with -DCMAKE_BUILD_TYPE=Release -DGORT_BUILD_BENCH=ON)" >&2
        exit 1
    fi
done
for tool in python3 valgrind callgrind_annotate; do
    command -v "$tool" >/dev/null || { echo "bench/alloc: $tool not found (tools/deps.sh bench)" >&2; exit 1; }
done

# The peers, found in the multiarch library directory.
multiarch=$(gcc -print-multiarch 2>/dev/null || true)
find_lib() {
    local d
    for d in "/usr/lib/$multiarch" "/lib/$multiarch" /usr/lib64 /usr/lib; do
        if [ -e "$d/$1" ]; then echo "$d/$1"; return; fi
    done
}
declare -A preload=([gort]="" [glibc]="")
allocators=(gort glibc)
for peer in jemalloc:libjemalloc.so.2 mimalloc:libmimalloc.so.2 tcmalloc:libtcmalloc_minimal.so.4; do
    name=${peer%%:*} lib=$(find_lib "${peer#*:}")
    if [ -n "$lib" ]; then
        preload[$name]=$lib
        allocators+=("$name")
    else
        echo "bench/alloc: ${peer#*:} not found, skipping $name (tools/deps.sh bench)" >&2
    fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$results"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# run_as ALLOCATOR EXE ARGS... : EXE with the allocator's LD_PRELOAD, if any.
run_as() {
    local a=$1; shift
    if [ -n "${preload[$a]}" ]; then
        LD_PRELOAD="${preload[$a]}${LD_PRELOAD:+:$LD_PRELOAD}" "$@"
    else
        "$@"
    fi
}

# ---- 1. wall-clock benchmarks ----------------------------------------------------------
# One process per allocator and family; the order of allocators rotates between the
# families so that none always runs first (or last) on a machine whose load drifts.
rot=0
for fam in pair batch64; do
    n=${#allocators[@]}
    for ((i = 0; i < n; i++)); do
        a=${allocators[$(((i + rot) % n))]}
        exe=$bin/bench_alloc_libc
        [ "$a" = gort ] && exe=$bin/bench_alloc_gort
        echo "bench/alloc: BM_alloc_$fam  $a"
        run_as "$a" "$exe" --benchmark_filter="^BM_alloc_$fam/" \
            --benchmark_min_time="$min_time" --benchmark_repetitions=3 \
            --benchmark_report_aggregates_only=true \
            --benchmark_out="$tmp/gb-$a-$fam.json" --benchmark_out_format=json \
            >/dev/null 2>"$tmp/gb-$a-$fam.err" ||
            { cat "$tmp/gb-$a-$fam.err" >&2; exit 1; }
    done
    rot=$((rot + 2))
done

# ---- 2. instruction counts ---------------------------------------------------------------
for a in "${allocators[@]}"; do
    mode=libc
    [ "$a" = gort ] && mode=gort
    for loop in pair batch64; do
        for n in "$icount_n" $((2 * icount_n)); do
            echo "bench/alloc: callgrind $a $loop $n"
            out="$tmp/cg-$a-$loop-$n.out"
            run_as "$a" valgrind --tool=callgrind --callgrind-out-file="$out" \
                --toggle-collect="run_${loop}_$mode" \
                "$bin/alloc_icount" "$mode" "$loop" "$n" >/dev/null 2>"$out.err" ||
                { cat "$out.err" >&2; exit 1; }
            callgrind_annotate --auto=no --threshold=100 "$out" >"$out.txt"
        done
    done
done

load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- 3. report ---------------------------------------------------------------------------
{
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD -- alloc include 2>/dev/null || echo ' (alloc/ modified)')"
    echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
    echo "ncpu=$(nproc)"
    echo "kernel=$(uname -r)"
    echo "glibc=$(ldd --version 2>/dev/null | sed -n '1s/.* //p')"
    echo "peers=$(dpkg-query -W -f='${Package} ${Version}, ' libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 2>/dev/null | sed 's/, $//')"
    echo "valgrind=$(valgrind --version)"
    echo "load=$load_before -> $load_after"
    echo "min_time=$min_time"
    echo "icount_n=$icount_n"
    echo "allocators=${allocators[*]}"
} >"$tmp/meta.txt"

python3 - "$tmp" "$results" <<'EOF'
import json, os, re, sys

tmp, results = sys.argv[1], sys.argv[2]
meta = dict(l.rstrip("\n").split("=", 1) for l in open(os.path.join(tmp, "meta.txt")))
allocs = meta["allocators"].split()
n = int(meta["icount_n"])
TARGET = 40
REF = {"glibc": (138, 186), "jemalloc": (76, 84), "tcmalloc": (76, 83), "mimalloc": (114, 63)}
UNIT = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
fams = {"pair": 1, "batch64": 64}

def size_name(b):
    return f"{b >> 10} KiB" if b >= 1024 else f"{b} B"

# ns per pair: the median CPU time of an iteration over the pairs in an iteration.
ns, cv = {}, {}   # (fam, alloc) -> {size: ns per pair}, {size: CPU-time cv}
for fam, per in fams.items():
    for a in allocs:
        d = json.load(open(os.path.join(tmp, f"gb-{a}-{fam}.json")))
        m, v = {}, {}
        for b in d["benchmarks"]:
            size = int(b["run_name"].split("/")[1])
            if b.get("aggregate_name") == "median":
                m[size] = b["cpu_time"] * UNIT[b["time_unit"]] / per
            elif b.get("aggregate_name") == "cv":
                v[size] = b["cpu_time"]
        ns[(fam, a)], cv[(fam, a)] = m, v
sizes = sorted(ns[("pair", allocs[0])])

# Instructions per pair: (Ir(2N) - Ir(N)) / N from the totals of the collected loop.
def totals(path):
    for line in open(path):
        if line.startswith("totals:") or line.startswith("summary:"):
            return int(line.split()[1])
    raise SystemExit(f"no totals in {path}")

# Per function (self cost), the same difference.
LINE = re.compile(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*?)\s*$")
def functions(path):
    out, seen = {}, False
    for line in open(path):
        if re.match(r"^\s*Ir\s+file:function", line):
            seen = True
            continue
        m = LINE.match(line) if seen else None
        if m and ":" in m.group(2):
            fn = re.sub(r"\s+\[.*\]$", "", m.group(2))
            out[fn] = out.get(fn, 0) + int(m.group(1).replace(",", ""))
    return out

def budget_of(a, loop):
    f1 = functions(os.path.join(tmp, f"cg-{a}-{loop}-{n}.out.txt"))
    f2 = functions(os.path.join(tmp, f"cg-{a}-{loop}-{2 * n}.out.txt"))
    b = sorted(((f2.get(k, 0) - f1.get(k, 0)) / n, k) for k in set(f1) | set(f2))
    return [(v, k) for v, k in reversed(b) if abs(v) >= 0.005]

# ipp: instructions per pair in all; loopc: the share of the loop function itself
# (counter, store into the block, argument moves, the calls), the rest is the allocator.
ipp, loopc = {}, {}
for a in allocs:
    mode = "gort" if a == "gort" else "libc"
    for loop in fams:
        t1 = totals(os.path.join(tmp, f"cg-{a}-{loop}-{n}.out"))
        t2 = totals(os.path.join(tmp, f"cg-{a}-{loop}-{2 * n}.out"))
        ipp[(a, loop)] = (t2 - t1) / n
        loopc[(a, loop)] = sum(v for v, k in budget_of(a, loop)
                               if k.endswith(f":run_{loop}_{mode}"))
budget = budget_of("gort", "pair")
with open(os.path.join(results, "alloc-icount-gort.txt"), "w") as f:
    f.write(f"# gort: callgrind of alloc_icount gort pair (malloc(32)+free), collection limited\n"
            f"# to the loop (--toggle-collect=run_pair_gort); commit {meta['commit']}, {meta['date']}.\n"
            f"#\n# Instructions per pair by function (self cost), (Ir(2N) - Ir(N)) / N, N = {n}:\n#\n")
    for v, k in budget:
        f.write(f"#   {v:8.2f}  {k}\n")
    f.write(f"#   {sum(v for v, _ in budget):8.2f}  total (run_pair_gort is the benchmark loop itself)\n#\n"
            f"# callgrind_annotate --auto=no --threshold=100 of the N = {2 * n} run:\n\n")
    f.write(open(os.path.join(tmp, f"cg-gort-pair-{2 * n}.out.txt")).read())

# gnuplot data: one column per allocator.
for fam in fams:
    with open(os.path.join(tmp, f"plot-{fam}.dat"), "w") as f:
        f.write("# size " + " ".join(allocs) + "\n")
        for s in sizes:
            f.write(f"{s} " + " ".join(f"{ns[(fam, a)][s]:.3f}" for a in allocs) + "\n")

# alloc.md
L = []
w = L.append
w("# Allocator micro-benchmarks\n")
w(f"Generated by `bench/alloc/run.sh` on {meta['date']} at commit {meta['commit']} "
  "(issue 2). Do not edit by hand; rerun the script.\n")
w(f"- Machine: {meta['cpu']}, {meta['ncpu']} CPUs, Linux {meta['kernel']}; "
  f"load average {meta['load']} (1/5/15 min, before → after).")
w(f"- Allocators: gort (linked statically, `gort_malloc`/`gort_free`); glibc {meta['glibc']}; "
  f"the peers by `LD_PRELOAD` ({meta['peers']}).")
w(f"- Google Benchmark, `--benchmark_min_time={meta['min_time']} --benchmark_repetitions=3`, "
  "median CPU time. One process per allocator and family; allocators alternate.")
w("- `BM_alloc_pair/n`: `p = malloc(n); p[0] = 1; free(p)` in a loop. "
  "`BM_alloc_batch64/n`: 64 such mallocs, then the 64 frees in the same order; "
  "time per pair (iteration time / 64).")
w(f"- Instruction counts: `alloc_icount` under `valgrind --tool=callgrind "
  f"--toggle-collect=run_<loop>_<alloc>` with N = {n} and {2 * n} malloc(32)+free pairs; "
  "reported (Ir(2N) − Ir(N)) / N, so set-up, first-touch and refill-warmup costs cancel. "
  f"{meta['valgrind']}.\n")

w("## Instructions per malloc(32)+free pair\n")
w(f"Target (issue 2): ≤ {TARGET} per pair, in both loops, counted as the issue's reference "
  "figures were: everything the loop executes, the loop itself included. *Net* leaves out "
  "the self cost of the loop function (counter, store into the block, argument moves, the "
  "two calls; the PLT jumps of the shared-library allocators stay in), i.e. what the "
  "allocator itself executes.\n")
w("| allocator | pair | batch64 | net pair | net batch64 | vs target (pair / batch64) | issue 2 reference |")
w("|---|---:|---:|---:|---:|---|---|")
for a in allocs:
    p, b = ipp[(a, "pair")], ipp[(a, "batch64")]
    lp, lb = loopc[(a, "pair")], loopc[(a, "batch64")]
    verdict = " / ".join(("✅ " if v <= TARGET else "❌ ") + f"{v / TARGET:.2f}×" for v in (p, b))
    ref = "%d / %d" % REF[a] if a in REF else f"≤ {TARGET} / ≤ {TARGET} (target)"
    w(f"| {a} | {p:.1f} | {b:.1f} | {p - lp:.1f} | {b - lb:.1f} | {verdict} | {ref} |")
w("")
w("Where gort's instructions go (pair loop, per pair; full annotate in "
  "[alloc-icount-gort.txt](alloc-icount-gort.txt)):\n")
w("| instructions / pair | function |")
w("|---:|---|")
for v, k in budget[:8]:
    w(f"| {v:.2f} | `{k}` |")
w("")

for fam, title in (("pair", "malloc + free pair"), ("batch64", "batch of 64 mallocs, then 64 frees (per pair)")):
    w(f"## ns per {title}\n")
    w("Median CPU ns per pair; in parentheses the ratio to jemalloc (< 1 is faster). "
      "Bold: the fastest at that size; † marks a spread (coefficient of variation) of more "
      "than 10% between the 3 repetitions.\n")
    w("| size | " + " | ".join(allocs) + " |")
    w("|---:|" + "---:|" * len(allocs))
    for s in sizes:
        row = {a: ns[(fam, a)][s] for a in allocs}
        best = min(row.values())
        je = row.get("jemalloc")
        cells = []
        for a in allocs:
            c = f"{row[a]:.1f}"
            if row[a] == best:
                c = f"**{c}**"
            if cv[(fam, a)].get(s, 0) > 0.10:
                c += "†"
            if je and a != "jemalloc":
                c += f" ({row[a] / je:.2f})"
            cells.append(c)
        w(f"| {size_name(s)} | " + " | ".join(cells) + " |")
    w("")
    w(f"![ns per pair vs size, {fam}](alloc-{fam}.png)\n")

# Where gort is far behind the best peer.
slow = []
for fam in fams:
    for s in sizes:
        peers = {a: ns[(fam, a)][s] for a in allocs if a != "gort"}
        if not peers:
            continue
        pa, pv = min(peers.items(), key=lambda kv: kv[1])
        g = ns[(fam, "gort")][s]
        if g > 1.5 * pv:
            slow.append(f"{fam} {size_name(s)}: gort {g:.1f} ns vs {pa} {pv:.1f} ns ({g / pv:.1f}×)")
w("## Where gort is more than 1.5× slower than the best peer\n")
w("\n".join(f"- {x}" for x in slow) if slow else "- nowhere")
w("")
open(os.path.join(results, "alloc.md"), "w").write("\n".join(L))
EOF

if command -v gnuplot >/dev/null; then
    for fam in pair batch64; do
        title="malloc+free pair"
        [ $fam = batch64 ] && title="batch of 64 mallocs then 64 frees, per pair"
        {
            echo "set terminal pngcairo size 900,560 noenhanced font ',10'"
            echo "set output '$results/alloc-$fam.png'"
            echo "set title 'BM_alloc_$fam: $title (median CPU time)'"
            echo "set logscale xy 2; set xrange [12:340000]"
            echo "set xlabel 'request size (bytes)'; set ylabel 'ns per malloc+free'"
            echo "set xtics ('16' 16, '32' 32, '64' 64, '128' 128, '256' 256, '512' 512, '1K' 1024, '4K' 4096, '16K' 16384, '32K' 32768, '64K' 65536, '256K' 262144)"
            echo "set format y '%g'; set grid; set key left top"
            printf "plot "
            i=2
            for a in "${allocators[@]}"; do
                [ $i -gt 2 ] && printf ", "
                printf "'%s' using 1:%d with linespoints lw 2 title '%s'" "$tmp/plot-$fam.dat" $i "$a"
                i=$((i + 1))
            done
            echo
        } | gnuplot
    done
else
    echo "bench/alloc: gnuplot not found, no plots" >&2
fi
echo "bench/alloc: wrote $results/alloc.md"
