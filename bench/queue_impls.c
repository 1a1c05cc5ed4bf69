/*
 * bench/queue_impls.c: the queues queue_bench.c measures, each behind the qimpl interface of
 * bench/queue_impls.h: cask's two queues, their peers (Concurrency Kit, liburcu, a mutex list),
 * the references (ck_ring, mutex_cv) and the rmwK floors. What each row is, and why, is in
 * queue_bench.c's header comment.
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
#include "bench/queue_impls.h"

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

const qimpl queue_impls[] = {
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

const size_t queue_impl_count = sizeof(queue_impls) / sizeof(queue_impls[0]);
_Static_assert(sizeof(queue_impls) / sizeof(queue_impls[0]) <= QUEUE_IMPLS_MAX,
               "raise QUEUE_IMPLS_MAX in bench/queue_impls.h");
