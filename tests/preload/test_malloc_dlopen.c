/* dlopen/dlclose on libgort_malloc.so: a library that allocates in its constructor
 * and frees in its destructor is opened and closed many times, from several threads
 * that touch its thread-local storage (the loader allocates their TLS blocks with
 * malloc, and frees them at thread exit or dlclose).  Blocks the library handed out
 * stay valid after dlclose and are freed by the program. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preload/preload.h"

#define ROUNDS 100

static const char *libpath;

static void *touch_thread(void *arg) {
    int (*touch)(void) = (int (*)(void))arg;
    int n = 0;
    for (int i = 0; i < 100; i++)
        n = touch();
    return (void *)(long)n;
}

int main(int argc, char **argv) {
    preload_require_gort();
    if (argc < 2) {
        fprintf(stderr, "usage: %s path/to/libmalloc_dlopen_lib.so\n", argv[0]);
        return 2;
    }
    libpath = argv[1];
    gort_alloc_stats_t before, after;
    char *kept[ROUNDS];
    /* One round first: the loader's own first-time allocations are not ours to count. */
    void *h = dlopen(libpath, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    dlclose(h);
    preload_stats(&before);
    for (int r = 0; r < ROUNDS; r++) {
        h = dlopen(libpath, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            fprintf(stderr, "dlopen: %s\n", dlerror());
            return 1;
        }
        int (*touch)(void) = (int (*)(void))dlsym(h, "lib_touch");
        char *(*dup)(const char *) = (char *(*)(const char *))dlsym(h, "lib_strdup");
        if (!touch || !dup)
            return 1;
        if (touch() != 1)
            return 1;
        pthread_t t[3];
        for (int k = 0; k < 3; k++)
            pthread_create(&t[k], NULL, touch_thread, (void *)touch);
        for (int k = 0; k < 3; k++) {
            void *res;
            pthread_join(t[k], &res);
            if ((long)res != 100)
                return 1;
        }
        kept[r] = dup("a block from a closed library");
        if (dlclose(h) != 0) {
            fprintf(stderr, "dlclose: %s\n", dlerror());
            return 1;
        }
    }
    for (int r = 0; r < ROUNDS; r++) {
        if (strcmp(kept[r], "a block from a closed library") != 0)
            return 1;
        free(kept[r]);
    }
    preload_stats(&after);
    long long grew = (long long)after.heap_objects - (long long)before.heap_objects;
    printf("dlopen: %d open/close rounds, live objects %+lld\n", ROUNDS, grew);
    /* The library's 101 blocks per round and its TLS blocks were all given back. */
    if (grew > 20) {
        fprintf(stderr, "dlopen: %lld objects leaked across dlopen/dlclose\n", grew);
        return 1;
    }
    return 0;
}
