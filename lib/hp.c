/*
 * hp.c: hazard pointers with asymmetric fences, per-thread records and bounded garbage.
 *
 * Design
 * ------
 * Source: M. M. Michael, "Hazard Pointers: Safe Memory Reclamation for Lock-Free Objects", IEEE
 * TPDS 15(6), 2004; the asymmetric-fence variant as in Folly's hazptr and the C++26 proposal P2530
 * (readers publish with a compiler barrier, the reclaimer runs membarrier()).
 *
 * Each domain keeps a push-only list of thread records; each record has 8 hazard slots, a private
 * list of objects its thread retired, and a state (FREE, OWNED, DOMAIN_GONE). A thread finds its
 * record for a domain through a thread-local binding list (cached by domain id); the first use
 * claims a FREE record or allocates a new one. A pthread key destructor runs at thread exit: it
 * scans once, hands the leftovers to the domain's orphan stack, and marks the record FREE so a
 * later thread reuses it. Records are freed only by cask_hp_domain_destroy (or, for a destroyed
 * domain, by their owner thread), so a scanner may walk the list without protection.
 *
 * Scan (run by the retiring thread when its list reaches R = 2H + 128, H = 8 * records):
 *   1. adopt the orphan stack (exchange with NULL);
 *   2. heavy barrier: membarrier(PRIVATE_EXPEDITED) (or a seq_cst fence in the fallback mode);
 *   3. load the record list head and read every slot into an open-addressing hash set;
 *   4. reclaim every retired object not in the set, keep the others.
 * Cost O(H + R) per scan and R >= 2H + 128 retires between scans: amortised O(1) per retire.
 * After a scan at most H objects remain (each is held by a distinct slot), so a list never
 * exceeds R: this is the garbage bound stated in hp.h, independent of stalled readers.
 *
 * Invariants
 *   I1  A slot is written only by its owner thread (publish, reset, release) and by thread exit.
 *   I2  A retired object is in exactly one list (a record's, the orphan stack, or a scan's local
 *       list) until its reclaim function is called, exactly once.
 *   I3  Records are never freed while their domain lives; domain_next is immutable after push.
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
 *
 * Why ThreadSanitizer agrees without annotations
 *   TSan models neither membarrier nor fences, but the proof above never needs TSan to see them:
 *   if the scanner reclaims p, the value it read from the reader's slot was stored by the reader
 *   after the reader's last access to p (a reset, or a later publication), because an older value
 *   would mean the reader's validation failed and it never touched p. Every slot store is a
 *   release and every scan load an acquire, so TSan sees reader's accesses -> slot store -> scan
 *   load -> reclaim as happens-before. The orphan stack is release-push / acquire-exchange.
 *
 * Linearization points: protect at its successful validating load; reset and release at their
 * release store; retire at the push onto the private list (the object then belongs to the domain).
 */
#define _GNU_SOURCE
#include "cask/hp.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "cask/cask.h"
#include "internal/check.h"

#ifndef CASK_HP_FORCE_FENCE
#define CASK_HP_FORCE_FENCE 0
#endif

#define CASK__HP_SLOTS 8
#define CASK__HP_SLACK 128
#define CASK__HP_ALL_USED ((1u << CASK__HP_SLOTS) - 1u)

enum { CASK__HP_FREE = 0, CASK__HP_OWNED = 1, CASK__HP_DOMAIN_GONE = 2 };

struct cask__hp_record {
    _Alignas(64) cask_hp_slot slots[CASK__HP_SLOTS];
    struct cask__hp_record *domain_next; /* immutable once pushed (I3) */
    cask_hp_domain *domain;              /* immutable */
    _Atomic int state;                   /* FREE / OWNED / DOMAIN_GONE */
    /* The fields below belong to the owner thread (or to destroy, which runs alone). */
    struct cask__hp_record *owned_next; /* further records of the same thread (slots 9+) */
    unsigned used_mask;                 /* which slots are acquired */
    bool scanning;                      /* a reclaim function is running on this thread */
    cask_hp_retired *retired;           /* objects retired by the owner, not yet reclaimed */
    size_t retired_count;
    _Atomic size_t pending; /* copy of retired_count for cask_hp_pending (owner stores) */
    void **set;             /* scratch hash set of hazards for scans */
    size_t set_cap;         /* power of two, or 0 */
    pthread_t owner;
};

