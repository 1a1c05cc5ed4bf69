/*
 * lincheck_test.c: the exact checker on hand-written histories, one promise per test:
 *   - linearizable histories pass, including overlapping operations that only linearize in an
 *     order different from their invocation order, and operations that never responded;
 *   - non-linearizable ones are rejected, with an explanation that names the culprit: a stale
 *     register read, a lost enqueue, an out-of-order dequeue, a duplicated dequeue, a map lookup
 *     that misses a completed insert, a vector read past a completed push;
 *   - the map is checked per key (one part per key, and the failing key is named);
 *   - a spent step or memory budget gives UNKNOWN, never OK;
 *   - a truncated history is never OK, but a violation before the cut is still found;
 *   - bad arguments and unknown operation kinds give UNKNOWN with the error code;
 *   - a user-defined model plugs in;
 *   - explanations never overflow the caller's buffer.
 * Stamps are small integers: only their order matters.
 */
#include <stdint.h>

#include "stress/check/check_test.h"

#define WRITE(t, v, a, b) test_op(h, t, CASK_OP_WRITE, 0, v, a, b, 0, 0)
#define READ(t, v, a, b) test_op(h, t, CASK_OP_READ, 0, 0, a, b, v, 0)
#define ENQ(t, v, a, b) test_op(h, t, CASK_OP_ENQUEUE, 0, v, a, b, 0, 0)
#define DEQ(t, v, a, b) test_op(h, t, CASK_OP_DEQUEUE, 0, 0, a, b, v, 0)
#define DEQ_EMPTY(t, a, b) test_op(h, t, CASK_OP_DEQUEUE, 0, 0, a, b, 0, CASK_EEMPTY)

static char why[8192];

/* check - runs the exact checker with default limits; the explanation lands in why. */
static cask_lin_result check(cask_history *h, const cask_lin_model *m, cask_lin_stats *st)
{
    cask_lin_result r = cask_lin_check(h, m, NULL, st, why, sizeof(why));
    EXPECT(strlen(why) > 0);
    return r;
}

static void test_register_linearizable(void)
{
    cask_history *h = test_history();
    WRITE(0, 1, 0, 10);
    READ(1, 1, 1, 2);    /* inside the write: the write takes effect first */
    READ(2, 0, 1, 3);    /* overlaps that read and the write: takes effect before both */
    READ(3, 5, 20, 100); /* invoked before write(5) but sees it: needs reordering */
    WRITE(0, 5, 30, 40);
    READ(1, 5, 50, 60);
    EXPECT_EQ(check(h, &cask_lin_model_register, NULL), CASK_LIN_OK);
    EXPECT_HAS(why, "OK");
    cask_history_destroy(h);
}

static void test_register_stale_read(void)
{
    cask_history *h = test_history();
    WRITE(0, 1, 0, 10);
    WRITE(0, 2, 20, 30);
    READ(1, 1, 40, 50); /* both writes completed before: must read 2 */
    EXPECT_EQ(check(h, &cask_lin_model_register, NULL), CASK_LIN_VIOLATION);
    EXPECT_HAS(why, "VIOLATION (model register");
    EXPECT_HAS(why, "t1#0 read() -> 1");
    EXPECT_HAS(why, "value 2"); /* the state at the dead end */
    cask_history_destroy(h);
}

static void test_register_pending(void)
{
    /* A write that never responded may have taken effect... */
    cask_history *h = test_history();
    test_pending(h, 0, CASK_OP_WRITE, 0, 7, 0);
    READ(1, 0, 10, 20);
    READ(1, 7, 30, 40);
    EXPECT_EQ(check(h, &cask_lin_model_register, NULL), CASK_LIN_OK);
    cask_history_destroy(h);
    /* ...or not, but once seen it cannot be unseen. */
    h = test_history();
    test_pending(h, 0, CASK_OP_WRITE, 0, 7, 0);
    READ(1, 7, 10, 20);
    READ(1, 0, 30, 40);
    EXPECT_EQ(check(h, &cask_lin_model_register, NULL), CASK_LIN_VIOLATION);
    cask_history_destroy(h);
}

