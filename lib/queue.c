/*
 * queue.c: an unbounded MPMC queue of segments of cells filled by fetch-and-add, with close.
 *
 * Design
 * ------
 * Source: P. Ramalhete and A. Correia, "FAAArrayQueue" (the fetch-and-add array queue of
 * "Concurrencyfreaks", 2016; the base of their LCRQ-alternative measurements), itself a
 * simplification of Morrison & Afek's LCRQ (PPoPP 2013) and of Yang & Mellor-Crummey's wait-free
 * queue (PPoPP 2016); segments are linked as in Michael & Scott's queue (PODC 1996).
 *
 * The queue is a list of segments of N = CASK_QUEUE_SEGMENT cells. Each segment has an enqueue
 * index `enq` (bit 63: CLOSED) and a dequeue index `deq`, each on its own cache line.
 *   push:  t = protect(tail); i = FAA(t->enq, 1); if i < N, CAS(t->cells[i], NULL -> item): done.
 *          If the CAS fails, a pop has already given up on cell i (it swapped in TAKEN): retry.
 *          If i >= N the segment is full: link a new segment that already holds the item in
 *          cell 0 with CAS(t->next, NULL -> new), or help tail forward and retry.
 *   pop:   h = protect(head); if deq >= enq and h->next is NULL: empty. Else i = FAA(h->deq, 1);
 *          if i < N, x = load(h->cells[i]): if it holds an item, the item is ours (no other pop
 *          has index i, and the pusher writes the cell once); if NULL, x = XCHG(cell, TAKEN):
 *          an item, or NULL (the pusher that reserved i has not written yet: it will fail its
 *          CAS and retry elsewhere; we retry too). So an uncontended pop pays one atomic RMW.
 *          If i >= N, the segment is used up: move head to h->next (helping tail past h first)
 *          and retire h.
 * Why this and not the others. Measured side by side with `./cask bench queue` (2-core Xeon,
 * --config=opt, one run, noisy; ns per operation per thread, lower is better):
 *                          cask  ck_hp_fifo (Michael-Scott + HP)  ck_fifo_mpmc  urcu_wfcq  mutex
 *   1 producer/1 consumer   35   121                               39            31         52
 *   2p/2c (4 threads)       61   232                              261           146        679
 *   4p/4c (8 threads)      160   344                              477           297        626
 *   pairs, 1 thread         20    21                                7            10         19
 *   pairs, 2 threads        70    49                               15            36         60
 * Where producers and consumers are different threads (what a queue is for) the FAA array is
 * 2-4x ahead of Michael-Scott, because two cores never fight over one CAS per operation:
 * producers spread over cells by FAA (which always succeeds) and meet a consumer on one cell,
 * once, while Michael-Scott makes every push CAS the same `tail->next` and every pop CAS `head`,
 * and allocates a node per item. Where every thread pushes then pops (the "pairs" workload) all
 * threads hammer the same two index lines and the same cells, and a lock that keeps one core
 * in the critical section, or ck_fifo_mpmc's type-stable nodes (no reclamation, double-width
 * CAS), win. (cask used to pay a hazard-slot acquire and release per call, about 6 ns, the
 * largest fixed cost in a profile; calls now use the thread's own slot.) LCRQ needs cmpxchg16b
 * (excluded). LSCQ would remove the "pop overtakes a slow push" retry, but its segments are SCQ
 * rings, which with single-width CAS hold pointers only through a second ring of indices: what
 * the bounded queue (lib/bqueue.c) is, so its rows in `./cask bench queue` bound LSCQ's cost from
 * below (an LSCQ call also links and reclaims rings). Measured, four runs on a 2-core Xeon
 * (2026-12-03): pairs at 1 thread 66-93 ns per call against this queue's 29-38; at 2 threads
 * 168-180 against 65-78; 4p4c (one run) 630 against 198. So not LSCQ.
 * The price of the FAA array: a pop that overtakes a slow pusher makes it retry, so push is
 * lock-free, not wait-free. Why lock-free: an overtaking pop does not complete either (it gets
 * NULL from its exchange and retries), so "the others complete" is not the argument. It is that
 * every retry consumes an index of a segment of N cells: after at most N retries in segment t a
 * push reserves i >= N and either links a segment that already holds its item (it completes),
 * or finds t->next taken by another push's link (that push completed) or by close (this push
 * completes with CASK_ECLOSED). A pop likewise retries at most N times in a segment before it
 * moves head, which needs a linked segment (a completed push), or reports empty. So a call can
 * take more than O(N) steps per segment only while other calls complete.
 *
 * Close. The first close CASes the reason word (so the reason is fixed before anything can be
 * refused), then marks the tail segment: FAA-or of CLOSED into t->enq, then CAS(t->next, NULL ->
 * CLOSED_LINK); if t->next already held a real segment it helps tail forward and marks that one.
 * Finally it sets `closed` and wakes every sleeper (cask__queue_seal). A push that a mark
 * refuses runs the same seal before it answers CASK_ECLOSED: close may be paused between marking
 * one segment and the next, which a push linked meanwhile, and a push that starts after the
 * refusal must not be accepted on that next one. A push is accepted iff its cell CAS (or its
 * link CAS) succeeds, and it can only get there with an index reserved by an FAA that returned no
 * CLOSED bit, or with a link CAS that found NULL, not CLOSED_LINK: both happened before the
 * marking, so the push is ordered before the close. Pushes that reserve after the marking see the
 * bit; pushes that find the segment full find CLOSED_LINK. A pop returns CASK_ECLOSED only when
 * it read `closed` and then found the queue empty; "empty" (deq >= enq) includes every index
 * reserved before the marking, so an accepted item is never left behind: its index is below enq,
 * and a pop either took the item or took the cell first, which made that push fail (and retry
 * into CLOSED). So nothing is lost and nothing is delivered twice (XCHG hands a cell to one pop).
 *
 * Invariants
 *   Q1  tail is never behind head; both only move forward, one segment per CAS.
 *   Q2  A segment is retired only by the pop whose CAS moved head past it, after tail was seen
 *       past it (helped forward first), so it is unreachable from head and tail (the sources
 *       that protect reads) when retired.
 *   Q3  A cell goes NULL -> item (and stays, or becomes TAKEN when the exchange of the pop
 *       that owns index i came just after the push) or NULL -> TAKEN, never back to NULL; only the
 *       pusher that reserved index i writes an item into cell i. So a cell holding an item
 *       may already be taken: the peek below is a hint, never an answer.
 *   Q4  next goes NULL -> segment or NULL -> CLOSED_LINK, never back.
 *
 * Pop's peek. Before it reads enq, a pop loads cell deq of the head segment; if that holds an
 * item, the queue is not empty and the pop goes straight to its FAA on deq. The load is only a
 * hint: the FAA may still hand out an index whose cell is empty (another pop took d meanwhile),
 * which is the ordinary "overtook the pusher" retry. What it saves: without it every pop reads
 * enq, the line every push writes, so with a producer and a consumer on two cores that line
 * crossed between them twice per item; with it, a consumer that is behind the producer touches
 * only its own deq line and the cells, which cross once per cache line of cells (8 items). An
 * "empty" answer still comes only from seq_cst loads: of enq and next in the check, or, when a
 * peek skipped the check and the FAA then found the segment used up, of next after the FAA.
 * That second load must be seq_cst too (it was acquire, which was enough only while the check
 * always ran first in the same pass): otherwise a waiter's re-check could miss a link made
 * before the waker read the waiter count, and sleep with an item in the queue.
 *
 * Contention backoff (lib/internal/backoff.h). Every push and pop notes the index its FAA
 * returned; a call that found another thread's reservation since its thread's previous one in
 * the same role is interleaved, and a thread whose interleaved pushes (or pops) end less than
 * a microsecond apart waits CASK_QUEUE_BACKOFF_NS (10 us) at the end of the second, after it
 * took effect and reset its hazard slot (a blocking pop: after it left the eventcount), then
 * makes 16 reservations without waiting. Why: on the 2-core machine of the benchmarks, handing
 * a cache line from one core to the other costs about 120 ns (a two-thread ping-pong through
 * one atomic word takes 240 ns a round), and a push or pop whose lines are local about 15 ns.
 * Two threads alternating calls moved the enq, deq and cell lines on nearly every call: pairs
 * at 2 threads were 165-200 ns per call, 0.5-0.75x the mutex queue, whose sleeping waiters let
 * the holder run bursts. With the backoff the two threads take turns running bursts: pairs at
 * 2 threads 37-47 ns, at 8 threads 180-205 ns, 2p2c 80-97 ns (was 200-220), 4p4c 130-150 ns
 * (was 310-340); one thread and 1p1c do not change (a lone producer or consumer never sees its
 * indices interleave). Swept on that machine: a 5 us wait gave 55 ns, 10 us 40 ns, 20 us 43-50
 * ns, 50 us 48 ns; without the 16 grace reservations the thread back from its wait stepped
 * aside again at once and starved (400-1200 ns); a 0.5 or 0.7 us window lost most of the gain
 * (pushes 0.4-0.6 us apart under contention no longer counted). Where it loses: a waiting
 * thread does none of its own work, so with about 0.6 us of work per round it costs 0-20%
 * (backoff.h has the sweep; row queue.pairs.work, where the mutex queue is ahead either way).
 * The wait holds nothing, so progress and the orderings below are those without it.
 *
 * Empty-poll pause (same header). A try_pop that finds the queue empty right after the thread's
 * previous try_pop found it empty waits CASK_QUEUE_EMPTY_PAUSE_NS (1 us; at most 4 times in a
 * row) after answering. With one producer and a consumer spinning on try_pop (1p1c), the
 * consumer is faster, so the queue is mostly empty and each poll reads enq, next and the cell the
 * producer writes next: every push then found those lines in the other core and paid the
 * transfer, about 100 ns per operation. Paused, the consumer leaves the producer a microsecond
 * to fill cells from its own cache, then takes them a line (8 cells) per transfer: 1p1c 30-35 ns,
 * 2p2c 68 -> 60 ns; 4p4c (8 threads on 2 cores) 96-100 -> 104-112 ns, since a paused consumer
 * still holds its core (the bench's consumers yield after 64 empty tries; with no limit on the
 * pauses in a row that took 64 us instead of a few). 250 ns gave 30 ns, 4 us 23 ns (same runs,
 * Intel Xeon, 2 cores): 1 us bounds the added latency of an item that arrives during a pause.
 * The blocking pop pauses the same way before the first 4 tries of its spin phase
 * (lib/internal/closable.h): consumer in pop, 1p1c 67 -> 28.5 ns (row queue.1p1c.blocking).
 *
 * Linearization points: an accepted push at its successful cell CAS or link CAS (its position is
 * its index, and no pop took that index earlier, by Q3); a refused push when its seal is done
 * (after the FAA that returned CLOSED or the load that found CLOSED_LINK, at its return); a pop
 * of an item at the load or XCHG that got it;
 * an empty pop at its load of `enq` (deq was already >= enq and next was NULL then, as next only
 * changes once), or, after a used-up segment, at its load of `next` that found no segment;
 * close when the seal is done: the first store of `closed` (by close, or by a push refused by a
 * mark, which seals before it answers); cask_queue_closed at its load of `closed`. Pushes
 * accepted before that reserved their index before the mark of their segment; a push is refused
 * only after `closed` is stored (it stores it itself); so a refusal, or closed() saying true,
 * is never followed by a push that starts later and is accepted. (A push that reserved its index
 * before the mark may make its cell CAS after the seal: it was in progress during the close and
 * is ordered before it, as in the bounded queue.)
 *
 * Memory orders. The item is published by the cell CAS (release) and received by the XCHG
 * (acquire); a new segment's contents by the link CAS (release) and the loads of next, head and
 * tail (acquire: hazard protect). The cell CAS, the link CAS, the index FAAs, the XCHG, the
 * empty-check loads and the `closed` store are seq_cst, not for the data but for the blocking
 * pop: the eventcount (lib/internal/futex.h) needs the store that makes the queue non-empty and
 * the waker's load of the waiter count in one total order with the waiter's registration and
 * re-check. On x86-64 a seq_cst RMW is the same locked instruction as a release one and a seq_cst
 * load a plain load, so this costs nothing there. The reason word is claimed by a CAS (seq_cst;
 * acquire on failure); `closed` is read
 * seq_cst (acquire suffices for the reason; seq_cst for the eventcount). In the code, every
 * non-relaxed access names on its own line what it pairs with; "EC" there means "and in the
 * eventcount's total order". The close-reason word and the wait loop are shared with the bounded
 * queue (lib/internal/closable.h).
 *
 * Memory reclamation. Segments go through cask's hazard pointers (default domain): each call
 * uses the calling thread's own slot (cask_hp_thread_slot: no acquire or release per call),
 * protects head or tail with it, and resets it before returning and before retiring: a pop
 * that moves head resets, then retires the old segment (Q2), so reclaim functions run by that
 * retire may use queues on this thread. The slot is never held across a call that could re-enter.
 * Segments are retired with their size (cask_hp_retire_sized), so a thread scans after 64 KiB of
 * them instead of after 2H + S segments (about 17 MB at the default slack): with plain retire,
 * a queue that held one item kept megabytes of used-up segments and freed them in bursts that
 * glibc handed back to the kernel, then faulted in again; that churn was a third of a
 * push-then-pop's time on one thread. ThreadSanitizer needs no annotation: hp.c explains why.
 * Allocation failure: the only allocations are the queue itself, a new segment (push) and a
 * thread's first hazard record (any call); each fails with CASK_ENOMEM before anything shared
 * changed (a failed segment allocation leaves an FAA on a full segment's enq behind, which is
 * invisible: indices >= N mean "full" whatever their value). Tests inject failures by
 * overriding the weak cask__alloc (lib/internal/alloc.h).
 */
