/*
 * hp.c: hazard pointers with asymmetric fences, per-thread records and bounded garbage.
 *
 * Design
 * ------
 * Source: M. M. Michael, "Hazard Pointers: Safe Memory Reclamation for Lock-Free Objects", IEEE
 * TPDS 15(6), 2004; the asymmetric-fence variant as in Folly's hazptr and the C++26 proposal P2530
 * (readers publish with a compiler barrier, the reclaimer runs membarrier()).
 *
 * Each domain keeps a push-only list of thread records. A record has 8 hazard slots, a state
 * (FREE, OWNED, EXITING, GONE) and a reference count (one reference for the domain, one for the
 * owning thread). A thread's first record for a domain is its primary record: it holds the
 * thread's list of retired objects. A thread that holds more than 8 slots claims extra records,
 * chained from the primary (owned_next); extras only lend slots. A thread finds its primary
 * through a thread-local binding list cached by domain id; the first use claims a FREE record or
 * allocates a new one. A pthread key destructor runs at thread exit: for each domain in turn it
 * scans once with the record still bound (so the reclaim functions it runs can use cask as on any
 * scan), hands the leftovers to the domain's orphan stack and marks its records FREE for later
 * threads. The default domain goes last: its thread slot serves the queues and vectors, which
 * other domains' reclaim functions may call; until then the exit may still bind it.
 *
 * Scan (lib/hp_scan.c; run by the retiring thread when its list reaches R = 2H + S, H = 8 *
 * records):
 *   1. adopt the orphan stack (exchange with NULL);
 *   2. heavy barrier: membarrier(PRIVATE_EXPEDITED) (or a seq_cst fence in the fallback mode);
 *   3. load the record list head and read every slot into an open-addressing hash set;
 *   4. reclaim every retired object not in the set, keep the others;
 *   5. if reclaim functions retired so much that the list is still at R, scan again.
 * Cost O(H + R) per scan and R >= 2H + S retires between scans: amortised O(1) per retire.
 * A thread also scans when its sized retires (cask_hp_retire_sized) since its last scan reach
 * CASK_HP_SCAN_BYTES: that scan's cost is amortised over those bytes instead (O(H) per B
 * bytes, so O(H * size / B) per object of that size).
 * After a scan at most H objects remain (each is held by a distinct slot), so a list stays under
 * R: this is the garbage bound stated in hp.h, independent of stalled readers.
 *
 * Destroy and thread exit. The owner and cask_hp_domain_destroy decide who handles a primary
 * record by compare-and-swap on its state: the owner's exit moves OWNED -> EXITING, destroy moves
 * OWNED -> GONE. Destroy waits (yielding) for EXITING records to become FREE, so an exiting
 * thread may keep scanning the domain until it is done. Records are freed when their reference
 * count drops to zero: destroy drops the domain's references only at its very end, so no record
 * is freed while anyone can still walk the list, and an owner that finds its record GONE only
 * drops its own references. While destroy runs, retire pushes onto the orphan stack instead of
 * binding a record; destroy empties that stack until it stays empty. During a thread's exit, a
 * retire goes onto the thread's record while that domain's binding is still there (its exit scan
 * included: destroy waits for EXITING records), and onto the orphan stack once it was handed
 * back; a retire to the default domain may bind it again, until it has been handed back itself.
 * Slots, at exit, come from the default domain only (it is never destroyed): destroy reads the
 * slots of every record it finds OWNED without waiting, so an exiting thread must not take one
 * of another domain's (that would also push an extra record onto a list destroy already read).
 *
 * Invariants
 *   I1  A slot is written only by its owner thread (publish, reset, release) and by thread exit.
 *   I2  A retired object is in exactly one list (a primary record's, the orphan stack, or a
 *       scan's local list) until its reclaim function is called, exactly once.
 *   I3  A record is in its domain's list from its push until destroy ends; domain_next never
 *       changes after the push; a record's memory lives while its reference count is positive.
 *   I4  A primary's retired list is touched only by the thread that owns the record's state:
 *       the owner while OWNED or EXITING, destroy after it set GONE.
 *
 * Why a reclaimed object cannot be in use (the safety proof)
 *   Reader: store(slot, p); fence F_r; load(src) == p; then dereferences p.
 *   Writer: unlink p (store to src); retire; scan: fence F_w; load(slot).
 *   F_r is a seq_cst fence in the fallback mode, or the barrier that membarrier() forces on the
 *   reader's CPU in the asymmetric mode (the compiler barrier keeps store and load in program
 *   order; membarrier makes every running thread execute a full barrier before it returns).
 *   Either F_r comes before F_w, and the scan's load sees p (or a later value of the slot, below),
 *   or F_w comes before F_r, and the reader's validation load sees the unlink and fails. Records
 *   pushed after the scan loaded the list head belong to readers whose validation follows F_w.
 *   (When the unlink ran on another thread than the scan, as for adopted orphans, the argument
 *   uses the happens-before form of the fence rules, as C++20 states them; hardware and
 *   membarrier provide it.)
 *
 * Why ThreadSanitizer agrees without annotations
 *   TSan models neither membarrier nor fences, and it need not: TSan does not emulate weak memory
 *   and the real barrier still runs under it. If the scanner reclaims p, the value it read from
 *   the reader's slot is either older than the reader's publication of p, in which case that
 *   reader's validation of p failed and it never touched p, or was stored by the reader after its
 *   last access to p (a reset, a later publication, a release, the exit reset). Every slot store
 *   is a release and every scan load an acquire, so TSan sees reader's accesses -> slot store ->
 *   scan load -> reclaim as happens-before. This holds because every protection is validated in
 *   the slot that holds it: copying a hazard into another slot with cask_hp_set and no
 *   re-validation breaks the proof (hp.h says so), and TSan would then rightly report a race.
 *   What TSan cannot check is the fence itself (removing it makes no report): that rests on the
 *   proof above and on membarrier's documented guarantee.
 *   The orphan stack is release-push / acquire-exchange; records' states and reference counts
 *   are acquire/release as commented where they are used.
 *
 * Linearization points: protect at its successful validating load; reset and release at their
 * release store; retire at the push onto the private list or the orphan stack.
 */
