/*
 * vec.c: freezable vectors.
 *
 * Design
 * ------
 * Storage: one reservation of address space (PROT_NONE, MAP_NORESERVE) holding max_len elements,
 * followed by one "ready" byte per element; pages are committed (mprotect read-write) as pushes
 * reach them, growing the committed prefix geometrically. Storage never moves or shrinks while
 * the vector lives, so readers need no protection, and a frozen vector is a C array. (The
 * alternative, segments of doubling size, also never moves, but a frozen get would then cost a
 * segment lookup instead of an index, and the frozen elements would not be one array.)
 *
 * The length word `state` holds the length in its low bits and two flags: CLOSING (a freeze has
 * begun: mutations fail) and FROZEN (the freeze has completed: no mutation is in flight and none
 * will ever run). The sets and reserves in flight are counted in CASK__VEC_STRIPES stripes of
 * one cache line each (a thread always uses the same stripe, taken round robin at its first
 * mutation; "active == 0" below: every stripe reads 0). A push in flight announces the vector in
 * its thread's hazard slot (cask_hp_thread_slot, the slot the queues also use during their calls),
 * as v's mark: v's address plus 1, never a pointer anyone protects, so a hazard pointer held to
 * the vector itself never keeps a freeze waiting ("announced" below: some slot of the default
 * domain holds the mark).
 *
 *   push:   s = state (acquire); fail if CLOSING; slot = mark (release);
 *           loop { fail if CLOSING; commit the page of index len(s) (if a commit is due:
 *           exchange the mark into the slot and load state, both seq_cst, and fail if CLOSING);
 *           CAS state s -> s + 1 (seq_cst); on failure retry with the s it read };
 *           store the element (release);
 *           ready[i] = 1 (release); if i opens a 64 KiB chunk, prefault the chunk two ahead;
 *           slot = NULL (release; also on every failure after the announcement).
 *   set:    active += 1 (seq_cst); s = state (seq_cst); fail if CLOSING or i >= len(s); wait for
 *           ready[i]; store the element (release); active -= 1 (seq_cst; the last one out of
 *           a stripe wakes a sleeping freeze).
 *   reserve: active += 1 (seq_cst); s = state (seq_cst); fail if CLOSING; commit and prefault
 *           the first n elements' pages; active -= 1 (as set).
 *   freeze: s = fetch_or(state, CLOSING) (seq_cst); wait until active == 0 (seq_cst loads) and
 *           no slot holds the mark (seq_cst loads): a short spin, yields for up to 50 us, then
 *           sleeps on the `drained` eventcount (lib/internal/futex.h), at most 50 us doubling
 *           to 1 ms, since pushes do not wake it; protect or checksum; view.frozen_len =
 *           len(s); view.frozen = data (release); then state |= FROZEN (release): is_frozen and
 *           frozen_data both read view.frozen, so "frozen" always comes with its array. On a
 *           failed protection: state &= ~CLOSING (release), the error.
 *   get:    inline in vec.h: a = view.frozen (acquire); if a and i < frozen_len: copy a[i].
 *           Otherwise (cask__vec_get_slow): s = state (acquire); if FROZEN: plain load; else wait
 *           for ready[i] (acquire) and load the element (acquire).
 *   thaw:   refs == 1 (acquire): lift the protection, view.frozen = NULL, state = len
 *           (release); otherwise a new vector with a copy of the elements.
 *
 * Why a push either lands before the freeze or fails: its CAS and the freeze's fetch_or are
 * RMWs of one word. A CAS after the fetch_or compares against a word with CLOSING set and fails
 * (the retry sees CLOSING: CASK_EFROZEN); a CAS before it reserved an index below len(s), and
 * the freeze waits for it: the push announced v in its slot before its CAS (sequenced before);
 * the CAS is a release RMW of state and the freeze's fetch_or an acquire RMW later in the same
 * word's order (the writes between them are RMWs, so the release sequence holds; thaw's plain
 * store of state needs a completed freeze, which waited for this push, and the sole
 * reference), so the announcement happens before the freeze's loads of the slots, which
 * therefore read it or a later value of that slot. Every later value is a release store made
 * after the push's element and ready stores: by the same thread (its reset, or a later call's
 * protection or announcement), or by a thread that took over the slot's record after this
 * thread exited (the exit's release store of the record's state, then the new owner's acquire
 * claim, lib/hp.c). So a freeze that reads anything but the mark there has acquired the
 * element; while it reads the mark it waits. A push that saw CLOSING in its first load never
 * announces, so pushes that start after the freeze cannot keep it waiting; only those that
 * announced before seeing CLOSING can, once each.
 * Why a push never lifts a frozen page's protection: a push commits (mprotect read-write) from
 * where its load of `committed` said the committed pages end, and that load, like its load of
 * the length, may be stale by the time it runs; if a freeze write-protected pages meanwhile and
 * did not wait for this push (its CAS fails, so the CAS orders nothing), the mprotect would make
 * frozen pages writable again. So a push that is about to commit first exchanges its mark into
 * its slot and then loads state (seq_cst both; the freeze's fetch_or and its loads of the slots
 * are seq_cst too, and so are the freeze's load of the records list and the CAS that put this
 * thread's record on it, so the freeze's walk reaches the record): either it sees CLOSING and
 * commits nothing, or the freeze's loads come after its exchange in the total order and the
 * freeze waits for this push. This costs a locked
 * instruction only where a commit is due, which `committed` growing geometrically makes rare.
 * (Before this, the comment here argued that the pages such a push commits are all past the
 * frozen length; with stale loads that does not follow.)
 * Why a set or reserve lands before the freeze or fails (Dekker through seq_cst): it does (A) its
 * stripe += 1 then (B) reads state; a freeze does (C) the fetch_or on state then (D) reads every
 * stripe. All are seq_cst, so in the single total order either B comes before C, and then A comes
 * before the freeze's read of that stripe, so the freeze waits for this mutation, or C comes before
 * B, and the mutation sees CLOSING and fails. A stripe that the freeze saw at 0 may go up again
 * only for a mutation that comes after C, which fails. A reserve is a mutation in this sense (A,
 * then its seq_cst load of state, as set): one that began before C finishes its commits and
 * prefaults before the freeze protects or checksums the elements, so the two never touch the same
 * pages at once; one after C fails. Prefaulting changes no element (the kernel backs pages with
 * zeroes that nobody has written yet; its reads are atomic loads that keep nothing), so it cannot
 * make a frozen vector differ from what the freeze saw.
 * Why stripes: with one counter, a push did three read-modify-writes on one contended cache
 * line (count up, reserve, count down); with stripes the count is a thread's own line and the
 * reservation CAS is the only contended one, the floor for a vector whose elements are one
 * array (the index must come from one word). The cost moves to freeze, which reads
 * CASK__VEC_STRIPES lines: still O(1) in the length. Pushes then counted completions in the
 * stripes instead of entering and leaving like set (the CAS on state already orders a push with
 * the freeze, so only "done" needed counting): two atomic RMWs per push, the CAS and the count.
 * An uncontended locked instruction costs 7-9 ns on the Intel Xeon of the later benchmark runs,
 * a whole push about 23 ns before that change; measured in `./cask bench vec`.
 * Why a push announces in its hazard slot instead of counting: the count was a locked
 * instruction on every push, there only so that a freeze could tell when the pushes it must
 * wait for were done; the announcement and its reset are two plain stores to the thread's own
 * line, and the same CAS orders them with the freeze (above). The freeze pays instead: it reads
 * every slot of the default domain (8 per thread record: O(threads), still O(1) in the length),
 * and it polls, since a push can no longer wake it without a store-load fence on its side.
 * Measured on an Intel Xeon (model 167; pushes into reserved room, interleaved runs of both
 * builds): 1 thread 31.7-32.1 -> 25.6-28.9 ns per push, 2 threads 65-74 -> 57-62 ns.
 * Why push backs off and prefaults (measured with two threads pushing, on a 2-core KVM guest
 * whose hypervisor fills its page tables lazily): without either, two pushers were 0.4-0.8x as
 * fast as a pthread mutex around a realloc array. Every push moved the line of `state`, and of
 * the element and ready bytes, between the cores, while glibc's mutex lets one thread take the
 * lock many times in a row; and both pushers reached each fresh page together and both
 * faulted on it (twice the mutex array's page faults, each fault about 15 us there).
 * Exponential backoff after a lost CAS (64 pauses, doubling to 4096) let the winner run a
 * burst. Prefaulting two 64 KiB chunks ahead, by the one push that opens a chunk, halves the
 * faults and takes them off the path of the other pushers. Together: 2.0-3.5x the mutex array
 * in runs at real-time priority, 1.93x in a quiet run at normal priority.
 * After that, the queues' contention backoff (lib/internal/backoff.h), noting the reserved
 * index with a 2 us window: a push that finds another thread's push since its own previous one,
 * back to back, waits 10 us once it is done (after it reset its slot, so a freeze
 * never waits for it) and the other pusher runs a burst. Measured (`./cask bench vec`, 2 threads,
 * three runs each): push with growth 98-107 -> 70-75 ns, push into reserved room 203-224 ->
 * 101-134 ns; 1 thread unchanged. The mutex array's figure in the same runs moved between 137
 * and 500 ns from run to run, so its ratio did too (1.8-2.7x with growth).
 * Then the pause backoff went: with the contention backoff taking turns, it only made a loser of
 * the CAS idle, and for a time that depends on the processor: a pause instruction takes about 1
 * ns on some x86 cores and 17-24 ns on the Intel Xeon of a later run (measured there; 4096 of
 * them are 70-100 us). There, 2 threads pushing into reserved room took 93-104 ns per push with
 * it, 60-72 ns without (8 threads: 421 -> 272 ns); 1-pause or 8-to-512-pause variants were no
 * better than none. `./cask bench vec`, interleaved runs of both builds: with growth, 2 threads
 * 109-117 -> 62-81 ns, 8 threads 462-498 -> 248-300 ns; into reserved room 102-103 -> 58-78 ns
 * and 393-423 -> 239-307 ns; 1 thread unchanged. A push now retries at once from the length its
 * failed CAS read: lock-free as before (it failed because another push succeeded). Reserving
 * with fetch_add instead of the CAS was not taken: a fetch_add after the freeze's fetch_or
 * would move the length past the frozen one and past max_len, and undoing that needs the same
 * contended line again. cask_vec_reserve does all the committing and faulting up front.
 * Why the freeze cannot sleep through the last set or reserve: the decrement to 0 is a seq_cst
 * RMW, then the mutation loads the eventcount's waiters (seq_cst); the freeze increments waiters
 * (seq_cst), then re-reads every stripe (seq_cst) before it sleeps: the eventcount's Dekker pair
 * (lib/internal/futex.h). A push's reset wakes nobody: the freeze yields for up to 50 us first
 * (a push in flight is done within a microsecond unless preempted or committing and prefaulting
 * pages, which takes up to hundreds of microseconds on a lazily mapping hypervisor), then its
 * sleeps are bounded
 * (50 us, doubling to 1 ms), so a push it waits for delays it by at most about twice the push's
 * own time in flight, plus 1 ms. Measured (`./cask bench vec`, vec.freeze.busy, a freeze with one
 * thread pushing, Intel Xeon model 167): sleeping 1 us at once took 84 us per freeze (a short
 * futex timeout sleeps the kernel's 50 us timer slack); with the yields 23-25 us, as with the
 * wake-ups of the counting design (17-26 us). Spinning first keeps the common case (nothing or
 * a few instructions in flight) free of system calls; sleeping after 50 us keeps a freeze from
 * competing for the processor with writers it waits for that were preempted.
 * Why frozen readers may use plain loads: FROZEN and view.frozen are stored with release after
 * the freeze's loads saw every stripe's n at 0, which every finished set's or reserve's decrement
 * precedes, and no slot holding v's mark, which every successful push's reset (or a later release store
 * of the same slot) precedes; a reader that sees either (acquire) therefore sees
 * every element write. No write follows until an in-place thaw, which needs the only reference.
 * Why the inline frozen get is enough: a frozen vector's elements never change, so an acquire
 * load of one pointer (a plain load on x86-64), a bounds check and a fixed-size copy are all a
 * get needs: the cost of indexing an array, plus one predictable branch.
 * Linearization points: push at its successful CAS (the element is readable from then on: a get
 * of that index waits for its ready byte); set at its element store; freeze at its fetch_or;
 * get at its element load (mutable) or its load of view.frozen or state that saw the vector
 * frozen; thaw at its acquire load of refs (in place) or when it hands back the copy.
 *
 * Frozen memory: the committed element pages are frozen as one range (lib/internal/frozen.h),
 * write-protected in checked builds, checksummed otherwise.
 */
