/*
 * bqueue.c: a bounded MPMC queue built from two SCQ rings of indices, with close.
 *
 * Design
 * ------
 * Source: R. Nikolaev, "A Scalable, Portable, and Memory-Efficient Lock-Free FIFO Queue",
 * DISC 2019: SCQ, the scalable circular queue, lock-free with single-width CAS and FAA only.
 * An SCQ ring of R = 2n entries holds at most n indices in 0..n-1. The queue is
 *   data[n]   the items (plain pointers),
 *   fq        an SCQ of the free indices (initially all of 0..n-1),
 *   aq        an SCQ of the allocated indices, in FIFO order (initially empty);
 *   push(x):  i = fq.dequeue() (none: CASK_EFULL); data[i] = x; aq.enqueue(i).
 *   pop():    i = aq.dequeue() (none: CASK_EEMPTY); x = data[i]; fq.enqueue(i).
 * Each index is owned by exactly one thread between its dequeue from one ring and its enqueue
 * into the other, so data[i] needs no atomics: the rings order it (below).
 *
 * SCQ in brief (paper, Figure 8). Head and Tail are 64-bit counters; position p maps to entry
 * remap(p mod R) (consecutive positions on different cache lines) with cycle p / R. An entry is
 * one 64-bit word {cycle, safe bit, index or BOT}. enqueue: T = FAA(Tail); if the entry's cycle is
 * older than T's, it is empty (BOT) and (safe, or Head <= T), CAS in {cycle(T), safe, index};
 * otherwise take another T. dequeue: H = FAA(Head); if the entry's cycle equals H's, consume it
 * (fetch-or BOT into the index) and return the index; otherwise advance the entry's cycle (an
 * empty entry) or mark it unsafe (an entry from an older cycle still holding an index, so that a
 * slow enqueuer of H's cycle does not put an item behind a dequeuer that gave up), and return
 * empty if Tail <= H + 1 (after helping Tail catch up with Head). The Threshold counter (3n - 1
 * after every enqueue, decremented by every failed dequeue attempt) bounds how long dequeuers
 * keep trying on a ring that is empty: it is what makes dequeue lock-free instead of
 * obstruction-free (livelock-free against enqueuers), and lets dequeue answer "empty" at once.
 * Because fq and aq never hold more than n indices in a ring of 2n entries, enqueue always
 * succeeds (the paper's Theorem: it finds a usable entry within a bounded number of tries),
 * except that aq's is refused once the queue is closed (below).
 * Why SCQ: it is lock-free where the usual ring (Vyukov's, ck_ring) is not: a producer preempted
 * between claiming a slot and filling it blocks every consumer behind that slot there, while
 * in SCQ a dequeuer that finds an entry not yet filled marks it and moves on. The price, measured
 * against ck_ring's MPMC ring (one CAS per call; `./cask bench queue`, row ck_ring, a reference
 * that is not a goal peer; 2-core Xeon, four runs): pairs at 1 thread 66-93 ns per call here,
 * 17-21 ns there; at 2 threads 0.53-1.67x; at 8 threads on 2 cores ck_ring did not finish
 * 20,000 pairs per thread in 100 s (its producers wait for a preempted one), this queue took
 * 744-779 ns per call. A single lock-free ring of pointers with single-width CAS would keep the
 * item in a word apart from the cycle-tagged entry (a pointer leaves no room for the cycle), and
 * a slow enqueuer of an old cycle must not write an item word that a newer cycle owns, so its
 * enqueuer would claim the entry, write the item, then publish: by our count (not built) five
 * RMWs per push and pop pair with the FAAs, against SCQ-with-indices' eight and ck_ring's two.
 * The unbounded queue (lib/queue.c) needs three: its cells are used once. What those counts
 * allow at one thread is measured by `./cask bench queue`'s queue.floor rows (K uncontended
 * fetch-and-adds per pair and nothing else, beside the mutex list; nine runs): mutex/rmw8
 * 0.85-0.96x, so no eight-RMW queue can be 1.2x the mutex list; rmw5 1.33-1.95x; rmw3
 * 2.07-2.70x, of which lib/queue.c keeps 1.18-1.44x. A five-RMW ring with the other costs of
 * lib/queue.c (its time above rmw3's) would come to about 0.95x: 1.2x would leave it a third of
 * that queue's work besides the RMWs. This queue measures 0.52-0.54x.
 *
 * Empty by loads. Before its FAA on Head, a dequeue loads Head, peeks at Head's entry and, unless
 * that entry already holds an index of Head's cycle, loads Tail: Tail <= Head means empty, with
 * no RMW. It is the answer an FAA at the moment of the Tail load would have given (Head only
 * grows, so Tail <= Head then too; no enqueuer holds a position >= Head, so the entry there
 * could not be filled), minus the FAA's side effects: Head does not move past Tail, and the
 * threshold is not spent. Without it, a consumer polling an empty queue did an FAA and a CAS
 * (catchup) on the producer's lines per poll; 1p1c was 550-700 ns per operation. The peek is a
 * hint (relaxed); the empty answer comes from the two seq_cst loads, which keeps it in the
 * eventcount's order like the FAA path's load of Tail.
 *
 * Contention backoff (lib/internal/backoff.h, as in lib/queue.c): the FAAs on aq's Tail (push)
 * and Head (pop) are noted, with a 2 us window (a contended call here costs about twice the
 * unbounded queue's; with its 1 us window pairs at 2 threads stayed at 360-390 ns); a thread
 * alternating with another back to back waits after its call (public calls only: the blocking
 * ones finish after leaving the eventcount, so their re-checks, cask__bq_push_once and
 * cask__bq_pop_once, never wait while registered there). Measured (`./cask bench queue`, same
 * machine): pairs at 2 threads 400-900 -> 80-200 ns per operation, at 8 threads 3,100-3,500 ->
 * 770-800 ns, 4p4c 1,700-1,800 -> 880-1,030 ns; one thread and 1p1c unchanged. try_pop makes
 * the unbounded queue's empty-poll pause too (lib/queue.c): 1p1c 80-110 -> 56-58 ns, 2p2c
 * 166-170 -> 131-136 ns (Intel Xeon, 2 cores); and so do the blocking push and pop before the
 * first tries of their spin: 1p1c with the consumer in pop 178 -> 75 ns.
 *
 * Close: a bit in aq's Tail, as the unbounded queue keeps one in its tail segment's index. close
 * CASes the reason word, then sets CLOSED (bit 63) in aq's Tail with a fetch-or; the close whose
 * fetch-or set it stores the Tail it returned in `closed_at`. Positions below closed_at were
 * claimed before the bit, positions from it on after. An aq.enqueue whose FAA returns the bit is
 * refused: it writes no entry, and its push gives the index back to fq (nothing of the capacity is
 * lost) and returns CASK_ECLOSED; a push that finds fq empty also says CASK_ECLOSED, not
 * CASK_EFULL, once the bit is set, so nobody waits for room on a closed queue. So an accepted push
 * is an entry CAS at a position below closed_at (B3).
 *
 * A pop that finds aq empty and the reason claimed loads closed_at, and if that is still 0 (the
 * close that set the bit is between its fetch-or and its store, and a second close may already
 * have returned) aq's Tail: with the bit, its value bounds closed_at from above, and positions
 * past closed_at are holes, settled like any other; without it, close has not marked Tail yet
 * (CASK_EEMPTY; every step of close precedes its notify). Then it drains (cask__scq_drain): it
 * claims positions with the FAA on Head and settles each until one yields an index (returned as
 * usual) or Head reaches that end: CASK_ECLOSED. So once a close has returned, pops never say
 * CASK_EEMPTY again, whichever close it was. Nothing accepted is left behind, because every
 * position p below closed_at is claimed by exactly one dequeuer, and that dequeuer settles p: it
 * takes the index an enqueuer put there for p's cycle, or makes the entry unusable for p's
 * enqueuer (advances its cycle, or marks it unsafe while Head is already past p), which then
 * claims another position: one past closed_at is refused, one below it is settled the same way by
 * its own dequeuer. The drain does not use the Threshold: after close, a position whose enqueuer
 * gave up will never be filled, and a plain dequeue with its threshold spent would stop short of
 * it, so pops would say CASK_EEMPTY for ever. A pop may return CASK_ECLOSED while a pop that
 * claimed a position below closed_at has not settled it yet; that pop, and the push it may still
 * receive, are both in progress, so both can be ordered before the close (linearizable; the
 * unbounded queue has the same case). Hence a push paused between its FAA and its CAS delays no
 * pop: the pop that claims its position settles it, and the push, when it resumes, is refused.
 *
 * Cost: nothing on the paths of an open queue. The earlier design counted pushes in flight on a
 * shared word (two RMWs per push, and a pop after close waited for every push in flight). Measured
 * against it (2-core Xeon, queue_bench's cask_bq rows, the two builds' runs interleaved, ns per
 * operation): pairs at 1 thread 28.9-30.6 -> 25.3-26.4, at 2 threads 76-79 -> 69-73, at 8 threads
 * 318-342 -> 282-290; 1p1c 55 -> 51-54, with the consumer in pop 54-57 -> 51-52; 4p4c 223-238 ->
 * 205-213.
 *
 * Invariants
 *   B1  Every index 0..n-1 is, at any time, in exactly one of: fq, aq, or owned by one thread
 *       between its dequeue and its enqueue (each SCQ is linearizable, paper Theorem 5.5).
 *   B2  data[i] is written only by the owner of i after fq.dequeue and read only by the owner of
 *       i after aq.dequeue.
 *   B3  Once CLOSED is set, aq's entries are filled only for positions below closed_at (the
 *       bit never clears: catchup's CAS keeps it), and each such position is settled by the
 *       one dequeuer that claimed it.
 *
 * Linearization points: a push at its aq.enqueue's CAS (or its fq.dequeue's empty decision, for
 * CASK_EFULL; the FAA or load of aq's Tail that saw CLOSED, for CASK_ECLOSED); a pop at its
 * aq.dequeue's consuming load; an empty pop at the SCQ's empty decision; CASK_ECLOSED from a pop
 * at the load of Head, or the FAA, that reached the drain's end; close at its fetch-or, and
 * cask_bqueue_closed at its load of aq's Tail (not of the reason word, which close claims
 * before it sets the bit: reading that said "closed" while pushes were still accepted). One
 * exception to "at": a push whose FAA preceded close's fetch-or may make its CAS after it (even
 * after close returned), and a pop that claimed its position may take the item after other pops
 * said CASK_ECLOSED; both claimed their positions before the calls they are ordered before.
 * CASK_EFULL is linearizable against a weaker specification than "capacity items queued": a unit
 * of capacity is also held by a call in progress (B1: an index owned between its two ring
 * operations; a pop gives its unit back just before it returns), so with k calls paused there,
 * pushes say CASK_EFULL when capacity - k items are queued, and a try_push can say CASK_EFULL
 * while a try_pop right after it says CASK_EEMPTY. The paper's index recycling has the same
 * property; the header says so.
 *
 * Memory orders. Every RMW and load of the rings is seq_cst: acquire/release is what carries
 * data[i] (the enqueuer's CAS releases, the dequeuer's load of the entry acquires; marking an
 * entry unsafe is an RMW and continues the release sequence), and the blocking calls' eventcounts
 * (lib/internal/futex.h) need the store that makes "not empty" / "not full" true and the waker's
 * load of the waiter count in one total order with the waiter's re-check. On x86-64 seq_cst RMWs
 * are the same instructions and seq_cst loads are plain loads; of the seq_cst stores, the
 * Threshold reset runs once per enqueue that finds it lowered, and close's of closed_at once. In the code every non-relaxed access names
 * on its own line what it pairs with ("EC": and the eventcount's total order). The close-reason
 * word and the wait loop are shared with the unbounded queue (lib/internal/closable.h).
 * No allocation after create; nothing to reclaim (entries are words, never freed while in use).
 */
