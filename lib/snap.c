/*
 * snap.c: RCU-protected immutable snapshots over liburcu (memb flavour, QSBR opt-in).
 *
 * Design
 * ------
 * Sources: P. E. McKenney and J. D. Slingwine, "Read-Copy Update: Using Execution History to
 * Solve Concurrency Problems", PDCS 1998; P. E. McKenney and J. Walpole, "What is RCU,
 * Fundamentally?", LWN 2007; M. Desnoyers, P. E. McKenney, A. Stern, M. Dagenais, J. Walpole,
 * "User-Level Implementations of Read-Copy Update", IEEE TPDS 23(2), 2012 (liburcu's memb and
 * QSBR flavours, used here as they are).
 *
 * A cell is one atomic pointer `current` to an immutable object. Readers bracket their use with
 * a liburcu read section (memb: a store to the reader's own nesting word and a compiler barrier;
 * QSBR: nothing) and load `current` with acquire. Writers replace `current` with one atomic
 * read-modify-write (exchange for publish, compare-and-swap for update) and hand the previous
 * object to call_rcu inside a small retirement record allocated *before* the swap, so that a
 * failed allocation changes nothing (cells and records come from cask__alloc, which tests
 * override to inject failures). Losing update candidates were never visible to anyone and
 * are freed on the spot. A FROZEN cell freezes each object (cask/frozen.h) after every step
 * that can fail and before the swap, so the release that publishes it also publishes its
 * protection, and a failure leaves the object as the caller gave it.
 *
 * Invariants
 *   I1  Every object reachable from `current` is owned by the cell and is never written again
 *       (FROZEN cells: it is frozen, so a write traps or fails the checksum).
 *   I2  An object leaves `current` by exactly one successful swap, whose thread (and only it)
 *       hands it to call_rcu once: each object is freed exactly once.
 *   I3  An object freed by a call_rcu callback was unreachable from `current` before call_rcu
 *       was called (the swap precedes call_rcu in program order).
 *   I4  update's fn runs inside a read section, so `cur` cannot be freed, and its address cannot
 *       be reused for a new object, until the section ends: the compare-and-swap has no ABA.
 *
 * Linearization points: read at its acquire load of `current`; publish at its exchange; update
 * at its successful compare-and-swap; destroy at its call_rcu (no call may follow it).
 *
 * Why each order suffices
 *   - read: acquire pairs with the release half of the swap that stored the pointer (or the
 *     creator's hand-off), so the object's contents, written before publication, are visible.
 *   - publish/update swap: acq_rel. Release publishes the new object to readers. Acquire makes
 *     the old object's history (its creator's writes) happen before our call_rcu and so before
 *     its free, which TSan checks like any other access pair.
 *   - update's failed CAS: acquire, because fn then reads the newer version it returned.
 *   - Safety of the free itself is liburcu's grace-period guarantee (the paper above): every
 *     read section that began before call_rcu ends before the callback runs. A reader that can
 *     hold object p loaded it from `current` before the swap removed it (I3), so its section
 *     began before call_rcu. memb's read side is a plain store plus a compiler barrier; the
 *     writer side pays with membarrier() inside synchronize_rcu. Nothing here adds a fence.
 *
 * ThreadSanitizer and grace periods: Debian's liburcu 0.13.2 is not instrumented, so TSan sees
 * no edge from a reader's section to the free that follows the grace period. One helper,
 * cask__snap_gp_edge below, is the only place that tells it, with its proof. cask_snap_barrier
 * needs no annotation: it does not use liburcu's rcu_barrier (whose completion record is
 * calloc'd by the caller and freed by the call_rcu thread through an uninstrumented hand-off, a
 * report inside liburcu that cask could only suppress). Instead writers count `queued` before
 * call_rcu, every callback ends with a release increment of `done`, and the barrier waits until
 * an acquire load of done equals a later load of queued: plain C11, visible to TSan. (If
 * d = done and then q = queued are read and d == q, nothing was pending when d was read: done
 * never exceeds queued, because each callback's increment follows its writer's, and the acquire
 * makes those writers' increments visible to the later load, so queued then was <= q = d <=
 * queued then.) Two counters on their own cache lines, so that writers and the call_rcu thread
 * do not bounce one line per free.
 *
 * Registration. liburcu requires registered reader threads. A thread-local record remembers
 * whether this thread registered with memb (on its first read_begin or write) and with QSBR
 * (explicit); a pthread key destructor unregisters at thread exit. Exiting inside a section is
 * misuse (its nesting word would be freed while writers wait for it) and aborts.
 *
 * _LGPL_SOURCE: liburcu's switch that inlines its read-side fast paths. cask never defines it
 * (doing so would make every program that links cask LGPL-bound and tied to liburcu's private
 * layout); when the program defines it, this file and snap.h use the inline paths (see snap.h).
 * Not under TSan: inlined, liburcu's volatile/inline-asm "atomics" (its grace-period futex
 * word) would be instrumented as plain accesses and reported; out of line they stay invisible,
 * like the rest of the uninstrumented library, and cask__snap_gp_edge stands for them.
 */
