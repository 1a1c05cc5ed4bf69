/*
 * bench/vec_bench.c: freezable vectors (include/cask/vec.h) against a plain C array and a
 * pthread_mutex-protected growable array (`./cask bench vec`).
 *
 *   bazel run --config=opt //bench:vec_bench -- [--threads=1,2,8] [--reps 5] [--quick] [--json F]
 *
 * Benches (ns per operation, per thread; see bench/bench.h for the columns):
 *   vec.get        read element (k * 0x9E3779B1) mod 4096 of a frozen vector of 4096 uint64_t
 *                  (in L1; the scattered index keeps the compiler from vectorising any row):
 *                    cask        cask_vec_get (the inline frozen path in vec.h)
 *                    cask-data   indexing the array from cask_vec_frozen_data
 *                    array       indexing a plain C array
 *   vec.push       every thread pushes a uint64_t to one shared vector, from empty (storage
 *                  committed as it grows, inside the timed part):
 *                    cask        cask_vec_push
 *                    mutex       pthread_mutex + a realloc-doubling array
 *                  Both get fresh pages from the kernel in every run (the vector maps its
 *                  storage; the mutex array's big blocks are mmap'd too: M_MMAP_THRESHOLD is
 *                  fixed at 128 KiB, or glibc would serve later runs from heap pages that the
 *                  earlier runs already faulted in), so both pay the same page faults.
 *   vec.push.reserved
 *                  the same pushes into storage made ready before the timed part, so that no
 *                  push commits memory or faults: cask_vec_reserve for the vector, and a mutex
 *                  array allocated at its final size with every page written once. A fixed
 *                  1,000,000 pushes per thread (10,000 with --quick), since the room must be
 *                  made before the run. This row shows the push itself; the vec.push row, with
 *                  growth, is the one most programs see.
 *   vec.freeze.4K, vec.freeze.4M
 *                  one freeze of a vector of 4,096 / 4,194,304 uint64_t (ns per freeze; the
 *                  threads column is 1): "cask" is this build's freeze (opt: CASK_CHECKED=0, a
 *                  checksum of the elements), "cask-checked" (the vec_checked_bench binary: the
 *                  same source against a CASK_CHECKED=1 library) write-protects them instead.
 *   vec.freeze.busy
 *                  one freeze of a 4,096-element vector while T-1 other threads keep pushing
 *                  to it (T = the threads column, at least 2): the freeze waits for the pushes
 *                  in flight, and the later ones fail.
 *
 * Goals (the project's 2-core machine, --config=opt): a frozen get within 1.1x of the array,
 * for the two ways to get: indexing the pointer from cask_vec_frozen_data (the array itself) and
 * cask_vec_get (which also loads the frozen pointer, the length and the element size, and checks
 * the bounds, on every call); push at 2 threads at least 2x the mutex version (reported for
 * vec.push.reserved too). The lines after the table say whether each is met.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "cask/cask.h"
#include "cask/vec.h"

#ifdef VEC_BENCH_CHECKED
#define CASK_IMPL "cask-checked"
#define CHECKED_BINARY 1 /* only the freeze rows: the rest is the same code as vec_bench */
#else
#define CASK_IMPL "cask"
#define CHECKED_BINARY 0
#endif

#define GET_LEN 4096
#define GET_STEP UINT64_C(0x9E3779B1)

/* Relaxed: only written, so the timed loops are not dead code; nobody reads it. */
static _Atomic uint64_t sink;

static void consume(uint64_t v)
{
    atomic_fetch_add_explicit(&sink, v, memory_order_relaxed);
}

static void die(const char *what)
{
    fprintf(stderr, "vec_bench: %s\n", what);
    exit(1);
}

/* ---- vec.get ---- */

struct get_ctx {
    cask_vec *v;
    const uint64_t *data;
    uint64_t *array;
};