#define _GNU_SOURCE
#include "cask/bqueue.h"

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

typedef struct cask__scq {
    _Alignas(64) _Atomic uint64_t head;
    _Alignas(64) _Atomic uint64_t tail;
    _Alignas(64) _Atomic int64_t threshold;
    _Atomic uint64_t *entries; /* R words */
} cask__scq;

struct cask_bqueue {
    cask__scq aq, fq;
    void **data;      /* n items (B2) */
    uint64_t n;       /* capacity, a power of two */
    uint64_t ring;    /* R = 2n */
    uint64_t lines;   /* R / 8 when R >= 16 (cache remap), else 0 */
    int lines_order;  /* log2(lines) */
    _Alignas(64) _Atomic uint64_t closed_at; /* 0, then aq's Tail when close set CLOSED (B3) */
    _Atomic uint64_t reason; /* 0 open, else (1 << 32) | (uint32_t)reason */
    cask__eventcount not_empty, not_full;
};

/* ---- SCQ ---- */

/* Bit 63 of aq's Tail: set by close; enqueues that claim a position with it set are refused. */
#define CASK__BQ_CLOSED (UINT64_C(1) << 63)

/* The position in a Tail word, without the CLOSED bit. */
static inline uint64_t cask__bq_pos(uint64_t tail)
{
    return tail & ~CASK__BQ_CLOSED;
}