struct cask_hp_domain {
    _Atomic(struct cask__hp_record *) records; /* push-only list */
    _Atomic size_t record_count;
    _Atomic(cask_hp_retired *) orphans; /* left by exited threads and allocation failures */
    _Atomic size_t orphan_count;
    uint64_t id; /* unique per domain, never reused */
};

/* One thread's link to its record in one domain. */
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
static bool cask__hp_asymmetric;

static _Thread_local struct cask__hp_binding *cask__hp_bindings;
static _Thread_local struct cask__hp_binding *cask__hp_last;

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
    cask_hp_domain *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return CASK_ENOMEM;
    /* Relaxed: the id only has to be unique. */
    d->id = atomic_fetch_add_explicit(&cask__hp_next_id, 1, memory_order_relaxed);
    *out = d;
    return 0;
}

/*
 * The other half of the asymmetric fence (F_w in the proof above): after it, every thread's
 * earlier hazard publication is visible to our loads, or that thread's later validation sees
 * our earlier unlink.
 */
static void cask__hp_heavy_barrier(void)
{
#if defined(__linux__)
    if (cask__hp_asymmetric) {
        if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) != 0)
            CASK__DIE("hazard-pointer domain", NULL,
                      "membarrier(PRIVATE_EXPEDITED) failed after it had been registered, so "
                      "hazard publications can no longer be ordered",
                      "rebuild cask with -DCASK_HP_FORCE_FENCE=1 on this system");
    }
#endif
    atomic_thread_fence(memory_order_seq_cst); /* pairs with the readers' publication fence */
}

/* Pushes the chain first..last (n objects) onto the domain's orphan stack. */
static void cask__hp_push_orphans(cask_hp_domain *d, cask_hp_retired *first, cask_hp_retired *last,
                                  size_t n)
{
    atomic_fetch_add_explicit(&d->orphan_count, n, memory_order_relaxed);
    cask_hp_retired *head = atomic_load_explicit(&d->orphans, memory_order_relaxed);
    do {
        last->next = head;
        CASK__NOISE("hp.orphans.push");
        /* Release: pairs with the acquire exchange in cask__hp_adopt_orphans, so the nodes'
         * fields (and the retiring thread's earlier writes) are visible to the adopter. */
    } while (!atomic_compare_exchange_weak_explicit(&d->orphans, &head, first,
                                                    memory_order_release, memory_order_relaxed));
}

/* Moves the whole orphan stack onto rec's private list. */
static void cask__hp_adopt_orphans(cask_hp_domain *d, struct cask__hp_record *rec)
{
    if (atomic_load_explicit(&d->orphans, memory_order_relaxed) == NULL)
        return;
    /* Acquire: pairs with the release CAS in cask__hp_push_orphans. */
    cask_hp_retired *node = atomic_exchange_explicit(&d->orphans, NULL, memory_order_acquire);
    size_t n = 0;
    while (node != NULL) {
        cask_hp_retired *next = node->next;
        node->next = rec->retired;
        rec->retired = node;
        n++;
        node = next;
    }
    rec->retired_count += n;
    atomic_fetch_sub_explicit(&d->orphan_count, n, memory_order_relaxed);
}

static size_t cask__hp_hash(const void *p, size_t mask)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 29;
    x *= UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(x >> 32) & mask;
}