#define _GNU_SOURCE
#include "cask/vec.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cask/cask.h"
#include "cask/hp.h"
#include "internal/backoff.h"
#include "internal/check.h"
#include "internal/frozen.h"
#include "internal/futex.h"
#include "internal/hp_record.h"

#define CASK__VEC_CLOSING (UINT64_C(1) << 63)
#define CASK__VEC_FROZEN (UINT64_C(1) << 62)
#define CASK__VEC_LEN_MASK (CASK__VEC_FROZEN - 1)

#define CASK__VEC_STRIPES 16

/* Bytes of elements a push prefaults at a time, two such chunks ahead of its own index. The
 * stress build takes one page, so that its vectors of a few thousand elements prefault often. */
#if defined(CASK_STRESS) && CASK_STRESS
#define CASK__VEC_AHEAD ((size_t)4096)
#else
#define CASK__VEC_AHEAD ((size_t)64 * 1024)
#endif

/* One stripe of the count of sets and reserves in flight, alone on its cache line, for the
 * threads that use this stripe. */
typedef struct {
    _Alignas(64) _Atomic size_t n;
} cask__vec_stripe;

struct cask_vec {
    /* First, alone on its cache line (read by the inline get in vec.h, written only by freeze
     * and thaw): the frozen array. */
    _Alignas(64) struct cask__vec_frozen_view view;
    _Alignas(64) _Atomic uint64_t state; /* length | CLOSING | FROZEN; alone: pushes CAS it */
    _Alignas(64) _Atomic size_t committed; /* elements whose pages are committed */
    size_t elem_size, max_len;
    char *data;                 /* max_len * elem_size bytes reserved, page-rounded */
    _Atomic unsigned char *ready; /* max_len bytes reserved, page-rounded */
    size_t data_bytes, ready_bytes;
    const char *name;
    cask__frozen_range range; /* the committed element pages, while frozen */
    _Alignas(64) _Atomic long refs;
    cask__eventcount drained;   /* a freeze sleeps here until the stripes say quiet */
    cask__vec_stripe active[CASK__VEC_STRIPES]; /* sets and reserves in flight */
};

