/*
 * bench/queue_bench.c: MPMC queues, cask against its peers, side by side in one run.
 *
 *   ./cask bench queue      (bazel run --config=opt //bench:queue_bench -- [--threads=1,2,4,8])
 *
 * Implementations (rows):
 *   cask        cask_queue (include/cask/queue.h): push / try_pop of a pointer, no allocation
 *               per item (segments of CASK_QUEUE_SEGMENT cells).
 *   cask_bq     cask_bqueue (include/cask/bqueue.h), capacity 4096: try_push (yielding while
 *               full) / try_pop; no allocation at all.
 *   ck_hp_fifo  Concurrency Kit's Michael-Scott queue with ck_hp hazard pointers: one malloc'd
 *               entry per item, retired with ck_hp_free (threshold 2 * 2 * threads + 128).
 *   ck_fifo_mpmc Concurrency Kit's Michael-Scott queue with double-width CAS (generation
 *               counters); a dequeued entry comes back as "garbage" and is reused by the same
 *               thread's next enqueue (ck's documented use: it cannot be freed).
 *   urcu_wfcq   liburcu wfcqueue: wait-free enqueue, dequeue under the queue's own mutex
 *               (cds_wfcq_dequeue_blocking); one malloc'd node per item, freed after dequeue.
 *   urcu_lfq    liburcu rculfqueue (memb flavour): every call in a read-side section, nodes freed
 *               through call_rcu.
 *   ck_ring     (a reference, not a goal peer) Concurrency Kit's bounded ring of 4096 slots
 *               (ck_ring_enqueue_mpmc / ck_ring_dequeue_mpmc), try-push yielding while full as
 *               for cask_bq. Not lock-free: a producer preempted between reserving a slot and
 *               publishing it stops every later producer (they wait for the ring's producer
 *               tail to reach them). Shown for what cask_bq's lock-freedom costs (lib/bqueue.c);
 *               not run with more threads than cores, where that stall makes it crawl (at 8
 *               threads on 2 cores, 20,000 pairs per thread did not finish in 100 s).
 *   mutex       a singly linked list under one pthread_mutex, one malloc'd node per item.
 *   mutex_cv    (queue.1p1c.blocking only) the same list whose pop sleeps on a condition
 *               variable at once when the list is empty (no spinning first, unlike cask's
 *               blocking pops); push signals it, under the lock, when someone sleeps.
 *   rmwK        (queue.floor only; not queues) K uncontended fetch-and-adds per push+pop pair,
 *               each on a cache line of its own, and nothing else: the least that any lock-free
 *               queue making K locked read-modify-writes per pair costs at one thread.
 *
 * Benches (an operation is one push or one pop; ns/op is per thread, see bench/bench.h):
 *   queue.pairs  every thread repeats push(x); pop() (the pop cannot find the queue empty);
 *   queue.pairs.work  (2 threads) as pairs, with about 0.6 us of the thread's own work (a loop
 *                touching no shared memory) after each pop: the region where cask's contention
 *                backoff (cask/queue.h) stops paying, shown next to the peers;
 *   queue.NpNc   N producers push, N consumers pop (spinning, with a sched_yield after 64 empty
 *                tries in a row) until each consumer took as many items as a producer pushed:
 *                1p1c at 2 threads, 2p2c at 4, 4p4c at 8 (8 threads oversubscribe 2 cores).
 *   queue.1p1c.blocking  (2 threads) one producer pushes, one consumer takes every item with a
 *                blocking pop (no time limit): cask_queue_pop, cask_bqueue_pop (its producer
 *                uses try_push, yielding while full, as in the other rows), and mutex_cv (the
 *                other peers have no blocking pop).
 *   queue.floor  (1 thread) pairs of cask, cask_bq and mutex beside rmw3, rmw4, rmw5 and rmw8:
 *                how many locked read-modify-writes a pair can afford and still be 1.2x the
 *                mutex queue (the 1-thread goal). cask makes 3 per pair (its cells are used
 *                once); cask_bq 8 (SCQ, two rings of indices); a lock-free ring of pointers with
 *                single-width CAS at least 5 (lib/bqueue.c).
 * After the table: the goals below, each as a ratio with a verdict, for cask and cask_bq; then
 * the memory check (malloc'd bytes before a burst of 1,000,000 pushes, at its
 * peak, and after popping everything and cask_hp_drain).
 *
 * Goals (2-core machine, --config=opt): at 2 threads at least 2x the best peer; at 8 threads at
 * least 2x mutex; at 1 thread at least 1.2x mutex; memory back to the baseline after a drain.
 */
#define _GNU_SOURCE
#define _LGPL_SOURCE /* liburcu's documented switch for its static inline fast paths */
#include <ck_fifo.h>
#include <ck_hp.h>
#include <ck_hp_fifo.h>
#include <ck_ring.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <urcu/urcu-memb.h>
#include <urcu/rculfqueue.h>
#include <urcu/wfcqueue.h>