#define _GNU_SOURCE

#include "cask/snap.h" /* first: it decides CASK__SNAP_TSAN */

#ifdef CASK__SNAP_TSAN
#undef _LGPL_SOURCE /* see the last paragraph above */
#endif
#include <urcu/urcu-memb.h>
#include <urcu/urcu-qsbr.h>

/* urcu/call-rcu.h is include-guarded, so only the first flavour's call_rcu gets declared;
 * this is the QSBR one, exported by -lurcu-qsbr with this exact signature. */
void urcu_qsbr_call_rcu(struct rcu_head *head, void (*func)(struct rcu_head *head));

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <time.h>

#include "cask/cask.h"
#include "cask/frozen.h"
#include "internal/alloc.h"
#include "internal/check.h"

#ifdef CASK__SNAP_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#define KIND "snapshot cell"

/* struct cask_snap is in snap.h (the inline read needs `current`); its `head` stands for a
 * struct rcu_head, which snap.h cannot include: */
_Static_assert(sizeof(struct cask__snap_rcu_head) == sizeof(struct rcu_head) &&
                   _Alignof(struct cask__snap_rcu_head) == _Alignof(struct rcu_head),
               "cask_snap.head must have struct rcu_head's layout");
#define CELL_HEAD(cell) ((struct rcu_head *)(void *)&(cell)->head)

/* What call_rcu carries for one replaced object: allocated before the swap that retires it. */
struct cask__snap_retired {
    struct rcu_head head;
    void *object;
    cask_snap_free_fn free_fn;
};

/* This thread's liburcu state, as cask sees it: struct cask__snap_self in snap.h (the inline
 * QSBR read section uses it). */
_Thread_local struct cask__snap_self cask__snap_me;

/* Callbacks queued by cask (writers) and finished (call_rcu threads); see the head comment. */
static _Alignas(64) _Atomic unsigned long cask__snap_queued;
static _Alignas(64) _Atomic unsigned long cask__snap_done;

static pthread_once_t cask__snap_once = PTHREAD_ONCE_INIT;
static pthread_key_t cask__snap_exit_key;
static bool cask__snap_key_ok;

/* ---- The one place TSan learns about grace periods ---- */

enum cask__snap_edge {
    E1_READER_DONE, /* a reader's protection ends: memb read_end; QSBR quiescent, offline,
                     * unregister (they, not read_end, end a QSBR reader's protection) */
    E2_QUEUED,      /* a writer is about to call call_rcu */
    E3_CALLBACK,    /* a call_rcu callback starts, before it frees anything */
};