/* This thread's stripe of the counts: threads take stripes round robin, so up to
 * CASK__VEC_STRIPES threads mutate without sharing a counter's cache line. */
static unsigned cask__vec_my_stripe(void)
{
    static _Atomic unsigned next;
    static _Thread_local unsigned mine; /* 1 + the stripe; 0: not chosen yet */
    if (mine == 0)
        mine = 1 + atomic_fetch_add_explicit(&next, 1, memory_order_relaxed) % CASK__VEC_STRIPES;
    return mine - 1;
}

static size_t cask__round_pages(size_t bytes)
{
    size_t page = cask__page_size();
    return (bytes + page - 1) / page * page;
}

/* Element access of the vector's width: one atomic operation, never torn. */
static void cask__vec_store(const cask_vec *v, size_t i, const void *elem)
{
    void *at = v->data + i * v->elem_size;
    switch (v->elem_size) {
    case 1: { uint8_t x; memcpy(&x, elem, 1);
        atomic_store_explicit((_Atomic uint8_t *)at, x, memory_order_release); break; } /* release: pairs with the acquire load in cask__vec_load */
    case 2: { uint16_t x; memcpy(&x, elem, 2);
        atomic_store_explicit((_Atomic uint16_t *)at, x, memory_order_release); break; } /* release: pairs with the acquire load in cask__vec_load */
    case 4: { uint32_t x; memcpy(&x, elem, 4);
        atomic_store_explicit((_Atomic uint32_t *)at, x, memory_order_release); break; } /* release: pairs with the acquire load in cask__vec_load */
    default: { uint64_t x; memcpy(&x, elem, 8);
        atomic_store_explicit((_Atomic uint64_t *)at, x, memory_order_release); break; } /* release: pairs with the acquire load in cask__vec_load */
    }
}

