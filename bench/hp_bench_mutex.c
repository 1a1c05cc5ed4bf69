/*
 * bench/hp_bench_mutex.c: the pthread mutex rows of the hazard-pointer benchmark (see
 * hp_bench.h): what the same work costs with one lock and no deferred reclamation.
 *
 *   protect_reset   pthread_mutex_lock; p = load(source); read through p; pthread_mutex_unlock
 *   retire_reclaim  take an object (outside the lock), write it; lock; free it; unlock
 *                   (under a lock nobody can be reading it, so it is freed at once)
 * One mutex per measurement, shared by all its threads (default attributes, as a plain
 * "protect the structure with a lock" design would use).
 */
#include <pthread.h>
#include <stdio.h>

#include "bench/hp_bench.h"

/* One thread's state, on its own cache line. */
struct hp_mutex_thread {
    _Alignas(64) hp_bench_pool pool;
};

struct hp_mutex_ctx {
    _Alignas(64) pthread_mutex_t lock;
    _Atomic(void *) *source;
    struct hp_mutex_thread *threads;
    unsigned count;
};

/* A retired object: just the cell (nothing else is needed to free it under the lock). */
struct hp_mutex_obj {
    hp_bench_cell cell;
};

/* Ring wait: never called (each object is reclaimed before the next is taken); spins if it is. */
static void hp_mutex_wait(void *unused)
{
    (void)unused;
}

/* hp_bench_impl.destroy: frees the pools, the mutex and the context. */
static void hp_mutex_destroy(void *arg)
{
    struct hp_mutex_ctx *c = arg;
    for (unsigned i = 0; i < c->count; i++)
        hp_bench_pool_fini(&c->threads[i].pool);
    pthread_mutex_destroy(&c->lock);
    free(c->threads);
    free(c);
}

/* hp_bench_impl.create: the shared mutex and one pool per thread. */
static void *hp_mutex_create(unsigned threads, _Atomic(void *) *source, bool pooled)
{
    struct hp_mutex_ctx *c = aligned_alloc(64, (sizeof(*c) + 63) / 64 * 64);
    struct hp_mutex_thread *ts = aligned_alloc(64, threads * sizeof(*ts));
    if (c == NULL || ts == NULL || pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        free(ts);
        fprintf(stderr, "hp_bench mutex: out of memory\n");
        return NULL;
    }
    c->source = source;
    c->threads = ts;
    c->count = 0;
    for (; c->count < threads; c->count++) {
        if (hp_bench_pool_init(&ts[c->count].pool, pooled, sizeof(struct hp_mutex_obj),
                               hp_mutex_wait, NULL) != 0) {
            hp_mutex_destroy(c);
            fprintf(stderr, "hp_bench mutex: out of memory\n");
            return NULL;
        }
    }
    return c;
}

/* Timed: ops x (lock, load, read through the pointer, unlock). */
static void hp_mutex_protect_run(void *arg, unsigned index, uint64_t ops)
{
    (void)index;
    struct hp_mutex_ctx *c = arg;
    _Atomic(void *) *source = c->source;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < ops; i++) {
        pthread_mutex_lock(&c->lock);
        /* Relaxed: the mutex orders this load; main's release store of the source happened
         * before the threads started. */
        const hp_bench_target *t = atomic_load_explicit(source, memory_order_relaxed);
        sum += t->value;
        pthread_mutex_unlock(&c->lock);
    }
    hp_bench_consume(sum);
}

/* Timed: ops x (take, write, lock, free, unlock). */
static void hp_mutex_retire_run(void *arg, unsigned index, uint64_t ops)
{
    struct hp_mutex_ctx *c = arg;
    hp_bench_pool *pool = &c->threads[index].pool;
    for (uint64_t i = 0; i < ops; i++) {
        hp_bench_cell *o = hp_bench_obj_new(pool);
        o->payload = i;
        pthread_mutex_lock(&c->lock);
        hp_bench_obj_reclaim(o);
        pthread_mutex_unlock(&c->lock);
    }
}

const hp_bench_impl hp_bench_mutex_impl = {
    .name = "mutex",
    .create = hp_mutex_create,
    .destroy = hp_mutex_destroy,
    .protect_reset = {NULL, hp_mutex_protect_run, NULL},
    .retire_reclaim = {NULL, hp_mutex_retire_run, NULL},
};