/*
 * cask__snap_gp_edge - tell ThreadSanitizer what liburcu's grace period guarantees; nothing in
 * other builds. `record` is the rcu_head being handed to call_rcu (E2) or whose callback starts
 * (E3); NULL for E1.
 *   E1 (a reader's protection ends) releases one global token;
 *   E2 (a writer hands a record to call_rcu) releases that record;
 *   E3 (the record's callback starts) acquires the record, then the token.
 * Proof that the edges it adds are true orderings, except where said below. E2 -> E3 on the same
 * record: call_rcu's queue hand-off orders the writer's call before its own callback (liburcu's
 * queue is uninstrumented, so TSan would not see it otherwise). E1 -> E3 for the readers that
 * matter: E3 for object p runs after a grace period that began after the call_rcu that retired
 * p (I3). A grace period ends only after every read section (memb) running when it began has
 * ended, or every QSBR reader online when it began has passed a quiescent state. A reader that
 * accessed p loaded it from `current` before the swap that removed it, so its section was
 * running when the grace period began, and its E1, just before the liburcu unlock or quiescent
 * state that let the grace period end, precedes E3 in real time; TSan's release accumulates into
 * the token's clock, so E3 sees it.
 * The false edges, and what they can hide: the token carries every E1 that precedes E3 in real
 * time, not only those of sections running when p's grace period began. A reader that keeps p
 * after its section ended (a contract violation: a use after its read_end) and then, on the same
 * thread, ends another section before p's callback starts, is shown to TSan as ordered before the
 * free, so that use is not reported; without the later section it is (an independent review
 * measured both). The checked build's read-outside-section check does not help there: it checks
 * cask_snap_read calls, not uses of a pointer kept from an earlier section. cask_snap_barrier
 * inherits the same edges (callbacks count `done` with release, the barrier acquires it). Making
 * E1 exact needs, per grace period, the set of sections it waited for: liburcu's reader registry
 * is private, and a TSan release on a per-reader object also accumulates that reader's later
 * sections, so it would not remove the false edge. What it still catches: a writer is never
 * ordered before a reader (readers never acquire), so a publication that is not a release shows
 * as a race; and a free that skips call_rcu has no E3 and shows as a race with the reader
 * (mutants snap-relaxed-publish, snap-free-without-grace).
 */
#ifdef CASK__SNAP_TSAN
static char cask__snap_gp_token;

static inline void cask__snap_gp_edge(enum cask__snap_edge edge, const void *record)
{
    if (edge == E3_CALLBACK) {
        __tsan_acquire((void *)record);
        __tsan_acquire(&cask__snap_gp_token);
    } else if (edge == E2_QUEUED) {
        __tsan_release((void *)record);
    } else {
        __tsan_release(&cask__snap_gp_token);
    }
}
#else
static inline void cask__snap_gp_edge(enum cask__snap_edge edge, const void *record)
{
    (void)edge;
    (void)record;
}
#endif

/* ---- Registration ---- */

/* Thread exit (pthread key destructor): leave liburcu's registries. */
static void cask__snap_thread_exit(void *unused)
{
    (void)unused;
    struct cask__snap_self *me = &cask__snap_me;
    me->key_set = false;
    CASK__REQUIRE(!urcu_memb_read_ongoing() && me->qsbr_nest == 0, KIND, NULL,
                  "a thread exited inside a snapshot read section",
                  "end every section with cask_snap_read_end before the thread returns");
    if (me->memb_registered) {
        urcu_memb_unregister_thread();
        me->memb_registered = false;
    }
    if (me->qsbr_registered) {
        cask__snap_gp_edge(E1_READER_DONE, NULL); /* leaving QSBR is a quiescent state */
        urcu_qsbr_unregister_thread();
        me->qsbr_registered = false;
        me->qsbr_online = false;
    }
}

static void cask__snap_init_once(void)
{
    cask__snap_key_ok = pthread_key_create(&cask__snap_exit_key, cask__snap_thread_exit) == 0;
}

/* Arms the exit destructor for this thread (once per registration round). */
static void cask__snap_arm_exit(struct cask__snap_self *me)
{
    if (me->key_set)
        return;
    pthread_once(&cask__snap_once, cask__snap_init_once);
    CASK__REQUIRE(cask__snap_key_ok && pthread_setspecific(cask__snap_exit_key, me) == 0, KIND,
                  NULL, "no thread-specific key for the exit handler (PTHREAD_KEYS_MAX reached?)",
                  "free some pthread keys; cask needs one to unregister threads from liburcu");
    me->key_set = true;
}

