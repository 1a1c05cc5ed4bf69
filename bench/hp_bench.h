/*
 * bench/hp_bench.h: private to the hazard-pointer benchmark (//bench:hp_bench).
 *
 * Each implementation (cask, ck, urcu, mutex) lives in its own hp_bench_<impl>.c and exports one
 * hp_bench_impl: a context constructor and one cask_bench_worker per bench. hp_bench.c runs every
 * (bench, thread count, implementation) and prints the table.
 *
 * The benches (ns per operation, per thread):
 *   hp.protect_reset            protect a pointer loaded from a shared _Atomic(void *) source,
 *                               read through it, stop protecting. The source never changes, so
 *                               this is the reader's fast path; the target is read-only, so
 *                               threads share its cache line without contention.
 *   hp.retire_reclaim           malloc an object, write it, retire it with a reclaim function
 *                               that frees it; each thread drains its own garbage at the end,
 *                               inside the timed part, so the cost includes every scan and free.
 *   hp.retire_reclaim_nomalloc  the same with objects taken from a per-thread ring of
 *                               HP_BENCH_RING_SIZE cells instead of malloc: reclaim marks the cell
 *                               free, and taking a cell that is still live waits (impl->wait)
 *                               until it is reclaimed. So this is retire + reclaim without the
 *                               allocator, under a memory bound of one ring per thread.
 *                               (For urcu this bound is what dominates: see hp_bench_urcu.c.)
 *
 * Threads: everything here is called by the benchmark threads of one measurement except
 * create/destroy, which the main thread calls before and after it.
 */
#ifndef CASK_BENCH_HP_BENCH_H
#define CASK_BENCH_HP_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "bench/bench.h"

#define HP_BENCH_RING_SIZE 4096 /* cells per thread in the nomalloc variant; a power of two,
                                 * well above cask's and ck's scan threshold for 2 threads */

/* What the protect bench's source points to. */
typedef struct hp_bench_target {
    uint64_t value;
} hp_bench_target;

/*
 * The first member of every retired object (so a pointer to the object is a pointer to its
 * cell, C11 6.7.2.1p15). `live` is used only for ring cells.
 */
typedef struct hp_bench_cell {
    _Atomic unsigned live; /* ring cells: 1 from take to reclaim, 0 otherwise */
    bool pooled;           /* true: a ring cell (reclaim marks it free); false: malloc'd */
    uint64_t payload;      /* written by the retiring thread, like a real node's contents */
} hp_bench_cell;

/*
 * Where one thread gets its objects: malloc (cells == NULL) or a ring of HP_BENCH_RING_SIZE
 * cells of `stride` bytes each.
 */
typedef struct hp_bench_pool {
    unsigned char *cells; /* NULL: malloc mode */
    size_t object_size;   /* bytes per object */
    size_t stride;        /* object_size rounded up to a cache line, ring mode only */
    size_t next;          /* next ring index to take */
    void (*wait)(void *arg); /* called while the next ring cell is still live */
    void *wait_arg;
} hp_bench_pool;

/* One implementation of the benches. */
typedef struct hp_bench_impl {
    const char *name; /* the "impl" column */
    /*
     * Creates the state for one measurement with `threads` threads. `source` is the shared
     * pointer protect_reset protects (already published); `pooled` selects ring objects for
     * retire_reclaim. Returns NULL (after printing why) if it could not be set up.
     */
    void *(*create)(unsigned threads, _Atomic(void *) *source, bool pooled);
    void (*destroy)(void *ctx); /* after the measurement; every object has been reclaimed */
    cask_bench_worker protect_reset;
    cask_bench_worker retire_reclaim;
} hp_bench_impl;

extern const hp_bench_impl hp_bench_cask_impl;
extern const hp_bench_impl hp_bench_ck_impl;
extern const hp_bench_impl hp_bench_urcu_impl;
extern const hp_bench_impl hp_bench_mutex_impl;

/*
 * hp_bench_consume - fold a value computed by the timed loop into a global sink, so the compiler
 * cannot delete the loop. Call once per run, not per operation. Context: any thread.
 */
void hp_bench_consume(uint64_t value);

/*
 * hp_bench_die - print "hp_bench: <what>" to stderr and exit(1). For failures a benchmark cannot
 * work around (out of memory inside a timed loop). Context: any thread.
 */
_Noreturn void hp_bench_die(const char *what);

/*
 * hp_bench_pool_init - set up a thread's pool: a ring of HP_BENCH_RING_SIZE cells if `pooled`,
 * else malloc mode. `object_size` is sizeof the implementation's object (which starts with an
 * hp_bench_cell); `wait(wait_arg)` is called while the next ring cell is still live and must
 * eventually get it reclaimed. Returns 0, or -ENOMEM (pool then in malloc mode, owning nothing).
 * Context: the main thread, in create. Memory: release with hp_bench_pool_fini.
 */
int hp_bench_pool_init(hp_bench_pool *pool, bool pooled, size_t object_size,
                       void (*wait)(void *arg), void *wait_arg);

/*
 * hp_bench_pool_fini - free the ring (if any). Every cell must have been reclaimed.
 * Context: the main thread, in destroy.
 */
void hp_bench_pool_fini(hp_bench_pool *pool);

/*
 * hp_bench_obj_new - an object of pool->object_size bytes whose cell is initialised (live, its
 * `pooled` flag set), from the ring or from malloc. Exits through hp_bench_die if malloc fails.
 * Context: the thread that owns the pool. May call pool->wait (ring mode) until the cell is free.
 */
static inline hp_bench_cell *hp_bench_obj_new(hp_bench_pool *pool)
{
    if (pool->cells == NULL) {
        hp_bench_cell *c = malloc(pool->object_size);
        if (c == NULL)
            hp_bench_die("out of memory allocating a retired object");
        c->pooled = false;
        return c;
    }
    hp_bench_cell *c = (hp_bench_cell *)(void *)(pool->cells + pool->next * pool->stride);
    pool->next = (pool->next + 1) & (HP_BENCH_RING_SIZE - 1);
    /* Acquire: pairs with the release store in hp_bench_obj_reclaim, so the reclaimer (perhaps
     * another thread) has finished with the cell before we write it again. */
    while (atomic_load_explicit(&c->live, memory_order_acquire) != 0)
        pool->wait(pool->wait_arg);
    /* Relaxed: the retire that follows publishes the cell to whoever reclaims it. */
    atomic_store_explicit(&c->live, 1, memory_order_relaxed);
    return c;
}

/*
 * hp_bench_obj_reclaim - what every implementation's reclaim function does with an object from
 * hp_bench_obj_new: free it (malloc mode) or give its ring cell back.
 * Context: any thread, once per object, after the object's last use.
 */
static inline void hp_bench_obj_reclaim(void *object)
{
    hp_bench_cell *c = object;
    if (!c->pooled)
        free(c);
    else
        /* Release: pairs with the acquire load in hp_bench_obj_new (cell may be reused). */
        atomic_store_explicit(&c->live, 0, memory_order_release);
}

#endif /* CASK_BENCH_HP_BENCH_H */
