/*
 * bench/bench.c: the shared benchmark library (command line, threads, repetitions); see bench.h
 * for what each call promises. The results table and JSON are in bench_results.c.
 *
 * Starting threads together: every worker does its setup, then waits at a start gate (a mutex
 * and a condition variable, not a pthread_barrier_t, so that a failed pthread_create can release
 * the threads already waiting instead of leaving them stuck). The main thread opens the gate
 * when all have arrived. Each worker reads the clock right after it leaves the gate and right
 * after run returns; the elapsed time is the last end minus the first start, so the wake-up of
 * the main thread is not measured. The workers wait at an end gate before teardown, so no
 * thread's teardown (or exit-time work such as a hazard-pointer scan) overlaps another's timed
 * part.
 *
 * The gate's mutex gives every happens-before edge the workers need among themselves; the main
 * thread reads the workers' timestamps after pthread_join. No atomics are needed here.
 */
#define _POSIX_C_SOURCE 200809L /* feature-test macro (reserved name, set by the standard): it
                                 * exposes clock_gettime under -std=c11 */
#include "bench/bench.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t cask_bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

/* ---- Command line ---- */

/* Prints the usage text for argv0 to out. */
static void cask_bench_usage(FILE *out, const char *argv0, const char *about,
                             const char *default_threads)
{
    fprintf(out,
            "%s: %s\n"
            "usage: %s [--threads=LIST] [--reps N] [--quick] [--filter TEXT] [--json FILE] "
            "[--help]\n"
            "  --threads LIST  comma-separated thread counts (default %s)\n"
            "  --reps N        repetitions per measurement, median reported (default and "
            "minimum %d)\n"
            "  --quick         1/100 of the operations: a smoke test, numbers are noisy\n"
            "  --filter TEXT   run only rows whose \"bench:impl\" contains TEXT\n"
            "  --json FILE     also write the results as a JSON array to FILE\n"
            "  --help          this text\n",
            argv0, about, argv0, default_threads, CASK_BENCH_MIN_REPS);
}

/* Parses a decimal unsigned in [min, max]. Returns 0 and sets *out, or -EINVAL. */
static int cask_bench_parse_unsigned(const char *text, unsigned min, unsigned max, unsigned *out)
{
    if (text == NULL || *text < '0' || *text > '9')
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -EINVAL;
    *out = (unsigned)v;
    return 0;
}

/* Parses "1,2,4" into opt->threads. Returns 0, or -EINVAL (opt untouched). */
static int cask_bench_parse_threads(const char *text, cask_bench_options *opt)
{
    unsigned counts[CASK_BENCH_MAX_THREAD_COUNTS];
    size_t n = 0;
    char item[16];
    const char *p = text;
    if (p == NULL || *p == '\0')
        return -EINVAL;
    for (;;) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof(item) || n == CASK_BENCH_MAX_THREAD_COUNTS)
            return -EINVAL;
        memcpy(item, p, len);
        item[len] = '\0';
        if (cask_bench_parse_unsigned(item, 1, CASK_BENCH_MAX_THREADS, &counts[n]) != 0)
            return -EINVAL;
        n++;
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    memcpy(opt->threads, counts, n * sizeof(counts[0]));
    opt->thread_count = n;
    return 0;
}

/*
 * If argv[*i] is `name` followed by "=VALUE", or is exactly `name` with a next argument, sets
 * *value to VALUE (advancing *i past a separate value) and returns 1; returns 0 if argv[*i] is
 * another option; returns -EINVAL if `name` is given without a value.
 */