#include "bench/bench.h"
#include "cask/cask.h"

#define MAX_T CASK_BENCH_MAX_THREADS

/* queue.pairs.work: iterations of a local loop after each push-then-pop (about 0.6 us here). */
#define QUEUE_BENCH_WORK 1000u

/* One implementation: a queue of non-NULL pointers. */
typedef struct qimpl {
    const char *name;
    void *(*create)(unsigned threads);
    void (*destroy)(void *q);
    void (*thread_enter)(void *q, unsigned index); /* per benchmark thread, untimed */
    void (*thread_leave)(void *q, unsigned index);
    void (*push)(void *q, unsigned index, void *item);
    void *(*pop)(void *q, unsigned index); /* NULL: empty */
    void *(*pop_wait)(void *q, unsigned index); /* blocking pop, or NULL: not in queue.1p1c.blocking */
    bool blocking_only; /* only in queue.1p1c.blocking */
    bool reference;     /* measured, but not a peer for the goals (see ck_ring above) */
    bool floor_only;    /* only in queue.floor (the rmwK rows) */
} qimpl;

/* ---- cask ---- */

static void *cask_create(unsigned threads)
{
    (void)threads;
    cask_queue *q;
    return cask_queue_create(&q) == 0 ? q : NULL;
}
static void cask_destroy(void *q)
{
    cask_queue_destroy(q);
    cask_hp_drain(cask_hp_default_domain());
}
static void cask_push(void *q, unsigned i, void *item)
{
    (void)i;
    if (cask_queue_push(q, item) != 0)
        abort();
}
static void *cask_pop(void *q, unsigned i)
{
    (void)i;
    void *x;
    return cask_queue_try_pop(q, &x) == 0 ? x : NULL;
}
static void *cask_pop_wait(void *q, unsigned i)
{
    (void)i;
    void *x;
    if (cask_queue_pop(q, &x, CASK_QUEUE_FOREVER) != 0)
        abort();
    return x;
}
static void cask_leave(void *q, unsigned i)
{
    (void)q, (void)i;
    cask_hp_drain(cask_hp_default_domain()); /* this thread's retired segments, untimed */
}

/* ---- cask bounded (capacity 4096; a push that finds it full spins) ---- */

static void *bq_create(unsigned threads)
{
    (void)threads;
    cask_bqueue *q;
    return cask_bqueue_create(4096, &q) == 0 ? q : NULL;
}
static void bq_destroy(void *q)
{
    cask_bqueue_destroy(q);
}
static void bq_push(void *q, unsigned i, void *item)
{
    (void)i;
    int rc;
    while ((rc = cask_bqueue_try_push(q, item)) == CASK_EFULL)
        sched_yield();
    if (rc != 0)
        abort();
}
static void *bq_pop(void *q, unsigned i)
{
    (void)i;
    void *x;
    return cask_bqueue_try_pop(q, &x) == 0 ? x : NULL;
}
static void *bq_pop_wait(void *q, unsigned i)
{
    (void)i;
    void *x;
    if (cask_bqueue_pop(q, &x, CASK_BQUEUE_FOREVER) != 0)
        abort();
    return x;
}

/* ---- ck_ring (a reference: bounded, not lock-free) ---- */

enum { CKRING_SLOTS = 4096 }; /* a power of two; holds 4095 items, cask_bq holds 4096 */
struct ckring {
    ck_ring_t ring;
    ck_ring_buffer_t *slots;
};
static void *ckr_create(unsigned threads)
{
    (void)threads;
    struct ckring *r = malloc(sizeof(*r));
    if (r == NULL)
        return NULL;
    r->slots = calloc(CKRING_SLOTS, sizeof(*r->slots));
    if (r->slots == NULL) {
        free(r);
        return NULL;
    }
    ck_ring_init(&r->ring, CKRING_SLOTS);
    return r;
}
static void ckr_destroy(void *q)
{
    struct ckring *r = q;
    free(r->slots);
    free(r);
}
static void ckr_push(void *q, unsigned i, void *item)
{
    (void)i;
    struct ckring *r = q;
    while (!ck_ring_enqueue_mpmc(&r->ring, r->slots, item))
        sched_yield();
}
static void *ckr_pop(void *q, unsigned i)
{
    (void)i;
    struct ckring *r = q;
    void *x;
    return ck_ring_dequeue_mpmc(&r->ring, r->slots, &x) ? x : NULL;
}

/* ---- mutex ---- */

