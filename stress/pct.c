/*
 * pct.c: a PCT scheduler over real threads.
 *
 * Source: S. Burckhardt, P. Kothari, M. Musuvathi, S. Nagarakatte, "A Randomized Scheduler with
 * Probabilistic Guarantees of Finding Bugs", ASPLOS 2010. Of n threads exactly one runs between
 * two noise points: the runnable thread with the highest priority. Priorities start as a random
 * permutation of d..d+n-1; at d-1 random steps (the change points) the running thread drops to
 * priority d-1-i. A bug of depth d is found with probability at least 1/(n k^(d-1)) per window.
 * Long stress runs are cut into windows of k steps; each window draws fresh priorities and change
 * points from the seed, so one run performs many PCT trials, and the same seed gives the same
 * schedule on any machine (as long as no steal happens, below).
 *
 * Why ThreadSanitizer still sees every race: the hand-off between threads uses only relaxed
 * atomics and raw futex system calls, neither of which TSan treats as synchronisation, so the
 * scheduler adds no happens-before edge between the threads it serialises. (A mutex or a
 * condition variable would: TSan would then see every pair of steps as ordered and stay silent.)
 * On the hardware the futex call is a full barrier, so the scheduler's own state is coherent.
 *
 * Blocking: a thread that blocks outside a noise point (in a condition variable, say) would stop
 * the schedule. A waiting thread that sees no step for STEAL_NS assumes so, marks the holder
 * BLOCKED and passes the turn to the runnable thread with the highest priority; a BLOCKED thread
 * is never picked, and rejoins (RUNNABLE again) when it next waits for its turn, at its next
 * noise point. Without the mark, two threads asleep in a blocking call (two consumers in a
 * blocking pop, say) passed the turn to each other at every steal, because each was the other's
 * best pick, and the producers that would have woken them never ran: queue.close at 4 threads
 * under PCT reported a consumer "hung" for 2 s on an empty queue that nobody could fill. Steals
 * are counted and reported because they make the schedule depend on timing.
 *
 * All state below is written by the thread holding the turn (or by the main thread before and
 * after the workers), and read by others only through relaxed atomics.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "stress/internal.h"

#define PCT_MAX_THREADS CASK_STRESS__PCT_MAX_THREADS
#define PCT_MAX_DEPTH 16
#define STEAL_NS 20000000L /* 20 ms without a step: the running thread is blocked */

enum { PCT_WAITING = 0, PCT_RUNNABLE = 1, PCT_DONE = 2, PCT_BLOCKED = 3 };
/* pct_turn when a thread that finished found every other thread blocked: the first thread to
 * wait for its turn takes it (-1 is "no schedule": before begin and after end). */
enum { PCT_TURN_FREE = -2 };

static unsigned pct_depth = 3, pct_window = 2000;
static int pct_threads;
static _Atomic uint64_t pct_rng; /* used by whichever thread holds the turn */

static _Atomic int pct_turn = -1;       /* index of the thread that may run; the futex word */
static _Atomic uint64_t pct_step_count;  /* steps taken in this bracket */
static _Atomic uint64_t pct_steal_count;
static _Atomic int pct_priority[PCT_MAX_THREADS];
static _Atomic int pct_state[PCT_MAX_THREADS];
static _Atomic uint64_t pct_change[PCT_MAX_DEPTH]; /* change points of the current window */

static _Thread_local int pct_self = -1; /* this thread's index, -1 if not controlled */
static _Thread_local uint64_t pct_my_step; /* the last step this thread took */

static long futex(_Atomic int *word, int op, int val, const struct timespec *timeout)
{
    return syscall(SYS_futex, (int *)word, op, val, timeout, NULL, 0);
}

static uint64_t pct_next(void)
{
    uint64_t x = atomic_load_explicit(&pct_rng, memory_order_relaxed);
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    atomic_store_explicit(&pct_rng, x, memory_order_relaxed);
    return x * UINT64_C(0x2545F4914F6CDD1D);
}

