/*
 * queue_basic_test.c: the single-threaded promises of cask/queue.h.
 *   - FIFO order across many segments; try_pop on empty is CASK_EEMPTY; NULL items refused;
 *   - close: push refused with CASK_ECLOSED, items accepted before are still popped in order,
 *     then CASK_ECLOSED; the first reason wins; a second close says CASK_ECLOSED;
 *   - pop with a timeout returns CASK_ETIMEDOUT on an empty open queue and CASK_ECLOSED at once
 *     on a closed one;
 *   - cask_queue_length is exact when nothing runs concurrently;
 *   - memory returns to its baseline after a burst is drained (segments are retired and freed).
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>

#include "cask/cask.h"
#include "expect.h"

#define ITEM(i) ((void *)(uintptr_t)((i) + 1))

static void fifo_across_segments(void)
{
    cask_queue *q;
    EXPECT_EQ(cask_queue_create(&q), 0);
    void *out = NULL;
    EXPECT_EQ(cask_queue_try_pop(q, &out), CASK_EEMPTY);
    EXPECT_EQ(cask_queue_push(q, NULL), CASK_EINVAL);
    EXPECT_EQ(cask_queue_try_pop(q, NULL), CASK_EINVAL);
    const size_t n = 5 * CASK_QUEUE_SEGMENT + 7;
    for (size_t i = 0; i < n; i++) {
        EXPECT_EQ(cask_queue_push(q, ITEM(i)), 0);
        EXPECT_EQ(cask_queue_length(q), i + 1);
    }
    for (size_t i = 0; i < n; i++) {
        EXPECT_EQ(cask_queue_try_pop(q, &out), 0);
        EXPECT(out == ITEM(i));
        EXPECT_EQ(cask_queue_length(q), n - i - 1);
    }
    EXPECT_EQ(cask_queue_try_pop(q, &out), CASK_EEMPTY);
    /* Interleaved: the queue never holds more than two, over many segment boundaries. */
    for (size_t i = 0; i < 3 * CASK_QUEUE_SEGMENT; i++) {
        EXPECT_EQ(cask_queue_push(q, ITEM(2 * i)), 0);
        EXPECT_EQ(cask_queue_push(q, ITEM(2 * i + 1)), 0);
        EXPECT_EQ(cask_queue_try_pop(q, &out), 0);
        EXPECT(out == ITEM(2 * i));
        EXPECT_EQ(cask_queue_try_pop(q, &out), 0);
        EXPECT(out == ITEM(2 * i + 1));
    }
    cask_queue_destroy(q);
    cask_queue_destroy(NULL);
}

