/*
 * queue_alloc_fail_test.c: allocation failure returns CASK_ENOMEM and leaves the queue intact.
 *
 * The test defines cask__alloc (strong), which replaces the library's weak one
 * (lib/internal/alloc.h): it fails the n-th allocation. For every n up to the number of
 * allocations a scripted workload makes (create, pushes over several segment boundaries, pops,
 * close), the workload runs with the n-th allocation failing: the failing call must return
 * CASK_ENOMEM, and afterwards, with allocations working again, the queue must hold exactly the
 * items that were accepted, in order, and behave normally (push, pop, close).
 * The bounded queue's allocations (all in create) are failed one by one too (see bounded()).
 * The hazard-pointer record of the thread's first queue call is allocated through the same hook
 * (once per thread: whichever workload reaches it first sees that call fail with CASK_ENOMEM);
 * tests/hp_alloc_fail_test.c covers the hazard pointers' allocations on their own.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>

#include "cask/cask.h"
#include "expect.h"

static long alloc_calls; /* single-threaded test: plain counters */
static long fail_at = -1;

void *cask__alloc(size_t align, size_t size)
{
    if (alloc_calls++ == fail_at)
        return NULL;
    return aligned_alloc(align, (size + align - 1) / align * align);
}

void cask__free(void *p)
{
    free(p);
}

#define ITEM(i) ((void *)(uintptr_t)((i) + 1))
#define PUSHES (3 * CASK_QUEUE_SEGMENT + 2)

/* Returns true if an allocation failed somewhere (and was checked). */
static bool workload(long fail)
{
    alloc_calls = 0;
    fail_at = fail;
    cask_queue *q = (cask_queue *)0x1;
    int rc = cask_queue_create(&q);
    if (rc != 0) {
        EXPECT_EQ(rc, CASK_ENOMEM);
        EXPECT(q == (cask_queue *)0x1); /* untouched */
        fail_at = -1;
        return true;
    }
    bool failed = false;
    size_t accepted = 0, next_pop = 0;
    void *out;
    for (size_t i = 0; i < PUSHES; i++) {
        rc = cask_queue_push(q, ITEM(i));
        if (rc == CASK_ENOMEM) {
            failed = true;
            EXPECT_EQ(cask_queue_length(q), accepted - next_pop);
            fail_at = -1;
            /* The same item again: accepted now, in its place. */
            EXPECT_EQ(cask_queue_push(q, ITEM(i)), 0);
        } else {
            EXPECT_EQ(rc, 0);
        }
        accepted++;
        if (i % 3 == 2) { /* pops interleaved: head segments get retired too */
            EXPECT_EQ(cask_queue_try_pop(q, &out), 0);
            EXPECT(out == ITEM(next_pop));
            next_pop++;
        }
    }
    fail_at = -1;
    EXPECT_EQ(cask_queue_length(q), accepted - next_pop);
    EXPECT_EQ(cask_queue_close(q, -42), 0);
    EXPECT_EQ(cask_queue_push(q, ITEM(0)), CASK_ECLOSED);
    while (next_pop < accepted) {
        EXPECT_EQ(cask_queue_try_pop(q, &out), 0);
        EXPECT(out == ITEM(next_pop));
        next_pop++;
    }
    EXPECT_EQ(cask_queue_try_pop(q, &out), CASK_ECLOSED);
    cask_queue_destroy(q);
    return failed || fail < 2;
}

/*
 * The bounded queue allocates only in create (the queue, the item array, two rings): failing
 * each of those allocations must give CASK_ENOMEM with *out untouched and nothing leaked (the
 * asan build checks leaks). After a successful create, a full cycle of pushes and pops (and
 * close) allocates nothing at all.
 */
static void bounded(void)
{
    alloc_calls = 0;
    fail_at = -1;
    cask_bqueue *q;
    EXPECT_EQ(cask_bqueue_create(8, &q), 0);
    long total = alloc_calls;
    EXPECT(total >= 4);
    void *out;
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < 8; i++)
            EXPECT_EQ(cask_bqueue_try_push(q, ITEM(i)), 0);
        EXPECT_EQ(cask_bqueue_try_push(q, ITEM(8)), CASK_EFULL);
        for (size_t i = 0; i < 8; i++) {
            EXPECT_EQ(cask_bqueue_pop(q, &out, 0), 0);
            EXPECT(out == ITEM(i));
        }
    }
    EXPECT_EQ(cask_bqueue_close(q, 7), 0);
    EXPECT_EQ(cask_bqueue_try_pop(q, &out), CASK_ECLOSED);
    EXPECT_EQ(alloc_calls, total); /* no allocation after create */
    cask_bqueue_destroy(q);
    for (long n = 0; n < total; n++) {
        alloc_calls = 0;
        fail_at = n;
        q = (cask_bqueue *)0x1;
        EXPECT_EQ(cask_bqueue_create(8, &q), CASK_ENOMEM);
        EXPECT(q == (cask_bqueue *)0x1); /* untouched */
    }
    fail_at = -1;
}

int main(void)
{
    bounded();

    /* Warm the thread's hazard record so its malloc is not part of the count. */
    cask_queue *q;
    EXPECT_EQ(cask_queue_create(&q), 0);
    void *out;
    EXPECT_EQ(cask_queue_try_pop(q, &out), CASK_EEMPTY);
    cask_queue_destroy(q);

    workload(-1);
    long total = alloc_calls;
    EXPECT(total >= 4); /* queue, first segment, and a segment per boundary crossed */
    for (long n = 0; n < total; n++)
        EXPECT(workload(n));
    cask_hp_drain(cask_hp_default_domain());
    return 0;
}
