/*
 * queue_unique_test.c: the cheap checks, each bad pattern caught and each good history passed:
 *   - cask_check_queue_unique: a value dequeued but never enqueued, dequeued before its enqueue,
 *     dequeued twice, dequeued against FIFO order, left behind by a FIFO successor, and an EMPTY
 *     dequeue while a value was certainly queued; none of these on linearizable histories with
 *     heavy overlap; UNKNOWN for duplicate enqueues and truncated histories; no conclusion from
 *     "never dequeued" while a dequeue lacks its response; 200,000 operations in well under a
 *     second, and one swapped pair among them found;
 *   - conservation, duplicates and producer order on arrays.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <time.h>

#include "stress/check/check_test.h"

#define ENQ(t, v, a, b) test_op(h, t, CASK_OP_ENQUEUE, 0, v, a, b, 0, 0)
#define DEQ(t, v, a, b) test_op(h, t, CASK_OP_DEQUEUE, 0, 0, a, b, v, 0)
#define DEQ_EMPTY(t, a, b) test_op(h, t, CASK_OP_DEQUEUE, 0, 0, a, b, 0, CASK_EEMPTY)

static char why[4096];

static cask_lin_result qcheck(cask_history *h)
{
    cask_lin_result r = cask_check_queue_unique(h, why, sizeof(why));
    EXPECT(strlen(why) > 0);
    return r;
}

static void test_good(void)
{
    cask_history *h = test_history();
    ENQ(0, 1, 0, 10);
    ENQ(1, 2, 5, 15);   /* overlaps enq(1): either order */
    DEQ_EMPTY(2, 1, 4); /* overlaps enq(1) */
    DEQ(2, 2, 20, 30);
    DEQ(3, 1, 21, 31);  /* overlaps deq(2) */
    DEQ(1, 3, 40, 50);  /* overlaps its enqueue */
    ENQ(0, 3, 45, 55);
    DEQ_EMPTY(2, 60, 70);
    ENQ(0, 4, 80, 90);  /* still queued at the end */
    EXPECT_EQ(qcheck(h), CASK_LIN_OK);
    EXPECT_EQ(cask_lin_check(h, &cask_lin_model_queue, NULL, NULL, NULL, 0), CASK_LIN_OK);
    cask_history_destroy(h);
}

static void test_fresh(void)
{
    cask_history *h = test_history();
    ENQ(0, 1, 0, 10);
    DEQ(1, 2, 20, 30);
    EXPECT_EQ(qcheck(h), CASK_LIN_VIOLATION);
    EXPECT_HAS(why, "never enqueued");
    cask_history_destroy(h);

    h = test_history();
    DEQ(1, 1, 0, 10);
    ENQ(0, 1, 20, 30);
    EXPECT_EQ(qcheck(h), CASK_LIN_VIOLATION);
    EXPECT_HAS(why, "before its enqueue was invoked");
    cask_history_destroy(h);

    /* An enqueue that failed enqueued nothing. */
    h = test_history();
    test_op(h, 0, CASK_OP_ENQUEUE, 0, 1, 0, 10, 0, CASK_EFULL);
    DEQ(1, 1, 20, 30);
    EXPECT_EQ(qcheck(h), CASK_LIN_VIOLATION);
    cask_history_destroy(h);
}

static void test_repeat(void)
{
    cask_history *h = test_history();
    ENQ(0, 1, 0, 10);
    DEQ(1, 1, 20, 30);
    DEQ(2, 1, 25, 35);
    EXPECT_EQ(qcheck(h), CASK_LIN_VIOLATION);
    EXPECT_HAS(why, "dequeued twice");
    cask_history_destroy(h);
}

