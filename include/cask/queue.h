/*
 * cask/queue.h: an unbounded multi-producer multi-consumer FIFO queue of `void *` items that
 * knows when the other end is gone (close with a reason).
 *
 * Producers push, consumers pop (non-blocking try_pop, or pop with a timeout that sleeps on a
 * futex). Either end may close the queue with a reason code: after that, push fails with
 * CASK_ECLOSED, pop still hands out every item that was accepted before the close and then
 * returns CASK_ECLOSED, every sleeping consumer wakes, and both ends can read the reason. An
 * item is either accepted (push returned 0: it will be delivered exactly once) or refused (push
 * returned an error: the queue never saw it), also when push races with close.
 *
 * Concurrency table ("yes": the two calls may run at the same time from different threads on the
 * same queue):
 *
 *                push   try_pop  pop    close  closed  length  destroy
 *   push         yes    yes      yes    yes    yes     yes     no
 *   try_pop      yes    yes      yes    yes    yes     yes     no
 *   pop          yes    yes      yes    yes    yes     yes     no
 *   close        yes    yes      yes    yes    yes     yes     no
 *   closed       yes    yes      yes    yes    yes     yes     no
 *   length       yes    yes      yes    yes    yes     yes     no
 *   destroy      no     no       no     no     no      no      no
 *
 * Progress: push, try_pop, close and length are lock-free (a push or pop that another one
 * overtook retries, but each retry uses up one of a segment's CASK_QUEUE_SEGMENT indices, so a
 * call can be held up only while others complete); they allocate only when a push fills a segment of CASK_QUEUE_SEGMENT cells
 * (malloc may take a lock) and on a thread's first use of hazard pointers. pop blocks: it spins
 * briefly, then sleeps on a futex until an item arrives, the queue is closed or the timeout ends.
 * Under contention a push or pop may return CASK_QUEUE_BACKOFF_NS late (contention backoff,
 * below): the wait comes after the call took effect, holds nothing and delays no other thread
 * (a call made from a hazard-pointer reclaim function never waits). A try_pop that finds
 * the queue empty right after this thread's previous try_pop found it empty may return up to
 * CASK_QUEUE_EMPTY_PAUSE_NS late (empty-poll pause, below).
 *
 * Memory reclamation: the queue is a list of segments. A segment that consumers have emptied is
 * unlinked and retired to the default hazard-pointer domain (cask_hp_default_domain()), which
 * frees it once no thread's hazard slot protects it; each call uses the thread's own hazard
 * slot (cask_hp_thread_slot) and leaves it reset. Items are the caller's: the queue stores the pointers, never dereferences or frees
 * them. To see memory return to its level before a burst, drain the queue and call
 * cask_hp_drain(cask_hp_default_domain()) on the threads that popped (or let their hazard-pointer
 * scans run).
 */
#ifndef CASK_QUEUE_H
#define CASK_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An unbounded MPMC queue. Opaque. */
typedef struct cask_queue cask_queue;

/* Cells per segment (one allocation per this many pushes). */
#ifndef CASK_QUEUE_SEGMENT
#if defined(CASK_STRESS) && CASK_STRESS
#define CASK_QUEUE_SEGMENT 4 /* stress: segment changes, retires and scans happen all the time */
#else
#define CASK_QUEUE_SEGMENT 1024
#endif
#endif

/*
 * Contention backoff: a thread whose calls on a queue interleave with another thread's back to
 * back (two pushes, or two pops, each of which found another thread's reservation since its
 * own previous one, ending less than a microsecond apart) waits this many nanoseconds when its
 * call returns, after the call took effect, so that the other thread runs a burst with the
 * queue's cache lines in its own cache; bursts then take turns. With two threads hammering one
 * queue this is 2-4x the throughput (`./cask bench queue`, pairs and NpNc rows), at the price
 * of that much added latency on the calls that wait; with about half a microsecond of other
 * work per call it costs up to a fifth (row queue.pairs.work). A thread alone on a queue never
 * waits, nor does one whose interleaved pushes (or pops) are more than a microsecond apart.
 * 0 turns it off. Build-time, like
 * CASK_QUEUE_SEGMENT (-DCASK_QUEUE_BACKOFF_NS=...). The bounded queue (cask/bqueue.h) backs off
 * the same way, and so does vector push (cask/vec.h), both with a 2 us window.
 */