static void test_queue_linearizable(void)
{
    cask_history *h = test_history();
    ENQ(0, 1, 0, 10);
    ENQ(1, 2, 5, 15); /* overlaps enq(1); the dequeues say it went first */
    DEQ_EMPTY(3, 1, 4); /* overlaps enq(1) only: may go before it */
    DEQ(2, 2, 20, 30);
    DEQ(2, 1, 31, 40);
    DEQ_EMPTY(2, 50, 60);
    ENQ(0, 3, 70, 80);
    DEQ(1, 3, 75, 76); /* dequeued while its enqueue is still running: fine */
    EXPECT_EQ(check(h, &cask_lin_model_queue, NULL), CASK_LIN_OK);
    cask_history_destroy(h);
    /* Stamps that touch count as overlapping: deq -> 1 may take effect at 30, before deq -> 2. */
    h = test_history();
    ENQ(0, 1, 0, 10);
    ENQ(0, 2, 11, 19);
    DEQ(1, 2, 20, 30);
    DEQ(2, 1, 30, 40);
    EXPECT_EQ(check(h, &cask_lin_model_queue, NULL), CASK_LIN_OK);
    cask_history_destroy(h);
}

static void test_queue_lost_enqueue(void)
{
    cask_history *h = test_history();
    ENQ(0, 1, 0, 10);
    DEQ_EMPTY(1, 20, 30);
    EXPECT_EQ(check(h, &cask_lin_model_queue, NULL), CASK_LIN_VIOLATION);
    EXPECT_HAS(why, "t1#0 dequeue() -> EMPTY");
    EXPECT_HAS(why, "t0#0 enqueue(1)");
    EXPECT_HAS(why, "length 1 [1]");
    cask_history_destroy(h);
}

static void test_queue_out_of_order(void)
{
    cask_history *h = test_history();
    ENQ(0, 1, 0, 10);
    ENQ(0, 2, 20, 30);
    DEQ(1, 2, 40, 50);
    DEQ(1, 1, 60, 70);
    EXPECT_EQ(check(h, &cask_lin_model_queue, NULL), CASK_LIN_VIOLATION);
    EXPECT_HAS(why, "enqueue(2)"); /* rejected behind 1: 2's dequeue came first */
    cask_history_destroy(h);
    /* The same with repeated values (no early rejection): found at the dequeue. */
    h = test_history();
    ENQ(0, 1, 0, 10);
    ENQ(0, 2, 20, 30);
    ENQ(0, 2, 31, 35);
    DEQ(1, 2, 40, 50);
    EXPECT_EQ(check(h, &cask_lin_model_queue, NULL), CASK_LIN_VIOLATION);
    EXPECT_HAS(why, "dequeue() -> 2");
    cask_history_destroy(h);
}

static void test_queue_duplicated_dequeue(void)
{
    /* Two overlapping dequeues both took the one value. */
    cask_history *h = test_history();
    ENQ(0, 1, 0, 10);
    DEQ(1, 1, 20, 30);
    DEQ(2, 1, 21, 31);
    EXPECT_EQ(check(h, &cask_lin_model_queue, NULL), CASK_LIN_VIOLATION);
    cask_history_destroy(h);
}

