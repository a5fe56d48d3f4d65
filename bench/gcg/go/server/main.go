// server, the Go version of bench/gcg/server.c: a server-like workload.
//
// nclients client goroutines each loop: allocate a request (280 bytes: a reply
// channel, two pointer fields, a key, a sequence number and a 240-byte payload),
// send it to one of nhandlers handler goroutines, wait for the response on the
// request's own reply channel, check it.  A handler builds the response (a header
// and a list of four 48-byte items), looks the key up in a long-lived cache and,
// on a miss, inserts a new entry (a 32-byte entry and a 256-byte value) in place
// of the less recently used of the key's two slots: the old entry becomes
// garbage.  The cache holds cacheMiB of live entries; keys are drawn from twice
// as many, so the cache churns.  Every channel is unbuffered: each send hands a
// pointer from one goroutine's stack to another's.
//
// A latency-sensitive goroutine wakes every millisecond to run a fixed unit of
// work (a list of 16 small objects and a 70 000-step xorshift chain, ~100 us),
// stamps, and sleeps until the next millisecond: a tenth of a processor whatever
// the scheduler's policy.  Its stamps leave out the time it asked to sleep, so
// the gaps between them (bench/gc/mmu.py) are its units of work plus whatever
// delayed them: a late wake-up, other goroutines, a stop, an assist.
//
// The serving lasts `seconds` after the cache is built; the stamps, the request
// count and the latencies cover that part.  The RESULT line adds requests/s and
// the request latency (send to reply) p50/p99/max.
// Usage: server [seconds=10] [cacheMiB=128] [nclients=1000] [nhandlers=8].
package main

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"gcbench/harness"
)

type request struct {
	reply   chan *response
	client  *client
	last    *response // the client's previous response
	key     uint64
	seq     uint64
	payload [30]uint64
}

type item struct {
	next *item
	val  uint64
	pad  [4]uint64
}

type response struct {
	key   uint64
	sum   uint64
	items *item
	entry *entry
}

type entry struct {
	key   uint64
	used  uint64
	value *[32]uint64
	_     uint64
}

type client struct {
	id   int
	rng  uint64
	ok   uint64
	bad  uint64
	last *response
}

const shards = 64

type cache struct {
	slots []*entry // 2 per set
	sets  uint64
	mu    [shards]struct {
		sync.Mutex
		_ [56]byte
	}
	hits, misses uint64
}

func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

func newValue(key uint64) *[32]uint64 {
	v := new([32]uint64)
	for i := range v {
		v[i] = key + uint64(i)
	}
	return v
}

// lookup returns the key's entry, inserting it on a miss.
func (c *cache) lookup(key uint64, tick uint64) *entry {
	set := mix(key) % c.sets
	m := &c.mu[set%shards]
	m.Lock()
	a, b := c.slots[2*set], c.slots[2*set+1]
	var e *entry
	switch {
	case a != nil && a.key == key:
		e = a
	case b != nil && b.key == key:
		e = b
	}
	if e != nil {
		e.used = tick
		m.Unlock()
		atomic.AddUint64(&c.hits, 1)
		return e
	}
	m.Unlock()
	e = &entry{key: key, used: tick, value: newValue(key)} // built outside the lock
	m.Lock()
	i := 2 * set
	if a, b := c.slots[i], c.slots[i+1]; a != nil && (b == nil || b.used < a.used) {
		i++ // a free, else b free or less recent
	}
	c.slots[i] = e
	m.Unlock()
	atomic.AddUint64(&c.misses, 1)
	return e
}

var (
	theCache *cache
	stop     uint32
	nkeys    uint64
	// request latency histogram: 8 buckets per octave of ns
	latHist [64 * 8]uint64
	reqs    uint64
)

func latBucket(ns int64) int {
	if ns < 1 {
		ns = 1
	}
	l := 63 - bits.LeadingZeros64(uint64(ns))
	sub := 0
	if l >= 3 {
		sub = int((uint64(ns) >> uint(l-3)) & 7)
	}
	return l*8 + sub
}

func bucketHi(b int) float64 {
	l, sub := b/8, b%8
	return float64(uint64(1)<<uint(l)) * (1 + float64(sub+1)/8)
}

func latQuantile(q float64) int64 {
	var total uint64
	for i := range latHist {
		total += latHist[i]
	}
	want := uint64(q * float64(total))
	var acc uint64
	for i := range latHist {
		acc += latHist[i]
		if acc >= want && latHist[i] > 0 {
			return int64(bucketHi(i))
		}
	}
	return 0
}

func rnd(s *uint64) uint64 {
	*s ^= *s << 13
	*s ^= *s >> 7
	*s ^= *s << 17
	return *s
}

func handler(in chan *request, wg *sync.WaitGroup) {
	defer wg.Done()
	var tick uint64
	for r := range in {
		tick++
		resp := &response{key: r.key}
		var sum uint64
		for k := 0; k < 4; k++ {
			it := &item{next: resp.items, val: r.payload[k] ^ r.key}
			resp.items = it
			sum += it.val
		}
		resp.sum = sum
		resp.entry = theCache.lookup(r.key, tick)
		r.reply <- resp
	}
}