#define _GNU_SOURCE
#include "cask/queue.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cask/cask.h"
#include "internal/alloc.h"
#include "internal/backoff.h"
#include "internal/check.h"
#include "internal/closable.h"
#include "internal/futex.h"

#define N CASK_QUEUE_SEGMENT
#define CLOSED_BIT (UINT64_C(1) << 63)

_Static_assert(N >= 1, "CASK_QUEUE_SEGMENT must be positive");

/* Distinct addresses used as markers: a cell given up by a pop, and a closed segment's next. */
static const char cask__queue_taken_mark;
static const char cask__queue_closed_mark;
#define TAKEN ((void *)&cask__queue_taken_mark)
#define CLOSED_LINK ((void *)&cask__queue_closed_mark)

typedef struct cask__qseg {
    _Alignas(64) _Atomic uint64_t enq; /* next index to reserve; CLOSED_BIT once marked */
    _Alignas(64) _Atomic uint64_t deq; /* next index to take */
    _Alignas(64) _Atomic(void *) next; /* NULL, the next segment, or CLOSED_LINK (Q4) */
    uint64_t id;                       /* position in the list, for cask_queue_length */
    _Atomic uint64_t sealed_enq;       /* 0; once marked, enq before the mark + 1 (length) */
    cask_hp_retired retired;
    _Alignas(64) _Atomic(void *) cells[N];
} cask__qseg;