static int cask_bench_option_value(int argc, char **argv, int *i, const char *name,
                                   const char **value)
{
    const char *arg = argv[*i];
    size_t len = strlen(name);
    if (strncmp(arg, name, len) != 0)
        return 0;
    if (arg[len] == '=') {
        *value = arg + len + 1;
        return 1;
    }
    if (arg[len] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -EINVAL;
    *i += 1;
    *value = argv[*i];
    return 1;
}

int cask_bench_parse_args(int argc, char **argv, const char *default_threads, const char *about,
                          cask_bench_options *out)
{
    const char *argv0 = argc > 0 && argv[0] != NULL ? argv[0] : "bench";
    cask_bench_options opt = {.reps = CASK_BENCH_MIN_REPS, .quick = false, .json_path = NULL,
                              .filter = NULL};
    if (cask_bench_parse_threads(default_threads, &opt) != 0) {
        fprintf(stderr, "%s: bad default thread list \"%s\"\n", argv0,
                default_threads != NULL ? default_threads : "(null)");
        return -EINVAL;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = NULL;
        int got;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            cask_bench_usage(stdout, argv0, about, default_threads);
            return 1;
        } else if (strcmp(arg, "--quick") == 0) {
            opt.quick = true;
        } else if ((got = cask_bench_option_value(argc, argv, &i, "--json", &value)) != 0) {
            if (got < 0 || *value == '\0') {
                fprintf(stderr, "%s: --json needs a file name\n", argv0);
                goto bad;
            }
            opt.json_path = value;
        } else if ((got = cask_bench_option_value(argc, argv, &i, "--filter", &value)) != 0) {
            if (got < 0) {
                fprintf(stderr, "%s: --filter needs a text\n", argv0);
                goto bad;
            }
            opt.filter = value;
        } else if ((got = cask_bench_option_value(argc, argv, &i, "--reps", &value)) != 0) {
            if (got < 0 || cask_bench_parse_unsigned(value, CASK_BENCH_MIN_REPS, 1000000,
                                                     &opt.reps) != 0) {
                fprintf(stderr, "%s: --reps needs a whole number >= %d\n", argv0,
                        CASK_BENCH_MIN_REPS);
                goto bad;
            }
        } else if ((got = cask_bench_option_value(argc, argv, &i, "--threads", &value)) != 0) {
            if (got < 0 || cask_bench_parse_threads(value, &opt) != 0) {
                fprintf(stderr,
                        "%s: --threads needs a list like 1,2,4 (each 1..%d, at most %d "
                        "entries)\n",
                        argv0, CASK_BENCH_MAX_THREADS, CASK_BENCH_MAX_THREAD_COUNTS);
                goto bad;
            }
        } else {
            fprintf(stderr, "%s: unknown argument \"%s\"\n", argv0, arg);
            goto bad;
        }
    }
    *out = opt;
    return 0;
bad:
    cask_bench_usage(stderr, argv0, about, default_threads);
    return -EINVAL;
}

bool cask_bench_selected(const cask_bench_options *opt, const char *bench, const char *impl)
{
    if (opt->filter == NULL)
        return true;
    char row[256];
    snprintf(row, sizeof(row), "%s:%s", bench, impl);
    return strstr(row, opt->filter) != NULL;
}

/* ---- Running threads ---- */

enum { CASK_BENCH_WAIT, CASK_BENCH_GO, CASK_BENCH_DONE, CASK_BENCH_ABORT };

/* State shared by one cask_bench_run_threads call and its workers. */
struct cask_bench_run {
    pthread_mutex_t lock; /* protects arrived, finished and state */
    pthread_cond_t changed;
    unsigned arrived;  /* workers that finished setup (successfully or not) */
    unsigned finished; /* workers past their timed part (or that skipped it) */
    int state;         /* CASK_BENCH_WAIT / GO / DONE / ABORT */
    const cask_bench_worker *worker;
    void *ctx;
    uint64_t ops;
};

/* One worker's own record; written by the worker, read by the main thread after join. */
struct cask_bench_thread {
    struct cask_bench_run *run;
    unsigned index;
    int setup_error; /* 0 or the negative value setup returned */
    bool timed;      /* run was called */
    uint64_t start_ns;
    uint64_t end_ns;
};

/* Worker body: setup, start gate, timed run, end gate, teardown. */
static void *cask_bench_thread_main(void *arg)
{
    struct cask_bench_thread *t = arg;
    struct cask_bench_run *run = t->run;
    const cask_bench_worker *w = run->worker;
    t->setup_error = w->setup != NULL ? w->setup(run->ctx, t->index) : 0;

    pthread_mutex_lock(&run->lock);
    run->arrived++;
    pthread_cond_broadcast(&run->changed);
    while (run->state == CASK_BENCH_WAIT)
        pthread_cond_wait(&run->changed, &run->lock);
    bool go = run->state == CASK_BENCH_GO && t->setup_error == 0;
    pthread_mutex_unlock(&run->lock);

    if (go) {
        t->start_ns = cask_bench_now_ns();
        w->run(run->ctx, t->index, run->ops);
        t->end_ns = cask_bench_now_ns();
        t->timed = true;
    }

    pthread_mutex_lock(&run->lock);
    run->finished++;
    pthread_cond_broadcast(&run->changed);
    while (run->state == CASK_BENCH_GO)
        pthread_cond_wait(&run->changed, &run->lock);
    pthread_mutex_unlock(&run->lock);

    if (t->setup_error == 0 && w->teardown != NULL)
        w->teardown(run->ctx, t->index);
    return NULL;
}

