/*
 * bench/hp_bench_ck.c: the Concurrency Kit (ck_hp, libck 0.7.1) rows of the hazard-pointer
 * benchmark (see hp_bench.h).
 *
 * Setup follows ck_hp.h: one ck_hp_t per measurement, ck_hp_init with degree 1 (one hazard per
 * thread is all protect_reset needs) and a reclaim threshold of 2 * 8 * threads + 128, the same
 * scan period cask uses (2H + 128 with 8 slots per thread), so both pay for a scan equally often
 * and keep the same garbage bound. Each thread index gets its own ck_hp_record_t and pointer
 * array, registered with ck_hp_register by the main thread in create (ck_hp_register is what a
 * thread must do before using ck_hp; it needs no thread identity, and registering up front keeps
 * the record list at exactly `threads` subscribers for the scans).
 *
 * protect_reset, the hazard-pointer protocol as ck's own users write it (ck_hp_fifo, ck_hp_stack):
 *   p = load(source); loop { ck_hp_set_fence(rec, 0, p); q = load(source); if q == p break; p = q }
 *   read through p; ck_hp_set(rec, 0, NULL)
 * On x86-64 (CK_MD_TSO) ck_hp_set_fence is an atomic exchange: the full fence is paid on every
 * protect, which is what cask's membarrier mode avoids.
 *
 * retire_reclaim: per operation ck_hp_free (push onto the thread's pending stack, and
 * ck_hp_reclaim once threshold objects are pending), then one ck_hp_reclaim at the end of run.
 *
 * ck's headers compile cleanly with -Wall -Wextra -Werror -std=c11 (gcc 12, clang 19), so no
 * diagnostic pragmas are needed. ck's atomics are inline asm, invisible to ThreadSanitizer: do not
 * read TSan reports from this file as cask bugs.
 */
#include <ck_hp.h>
#include <stdio.h>

#include "bench/hp_bench.h"

/* One thread's state, on its own cache lines (ck_hp_record_t is cache-line aligned itself). */
struct hp_ck_thread {
    ck_hp_record_t record;
    _Alignas(64) void *hazards[1]; /* the record's pointer array, degree 1 */
    _Alignas(64) hp_bench_pool pool;
};

struct hp_ck_ctx {
    ck_hp_t hp;
    _Atomic(void *) *source;
    struct hp_ck_thread *threads;
    unsigned count;
};

/* A retired object: the cell first (hp_bench_obj_reclaim needs it there), then ck's hazard. */
struct hp_ck_obj {
    hp_bench_cell cell;
    ck_hp_hazard_t hazard;
};

/* ck_hp's destructor: `data` is the object given to ck_hp_free. */
static void hp_ck_destroy_object(void *data)
{
    hp_bench_obj_reclaim(data);
}

/* Ring wait: the thread's pending objects are reclaimed only by its own scans; scan now. */
static void hp_ck_wait(void *record)
{
    ck_hp_reclaim(record);
}

/* hp_bench_impl.destroy: frees the pools, the records and the context. The ck_hp_t dies with
 * the context: no thread uses it any more and ck_hp has no destroy call. */
static void hp_ck_destroy(void *arg)
{
    struct hp_ck_ctx *c = arg;
    for (unsigned i = 0; i < c->count; i++)
        hp_bench_pool_fini(&c->threads[i].pool);
    free(c->threads);
    free(c);
}

/* hp_bench_impl.create: a ck_hp_t and one registered record and pool per thread index. */
static void *hp_ck_create(unsigned threads, _Atomic(void *) *source, bool pooled)
{
    struct hp_ck_ctx *c = aligned_alloc(64, (sizeof(*c) + 63) / 64 * 64);
    struct hp_ck_thread *ts = aligned_alloc(64, threads * sizeof(*ts));
    if (c == NULL || ts == NULL) {
        free(c);
        free(ts);
        fprintf(stderr, "hp_bench ck: out of memory\n");
        return NULL;
    }
    ck_hp_init(&c->hp, 1, 2 * 8 * threads + 128, hp_ck_destroy_object);
    c->source = source;
    c->threads = ts;
    c->count = 0;
    for (; c->count < threads; c->count++) {
        struct hp_ck_thread *t = &ts[c->count];
        if (hp_bench_pool_init(&t->pool, pooled, sizeof(struct hp_ck_obj), hp_ck_wait,
                               &t->record) != 0) {
            hp_ck_destroy(c);
            fprintf(stderr, "hp_bench ck: out of memory\n");
            return NULL;
        }
        ck_hp_register(&c->hp, &t->record, t->hazards);
    }
    return c;
}

/* Timed: ops x (fenced publish and validate, read through the pointer, clear the hazard). */
static void hp_ck_protect_run(void *arg, unsigned index, uint64_t ops)
{
    struct hp_ck_ctx *c = arg;
    ck_hp_record_t *record = &c->threads[index].record;
    _Atomic(void *) *source = c->source;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < ops; i++) {
        /* Relaxed: only a candidate; the load after the fenced publication validates it. */
        void *p = atomic_load_explicit(source, memory_order_relaxed);
        for (;;) {
            ck_hp_set_fence(record, 0, p);
            /* Acquire: pairs with main's release store of the source (the target's contents). */
            void *q = atomic_load_explicit(source, memory_order_acquire);
            if (q == p)
                break;
            p = q;
        }
        sum += ((const hp_bench_target *)p)->value;
        ck_hp_set(record, 0, NULL); /* ck's reset: a plain (volatile) store, as in ck_hp_fifo */
    }
    hp_bench_consume(sum);
}

/* Timed: ops x (take, write, ck_hp_free), then one ck_hp_reclaim for what is still pending. */
static void hp_ck_retire_run(void *arg, unsigned index, uint64_t ops)
{
    struct hp_ck_ctx *c = arg;
    struct hp_ck_thread *t = &c->threads[index];
    for (uint64_t i = 0; i < ops; i++) {
        struct hp_ck_obj *o = (struct hp_ck_obj *)hp_bench_obj_new(&t->pool);
        o->cell.payload = i;
        ck_hp_free(&t->record, &o->hazard, o, o);
    }
    ck_hp_reclaim(&t->record); /* nothing is protected: frees everything still pending */
}

const hp_bench_impl hp_bench_ck_impl = {
    .name = "ck",
    .create = hp_ck_create,
    .destroy = hp_ck_destroy,
    .protect_reset = {NULL, hp_ck_protect_run, NULL},
    .retire_reclaim = {NULL, hp_ck_retire_run, NULL},
};