#ifndef CASK_QUEUE_BACKOFF_NS
#define CASK_QUEUE_BACKOFF_NS 10000
#endif

/*
 * Empty-poll pause: a thread that polls one queue with try_pop and keeps finding it empty (the
 * 2nd to 5th try_pop in a row on the same queue that says CASK_EEMPTY, with no other push or pop
 * of the thread in between) waits this many nanoseconds before the call returns, touching no
 * shared memory. Why: each empty poll reads the producer's index and cell lines, so a consumer
 * that spins on an empty queue takes them out of the producer's cache before every push; with
 * one producer and one spinning consumer that made every item cost a round trip between the
 * cores (1p1c: 100 ns per operation; with the pause, 30-35 ns: the producer fills cells from
 * its own cache and the consumer takes them a line at a time; `./cask bench queue`). The price:
 * an item pushed while its consumer pauses reaches it up to this much later; and "in a row"
 * does not look at the clock, so a loop that polls one queue between other work of its own
 * pauses too: up to 4 times (4 us) per run of empty answers. The first empty answer, polls that
 * alternate between queues, and polls after the 5th in a row (the caller's loop may yield or
 * sleep then) return at once. The blocking calls make the same pause before
 * each of the first 4 tries of their spin (pop here; pop, and push on a full queue, in
 * cask/bqueue.h, whose try_pop pauses too): one producer and one consumer sleeping in pop went
 * from 67 to 28.5 ns per item. 0 turns it off; build-time (-DCASK_QUEUE_EMPTY_PAUSE_NS=...).
 */
#ifndef CASK_QUEUE_EMPTY_PAUSE_NS
#define CASK_QUEUE_EMPTY_PAUSE_NS 1000
#endif

/* Timeout for cask_queue_pop meaning "wait as long as it takes". */
#define CASK_QUEUE_FOREVER INT64_C(-1)

/*
 * cask_queue_create - a new, open, empty queue.
 * Returns 0 and sets *out; CASK_EINVAL if out is NULL; CASK_ENOMEM if allocation failed (*out is
 * then untouched).
 * Context: any thread. Progress: blocking only inside malloc.
 * Ordering: hand the queue to other threads with a release store or before creating them.
 * Memory: the caller owns the queue; free it with cask_queue_destroy.
 */
int cask_queue_create(cask_queue **out);

/*
 * cask_queue_destroy - free the queue. Items still in it are not touched (they are the caller's;
 * pop them first if they need freeing). NULL is allowed and does nothing.
 * Context: no other call on this queue may run concurrently or afterwards (join the threads or
 * hand over with release/acquire first). Having popped every item is not enough: a push still
 * touches the queue (the wake-up of sleeping pops) after its item can already be popped, so the
 * consumer of the last item may run before that pusher returns from push; and a pop may answer
 * CASK_ECLOSED while close (or a refused push, which finishes the close's marking) is still
 * inside the queue. Join or hear back from every thread that calls it. Progress: bounded by
 * the segments left.
 * Ordering: none. Memory: segments still linked are freed at once; segments already retired are
 * freed by the hazard-pointer domain as usual. Errors: none.
 */
void cask_queue_destroy(cask_queue *queue);

/*
 * cask_queue_push - append item at the tail.
 * Returns 0: the item is accepted and will be returned by exactly one pop. Otherwise it was
 * refused and the queue is unchanged: CASK_EINVAL if item is NULL; CASK_ECLOSED if the queue is
 * closed (read the reason with cask_queue_closed); CASK_ENOMEM if a new segment (or this thread's
 * hazard-pointer record) could not be allocated. Reclaim functions may push, also those run
 * while their thread exits (cask/hp.h, cask_hp_retire).
 * Context: any thread; never sleeps. Progress: lock-free.
 * Ordering: on success, release: everything this thread did before the push happens before
 * whatever the consumer that pops item does after its pop. On failure, none (if CASK_ECLOSED,
 * the close happens before the return: the reason is readable).
 * Memory: the queue stores the pointer only; the item stays the caller's until popped.
 */
