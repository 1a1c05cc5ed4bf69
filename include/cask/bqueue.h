/*
 * cask/bqueue.h: a bounded multi-producer multi-consumer FIFO queue of `void *` items, with a
 * capacity fixed at creation, no allocation after creation, and close with a reason.
 *
 * Use it where memory must stay bounded and producers must feel back-pressure: try_push says
 * CASK_EFULL, push waits (with a timeout) for room. Close works as for cask/queue.h: after it,
 * pushes fail with CASK_ECLOSED, pops still return every accepted item and then CASK_ECLOSED,
 * every sleeper (producer or consumer) wakes, and both ends can read the reason.
 *
 * Concurrency table ("yes": the two calls may run at the same time from different threads on the
 * same queue):
 *
 *                  try_push  push  try_pop  pop   close  closed  length  destroy
 *   try_push         yes     yes    yes     yes    yes    yes     yes     no
 *   push             yes     yes    yes     yes    yes    yes     yes     no
 *   try_pop          yes     yes    yes     yes    yes    yes     yes     no
 *   pop              yes     yes    yes     yes    yes    yes     yes     no
 *   close            yes     yes    yes     yes    yes    yes     yes     no
 *   closed/length    yes     yes    yes     yes    yes    yes     yes     no
 *   destroy          no      no     no      no     no     no      no      no
 *
 * Progress: try_push and try_pop are lock-free (Nikolaev's SCQ: single-width CAS and FAA only;
 * a producer or consumer paused in the middle of an operation never stops the others from
 * completing), and never allocate. A call paused in the middle holds one unit of capacity until
 * it goes on (the slot it took for its item, or the one it emptied): with k calls paused,
 * pushes may say CASK_EFULL when capacity - k items are queued. push and pop block: they spin briefly, then sleep on a futex. Close included:
 * once close has returned, pops return the items accepted before it and then CASK_ECLOSED,
 * without waiting for a producer paused in the middle of try_push (that push is then refused
 * with CASK_ECLOSED, or its item was accepted and is among those returned; a pop paused in the
 * middle of try_pop may still return an item after others said CASK_ECLOSED: it had claimed
 * that item's place before they answered). Under contention a call may return
 * CASK_QUEUE_BACKOFF_NS late, after it took effect: the contention backoff of cask/queue.h; a
 * try_pop that finds the queue empty again right after this thread's previous one did may
 * return CASK_QUEUE_EMPTY_PAUSE_NS late (the empty-poll pause, also there).
 *
 * Memory: everything is allocated by create (about 40 bytes per unit of capacity, rounded up to a
 * power of two) and freed by destroy. Items are the caller's: the queue stores the pointers.
 */
#ifndef CASK_BQUEUE_H
#define CASK_BQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A bounded MPMC queue. Opaque. */
typedef struct cask_bqueue cask_bqueue;

/* Largest capacity cask_bqueue_create accepts. */
#define CASK_BQUEUE_MAX_CAPACITY ((size_t)1 << 28)

/*
 * cask_bqueue_create - a new, open, empty queue that holds at most `capacity` items (rounded up
 * to a power of two; cask_bqueue_capacity says how many).
 * Returns 0 and sets *out; CASK_EINVAL if out is NULL or capacity is 0 or above
 * CASK_BQUEUE_MAX_CAPACITY; CASK_ENOMEM if allocation failed (*out untouched).
 * Context: any thread. Progress: blocking only inside malloc.
 * Ordering: hand the queue to other threads with a release store or before creating them.
 * Memory: the caller owns the queue; free it with cask_bqueue_destroy.
 */
int cask_bqueue_create(size_t capacity, cask_bqueue **out);

/*
 * cask_bqueue_destroy - free the queue; items still in it are not touched. NULL does nothing.
 * Context: no other call on the queue may run concurrently or afterwards: every thread that used
 * it must have returned from its calls (join it, or have it say so through a release/acquire
 * pair of your own). Having popped every item is not enough: a push still touches the queue
 * (the ring's threshold, the wake-up of sleeping pops) after its item can already be popped, so
 * the consumer of the last item may run before that pusher returns from push; the same holds
 * for close and for a pop (which wakes sleeping pushers after taking its item). Checked builds
 * abort if a push or pop is still asleep on the queue. Progress: wait-free apart from free().
 * Ordering: none. Memory: all of the queue's memory. Errors: none.
 */
void cask_bqueue_destroy(cask_bqueue *queue);

/* cask_bqueue_capacity - the capacity (a power of two). Any thread; wait-free; no ordering. */
size_t cask_bqueue_capacity(const cask_bqueue *queue);

