/* gc.api: the allocation entry points, alignment and the 24-byte class, roots of
 * every kind, interior pointers, large objects, statistics and settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <gort/gort.h>

#include "common/death.h"
#include "gc/common.h"

typedef struct cell {
    struct cell *next;
    uint64_t value;
} cell;

static cell *global_list;           /* a root: bss */

static cell *make_list(int n, uint64_t seed, void *(*alloc)(size_t)) {
    cell *head = NULL;
    for (int i = 0; i < n; i++) {
        cell *c = alloc(sizeof *c);
        c->value = seed + (uint64_t)i;
        GORT_GC_STORE(c->next, head);
        head = c;
    }
    return head;
}

static void check_list(const cell *c, int n, uint64_t seed) {
    for (int i = n - 1; i >= 0; i--, c = c->next) {
        assert_non_null(c);
        assert_int_equal(c->value, seed + (uint64_t)i);
    }
    assert_null(c);
}

static void test_zeroed(void **state) {
    (void)state;
    for (size_t n = 0; n < 70000; n = n * 3 + 1) {
        unsigned char *p = gort_gc_alloc(n);
        unsigned char *q = gort_gc_alloc_noscan(n);
        assert_non_null(p);
        assert_non_null(q);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(p[i] | q[i], 0);
        memset(p, 0xab, n);
        memset(q, 0xcd, n);
    }
    gort_gc_collect();
    /* Reused slots must be zeroed again. */
    for (int k = 0; k < 20000; k++) {
        uint64_t *p = gort_gc_alloc(48);
        for (int i = 0; i < 6; i++)
            assert_int_equal(p[i], 0);
        memset(p, 0xee, 48);
    }
}

/* Whole spans of garbage go back to the page heap, and their pages come back
 * unzeroed as spans of other classes (the small classes zero each object as it
 * is handed out): every object must still read as zero.  The heap must not grow
 * by much meanwhile, or the pages were not reused and the test proves nothing. */
static void fill_and_check(size_t size, size_t bytes, int kind, unsigned char pattern) {
    for (size_t done = 0; done < bytes; done += size) {
        unsigned char *p = kind ? gort_gc_alloc_noscan(size) : gort_gc_alloc(size);
        assert_non_null(p);
        for (size_t i = 0; i < size; i++)
            if (p[i]) {
                fail_msg("object %p of %zu bytes: byte %zu is 0x%02x, not 0 (last fill 0x%02x)",
                         (void *)p, size, i, p[i], pattern);
            }
        memset(p, pattern, size);
    }
}

static void test_zeroed_reused_pages(void **state) {
    (void)state;
    static const size_t sizes[] = {8, 16, 24, 32, 48, 64, 96, 128, 144, 256, 1024, 4096};
    enum { NSIZES = sizeof sizes / sizeof sizes[0], BYTES = 4 << 20 };
    gort_gc_collect();
    gort_alloc_stats_t a0, a1;
    assert_int_equal(gort_alloc_stats(&a0), 0);
    for (int round = 0; round < 3 * NSIZES; round++) {
        /* Each round takes the pages the round before left, in another class. */
        size_t size = sizes[(round * 5) % NSIZES];
        fill_and_check(size, BYTES, round % 2, (unsigned char)(0xa0 + round));
        gort_gc_collect();
        gort_gc_collect();
    }
    assert_int_equal(gort_alloc_stats(&a1), 0);
    assert_true(a1.heap_sys < a0.heap_sys + 4 * (uint64_t)BYTES);
}

/* 16 bytes for objects of 16 bytes and up, but 8 for 17 to 24 (the 24-byte
 * class, as Go's); 8 for 8 to 15. */
static void test_alignment(void **state) {
    (void)state;
    for (size_t n = 1; n < 5000; n += 7) {
        uintptr_t p = (uintptr_t)gort_gc_alloc(n);
        size_t want = n > 24 || n == 16 ? 16 : n >= 8 ? 8 : 1;
        assert_int_equal(p % want, 0);
    }
}