static void test_map_per_key(void)
{
    cask_history *h = test_history();
    cask_lin_stats st;
    /* key 1: insert, a losing concurrent insert, lookup, remove, lookup, put */
    test_op(h, 0, CASK_OP_INSERT, 1, 5, 0, 10, 0, 0);
    test_op(h, 1, CASK_OP_INSERT, 1, 6, 5, 15, 0, CASK_EEXIST);
    test_op(h, 2, CASK_OP_LOOKUP, 1, 0, 20, 25, 5, 0);
    test_op(h, 0, CASK_OP_REMOVE, 1, 0, 30, 40, 0, 0);
    test_op(h, 1, CASK_OP_REMOVE, 1, 0, 35, 45, 0, CASK_ENOENT);
    test_op(h, 2, CASK_OP_LOOKUP, 1, 0, 50, 60, 0, CASK_ENOENT);
    test_op(h, 0, CASK_OP_PUT, 1, 7, 70, 80, 0, 0);
    test_op(h, 0, CASK_OP_PUT, 1, 8, 81, 90, 0, 0);
    test_op(h, 2, CASK_OP_LOOKUP, 1, 0, 85, 95, 7, 0); /* overlaps put(8): may see 7 */
    /* key 2, interleaved in time with key 1 */
    test_op(h, 3, CASK_OP_PUT, 2, 9, 1, 100, 0, 0);
    test_op(h, 4, CASK_OP_LOOKUP, 2, 0, 2, 3, 0, CASK_ENOENT);
    test_op(h, 4, CASK_OP_LOOKUP, 2, 0, 4, 5, 9, 0);
    EXPECT_EQ(check(h, &cask_lin_model_map, &st), CASK_LIN_OK);
    EXPECT_EQ(st.partitions, 2);
    EXPECT_EQ(st.ops, 12);
    /* key 3: a lookup that misses a completed insert; the report names the key */
    test_op(h, 5, CASK_OP_INSERT, 3, 4, 200, 210, 0, 0);
    test_op(h, 6, CASK_OP_LOOKUP, 3, 0, 220, 230, 0, CASK_ENOENT);
    EXPECT_EQ(check(h, &cask_lin_model_map, &st), CASK_LIN_VIOLATION);
    EXPECT_HAS(why, "key 3");
    EXPECT_HAS(why, "lookup(k=3) -> ENOENT");
    EXPECT_HAS(why, "present, value 4");
    cask_history_destroy(h);
}

static void test_vector(void)
{
    cask_history *h = test_history();
    test_op(h, 0, CASK_OP_PUSH, 0, 10, 0, 10, 1, 0); /* the two pushes overlap: either order */
    test_op(h, 1, CASK_OP_PUSH, 0, 11, 1, 9, 0, 0);
    test_op(h, 2, CASK_OP_GET, 0, 0, 2, 3, 0, CASK_ENOENT); /* before both pushes */
    test_op(h, 2, CASK_OP_LENGTH, 0, 0, 20, 21, 2, 0);
    test_op(h, 2, CASK_OP_GET, 1, 0, 22, 23, 10, 0);
    test_op(h, 0, CASK_OP_SET, 1, 12, 30, 40, 0, 0);
    test_op(h, 0, CASK_OP_SET, 5, 12, 41, 42, 0, CASK_ENOENT);
    test_op(h, 1, CASK_OP_GET, 1, 0, 50, 60, 12, 0);
    EXPECT_EQ(check(h, &cask_lin_model_vector, NULL), CASK_LIN_OK);
    /* a read past a completed push */
    test_op(h, 3, CASK_OP_PUSH, 0, 13, 100, 110, 2, 0);
    test_op(h, 4, CASK_OP_GET, 2, 0, 120, 130, 0, CASK_ENOENT);
    EXPECT_EQ(check(h, &cask_lin_model_vector, NULL), CASK_LIN_VIOLATION);
    EXPECT_HAS(why, "get(2) -> ENOENT");
    cask_history_destroy(h);
    /* two pushes got the same index */
    h = test_history();
    test_op(h, 0, CASK_OP_PUSH, 0, 10, 0, 10, 0, 0);
    test_op(h, 1, CASK_OP_PUSH, 0, 11, 1, 9, 0, 0);
    EXPECT_EQ(check(h, &cask_lin_model_vector, NULL), CASK_LIN_VIOLATION);
    cask_history_destroy(h);
}