static void cask__vec_load(const cask_vec *v, size_t i, void *out)
{
    void *at = v->data + i * v->elem_size;
    switch (v->elem_size) {
    case 1: {
        uint8_t x = atomic_load_explicit((_Atomic uint8_t *)at, memory_order_acquire); /* acquire: pairs with the release store in cask__vec_store */
        memcpy(out, &x, 1); break; }
    case 2: {
        uint16_t x = atomic_load_explicit((_Atomic uint16_t *)at, memory_order_acquire); /* acquire: pairs with the release store in cask__vec_store */
        memcpy(out, &x, 2); break; }
    case 4: {
        uint32_t x = atomic_load_explicit((_Atomic uint32_t *)at, memory_order_acquire); /* acquire: pairs with the release store in cask__vec_store */
        memcpy(out, &x, 4); break; }
    default: {
        uint64_t x = atomic_load_explicit((_Atomic uint64_t *)at, memory_order_acquire); /* acquire: pairs with the release store in cask__vec_store */
        memcpy(out, &x, 8); break; }
    }
}

/* Waits until element i's push has published it (it has reserved i: it is nearly done). */
static void cask__vec_wait_ready(const cask_vec *v, size_t i)
{
    while (atomic_load_explicit(&v->ready[i], memory_order_acquire) == 0) { /* acquire: pairs with the release store of ready[i] in push (the element is written) */
        CASK__NOISE("vec.wait_ready");
        sched_yield();
    }
}

/* What a push announces in its thread's hazard slot while it is in flight: the vector's address
 * with its low bit set (a cask_vec is 64-byte aligned), so that it never equals a hazard pointer
 * someone holds to the vector itself, which a freeze must not wait for. */
static void *cask__vec_mark(const cask_vec *v)
{
    return (void *)((uintptr_t)v | 1u);
}

/* Makes sure the pages of element i (and its ready byte) are committed. `announced` is the
 * slot of a push that announced v in it (NULL for a caller that a freeze already waits for or
 * that nobody else sees: reserve, a thaw's copy). Returns 0; CASK_ENOMEM if the kernel refused
 * (nothing visible changed); CASK_EFROZEN if a freeze has begun, with nothing committed.
 * Why the push's check: a push's loads of the length and of `committed` may be stale, so the
 * pages it would make read-write could be below the frozen length, and a freeze that missed
 * this push would then have write-protected them: the mprotect below would lift that
 * protection. Its CAS fails after the freeze, so the CAS cannot order it; a Dekker pair does,
 * and only here, where a commit is due (rarely: `committed` grows geometrically): (A') the
 * exchange of the mark into the slot and (B') the load of state, against the freeze's (C)
 * fetch_or and (D') loads of the slots, all seq_cst. Either B' sees CLOSING and nothing is
 * committed, or D' comes after A' and the freeze waits for this push's reset, after its
 * mprotect. */
