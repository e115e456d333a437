/*
 * test_oom.c: allocation failure in the JSON reader, the registry and the
 * validator.
 *
 * The test executable defines malloc, calloc, realloc and free itself. ELF
 * symbol lookup finds the executable's definitions first, so every
 * allocation of libfhirgen.so, jansson and the C library (strdup, fopen,
 * pthread_create) comes through here; when it is not made to fail it is
 * forwarded to glibc's __libc_malloc and friends.
 *
 * Each scenario is an operation run from nothing to freed: parse a few FHIR
 * resources with fg_jr_parse, load a registry (the compact R4 core, then US
 * Core when ../shared/fhir-packages has it), build a validator and validate
 * valid and invalid resources. A first run without failure counts the
 * allocations N and records a digest of the results. Then, for k = 1, 2, ...,
 * the k-th allocation of a run fails (once; the later ones succeed). Every
 * such run must end either with FG_OK and the same digest (the failure was
 * absorbed, e.g. pthread_create falling back to one thread) or with
 * FG_ENOMEM; anything else (another error code, a different verdict
 * reported as success, a crash) fails the test. After the operation has
 * freed what it made, no block allocated during the run may still be live.
 *
 * Runs are timed: every k up to OOM_DENSE, then, when the scenario's time
 * budget does not allow every k, one k drawn at random in each stride of
 * the rest, so that runs over time reach different allocations (the
 * scenario prints its stride and seed, FG_OOM_SEED). FG_OOM_K=k runs only
 * that k in every scenario, to replay a failure; FG_OOM_FULL=1 runs every
 * k (slow);
 * FG_OOM_SCALE=x multiplies every time budget; FG_OOM_TEST=pattern runs
 * only the matching tests (test_validate_*);
 * FG_OOM_TRACE=1 prints the stack of each failing allocation (addr2line
 * turns its offsets into lines); FG_OOM_SKIP=libjansson never fails the allocations that library makes
 * (to look past its failures at those of the code that calls it).
 *
 * The registry loads terminology on a second thread and packages on
 * several, so the order of allocations there varies from run to run: a
 * failing k of the registry scenarios may need a few tries to replay.
 *
 * Bugs found and reported but not yet fixed are listed in known_bugs: a
 * run that meets one is counted and printed, not failed.
 *
 * Sanitizers bring their own malloc, which this file cannot replace: under
 * AddressSanitizer the test skips.
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
#include <unistd.h>

#include "fhir/fg_data.h"
#include "fhir/fg_error.h"
#include "fhir/fg_jr.h"
#include "profiles/fg_registry.h"
#include "validators/fg_validate.h"

#if defined(__SANITIZE_ADDRESS__)
#define OOM_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OOM_SANITIZED 1
#endif
#endif

#define SHARED_PACKAGES "../shared/fhir-packages"
#define USCORE "hl7.fhir.us.core#6.1.0"
#define CASES "tests/data/validate"

#define OOM_DENSE 2000 /* every k up to here, when the budget allows */
#define OOM_SHOWN 12   /* wrong runs printed per scenario */
#define OOM_FRAMES 32  /* frames kept of the failing allocation's stack */

#ifndef OOM_SANITIZED

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

static int caller_in(void *caller, const char *lib)
{
    Dl_info info;
    return dladdr(caller, &info) && info.dli_fname && strstr(info.dli_fname, lib);
}

/* 1 when this allocation, made from `caller`, is the one to fail: the
 * first one from allocation fail_at on that is not skipped. */
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

/* ---- running a scenario -------------------------------------------------------------------- */

/* An operation from nothing to freed. Returns FG_OK with *digest set over
 * its results, or the error code of the step that failed. */
