/* gort internal: fork() handlers of the modules, run in lock-rank order (rt/fork.c). */
#ifndef GORT_INTERNAL_FORK_H
#define GORT_INTERNAL_FORK_H

struct gort_fork_hook {
    unsigned rank;              /* the lowest lock rank (gort_lockrank_t) prepare takes */
    void (*prepare)(void);      /* take the module's locks */
    void (*parent)(void);       /* release them in the parent */
    void (*child)(void);        /* release (and repair) in the child */
};

/* Register from a constructor (before any thread can fork). */
void gort__fork_register(const struct gort_fork_hook *h);

#endif
