/* GCBench (Boehm and Ellis's shape, after Hans Boehm's GCBench.c): a stretch tree,
 * a long-lived tree and a long-lived array of doubles, then many short-lived trees
 * built top-down and bottom-up at depths 4..16. */
#include "harness.h"

typedef struct node {
    struct node *left, *right;
    int i, j;
} node;

enum { kStretchTreeDepth = 18, kLongLivedTreeDepth = 16, kArraySize = 500000,
       kMinTreeDepth = 4, kMaxTreeDepth = 16 };

static int tree_size(int i) { return (1 << (i + 1)) - 1; }
static int num_iters(int i) { return 2 * tree_size(kStretchTreeDepth) / tree_size(i); }

static void populate(int depth, node *n) {
    if (depth <= 0)
        return;
    GC_SET(n->left, (node *)GC_ALLOC(sizeof(node)));
    GC_SET(n->right, (node *)GC_ALLOC(sizeof(node)));
    populate(depth - 1, n->left);
    populate(depth - 1, n->right);
}

static node *make_tree(int depth) {
    node *n = GC_ALLOC(sizeof(node));
    if (depth > 0) {
        GC_SET(n->left, make_tree(depth - 1));
        GC_SET(n->right, make_tree(depth - 1));
    }
    return n;
}

static void time_construction(int depth) {
    int iters = num_iters(depth);
    for (int i = 0; i < iters; i++) {
        node *t = GC_ALLOC(sizeof(node));
        populate(depth, t);
        STAMP();
    }
    for (int i = 0; i < iters; i++) {
        make_tree(depth);
        STAMP();
    }
}

int main(void) {
    bench_begin();
    make_tree(kStretchTreeDepth);
    node *long_lived = GC_ALLOC(sizeof(node));
    populate(kLongLivedTreeDepth, long_lived);
    double *array = GC_ALLOC_ATOMIC(sizeof(double) * kArraySize);
    for (int i = 0; i < kArraySize / 2; i++)
        array[i] = 1.0 / i;
    for (int d = kMinTreeDepth; d <= kMaxTreeDepth; d += 2)
        time_construction(d);
    int ok = long_lived->left != NULL && array[1000] == 1.0 / 1000;   /* as the Go version */
    bench_end("gcbench", ok ? "check=ok" : "check=BAD");
    return !ok;
}
