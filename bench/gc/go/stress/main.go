// pause-stress, the Go version of bench/gc/pause_stress.c.
package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

type node struct {
	next, other *node
	a, b        uint64
}

const chain = 16
const ring = 1024

type msg struct {
	about *node
	seq   uint64
	pad   [30]uint64
}

var rng uint64 = 88172645463325252

func rnd() uint64 {
	rng ^= rng << 13
	rng ^= rng >> 7
	rng ^= rng << 17
	return rng
}

func main() {
	liveMiB, secs := 256, 10.0
	if len(os.Args) > 1 {
		liveMiB, _ = strconv.Atoi(os.Args[1])
	}
	if len(os.Args) > 2 {
		secs, _ = strconv.ParseFloat(os.Args[2], 64)
	}
	nodes := (liveMiB << 20) / (32 + 8/chain)
	nchains := nodes / chain
	heads := make([]*node, nchains)
	for c := range heads {
		var h *node
		for k := 0; k < chain; k++ {
			h = &node{next: h, a: uint64(c), b: uint64(k)}
		}
		heads[c] = h
		if c&255 == 0 {
			stamp()
		}
	}
	msgs := make([]*msg, ring)
	built := nowNs()
	stamps = stamps[:0] // the mutator's view covers the churn
	stamp()
	end := built + int64(secs*1e9)
	var ops uint64
	for {
		for i := 0; i < 64; i++ {
			h := heads[rnd()%uint64(nchains)]
			k := int(rnd() % (chain - 1))
			p := h
			for s := 0; s < k && p.next != nil && p.next.next != nil; s++ {
				p = p.next
			}
			if old := p.next; old != nil {
				p.next = &node{next: old.next, a: old.a, b: old.b}
				msgs[ops%ring] = &msg{about: old, seq: ops}
			}
			h.other = heads[rnd()%uint64(nchains)]
			ops++
		}
		stamp()
		if ops&4095 == 0 && nowNs() >= end {
			break
		}
	}
	bad := 0
	for c, h := range heads {
		n := 0
		for p := h; p != nil; p = p.next {
			if p.a != uint64(c) {
				bad++
			}
			n++
		}
		if n != chain {
			bad++
		}
	}
	check := "ok"
	if bad != 0 {
		check = "BAD"
	}
	report("pause-stress", fmt.Sprintf("live_mib=%d ops=%d build_ns=%d check=%s", liveMiB, ops, built, check))
}

func nowNs() int64 { return time.Since(t0).Nanoseconds() }

var t0 = time.Now()

// The stamps live outside the Go heap (as the C harness's live in libc memory),
// so that they neither raise the heap goal nor count as live data.
var stamps = offHeapStamps(1 << 24)

func offHeapStamps(n int) []int64 {
	b, err := syscall.Mmap(-1, 0, 8*n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		panic(err)
	}
	return unsafe.Slice((*int64)(unsafe.Pointer(&b[0])), n)[:0]
}

func stamp() {
	if len(stamps) < cap(stamps) {
		stamps = append(stamps, nowNs())
	}
}

// report prints the RESULT line: GC count, pause quantiles from runtime/metrics
// (/gc/pauses:seconds, every stop-the-world phase), the exact maximum from
// MemStats.PauseNs when it covers every pause, and GCCPUFraction.
func report(workload, extra string) {
	wall := nowNs()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := []metrics.Sample{{Name: "/gc/pauses:seconds"}}
	metrics.Read(s)
	h := s[0].Value.Float64Histogram()
	var total uint64
	for _, c := range h.Counts {
		total += c
	}
	q := func(f float64) float64 {
		want := uint64(math.Ceil(f * float64(total)))
		var acc uint64
		for i, c := range h.Counts {
			acc += c
			if acc >= want && c > 0 {
				return h.Buckets[i+1]
			}
		}
		return 0
	}
	max := q(1.0)
	if ms.NumGC <= 256 {
		var m uint64
		for _, p := range ms.PauseNs {
			if p > m {
				m = p
			}
		}
		max = float64(m) * 1e-9
	}
	p50, p99 := q(0.5), q(0.99)
	if p99 > max {
		p99 = max
	}
	if p50 > max {
		p50 = max
	}
	if f := os.Getenv("PAUSES_FILE"); f != "" {
		var sb strings.Builder
		for i, c := range h.Counts {
			if c > 0 {
				fmt.Fprintf(&sb, "%d %d %d\n", int64(h.Buckets[i]*1e9), int64(h.Buckets[i+1]*1e9), c)
			}
		}
		os.WriteFile(f, []byte(sb.String()), 0o644)
	}
	if f := os.Getenv("STAMPS_FILE"); f != "" {
		buf := make([]byte, 8*len(stamps))
		for i, v := range stamps {
			binary.LittleEndian.PutUint64(buf[8*i:], uint64(v))
		}
		os.WriteFile(f, buf, 0o644)
	}
	fmt.Printf("RESULT collector=go workload=%s wall_ns=%d gcs=%d p50_ns=%d p99_ns=%d max_ns=%d npauses=%d gc_cpu=%.4f %s\n",
		workload, wall, ms.NumGC, int64(p50*1e9), int64(p99*1e9), int64(max*1e9), total, ms.GCCPUFraction, extra)
}