/* The 24-byte class: objects 24 bytes apart (a third less than a 32-byte block),
 * every byte of every object found as that object (its index comes from a
 * multiply by ceil(2^32 / 24), not a divide), and a list held together only by
 * pointers into the middle of its cells survives collections. */
uintptr_t gort__gc_find_object(uintptr_t p, void **sp, uint32_t *idxp);

typedef struct cell24 {
    char *next_mid;        /* the next cell's address + 12 */
    uint64_t value;
    uint32_t pad, check;
} cell24;
_Static_assert(sizeof(cell24) == 24, "a 24-byte object");
static char *list24;       /* a root: the first cell's address + 12 */

static void test_class24(void **state) {
    (void)state;
    for (size_t n = 17; n <= 24; n++) {
        void *(*allocs[2])(size_t) = {gort_gc_alloc, gort_gc_alloc_noscan};
        for (int k = 0; k < 2; k++) {
            uintptr_t a = (uintptr_t)allocs[k](n), b = (uintptr_t)allocs[k](n);
            assert_int_equal(a % 8, 0);
            assert_int_equal((b > a ? b - a : a - b) % 24, 0);   /* same class, whatever the order */
        }
    }
    /* A whole span's worth, and then some: every offset of every object. */
    enum { N = 1000 };
    char *objs[N];
    int unaligned16 = 0;
    for (int i = 0; i < N; i++) {
        objs[i] = gort_gc_alloc_noscan(24);
        unaligned16 += ((uintptr_t)objs[i] % 16) != 0;
    }
    assert_true(unaligned16 > 0);
    for (int i = 0; i < N; i++) {
        for (int off = 0; off < 24; off++) {
            void *s;
            uint32_t idx;
            assert_int_equal(gort__gc_find_object((uintptr_t)objs[i] + (uintptr_t)off, &s, &idx),
                             (uintptr_t)objs[i]);
        }
    }
    /* Interior pointers only. */
    char *head = NULL;
    for (int i = 0; i < 20000; i++) {
        cell24 *c = gort_gc_alloc(sizeof *c);
        GORT_GC_STORE(c->next_mid, head);
        c->value = (uint64_t)i * 3;
        c->check = 0x24242424u;
        head = (char *)c + 12;
    }
    GORT_GC_STORE(list24, head);
    head = NULL;
    clear_stack();
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 50000; i++)
            gort_gc_alloc(24);   /* garbage of the same class */
        gort_gc_collect();
        int n = 0;
        for (char *m = list24; m; n++) {
            cell24 *c = (cell24 *)(m - 12);
            assert_int_equal(c->value, (uint64_t)(19999 - n) * 3);
            assert_int_equal(c->check, 0x24242424u);
            m = c->next_mid;
        }
        assert_int_equal(n, 20000);
    }
    GORT_GC_STORE(list24, NULL);
}

static void test_global_root(void **state) {
    (void)state;
    GORT_GC_STORE(global_list, make_list(10000, 7, gort_gc_alloc));
    clear_stack();
    for (int i = 0; i < 3; i++) {
        make_list(20000, 99, gort_gc_alloc);   /* garbage */
        gort_gc_collect();
        check_list(global_list, 10000, 7);
    }
    GORT_GC_STORE(global_list, NULL);
}

static void test_registered_root(void **state) {
    (void)state;
    cell **slots = gort_malloc(16 * sizeof *slots);
    memset(slots, 0, 16 * sizeof *slots);
    gort_gc_add_roots(slots, slots + 16);
    for (int i = 0; i < 16; i++)
        GORT_GC_STORE(slots[i], make_list(500, (uint64_t)i * 1000, gort_gc_alloc));
    clear_stack();
    for (int k = 0; k < 3; k++) {
        make_list(20000, 1, gort_gc_alloc);
        gort_gc_collect();
        for (int i = 0; i < 16; i++)
            check_list(slots[i], 500, (uint64_t)i * 1000);
    }
    gort_gc_remove_roots(slots, slots + 16);
    gort_free(slots);
}