static void cask__hp_set_insert(void **set, size_t cap, void *p)
{
    size_t i = cask__hp_hash(p, cap - 1);
    while (set[i] != NULL && set[i] != p)
        i = (i + 1) & (cap - 1);
    set[i] = p;
}

static bool cask__hp_set_contains(void *const *set, size_t cap, const void *p)
{
    size_t i = cask__hp_hash(p, cap - 1);
    while (set[i] != NULL) {
        if (set[i] == p)
            return true;
        i = (i + 1) & (cap - 1);
    }
    return false;
}

/* Fallback when the hash set could not be allocated: look in every slot (O(H) per object). */
static bool cask__hp_slots_contain(struct cask__hp_record *head, const void *p)
{
    for (struct cask__hp_record *r = head; r != NULL; r = r->domain_next)
        for (int i = 0; i < CASK__HP_SLOTS; i++)
            /* Acquire: pairs with the owner's release publication/reset (see the proof). */
            if (atomic_load_explicit(&r->slots[i].hazard, memory_order_acquire) == p)
                return true;
    return false;
}

/*
 * Loads every hazard of the records reachable from head into rec's hash set, growing it to at
 * least twice the number of slots. Returns false (and fills nothing) if it could not allocate.
 */
static bool cask__hp_collect(struct cask__hp_record *head, struct cask__hp_record *rec)
{
    size_t slots = 0;
    for (struct cask__hp_record *r = head; r != NULL; r = r->domain_next)
        slots += CASK__HP_SLOTS;
    size_t want = 16;
    while (want < 2 * slots)
        want *= 2;
    if (rec->set_cap < want) {
        void **bigger = calloc(want, sizeof(void *));
        if (bigger == NULL)
            return false;
        free(rec->set);
        rec->set = bigger;
        rec->set_cap = want;
    } else {
        memset(rec->set, 0, rec->set_cap * sizeof(void *));
    }
    for (struct cask__hp_record *r = head; r != NULL; r = r->domain_next) {
        for (int i = 0; i < CASK__HP_SLOTS; i++) {
            /* Acquire: pairs with the owner's release publication/reset (see the proof). */
            void *p = atomic_load_explicit(&r->slots[i].hazard, memory_order_acquire);
            if (p != NULL)
                cask__hp_set_insert(rec->set, rec->set_cap, p);
        }
    }
    return true;
}

/*
 * The scan: adopt orphans, barrier, snapshot hazards, reclaim what no slot holds. Runs on the
 * owner of rec (or on a private stack record). Returns how many objects were reclaimed.
 */
static size_t cask__hp_scan(cask_hp_domain *d, struct cask__hp_record *rec)
{
    cask__hp_adopt_orphans(d, rec);
    if (rec->retired == NULL)
        return 0;
    cask__hp_heavy_barrier();
    CASK__NOISE("hp.scan.after_barrier");
    /* Acquire: pairs with the release CAS that pushed the newest record, which (through the
     * release sequence of pushes) makes every record's slots and domain_next visible. */
    struct cask__hp_record *head = atomic_load_explicit(&d->records, memory_order_acquire);
    bool have_set = cask__hp_collect(head, rec);

    cask_hp_retired *node = rec->retired;
    rec->retired = NULL;
    rec->retired_count = 0;
    rec->scanning = true;
    size_t reclaimed = 0;
    while (node != NULL) {
        cask_hp_retired *next = node->next;
        bool protected = have_set ? cask__hp_set_contains(rec->set, rec->set_cap, node->object)
                                  : cask__hp_slots_contain(head, node->object);
        if (protected) {
            node->next = rec->retired;
            rec->retired = node;
            rec->retired_count++;
        } else {
            CASK__NOISE("hp.scan.reclaim");
            node->reclaim(node->object); /* may retire more: they join rec->retired */
            reclaimed++;
        }
        node = next;
    }
    rec->scanning = false;
    atomic_store_explicit(&rec->pending, rec->retired_count, memory_order_relaxed);
    return reclaimed;
}

