/* Preemption (sched/sysmon.c, sched/preempt.c): a goroutine spinning in a loop
 * with no calls is preempted by sysmon's signal and the others run, on one P;
 * the registers of preempted code survive (integer and vector); the
 * cooperative flag alone works at safe points, the allocator's slow paths among
 * them; a sleeper beside a hog wakes. */
#include "sched/common.h"

#include <gort/gc.h>
#include <link.h>

#if defined(GORT_SANITIZE_BUILD)
#define ASYNC 0   /* sched/preempt.c: off in sanitizer builds */
#else
#define ASYNC 1
#endif

/* ---- a tight loop with no calls ------------------------------------------------------------------------- */

static volatile int stop;
static volatile unsigned long spins;

static void spinner(void *arg) {
    (void)arg;
    while (!stop)   /* a load and an add: no call, no safe point */
        spins++;
}

static void tight_main(void *arg) {
    int *others_ran = arg;
    stop = 0;
    spins = 0;
    gort_go(spinner, NULL);
    gort_yield();   /* the spinner runs now; we come back only if it is preempted */
    CHECK(spins > 0);
    *others_ran = 1;
    stop = 1;
}

static void test_tight_loop(void **state) {
    (void)state;
    if (!ASYNC)
        skip();
    int ran = 0;
    set_procs(1);
    run_main(tight_main, &ran);
    assert_int_equal(ran, 1);
    gort__pstats_t p0;   /* the per-P counters outlive the run */
    void gort__sched_pstats(int i, gort__pstats_t *out);
    gort__sched_pstats(0, &p0);
    assert_true(p0.async_preempts >= 1);
}

/* ---- registers survive preemption ------------------------------------------------------------------------- */

/* Integer and floating-point state spread over many registers: two of these
 * run at once on one P, preempted into each other many times; each must get
 * the value computed without preemption. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("O2")))   /* registers, not stack slots, even in the -O0 debug build */
#endif
static double fp_work(long n, unsigned long *isum) {
    double a = 1.0, b = 0.5, c = 0.25, d = 0.125, e = 1e-3, f = 2.0, g = 3.0, h = 0.75;
    unsigned long x = 1, y = 2, z = 3, w = 4;
    for (long i = 0; i < n; i++) {
        a = a * 0.999999 + b;
        b = b * 0.999998 + c * 1e-6;
        c = c + d * e;
        d = d * 0.9999 + h * 1e-7;
        e = e * 1.0000001;
        f = f * 0.5 + g * 0.25;
        g = g * 0.75 + f * 0.125;
        h = h + 1e-9 * a;
        x = x * 6364136223846793005ul + 1442695040888963407ul;
        y ^= x >> 7;
        z += y * 31;
        w = (w << 3) ^ z;
    }
    *isum = x ^ y ^ z ^ w;
    return a + b + c + d + e + f + g + h;
}

static long fp_n;
static double fp_want;
static unsigned long int_want;

typedef struct {
    double got;
    unsigned long igot;
    gort_waitgroup_t *wg;
} fp_job_t;

static void fp_goroutine(void *arg) {
    fp_job_t *j = arg;
    j->got = fp_work(fp_n, &j->igot);
    gort_wg_done(j->wg);
}

static void fp_main(void *arg) {
    (void)arg;
    gort_waitgroup_t wg = GORT_WAITGROUP_INIT;
    fp_job_t jobs[3];
    gort_wg_add(&wg, 3);
    for (int i = 0; i < 3; i++) {
        jobs[i].wg = &wg;
        gort_go(fp_goroutine, &jobs[i]);
    }
    gort_wg_wait(&wg);
    for (int i = 0; i < 3; i++) {
        CHECK(jobs[i].got == fp_want);
        CHECK(jobs[i].igot == int_want);
    }
}

