/*
 * stall.c: the parked thread of the lock-freedom scenarios (stress/stall.h), at the start of
 * cask_noise_point.
 */
#include "stress/stall.h"

#include <sched.h>
#include <stddef.h>
#include <string.h>

#include "stress/harness.h"
#include "stress/internal.h"

/* The calling thread's arming (thread-local: only it reads them). */
static _Thread_local int stall_countdown; /* >0: park at the countdown-th matching point */
static _Thread_local const char *stall_prefix;
static _Thread_local size_t stall_prefix_len;
static _Thread_local const _Atomic int *stall_release;
static _Thread_local int stall_target;

static _Atomic bool stall_paused;       /* relaxed: control only */
static const char *_Atomic stall_where; /* the point of the pause, for the hang report */

void cask_stress_stall_reset(void)
{
    atomic_store_explicit(&stall_paused, false, memory_order_relaxed);
}

void cask_stress_stall_arm(const char *prefix, int countdown, const _Atomic int *release,
                           int target)
{
    stall_prefix = prefix;
    stall_prefix_len = strlen(prefix);
    stall_release = release;
    stall_target = target;
    stall_countdown = countdown;
}

bool cask_stress_stall_pending(void)
{
    return stall_countdown > 0;
}

void cask_stress_stall_disarm(void)
{
    stall_countdown = 0;
}

bool cask_stress_stall_paused(void)
{
    return atomic_load_explicit(&stall_paused, memory_order_relaxed);
}

bool cask_stress_stall_wait(cask_stress_run *run, _Atomic int *release)
{
    while (!cask_stress_stall_paused()) {
        if (cask_stress_should_stop(run)) {
            atomic_fetch_add_explicit(release, 1, memory_order_relaxed);
            return false;
        }
        cask_noise_point("stall.wait");
        sched_yield();
    }
    return true;
}

const char *cask_stress__stall_where(void)
{
    return atomic_load_explicit(&stall_paused, memory_order_relaxed)
               ? atomic_load_explicit(&stall_where, memory_order_relaxed)
               : NULL;
}

void cask_stress__stall_point(const char *where)
{
    if (stall_countdown <= 0 || strncmp(where, stall_prefix, stall_prefix_len) != 0 ||
        --stall_countdown > 0)
        return;
    atomic_store_explicit(&stall_where, where, memory_order_relaxed);
    atomic_store_explicit(&stall_paused, true, memory_order_relaxed);
    /* Parked for as long as the scenario says, with no time limit: the others' progress cannot
     * come from this thread moving on. */
    while (atomic_load_explicit(stall_release, memory_order_relaxed) < stall_target) {
        cask_stress__noise(where);
        sched_yield();
    }
    atomic_store_explicit(&stall_paused, false, memory_order_relaxed);
}