static void test_stack_root_and_interior(void **state) {
    (void)state;
    cell *local = make_list(3000, 42, gort_gc_alloc);
    /* Keep only an interior pointer to a large conservative block holding the list. */
    char *big = gort_gc_alloc(300 << 10);
    GORT_GC_STORE(*(cell **)(big + (250 << 10)), local);
    char *volatile inside = big + (200 << 10) + 3;
    local = NULL;
    big = NULL;
    clear_stack();
    for (int k = 0; k < 3; k++) {
        make_list(20000, 5, gort_gc_alloc);
        gort_gc_collect();
        cell *l;
        memcpy(&l, inside - (200 << 10) - 3 + (250 << 10), sizeof l);
        check_list(l, 3000, 42);
    }
}

static void test_large_typed_array(void **state) {
    (void)state;
    /* An array of 20000 {ptr, integer} pairs: 320 KiB, scanned in oblets. */
    static const uint64_t mask[1] = {1};
    static const gort_gc_type_t pair_t = {16, mask, "pair"};
    struct pair { cell *p; uint64_t n; };
    struct pair *arr = gort_gc_alloc_typed(20000 * sizeof(struct pair), &pair_t);
    assert_non_null(arr);
    for (int i = 0; i < 20000; i++) {
        GORT_GC_STORE(arr[i].p, make_list(1, (uint64_t)i, gort_gc_alloc));
        arr[i].n = (uint64_t)i;
    }
    clear_stack();
    for (int k = 0; k < 3; k++) {
        make_list(20000, 5, gort_gc_alloc);
        gort_gc_collect();
        for (int i = 0; i < 20000; i++) {
            assert_int_equal(arr[i].n, (uint64_t)i);
            check_list(arr[i].p, 1, (uint64_t)i);
        }
    }
    assert_null(gort_gc_alloc_typed(17, &pair_t));
    assert_int_equal(errno, EINVAL);
}

/* A large object is scanned in oblets pushed a group at a time, the first oblet
 * of each group pushing the next group's first (gc/mark.c, scan_large).  Objects
 * reachable only from far words -- the last of an oblet and of a group, a later
 * group's first, the object's last -- must be marked: a target the mark missed
 * would be swept, and its finalizer would run.  At the end the targets are cut
 * off, and every finalizer runs: the test does see a target that is not marked. */
enum { FAR_WORDS = (3 << 20) / 8 };   /* 3 MiB: 384 oblets of 8 KiB, six groups of 64 */
static const size_t far_at[] = {0, 1023, 1024, 65535, 65536, 65537, 131071, 200000, 262144, FAR_WORDS - 1};
#define FAR_N (sizeof far_at / sizeof far_at[0])
static void **far_big;   /* a global: a root */
static _Atomic int far_runs;

static void far_fin(void *p, void *arg) {
    (void)p;
    (void)arg;
    atomic_fetch_add(&far_runs, 1);
}

static int far_all_ran(void) {
    return atomic_load(&far_runs) == (int)FAR_N;
}

__attribute__((noinline)) static void far_fill(void) {
    far_big = gort_gc_alloc(FAR_WORDS * sizeof(void *));
    assert_non_null(far_big);
    for (size_t i = 0; i < FAR_N; i++) {
        uint64_t *o = gort_gc_alloc(2 * sizeof(uint64_t));
        assert_non_null(o);
        o[0] = 0xFA000000u + i;
        gort_gc_set_finalizer(o, far_fin, NULL);
        GORT_GC_STORE(far_big[far_at[i]], o);
    }
}

__attribute__((noinline)) static void far_cut(void) {
    for (size_t i = 0; i < FAR_N; i++)
        GORT_GC_STORE(far_big[far_at[i]], NULL);
}