/* Entry word: (cycle << 1) | SAFE | index, cycle = position with the low log2(R) bits clear. */
static inline uint64_t cask__scq_bot(const cask_bqueue *q)
{
    return q->ring - 1;
}
static inline uint64_t cask__scq_safe(const cask_bqueue *q)
{
    return q->ring;
}
static inline uint64_t cask__scq_cycle_of_pos(const cask_bqueue *q, uint64_t pos)
{
    return pos & ~(q->ring - 1);
}
static inline uint64_t cask__scq_cycle(const cask_bqueue *q, uint64_t e)
{
    return (e >> 1) & ~(q->ring - 1);
}

/* Position -> entry, so that consecutive positions fall on different cache lines. */
static inline _Atomic uint64_t *cask__scq_entry(const cask_bqueue *q, const cask__scq *r,
                                                uint64_t pos)
{
    uint64_t p = pos & (q->ring - 1);
    if (q->lines != 0)
        p = ((p & (q->lines - 1)) << 3) | (p >> q->lines_order);
    return &r->entries[p];
}

/* Lets Tail catch up with Head after dequeuers overtook it (paper: catchup); `tail` is the raw
 * word, whose CLOSED bit is kept. */
static void cask__scq_catchup(cask__scq *r, uint64_t tail, uint64_t head)
{
    /* Only counters, compared; seq_cst keeps them in the eventcount order (see the essay). */
    while (!atomic_compare_exchange_strong_explicit(&r->tail, &tail,
                                                    head | (tail & CASK__BQ_CLOSED),
                                                    memory_order_seq_cst, /* enqueue's FAA; EC */
                                                    memory_order_seq_cst)) { /* as success */
        head = atomic_load_explicit(&r->head, memory_order_seq_cst); /* dequeue's FAA; EC */
        if (cask__bq_pos(tail) >= head) /* tail: reloaded by the failed CAS */
            break;
    }
}

