/*
 * queue_backoff_test.c: the queues' contention backoff (lib/internal/backoff.h).
 *   - the policy: two interleaved calls in one role (push, pop) whose ends are closer than the
 *     structure's window make the thread step aside; farther apart, or in different roles,
 *     they do not; a wait restarts the comparison in both roles;
 *   - the notes: a reservation further ahead than the next index is an interleaving; the next
 *     index, or a lower one (a queue or segment reused at the same address), is not; grace
 *     reservations after a wait are not looked at;
 *   - the wait: a call that ends right after an interleaved one waits and starts the grace; a
 *     real push on each structure does, with its structure's window, unless held (a call made
 *     from a reclaim function); refused calls (closed, frozen) decide nothing;
 *   - both queues and vector push: a thread alone never sees an interleaving and never waits;
 *     two threads taking strict turns (push then pop each turn; a push, for the vector) both
 *     see their calls interleave.
 *   - the empty-poll pause: the 2nd to (CASK__EMPTY_PAUSES + 1)th try-pop in a row that finds
 *     the same queue empty pauses, for at least CASK_QUEUE_EMPTY_PAUSE_NS; the first does not,
 *     nor do later ones, nor polls alternating between two queues, nor a poll after any other
 *     push or pop of the thread, nor a held call; a blocking pop (and a bounded queue's blocking
 *     push that finds it full) pauses before its first CASK__EMPTY_PAUSES spinning tries, unless
 *     held, not at all when it makes one try (timeout 0), and not past its deadline.
 *   - a reclaim function run by a hazard-pointer scan polls an empty queue twice and does not
 *     pause (lib/hp.c holds the backoff around every reclaim function).
 * The only duration asserted is that lower bound: what the backoff buys is measured by
 * `./cask bench queue`.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cask/cask.h"
#include "expect.h"
#include "lib/internal/backoff.h"

#define ROUNDS 2000

#define W CASK__BACKOFF_WINDOW_NS

static void test_policy(void)
{
    cask__backoff b;
    memset(&b, 0, sizeof(b));
    b.window_ns = W;
    EXPECT(!cask__backoff_decide(&b, &b.push, 1000000)); /* nothing to compare with yet */
    EXPECT(!cask__backoff_decide(&b, &b.pop, 1000000 + W / 4)); /* the other role: no */
    EXPECT(cask__backoff_decide(&b, &b.push, 1000000 + W / 2)); /* same role, back to back */
    EXPECT(!cask__backoff_decide(&b, &b.pop, 1000000 + W / 2)); /* a wait restarts both */
    EXPECT(!cask__backoff_decide(&b, &b.push, 1000000 + W / 2));
    EXPECT_EQ(b.interleavings, 5);

    memset(&b, 0, sizeof(b));
    b.window_ns = W;
    EXPECT(!cask__backoff_decide(&b, &b.pop, 1000000));
    EXPECT(!cask__backoff_decide(&b, &b.pop, 1000000 + 10 * W)); /* low rate */
    b.window_ns = 20 * W; /* a structure with a wider window */
    EXPECT(cask__backoff_decide(&b, &b.pop, 1000000 + 20 * W));
}

static void test_notes(void)
{
    cask__backoff *b = &cask__backoff_state;
    static const char here, there;
    memset(b, 0, sizeof(*b));
    cask__backoff_note(&b->push, &here, 10, W);
    cask__backoff_note(&b->push, &here, 11, W); /* the next index */
    EXPECT(b->seen == NULL);
    cask__backoff_note(&b->push, &there, 40, W); /* another place */
    EXPECT(b->seen == NULL);
    cask__backoff_note(&b->push, &there, 3, W); /* reused at the same address: starts low */
    EXPECT(b->seen == NULL);
    cask__backoff_note(&b->pop, &here, 5, W);
    cask__backoff_note(&b->pop, &here, 7, 2 * W); /* another thread took 6 */
    EXPECT(b->seen == &b->pop);
    EXPECT_EQ(b->window_ns, 2 * W);

    memset(b, 0, sizeof(*b));
    b->grace = CASK__BACKOFF_GRACE;
    for (unsigned i = 0; i < CASK__BACKOFF_GRACE; i++)
        cask__backoff_note(&b->push, &here, 2 * (uint64_t)i, W); /* each one interleaved */
    EXPECT(b->seen == NULL);
    cask__backoff_note(&b->push, &here, 2 * (uint64_t)CASK__BACKOFF_GRACE, W);
    EXPECT(b->seen == &b->push);
    memset(b, 0, sizeof(*b));
}