#define _GNU_SOURCE
#include "cask/hp.h"

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__)
#include <errno.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "cask/cask.h"
#include "internal/alloc.h"
#include "internal/check.h"
#include "internal/hp_record.h"

#ifndef CASK_HP_FORCE_FENCE
#define CASK_HP_FORCE_FENCE 0
#endif

/* One thread's link to its primary record in one domain. */
struct cask__hp_binding {
    uint64_t domain_id;
    struct cask__hp_record *record;
    struct cask__hp_binding *next;
};

static cask_hp_domain cask__hp_default = {.id = 1};
static _Atomic uint64_t cask__hp_next_id = 2;

static pthread_once_t cask__hp_once = PTHREAD_ONCE_INIT;
static pthread_key_t cask__hp_exit_key;
static bool cask__hp_key_ok;

static _Thread_local struct cask__hp_binding *cask__hp_bindings;
static _Thread_local struct cask__hp_binding *cask__hp_last;
static _Thread_local bool cask__hp_exiting;  /* the exit destructor is running */
static _Thread_local bool cask__hp_default_released; /* ... and has handed the default back */
static _Thread_local cask_hp_slot *cask__hp_tslot; /* cask_hp_thread_slot's, until thread exit */

static void cask__hp_thread_exit(void *unused);

/* Process-wide setup, once: the thread-exit key and the membarrier registration. */
static void cask__hp_init_once(void)
{
    cask__hp_key_ok = pthread_key_create(&cask__hp_exit_key, cask__hp_thread_exit) == 0;
#if defined(__linux__) && !CASK_HP_FORCE_FENCE
    long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0);
    if (cmds >= 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0 &&
        syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) == 0)
        cask__hp_asymmetric = true;
#endif
}

/* pthread_once gives every caller a happens-before edge from the setup above. */
static void cask__hp_init(void)
{
    pthread_once(&cask__hp_once, cask__hp_init_once);
}