/* Returns 0, or CASK_ECLOSED if the position it claimed was past the close (aq only: fq's Tail
 * never has the bit); then the ring is unchanged. */
static int cask__scq_enqueue(cask_bqueue *q, cask__scq *r, uint64_t index)
{
    const int64_t full = (int64_t)(3 * q->n - 1);
    for (;;) {
        /* Claims position t; seq_cst: reads close's fetch_or (the reason travels with it). */
        uint64_t t = atomic_fetch_add_explicit(&r->tail, 1, memory_order_seq_cst); /* deq; EC */
        if (t & CASK__BQ_CLOSED)
            return CASK_ECLOSED; /* position t is past closed_at: a hole dequeuers skip */
        CASK__NOISE("queue.bq.enq.claimed");
        if (r == &q->aq)
            cask__backoff_note(&cask__backoff_state.push, r, t, CASK__BACKOFF_WIDE_WINDOW_NS);
        uint64_t tcycle = cask__scq_cycle_of_pos(q, t);
        _Atomic uint64_t *slot = cask__scq_entry(q, r, t);
        /* No data belongs to an entry (data[index] is ordered through the other ring, B2):
         * seq_cst for the eventcount order with the dequeuers' RMWs of this entry. */
        uint64_t e = atomic_load_explicit(slot, memory_order_seq_cst); /* deq's fetch_or/CAS; EC */
        while (cask__scq_cycle(q, e) < tcycle && (e & cask__scq_bot(q)) == cask__scq_bot(q) &&
               ((e & cask__scq_safe(q)) != 0 ||
                /* The paper's Head <= T test; only compared. */
                atomic_load_explicit(&r->head, memory_order_seq_cst) <= t)) { /* deq FAA; EC */
            uint64_t fresh = (tcycle << 1) | cask__scq_safe(q) | index;
            /* Release publishes data[index] (B2) to the dequeuer's acquire load of this entry;
             * in the eventcount order ("not empty" becomes true here). */
            if (atomic_compare_exchange_strong_explicit(slot, &e, fresh,
                                                        memory_order_seq_cst, /* deq's load; EC */
                                                        memory_order_seq_cst)) { /* as success */
                CASK__NOISE("queue.bq.enq.stored");
                /* Reopens dequeuing. */
                if (atomic_load_explicit(&r->threshold, memory_order_seq_cst) != full) /* EC */
                    atomic_store_explicit(&r->threshold, full,
                                          memory_order_seq_cst); /* deq's threshold load; EC */
                return 0;
            }
            CASK__NOISE("queue.bq.enq.retry");
        }
    }
}