/* 24 overlapping writes and a read of a value nobody wrote: the search must visit every
 * subset of the writes (2^24 configurations) to prove the violation. */
static cask_history *hard_history(void)
{
    cask_history *h = NULL;
    EXPECT(cask_history_create(25, 4, &h) == 0);
    for (int i = 0; i < 24; i++)
        WRITE(i, (uint64_t)i + 1, (uint64_t)i, 1000);
    READ(24, 999, 500, 2000);
    return h;
}

static void test_budget(void)
{
    cask_history *h = hard_history();
    cask_lin_stats st;
    cask_lin_options o = {.max_steps = 5000};
    EXPECT_EQ(cask_lin_check(h, &cask_lin_model_register, &o, &st, why, sizeof(why)),
              CASK_LIN_UNKNOWN);
    EXPECT_HAS(why, "step budget");
    EXPECT_EQ(st.steps, 5000);
    EXPECT_EQ(st.error, 0);
    o = (cask_lin_options){.max_memory = 64 << 10};
    EXPECT_EQ(cask_lin_check(h, &cask_lin_model_register, &o, &st, why, sizeof(why)),
              CASK_LIN_UNKNOWN);
    EXPECT_HAS(why, "memory budget");
    cask_history_destroy(h);
    /* The same writes with a read of a written value, invoked first so that the search tries
     * it after every write it linearizes: found at once. (Invoked after the writes, the read
     * would be tried only once every order of the writes after write(7) had failed: the
     * search's cost depends on the shape of the history, hence the budget.) */
    EXPECT(cask_history_create(25, 4, &h) == 0);
    READ(24, 7, 0, 2000);
    for (int i = 0; i < 24; i++)
        WRITE(i, (uint64_t)i + 1, (uint64_t)i + 1, 1000);
    EXPECT_EQ(check(h, &cask_lin_model_register, &st), CASK_LIN_OK);
    EXPECT(st.steps < 1000);
    cask_history_destroy(h);
}

static void test_truncated(void)
{
    cask_history *h = NULL;
    EXPECT(cask_history_create(2, 2, &h) == 0);
    /* The recorder marks truncation; a dropped handle is accepted by respond. */
    long a = cask_history_invoke(h, 0, CASK_OP_WRITE, 0, 1);
    EXPECT(a == 0);
    EXPECT_EQ(cask_history_respond(h, 0, a, 0, 0), 0);
    long b = cask_history_invoke(h, 0, CASK_OP_READ, 0, 0);
    EXPECT_EQ(cask_history_respond(h, 0, b, 1, 0), 0);
    EXPECT(!cask_history_truncated(h));
    long c = cask_history_invoke(h, 0, CASK_OP_READ, 0, 0);
    EXPECT_EQ(c, CASK_EFULL);
    EXPECT_EQ(cask_history_respond(h, 0, c, 1, 0), 0);
    EXPECT(cask_history_truncated(h));
    EXPECT_EQ(cask_history_count(h, 0), 2);
    EXPECT_EQ(check(h, &cask_lin_model_register, NULL), CASK_LIN_UNKNOWN);
    EXPECT_HAS(why, "truncated");
    EXPECT_HAS(why, "are linearizable");
    cask_history_destroy(h);

    /* A stale read before the cut is a violation, truncated or not. */
    EXPECT(cask_history_create(2, 2, &h) == 0);
    WRITE(0, 1, 0, 10);
    READ(1, 0, 20, 30);
    WRITE(0, 2, 40, 50);
    EXPECT_EQ(cask_history_append(h, &(cask_op){.invoke_ns = 45, .thread = 0}), CASK_EFULL);
    EXPECT_EQ(check(h, &cask_lin_model_register, NULL), CASK_LIN_VIOLATION);
    EXPECT_HAS(why, "truncated");
    cask_history_destroy(h);

    /* An operation still running at the cut has an unknown result: the missing operation
     * (thread 1's, invoked at 50) may have written the 7 that the read returned. */
    EXPECT(cask_history_create(2, 1, &h) == 0);
    WRITE(0, 1, 0, 10);
    READ(1, 7, 20, 100);
    EXPECT_EQ(cask_history_append(h, &(cask_op){.invoke_ns = 50, .thread = 1}), CASK_EFULL);
    EXPECT_EQ(check(h, &cask_lin_model_register, NULL), CASK_LIN_UNKNOWN);
    EXPECT_HAS(why, "1 of them with results made unknown by the cut");
    cask_history_destroy(h);
}