struct cask_queue {
    _Alignas(64) _Atomic(void *) head; /* a cask__qseg *, protected with hazard pointers */
    _Alignas(64) _Atomic(void *) tail;
    _Alignas(64) _Atomic uint64_t reason; /* 0 open; else (1 << 32) | (uint32_t)reason */
    _Atomic bool closed;                  /* every segment marked: pops may report ECLOSED */
    cask__eventcount ec;                  /* sleeping pops */
};

static void cask__qseg_reclaim(void *object)
{
    cask__free(object);
}

/* A new segment with `first` (may be NULL) in cell 0; NULL if allocation failed. */
static cask__qseg *cask__qseg_new(uint64_t id, void *first)
{
    cask__qseg *s = cask__alloc(64, sizeof(*s));
    if (s == NULL)
        return NULL;
    atomic_init(&s->enq, first != NULL ? 1 : 0);
    atomic_init(&s->deq, 0);
    atomic_init(&s->next, NULL);
    atomic_init(&s->sealed_enq, 0);
    s->id = id;
    atomic_init(&s->cells[0], first);
    for (size_t i = 1; i < N; i++)
        atomic_init(&s->cells[i], NULL);
    return s;
}

int cask_queue_create(cask_queue **out)
{
    if (out == NULL)
        return CASK_EINVAL;
    cask_queue *q = cask__alloc(64, sizeof(*q));
    if (q == NULL)
        return CASK_ENOMEM;
    cask__qseg *s = cask__qseg_new(0, NULL);
    if (s == NULL) {
        cask__free(q);
        return CASK_ENOMEM;
    }
    memset(q, 0, sizeof(*q));
    atomic_init(&q->head, s);
    atomic_init(&q->tail, s);
    atomic_init(&q->reason, 0);
    atomic_init(&q->closed, false);
    atomic_init(&q->ec.seq, 0);
    atomic_init(&q->ec.waiters, 0);
    *out = q;
    return 0;
}

