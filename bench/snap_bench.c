/*
 * bench/snap_bench.c: RCU snapshot cells (include/cask/snap.h) against the usual alternatives.
 *
 *   bazel run --config=opt //bench:snap_bench -- [--threads=1,2] [--reps 5] [--quick] [--json F]
 *
 * Benches (ns per operation, per thread; see bench/bench.h for the columns):
 *   snap.read     one read of the current snapshot, reading one field through the pointer:
 *                   cask        cask_snap_read_begin + cask_snap_read + cask_snap_read_end (memb),
 *                               in a program that does not define _LGPL_SOURCE (the default:
 *                               the read section calls into liburcu's shared library)
 *                   cask-lgpl   the same in a program that defines _LGPL_SOURCE (its own
 *                               compilation unit, snap_bench_lgpl.c): liburcu's read side inline
 *                   cask-qsbr   the same on a QSBR cell, plus cask_snap_quiescent once every
 *                               64 reads (one event-loop turn of 64 requests), amortised
 *                   atomic      a plain acquire load of an _Atomic pointer: the floor, with no
 *                               reclamation at all (unsafe if the object is ever freed)
 *                   urcu        liburcu memb read lock + acquire load + unlock, done directly
 *                               (inline fast paths, _LGPL_SOURCE, in snap_bench_lgpl.c)
 *                   rwlock      pthread_rwlock_rdlock + load + unlock
 *                 The snapshot never changes during the bench: this is the read side alone.
 *   snap.publish  malloc a new version, fill it, replace the current one; cask frees the old one
 *                 through call_rcu and waits for every free at the end of each run (inside the
 *                 timed part); urcu does the same by hand (exchange + urcu_memb_call_rcu on an
 *                 rcu_head embedded in the version, so one malloc fewer than cask, which must
 *                 allocate a retirement record for an opaque object; urcu_memb_barrier at the
 *                 end); rwlock swaps under the write lock and frees at once on the same thread.
 *   snap.update   read-copy-update increment of a counter in the snapshot: cask_snap_update
 *                 (copy, compare-and-swap, retry) against copy + swap under the rwlock write lock.
 *
 * Goals (the project's 2-core machine, --config=opt): cask read at most 3 ns; at 2 threads at
 * least 10x faster than the rwlock (ratio column >= 10 on the rwlock row). QSBR is its own row.
 * The last lines sum up the read side: each flavour's ns per read and the rwlock's ratio to it.
 */
#define _GNU_SOURCE
#include <urcu/urcu-memb.h> /* no _LGPL_SOURCE here: call_rcu and barrier for the urcu rows */

#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "bench/snap_bench.h"

#ifdef CASK__SNAP_INLINE_MEMB
#error "snap_bench.c stands for a program without _LGPL_SOURCE"
#endif

typedef snap_bench_version version;

/* Relaxed: only written, so the timed loops are not dead code; nobody reads it. */
static _Atomic uint64_t sink;

void snap_bench_consume(uint64_t v)
{
    atomic_fetch_add_explicit(&sink, v, memory_order_relaxed);
}

static version *make(uint64_t value)
{
    version *v = malloc(sizeof(*v));
    if (v == NULL) {
        fprintf(stderr, "snap_bench: out of memory\n");
        exit(1);
    }
    v->value = value;
    for (int i = 0; i < 7; i++)
        v->body[i] = value + (uint64_t)i;
    return v;
}

static void free_version(void *p)
{
    free(p);
}

/* ---- snap.read ---- */

static void read_cask(void *arg, unsigned index, uint64_t ops)
{
    (void)index;
    struct snap_bench_ctx *c = arg;
    cask_snap *cell = c->cell;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < ops; i++) {
        cask_snap_read_begin(cell);
        sum += ((const version *)cask_snap_read(cell))->value;
        cask_snap_read_end(cell);
    }
    snap_bench_consume(sum);
}

static int qsbr_setup(void *arg, unsigned index)
{
    (void)arg;
    (void)index;
    cask_snap_qsbr_register();
    return 0;
}

static void qsbr_teardown(void *arg, unsigned index)
{
    (void)arg;
    (void)index;
    cask_snap_qsbr_unregister();
}

static void read_cask_qsbr(void *arg, unsigned index, uint64_t ops)
{
    (void)index;
    struct snap_bench_ctx *c = arg;
    cask_snap *cell = c->cell;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < ops; i++) {
        cask_snap_read_begin(cell);
        sum += ((const version *)cask_snap_read(cell))->value;
        cask_snap_read_end(cell);
        if ((i & 63) == 63)
            cask_snap_quiescent(); /* end of a 64-request loop turn */
    }
    snap_bench_consume(sum);
}