typedef int (*oom_op)(void *ud, uint64_t *digest, fg_error *err);

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
    {"wrong", NULL, "not valid JSON",
     "profiles/registry.c:159-173: fgr_load_json calls a core or package file invalid JSON "
     "when jansson could not allocate (jansson reports some of its allocation failures as "
     "syntax errors, line -1 and no text); it goes once the registry parses with fg_jr"},
    {"leak", "fgv_bundle_open", NULL,
     "validators/validate_bundle.c:56: a failed calloc returns without freeing the other "
     "three arrays and leaves c->bundle pointing at the caller's stack"},
    {"wrong", NULL, "a different not-checked list",
     "validators/validate_issue.c:117-126: when growing the not-checked list or copying its "
     "note fails, the note is dropped and validation still succeeds, so a check that was "
     "not made goes unreported"},
    {"wrong", NULL, "a different OperationOutcome",
     "validators/validate_issue.c: fg_issue_list_outcome ignores the results of "
     "json_object_set_new, json_array_append_new and json_pack, so it returns an outcome "
     "missing issues or fields instead of NULL"},
    {"wrong", "fg_jv_to_json|json_dumps", "different issues",
     "validators/validate_slicing.c:98-113: brief_json writes '?' for the expected value "
     "of a fixed or pattern issue when copying or dumping it fails, instead of failing"},
    {NULL, "regcomp|__regcomp", NULL,
     "fhir/fhirpath_regex.c:220: regcomp's REG_ESPACE (out of memory) is reported as an "
     "invalid regular expression, so the registry keeps the invariant as not compilable "
     "(and glibc's regcomp leaks what it had allocated)"},
};

#define N_KNOWN (sizeof known_bugs / sizeof known_bugs[0])

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

/* The known bug (its index + 1) that a run which went wrong as `kind`
 * with `err` met, or 0. */
static int known(const char *kind, const fg_error *err)
{
    for (size_t i = 0; i < N_KNOWN; i++) {
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

/* Fail each chosen allocation of `op` in turn, within about `budget`
 * seconds. */
static void sweep(const char *name, oom_op op, void *ud, double budget)
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
    for (size_t i = 0; i < N_KNOWN; i++) {
        if (known_hits[i])
            print_message("%s: %ld runs met a known bug: %s\n", name, known_hits[i],
                          known_bugs[i].note);
        known_total[i] += known_hits[i];
        known_hits[i] = 0;
    }
    if (bad)
        fail_msg("%s: %ld runs failed (FG_OOM_K=k replays one)", name, bad);
}

/* ---- digests of results ------------------------------------------------------------------- */

static void mix_bytes(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        *h ^= s[i];
        *h *= 1099511628211ull;
    }
}

static void mix_str(uint64_t *h, const char *s)
{
    mix_bytes(h, s ? s : "(null)", strlen(s ? s : "(null)") + 1);
}

static void mix_num(uint64_t *h, uint64_t v)
{
    mix_bytes(h, &v, sizeof v);
}

/* ---- (a) the JSON reader ------------------------------------------------------------------- */

typedef struct input {
    char *text;
    size_t len;
} input;

/* Every value of a tree: types, texts, keys, in document order. */
static void mix_tree(uint64_t *h, const fg_jv *v, int depth)
{
    mix_num(h, fg_jv_typeof(v));
    if (!v || depth > FG_JR_MAX_DEPTH)
        return;
    mix_num(h, v->n);
    if (fg_jv_is_string(v) || fg_jv_is_number(v))
        mix_bytes(h, v->u.s, fg_jv_is_string(v) ? v->n : strlen(v->u.s));
    for (size_t i = 0; fg_jv_is_array(v) && i < v->n; i++)
        mix_tree(h, fg_jv_at(v, i), depth + 1);
    for (size_t i = 0; fg_jv_is_object(v) && i < v->n; i++) {
        const fg_jv_member *m = fg_jv_member_at(v, i);
        mix_bytes(h, m->key, m->key_len + 1);
        mix_tree(h, &m->value, depth + 1);
    }
}