void cask_queue_destroy(cask_queue *q)
{
    if (q == NULL)
        return;
    CASK__CHECK(atomic_load_explicit(&q->ec.waiters, memory_order_relaxed) == 0, "queue", q,
                "destroyed while a pop is sleeping on it",
                "close the queue, join the consumers, then destroy it");
    void *s = atomic_load_explicit(&q->head, memory_order_relaxed);
    while (s != NULL && s != CLOSED_LINK) {
        cask__qseg *seg = s;
        s = atomic_load_explicit(&seg->next, memory_order_relaxed);
        cask__free(seg);
    }
    cask__free(q);
}

/*
 * The calling thread's hazard slot (cask_hp_thread_slot); CASK_ENOMEM if this thread's record
 * cannot be had. Every queue call leaves it reset when it returns, and resets it before
 * cask_hp_retire, whose reclaim functions may run queue calls on this thread.
 */
static int cask__queue_slot(cask_queue *q, cask_hp_slot **slot)
{
    CASK__REQUIRE(q != NULL, "queue", q, "NULL queue passed",
                  "pass a queue from cask_queue_create");
    return cask_hp_thread_slot(slot);
}

/* Moves tail from t to next if it is still t (helping a push that linked next). */
static void cask__queue_help_tail(cask_queue *q, void *t, void *next)
{
    /* next's contents (its initialised cells) were published by the link CAS; this keeps them
     * visible to whoever reaches next through tail. Failure: someone else moved tail. */
    atomic_compare_exchange_strong_explicit(&q->tail, &t, next,
                                            memory_order_release, /* protect(tail) */
                                            memory_order_relaxed);
}