struct mnode {
    struct mnode *next;
    void *value;
};
struct mqueue {
    pthread_mutex_t lock;
    struct mnode *head, *tail;
};
static void *mutex_create(unsigned threads)
{
    (void)threads;
    struct mqueue *q = calloc(1, sizeof(*q));
    if (q != NULL)
        pthread_mutex_init(&q->lock, NULL);
    return q;
}
static void mutex_destroy(void *p)
{
    struct mqueue *q = p;
    while (q->head != NULL) {
        struct mnode *n = q->head;
        q->head = n->next;
        free(n);
    }
    pthread_mutex_destroy(&q->lock);
    free(q);
}
/* The list's two halves, called with the lock held. */
static void mqueue_append(struct mqueue *q, struct mnode *n)
{
    if (q->tail != NULL)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
}
static struct mnode *mqueue_take(struct mqueue *q) /* NULL: empty */
{
    struct mnode *n = q->head;
    if (n != NULL) {
        q->head = n->next;
        if (q->head == NULL)
            q->tail = NULL;
    }
    return n;
}
static struct mnode *mnode_new(void *item)
{
    struct mnode *n = malloc(sizeof(*n));
    if (n == NULL)
        abort();
    n->next = NULL;
    n->value = item;
    return n;
}
static void *mnode_free(struct mnode *n) /* returns its value */
{
    void *v = n->value;
    free(n);
    return v;
}
static void mutex_push(void *p, unsigned i, void *item)
{
    (void)i;
    struct mqueue *q = p;
    struct mnode *n = mnode_new(item);
    pthread_mutex_lock(&q->lock);
    mqueue_append(q, n);
    pthread_mutex_unlock(&q->lock);
}
static void *mutex_pop(void *p, unsigned i)
{
    (void)i;
    struct mqueue *q = p;
    pthread_mutex_lock(&q->lock);
    struct mnode *n = mqueue_take(q);
    pthread_mutex_unlock(&q->lock);
    return n != NULL ? mnode_free(n) : NULL;
}

/* ---- mutex with a condition variable (queue.1p1c.blocking only) ---- */

struct mcvqueue {
    struct mqueue q; /* first: mutex_destroy frees the whole */
    pthread_cond_t nonempty;
    unsigned sleepers;
};
static void *mcv_create(unsigned threads)
{
    (void)threads;
    struct mcvqueue *q = calloc(1, sizeof(*q));
    if (q != NULL) {
        pthread_mutex_init(&q->q.lock, NULL);
        pthread_cond_init(&q->nonempty, NULL);
    }
    return q;
}
static void mcv_destroy(void *p)
{
    struct mcvqueue *q = p;
    pthread_cond_destroy(&q->nonempty);
    mutex_destroy(q);
}
static void mcv_push(void *p, unsigned i, void *item)
{
    (void)i;
    struct mcvqueue *q = p;
    struct mnode *n = mnode_new(item);
    pthread_mutex_lock(&q->q.lock);
    mqueue_append(&q->q, n);
    if (q->sleepers > 0)
        pthread_cond_signal(&q->nonempty);
    pthread_mutex_unlock(&q->q.lock);
}
static void *mcv_pop_wait(void *p, unsigned i)
{
    (void)i;
    struct mcvqueue *q = p;
    pthread_mutex_lock(&q->q.lock);
    struct mnode *n;
    while ((n = mqueue_take(&q->q)) == NULL) {
        q->sleepers++;
        pthread_cond_wait(&q->nonempty, &q->q.lock);
        q->sleepers--;
    }
    pthread_mutex_unlock(&q->q.lock);
    return mnode_free(n);
}

/* ---- ck_hp_fifo ---- */