typedef struct jr_case {
    input inputs[6];
    size_t n_inputs;
    uint64_t want[2][6]; /* each parse's digest in the run without failure */
    int have_want;
} jr_case;

/* Each input parsed into one arena reset between inputs (as a reader
 * does), then all of them again into a fresh arena each. A parse error is
 * part of the result: its position and text must not change. A parse that
 * runs out of memory does not stop the others: those that follow it, in
 * the arena it left, must give the same trees as without failure. */
static int op_jr(void *ud, uint64_t *digest, fg_error *err)
{
    jr_case *c = ud;
    uint64_t all = 1469598103934665603ull;
    fg_arena shared;
    fg_arena_init(&shared);
    int rc = FG_OK, nomem = 0;
    for (size_t pass = 0; rc == FG_OK && pass < 2; pass++) {
        for (size_t i = 0; rc == FG_OK && i < c->n_inputs; i++) {
            uint64_t h = 1469598103934665603ull;
            fg_arena own;
            fg_arena_init(&own);
            fg_arena *a = pass == 0 ? &shared : &own;
            const fg_jv *root = NULL;
            fg_jr_error je;
            fg_arena_reset(&shared);
            int prc = fg_jr_parse(a, c->inputs[i].text, c->inputs[i].len, &root, &je);
            mix_num(&h, (uint64_t)prc);
            if (prc == FG_OK) {
                mix_tree(&h, root, 0);
            } else if (prc == FG_EINVALID) {
                mix_num(&h, (uint64_t)je.line);
                mix_num(&h, (uint64_t)je.column);
                mix_num(&h, je.position);
                mix_str(&h, je.text);
            }
            fg_arena_free(&own);
            if (prc == FG_ENOMEM)
                nomem = 1;
            else if (!c->have_want)
                c->want[pass][i] = h;
            else if (c->want[pass][i] != h)
                rc = fg_error_set(err, FG_EINTERNAL, "fg_jr_parse",
                                  "input %zu (pass %zu) parsed differently", i, pass);
            mix_num(&all, h);
        }
    }
    fg_arena_free(&shared);
    if (rc != FG_OK)
        return rc;
    if (nomem)
        return fg_error_set(err, FG_ENOMEM, "fg_jr_parse", "out of memory");
    c->have_want = 1;
    *digest = all;
    return FG_OK;
}

static void read_input(input *in, const char *file)
{
    fg_error err;
    if (fg_read_file(file, 64u << 20, &in->text, &in->len, &err) != FG_OK)
        fail_msg("%s: %s", err.where, err.text);
}

/* An object of `members` members, each an array of 40 numbers, then one
 * array nested 300 deep: enough values that the reader's scratch stack and
 * duplicate-key table leave their fixed-size first form. With `dup` the
 * last key repeats the first (a parse error found late). */
static void make_input(input *in, int members, int dup)
{
    size_t cap = (size_t)members * 512 + 4096, n = 0;
    in->text = malloc(cap);
    assert_non_null(in->text);
    n += (size_t)snprintf(in->text + n, cap - n, "{");
    for (int i = 0; i < members; i++) {
        n += (size_t)snprintf(in->text + n, cap - n, "\"m%d\":[", dup && i == members - 1 ? 0 : i);
        for (int j = 0; j < 40; j++)
            n += (size_t)snprintf(in->text + n, cap - n, "%s%d.5", j ? "," : "", i * j);
        n += (size_t)snprintf(in->text + n, cap - n, "],");
    }
    n += (size_t)snprintf(in->text + n, cap - n, "\"deep\":");
    for (int d = 0; d < 300; d++)
        in->text[n++] = '[';
    for (int d = 0; d < 300; d++)
        in->text[n++] = ']';
    n += (size_t)snprintf(in->text + n, cap - n, "}");
    assert_true(n < cap);
    in->len = n;
}

