/*
 * ring_queue.c: the bounded MPMC queue (see ring_queue.h), and its broken twin.
 *
 * Built with -DRING_QUEUE_BROKEN=1 it has ONE BUG, on purpose: a consumer claims its position
 * with a separate store instead of a compare-and-swap, so two consumers can claim the same
 * position and both return its value (and the next lap's producer may overwrite a value nobody
 * took). Every access is still atomic or ordered by the cells' sequence numbers, so most runs
 * give ThreadSanitizer nothing to report: checking what the queue returned is what catches it.
 *
 * Each cell carries a sequence number that says whose turn it is. A producer claims position pos
 * with a CAS on enqueue_at once the cell's seq == pos, writes the value, and publishes with a
 * release store seq = pos + 1; a consumer claims pos with a CAS on dequeue_at once seq == pos + 1,
 * reads the value, and frees the cell for the next lap with a release store seq = pos + capacity.
 * Linearization points: the successful CAS of each operation (the failed-full/empty reports at
 * their acquire load of seq).
 *
 * CASK_NOISE_POINT marks the steps, so the harness can interleave other threads there.
 */
#include "stress/examples/ring_queue.h"

#include <stdlib.h>

#ifndef RING_QUEUE_BROKEN
#define RING_QUEUE_BROKEN 0
#endif

#include "stress/harness.h"

int ring_queue_init(ring_queue *q, size_t capacity)
{
    if (capacity < 2 || (capacity & (capacity - 1)) != 0)
        return -1;
    q->cells = malloc(capacity * sizeof(*q->cells));
    if (q->cells == NULL)
        return -1;
    for (size_t i = 0; i < capacity; i++) {
        atomic_init(&q->cells[i].seq, i);
        q->cells[i].value = 0;
    }
    q->mask = capacity - 1;
    atomic_init(&q->enqueue_at, 0);
    atomic_init(&q->dequeue_at, 0);
    return 0;
}

void ring_queue_destroy(ring_queue *q)
{
    free(q->cells);
}

int ring_queue_push(ring_queue *q, uint64_t value)
{
    size_t pos = atomic_load_explicit(&q->enqueue_at, memory_order_relaxed);
    ring_cell *cell;
    for (;;) {
        cell = &q->cells[pos & q->mask];
        /* Acquire: pairs with the consumer's release store that freed the cell. */
        size_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
        CASK_NOISE_POINT("ring.push.seq_loaded");
        intptr_t dif = (intptr_t)seq - (intptr_t)pos;
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->enqueue_at, &pos, pos + 1,
                                                      memory_order_relaxed, memory_order_relaxed))
                break;
        } else if (dif < 0) {
            return -1; /* full */
        } else {
            pos = atomic_load_explicit(&q->enqueue_at, memory_order_relaxed);
        }
    }
    CASK_NOISE_POINT("ring.push.claimed");
    cell->value = value;
    /* Release: pairs with the consumer's acquire load of seq (the value is visible). */
    atomic_store_explicit(&cell->seq, pos + 1, memory_order_release);
    return 0;
}

int ring_queue_pop(ring_queue *q, uint64_t *value)
{
    size_t pos = atomic_load_explicit(&q->dequeue_at, memory_order_relaxed);
    ring_cell *cell;
    for (;;) {
        cell = &q->cells[pos & q->mask];
        /* Acquire: pairs with the producer's release store that published the value. */
        size_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
        CASK_NOISE_POINT("ring.pop.seq_loaded");
        intptr_t dif = (intptr_t)seq - (intptr_t)(pos + 1);
        if (dif == 0) {
#if RING_QUEUE_BROKEN
            CASK_NOISE_POINT("ring.pop.before_claim");
            atomic_store_explicit(&q->dequeue_at, pos + 1, memory_order_relaxed); /* THE BUG */
            break;
#else
            if (atomic_compare_exchange_weak_explicit(&q->dequeue_at, &pos, pos + 1,
                                                      memory_order_relaxed, memory_order_relaxed))
                break;
#endif
        } else if (dif < 0) {
            return -1; /* empty */
        } else {
            pos = atomic_load_explicit(&q->dequeue_at, memory_order_relaxed);
        }
    }
    CASK_NOISE_POINT("ring.pop.claimed");
    *value = cell->value;
    /* Release: pairs with the next producer's acquire load (our read happens first). */
    atomic_store_explicit(&cell->seq, pos + q->mask + 1, memory_order_release);
    return 0;
}
