/*
 * stress/stall.h: park one thread inside an operation of the structure under test, for the
 * lock-freedom scenarios (queue.stall, queue.bounded_stall, map.stall, vec.stall).
 *
 * Lock-freedom says: however the threads are scheduled, some operation completes. The harshest
 * schedule for one thread is "never again": a thread preempted inside an operation (after a
 * reservation, holding a claimed chunk of work, between two CASes) and not run until the others
 * are done. These calls build exactly that schedule. The parking thread arms itself with a
 * prefix of noise point names and a countdown; at the countdown-th noise point whose name starts
 * with the prefix, it parks until a counter the scenario owns reaches a target (typically "every
 * other thread finished its operations"). Nothing is timed: if the others cannot finish without
 * the parked thread, the round never ends and the harness's watchdog reports the hang.
 *
 * The pause comes from a wrapper of cask_noise_point (the stress program links with
 * -Wl,--wrap=cask_noise_point); it passes every other call through unchanged. While parked, the
 * thread keeps passing through the real noise point, so that a PCT scheduler hands the turn to
 * the others instead of waiting for a steal.
 *
 * Context: one scenario at a time (the stress program runs scenarios one after another); at most
 * one thread parked at a time. Control state only: relaxed atomics, the structure's own atomics
 * order the data.
 */
#ifndef CASK_STRESS_STALL_H
#define CASK_STRESS_STALL_H

#include <stdatomic.h>
#include <stdbool.h>

/* Before a round: nobody is parked. Call from the thread that starts the workers. */
void cask_stress_stall_reset(void);

/* Arms the calling thread: it parks at the countdown-th (countdown >= 1) noise point whose name
 * starts with prefix (a string that outlives the round), and stays there until
 * *release >= target. */
void cask_stress_stall_arm(const char *prefix, int countdown, const _Atomic int *release,
                           int target);

/* True while the calling thread is armed and has not reached its point yet. */
bool cask_stress_stall_pending(void);

/* Disarms the calling thread (a no-op once it has parked and moved on). */
void cask_stress_stall_disarm(void);

/* True while some thread is parked. */
bool cask_stress_stall_paused(void);

#endif