/* First memb use of this thread: register it (slow path, kept out of read_begin's code). */
static __attribute__((noinline)) void cask__snap_register_memb(struct cask__snap_self *me)
{
    cask__snap_arm_exit(me);
    urcu_memb_register_thread();
    me->memb_registered = true;
}

/* Writers call liburcu's call_rcu, which wants a registered thread of the cell's flavour. */
static void cask__snap_writer_ready(const cask_snap *cell)
{
    struct cask__snap_self *me = &cask__snap_me;
    if (!cell->qsbr && !me->memb_registered)
        cask__snap_register_memb(me);
}

/* Hands a retired object to the cell's flavour of call_rcu. */
static void cask__snap_call_rcu(const cask_snap *cell, struct rcu_head *head,
                                void (*fn)(struct rcu_head *))
{
    /* Relaxed: counted before the hand-off, which orders it before the callback's increment
     * of done (for real; for TSan that needs no edge, both are atomics). */
    atomic_fetch_add_explicit(&cask__snap_queued, 1, memory_order_relaxed);
    bool qsbr = cell->qsbr; /* read before E2: destroy's callback frees the cell */
    cask__snap_gp_edge(E2_QUEUED, head); /* last, so every access of ours comes before it */
    if (qsbr)
        urcu_qsbr_call_rcu(head, fn);
    else
        urcu_memb_call_rcu(head, fn);
}

/* ---- Creation and destruction ---- */

/* FROZEN cells: freeze `object` before it becomes visible. Returns 0 (also if the caller had
 * frozen it already), CASK_EINVAL if it is not from cask_frozen_alloc, CASK_ENOMEM if the
 * kernel refused the protection; on failure the object is as it was. */
static int cask__snap_freeze(const cask_snap *cell, const void *object)
{
    if (!cell->frozen || object == NULL)
        return 0;
    int rc = cask_frozen_freeze((void *)object); /* the cell owns it; nobody else writes it */
    return rc == CASK_EFROZEN ? 0 : rc;
}

int cask_snap_create_with(const void *initial, cask_snap_free_fn free_fn, unsigned flags,
                          cask_snap **out)
{
    bool frozen = (flags & CASK_SNAP_FROZEN) != 0;
    if (out == NULL || (free_fn == NULL && !frozen) ||
        (flags & ~(unsigned)(CASK_SNAP_FROZEN | CASK_SNAP_QSBR)) != 0)
        return CASK_EINVAL;
    cask_snap *cell = cask__alloc(64, sizeof(*cell)); /* own line: `current` is read-mostly */
    if (cell == NULL)
        return CASK_ENOMEM;
    cell->free_fn = free_fn != NULL ? free_fn : cask_frozen_free;
    cell->qsbr = (flags & CASK_SNAP_QSBR) != 0;
    cell->frozen = frozen;
    int rc = cask__snap_freeze(cell, initial);
    if (rc != 0) {
        cask__free(cell);
        return rc;
    }
    /* Not yet shared: the caller's hand-off of the cell (release store or thread creation)
     * publishes this store and the initial object with it. */
    atomic_init(&cell->current, initial);
    *out = cell;
    return 0;
}

int cask_snap_create(const void *initial, cask_snap_free_fn free_fn, cask_snap **out)
{
    return cask_snap_create_with(initial, free_fn, 0, out);
}

int cask_snap_create_qsbr(const void *initial, cask_snap_free_fn free_fn, cask_snap **out)
{
    return cask_snap_create_with(initial, free_fn, CASK_SNAP_QSBR, out);
}

/* call_rcu callback of destroy: frees the last version and the cell. */
static void cask__snap_destroy_cb(struct rcu_head *head)
{
    cask__snap_gp_edge(E3_CALLBACK, head);
    cask_snap *cell = (cask_snap *)(void *)((char *)head - offsetof(cask_snap, head));
    void *last = (void *)atomic_load_explicit(&cell->current, memory_order_relaxed);
    if (last != NULL)
        cell->free_fn(last);
    cask__free(cell);
    /* The free happens before the barrier's return. */
    atomic_fetch_add_explicit(&cask__snap_done, 1, memory_order_release); /* pairs with acquire in cask_snap_barrier */
}