static void test_order(void)
{
    cask_history *h = test_history();
    ENQ(0, 1, 0, 10);
    ENQ(0, 2, 20, 30);
    DEQ(1, 2, 40, 50);
    DEQ(1, 1, 60, 70);
    EXPECT_EQ(qcheck(h), CASK_LIN_VIOLATION);
    EXPECT_HAS(why, "1 was enqueued before 2 but dequeued after it");
    cask_history_destroy(h);

    /* The same with overlapping dequeues is fine. */
    h = test_history();
    ENQ(0, 1, 0, 10);
    ENQ(0, 2, 20, 30);
    DEQ(1, 2, 40, 50);
    DEQ(2, 1, 45, 70);
    EXPECT_EQ(qcheck(h), CASK_LIN_OK);
    cask_history_destroy(h);

    /* 2 was dequeued, 1 (enqueued before it) never was. */
    h = test_history();
    ENQ(0, 1, 0, 10);
    ENQ(0, 2, 20, 30);
    DEQ(1, 2, 40, 50);
    EXPECT_EQ(qcheck(h), CASK_LIN_VIOLATION);
    EXPECT_HAS(why, "was never dequeued");
    /* ...unless a dequeue without a response may have taken 1. */
    test_pending(h, 2, CASK_OP_DEQUEUE, 0, 0, 35);
    EXPECT_EQ(qcheck(h), CASK_LIN_OK);
    EXPECT_HAS(why, "without a response");
    cask_history_destroy(h);
}

static void test_witness(void)
{
    cask_history *h = test_history();
    ENQ(0, 1, 0, 10);
    DEQ_EMPTY(1, 20, 30);
    DEQ(2, 1, 40, 50);
    EXPECT_EQ(qcheck(h), CASK_LIN_VIOLATION);
    EXPECT_HAS(why, "returned EMPTY while 1 was in the queue");
    cask_history_destroy(h);

    h = test_history(); /* never dequeued */
    ENQ(0, 1, 0, 10);
    DEQ_EMPTY(1, 20, 30);
    EXPECT_EQ(qcheck(h), CASK_LIN_VIOLATION);
    cask_history_destroy(h);

    h = test_history(); /* the dequeue of 1 overlaps the EMPTY one: 1 may be gone already */
    ENQ(0, 1, 0, 10);
    DEQ(2, 1, 15, 25);
    DEQ_EMPTY(1, 20, 30);
    EXPECT_EQ(qcheck(h), CASK_LIN_OK);
    cask_history_destroy(h);
}

static void test_not_applicable(void)
{
    cask_history *h = test_history();
    ENQ(0, 1, 0, 10);
    ENQ(1, 1, 20, 30);
    EXPECT_EQ(qcheck(h), CASK_LIN_UNKNOWN);
    EXPECT_HAS(why, "enqueued twice");
    cask_history_destroy(h);

    EXPECT(cask_history_create(2, 2, &h) == 0);
    ENQ(0, 1, 0, 10);
    DEQ(1, 1, 20, 30);
    ENQ(0, 2, 40, 50);
    EXPECT_EQ(cask_history_append(h, &(cask_op){.invoke_ns = 60, .thread = 0}), CASK_EFULL);
    EXPECT_EQ(qcheck(h), CASK_LIN_UNKNOWN);
    EXPECT_HAS(why, "truncated");
    DEQ(1, 1, 52, 58); /* a second dequeue of 1, before the cut */
    EXPECT_EQ(qcheck(h), CASK_LIN_VIOLATION);
    cask_history_destroy(h);

    EXPECT_EQ(cask_check_queue_unique(NULL, why, sizeof(why)), CASK_LIN_UNKNOWN);
}

/* A long FIFO history: value i enqueued at [4i, 4i+6] (overlapping its neighbours), dequeued
 * at [4i+100, 4i+106]. */
static void test_long(void)
{
    enum { N = 100000 };
    cask_history *h = NULL;
    EXPECT(cask_history_create(2, N, &h) == 0);
    for (int pass = 0; pass < 2; pass++) {
        cask_history_reset(h);
        for (uint64_t i = 0; i < N; i++) {
            uint64_t v = i;
            if (pass == 1 && (i == 5000 || i == 5010)) /* swap two non-overlapping values */
                v = i == 5000 ? 5010 : 5000;
            test_op(h, 0, CASK_OP_ENQUEUE, 0, i, 4 * i, 4 * i + 6, 0, 0);
            test_op(h, 1, CASK_OP_DEQUEUE, 0, 0, 4 * i + 100, 4 * i + 106, v, 0);
        }
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        cask_lin_result r = qcheck(h);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
        printf("queue_unique on %d operations: %s in %.3f s\n", 2 * N,
               r == CASK_LIN_OK ? "OK" : "VIOLATION", secs);
        EXPECT_EQ(r, pass == 0 ? CASK_LIN_OK : CASK_LIN_VIOLATION);
        EXPECT(secs < 5.0); /* O(n log n): a few tens of ms normally, slower under sanitizers */
    }
    EXPECT_HAS(why, "FIFO order");
    cask_history_destroy(h);
}

