/*
 * bench/hp_bench_urcu.c: the liburcu rows of the hazard-pointer benchmark (see hp_bench.h),
 * memb flavour (liburcu 0.13.2, -lurcu is the memb flavour).
 *
 * RCU is not hazard pointers, but it is what a C programmer would otherwise use to let readers
 * run while writers unlink and free, so it is the natural peer for both halves:
 *   protect_reset   urcu_memb_read_lock(); p = load(source); read through p;
 *                   urcu_memb_read_unlock()  (inline fast paths: _LGPL_SOURCE, below; like
 *                   cask, the memb flavour publishes with a compiler barrier and leaves the
 *                   real fence to membarrier() in the grace period)
 *   retire_reclaim  urcu_memb_call_rcu(&obj->head, free callback) per object, one
 *                   urcu_memb_barrier() at the end of run, inside the timed part, which waits
 *                   until every callback queued so far has run. The callbacks run on liburcu's
 *                   call_rcu worker thread, which competes with the benchmark threads for the
 *                   two cores; that is part of what call_rcu costs.
 * Each benchmark thread registers with urcu_memb_register_thread in setup (required before
 * read_lock and call_rcu) and unregisters in teardown.
 *
 * In the nomalloc variant a ring cell that is still live waits with sched_yield, letting the
 * call_rcu worker (which frees cells after a grace period) run. Read that row with care: after
 * each batch liburcu's call_rcu worker sleeps 10 ms (poll(NULL, 0, 10) in its loop) to gather
 * the next batch, so with HP_BENCH_RING_SIZE cells per thread the throughput is at most one
 * ring per 10 ms (about 2.5 us per operation). It measures that design choice (call_rcu trades
 * a memory bound for batching), not the CPU cost of call_rcu, which the malloc row shows.
 */
#define _LGPL_SOURCE /* liburcu's documented switch (reserved-looking name is theirs) for the
                      * static inline read-side fast paths: this file is LGPL-compatible */
#include <urcu/urcu-memb.h>

#include <sched.h>
#include <stddef.h>
#include <stdio.h>

#include "bench/hp_bench.h"

/* One thread's state, on its own cache line. */
struct hp_urcu_thread {
    _Alignas(64) hp_bench_pool pool;
};

struct hp_urcu_ctx {
    _Atomic(void *) *source;
    struct hp_urcu_thread *threads;
    unsigned count;
};

/* A retired object: the cell first (hp_bench_obj_reclaim needs it there), then the rcu_head. */
struct hp_urcu_obj {
    hp_bench_cell cell;
    struct rcu_head head;
};

/* call_rcu callback, on the call_rcu worker thread after a grace period. */
static void hp_urcu_reclaim(struct rcu_head *head)
{
    /* Back from the member to the object (liburcu's caa_container_of, in standard C). */
    hp_bench_obj_reclaim((char *)head - offsetof(struct hp_urcu_obj, head));
}

/* Ring wait: the cell is freed by the call_rcu worker; give it the CPU. */
static void hp_urcu_wait(void *unused)
{
    (void)unused;
    sched_yield();
}

/* hp_bench_impl.destroy: frees the pools and the context. */
static void hp_urcu_destroy(void *arg)
{
    struct hp_urcu_ctx *c = arg;
    for (unsigned i = 0; i < c->count; i++)
        hp_bench_pool_fini(&c->threads[i].pool);
    free(c->threads);
    free(c);
}

/* hp_bench_impl.create: one pool per thread. */
static void *hp_urcu_create(unsigned threads, _Atomic(void *) *source, bool pooled)
{
    struct hp_urcu_ctx *c = calloc(1, sizeof(*c));
    struct hp_urcu_thread *ts = aligned_alloc(64, threads * sizeof(*ts));
    if (c == NULL || ts == NULL) {
        free(c);
        free(ts);
        fprintf(stderr, "hp_bench urcu: out of memory\n");
        return NULL;
    }
    c->source = source;
    c->threads = ts;
    for (; c->count < threads; c->count++) {
        if (hp_bench_pool_init(&ts[c->count].pool, pooled, sizeof(struct hp_urcu_obj),
                               hp_urcu_wait, NULL) != 0) {
            hp_urcu_destroy(c);
            fprintf(stderr, "hp_bench urcu: out of memory\n");
            return NULL;
        }
    }
    return c;
}

/* Registers the thread as an RCU reader (untimed); needed for read_lock and call_rcu. */
static int hp_urcu_setup(void *arg, unsigned index)
{
    (void)arg;
    (void)index;
    urcu_memb_register_thread();
    return 0;
}

/* Unregisters the thread before it exits. */
static void hp_urcu_teardown(void *arg, unsigned index)
{
    (void)arg;
    (void)index;
    urcu_memb_unregister_thread();
}

/* Timed: ops x (read_lock, load, read through the pointer, read_unlock). */
static void hp_urcu_protect_run(void *arg, unsigned index, uint64_t ops)
{
    (void)index;
    struct hp_urcu_ctx *c = arg;
    _Atomic(void *) *source = c->source;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < ops; i++) {
        urcu_memb_read_lock();
        /* Acquire (rcu_dereference's job): pairs with main's release store of the source. */
        const hp_bench_target *t = atomic_load_explicit(source, memory_order_acquire);
        sum += t->value;
        urcu_memb_read_unlock();
    }
    hp_bench_consume(sum);
}

/* Timed: ops x (take, write, call_rcu), then rcu_barrier until every callback has run. */
static void hp_urcu_retire_run(void *arg, unsigned index, uint64_t ops)
{
    struct hp_urcu_ctx *c = arg;
    hp_bench_pool *pool = &c->threads[index].pool;
    for (uint64_t i = 0; i < ops; i++) {
        struct hp_urcu_obj *o = (struct hp_urcu_obj *)hp_bench_obj_new(pool);
        o->cell.payload = i;
        urcu_memb_call_rcu(&o->head, hp_urcu_reclaim);
    }
    urcu_memb_barrier(); /* waits for every callback queued before it, from any thread */
}

const hp_bench_impl hp_bench_urcu_impl = {
    .name = "urcu",
    .create = hp_urcu_create,
    .destroy = hp_urcu_destroy,
    .protect_reset = {hp_urcu_setup, hp_urcu_protect_run, hp_urcu_teardown},
    .retire_reclaim = {hp_urcu_setup, hp_urcu_retire_run, hp_urcu_teardown},
};
