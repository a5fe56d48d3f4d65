// binary-trees with goroutines, the Go version of bench/gcg/binary_trees_g.c: the
// Benchmarks Game's parallel form (Go program #2's shape).  A stretch tree, a
// long-lived tree, then one goroutine per depth d = 4, 6, ..., max building and
// checking 2^(max-d+4) trees of depth d; a WaitGroup collects them.
//
// Progress stamps are the mutators' together: whoever finishes building a subtree
// of depth 10, or checking one of depth 12, or the 2^(10-d)-th tree of a smaller
// depth, stamps, under a lock, so a gap is a time in which no goroutine made
// progress.
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"

	"gcbench/harness"
)

type node struct{ left, right *node }

const minDepth = 4
const stampDepth = 10
const checkStampDepth = 12

var stampMu sync.Mutex

func stamp() {
	stampMu.Lock()
	harness.Stamp()
	stampMu.Unlock()
}

func bottomUpTree(depth int) *node {
	if depth <= 0 {
		return &node{}
	}
	n := &node{bottomUpTree(depth - 1), bottomUpTree(depth - 1)}
	if depth == stampDepth {
		stamp()
	}
	return n
}

func (n *node) itemCheck(depth int) int {
	if n.left == nil {
		return 1
	}
	c := 1 + n.left.itemCheck(depth-1) + n.right.itemCheck(depth-1)
	if depth == checkStampDepth {
		stamp()
	}
	return c
}

func main() {
	n := 21
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	maxDepth := n
	if minDepth+2 > n {
		maxDepth = minDepth + 2
	}
	stretchDepth := maxDepth + 1
	checkL := bottomUpTree(stretchDepth).itemCheck(stretchDepth)
	fmt.Printf("stretch tree of depth %d\t check: %d\n", stretchDepth, checkL)
	longLivedTree := bottomUpTree(maxDepth)

	resultTrees := make([]int, maxDepth+1)
	resultCheck := make([]int, maxDepth+1)
	var wg sync.WaitGroup
	for d := minDepth; d <= maxDepth; d += 2 {
		wg.Add(1)
		go func(depth int) {
			iterations := 1 << uint(maxDepth-depth+minDepth)
			every := 1
			if depth < stampDepth {
				every = 1 << uint(stampDepth-depth)
			}
			check := 0
			for i := 1; i <= iterations; i++ {
				check += bottomUpTree(depth).itemCheck(depth)
				if depth < stampDepth && i%every == 0 {
					stamp()
				}
			}
			resultTrees[depth] = iterations
			resultCheck[depth] = check
			wg.Done()
		}(d)
	}
	wg.Wait()
	sum := checkL
	for d := minDepth; d <= maxDepth; d += 2 {
		fmt.Printf("%d\t trees of depth %d\t check: %d\n", resultTrees[d], d, resultCheck[d])
		sum += resultCheck[d]
	}
	checkLong := longLivedTree.itemCheck(maxDepth)
	fmt.Printf("long lived tree of depth %d\t check: %d\n", maxDepth, checkLong)
	sum += checkLong
	harness.Report("binary-trees-g", fmt.Sprintf("depth=%d check=%d", maxDepth, sum))
}