static void read_atomic(void *arg, unsigned index, uint64_t ops)
{
    (void)index;
    struct snap_bench_ctx *c = arg;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < ops; i++)
        sum += atomic_load_explicit(&c->plain, memory_order_acquire)->value; /* pairs with main's release store of the version */
    snap_bench_consume(sum);
}

static void read_rwlock(void *arg, unsigned index, uint64_t ops)
{
    (void)index;
    struct snap_bench_ctx *c = arg;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < ops; i++) {
        pthread_rwlock_rdlock(&c->lock);
        /* Relaxed: the lock orders it. */
        sum += atomic_load_explicit(&c->plain, memory_order_relaxed)->value;
        pthread_rwlock_unlock(&c->lock);
    }
    snap_bench_consume(sum);
}

/* ---- snap.publish / snap.update ---- */

static void publish_cask(void *arg, unsigned index, uint64_t ops)
{
    struct snap_bench_ctx *c = arg;
    for (uint64_t i = 0; i < ops; i++)
        if (cask_snap_publish(c->cell, make(i + index)) != 0)
            exit(1);
    cask_snap_barrier(); /* the frees are part of the cost */
}

/* A version with liburcu's rcu_head embedded, for the urcu publish row. */
struct urcu_version {
    version v;
    struct rcu_head head;
};

static void urcu_free_version(struct rcu_head *head)
{
    free((char *)head - offsetof(struct urcu_version, head));
}

static void publish_urcu(void *arg, unsigned index, uint64_t ops)
{
    struct snap_bench_ctx *c = arg;
    for (uint64_t i = 0; i < ops; i++) {
        struct urcu_version *fresh = malloc(sizeof(*fresh));
        if (fresh == NULL)
            exit(1);
        fresh->v.value = i + index;
        for (int k = 0; k < 7; k++)
            fresh->v.body[k] = i + (uint64_t)k;
        /* Release publishes fresh to readers; acquire takes over the old version. */
        version *old = atomic_exchange_explicit(&c->plain, &fresh->v, memory_order_acq_rel); /* pairs with readers' acquire and the previous exchange */
        urcu_memb_call_rcu(&((struct urcu_version *)(void *)old)->head, urcu_free_version);
    }
    urcu_memb_barrier();
}

static void publish_rwlock(void *arg, unsigned index, uint64_t ops)
{
    struct snap_bench_ctx *c = arg;
    for (uint64_t i = 0; i < ops; i++) {
        version *fresh = make(i + index);
        pthread_rwlock_wrlock(&c->lock);
        /* Relaxed: the lock orders it. */
        version *old = atomic_exchange_explicit(&c->plain, fresh, memory_order_relaxed);
        pthread_rwlock_unlock(&c->lock);
        free(old);
    }
}

static int increment(const void *current, void *arg, void **next)
{
    (void)arg;
    *next = make(((const version *)current)->value + 1);
    return 0;
}

static void update_cask(void *arg, unsigned index, uint64_t ops)
{
    (void)index;
    struct snap_bench_ctx *c = arg;
    for (uint64_t i = 0; i < ops; i++)
        if (cask_snap_update(c->cell, increment, NULL) != 0)
            exit(1);
    cask_snap_barrier();
}

static void update_rwlock(void *arg, unsigned index, uint64_t ops)
{
    (void)index;
    struct snap_bench_ctx *c = arg;
    for (uint64_t i = 0; i < ops; i++) {
        pthread_rwlock_wrlock(&c->lock);
        /* Relaxed: the lock orders it. */
        version *old = atomic_load_explicit(&c->plain, memory_order_relaxed);
        atomic_store_explicit(&c->plain, make(old->value + 1), memory_order_relaxed);
        pthread_rwlock_unlock(&c->lock);
        free(old);
    }
}

/* ---- The table ---- */

struct row {
    const char *bench;
    const char *impl;
    bool qsbr; /* cask-qsbr: the cell is a QSBR cell */
    cask_bench_worker worker;
    uint64_t ops;
};