/* finish waits when the previous interleaved call ended just now. The two clock reads are a few
 * instructions apart; a preemption between them could make the gap exceed the window, so the
 * test tries until it sees the wait, a bounded number of times. */
static void test_finish_waits(void)
{
    cask__backoff *b = &cask__backoff_state;
    memset(b, 0, sizeof(*b));
    for (int tries = 0; tries < 100 && b->waits == 0; tries++) {
        b->seen = &b->push;
        b->window_ns = W;
        b->push.interleaved_ns = cask__backoff_now_ns();
        cask__backoff_finish();
        EXPECT(b->seen == NULL);
    }
    EXPECT_EQ(b->waits, 1);
    EXPECT_EQ(b->grace, CASK__BACKOFF_GRACE);
    cask__backoff_finish(); /* nothing seen: no clock, no wait */
    EXPECT_EQ(b->waits, 1);
    b->seen = &b->push; /* the previous interleaved call ended a second ago: no wait */
    b->window_ns = W;
    b->push.interleaved_ns = cask__backoff_now_ns() - UINT64_C(1000000000);
    cask__backoff_finish();
    EXPECT_EQ(b->waits, 1);
    EXPECT(b->push.interleaved_ns != 0); /* this call is now the previous interleaved one */
    memset(b, 0, sizeof(*b));
}

/* One queue of either kind, behind the same four calls. */
typedef struct anyq {
    cask_queue *q;
    cask_bqueue *bq;
} anyq;

static void anyq_create(anyq *a, bool bounded)
{
    a->q = NULL;
    a->bq = NULL;
    if (bounded)
        EXPECT_EQ(cask_bqueue_create(64, &a->bq), 0);
    else
        EXPECT_EQ(cask_queue_create(&a->q), 0);
}

static void anyq_push_pop(anyq *a, uintptr_t item)
{
    void *x;
    if (a->bq != NULL) {
        EXPECT_EQ(cask_bqueue_try_push(a->bq, (void *)item), 0);
        EXPECT_EQ(cask_bqueue_try_pop(a->bq, &x), 0);
    } else {
        EXPECT_EQ(cask_queue_push(a->q, (void *)item), 0);
        EXPECT_EQ(cask_queue_try_pop(a->q, &x), 0);
    }
    EXPECT_EQ((uintptr_t)x, item);
}

static int anyq_try_pop(anyq *a)
{
    void *x;
    return a->bq != NULL ? cask_bqueue_try_pop(a->bq, &x) : cask_queue_try_pop(a->q, &x);
}

static int anyq_pop_wait(anyq *a, int64_t timeout_ns)
{
    void *x;
    return a->bq != NULL ? cask_bqueue_pop(a->bq, &x, timeout_ns)
                         : cask_queue_pop(a->q, &x, timeout_ns);
}

static void anyq_destroy(anyq *a)
{
    cask_queue_destroy(a->q);
    cask_bqueue_destroy(a->bq);
}

static void test_alone(bool bounded)
{
    anyq a;
    memset(&cask__backoff_state, 0, sizeof(cask__backoff_state));
    for (int k = 0; k < 3; k++) { /* queues freed and made again, likely at one address */
        anyq_create(&a, bounded);
        for (uintptr_t i = 1; i <= 30000; i++)
            anyq_push_pop(&a, i);
        anyq_destroy(&a);
    }
    EXPECT_EQ(cask__backoff_state.interleavings, 0);
    EXPECT_EQ(cask__backoff_state.waits, 0);
}

/* Two threads, strict turns: thread k calls turn_action(x) for x = 2r + k when turn == x; each
 * records the interleavings its own thread saw. */
static anyq shared;
static cask_vec *shared_vec;
static _Atomic unsigned turn;
static void (*turn_action)(uint64_t x);
static uint64_t seen_interleavings[2];

