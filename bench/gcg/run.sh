#!/usr/bin/env bash
# bench/gcg/run.sh BUILD_DIR — goroutines as the collector's mutators (issue 8):
# gort against Go 1.19 (golang-go), at GORT_MAXPROCS / GOMAXPROCS 1 and 2.
#   binary-trees with goroutines (the Benchmarks Game's parallel form, depth
#   $GCG_TREES_DEPTH, default 18), three runs each, the median by wall time;
#   the server-like workload ($GCG_SERVER_SECONDS of serving, default 10, with a
#   $GCG_SERVER_CACHE_MIB cache, default 128), three runs each, the median by
#   requests/s.  Largest gap, MMU and pause p99: medians over the runs; pause
#   max: the largest of any run.
# For each: wall time, user+sys CPU and peak RSS (/usr/bin/time), the RESULT
# line's GC count and pauses, and bench/gc/mmu.py's largest gap and MMU over the
# progress stamps.  A run that dies or hangs (timeout) is recorded as failed:
# the rows are the median of the runs that completed, with the failures listed;
# a failed server run is tried again, up to three attempts.
# Writes bench/results/gcg.md, gcg-mmu.png, gcg-pauses.png and gcg-runs.txt.
set -euo pipefail
build=$(cd "${1:?usage: bench/gcg/run.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
results="$root/bench/results"
bin="$build/bench/gcg"
depth=${GCG_TREES_DEPTH:-18}
secs=${GCG_SERVER_SECONDS:-10}
cache=${GCG_SERVER_CACHE_MIB:-128}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$results"

for d in binarytrees_g server; do
    (cd "$here/go" && go build -o "$tmp/go_$d" "./$d")
done
for w in binary_trees_g server; do
    [ -x "$bin/gcgbench_$w" ] || { echo "bench/gcg: $bin/gcgbench_$w missing (cmake --build $build --target gcgbench_$w)" >&2; exit 1; }
done

# The host's steal time (/proc/stat, clock ticks): shown per run in the tables.
hz=$(getconf CLK_TCK)
steal_ticks() { awk '/^cpu /{print $9; exit}' /proc/stat; }

# run NAME WORKLOAD RUNTIME P LIMIT_S CMD...: one measured run, appended to
# $tmp/runs.txt; a run that fails or outlives LIMIT_S is recorded as failed
# (and run returns 1).
run() {
    local name=$1 wl=$2 rt=$3 p=$4 limit=$5; shift 5
    local tag="name=$name bench=$wl runtime=$rt procs=$p"
    echo "bench/gcg: $name" >&2
    local rc=0 s0 s1
    s0=$(steal_ticks)
    GORT_MAXPROCS=$p GOMAXPROCS=$p PAUSES_FILE="$tmp/$name.pauses" STAMPS_FILE="$tmp/$name.stamps" \
        /usr/bin/time -f "TIME elapsed=%e user=%U sys=%S maxrss_kb=%M" timeout -k 5 "$limit" "$@" \
        >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
    if [ $rc -ne 0 ] || ! grep -q '^RESULT' "$tmp/$name.out"; then
        local why
        if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
            why="hung: killed after ${limit} s"
        else
            why=$(grep -m1 -E 'fatal error|panic|Assertion|Segmentation|signal' "$tmp/$name.err" | cut -c1-300 || true)
            why="exit $rc${why:+: $why}"
        fi
        echo "bench/gcg: $name failed: $why" >&2
        tail -5 "$tmp/$name.err" >&2
        echo "$tag failed=1 why=$(printf %s "$why" | python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read()))')" >>"$tmp/runs.txt"
        return 1
    fi
    local res tm mm
    s1=$(steal_ticks)
    res=$(grep '^RESULT' "$tmp/$name.out" | sed 's/^RESULT //')
    tm=$(grep '^TIME' "$tmp/$name.err" | sed 's/^TIME //')
    mm=$(python3 "$root/bench/gc/mmu.py" "$tmp/$name.stamps" "$tmp/$name.mmu")
    echo "$tag $res $tm $mm steal_ms=$(( (s1 - s0) * 1000 / hz ))" >>"$tmp/runs.txt"
    grep -v '^RESULT' "$tmp/$name.out" >"$tmp/$name.trees" || true
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
for rep in 1 2 3; do
    for p in 1 2; do
        run "binary-trees-gort-P$p-r$rep" binary-trees gort $p 30 "$bin/gcgbench_binary_trees_g" "$depth" || true
        run "binary-trees-go-P$p-r$rep" binary-trees go $p 30 "$tmp/go_binarytrees_g" "$depth" || true
    done
done
for rep in 1 2 3; do
    for p in 1 2; do
        for rt in gort go; do
            b=$bin/gcgbench_server
            [ $rt = go ] && b=$tmp/go_server
            for attempt in 1 2 3; do
                run "server-$rt-P$p-r$rep-a$attempt" server $rt $p $((${secs%.*} + 20)) "$b" "$secs" "$cache" && break
            done
        done
    done
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

{
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    # uncommitted runtime changes older than the binaries: built into them
    echo "dirty=$(cd "$root" && git status --porcelain -- alloc gc sched stack rt include 2>/dev/null |
        awk '{print $NF}' | while read -r f; do [ -e "$f" ] && [ "$f" -nt "$bin/gcgbench_server" ] || echo "$f"; done | wc -l)"
    echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
    echo "ncpu=$(nproc)"
    echo "go=$(go version | awk '{print $3}')"
    echo "depth=$depth"
    echo "secs=$secs"
    echo "cache=$cache"
    echo "load=$load0 -> $load1"
} >"$tmp/meta.txt"

python3 - "$tmp" "$results" "$root/bench/gc" <<'PY'
import os, shutil, sys, urllib.parse
tmp, results = sys.argv[1], sys.argv[2]
sys.path.insert(0, sys.argv[3])
from runs import summarize
meta = dict(l.rstrip("\n").split("=", 1) for l in open(os.path.join(tmp, "meta.txt")))
allruns = {}
for line in open(os.path.join(tmp, "runs.txt")):
    d = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
    key = (d["bench"], d["runtime"], int(d["procs"]))
    allruns.setdefault(key, []).append(d)

# Per workload, runtime and P: of the runs that completed, the one with the
# median wall time (the server's is fixed: median requests/s), with the
# mutator's view and the pauses over all of them (bench/gc/runs.py); failed
# only if none completed.  Its MMU curve and pause histogram go under a stable
# name.  Every failed run is listed.
by, failures = {}, []
def short(why):
    why = urllib.parse.unquote(why).replace("|", "/")
    return why if len(why) <= 160 else why[:157] + "…"
for key, rs in allruns.items():
    primary = "rps" if key[0] == "server" else "elapsed"
    ok = [r for r in rs if "failed" not in r]
    bad = [r for r in rs if "failed" in r]
    failures += [(r["name"], short(r.get("why", ""))) for r in bad]
    r = summarize(ok, lambda r: float(r[primary])) if ok else dict(bad[0])
    r["nruns"], r["nfailed"] = len(rs), len(bad)
    if bad:
        r["why_failed"] = short(bad[0].get("why", ""))
    by[key] = r
    stem = "%s-%s-P%d" % key
    for ext in ("mmu", "pauses"):
        src, dst = (os.path.join(tmp, "%s.%s" % (n, ext)) for n in (r["name"], stem))
        if os.path.exists(src) and src != dst:
            shutil.copy(src, dst)

def fl(r, k, scale=1.0):
    return float(r[k]) * scale if r and k in r and "failed" not in r else None
def fmt(v, f="%.2f"):
    return f % v if v is not None else "—"
def ratio(a, b):
    return a / b if a is not None and b else None
def cpu(r):
    return None if not r or "failed" in r else float(r["user"]) + float(r["sys"])

L = []
w = L.append
w("# Goroutines as the collector's mutators: gort vs Go\n")
w(f"Generated by `bench/gcg/run.sh` on {meta['date']} at commit {meta['commit']} (issue 8). "
  "Do not edit by hand; rerun the script (`make bench`, or `bench/gcg/run.sh BUILD_DIR` after "
  "`cmake --build BUILD_DIR --target gcgbench_binary_trees_g gcgbench_server`).\n")
if meta["dirty"] != "0":
    w(f"- **The gort binaries were built with {meta['dirty']} uncommitted changes to the runtime's sources (alloc gc sched stack rt include).**")
w(f"- Machine: {meta['cpu']}, {meta['ncpu']} CPUs, shared (load average {meta['load']}): numbers are noisy. "
  f"Peer: Go {meta['go']}. Each workload runs at GORT_MAXPROCS / GOMAXPROCS = 1 and 2.")
w("- gort runs the C programs (`bench/gcg/*.c`, through `bench/gc/harness.h`), Go the same programs in Go "
  "(`bench/gcg/go/`, through `bench/gc/go/harness`). Every GC object is allocated by goroutines.")
w(f"- **binary-trees**: the Benchmarks Game's parallel form (Go program #2's shape), depth {meta['depth']}: one goroutine "
  "per depth 4, 6, …, collected with a WaitGroup. Three runs each; the row is the run with the median wall time, "
  "except: largest gap, MMU and pause p99 are the medians over the three runs, pause max the largest of any run. "
  "Progress stamps are the tree builders' together (one per 2047-node subtree), so a gap is a time in which "
  "*no* builder made progress; at P=2 that is an optimistic view of utilisation.")
w(f"- **server**: 1000 client goroutines, 8 handlers, unbuffered channels, a {meta['cache']} MiB long-lived cache "
  f"(2-way sets, least recently used replaced), {meta['secs']} s of serving after the cache is built; three runs each, "
  "the row the run with the median requests/s (gap, MMU and pauses as for binary-trees). "
  "Its wall time is fixed, so the table gives **requests/s** and its ratio to Go's instead (higher is better); "
  "request latency is send to reply. The gap and MMU columns come from a latency-sensitive goroutine that "
  "wakes every 1 ms for a ~100 µs unit of work; its stamps leave out the time it asked to sleep, so a gap is "
  "a unit plus whatever delayed it (wake-up, other goroutines, a stop, an assist).")
w("- Pauses: every stop-the-world phase (gort: `gort_gc_stats`; Go: `/gc/pauses:seconds`, max exact from "
  "`MemStats.PauseNs` up to 256 GCs). MMU: minimum mutator utilisation over any 10 / 50 ms window of the stamps "
  "(`bench/gc/mmu.py`). Wall, CPU (user+sys) and peak RSS: `/usr/bin/time`, the whole process.\n")
w("Host steal: the time the hypervisor ran something else on this machine's CPUs during each of the row's runs "
  "(`/proc/stat`, in clock ticks of 10 ms), in the order they ran. A gap of ~10 ms in a run with steal is the host's.\n")

rows = [("binary-trees", rt, p) for p in (1, 2) for rt in ("gort", "go")]
w("## binary-trees\n")
w("| runtime | P | wall s | wall × Go | CPU s | peak RSS MiB | RSS × Go | GCs | pause p50 ms | pause p99 ms | pause max ms | GC CPU | max gap ms | MMU 10ms | MMU 50ms | host steal ms | check |")
w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
gocheck = {p: by.get(("binary-trees", "go", p), {}).get("check") for p in (1, 2)}
for key in rows:
    r = by.get(key)
    wl, rt, p = key
    if r is None:
        continue
    if "failed" in r:
        w(f"| {rt} | {p} | failed ({r['nfailed']} of {r['nruns']} runs): {r.get('why_failed','')} |" + " |" * 14)
        continue
    g = by.get((wl, "go", p))
    wall, rss = fl(r, "elapsed"), fl(r, "maxrss_kb", 1 / 1024)
    chk = r.get("check", "—")
    if rt == "gort":
        chk += " (= Go)" if chk == gocheck.get(p) else " (≠ Go!)"
    failnote = f" ({r['nfailed']} of {r['nruns']} runs failed)" if r["nfailed"] else ""
    w(f"| {rt}{failnote} | {p} | {fmt(wall)} | {fmt(ratio(wall, fl(g,'elapsed'))) if rt=='gort' else ''} | {fmt(cpu(r))} | "
      f"{fmt(rss,'%.0f')} | {fmt(ratio(rss, fl(g,'maxrss_kb',1/1024))) if rt=='gort' else ''} | {r.get('gcs','—')} | "
      f"{fmt(fl(r,'p50_ns',1e-6),'%.3f')} | {fmt(fl(r,'p99_ns',1e-6),'%.3f')} | {fmt(fl(r,'max_ns',1e-6),'%.3f')} | "
      f"{fmt(fl(r,'gc_cpu',100),'%.1f%%')} | {fmt(fl(r,'maxgap_ms'))} | {fmt(fl(r,'mmu10'))} | {fmt(fl(r,'mmu50'))} | {r.get('steal_ms','—')} | {chk} |")
w("")
w("## server\n")
w("| runtime | P | requests/s | req/s × Go | latency p50 ms | latency p99 ms | CPU s | peak RSS MiB | RSS × Go | GCs | pause p50 ms | pause p99 ms | pause max ms | GC CPU | max gap ms | MMU 10ms | MMU 50ms | host steal ms | check |")
w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
for key in [("server", rt, p) for p in (1, 2) for rt in ("gort", "go")]:
    r = by.get(key)
    wl, rt, p = key
    if r is None:
        continue
    if "failed" in r:
        w(f"| {rt} | {p} | failed ({r['nfailed']} attempts): {r.get('why_failed','')} |" + " |" * 16)
        continue
    failnote = f" ({r['nfailed']} of {r['nruns']} runs failed)" if r["nfailed"] else ""
    g = by.get((wl, "go", p))
    rps, rss = fl(r, "rps"), fl(r, "maxrss_kb", 1 / 1024)
    w(f"| {rt}{failnote} | {p} | {fmt(rps,'%.0f')} | {fmt(ratio(rps, fl(g,'rps'))) if rt=='gort' else ''} | "
      f"{fmt(fl(r,'lat_p50_ns',1e-6),'%.3f')} | {fmt(fl(r,'lat_p99_ns',1e-6),'%.2f')} | {fmt(cpu(r))} | "
      f"{fmt(rss,'%.0f')} | {fmt(ratio(rss, fl(g,'maxrss_kb',1/1024))) if rt=='gort' else ''} | {r.get('gcs','—')} | "
      f"{fmt(fl(r,'p50_ns',1e-6),'%.3f')} | {fmt(fl(r,'p99_ns',1e-6),'%.3f')} | {fmt(fl(r,'max_ns',1e-6),'%.3f')} | "
      f"{fmt(fl(r,'gc_cpu',100),'%.1f%%')} | {fmt(fl(r,'maxgap_ms'))} | {fmt(fl(r,'mmu10'))} | {fmt(fl(r,'mmu50'))} | {r.get('steal_ms','—')} | {r.get('check','—')} |")
w("")
w("## Against the issue's targets\n")
w("Targets: wall time ≤ 0.6× Go's (for the server, whose wall time is fixed: requests/s ≥ 1/0.6 = 1.67× Go's), "
  "peak RSS ≤ Go's, pause p99 ≤ 0.1 ms and max ≤ 1 ms, MMU at 10 ms ≥ 0.5.\n")
def mark(ok): return "✅" if ok else "❌"
met = missed = 0
for wl in ("binary-trees", "server"):
    for p in (1, 2):
        r, g = by.get((wl, "gort", p)), by.get((wl, "go", p))
        if r is None:
            continue
        if "failed" in r:
            w(f"- {wl}, P={p}: ❌ gort failed ({r.get('why_failed','')}): no target can be judged")
            missed += 5
            continue
        parts = []
        def judge(label, ok):
            global met, missed
            if ok is None:
                parts.append(f"{label} —")
                return
            met, missed = met + ok, missed + (not ok)
            parts.append(f"{label} {mark(ok)}")
        if wl == "binary-trees":
            x = ratio(fl(r, "elapsed"), fl(g, "elapsed"))
            judge(f"wall {fmt(x)}× Go (≤ 0.6)", None if x is None else x <= 0.6)
        else:
            x = ratio(fl(r, "rps"), fl(g, "rps"))
            judge(f"requests/s {fmt(x)}× Go (≥ 1.67)", None if x is None else x >= 1 / 0.6)
        x = ratio(fl(r, "maxrss_kb"), fl(g, "maxrss_kb"))
        judge(f"peak RSS {fmt(x)}× Go (≤ 1)", None if x is None else x <= 1)
        p99, mx, m10 = fl(r, "p99_ns", 1e-6), fl(r, "max_ns", 1e-6), fl(r, "mmu10")
        judge(f"pause p99 {fmt(p99,'%.3f')} ms (≤ 0.1)", p99 <= 0.1)
        judge(f"pause max {fmt(mx,'%.3f')} ms (≤ 1)", mx <= 1)
        judge(f"MMU10 {fmt(m10)} (≥ 0.5)", m10 >= 0.5)
        w(f"- {wl}, P={p}: " + ", ".join(parts))
w(f"\n{met} of {met + missed} met.")
ngort = sum(len(rs) for k, rs in allruns.items() if k[1] == "gort")
fgort = sum(1 for n, _ in failures if "-gort-" in n)
w(f"{'❌' if fgort else '✅'} gort runs that failed (died or hung): {fgort} of {ngort}" + (" (listed below)." if fgort else ".") + "\n")
if failures:
    w("## Runs that failed\n")
    w("A run that died, or outlived its time limit (binary-trees 30 s, server its duration + 20 s), and why:\n")
    for name, why in failures:
        w(f"- `{name}`: {why}")
    w("")
w("![MMU curves](gcg-mmu.png)\n")
w("![pauses](gcg-pauses.png)\n")
w("Raw RESULT lines of every run: `gcg-runs.txt`.")
open(os.path.join(results, "gcg.md"), "w").write("\n".join(L) + "\n")

# Data for the plots: pause p50/p99/max per row; which MMU curves exist.
with open(os.path.join(tmp, "pauses.dat"), "w") as fh:
    for wl in ("binary-trees", "server"):
        for p in (1, 2):
            for rt in ("gort", "go"):
                r = by.get((wl, rt, p))
                if r and "failed" not in r:
                    fh.write("%s-%s-P%d %g %g %g\n" % (wl, rt, p, fl(r, "p50_ns", 1e-6) or 1e-4,
                             fl(r, "p99_ns", 1e-6) or 1e-4, fl(r, "max_ns", 1e-6) or 1e-4))
PY

if command -v gnuplot >/dev/null; then
    curves() {   # curves WORKLOAD: the plot clauses of its MMU curves that exist
        local wl=$1 out="" f
        for c in "gort 1 1 1" "gort 2 2 1" "go 1 1 2" "go 2 2 2"; do
            set -- $c
            f="$tmp/$wl-$1-P$2.mmu"
            [ -s "$f" ] && out="$out${out:+, }'$f' with lines lw 2 lc $3 dt $4 title '$1 P=$2'"
        done
        echo "${out:-1/0 notitle}"
    }
    {
        echo "set terminal pngcairo size 1200,520 noenhanced font ',10'"
        echo "set output '$results/gcg-mmu.png'"
        echo "set multiplot layout 1,2 title 'minimum mutator utilisation (goroutines as mutators)'"
        echo "set logscale x; set xlabel 'window (ms)'; set ylabel 'MMU'; set yrange [0:1.05]; set grid; set key right bottom"
        echo "set arrow 1 from 10, graph 0 to 10, graph 1 nohead dt 3 lc 'gray'"
        echo "set title 'binary-trees (depth $depth): the builders together'"
        echo "plot $(curves binary-trees)"
        echo "set title 'server: the latency-sensitive goroutine'"
        echo "plot $(curves server)"
        echo "unset multiplot"
    } | gnuplot || true
    if [ -s "$tmp/pauses.dat" ]; then
        {
            echo "set terminal pngcairo size 1100,560 noenhanced font ',9'"
            echo "set output '$results/gcg-pauses.png'"
            echo "set title 'stop-the-world pauses: p50 / p99 / max (ms, log scale); targets p99 0.1 ms, max 1 ms (dashed)'"
            echo "set style data histograms; set style histogram clustered gap 1; set style fill solid 0.8"
            echo "set logscale y; set grid y; set xtics rotate by -30; set ylabel 'ms'; set key left top"
            echo "set arrow 1 from graph 0, first 0.1 to graph 1, first 0.1 nohead dt 2 lc 'black'"
            echo "set arrow 2 from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc 'red'"
            echo "plot '$tmp/pauses.dat' using 2:xtic(1) title 'p50', '' using 3 title 'p99', '' using 4 title 'max'"
        } | gnuplot || true
    fi
fi
{
    sed 's/^/# /' "$tmp/meta.txt"
    cat "$tmp/runs.txt"
} >"$results/gcg-runs.txt"
echo "bench/gcg: wrote $results/gcg.md"
