/*
 * cask/hp.h: hazard pointers, the safe-memory-reclamation scheme every cask structure uses.
 *
 * A lock-free structure unlinks a node while other threads may still be reading it. Hazard
 * pointers (Michael, "Hazard Pointers: Safe Memory Reclamation for Lock-Free Objects", IEEE TPDS
 * 2004) let a reader announce "I am reading this object" in a hazard slot; a writer that has
 * unlinked the object retires it, and the object is reclaimed only once no slot announces it.
 * The API follows the spirit of C++26 std::hazard_pointer (P2530): take a slot, protect a pointer
 * loaded from an atomic source, reset it, give the slot back; retire from any thread.
 *
 * Concurrency table ("yes": the two calls may run at the same time from different threads on the
 * same domain; a slot is always used only by the thread that acquired it):
 *
 *                    slot_acquire  slot_release  protect/set/reset  retire  drain  pending  domain_destroy
 *   slot_acquire         yes           yes             yes           yes     yes     yes        no
 *   slot_release         yes           yes             yes           yes     yes     yes        no
 *   protect/set/reset    yes           yes             yes           yes     yes     yes        no
 *   retire               yes           yes             yes           yes     yes     yes        no
 *   drain                yes           yes             yes           yes     yes     yes        no
 *   pending              yes           yes             yes           yes     yes     yes        no
 *   domain_destroy       no            no              no            no      no      no         no
 *   (cask_hp_thread_slot goes with everything as slot_acquire does; cask_hp_retire_sized as
 *   retire.)
 *
 * Progress: protect is lock-free (it retries only when the source changed, which means another
 * thread made progress); set, reset, release and pending are wait-free. Retire is constant time
 * except every (2H + S)-th call on a thread (and a sized retire that brings the bytes retired
 * since the last scan to CASK_HP_SCAN_BYTES), which scans: bounded work, never waiting for
 * another thread. "Lock-free" here is about cask's own code: the first call of a thread on a
 * domain allocates (malloc may take a lock), a scan makes one membarrier() system call and runs
 * user reclaim functions. A stalled reader never stalls anyone else. The only call that waits is
 * domain_destroy, for threads that are in the middle of exiting (bounded work on their side).
 *
 * Reclamation rule: retire an object only after it is unreachable from every shared location
 * that protect reads (unlinked); it is then reclaimed, by calling its reclaim function exactly
 * once, on whichever thread scans, after no hazard slot has held it continuously since before
 * the retire. Objects retired by a thread are reclaimed by that thread's later scans, or by the
 * next scanner after the thread exits (its leftovers are handed to the domain, never leaked).
 * The main thread returning from main() (or any thread ended by exit()) runs no thread-exit
 * handlers: what it retired stays pending; call cask_hp_drain before exit if that matters.
 * A protection is valid only in the slot where it was validated: to move one to another slot,
 * protect (validate) again from the source; cask_hp_set alone does not protect.
 *
 * Garbage bound: let N be the number of thread records the domain has (one per thread that uses
 * it at the same time, plus one per 8 slots a thread holds beyond its first 8; records are reused
 * after threads exit) and H = 8 * N the number of hazard slots. At any moment at most
 * (N + 1) * (2H + S) + E * H objects are retired but not reclaimed, where E counts threads
 * that exited since the last scan (each hands over at most H objects, those a slot protected); this
 * holds even if a thread holding hazard pointers stalls forever (it pins at most one object per
 * slot it holds). It assumes each reclaim function retires at most one object: one that retires
 * k adds up to (k - 1) objects per object it reclaims (a scan's list, or what an exiting thread
 * hands over, grows by those before the next scan). cask_hp_garbage_bound() returns the first term for the current N.
 * S is the scan slack, CASK_HP_SCAN_SLACK: 2048 by default (it amortises the scan's membarrier()
 * call), 16 in the stress build; -DCASK_HP_SCAN_SLACK=N when compiling lib/hp.c and
 * lib/hp_scan.c changes it.
 * Reclamation costs amortised O(1) per retire: a scan does O(H + R) work for R >= 2H + S
 * retired objects, plus one membarrier() system call.
 * Big objects: a thread also scans when the objects it retired with cask_hp_retire_sized since its
 * last scan reach B = CASK_HP_SCAN_BYTES bytes (64 KiB by default, 4 KiB in the stress build).
 * That scan's cost is amortised over the B bytes, not over objects (O(H) per B bytes). It keeps
 * a thread's own list to about B + H * the largest object bytes at a retire; not covered by that:
 * objects handed to the domain (threads without a record, exits, destroy), which are scanned by
 * count only, and sized objects retired by reclaim functions during a scan, which wait for the
 * thread's next retire.
 *
 * Fences: publishing a hazard is a store and a compiler barrier; the scanner pays for both sides
 * with membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED). If membarrier is unavailable (not Linux,
 * an old kernel, seccomp, or -DCASK_HP_FORCE_FENCE=1) both sides use a full seq_cst fence.
 * cask_hp_uses_membarrier() says which mode is in force.
 */