/* Sets the gate state and wakes every waiter. Call with run->lock held. */
static void cask_bench_set_state(struct cask_bench_run *run, int state)
{
    run->state = state;
    pthread_cond_broadcast(&run->changed);
}

int64_t cask_bench_run_threads(unsigned threads, const cask_bench_worker *worker, void *ctx,
                               uint64_t ops)
{
    if (threads == 0 || threads > CASK_BENCH_MAX_THREADS || worker == NULL || worker->run == NULL)
        return -EINVAL;
    struct cask_bench_thread *ts = calloc(threads, sizeof(*ts));
    pthread_t *ids = calloc(threads, sizeof(*ids));
    if (ts == NULL || ids == NULL) {
        free(ts);
        free(ids);
        return -ENOMEM;
    }
    struct cask_bench_run run = {.state = CASK_BENCH_WAIT, .worker = worker, .ctx = ctx,
                                 .ops = ops};
    pthread_mutex_init(&run.lock, NULL);
    pthread_cond_init(&run.changed, NULL);

    int64_t result = 0;
    unsigned started = 0;
    for (; started < threads; started++) {
        ts[started].run = &run;
        ts[started].index = started;
        int rc = pthread_create(&ids[started], NULL, cask_bench_thread_main, &ts[started]);
        if (rc != 0) {
            result = -rc;
            break;
        }
    }

    pthread_mutex_lock(&run.lock);
    if (started < threads) {
        cask_bench_set_state(&run, CASK_BENCH_ABORT);
    } else {
        while (run.arrived < threads)
            pthread_cond_wait(&run.changed, &run.lock);
        cask_bench_set_state(&run, CASK_BENCH_GO);
        while (run.finished < threads)
            pthread_cond_wait(&run.changed, &run.lock);
        cask_bench_set_state(&run, CASK_BENCH_DONE);
    }
    pthread_mutex_unlock(&run.lock);
    for (unsigned i = 0; i < started; i++)
        pthread_join(ids[i], NULL);

    if (result == 0) {
        uint64_t first = UINT64_MAX, last = 0;
        for (unsigned i = 0; i < threads; i++) {
            if (ts[i].setup_error != 0 && result == 0)
                result = ts[i].setup_error;
            if (ts[i].timed && ts[i].start_ns < first)
                first = ts[i].start_ns;
            if (ts[i].timed && ts[i].end_ns > last)
                last = ts[i].end_ns;
        }
        if (result == 0)
            result = last > first ? (int64_t)(last - first) : 1;
    }
    pthread_cond_destroy(&run.changed);
    pthread_mutex_destroy(&run.lock);
    free(ts);
    free(ids);
    return result;
}

/* qsort comparator for int64_t. */
static int cask_bench_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Sorts times[0..n) (n >= 1) and returns the median (the mean of the two middle values for an
 * even n). */
static int64_t cask_bench_median_of(int64_t *times, unsigned n)
{
    qsort(times, n, sizeof(*times), cask_bench_cmp_i64);
    return n % 2 == 1 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
}

int64_t cask_bench_median_ns(unsigned reps, unsigned threads, const cask_bench_worker *worker,
                             void *ctx, uint64_t ops)
{
    if (reps == 0)
        return -EINVAL;
    int64_t *times = calloc(reps, sizeof(*times));
    if (times == NULL)
        return -ENOMEM;
    int64_t result = 0;
    for (unsigned r = 0; r < reps && result == 0; r++) {
        times[r] = cask_bench_run_threads(threads, worker, ctx, ops);
        if (times[r] < 0)
            result = times[r];
    }
    if (result == 0)
        result = cask_bench_median_of(times, reps);
    free(times);
    return result;
}

