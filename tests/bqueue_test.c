/*
 * bqueue_test.c: the promises of cask/bqueue.h.
 *   - capacity rounds up to a power of two; exactly `capacity` items fit, the next try_push is
 *     CASK_EFULL and changes nothing; FIFO order over many wrap-arounds of the rings;
 *   - close: pushes refused with CASK_ECLOSED and the reason readable; accepted items still
 *     popped in order, then CASK_ECLOSED; a push sleeping on a full queue and a pop sleeping on
 *     an empty one both wake on close; a closed full queue says CASK_ECLOSED, not CASK_EFULL,
 *     and refused pushes leave nothing behind;
 *   - timeouts: CASK_ETIMEDOUT on a full push and on an empty pop;
 *   - threads: 2 producers with blocking pushes into a small queue, 2 consumers with blocking
 *     pops; every item arrives exactly once and in per-producer order;
 *   - allocation failure at each allocation of create gives CASK_ENOMEM (weak cask__alloc).
 * Threads meet through barriers and joins, never through sleeps.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "cask/cask.h"
#include "expect.h"

#define ITEM(i) ((void *)(uintptr_t)((i) + 1))

static long alloc_calls, fail_at = -1;

void *cask__alloc(size_t align, size_t size)
{
    if (__atomic_fetch_add(&alloc_calls, 1, __ATOMIC_RELAXED) == fail_at)
        return NULL;
    return aligned_alloc(align, (size + align - 1) / align * align);
}

void cask__free(void *p)
{
    free(p);
}

static void single_thread(void)
{
    cask_bqueue *q = NULL;
    EXPECT_EQ(cask_bqueue_create(0, &q), CASK_EINVAL);
    EXPECT_EQ(cask_bqueue_create(5, NULL), CASK_EINVAL);
    EXPECT_EQ(cask_bqueue_create(5, &q), 0);
    EXPECT_EQ(cask_bqueue_capacity(q), 8);
    void *out;
    EXPECT_EQ(cask_bqueue_try_pop(q, &out), CASK_EEMPTY);
    EXPECT_EQ(cask_bqueue_try_push(q, NULL), CASK_EINVAL);
    for (int round = 0; round < 50; round++) { /* many wrap-arounds of both rings */
        for (int i = 0; i < 8; i++)
            EXPECT_EQ(cask_bqueue_try_push(q, ITEM(i + round)), 0);
        EXPECT_EQ(cask_bqueue_length(q), 8);
        EXPECT_EQ(cask_bqueue_try_push(q, ITEM(99)), CASK_EFULL);
        EXPECT_EQ(cask_bqueue_push(q, ITEM(99), 1000000), CASK_ETIMEDOUT);
        for (int i = 0; i < 8; i++) {
            EXPECT_EQ(cask_bqueue_try_pop(q, &out), 0);
            EXPECT(out == ITEM(i + round));
        }
        EXPECT_EQ(cask_bqueue_try_pop(q, &out), CASK_EEMPTY);
        EXPECT_EQ(cask_bqueue_pop(q, &out, 1000000), CASK_ETIMEDOUT);
        for (int i = 0; i < round % 7 + 1; i++) { /* and interleaved, at varying offsets */
            EXPECT_EQ(cask_bqueue_try_push(q, ITEM(i)), 0);
            EXPECT_EQ(cask_bqueue_try_pop(q, &out), 0);
            EXPECT(out == ITEM(i));
        }
    }
    /* The longest timeout there is: no overflow computing the deadline (UBSan in asan). */
    EXPECT_EQ(cask_bqueue_push(q, ITEM(5), INT64_MAX), 0);
    EXPECT_EQ(cask_bqueue_pop(q, &out, INT64_MAX), 0);
    EXPECT(out == ITEM(5));
    EXPECT_EQ(cask_bqueue_try_push(q, ITEM(1)), 0);
    EXPECT_EQ(cask_bqueue_try_push(q, ITEM(2)), 0);
    int reason = 0;
    EXPECT(!cask_bqueue_closed(q, &reason));
    EXPECT_EQ(cask_bqueue_close(q, -55), 0);
    EXPECT_EQ(cask_bqueue_close(q, -66), CASK_ECLOSED);
    EXPECT(cask_bqueue_closed(q, &reason));
    EXPECT_EQ(reason, -55);
    EXPECT_EQ(cask_bqueue_try_push(q, ITEM(3)), CASK_ECLOSED);
    EXPECT_EQ(cask_bqueue_push(q, ITEM(3), CASK_BQUEUE_FOREVER), CASK_ECLOSED);
    EXPECT_EQ(cask_bqueue_try_pop(q, &out), 0);
    EXPECT(out == ITEM(1));
    EXPECT_EQ(cask_bqueue_pop(q, &out, CASK_BQUEUE_FOREVER), 0);
    EXPECT(out == ITEM(2));
    EXPECT_EQ(cask_bqueue_try_pop(q, &out), CASK_ECLOSED);
    EXPECT_EQ(cask_bqueue_pop(q, &out, CASK_BQUEUE_FOREVER), CASK_ECLOSED);
    cask_bqueue_destroy(q);
    cask_bqueue_destroy(NULL);
}

/* A closed queue refuses with CASK_ECLOSED also when it is full (a push waiting for room would
 * otherwise wait for ever); refused pushes use up no capacity and leave nothing behind; a pop
 * after close returns the accepted items in order, then CASK_ECLOSED, however many pushes were
 * refused in between (each refused push claims a ring position past the close). */
