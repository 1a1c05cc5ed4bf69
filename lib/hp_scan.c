/*
 * hp_scan.c: the hazard-pointer scan: adopt orphans, the heavy barrier, snapshot every hazard
 * slot, reclaim what no slot holds; and the orphan stack that exited threads and allocation
 * failures leave their retired objects on.
 *
 * Design
 * ------
 * Source: M. M. Michael, "Hazard Pointers: Safe Memory Reclamation for Lock-Free Objects", IEEE
 * TPDS 15(6), 2004 (the scan, Figure 3's Scan with a hash set of hazards), with the asymmetric
 * fence of Folly's hazptr and P2530 (the scan runs membarrier(), readers a compiler barrier).
 * lib/hp.c owns records, slots and retire, and has the whole design: when a scan runs (the
 * threshold R = 2H + S, or CASK_HP_SCAN_BYTES of sized retires), invariants I1-I4, and the proof
 * that a reclaimed object is in no slot. This file is the scan's half of that proof: the heavy
 * barrier (F_w), then acquire loads of every slot (pairing with the readers' release stores).
 *
 * Invariants used here: I2 (a retired object is in exactly one list: the scan takes the whole
 * private list, reclaims or keeps each object once; orphans are adopted by one exchange) and I3
 * (records reachable from the list head stay allocated and their domain_next fixed while the
 * scan walks them).
 *
 * Linearization point: an object is reclaimed when its reclaim function is called, after the
 * scan's load of every slot found it in none.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "cask/cask.h"
#include "internal/alloc.h"
#include "internal/backoff.h"
#include "internal/check.h"
#include "internal/hp_record.h"
#include "internal/hp_set.h"

bool cask__hp_asymmetric;

static _Thread_local bool cask__hp_tempscan; /* a scan on a stack record is running */

/*
 * The other half of the asymmetric fence (F_w in the proof in hp.c): after it, every thread's
 * earlier hazard publication is visible to our loads, or that thread's later validation sees
 * our earlier unlink. membarrier can fail transiently (the kernel may not get memory for its CPU
 * mask): retry; if it keeps failing the readers' publications can no longer be ordered, and
 * carrying on would free objects in use, so die with advice.
 */
static void cask__hp_heavy_barrier(void)
{
#if defined(__linux__)
    if (cask__hp_asymmetric) {
        int tries = 0;
        while (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) != 0) {
            if ((errno != ENOMEM && errno != EAGAIN && errno != EINTR) || ++tries == 1000)
                CASK__DIE("hazard-pointer domain", NULL,
                          "membarrier(PRIVATE_EXPEDITED) keeps failing after it had been "
                          "registered, so hazard publications can no longer be ordered",
                          "rebuild cask with -DCASK_HP_FORCE_FENCE=1 on this system");
            sched_yield();
        }
    }
#endif
    /* After membarrier it is not needed on Linux, but it keeps the C11 argument of the proof
     * self-contained. */
    atomic_thread_fence(memory_order_seq_cst); /* the readers' publication fence (F_r) */
}

/* Pushes the chain first..last (n objects) onto the domain's orphan stack. */
void cask__hp_push_orphans(cask_hp_domain *d, cask_hp_retired *first, cask_hp_retired *last,
                           size_t n)
{
    atomic_fetch_add_explicit(&d->orphan_count, n, memory_order_relaxed);
    cask_hp_retired *head = atomic_load_explicit(&d->orphans, memory_order_relaxed);
    do {
        last->next = head;
        CASK__NOISE("hp.orphans.push");
        /* The nodes' fields (and the retiring thread's earlier writes) go to the adopter. */
    } while (!atomic_compare_exchange_weak_explicit(&d->orphans, &head, first,
                                                    memory_order_release, /* adopt's exchange */
                                                    memory_order_relaxed));
}