bool cask_hp_uses_membarrier(void)
{
    cask__hp_init();
    return cask__hp_asymmetric;
}

cask_hp_domain *cask_hp_default_domain(void)
{
    return &cask__hp_default;
}

int cask_hp_domain_create(cask_hp_domain **out)
{
    if (out == NULL)
        return CASK_EINVAL;
    cask__hp_init();
    cask_hp_domain *d = cask__alloc(_Alignof(cask_hp_domain), sizeof(*d));
    if (d == NULL)
        return CASK_ENOMEM;
    memset(d, 0, sizeof(*d));
    /* Relaxed: the id only has to be unique. */
    d->id = atomic_fetch_add_explicit(&cask__hp_next_id, 1, memory_order_relaxed);
    *out = d;
    return 0;
}

/* Drops one reference to r; the last one frees it. */
static void cask__hp_put_record(struct cask__hp_record *r)
{
    /* The last holder acquires every other holder's writes before freeing. */
    if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1) { /* other puts */
        cask__free(r->set);
        cask__free(r);
    }
}

/* Clears every slot of r (exit path: the owner has released them, or is being reported). */
static void cask__hp_record_reset_slots(struct cask__hp_record *r)
{
    for (int i = 0; i < CASK__HP_SLOTS; i++)
        atomic_store_explicit(&r->slots[i].hazard, NULL, memory_order_release); /* scan's load */
    if (r->used_mask != 0)
        r->used_mask = 0;
}

/* Claims a FREE record of d for the calling thread, or allocates and pushes a new one. */
static struct cask__hp_record *cask__hp_claim_record(cask_hp_domain *d, bool is_extra)
{
    /* Records' fields are visible. */
    struct cask__hp_record *r =
        atomic_load_explicit(&d->records, memory_order_acquire); /* the push CAS below */
    for (; r != NULL; r = r->domain_next) {
        int expected = CASK__HP_FREE;
        if (atomic_load_explicit(&r->state, memory_order_relaxed) == CASK__HP_FREE &&
            /* The record's private fields as the previous owner left them are ours to use. */
            atomic_compare_exchange_strong_explicit(&r->state, &expected, CASK__HP_OWNED,
                                                    memory_order_acquire, /* free_for_reuse */
                                                    memory_order_relaxed)) {
            atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed); /* owner's ref */
            r->owner = pthread_self();
            r->is_extra = is_extra;
            return r;
        }
    }
    r = cask__alloc(64, sizeof(*r));
    if (r == NULL)
        return NULL;
    memset(r, 0, sizeof(*r));
    for (int i = 0; i < CASK__HP_SLOTS; i++) {
        atomic_init(&r->slots[i].hazard, NULL);
        r->slots[i].record = r;
        r->slots[i].full_fence = !cask__hp_asymmetric;
    }
    atomic_init(&r->state, CASK__HP_OWNED);
    atomic_init(&r->refs, 2); /* the domain's and the owner's */
    atomic_init(&r->pending, 0);
    r->domain = d;
    r->owner = pthread_self();
    r->is_extra = is_extra;
    struct cask__hp_record *head = atomic_load_explicit(&d->records, memory_order_relaxed);
    do {
        r->domain_next = head;
        CASK__NOISE("hp.records.push");
    } while (!atomic_compare_exchange_weak_explicit(&d->records, &head, r,
                                                    memory_order_seq_cst, /* release: scans', claims'; seq_cst: cask__hp_domain_holds */
                                                    memory_order_relaxed));
    atomic_fetch_add_explicit(&d->record_count, 1, memory_order_relaxed);
    return r;
}

/* Drops the owner's references to a primary whose domain was destroyed, and to its extras. */
static void cask__hp_put_chain(struct cask__hp_record *r)
{
    while (r != NULL) {
        struct cask__hp_record *next = r->owned_next;
        cask__hp_put_record(r);
        r = next;
    }
}