static void close_full(void)
{
    cask_bqueue *q;
    EXPECT_EQ(cask_bqueue_create(4, &q), 0);
    for (int i = 0; i < 4; i++)
        EXPECT_EQ(cask_bqueue_try_push(q, ITEM(i)), 0);
    EXPECT_EQ(cask_bqueue_try_push(q, ITEM(9)), CASK_EFULL);
    EXPECT_EQ(cask_bqueue_close(q, 7), 0);
    EXPECT_EQ(cask_bqueue_try_push(q, ITEM(9)), CASK_ECLOSED);
    EXPECT_EQ(cask_bqueue_push(q, ITEM(9), CASK_BQUEUE_FOREVER), CASK_ECLOSED);
    void *out;
    EXPECT_EQ(cask_bqueue_try_pop(q, &out), 0);
    EXPECT(out == ITEM(0));
    EXPECT_EQ(cask_bqueue_length(q), 3);
    for (int i = 0; i < 100000; i++) /* room for one now: refused all the same */
        EXPECT_EQ(cask_bqueue_try_push(q, ITEM(9)), CASK_ECLOSED);
    EXPECT_EQ(cask_bqueue_length(q), 3);
    for (int i = 1; i < 4; i++) {
        EXPECT_EQ(cask_bqueue_pop(q, &out, CASK_BQUEUE_FOREVER), 0);
        EXPECT(out == ITEM(i));
    }
    for (int i = 0; i < 3; i++)
        EXPECT_EQ(cask_bqueue_try_pop(q, &out), CASK_ECLOSED);
    EXPECT_EQ(cask_bqueue_length(q), 0);
    int reason = 0;
    EXPECT(cask_bqueue_closed(q, &reason) && reason == 7);
    cask_bqueue_destroy(q);
}

static void alloc_failures(void)
{
    alloc_calls = 0;
    cask_bqueue *q;
    EXPECT_EQ(cask_bqueue_create(100, &q), 0);
    long total = alloc_calls;
    cask_bqueue_destroy(q);
    EXPECT(total >= 2);
    for (long n = 0; n < total; n++) {
        alloc_calls = 0;
        fail_at = n;
        q = (cask_bqueue *)0x1;
        EXPECT_EQ(cask_bqueue_create(100, &q), CASK_ENOMEM);
        EXPECT(q == (cask_bqueue *)0x1);
        fail_at = -1;
    }
}

#define PER_PRODUCER 50000
static cask_bqueue *shared;
static pthread_barrier_t start;
static _Atomic uint8_t seen[2][PER_PRODUCER];

static void *producer(void *arg)
{
    uintptr_t p = (uintptr_t)arg;
    pthread_barrier_wait(&start);
    for (uintptr_t s = 0; s < PER_PRODUCER; s++)
        EXPECT_EQ(cask_bqueue_push(shared, (void *)((p + 1) << 32 | s), CASK_BQUEUE_FOREVER), 0);
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    long last[2] = {-1, -1};
    pthread_barrier_wait(&start);
    for (;;) {
        void *x;
        int rc = cask_bqueue_pop(shared, &x, CASK_BQUEUE_FOREVER);
        if (rc == CASK_ECLOSED)
            return NULL;
        EXPECT_EQ(rc, 0);
        uintptr_t v = (uintptr_t)x;
        int p = (int)(v >> 32) - 1;
        long s = (long)(v & 0xffffffffu);
        EXPECT(p == 0 || p == 1);
        EXPECT(s > last[p]);
        last[p] = s;
        EXPECT_EQ(atomic_fetch_add_explicit(&seen[p][s], 1, memory_order_relaxed), 0);
    }
}

static void *sleeper(void *arg)
{
    void *x;
    pthread_barrier_wait(&start);
    if (arg != NULL) /* a producer on a full queue */
        EXPECT_EQ(cask_bqueue_push(shared, ITEM(7), CASK_BQUEUE_FOREVER), CASK_ECLOSED);
    else
        EXPECT_EQ(cask_bqueue_pop(shared, &x, CASK_BQUEUE_FOREVER), CASK_ECLOSED);
    return NULL;
}

static void threads(void)
{
    EXPECT_EQ(cask_bqueue_create(4, &shared), 0);
    pthread_barrier_init(&start, NULL, 4);
    pthread_t t[4];
    for (uintptr_t i = 0; i < 2; i++)
        EXPECT_EQ(pthread_create(&t[i], NULL, producer, (void *)i), 0);
    for (int i = 2; i < 4; i++)
        EXPECT_EQ(pthread_create(&t[i], NULL, consumer, NULL), 0);
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    EXPECT_EQ(cask_bqueue_close(shared, 0), 0);
    pthread_join(t[2], NULL);
    pthread_join(t[3], NULL);
    for (int p = 0; p < 2; p++)
        for (int s = 0; s < PER_PRODUCER; s++)
            EXPECT_EQ(atomic_load_explicit(&seen[p][s], memory_order_relaxed), 1);
    pthread_barrier_destroy(&start);
    cask_bqueue_destroy(shared);

    /* Sleepers on both ends wake on close: a full queue (for pushers) and an empty one. */
    for (int full = 0; full < 2; full++) {
        EXPECT_EQ(cask_bqueue_create(1, &shared), 0);
        if (full)
            EXPECT_EQ(cask_bqueue_try_push(shared, ITEM(0)), 0);
        pthread_barrier_init(&start, NULL, 3);
        for (int i = 0; i < 2; i++)
            EXPECT_EQ(pthread_create(&t[i], NULL, sleeper, full ? (void *)1 : NULL), 0);
        pthread_barrier_wait(&start);
        EXPECT_EQ(cask_bqueue_close(shared, 0), 0);
        pthread_join(t[0], NULL);
        pthread_join(t[1], NULL);
        pthread_barrier_destroy(&start);
        cask_bqueue_destroy(shared);
    }
}

int main(void)
{
    single_thread();
    close_full();
    alloc_failures();
    threads();
    return 0;
}