#ifndef CASK_HP_H
#define CASK_HP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "cask/internal/noise.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A reclamation domain: a set of hazard slots and the objects retired against them. */
typedef struct cask_hp_domain cask_hp_domain;

/* A hazard slot: announces at most one protected pointer for its owning thread. */
typedef struct cask_hp_slot cask_hp_slot;

/* Called exactly once per retired object, with the object pointer given to cask_hp_retire. */
typedef void (*cask_hp_reclaim_fn)(void *object);

/*
 * The bookkeeping cask_hp_retire needs, embedded in the object you retire (so retiring never
 * allocates and never fails). Its contents are private; it needs no initialisation.
 */
typedef struct cask_hp_retired {
    struct cask_hp_retired *next;
    void *object;
    cask_hp_reclaim_fn reclaim;
} cask_hp_retired;

/*
 * cask_hp_default_domain - the process-wide domain that cask's structures use unless told
 * otherwise. Statically allocated; never destroyed.
 * Context: any thread, at any time. Progress: wait-free.
 * Ordering: none needed (the domain needs no initialisation). Memory: lives as long as the
 * process; do not pass it to cask_hp_domain_destroy (aborts). Errors: none.
 */
cask_hp_domain *cask_hp_default_domain(void);

/*
 * cask_hp_domain_create - a private domain, for a structure or subsystem whose garbage should be
 * scanned and bounded separately from everyone else's.
 * Returns 0 and sets *out, CASK_EINVAL if out is NULL, CASK_ENOMEM if allocation failed (*out
 * is then untouched).
 * Context: any thread, concurrently with any call. Progress: blocking only inside malloc (and,
 * on the process's first use of hazard pointers, the one-time membarrier registration).
 * Ordering: hand the new domain to other threads with a release store (or before creating
 * them); calls on it need nothing more. Memory: the caller owns it; free it with
 * cask_hp_domain_destroy.
 */
int cask_hp_domain_create(cask_hp_domain **out);

/*
 * cask_hp_domain_destroy - reclaim every object retired against the domain and free it.
 * Context: every other call on this domain must happen before this one (joined threads, or a
 * release/acquire hand-off), none may run concurrently or afterwards, and every slot must have
 * been released (checked, always: a held slot or a slot still announcing a pointer aborts with
 * a report before anything is reclaimed). Threads that used the domain may still be alive, may
 * be exiting at this very moment, and may use other domains meanwhile; their per-thread state
 * for this one is freed when they next look it up or exit. (A thread's exit runs reclaim
 * functions of every domain it used: if any of them retires into this domain, that retire is
 * a call on it too, so join such a thread first.) The default domain cannot be
 * destroyed (aborts). Progress: blocking only while a thread that used the domain is in the
 * middle of exiting (it finishes a bounded scan); otherwise bounded by the pending objects.
 * Ordering: everything the retiring threads did before retire happens before the reclaim
 * functions run (destroy acquires each list and the orphan stack).
 * Memory: calls the reclaim function of every pending object on the calling thread; reclaim
 * functions may retire more objects onto this domain, and those are reclaimed before it returns.
 * The domain pointer is invalid afterwards. Errors: none reportable; misuse aborts as said.
 */
