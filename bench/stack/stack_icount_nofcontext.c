/* stack_icount without Boost.Context: the fcontext mode reports it is missing. */
#include <stdio.h>
#include <stdlib.h>

void stack_icount_fcontext(long n) {
    (void)n;
    fprintf(stderr, "stack_icount: built without Boost.Context (libboost-context-dev)\n");
    exit(77);
}