/*
 * Seals the queue: marks the tail segment (CLOSED into enq, then CLOSED_LINK into next), and,
 * where a push linked one more segment first, helps tail forward and marks that one too, until
 * a segment's next is CLOSED_LINK; then sets `closed` and wakes every sleeper. Run by close,
 * and by a push refused by a mark before it returns CASK_ECLOSED, so that no push that starts
 * after a refusal is accepted on a segment not yet marked (close may be paused between two).
 * Only after a close claimed the reason (every mark follows a claim). The slot is reset.
 */
static void cask__queue_seal(cask_queue *q, cask_hp_slot *slot)
{
    /* Already sealed (the flag is stored only after the whole chain is): nothing to do. */
    if (atomic_load_explicit(&q->closed, memory_order_seq_cst)) { /* seal's store */
        cask_hp_reset(slot);
        return;
    }
    for (;;) {
        cask__qseg *t = cask_hp_protect(slot, &q->tail);
        /* Every later reservation on t is refused, and sees the reason. */
        uint64_t before = atomic_fetch_or_explicit(&t->enq, CLOSED_BIT,
                                                   memory_order_seq_cst); /* push's FAA */
        if ((before & CLOSED_BIT) == 0) /* the first mark: refused reservations come after */
            atomic_store_explicit(&t->sealed_enq, before + 1, memory_order_relaxed); /* a count */
        CASK__NOISE("queue.close.marked");
        void *next = NULL;
        /* One of this CAS and a push's link CAS wins; on failure, acquire next's contents. */
        if (atomic_compare_exchange_strong_explicit(&t->next, &next, CLOSED_LINK,
                                                    memory_order_seq_cst, /* loads of next; EC */
                                                    memory_order_acquire) || /* link CAS */
            next == CLOSED_LINK)
            break;
        cask__queue_help_tail(q, t, next); /* a push linked one more segment: mark that too */
    }
    cask_hp_reset(slot);
    /* The marking is done, so "closed and empty" is final for a pop that reads this; seq_cst
     * before the notify's load of the waiter count (eventcount). */
    atomic_store_explicit(&q->closed, true, memory_order_seq_cst); /* pops' and closed()'s loads; EC */
    CASK__NOISE("queue.close.done");
    cask__ec_notify(&q->ec);
}

