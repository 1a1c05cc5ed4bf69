/*
 * bench/queue_impls.h: one queue implementation as bench/queue_bench.c drives it, and the table
 * of them (bench/queue_impls.c).
 */
#ifndef CASK_BENCH_QUEUE_IMPLS_H
#define CASK_BENCH_QUEUE_IMPLS_H

#include <stdbool.h>
#include <stddef.h>

/* One implementation: a queue of non-NULL pointers. */
typedef struct qimpl {
    const char *name;
    void *(*create)(unsigned threads);
    void (*destroy)(void *q);
    void (*thread_enter)(void *q, unsigned index); /* per benchmark thread, untimed */
    void (*thread_leave)(void *q, unsigned index);
    void (*push)(void *q, unsigned index, void *item);
    void *(*pop)(void *q, unsigned index); /* NULL: empty */
    void *(*pop_wait)(void *q, unsigned index); /* blocking pop, or NULL: not in queue.1p1c.blocking */
    bool blocking_only; /* only in queue.1p1c.blocking */
    bool reference;     /* measured, but not a peer for the goals (ck_ring: queue_bench.c) */
    bool floor_only;    /* only in queue.floor (the rmwK rows) */
} qimpl;

#define QUEUE_IMPLS_MAX 16

/* Every implementation, in the order of the bench's rows. */
extern const qimpl queue_impls[];
extern const size_t queue_impl_count;

#endif /* CASK_BENCH_QUEUE_IMPLS_H */
