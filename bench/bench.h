/*
 * bench/bench.h: the small library every cask benchmark shares (//bench:bench_util).
 *
 * A benchmark binary parses its command line with cask_bench_parse_args, then for each
 * (bench, implementation, thread count) calls cask_bench_measure with a cask_bench_worker: the
 * library starts the threads together, times them, repeats the measurement (at least
 * CASK_BENCH_MIN_REPS times), keeps the median and appends one row to a cask_bench_results.
 * At the end cask_bench_results_print writes the table to stdout, with a ratio column that puts
 * every peer side by side with cask's row from the same run, and cask_bench_results_write_json
 * writes the same rows for plots and regression checks.
 *
 * What the numbers mean (the same in the table and the JSON):
 *   ops_per_sec  operations completed by all threads together per second of wall-clock time;
 *   ns_per_op    wall-clock time one thread spends per operation: elapsed * threads / total ops
 *                (with one thread, simply elapsed / ops). Comparable across thread counts: with
 *                perfect scaling it stays flat while ops_per_sec grows with the threads;
 *   ratio        (table only) ns_per_op of the row divided by ns_per_op of the reference row
 *                (normally "cask") of the same bench and thread count: 3.0 means that
 *                implementation takes three times as long per operation as cask.
 *
 * Threads: nothing here is thread-safe unless its comment says so. Every function is meant for
 * the benchmark's main thread, except that the worker callbacks run on the threads that
 * cask_bench_run_threads starts. Errors are negative errno values (-EINVAL, -ENOMEM, ...), and a
 * failed call leaves its output untouched.
 */
#ifndef CASK_BENCH_BENCH_H
#define CASK_BENCH_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CASK_BENCH_MIN_REPS 5          /* fewer repetitions make the median meaningless */
#define CASK_BENCH_MAX_THREADS 256     /* largest thread count --threads accepts */
#define CASK_BENCH_MAX_THREAD_COUNTS 16 /* most entries in one --threads list */

/* The command line, parsed. */
typedef struct cask_bench_options {
    unsigned reps;          /* repetitions per measurement, >= CASK_BENCH_MIN_REPS (default 5) */
    bool quick;             /* --quick: 1/100 of the operations, no calibration: a smoke test */
    const char *json_path;  /* --json FILE, or NULL; points into argv */
    const char *filter;     /* --filter TEXT, or NULL; points into argv */
    unsigned threads[CASK_BENCH_MAX_THREAD_COUNTS]; /* thread counts to run, in the given order */
    size_t thread_count;    /* entries used in threads[], >= 1 */
} cask_bench_options;

/*
 * One benchmark's per-thread code. Each thread cask_bench_run_threads starts calls, in order:
 * setup (untimed), waits until every thread has finished setup, run (timed), waits until every
 * thread has finished run, teardown (untimed). `ctx` is the pointer given to run_threads and
 * `index` the thread's number, 0 .. threads-1, so a thread can find its own state in ctx.
 */
typedef struct cask_bench_worker {
    /* Optional (may be NULL). Returns 0, or a negative errno value to abort the measurement (the
     * thread then skips run and teardown; the others still run and tear down). */
    int (*setup)(void *ctx, unsigned index);
    /* Required. Performs exactly `ops` operations; it must leave nothing of its work pending
     * that later runs would pay for (drain or wait for its own reclamation before returning). */
    void (*run)(void *ctx, unsigned index, uint64_t ops);
    /* Optional (may be NULL). Undoes setup. */
    void (*teardown)(void *ctx, unsigned index);
} cask_bench_worker;

/* One measured row. The strings are owned by the cask_bench_results that holds the row. */
typedef struct cask_bench_result {
    char *bench;        /* e.g. "hp.protect_reset" */
    char *impl;         /* e.g. "cask", "ck", "urcu", "mutex" */
    unsigned threads;   /* number of threads that ran the operations */
    double ops_per_sec; /* all threads together; see the header comment */
    double ns_per_op;   /* per thread; see the header comment */
} cask_bench_result;

/* A growing list of rows, in the order they were added. Zero-initialise it before use. */
typedef struct cask_bench_results {
    cask_bench_result *rows;
    size_t count;
    size_t capacity;
} cask_bench_results;

/*
 * cask_bench_now_ns - a monotonic clock (CLOCK_MONOTONIC) in nanoseconds, for intervals only.
 * Context: any thread; does not block.
 */
uint64_t cask_bench_now_ns(void);

/*
 * cask_bench_parse_args - parse the options every cask benchmark understands:
 *   --json FILE | --json=FILE     also write the results as JSON to FILE
 *   --reps N | --reps=N           repetitions per measurement, N >= 5 (default 5)
 *   --threads LIST | --threads=LIST   comma-separated thread counts, e.g. 1,2,4
 *   --quick                       1/100 of the operations (smoke test; numbers are noisy)
 *   --filter TEXT | --filter=TEXT run only rows whose "bench:impl" contains TEXT
 *                                 (e.g. "protect", ":cask"); see cask_bench_selected
 *   --help | -h                   print usage to stdout
 * `default_threads` is the LIST used without --threads (e.g. "1,2"); `about` is one line
 * describing the binary, printed by --help.
 * Returns 0 and fills *out: run the benchmark. Returns 1 after printing the usage (--help): exit
 * with status 0. Returns -EINVAL after printing what was wrong and the usage to stderr (also if
 * default_threads is not a valid LIST): exit with status 2. *out is untouched unless 0 is returned.
 * Context: main thread, before any measurement.
 */
int cask_bench_parse_args(int argc, char **argv, const char *default_threads, const char *about,
                          cask_bench_options *out);

