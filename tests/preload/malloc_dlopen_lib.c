/* A library for test_malloc_dlopen.c: allocates in its constructor, frees in its
 * destructor, and has thread-local storage of the general-dynamic model, so that
 * each thread's first access makes the loader allocate a TLS block (with malloc,
 * i.e. gort) — and free it again when the thread exits or the library is closed. */
#include <stdlib.h>
#include <string.h>

#define NBLOCKS 100

static char *blocks[NBLOCKS];
static char *big;
static __thread char tls_buf[4096] = {1};
static __thread int tls_counter;

__attribute__((constructor)) static void lib_init(void) {
    for (int i = 0; i < NBLOCKS; i++) {
        blocks[i] = malloc((size_t)(i * 37 + 1));
        memset(blocks[i], 'a' + i % 26, (size_t)(i * 37 + 1));
    }
    big = calloc(1, 3 << 20);
    big[12345] = 7;
}

__attribute__((destructor)) static void lib_fini(void) {
    for (int i = 0; i < NBLOCKS; i++) {
        if (blocks[i][i * 37] != 'a' + i % 26)
            abort();
        free(blocks[i]);
    }
    if (big[12345] != 7)
        abort();
    free(big);
}

/* Touches this thread's TLS block; returns how often this thread called. */
int lib_touch(void) {
    if (tls_buf[0] != 1)
        abort();
    tls_buf[4095] = 2;
    return ++tls_counter;
}

/* A block allocated by the library, to be freed by the caller after dlclose. */
char *lib_strdup(const char *s) {
    return strdup(s);
}