/* Draws a window: a random permutation of priorities d..d+n-1 and d-1 change points in [1,k]. */
static void pct_draw_window(uint64_t first_step)
{
    int perm[PCT_MAX_THREADS];
    for (int i = 0; i < pct_threads; i++)
        perm[i] = i;
    for (int i = pct_threads - 1; i > 0; i--) {
        int j = (int)(pct_next() % (uint64_t)(i + 1));
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int i = 0; i < pct_threads; i++)
        atomic_store_explicit(&pct_priority[i], (int)pct_depth + perm[i], memory_order_relaxed);
    for (unsigned i = 1; i < pct_depth; i++)
        atomic_store_explicit(&pct_change[i], first_step + 1 + pct_next() % pct_window,
                              memory_order_relaxed);
}

/* The runnable thread with the highest priority (not done, not blocked), or -1 if none. */
static int pct_pick(int exclude)
{
    int best = -1, best_priority = INT_MIN;
    for (int i = 0; i < pct_threads; i++) {
        int state = atomic_load_explicit(&pct_state[i], memory_order_relaxed);
        if (i == exclude || state == PCT_DONE || state == PCT_BLOCKED)
            continue;
        int p = atomic_load_explicit(&pct_priority[i], memory_order_relaxed);
        if (p > best_priority) {
            best = i;
            best_priority = p;
        }
    }
    return best;
}