/* Scan threshold R = 2H + 128 for the domain's current number of slots H. */
static size_t cask__hp_threshold(cask_hp_domain *d)
{
    size_t records = atomic_load_explicit(&d->record_count, memory_order_relaxed);
    return 2 * CASK__HP_SLOTS * records + CASK__HP_SLACK;
}

static void cask__hp_record_reset_slots(struct cask__hp_record *r)
{
    for (int i = 0; i < CASK__HP_SLOTS; i++)
        /* Release: pairs with the scanner's acquire load, like cask_hp_reset. */
        atomic_store_explicit(&r->slots[i].hazard, NULL, memory_order_release);
    r->used_mask = 0;
}

/* Claims a FREE record of d for the calling thread, or allocates and pushes a new one. */
static struct cask__hp_record *cask__hp_claim_record(cask_hp_domain *d)
{
    /* Acquire: pairs with the release CAS of each push (records' fields are visible). */
    struct cask__hp_record *r = atomic_load_explicit(&d->records, memory_order_acquire);
    for (; r != NULL; r = r->domain_next) {
        int expected = CASK__HP_FREE;
        if (atomic_load_explicit(&r->state, memory_order_relaxed) == CASK__HP_FREE &&
            /* Acquire: pairs with the release store that freed it at the previous owner's exit,
             * so the record's private fields as that owner left them are ours to use. */
            atomic_compare_exchange_strong_explicit(&r->state, &expected, CASK__HP_OWNED,
                                                    memory_order_acquire, memory_order_relaxed)) {
            r->owner = pthread_self();
            return r;
        }
    }
    r = aligned_alloc(64, (sizeof(*r) + 63) / 64 * 64);
    if (r == NULL)
        return NULL;
    memset(r, 0, sizeof(*r));
    for (int i = 0; i < CASK__HP_SLOTS; i++) {
        atomic_init(&r->slots[i].hazard, NULL);
        r->slots[i].record = r;
        r->slots[i].full_fence = !cask__hp_asymmetric;
    }
    atomic_init(&r->state, CASK__HP_OWNED);
    atomic_init(&r->pending, 0);
    r->domain = d;
    r->owner = pthread_self();
    struct cask__hp_record *head = atomic_load_explicit(&d->records, memory_order_relaxed);
    do {
        r->domain_next = head;
        CASK__NOISE("hp.records.push");
        /* Release: pairs with the acquire loads of d->records in scans and claims. */
    } while (!atomic_compare_exchange_weak_explicit(&d->records, &head, r, memory_order_release,
                                                    memory_order_relaxed));
    atomic_fetch_add_explicit(&d->record_count, 1, memory_order_relaxed);
    return r;
}

/* Frees a record whose domain has been destroyed, with the rest of its owner's chain. */
static void cask__hp_free_gone_chain(struct cask__hp_record *r)
{
    while (r != NULL) {
        struct cask__hp_record *next = r->owned_next;
        free(r->set);
        free(r);
        r = next;
    }
}

static bool cask__hp_gone(struct cask__hp_record *r)
{
    /* Acquire: pairs with the release CAS in cask_hp_domain_destroy. */
    return atomic_load_explicit(&r->state, memory_order_acquire) == CASK__HP_DOMAIN_GONE;
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
            cask__hp_free_gone_chain(b->record);
            free(b);
            continue;
        }
        link = &b->next;
    }
    cask__hp_last = NULL;
    if (!cask__hp_key_ok)
        return NULL;
    struct cask__hp_binding *b = malloc(sizeof(*b));
    if (b == NULL)
        return NULL;
    struct cask__hp_record *r = cask__hp_claim_record(d);
    if (r == NULL) {
        free(b);
        return NULL;
    }
    if (pthread_setspecific(cask__hp_exit_key, (void *)1) != 0) {
        cask__hp_record_reset_slots(r);
        /* Release: pairs with the acquire CAS in cask__hp_claim_record. */
        atomic_store_explicit(&r->state, CASK__HP_FREE, memory_order_release);
        free(b);
        return NULL;
    }
    b->domain_id = d->id;
    b->record = r;
    b->next = cask__hp_bindings;
    cask__hp_bindings = b;
    cask__hp_last = b;
    return r;
}

