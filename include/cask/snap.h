/*
 * cask/snap.h: RCU-protected immutable snapshots (a configuration, a routing table, a world state).
 *
 * A snapshot cell holds one pointer to an immutable object. Readers enter a read section, read
 * the pointer and use the object with no lock and, while no grace period waits for them, no
 * write to memory any other thread writes (liburcu stores to the reader's own nesting word; the
 * end of a section that a grace period waits for also wakes the waiting writer: a store to
 * liburcu's futex word and a FUTEX_WAKE system call). Writers replace the object with
 * a new version, either blindly (publish) or as a function of the current one (update, a
 * read-copy-update loop that lets several writers work at once without a lock). A replaced
 * version is freed, by the cell's free function, only after every read section that could have
 * seen it has ended: liburcu's call_rcu (McKenney & Walpole, "What is RCU, Fundamentally?",
 * LWN 2007; Desnoyers et al., "User-Level Implementations of Read-Copy Update", IEEE TPDS 2012).
 *
 * Concurrency table ("yes": the two calls may run at the same time from different threads on the
 * same cell; read_begin/read/read_end of one section all run on the one thread that began it):
 *
 *                      read_begin/read/end  publish  update  barrier  destroy
 *   read_begin/read/end        yes            yes      yes     yes      no (*)
 *   publish                    yes            yes      yes     yes      no
 *   update                     yes            yes      yes     yes      no
 *   barrier                    yes            yes      yes     yes      yes
 *   destroy                    no (*)         no       no      yes      no
 *   (*) a section that began before destroy may go on using what it read; see destroy.
 *
 * Progress: read_begin, read and read_end are wait-free (bounded, no loop; read_end makes one
 * futex wake-up system call when a grace period is waiting for this reader) once the thread is
 * registered; the first read_begin of a thread registers it with liburcu (takes a
 * liburcu mutex, allocates nothing of cask's). publish is wait-free apart from malloc; update
 * is lock-free (it retries only when another writer's publication won). barrier blocks until
 * no free is pending. Frees run on liburcu's call_rcu thread.
 *
 * Reclamation rule: every object given to a cell (initial, published, or made by an update
 * function) is owned by the cell from the moment the call succeeds, must not be written by
 * anyone afterwards (it is immutable: readers read it without synchronisation), and is freed
 * exactly once by the cell's free function: after a grace period when replaced or when the cell
 * is destroyed, at once (on the writer's thread) when it was an update candidate that lost.
 * An object pointer may be given to a cell only once (giving it twice frees it twice).
 *
 * Registration: none for users with the default flavour (liburcu's memb flavour): a thread is
 * registered with liburcu on its first read_begin (or first write) and unregistered when it
 * exits. Exiting inside a read section aborts with a report. The main thread, returning from
 * main(), stays registered, which is harmless.
 *
 * QSBR (opt-in, for event-loop servers): cells made with cask_snap_create_qsbr (or with the
 * CASK_SNAP_QSBR flag of cask_snap_create_with) use liburcu's
 * QSBR flavour, whose read sections cost nothing: a reader announces a quiescent state (no
 * snapshot held) by calling cask_snap_quiescent once per loop turn, and goes offline around
 * blocking waits. Threads that read QSBR cells must register (cask_snap_qsbr_register), since a
 * registered thread that never reaches a quiescent state stalls every QSBR free in the process.
 *
 * Frozen snapshots (opt-in, CASK_SNAP_FROZEN): the cell freezes every object it is given
 * (cask/frozen.h) before publishing it, so the immutability rule is enforced: in checked builds
 * a write to a published object traps at once with the frozen-memory report naming the object;
 * in unchecked builds the checksum catches it when the object is freed.
 *
 * _LGPL_SOURCE (opt-in, liburcu's own switch): cask never defines it. A program that defines it
 * (before every include, for its own code and for lib/ alike) declares itself LGPL-compatible
 * with liburcu, and then this header inlines liburcu's memb read-side fast path into
 * cask_snap_read_begin / cask_snap_read_end instead of calling into the shared library: a read
 * section + read + end drops from about 14 ns to about 3 ns (QSBR sections cost about 1.6 ns
 * either way; bench/snap_bench.c). The inlined code bakes in liburcu's private reader layout:
 * such a program must be rebuilt whenever liburcu's major version (its soname) changes. Under
 * ThreadSanitizer the switch is ignored (the inlined liburcu accesses would be instrumented and
 * reported; out of line they stay invisible like the rest of the uninstrumented library).
 *
 * Checked builds (see README.md) also abort on a read outside a section. Always checked: ending
 * a section that was not begun, a NULL cell, reading a QSBR cell from an unregistered thread,
 * a quiescent state or barrier inside a section.
 */
