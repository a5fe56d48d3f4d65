/* A program for valgrind.sh: run under memcheck with libgort_malloc.so preloaded.
 *   clean   every block freed, no error: memcheck must report nothing.
 *   leak    one 4242-byte block leaked: "definitely lost: 4,242 bytes in 1 blocks".
 *   uaf     a read of a freed block: "Invalid read", naming the free. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *volatile sink;

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "clean";
    /* Work the allocator: churn, realloc growth, calloc, aligned, large. */
    void *keep[256] = {0};
    for (int i = 0; i < 20000; i++) {
        int k = (i * 7919) % 256;
        free(keep[k]);
        keep[k] = malloc((size_t)(i % 3000) + 1);
        memset(keep[k], i, (size_t)(i % 3000) + 1);
    }
    char *s = NULL;
    for (int n = 1; n < 100000; n *= 3) {
        s = realloc(s, (size_t)n);
        s[n - 1] = 'x';
    }
    int *z = calloc(1000, sizeof(int));
    long sum = 0;
    for (int i = 0; i < 1000; i++)
        sum += z[i];   /* calloc'd: defined */
    void *al = aligned_alloc(4096, 100);
    void *big = malloc(5 << 20);
    memset(big, 1, 5 << 20);
    for (int k = 0; k < 256; k++)
        free(keep[k]);
    free(s);
    free(z);
    free(al);
    free(big);
    if (strcmp(mode, "leak") == 0) {
        sink = malloc(4242);
        memset(sink, 0, 4242);
        sink = NULL;
    } else if (strcmp(mode, "uaf") == 0) {
        char *p = malloc(77);
        memset(p, 1, 77);
        char *volatile stale = p;   /* hides the bug from the compiler's warning */
        free(p);
        sum += stale[10];
    }
    printf("sum %ld\n", sum);
    return 0;
}