/* The push loop; the slot is acquired and is reset before returning. */
static int cask__queue_put(cask_queue *q, cask_hp_slot *slot, void *item)
{
    for (;;) {
        cask__qseg *t = cask_hp_protect(slot, &q->tail);
        CASK__NOISE("queue.push.protected");
        /* The reservation. Acquire: a CLOSED bit seen means the reason is visible. seq_cst: in
         * the eventcount's total order (see the essay). */
        uint64_t i = atomic_fetch_add_explicit(&t->enq, 1,
                                               memory_order_seq_cst); /* close's fetch_or; EC */
        CASK__NOISE("queue.push.reserved");
        if (i & CLOSED_BIT) {
            cask__queue_seal(q, slot); /* before the answer: no later push may be accepted */
            return CASK_ECLOSED;
        }
        cask__backoff_note(&cask__backoff_state.push, t, i, CASK__BACKOFF_WINDOW_NS);
        if (i < N) {
            void *expected = NULL;
            /* Release publishes the item; seq_cst so that the waker's load of the waiter count
             * follows it in the total order (eventcount). */
            if (atomic_compare_exchange_strong_explicit(&t->cells[i], &expected, item,
                                                        memory_order_seq_cst, /* pop's load/xchg; EC */
                                                        memory_order_relaxed)) {
                CASK__NOISE("queue.push.published");
                cask_hp_reset(slot);
                return 0;
            }
            CASK__NOISE("queue.push.overtaken"); /* a pop gave up on cell i: reserve again */
            continue;
        }
        void *next = atomic_load_explicit(&t->next, memory_order_acquire); /* link or seal CAS */
        CASK__NOISE("queue.push.full");
        if (next == NULL) {
            cask__qseg *fresh = cask__qseg_new(t->id + 1, item);
            if (fresh == NULL) {
                cask_hp_reset(slot);
                return CASK_ENOMEM;
            }
            /* Release publishes fresh (its cell 0 holds the item) to the acquire loads of next;
             * seq_cst for the eventcount, as the cell CAS. Exactly one of this CAS and close's
             * CAS to CLOSED_LINK wins. */
            if (atomic_compare_exchange_strong_explicit(&t->next, &next, fresh,
                                                        memory_order_seq_cst, /* loads of next; EC */
                                                        memory_order_acquire)) { /* winning CAS */
                CASK__NOISE("queue.push.linked");
                cask__queue_help_tail(q, t, fresh);
                cask_hp_reset(slot);
                return 0;
            }
            cask__free(fresh); /* never published */
        }
        if (next == CLOSED_LINK) {
            cask__queue_seal(q, slot); /* sealed already: sets `closed` if close has not yet */
            return CASK_ECLOSED;
        }
        cask__queue_help_tail(q, t, next);
    }
}

/*
 * A pop found the queue empty, having read `closed` (as `was`) before it looked. If that said
 * open, it reads `closed` again: a close may have completed meanwhile, and pops drained the
 * queue after it; then there was no moment in this call when the queue was open and empty, so
 * CASK_EEMPTY would not be linearizable, and the pop looks once more, to answer CASK_ECLOSED
 * (at most once: `closed` never goes back). Still open: CASK_EEMPTY, at the emptiness check.
 */
static bool cask__queue_closed_since(cask_queue *q, bool was)
{
    return !was && atomic_load_explicit(&q->closed, memory_order_seq_cst); /* seal's store; EC */
}

