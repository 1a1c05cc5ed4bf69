/*
 * queue_threads_test.c: cask/queue.h across threads.
 *   - producers/consumers: 2 producers push tagged items, 2 consumers take them with blocking
 *     pops; after the producers are joined the main thread closes the queue; every consumer must
 *     end with CASK_ECLOSED, every item must arrive exactly once, and each consumer must see each
 *     producer's items in order;
 *   - close racing with push: producers push until refused while a consumer pops and a closer
 *     closes after a barrier; items accepted = items popped (none lost, none twice), and every
 *     refusal is CASK_ECLOSED with the closer's reason readable;
 *   - sleeping consumers wake on close: consumers block in pop with no timeout on an empty
 *     queue, the main thread closes it, and all of them return CASK_ECLOSED (a lost wake-up
 *     hangs here, and the test's timeout reports it).
 * Threads meet through pthread barriers and joins, never through sleeps.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "cask/cask.h"
#include "expect.h"

#define PRODUCERS 2
#define CONSUMERS 2
#define PER_PRODUCER 100000
#define TAG(p, s) ((void *)(uintptr_t)(((uint64_t)(p) + 1) << 40 | (uint64_t)(s)))
#define TAG_P(x) ((int)(((uintptr_t)(x) >> 40) - 1))
#define TAG_S(x) ((uint64_t)(uintptr_t)(x) & ((UINT64_C(1) << 40) - 1))

static cask_queue *queue;
static pthread_barrier_t start;
static _Atomic uint8_t seen[PRODUCERS][PER_PRODUCER];
static _Atomic long accepted_total, popped_total, refused_total;

static void *producer(void *arg)
{
    int p = (int)(intptr_t)arg;
    pthread_barrier_wait(&start);
    for (uint64_t s = 0; s < PER_PRODUCER; s++)
        EXPECT_EQ(cask_queue_push(queue, TAG(p, s)), 0);
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    int64_t last[PRODUCERS] = {-1, -1};
    pthread_barrier_wait(&start);
    for (;;) {
        void *x;
        int rc = cask_queue_pop(queue, &x, CASK_QUEUE_FOREVER);
        if (rc == CASK_ECLOSED)
            break;
        EXPECT_EQ(rc, 0);
        int p = TAG_P(x);
        uint64_t s = TAG_S(x);
        EXPECT(p >= 0 && p < PRODUCERS && s < PER_PRODUCER);
        EXPECT((int64_t)s > last[p]); /* per-producer FIFO */
        last[p] = (int64_t)s;
        EXPECT_EQ(atomic_fetch_add_explicit(&seen[p][s], 1, memory_order_relaxed), 0);
    }
    return NULL;
}

static void producers_consumers(void)
{
    EXPECT_EQ(cask_queue_create(&queue), 0);
    pthread_barrier_init(&start, NULL, PRODUCERS + CONSUMERS);
    pthread_t t[PRODUCERS + CONSUMERS];
    for (int i = 0; i < PRODUCERS; i++)
        EXPECT_EQ(pthread_create(&t[i], NULL, producer, (void *)(intptr_t)i), 0);
    for (int i = 0; i < CONSUMERS; i++)
        EXPECT_EQ(pthread_create(&t[PRODUCERS + i], NULL, consumer, NULL), 0);
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(t[i], NULL);
    EXPECT_EQ(cask_queue_close(queue, 0), 0);
    for (int i = 0; i < CONSUMERS; i++)
        pthread_join(t[PRODUCERS + i], NULL);
    for (int p = 0; p < PRODUCERS; p++)
        for (int s = 0; s < PER_PRODUCER; s++)
            EXPECT_EQ(atomic_load_explicit(&seen[p][s], memory_order_relaxed), 1);
    pthread_barrier_destroy(&start);
    cask_queue_destroy(queue);
}