static void close_semantics(void)
{
    cask_queue *q;
    EXPECT_EQ(cask_queue_create(&q), 0);
    int reason = 12345;
    EXPECT(!cask_queue_closed(q, &reason));
    EXPECT_EQ(reason, 12345);
    const size_t n = CASK_QUEUE_SEGMENT + 3;
    for (size_t i = 0; i < n; i++)
        EXPECT_EQ(cask_queue_push(q, ITEM(i)), 0);
    EXPECT_EQ(cask_queue_close(q, CASK_ENOMEM), 0);
    EXPECT_EQ(cask_queue_close(q, -77), CASK_ECLOSED); /* the first reason stays */
    EXPECT(cask_queue_closed(q, &reason));
    EXPECT_EQ(reason, CASK_ENOMEM);
    EXPECT_EQ(cask_queue_push(q, ITEM(999)), CASK_ECLOSED);
    for (int i = 0; i < 10; i++) /* refused pushes reserve indices too: not items */
        EXPECT_EQ(cask_queue_push(q, ITEM(999)), CASK_ECLOSED);
    EXPECT_EQ(cask_queue_length(q), n); /* exact: nothing runs concurrently */
    void *out;
    for (size_t i = 0; i < n; i++) {
        EXPECT_EQ(cask_queue_try_pop(q, &out), 0);
        EXPECT(out == ITEM(i));
        EXPECT_EQ(cask_queue_length(q), n - i - 1);
    }
    EXPECT_EQ(cask_queue_try_pop(q, &out), CASK_ECLOSED);
    EXPECT_EQ(cask_queue_pop(q, &out, CASK_QUEUE_FOREVER), CASK_ECLOSED);
    EXPECT_EQ(cask_queue_push(q, ITEM(1000)), CASK_ECLOSED);
    cask_queue_destroy(q);

    /* Closing an empty queue, and closing exactly at a segment boundary, with reason 0. */
    for (size_t fill = 0; fill <= CASK_QUEUE_SEGMENT; fill += CASK_QUEUE_SEGMENT) {
        EXPECT_EQ(cask_queue_create(&q), 0);
        for (size_t i = 0; i < fill; i++)
            EXPECT_EQ(cask_queue_push(q, ITEM(i)), 0);
        EXPECT_EQ(cask_queue_close(q, 0), 0);
        EXPECT(cask_queue_closed(q, &reason));
        EXPECT_EQ(reason, 0);
        EXPECT_EQ(cask_queue_push(q, ITEM(5)), CASK_ECLOSED);
        for (size_t i = 0; i < fill; i++) {
            EXPECT_EQ(cask_queue_try_pop(q, &out), 0);
            EXPECT(out == ITEM(i));
        }
        EXPECT_EQ(cask_queue_try_pop(q, &out), CASK_ECLOSED);
        cask_queue_destroy(q);
    }
}

static void timeouts(void)
{
    cask_queue *q;
    EXPECT_EQ(cask_queue_create(&q), 0);
    void *out = NULL;
    EXPECT_EQ(cask_queue_pop(q, &out, -2), CASK_EINVAL);
    EXPECT_EQ(cask_queue_pop(q, &out, 0), CASK_ETIMEDOUT);
    EXPECT_EQ(cask_queue_pop(q, &out, 2000000), CASK_ETIMEDOUT); /* 2 ms */
    EXPECT_EQ(cask_queue_push(q, ITEM(7)), 0);
    EXPECT_EQ(cask_queue_pop(q, &out, CASK_QUEUE_FOREVER), 0);
    EXPECT(out == ITEM(7));
    /* The longest timeout there is: no overflow computing the deadline (UBSan in asan). */
    EXPECT_EQ(cask_queue_push(q, ITEM(8)), 0);
    EXPECT_EQ(cask_queue_pop(q, &out, INT64_MAX), 0);
    EXPECT(out == ITEM(8));
    cask_queue_destroy(q);
}

static void memory_returns(void)
{
    cask_queue *q;
    EXPECT_EQ(cask_queue_create(&q), 0);
    cask_hp_drain(cask_hp_default_domain());
    size_t before = mallinfo2().uordblks;
    const size_t n = 200 * CASK_QUEUE_SEGMENT;
    for (size_t i = 0; i < n; i++)
        EXPECT_EQ(cask_queue_push(q, ITEM(i)), 0);
    size_t full = mallinfo2().uordblks;
    void *out;
    for (size_t i = 0; i < n; i++)
        EXPECT_EQ(cask_queue_try_pop(q, &out), 0);
    cask_hp_drain(cask_hp_default_domain());
    size_t after = mallinfo2().uordblks;
    /* The drained queue keeps one segment (the last one); everything else is freed. Sanitizer
     * builds replace malloc and report 0 here, so only compare when the numbers are real. */
    if (full > before) {
        EXPECT(full - before >= 150 * CASK_QUEUE_SEGMENT * sizeof(void *));
        EXPECT(after <= before + 2 * (CASK_QUEUE_SEGMENT * sizeof(void *) + 512));
    }
    cask_queue_destroy(q);
}

int main(void)
{
    fifo_across_segments();
    close_semantics();
    timeouts();
    memory_returns();
    return 0;
}