static void get_cask(void *arg, unsigned index, uint64_t ops)
{
    (void)index;
    const cask_vec *v = ((struct get_ctx *)arg)->v;
    uint64_t sum = 0;
    for (uint64_t k = 0; k < ops; k++) {
        uint64_t x;
        cask_vec_get(v, (size_t)((k * GET_STEP) & (GET_LEN - 1)), &x);
        sum += x;
    }
    consume(sum);
}

static void get_data(void *arg, unsigned index, uint64_t ops)
{
    (void)index;
    const uint64_t *a = ((struct get_ctx *)arg)->data;
    uint64_t sum = 0;
    for (uint64_t k = 0; k < ops; k++)
        sum += a[(k * GET_STEP) & (GET_LEN - 1)];
    consume(sum);
}

static void get_array(void *arg, unsigned index, uint64_t ops)
{
    (void)index;
    const uint64_t *a = ((struct get_ctx *)arg)->array;
    uint64_t sum = 0;
    for (uint64_t k = 0; k < ops; k++)
        sum += a[(k * GET_STEP) & (GET_LEN - 1)];
    consume(sum);
}

/* ---- vec.push ---- */

struct mutex_array {
    pthread_mutex_t lock;
    uint64_t *data;
    size_t len, cap;
};

struct push_ctx {
    cask_vec *v;
    struct mutex_array m;
    size_t reserve; /* vec.push.reserved: room made in setup, in elements; 0: grow as pushed */
};

static int push_setup(void *arg, unsigned index)
{
    struct push_ctx *c = arg;
    if (index != 0)
        return 0;
    /* One fresh vector per run, made by thread 0 before any thread runs. */
    if (cask_vec_create(8, (size_t)1 << 28, "bench", &c->v) != 0)
        return -ENOMEM;
    c->m.data = NULL;
    c->m.len = c->m.cap = 0;
    if (c->reserve == 0)
        return 0;
    if (cask_vec_reserve(c->v, c->reserve) != 0)
        return -ENOMEM;
    c->m.data = malloc(c->reserve * sizeof(uint64_t));
    if (c->m.data == NULL)
        return -ENOMEM;
    memset(c->m.data, 0xff, c->reserve * sizeof(uint64_t)); /* every page written once */
    c->m.cap = c->reserve;
    return 0;
}

static void push_teardown(void *arg, unsigned index)
{
    struct push_ctx *c = arg;
    if (index != 0)
        return;
    cask_vec_unref(c->v);
    c->v = NULL;
    free(c->m.data);
    c->m.data = NULL;
}

static void push_cask(void *arg, unsigned index, uint64_t ops)
{
    cask_vec *v = ((struct push_ctx *)arg)->v;
    for (uint64_t k = 0; k < ops; k++) {
        uint64_t x = k + index;
        if (cask_vec_push(v, &x, NULL) != 0)
            die("cask_vec_push failed");
    }
}

static void push_mutex(void *arg, unsigned index, uint64_t ops)
{
    struct mutex_array *m = &((struct push_ctx *)arg)->m;
    for (uint64_t k = 0; k < ops; k++) {
        pthread_mutex_lock(&m->lock);
        if (m->len == m->cap) {
            size_t cap = m->cap ? 2 * m->cap : 64;
            uint64_t *d = realloc(m->data, cap * sizeof(*d));
            if (d == NULL)
                die("out of memory");
            m->data = d;
            m->cap = cap;
        }
        m->data[m->len++] = k + index;
        pthread_mutex_unlock(&m->lock);
    }
}

/* Measures one vec.push.reserved row: a warm-up run, then the median of opt->reps runs of a
 * fixed `ops` pushes per thread, each run into a vector (and a mutex array) with room for all
 * of them made in setup. Returns 0 or a negative error, as cask_bench_measure. */
