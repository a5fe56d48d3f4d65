/* Large blocks: a sliding set of 64 KiB – 4 MiB blocks, each touched on every page
 * (as a buffer would be), freed at random.  Measures how an allocator gets large
 * blocks from the OS and gives them back (mmap/munmap, madvise, page faults). */
#include "wl.h"

#define SLOTS 24

int main(int argc, char **argv) {
    long ops = (long)(80000 * wl_scale(argc, argv));
    void *slot[SLOTS] = {0};
    uint64_t s = 99;
    double t0 = wl_now();
    for (long i = 0; i < ops; i++) {
        uint64_t r = wl_rand(&s);
        unsigned k = (unsigned)(r % SLOTS);
        free(slot[k]);
        size_t n = (64u << 10) + (size_t)((r >> 16) % ((4u << 20) - (64u << 10)));
        if ((r >> 8) & 1)
            n /= 8;   /* half of them below 512 KiB */
        if (n < (64u << 10))
            n = 64u << 10;
        char *p = malloc(n);
        for (size_t o = 0; o < n; o += 4096)
            p[o] = (char)o;
        slot[k] = p;
    }
    for (int k = 0; k < SLOTS; k++)
        free(slot[k]);
    wl_report(wl_now() - t0);
    return 0;
}
