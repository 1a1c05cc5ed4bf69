/*
 * Private to cask: waiting without touching shared memory, and the queues' contention backoff.
 *
 * cask__pause: one spin-wait hint (the x86 `pause` instruction; elsewhere a compiler barrier).
 *
 * Contention backoff (lib/queue.c, lib/bqueue.c and vector push in lib/vec.c use it; the essay
 * in queue.c has the measurements). When two threads alternate operations on one queue, every operation finds the
 * index, pointer and cell lines in the other core's cache and pays a transfer each (about 120 ns
 * on the 2-core machine the benchmarks run on, against about 15 ns for a whole push or pop
 * whose lines are local). A mutex avoids this by accident: its waiters sleep and the holder runs
 * a burst. The backoff does the same on purpose, without a lock: a thread that sees it is
 * fighting over the queue steps aside for CASK_QUEUE_BACKOFF_NS when its call returns, so the
 * other runs a burst with every line in its own cache; then it makes CASK__BACKOFF_GRACE
 * reservations during which it does not step aside, so the thread that ran the burst is the
 * one to step aside next. Bursts take turns.
 *
 * "Fighting" is decided per thread from what it already has: the index its fetch-and-add
 * returned. A thread remembers, per role (push, pop), where it reserved last (a queue segment,
 * a bounded queue's ring, a vector) and which index; if its next reservation in the same place is further ahead than the next
 * index, another thread reserved in between: the calls interleave. (Only "ahead" counts: a
 * segment, queue or vector freed and allocated again at the same address starts from a low
 * index.)
 * Interleaving alone is not contention (eight threads each pushing once every ten microseconds
 * interleave on every push and never meet), so at the end of a call that saw an interleaving
 * the thread reads the clock, and steps aside only if its previous such call in the same role
 * ended less than the structure's window ago (CASK__BACKOFF_WINDOW_NS, 1 us, for the unbounded
 * queue; twice that for the bounded queue and vector push, whose contended calls cost about
 * twice as much): calls
 * interleaving back to back. So one call never makes its own thread wait; a thread alone never
 * reads the clock and never waits; a thread sharing a queue at a low rate reads the clock once
 * per interleaved call and never waits. The window is where the bet changes: while a thread
 * waits it does none of its own work, so stepping aside pays only if the thread had little
 * work between its calls. Measured with two threads each pushing, popping, then working (ns
 * per round, backoff on / off): no work 106 / 306-339, 0.1 us of work 183-237 / 651-660,
 * 0.3 us 444-507 / 715-769, 0.6 us 1,153-1,169 / 912-1,013 (here it loses), 2 us
 * 1,848-1,986 / 1,714-1,835, 7 us within noise. `./cask bench queue` keeps the losing point
 * as the row queue.pairs.work.
 *
 * Every public call of the queues, and vector push, ends with cask__backoff_finish, after the
 * call took effect, reset its hazard slot and left the eventcount (a blocking call finishes
 * after cask__wait_for returns) or cleared the vector push's announcement, so the wait holds nothing
 * another thread needs; a call made by a reclaim function (lib/hp_scan.c runs every one between
 * cask__backoff_hold and cask__backoff_release) never waits itself: lock-freedom and
 * every ordering argument of the queues are untouched. CASK_QUEUE_BACKOFF_NS=0 at build time
 * turns it off.
 *
 * The empty-poll pause (cask/queue.h, CASK_QUEUE_EMPTY_PAUSE_NS) is the same idea for a consumer
 * spinning on an empty queue: each of its polls reads the lines the producer writes next, so
 * every push found them in the consumer's cache. A try-pop that says "empty" marks the call
 * (cask__backoff_empty); the finish pauses if the thread's previous push or pop was a try-pop
 * that found the same queue empty, for at most CASK__EMPTY_PAUSES calls in a row, so that a
 * caller whose loop yields or sleeps after some empty tries gets there soon. The blocking calls'
 * spin phase (lib/internal/closable.h) pauses the same way before its first tries
 * (cask__backoff_spin_pause): it runs before the call registers on the eventcount, with no
 * hazard slot set, so the pause holds nothing either. The state is thread-local (defined in
 * lib/cask.c), touched only by its own thread: no atomics.
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

/* Two interleaved calls of one thread in one role closer than this are contention: the
 * unbounded queue's window, and the wide one of the bounded queue and vector push, whose
 * contended calls cost about twice as much. */
#define CASK__BACKOFF_WINDOW_NS 1000u
#define CASK__BACKOFF_WIDE_WINDOW_NS (2 * CASK__BACKOFF_WINDOW_NS)
/* Reservations after a wait during which the thread does not step aside again. */
#define CASK__BACKOFF_GRACE 16u

/* Empty-poll pauses in a row, at most (the 2nd to 5th empty try-pop; see cask/queue.h). */
#define CASK__EMPTY_PAUSES 4u

/* Where a thread reserved last in one role, and which index. */
typedef struct cask__reservation {
    const void *where;
    uint64_t index;
    uint64_t interleaved_ns; /* clock at the end of the last interleaved call, 0 after a wait */
} cask__reservation;

typedef struct cask__backoff {
    cask__reservation push, pop;
    cask__reservation *seen; /* the role in which this call reserved interleaved, or NULL */
    uint64_t window_ns;      /* and the window its structure uses */
    unsigned held;           /* > 0: inside a call that must not wait (cask__backoff_hold) */
    unsigned grace;          /* reservations left before the thread may step aside again */
    const void *empty_now;   /* this call is a try-pop that found this queue empty, or NULL */
    const void *empty_last;  /* and the previous call's, if it was one */
    unsigned empty_run;      /* try-pops in a row that found empty_last empty */
    uint64_t interleavings;  /* counts, for tests and debuggers: interleaved calls */
    uint64_t waits;          /* and waits */
    uint64_t empty_waits;    /* and empty-poll pauses (try-pop's and blocking calls' spins) */
} cask__backoff;