struct ckhp_thread {
    ck_hp_record_t record;
    _Alignas(64) void *hazards[CK_HP_FIFO_SLOTS_COUNT];
};
struct ckhp_queue {
    ck_hp_t hp;
    _Alignas(64) ck_hp_fifo_t fifo;
    struct ckhp_thread *threads;
};
static void ckhp_free_entry(void *p)
{
    free(p);
}
static void *ckhp_create(unsigned threads)
{
    struct ckhp_queue *q = aligned_alloc(64, sizeof(*q));
    if (q == NULL)
        return NULL;
    memset(q, 0, sizeof(*q));
    q->threads = aligned_alloc(64, sizeof(struct ckhp_thread) * threads);
    ck_hp_fifo_entry_t *stub = malloc(sizeof(*stub));
    if (q->threads == NULL || stub == NULL)
        abort();
    memset(q->threads, 0, sizeof(struct ckhp_thread) * threads);
    ck_hp_init(&q->hp, CK_HP_FIFO_SLOTS_COUNT, 2 * CK_HP_FIFO_SLOTS_COUNT * threads + 128,
               ckhp_free_entry);
    for (unsigned i = 0; i < threads; i++)
        ck_hp_register(&q->hp, &q->threads[i].record, q->threads[i].hazards);
    ck_hp_fifo_init(&q->fifo, stub);
    return q;
}
static void ckhp_leave(void *p, unsigned i)
{
    struct ckhp_queue *q = p;
    ck_hp_reclaim(&q->threads[i].record);
}
static void ckhp_destroy(void *p)
{
    struct ckhp_queue *q = p;
    ck_hp_fifo_entry_t *stub;
    void *v;
    ck_hp_fifo_entry_t *e;
    while ((e = ck_hp_fifo_dequeue_mpmc(&q->threads[0].record, &q->fifo, &v)) != NULL)
        ck_hp_free(&q->threads[0].record, &e->hazard, e, e);
    ck_hp_fifo_deinit(&q->fifo, &stub);
    free(stub);
    /* Reclaim what is pending on every record (no thread runs now), then unregister. */
    ck_hp_set(&q->threads[0].record, 0, NULL);
    ck_hp_set(&q->threads[0].record, 1, NULL);
    for (unsigned i = 0; i < q->hp.n_subscribers; i++) {
        ck_hp_reclaim(&q->threads[i].record);
        ck_hp_unregister(&q->threads[i].record);
    }
    free(q->threads);
    free(q);
}
static void ckhp_push(void *p, unsigned i, void *item)
{
    struct ckhp_queue *q = p;
    ck_hp_fifo_entry_t *e = malloc(sizeof(*e));
    if (e == NULL)
        abort();
    ck_hp_fifo_enqueue_mpmc(&q->threads[i].record, &q->fifo, e, item);
}
static void *ckhp_pop(void *p, unsigned i)
{
    struct ckhp_queue *q = p;
    void *v;
    ck_hp_fifo_entry_t *e = ck_hp_fifo_dequeue_mpmc(&q->threads[i].record, &q->fifo, &v);
    if (e == NULL)
        return NULL;
    ck_hp_free(&q->threads[i].record, &e->hazard, e, e);
    return v;
}

/* ---- ck_fifo_mpmc (needs double-width CAS) ---- */

#ifdef CK_F_FIFO_MPMC
/* A dequeued entry may still be read by a late dequeuer (ck relies on generation counters, not
 * on reclamation), so entries are type-stable: each thread keeps the garbage it dequeued on its
 * own free list and reuses it for its next enqueues; everything is freed at destroy. */
struct ckmp_entry {
    ck_fifo_mpmc_entry_t e; /* first: the entry pointer is the node pointer */
    struct ckmp_entry *all; /* every node ever allocated, for destroy */
};
struct ckmp_queue {
    ck_fifo_mpmc_t fifo;
    struct ckmp_local {
        _Alignas(64) struct ckmp_entry *free_list; /* linked through e.value while free */
        struct ckmp_entry *all;
    } *threads;
    struct ckmp_entry *stub;
    unsigned count;
};
static struct ckmp_entry *ckmp_alloc(struct ckmp_local *l)
{
    struct ckmp_entry *n = aligned_alloc(16, sizeof(struct ckmp_entry) + 16);
    if (n == NULL)
        abort();
    n->all = l->all;
    l->all = n;
    return n;
}
static void *ckmp_create(unsigned threads)
{
    struct ckmp_queue *q = aligned_alloc(64, (sizeof(*q) + 63) / 64 * 64);
    if (q == NULL)
        abort();
    memset(q, 0, sizeof(*q));
    q->threads = aligned_alloc(64, sizeof(struct ckmp_local) * threads);
    if (q->threads == NULL)
        abort();
    memset(q->threads, 0, sizeof(struct ckmp_local) * threads);
    q->count = threads;
    q->stub = ckmp_alloc(&q->threads[0]);
    ck_fifo_mpmc_init(&q->fifo, &q->stub->e);
    return q;
}
static void ckmp_destroy(void *p)
{
    struct ckmp_queue *q = p;
    for (unsigned i = 0; i < q->count; i++)
        while (q->threads[i].all != NULL) {
            struct ckmp_entry *n = q->threads[i].all;
            q->threads[i].all = n->all;
            free(n);
        }
    free(q->threads);
    free(q);
}
static void ckmp_push(void *p, unsigned i, void *item)
{
    struct ckmp_queue *q = p;
    struct ckmp_local *l = &q->threads[i];
    struct ckmp_entry *n = l->free_list;
    if (n != NULL)
        l->free_list = n->e.value;
    else
        n = ckmp_alloc(l);
    ck_fifo_mpmc_enqueue(&q->fifo, &n->e, item);
}
static void *ckmp_pop(void *p, unsigned i)
{
    struct ckmp_queue *q = p;
    void *v;
    ck_fifo_mpmc_entry_t *g;
    if (!ck_fifo_mpmc_dequeue(&q->fifo, &v, &g))
        return NULL;
    /* g may have been allocated by another thread: it joins this thread's free list, but stays
     * on its allocator's `all` list for destroy. */
    struct ckmp_entry *n = (struct ckmp_entry *)g;
    n->e.value = q->threads[i].free_list;
    q->threads[i].free_list = n;
    return v;
}
#endif