void cask_snap_destroy(cask_snap *cell)
{
    CASK__REQUIRE(cell != NULL, KIND, NULL, "cask_snap_destroy was given NULL",
                  "pass the cell that cask_snap_create returned");
    cask__snap_writer_ready(cell);
    /* Relaxed would do for the cell (no call may follow), but the callback reads `current`
     * on another thread: E2 inside cask__snap_call_rcu orders it for TSan, call_rcu for real. */
    cask__snap_call_rcu(cell, CELL_HEAD(cell), cask__snap_destroy_cb);
}

/* ---- Read side ---- */

/* The memb half of cask_snap_read_begin (the QSBR half is inline in snap.h). */
void cask__snap_memb_begin(cask_snap *cell)
{
    struct cask__snap_self *me = &cask__snap_me;
    (void)cell;
    if (__builtin_expect(!me->memb_registered, 0))
        cask__snap_register_memb(me);
    urcu_memb_read_lock(); /* own nesting word + compiler barrier; see the head comment */
}

/* Fatal misuse found by the inline QSBR read section in snap.h. */
void cask__snap_misuse(const cask_snap *cell, int what)
{
    if (what == CASK__SNAP_MISUSE_NULL)
        CASK__DIE(KIND, NULL, "a snapshot read section was given a NULL cell",
                  "pass a cell made by cask_snap_create");
    if (what == CASK__SNAP_MISUSE_OFFLINE)
        CASK__DIE(KIND, cell,
                  "read section on a QSBR cell by a thread that is not registered and online",
                  "call cask_snap_qsbr_register (and cask_snap_qsbr_online after offline)");
    CASK__DIE(KIND, cell, "read section ended but none was begun",
              "pair every cask_snap_read_end with an earlier cask_snap_read_begin");
}

const void *cask__snap_read_checked(cask_snap *cell)
{
    CASK__CHECK(cell != NULL && (cell->qsbr ? cask__snap_me.qsbr_nest > 0 : urcu_memb_read_ongoing()),
                KIND, cell, "cask_snap_read outside a read section",
                "call cask_snap_read_begin before and cask_snap_read_end after using the object");
    CASK__NOISE("snap.read.load");
    /* The object's contents, written before publication, are visible after this load. */
    return atomic_load_explicit(&cell->current, memory_order_acquire); /* pairs with release in cask__snap_install */
}

/* The memb half of cask_snap_read_end (QSBR: inline in snap.h; E1 for QSBR is at the
 * quiescent state, offline and unregister, which are what end QSBR protection for real). */
void cask__snap_memb_end(cask_snap *cell)
{
    CASK__REQUIRE(urcu_memb_read_ongoing(), KIND, cell, "read section ended but none was begun",
                  "pair every cask_snap_read_end with an earlier cask_snap_read_begin");
    cask__snap_gp_edge(E1_READER_DONE, NULL); /* before the unlock that lets the GP end */
    urcu_memb_read_unlock();
}

/* ---- Update side ---- */

/* call_rcu callback: a grace period after the swap, free the replaced object. */
static void cask__snap_free_cb(struct rcu_head *head)
{
    cask__snap_gp_edge(E3_CALLBACK, head);
    struct cask__snap_retired *r =
        (struct cask__snap_retired *)(void *)((char *)head - offsetof(struct cask__snap_retired, head));
    r->free_fn(r->object);
    cask__free(r);
    /* The free happens before the barrier's return. */
    atomic_fetch_add_explicit(&cask__snap_done, 1, memory_order_release); /* pairs with acquire in cask_snap_barrier */
}

/* Schedules `old` (just swapped out of the cell by this thread) for a free after a grace
 * period, in the record allocated before the swap; NULL needs no free. */