/* The calling thread's state (defined in lib/cask.c; one per thread, shared by every queue and
 * vector). */
extern _Thread_local cask__backoff cask__backoff_state;

static inline uint64_t cask__backoff_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

/* Notes that this thread reserved `index` at `where` in role r (&state.push or &state.pop), in
 * a structure whose window is window_ns. */
static inline void cask__backoff_note(cask__reservation *r, const void *where, uint64_t index,
                                      uint64_t window_ns)
{
#if CASK_QUEUE_BACKOFF_NS > 0
    cask__backoff *b = &cask__backoff_state;
    bool interleaved = r->where == where && index > r->index + 1;
    if (r->where != where)
        r->interleaved_ns = 0; /* a gap started elsewhere says nothing about this place */
    r->where = where;
    r->index = index;
    if (b->grace > 0)
        b->grace--;
    else if (interleaved) {
        b->seen = r;
        b->window_ns = window_ns;
    }
#else
    (void)r;
    (void)where;
    (void)index;
    (void)window_ns;
#endif
}

/* The policy: a call that saw an interleaving in role r ends at time now. Returns true if the
 * thread should step aside (its previous interleaved call in that role ended less than
 * b->window_ns ago). */
static inline bool cask__backoff_decide(cask__backoff *b, cask__reservation *r, uint64_t now)
{
    b->seen = NULL;
    b->interleavings++;
    /* "Less than the window ago", written so that an end stamped later than now (only a test
     * forges one) also counts as recent instead of wrapping around to long ago. */
    bool wait = r->interleaved_ns != 0 && now < r->interleaved_ns + b->window_ns;
    r->interleaved_ns = now;
    if (wait) {
        b->push.interleaved_ns = 0;
        b->pop.interleaved_ns = 0;
    }
    return wait;
}

/* Calls between hold and release never wait: their finish leaves the decision to the outer
 * call's. For code that runs other code that may use queues (reclaim functions run inline by a
 * retire) at a point where waiting would delay other threads. Nests. */
static inline void cask__backoff_hold(void)
{
    cask__backoff_state.held++;
}

static inline void cask__backoff_release(void)
{
    cask__backoff_state.held--;
}

/* Marks the current call as a try-pop that found the queue at `where` empty. */
static inline void cask__backoff_empty(const void *where)
{
    cask__backoff_state.empty_now = where;
}

/* Spins on pause hints (no shared memory touched) until ns have passed since now. */
static inline void cask__backoff_wait_ns(uint64_t now, uint64_t ns)
{
    uint64_t end = now + ns;
    while (cask__backoff_now_ns() < end)
        for (int i = 0; i < 16; i++)
            cask__pause();
}

/* One empty-poll pause, counted, from `now`. */
static inline void cask__backoff_empty_pause(cask__backoff *b, uint64_t now)
{
    b->empty_waits++;
    cask__backoff_wait_ns(now, CASK_QUEUE_EMPTY_PAUSE_NS);
}

/* The same pause inside a blocking call's spin phase (lib/internal/closable.h): after its
 * (tries + 1)th failed try in a row, for the first CASK__EMPTY_PAUSES of them. Not when held,
 * nor when it would end past deadline_ns (CLOCK_MONOTONIC; -1: none). */
static inline void cask__backoff_spin_pause(unsigned tries, int64_t deadline_ns)
{
#if CASK_QUEUE_EMPTY_PAUSE_NS > 0
    cask__backoff *b = &cask__backoff_state;
    if (tries >= CASK__EMPTY_PAUSES || b->held > 0)
        return;
    uint64_t now = cask__backoff_now_ns();
    if (deadline_ns < 0 || now + CASK_QUEUE_EMPTY_PAUSE_NS <= (uint64_t)deadline_ns)
        cask__backoff_empty_pause(b, now);
#else
    (void)tries;
    (void)deadline_ns;
#endif
}

/* The empty-poll pause: the 2nd to (CASK__EMPTY_PAUSES + 1)th try-pop in a row of this thread
 * that finds the same queue empty, with no other push or pop of the thread in between, waits
 * CASK_QUEUE_EMPTY_PAUSE_NS before it returns. A held (nested) call leaves the run alone. */
static inline void cask__backoff_empty_finish(cask__backoff *b)
{
    const void *empty = b->empty_now;
    b->empty_now = NULL;
#if CASK_QUEUE_EMPTY_PAUSE_NS > 0
    if (b->held > 0)
        return;
    b->empty_run = empty != NULL && empty == b->empty_last ? b->empty_run + 1 : 0;
    b->empty_last = empty;
    if (b->empty_run > 0 && b->empty_run <= CASK__EMPTY_PAUSES)
        cask__backoff_empty_pause(b, cask__backoff_now_ns());
#else
    (void)empty;
#endif
}

/* Ends a public call: the empty-poll pause (above); then steps aside for
 * CASK_QUEUE_BACKOFF_NS if this call and the previous interleaved one came back to back. Call it
 * after the call took effect, with nothing held. */
static inline void cask__backoff_finish(void)
{
    cask__backoff *b = &cask__backoff_state;
    cask__backoff_empty_finish(b);
#if CASK_QUEUE_BACKOFF_NS > 0
    if (b->seen == NULL || b->held > 0)
        return;
    uint64_t now = cask__backoff_now_ns();
    if (!cask__backoff_decide(b, b->seen, now))
        return;
    b->waits++;
    cask__backoff_wait_ns(now, CASK_QUEUE_BACKOFF_NS);
    b->grace = CASK__BACKOFF_GRACE;
#endif
}

#endif