/* Moves the whole orphan stack onto rec's private list. */
static void cask__hp_adopt_orphans(cask_hp_domain *d, struct cask__hp_record *rec)
{
    if (atomic_load_explicit(&d->orphans, memory_order_relaxed) == NULL)
        return;
    cask_hp_retired *node = atomic_exchange_explicit(&d->orphans, NULL,
                                                     memory_order_acquire); /* push_orphans */
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

/* Whether a slot of the records from head on holds p: the scan's fallback when the hash set
 * could not be allocated (O(H) per object), and cask__hp_domain_holds. */
static bool cask__hp_slots_contain(struct cask__hp_record *head, const void *p)
{
    for (struct cask__hp_record *r = head; r != NULL; r = r->domain_next)
        for (int i = 0; i < CASK__HP_SLOTS; i++)
            if (atomic_load_explicit(&r->slots[i].hazard, memory_order_seq_cst) == p) /* seq_cst: acquire pairs with the slot's release stores (publish, reset); seq_cst for the Dekker pairs of cask__hp_domain_holds's caller (lib/vec.c) */
                return true;
    return false;
}

bool cask__hp_domain_holds(cask_hp_domain *d, const void *p)
{
    /* seq_cst: acquire pairs with claim_record's push CAS (the records and their slots are
     * there); seq_cst so that a caller's Dekker pair reaches every record whose owner wrote its
     * slot earlier in the total order (the push CAS strongly happens before that write) */
    struct cask__hp_record *head = atomic_load_explicit(&d->records, memory_order_seq_cst); /* claim_record's push CAS */
    return cask__hp_slots_contain(head, p);
}

/*
 * Loads every hazard of the records reachable from head into rec's hash set, growing it to at
 * least twice the number of slots. Returns how many hazards it found, or -1 (and fills nothing)
 * if it could not allocate.
 */
static long cask__hp_collect(struct cask__hp_record *head, struct cask__hp_record *rec)
{
    size_t slots = 0;
    for (struct cask__hp_record *r = head; r != NULL; r = r->domain_next)
        slots += CASK__HP_SLOTS;
    size_t want = 16;
    while (want < 2 * slots)
        want *= 2;
    if (rec->set_cap < want) {
        void **bigger = cask__alloc(sizeof(void *), want * sizeof(void *));
        if (bigger == NULL)
            return -1;
        memset(bigger, 0, want * sizeof(void *));
        cask__free(rec->set);
        rec->set = bigger;
        rec->set_cap = want;
    } else {
        memset(rec->set, 0, rec->set_cap * sizeof(void *));
    }
    long found = 0;
    for (struct cask__hp_record *r = head; r != NULL; r = r->domain_next) {
        for (int i = 0; i < CASK__HP_SLOTS; i++) {
            /* The owner's release publication, reset or release (see the proof). */
            void *p = atomic_load_explicit(&r->slots[i].hazard, memory_order_acquire); /* publish */
            if (p != NULL) {
                cask__hp_set_insert(rec->set, rec->set_cap, p);
                found++;
            }
        }
        CASK__NOISE("hp.collect.record_done"); /* later records are read later: a slot set now is seen */
    }
    return found;
}

/* Scan threshold R = 2H + S for the domain's current number of slots H. */
size_t cask__hp_threshold(cask_hp_domain *d)
{
    size_t records = atomic_load_explicit(&d->record_count, memory_order_relaxed);
    return 2 * CASK__HP_SLOTS * records + CASK__HP_SLACK;
}

/* Runs one reclaim function. Queue calls it makes never wait (the queues' contention backoff
 * and empty-poll pause, lib/internal/backoff.h): the thread may be inside a queue call that
 * holds a hazard slot or is registered on an eventcount, or inside any other call whose caller
 * expects the retire or scan not to stall. */
void cask__hp_run_reclaim(cask_hp_retired *node)
{
    cask__backoff_hold();
    node->reclaim(node->object);
    cask__backoff_release();
}

/*
 * One pass of the scan: adopt orphans, barrier, snapshot hazards, reclaim what no slot holds.
 * Runs on the owner of rec (or on a private stack record). Returns how many were reclaimed.
 */
static size_t cask__hp_scan_once(cask_hp_domain *d, struct cask__hp_record *rec)
{
    cask__hp_adopt_orphans(d, rec);
    if (rec->retired == NULL)
        return 0;
    cask__hp_heavy_barrier();
    CASK__NOISE("hp.scan.after_barrier");
    /* The CAS that pushed the newest record (through the release sequence of pushes) makes
     * every record's slots and domain_next visible. */
    struct cask__hp_record *head =
        atomic_load_explicit(&d->records, memory_order_acquire); /* claim_record's push CAS */
    long hazards = cask__hp_collect(head, rec); /* -1: no set, look in the slots instead */

    cask_hp_retired *node = rec->retired;
    rec->retired = NULL;
    rec->retired_count = 0;
    size_t reclaimed = 0;
    while (node != NULL) {
        cask_hp_retired *next = node->next;
        bool protected = hazards > 0    ? cask__hp_set_contains(rec->set, rec->set_cap, node->object)
                         : hazards == 0 ? false
                                        : cask__hp_slots_contain(head, node->object);
        if (protected) {
            node->next = rec->retired;
            rec->retired = node;
            rec->retired_count++;
        } else {
            CASK__NOISE("hp.scan.reclaim");
            cask__hp_run_reclaim(node); /* may retire more: they join rec->retired */
            reclaimed++;
        }
        node = next;
    }
    return reclaimed;
}

/*
 * The scan: passes until the list is under the threshold (reclaim functions may have retired
 * enough to fill it again) or a pass reclaims nothing (what is left is protected).
 */
size_t cask__hp_scan(cask_hp_domain *d, struct cask__hp_record *rec)
{
    rec->scanning = true;
    rec->bytes_since_scan = 0;
    size_t total = 0, reclaimed;
    do {
        reclaimed = cask__hp_scan_once(d, rec);
        total += reclaimed;
    } while (reclaimed > 0 && rec->retired_count >= cask__hp_threshold(d));
    rec->scanning = false;
    atomic_store_explicit(&rec->pending, rec->retired_count, memory_order_relaxed);
    return total;
}

/* Hands rec's remaining retired objects to the domain's orphan stack. */
void cask__hp_orphan_leftovers(cask_hp_domain *d, struct cask__hp_record *rec)
{
    if (rec->retired == NULL)
        return;
    cask_hp_retired *last = rec->retired;
    while (last->next != NULL)
        last = last->next;
    cask__hp_push_orphans(d, rec->retired, last, rec->retired_count);
    rec->retired = NULL;
    rec->retired_count = 0;
    atomic_store_explicit(&rec->pending, 0, memory_order_relaxed);
}

/*
 * Scans the orphan stack with a record on the stack, which is never published (it holds no
 * hazards), and gives back what stays. For threads that have no record of their own.
 */
size_t cask__hp_scan_orphans(cask_hp_domain *d)
{
    if (cask__hp_tempscan)
        return 0; /* a reclaim function of this very scan retired: it waits for the next one */
    cask__hp_tempscan = true;
    struct cask__hp_record temp;
    memset(&temp, 0, sizeof(temp));
    size_t reclaimed = cask__hp_scan(d, &temp);
    cask__hp_orphan_leftovers(d, &temp);
    cask__free(temp.set);
    cask__hp_tempscan = false;
    return reclaimed;
}
