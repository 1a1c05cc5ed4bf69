/*
 * queue_backoff_test.c: the queues' contention backoff (lib/internal/backoff.h).
 *   - the policy, on a made-up clock: two interleaved reservations closer than the window make
 *     the thread step aside, farther apart they do not; after a wait the grace operations never
 *     make it step aside; a reservation that is not interleaved never reads the clock;
 *   - a thread alone on a queue sees no interleaving and never waits, whatever the clock says;
 *   - two threads taking strict turns on one queue (push then pop each turn) both see their
 *     reservations interleave: the detection works on the real queue.
 * Nothing here asserts a duration: how much the backoff buys is measured by `./cask bench queue`.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cask/cask.h"
#include "expect.h"
#include "lib/internal/backoff.h"

#define ROUNDS 2000

static void test_policy(void)
{
    cask__backoff b;
    memset(&b, 0, sizeof(b));
    cask__backoff_interleaved_at(&b, 1000000);
    EXPECT(!b.due); /* the first interleaving has nothing to compare with */
    cask__backoff_interleaved_at(&b, 1000000 + CASK__BACKOFF_WINDOW_NS / 2);
    EXPECT(b.due);
    EXPECT_EQ(b.interleavings, 2);

    memset(&b, 0, sizeof(b));
    cask__backoff_interleaved_at(&b, 1000000);
    cask__backoff_interleaved_at(&b, 1000000 + 10 * CASK__BACKOFF_WINDOW_NS);
    EXPECT(!b.due); /* interleaved, but at a low rate */
}

/* The real state of this thread: grace after a wait, and reservations that do not interleave. */
static void test_grace_and_sequence(void)
{
    cask__backoff *b = &cask__backoff_state;
    static const char where;
    memset(b, 0, sizeof(*b));
    b->due = true;
    cask__backoff_maybe_wait();
    EXPECT(!b->due);
    EXPECT_EQ(b->waits, 1);
    EXPECT_EQ(b->grace, CASK__BACKOFF_GRACE);
    /* Every reservation interleaves (index jumps by 2), but the grace ones are not looked at. */
    for (unsigned i = 0; i < CASK__BACKOFF_GRACE; i++)
        cask__backoff_note(&b->push, &where, 2 * (uint64_t)i);
    EXPECT_EQ(b->interleavings, 0);
    cask__backoff_note(&b->push, &where, 2 * (uint64_t)CASK__BACKOFF_GRACE);
    EXPECT_EQ(b->interleavings, 1);
    /* Consecutive indices: no interleaving, however many. */
    for (uint64_t i = 1; i <= 1000; i++)
        cask__backoff_note(&b->pop, &where, i);
    EXPECT_EQ(b->interleavings, 1);
    memset(b, 0, sizeof(*b));
}

static void test_alone(void)
{
    cask_queue *q;
    EXPECT_EQ(cask_queue_create(&q), 0);
    memset(&cask__backoff_state, 0, sizeof(cask__backoff_state));
    void *x;
    for (uintptr_t i = 1; i <= 100000; i++) {
        EXPECT_EQ(cask_queue_push(q, (void *)i), 0);
        EXPECT_EQ(cask_queue_try_pop(q, &x), 0);
        EXPECT_EQ((uintptr_t)x, i);
    }
    EXPECT_EQ(cask__backoff_state.interleavings, 0);
    EXPECT_EQ(cask__backoff_state.waits, 0);
    cask_queue_destroy(q);
}

/* Two threads, strict turns: thread k acts when turn % 2 == k. */
static cask_queue *shared_queue;
static _Atomic unsigned turn;
static uint64_t seen_interleavings[2];

static void *taker(void *arg)
{
    unsigned k = (unsigned)(uintptr_t)arg;
    memset(&cask__backoff_state, 0, sizeof(cask__backoff_state));
    for (unsigned r = 0; r < ROUNDS; r++) {
        while (atomic_load_explicit(&turn, memory_order_acquire) != 2 * r + k) /* the release below */
            cask__pause();
        void *x;
        EXPECT_EQ(cask_queue_push(shared_queue, (void *)(uintptr_t)(2 * r + k + 1)), 0);
        EXPECT_EQ(cask_queue_try_pop(shared_queue, &x), 0);
        EXPECT_EQ((uintptr_t)x, 2 * r + k + 1);
        atomic_store_explicit(&turn, 2 * r + k + 1, memory_order_release); /* the loads above */
    }
    seen_interleavings[k] = cask__backoff_state.interleavings;
    return NULL;
}

static void test_turns(void)
{
    EXPECT_EQ(cask_queue_create(&shared_queue), 0);
    pthread_t t[2];
    for (uintptr_t k = 0; k < 2; k++)
        EXPECT_EQ(pthread_create(&t[k], NULL, taker, (void *)k), 0);
    for (int k = 0; k < 2; k++)
        EXPECT_EQ(pthread_join(t[k], NULL), 0);
    /* Each turn's push and pop follow the other thread's: all but the first of each thread's
     * reservations in a segment interleave; at worst 16 grace ones follow each pair. */
    for (int k = 0; k < 2; k++)
        EXPECT(seen_interleavings[k] >= ROUNDS / 8);
    cask_queue_destroy(shared_queue);
}

int main(void)
{
    test_policy();
    test_grace_and_sequence();
    test_alone();
    test_turns();
    puts("queue_backoff_test: ok");
    return 0;
}