/* The per-thread operation count for one measurement (see cask_bench_measure). Returns it, or
 * a negative error from the warm-up run. */
static int64_t cask_bench_pick_ops(const cask_bench_options *opt, unsigned threads,
                                   const cask_bench_worker *worker, void *ctx, uint64_t base_ops)
{
    const double target_ns = 3e8, low_ns = 2e8, high_ns = 6e8;
    if (opt->quick) {
        uint64_t ops = base_ops / 100 > 0 ? base_ops / 100 : 1;
        int64_t warm = cask_bench_run_threads(threads, worker, ctx, ops);
        return warm < 0 ? warm : (int64_t)ops;
    }
    uint64_t probe = base_ops / 50 > 0 ? base_ops / 50 : 1;
    int64_t warm = cask_bench_run_threads(threads, worker, ctx, probe);
    if (warm < 0)
        return warm;
    double estimate_ns = (double)warm * ((double)base_ops / (double)probe);
    double ops = (double)base_ops;
    if (estimate_ns < low_ns || estimate_ns > high_ns)
        ops = ops * target_ns / estimate_ns;
    double lo = (double)base_ops / 16.0, hi = (double)base_ops * 16.0;
    ops = ops < lo ? lo : ops > hi ? hi : ops;
    return ops < 1.0 ? 1 : (int64_t)ops;
}

int cask_bench_measure(const cask_bench_options *opt, cask_bench_results *results,
                       const char *bench, const char *impl, unsigned threads,
                       const cask_bench_worker *worker, void *ctx, uint64_t base_ops)
{
    if (opt == NULL || results == NULL || bench == NULL || impl == NULL || base_ops == 0)
        return -EINVAL;
    int64_t ops = cask_bench_pick_ops(opt, threads, worker, ctx, base_ops);
    if (ops < 0)
        return (int)ops;
    int64_t median = cask_bench_median_ns(opt->reps, threads, worker, ctx, (uint64_t)ops);
    if (median < 0)
        return (int)median;
    fprintf(stderr, "  %-28s %-8s threads=%-3u ops/thread=%-11llu median %.3f s (of %u)\n",
            bench, impl, threads, (unsigned long long)ops, (double)median / 1e9, opt->reps);
    return cask_bench_results_add(results, bench, impl, threads, (uint64_t)ops,
                                  (uint64_t)median);
}

int cask_bench_measure_group(const cask_bench_options *opt, cask_bench_results *results,
                             const char *bench, unsigned threads, size_t count,
                             const cask_bench_entry *entries)
{
    if (opt == NULL || results == NULL || bench == NULL || entries == NULL || count == 0 ||
        opt->reps == 0)
        return -EINVAL;
    int64_t *ops = calloc(count, sizeof(*ops));
    int64_t *times = calloc(count * opt->reps, sizeof(*times));
    int rc = ops == NULL || times == NULL ? -ENOMEM : 0;
    for (size_t e = 0; e < count && rc == 0; e++) {
        if (entries[e].impl == NULL || entries[e].worker == NULL || entries[e].base_ops == 0)
            rc = -EINVAL;
        else if ((ops[e] = cask_bench_pick_ops(opt, threads, entries[e].worker, entries[e].ctx,
                                               entries[e].base_ops)) < 0)
            rc = (int)ops[e];
    }
    for (unsigned r = 0; r < opt->reps && rc == 0; r++) {
        for (size_t e = 0; e < count && rc == 0; e++) {
            int64_t t = cask_bench_run_threads(threads, entries[e].worker, entries[e].ctx,
                                               (uint64_t)ops[e]);
            if (t < 0)
                rc = (int)t;
            times[e * opt->reps + r] = t;
        }
    }
    for (size_t e = 0; e < count && rc == 0; e++) {
        unsigned n = opt->reps;
        int64_t median = cask_bench_median_of(times + e * n, n);
        fprintf(stderr, "  %-28s %-8s threads=%-3u ops/thread=%-11llu median %.3f s (of %u, "
                        "interleaved)\n",
                bench, entries[e].impl, threads, (unsigned long long)ops[e],
                (double)median / 1e9, n);
        rc = cask_bench_results_add(results, bench, entries[e].impl, threads, (uint64_t)ops[e],
                                    (uint64_t)median);
    }
    free(ops);
    free(times);
    return rc;
}
