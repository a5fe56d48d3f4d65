/* binary-trees (the Benchmarks Game's shape, single mutator thread): allocate and
 * check perfect binary trees of depth 4..N, while one tree of depth N lives
 * throughout.  Usage: binary_trees [N=20]. */
#include "harness.h"

typedef struct node {
    struct node *left, *right;
} node;

static node *make(int d) {
    node *n = GC_ALLOC(sizeof *n);
    if (d > 0) {
        GC_SET(n->left, make(d - 1));
        GC_SET(n->right, make(d - 1));
    }
    return n;
}

static long check(const node *n) {
    return 1 + (n->left ? check(n->left) + check(n->right) : 0);
}

int main(int argc, char **argv) {
    int max = argc > 1 ? atoi(argv[1]) : 20;
    bench_begin();
    long sum = check(make(max + 1));
    node *keep = make(max);
    for (int d = 4; d <= max; d += 2) {
        long iters = 1L << (max - d + 4);
        for (long i = 0; i < iters; i++) {
            sum += check(make(d));
            if ((i & 15) == 0)
                STAMP();
        }
        STAMP();
    }
    sum += check(keep);
    char extra[64];
    snprintf(extra, sizeof extra, "check=%ld", sum);
    bench_end("binary-trees", extra);
    return 0;
}