/* Settles position h, which this thread claimed with an FAA on Head: returns the index an
 * enqueuer put there for h's cycle (consumed), or -1 after making sure no enqueuer can put one
 * there any more (the entry is advanced to h's cycle, or marked unsafe). */
static int64_t cask__scq_settle(cask_bqueue *q, cask__scq *r, uint64_t h)
{
    uint64_t hcycle = cask__scq_cycle_of_pos(q, h);
    _Atomic uint64_t *slot = cask__scq_entry(q, r, h);
    /* Acquire: data[index] (B2). */
    uint64_t e = atomic_load_explicit(slot, memory_order_seq_cst); /* enqueuer's CAS; EC */
    for (;;) {
        uint64_t ecycle = cask__scq_cycle(q, e);
        uint64_t idx = e & cask__scq_bot(q);
        if (ecycle == hcycle && idx != cask__scq_bot(q)) {
            /* Consumes the entry (index := BOT). seq_cst for the eventcount order; it carries
             * no data (the index's next owner gets data[index] through the other ring, B2). */
            atomic_fetch_or_explicit(slot, cask__scq_bot(q),
                                     memory_order_seq_cst); /* a later enqueue's load */
            CASK__NOISE("queue.bq.deq.consumed");
            return (int64_t)idx;
        }
        uint64_t next;
        if (idx == cask__scq_bot(q))
            next = (hcycle << 1) | (e & cask__scq_safe(q)) | cask__scq_bot(q);
        else
            next = (ecycle << 1) | idx; /* older cycle still holding an index: unsafe */
        /* An RMW: keeps the enqueuer's release sequence on the entry. */
        if (ecycle < hcycle &&
            !atomic_compare_exchange_strong_explicit(slot, &e, next,
                                                     memory_order_seq_cst, /* enq's load */
                                                     memory_order_seq_cst)) { /* enq CAS */
            CASK__NOISE("queue.bq.deq.retry");
            continue;
        }
        return -1;
    }
}

/* Returns an index, or -1 if the ring was empty. */
static int64_t cask__scq_dequeue(cask_bqueue *q, cask__scq *r)
{
    /* A re-check of the eventcount must see the enqueuer's threshold store. */
    if (atomic_load_explicit(&r->threshold, memory_order_seq_cst) < 0) /* enq's store; EC */
        return -1;
    /* Empty by loads (see the essay): Head, a peek at its entry, then Tail. Head is read
     * first: Tail <= Head then holds at the load of Tail. */
    uint64_t head = atomic_load_explicit(&r->head, memory_order_seq_cst); /* deq's FAA; EC */
    /* Relaxed: a hint; an entry already filled for Head's cycle skips the load of Tail. */
    uint64_t peek = atomic_load_explicit(cask__scq_entry(q, r, head), memory_order_relaxed);
    if (cask__scq_cycle(q, peek) != cask__scq_cycle_of_pos(q, head) ||
        (peek & cask__scq_bot(q)) == cask__scq_bot(q)) {
        uint64_t tail = atomic_load_explicit(&r->tail, memory_order_seq_cst); /* enq FAA; EC */
        if (cask__bq_pos(tail) <= head)
            return -1;
    }
    for (;;) {
        /* Claims position h. */
        uint64_t h = atomic_fetch_add_explicit(&r->head, 1,
                                               memory_order_seq_cst); /* Head <= T test; EC */
        CASK__NOISE("queue.bq.deq.claimed");
        if (r == &q->aq)
            cask__backoff_note(&cask__backoff_state.pop, r, h, CASK__BACKOFF_WIDE_WINDOW_NS);
        int64_t idx = cask__scq_settle(q, r, h);
        if (idx >= 0)
            return idx;
        /* Only compared. */
        uint64_t t = atomic_load_explicit(&r->tail, memory_order_seq_cst); /* enq's FAA; EC */
        if (cask__bq_pos(t) <= h + 1) {
            cask__scq_catchup(r, t, h + 1);
            /* The paper's threshold accounting. */
            atomic_fetch_sub_explicit(&r->threshold, 1, memory_order_seq_cst); /* enq's store */
            return -1;
        }
        if (atomic_fetch_sub_explicit(&r->threshold, 1, memory_order_seq_cst) <= 0) /* as above */
            return -1;
        CASK__NOISE("queue.bq.deq.again");
    }
}

