// binary-trees, the Go version of bench/gc/binary_trees.c (single mutator goroutine).
package main

import (
	"fmt"
	"os"
	"strconv"

	"gcbench/harness"
)

type node struct{ left, right *node }

func make_(d int) *node {
	n := &node{}
	if d > 0 {
		n.left = make_(d - 1)
		n.right = make_(d - 1)
	}
	return n
}

func check(n *node) int {
	if n.left == nil {
		return 1
	}
	return 1 + check(n.left) + check(n.right)
}

func main() {
	max := 20
	if len(os.Args) > 1 {
		max, _ = strconv.Atoi(os.Args[1])
	}
	sum := check(make_(max + 1))
	keep := make_(max)
	for d := 4; d <= max; d += 2 {
		iters := 1 << (max - d + 4)
		for i := 0; i < iters; i++ {
			sum += check(make_(d))
			if i&15 == 0 {
				harness.Stamp()
			}
		}
		harness.Stamp()
	}
	sum += check(keep)
	harness.Report("binary-trees", fmt.Sprintf("check=%d", sum))
}
