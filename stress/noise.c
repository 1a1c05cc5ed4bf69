/*
 * noise.c: schedule noise for the stress build.
 *
 * cask_noise_point() is called at every CASK__NOISE / CASK_NOISE_POINT in code built with
 * CASK_STRESS=1. What it does depends on the mode the driver set before starting any worker:
 *   off     nothing;
 *   random  a per-thread seeded PRNG picks nothing, a short spin, sched_yield() or a short sleep,
 *           with tunable percentages (--noise=random:SPIN,YIELD,SLEEP);
 *   pct     see pct.c.
 * Before that, a thread armed by a lock-freedom scenario may park there (stall.c).
 *
 * The noise state of a thread is thread-local; the mode and the percentages are written by the
 * main thread before pthread_create, which orders them before every worker's reads. Nothing here
 * synchronises threads with each other, so noise cannot hide a race from ThreadSanitizer.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <time.h>

#include "stress/harness.h"
#include "stress/internal.h"

static cask_noise_mode noise_mode = CASK_NOISE_OFF;
static unsigned noise_spin_pct = 20, noise_yield_pct = 10, noise_sleep_permille = 5;

static _Thread_local uint64_t noise_state;     /* xoshiro-ish state; 0 = not yet seeded */
static _Thread_local uint64_t rand_state;      /* cask_stress_rand's state */

/* splitmix64: turns any seed (even 0 or consecutive ones) into a well-mixed 64-bit value. */
uint64_t cask_stress__mix(uint64_t x)
{
    x += UINT64_C(0x9E3779B97F4A7C15);
    x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
    return x ^ (x >> 31);
}

/* xorshift64*: small, fast, good enough for scheduling decisions and test data. */
static uint64_t next(uint64_t *s)
{
    if (*s == 0)
        *s = cask_stress__mix((uint64_t)(uintptr_t)s);
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * UINT64_C(0x2545F4914F6CDD1D);
}

void cask_stress__noise_configure(cask_noise_mode mode, unsigned spin_pct, unsigned yield_pct,
                                  unsigned sleep_permille)
{
    noise_mode = mode;
    noise_spin_pct = spin_pct;
    noise_yield_pct = yield_pct;
    noise_sleep_permille = sleep_permille;
}

cask_noise_mode cask_stress__noise_mode(void)
{
    return noise_mode;
}

void cask_stress__seed_thread(uint64_t seed)
{
    noise_state = cask_stress__mix(seed ^ UINT64_C(0x6E6F697365)) | 1;
    rand_state = cask_stress__mix(seed) | 1;
}

uint64_t cask_stress_rand(void)
{
    return next(&rand_state);
}

void cask_noise_point(const char *where)
{
    cask_stress__stall_point(where);
    cask_stress__noise(where);
}

void cask_stress__noise(const char *where)
{
    switch (noise_mode) {
    case CASK_NOISE_OFF:
        return;
    case CASK_NOISE_PCT:
        cask_stress__pct_point(where);
        return;
    case CASK_NOISE_RANDOM:
        break;
    }
    unsigned roll = (unsigned)(next(&noise_state) % 1000);
    if (roll < noise_sleep_permille) {
        struct timespec ts = {0, (long)(1000 + next(&noise_state) % 50000)}; /* 1..51 us */
        nanosleep(&ts, NULL);
    } else if (roll < noise_sleep_permille + 10 * noise_yield_pct) {
        sched_yield();
    } else if (roll < noise_sleep_permille + 10 * (noise_yield_pct + noise_spin_pct)) {
        unsigned spins = (unsigned)(next(&noise_state) % 512);
        for (volatile unsigned i = 0; i < spins; i++) { /* volatile: keeps the delay loop */
        }
    }
}
