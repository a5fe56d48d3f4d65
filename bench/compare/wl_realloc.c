/* Realloc growth: many buffers grown a little at a time, interleaved (a string
 * builder or vector in each of them), then shrunk and freed — tests in-place growth
 * and the copying an allocator makes when it cannot grow in place. */
#include "wl.h"

#define NBUF 4000

int main(int argc, char **argv) {
    double scale = wl_scale(argc, argv);
    int reps = (int)(3 * scale) < 1 ? 1 : (int)(3 * scale);
    static char *buf[NBUF];
    static size_t len[NBUF];
    uint64_t s = 7;
    double t0 = wl_now();
    for (int rep = 0; rep < reps; rep++) {
        /* Grow every buffer to a random target of up to 64 KiB by small appends. */
        for (int step = 0; step < 400; step++) {
            for (int b = 0; b < NBUF; b++) {
                size_t add = 1 + wl_rand(&s) % 160;
                if (len[b] + add > 65536)
                    continue;
                buf[b] = realloc(buf[b], len[b] + add);
                memset(buf[b] + len[b], 'a' + b % 26, add);
                len[b] += add;
            }
        }
        for (int b = 0; b < NBUF; b++) {
            buf[b] = realloc(buf[b], len[b] / 4 + 1);   /* shrink */
            len[b] = 0;
        }
    }
    for (int b = 0; b < NBUF; b++)
        free(buf[b]);
    wl_report(wl_now() - t0);
    return 0;
}