static void pct_hand_to(int next)
{
    atomic_store_explicit(&pct_turn, next, memory_order_relaxed);
    futex(&pct_turn, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
}

/* The holder is done: to the best runnable thread, or, if every other one is blocked, free for
 * the first of them to come back (a blocked thread waits for its turn at its next noise point). */
static void pct_hand_on(void)
{
    int next = pct_pick(-1);
    pct_hand_to(next >= 0 ? next : PCT_TURN_FREE);
}

/* Waits until the turn is ours, passing it on if the thread holding it seems blocked. */
static void pct_wait_turn(int self)
{
    for (;;) {
        /* Waiting for the turn means ready to run: rejoin if a steal marked us blocked (also
         * when it did so while we were slow to wake up from a hand-off). */
        int mine = PCT_BLOCKED;
        atomic_compare_exchange_strong_explicit(&pct_state[self], &mine, PCT_RUNNABLE,
                                                memory_order_relaxed, memory_order_relaxed);
        int turn = atomic_load_explicit(&pct_turn, memory_order_relaxed);
        if (turn == self)
            return;
        if (turn == PCT_TURN_FREE && atomic_compare_exchange_strong_explicit(
                                         &pct_turn, &turn, self, memory_order_relaxed,
                                         memory_order_relaxed))
            return;
        uint64_t steps = atomic_load_explicit(&pct_step_count, memory_order_relaxed);
        struct timespec timeout = {0, STEAL_NS};
        long r = futex(&pct_turn, FUTEX_WAIT_PRIVATE, turn, &timeout);
        if (r == 0 || turn < 0)
            continue;
        if (atomic_load_explicit(&pct_turn, memory_order_relaxed) == turn &&
            atomic_load_explicit(&pct_step_count, memory_order_relaxed) == steps) {
            /* Mark the holder blocked first, so that no pick (ours or a later steal's) hands
             * the turn back to it while it sleeps; undo the mark if the steal does not happen. */
            int was = PCT_RUNNABLE;
            bool marked = atomic_compare_exchange_strong_explicit(
                &pct_state[turn], &was, PCT_BLOCKED, memory_order_relaxed, memory_order_relaxed);
            int next = pct_pick(turn);
            int expected = turn;
            if (next >= 0 && atomic_compare_exchange_strong_explicit(
                                 &pct_turn, &expected, next, memory_order_relaxed,
                                 memory_order_relaxed)) {
                atomic_fetch_add_explicit(&pct_steal_count, 1, memory_order_relaxed);
                futex(&pct_turn, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
            } else if (marked) {
                was = PCT_BLOCKED;
                atomic_compare_exchange_strong_explicit(&pct_state[turn], &was, PCT_RUNNABLE,
                                                        memory_order_relaxed,
                                                        memory_order_relaxed);
            }
        }
    }
}

void cask_stress__pct_configure(unsigned depth, unsigned window)
{
    pct_depth = depth < 1 ? 1 : depth > PCT_MAX_DEPTH ? PCT_MAX_DEPTH : depth;
    pct_window = window < 1 ? 1 : window;
}

void cask_stress__pct_begin(int threads, uint64_t seed)
{
    pct_threads = threads > PCT_MAX_THREADS ? PCT_MAX_THREADS : threads;
    atomic_store_explicit(&pct_rng, cask_stress__mix(seed ^ UINT64_C(0x706374)) | 1,
                          memory_order_relaxed);
    atomic_store_explicit(&pct_step_count, 0, memory_order_relaxed);
    atomic_store_explicit(&pct_steal_count, 0, memory_order_relaxed);
    for (int i = 0; i < pct_threads; i++)
        atomic_store_explicit(&pct_state[i], PCT_WAITING, memory_order_relaxed);
    pct_draw_window(0);
    atomic_store_explicit(&pct_turn, pct_pick(-1), memory_order_relaxed);
}

void cask_stress__pct_thread_start(int index)
{
    if (index >= pct_threads)
        return; /* beyond PCT_MAX_THREADS: runs uncontrolled */
    pct_self = index;
    atomic_store_explicit(&pct_state[index], PCT_RUNNABLE, memory_order_relaxed);
    pct_wait_turn(index);
}

void cask_stress__pct_thread_exit(int index)
{
    if (pct_self != index)
        return;
    pct_self = -1;
    atomic_store_explicit(&pct_state[index], PCT_DONE, memory_order_relaxed);
    if (atomic_load_explicit(&pct_turn, memory_order_relaxed) == index)
        pct_hand_on();
}

void cask_stress__pct_abandon(int index)
{
    if (index >= pct_threads)
        return;
    atomic_store_explicit(&pct_state[index], PCT_DONE, memory_order_relaxed);
    if (atomic_load_explicit(&pct_turn, memory_order_relaxed) == index)
        pct_hand_on();
}

void cask_stress__pct_end(void)
{
    atomic_store_explicit(&pct_turn, -1, memory_order_relaxed);
    pct_threads = 0;
}

void cask_stress__pct_point(const char *where)
{
    (void)where;
    int self = pct_self;
    if (self < 0)
        return; /* not a controlled thread (main, or a thread the scenario made itself) */
    if (atomic_load_explicit(&pct_turn, memory_order_relaxed) != self) {
        pct_wait_turn(self); /* we were stolen from while blocked: rejoin the schedule */
        return;
    }
    uint64_t step = atomic_fetch_add_explicit(&pct_step_count, 1, memory_order_relaxed) + 1;
    pct_my_step = step;
    if (step % pct_window == 0)
        pct_draw_window(step);
    for (unsigned i = 1; i < pct_depth; i++)
        if (atomic_load_explicit(&pct_change[i], memory_order_relaxed) == step)
            atomic_store_explicit(&pct_priority[self], (int)pct_depth - 1 - (int)i,
                                  memory_order_relaxed);
    int next = pct_pick(-1);
    if (next == self || next < 0)
        return;
    pct_hand_to(next);
    pct_wait_turn(self);
}

uint64_t cask_stress__pct_steps(void)
{
    return atomic_load_explicit(&pct_step_count, memory_order_relaxed);
}

uint64_t cask_stress__pct_my_step(void)
{
    return pct_my_step;
}

uint64_t cask_stress__pct_steals(void)
{
    return atomic_load_explicit(&pct_steal_count, memory_order_relaxed);
}
