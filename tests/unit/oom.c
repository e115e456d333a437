/* SPDX-License-Identifier: Apache-2.0 */
/*
 * oom.c: the interposed allocator, the set of live blocks, and the sweep
 * over k (see oom.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "tests/unit/oom.h"

#ifndef OOM_SANITIZED

#define OOM_DENSE 2000 /* every k up to here, when the budget allows */
#define OOM_SHOWN 12   /* wrong runs printed per sweep */
#define OOM_FRAMES 32  /* frames kept of the failing allocation's stack */

static int verbose; /* FG_OOM_K given: print what each run found */

/* ---- the interposed allocator ------------------------------------------------------------- */

/* Blocks allocated while a run is tracked, in an open-addressing set kept
 * in its own mapping (it cannot use malloc). Deletion shifts the following
 * entries back, so the set has no tombstones however long it runs. */
#define SET_BITS 23
#define SET_CAP ((size_t)1 << SET_BITS)

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

static uintptr_t *set_slots;  /* SET_CAP slots, 0 = empty */
static size_t set_n;          /* live tracked blocks */
static size_t set_peak;
static int set_lock;          /* a spin lock: the registry allocates on several threads */
static int tracking;          /* record new blocks in the set */
static long alloc_count;      /* allocations since the run began */
static long fail_at;          /* the allocation to fail (1-based), 0 for none */
static long failed;           /* allocations failed in this run */
static int set_full;          /* the set overflowed: the leak check is void */

static void lock(void)
{
    while (__atomic_exchange_n(&set_lock, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&set_lock, __ATOMIC_RELAXED))
            ;
}

static void unlock(void)
{
    __atomic_store_n(&set_lock, 0, __ATOMIC_RELEASE);
}

static size_t slot_of(uintptr_t p)
{
    uint64_t h = (uint64_t)p * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> (64 - SET_BITS));
}

static void set_insert(void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    lock();
    if (set_n * 4 >= SET_CAP * 3) {
        set_full = 1;
    } else {
        size_t i = slot_of(p);
        while (set_slots[i])
            i = (i + 1) & (SET_CAP - 1);
        set_slots[i] = p;
        if (++set_n > set_peak)
            set_peak = set_n;
    }
    unlock();
}

static void set_remove(void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    lock();
    if (set_n == 0) {
        unlock();
        return;
    }
    size_t i = slot_of(p);
    while (set_slots[i] && set_slots[i] != p)
        i = (i + 1) & (SET_CAP - 1);
    if (set_slots[i]) {
        set_slots[i] = 0;
        set_n--;
        /* Move back every later entry of the run that the hole cut off
         * from its home slot. */
        for (size_t j = (i + 1) & (SET_CAP - 1); set_slots[j]; j = (j + 1) & (SET_CAP - 1)) {
            size_t home = slot_of(set_slots[j]);
            int reachable = i <= j ? (home > i && home <= j) : (home > i || home <= j);
            if (!reachable) {
                set_slots[i] = set_slots[j];
                set_slots[j] = 0;
                i = j;
            }
        }
    }
    unlock();
}

static void set_clear(void)
{
    lock();
    if (set_n)
        memset(set_slots, 0, SET_CAP * sizeof *set_slots);
    set_n = 0;
    set_full = 0;
    unlock();
}

/* The library whose allocations are never failed (FG_OOM_SKIP), to look
 * past the failures of one library at those of the others. */
static const char *skip_lib;
static void *fail_caller; /* who made the allocation that failed */
static void *fail_stack[OOM_FRAMES]; /* and the stack it was made on */
static int fail_depth;
static int trace;         /* FG_OOM_TRACE: print the stack of the failing allocation */
static int progress;      /* FG_OOM_PROGRESS: print each k before its run */

static int caller_in(void *caller, const char *lib)
{
    Dl_info info;
    return dladdr(caller, &info) && info.dli_fname && strstr(info.dli_fname, lib);
}

static int known_crash(void);

/* 1 when this allocation, made from `caller`, is the one to fail: the
 * first one from allocation fail_at on that is not skipped (by
 * FG_OOM_SKIP, or because failing it would crash the test). */
