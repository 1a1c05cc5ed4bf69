/*
 * stress/internal.h: what the driver, the noise points and the PCT scheduler share. Private to
 * the harness; scenario authors use stress/harness.h.
 */
#ifndef CASK_STRESS_INTERNAL_H
#define CASK_STRESS_INTERNAL_H

#include <stdint.h>

#include "stress/harness.h"

/* splitmix64 finaliser: a well-mixed 64-bit value from any seed. */
uint64_t cask_stress__mix(uint64_t x);

/* Sets the noise mode and the random-mode percentages. Main thread, before workers start. */
void cask_stress__noise_configure(cask_noise_mode mode, unsigned spin_pct, unsigned yield_pct,
                                  unsigned sleep_permille);
cask_noise_mode cask_stress__noise_mode(void);

/* The noise of one point, without the stall check (noise.c): what cask_noise_point does after
 * cask_stress__stall_point has returned, and what a parked thread does while it waits. */
void cask_stress__noise(const char *where);

/* The stall (stall.c, stress/stall.h): parks the calling thread here if it is armed and this is
 * its point; returns at once otherwise. Called first by cask_noise_point. */
void cask_stress__stall_point(const char *where);
/* The noise point a thread is parked at now, or NULL: for the watchdog's hang report. */
const char *cask_stress__stall_where(void);

/* Seeds the calling thread's noise PRNG and cask_stress_rand from seed. */
void cask_stress__seed_thread(uint64_t seed);

/*
 * PCT scheduler (pct.c). configure: depth d (priority change points per window) and window k
 * (steps after which priorities and change points are drawn again). begin/end bracket one
 * cask_stress_run_threads call with `threads` controlled threads; each controlled thread calls
 * thread_start(index) before its body and thread_exit(index) after it.
 */
void cask_stress__pct_configure(unsigned depth, unsigned window);
/* The most threads PCT controls; the driver refuses --noise=pct with more. */
#define CASK_STRESS__PCT_MAX_THREADS 64
void cask_stress__pct_begin(int threads, uint64_t seed);
void cask_stress__pct_thread_start(int index);
void cask_stress__pct_thread_exit(int index);
void cask_stress__pct_end(void);
/* Marks a thread that will never start (pthread_create failed) as done. */
void cask_stress__pct_abandon(int index);
void cask_stress__pct_point(const char *where);
/* Steps taken and "steals" (a thread ran although not scheduled, because the scheduled one
 * blocked outside a noise point) in the last begin/end bracket. */
uint64_t cask_stress__pct_steps(void);
uint64_t cask_stress__pct_steals(void);
/* The last step the calling thread took: where a report found on this thread happened. */
uint64_t cask_stress__pct_my_step(void);

#endif