static void *racing_producer(void *arg)
{
    (void)arg;
    long mine = 0;
    pthread_barrier_wait(&start);
    for (uintptr_t i = 1;; i++) {
        int rc = cask_queue_push(queue, (void *)i);
        if (rc == CASK_ECLOSED) {
            int reason = 0;
            EXPECT(cask_queue_closed(queue, &reason));
            EXPECT_EQ(reason, -99);
            atomic_fetch_add_explicit(&refused_total, 1, memory_order_relaxed);
            break;
        }
        EXPECT_EQ(rc, 0);
        mine++;
    }
    atomic_fetch_add_explicit(&accepted_total, mine, memory_order_relaxed);
    return NULL;
}

static void *racing_consumer(void *arg)
{
    (void)arg;
    long mine = 0;
    pthread_barrier_wait(&start);
    for (;;) {
        void *x;
        int rc = cask_queue_pop(queue, &x, CASK_QUEUE_FOREVER);
        if (rc == CASK_ECLOSED)
            break;
        EXPECT_EQ(rc, 0);
        mine++;
    }
    atomic_fetch_add_explicit(&popped_total, mine, memory_order_relaxed);
    return NULL;
}

static void *closer(void *arg)
{
    long spins = (long)(intptr_t)arg;
    pthread_barrier_wait(&start);
    /* Close after this thread has seen `spins` items go by (no sleep: a count). */
    while ((long)cask_queue_length(queue) < spins && !cask_queue_closed(queue, NULL))
        ;
    EXPECT_EQ(cask_queue_close(queue, -99), 0);
    return NULL;
}

static void close_races_push(void)
{
    for (int round = 0; round < 50; round++) {
        EXPECT_EQ(cask_queue_create(&queue), 0);
        atomic_store_explicit(&accepted_total, 0, memory_order_relaxed);
        atomic_store_explicit(&popped_total, 0, memory_order_relaxed);
        atomic_store_explicit(&refused_total, 0, memory_order_relaxed);
        pthread_barrier_init(&start, NULL, 4);
        pthread_t t[4];
        EXPECT_EQ(pthread_create(&t[0], NULL, racing_producer, NULL), 0);
        EXPECT_EQ(pthread_create(&t[1], NULL, racing_producer, NULL), 0);
        EXPECT_EQ(pthread_create(&t[2], NULL, racing_consumer, NULL), 0);
        EXPECT_EQ(pthread_create(&t[3], NULL, closer, (void *)(intptr_t)(round * 37 % 200)), 0);
        for (int i = 0; i < 4; i++)
            pthread_join(t[i], NULL);
        EXPECT_EQ(atomic_load_explicit(&refused_total, memory_order_relaxed), 2);
        EXPECT_EQ(atomic_load_explicit(&accepted_total, memory_order_relaxed),
                  atomic_load_explicit(&popped_total, memory_order_relaxed));
        pthread_barrier_destroy(&start);
        cask_queue_destroy(queue);
    }
}

static void *sleeper(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&start);
    void *x;
    EXPECT_EQ(cask_queue_pop(queue, &x, CASK_QUEUE_FOREVER), CASK_ECLOSED);
    return NULL;
}

static void close_wakes_sleepers(void)
{
    for (int round = 0; round < 20; round++) {
        EXPECT_EQ(cask_queue_create(&queue), 0);
        pthread_barrier_init(&start, NULL, 4);
        pthread_t t[3];
        for (int i = 0; i < 3; i++)
            EXPECT_EQ(pthread_create(&t[i], NULL, sleeper, NULL), 0);
        pthread_barrier_wait(&start);
        /* Some sleepers are asleep, some still spinning, some not yet started: all must wake. */
        EXPECT_EQ(cask_queue_close(queue, 0), 0);
        for (int i = 0; i < 3; i++)
            pthread_join(t[i], NULL);
        pthread_barrier_destroy(&start);
        cask_queue_destroy(queue);
    }
}

int main(void)
{
    producers_consumers();
    close_races_push();
    close_wakes_sleepers();
    cask_hp_drain(cask_hp_default_domain());
    return 0;
}