static void test_jr(void **state)
{
    (void)state;
    static const char *const files[] = {
        CASES "/valid/patient-full/input.json",
        "samples/golden/bundles/patient-00000002.json",
        CASES "/json/single-quotes/input.json",
        CASES "/valid/transaction/input.json",
    };
    jr_case c = {.n_inputs = 6};
    for (size_t i = 0; i < 4; i++)
        read_input(&c.inputs[i], files[i]);
    make_input(&c.inputs[4], 500, 0);
    make_input(&c.inputs[5], 500, 1);
    sweep("fg_jr_parse", op_jr, &c, 8);
    for (size_t i = 0; i < c.n_inputs; i++)
        free(c.inputs[i].text);
}

/* ---- (b) the registry ---------------------------------------------------------------------- */

typedef struct registry_case {
    const char *package; /* NULL: the compact core only */
} registry_case;

/* An element, its constraints (and whether they compiled), its slices and
 * its children. */
static void mix_elem(uint64_t *h, const fg_elem *e, int depth)
{
    mix_num(h, e != NULL);
    if (!e || depth > 64)
        return;
    mix_str(h, e->id);
    mix_num(h, e->n_constraints);
    for (size_t i = 0; i < e->n_constraints; i++)
        mix_num(h, e->constraints[i].compiled != NULL);
    mix_num(h, e->n_slices);
    for (size_t i = 0; i < e->n_slices; i++)
        mix_elem(h, e->slices[i], depth + 1);
    mix_num(h, e->n_children);
    for (size_t i = 0; i < e->n_children; i++)
        mix_elem(h, e->children[i], depth + 1);
}

static void mix_registry(uint64_t *h, const fg_registry *reg)
{
    size_t s, v, c;
    fg_registry_counts(reg, &s, &v, &c);
    mix_num(h, s);
    mix_num(h, v);
    mix_num(h, c);
    for (size_t i = 0; i < fg_registry_note_count(reg); i++)
        mix_str(h, fg_registry_note(reg, i));
    for (size_t i = 0; i < fg_registry_structure_count(reg); i++) {
        const fg_structure *st = fg_registry_structure_at(reg, i);
        mix_str(h, st->url);
        mix_elem(h, st->root, 0);
    }
}

/* The calls of cli/validate_load.c. */
static int load_registry(const char *package, fg_registry **out, fg_error *err)
{
    fg_registry *reg = NULL;
    int rc = fg_registry_new(&reg, err);
    if (rc == FG_OK)
        rc = fg_registry_load_core(reg, fg_data_dir(), err);
    if (rc == FG_OK && package)
        rc = fg_registry_load_package(reg, SHARED_PACKAGES, package, err);
    if (rc == FG_OK)
        rc = fg_registry_finish(reg, err);
    if (rc == FG_OK)
        *out = reg;
    else
        fg_registry_free(reg);
    return rc;
}

static int op_registry(void *ud, uint64_t *digest, fg_error *err)
{
    const registry_case *c = ud;
    fg_registry *reg = NULL;
    int rc = load_registry(c->package, &reg, err);
    if (rc != FG_OK)
        return rc;
    *digest = 1469598103934665603ull;
    mix_registry(digest, reg);
    fg_registry_free(reg);
    return FG_OK;
}

static int have_uscore(void)
{
    return access(SHARED_PACKAGES "/" USCORE "/package/package.json", R_OK) == 0;
}

static void test_registry_core(void **state)
{
    (void)state;
    registry_case c = {NULL};
    sweep("registry (R4 core)", op_registry, &c, 16);
}

static void test_registry_uscore(void **state)
{
    (void)state;
    if (!have_uscore()) {
        print_message("US Core is not in %s: its registry load is not tested\n", SHARED_PACKAGES);
        skip();
    }
    registry_case c = {USCORE};
    sweep("registry (R4 core + US Core)", op_registry, &c, 8);
}

/* ---- (c) the validator --------------------------------------------------------------------- */

