/*
 * queue_close_order_test.c: close is one instant for both queues. Once a push has been refused
 * with CASK_ECLOSED, or cask_*_closed has said true, no push that starts later is accepted; and
 * closed() says true only from that instant on. Each schedule parks a closing thread inside its
 * close through a wrapper of the schedule-noise point (linked with -Wl,--wrap=cask_noise_point
 * against the stress build of the library) and makes calls from the main thread meanwhile.
 *
 *   unbounded, refused then accepted: a push P filled the tail segment and linked a new one,
 *     and is parked before it moves tail; close marked the old segment and is parked before it
 *     goes on to the new one. A push refused by the mark, then P's return, then a new push on
 *     the new segment: that push must be refused too (before the fix it was accepted).
 *   unbounded, empty only after the close: a pop read "open", is parked, and meanwhile close
 *     completes and another pop takes the last item; the parked pop must say CASK_ECLOSED
 *     (before the fix it said CASK_EEMPTY, which no moment of its call allows).
 *   both queues, reason claimed, nothing refused yet: close is parked between its claim of the
 *     reason and its mark; closed() must say false while pushes are still accepted (before the
 *     fix it said true, and a push after it was accepted).
 * After each schedule the queue is drained: every accepted item comes out once, then ECLOSED.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "cask/bqueue.h"
#include "cask/cask.h"
#include "cask/queue.h"
#include "expect.h"

#define ITEM(n) ((void *)(uintptr_t)(0x1000 + (n)))

/* One parked thread: it parks at `at` (once), the main thread waits for that and lets it go. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const char *at;
    bool parked, released;
} gate;

static _Thread_local gate *my_gate;

static void gate_init(gate *g, const char *at)
{
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->at = at;
    g->parked = g->released = false;
}

static void gate_wait_parked(gate *g)
{
    pthread_mutex_lock(&g->mu);
    while (!g->parked)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_release(gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->released = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

void __real_cask_noise_point(const char *where);

void __wrap_cask_noise_point(const char *where)
{
    gate *g = my_gate;
    if (g != NULL && g->at != NULL && strcmp(where, g->at) == 0) {
        pthread_mutex_lock(&g->mu);
        g->at = NULL; /* once */
        g->parked = true;
        pthread_cond_broadcast(&g->cv);
        while (!g->released)
            pthread_cond_wait(&g->cv, &g->mu);
        pthread_mutex_unlock(&g->mu);
    }
    __real_cask_noise_point(where);
}

typedef struct {
    gate *g;
    cask_queue *q;
    cask_bqueue *bq;
    void *item; /* push it, or NULL: close */
    int rc;
} call;

static void *run_call(void *arg)
{
    call *c = arg;
    my_gate = c->g;
    if (c->item != NULL)
        c->rc = c->q != NULL ? cask_queue_push(c->q, c->item) : cask_bqueue_try_push(c->bq, c->item);
    else
        c->rc = c->q != NULL ? cask_queue_close(c->q, 9) : cask_bqueue_close(c->bq, 9);
    return NULL;
}

static void start(pthread_t *t, call *c)
{
    EXPECT_EQ(pthread_create(t, NULL, run_call, c), 0);
    gate_wait_parked(c->g);
}

static void finish(pthread_t t, call *c)
{
    gate_release(c->g);
    EXPECT_EQ(pthread_join(t, NULL), 0);
}

/* Pops everything: the items first..first+n-1 of `want` (in order), then ECLOSED. */
static void drain(cask_queue *q, cask_bqueue *bq, void *const *want, int n)
{
    for (int i = 0; i < n; i++) {
        void *x = NULL;
        EXPECT_EQ(q != NULL ? cask_queue_try_pop(q, &x) : cask_bqueue_try_pop(bq, &x), 0);
        EXPECT(x == want[i]);
    }
    void *x = NULL;
    EXPECT_EQ(q != NULL ? cask_queue_try_pop(q, &x) : cask_bqueue_try_pop(bq, &x), CASK_ECLOSED);
    int reason = 0;
    EXPECT(q != NULL ? cask_queue_closed(q, &reason) : cask_bqueue_closed(bq, &reason));
    EXPECT_EQ(reason, 9);
}