/* The calling thread's record for d, or NULL if it could not be allocated. */
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
            struct cask__hp_record *extra = cask__hp_claim_record(domain);
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
    cask_hp_reset(slot);
    r->used_mask &= ~bit;
}

void cask_hp_retire(cask_hp_domain *domain, cask_hp_retired *node, void *object,
                    cask_hp_reclaim_fn reclaim)
{
    CASK__REQUIRE(domain != NULL && node != NULL && object != NULL && reclaim != NULL,
                  "hazard-pointer domain", domain, "cask_hp_retire with a NULL argument",
                  "pass the domain, the node embedded in the object, the object and its reclaim "
                  "function");
    node->object = object;
    node->reclaim = reclaim;
    CASK__NOISE("hp.retire");
    struct cask__hp_record *r = cask__hp_thread_record(domain);
    if (r == NULL) { /* no per-thread state could be had: the domain takes the object */
        cask__hp_push_orphans(domain, node, node, 1);
        return;
    }
    node->next = r->retired;
    r->retired = node;
    r->retired_count++;
    atomic_store_explicit(&r->pending, r->retired_count, memory_order_relaxed);
    if (r->retired_count >= cask__hp_threshold(domain) && !r->scanning)
        cask__hp_scan(domain, r);
}

size_t cask_hp_drain(cask_hp_domain *domain)
{
    CASK__REQUIRE(domain != NULL, "hazard-pointer domain", domain, "cask_hp_drain(NULL)",
                  "pass cask_hp_default_domain() or a domain from cask_hp_domain_create");
    struct cask__hp_record *r = cask__hp_thread_record(domain);
    if (r != NULL)
        return r->scanning ? 0 : cask__hp_scan(domain, r);
    /* No per-thread record could be allocated: scan the orphans with a record on the stack,
     * which is never published (it holds no hazards), and give back what stays. */
    struct cask__hp_record temp;
    memset(&temp, 0, sizeof(temp));
    size_t reclaimed = cask__hp_scan(domain, &temp);
    if (temp.retired != NULL) {
        cask_hp_retired *last = temp.retired;
        while (last->next != NULL)
            last = last->next;
        cask__hp_push_orphans(domain, temp.retired, last, temp.retired_count);
    }
    free(temp.set);
    return reclaimed;
}

size_t cask_hp_pending(cask_hp_domain *domain)
{
    size_t n = atomic_load_explicit(&domain->orphan_count, memory_order_relaxed);
    /* Acquire: pairs with the release CAS of each record push. */
    struct cask__hp_record *r = atomic_load_explicit(&domain->records, memory_order_acquire);
    for (; r != NULL; r = r->domain_next)
        n += atomic_load_explicit(&r->pending, memory_order_relaxed);
    return n;
}

size_t cask_hp_garbage_bound(cask_hp_domain *domain)
{
    size_t records = atomic_load_explicit(&domain->record_count, memory_order_relaxed);
    return records * cask__hp_threshold(domain);
}

/* Gives one record back at thread exit (or frees it if its domain is gone). */
static void cask__hp_release_record(struct cask__hp_record *r)
{
    CASK__CHECK(r->used_mask == 0, "hazard slot", &r->slots[__builtin_ctz(r->used_mask | 0x100)],
                "a thread exited while still holding a hazard slot",
                "call cask_hp_slot_release for every slot before the thread returns");
    cask__hp_record_reset_slots(r);
    r->owned_next = NULL;
    int expected = CASK__HP_OWNED;
    /* Release: pairs with the acquire CAS in cask__hp_claim_record (the next owner sees the
     * record as we leave it). On failure (acquire) the domain is gone and the record is ours. */
    if (!atomic_compare_exchange_strong_explicit(&r->state, &expected, CASK__HP_FREE,
                                                 memory_order_release, memory_order_acquire)) {
        free(r->set);
        free(r);
    }
}