typedef struct validate_case {
    const fg_registry *reg;
    input inputs[8];
    size_t n_inputs;
    json_t *first; /* inputs[0] read by jansson (a valid resource) */
    /* of the first run, without failure */
    uint64_t want_issues[10], want_outcome[10], want_notes;
    int have_want;
} validate_case;

static void mix_issues(uint64_t *h, const fg_issue_list *l)
{
    for (size_t i = 0; verbose && i < l->count; i++)
        fprintf(stderr, "  %s %s %s: %s\n", fg_severity_name(l->items[i].severity),
                fg_check_name(l->items[i].check), l->items[i].path, l->items[i].message);
    mix_num(h, l->count);
    mix_num(h, l->errors);
    mix_num(h, l->warnings);
    for (size_t i = 0; i < l->count; i++) {
        const fg_issue *is = &l->items[i];
        mix_num(h, (uint64_t)is->severity);
        mix_num(h, (uint64_t)is->check);
        mix_str(h, is->type);
        mix_str(h, is->path);
        mix_str(h, is->message);
        mix_str(h, is->rule);
        mix_num(h, (uint64_t)is->line);
        mix_num(h, (uint64_t)is->column);
    }
}

/* The OperationOutcome of `l` as compact text, mixed into *h; FG_ENOMEM
 * when it could not be made. */