static bool cask__hp_gone(struct cask__hp_record *r)
{
    return atomic_load_explicit(&r->state, memory_order_acquire) == CASK__HP_GONE; /* destroy */
}

/* Slow path of cask__hp_thread_record: search, purge bindings of destroyed domains, or bind. */
static struct cask__hp_record *cask__hp_bind(cask_hp_domain *d)
{
    cask__hp_init();
    struct cask__hp_binding **link = &cask__hp_bindings;
    while (*link != NULL) {
        struct cask__hp_binding *b = *link;
        if (b->domain_id == d->id) {
            cask__hp_last = b;
            return b->record;
        }
        if (cask__hp_gone(b->record)) {
            *link = b->next;
            cask__hp_put_chain(b->record);
            cask__free(b);
            continue;
        }
        link = &b->next;
    }
    cask__hp_last = NULL;
    if (!cask__hp_key_ok ||
        (cask__hp_exiting && (d != &cask__hp_default || cask__hp_default_released)))
        return NULL; /* at exit only the default domain binds, and only until it is handed back */
    struct cask__hp_binding *b = cask__alloc(_Alignof(struct cask__hp_binding), sizeof(*b));
    if (b == NULL)
        return NULL;
    struct cask__hp_record *r = cask__hp_claim_record(d, false);
    if (r == NULL) {
        cask__free(b);
        return NULL;
    }
    if (pthread_setspecific(cask__hp_exit_key, (void *)1) != 0) {
        atomic_store_explicit(&r->state, CASK__HP_FREE, memory_order_release); /* claim's CAS */
        cask__hp_put_record(r);
        cask__free(b);
        return NULL;
    }
    b->domain_id = d->id;
    b->record = r;
    b->next = cask__hp_bindings;
    cask__hp_bindings = b;
    cask__hp_last = b;
    return r;
}

/* The calling thread's primary record for d, or NULL if it has none and cannot get one. */
static struct cask__hp_record *cask__hp_thread_record(cask_hp_domain *d)
{
    struct cask__hp_binding *b = cask__hp_last;
    if (b != NULL && b->domain_id == d->id)
        return b->record;
    return cask__hp_bind(d);
}

int cask_hp_slot_acquire(cask_hp_domain *domain, cask_hp_slot **out)
{
    if (domain == NULL || out == NULL)
        return CASK_EINVAL;
    /* At thread exit only the default domain lends slots: another domain may be being
     * destroyed by another thread (its contract allows threads in the middle of exiting), and
     * destroy reads the slots of every record it found OWNED, without waiting for them. */
    if (cask__hp_exiting && domain != &cask__hp_default)
        return CASK_ENOMEM;
    struct cask__hp_record *r = cask__hp_thread_record(domain);
    if (r == NULL)
        return CASK_ENOMEM;
    for (;;) {
        if (r->used_mask != CASK__HP_ALL_USED) {
            int i = __builtin_ctz(~r->used_mask);
            r->used_mask |= 1u << i;
            *out = &r->slots[i];
            return 0;
        }
        if (r->owned_next == NULL) {
            struct cask__hp_record *extra = cask__hp_claim_record(domain, true);
            if (extra == NULL)
                return CASK_ENOMEM;
            r->owned_next = extra;
        }
        r = r->owned_next;
    }
}

void cask_hp_slot_release(cask_hp_slot *slot)
{
    CASK__REQUIRE(slot != NULL, "hazard slot", slot, "cask_hp_slot_release(NULL)",
                  "pass the slot that cask_hp_slot_acquire returned");
    struct cask__hp_record *r = slot->record;
    unsigned bit = 1u << (unsigned)(slot - r->slots);
    CASK__CHECK(pthread_equal(r->owner, pthread_self()), "hazard slot", slot,
                "released by a thread that does not own it",
                "release a slot on the thread that acquired it; give each thread its own slots");
    CASK__REQUIRE((r->used_mask & bit) != 0, "hazard slot", slot,
                  "released twice (or never acquired)",
                  "release each slot exactly once, and do not use it after release");
    CASK__REQUIRE((r->sticky_mask & bit) == 0, "hazard slot", slot,
                  "the thread slot (cask_hp_thread_slot) was released",
                  "reset the thread slot with cask_hp_reset; it is given back at thread exit");
    cask_hp_reset(slot);
    r->used_mask &= ~bit;
}

