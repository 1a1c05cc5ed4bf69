/*
 * stress/harness.h: the cask stress harness, as a structure author (cask's or your own) uses it.
 *
 * A scenario is a function that starts threads with cask_stress_run_threads, has them hammer a
 * structure until cask_stress_should_stop says so, checks invariants (and, optionally, records a
 * history for the linearizability checker in stress/check/), and reports problems with
 * cask_stress_fail. cask_stress_main runs a table of scenarios over several thread counts with
 * schedule noise, prints one progress line per second and a final table, and exits 0 only if
 * everything was clean. Every failure prints the seed and the exact command that replays it.
 *
 * Noise: compile the code under test with -DCASK_STRESS=1 and put CASK_NOISE_POINT("name")
 * between the steps of its algorithm (before and after each atomic read-modify-write, between a
 * load and its validation, at linearization points). Without CASK_STRESS it compiles to nothing.
 *
 * Thread safety: cask_stress_should_stop, cask_stress_add_ops, cask_stress_add_checked,
 * cask_stress_add_undecided, cask_stress_fail, cask_stress_rand and cask_noise_point may be
 * called from any thread of a running scenario. The rest is for the
 * main thread. The harness's own bookkeeping uses only relaxed atomics and thread-private data,
 * so it adds no happens-before edges that could hide a race from ThreadSanitizer.
 */
#ifndef CASK_STRESS_HARNESS_H
#define CASK_STRESS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(CASK_STRESS) && CASK_STRESS
void cask_noise_point(const char *where);
#define CASK_NOISE_POINT(where) cask_noise_point(where)
#else
#define CASK_NOISE_POINT(where) ((void)0)
#endif

/* How the scheduler perturbs the threads at noise points. */
typedef enum {
    CASK_NOISE_OFF,    /* noise points do nothing */
    CASK_NOISE_RANDOM, /* per-thread seeded PRNG: nothing / spin / sched_yield / short sleep */
    CASK_NOISE_PCT,    /* PCT controlled scheduler: one thread at a time, random priorities */
} cask_noise_mode;

/* One run of one scenario at one thread count. Opaque to scenarios. */
typedef struct cask_stress_run cask_stress_run;

typedef struct cask_stress_scenario {
    const char *name;        /* "hp.replace", used by --only */
    const char *description; /* one line for --list */
    /* Runs the scenario once with cask_stress_threads(run) worker threads. Returns normally;
     * problems are reported through cask_stress_fail. */
    void (*run)(cask_stress_run *run);
    /* The fewest worker threads the scenario can run with (0 means 1): a thread count from
     * --threads below it runs at min_threads instead, and is reported and replayed as that
     * count (a count that becomes one already run for this scenario is not run twice). */
    int min_threads;
} cask_stress_scenario;

/* The number of worker threads of this run: the --threads count, raised to the scenario's
 * min_threads; the count the final table and every replay line show. */
int cask_stress_threads(const cask_stress_run *run);

/* This run's seed; derive per-thread seeds from it so that --seed replays the run. */
uint64_t cask_stress_seed(const cask_stress_run *run);

/*
 * Starts `threads` threads running fn(run, index, arg) for index 0..threads-1, each registered
 * with the noise scheduler (PCT controls exactly these threads), and joins them all. Call it
 * from the scenario's (main) thread, once per round if you like: every call seeds its threads'
 * noise, cask_stress_rand and PCT schedule afresh (reproducibly, from the run's seed).
 * Returns 0, or a negative CASK_E* code if a thread could not be started (the others are joined).
 */
int cask_stress_run_threads(cask_stress_run *run, int threads,
                            void (*fn)(cask_stress_run *run, int index, void *arg), void *arg);

/*
 * True when the calling worker should finish: its budget (--seconds or --ops, counted per thread
 * through cask_stress_add_ops) is spent, or a failure was reported (by any thread).
 */
bool cask_stress_should_stop(cask_stress_run *run);

/* Counts n operations for the progress line and the --ops budget (relaxed, per thread). A run
 * that counts none fails ("nothing ran"). */
void cask_stress_add_ops(cask_stress_run *run, uint64_t n);

/* Counts one history (or invariant batch) checked, for the final table. */
void cask_stress_add_checked(cask_stress_run *run, uint64_t n);

/*
 * Counts n checks that ran but could not decide: a linearizability check that answered
 * CASK_LIN_UNKNOWN (its budget ran out). Never count those as checked. The table shows them,
 * and a run with more undecided checks than half its checked batches fails ("UNDECIDED"): it
 * did not test what it claims. Any thread.
 */
void cask_stress_add_undecided(cask_stress_run *run, uint64_t n);

/*
 * Reports a violation: printf-style message; the run is marked failed and its seed and replay
 * command are printed at the end. Stops the run's workers (cask_stress_should_stop turns true).
 */
void cask_stress_fail(cask_stress_run *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Per-thread deterministic random numbers (xoshiro-style), seeded from the run seed, the
 * number of the cask_stress_run_threads call (so each round of a scenario draws new numbers)
 * and the thread's index. Call only from a thread started by cask_stress_run_threads (or the
 * main thread). */
uint64_t cask_stress_rand(void);

/*
 * The driver: parses --only, --threads, --seconds, --ops, --seed, --noise, --list (see --help),
 * runs the scenarios and prints the report. Returns the process exit status: 0 if every run was
 * clean, 1 on any violation, 2 on a usage error. A run that dies (abort(), a fault) prints its
 * replay line first, unless a sanitizer handles that signal (which prints its own, through its
 * death callback).
 */
int cask_stress_main(int argc, char **argv, const cask_stress_scenario *scenarios, size_t count);

#endif /* CASK_STRESS_HARNESS_H */
