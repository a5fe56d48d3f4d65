// GCBench, the Go version of bench/gc/gcbench.c.
package main

import (
	"gcbench/harness"
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
		harness.Stamp()
	}
	for i := 0; i < iters; i++ {
		sink = makeTree(depth)
		harness.Stamp()
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
	// longLived.left, not longLived == nil: the compiler folds that test
	// (&node{} is never nil), the tree is then dead from here on and Go's
	// collector marks only the array -- the long-lived tree must stay live, as
	// in Boehm's GCBench and in the C version.
	ok := "ok"
	if longLived.left == nil || array[1000] != 1.0/1000 {
		ok = "BAD"
	}
	harness.Report("gcbench", "check="+ok)
}