int cask_hp_thread_slot(cask_hp_slot **out)
{
    if (cask__hp_tslot == NULL) {
        cask_hp_slot *s;
        int rc = cask_hp_slot_acquire(&cask__hp_default, &s);
        if (rc != 0)
            return rc;
        s->record->sticky_mask |= 1u << (unsigned)(s - s->record->slots);
        cask__hp_tslot = s;
    }
    *out = cask__hp_tslot;
    return 0;
}

void cask_hp_retire(cask_hp_domain *domain, cask_hp_retired *node, void *object,
                    cask_hp_reclaim_fn reclaim)
{
    cask_hp_retire_sized(domain, node, object, reclaim, 0);
}

void cask_hp_retire_sized(cask_hp_domain *domain, cask_hp_retired *node, void *object,
                          cask_hp_reclaim_fn reclaim, size_t bytes)
{
    CASK__REQUIRE(domain != NULL && node != NULL && object != NULL && reclaim != NULL,
                  "hazard-pointer domain", domain, "cask_hp_retire with a NULL argument",
                  "pass the domain, the node embedded in the object, the object and its reclaim "
                  "function");
    node->object = object;
    node->reclaim = reclaim;
    CASK__NOISE("hp.retire");
    struct cask__hp_record *r = NULL;
    /* Relaxed: only the destroying thread's own reclaim functions may retire now (contract). */
    if (!atomic_load_explicit(&domain->destroying, memory_order_relaxed))
        r = cask__hp_thread_record(domain);
    if (r == NULL) { /* exiting, destroying, or no per-thread state: the domain takes it */
        cask__hp_push_orphans(domain, node, node, 1);
        if (!cask__hp_exiting &&
            !atomic_load_explicit(&domain->destroying, memory_order_relaxed) &&
            atomic_load_explicit(&domain->orphan_count, memory_order_relaxed) >=
                cask__hp_threshold(domain))
            cask__hp_scan_orphans(domain); /* keeps the orphans bounded too */
        return;
    }
    node->next = r->retired;
    r->retired = node;
    r->retired_count++;
    r->bytes_since_scan += bytes;
    atomic_store_explicit(&r->pending, r->retired_count, memory_order_relaxed);
    if ((r->retired_count >= cask__hp_threshold(domain) ||
         r->bytes_since_scan >= CASK_HP_SCAN_BYTES) &&
        !r->scanning)
        cask__hp_scan(domain, r);
}

size_t cask_hp_drain(cask_hp_domain *domain)
{
    CASK__REQUIRE(domain != NULL, "hazard-pointer domain", domain, "cask_hp_drain(NULL)",
                  "pass cask_hp_default_domain() or a domain from cask_hp_domain_create");
    struct cask__hp_record *r = cask__hp_thread_record(domain);
    if (r != NULL)
        return r->scanning ? 0 : cask__hp_scan(domain, r);
    return cask__hp_scan_orphans(domain);
}

size_t cask_hp_pending(cask_hp_domain *domain)
{
    size_t n = atomic_load_explicit(&domain->orphan_count, memory_order_relaxed);
    struct cask__hp_record *r =
        atomic_load_explicit(&domain->records, memory_order_acquire); /* the push CAS */
    for (; r != NULL; r = r->domain_next)
        n += atomic_load_explicit(&r->pending, memory_order_relaxed);
    return n;
}

size_t cask_hp_garbage_bound(cask_hp_domain *domain)
{
    size_t records = atomic_load_explicit(&domain->record_count, memory_order_relaxed);
    return (records + 1) * cask__hp_threshold(domain);
}

