/* Fragmentation: build a heap of ~120 MiB of small and medium objects, free 90% of
 * them at random (the survivors are scattered over every page), then allocate
 * ~30 MiB of objects of other sizes.  Peak RSS shows the overhead at the peak;
 * rss_after_kb, measured after the frees and half a second idle, shows how much of
 * the freed memory the allocator gave back to the OS despite the survivors. */
#include "wl.h"

int main(int argc, char **argv) {
    double scale = wl_scale(argc, argv);
    long n = (long)(0.8e6 * scale);
    void **obj = malloc((size_t)n * sizeof(void *));
    uint64_t s = 5;
    double t0 = wl_now();
    for (long i = 0; i < n; i++) {
        uint64_t r = wl_rand(&s);
        size_t sz = (r & 7) == 0 ? 512 + (r >> 8) % 1536 : 16 + (r >> 8) % 240;
        obj[i] = malloc(sz);
        memset(obj[i], 1, sz);
    }
    for (long i = 0; i < n; i++) {
        if (wl_rand(&s) % 10 != 0) {
            free(obj[i]);
            obj[i] = NULL;
        }
    }
    double t1 = wl_now();
    usleep(500000);
    long rss_after = wl_rss_kb();
    double t2 = wl_now();
    long m = n / 5;
    void **more = malloc((size_t)m * sizeof(void *));
    for (long i = 0; i < m; i++) {
        size_t sz = 300 + wl_rand(&s) % 200;
        more[i] = malloc(sz);
        memset(more[i], 2, sz);
    }
    for (long i = 0; i < m; i++)
        free(more[i]);
    for (long i = 0; i < n; i++)
        free(obj[i]);
    double t3 = wl_now();
    wl_report((t1 - t0) + (t3 - t2));
    printf("rss_after_kb %ld\n", rss_after);
    free(more);
    free(obj);
    return 0;
}
