/*
 * Private to cask: the futex calls and the eventcount that blocking queue operations sleep on.
 *
 * An eventcount lets a consumer sleep until "something may have changed" without a lost wake-up:
 *
 *   waiter: fetch_add(waiters, 1); s = load(seq); re-check the condition; if still false:
 *           futex_wait(seq, s); fetch_sub(waiters, 1)
 *   waker:  make the condition true (a seq_cst RMW); if load(waiters) != 0:
 *           fetch_add(seq, 1); futex_wake(seq, all)
 *
 * Why no wake-up is lost: the waker's RMW that makes the condition true, its load of `waiters`,
 * the waiter's increment of `waiters` and the waiter's re-check loads are all seq_cst, so they
 * lie in one total order. If the waker's load missed the increment, the load precedes it in that
 * order, so the waiter's re-check (later still) sees the condition true and does not sleep.
 * Otherwise the waker bumps `seq` after the waiter registered: either the waiter read `s` after
 * the bump (it re-checks and sees the condition) or futex_wait finds seq != s and returns at
 * once, or the waiter is already asleep in the kernel and the wake reaches it. Wakes go to all
 * sleepers: a thread that was woken but then times out still re-checks once before leaving, but
 * waking all costs nothing when nobody sleeps and avoids reasoning about a wake given to a
 * thread that is leaving anyway.
 *
 * The futex word is passed to the kernel as a plain pointer; the kernel only compares it.
 * ThreadSanitizer does not see futex calls as synchronisation, so nothing may rely on them for
 * happens-before: the data itself travels through the queue's own release/acquire atomics.
 */
#ifndef CASK_INTERNAL_FUTEX_H
#define CASK_INTERNAL_FUTEX_H

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* A sequence word and a waiter count, each on its own cache line. */
typedef struct cask__eventcount {
    _Alignas(64) _Atomic uint32_t seq;
    _Alignas(64) _Atomic uint32_t waiters;
} cask__eventcount;

/* Sleeps while *word == expected, at most rel (NULL: no limit). Spurious returns are allowed. */
static inline void cask__futex_wait(_Atomic uint32_t *word, uint32_t expected,
                                    const struct timespec *rel)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expected, rel, NULL, 0);
}

/* Wakes every thread sleeping on word. */
static inline void cask__futex_wake_all(_Atomic uint32_t *word)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Waker side, after the seq_cst RMW that made the condition true. */
static inline void cask__ec_notify(cask__eventcount *ec)
{
    /* Ordered after the caller's seq_cst RMW, against the waiter's increment (the Dekker pair
     * in the comment above). */
    if (atomic_load_explicit(&ec->waiters, memory_order_seq_cst) != 0) { /* prepare's add */
        /* A waiter that reads the new value in cask__ec_prepare is then ordered after this
         * waker's RMW that made the condition true, so its re-check sees it. */
        atomic_fetch_add_explicit(&ec->seq, 1, memory_order_seq_cst); /* prepare's seq load */
        cask__futex_wake_all(&ec->seq);
    }
}

/* Waiter side: register, and return the sequence value to sleep on. Re-check after this. */
static inline uint32_t cask__ec_prepare(cask__eventcount *ec)
{
    atomic_fetch_add_explicit(&ec->waiters, 1, memory_order_seq_cst); /* notify's load (Dekker) */
    /* Read after registering, in the same total order as the waker's bump. */
    return atomic_load_explicit(&ec->seq, memory_order_seq_cst); /* notify's bump */
}

/* Waiter side: unregister (after sleeping, or after the re-check found the condition true). */
static inline void cask__ec_cancel(cask__eventcount *ec)
{
    /* Relaxed: a stale non-zero count only costs a waker one needless futex call. */
    atomic_fetch_sub_explicit(&ec->waiters, 1, memory_order_relaxed);
}

/* Nanoseconds on CLOCK_MONOTONIC. */
static inline int64_t cask__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Sleeps on ec until its sequence leaves `seen`, or until deadline_ns (CLOCK_MONOTONIC; a
 * negative deadline means no limit). Returns false if the deadline has passed.
 */
static inline int cask__ec_wait(cask__eventcount *ec, uint32_t seen, int64_t deadline_ns)
{
    if (deadline_ns < 0) {
        cask__futex_wait(&ec->seq, seen, NULL);
        return 1;
    }
    int64_t left = deadline_ns - cask__now_ns();
    if (left <= 0)
        return 0;
    struct timespec rel = {.tv_sec = left / 1000000000, .tv_nsec = left % 1000000000};
    cask__futex_wait(&ec->seq, seen, &rel);
    return 1;
}

#endif /* CASK_INTERNAL_FUTEX_H */
