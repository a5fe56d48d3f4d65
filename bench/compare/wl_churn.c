/* Single-thread random-size churn: a pool of live blocks where each step frees a
 * random one and allocates a new one of a random size (mostly small, some medium,
 * a few up to 32 KiB) — the allocation pattern of most C programs. */
#include "wl.h"

#define SLOTS 20000

int main(int argc, char **argv) {
    long ops = (long)(20e6 * wl_scale(argc, argv));
    static void *slot[SLOTS];
    uint64_t s = 42;
    double t0 = wl_now();
    for (long i = 0; i < ops; i++) {
        uint64_t r = wl_rand(&s);
        unsigned k = (unsigned)(r % SLOTS);
        free(slot[k]);
        unsigned c = (unsigned)(r >> 32) % 100;
        size_t n = c < 70 ? 8 + (r >> 40) % 120 : c < 95 ? 128 + (r >> 40) % 1920 : 2048 + (r >> 40) % 30720;
        slot[k] = malloc(n);
        wl_touch(slot[k], n);
    }
    for (int k = 0; k < SLOTS; k++)
        free(slot[k]);
    wl_report(wl_now() - t0);
    return 0;
}