#ifndef CASK_SNAP_H
#define CASK_SNAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "cask/internal/noise.h"

/* ThreadSanitizer build (gcc defines the first, clang answers the second). Private. */
#if defined(__SANITIZE_THREAD__)
#define CASK__SNAP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CASK__SNAP_TSAN 1
#endif
#endif

/* The program opted in to liburcu's inline read side (see the header comment). Private. */
#if defined(_LGPL_SOURCE) && !defined(CASK__SNAP_TSAN)
#define CASK__SNAP_INLINE_MEMB 1
#include <urcu/urcu-memb.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* A snapshot cell. Opaque. */
typedef struct cask_snap cask_snap;

/* Frees one object that the cell owned (see the reclamation rule). Called exactly once per
 * object, on the call_rcu thread or on an updating writer's thread; never with NULL. */
typedef void (*cask_snap_free_fn)(void *object);

/*
 * Computes the next version from `current` (read-only; may be NULL if NULL was published) and
 * `arg`. Returns 0 and sets *next to a new object (never `current` itself), or a negative
 * CASK_E* code to give up (update then returns it and changes nothing; fn keeps nothing).
 * It may run more than once in one update, each time on the latest version; every *next that
 * loses is freed at once with the cell's free function, never published. It runs inside a read
 * section and must not call cask_snap_barrier, cask_snap_quiescent or destroy.
 */
typedef int (*cask_snap_update_fn)(const void *current, void *arg, void **next);

/*
 * cask_snap_create - a cell holding `initial` (may be NULL), with the memb flavour (readers need
 * no registration). `free_fn` frees every object the cell will own.
 * Returns 0 and sets *out; CASK_EINVAL if out or free_fn is NULL; CASK_ENOMEM if allocation
 * failed (*out untouched, initial still the caller's).
 * Context: any thread. Progress: blocking only inside malloc.
 * Ordering: hand the cell to other threads with a release store or before creating them; the
 * initial object's contents are published with the cell. Memory: the cell owns `initial` on
 * success; free the cell with cask_snap_destroy.
 */
int cask_snap_create(const void *initial, cask_snap_free_fn free_fn, cask_snap **out);

/* Flags of cask_snap_create_with (or them together). */
enum {
    /* Freeze every object the cell is given (initial, published, made by an update function)
     * before it becomes visible to readers; the objects must come from cask_frozen_alloc. */
    CASK_SNAP_FROZEN = 1u << 0,
    /* liburcu's QSBR flavour instead of memb (see cask_snap_create_qsbr). */
    CASK_SNAP_QSBR = 1u << 1,
};