static int cask__vec_commit(cask_vec *v, size_t i, cask_hp_slot *announced)
{
    size_t have = atomic_load_explicit(&v->committed, memory_order_acquire); /* acquire: pairs with the release CAS below (the pages are read-write for us too) */
    if (i < have)
        return 0;
    if (announced != NULL) {
        atomic_exchange_explicit(&announced->hazard, cask__vec_mark(v), memory_order_seq_cst); /* seq_cst: Dekker half A' with freeze's fetch_or (C) and its loads of the slots (D') */
        if (atomic_load_explicit(&v->state, memory_order_seq_cst) & CASK__VEC_CLOSING) /* seq_cst: Dekker half B' */
            return CASK_EFROZEN;
    }
    while (i >= have) {
        size_t want = have < 64 ? 64 : 2 * have;
        if (want < i + 1)
            want = i + 1;
        if (want > v->max_len)
            want = v->max_len;
        size_t data_from = cask__round_pages(have * v->elem_size) , data_to =
            cask__round_pages(want * v->elem_size);
        size_t ready_from = cask__round_pages(have), ready_to = cask__round_pages(want);
        if (data_to > data_from &&
            mprotect(v->data + data_from, data_to - data_from, PROT_READ | PROT_WRITE) != 0)
            return CASK_ENOMEM;
        if (ready_to > ready_from &&
            mprotect((char *)v->ready + ready_from, ready_to - ready_from,
                     PROT_READ | PROT_WRITE) != 0)
            return CASK_ENOMEM;
        want = data_to / v->elem_size < ready_to ? data_to / v->elem_size : ready_to;
        if (want > v->max_len)
            want = v->max_len;
        CASK__NOISE("vec.commit");
        /* Losing means another thread moved `committed` (perhaps by less than we did): the loop
         * re-checks i against the new value and commits again if needed (mprotect of pages
         * already read-write changes nothing) */
        if (atomic_compare_exchange_strong_explicit(&v->committed, &have, want, /* release: pairs with the acquire load above and the acquire of a losing CAS (the pages are read-write) */
                                                    memory_order_release, memory_order_acquire)) /* failure acquire: pairs with the winner's release */
            have = want;
    }
    return 0;
}

/* Makes the kernel back the pages of [at, at + bytes) (page-aligned, committed read-write) with
 * memory now, so that the first write to each does not fault, then reads one element of `width`
 * bytes at the start of each page, so that a hypervisor that fills its own page tables lazily
 * (shadow paging) does so now rather than at a push. The reads are atomic because pushes may
 * store to the same elements meanwhile; relaxed, since the values are thrown away. Returns 0, or
 * -1 if the kernel had no memory for it. A kernel without MADV_POPULATE_WRITE (before 5.14)
 * leaves the pages to fault at their first write: 0. */
static int cask__vec_populate(char *at, size_t bytes, size_t width)
{
#ifdef MADV_POPULATE_WRITE
    if (madvise(at, bytes, MADV_POPULATE_WRITE) != 0)
        return errno == EINVAL ? 0 : -1;
    size_t page = cask__page_size();
    for (size_t off = 0; off < bytes; off += page) {
        void *p = at + off;
        switch (width) {
        case 1: (void)atomic_load_explicit((_Atomic uint8_t *)p, memory_order_relaxed); break;
        case 2: (void)atomic_load_explicit((_Atomic uint16_t *)p, memory_order_relaxed); break;
        case 4: (void)atomic_load_explicit((_Atomic uint32_t *)p, memory_order_relaxed); break;
        default: (void)atomic_load_explicit((_Atomic uint64_t *)p, memory_order_relaxed); break;
        }
    }
#else
    (void)at;
    (void)bytes;
    (void)width;
#endif
    return 0;
}

/* The push of index i, the first of a CASK__VEC_AHEAD chunk, prefaults the chunk two ahead
 * (commits it if needed): one thread takes its page faults, early, while the other pushers
 * write the current chunk, instead of every pusher faulting on each page as they reach it
 * together. Failure is harmless: the pages then fault at their first write, as without this. */
static void cask__vec_prefault_ahead(cask_vec *v, size_t i)
{
    size_t from = i + 2 * (CASK__VEC_AHEAD / v->elem_size), to = from + CASK__VEC_AHEAD / v->elem_size;
    if (to > v->max_len)
        to = v->max_len;
    /* No freeze check: this runs after the push's reservation succeeded, so a freeze waits for
     * the push's reset anyway. */
    if (from >= to || cask__vec_commit(v, to - 1, NULL) != 0)
        return;
    CASK__NOISE("vec.push.prefault");
    size_t page = cask__page_size(), ready_from = from / page * page;
    (void)cask__vec_populate(v->data + from * v->elem_size, (to - from) * v->elem_size, v->elem_size);
    (void)cask__vec_populate((char *)v->ready + ready_from, cask__round_pages(to) - ready_from, 1);
}

/* A mutation enters: Dekker half A. Returns its stripe. */
static unsigned cask__vec_enter(cask_vec *v)
{
    unsigned k = cask__vec_my_stripe();
    atomic_fetch_add_explicit(&v->active[k].n, 1, memory_order_seq_cst); /* seq_cst: Dekker half A, with freeze's fetch_or of CLOSING (C) and its loads of the stripes (D) */
    return k;
}

/* A mutation leaves: the last one out of a stripe wakes a freeze that sleeps waiting for it. */
static void cask__vec_done(cask_vec *v, unsigned k)
{
    size_t before = atomic_fetch_sub_explicit(&v->active[k].n, 1, memory_order_seq_cst); /* seq_cst: pairs with freeze's seq_cst loads of the stripes in cask__vec_quiet (our writes precede the freeze) and, with the waiters load in cask__ec_notify, with cask__ec_prepare */
    if (before == 1)
        cask__ec_notify(&v->drained);
}

/* True if no set or reserve is in flight (every stripe's n reads 0) and no push that may have
 * reserved an index or may be committing pages is (no hazard slot holds v's mark). */
