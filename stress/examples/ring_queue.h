/*
 * ring_queue.h: a small user-written structure, to show how to put your own code under the cask
 * stress harness: a bounded multi-producer multi-consumer queue of uint64_t values, after Dmitry
 * Vyukov's bounded MPMC queue (1024cores.net). Nothing here is part of cask's library.
 *
 * Concurrency: ring_queue_push and ring_queue_pop may run concurrently from any number of
 * threads; init and destroy may not overlap anything.
 * Progress: blocking in theory (a producer preempted between its claim and its publication
 * holds up consumers of that cell), lock-free in practice; push and pop never wait: they report
 * full or empty instead.
 *
 * Built with -DRING_QUEUE_BROKEN=1, ring_queue.c has one bug on purpose; see its comment.
 */
#ifndef RING_QUEUE_H
#define RING_QUEUE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    _Atomic size_t seq; /* the turn of this cell: pos (free for the producer at pos), pos + 1
                         * (full for the consumer at pos) */
    uint64_t value;
} ring_cell;

typedef struct {
    ring_cell *cells;
    size_t mask;               /* capacity - 1; capacity is a power of two */
    _Atomic size_t enqueue_at; /* next position a producer claims */
    _Atomic size_t dequeue_at; /* next position a consumer claims */
} ring_queue;

/* Returns 0, or -1 if capacity is not a power of two >= 2 or memory is short. */
int ring_queue_init(ring_queue *q, size_t capacity);
void ring_queue_destroy(ring_queue *q);

/* Returns 0, or -1 (nothing changed) if the queue is full. */
int ring_queue_push(ring_queue *q, uint64_t value);

/* Returns 0 and sets *value, or -1 (nothing changed) if the queue is empty. */
int ring_queue_pop(ring_queue *q, uint64_t *value);

#endif