/*
 * cask_snap_create_with - as cask_snap_create, with options. `flags` is 0 or an or of:
 *   CASK_SNAP_FROZEN  every object given to the cell (`initial` here, then each published
 *                     object and each update result) must be a region from cask_frozen_alloc;
 *                     the cell freezes it (cask_frozen_freeze) before the release that makes it
 *                     visible (one already frozen is accepted as it is). From then on a write to
 *                     it traps with the frozen-memory report in checked builds, or aborts with
 *                     "modified after freeze" when it is freed in unchecked builds. `free_fn`
 *                     may be NULL: retired objects then go to cask_frozen_free. A free_fn of
 *                     your own receives frozen regions (free them with cask_frozen_free).
 *   CASK_SNAP_QSBR    liburcu's QSBR flavour, as cask_snap_create_qsbr.
 * Returns 0 and sets *out; CASK_EINVAL if out is NULL, flags has an unknown bit, free_fn is
 * NULL without CASK_SNAP_FROZEN, or (FROZEN) initial is not from cask_frozen_alloc; CASK_ENOMEM
 * if allocation, or the kernel's write protection of initial, failed. On failure *out is
 * untouched and initial is still the caller's, as it was (not frozen).
 * Context, progress: as cask_snap_create (FROZEN: plus one mprotect, or a checksum pass over
 * the object in unchecked builds, per object given). Ordering, memory: as cask_snap_create;
 * FROZEN objects occupy whole pages (cask_frozen_alloc).
 */
int cask_snap_create_with(const void *initial, cask_snap_free_fn free_fn, unsigned flags,
                          cask_snap **out);

/*
 * cask_snap_create_qsbr - as cask_snap_create, with liburcu's QSBR flavour: read sections cost
 * nothing, and every thread that reads this cell must be registered with
 * cask_snap_qsbr_register and call cask_snap_quiescent regularly (see the header comment).
 * Returns, context, progress, ordering, memory: as cask_snap_create.
 */
int cask_snap_create_qsbr(const void *initial, cask_snap_free_fn free_fn, cask_snap **out);

/*
 * cask_snap_destroy - stop using the cell: its current object and the cell itself are freed
 * after a grace period (versions replaced earlier are freed as already scheduled).
 * Context: any thread; no call on this cell may run concurrently or begin afterwards, but read
 * sections that already read the cell may go on using the object until they end.
 * Progress: wait-free apart from the first-use registration. Ordering: everything this thread
 * did before happens before the free. Memory: the cell pointer is invalid afterwards; use
 * cask_snap_barrier to wait for the free. Errors: none; NULL aborts with a report.
 */
void cask_snap_destroy(cask_snap *cell);

/*
 * cask_snap_read_begin - enter a read section on this thread for `cell`'s flavour. Sections
 * nest (up to 2^16 deep with memb, unbounded with QSBR); only the outermost one costs anything.
 * Context: any thread (QSBR cells: a thread registered with cask_snap_qsbr_register and online;
 * checked always). Must be paired with cask_snap_read_end on the same thread, same cell
 * flavour. Progress: wait-free; the thread's first call registers it with liburcu (a mutex
 * that grace periods also take). Ordering: none by itself (a compiler barrier; the grace
 * period's membarrier() supplies the fence). Memory: none. Errors: none; misuse aborts.
 */
static inline void cask_snap_read_begin(cask_snap *cell);

/*
 * cask_snap_read - the cell's current object. The pointer stays valid (the object is neither
 * freed nor changed) until the outermost read section of this thread ends.
 * Context: inside a read section of this thread (checked when the calling code is a checked
 * build: CASK_CHECKED, or no NDEBUG, as in README.md; the inline fast path below then calls the
 * checking version in lib/snap.c). Progress: wait-free, one load. Ordering: acquire, pairing
 * with the release of the publish or update that stored it (and of create), so the object's
 * contents are visible. Memory: the object belongs to the cell; never write or free it.
 * Errors: none.
 */
static inline const void *cask_snap_read(cask_snap *cell);

/*
 * cask_snap_read_end - leave the read section begun last on this thread; after the outermost
 * one ends, no pointer read in it may be used.
 * Context: the thread that began the section. Progress: wait-free. Ordering: memb: release (for
 * the grace period): every access made in the section happens before the free of any object
 * read in it; QSBR: bookkeeping only, the next quiescent state is that release.
 * Errors: none; ending a section that was not begun aborts with a report (always).
 */
static inline void cask_snap_read_end(cask_snap *cell);