static void *taker(void *arg)
{
    unsigned k = (unsigned)(uintptr_t)arg;
    memset(&cask__backoff_state, 0, sizeof(cask__backoff_state));
    for (unsigned r = 0; r < ROUNDS; r++) {
        while (atomic_load_explicit(&turn, memory_order_acquire) != 2 * r + k) /* the release below */
            cask__pause();
        turn_action(2 * r + k);
        atomic_store_explicit(&turn, 2 * r + k + 1, memory_order_release); /* the loads above */
    }
    seen_interleavings[k] = cask__backoff_state.interleavings;
    return NULL;
}

static void run_turns(void (*action)(uint64_t x))
{
    turn_action = action;
    atomic_store_explicit(&turn, 0, memory_order_relaxed); /* before the threads exist */
    pthread_t t[2];
    for (uintptr_t k = 0; k < 2; k++)
        EXPECT_EQ(pthread_create(&t[k], NULL, taker, (void *)k), 0);
    for (int k = 0; k < 2; k++)
        EXPECT_EQ(pthread_join(t[k], NULL), 0);
}

static void queue_turn(uint64_t x)
{
    anyq_push_pop(&shared, (uintptr_t)x + 1);
}

static void test_turns(bool bounded)
{
    anyq_create(&shared, bounded);
    run_turns(queue_turn);
    /* Each turn's push and pop follow the other thread's, so both calls interleave; at worst 16
     * grace reservations follow each pair of them: at least 2 * ROUNDS * 2 / 18 counted. */
    for (int k = 0; k < 2; k++)
        EXPECT(seen_interleavings[k] >= ROUNDS / 8);
    anyq_destroy(&shared);
}

/* Vector push (lib/vec.c) backs off the same way: alone, never; strict turns, both see it. */
static void test_vec_alone(void)
{
    memset(&cask__backoff_state, 0, sizeof(cask__backoff_state));
    for (int k = 0; k < 3; k++) {
        cask_vec *v;
        EXPECT_EQ(cask_vec_create(8, 1u << 20, "backoff test", &v), 0);
        for (uint64_t i = 0; i < 30000; i++)
            EXPECT_EQ(cask_vec_push(v, &i, NULL), 0);
        cask_vec_unref(v);
    }
    EXPECT_EQ(cask__backoff_state.interleavings, 0);
    EXPECT_EQ(cask__backoff_state.waits, 0);
}

static void vec_turn(uint64_t x)
{
    size_t index;
    EXPECT_EQ(cask_vec_push(shared_vec, &x, &index), 0);
    EXPECT_EQ(index, x);
}

static void test_vec_turns(void)
{
    EXPECT_EQ(cask_vec_create(8, 2 * ROUNDS, "backoff test", &shared_vec), 0);
    run_turns(vec_turn);
    /* One push per turn, each interleaved; at worst 16 grace pushes follow each pair. */
    for (int k = 0; k < 2; k++)
        EXPECT(seen_interleavings[k] >= ROUNDS / 16);
    cask_vec_unref(shared_vec);
}

/* A real call that reserves right after a forged interleaving in its role waits, and records its
 * structure's window. `call` makes one push; the first one learns where and at which index this
 * thread reserves. The forged interleaved call ends a minute from now, so the real call ends
 * within the window however long it takes (under ThreadSanitizer on a slow machine a push can
 * take longer than the 1 us window: forging "now" made this test fail there). */
static void expect_real_wait(void (*call)(void *ctx), void *ctx, uint64_t window_ns)
{
    const uint64_t ahead_ns = UINT64_C(60000000000);
    cask__backoff *b = &cask__backoff_state;
    memset(b, 0, sizeof(*b));
    call(ctx);
    EXPECT(b->push.where != NULL);
    b->push.index -= 1; /* the next index is now two ahead: another thread reserved */
    b->push.interleaved_ns = cask__backoff_now_ns() + ahead_ns;
    call(ctx);
    EXPECT_EQ(b->waits, 1);
    EXPECT_EQ(b->window_ns, window_ns);
    EXPECT(b->seen == NULL);

    memset(b, 0, sizeof(*b)); /* the same, held: no wait, and the decision stays pending */
    call(ctx);
    b->push.index -= 1;
    b->push.interleaved_ns = cask__backoff_now_ns() + ahead_ns;
    cask__backoff_hold();
    call(ctx);
    cask__backoff_release();
    EXPECT_EQ(b->waits, 0);
    EXPECT(b->seen == &b->push);
    memset(b, 0, sizeof(*b));
}

static void queue_push_one(void *ctx)
{
    EXPECT_EQ(cask_queue_push(ctx, (void *)(uintptr_t)1), 0);
}

