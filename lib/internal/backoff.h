/*
 * Private to cask: waiting without touching shared memory, and the queues' contention backoff.
 *
 * cask__pause: one spin-wait hint (the x86 `pause` instruction; elsewhere a compiler barrier).
 *
 * Contention backoff (lib/queue.c uses it; the essay there has the measurements). When two
 * threads alternate operations on one queue, every operation finds the index, pointer and cell
 * lines in the other core's cache and pays a transfer each (about 120 ns on the 2-core machine
 * the benchmarks run on, against about 15 ns for a whole push or pop whose lines are local).
 * A mutex avoids this by accident: its waiters sleep and the holder runs a burst. The backoff
 * does the same on purpose, without a lock: a thread that sees it is fighting over the queue
 * steps aside for CASK__BACKOFF_NS after its operation completed, so the other runs a burst
 * with every line in its own cache; then it gets CASK__BACKOFF_GRACE operations during which it
 * does not step aside, so the thread that ran the burst is the one to step aside next. Bursts
 * take turns.
 *
 * "Fighting" is decided per thread from what it already has: the index its fetch-and-add
 * returned. A thread remembers, per role (push, pop), where it reserved last (a segment) and
 * which index; if its next reservation in the same place is not the next index, another thread
 * reserved in between: the operations interleave. Interleaving alone is not contention (eight
 * threads each pushing once every ten microseconds interleave on every push and never meet), so
 * the thread reads the clock only then, and steps aside only if its previous interleaved
 * operation was less than CASK__BACKOFF_WINDOW_NS ago: operations interleaving back to back.
 * A thread working alone, or at a low rate, never reads the clock and never waits.
 *
 * Progress: the wait comes after the operation took effect and released everything it held
 * (its hazard slot is reset), so it delays only the caller; lock-freedom and every ordering
 * argument of the queue are untouched. CASK_QUEUE_BACKOFF_NS=0 at build time turns it off.
 * The state is thread-local (defined in lib/cask.c), touched only by its own thread: no atomics.
 */
#ifndef CASK_INTERNAL_BACKOFF_H
#define CASK_INTERNAL_BACKOFF_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "cask/queue.h"

/* One spin-wait hint: tells the core (and a hypervisor) that this thread is waiting. */
static inline void cask__pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    atomic_signal_fence(memory_order_seq_cst); /* compiler barrier only: a delay, orders nothing */
#endif
}

/* Two interleaved operations of one thread closer than this are contention. */
#define CASK__BACKOFF_WINDOW_NS 1000u
/* Operations after a wait during which the thread does not step aside again. */
#define CASK__BACKOFF_GRACE 16u

/* Where a thread reserved last in one role, and which index. */
typedef struct cask__reservation {
    const void *where;
    uint64_t index;
} cask__reservation;

typedef struct cask__backoff {
    cask__reservation push, pop;
    uint64_t interleaved_ns; /* clock at the last interleaved reservation, 0 after a wait */
    unsigned grace;          /* reservations left before the thread may step aside again */
    bool due;                /* step aside when the current operation returns */
    uint64_t interleavings;  /* counts, for tests and debuggers: interleaved reservations seen */
    uint64_t waits;          /* and waits done */
} cask__backoff;

/* The calling thread's state (defined in lib/cask.c; one per thread, shared by all queues). */
extern _Thread_local cask__backoff cask__backoff_state;

static inline uint64_t cask__backoff_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

/* The policy, given an interleaved reservation at time now: due if the previous one was less
 * than the window ago. */
static inline void cask__backoff_interleaved_at(cask__backoff *b, uint64_t now)
{
    b->interleavings++;
    if (b->interleaved_ns != 0 && now - b->interleaved_ns < CASK__BACKOFF_WINDOW_NS)
        b->due = true;
    b->interleaved_ns = now;
}

/* Notes that this thread reserved `index` at `where` in role r (&state.push or &state.pop). */
static inline void cask__backoff_note(cask__reservation *r, const void *where, uint64_t index)
{
#if CASK_QUEUE_BACKOFF_NS > 0
    cask__backoff *b = &cask__backoff_state;
    bool interleaved = r->where == where && index != r->index + 1;
    r->where = where;
    r->index = index;
    if (b->grace > 0) {
        b->grace--;
        return;
    }
    if (interleaved)
        cask__backoff_interleaved_at(b, cask__backoff_now_ns());
#else
    (void)r;
    (void)where;
    (void)index;
#endif
}

/* Steps aside for CASK_QUEUE_BACKOFF_NS if the last reservations said so. Call it after the
 * operation completed and released its hazard slot. */
static inline void cask__backoff_maybe_wait(void)
{
#if CASK_QUEUE_BACKOFF_NS > 0
    cask__backoff *b = &cask__backoff_state;
    if (!b->due)
        return;
    b->due = false;
    b->waits++;
    uint64_t end = cask__backoff_now_ns() + CASK_QUEUE_BACKOFF_NS;
    while (cask__backoff_now_ns() < end)
        for (int i = 0; i < 16; i++)
            cask__pause();
    b->grace = CASK__BACKOFF_GRACE;
    b->interleaved_ns = 0;
#endif
}

#endif