/* ---- liburcu wfcqueue ---- */

struct wfq_node {
    struct cds_wfcq_node n;
    void *value;
};
struct wfq_queue {
    _Alignas(64) struct cds_wfcq_head head;
    _Alignas(64) struct cds_wfcq_tail tail;
};
static void *wfq_create(unsigned threads)
{
    (void)threads;
    struct wfq_queue *q = aligned_alloc(64, sizeof(*q));
    if (q != NULL)
        cds_wfcq_init(&q->head, &q->tail);
    return q;
}
static void wfq_destroy(void *p)
{
    struct wfq_queue *q = p;
    struct cds_wfcq_node *n;
    while ((n = cds_wfcq_dequeue_blocking(&q->head, &q->tail)) != NULL)
        free(n);
    cds_wfcq_destroy(&q->head, &q->tail);
    free(q);
}
static void wfq_push(void *p, unsigned i, void *item)
{
    (void)i;
    struct wfq_queue *q = p;
    struct wfq_node *n = malloc(sizeof(*n));
    if (n == NULL)
        abort();
    cds_wfcq_node_init(&n->n);
    n->value = item;
    cds_wfcq_enqueue(&q->head, &q->tail, &n->n);
}
static void *wfq_pop(void *p, unsigned i)
{
    (void)i;
    struct wfq_queue *q = p;
    struct cds_wfcq_node *n = cds_wfcq_dequeue_blocking(&q->head, &q->tail);
    if (n == NULL)
        return NULL;
    void *v = ((struct wfq_node *)n)->value; /* n is the first member */
    free(n);
    return v;
}

/* ---- liburcu rculfqueue (memb flavour) ---- */

struct lfq_node {
    struct cds_lfq_node_rcu n;
    struct rcu_head rcu;
    void *value;
};
static void *lfq_create(unsigned threads)
{
    (void)threads;
    struct cds_lfq_queue_rcu *q = aligned_alloc(64, 64);
    if (q != NULL)
        cds_lfq_init_rcu(q, urcu_memb_call_rcu);
    return q;
}
static void lfq_free_node(struct rcu_head *head)
{
    free((char *)head - offsetof(struct lfq_node, rcu));
}
static void lfq_enter(void *q, unsigned i)
{
    (void)q, (void)i;
    urcu_memb_register_thread();
}
static void lfq_leave(void *q, unsigned i)
{
    (void)q, (void)i;
    urcu_memb_unregister_thread();
}
static void lfq_push(void *q, unsigned i, void *item)
{
    (void)i;
    struct lfq_node *n = malloc(sizeof(*n));
    if (n == NULL)
        abort();
    cds_lfq_node_init_rcu(&n->n);
    n->value = item;
    urcu_memb_read_lock();
    cds_lfq_enqueue_rcu(q, &n->n);
    urcu_memb_read_unlock();
}
static void *lfq_pop(void *q, unsigned i)
{
    (void)i;
    urcu_memb_read_lock();
    struct cds_lfq_node_rcu *n = cds_lfq_dequeue_rcu(q);
    urcu_memb_read_unlock();
    if (n == NULL)
        return NULL;
    struct lfq_node *node = (struct lfq_node *)n; /* n is the first member */
    void *v = node->value;
    urcu_memb_call_rcu(&node->rcu, lfq_free_node);
    return v;
}
static void lfq_destroy(void *q)
{
    urcu_memb_register_thread();
    urcu_memb_read_lock();
    struct cds_lfq_node_rcu *n;
    while ((n = cds_lfq_dequeue_rcu(q)) != NULL)
        urcu_memb_call_rcu(&((struct lfq_node *)n)->rcu, lfq_free_node);
    urcu_memb_read_unlock();
    urcu_memb_barrier();
    cds_lfq_destroy_rcu(q);
    urcu_memb_unregister_thread();
    free(q);
}

/* ---- the floor: K locked read-modify-writes per pair and nothing else (queue.floor) ---- */

struct rmw_floor {
    unsigned k;
    struct {
        _Alignas(64) _Atomic uint64_t v;
    } line[8];
};

static void *rmw_create(unsigned k)
{
    struct rmw_floor *f = aligned_alloc(64, sizeof(*f));
    if (f != NULL) {
        memset(f, 0, sizeof(*f));
        f->k = k;
    }
    return f;
}
static void *rmw3_create(unsigned threads) { (void)threads; return rmw_create(3); }
static void *rmw4_create(unsigned threads) { (void)threads; return rmw_create(4); }
static void *rmw5_create(unsigned threads) { (void)threads; return rmw_create(5); }
static void *rmw8_create(unsigned threads) { (void)threads; return rmw_create(8); }
static void rmw_destroy(void *f) { free(f); }