static bool cask__vec_quiet(cask_vec *v)
{
    for (unsigned k = 0; k < CASK__VEC_STRIPES; k++)
        if (atomic_load_explicit(&v->active[k].n, memory_order_seq_cst) != 0) /* seq_cst: Dekker half D with cask__vec_enter; acquire pairs with the decrements in cask__vec_done */
            return false;
    return !cask__hp_domain_holds(cask_hp_default_domain(), cask__vec_mark(v)); /* seq_cst loads: acquire pairs with the release reset in push (element and ready written); Dekker half D' with cask__vec_commit's exchange */
}

/* A freeze waiting for pushes in flight yields for up to CASK__VEC_YIELD_NS, then sleeps for
 * CASK__VEC_NAP_MIN_NS, doubling up to CASK__VEC_NAP_MAX_NS between two looks. */
#define CASK__VEC_YIELD_NS 50000
#define CASK__VEC_NAP_MIN_NS 50000
#define CASK__VEC_NAP_MAX_NS 1000000

/* Freeze: waits until no set, reserve or push is in flight. Spins briefly (a mutation is a few
 * dozen instructions), then yields the processor for up to 50 us (a push in flight finishes in
 * well under a microsecond unless its thread is preempted, and a yield may let that thread run),
 * then sleeps: on the eventcount, which the last set or reserve out of a stripe wakes, for at
 * most a time that doubles from 50 us to 1 ms, since a push does not wake it (it only clears its
 * hazard slot: no read-modify-write, see the design above). Shorter sleeps would not be shorter:
 * the kernel's timer slack for a normal thread is 50 us. */
static void cask__vec_wait_drained(cask_vec *v)
{
    for (int spin = 0; spin < 128; spin++) {
        if (cask__vec_quiet(v))
            return;
        CASK__NOISE("vec.freeze.wait");
    }
    int64_t yield_until = cask__now_ns() + CASK__VEC_YIELD_NS;
    while (cask__now_ns() < yield_until) {
        sched_yield();
        if (cask__vec_quiet(v))
            return;
    }
    int64_t nap_ns = CASK__VEC_NAP_MIN_NS;
    for (;;) {
        uint32_t seen = cask__ec_prepare(&v->drained);
        if (cask__vec_quiet(v)) { /* the re-check after registering (lib/internal/futex.h) */
            cask__ec_cancel(&v->drained);
            return;
        }
        CASK__NOISE("vec.freeze.sleep");
        cask__ec_wait(&v->drained, seen, cask__now_ns() + nap_ns);
        cask__ec_cancel(&v->drained);
        if (nap_ns < CASK__VEC_NAP_MAX_NS)
            nap_ns *= 2;
    }
}

int cask_vec_create(size_t elem_size, size_t max_len, const char *name, cask_vec **out)
{
    if (out == NULL || (elem_size != 1 && elem_size != 2 && elem_size != 4 && elem_size != 8))
        return CASK_EINVAL;
    if (max_len == 0)
        max_len = CASK_VEC_DEFAULT_MAX;
    if (max_len > CASK__VEC_LEN_MASK / 8 || max_len > SIZE_MAX / 16)
        return CASK_EINVAL;
    cask_vec *v = aligned_alloc(64, sizeof(*v)); /* sizeof is a multiple of 64 (_Alignas) */
    if (v != NULL)
        memset(v, 0, sizeof(*v));
    if (v == NULL)
        return CASK_ENOMEM;
    v->elem_size = elem_size;
    v->view.elem_size = elem_size;
    atomic_init(&v->view.frozen, NULL);
    v->max_len = max_len;
    v->data_bytes = cask__round_pages(max_len * elem_size);
    v->ready_bytes = cask__round_pages(max_len);
    char *base = mmap(NULL, v->data_bytes + v->ready_bytes, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) {
        free(v);
        return CASK_ENOMEM;
    }
    v->data = base;
    v->ready = (_Atomic unsigned char *)(void *)(base + v->data_bytes);
    v->name = name;
    atomic_init(&v->state, 0);
    for (unsigned k = 0; k < CASK__VEC_STRIPES; k++)
        atomic_init(&v->active[k].n, 0);
    atomic_init(&v->drained.seq, 0);
    atomic_init(&v->drained.waiters, 0);
    atomic_init(&v->committed, 0);
    atomic_init(&v->refs, 1);
    v->range.kind = "frozen vector";
    v->range.name = name;
    v->range.object = v;
    *out = v;
    return 0;
}

