/* fork() in a multithreaded program on libgort_malloc.so: four threads allocate and
 * free (also each other's blocks) without pause while the main thread forks sixty
 * times.  Each child must be able to allocate, free blocks inherited from the dead
 * threads, start threads of its own that allocate, and exit cleanly — which fails
 * (deadlock, or a corrupt heap) if any allocator lock was held across the fork. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/rng.h"
#include "preload/preload.h"

#define NTHREADS 4
#define NFORKS   60
#define SLOTS    512

static _Atomic int stop;
static void *_Atomic shared[SLOTS];   /* blocks passed between threads */

static size_t rand_size(uint64_t *s) {
    uint64_t r = test_rng_next(s);
    switch (r & 15) {
    case 0: return 32768 + (r >> 8) % 300000;   /* large */
    case 1: case 2: return 1024 + (r >> 8) % 31000;
    default: return 1 + (r >> 8) % 512;
    }
}

static void *churn(void *arg) {
    uint64_t s = (uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
    void *mine[64] = {0};
    while (!atomic_load(&stop)) {
        unsigned i = test_rng_next(&s) % 64;
        free(mine[i]);
        size_t n = rand_size(&s);
        mine[i] = malloc(n);
        if (!mine[i])
            abort();
        memset(mine[i], (int)i, n < 256 ? n : 256);
        /* Swap a block with the shared pool: the next owner frees it. */
        unsigned j = test_rng_next(&s) % SLOTS;
        void *old = atomic_exchange(&shared[j], malloc(rand_size(&s)));
        free(old);
        if ((test_rng_next(&s) & 255) == 0)
            mine[i] = realloc(mine[i], rand_size(&s));
    }
    for (int i = 0; i < 64; i++)
        free(mine[i]);
    return NULL;
}

static void *child_thread(void *arg) {
    uint64_t s = (uintptr_t)arg + 7;
    for (int k = 0; k < 2000; k++) {
        void *p = malloc(rand_size(&s));
        void *q = calloc(1, rand_size(&s));
        free(p);
        free(q);
    }
    return (void *)1;
}

static int in_child(void) {
    alarm(30);   /* a lock inherited held would hang here: die by SIGALRM instead */
    uint64_t s = (uint64_t)getpid();
    /* Blocks of the threads that did not survive the fork are freeable here. */
    for (int j = 0; j < SLOTS; j += 3)
        free(atomic_exchange(&shared[j], NULL));
    void *keep[1000];
    for (int k = 0; k < 1000; k++) {
        keep[k] = malloc(rand_size(&s));
        if (!keep[k])
            return 2;
    }
    pthread_t t[3];
    for (int k = 0; k < 3; k++)
        if (pthread_create(&t[k], NULL, child_thread, (void *)(uintptr_t)k) != 0)
            return 3;
    for (int k = 0; k < 3; k++) {
        void *r;
        pthread_join(t[k], &r);
        if (r != (void *)1)
            return 4;
    }
    for (int k = 0; k < 1000; k++)
        free(keep[k]);
    return 0;
}

int main(void) {
    preload_require_gort();
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        if (pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1)) != 0)
            return 1;
    for (int f = 0; f < NFORKS; f++) {
        usleep(2000);   /* let the threads get busy again */
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0)
            _exit(in_child());
        int status;
        if (waitpid(pid, &status, 0) != pid) {
            perror("waitpid");
            return 1;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "fork %d: child %s %d\n", f, WIFEXITED(status) ? "exited" : "killed by signal",
                    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
            return 1;
        }
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    for (int j = 0; j < SLOTS; j++)
        free(atomic_exchange(&shared[j], NULL));
    printf("fork: %d forks with %d allocating threads: ok\n", NFORKS, NTHREADS);
    return 0;
}
