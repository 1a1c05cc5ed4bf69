/*
 * Private to cask: the hazard-pointer records and domains that lib/hp.c (records, slots, retire,
 * thread exit, destroy) and lib/hp_scan.c (the scan, orphans, the heavy barrier) share. The
 * design, invariants I1-I4 and the safety proof are in lib/hp.c's head comment.
 */
#ifndef CASK_INTERNAL_HP_RECORD_H
#define CASK_INTERNAL_HP_RECORD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "cask/hp.h"

/*
 * CASK_HP_SCAN_SLACK: a thread scans when its list reaches R = 2H + slack. The slack amortises the
 * scan's fixed cost, above all the membarrier() call, which interrupts every CPU running a
 * thread of the process (measured at 0.4 us on an idle machine and 12 us with the other CPU
 * busy; see `./cask bench hp`). Stress builds use a small slack so that reclamation, and the
 * bugs around it, happen often.
 */
#ifndef CASK_HP_SCAN_SLACK
#if defined(CASK_STRESS) && CASK_STRESS
#define CASK_HP_SCAN_SLACK 16
#else
#define CASK_HP_SCAN_SLACK 2048
#endif
#endif

/*
 * CASK_HP_SCAN_BYTES: a thread also scans once the objects it retired with cask_hp_retire_sized
 * since its last scan add up to this many bytes. Big objects (a queue's segments, a map's old
 * tables) would otherwise pile up R deep, megabytes of them, and be freed in one burst: glibc's
 * malloc then gives the burst back to the kernel (its heap top passed the 128 KiB trim
 * threshold) and faults fresh pages in for the next allocations. 64 KiB stays under that
 * threshold, and the scan's fixed cost is amortised over the bytes instead of the objects.
 */
#ifndef CASK_HP_SCAN_BYTES
#if defined(CASK_STRESS) && CASK_STRESS
#define CASK_HP_SCAN_BYTES 4096
#else
#define CASK_HP_SCAN_BYTES 65536
#endif
#endif

#define CASK__HP_SLOTS 8
#define CASK__HP_SLACK CASK_HP_SCAN_SLACK
#define CASK__HP_ALL_USED ((1u << CASK__HP_SLOTS) - 1u)

enum { CASK__HP_FREE = 0, CASK__HP_OWNED = 1, CASK__HP_EXITING = 2, CASK__HP_GONE = 3 };

struct cask__hp_record {
    _Alignas(64) cask_hp_slot slots[CASK__HP_SLOTS];
    struct cask__hp_record *domain_next; /* immutable once pushed (I3) */
    cask_hp_domain *domain;              /* immutable */
    _Atomic int state;                   /* FREE / OWNED / EXITING / GONE */
    _Atomic int refs;                    /* the domain's reference + the owner's */
    /* The fields below belong to the owner thread (or to destroy, after GONE, see I4). */
    bool is_extra;                      /* lends slots to a primary; holds no retired list */
    struct cask__hp_record *owned_next; /* the owner's further (extra) records */
    unsigned used_mask;                 /* which slots are acquired */
    unsigned sticky_mask;               /* which of them is the thread slot (never released) */
    bool scanning;                      /* a scan is running on this record */
    cask_hp_retired *retired;           /* objects retired by the owner, not yet reclaimed */
    size_t retired_count;
    size_t bytes_since_scan; /* sized retires since the last scan began */
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
    _Atomic bool destroying; /* set by destroy: retire goes to the orphan stack */
    uint64_t id;             /* unique per domain, never reused */
};

/* True when the readers' fence is the membarrier() of the scan (asymmetric mode); set once by
 * hp.c's process setup, before any record exists (pthread_once orders it). */
extern bool cask__hp_asymmetric;

/* Scan threshold R = 2H + S for the domain's current number of slots H. */
size_t cask__hp_threshold(cask_hp_domain *d);

/* Pushes the chain first..last (n objects) onto the domain's orphan stack (release: pairs with
 * the adopting scan's acquire exchange). */
void cask__hp_push_orphans(cask_hp_domain *d, cask_hp_retired *first, cask_hp_retired *last,
                           size_t n);

/* Runs one reclaim function with the queues' backoff held (lib/hp_scan.c says why). */
void cask__hp_run_reclaim(cask_hp_retired *node);

/* The scan of rec's retired list (rec owned by the caller, or a stack record): returns how many
 * objects it reclaimed. */
size_t cask__hp_scan(cask_hp_domain *d, struct cask__hp_record *rec);

/* Hands rec's remaining retired objects to the domain's orphan stack. */
void cask__hp_orphan_leftovers(cask_hp_domain *d, struct cask__hp_record *rec);

/* True if some slot of the domain holds p now (seq_cst loads of every slot, so acquire too;
 * O(slots)). A structure that announces calls in flight in its thread slot (lib/vec.c: push)
 * waits with it until none does. */
bool cask__hp_domain_holds(cask_hp_domain *d, const void *p);

/* Scans the orphan stack for a thread that has no record of its own. */
size_t cask__hp_scan_orphans(cask_hp_domain *d);

#endif /* CASK_INTERNAL_HP_RECORD_H */