int cask_vec_push(cask_vec *v, const void *elem, size_t *index)
{
    cask_hp_slot *slot;
    int rc;
    /* The freeze check comes first, so that a push to a frozen vector says CASK_EFROZEN even
     * when this thread's hazard record cannot be had (CASK_ENOMEM below). */
    uint64_t s = atomic_load_explicit(&v->state, memory_order_acquire); /* acquire: pairs with the reservation CAS that wrote this length */
    CASK__NOISE("vec.push.loaded");
    if (s & CASK__VEC_CLOSING) {
        rc = CASK_EFROZEN; /* never announced: a freeze does not wait for pushes that fail here */
        goto done;
    }
    rc = cask_hp_thread_slot(&slot);
    if (rc != 0)
        goto done;
    CASK__CHECK(atomic_load_explicit(&slot->hazard, memory_order_relaxed) == NULL, "vector", v,
                "cask_vec_push called while this thread's hazard slot (cask_hp_thread_slot) "
                "holds a protection, which the push's announcement would drop",
                "reset the thread slot before calling cask_vec_push, or protect with a slot "
                "from cask_hp_slot_acquire");
    /* In flight: a freeze that our CAS precedes sees this (the CAS is release, the freeze's
     * fetch_or acquire) and waits until the reset below. A plain release store: the CAS, not a
     * fence, orders it with the freeze (a commit adds its own Dekker pair, cask__vec_commit). */
    atomic_store_explicit(&slot->hazard, cask__vec_mark(v), memory_order_release); /* release: pairs with the freeze's loads of the slots, through the CAS below */
    CASK__NOISE("vec.push.announced");
    size_t i;
    for (;;) {
        if (s & CASK__VEC_CLOSING) {
            rc = CASK_EFROZEN;
            goto out;
        }
        i = (size_t)(s & CASK__VEC_LEN_MASK);
        if (i >= v->max_len) {
            rc = CASK_EFULL;
            goto out;
        }
        rc = cask__vec_commit(v, i, slot);
        if (rc != 0)
            goto out;
        CASK__NOISE("vec.push.reserve");
        if (atomic_compare_exchange_weak_explicit(&v->state, &s, s + 1, memory_order_seq_cst, /* seq_cst: the reservation, ordered with freeze's fetch_or (fails if it came first); release: our announcement precedes the freeze's slot loads */
                                                  memory_order_seq_cst)) /* failure: re-reads state for the retry, ordered with freeze's fetch_or */
            break;
        /* Another push won the word (it made progress): start again from the length the failed
         * CAS read. The acquire of that read pairs as the first load's: seq_cst on failure. */
        CASK__NOISE("vec.push.retry");
    }
    CASK__NOISE("vec.push.reserved");
    cask__backoff_note(&cask__backoff_state.push, v, i, CASK__BACKOFF_WIDE_WINDOW_NS);
    cask__vec_store(v, i, elem);
    atomic_store_explicit(&v->ready[i], 1, memory_order_release); /* release: pairs with the acquire load in cask__vec_wait_ready */
    if (index != NULL)
        *index = i;
    if ((i * v->elem_size) % CASK__VEC_AHEAD == 0 && i > 0)
        cask__vec_prefault_ahead(v, i);
    CASK__NOISE("vec.push.complete");
out:
    cask_hp_reset(slot); /* release: pairs with the freeze's loads of the slots (the element and ready byte are written) */
done:
    cask__backoff_finish();
    return rc;
}

int cask_vec_reserve(cask_vec *v, size_t n)
{
    CASK__REQUIRE(v != NULL, "vector", v, "cask_vec_reserve(NULL)", "pass a vector");
    if (n > v->max_len)
        return CASK_EINVAL;
    unsigned k = cask__vec_enter(v);
    CASK__NOISE("vec.reserve.active");
    int rc = 0;
    uint64_t s = atomic_load_explicit(&v->state, memory_order_seq_cst); /* seq_cst: the other half of the Dekker pair with freeze's fetch_or */
    if (s & CASK__VEC_CLOSING)
        rc = CASK_EFROZEN;
    else if (n > 0)
        rc = cask__vec_commit(v, n - 1, NULL); /* this reserve's own Dekker pair orders it */
    if (rc == 0 && n > 0 &&
        (cask__vec_populate(v->data, cask__round_pages(n * v->elem_size), v->elem_size) != 0 ||
         cask__vec_populate((char *)v->ready, cask__round_pages(n), 1) != 0))
        rc = CASK_ENOMEM;
    cask__vec_done(v, k);
    return rc;
}

int cask_vec_set(cask_vec *v, size_t i, const void *elem)
{
    unsigned k = cask__vec_enter(v);
    CASK__NOISE("vec.set.active");
    int rc = 0;
    uint64_t s = atomic_load_explicit(&v->state, memory_order_seq_cst); /* seq_cst: the other half of the Dekker pair with freeze's fetch_or */
    if (s & CASK__VEC_CLOSING)
        rc = CASK_EFROZEN;
    else if (i >= (size_t)(s & CASK__VEC_LEN_MASK))
        rc = CASK_ENOENT;
    else {
        cask__vec_wait_ready(v, i);
        cask__vec_store(v, i, elem);
    }
    cask__vec_done(v, k);
    return rc;
}

int cask__vec_get_slow(const cask_vec *v, size_t i, void *out)
{
    uint64_t s = atomic_load_explicit(&v->state, memory_order_acquire); /* acquire: pairs with the release that set FROZEN (frozen reads are then plain) */
    if (i >= (size_t)(s & CASK__VEC_LEN_MASK))
        return CASK_ENOENT;
    if (s & CASK__VEC_FROZEN) {
        memcpy(out, v->data + i * v->elem_size, v->elem_size);
        return 0;
    }
    cask__vec_wait_ready(v, i);
    cask__vec_load(v, i, out);
    return 0;
}