/* Gives one record back at thread exit: reset, FREE for the next thread, drop our reference. */
static void cask__hp_free_for_reuse(struct cask__hp_record *r)
{
    if (r->sticky_mask != 0) { /* the thread slot is given back here (default domain only, */
        r->used_mask &= ~r->sticky_mask; /* so destroy never reads these concurrently) */
        r->sticky_mask = 0;
    }
    CASK__CHECK(r->used_mask == 0, "hazard slot", &r->slots[__builtin_ctz(r->used_mask | 0x100)],
                "a thread exited while still holding a hazard slot",
                "call cask_hp_slot_release for every slot before the thread returns");
    cask__hp_record_reset_slots(r);
    r->owned_next = NULL;
    /* The next owner sees the record as we leave it. */
    atomic_store_explicit(&r->state, CASK__HP_FREE, memory_order_release); /* claim, destroy */
    cask__hp_put_record(r);
}

/* The binding the exit hands back next: any domain's but the default one's, which goes last. */
static struct cask__hp_binding *cask__hp_exit_next(void)
{
    struct cask__hp_binding *dflt = NULL;
    for (struct cask__hp_binding *b = cask__hp_bindings; b != NULL; b = b->next) {
        if (b->domain_id != cask__hp_default.id)
            return b;
        dflt = b;
    }
    return dflt;
}

/* Removes b from the thread's bindings (reclaim functions may have purged others meanwhile). */
static void cask__hp_unlink_binding(struct cask__hp_binding *b)
{
    struct cask__hp_binding **link = &cask__hp_bindings;
    while (*link != b)
        link = &(*link)->next;
    *link = b->next;
    cask__hp_last = NULL;
}

/*
 * Hands one binding back at thread exit: scan once with the record still bound, so that the
 * reclaim functions this scan runs can use the domain as on any other scan (retire onto this
 * record, acquire and release slots, and, for the default domain, use the thread slot that
 * the queues and vectors take), then give what is still protected to the domain's orphan stack
 * and the records to later threads.
 */
static void cask__hp_exit_binding(struct cask__hp_binding *b)
{
    struct cask__hp_record *r = b->record;
    int expected = CASK__HP_OWNED;
    /* Acq_rel: on success the record is ours to finish (destroy will wait for it); on
     * failure (acquire) destroy has set GONE and handled the list: pairs with its CAS. */
    if (!atomic_compare_exchange_strong_explicit(&r->state, &expected, CASK__HP_EXITING,
                                                 memory_order_acq_rel, /* destroy's CAS */
                                                 memory_order_acquire)) { /* destroy's */
        cask__hp_unlink_binding(b);
        cask__hp_put_chain(r);
        cask__free(b);
        return;
    }
    cask_hp_domain *d = r->domain;
    cask__hp_scan(d, r);
    cask__hp_unlink_binding(b); /* from here on, retires to d go to the orphan stack */
    if (b->domain_id == cask__hp_default.id) {
        cask__hp_tslot = NULL; /* its record is given back below */
        cask__hp_default_released = true;
    }
    cask__hp_orphan_leftovers(d, r);
    for (struct cask__hp_record *x = r->owned_next; x != NULL;) {
        struct cask__hp_record *after = x->owned_next;
        cask__hp_free_for_reuse(x);
        x = after;
    }
    r->owned_next = NULL;
    cask__hp_free_for_reuse(r);
    cask__free(b);
}

/*
 * pthread key destructor: at thread exit, for each domain the thread used, scan once, hand what
 * is still protected to the domain's orphan stack, and free the records for reuse. Runs on the
 * exiting thread. The default domain goes last, and until it has gone the thread may still
 * bind it (a reclaim function of another domain's exit scan pushing onto a queue): those
 * reclaim functions keep working at exit. No other domain is bound during the exit; retires to
 * a domain already handed back go to its orphan stack.
 */
static void cask__hp_thread_exit(void *unused)
{
    (void)unused;
    cask__hp_exiting = true;
    cask__hp_default_released = false;
    for (struct cask__hp_binding *b; (b = cask__hp_exit_next()) != NULL;)
        cask__hp_exit_binding(b);
    cask__hp_exiting = false;
}