void cask_hp_domain_destroy(cask_hp_domain *domain);

/*
 * cask_hp_slot_acquire - take a hazard slot for the calling thread.
 * Returns 0 and sets *out; CASK_EINVAL if an argument is NULL; CASK_ENOMEM if the thread's
 * first use of this domain (or its ninth simultaneously held slot) needed memory that could
 * not be had, or if called during the thread's exit (from a reclaim function) on a domain other
 * than the default one (*out untouched).
 * Context: any thread; the slot belongs to this thread: protect, set, reset and release it from
 * this thread only (release checks it in checked builds; the inline fast paths do not check).
 * Progress: wait-free when the thread already has a record with a free slot; otherwise it
 * claims or allocates one (lock-free list push; malloc may block).
 * Ordering: none on success or failure (the slot announces nothing until protect or set).
 * Memory: give it back with cask_hp_slot_release before the thread exits (checked: a thread that
 * exits holding a slot aborts with a report in checked builds). The slot stays valid until
 * released or the domain is destroyed.
 */
int cask_hp_slot_acquire(cask_hp_domain *domain, cask_hp_slot **out);

/*
 * cask_hp_slot_release - reset the slot and give it back.
 * Context: the owning thread (checked in checked builds), concurrently with any call on the
 * domain except destroy. Progress: wait-free.
 * Ordering: release, like cask_hp_reset: this thread's accesses to the object it protected
 * happen before that object's reclaim.
 * Memory: the slot must not be used afterwards; the thread may acquire it again.
 * Errors: none reportable; releasing a slot twice, or NULL, aborts with a report.
 */
void cask_hp_slot_release(cask_hp_slot *slot);

/*
 * cask_hp_thread_slot - the calling thread's own slot of the default domain: the same slot on
 * every call, acquired on the first one and given back when the thread exits, for structures
 * whose calls protect one pointer at a time (the unbounded queue; vector push announces its
 * vector there while in flight, for cask_vec_freeze to wait on), so that a call pays neither
 * cask_hp_slot_acquire nor cask_hp_slot_release.
 * Returns 0 and sets *out; CASK_ENOMEM as cask_hp_slot_acquire on the thread's first call
 * (*out untouched).
 * Context: the calling thread only, like any slot. The slot is shared by every call on the
 * thread that uses it, so such a call must not hold a protection in it across anything that
 * may run another such call on the same thread: reset it (cask_hp_reset) before cask_hp_retire
 * (which may run reclaim functions) and before returning. Not for signal handlers. Never release
 * it (checked: cask_hp_slot_release aborts with a report). Progress: wait-free after the first
 * call (one thread-local load). Ordering: none. Memory: valid until the thread exits.
 */
int cask_hp_thread_slot(cask_hp_slot **out);

/*
 * cask_hp_uses_membarrier - true if hazard publication uses the asymmetric (membarrier) fence,
 * false if both sides use full fences. Decided once per process, on first use of any domain.
 * Context: any thread. Progress: wait-free after the first call (which registers with the
 * kernel once). Ordering, memory: none. Errors: none.
 */
bool cask_hp_uses_membarrier(void);