/* The push makes the first k / 2 fetch-and-adds, the pop the others (seq_cst, as cask's; on
 * x86-64 every one is a locked instruction). */
static void rmw_push(void *p, unsigned i, void *item)
{
    (void)i;
    (void)item;
    struct rmw_floor *f = p;
    for (unsigned j = 0; j < f->k / 2; j++)
        atomic_fetch_add_explicit(&f->line[j].v, 1, memory_order_seq_cst);
}
static void *rmw_pop(void *p, unsigned i)
{
    (void)i;
    struct rmw_floor *f = p;
    for (unsigned j = f->k / 2; j < f->k; j++)
        atomic_fetch_add_explicit(&f->line[j].v, 1, memory_order_seq_cst);
    return f;
}

static const qimpl impls[] = {
    {"cask", cask_create, cask_destroy, NULL, cask_leave, cask_push, cask_pop, cask_pop_wait, false, false, false},
    {"cask_bq", bq_create, bq_destroy, NULL, NULL, bq_push, bq_pop, bq_pop_wait, false, false, false},
    {"ck_hp_fifo", ckhp_create, ckhp_destroy, NULL, ckhp_leave, ckhp_push, ckhp_pop, NULL, false, false, false},
#ifdef CK_F_FIFO_MPMC
    {"ck_fifo_mpmc", ckmp_create, ckmp_destroy, NULL, NULL, ckmp_push, ckmp_pop, NULL, false, false, false},
#endif
    {"urcu_wfcq", wfq_create, wfq_destroy, NULL, NULL, wfq_push, wfq_pop, NULL, false, false, false},
    {"urcu_lfq", lfq_create, lfq_destroy, lfq_enter, lfq_leave, lfq_push, lfq_pop, NULL, false, false, false},
    {"mutex", mutex_create, mutex_destroy, NULL, NULL, mutex_push, mutex_pop, NULL, false, false, false},
    {"ck_ring", ckr_create, ckr_destroy, NULL, NULL, ckr_push, ckr_pop, NULL, false, true, false},
    {"mutex_cv", mcv_create, mcv_destroy, NULL, NULL, mcv_push, NULL, mcv_pop_wait, true, false, false},
    {"rmw3", rmw3_create, rmw_destroy, NULL, NULL, rmw_push, rmw_pop, NULL, false, true, true},
    {"rmw4", rmw4_create, rmw_destroy, NULL, NULL, rmw_push, rmw_pop, NULL, false, true, true},
    {"rmw5", rmw5_create, rmw_destroy, NULL, NULL, rmw_push, rmw_pop, NULL, false, true, true},
    {"rmw8", rmw8_create, rmw_destroy, NULL, NULL, rmw_push, rmw_pop, NULL, false, true, true},
};

/* ---- the workers ---- */

typedef struct qrun {
    const qimpl *impl;
    void *q;
    unsigned producers; /* 0: pairs */
    unsigned work;      /* pairs: iterations of local work after each pop (queue.pairs.work) */
    bool blocking;      /* consumers use pop_wait (queue.1p1c.blocking) */
} qrun;

static int q_setup(void *ctx, unsigned index)
{
    qrun *r = ctx;
    if (r->impl->thread_enter != NULL)
        r->impl->thread_enter(r->q, index);
    return 0;
}

static void q_teardown(void *ctx, unsigned index)
{
    qrun *r = ctx;
    if (r->impl->thread_leave != NULL)
        r->impl->thread_leave(r->q, index);
}

static void q_run(void *ctx, unsigned index, uint64_t ops)
{
    qrun *r = ctx;
    const qimpl *im = r->impl;
    void *item = (void *)(uintptr_t)(((uint64_t)index + 1) << 32);
    if (r->producers == 0) {
        for (uint64_t n = 0; n < ops / 2; n++) {
            im->push(r->q, index, (char *)item + n + 1);
            /* A linearizable queue cannot be empty here (every thread pushed before it pops);
             * ck_fifo_mpmc can say "empty" spuriously when it reads a reused entry: retry. */
            while (im->pop(r->q, index) == NULL)
                ;
            volatile unsigned sink = 0; /* the thread's own work, touching no shared memory */
            for (unsigned w = 0; w < r->work; w++)
                sink += w;
        }
    } else if (index < r->producers) {
        for (uint64_t n = 0; n < ops; n++)
            im->push(r->q, index, (char *)item + n + 1);
    } else if (r->blocking) {
        for (uint64_t n = 0; n < ops; n++)
            im->pop_wait(r->q, index);
    } else {
        unsigned empty = 0;
        for (uint64_t n = 0; n < ops;) {
            if (im->pop(r->q, index) != NULL) {
                n++;
                empty = 0;
            } else if (++empty >= 64) {
                empty = 0;
                sched_yield();
            }
        }
    }
}

