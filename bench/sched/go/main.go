// bench/sched/go: the workloads of bench/sched/sched_bench.c in Go, with the
// same command line and output ("WORKLOAD ns_per_op maxrss_kib"), so that
// bench/sched/run.sh can run both side by side.  Standard library only.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
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

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: sched_bench_go spawn|pingpong|buf1|buf1024|skynet|yield [N]")
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
	default:
		fmt.Fprintln(os.Stderr, "unknown workload", os.Args[1])
		os.Exit(2)
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("%s %.2f %d\n", os.Args[1], ns, ru.Maxrss)
}