size_t cask_vec_length(const cask_vec *v)
{
    return (size_t)(atomic_load_explicit(&v->state, memory_order_acquire) & CASK__VEC_LEN_MASK); /* acquire: pairs with the reservation CAS and the FROZEN release */
}

int cask_vec_freeze_at(cask_vec *v, const char *file, int line)
{
    CASK__REQUIRE(v != NULL, "vector", v, "cask_vec_freeze(NULL)", "pass a vector");
    uint64_t s = atomic_fetch_or_explicit(&v->state, CASK__VEC_CLOSING, memory_order_seq_cst); /* seq_cst: the freeze's linearization point; Dekker half C with set's and reserve's state loads; an RMW of the word push's CAS compares */
    if (s & CASK__VEC_CLOSING)
        return CASK_EFROZEN;
    CASK__NOISE("vec.freeze.closing");
    size_t len = (size_t)(s & CASK__VEC_LEN_MASK);
    cask__vec_wait_drained(v); /* the ones in flight now either finish or fail */
    v->range.start = v->data;
    v->range.len = cask__round_pages(len * v->elem_size);
    int rc = cask__frozen_range_freeze(&v->range, file, line);
    if (rc != 0) {
        /* Undo: the vector is mutable again, unchanged (mutations that ran meanwhile failed
         * with CASK_EFROZEN: they saw a freeze in progress). */
        atomic_fetch_and_explicit(&v->state, ~CASK__VEC_CLOSING, memory_order_release); /* release: pairs with the state loads in push (acquire) and set (seq_cst): they may mutate again */
        return rc;
    }
    /* The array first, then the state bit: whoever sees the vector frozen, by either word, can
     * read the array (is_frozen and frozen_data read the same word, so they never disagree). */
    v->view.frozen_len = len;
    atomic_store_explicit(&v->view.frozen, v->data, memory_order_release); /* release: pairs with the acquire loads in the inline cask_vec_get, is_frozen and frozen_data (elements, frozen_len) */
    CASK__NOISE("vec.freeze.published");
    atomic_fetch_or_explicit(&v->state, CASK__VEC_FROZEN, memory_order_release); /* release: pairs with the acquire loads of state in the slow get and length (elements; view.frozen is stored before) */
    return 0;
}

bool cask_vec_is_frozen(const cask_vec *v)
{
    return atomic_load_explicit(&v->view.frozen, memory_order_acquire) != NULL; /* acquire: pairs with the release store in cask_vec_freeze_at (elements, frozen_len) */
}

const void *cask_vec_frozen_data(const cask_vec *v)
{
    return atomic_load_explicit(&v->view.frozen, memory_order_acquire); /* acquire: pairs with the release store in cask_vec_freeze_at */
}

void cask_vec_ref(cask_vec *v)
{
    long before = atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
    CASK__REQUIRE(before > 0, "vector", v, "cask_vec_ref on a vector already freed",
                  "take a reference while you still hold one");
}

static void cask__vec_free(cask_vec *v)
{
    cask__frozen_range_verify(&v->range);
    cask__frozen_range_forget(&v->range);
    munmap(v->data, v->data_bytes + v->ready_bytes);
    free(v);
}

void cask_vec_unref(cask_vec *v)
{
    if (v == NULL)
        return;
    long before = atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel); /* acq_rel: the last holder acquires every other holder's accesses before freeing */
    CASK__REQUIRE(before > 0, "vector", v, "cask_vec_unref on a vector already freed",
                  "drop each reference exactly once");
    if (before == 1)
        cask__vec_free(v);
}

int cask_vec_thaw(cask_vec **vp)
{
    CASK__REQUIRE(vp != NULL && *vp != NULL, "vector", vp, "cask_vec_thaw(NULL)",
                  "pass the address of your vector pointer");
    cask_vec *v = *vp;
    if (!cask_vec_is_frozen(v))
        return CASK_EINVAL;
    size_t len = cask_vec_length(v);
    if (atomic_load_explicit(&v->refs, memory_order_acquire) == 1) { /* acquire: pairs with the other holders' release in unref (they are done with it) */
        int rc = cask__frozen_range_thaw(&v->range);
        if (rc != 0)
            return rc;
        atomic_store_explicit(&v->view.frozen, NULL, memory_order_relaxed); /* sole owner: no reader */
        atomic_store_explicit(&v->state, (uint64_t)len, memory_order_release); /* release: we are the sole owner; the mutable vector starts here */
        return 0;
    }
    cask_vec *copy;
    int rc = cask_vec_create(v->elem_size, v->max_len, v->name, &copy);
    if (rc != 0)
        return rc;
    if (len > 0 && cask__vec_commit(copy, len - 1, NULL) != 0) {
        cask_vec_unref(copy);
        return CASK_ENOMEM;
    }
    memcpy(copy->data, v->data, len * v->elem_size);
    memset((void *)copy->ready, 1, len);
    atomic_store_explicit(&copy->state, (uint64_t)len, memory_order_relaxed); /* not shared yet */
    *vp = copy;
    cask_vec_unref(v);
    return 0;
}