static void test_errors(void)
{
    cask_lin_stats st;
    cask_history *h = test_history();
    EXPECT_EQ(cask_lin_check(NULL, &cask_lin_model_queue, NULL, &st, why, sizeof(why)),
              CASK_LIN_UNKNOWN);
    EXPECT_EQ(st.error, CASK_EINVAL);
    cask_lin_model broken = cask_lin_model_queue;
    broken.hash = NULL;
    EXPECT_EQ(cask_lin_check(h, &broken, NULL, &st, why, sizeof(why)), CASK_LIN_UNKNOWN);
    EXPECT_EQ(st.error, CASK_EINVAL);
    READ(0, 0, 0, 1); /* a register operation checked against the queue model */
    EXPECT_EQ(check(h, &cask_lin_model_queue, &st), CASK_LIN_UNKNOWN);
    EXPECT_EQ(st.error, CASK_EINVAL);
    EXPECT_HAS(why, "does not know");
    cask_history_destroy(h);
    /* An empty history is linearizable. */
    h = test_history();
    EXPECT_EQ(check(h, &cask_lin_model_queue, &st), CASK_LIN_OK);
    cask_history_destroy(h);
    /* Recorder arguments. */
    EXPECT_EQ(cask_history_create(0, 4, &h), CASK_EINVAL);
    EXPECT_EQ(cask_history_create(1, 0, &h), CASK_EINVAL);
    EXPECT_EQ(cask_history_create(1, 1, NULL), CASK_EINVAL);
    h = test_history();
    EXPECT_EQ(cask_history_invoke(h, 8, CASK_OP_READ, 0, 0), CASK_EINVAL);
    EXPECT_EQ(cask_history_invoke(h, -1, CASK_OP_READ, 0, 0), CASK_EINVAL);
    long a = cask_history_invoke(h, 0, CASK_OP_READ, 0, 0);
    EXPECT_EQ(cask_history_respond(h, 1, a, 0, 0), CASK_EINVAL); /* another index's handle */
    EXPECT_EQ(cask_history_respond(h, 0, a, 0, 0), 0);
    EXPECT_EQ(cask_history_respond(h, 0, a, 0, 0), CASK_EINVAL); /* twice */
    EXPECT_EQ(cask_history_append(h, &(cask_op){.invoke_ns = 5, .respond_ns = 4,
                                                .responded = true}),
              CASK_EINVAL);
    cask_history_destroy(h);
}

/* A user model: a counter whose fetch_add(arg) returns the old value. */
enum { OP_FETCH_ADD = CASK_OP_USER };

static int counter_init(void *context, void **state)
{
    (void)context;
    *state = calloc(1, sizeof(uint64_t));
    return *state != NULL ? 0 : CASK_ENOMEM;
}

static int counter_step(const void *state, const cask_op *op, void **next)
{
    uint64_t now = *(const uint64_t *)state;
    if (op->kind != OP_FETCH_ADD)
        return CASK_EINVAL;
    if (op->responded && op->value != now)
        return 0;
    uint64_t *n = malloc(sizeof(*n));
    if (n == NULL)
        return CASK_ENOMEM;
    *n = now + op->arg;
    *next = n;
    return 1;
}

static bool counter_equal(const void *a, const void *b)
{
    return *(const uint64_t *)a == *(const uint64_t *)b;
}