/*
 * cask_snap_publish - make `object` the cell's current version; the previous one is freed after
 * a grace period.
 * Returns 0; CASK_ENOMEM if the retirement record could not be allocated; on a FROZEN cell,
 * CASK_EINVAL if object is not from cask_frozen_alloc, CASK_ENOMEM if the kernel refused to
 * write-protect it. On failure nothing changed: the cell still holds the old version and the
 * caller still owns `object`, as it was (not frozen by this call).
 * Context: any thread, also inside a read section, concurrently with readers and other writers.
 * Progress: wait-free apart from malloc and the thread's first-use registration.
 * Ordering: on success acq_rel: release publishes the object's contents to readers (pairs with
 * cask_snap_read's acquire); acquire takes over the previous version from its publisher. On
 * failure: none. Memory: on success the cell owns `object` (see the reclamation rule).
 */
int cask_snap_publish(cask_snap *cell, const void *object);

/*
 * cask_snap_update - read-copy-update: in a read section, call fn(current, arg, &next) and
 * install next only if the cell still holds current; otherwise free next at once (it was never
 * published) and retry with the newer version. Several writers may update at once: none of
 * their updates is lost, and each is applied to the version it was computed from.
 * Returns 0 once fn's result was installed; CASK_ENOMEM before calling fn if the retirement
 * record could not be allocated; fn's negative code if fn gave up (nothing changed); on a
 * FROZEN cell, CASK_EINVAL or CASK_ENOMEM if fn's result could not be frozen (as publish; the
 * result is freed at once like a losing candidate, and nothing changed).
 * Context: any thread (QSBR cells: registered and online), also inside a read section.
 * Progress: lock-free: fn runs again only when another writer's publication won meanwhile.
 * Ordering: on success acq_rel, as publish; fn sees current's contents (acquire). On failure:
 * none. Memory: fn may run more than once; losing candidates are freed at once with the cell's
 * free function on this thread, never published.
 */
int cask_snap_update(cask_snap *cell, cask_snap_update_fn fn, void *arg);

/*
 * cask_snap_barrier - wait until no free scheduled by any cell (both flavours) is pending, so
 * every version replaced or destroyed before the call has been freed: for shutdown and tests.
 * Context: any thread, outside every read section (checked always; a QSBR-registered thread is
 * taken offline for the wait). Call it when writers have stopped: it waits for zero pending
 * frees, so writers that never pause could keep it waiting. Progress: blocking (grace periods,
 * the call_rcu thread; it polls with a sleep growing to 1 ms).
 * Ordering: every free it waited for happens before the return. Memory, errors: none.
 */
void cask_snap_barrier(void);

/*
 * cask_snap_qsbr_register - opt the calling thread in to reading QSBR cells; it is online from
 * now on. Unregistered at thread exit, or with cask_snap_qsbr_unregister. Registering twice
 * is harmless. Context: any thread, outside a QSBR section. Progress: blocking (liburcu's
 * registry mutex). Ordering, memory, errors: none.
 */
void cask_snap_qsbr_register(void);

/*
 * cask_snap_qsbr_unregister - the calling thread stops reading QSBR cells (no longer holds up
 * their grace periods). Context: a registered thread, outside a QSBR section (checked always).
 * Progress: blocking (registry mutex). Ordering: as a quiescent state. Errors: none.
 */
void cask_snap_qsbr_unregister(void);

/*
 * cask_snap_quiescent - announce that this thread holds no pointer read from a QSBR cell: call
 * it once per event-loop turn. Context: a registered, online thread, outside every QSBR section
 * (checked always). Progress: wait-free (wakes a waiting grace period if there is one).
 * Ordering: release: this thread's earlier accesses to QSBR objects happen before their frees.
 * Errors: none.
 */
void cask_snap_quiescent(void);

/*
 * cask_snap_qsbr_offline / cask_snap_qsbr_online - bracket a blocking wait (epoll_wait, a
 * condition variable) of a registered thread: while offline it holds up no grace period and
 * must not read QSBR cells. Context: a registered thread, outside every QSBR section (checked
 * always). Progress: wait-free. Ordering: offline is a quiescent state (release). Errors: none.
 */