static void unbounded_refused_then_accepted(void)
{
    cask_queue *q;
    EXPECT_EQ(cask_queue_create(&q), 0);
    void *want[CASK_QUEUE_SEGMENT + 1];
    for (int i = 0; i < CASK_QUEUE_SEGMENT; i++) /* the tail segment is full */
        EXPECT_EQ(cask_queue_push(q, want[i] = ITEM(i)), 0);
    gate gp, gc;
    gate_init(&gp, "queue.push.linked");
    gate_init(&gc, "queue.close.marked");
    call p = {&gp, q, NULL, want[CASK_QUEUE_SEGMENT] = ITEM(100), -1};
    call c = {&gc, q, NULL, NULL, -1};
    pthread_t tp, tc;
    start(&tp, &p); /* linked a new segment holding its item; tail not moved yet */
    start(&tc, &c); /* marked the old tail segment; not yet the new one */
    EXPECT_EQ(cask_queue_push(q, ITEM(200)), CASK_ECLOSED); /* refused by the mark */
    EXPECT(cask_queue_closed(q, NULL));
    finish(tp, &p);
    EXPECT_EQ(p.rc, 0); /* in progress during the close: accepted */
    EXPECT_EQ(cask_queue_push(q, ITEM(201)), CASK_ECLOSED); /* starts after a refusal */
    finish(tc, &c);
    EXPECT_EQ(c.rc, 0);
    drain(q, NULL, want, CASK_QUEUE_SEGMENT + 1);
    cask_queue_destroy(q);
}

static void closed_before_marked(bool bounded)
{
    cask_queue *q = NULL;
    cask_bqueue *bq = NULL;
    if (bounded)
        EXPECT_EQ(cask_bqueue_create(16, &bq), 0);
    else
        EXPECT_EQ(cask_queue_create(&q), 0);
    gate gc;
    gate_init(&gc, bounded ? "queue.bq.close.reason" : "queue.close.reason");
    call c = {&gc, q, bq, NULL, -1};
    pthread_t tc;
    start(&tc, &c); /* the reason is claimed; nothing is marked */
    bool said_closed = bounded ? cask_bqueue_closed(bq, NULL) : cask_queue_closed(q, NULL);
    int rc = bounded ? cask_bqueue_try_push(bq, ITEM(1)) : cask_queue_push(q, ITEM(1));
    EXPECT(!said_closed || rc != 0); /* closed, then accepted: not one instant */
    EXPECT(!said_closed);            /* and pushes are still accepted here */
    EXPECT_EQ(rc, 0);
    finish(tc, &c);
    EXPECT_EQ(c.rc, 0);
    EXPECT_EQ(bounded ? cask_bqueue_try_push(bq, ITEM(2)) : cask_queue_push(q, ITEM(2)),
              CASK_ECLOSED);
    void *want[] = {ITEM(1)};
    drain(q, bq, want, 1);
    if (bounded)
        cask_bqueue_destroy(bq);
    else
        cask_queue_destroy(q);
}

/* A pop that read "open" and then found the queue empty only after a close and other pops
 * drained it: the queue was never open and empty during its call, so it must say ECLOSED. */
typedef struct {
    gate *g;
    cask_queue *q;
    int rc;
} pop_call;

static void *run_pop(void *arg)
{
    pop_call *c = arg;
    my_gate = c->g;
    void *x = NULL;
    c->rc = cask_queue_try_pop(c->q, &x);
    return NULL;
}

static void unbounded_empty_after_close(void)
{
    cask_queue *q;
    EXPECT_EQ(cask_queue_create(&q), 0);
    EXPECT_EQ(cask_queue_push(q, ITEM(1)), 0);
    gate gb;
    gate_init(&gb, "queue.pop.protected");
    pop_call b = {&gb, q, -1};
    pthread_t tb;
    EXPECT_EQ(pthread_create(&tb, NULL, run_pop, &b), 0);
    gate_wait_parked(&gb); /* read `closed` (false), not yet looked at the cells */
    EXPECT_EQ(cask_queue_close(q, 9), 0);
    void *x = NULL;
    EXPECT_EQ(cask_queue_try_pop(q, &x), 0); /* takes the item b would have had */
    EXPECT(x == ITEM(1));
    gate_release(&gb);
    EXPECT_EQ(pthread_join(tb, NULL), 0);
    EXPECT_EQ(b.rc, CASK_ECLOSED); /* open and empty never held during b's call */
    cask_queue_destroy(q);
}

int main(void)
{
    unbounded_refused_then_accepted();
    unbounded_empty_after_close();
    closed_before_marked(false);
    closed_before_marked(true);
    return 0;
}
