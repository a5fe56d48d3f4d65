// Package harness is the Go side of bench/gc/harness.h: the mutator's progress
// stamps (STAMPS_FILE), the pause histogram (PAUSES_FILE) and the RESULT line
// that bench/gc/run.sh parses.
package harness

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// NowNs is the time since the program started.
func NowNs() int64 { return time.Since(t0).Nanoseconds() }

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

// Stamp records one unit of the mutator's progress.
func Stamp() {
	if len(stamps) < cap(stamps) {
		stamps = append(stamps, NowNs())
	}
}

// Report prints the RESULT line: GC count, pause quantiles from runtime/metrics
// (/gc/pauses:seconds, every stop-the-world phase), the exact maximum from
// MemStats.PauseNs when it covers every pause, and GCCPUFraction.
func Report(workload, extra string) {
	wall := NowNs()
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

// ResetStamps forgets the stamps so far (a workload's set-up is not its churn).
func ResetStamps() { stamps = stamps[:0] }