static void cask__snap_retire(cask_snap *cell, struct cask__snap_retired *r, const void *old)
{
    if (old == NULL) {
        cask__free(r);
        return;
    }
    r->object = (void *)old; /* ownership comes back from the cell: it may be freed */
    r->free_fn = cell->free_fn;
    CASK__NOISE("snap.retire.call_rcu");
    cask__snap_call_rcu(cell, &r->head, cask__snap_free_cb);
}

/*
 * cask__snap_install - the single place where an object becomes visible to readers: both
 * publish (expected == NULL, any_expected true: exchange) and update (compare-and-swap from
 * *expected) go through it. On success returns true and stores the replaced version in *old;
 * on failure (update only) returns false with the newer version in *expected.
 * Release publishes next's contents (and, FROZEN, its protection) to readers; acquire takes over
 * the old version from its installer, so its creator's writes happen before our call_rcu and its
 * free; a failed CAS acquires the winner's version, which fn reads next.
 */
static bool cask__snap_install(cask_snap *cell, bool any_expected, const void **expected,
                               const void *next, const void **old)
{
    if (any_expected) {
        *old = atomic_exchange_explicit(&cell->current, next, memory_order_acq_rel); /* pairs with readers' acquire and the previous install */
        return true;
    }
    if (atomic_compare_exchange_strong_explicit(&cell->current, expected, next,
                                                memory_order_acq_rel, memory_order_acquire)) { /* pairs with readers' acquire and the previous install; failure: with the winner's release */
        *old = *expected;
        return true;
    }
    return false;
}

int cask_snap_publish(cask_snap *cell, const void *object)
{
    CASK__REQUIRE(cell != NULL, KIND, NULL, "cask_snap_publish was given NULL",
                  "pass a cell made by cask_snap_create");
    struct cask__snap_retired *r = cask__alloc(16, sizeof(*r));
    if (r == NULL)
        return CASK_ENOMEM; /* nothing changed; the caller keeps object */
    int rc = cask__snap_freeze(cell, object); /* last step that can fail */
    if (rc != 0) {
        cask__free(r);
        return rc;
    }
    cask__snap_writer_ready(cell);
    CASK__NOISE("snap.publish.allocated");
    const void *old;
    cask__snap_install(cell, true, NULL, object, &old);
    CASK__NOISE("snap.publish.swapped"); /* old is unreachable; readers may still hold it */
    cask__snap_retire(cell, r, old);
    CASK__NOISE("snap.publish.retired");
    return 0;
}

int cask_snap_update(cask_snap *cell, cask_snap_update_fn fn, void *arg)
{
    CASK__REQUIRE(cell != NULL && fn != NULL, KIND, cell, "cask_snap_update was given NULL",
                  "pass a cell made by cask_snap_create and an update function");
    struct cask__snap_retired *r = cask__alloc(16, sizeof(*r));
    if (r == NULL)
        return CASK_ENOMEM; /* before fn ran: nothing changed */
    cask__snap_writer_ready(cell);
    cask_snap_read_begin(cell); /* I4: cur stays allocated while fn reads it and we CAS */
    const void *cur = cask_snap_read(cell);
    for (;;) {
        CASK__NOISE("snap.update.loaded");
        void *next = NULL;
        int rc = fn(cur, arg, &next);
        if (rc >= 0) {
            CASK__REQUIRE(next != cur, KIND, cell,
                          "the update function returned the current version as the next one",
                          "return a new object; the current one is immutable and owned by the cell");
            rc = cask__snap_freeze(cell, next);
            if (rc < 0)
                cell->free_fn(next); /* never visible: freed like a losing candidate */
        }
        if (rc < 0) {
            cask_snap_read_end(cell);
            cask__free(r);
            return rc;
        }
        CASK__NOISE("snap.update.computed");
        const void *old;
        if (cask__snap_install(cell, false, &cur, next, &old)) {
            CASK__NOISE("snap.update.swapped");
            cask_snap_read_end(cell);
            cask__snap_retire(cell, r, old);
            CASK__NOISE("snap.update.retired");
            return 0;
        }
        /* Lost to another writer: next was never visible to anyone; cur is now the newer
         * version (acquired by the failed CAS). */
        CASK__NOISE("snap.update.lost");
        if (next != NULL)
            cell->free_fn(next);
    }
}

