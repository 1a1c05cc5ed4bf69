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
 * The pause happens at the start of cask_noise_point, in the armed thread only; every other
 * call goes on as before. While parked, the thread keeps taking its noise steps, so that a PCT
 * scheduler hands the turn to the others instead of waiting for a steal. If the round hangs,
 * the watchdog's report names the point the thread is parked at.
 *
 * Use, in a scenario's worker (see stress/map_stress.c, map.stall, or the example in
 * stress/examples/ring_queue_stress.c): thread 0 arms itself and runs operations while
 * cask_stress_stall_pending(); the others call cask_stress_stall_wait, run their operations,
 * and count themselves done in the counter thread 0 is released by. Put the names of
 * your structure's noise points under one prefix ("ring.", "map.") to choose where to park.
 *
 * Context: one scenario at a time (the stress program runs scenarios one after another); at most
 * one thread parked at a time. Control state only: relaxed atomics, the structure's own atomics
 * order the data.
 */
#ifndef CASK_STRESS_STALL_H
#define CASK_STRESS_STALL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "stress/harness.h"

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

/* For the other workers of the round: waits (passing noise points, yielding) until a thread is
 * parked, and returns true. If the run stops first (a failure, the time budget) it counts the
 * caller done in *release, so that the armed thread does not stay parked for ever when it gets
 * to its point, and returns false: the caller then skips its operations. */
bool cask_stress_stall_wait(cask_stress_run *run, _Atomic int *release);

#endif