static void bqueue_push_one(void *ctx)
{
    void *x;
    EXPECT_EQ(cask_bqueue_try_push(ctx, (void *)(uintptr_t)1), 0);
    EXPECT_EQ(cask_bqueue_try_pop(ctx, &x), 0); /* room for the next */
}

static void vec_push_one(void *ctx)
{
    uint64_t x = 7;
    EXPECT_EQ(cask_vec_push(ctx, &x, NULL), 0);
}

static void test_real_waits(void)
{
    cask_queue *q;
    cask_bqueue *bq;
    cask_vec *v;
    EXPECT_EQ(cask_queue_create(&q), 0);
    EXPECT_EQ(cask_bqueue_create(8, &bq), 0);
    EXPECT_EQ(cask_vec_create(8, 4096, "backoff test", &v), 0);
    expect_real_wait(queue_push_one, q, W);
    expect_real_wait(bqueue_push_one, bq, 2 * W);
    expect_real_wait(vec_push_one, v, 2 * W);
    /* Refused calls reserve nothing and decide nothing. */
    EXPECT_EQ(cask_queue_close(q, 1), 0);
    EXPECT_EQ(cask_queue_push(q, (void *)(uintptr_t)1), CASK_ECLOSED);
    EXPECT_EQ(cask_bqueue_close(bq, 1), 0);
    EXPECT_EQ(cask_bqueue_try_push(bq, (void *)(uintptr_t)1), CASK_ECLOSED);
    EXPECT_EQ(cask_vec_freeze(v), 0);
    uint64_t x = 1;
    EXPECT_EQ(cask_vec_push(v, &x, NULL), CASK_EFROZEN);
    EXPECT(cask__backoff_state.seen == NULL);
    EXPECT_EQ(cask__backoff_state.interleavings, 0);
    cask_queue_destroy(q);
    cask_bqueue_destroy(bq);
    cask_vec_unref(v);
}