/* The pop loop: 0, CASK_EEMPTY or CASK_ECLOSED; the slot is reset before returning. */
static int cask__queue_take(cask_queue *q, cask_hp_slot *slot, void **item)
{
    for (;;) {
        /* Read before the emptiness check, so that "closed and then empty" means every accepted
         * item is gone; acquire makes the reason visible; seq_cst for a waiter's re-check. */
        bool closed = atomic_load_explicit(&q->closed, memory_order_seq_cst); /* close's store */
        cask__qseg *h = cask_hp_protect(slot, &q->head);
        CASK__NOISE("queue.pop.protected");
        uint64_t d = atomic_load_explicit(&h->deq, memory_order_relaxed);
        /* An item already waiting in cell d means the queue is not empty: skip the loads of enq
         * and next (see "Pop's peek" in the essay). Relaxed: a hint, never a result. */
        void *peek = d < N ? atomic_load_explicit(&h->cells[d], memory_order_relaxed) : NULL;
        if (peek == NULL || peek == TAKEN) {
            /* The eventcount re-check must see a reservation that the waker's notify followed
             * (see the essay); the values are only compared: no acquire needed. */
            uint64_t e = atomic_load_explicit(&h->enq, memory_order_seq_cst); /* push's FAA; EC */
            e &= ~CLOSED_BIT;
            void *next = atomic_load_explicit(&h->next, memory_order_seq_cst); /* link CAS; EC */
            if (d >= e && (next == NULL || next == CLOSED_LINK)) {
                if (cask__queue_closed_since(q, closed))
                    continue; /* once more, seeing it closed */
                cask_hp_reset(slot);
                return closed ? CASK_ECLOSED : CASK_EEMPTY;
            }
        }
        CASK__NOISE("queue.pop.nonempty");
        /* Index i goes to this pop alone (other pops' FAAs are ordered with this one). */
        uint64_t i = atomic_fetch_add_explicit(&h->deq, 1, memory_order_seq_cst); /* EC */
        CASK__NOISE("queue.pop.reserved");
        cask__backoff_note(&cask__backoff_state.pop, h, i, CASK__BACKOFF_WINDOW_NS);
        if (i < N) {
            /* Index i is this pop's alone. If the pusher has written, take the item with a load
             * (nobody else will touch the cell again, Q3); only if the cell is still empty does
             * the pop need the exchange, to make the late pusher's CAS fail. */
            void *x = atomic_load_explicit(&h->cells[i], memory_order_seq_cst); /* cell CAS; EC */
            if (x == NULL) /* one of this exchange and the push's cell CAS wins */
                x = atomic_exchange_explicit(&h->cells[i], TAKEN,
                                             memory_order_seq_cst); /* push's cell CAS; EC */
            CASK__NOISE("queue.pop.taken");
            if (x == NULL)
                continue; /* overtook the pusher of cell i; it will reserve again */
            cask_hp_reset(slot);
            *item = x;
            return 0;
        }
        /* seq_cst, not only acquire: after a peek this may be the pop's only load of next before
         * an "empty" answer, and a waiter's re-check must see a link that came before the
         * waker's load of the waiter count (eventcount). */
        void *next = atomic_load_explicit(&h->next, memory_order_seq_cst); /* link CAS; EC */
        if (next == NULL || next == CLOSED_LINK) {
            if (cask__queue_closed_since(q, closed))
                continue; /* once more, seeing it closed */
            cask_hp_reset(slot);
            return closed ? CASK_ECLOSED : CASK_EEMPTY;
        }
        /* Q2: tail must be past h before h can be retired. Relaxed load: only compared. */
        if (atomic_load_explicit(&q->tail, memory_order_relaxed) == h)
            cask__queue_help_tail(q, h, next);
        CASK__NOISE("queue.pop.advance");
        void *expected = h;
        if (atomic_compare_exchange_strong_explicit(&q->head, &expected, next,
                                                    memory_order_release, /* protect(head) */
                                                    memory_order_relaxed)) {
            cask_hp_reset(slot);
            CASK__NOISE("queue.pop.unlinked");
            /* Reclaim functions run here may call queues; their calls do not wait (this one may
             * be a blocking pop's re-check, registered on the eventcount): lib/hp.c holds the
             * backoff around every reclaim function it runs. */
            cask_hp_retire_sized(cask_hp_default_domain(), &h->retired, h, cask__qseg_reclaim,
                                 sizeof(*h));
        }
    }
}