static const cask_bench_worker q_worker = {q_setup, q_run, q_teardown};

static void memory_check(void)
{
    cask_queue *q;
    if (cask_queue_create(&q) != 0)
        abort();
    cask_hp_drain(cask_hp_default_domain());
    size_t base = mallinfo2().uordblks;
    for (uintptr_t i = 1; i <= 1000000; i++)
        cask_queue_push(q, (void *)i);
    size_t peak = mallinfo2().uordblks;
    void *x;
    while (cask_queue_try_pop(q, &x) == 0)
        ;
    cask_hp_drain(cask_hp_default_domain());
    size_t after = mallinfo2().uordblks;
    printf("\nmemory (cask queue, 1,000,000 items): baseline %zu B, peak %zu B, after drain %zu B "
           "(%+ld B: %s)\n",
           base, peak, after, (long)after - (long)base,
           after <= base + 2 * sizeof(void *) * CASK_QUEUE_SEGMENT + 1024 ? "back to baseline"
                                                                          : "NOT back");
    cask_queue_destroy(q);
}

/* The row of (bench, impl, threads), or NULL if it was not measured. */
static const cask_bench_result *find_row(const cask_bench_results *r, const char *bench,
                                         const char *impl, unsigned threads)
{
    for (size_t i = 0; i < r->count; i++)
        if (r->rows[i].threads == threads && strcmp(r->rows[i].bench, bench) == 0 &&
            strcmp(r->rows[i].impl, impl) == 0)
            return &r->rows[i];
    return NULL;
}

/*
 * One goal line: how many times faster `ours` is than the reference, where the reference is the
 * named peer, or (peer NULL) the fastest of the peers measured (not cask's own queues).
 */
static void goal(const cask_bench_results *r, const char *bench, unsigned threads,
                 const char *ours, const char *peer, double want)
{
    const cask_bench_result *o = find_row(r, bench, ours, threads), *best = NULL;
    for (size_t i = 0; i < sizeof(impls) / sizeof(impls[0]); i++) {
        if (strncmp(impls[i].name, "cask", 4) == 0 || impls[i].reference ||
            (peer != NULL && strcmp(impls[i].name, peer) != 0))
            continue;
        const cask_bench_result *p = find_row(r, bench, impls[i].name, threads);
        if (p != NULL && (best == NULL || p->ns_per_op < best->ns_per_op))
            best = p;
    }
    if (o == NULL || best == NULL)
        return; /* not measured (filtered out, or an odd thread count) */
    double x = best->ns_per_op / o->ns_per_op;
    printf("  %-12s %2u threads  %-8s vs %-13s %5.2fx  (goal >= %.1fx: %s)\n", bench, threads,
           ours, best->impl, x, want, x >= want ? "met" : "NOT met");
}

/* The goals of the header comment, for both of cask's queues. */
static void goals(const cask_bench_results *r)
{
    printf("\ngoals (times faster than the peer: peer ns/op / cask ns/op; \"best\" = fastest "
           "peer):\n");
    static const char *const ours[] = {"cask", "cask_bq"};
    for (int k = 0; k < 2; k++) {
        goal(r, "queue.pairs", 1, ours[k], "mutex", 1.2);
        goal(r, "queue.pairs", 2, ours[k], NULL, 2.0);
        goal(r, "queue.1p1c", 2, ours[k], NULL, 2.0);
        goal(r, "queue.pairs", 8, ours[k], "mutex", 2.0);
        goal(r, "queue.4p4c", 8, ours[k], "mutex", 2.0);
    }
    printf("\nreference, not a goal (the bounded queues: lock-free cask_bq against ck_ring, "
           "which is not):\n");
    static const struct {
        const char *bench;
        unsigned threads;
    } points[] = {{"queue.pairs", 1}, {"queue.pairs", 2}, {"queue.pairs", 8}, {"queue.1p1c", 2},
                  {"queue.4p4c", 8}};
    for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
        const cask_bench_result *o = find_row(r, points[i].bench, "cask_bq", points[i].threads);
        const cask_bench_result *p = find_row(r, points[i].bench, "ck_ring", points[i].threads);
        if (o != NULL && p != NULL)
            printf("  %-12s %2u threads  cask_bq  vs ck_ring       %5.2fx\n", points[i].bench,
                   points[i].threads, p->ns_per_op / o->ns_per_op);
    }
    const cask_bench_result *m = find_row(r, "queue.floor", "mutex", 1);
    if (m == NULL)
        return;
    printf("\nreference, not a goal (1 thread, pairs: mutex ns/op / row ns/op; the 1-thread goal "
           "is 1.2x, and rmwK is a floor for any lock-free queue making K locked RMWs per "
           "pair):\n");
    static const char *const rows[] = {"rmw3", "rmw4", "rmw5", "rmw8", "cask", "cask_bq"};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const cask_bench_result *o = find_row(r, "queue.floor", rows[i], 1);
        if (o != NULL)
            printf("  queue.floor   1 threads  %-8s vs mutex         %5.2fx\n", rows[i],
                   m->ns_per_op / o->ns_per_op);
    }
}