/* After close: claims and settles positions until one holds an index (returned) or Head reaches
 * `end` (closed_at): -1. No threshold: it stops at `end` instead, so a position below it whose
 * enqueuer gave up (refused after the close) cannot make pops say "empty" for ever (B3). */
static int64_t cask__scq_drain(cask_bqueue *q, cask__scq *r, uint64_t end)
{
    for (;;) {
        /* seq_cst: "Head >= end" is the closed-and-empty decision, in the eventcount order. */
        if (atomic_load_explicit(&r->head, memory_order_seq_cst) >= end) /* deq's FAA; EC */
            return -1;
        uint64_t h = atomic_fetch_add_explicit(&r->head, 1,
                                               memory_order_seq_cst); /* other deq's FAA; EC */
        if (h >= end)
            return -1;
        CASK__NOISE("queue.bq.drain.claimed");
        int64_t idx = cask__scq_settle(q, r, h);
        if (idx >= 0)
            return idx;
    }
}

/* ---- the queue ---- */

int cask_bqueue_create(size_t capacity, cask_bqueue **out)
{
    if (out == NULL || capacity == 0 || capacity > CASK_BQUEUE_MAX_CAPACITY)
        return CASK_EINVAL;
    uint64_t n = 1;
    while (n < capacity)
        n <<= 1;
    cask_bqueue *q = cask__alloc(64, sizeof(*q));
    if (q == NULL)
        return CASK_ENOMEM;
    memset(q, 0, sizeof(*q));
    q->n = n;
    q->ring = 2 * n;
    if (q->ring >= 16) {
        q->lines = q->ring / 8;
        while (((uint64_t)1 << q->lines_order) < q->lines)
            q->lines_order++;
    }
    q->data = cask__alloc(64, n * sizeof(void *));
    q->aq.entries = cask__alloc(64, q->ring * sizeof(uint64_t));
    q->fq.entries = cask__alloc(64, q->ring * sizeof(uint64_t));
    if (q->data == NULL || q->aq.entries == NULL || q->fq.entries == NULL) {
        cask__free(q->data);
        cask__free(q->aq.entries);
        cask__free(q->fq.entries);
        cask__free(q);
        return CASK_ENOMEM;
    }
    memset(q->data, 0, n * sizeof(void *));
    /* Counters start at R (cycle 1) so that entries of cycle 0 are "older" and usable. */
    uint64_t empty = cask__scq_safe(q) | cask__scq_bot(q); /* cycle 0, safe, BOT */
    for (uint64_t i = 0; i < q->ring; i++) {
        atomic_init(&q->aq.entries[i], empty);
        atomic_init(&q->fq.entries[i], empty);
    }
    atomic_init(&q->aq.head, q->ring);
    atomic_init(&q->aq.tail, q->ring);
    atomic_init(&q->aq.threshold, -1);
    for (uint64_t i = 0; i < n; i++) /* fq full: position R + i holds index i, cycle 1 */
        atomic_init(cask__scq_entry(q, &q->fq, q->ring + i),
                    (q->ring << 1) | cask__scq_safe(q) | i);
    atomic_init(&q->fq.head, q->ring);
    atomic_init(&q->fq.tail, q->ring + n);
    atomic_init(&q->fq.threshold, (int64_t)(3 * n - 1));
    atomic_init(&q->closed_at, 0);
    atomic_init(&q->reason, 0);
    *out = q;
    return 0;
}

void cask_bqueue_destroy(cask_bqueue *q)
{
    if (q == NULL)
        return;
    CASK__CHECK(atomic_load_explicit(&q->not_empty.waiters, memory_order_relaxed) == 0 &&
                    atomic_load_explicit(&q->not_full.waiters, memory_order_relaxed) == 0,
                "bounded queue", q, "destroyed while a push or pop is sleeping on it",
                "close the queue, join its users, then destroy it");
    cask__free(q->data);
    cask__free(q->aq.entries);
    cask__free(q->fq.entries);
    cask__free(q);
}

