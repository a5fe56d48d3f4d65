"""bench/gc/runs.py: how the benchmark scripts (bench/gc/run.sh, bench/gcg/run.sh)
turn several runs of one row into the row they show."""


def median(xs):
    xs = sorted(xs)
    return xs[(len(xs) - 1) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def summarize(runs, key):
    """A copy of the run with the median key(run), with the mutator's view
    (largest gap, MMU) and the pause p99 replaced by their medians over all the
    runs and the pause max by the largest of any run: one run on a shared machine
    is at the mercy of the other tenants, and of the kernel's own threads."""
    rs = sorted(runs, key=key)
    r = dict(rs[(len(rs) - 1) // 2])
    for k in ("maxgap_ms", "mmu10", "mmu50", "p99_ns"):
        vs = [float(x[k]) for x in rs if k in x]
        if vs:
            r[k] = str(median(vs))
    vs = [float(x["max_ns"]) for x in rs if "max_ns" in x]
    if vs:
        r["max_ns"] = str(max(vs))
    # The host's steal time in each run, in the order they ran: a hypervisor
    # that takes the CPU away stalls the mutator for whole ticks (10 ms).
    r["steal_ms"] = ",".join(x["steal_ms"] for x in runs if "steal_ms" in x) or "—"
    return r

