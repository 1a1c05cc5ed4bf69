/*
 * hp_exit_reclaim_test.c: reclaim functions run by a thread's exit scan can use cask like any
 * other reclaim function. A thread retires objects and exits while they are still pending, so
 * its exit scan reclaims them; each reclaim function then
 *   - pushes the object onto a queue (a pool of spare objects, the common case), and pops and
 *     pushes it back once more (a pop takes the thread slot too);
 *   - pushes the object's id onto a vector;
 *   - acquires and releases a hazard slot of the default domain;
 * and every one of those calls must succeed; a slot of any other domain is refused at exit
 * (CASK_ENOMEM: another thread may be destroying that domain), and that is checked too. Checked for the default domain, for a domain of
 * our own, for a thread that used only a domain of its own (so the queue's default-domain
 * record is first taken during its exit), and for one that used its own domain and then the
 * default one (whose record must be handed back last). Before, each such call said
 * CASK_ENOMEM.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>

#include "cask/cask.h"
#include "expect.h"

enum { OBJECTS = 10 }; /* well under the scan threshold: all of them are pending at exit */

typedef struct {
    cask_hp_retired node;
    cask_hp_domain *domain;
    uint64_t id;
} object;

static cask_queue *pool;
static cask_vec *ids;
static _Atomic int failures;  /* relaxed: read after the join */
static _Atomic int reclaimed; /* relaxed: read after the join */
static _Atomic int own_slot_not_refused; /* relaxed: read after the join */

static void fail_if(int rc)
{
    if (rc != 0)
        atomic_fetch_add_explicit(&failures, 1, memory_order_relaxed);
}

static void reclaim_into_pool(void *p)
{
    object *o = p;
    void *back = NULL;
    fail_if(cask_queue_push(pool, o));
    fail_if(cask_queue_try_pop(pool, &back));
    fail_if(cask_queue_push(pool, back));
    fail_if(cask_vec_push(ids, &o->id, NULL));
    cask_hp_slot *s = NULL;
    int rc = cask_hp_slot_acquire(cask_hp_default_domain(), &s);
    fail_if(rc);
    if (rc == 0)
        cask_hp_slot_release(s);
    if (o->domain != cask_hp_default_domain()) {
        s = NULL;
        rc = cask_hp_slot_acquire(o->domain, &s);
        if (rc != CASK_ENOMEM || s != NULL) /* refused, *out untouched */
            atomic_fetch_add_explicit(&own_slot_not_refused, 1, memory_order_relaxed);
        if (rc == 0)
            cask_hp_slot_release(s);
    }
    atomic_fetch_add_explicit(&reclaimed, 1, memory_order_relaxed);
}

struct run {
    cask_hp_domain *domain;
    object objs[OBJECTS];
    bool use_queue_last; /* bind the default domain after run.domain, before the exit */
    int reclaimed_before_exit;
};

static void *retire_and_exit(void *arg)
{
    struct run *run = arg;
    for (int i = 0; i < OBJECTS; i++) {
        run->objs[i].domain = run->domain;
        run->objs[i].id = (uint64_t)(uintptr_t)&run->objs[i];
        cask_hp_retire(run->domain, &run->objs[i].node, &run->objs[i], reclaim_into_pool);
    }
    if (run->use_queue_last) {
        static object dummy;
        void *back = NULL;
        EXPECT_EQ(cask_queue_push(pool, &dummy), 0);
        EXPECT_EQ(cask_queue_try_pop(pool, &back), 0);
        EXPECT(back == &dummy);
    }
    run->reclaimed_before_exit = atomic_load_explicit(&reclaimed, memory_order_relaxed);
    return NULL; /* the exit scan reclaims all of them: nothing protects them */
}

static void check_exit_reclaims(cask_hp_domain *d, bool use_queue_last, const char *what)
{
    static struct run run;
    run.domain = d;
    run.use_queue_last = use_queue_last;
    atomic_store_explicit(&failures, 0, memory_order_relaxed);
    atomic_store_explicit(&reclaimed, 0, memory_order_relaxed);
    EXPECT_EQ(cask_queue_create(&pool), 0);
    EXPECT_EQ(cask_vec_create(sizeof(uint64_t), 1024, "exit ids", &ids), 0);
    pthread_t t;
    EXPECT_EQ(pthread_create(&t, NULL, retire_and_exit, &run), 0);
    EXPECT_EQ(pthread_join(t, NULL), 0);
    fprintf(stderr, "%s: %d reclaimed at exit, %d calls failed\n", what,
            atomic_load_explicit(&reclaimed, memory_order_relaxed),
            atomic_load_explicit(&failures, memory_order_relaxed));
    EXPECT_EQ(run.reclaimed_before_exit, 0); /* so the reclaims below ran during the exit */
    EXPECT_EQ(atomic_load_explicit(&reclaimed, memory_order_relaxed), OBJECTS);
    EXPECT_EQ(atomic_load_explicit(&failures, memory_order_relaxed), 0);
    EXPECT_EQ(atomic_load_explicit(&own_slot_not_refused, memory_order_relaxed), 0);
    /* every object is in the pool and in the vector exactly once */
    bool seen[OBJECTS] = {false};
    void *item;
    for (int i = 0; i < OBJECTS; i++) {
        EXPECT_EQ(cask_queue_try_pop(pool, &item), 0);
        object *o = item;
        EXPECT(o >= run.objs && o < run.objs + OBJECTS && !seen[o - run.objs]);
        seen[o - run.objs] = true;
    }
    EXPECT_EQ(cask_queue_try_pop(pool, &item), CASK_EEMPTY);
    EXPECT_EQ(cask_vec_length(ids), OBJECTS);
    bool id_seen[OBJECTS] = {false};
    for (size_t i = 0; i < OBJECTS; i++) {
        uint64_t id;
        EXPECT_EQ(cask_vec_get(ids, i, &id), 0);
        int k = 0;
        while (k < OBJECTS && run.objs[k].id != id)
            k++;
        EXPECT(k < OBJECTS && !id_seen[k]);
        id_seen[k] = true;
    }
    cask_vec_unref(ids);
    cask_queue_destroy(pool);
}

int main(void)
{
    check_exit_reclaims(cask_hp_default_domain(), false, "default domain");
    cask_hp_domain *mine;
    EXPECT_EQ(cask_hp_domain_create(&mine), 0);
    /* The queue above was used by threads that are gone: this thread's default record is the
     * main thread's; the exiting thread takes the default domain only during its exit scan. */
    check_exit_reclaims(mine, false, "own domain, default first bound at exit");
    /* Bound after our domain, the default domain's record is first in the thread's list: the
     * exit must still hand it back last, after our domain's reclaim functions used it. */
    check_exit_reclaims(mine, true, "own domain, then the default domain");
    cask_hp_drain(mine);
    cask_hp_domain_destroy(mine);
    cask_hp_drain(cask_hp_default_domain());
    return 0;
}