static int mix_outcome(uint64_t *h, const fg_issue_list *l)
{
    json_t *oo = fg_issue_list_outcome(l);
    char *text = oo ? json_dumps(oo, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(oo);
    if (!text)
        return FG_ENOMEM;
    mix_str(h, text);
    free(text);
    return FG_OK;
}

/* Validator construction, then each input validated and its issues
 * written as an OperationOutcome. Each input's issues, its outcome and the
 * not-checked list are compared apart with the run without failure, so
 * that a run which goes wrong says where. */
static int op_validate(void *ud, uint64_t *digest, fg_error *err)
{
    validate_case *c = ud;
    fg_validator *v = NULL;
    fg_issue_list l = {0};
    uint64_t all = 1469598103934665603ull, notes = all;
    const char *differs = NULL;
    size_t at = 0;
    fg_arena scratch;
    fg_arena_init(&scratch);
    int rc = fg_validator_new(c->reg, NULL, &v, err);
    /* Every input through one scratch arena, as a worker does, then the
     * first through the plain and jansson entry points. */
    for (size_t j = 0; rc == FG_OK && j < c->n_inputs + 2; j++) {
        size_t i = j < c->n_inputs ? j : 0;
        const input *in = &c->inputs[i];
        uint64_t issues = 1469598103934665603ull, outcome = issues;
        fg_issue_list_clear(&l);
        if (j < c->n_inputs)
            rc = fg_validate_bytes_arena(v, &scratch, in->text, in->len, &l, err);
        else if (j == c->n_inputs)
            rc = fg_validate_bytes(v, in->text, in->len, &l, err);
        else
            rc = fg_validate_json(v, c->first, &l, err);
        if (rc == FG_OK)
            mix_issues(&issues, &l);
        if (rc == FG_OK && (rc = mix_outcome(&outcome, &l)) != FG_OK)
            fg_error_set(err, rc, "fg_issue_list_outcome", "out of memory");
        if (rc != FG_OK)
            break;
        if (!c->have_want) {
            c->want_issues[j] = issues;
            c->want_outcome[j] = outcome;
        } else if (!differs && issues != c->want_issues[j]) {
            int json = l.count > 0 && l.items[0].check == FG_CHECK_JSON;
            differs = json ? "reported as not JSON" : "different issues";
            at = j;
        } else if (!differs && outcome != c->want_outcome[j]) {
            differs = "a different OperationOutcome";
            at = j;
        }
        mix_num(&all, issues ^ outcome);
    }
    size_t n_notes = rc == FG_OK ? fg_validator_not_checked_count(v) : 0;
    for (size_t i = 0; i < n_notes; i++)
        mix_str(&notes, fg_validator_not_checked(v, i));
    fg_issue_list_free(&l);
    fg_validator_free(v);
    fg_arena_free(&scratch);
    if (rc != FG_OK)
        return rc;
    if (!c->have_want) {
        c->want_notes = notes;
        c->have_want = 1;
    } else if (!differs && notes != c->want_notes) {
        differs = "a different not-checked list";
    }
    if (differs)
        fg_error_set(err, FG_OK, "validator", "input %zu: %s", at, differs);
    *digest = all ^ (notes * 31);
    return FG_OK;
}

/* Validate `files` with a registry of the core and `package`. */
static void sweep_validate(const char *name, const char *package, const char *const *files,
                           size_t n_files, double budget)
{
    validate_case c = {0};
    fg_error err;
    assert_true(n_files <= sizeof c.inputs / sizeof c.inputs[0]);
    for (c.n_inputs = 0; c.n_inputs < n_files; c.n_inputs++)
        read_input(&c.inputs[c.n_inputs], files[c.n_inputs]);
    fg_registry *reg = NULL;
    assert_int_equal(load_registry(package, &reg, &err), FG_OK);
    c.reg = reg;
    c.first = json_loadb(c.inputs[0].text, c.inputs[0].len, 0, NULL);
    assert_non_null(c.first);
    sweep(name, op_validate, &c, budget);
    json_decref(c.first);
    fg_registry_free(reg);
    for (size_t i = 0; i < c.n_inputs; i++)
        free(c.inputs[i].text);
}

static void test_validate_core(void **state)
{
    (void)state;
    static const char *const files[] = {
        CASES "/valid/patient-full/input.json",
        CASES "/valid/transaction/input.json",
        CASES "/valid/bp/input.json",
        CASES "/binding/gender-man/input.json",
        CASES "/invariant/obs-6-value-and-absent/input.json",
        CASES "/bundle/duplicate-fullurl/input.json",
        CASES "/format/datetime-bad-offset/input.json",
        CASES "/json/single-quotes/input.json",
    };
    sweep_validate("validator (R4 core)", NULL, files, sizeof files / sizeof files[0], 8);
}

static void test_validate_uscore(void **state)
{
    (void)state;
    if (!have_uscore()) {
        print_message("US Core is not in %s: validation against it is not tested\n",
                      SHARED_PACKAGES);
        skip();
    }
    static const char *const files[] = {
        CASES "/valid/uscore-patient/input.json",
        "samples/golden/bundles/patient-00000002.json",
        CASES "/fixed/uscore-pregnancy-code/input.json",
    };
    sweep_validate("validator (US Core)", USCORE, files, sizeof files / sizeof files[0], 12);
}

static int setup(void **state)
{
    (void)state;
    void *frame;
    backtrace(&frame, 1); /* loads the unwinder now, not inside a failing malloc */
    set_slots = mmap(NULL, SET_CAP * sizeof *set_slots, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return set_slots == MAP_FAILED ? -1 : 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jr),
        cmocka_unit_test(test_registry_core),
        cmocka_unit_test(test_registry_uscore),
        cmocka_unit_test(test_validate_core),
        cmocka_unit_test(test_validate_uscore),
    };
    if (getenv("FG_OOM_TEST"))
        cmocka_set_test_filter(getenv("FG_OOM_TEST"));
    int failures = cmocka_run_group_tests(tests, setup, NULL);
    for (size_t i = 0; !getenv("FG_OOM_TEST") && !getenv("FG_OOM_K") && i < N_KNOWN; i++)
        if (known_total[i] == 0)
            printf("no run met the known bug of %.60s... (fixed? then delete its entry)\n",
                   known_bugs[i].note);
    return failures;
}

#else /* OOM_SANITIZED */

int main(void)
{
    printf("skipped: AddressSanitizer replaces malloc, which this test must interpose\n");
    return 77;
}

#endif