static uint64_t counter_hash(const void *s)
{
    return *(const uint64_t *)s * UINT64_C(0x9E3779B97F4A7C15);
}

static const cask_lin_model counter_model = {
    .name = "counter",
    .init = counter_init,
    .step = counter_step,
    .equal = counter_equal,
    .hash = counter_hash,
    .free_state = free,
};

static void test_user_model(void)
{
    cask_history *h = test_history();
    test_op(h, 0, OP_FETCH_ADD, 0, 1, 0, 10, 2, 0); /* three overlapping adds */
    test_op(h, 1, OP_FETCH_ADD, 0, 2, 1, 11, 0, 0);
    test_op(h, 2, OP_FETCH_ADD, 0, 4, 2, 12, 3, 0);
    EXPECT_EQ(check(h, &counter_model, NULL), CASK_LIN_OK);
    test_op(h, 0, OP_FETCH_ADD, 0, 1, 20, 30, 6, 0); /* must have returned 7 */
    EXPECT_EQ(check(h, &counter_model, NULL), CASK_LIN_VIOLATION);
    EXPECT_HAS(why, "op256(");
    cask_history_destroy(h);
}

static void test_explanation_bounds(void)
{
    cask_history *h = test_history();
    ENQ(0, 1, 0, 10);
    DEQ_EMPTY(1, 20, 30);
    char small[16];
    memset(small, 'x', sizeof(small));
    EXPECT_EQ(cask_lin_check(h, &cask_lin_model_queue, NULL, NULL, small, sizeof(small)),
              CASK_LIN_VIOLATION);
    EXPECT_EQ(strlen(small), sizeof(small) - 1);
    EXPECT(strcmp(small + sizeof(small) - 4, "...") == 0);
    EXPECT_EQ(cask_lin_check(h, &cask_lin_model_queue, NULL, NULL, NULL, 0), CASK_LIN_VIOLATION);
    cask_history_destroy(h);
}

static void test_describe(void)
{
    char buf[128];
    cask_op op = {.kind = CASK_OP_DEQUEUE, .thread = 2, .seq = 7, .value = 5, .responded = true};
    cask_op_describe(&op, buf, sizeof(buf));
    EXPECT(strcmp(buf, "t2#7 dequeue() -> 5") == 0);
    op.status = CASK_EEMPTY;
    cask_op_describe(&op, buf, sizeof(buf));
    EXPECT(strcmp(buf, "t2#7 dequeue() -> EMPTY") == 0);
    op = (cask_op){.kind = CASK_OP_INSERT, .key = 3, .arg = 9, .status = CASK_EEXIST,
                   .responded = true};
    cask_op_describe(&op, buf, sizeof(buf));
    EXPECT(strcmp(buf, "t0#0 insert(k=3, 9) -> EEXIST") == 0);
    op = (cask_op){.kind = CASK_OP_WRITE, .arg = 4};
    cask_op_describe(&op, buf, sizeof(buf));
    EXPECT(strcmp(buf, "t0#0 write(4) -> ?") == 0);
}

int main(void)
{
    test_register_linearizable();
    test_register_stale_read();
    test_register_pending();
    test_queue_linearizable();
    test_queue_lost_enqueue();
    test_queue_out_of_order();
    test_queue_duplicated_dequeue();
    test_map_per_key();
    test_vector();
    test_budget();
    test_truncated();
    test_errors();
    test_user_model();
    test_explanation_bounds();
    test_describe();
    /* One violation report in full, for the log. */
    cask_history *h = test_history();
    ENQ(0, 1, 0, 10);
    ENQ(0, 2, 20, 30);
    DEQ(1, 2, 40, 50);
    check(h, &cask_lin_model_queue, NULL);
    printf("example report:\n%s", why);
    cask_history_destroy(h);
    printf("lincheck_test: all passed\n");
    return 0;
}
