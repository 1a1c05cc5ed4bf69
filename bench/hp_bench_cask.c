/*
 * bench/hp_bench_cask.c: the cask rows of the hazard-pointer benchmark (see hp_bench.h).
 *
 * protect_reset: each thread acquires one slot of cask_hp_default_domain() in setup, then per
 * operation calls cask_hp_protect on the shared source, reads the target through the returned
 * pointer and calls cask_hp_reset. Only the public API of cask/hp.h is used.
 *
 * retire_reclaim: per operation, take an object (malloc or ring), write it, cask_hp_retire it on
 * the default domain with a reclaim function that frees it; cask_hp_drain at the end of run, so
 * the thread leaves nothing retired behind (its scans and frees are all inside the timed part).
 * Scans happen inside cask_hp_retire every 2H + 128 retires (see hp.h), H = 8 per thread record.
 */
#include <errno.h>
#include <stdio.h>

#include "bench/hp_bench.h"
#include "cask/hp.h"

/* One thread's state, on its own cache line. */
struct hp_cask_thread {
    _Alignas(64) hp_bench_pool pool;
    cask_hp_slot *slot;
};

struct hp_cask_ctx {
    _Atomic(void *) *source;
    struct hp_cask_thread *threads;
    unsigned count;
};

/* A retired object: the cell first (hp_bench_obj_reclaim needs it there), then cask's node. */
struct hp_cask_obj {
    hp_bench_cell cell;
    cask_hp_retired node;
};

/* Ring wait: a cell is still live only if its thread has not scanned since; scan now. */
static void hp_cask_wait(void *unused)
{
    (void)unused;
    cask_hp_drain(cask_hp_default_domain());
}

/* cask_hp_reclaim_fn: frees the object (or gives its ring cell back); runs in a scan. */
static void hp_cask_reclaim(void *object)
{
    hp_bench_obj_reclaim(object);
}

/* hp_bench_impl.destroy: frees the pools and the context (also undoes a partial create). */
static void hp_cask_destroy(void *arg)
{
    struct hp_cask_ctx *c = arg;
    for (unsigned i = 0; i < c->count; i++)
        hp_bench_pool_fini(&c->threads[i].pool);
    free(c->threads);
    free(c);
}

/* hp_bench_impl.create: one pool per thread; slots are acquired by the threads themselves. */
static void *hp_cask_create(unsigned threads, _Atomic(void *) *source, bool pooled)
{
    struct hp_cask_ctx *c = calloc(1, sizeof(*c));
    struct hp_cask_thread *ts = aligned_alloc(64, threads * sizeof(*ts));
    if (c == NULL || ts == NULL) {
        free(c);
        free(ts);
        fprintf(stderr, "hp_bench cask: out of memory\n");
        return NULL;
    }
    c->source = source;
    c->threads = ts;
    for (; c->count < threads; c->count++) {
        ts[c->count].slot = NULL;
        if (hp_bench_pool_init(&ts[c->count].pool, pooled, sizeof(struct hp_cask_obj),
                               hp_cask_wait, NULL) != 0) {
            hp_cask_destroy(c);
            fprintf(stderr, "hp_bench cask: out of memory\n");
            return NULL;
        }
    }
    return c;
}

/* Takes this thread's hazard slot (untimed). Returns 0 or -ENOMEM. */
static int hp_cask_protect_setup(void *arg, unsigned index)
{
    struct hp_cask_ctx *c = arg;
    return cask_hp_slot_acquire(cask_hp_default_domain(), &c->threads[index].slot) == 0
               ? 0
               : -ENOMEM; /* the only way acquire fails with valid arguments */
}

/* Timed: ops x (protect, read through the pointer, reset). */
static void hp_cask_protect_run(void *arg, unsigned index, uint64_t ops)
{
    struct hp_cask_ctx *c = arg;
    cask_hp_slot *slot = c->threads[index].slot;
    _Atomic(void *) *source = c->source;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < ops; i++) {
        /* protect's validating load is acquire: pairs with main's release store of the source. */
        const hp_bench_target *t = cask_hp_protect(slot, source);
        sum += t->value; /* the read the protection is for; reset's release store keeps it
                          * before the reset */
        cask_hp_reset(slot);
    }
    hp_bench_consume(sum);
}

/* Gives the slot back before the thread exits (cask checks that it is). */
static void hp_cask_protect_teardown(void *arg, unsigned index)
{
    struct hp_cask_ctx *c = arg;
    cask_hp_slot_release(c->threads[index].slot);
    c->threads[index].slot = NULL;
}

/* Binds the thread to the domain (its first use allocates), so the timed part does not pay. */
static int hp_cask_retire_setup(void *arg, unsigned index)
{
    (void)arg;
    (void)index;
    cask_hp_drain(cask_hp_default_domain());
    return 0;
}

/* Timed: ops x (take, write, retire), then drain this thread's garbage. */
static void hp_cask_retire_run(void *arg, unsigned index, uint64_t ops)
{
    struct hp_cask_ctx *c = arg;
    hp_bench_pool *pool = &c->threads[index].pool;
    cask_hp_domain *domain = cask_hp_default_domain();
    for (uint64_t i = 0; i < ops; i++) {
        struct hp_cask_obj *o = (struct hp_cask_obj *)hp_bench_obj_new(pool);
        o->cell.payload = i;
        cask_hp_retire(domain, &o->node, o, hp_cask_reclaim);
    }
    cask_hp_drain(domain); /* nothing is protected: reclaims everything this thread retired */
}

const hp_bench_impl hp_bench_cask_impl = {
    .name = "cask",
    .create = hp_cask_create,
    .destroy = hp_cask_destroy,
    .protect_reset = {hp_cask_protect_setup, hp_cask_protect_run, hp_cask_protect_teardown},
    .retire_reclaim = {hp_cask_retire_setup, hp_cask_retire_run, NULL},
};