static int measure_reserved(const cask_bench_options *opt, cask_bench_results *res,
                            const char *impl, unsigned threads, const cask_bench_worker *worker,
                            struct push_ctx *pc, uint64_t ops)
{
    pc->reserve = (size_t)(threads * ops);
    int64_t ns = cask_bench_run_threads(threads, worker, pc, ops);
    if (ns >= 0)
        ns = cask_bench_median_ns(opt->reps, threads, worker, pc, ops);
    if (ns < 0)
        return (int)ns;
    fprintf(stderr, "  %-28s %-8s threads=%-3u ops/thread=%-10llu median %.3f s (of %u)\n",
            "vec.push.reserved", impl, threads, (unsigned long long)ops, (double)ns / 1e9,
            opt->reps);
    return cask_bench_results_add(res, "vec.push.reserved", impl, threads, ops, (uint64_t)ns);
}

/* ---- vec.freeze ---- */

/* A mutable vector of n elements that can grow to max_len (0: the default). */
static cask_vec *filled(size_t n, size_t max_len)
{
    cask_vec *v;
    if (cask_vec_create(8, max_len, "bench", &v) != 0)
        die("cask_vec_create failed");
    for (uint64_t i = 0; i < n; i++)
        if (cask_vec_push(v, &i, NULL) != 0)
            die("cask_vec_push failed");
    return v;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Median latency of one freeze of an n-element vector, over reps fresh vectors. */
static uint64_t freeze_latency(unsigned reps, size_t n)
{
    uint64_t t[64];
    reps = reps > 64 ? 64 : reps;
    for (unsigned r = 0; r < reps; r++) {
        cask_vec *v = filled(n, n);
        uint64_t t0 = cask_bench_now_ns();
        if (cask_vec_freeze(v) != 0)
            die("cask_vec_freeze failed");
        t[r] = cask_bench_now_ns() - t0;
        cask_vec_unref(v);
    }
    qsort(t, reps, sizeof(t[0]), cmp_u64);
    return t[reps / 2] ? t[reps / 2] : 1;
}

struct busy_ctx {
    cask_vec *v;
    _Atomic int go, pushing;
};

static void *busy_writer(void *arg)
{
    struct busy_ctx *c = arg;
    uint64_t x = 1;
    /* Relaxed: counters for the start line only; the vector orders the data. */
    atomic_fetch_add_explicit(&c->pushing, 1, memory_order_relaxed);
    while (!atomic_load_explicit(&c->go, memory_order_relaxed))
        ;
    while (cask_vec_push(c->v, &x, NULL) == 0)
        ;
    return NULL;
}

/* Median latency of a freeze while writers-1 threads push to the same vector. */
static uint64_t freeze_busy_latency(unsigned reps, unsigned threads)
{
    uint64_t t[64];
    reps = reps > 64 ? 64 : reps;
    unsigned writers = threads - 1;
    for (unsigned r = 0; r < reps; r++) {
        struct busy_ctx c;
        c.v = filled(GET_LEN, 0);
        atomic_init(&c.go, 0);
        atomic_init(&c.pushing, 0);
        pthread_t w[CASK_BENCH_MAX_THREADS];
        for (unsigned i = 0; i < writers; i++)
            if (pthread_create(&w[i], NULL, busy_writer, &c) != 0)
                die("pthread_create failed");
        while (atomic_load_explicit(&c.pushing, memory_order_relaxed) < (int)writers)
            ;
        atomic_store_explicit(&c.go, 1, memory_order_relaxed);
        while (cask_vec_length(c.v) < 2 * GET_LEN) /* the writers are well under way */
            ;
        uint64_t t0 = cask_bench_now_ns();
        if (cask_vec_freeze(c.v) != 0)
            die("cask_vec_freeze failed");
        t[r] = cask_bench_now_ns() - t0;
        for (unsigned i = 0; i < writers; i++)
            pthread_join(w[i], NULL);
        cask_vec_unref(c.v);
    }
    qsort(t, reps, sizeof(t[0]), cmp_u64);
    return t[reps / 2] ? t[reps / 2] : 1;
}

/* ---- main ---- */

static const cask_bench_result *find(const cask_bench_results *res, const char *bench,
                                     const char *impl, unsigned threads)
{
    for (size_t i = 0; i < res->count; i++)
        if (strcmp(res->rows[i].bench, bench) == 0 && strcmp(res->rows[i].impl, impl) == 0 &&
            res->rows[i].threads == threads)
            return &res->rows[i];
    return NULL;
}

/* Prints whether `ours` (a cask row) is at least `want` times as fast as `impl`. */
static void goal(const cask_bench_results *res, const char *bench, const char *ours,
                 const char *impl, unsigned threads, double want, const char *what)
{
    const cask_bench_result *c = find(res, bench, ours, threads), *o = find(res, bench, impl, threads);
    if (c == NULL || o == NULL)
        return;
    double ratio = o->ns_per_op / c->ns_per_op;
    printf("goal %s (%u threads): %s: %s/%s = %.2f (goal >= %.2f): %s\n", bench, threads, what,
           impl, ours, ratio, want, ratio >= want ? "met" : "NOT met");
}

int main(int argc, char **argv)
{
    cask_bench_options opt;
    int rc = cask_bench_parse_args(argc, argv, "1,2,8",
                                   "freezable vectors: cask vs a plain array and a mutex array",
                                   &opt);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    cask_bench_results results = {0};
    int status = 0;
    mallopt(M_MMAP_THRESHOLD, 128 * 1024); /* see vec.push above: fresh pages for both */
    struct get_ctx g;
    g.v = filled(GET_LEN, GET_LEN);
    if (cask_vec_freeze(g.v) != 0)
        die("cask_vec_freeze failed");
    g.data = cask_vec_frozen_data(g.v);
    g.array = malloc(GET_LEN * sizeof(uint64_t));
    if (g.array == NULL)
        die("out of memory");
    memcpy(g.array, g.data, GET_LEN * sizeof(uint64_t));
    const struct {
        const char *bench, *impl;
        cask_bench_worker worker;
        uint64_t ops;
        bool push;
    } rows[] = {
        {"vec.get", "cask", {NULL, get_cask, NULL}, 200000000, false},
        {"vec.get", "cask-data", {NULL, get_data, NULL}, 200000000, false},
        {"vec.get", "array", {NULL, get_array, NULL}, 200000000, false},
        {"vec.push", "cask", {push_setup, push_cask, push_teardown}, 4000000, true},
        {"vec.push", "mutex", {push_setup, push_mutex, push_teardown}, 4000000, true},
    };
    enum { ROWS = sizeof(rows) / sizeof(rows[0]) };
    /* The rows of one bench and thread count are measured together, their repetitions
     * interleaved (cask_bench_measure_group), so that the ratios the goals name are not the
     * load's drift between one row and the next: indexing cask_vec_frozen_data and indexing
     * the array are the same loop, yet measured one after the other they came out 0.71-1.33
     * apart on this machine. */
    static const char *const groups[] = {"vec.get", "vec.push"};
    for (size_t gi = 0; gi < 2 && !CHECKED_BINARY; gi++) {
        for (size_t t = 0; t < opt.thread_count; t++) {
            cask_bench_entry entries[ROWS];
            struct push_ctx pc[ROWS];
            size_t n = 0;
            for (size_t r = 0; r < ROWS; r++) {
                if (strcmp(rows[r].bench, groups[gi]) != 0 ||
                    !cask_bench_selected(&opt, rows[r].bench, rows[r].impl))
                    continue;
                memset(&pc[n], 0, sizeof(pc[n]));
                pthread_mutex_init(&pc[n].m.lock, NULL);
                entries[n] = (cask_bench_entry){rows[r].impl, &rows[r].worker,
                                                rows[r].push ? (void *)&pc[n] : (void *)&g,
                                                rows[r].ops};
                n++;
            }
            if (n == 0)
                continue;
            rc = cask_bench_measure_group(&opt, &results, groups[gi], opt.threads[t], n, entries);
            for (size_t e = 0; e < n; e++)
                pthread_mutex_destroy(&pc[e].m.lock);
            if (rc != 0) {
                fprintf(stderr, "vec_bench: %s with %u threads failed: %s\n", groups[gi],
                        opt.threads[t], strerror(-rc));
                status = 1;
            }
        }
    }
    const struct {
        const char *impl;
        cask_bench_worker worker;
    } reserved[] = {
        {"cask", {push_setup, push_cask, push_teardown}},
        {"mutex", {push_setup, push_mutex, push_teardown}},
    };
    for (size_t r = 0; r < 2 && !CHECKED_BINARY; r++) {
        for (size_t t = 0; t < opt.thread_count; t++) {
            if (!cask_bench_selected(&opt, "vec.push.reserved", reserved[r].impl))
                continue;
            struct push_ctx pc;
            memset(&pc, 0, sizeof(pc));
            pthread_mutex_init(&pc.m.lock, NULL);
            rc = measure_reserved(&opt, &results, reserved[r].impl, opt.threads[t],
                                  &reserved[r].worker, &pc, opt.quick ? 10000 : 1000000);
            pthread_mutex_destroy(&pc.m.lock);
            if (rc != 0) {
                fprintf(stderr, "vec_bench: vec.push.reserved/%s with %u threads failed: %s\n",
                        reserved[r].impl, opt.threads[t], strerror(-rc));
                status = 1;
            }
        }
    }
    cask_vec_unref(g.v);
    free(g.array);
    unsigned reps = opt.quick ? 3 : opt.reps * 4;
    if (cask_bench_selected(&opt, "vec.freeze.4K", CASK_IMPL))
        cask_bench_results_add(&results, "vec.freeze.4K", CASK_IMPL, 1, 1,
                               freeze_latency(reps, 4096));
    if (cask_bench_selected(&opt, "vec.freeze.4M", CASK_IMPL))
        cask_bench_results_add(&results, "vec.freeze.4M", CASK_IMPL, 1, 1,
                               freeze_latency(opt.quick ? 1 : opt.reps, (size_t)4 << 20));
    for (size_t t = 0; t < opt.thread_count; t++)
        if (opt.threads[t] >= 2 && cask_bench_selected(&opt, "vec.freeze.busy", CASK_IMPL))
            cask_bench_results_add(&results, "vec.freeze.busy", CASK_IMPL, opt.threads[t], 1,
                                   freeze_busy_latency(reps, opt.threads[t]));
    cask_bench_results_print(&results, "cask", stdout);
    if (CHECKED_BINARY) {
        printf("(vec.freeze.*: ns per freeze in a CASK_CHECKED=1 build: mprotect instead of a "
               "checksum)\n");
    } else {
        for (unsigned t = 1; t <= 2; t++) {
            goal(&results, "vec.get", "cask-data", "array", t, 1 / 1.1,
                 "frozen get (indexing cask_vec_frozen_data) within 1.1x of the array");
            goal(&results, "vec.get", "cask", "array", t, 1 / 1.1,
                 "cask_vec_get (state and bounds checked per call) within 1.1x of the array");
        }
        goal(&results, "vec.push", "cask", "mutex", 2, 2.0, "push at least 2x the mutex array");
        goal(&results, "vec.push.reserved", "cask", "mutex", 2, 2.0,
             "push into reserved room at least 2x the mutex array");
        printf("(vec.freeze.*: ns per freeze, opt build: checksum; see vec_checked_bench for "
               "the write-protecting build)\n");
    }
    if (opt.json_path != NULL && cask_bench_results_write_json(&results, opt.json_path) != 0)
        status = 1;
    cask_bench_results_free(&results);
    return status;
}