static void test_empty_pauses(bool bounded)
{
    cask__backoff *b = &cask__backoff_state;
    anyq a, other;
    anyq_create(&a, bounded);
    anyq_create(&other, bounded);
    memset(b, 0, sizeof(*b));
#if CASK_QUEUE_EMPTY_PAUSE_NS == 0
    for (int k = 0; k < 8; k++) /* built with the pause off: never */
        EXPECT_EQ(anyq_try_pop(&a), CASK_EEMPTY);
    EXPECT_EQ(b->empty_waits, 0);
#else
    EXPECT_EQ(anyq_try_pop(&a), CASK_EEMPTY); /* the first empty answer: no pause */
    EXPECT_EQ(b->empty_waits, 0);
    uint64_t start = cask__backoff_now_ns();
    EXPECT_EQ(anyq_try_pop(&a), CASK_EEMPTY); /* again, back to back: pauses */
    EXPECT(cask__backoff_now_ns() - start >= CASK_QUEUE_EMPTY_PAUSE_NS);
    EXPECT_EQ(b->empty_waits, 1);
    for (unsigned k = 1; k < CASK__EMPTY_PAUSES + 5; k++)
        EXPECT_EQ(anyq_try_pop(&a), CASK_EEMPTY);
    EXPECT_EQ(b->empty_waits, CASK__EMPTY_PAUSES); /* then the caller's loop decides */

    anyq_push_pop(&a, 5); /* any other push or pop ends the run */
    EXPECT_EQ(anyq_try_pop(&a), CASK_EEMPTY);
    EXPECT_EQ(b->empty_waits, CASK__EMPTY_PAUSES);
    EXPECT_EQ(anyq_try_pop(&a), CASK_EEMPTY);
    EXPECT_EQ(b->empty_waits, CASK__EMPTY_PAUSES + 1);

    memset(b, 0, sizeof(*b)); /* polling two queues in turn never pauses */
    for (int k = 0; k < 10; k++) {
        EXPECT_EQ(anyq_try_pop(&a), CASK_EEMPTY);
        EXPECT_EQ(anyq_try_pop(&other), CASK_EEMPTY);
    }
    EXPECT_EQ(b->empty_waits, 0);

    memset(b, 0, sizeof(*b)); /* held calls (made by a reclaim function) never pause */
    cask__backoff_hold();
    for (int k = 0; k < 4; k++)
        EXPECT_EQ(anyq_try_pop(&a), CASK_EEMPTY);
    cask__backoff_release();
    EXPECT_EQ(b->empty_waits, 0);
    EXPECT(b->empty_now == NULL);

    memset(b, 0, sizeof(*b)); /* a blocking pop that times out at once makes one try: no pause */
    void *x;
    for (int k = 0; k < 4; k++)
        EXPECT_EQ(anyq_pop_wait(&a, 0), CASK_ETIMEDOUT);
    EXPECT_EQ(b->empty_waits, 0);
    /* One that spins (then sleeps until its deadline; 50 ms, far more than the pauses) pauses
     * before its first few tries, each time for at least the configured time. */
    start = cask__backoff_now_ns();
    EXPECT_EQ(anyq_pop_wait(&a, 50000000), CASK_ETIMEDOUT);
    EXPECT_EQ(b->empty_waits, CASK__EMPTY_PAUSES);
    EXPECT(cask__backoff_now_ns() - start >= CASK__EMPTY_PAUSES * CASK_QUEUE_EMPTY_PAUSE_NS);
    EXPECT_EQ(anyq_try_pop(&a), CASK_EEMPTY); /* a try-pop right after it: its first, no pause */
    EXPECT_EQ(b->empty_waits, CASK__EMPTY_PAUSES);
    memset(b, 0, sizeof(*b)); /* a deadline closer than the pauses cuts them short */
    EXPECT_EQ(anyq_pop_wait(&a, CASK_QUEUE_EMPTY_PAUSE_NS * 3 / 2), CASK_ETIMEDOUT);
    EXPECT(b->empty_waits <= 1);
    if (bounded) { /* a blocking push that finds the queue full pauses too */
        memset(b, 0, sizeof(*b));
        while (cask_bqueue_try_push(a.bq, (void *)(uintptr_t)1) == 0)
            ;
        EXPECT_EQ(cask_bqueue_push(a.bq, (void *)(uintptr_t)1, 50000000), CASK_ETIMEDOUT);
        EXPECT_EQ(b->empty_waits, CASK__EMPTY_PAUSES);
        while (cask_bqueue_try_pop(a.bq, &x) == 0)
            ;
    }
    memset(b, 0, sizeof(*b)); /* held: a blocking call spins without pausing */
    cask__backoff_hold();
    EXPECT_EQ(anyq_pop_wait(&a, 50000000), CASK_ETIMEDOUT);
    cask__backoff_release();
    EXPECT_EQ(b->empty_waits, 0);
#endif
    anyq_destroy(&a);
    anyq_destroy(&other);
    memset(b, 0, sizeof(*b));
}

/* A reclaim function that polls an empty queue twice in a row (the second poll would pause). */
static cask_queue *reclaim_queue;
static int reclaimed;

static void polling_reclaim(void *object)
{
    void *x;
    (void)object;
    EXPECT_EQ(cask_queue_try_pop(reclaim_queue, &x), CASK_EEMPTY);
    EXPECT_EQ(cask_queue_try_pop(reclaim_queue, &x), CASK_EEMPTY);
    reclaimed++;
}

/* Queue calls made by reclaim functions never wait, whoever retired the object. */
static void test_reclaim_never_waits(void)
{
    static cask_hp_retired node;
    static int object;
    EXPECT_EQ(cask_queue_create(&reclaim_queue), 0);
    memset(&cask__backoff_state, 0, sizeof(cask__backoff_state));
    cask_hp_retire(cask_hp_default_domain(), &node, &object, polling_reclaim);
    cask_hp_drain(cask_hp_default_domain()); /* runs polling_reclaim on this thread */
    EXPECT_EQ(reclaimed, 1);
    EXPECT_EQ(cask__backoff_state.empty_waits, 0);
    EXPECT_EQ(cask__backoff_state.held, 0);
    cask_queue_destroy(reclaim_queue);
}

int main(void)
{
    test_policy();
    test_notes();
    test_finish_waits();
    test_alone(false);
    test_alone(true);
    test_turns(false);
    test_turns(true);
    test_vec_alone();
    test_vec_turns();
    test_real_waits();
    test_empty_pauses(false);
    test_empty_pauses(true);
    test_reclaim_never_waits();
    puts("queue_backoff_test: ok");
    return 0;
}