/* ---- Waiting and QSBR state ---- */

void cask_snap_barrier(void)
{
    struct cask__snap_self *me = &cask__snap_me;
    CASK__REQUIRE(!urcu_memb_read_ongoing() && me->qsbr_nest == 0, KIND, NULL,
                  "cask_snap_barrier inside a read section (it would wait for itself)",
                  "end the read section first");
    bool was_online = me->qsbr_online;
    if (was_online) { /* else a QSBR grace period would wait for this very thread */
        cask__snap_gp_edge(E1_READER_DONE, NULL); /* going offline is a quiescent state */
        urcu_qsbr_thread_offline();
    }
    /* Poll with a growing sleep: callbacks run in batches after grace periods (milliseconds),
     * so a futex would buy nothing measurable here. */
    long wait_ns = 1000;
    for (;;) {
        /* Every counted callback's free happens before our return, and its writer's queued
         * increment is visible to the next load. */
        unsigned long d = atomic_load_explicit(&cask__snap_done, memory_order_acquire); /* pairs with release in the callbacks */
        if (d == atomic_load_explicit(&cask__snap_queued, memory_order_relaxed))
            break;
        nanosleep(&(struct timespec){.tv_nsec = wait_ns}, NULL);
        if (wait_ns < 1000000)
            wait_ns *= 2;
    }
    if (was_online)
        urcu_qsbr_thread_online();
}

void cask_snap_qsbr_register(void)
{
    struct cask__snap_self *me = &cask__snap_me;
    if (me->qsbr_registered)
        return;
    cask__snap_arm_exit(me);
    urcu_qsbr_register_thread();
    me->qsbr_registered = true;
    me->qsbr_online = true;
}

/* Always-on check shared by the QSBR state calls: registered, and outside every QSBR section. */
static void cask__snap_qsbr_check(const struct cask__snap_self *me, const char *call)
{
    CASK__REQUIRE(me->qsbr_registered, KIND, NULL, call,
                  "call cask_snap_qsbr_register on this thread first");
    CASK__REQUIRE(me->qsbr_nest == 0, KIND, NULL,
                  "a QSBR quiescent state (quiescent, offline, unregister) inside a read section",
                  "end the read section first: a quiescent state means no snapshot is held");
}

void cask_snap_qsbr_unregister(void)
{
    struct cask__snap_self *me = &cask__snap_me;
    cask__snap_qsbr_check(me, "cask_snap_qsbr_unregister by a thread that is not registered");
    cask__snap_gp_edge(E1_READER_DONE, NULL); /* a quiescent state */
    urcu_qsbr_unregister_thread();
    me->qsbr_registered = false;
    me->qsbr_online = false;
}

void cask_snap_quiescent(void)
{
    struct cask__snap_self *me = &cask__snap_me;
    cask__snap_qsbr_check(me, "cask_snap_quiescent by a thread that is not registered");
    CASK__REQUIRE(me->qsbr_online, KIND, NULL, "cask_snap_quiescent while offline",
                  "call cask_snap_qsbr_online first");
    cask__snap_gp_edge(E1_READER_DONE, NULL); /* QSBR readers' protection ends here */
    urcu_qsbr_quiescent_state();
}

void cask_snap_qsbr_offline(void)
{
    struct cask__snap_self *me = &cask__snap_me;
    cask__snap_qsbr_check(me, "cask_snap_qsbr_offline by a thread that is not registered");
    if (!me->qsbr_online)
        return;
    cask__snap_gp_edge(E1_READER_DONE, NULL); /* offline is a quiescent state */
    urcu_qsbr_thread_offline();
    me->qsbr_online = false;
}

void cask_snap_qsbr_online(void)
{
    struct cask__snap_self *me = &cask__snap_me;
    cask__snap_qsbr_check(me, "cask_snap_qsbr_online by a thread that is not registered");
    if (me->qsbr_online)
        return;
    urcu_qsbr_thread_online();
    me->qsbr_online = true;
}