/*
 * cask_bench_selected - true if the row (bench, impl) should run: no --filter was given, or
 * "bench:impl" contains the filter text. Context: any thread; reads *opt only.
 */
bool cask_bench_selected(const cask_bench_options *opt, const char *bench, const char *impl);

/*
 * cask_bench_run_threads - run `worker` on `threads` new threads that start their timed part
 * together, each performing `ops` operations.
 * Returns the elapsed wall-clock time of the timed part in ns (from the first thread entering run
 * to the last one leaving it; at least 1), or a negative errno value if threads was 0 or above
 * CASK_BENCH_MAX_THREADS (-EINVAL), a thread could not be created (-EAGAIN or the pthread
 * error; the threads already started are released and joined), or a setup failed (its value).
 * Context: main thread; blocks until every thread has been joined. Ordering: everything the
 * caller did before the call happens before setup; everything the threads did happens before
 * the return.
 */
int64_t cask_bench_run_threads(unsigned threads, const cask_bench_worker *worker, void *ctx,
                               uint64_t ops);

/*
 * cask_bench_median_ns - call cask_bench_run_threads `reps` times (reps >= 1) and return the
 * median elapsed time in ns (for an even reps, the mean of the two middle values), or the first
 * negative error any run returned (the remaining runs are then skipped).
 * Context: main thread; blocks.
 */
int64_t cask_bench_median_ns(unsigned reps, unsigned threads, const cask_bench_worker *worker,
                             void *ctx, uint64_t ops);

/*
 * cask_bench_measure - measure one row and append it to *results.
 * Picks the per-thread operation count from `base_ops`: with opt->quick, base_ops / 100 (at least
 * 1); otherwise one warm-up run with base_ops / 50 estimates the time per operation and the count
 * is scaled so that one repetition takes about 0.3 s if base_ops would take less than 0.2 s or
 * more than 0.6 s (never below base_ops / 16 nor above base_ops * 16). Quick mode also does a
 * warm-up run, with its own count. Then runs opt->reps repetitions and records the median.
 * Prints one progress line to stderr. Returns 0, or the negative error of a run or of
 * cask_bench_results_add (nothing is appended then).
 * Context: main thread; blocks for the whole measurement. `ctx` is passed to the worker.
 */
int cask_bench_measure(const cask_bench_options *opt, cask_bench_results *results,
                       const char *bench, const char *impl, unsigned threads,
                       const cask_bench_worker *worker, void *ctx, uint64_t base_ops);

/* One contender of an interleaved measurement (cask_bench_measure_group). */
typedef struct cask_bench_entry {
    const char *impl;                 /* the row's implementation name */
    const cask_bench_worker *worker;  /* its per-thread code */
    void *ctx;                        /* passed to the worker */
    uint64_t base_ops;                /* as cask_bench_measure's base_ops */
} cask_bench_entry;

/*
 * cask_bench_measure_group - measure `count` rows of the same bench and thread count with their
 * repetitions interleaved, and append them to *results in the order given.
 * Each entry's operation count is picked as cask_bench_measure picks it (one warm-up run per
 * entry); then opt->reps rounds run every entry once, in order, and each row records its own
 * median. Why: on a shared machine the load drifts over the seconds a row takes; measuring the
 * rows one after another lets that drift into their ratios, while interleaving exposes every
 * contender to the same drift, so the ratios (what the goals are stated in) stay meaningful
 * even when the absolute times move.
 * Prints one progress line per row to stderr. Returns 0, or the first negative error of a run or
 * of cask_bench_results_add (-EINVAL if an argument is NULL or count is 0; -ENOMEM); on error the
 * rows already appended stay, the others are not added.
 * Context: main thread; blocks for the whole measurement.
 */
int cask_bench_measure_group(const cask_bench_options *opt, cask_bench_results *results,
                             const char *bench, unsigned threads, size_t count,
                             const cask_bench_entry *entries);

/*
 * cask_bench_results_add - append a row computed from a measurement: `ops_per_thread` operations
 * on each of `threads` threads took `elapsed_ns` (median) nanoseconds.
 * Returns 0; -EINVAL if a name is NULL or empty, threads or ops_per_thread is 0, or elapsed_ns
 * is 0; -ENOMEM if memory ran out. On failure *results is unchanged.
 * Memory: bench and impl are copied; the caller keeps its strings.
 */
int cask_bench_results_add(cask_bench_results *results, const char *bench, const char *impl,
                           unsigned threads, uint64_t ops_per_thread, uint64_t elapsed_ns);

/*
 * cask_bench_results_print - write the table to `out`: rows grouped by bench (in the order each
 * bench first appears), then by thread count (ascending), then in the order added; one blank
 * line between groups. Columns: bench, threads, impl, Mops/s, ns/op, ratio, where ratio is
 * ns_per_op divided by ns_per_op of the first row of the same group whose impl is
 * `reference_impl`, or "-" if the group has no such row.
 * Context: main thread. Does not change *results.
 */
void cask_bench_results_print(const cask_bench_results *results, const char *reference_impl,
                              FILE *out);

/*
 * cask_bench_results_write_json - write every row, in the order added, as a JSON array of
 * objects {"bench","impl","threads","ops_per_sec","ns_per_op"} to the file at `path`
 * (created or truncated).
 * Returns 0, or the negative errno value of the failed open/write/close (a message naming the
 * file is printed to stderr; the file may then be incomplete).
 */
int cask_bench_results_write_json(const cask_bench_results *results, const char *path);

/*
 * cask_bench_results_free - free every row and the array; *results is then empty and may be
 * reused. Memory: strings obtained from the rows become invalid.
 */
void cask_bench_results_free(cask_bench_results *results);

#endif /* CASK_BENCH_BENCH_H */
