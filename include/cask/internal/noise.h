/*
 * Private to cask: the schedule-noise point.
 *
 * CASK__NOISE(where) marks a step boundary inside a lock-free algorithm: before and after each
 * atomic read-modify-write, between loading a pointer and re-validating its hazard, at each
 * linearization point. In normal and opt builds it compiles to nothing at all. In the stress
 * build (-DCASK_STRESS=1, the //:cask_stress target) it calls cask_noise_point(), which the stress
 * harness provides: it may spin, yield, sleep or hand the CPU to another thread, so that rare
 * interleavings become common. `where` is a static string naming the step ("hp.protect.validate").
 *
 * Not part of the API: user code that wants noise points uses the harness's public header.
 */
#ifndef CASK_INTERNAL_NOISE_H
#define CASK_INTERNAL_NOISE_H

#if defined(CASK_STRESS) && CASK_STRESS
void cask_noise_point(const char *where);
#define CASK__NOISE(where) cask_noise_point(where)
#else
#define CASK__NOISE(where) ((void)0)
#endif

#endif /* CASK_INTERNAL_NOISE_H */