size_t cask_bqueue_capacity(const cask_bqueue *q)
{
    return (size_t)q->n;
}

/* try_push without the backoff's finish (the blocking push re-checks with it while it is
 * registered on the eventcount, and must not wait there). */
static int cask__bq_push_once(cask_bqueue *q, void *item)
{
    int64_t i = cask__scq_dequeue(q, &q->fq);
    if (i < 0) {
        /* Full; but a closed queue says so instead, or a push waiting for room would wait for
         * pops that may never come. seq_cst: the eventcount order with close's fetch_or and its
         * notify; acquire: the reason. */
        uint64_t t = atomic_load_explicit(&q->aq.tail, memory_order_seq_cst); /* close; EC */
        return (t & CASK__BQ_CLOSED) ? CASK_ECLOSED : CASK_EFULL;
    }
    CASK__NOISE("queue.bq.push.owned");
    q->data[i] = item; /* B2: index i is ours until aq.enqueue publishes it */
    if (cask__scq_enqueue(q, &q->aq, (uint64_t)i) != 0) {
        /* Refused (its position is past closed_at): the index goes back unused, so no room is
         * lost (B1). fq's Tail never has the bit, so this enqueue succeeds. */
        cask__scq_enqueue(q, &q->fq, (uint64_t)i);
        return CASK_ECLOSED;
    }
    CASK__NOISE("queue.bq.push.wake");
    cask__ec_notify(&q->not_empty);
    return 0;
}

int cask_bqueue_try_push(cask_bqueue *q, void *item)
{
    CASK__REQUIRE(q != NULL, "bounded queue", q, "NULL queue passed",
                  "pass a queue from cask_bqueue_create");
    if (item == NULL)
        return CASK_EINVAL;
    int rc = cask__bq_push_once(q, item);
    cask__backoff_finish();
    return rc;
}

/* try_pop without the backoff's finish (see cask__bq_push_once). */
static int cask__bq_pop_once(cask_bqueue *q, void **item)
{
    int64_t i = cask__scq_dequeue(q, &q->aq);
    if (i < 0) {
        /* No close has claimed the reason: plainly empty (reason and closed_at share a line that
         * only close writes). seq_cst, here and below: each of close's steps precedes its
         * notify, so a waiter whose re-check reads "not yet" is seen by that notify. */
        if (atomic_load_explicit(&q->reason, memory_order_seq_cst) == 0) /* close's claim; EC */
            return CASK_EEMPTY;
        /* Acquire: the reason (claimed before closed_at by the close that stored it, or seen
         * by that close through close_claim's acquire when another close had claimed it). */
        uint64_t end = atomic_load_explicit(&q->closed_at, memory_order_seq_cst); /* close; EC */
        if (end == 0) {
            /* The close that set the bit has not stored closed_at yet (it may be paused there,
             * and another close may already have returned): any Tail read with the bit is at or
             * past closed_at, and positions past it are holes the drain settles like any other.
             * No bit: close has not marked Tail yet, and notifies after it has. */
            uint64_t t = atomic_load_explicit(&q->aq.tail, memory_order_seq_cst); /* close; EC */
            if ((t & CASK__BQ_CLOSED) == 0)
                return CASK_EEMPTY;
            end = cask__bq_pos(t);
        }
        CASK__NOISE("queue.bq.pop.closed");
        i = cask__scq_drain(q, &q->aq, end); /* every position below the close settled (B3) */
        if (i < 0)
            return CASK_ECLOSED;
    }
    void *x = q->data[i]; /* B2 */
    cask__scq_enqueue(q, &q->fq, (uint64_t)i);
    CASK__NOISE("queue.bq.pop.wake");
    cask__ec_notify(&q->not_full);
    *item = x;
    return 0;
}

int cask_bqueue_try_pop(cask_bqueue *q, void **item)
{
    CASK__REQUIRE(q != NULL, "bounded queue", q, "NULL queue passed",
                  "pass a queue from cask_bqueue_create");
    if (item == NULL)
        return CASK_EINVAL;
    int rc = cask__bq_pop_once(q, item);
    if (rc == CASK_EEMPTY)
        cask__backoff_empty(q);
    cask__backoff_finish();
    return rc;
}