/*
 * cask_hp_retire - hand over an object that has been unlinked, to be reclaimed once no hazard
 * slot protects it.
 * `node` is storage inside (or beside) the object, untouched by you until reclaim runs; `object`
 * is the pointer that readers protect; `reclaim` is called with `object` exactly once, on some
 * thread that scans this domain (possibly this one, possibly inside this call).
 * Context: any thread, concurrently with everything but domain_destroy. The object must already
 * be unreachable from every atomic source that protect reads: a reader that protects it after
 * this call would never validate. Retiring an object twice is undefined (it would be freed twice).
 * Progress: constant time, except that every (2H + S)-th retire on a thread scans (see the
 * bound and the progress note above). Never fails. Allocates only on the thread's first use of
 * the domain (and to grow the scan's hash set); a thread whose per-thread state cannot be
 * allocated hands the object straight to the domain, which scans those too.
 * Ordering: everything this thread did before retire happens before `reclaim` runs.
 * Memory: reclaim may itself call cask_hp_retire (it is queued, not recursed into), and may use
 * the queues: their calls made inside a reclaim function never wait (no contention backoff nor
 * empty-poll pause, cask/queue.h), since the thread running it may be inside another call. This
 * holds also while a thread exits: the default domain (whose thread slot the queues and vectors
 * use) is handed back after every other, so a reclaim function run by an exit scan may push to
 * and pop from a queue, push to a vector, and acquire slots of the default domain (releasing
 * them before it returns). At exit, cask_hp_slot_acquire on any other domain says CASK_ENOMEM
 * (another thread may be destroying it), and retires to another domain are taken, onto the
 * thread's record or, once the thread has handed that domain back, straight to the domain.
 * Errors: none reportable; NULL arguments abort with a report.
 */
void cask_hp_retire(cask_hp_domain *domain, cask_hp_retired *node, void *object,
                    cask_hp_reclaim_fn reclaim);

/*
 * cask_hp_retire_sized - cask_hp_retire for an object of `bytes` bytes: the same contract, and
 * the thread scans as soon as the bytes it retired this way since its last scan reach
 * CASK_HP_SCAN_BYTES (besides the count threshold 2H + S). Use it for big objects, whose memory
 * should go back to the allocator after a few of them rather than after thousands; bytes = 0 is
 * exactly cask_hp_retire.
 * Context, progress, ordering, memory, errors: as cask_hp_retire (a scan now comes every
 * CASK_HP_SCAN_BYTES bytes at the latest, so the scan's cost is amortised over those bytes).
 */
void cask_hp_retire_sized(cask_hp_domain *domain, cask_hp_retired *node, void *object,
                          cask_hp_reclaim_fn reclaim, size_t bytes);

/*
 * cask_hp_drain - scan now: reclaim every object retired by the calling thread or by threads
 * that have exited, and that no slot protects. Use it at shutdown (after joining the other
 * threads it reclaims everything still unprotected) and in tests.
 * Returns how many objects were reclaimed.
 * Context: any thread; bounded work (no waiting). Objects retired by other live threads stay
 * with them until their next scan or their exit. Called from inside a reclaim function it does
 * nothing and returns 0 (the scan that runs the reclaim function continues instead).
 * Ordering: as a scan: reclaim functions run after everything the retiring threads did.
 * Memory: reclaim functions run on the calling thread, inside this call. Errors: none; a NULL
 * domain aborts with a report.
 */
size_t cask_hp_drain(cask_hp_domain *domain);

/*
 * cask_hp_pending - how many objects are retired but not yet reclaimed in the domain.
 * Exact when no call runs concurrently; otherwise a snapshot that may be slightly stale.
 * Context: any thread, concurrently with any call but destroy. Progress: wait-free (one relaxed
 * counter per thread record). Ordering: none (relaxed reads; for statistics and tests).
 * Memory, errors: none.
 */
size_t cask_hp_pending(cask_hp_domain *domain);

/*
 * cask_hp_garbage_bound - the bound on cask_hp_pending that the header comment promises for the
 * domain's current number of thread records, (N + 1) * (2H + S), not counting objects handed
 * over by threads that exited since the last scan.
 * Context: any thread, concurrently with any call but destroy. Progress: wait-free.
 * Ordering: none (relaxed read of the record count). Memory, errors: none.
 */
size_t cask_hp_garbage_bound(cask_hp_domain *domain);

/* ---- Inline fast path. The struct layout below is private; use only the functions. ---- */

struct cask__hp_record;

struct cask_hp_slot {
    _Atomic(void *) hazard;         /* the announced pointer; read by scanners */
    struct cask__hp_record *record; /* owning thread record */
    bool full_fence;                /* true when membarrier is unavailable */
};

