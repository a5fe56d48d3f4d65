/* Allocation before gort's constructors have run: from the program's
 * .preinit_array (which runs before any shared library's initialiser, so before
 * libgort_malloc.so's), from a high-priority constructor, and from a destructor
 * after main.  The blocks must be ordinary gort blocks: usable, reallocatable and
 * freeable later. */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preload/preload.h"

static char *pre, *ctor;
static void *pre_aligned;

static void preinit(int argc, char **argv, char **envp) {
    (void)argc;
    (void)argv;
    (void)envp;
    pre = malloc(100);
    strcpy(pre, "preinit");
    pre = realloc(pre, 5000);
    if (posix_memalign(&pre_aligned, 4096, 10) != 0)
        abort();
    void *tmp = calloc(10, 10);
    free(tmp);
}
__attribute__((section(".preinit_array"), used)) static void (*preinit_fn)(int, char **, char **) = preinit;

__attribute__((constructor(101))) static void early_ctor(void) {
    ctor = strdup("constructor");
}

__attribute__((destructor)) static void late_dtor(void) {
    char *p = malloc(64);
    strcpy(p, "destructor");
    free(p);
}

int main(void) {
    preload_require_gort();
    if (!pre || strcmp(pre, "preinit") != 0 || !ctor || strcmp(ctor, "constructor") != 0)
        return 1;
    if ((uintptr_t)pre_aligned % 4096 != 0 || malloc_usable_size(pre) < 5000)
        return 1;
    gort_alloc_stats_t a, b;
    preload_stats(&a);
    free(pre);
    free(pre_aligned);
    free(ctor);
    preload_stats(&b);
    if (b.frees - a.frees != 3)
        return 1;
    printf("early: blocks from .preinit_array and constructors are gort's: ok\n");
    return 0;
}