static void test_large_far_oblets(void **state) {
    (void)state;
    far_fill();
    clear_stack();
    for (int k = 0; k < 4; k++) {
        make_list(20000, 5, gort_gc_alloc);
        clear_stack();
        gort_gc_collect();
        struct timespec ts = {0, 2000000};   /* the finalizer thread's chance to run */
        nanosleep(&ts, NULL);
    }
    assert_int_equal(atomic_load(&far_runs), 0);
    for (size_t i = 0; i < FAR_N; i++)
        assert_int_equal(((const uint64_t *)far_big[far_at[i]])[0], 0xFA000000u + i);
    far_cut();
    assert_true(collect_until(far_all_ran, 3));
}

/* A huge object used on a thread of its own, so that no copy of its address
 * outlives the thread's (conservatively scanned) stack. */
static void *use_huge(void *arg) {
    size_t n = *(size_t *)arg;
    cell **big = gort_gc_alloc(n);
    assert_non_null(big);
    GORT_GC_STORE(big[n / sizeof(cell *) - 1], make_list(100, 3, gort_gc_alloc));
    clear_stack();
    gort_gc_collect();
    check_list(big[n / sizeof(cell *) - 1], 100, 3);
    return NULL;
}

static int huge_is_gone(void) {
    gort_gc_stats_t st;
    return gort_gc_stats(&st) == 0 && st.heap_live < ((size_t)20 << 20);
}

static void test_huge(void **state) {
    (void)state;
    size_t n = (size_t)40 << 20;   /* more than half an arena: a reservation of its own */
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, use_huge, &n), 0);
    pthread_join(t, NULL);
    /* A conservatively scanned word (a stale register or stack slot, more likely
     * under a sanitizer's frame layout and a loaded machine) may keep the block for a
     * cycle; it must be gone within a few, the bound unchanged. */
    assert_true(collect_until(huge_is_gone, 5));
}

static void *thread_body(void *arg) {
    (void)arg;
    cell *mine = make_list(2000, 11, gort_gc_alloc);
    for (int k = 0; k < 5; k++) {
        make_list(5000, 1, gort_gc_alloc);
        gort_gc_collect();
        check_list(mine, 2000, 11);
    }
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, thread_body, NULL), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
}

/* ---- how threads answer a stop (gort_gc_stats' stops_*) ------------------------------ */

static atomic_int stop_spinners;

/* Runs the program's own code: never inside the runtime, so a stop reaches it
 * only by the signal.  (A nanosleep now and then: TSan hands a thread its
 * signals only at an intercepted call.)  Its list, on its stack alone, lives. */
static void *pure_spinner(void *arg) {
    (void)arg;
    assert_int_equal(gort_gc_register_thread(), 0);
    cell *mine = make_list(500, 21, gort_gc_alloc);
    volatile uint64_t x = 1;
    for (uint64_t i = 1; !atomic_load(&stop_spinners); i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        if ((i & 0xfffff) == 0) {
            struct timespec ts = {0, 1000};
            nanosleep(&ts, NULL);
        }
    }
    check_list(mine, 500, 21);
    gort_gc_unregister_thread();
    return NULL;
}

/* Allocates all the time: inside the runtime's critical sections, where a stop
 * asked through memory is answered at the section's end. */
static void *alloc_spinner(void *arg) {
    (void)arg;
    while (!atomic_load(&stop_spinners))
        make_list(100, 3, gort_gc_alloc);
    gort_gc_unregister_thread();
    return NULL;
}