/* What one attempt of a blocking push or pop needs (cask__wait_for's context). */
typedef struct cask__bq_try {
    cask_bqueue *q;
    void *arg; /* the item to push, or where to store the popped one */
} cask__bq_try;

static int cask__bq_push_attempt(void *ctx)
{
    cask__bq_try *a = ctx;
    return cask__bq_push_once(a->q, a->arg);
}

static int cask__bq_pop_attempt(void *ctx)
{
    cask__bq_try *a = ctx;
    return cask__bq_pop_once(a->q, a->arg);
}

int cask_bqueue_push(cask_bqueue *q, void *item, int64_t timeout_ns)
{
    if (item == NULL || timeout_ns < -1)
        return CASK_EINVAL;
    CASK__REQUIRE(q != NULL, "bounded queue", q, "NULL queue passed",
                  "pass a queue from cask_bqueue_create");
    cask__bq_try a = {q, item};
    int rc = cask__wait_for(&q->not_full, CASK_EFULL, timeout_ns, cask__bq_push_attempt, &a,
                            "queue.bq.push.sleep");
    cask__backoff_finish(); /* out of the eventcount: the wait holds nothing */
    return rc;
}

int cask_bqueue_pop(cask_bqueue *q, void **item, int64_t timeout_ns)
{
    if (item == NULL || timeout_ns < -1)
        return CASK_EINVAL;
    CASK__REQUIRE(q != NULL, "bounded queue", q, "NULL queue passed",
                  "pass a queue from cask_bqueue_create");
    cask__bq_try a = {q, item};
    int rc = cask__wait_for(&q->not_empty, CASK_EEMPTY, timeout_ns, cask__bq_pop_attempt, &a,
                            "queue.bq.pop.sleep");
    cask__backoff_finish(); /* out of the eventcount: the wait holds nothing */
    return rc;
}

int cask_bqueue_close(cask_bqueue *q, int reason)
{
    CASK__REQUIRE(q != NULL, "bounded queue", q, "NULL queue passed",
                  "pass a queue from cask_bqueue_create");
    int rc = cask__close_claim(&q->reason, reason);
    CASK__NOISE("queue.bq.close.reason");
    /* Release: the reason, to the pushes refused for the bit. The first close to set it records
     * where aq ended (B3); seq_cst, both: before the notifies' loads of the waiter counts. */
    uint64_t t = atomic_fetch_or_explicit(&q->aq.tail, CASK__BQ_CLOSED,
                                          memory_order_seq_cst); /* enqueue's FAA; EC */
    if ((t & CASK__BQ_CLOSED) == 0) {
        CASK__NOISE("queue.bq.close.marked");
        atomic_store_explicit(&q->closed_at, t, memory_order_seq_cst); /* pop's load; EC */
    }
    cask__ec_notify(&q->not_empty);
    cask__ec_notify(&q->not_full);
    return rc;
}

bool cask_bqueue_closed(const cask_bqueue *q, int *reason)
{
    CASK__REQUIRE(q != NULL, "bounded queue", q, "NULL queue passed",
                  "pass a queue from cask_bqueue_create");
    /* The bit, not the reason: the reason is claimed first, and pushes are still accepted until
     * the bit is set (close's linearization point). Acquire (in seq_cst): the reason, claimed
     * before the bit by the close that set it, or seen by it through close_claim's acquire. */
    uint64_t t = atomic_load_explicit(&((cask_bqueue *)q)->aq.tail, memory_order_seq_cst); /* close's fetch_or */
    if ((t & CASK__BQ_CLOSED) == 0)
        return false;
    return cask__close_read(&q->reason, reason);
}

size_t cask_bqueue_length(const cask_bqueue *q)
{
    cask_bqueue *m = (cask_bqueue *)q;
    uint64_t h = atomic_load_explicit(&m->aq.head, memory_order_relaxed);
    uint64_t t = atomic_load_explicit(&m->aq.tail, memory_order_relaxed);
    uint64_t end = atomic_load_explicit(&m->closed_at, memory_order_relaxed);
    t = cask__bq_pos(t);
    if (end != 0 && end < t)
        t = end; /* positions past the close are refused pushes' */
    if (t <= h)
        return 0;
    return (size_t)(t - h < q->n ? t - h : q->n);
}