int cask_queue_push(cask_queue *queue, void *item);

/*
 * cask_queue_try_pop - take the item at the head, if there is one.
 * Returns 0 and sets *item; CASK_EEMPTY if the queue was empty at some moment during the call;
 * CASK_ECLOSED if the queue is closed and every accepted item has been popped; CASK_EINVAL if
 * item is NULL; CASK_ENOMEM if this thread's hazard-pointer record could not be allocated.
 * *item is untouched on failure, and so is the queue.
 * Context: any thread; never sleeps (it may spin CASK_QUEUE_EMPTY_PAUSE_NS before answering
 * CASK_EEMPTY again; see above). Progress: lock-free.
 * Ordering: on success, acquire, pairing with the push of the item (see push). CASK_ECLOSED:
 * acquire, pairing with the close: the closer's earlier writes (and the reason) are visible.
 * CASK_EEMPTY: none.
 * Memory: ownership of the item passes to the caller.
 */
int cask_queue_try_pop(cask_queue *queue, void **item);

/*
 * cask_queue_pop - take the item at the head, waiting up to timeout_ns nanoseconds for one
 * (CASK_QUEUE_FOREVER: no limit; 0: one try, like try_pop but CASK_ETIMEDOUT for empty).
 * Returns 0 and sets *item; CASK_ECLOSED as try_pop; CASK_ETIMEDOUT if the queue stayed empty
 * until the deadline; CASK_EINVAL if item is NULL or timeout_ns < -1; CASK_ENOMEM as try_pop.
 * Context: any thread that may block. It spins a few tries (pausing before the first few: the
 * empty-poll pause above, never past the deadline), then sleeps on a futex; a push or a close
 * wakes it (no wake-up is lost: see lib/internal/futex.h). Progress: blocking.
 * Ordering, memory: as try_pop.
 */
int cask_queue_pop(cask_queue *queue, void **item, int64_t timeout_ns);

/*
 * cask_queue_close - close the queue with a reason (any int, typically a CASK_E* code or 0 for
 * "finished normally"). From then on push returns CASK_ECLOSED; pops return the items accepted
 * before, then CASK_ECLOSED; every sleeping pop wakes.
 * Returns 0 if this call closed the queue; CASK_ECLOSED if it was already closed (the first
 * reason is kept; the queue is fully closed when this returns too); CASK_ENOMEM if this thread's
 * hazard-pointer record could not be allocated (nothing was changed).
 * Context: any thread, either end, any number of times. Progress: lock-free.
 * Ordering: release: what the closer did before close happens before any push that returns
 * CASK_ECLOSED and any pop that returns CASK_ECLOSED returns. Memory: none. Errors: as above.
 */
int cask_queue_close(cask_queue *queue, int reason);

/*
 * cask_queue_closed - true once a close has taken effect: from then on every push is refused (a
 * close still between claiming its reason and marking the queue is not seen yet); then *reason
 * (if not NULL) receives the reason given to the close that won.
 * Context: any thread. Progress: wait-free. Ordering: acquire when it returns true (pairs with
 * the close). Memory, errors: none.
 */
bool cask_queue_closed(const cask_queue *queue, int *reason);

/*
 * cask_queue_length - an approximate number of items in the queue: exact when no call runs
 * concurrently, otherwise some value the length had recently (may count reserved but unfilled
 * cells). Context: any thread. Progress: lock-free. Ordering: none (relaxed reads, for
 * statistics). Memory: none. Errors: none (0 if the hazard slot cannot be had).
 */
size_t cask_queue_length(cask_queue *queue);

#ifdef __cplusplus
}
#endif

#endif /* CASK_QUEUE_H */