static void test_stop_answers(void **state) {
    (void)state;
    gort_gc_stats_t st0, st;
    assert_int_equal(gort_gc_stats(&st0), 0);
    atomic_store(&stop_spinners, 0);
    pthread_t a, b;
    assert_int_equal(pthread_create(&a, NULL, pure_spinner, NULL), 0);
    assert_int_equal(pthread_create(&b, NULL, alloc_spinner, NULL), 0);
    /* Until both kinds of answer have been seen: the spinner can answer only by
     * the signal, the allocating thread mostly through memory (unless it is off
     * its CPU for the whole 10 us), the main thread, waiting inside
     * gort_gc_collect, is taken as held. */
    uint64_t cycles = 0;
    do {
        gort_gc_collect();
        cycles++;
        assert_int_equal(gort_gc_stats(&st), 0);
    } while (cycles < 2000 && (st.stops_signalled == st0.stops_signalled || st.stops_polled == st0.stops_polled));
    atomic_store(&stop_spinners, 1);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    print_message("%llu cycles: %llu polled, %llu signalled, %llu held\n", (unsigned long long)cycles,
                  (unsigned long long)(st.stops_polled - st0.stops_polled),
                  (unsigned long long)(st.stops_signalled - st0.stops_signalled),
                  (unsigned long long)(st.stops_held - st0.stops_held));
    assert_true(st.stops_signalled > st0.stops_signalled);
    assert_true(st.stops_polled > st0.stops_polled);
    assert_true(st.stops_held > st0.stops_held);
    /* Each cycle stops the world twice, every registered thread each time (these
     * three at least), besides the one-thread stops that scan stacks. */
    uint64_t answers = (st.stops_polled - st0.stops_polled) + (st.stops_signalled - st0.stops_signalled) +
                       (st.stops_held - st0.stops_held);
    assert_true(answers >= 2 * 3 * cycles);
}

static void test_stats_and_settings(void **state) {
    (void)state;
    gort_gc_stats_t st;
    assert_int_equal(gort_gc_stats(NULL), -1);
    assert_int_equal(gort_gc_stats(&st), 0);
    uint64_t n0 = st.num_gc;
    gort_gc_collect();
    assert_int_equal(gort_gc_stats(&st), 0);
    assert_true(st.num_gc >= n0 + 1);
    assert_true(st.num_pauses >= 2);
    assert_true(st.pause_max_ns > 0);
    assert_true(st.pause_p50_ns <= st.pause_p99_ns && st.pause_p99_ns <= st.pause_max_ns);
    assert_true(st.gc_cpu_fraction >= 0 && st.gc_cpu_fraction < 1);
    /* The histogram behind the quantiles: its counts add up to num_pauses, its
     * buckets are ordered and disjoint, and the maximum falls in the last one. */
    /* (Pauses spread over many 1/16-octave buckets on a loaded machine: room
     * for all of them; the count is returned even when it exceeds max.) */
    static gort_gc_pause_bucket_t hb[2048];
    int nb = gort_gc_pause_histogram(hb, 2048);
    assert_true(nb >= 1 && nb <= 2048);
    gort_gc_pause_bucket_t one = {0, 0, 0};
    assert_true(gort_gc_pause_histogram(&one, 1) >= nb);   /* a cycle may add buckets */
    assert_true(one.count > 0 && one.lo_ns <= hb[0].lo_ns);
    uint64_t cnt = 0;
    for (int i = 0; i < nb; i++) {
        assert_true(hb[i].lo_ns < hb[i].hi_ns && hb[i].count > 0);
        if (i)
            assert_true(hb[i - 1].hi_ns <= hb[i].lo_ns);
        cnt += hb[i].count;
    }
    gort_gc_stats_t st2;   /* a cycle may run in between: bound by both snapshots */
    assert_int_equal(gort_gc_stats(&st2), 0);
    assert_true(st.num_pauses <= cnt && cnt <= st2.num_pauses);
    assert_true(st.pause_max_ns < hb[nb - 1].hi_ns && hb[nb - 1].lo_ns <= st2.pause_max_ns);
    int old = gort_gc_set_percent(50);
    assert_int_equal(gort_gc_set_percent(-1), 50);
    assert_int_equal(gort_gc_set_percent(old), -1);
    gort_gc_stats_reset();
    assert_int_equal(gort_gc_stats(&st), 0);
    assert_int_equal(st.pause_max_ns, 0);
    assert_int_equal(st.num_pauses, 0);
    assert_int_equal(gort_gc_pause_histogram(hb, 2048), 0);
}

/* Where the collector's CPU went: every field only grows, the cycles ran on the
 * collector thread, and their marking was someone's (assists, background or
 * idle workers, or the stopped phases). */
