/* Helpers for the tests that run on libgort_malloc.so (LD_PRELOAD set by CTest):
 * make sure the preload really happened, and reach gort's own API through dlsym
 * (these programs are not linked against gort, so that there is exactly one
 * allocator in the process: the preloaded one). */
#ifndef GORT_TEST_PRELOAD_H
#define GORT_TEST_PRELOAD_H

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "include/gort/alloc.h"

/* The address of an exported symbol of the process, or death if it is missing. */
static inline void *preload_sym(const char *name) {
    void *p = dlsym(RTLD_DEFAULT, name);
    if (!p) {
        fprintf(stderr, "preload: symbol %s not found: %s\n", name, dlerror());
        abort();
    }
    return p;
}

/* Dies unless malloc is libgort_malloc.so's. */
static inline void preload_require_gort(void) {
    Dl_info info;
    void *(*volatile m)(size_t) = malloc;
    if (!dladdr((void *)m, &info) || !info.dli_fname || !strstr(info.dli_fname, "libgort_malloc")) {
        fprintf(stderr, "preload: malloc is not gort's (it comes from %s); run with "
                        "LD_PRELOAD=libgort_malloc.so\n", info.dli_fname ? info.dli_fname : "?");
        exit(1);
    }
}

static inline void preload_stats(gort_alloc_stats_t *st) {
    int (*f)(gort_alloc_stats_t *) = (int (*)(gort_alloc_stats_t *))preload_sym("gort_alloc_stats");
    if (f(st) != 0)
        abort();
}

#endif