/*
 * pthread key destructor: at thread exit, scan once, hand what is still protected to the domain's
 * orphan stack, and free the thread's records for reuse. Runs on the exiting thread.
 */
static void cask__hp_thread_exit(void *unused)
{
    (void)unused;
    struct cask__hp_binding *b = cask__hp_bindings;
    cask__hp_bindings = NULL;
    cask__hp_last = NULL;
    while (b != NULL) {
        struct cask__hp_binding *next = b->next;
        struct cask__hp_record *r = b->record;
        if (cask__hp_gone(r)) {
            cask__hp_free_gone_chain(r);
        } else {
            for (struct cask__hp_record *x = r->owned_next; x != NULL;) {
                struct cask__hp_record *after = x->owned_next;
                cask__hp_release_record(x);
                x = after;
            }
            r->owned_next = NULL;
            cask__hp_scan(r->domain, r);
            if (r->retired != NULL) {
                cask_hp_retired *last = r->retired;
                while (last->next != NULL)
                    last = last->next;
                cask__hp_push_orphans(r->domain, r->retired, last, r->retired_count);
                r->retired = NULL;
                r->retired_count = 0;
                atomic_store_explicit(&r->pending, 0, memory_order_relaxed);
            }
            cask__hp_release_record(r);
        }
        free(b);
        b = next;
    }
}

void cask_hp_domain_destroy(cask_hp_domain *domain)
{
    CASK__REQUIRE(domain != NULL && domain != &cask__hp_default, "hazard-pointer domain", domain,
                  "cask_hp_domain_destroy on NULL or on the default domain",
                  "destroy only domains made by cask_hp_domain_create; the default one lives "
                  "as long as the process");
    /* Acquire: pairs with the release CAS of each record push. */
    struct cask__hp_record *r = atomic_load_explicit(&domain->records, memory_order_acquire);
    while (r != NULL) {
        struct cask__hp_record *next = r->domain_next;
        for (int i = 0; i < CASK__HP_SLOTS; i++)
            /* Acquire: pairs with the owner's release publication/reset. */
            CASK__REQUIRE(atomic_load_explicit(&r->slots[i].hazard, memory_order_acquire) == NULL,
                          "hazard slot", &r->slots[i],
                          "cask_hp_domain_destroy while a slot still protects a pointer",
                          "reset and release every slot, and stop all use of the domain, "
                          "before destroying it");
        cask_hp_retired *node = r->retired;
        r->retired = NULL;
        r->retired_count = 0;
        while (node != NULL) {
            cask_hp_retired *after = node->next;
            node->reclaim(node->object);
            node = after;
        }
        /* A FREE record has no owner: it is ours to free (relaxed; destroy runs alone). An
         * OWNED one belongs to a live thread, which frees it when it sees DOMAIN_GONE.
         * Release on that store: pairs with the acquire in cask__hp_gone. */
        if (atomic_load_explicit(&r->state, memory_order_relaxed) == CASK__HP_FREE) {
            free(r->set);
            free(r);
        } else {
            atomic_store_explicit(&r->state, CASK__HP_DOMAIN_GONE, memory_order_release);
        }
        r = next;
    }
    /* Acquire: pairs with the release CAS in cask__hp_push_orphans. */
    cask_hp_retired *node = atomic_exchange_explicit(&domain->orphans, NULL, memory_order_acquire);
    while (node != NULL) {
        cask_hp_retired *after = node->next;
        node->reclaim(node->object);
        node = after;
    }
    free(domain);
}
