// GCBench, the Go version of bench/gc/gcbench.c.
package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	_ "strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

type node struct {
	left, right *node
	i, j        int32
}

const (
	kStretchTreeDepth   = 18
	kLongLivedTreeDepth = 16
	kArraySize          = 500000
	kMinTreeDepth       = 4
	kMaxTreeDepth       = 16
)

func treeSize(i int) int { return (1 << (i + 1)) - 1 }
func numIters(i int) int { return 2 * treeSize(kStretchTreeDepth) / treeSize(i) }

func populate(depth int, n *node) {
	if depth <= 0 {
		return
	}
	n.left = &node{}
	n.right = &node{}
	populate(depth-1, n.left)
	populate(depth-1, n.right)
}

func makeTree(depth int) *node {
	n := &node{}
	if depth > 0 {
		n.left = makeTree(depth - 1)
		n.right = makeTree(depth - 1)
	}
	return n
}

var sink *node

func timeConstruction(depth int) {
	iters := numIters(depth)
	for i := 0; i < iters; i++ {
		t := &node{}
		populate(depth, t)
		sink = t
		stamp()
	}
	for i := 0; i < iters; i++ {
		sink = makeTree(depth)
		stamp()
	}
}

func main() {
	sink = makeTree(kStretchTreeDepth)
	longLived := &node{}
	populate(kLongLivedTreeDepth, longLived)
	array := make([]float64, kArraySize)
	for i := 0; i < kArraySize/2; i++ {
		array[i] = 1.0 / float64(i)
	}
	for d := kMinTreeDepth; d <= kMaxTreeDepth; d += 2 {
		timeConstruction(d)
	}
	ok := "ok"
	if longLived == nil || array[1000] != 1.0/1000 {
		ok = "BAD"
	}
	report("gcbench", "check="+ok)
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
