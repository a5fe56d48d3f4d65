// pause-stress, the Go version of bench/gc/pause_stress.c.
package main

import (
	"fmt"
	"os"
	"strconv"

	"gcbench/harness"
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
			harness.Stamp()
		}
	}
	msgs := make([]*msg, ring)
	built := harness.NowNs()
	harness.ResetStamps() // the mutator's view covers the churn
	harness.Stamp()
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
		harness.Stamp()
		if ops&4095 == 0 && harness.NowNs() >= end {
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
	harness.Report("pause-stress", fmt.Sprintf("live_mib=%d ops=%d build_ns=%d check=%s", liveMiB, ops, built, check))
}