/* Reclaims every object of a list; returns how many. */
static size_t cask__hp_reclaim_all(cask_hp_retired *node)
{
    size_t n = 0;
    while (node != NULL) {
        cask_hp_retired *after = node->next;
        cask__hp_run_reclaim(node);
        node = after;
        n++;
    }
    return n;
}

void cask_hp_domain_destroy(cask_hp_domain *domain)
{
    CASK__REQUIRE(domain != NULL && domain != &cask__hp_default, "hazard-pointer domain", domain,
                  "cask_hp_domain_destroy on NULL or on the default domain",
                  "destroy only domains made by cask_hp_domain_create; the default one lives "
                  "as long as the process");
    atomic_store_explicit(&domain->destroying, true, memory_order_relaxed);
    struct cask__hp_record *head =
        atomic_load_explicit(&domain->records, memory_order_acquire); /* the push CAS */
    /* 1. Check before changing anything: no slot may still be held or announce a pointer. */
    for (struct cask__hp_record *r = head; r != NULL; r = r->domain_next) {
        if (atomic_load_explicit(&r->state, memory_order_acquire) != CASK__HP_OWNED) /* FREE */
            continue; /* FREE, or EXITING: its owner resets its slots itself */
        for (int i = 0; i < CASK__HP_SLOTS; i++)
            CASK__REQUIRE(atomic_load_explicit(&r->slots[i].hazard,
                                               memory_order_acquire) == NULL && /* reset */
                              (r->used_mask & (1u << i)) == 0,
                          "hazard slot", &r->slots[i],
                          "cask_hp_domain_destroy while a slot is still held or protects a "
                          "pointer",
                          "release every slot, and stop all use of the domain, before "
                          "destroying it");
    }
    /* 2. Take over every live primary's retired list (or wait for its owner to finish exit).
     * Extras are left alone: their owner drops them with the primary's chain once it sees GONE
     * (is_extra was written when the record was claimed, before any call this follows). */
    for (struct cask__hp_record *r = head; r != NULL; r = r->domain_next) {
        if (atomic_load_explicit(&r->state, memory_order_relaxed) == CASK__HP_OWNED && r->is_extra)
            continue;
        for (;;) {
            int state = CASK__HP_OWNED;
            /* Release: the owner's later acquire of GONE (its exit's failed CAS, or its next
             * lookup) sees that we took its list. The list itself is ours by the contract
             * (every call on the domain happens before destroy), not by this CAS: on success it
             * read OWNED, stored by the claim before any retire. Acquire on failure: the state
             * read is EXITING (exit's CAS; destroy waits for it) or FREE (free_for_reuse's
             * release store). */
            if (atomic_compare_exchange_strong_explicit(&r->state, &state, CASK__HP_GONE,
                                                        memory_order_acq_rel, /* owner's acquire of GONE */
                                                        memory_order_acquire)) { /* exit's CAS, free_for_reuse */
                cask_hp_retired *list = r->retired;
                r->retired = NULL;
                r->retired_count = 0;
                atomic_store_explicit(&r->pending, 0, memory_order_relaxed);
                cask__hp_reclaim_all(list);
                break;
            }
            if (state != CASK__HP_EXITING)
                break; /* FREE: nobody's */
            sched_yield(); /* an owner is in its exit scan: bounded work, wait for it */
        }
    }
    /* 3. Orphans: from exits, from step 2's reclaim functions, and from those of this step. */
    for (;;) {
        cask_hp_retired *list = atomic_exchange_explicit(&domain->orphans, NULL,
                                                         memory_order_acquire); /* push CAS */
        if (list == NULL)
            break;
        size_t n = cask__hp_reclaim_all(list);
        atomic_fetch_sub_explicit(&domain->orphan_count, n, memory_order_relaxed);
    }
    /* 4. Nobody can reach the list now: drop the domain's references (owners drop theirs). */
    for (struct cask__hp_record *r = head; r != NULL;) {
        struct cask__hp_record *next = r->domain_next;
        cask__hp_put_record(r);
        r = next;
    }
    cask__free(domain);
}