static void test_registers(void **state) {
    (void)state;
    if (!ASYNC)
        skip();
    /* Calibrate: ~100 ms of work, computed once without preemption. */
    fp_n = 1000000;
    int64_t t0 = gort__nanotime();
    fp_want = fp_work(fp_n, &int_want);
    int64_t dt = gort__nanotime() - t0;
    if (dt < 100 * 1000000)
        fp_n = (long)((double)fp_n * (100e6 / (double)(dt ? dt : 1)));
    fp_want = fp_work(fp_n, &int_want);
    set_procs(1);
    run_main(fp_main, NULL);
    gort__pstats_t p0;
    void gort__sched_pstats(int i, gort__pstats_t *out);
    gort__sched_pstats(0, &p0);
    print_message("3 x %ld iterations on one P: %llu async preemptions\n", fp_n,
                  (unsigned long long)p0.async_preempts);
    assert_true(p0.async_preempts >= 2);
}

/* ---- the cooperative flag alone ------------------------------------------------------------------------- */

static void chan_spinner(void *arg) {
    gort_chan_t *c = arg;
    long v = 0;
    while (!stop) {   /* every send and receive is a safe point */
        gort_chan_send(c, &v);
        gort_chan_recv(c, &v);
    }
}

/* Back on the P after the spinner yielded at a safe point: stop it, and check the
 * yield was a cooperative preemption (the signal is off). */
static void spinner_yielded(int *others_ran) {
    *others_ran = 1;
    stop = 1;
    gort_sleep(1000000);   /* let it see stop (and leave the channel) */
    gort_sched_stats_t st;
    gort_sched_stats(&st);
    CHECK(st.preempts >= 1);
    CHECK_EQ(st.async_preempts, 0);
}

static void coop_main(void *arg) {
    stop = 0;
    gort_chan_t *c = gort_chan_make(sizeof(long), 1);
    gort_go(chan_spinner, c);
    gort_yield();
    spinner_yielded(arg);
}

/* Runs fn on one P with the preemption signal off: only safe points can yield. */
static void run_one_p_cooperative(void (*fn)(void *)) {
    int ran = 0;
    gort__settings_init();
    int old = gort__settings.asyncpreemptoff;
    gort__settings.asyncpreemptoff = 1;
    set_procs(1);
    run_main(fn, &ran);
    gort__settings.asyncpreemptoff = old;
    assert_int_equal(ran, 1);
}

static void test_cooperative(void **state) {
    (void)state;
    run_one_p_cooperative(coop_main);
}

/* ---- the allocation slow path as a safe point ----------------------------------------------------------------- */

#define HELD 4096
static void *held[HELD];
/* Allocations the spinner made: not rounds -- under TSan on a loaded machine
 * one round can outlast sysmon's 10 ms, and the spinner then yields inside
 * its first (CI saw rounds == 0 once). */
static volatile unsigned long allocs;

static void alloc_spinner(void *arg) {
    (void)arg;
    while (!stop) {   /* no channel, lock or yield: only gort_malloc's refills are safe points */
        for (int i = 0; i < HELD; i++) {
            held[i] = gort_malloc(256);   /* 4096 x 256 B: refills every 32 objects */
            allocs++;
        }
        for (int i = 0; i < HELD; i++)
            gort_free(held[i]);
    }
}

static void alloc_main(void *arg) {
    stop = 0;
    allocs = 0;
    gort_go(alloc_spinner, NULL);
    gort_yield();   /* back only if the spinner yields at an allocation */
    CHECK(allocs > 0);
    spinner_yielded(arg);
}

static void test_alloc_safepoint(void **state) {
    (void)state;
    run_one_p_cooperative(alloc_main);
}

/* The same with GC objects: gort_gc_alloc's refill is the safe point.  It tells
 * the program's calls from the runtime's by its return address, which is the
 * program's call site only where the calls on the way are tail calls; in a
 * sanitizer or -O0 build the entry points hand it over instead (before they
 * did, a goroutine allocating in a loop there never yielded). */