static void test_stats_cpu_split(void **state) {
    (void)state;
    gort_gc_stats_t a, b;
    assert_int_equal(gort_gc_stats(&a), 0);
    static void *keep[4096];
    gort_gc_add_roots(keep, keep + 4096);
    for (int c = 0; c < 4; c++) {
        for (int i = 0; i < 200000; i++) {
            /* Through the barrier, as every store into a GC object or a
             * registered range must be (a mark may run). */
            void **o = gort_gc_alloc(48);
            GORT_GC_STORE(o[0], keep[i % 4096]);
            GORT_GC_STORE(keep[i % 4096], o);
            if (i % 3 == 0)
                GORT_GC_STORE(keep[(i * 7) % 4096], NULL);   /* garbage for the sweeper */
        }
        gort_gc_collect();
    }
    assert_int_equal(gort_gc_stats(&b), 0);
    gort_gc_remove_roots(keep, keep + 4096);
    assert_true(b.num_gc >= a.num_gc + 4);
    /* Each field only grows; the collector thread ran the cycles. */
    assert_true(b.cpu_assist_ns >= a.cpu_assist_ns && b.cpu_background_ns >= a.cpu_background_ns);
    assert_true(b.cpu_idle_ns >= a.cpu_idle_ns && b.cpu_pause_ns >= a.cpu_pause_ns);
    assert_true(b.cpu_sweep_ns >= a.cpu_sweep_ns && b.cpu_collector_ns >= a.cpu_collector_ns);
    assert_true(b.cpu_collector_ns > a.cpu_collector_ns);
    /* The marking was someone's: the stopped phases at least. */
    uint64_t mark = (b.cpu_assist_ns - a.cpu_assist_ns) + (b.cpu_background_ns - a.cpu_background_ns) +
                    (b.cpu_idle_ns - a.cpu_idle_ns) + (b.cpu_pause_ns - a.cpu_pause_ns);
    assert_true(mark > 0);
    assert_true(b.gc_cpu_fraction > 0);
    /* A reset restarts the pauses, not the CPU times. */
    gort_gc_stats_reset();
    gort_gc_stats_t c;
    assert_int_equal(gort_gc_stats(&c), 0);
    assert_true(c.cpu_collector_ns >= b.cpu_collector_ns && c.cpu_pause_ns >= b.cpu_pause_ns);
}

static void free_gc_object(void *arg) {
    (void)arg;
    gort_free(gort_gc_alloc(64));
}

static void test_free_of_gc_object_dies(void **state) {
    (void)state;
    gort_expect_death(free_gc_object, NULL, "invalid free");
}

/* The runtime's threads carry their names (README): after a collection, the
 * coordinator and the sweeper exist, and every thread but this one is gort's. */
static int thread_named(const char *want) {
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], name[32] = {0};
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;   /* a thread that just exited */
        if (fgets(name, sizeof name, f)) {
            name[strcspn(name, "\n")] = 0;
            if (strcmp(name, want) == 0)
                found = 1;
        }
        fclose(f);
    }
    closedir(d);
    return found;
}

static void test_thread_names(void **state) {
    (void)state;
    gort_gc_collect();
    assert_true(thread_named("gort-gc"));
    /* The sweeper starts on the first sweep's wake-up, which the collection
     * above sent; give it a moment to name itself. */
    for (int i = 0; i < 500 && !thread_named("gort-sweeper"); i++) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    assert_true(thread_named("gort-sweeper"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zeroed),
        cmocka_unit_test(test_zeroed_reused_pages),
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_class24),
        cmocka_unit_test(test_global_root),
        cmocka_unit_test(test_registered_root),
        cmocka_unit_test(test_stack_root_and_interior),
        cmocka_unit_test(test_large_typed_array),
        cmocka_unit_test(test_large_far_oblets),
        cmocka_unit_test(test_huge),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_stop_answers),
        cmocka_unit_test(test_stats_and_settings),
        cmocka_unit_test(test_stats_cpu_split),
        cmocka_unit_test(test_free_of_gc_object_dies),
        cmocka_unit_test(test_thread_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
