/* Producer/consumer with cross-thread frees (xmalloc-test style, Lever & Boreham,
 * "malloc() Performance in a Multithreaded Linux Environment", 2000): producers
 * allocate blocks and hand them over in batches; consumers free them.  Every free is
 * a remote free. */
#include "wl.h"

#define BATCH 256
#define QCAP  64

typedef struct { void *p[BATCH]; } batch;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER, not_full = PTHREAD_COND_INITIALIZER;
static batch *queue[QCAP];
static int qhead, qlen, producers_left;
static long per_producer;

static void *producer(void *arg) {
    uint64_t s = (uintptr_t)arg + 1;
    for (long done = 0; done < per_producer; done += BATCH) {
        batch *b = malloc(sizeof *b);
        for (int i = 0; i < BATCH; i++) {
            size_t n = 16 + wl_rand(&s) % 240;
            b->p[i] = malloc(n);
            wl_touch(b->p[i], n);
        }
        pthread_mutex_lock(&mu);
        while (qlen == QCAP)
            pthread_cond_wait(&not_full, &mu);
        queue[(qhead + qlen++) % QCAP] = b;
        pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&mu);
    }
    pthread_mutex_lock(&mu);
    producers_left--;
    pthread_cond_broadcast(&not_empty);
    pthread_mutex_unlock(&mu);
    return NULL;
}

static void *consumer(void *arg) {
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&mu);
        while (qlen == 0 && producers_left > 0)
            pthread_cond_wait(&not_empty, &mu);
        if (qlen == 0) {
            pthread_mutex_unlock(&mu);
            return NULL;
        }
        batch *b = queue[qhead];
        qhead = (qhead + 1) % QCAP;
        qlen--;
        pthread_cond_signal(&not_full);
        pthread_mutex_unlock(&mu);
        for (int i = 0; i < BATCH; i++)
            free(b->p[i]);
        free(b);
    }
}

int main(int argc, char **argv) {
    int np = wl_threads() / 2;
    if (np < 1)
        np = 1;
    per_producer = (long)(15e6 * wl_scale(argc, argv)) / np;
    producers_left = np;
    pthread_t p[32], c[32];
    double t0 = wl_now();
    for (int i = 0; i < np; i++) {
        pthread_create(&p[i], NULL, producer, (void *)(uintptr_t)i);
        pthread_create(&c[i], NULL, consumer, NULL);
    }
    for (int i = 0; i < np; i++) {
        pthread_join(p[i], NULL);
        pthread_join(c[i], NULL);
    }
    wl_report(wl_now() - t0);
    return 0;
}
