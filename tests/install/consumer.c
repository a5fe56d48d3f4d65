/* A user program built against an installed gort. */
#include <gort/gort.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    char *s = gort_malloc(100);
    if (!s)
        return 1;
    strcpy(s, "consumer ok");
    puts(s);
    gort_free(s);
    gort_alloc_stats_t st;
    return gort_alloc_stats(&st) == 0 && st.heap_objects == 0 ? 0 : 2;
}