static void gc_alloc_spinner(void *arg) {
    (void)arg;
    while (!stop) {   /* garbage (never collected here): 64 objects per refill */
        for (int i = 0; i < HELD; i++) {
            CHECK(gort_gc_alloc(64) != NULL);
            allocs++;
        }
    }
}

static void gc_alloc_main(void *arg) {
    stop = 0;
    allocs = 0;
    gort_go(gc_alloc_spinner, NULL);
    gort_yield();   /* back only if the spinner yields at a GC allocation */
    CHECK(allocs > 0);
    spinner_yielded(arg);
}

static void test_gc_alloc_safepoint(void **state) {
    (void)state;
    /* No cycles: a cycle's stop would be a way out of its own. */
    int old = gort_gc_set_percent(-1);
    run_one_p_cooperative(gc_alloc_main);
    gort_gc_set_percent(old);
}

/* ---- a sleeper beside a hog ------------------------------------------------------------------------------- */

static void hog_sleeper_main(void *arg) {
    (void)arg;
    stop = 0;
    gort_go(spinner, NULL);
    for (int i = 0; i < 3; i++) {
        int64_t t0 = gort_nanotime();
        gort_sleep(1000000);
        CHECK(gort_nanotime() - t0 >= 1000000);
    }
    stop = 1;
}

static void test_hog_sleeper(void **state) {
    (void)state;
    if (!ASYNC)
        skip();
    set_procs(1);
    run_main(hog_sleeper_main, NULL);
}

/* ---- gort_main returns while a goroutine spins forever ---------------------------------------------------- */

static void forever(void *arg) {
    (void)arg;
    for (;;)
        spins++;
}

static void leave_spinner_main(void *arg) {
    (void)arg;
    gort_go(forever, NULL);
    gort_yield();
}

static void test_leave_spinner(void **state) {
    (void)state;
    if (!ASYNC)
        skip();
    /* The main goroutine returns; the spinner is preempted so the P comes back. */
    set_procs(1);
    run_main(leave_spinner_main, NULL);
    set_procs(2);
    run_main(leave_spinner_main, NULL);
}

/* ---- where the signal may switch a goroutine out ---------------------------------------------------------- */

/* The executable's sections named name* (read here independently of
 * sched/preempt.c), loaded at base; returns how many were found. */
static int sections(const char *name, uintptr_t base, uintptr_t lo[], uintptr_t hi[], int max) {
    FILE *f = fopen("/proc/self/exe", "rb");
    assert_non_null(f);
    ElfW(Ehdr) eh;
    assert_int_equal(fread(&eh, sizeof eh, 1, f), 1);
    ElfW(Shdr) *sh = calloc(eh.e_shnum, sizeof *sh);
    assert_int_equal(fseek(f, (long)eh.e_shoff, SEEK_SET), 0);
    assert_int_equal(fread(sh, sizeof *sh, eh.e_shnum, f), eh.e_shnum);
    char *names = malloc(sh[eh.e_shstrndx].sh_size);
    assert_int_equal(fseek(f, (long)sh[eh.e_shstrndx].sh_offset, SEEK_SET), 0);
    assert_int_equal(fread(names, sh[eh.e_shstrndx].sh_size, 1, f), 1);
    int n = 0;
    for (int i = 0; i < eh.e_shnum && n < max; i++) {
        if (strncmp(names + sh[i].sh_name, name, strlen(name)) == 0 && sh[i].sh_size) {
            lo[n] = base + sh[i].sh_addr;
            hi[n] = lo[n] + sh[i].sh_size;
            n++;
        }
    }
    free(names);
    free(sh);
    fclose(f);
    return n;
}

static int base_of(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    *(uintptr_t *)arg = info->dlpi_addr;
    return 1;
}