static void test_conservation(void)
{
    const uint64_t put[] = {1, 2, 3, 3, 4};
    const uint64_t taken[] = {3, 1, 4};
    const uint64_t rest[] = {2, 3};
    EXPECT_EQ(cask_check_conservation(put, 5, taken, 3, rest, 2, why, sizeof(why)), CASK_LIN_OK);
    EXPECT_EQ(cask_check_conservation(put, 5, taken, 3, rest, 1, why, sizeof(why)),
              CASK_LIN_VIOLATION);
    EXPECT_HAS(why, "value 3: put 2 times, taken 1, remaining 0 (lost)");
    const uint64_t taken_twice[] = {3, 1, 4, 4};
    EXPECT_EQ(cask_check_conservation(put, 5, taken_twice, 4, rest, 2, why, sizeof(why)),
              CASK_LIN_VIOLATION);
    EXPECT_HAS(why, "value 4");
    EXPECT_HAS(why, "duplicated");
    const uint64_t invented[] = {3, 1, 4, 9};
    EXPECT_EQ(cask_check_conservation(put, 5, invented, 4, rest, 2, why, sizeof(why)),
              CASK_LIN_VIOLATION);
    EXPECT_HAS(why, "invented");
    EXPECT_EQ(cask_check_conservation(NULL, 0, NULL, 0, NULL, 0, why, sizeof(why)), CASK_LIN_OK);
    EXPECT_EQ(cask_check_conservation(NULL, 1, NULL, 0, NULL, 0, why, sizeof(why)),
              CASK_LIN_UNKNOWN);
}

static void test_duplicates(void)
{
    const uint64_t v[] = {5, 1, 7, 1};
    EXPECT_EQ(cask_check_no_duplicates(v, 3, why, sizeof(why)), CASK_LIN_OK);
    EXPECT_EQ(cask_check_no_duplicates(v, 4, why, sizeof(why)), CASK_LIN_VIOLATION);
    EXPECT_HAS(why, "value 1 occurs at positions 1 and 3");
    EXPECT_EQ(cask_check_no_duplicates(NULL, 2, why, sizeof(why)), CASK_LIN_UNKNOWN);
}

static void test_producer_order(void)
{
    EXPECT_EQ(cask_check_tag_producer(cask_check_tag(77, 12345)), 77);
    EXPECT_EQ(cask_check_tag_seq(cask_check_tag(77, 12345)), 12345);
    /* one consumer's view: producers interleave, each in order (gaps are fine) */
    uint64_t seen[] = {cask_check_tag(1, 0), cask_check_tag(2, 0), cask_check_tag(1, 1),
                       cask_check_tag(2, 5), cask_check_tag(1, 9), cask_check_tag(3, 0)};
    EXPECT_EQ(cask_check_producer_order(seen, 6, why, sizeof(why)), CASK_LIN_OK);
    EXPECT_HAS(why, "6 items from 3 producers");
    seen[4] = cask_check_tag(1, 1); /* producer 1's item 1 again */
    EXPECT_EQ(cask_check_producer_order(seen, 6, why, sizeof(why)), CASK_LIN_VIOLATION);
    seen[4] = cask_check_tag(2, 3); /* producer 2 goes back from 5 to 3 */
    EXPECT_EQ(cask_check_producer_order(seen, 6, why, sizeof(why)), CASK_LIN_VIOLATION);
    EXPECT_HAS(why, "producer 2's item 3 was taken at position 4, after its item 5 at position 3");
}

int main(void)
{
    test_good();
    test_fresh();
    test_repeat();
    test_order();
    test_witness();
    test_not_applicable();
    test_long();
    test_conservation();
    test_duplicates();
    test_producer_order();
    printf("queue_unique_test: all passed\n");
    return 0;
}