/*
 * cask__hp_publish - announce p in the slot so that a scanner that has not yet started its scan
 * will see it. Private; use protect, set or reset.
 */
static inline void cask__hp_publish(cask_hp_slot *slot, void *p)
{
    /* Whatever this thread did with the object it protected before (under the previous value)
     * happens before a reclaim by a scanner that read this newer value. */
    atomic_store_explicit(&slot->hazard, p, memory_order_release); /* release: scan's acquire */
    if (slot->full_fence)
        atomic_thread_fence(memory_order_seq_cst); /* pairs with the scanner's seq_cst fence */
    else
        atomic_signal_fence(memory_order_seq_cst); /* compiler only: the scanner's membarrier()
                                                     * runs the full fence on this CPU for us */
}

/*
 * cask_hp_protect - load a pointer from *src and protect it: on return the object it points to
 * (if not NULL) will not be reclaimed until the slot is reset, set to something else, or released.
 * Returns the protected pointer (NULL if *src was NULL).
 * Context: the slot's owning thread. Progress: lock-free (loops only while *src keeps changing).
 * Ordering: the final load of *src is acquire, pairing with the release store (or release CAS)
 * that published the pointer, so the object's contents are visible. Publishing is release.
 * Memory: *src must hold only pointers to objects that are retired through this slot's domain
 * after being unlinked from *src. Errors: none (it cannot fail).
 */
static inline void *cask_hp_protect(cask_hp_slot *slot, _Atomic(void *) *src)
{
    void *p = atomic_load_explicit(src, memory_order_relaxed);
    for (;;) {
        CASK__NOISE("hp.protect.loaded"); /* p may be unlinked and retired right now */
        cask__hp_publish(slot, p);
        CASK__NOISE("hp.protect.published");
        /* The object's contents, published with the pointer. */
        void *q = atomic_load_explicit(src, memory_order_acquire); /* the store that put q */
        if (q == p)
            return p;
        p = q;
    }
}

/*
 * cask_hp_try_protect - one attempt of protect: announce *ptr, then check that *src still holds
 * it. Returns true if it does (the object is protected, as after protect); otherwise stores the
 * new value of *src in *ptr, leaves the slot announcing the old one, and returns false.
 * Context, ordering, memory: as cask_hp_protect. Progress: wait-free. Errors: none; false is
 * not an error, only "try again with the new *ptr".
 */
static inline bool cask_hp_try_protect(cask_hp_slot *slot, void **ptr, _Atomic(void *) *src)
{
    cask__hp_publish(slot, *ptr);
    CASK__NOISE("hp.try_protect.published");
    void *q = atomic_load_explicit(src, memory_order_acquire); /* the store that put q */
    if (q == *ptr)
        return true;
    *ptr = q;
    return false;
}

/*
 * cask_hp_set - announce p without validating it. The object is protected only once the caller
 * has re-checked, after this call, that p is still reachable (for example by an acquire load of
 * the link it came from): that check, not this call, is what makes the protection valid.
 * Context: the slot's owning thread; wait-free. Ordering: release publication, then the
 * publication fence (a compiler barrier when membarrier is in use, a seq_cst fence otherwise).
 * Memory: as cask_hp_protect, once validated. Errors: none.
 */
static inline void cask_hp_set(cask_hp_slot *slot, void *p)
{
    cask__hp_publish(slot, p);
}

/*
 * cask_hp_reset - stop protecting: the object announced so far may be reclaimed after this.
 * Context: the slot's owning thread; wait-free.
 * Ordering: release; pairs with the scanner's acquire load, so every access this thread made to
 * the protected object happens before its reclaim.
 * Memory: the object may be reclaimed at any time after this; do not touch it. Errors: none.
 */
static inline void cask_hp_reset(cask_hp_slot *slot)
{
    atomic_store_explicit(&slot->hazard, NULL, memory_order_release); /* scan's acquire load */
}

#ifdef __cplusplus
}
#endif

#endif /* CASK_HP_H */