/*
 * cask_bqueue_try_push - append item if there is room.
 * Returns 0: accepted, it will be returned by exactly one pop. Otherwise refused, the queue
 * unchanged: CASK_EINVAL if item is NULL; CASK_EFULL if at some moment during the call every
 * unit of capacity was held, by a queued item or by a push or pop in progress (see Progress), and
 * the queue was not closed; CASK_ECLOSED if it is closed (also when full).
 * Context: any thread; never sleeps. Progress: lock-free; never allocates.
 * Ordering: on success, release: everything before the push happens before whatever the
 * consumer of the item does after its pop. On failure none (CASK_ECLOSED: acquire, the reason
 * is readable). Memory: the queue stores the pointer only.
 */
int cask_bqueue_try_push(cask_bqueue *queue, void *item);

/*
 * cask_bqueue_push - append item, waiting up to timeout_ns nanoseconds for room
 * (CASK_BQUEUE_FOREVER: no limit).
 * Returns 0, or CASK_ECLOSED / CASK_EINVAL as try_push (also for timeout_ns < -1), or
 * CASK_ETIMEDOUT if there was no room until the deadline (nothing was changed).
 * Context: any thread that may block: spins a few tries (pausing before the first few, the
 * empty-poll pause of cask/queue.h, never past the deadline), then sleeps on a futex that pops
 * and close wake (no wake-up is lost). Progress: blocking. Ordering, memory: as try_push.
 */
int cask_bqueue_push(cask_bqueue *queue, void *item, int64_t timeout_ns);

/*
 * cask_bqueue_try_pop - take the item at the head, if any.
 * Returns 0 and sets *item; CASK_EEMPTY if the queue was empty at some moment during the call;
 * CASK_ECLOSED if it is closed and every accepted item has been popped; CASK_EINVAL if item is
 * NULL. *item and the queue are unchanged on failure.
 * Context: any thread; never sleeps (it may spin CASK_QUEUE_EMPTY_PAUSE_NS before answering
 * CASK_EEMPTY again: cask/queue.h). Progress: lock-free; never allocates.
 * Ordering: on success, acquire (pairs with the item's push); CASK_ECLOSED: acquire (pairs
 * with the close); CASK_EEMPTY: none. Memory: ownership of the item passes to the caller.
 */
int cask_bqueue_try_pop(cask_bqueue *queue, void **item);

/*
 * cask_bqueue_pop - take the item at the head, waiting up to timeout_ns nanoseconds
 * (CASK_BQUEUE_FOREVER: no limit). Returns 0, CASK_ECLOSED, CASK_EINVAL as try_pop (also for
 * timeout_ns < -1), or CASK_ETIMEDOUT. Context: any thread that may block; spins a few tries
 * (pausing before the first few, as push), then sleeps on a futex that pushes and close wake.
 * Progress: blocking. Ordering, memory: as try_pop.
 */
int cask_bqueue_pop(cask_bqueue *queue, void **item, int64_t timeout_ns);

/*
 * cask_bqueue_close - close with a reason (any int). Returns 0 if this call closed the queue,
 * CASK_ECLOSED if it was already closed (the first reason is kept). Pushes that were accepted
 * before still get delivered; all sleepers wake.
 * Context: any thread, either end. Progress: wait-free (one CAS, one fetch-or, one store, two
 * wake calls). Once it has returned (whether it closed the queue or found it closed), pops say
 * CASK_EEMPTY no more.
 * Ordering: release, paired with the acquire of a push or pop that returns CASK_ECLOSED and of
 * cask_bqueue_closed. Memory: none. Errors: as above.
 */
int cask_bqueue_close(cask_bqueue *queue, int reason);

/*
 * cask_bqueue_closed - true once a close has taken effect: from then on every push is refused
 * (a close still between claiming its reason and marking the queue is not seen yet); then
 * *reason (if not NULL) gets the winning reason.
 * Context: any thread; wait-free. Ordering: acquire when true. Memory, errors: none.
 */
bool cask_bqueue_closed(const cask_bqueue *queue, int *reason);

/*
 * cask_bqueue_length - approximate number of items (exact when nothing runs concurrently).
 * Context: any thread; wait-free. Ordering: none (relaxed). Memory, errors: none.
 */
size_t cask_bqueue_length(const cask_bqueue *queue);

/* Timeout meaning "wait as long as it takes". */
#define CASK_BQUEUE_FOREVER INT64_C(-1)

#ifdef __cplusplus
}
#endif

#endif /* CASK_BQUEUE_H */