static void pc_main(void *arg) {
    (void)arg;
    uintptr_t base = 0, lo[8], hi[8];
    dl_iterate_phdr(base_of, &base);
    /* The program's own functions: yes. */
    CHECK(gort__sched_preempt_pc((uintptr_t)spinner));
    CHECK(gort__sched_preempt_pc((uintptr_t)pc_main));
    /* The runtime's (gort_text), libc's, and the executable's PLT stubs -- the
     * runtime's calls to memcpy pass there, with locks held -- and .init: no. */
    CHECK(!gort__sched_preempt_pc((uintptr_t)gort_go));
    CHECK(!gort__sched_preempt_pc((uintptr_t)gort__sched_ready));
    CHECK(!gort__sched_preempt_pc((uintptr_t)getpid));
    int n = sections(".plt", base, lo, hi, 8);
    CHECK(n >= 1);
    for (int i = 0; i < n; i++) {
        CHECK(!gort__sched_preempt_pc(lo[i]));
        CHECK(!gort__sched_preempt_pc(hi[i] - 1));
    }
    n = sections(".init", base, lo, hi, 1);
    for (int i = 0; i < n; i++)
        CHECK(!gort__sched_preempt_pc(lo[i]));
}

/* The runtime never calls code in the executable's .text outside its own
 * section (a compiler helper such as libgcc's __popcountdi2 would be taken for
 * the program's code, and a goroutine switched out inside the runtime): every
 * direct call or jump from gort_text lands in gort_text or a PLT stub.  Read
 * from objdump's disassembly of this executable. */
static void test_runtime_calls(void **state) {
    (void)state;
    if (!ASYNC)
        skip();   /* sanitizer builds: instrumentation calls the sanitizer runtime, in .text */
    uintptr_t glo[1], ghi[1], plo[8], phi[8];
    if (sections("gort_text", 0, glo, ghi, 1) != 1)
        skip();   /* linked against libgort.so */
    int nplt = sections(".plt", 0, plo, phi, 8);
    char exe[4096], cmd[4200];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = 0;
    snprintf(cmd, sizeof cmd, "objdump -d --no-show-raw-insn -j gort_text '%s' 2>/dev/null", exe);
    FILE *f = popen(cmd, "r");
    if (!f)
        skip();
    char line[512];
    int calls = 0, outside = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long at, target;
        char insn[16], sym[128];
        if (sscanf(line, " %lx: %15s %lx <%127[^>]>", &at, insn, &target, sym) != 4 ||
            (insn[0] != 'j' && strncmp(insn, "call", 4) != 0))
            continue;
        calls++;
        bool ok = target >= glo[0] && target < ghi[0];
        for (int i = 0; i < nplt && !ok; i++)
            ok = target >= plo[i] && target < phi[i];
        /* Registrations at start-up, libc_nonshared's stubs: rt/fork.c's, and
         * alloc/stats.c's exit report (GORT_DEBUG=allocstats=1). */
        ok = ok || strcmp(sym, "__pthread_atfork") == 0 || strcmp(sym, "atexit") == 0;
        if (!ok && outside++ < 10)
            print_error("gort_text at %#lx: %s %#lx <%s>, outside the runtime and the PLT\n", at, insn, target, sym);
    }
    int rc = pclose(f);
    if (calls == 0 && rc != 0)
        skip();   /* no objdump */
    assert_true(calls > 1000);
    assert_int_equal(outside, 0);
}

static void test_pc_ranges(void **state) {
    (void)state;
    set_procs(1);
    run_main(pc_main, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pc_ranges),
        cmocka_unit_test(test_runtime_calls),
        cmocka_unit_test(test_tight_loop),
        cmocka_unit_test(test_registers),
        cmocka_unit_test(test_cooperative),
        cmocka_unit_test(test_alloc_safepoint),
        cmocka_unit_test(test_gc_alloc_safepoint),
        cmocka_unit_test(test_hog_sleeper),
        cmocka_unit_test(test_leave_spinner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