static int should_fail(void *caller)
{
    if (!__atomic_load_n(&tracking, __ATOMIC_RELAXED))
        return 0;
    long k = __atomic_add_fetch(&alloc_count, 1, __ATOMIC_RELAXED);
    long at = __atomic_load_n(&fail_at, __ATOMIC_RELAXED);
    if (at == 0 || k < at || __atomic_load_n(&failed, __ATOMIC_RELAXED))
        return 0;
    if (skip_lib && caller_in(caller, skip_lib))
        return 0;
    long none = 0;
    if (!__atomic_compare_exchange_n(&failed, &none, 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
        return 0;
    fail_caller = caller;
    fail_depth = backtrace(fail_stack, OOM_FRAMES);
    if (known_crash()) {
        __atomic_store_n(&failed, 0, __ATOMIC_SEQ_CST); /* fail a later one instead */
        return 0;
    }
    if (trace) {
        fprintf(stderr, "allocation %ld fails, called from:\n", k);
        backtrace_symbols_fd(fail_stack, fail_depth, 2);
    }
    errno = ENOMEM;
    return 1;
}

static void track(void *p)
{
    if (p && __atomic_load_n(&tracking, __ATOMIC_RELAXED))
        set_insert(p);
}

static void untrack(void *p)
{
    if (p && __atomic_load_n(&set_n, __ATOMIC_RELAXED))
        set_remove(p);
}

void *malloc(size_t n)
{
    if (should_fail(__builtin_return_address(0)))
        return NULL;
    void *p = __libc_malloc(n);
    track(p);
    return p;
}

void *calloc(size_t n, size_t size)
{
    if (should_fail(__builtin_return_address(0)))
        return NULL;
    void *p = __libc_calloc(n, size);
    track(p);
    return p;
}

void *realloc(void *old, size_t n)
{
    if (old && n == 0) { /* glibc frees the block */
        untrack(old);
        return __libc_realloc(old, 0);
    }
    if (should_fail(__builtin_return_address(0)))
        return NULL;
    void *p = __libc_realloc(old, n);
    if (p) {
        untrack(old);
        track(p);
    }
    return p;
}

void free(void *p)
{
    untrack(p);
    __libc_free(p);
}

/* ---- running a sweep ----------------------------------------------------------------------- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: which k to try in each stride. */
static uint64_t next_random(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

static long env_long(const char *name)
{
    const char *s = getenv(name);
    return s ? atol(s) : 0;
}

/* The function that made the failing allocation, for messages. */
static const char *caller_name(void)
{
    static char buf[256];
    Dl_info info;
    if (!fail_caller || !dladdr(fail_caller, &info) || !info.dli_fname)
        return "?";
    const char *lib = strrchr(info.dli_fname, '/');
    snprintf(buf, sizeof buf, "%s in %s", info.dli_sname ? info.dli_sname : "?",
             lib ? lib + 1 : info.dli_fname);
    return buf;
}

/* Out-of-memory bugs found and reported but not fixed yet: a run that
 * went wrong in the way `kind` names (NULL: any), whose failing allocation
 * had `function` on its stack (a symbol libraries export; NULL: any) and
 * whose error text contains `text` (NULL: any), is counted as known
 * instead of failing the test. Delete an entry with its fix; the test says
 * which entries no run met. */
typedef struct known_bug {
    const char *kind; /* "wrong" (a wrong code or result) or "leak" */
    const char *function;
    const char *text;
    const char *note;
} known_bug;

static const known_bug known_bugs[] = {
    {NULL, NULL, NULL, NULL}, /* the end (and the table is never empty) */
};

#define N_KNOWN (sizeof known_bugs / sizeof known_bugs[0]) /* with the end */

/* Allocations whose failure crashes the code under test (reported, not
 * fixed yet): never failed while `function` and `within` are both on the
 * stack; the next allocation fails instead. */
typedef struct known_crash_site {
    const char *function;
    const char *within;
    const char *note;
} known_crash_site;

static const known_crash_site known_crashes[] = {
    {"regcomp", "fp_func_prepare",
     "glibc 2.36's regcomp, failing an allocation of its own, can free a block twice (a "
     "sweep of the R4 core registry aborts with 'double free detected in tcache'; other "
     "failures there leak two blocks): a bug of glibc's"},
};

#define N_CRASHES (sizeof known_crashes / sizeof known_crashes[0])

static long crash_hits[N_CRASHES]; /* allocations not failed, in all sweeps */

static long known_hits[N_KNOWN];  /* in the current sweep */
static long known_total[N_KNOWN]; /* in all of them */

/* 1 when an exported function named in `names` ("a|b") is on the failing
 * allocation's stack. */
static int on_stack(const char *names)
{
    for (int i = 0; i < fail_depth; i++) {
        Dl_info info;
        if (!dladdr(fail_stack[i], &info) || !info.dli_sname)
            continue;
        size_t len = strlen(info.dli_sname);
        for (const char *p = names; *p;) {
            size_t n = strcspn(p, "|");
            if (n == len && memcmp(p, info.dli_sname, n) == 0)
                return 1;
            p += n + (p[n] == '|');
        }
    }
    return 0;
}

/* 1 (and counted) when failing the allocation on fail_stack would crash. */
static int known_crash(void)
{
    for (size_t i = 0; i < N_CRASHES; i++)
        if (on_stack(known_crashes[i].function) && on_stack(known_crashes[i].within)) {
            __atomic_add_fetch(&crash_hits[i], 1, __ATOMIC_RELAXED);
            return 1;
        }
    return 0;
}

/* The known bug (its index + 1) that a run which went wrong as `kind`
 * with `err` met, or 0. */
static int known(const char *kind, const fg_error *err)
{
    for (size_t i = 0; known_bugs[i].note; i++) {
        const known_bug *b = &known_bugs[i];
        if ((!b->kind || strcmp(b->kind, kind) == 0) && (!b->text || strstr(err->text, b->text))
            && (!b->function || on_stack(b->function)))
            return (int)i + 1;
    }
    return 0;
}

/* Run `op` once with allocation `k` failing (0: none). Returns its code;
 * *allocs is the number of allocations the run made, *live the blocks it
 * left behind. */
static int run_once(oom_op op, void *ud, long k, uint64_t *digest, long *allocs, size_t *live,
                    fg_error *err)
{
    fg_error_clear(err);
    if (progress)
        fprintf(stderr, "failing allocation %ld\n", k);
    if (verbose)
        fprintf(stderr, "-- run failing allocation %ld\n", k);
    set_clear();
    __atomic_store_n(&alloc_count, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&failed, 0, __ATOMIC_RELAXED);
    fail_caller = NULL;
    fail_depth = 0;
    __atomic_store_n(&fail_at, k, __ATOMIC_RELAXED);
    __atomic_store_n(&tracking, 1, __ATOMIC_SEQ_CST);
    int rc = op(ud, digest, err);
    __atomic_store_n(&tracking, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&fail_at, 0, __ATOMIC_RELAXED);
    *allocs = __atomic_load_n(&alloc_count, __ATOMIC_RELAXED);
    *live = set_full ? 0 : set_n;
    set_clear();
    return rc;
}

void oom_sweep(const char *name, oom_op op, void *ud, double budget)
{
    uint64_t want = 0, got = 0;
    long n = 0, allocs = 0, bad = 0;
    size_t live = 0;
    fg_error err;
    /* The first run warms what the C library sets up once (stdio, thread
     * stacks); the second is the reference. */
    assert_int_equal(run_once(op, ud, 0, &want, &n, &live, &err), FG_OK);
    double t0 = now();
    int rc = run_once(op, ud, 0, &want, &n, &live, &err);
    double per_run = now() - t0;
    if (rc != FG_OK)
        fail_msg("%s: fails without any allocation failure: %s", name, fg_strerror(rc));
    if (live != 0)
        fail_msg("%s: %zu blocks still live after a run without failures", name, live);

    set_peak = 0;
    long only = env_long("FG_OOM_K");
    verbose = only != 0;
    skip_lib = getenv("FG_OOM_SKIP");
    trace = getenv("FG_OOM_TRACE") != NULL;
    progress = getenv("FG_OOM_PROGRESS") != NULL;
    if (getenv("FG_OOM_SCALE"))
        budget *= atof(getenv("FG_OOM_SCALE"));
    /* A run that fails stops about half way, on average. */
    double per_failing = per_run / 2 > 1e-6 ? per_run / 2 : 1e-6;
    long max_runs = env_long("FG_OOM_FULL") ? n : (long)(budget / per_failing);
    if (max_runs < 1)
        max_runs = 1;
    long dense = n <= max_runs ? n : (max_runs / 2 < OOM_DENSE ? max_runs / 2 : OOM_DENSE);
    long stride = n <= max_runs ? 1 : (n - dense) / (max_runs - dense > 0 ? max_runs - dense : 1);
    if (stride < 1)
        stride = 1;

    long runs = 0, nomem = 0, absorbed = 0, untouched = 0;
    double start = now();
    uint64_t seed = (uint64_t)env_long("FG_OOM_SEED");
    if (!seed)
        seed = (uint64_t)time(NULL);
    uint64_t rnd = seed;
    for (long j = 0;; j++) {
        /* Past the dense part, one k drawn at random in each stride, so
         * that runs over time reach different allocations. */
        long k = only ? only : j < dense ? j + 1 : dense + 1 + (j - dense) * stride;
        if (!only && j >= dense)
            k += (long)(next_random(&rnd) % (uint64_t)stride);
        if (k > n || (!env_long("FG_OOM_FULL") && now() - start > 2 * budget))
            break;
        rc = run_once(op, ud, k, &got, &allocs, &live, &err);
        runs++;
        int hit = __atomic_load_n(&failed, __ATOMIC_RELAXED) != 0;
        const char *wrong = NULL;
        if (rc == FG_ENOMEM && hit)
            nomem++;
        else if (rc == FG_OK && got == want)
            hit ? absorbed++ : untouched++;
        else if (rc == FG_OK)
            wrong = "FG_OK with different results";
        else
            wrong = fg_strerror(rc);
        if (verbose)
            print_message("%s: allocation %ld (called from %s) failing gave %s\n", name, k,
                          caller_name(), fg_strerror(rc));
        int kw = wrong ? known("wrong", &err) : 0, kl = live ? known("leak", &err) : 0;
        if (kw || kl)
            known_hits[(kw ? kw : kl) - 1]++;
        if (kw)
            wrong = NULL;
        if (kl)
            live = 0;
        if (wrong && bad++ < OOM_SHOWN)
            print_message("%s: allocation %ld (called from %s) failing gave %s (%s: %s)\n",
                          name, k, caller_name(), wrong, err.where, err.text);
        else if (live != 0 && bad++ < OOM_SHOWN)
            print_message("%s: allocation %ld (called from %s) failing leaked %zu blocks\n", name,
                          k, caller_name(), live);
        if (only)
            break;
    }
    print_message("%s: %ld allocations (peak %zu live), %ld runs (every k to %ld, then one in "
                  "each %ld, FG_OOM_SEED=%llu) in %.1f s: %ld out of memory, %ld absorbed, %ld "
                  "past the end\n",
                  name, n, set_peak, runs, dense, stride, (unsigned long long)seed,
                  now() - start, nomem, absorbed, untouched);
    for (size_t i = 0; known_bugs[i].note; i++) {
        if (known_hits[i])
            print_message("%s: %ld runs met a known bug: %s\n", name, known_hits[i],
                          known_bugs[i].note);
        known_total[i] += known_hits[i];
        known_hits[i] = 0;
    }
    if (bad)
        fail_msg("%s: %ld runs failed (FG_OOM_K=k replays one)", name, bad);
}

int oom_verbose(void)
{
    return verbose;
}

int oom_setup(void **state)
{
    (void)state;
    void *frame;
    backtrace(&frame, 1); /* loads the unwinder now, not inside a failing malloc */
    set_slots = mmap(NULL, SET_CAP * sizeof *set_slots, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return set_slots == MAP_FAILED ? -1 : 0;
}

void oom_report_unmet(void)
{
    for (size_t i = 0; i < N_CRASHES; i++)
        if (crash_hits[i])
            printf("%ld allocations not failed because failing them crashes: %s\n", crash_hits[i],
                   known_crashes[i].note);
    for (size_t i = 0; !getenv("FG_OOM_TEST") && !getenv("FG_OOM_K") && known_bugs[i].note; i++)
        if (known_total[i] == 0)
            printf("no run met the known bug of %.60s... (runs are sampled: FG_OOM_FULL=1 "
                   "tells whether it is fixed)\n",
                   known_bugs[i].note);
}

#endif /* OOM_SANITIZED */
