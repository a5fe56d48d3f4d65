#!/usr/bin/env python3
"""bench/gc/mmu.py STAMPS_FILE [OUT_CURVE]: the mutator's own view of a run.

The mutator stamps the clock after every unit of work (int64 ns, little endian).
A gap longer than 3x the median gap is time the mutator did not get: its excess
over the median counts as a stall [t_i + median, t_{i+1}).  Prints the largest gap
(ms) and the minimum mutator utilisation for windows of 10 and 50 ms; writes the
MMU curve (window ms, MMU) to OUT_CURVE if given.  MMU(w) is the least fraction of
any window of length w not covered by stalls (Cheng and Blelloch)."""
import bisect, struct, sys

data = open(sys.argv[1], "rb").read()
t = list(struct.unpack("<%dq" % (len(data) // 8), data))
if len(t) < 3:
    print("maxgap_ms=0 mmu10=1 mmu50=1")
    sys.exit(0)
gaps = sorted(b - a for a, b in zip(t, t[1:]))
med = gaps[len(gaps) // 2]
maxgap = gaps[-1]
# stall intervals
st, en = [], []
for a, b in zip(t, t[1:]):
    if b - a > 3 * med:
        st.append(a + med)
        en.append(b)
# prefix sums of stall lengths
pre = [0]
for s, e in zip(st, en):
    pre.append(pre[-1] + (e - s))

def covered(lo, hi):
    """stall time inside [lo, hi)"""
    if not st:
        return 0
    i = bisect.bisect_right(en, lo)          # first stall ending after lo
    j = bisect.bisect_left(st, hi)           # stalls starting before hi: [i, j)
    if i >= j:
        return 0
    tot = pre[j] - pre[i]
    tot -= max(0, lo - st[i])                # clip the first
    tot -= max(0, en[j - 1] - hi)            # clip the last
    return max(0, tot)

span = t[-1] - t[0]
def mmu(w):
    if w >= span:
        return 1 - covered(t[0], t[-1]) / span
    worst = 0
    for s in st:                             # windows starting at a stall
        if s + w <= t[-1]:
            worst = max(worst, covered(s, s + w))
    for e in en:                             # windows ending at a stall's end
        if e - w >= t[0]:
            worst = max(worst, covered(e - w, e))
    return 1 - worst / w

print("maxgap_ms=%.3f mmu10=%.3f mmu50=%.3f" % (maxgap / 1e6, mmu(10e6), mmu(50e6)))
if len(sys.argv) > 2:
    with open(sys.argv[2], "w") as f:
        w = 1e5
        while w <= 2e9:
            f.write("%g %.4f\n" % (w / 1e6, mmu(w)))
            w *= 1.25
