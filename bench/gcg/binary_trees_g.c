/* binary-trees with goroutines (issue 8): the Benchmarks Game's parallel form, in
 * the shape of its Go program #2 (bench/gcg/go/binarytrees_g is the same program
 * in Go).  A stretch tree of depth max+1, a long-lived tree of depth max, then one
 * goroutine per depth d = 4, 6, ..., max, each building and checking 2^(max-d+4)
 * trees of depth d; a WaitGroup collects them, and the output is the game's.
 * Every node is a GC object allocated by a goroutine: the goroutines are the
 * collector's mutators.
 *
 * Progress stamps are the goroutines' together: whoever finishes building a
 * subtree of depth 10, or checking one of depth 12 (about as long: a check visits
 * a node in a quarter of the time a build takes), or the 2^(10-d)-th tree of a
 * depth d < 10, stamps, so a gap in the stamps (bench/gc/mmu.py) is a time in
 * which no goroutine made progress.  (The checks used to go unstamped: the
 * stretch tree's, 3-4 ms, and those of the deepest trees, about 1 ms each, showed
 * as stalls of the mutator, the largest of every run.)
 * Usage: binary_trees_g [max=21]. */
#include "../gc/harness.h"

#include <gort/gort.h>

typedef struct node {
    struct node *left, *right;
} node;

enum { MIN_DEPTH = 4, STAMP_DEPTH = 10, CHECK_STAMP_DEPTH = 12 };

/* STAMP from any goroutine: harness.h's stamps, with the index taken atomically;
 * sorted before bench_end writes them. */
static void stamp(void) {
    size_t i = __atomic_fetch_add(&nstamps, 1, __ATOMIC_RELAXED);
    if (i < stamps_cap)
        stamps[i] = now_ns();
}

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static node *bottom_up_tree(int depth) {
    node *n = GC_ALLOC(sizeof *n);
    if (depth > 0) {
        GC_SET(n->left, bottom_up_tree(depth - 1));
        GC_SET(n->right, bottom_up_tree(depth - 1));
        if (depth == STAMP_DEPTH)
            stamp();
    }
    return n;
}

static long item_check(const node *n, int depth) {
    if (!n->left)
        return 1;
    long c = 1 + item_check(n->left, depth - 1) + item_check(n->right, depth - 1);
    if (depth == CHECK_STAMP_DEPTH)
        stamp();
    return c;
}

typedef struct job {
    int depth, max_depth;
    long trees, check;
    gort_waitgroup_t *wg;
} job;

static void worker(void *arg) {
    job *j = arg;
    long iterations = 1L << (j->max_depth - j->depth + MIN_DEPTH);
    long every = j->depth < STAMP_DEPTH ? 1L << (STAMP_DEPTH - j->depth) : 1;
    long check = 0;
    for (long i = 1; i <= iterations; i++) {
        check += item_check(bottom_up_tree(j->depth), j->depth);
        if (j->depth < STAMP_DEPTH && i % every == 0)
            stamp();
    }
    j->trees = iterations;
    j->check = check;
    gort_wg_done(j->wg);
}

static void main_g(void *arg) {
    int n = *(int *)arg;
    int max_depth = n < MIN_DEPTH + 2 ? MIN_DEPTH + 2 : n;
    int stretch_depth = max_depth + 1;
    bench_begin();
    long check_l = item_check(bottom_up_tree(stretch_depth), stretch_depth);
    printf("stretch tree of depth %d\t check: %ld\n", stretch_depth, check_l);
    node *long_lived = bottom_up_tree(max_depth);

    job *jobs = calloc((size_t)max_depth + 1, sizeof *jobs);   /* no GC pointers */
    gort_waitgroup_t wg = GORT_WAITGROUP_INIT;
    for (int d = MIN_DEPTH; d <= max_depth; d += 2) {
        jobs[d] = (job){.depth = d, .max_depth = max_depth, .wg = &wg};
        gort_wg_add(&wg, 1);
        if (gort_go(worker, &jobs[d]) != 0) {
            perror("binary_trees_g: gort_go");
            exit(1);
        }
    }
    gort_wg_wait(&wg);
    long sum = check_l;
    for (int d = MIN_DEPTH; d <= max_depth; d += 2) {
        printf("%ld\t trees of depth %d\t check: %ld\n", jobs[d].trees, d, jobs[d].check);
        sum += jobs[d].check;
    }
    long check_long = item_check(long_lived, max_depth);
    printf("long lived tree of depth %d\t check: %ld\n", max_depth, check_long);
    sum += check_long;
    free(jobs);

    if (nstamps > stamps_cap)
        nstamps = stamps_cap;
    qsort(stamps, nstamps, sizeof *stamps, cmp64);
    char extra[64];
    snprintf(extra, sizeof extra, "depth=%d check=%ld", max_depth, sum);
    bench_end("binary-trees-g", extra);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 21;
    if (gort_main(main_g, &n) != 0) {
        perror("binary_trees_g: gort_main");
        return 1;
    }
    return 0;
}
