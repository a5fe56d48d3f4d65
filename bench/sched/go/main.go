// bench/sched/go: the workloads of bench/sched/sched_bench.c in Go, with the
// same command line and output ("WORKLOAD ns_per_op maxrss_kib"), so that
// bench/sched/run.sh can run both side by side.  Standard library only.
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var n int

func spawn() float64 {
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

func pingpong() float64 {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		ping <- i
		<-pong
	}
	d := time.Since(t0)
	close(ping)
	return float64(d.Nanoseconds()) / float64(n)
}

func buffered(capacity int) float64 {
	c := make(chan int, capacity)
	t0 := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			c <- i
		}
		close(c)
	}()
	sum := 0
	for v := range c {
		sum += v
	}
	if sum != n*(n-1)/2 {
		panic("bad sum")
	}
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

func skynet(c chan int, num, size int) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int)
	step := size / 10
	for i := 0; i < 10; i++ {
		go skynet(rc, num+i*step, step)
	}
	sum := 0
	for i := 0; i < 10; i++ {
		sum += <-rc
	}
	c <- sum
}

func sky() float64 {
	c := make(chan int)
	t0 := time.Now()
	go skynet(c, 0, n)
	total := <-c
	if total != n*(n-1)/2 {
		panic("bad skynet sum")
	}
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

func yield() float64 {
	var wg sync.WaitGroup
	wg.Add(2)
	t0 := time.Now()
	for k := 0; k < 2; k++ {
		go func() {
			for i := 0; i < n; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	return float64(time.Since(t0).Nanoseconds()) / float64(2*n)
}

// ---- issue 7: sleeps, a hog, a blocked system call, echo ----

func sampleSleeps(k int) float64 {
	v := make([]int64, k)
	for i := range v {
		t0 := time.Now()
		time.Sleep(time.Millisecond)
		v[i] = time.Since(t0).Nanoseconds()
	}
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	if k%2 == 1 {
		return float64(v[k/2])
	}
	return float64(v[k/2-1]+v[k/2]) / 2
}

var hogStop int32

func hogsleep() float64 {
	go func() {
		for atomic.LoadInt32(&hogStop) == 0 {
		}
	}()
	runtime.Gosched()
	ns := sampleSleeps(n)
	atomic.StoreInt32(&hogStop, 1)
	return ns
}

func syscallsleep() float64 {
	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil {
		panic(err)
	}
	go func() {
		var b [1]byte
		syscall.Read(p[0], b[:]) // a blocking read: entersyscall/exitsyscall
	}()
	time.Sleep(20 * time.Millisecond)
	ns := sampleSleeps(n)
	syscall.Write(p[1], []byte("x"))
	return ns
}

func echo() float64 {
	const conns, msg = 1000, 64
	var rl syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	rl.Cur = rl.Max
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() {
		for i := 0; i < conns; i++ {
			c, err := ln.Accept()
			if err != nil {
				panic(err)
			}
			go func(c net.Conn) {
				b := make([]byte, msg)
				for {
					k, err := c.Read(b)
					if err != nil {
						break
					}
					if _, err := c.Write(b[:k]); err != nil {
						break
					}
				}
				c.Close()
			}(c)
		}
	}()
	rounds := n / conns
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(conns)
	for i := 0; i < conns; i++ {
		go func() {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				panic(err)
			}
			out := make([]byte, msg)
			in := make([]byte, msg)
			for r := 0; r < rounds; r++ {
				if _, err := c.Write(out); err != nil {
					panic(err)
				}
				if _, err := io.ReadFull(c, in); err != nil {
					panic(err)
				}
			}
			c.Close()
			wg.Done()
		}()
	}
	wg.Wait()
	d := time.Since(t0)
	ln.Close()
	return float64(d.Nanoseconds()) / float64(rounds*conns)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: sched_bench_go spawn|pingpong|buf1|buf1024|skynet|yield|sleep|hogsleep|syscallsleep|echo [N]")
		os.Exit(2)
	}
	n = 1000000
	if len(os.Args) > 2 {
		n, _ = strconv.Atoi(os.Args[2])
	}
	var ns float64
	switch os.Args[1] {
	case "spawn":
		ns = spawn()
	case "pingpong":
		ns = pingpong()
	case "buf1":
		ns = buffered(1)
	case "buf1024":
		ns = buffered(1024)
	case "skynet":
		ns = sky()
	case "yield":
		ns = yield()
	case "sleep":
		ns = sampleSleeps(n)
	case "hogsleep":
		ns = hogsleep()
	case "syscallsleep":
		ns = syscallsleep()
	case "echo":
		ns = echo()
	default:
		fmt.Fprintln(os.Stderr, "unknown workload", os.Args[1])
		os.Exit(2)
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("%s %.2f %d\n", os.Args[1], ns, ru.Maxrss)
}