static const struct row rows[] = {
    {"snap.read", "cask", false, {NULL, read_cask, NULL}, 50000000},
    {"snap.read", "cask-lgpl", false, {NULL, snap_bench_read_cask_lgpl, NULL}, 50000000},
    {"snap.read", "cask-qsbr", true, {qsbr_setup, read_cask_qsbr, qsbr_teardown}, 50000000},
    {"snap.read", "atomic", false, {NULL, read_atomic, NULL}, 50000000},
    {"snap.read", "urcu", false,
     {snap_bench_urcu_setup, snap_bench_read_urcu, snap_bench_urcu_teardown}, 50000000},
    {"snap.read", "rwlock", false, {NULL, read_rwlock, NULL}, 20000000},
    {"snap.publish", "cask", false, {NULL, publish_cask, NULL}, 2000000},
    {"snap.publish", "urcu", false,
     {snap_bench_urcu_setup, publish_urcu, snap_bench_urcu_teardown}, 2000000},
    {"snap.publish", "rwlock", false, {NULL, publish_rwlock, NULL}, 2000000},
    {"snap.update", "cask", false, {NULL, update_cask, NULL}, 2000000},
    {"snap.update", "rwlock", false, {NULL, update_rwlock, NULL}, 2000000},
};

/* ns per op of (bench, impl, threads) in results, or 0 if it was not measured. */
static double ns_of(const cask_bench_results *results, const char *bench, const char *impl,
                    unsigned threads)
{
    for (size_t i = 0; i < results->count; i++) {
        const cask_bench_result *r = &results->rows[i];
        if (r->threads == threads && strcmp(r->bench, bench) == 0 && strcmp(r->impl, impl) == 0)
            return r->ns_per_op;
    }
    return 0;
}

/* The read side in one line per thread count: each flavour's cost and the rwlock's ratio to it
 * (goal at 2 threads: rwlock / cask >= 10). */
static void summary(const cask_bench_results *results, const cask_bench_options *opt)
{
    static const char *const impls[] = {"cask", "cask-lgpl", "cask-qsbr"};
    for (size_t t = 0; t < opt->thread_count; t++) {
        unsigned threads = opt->threads[t];
        double rw = ns_of(results, "snap.read", "rwlock", threads);
        printf("snap.read %uT:", threads);
        for (size_t i = 0; i < sizeof(impls) / sizeof(impls[0]); i++) {
            double ns = ns_of(results, "snap.read", impls[i], threads);
            if (ns > 0 && rw > 0)
                printf("  %s %.2f ns (rwlock/%s %.1fx)", impls[i], ns, impls[i], rw / ns);
            else if (ns > 0)
                printf("  %s %.2f ns", impls[i], ns);
        }
        printf("\n");
    }
}

int main(int argc, char **argv)
{
    cask_bench_options opt;
    int rc = cask_bench_parse_args(argc, argv, "1,2",
                                   "RCU snapshots: cask (memb, qsbr) vs atomic, urcu, rwlock",
                                   &opt);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    cask_bench_results results = {0};
    int status = 0;
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        for (size_t t = 0; t < opt.thread_count; t++) {
            const struct row *row = &rows[r];
            unsigned threads = opt.threads[t];
            if (!cask_bench_selected(&opt, row->bench, row->impl))
                continue;
            struct snap_bench_ctx *c = aligned_alloc(64, sizeof(*c));
            if (c == NULL)
                return 1;
            memset(c, 0, sizeof(*c));
            version *first = make(1);
            rc = row->qsbr ? cask_snap_create_qsbr(first, free_version, &c->cell)
                           : cask_snap_create(first, free_version, &c->cell);
            if (rc != 0)
                return 1;
            struct urcu_version *plain = malloc(sizeof(*plain)); /* every row can free it */
            if (plain == NULL)
                return 1;
            plain->v = *first;
            /* Thread creation orders it too. */
            atomic_store_explicit(&c->plain, &plain->v, memory_order_release); /* pairs with the acquire loads of the atomic and urcu rows */
            pthread_rwlock_init(&c->lock, NULL);
            rc = cask_bench_measure(&opt, &results, row->bench, row->impl, threads, &row->worker,
                                    c, row->ops);
            if (rc != 0) {
                fprintf(stderr, "snap_bench: %s/%s with %u threads failed: %s\n", row->bench,
                        row->impl, threads, strerror(-rc));
                status = 1;
            }
            cask_snap_destroy(c->cell);
            cask_snap_barrier();
            free(atomic_load_explicit(&c->plain, memory_order_relaxed)); /* v is first: same address */
            pthread_rwlock_destroy(&c->lock);
            free(c);
        }
    }
    cask_bench_results_print(&results, "cask", stdout);
    printf("(cask-lgpl: the program defines _LGPL_SOURCE; cask-qsbr: QSBR flavour, one quiescent "
           "state per 64 reads; atomic: no reclamation)\n");
    summary(&results, &opt);
    if (opt.json_path != NULL && cask_bench_results_write_json(&results, opt.json_path) != 0)
        status = 1;
    cask_bench_results_free(&results);
    return status;
}
