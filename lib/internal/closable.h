/*
 * Private to cask: what the two queues (lib/queue.c, lib/bqueue.c) share about closing and
 * sleeping: the close-reason word, and the wait loop of their blocking calls.
 *
 * The reason word is 0 while open, else (1 << 32) | (uint32_t)reason. The first close wins it
 * with one compare-and-swap, so the reason is fixed before the queue refuses anything; later
 * closes and cask_*_closed read the winner's value.
 *
 * The wait loop: call `attempt` (a try-push or try-pop); while it says `again` (full or empty),
 * spin CASK__WAIT_SPINS more tries (before each of the first CASK__EMPTY_PAUSES of them, the
 * empty-poll pause of lib/internal/backoff.h, so that a waiting consumer does not pull the
 * producer's lines before every push, nor a waiting producer the consumer's; none that would
 * end past the deadline), then sleep on an eventcount (lib/internal/futex.h): register,
 * re-check with `attempt`, sleep, unregister, try again. No wake-up is lost as long as whatever
 * makes `attempt` succeed is a seq_cst write (an RMW, or close's store of its flag) followed by
 * cask__ec_notify on the same eventcount, and `attempt` reads it seq_cst (the futex.h argument:
 * all of it in one total order). A deadline that passes while `attempt` still says `again` ends the loop
 * with CASK_ETIMEDOUT, after one last try.
 */
#ifndef CASK_INTERNAL_CLOSABLE_H
#define CASK_INTERNAL_CLOSABLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cask/cask.h"
#include "cask/internal/noise.h"
#include "backoff.h"
#include "futex.h"

#define CASK__WAIT_SPINS 64 /* tries before a blocking call sleeps */

/* Fixes the reason if the word is still open. Returns 0 if this call won, CASK_ECLOSED if an
 * earlier close did (its reason is kept). */
static inline int cask__close_claim(_Atomic uint64_t *word, int reason)
{
    uint64_t open = 0;
    uint64_t closed = (UINT64_C(1) << 32) | (uint32_t)reason;
    /* The closer's earlier writes and the reason travel with this CAS. */
    bool won = atomic_compare_exchange_strong_explicit(
        word, &open, closed,
        memory_order_seq_cst,  /* pairs with cask__close_read's acquire load; seq_cst: a
                                * bounded pop's check of the word is in the eventcount order */
        memory_order_acquire); /* acquire: pairs with the winning closer's CAS */
    return won ? 0 : CASK_ECLOSED;
}

/* True if the word says closed; then *reason (if not NULL) gets the winner's reason. */
static inline bool cask__close_read(const _Atomic uint64_t *word, int *reason)
{
    _Atomic uint64_t *cell = (_Atomic uint64_t *)word;
    uint64_t w = atomic_load_explicit(cell, memory_order_acquire); /* acquire: pairs with cask__close_claim */
    if (w == 0)
        return false;
    if (reason != NULL)
        *reason = (int)(uint32_t)w;
    return true;
}

/*
 * The blocking loop described above. timeout_ns: -1 no limit, 0 one try (no spin, no sleep; an
 * `again` answer becomes CASK_ETIMEDOUT), else nanoseconds. Returns what `attempt` returned last,
 * or CASK_ETIMEDOUT. sleep_point names the noise point just before sleeping.
 */
static inline int cask__wait_for(cask__eventcount *ec, int again, int64_t timeout_ns,
                                 int (*attempt)(void *), void *ctx, const char *sleep_point)
{
    int64_t deadline = -1; /* no limit; also for a timeout past what the clock can count */
    if (timeout_ns > 0) {
        int64_t now = cask__now_ns();
        if (timeout_ns <= INT64_MAX - now)
            deadline = now + timeout_ns;
    }
    int rc = attempt(ctx);
    if (rc == again && timeout_ns == 0)
        return CASK_ETIMEDOUT; /* one try: no spin, no registration, no sleep */
    for (int n = 0; rc == again && n < CASK__WAIT_SPINS; n++) {
        cask__backoff_spin_pause((unsigned)n, deadline); /* first few: leave the other's lines */
        rc = attempt(ctx);
    }
    while (rc == again) {
        uint32_t seen = cask__ec_prepare(ec);
        rc = attempt(ctx); /* the re-check after registering */
        if (rc != again) {
            cask__ec_cancel(ec);
            break;
        }
        CASK__NOISE(sleep_point);
        int in_time = cask__ec_wait(ec, seen, deadline);
        cask__ec_cancel(ec);
        rc = attempt(ctx);
        if (rc == again && !in_time)
            rc = CASK_ETIMEDOUT;
    }
    (void)sleep_point; /* unused when noise points compile to nothing */
    return rc;
}

#endif /* CASK_INTERNAL_CLOSABLE_H */
