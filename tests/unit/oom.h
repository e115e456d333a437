/* SPDX-License-Identifier: Apache-2.0 */
/*
 * oom.h: failing the k-th allocation of an operation, for the allocation
 * failure tests (test_oom.c).
 *
 * oom.c defines malloc, calloc, realloc and free for the test executable.
 * ELF symbol lookup finds the executable's definitions first, so every
 * allocation of libfhirgen.so, jansson and the C library (strdup, fopen,
 * regcomp, pthread_create) comes through it; when it is not made to fail it
 * is forwarded to glibc's __libc_malloc and friends.
 *
 * oom_sweep() runs an operation from nothing to freed. A first run without
 * failure counts the allocations N and records a digest of the results.
 * Then, for k = 1, 2, ..., the k-th allocation of a run fails (once; the
 * later ones succeed). Every such run must end either with FG_OK and the
 * same digest (the failure was absorbed, e.g. pthread_create falling back
 * to one thread) or with FG_ENOMEM; anything else (another error code, a
 * different verdict reported as success, a crash) fails the test. After
 * the operation has freed what it made, no block allocated during the run
 * may still be live.
 *
 * Runs are timed: every k up to OOM_DENSE, then, when the sweep's time
 * budget does not allow every k, one k drawn at random in each stride of
 * the rest, so that runs over time reach different allocations (a sweep
 * prints its stride and seed). Environment, for replaying and exploring:
 *   FG_OOM_K=k      run only that k in every sweep, printing what it found
 *   FG_OOM_FULL=1   every k (slow); FG_OOM_SCALE=x multiplies every budget
 *   FG_OOM_SEED=s   the seed of the random k
 *   FG_OOM_TRACE=1  print the stack of each failing allocation (addr2line
 *                   turns its offsets into lines)
 *   FG_OOM_PROGRESS=1  print each k before its run (to find one that crashes)
 *   FG_OOM_SKIP=lib never fail the allocations that library makes
 *                   (libjansson: look past its failures at its callers')
 *
 * Bugs found and reported but not yet fixed are listed in oom.c
 * (known_bugs): a run that meets one is counted and printed, not failed.
 *
 * Sanitizers bring their own malloc, which cannot be replaced: under
 * AddressSanitizer OOM_SANITIZED is defined and nothing here is built.
 */
#ifndef FG_TEST_OOM_H
#define FG_TEST_OOM_H

#include <stdint.h>

#include "fhir/base/fg_error.h"

#if defined(__SANITIZE_ADDRESS__)
#define OOM_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OOM_SANITIZED 1
#endif
#endif

/* An operation from nothing to freed. Returns FG_OK with *digest set over
 * its results, or the error code of the step that failed (with err). An
 * operation that finds its results differ in a way worth naming returns
 * FG_OK with the difference in err->text. */
typedef int (*oom_op)(void *ud, uint64_t *digest, fg_error *err);

/* Map the block set and load the unwinder; 0 on success (a cmocka group
 * setup). */
int oom_setup(void **state);

/* Fail each chosen allocation of `op` in turn within about `budget`
 * seconds; a cmocka failure when a run went wrong. */
void oom_sweep(const char *name, oom_op op, void *ud, double budget);

/* 1 when FG_OOM_K asked for one run: operations may print what they find. */
int oom_verbose(void);

/* Print the known bugs that no sweep met (unless FG_OOM_K or FG_OOM_TEST
 * narrowed the run). */
void oom_report_unmet(void);

#endif