func clientLoop(c *client, out []chan *request, wg *sync.WaitGroup) {
	defer wg.Done()
	for seq := uint64(0); atomic.LoadUint32(&stop) == 0; seq++ {
		key := rnd(&c.rng) % nkeys
		r := &request{reply: make(chan *response), client: c, last: c.last, key: key, seq: seq}
		for k := range r.payload {
			r.payload[k] = key*31 + uint64(k)
		}
		t := harness.NowNs()
		out[int(key)%len(out)] <- r
		resp := <-r.reply
		atomic.AddUint64(&latHist[latBucket(harness.NowNs()-t)], 1)
		var sum uint64
		n := 0
		for it := resp.items; it != nil; it = it.next {
			sum += it.val
			n++
		}
		want := uint64(0)
		for k := 0; k < 4; k++ {
			want += (key*31 + uint64(k)) ^ key
		}
		if resp.key == key && n == 4 && sum == want && resp.sum == want && resp.entry.key == key &&
			resp.entry.value[0] == key && resp.entry.value[31] == key+31 {
			c.ok++
		} else {
			c.bad++
		}
		c.last = resp
	}
}

type unit struct {
	next *unit
	v    uint64
}

var sink uint64

const latPeriod = 1000000 // ns

var latStamps []int64 // ~8 bytes a millisecond: small beside the heap

// latency: every period, one fixed unit of work, then a sleep until the next
// period.  Its stamps are on its own timeline: the time it asked to sleep is
// taken out, so a gap is a unit of work plus whatever delayed it (a late
// wake-up, a preemption, a stop, an assist).
func latency(units *uint64, wg *sync.WaitGroup) {
	defer wg.Done()
	x := uint64(88172645463325252)
	start := harness.NowNs()
	var slept int64
	for k := int64(1); atomic.LoadUint32(&stop) == 0; k++ {
		var l *unit
		for i := 0; i < 16; i++ {
			l = &unit{next: l, v: x + uint64(i)}
		}
		for i := 0; i < 70000; i++ {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
		}
		for p := l; p != nil; p = p.next {
			x += p.v
		}
		now := harness.NowNs()
		latStamps = append(latStamps, now-slept)
		*units++
		if d := start + k*latPeriod - now; d > 0 {
			slept += d
			time.Sleep(time.Duration(d))
		}
	}
	sink = x
}

func main() {
	secs, cacheMiB, nclients, nhandlers := 10.0, 128, 1000, 8
	if len(os.Args) > 1 {
		secs, _ = strconv.ParseFloat(os.Args[1], 64)
	}
	if len(os.Args) > 2 {
		cacheMiB, _ = strconv.Atoi(os.Args[2])
	}
	if len(os.Args) > 3 {
		nclients, _ = strconv.Atoi(os.Args[3])
	}
	if len(os.Args) > 4 {
		nhandlers, _ = strconv.Atoi(os.Args[4])
	}
	// an entry and its value: 32 + 256 bytes, plus its slot
	sets := uint64(cacheMiB) << 20 / (2 * (32 + 256 + 8))
	theCache = &cache{slots: make([]*entry, 2*sets), sets: sets}
	nkeys = 4 * sets // twice the cache's capacity
	for k := uint64(0); k < 2*sets; k++ {
		theCache.lookup(k*2, 0)
	}
	theCache.hits, theCache.misses = 0, 0
	built := harness.NowNs()

	var hwg, cwg, lwg sync.WaitGroup
	in := make([]chan *request, nhandlers)
	for i := range in {
		in[i] = make(chan *request)
		hwg.Add(1)
		go handler(in[i], &hwg)
	}
	clients := make([]*client, nclients)
	for i := range clients {
		clients[i] = &client{id: i, rng: mix(uint64(i) + 1)}
		cwg.Add(1)
		go clientLoop(clients[i], in, &cwg)
	}
	var units uint64
	lwg.Add(1)
	go latency(&units, &lwg)
	end := built + int64(secs*1e9)
	time.Sleep(time.Duration(end - harness.NowNs()))
	atomic.StoreUint32(&stop, 1)
	cwg.Wait()
	lwg.Wait()
	served := harness.NowNs() - built
	for _, c := range in {
		close(c)
	}
	hwg.Wait()
	var ok, bad uint64
	for _, c := range clients {
		ok += c.ok
		bad += c.bad
	}
	check := "ok"
	if bad != 0 || ok == 0 {
		check = "BAD"
	}
	harness.Report("server", fmt.Sprintf("reqs=%d rps=%.0f lat_p50_ns=%d lat_p99_ns=%d lat_max_ns=%d hits=%d misses=%d units=%d serve_ns=%d build_ns=%d cache_mib=%d clients=%d handlers=%d check=%s",
		ok+bad, float64(ok+bad)/(float64(served)*1e-9), latQuantile(0.5), latQuantile(0.99), latQuantile(1.0),
		theCache.hits, theCache.misses, units, served, built, cacheMiB, nclients, nhandlers, check))
	// The stamps are the latency goroutine's timeline, not harness.Stamp's clock:
	// they replace what Report wrote.
	if f := os.Getenv("STAMPS_FILE"); f != "" {
		buf := make([]byte, 8*len(latStamps))
		for i, v := range latStamps {
			binary.LittleEndian.PutUint64(buf[8*i:], uint64(v))
		}
		os.WriteFile(f, buf, 0o644)
	}
}