int cask_queue_push(cask_queue *q, void *item)
{
    if (item == NULL)
        return CASK_EINVAL;
    cask_hp_slot *slot;
    int rc = cask__queue_slot(q, &slot);
    if (rc != 0)
        return rc;
    rc = cask__queue_put(q, slot, item);
    CASK__NOISE("queue.push.wake");
    if (rc == 0)
        cask__ec_notify(&q->ec);
    cask__backoff_finish(); /* after the wake-up: a sleeping pop is not kept waiting */
    return rc;
}

int cask_queue_try_pop(cask_queue *q, void **item)
{
    if (item == NULL)
        return CASK_EINVAL;
    cask_hp_slot *slot;
    int rc = cask__queue_slot(q, &slot);
    if (rc != 0)
        return rc;
    rc = cask__queue_take(q, slot, item);
    if (rc == CASK_EEMPTY)
        cask__backoff_empty(q);
    cask__backoff_finish();
    return rc;
}

/* What one attempt of a blocking pop needs (cask__wait_for's context). */
typedef struct cask__queue_pop_try {
    cask_queue *q;
    cask_hp_slot *slot;
    void **item;
} cask__queue_pop_try;

static int cask__queue_pop_attempt(void *ctx)
{
    cask__queue_pop_try *a = ctx;
    return cask__queue_take(a->q, a->slot, a->item);
}

int cask_queue_pop(cask_queue *q, void **item, int64_t timeout_ns)
{
    if (item == NULL || timeout_ns < -1)
        return CASK_EINVAL;
    cask_hp_slot *slot;
    int rc = cask__queue_slot(q, &slot);
    if (rc != 0)
        return rc;
    cask__queue_pop_try a = {q, slot, item};
    rc = cask__wait_for(&q->ec, CASK_EEMPTY, timeout_ns, cask__queue_pop_attempt, &a,
                        "queue.pop.sleep");
    cask__backoff_finish();
    return rc;
}

int cask_queue_close(cask_queue *q, int reason)
{
    cask_hp_slot *slot;
    int rc = cask__queue_slot(q, &slot);
    if (rc != 0)
        return rc;
    rc = cask__close_claim(&q->reason, reason);
    CASK__NOISE("queue.close.reason");
    cask__queue_seal(q, slot);
    return rc;
}

bool cask_queue_closed(const cask_queue *q, int *reason)
{
    CASK__REQUIRE(q != NULL, "queue", q, "NULL queue passed",
                  "pass a queue from cask_queue_create");
    /* The seal, not the reason: the reason is claimed first, and pushes are still accepted
     * until the seal is done. Acquire (in seq_cst): the reason, claimed before the marks. */
    if (!atomic_load_explicit(&((cask_queue *)q)->closed, memory_order_seq_cst)) /* seal's store */
        return false;
    return cask__close_read(&q->reason, reason);
}

size_t cask_queue_length(cask_queue *q)
{
    cask_hp_slot *slot;
    if (cask__queue_slot(q, &slot) != 0)
        return 0;
    cask__qseg *h = cask_hp_protect(slot, &q->head);
    uint64_t first = h->id * N;
    uint64_t d = atomic_load_explicit(&h->deq, memory_order_relaxed);
    first += d < N ? d : N;
    cask__qseg *t = cask_hp_protect(slot, &q->tail);
    uint64_t last = t->id * N;
    uint64_t e = atomic_load_explicit(&t->enq, memory_order_relaxed);
    if (e & CLOSED_BIT) { /* refused pushes reserved indices too: count up to the mark */
        uint64_t sealed = atomic_load_explicit(&t->sealed_enq, memory_order_relaxed);
        e &= ~CLOSED_BIT;
        if (sealed != 0 && sealed - 1 < e)
            e = sealed - 1;
    }
    last += e < N ? e : N;
    cask_hp_reset(slot);
    return last > first ? (size_t)(last - first) : 0;
}
