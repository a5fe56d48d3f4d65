/* bench/stack/stack_rss.c — memory per parked stack (issue 4: <= 4 500 bytes).
 *
 *   stack_rss [N]      (default 100 000)
 *
 * Allocates N default stacks, makes a context on each and switches into each
 * once (it parks: switches straight back), then reads VmRSS and VmPTE from
 * /proc/self/status.  Everything the N goroutines-to-be add is counted: their
 * stack pages, the page tables, the pool's slot records, and the gort_stack_t
 * and gort_ctx_t arrays themselves.  Prints key=value lines for run.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <gort/stack.h>

static gort_ctx_t main_ctx;

static void park(void *arg) {
    gort_ctx_t *self = arg;
    for (;;)
        gort_ctx_switch(self, &main_ctx);
}

static long status_kb(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && line[n] == ':')
            v = atol(line + n + 1);
    if (f)
        fclose(f);
    return v;
}

static int count_maps(void) {
    FILE *f = fopen("/proc/self/maps", "r");
    int n = 0, c;
    while (f && (c = getc(f)) != EOF)
        n += c == '\n';
    if (f)
        fclose(f);
    return n;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 100000;
    /* Warm the library (first region, signal stack) outside the measurement. */
    gort_stack_t warm;
    if (gort_stack_alloc(&warm, 0) != 0)
        return 2;
    gort_stack_free(&warm);

    long rss0 = status_kb("VmRSS"), pte0 = status_kb("VmPTE");
    int maps0 = count_maps();
    gort_stack_t *s = mmap(NULL, (size_t)n * sizeof *s, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    gort_ctx_t *c = mmap(NULL, (size_t)n * sizeof *c, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED || c == MAP_FAILED)
        return 2;
    for (long i = 0; i < n; i++) {
        if (gort_stack_alloc(&s[i], 0) != 0)
            return 3;
        gort_ctx_make(&c[i], &s[i], park, &c[i]);
        gort_ctx_switch(&main_ctx, &c[i]);
    }
    long rss1 = status_kb("VmRSS"), pte1 = status_kb("VmPTE");
    int maps1 = count_maps();
    double per = ((double)(rss1 - rss0) + (double)(pte1 - pte0)) * 1024.0 / (double)n;
    printf("stacks=%ld\nrss_kb=%ld\npte_kb=%ld\nbytes_per_stack=%.0f\nrss_bytes_per_stack=%.0f\n"
           "pte_bytes_per_stack=%.0f\nstruct_bytes_per_stack=%zu\nnew_mappings=%d\nstack_size=%zu\n",
           n, rss1 - rss0, pte1 - pte0, per, (double)(rss1 - rss0) * 1024.0 / (double)n,
           (double)(pte1 - pte0) * 1024.0 / (double)n, sizeof *s + sizeof *c, maps1 - maps0 - 2,
           s[0].size);
    for (long i = 0; i < n; i++)
        gort_stack_free(&s[i]);
    return 0;
}