/* Measures every selected implementation at one (bench, threads) point, repetitions
 * interleaved (cask_bench_measure_group). Returns 0, or 1 after printing what failed. */
static int measure_point(const cask_bench_options *opt, cask_bench_results *results,
                         const char *bench, unsigned threads, unsigned producers, unsigned work,
                         bool blocking)
{
    enum { IMPLS = sizeof(impls) / sizeof(impls[0]) };
    qrun runs[IMPLS];
    cask_bench_entry entries[IMPLS];
    size_t count = 0;
    int rc = 0;
    bool floor = strcmp(bench, "queue.floor") == 0;
    for (size_t i = 0; i < IMPLS && rc == 0; i++) {
        if (!cask_bench_selected(opt, bench, impls[i].name) ||
            (blocking ? impls[i].pop_wait == NULL : impls[i].blocking_only) ||
            (impls[i].floor_only && !floor) ||
            (floor && !impls[i].floor_only && strcmp(impls[i].name, "mutex") != 0 &&
             strncmp(impls[i].name, "cask", 4) != 0))
            continue;
        if (impls[i].reference && threads > (unsigned)sysconf(_SC_NPROCESSORS_ONLN)) {
            /* More threads than cores: ck_ring's producers spin on one that was preempted
             * holding a slot; 20,000 pairs per thread at 8 threads on 2 cores did not finish
             * in 100 s. That is the stall lock-freedom rules out; not measurable here. */
            printf("  %-28s %-8s threads=%-3u not measured: more threads than cores (it stalls "
                   "behind preempted producers)\n", bench, impls[i].name, threads);
            continue;
        }
        runs[count] = (qrun){&impls[i], impls[i].create(threads), producers, work, blocking};
        if (runs[count].q == NULL) {
            fprintf(stderr, "queue_bench: %s: create failed\n", impls[i].name);
            rc = 1;
            break;
        }
        entries[count] = (cask_bench_entry){impls[i].name, &q_worker, &runs[count],
                                            work != 0 ? 200000 : 2000000};
        count++;
    }
    if (rc == 0 && count > 0) {
        int err = cask_bench_measure_group(opt, results, bench, threads, count, entries);
        if (err != 0) {
            fprintf(stderr, "queue_bench: %s: error %d\n", bench, err);
            rc = 1;
        }
    }
    for (size_t i = 0; i < count; i++)
        runs[i].impl->destroy(runs[i].q);
    return rc;
}

int main(int argc, char **argv)
{
    cask_bench_options opt;
    int rc = cask_bench_parse_args(argc, argv, "1,2,4,8",
                                   "MPMC queues: cask against ck, liburcu and a mutex", &opt);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    cask_bench_results results = {0};
    for (size_t t = 0; t < opt.thread_count; t++) {
        unsigned threads = opt.threads[t];
        for (int pc = 0; pc < 2; pc++) {
            if (pc == 1 && threads % 2 != 0)
                continue;
            char bench[32];
            if (pc == 0)
                snprintf(bench, sizeof(bench), "queue.pairs");
            else
                snprintf(bench, sizeof(bench), "queue.%up%uc", threads / 2, threads / 2);
            rc = measure_point(&opt, &results, bench, threads, pc ? threads / 2 : 0, 0, false);
            if (rc != 0)
                return 1;
        }
        /* Where the contention backoff stops paying: about 0.6 us of work per push and pop. */
        if (threads == 2 &&
            measure_point(&opt, &results, "queue.pairs.work", threads, 0, QUEUE_BENCH_WORK,
                          false) != 0)
            return 1;
        /* A consumer that sleeps in a blocking pop instead of spinning on try_pop. */
        if (threads == 2 &&
            measure_point(&opt, &results, "queue.1p1c.blocking", threads, 1, 0, true) != 0)
            return 1;
        /* What a pair's locked instructions alone cost, beside the queues (1 thread). */
        if (threads == 1 && measure_point(&opt, &results, "queue.floor", 1, 0, 0, false) != 0)
            return 1;
    }
    cask_bench_results_print(&results, "cask", stdout);
    goals(&results);
    if (cask_bench_selected(&opt, "memory", "cask"))
        memory_check();
    if (opt.json_path != NULL && cask_bench_results_write_json(&results, opt.json_path) != 0)
        return 1;
    cask_bench_results_free(&results);
    return 0;
}