void cask_snap_qsbr_offline(void);
void cask_snap_qsbr_online(void);

/* ---- Inline fast path. The layout below is private; use only the functions. ---- */

struct cask__snap_rcu_head { /* liburcu's struct rcu_head, without its header */
    void *next;
    void (*func)(void *head);
};

struct cask_snap {
    _Atomic(const void *) current;     /* the published version */
    cask_snap_free_fn free_fn;         /* immutable */
    bool qsbr;                         /* immutable: which liburcu flavour guards it */
    bool frozen;                       /* immutable: CASK_SNAP_FROZEN */
    struct cask__snap_rcu_head head;   /* destroy's deferred free of the cell */
};

/* One thread's liburcu state as cask sees it (lib/snap.c). Private. */
struct cask__snap_self {
    unsigned qsbr_nest;   /* open QSBR sections (memb nests in liburcu's own word) */
    bool memb_registered; /* registered with liburcu memb (on first use) */
    bool qsbr_registered; /* cask_snap_qsbr_register was called */
    bool qsbr_online;     /* registered and not offline */
    bool key_set;         /* the thread-exit handler is armed */
};
extern _Thread_local struct cask__snap_self cask__snap_me;

enum { CASK__SNAP_MISUSE_NULL, CASK__SNAP_MISUSE_OFFLINE, CASK__SNAP_MISUSE_UNBEGUN };
_Noreturn void cask__snap_misuse(const cask_snap *cell, int what);
void cask__snap_memb_begin(cask_snap *cell);
void cask__snap_memb_end(cask_snap *cell);

static inline void cask_snap_read_begin(cask_snap *cell)
{
    if (cell == NULL)
        cask__snap_misuse(cell, CASK__SNAP_MISUSE_NULL);
    if (!cell->qsbr) {
#ifdef CASK__SNAP_INLINE_MEMB
        if (__builtin_expect(cask__snap_me.memb_registered, 1)) {
            urcu_memb_read_lock(); /* liburcu's inline fast path: own nesting word + barrier */
            return;
        }
#endif
        cask__snap_memb_begin(cell); /* registers the thread on first use */
        return;
    }
    /* QSBR: the section is bookkeeping for the checks; protection lasts until the thread's
     * next quiescent state, which cask_snap_quiescent refuses inside a section. */
    if (!cask__snap_me.qsbr_online)
        cask__snap_misuse(cell, CASK__SNAP_MISUSE_OFFLINE);
    cask__snap_me.qsbr_nest++;
}

static inline void cask_snap_read_end(cask_snap *cell)
{
    if (cell == NULL)
        cask__snap_misuse(cell, CASK__SNAP_MISUSE_NULL);
    if (!cell->qsbr) {
#ifdef CASK__SNAP_INLINE_MEMB
        if (!urcu_memb_read_ongoing())
            cask__snap_misuse(cell, CASK__SNAP_MISUSE_UNBEGUN);
        urcu_memb_read_unlock(); /* no TSan edge needed: never inlined under TSan */
#else
        cask__snap_memb_end(cell);
#endif
        return;
    }
    if (cask__snap_me.qsbr_nest == 0)
        cask__snap_misuse(cell, CASK__SNAP_MISUSE_UNBEGUN);
    cask__snap_me.qsbr_nest--;
}

/* cask__snap_read_checked - cask_snap_read with the section check. Private. */
const void *cask__snap_read_checked(cask_snap *cell);

#if defined(CASK_CHECKED) ? CASK_CHECKED : !defined(NDEBUG)
static inline const void *cask_snap_read(cask_snap *cell)
{
    return cask__snap_read_checked(cell);
}
#else
static inline const void *cask_snap_read(cask_snap *cell)
{
    CASK__NOISE("snap.read.load");
    /* The object's contents, written before publication, are visible after this load. */
    return atomic_load_explicit(&cell->current, memory_order_acquire); /* pairs with release in cask__snap_install */
}
#endif

#ifdef __cplusplus
}
#endif

#endif /* CASK_SNAP_H */
