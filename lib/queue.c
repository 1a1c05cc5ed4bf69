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
 * CAS), win; cask pays one hazard-slot acquire and release per call (about 6 ns, the largest
 * fixed cost in a profile). LCRQ needs cmpxchg16b (excluded). LSCQ would remove the "pop
 * overtakes a slow push" retry at the cost of a second ring per segment; not measured yet.
 * The price of the FAA array: a pop that overtakes a slow pusher makes it retry, so push is
 * lock-free, not wait-free (a push starves only while pops keep overtaking it, which means they
 * are completing).
 *
 * Close. The first close CASes the reason word (so the reason is fixed before anything can be
 * refused), then marks the tail segment: FAA-or of CLOSED into t->enq, then CAS(t->next, NULL ->
 * CLOSED_LINK); if t->next already held a real segment it helps tail forward and marks that one.
 * Finally it sets `closed` and wakes every sleeper. A push is accepted iff its cell CAS (or its
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
 *   Q3  A cell goes NULL -> item -> TAKEN or NULL -> TAKEN, never back; only the pusher that
 *       reserved index i writes an item into cell i.
 *   Q4  next goes NULL -> segment or NULL -> CLOSED_LINK, never back.
 *
 * Linearization points: an accepted push at its successful cell CAS or link CAS (its position is
 * its index, and no pop took that index earlier, by Q3); a refused push at the FAA that returned
 * CLOSED or the load that found CLOSED_LINK; a pop of an item at the load or XCHG that got it;
 * an empty pop at its load of `enq` (deq was already >= enq and next was NULL then, as next only
 * changes once); close at its FAA-or on the last segment.
 *
 * Memory orders. The item is published by the cell CAS (release) and received by the XCHG
 * (acquire); a new segment's contents by the link CAS (release) and the loads of next, head and
 * tail (acquire: hazard protect). The cell CAS, the link CAS, the index FAAs, the XCHG, the
 * empty-check loads and the `closed` store are seq_cst, not for the data but for the blocking
 * pop: the eventcount (lib/internal/futex.h) needs the store that makes the queue non-empty and
 * the waker's load of the waiter count in one total order with the waiter's registration and
 * re-check. On x86-64 a seq_cst RMW is the same locked instruction as a release one and a seq_cst
 * load a plain load, so this costs nothing there. The reason word is CAS acq_rel; `closed` is read
 * seq_cst (acquire suffices for the reason; seq_cst for the eventcount).
 *
 * Memory reclamation. Segments go through cask's hazard pointers (default domain): each call
 * acquires one slot for its duration, protects head or tail with it, and a pop that moves head
 * retires the old segment (Q2). ThreadSanitizer needs no annotation: hp.c explains why.
 * Allocation failure: the only allocations are the queue itself, a new segment (push) and a
 * thread's first hazard record (any call); each fails with CASK_ENOMEM before anything shared
 * changed (a failed segment allocation leaves an FAA on a full segment's enq behind, which is
 * invisible: indices >= N mean "full" whatever their value). Tests inject failures by
 * overriding the weak cask__alloc below (lib/internal/alloc.h).
 */
#define _GNU_SOURCE
#include "cask/queue.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cask/cask.h"
#include "internal/alloc.h"
#include "internal/check.h"
#include "internal/futex.h"

#define N CASK_QUEUE_SEGMENT
#define CLOSED_BIT (UINT64_C(1) << 63)
#define SPIN_TRIES 64 /* try_pops before a blocking pop sleeps */

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

/* ---- Allocation (weak: tests override it to inject failures; see lib/internal/alloc.h) ---- */

__attribute__((weak)) void *cask__alloc(size_t align, size_t size)
{
    return aligned_alloc(align, (size + align - 1) / align * align);
}

__attribute__((weak)) void cask__free(void *p)
{
    free(p);
}

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

/* One slot for the duration of a call; CASK_ENOMEM if this thread's record cannot be had. */
static int cask__queue_slot(cask_queue *q, cask_hp_slot **slot)
{
    CASK__REQUIRE(q != NULL, "queue", q, "NULL queue passed",
                  "pass a queue from cask_queue_create");
    return cask_hp_slot_acquire(cask_hp_default_domain(), slot);
}

/* Moves tail from t to next if it is still t (helping a push that linked next). */
static void cask__queue_help_tail(cask_queue *q, void *t, void *next)
{
    /* Release: pairs with the acquire load in cask_hp_protect(&q->tail): next's contents (its
     * initialised cells) were published by the link CAS; this keeps them reachable. */
    atomic_compare_exchange_strong_explicit(&q->tail, &t, next, memory_order_release,
                                            memory_order_relaxed);
}

/* The push loop; the slot is acquired and is reset before returning. */
static int cask__queue_put(cask_queue *q, cask_hp_slot *slot, void *item)
{
    for (;;) {
        cask__qseg *t = cask_hp_protect(slot, &q->tail);
        CASK__NOISE("queue.push.protected");
        /* seq_cst: the reservation; acquire pairs with close's FAA-or (the reason is visible
         * if the CLOSED bit is); seq_cst for the eventcount total order (see the essay). */
        uint64_t i = atomic_fetch_add_explicit(&t->enq, 1, memory_order_seq_cst);
        CASK__NOISE("queue.push.reserved");
        if (i & CLOSED_BIT) {
            cask_hp_reset(slot);
            return CASK_ECLOSED;
        }
        if (i < N) {
            void *expected = NULL;
            /* seq_cst: release publishes the item to the pop's XCHG (acquire); seq_cst so the
             * waker's load of the waiter count follows it in the total order (eventcount). */
            if (atomic_compare_exchange_strong_explicit(&t->cells[i], &expected, item,
                                                        memory_order_seq_cst,
                                                        memory_order_relaxed)) {
                CASK__NOISE("queue.push.published");
                cask_hp_reset(slot);
                return 0;
            }
            CASK__NOISE("queue.push.overtaken"); /* a pop gave up on cell i: reserve again */
            continue;
        }
        /* Acquire: pairs with the link CAS that published the next segment. */
        void *next = atomic_load_explicit(&t->next, memory_order_acquire);
        CASK__NOISE("queue.push.full");
        if (next == NULL) {
            cask__qseg *fresh = cask__qseg_new(t->id + 1, item);
            if (fresh == NULL) {
                cask_hp_reset(slot);
                return CASK_ENOMEM;
            }
            /* seq_cst: release publishes fresh (its cell 0 holds the item) to the acquire loads
             * of next; seq_cst for the eventcount, as the cell CAS. Pairs with close's CAS of
             * CLOSED_LINK: exactly one of the two wins. */
            if (atomic_compare_exchange_strong_explicit(&t->next, &next, fresh,
                                                        memory_order_seq_cst,
                                                        memory_order_acquire)) {
                CASK__NOISE("queue.push.linked");
                cask__queue_help_tail(q, t, fresh);
                cask_hp_reset(slot);
                return 0;
            }
            cask__free(fresh); /* never published */
        }
        if (next == CLOSED_LINK) {
            cask_hp_reset(slot);
            return CASK_ECLOSED;
        }
        cask__queue_help_tail(q, t, next);
    }
}

/* The pop loop: 0, CASK_EEMPTY or CASK_ECLOSED; the slot is reset before returning. */
static int cask__queue_take(cask_queue *q, cask_hp_slot *slot, void **item)
{
    for (;;) {
        /* seq_cst: pairs with close's seq_cst store after marking (acquire: the reason); in the
         * eventcount total order for a waiter's re-check. Read before the emptiness check, so
         * that "closed and then empty" means every accepted item is gone. */
        bool closed = atomic_load_explicit(&q->closed, memory_order_seq_cst);
        cask__qseg *h = cask_hp_protect(slot, &q->head);
        CASK__NOISE("queue.pop.protected");
        uint64_t d = atomic_load_explicit(&h->deq, memory_order_relaxed);
        /* seq_cst: the eventcount re-check must see a reservation that the waker's notify
         * followed (see the essay); the value is only compared. */
        uint64_t e = atomic_load_explicit(&h->enq, memory_order_seq_cst) & ~CLOSED_BIT;
        /* seq_cst: as above; acquire pairs with the link CAS. */
        void *next = atomic_load_explicit(&h->next, memory_order_seq_cst);
        if (d >= e && (next == NULL || next == CLOSED_LINK)) {
            cask_hp_reset(slot);
            return closed ? CASK_ECLOSED : CASK_EEMPTY;
        }
        CASK__NOISE("queue.pop.nonempty");
        /* seq_cst: hands index i to this pop alone; in the eventcount total order. */
        uint64_t i = atomic_fetch_add_explicit(&h->deq, 1, memory_order_seq_cst);
        CASK__NOISE("queue.pop.reserved");
        if (i < N) {
            /* Index i is this pop's alone. If the pusher has written, take the item with a load
             * (nobody else will touch the cell again, Q3); only if the cell is still empty does
             * the pop need the exchange, to make the late pusher's CAS fail.
             * seq_cst: acquire pairs with the pusher's cell CAS (the item's contents); seq_cst
             * for the eventcount order, like the exchange. */
            void *x = atomic_load_explicit(&h->cells[i], memory_order_seq_cst);
            if (x == NULL)
                /* seq_cst: acquire as above; the exchange makes a late pusher's CAS fail. */
                x = atomic_exchange_explicit(&h->cells[i], TAKEN, memory_order_seq_cst);
            CASK__NOISE("queue.pop.taken");
            if (x == NULL)
                continue; /* overtook the pusher of cell i; it will reserve again */
            cask_hp_reset(slot);
            *item = x;
            return 0;
        }
        /* Acquire: pairs with the link CAS (next's contents). */
        next = atomic_load_explicit(&h->next, memory_order_acquire);
        if (next == NULL || next == CLOSED_LINK) {
            cask_hp_reset(slot);
            return closed ? CASK_ECLOSED : CASK_EEMPTY;
        }
        /* Q2: tail must be past h before h can be retired. Relaxed load: only compared. */
        if (atomic_load_explicit(&q->tail, memory_order_relaxed) == h)
            cask__queue_help_tail(q, h, next);
        CASK__NOISE("queue.pop.advance");
        void *expected = h;
        /* Release: pairs with the acquire load in cask_hp_protect(&q->head) (next's contents
         * stay visible to later pops). */
        if (atomic_compare_exchange_strong_explicit(&q->head, &expected, next,
                                                    memory_order_release,
                                                    memory_order_relaxed)) {
            cask_hp_reset(slot);
            CASK__NOISE("queue.pop.unlinked");
            cask_hp_retire(cask_hp_default_domain(), &h->retired, h, cask__qseg_reclaim);
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
    cask_hp_slot_release(slot);
    if (rc == 0)
        cask__ec_notify(&q->ec);
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
    cask_hp_slot_release(slot);
    return rc;
}

int cask_queue_pop(cask_queue *q, void **item, int64_t timeout_ns)
{
    if (item == NULL || timeout_ns < -1)
        return CASK_EINVAL;
    cask_hp_slot *slot;
    int rc = cask__queue_slot(q, &slot);
    if (rc != 0)
        return rc;
    int64_t deadline = timeout_ns < 0 ? -1 : cask__now_ns() + timeout_ns;
    rc = cask__queue_take(q, slot, item);
    for (int n = 0; rc == CASK_EEMPTY && n < SPIN_TRIES && timeout_ns != 0; n++)
        rc = cask__queue_take(q, slot, item);
    while (rc == CASK_EEMPTY) {
        uint32_t seen = cask__ec_prepare(&q->ec);
        rc = cask__queue_take(q, slot, item); /* the re-check after registering */
        if (rc != CASK_EEMPTY) {
            cask__ec_cancel(&q->ec);
            break;
        }
        CASK__NOISE("queue.pop.sleep");
        int in_time = cask__ec_wait(&q->ec, seen, deadline);
        cask__ec_cancel(&q->ec);
        CASK__NOISE("queue.pop.woken");
        rc = cask__queue_take(q, slot, item);
        if (rc == CASK_EEMPTY && !in_time)
            rc = CASK_ETIMEDOUT;
    }
    cask_hp_slot_release(slot);
    return rc;
}

int cask_queue_close(cask_queue *q, int reason)
{
    cask_hp_slot *slot;
    int rc = cask__queue_slot(q, &slot);
    if (rc != 0)
        return rc;
    uint64_t open = 0;
    uint64_t word = (UINT64_C(1) << 32) | (uint32_t)reason;
    /* acq_rel: release publishes the reason (and the closer's earlier writes) to whoever sees
     * the queue closed (through the FAA-or below, or `closed`); acquire on failure pairs with
     * the winner's CAS. */
    rc = atomic_compare_exchange_strong_explicit(&q->reason, &open, word, memory_order_acq_rel,
                                                 memory_order_acquire)
             ? 0
             : CASK_ECLOSED;
    CASK__NOISE("queue.close.reason");
    for (;;) {
        cask__qseg *t = cask_hp_protect(slot, &q->tail);
        /* seq_cst: release pairs with the pushes' reservation FAA (they see the bit and the
         * reason); every later reservation on t is refused. */
        atomic_fetch_or_explicit(&t->enq, CLOSED_BIT, memory_order_seq_cst);
        CASK__NOISE("queue.close.marked");
        void *next = NULL;
        /* seq_cst: against the push's link CAS (one of the two wins; see there). */
        if (atomic_compare_exchange_strong_explicit(&t->next, &next, CLOSED_LINK,
                                                    memory_order_seq_cst, memory_order_acquire) ||
            next == CLOSED_LINK)
            break;
        cask__queue_help_tail(q, t, next); /* a push linked one more segment: mark that too */
    }
    cask_hp_slot_release(slot);
    /* seq_cst: release pairs with the pops' load of `closed` (the marking is done, so "closed
     * and empty" is final); seq_cst before the notify's load of the waiter count (eventcount). */
    atomic_store_explicit(&q->closed, true, memory_order_seq_cst);
    CASK__NOISE("queue.close.done");
    cask__ec_notify(&q->ec);
    return rc;
}

bool cask_queue_closed(const cask_queue *q, int *reason)
{
    CASK__REQUIRE(q != NULL, "queue", q, "NULL queue passed",
                  "pass a queue from cask_queue_create");
    /* Acquire: pairs with the close's acq_rel CAS (the closer's writes before close). */
    uint64_t word = atomic_load_explicit(&((cask_queue *)q)->reason, memory_order_acquire);
    if (word == 0)
        return false;
    if (reason != NULL)
        *reason = (int)(uint32_t)word;
    return true;
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
    uint64_t e = atomic_load_explicit(&t->enq, memory_order_relaxed) & ~CLOSED_BIT;
    last += e < N ? e : N;
    cask_hp_slot_release(slot);
    return last > first ? (size_t)(last - first) : 0;
}
