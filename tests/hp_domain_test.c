/*
 * hp_domain_test.c: the life cycle of private domains when other threads are still around.
 *   - a reclaim function that retires (onto the domain being destroyed) has its object reclaimed
 *     too, by the destroying thread, whichever thread that is;
 *   - a thread that used the domain may exit while the domain is destroyed: every object is
 *     reclaimed exactly once and nothing is touched after it is freed (ASan and TSan configs);
 *   - a thread whose records of a destroyed domain include extra records (more than 8 slots)
 *     can go on using other domains while destroy runs.
 * Threads meet through atomics and joins; no sleeps.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>

#include "cask/cask.h"
#include "expect.h"

typedef struct object {
    cask_hp_retired node;
    struct object *child; /* retired by this object's reclaim function */
} object;

static cask_hp_domain *domain;
static _Atomic int reclaimed;

static void reclaim(void *p)
{
    object *o = p;
    atomic_fetch_add_explicit(&reclaimed, 1, memory_order_relaxed);
    if (o->child != NULL)
        cask_hp_retire(domain, &o->child->node, o->child, reclaim);
    free(o);
}

static object *make(object *child)
{
    object *o = calloc(1, sizeof(*o));
    EXPECT(o != NULL);
    o->child = child;
    return o;
}

/* ---- reclaim retires during destroy ---- */

static _Atomic(void *) source;

static void *retire_protected_and_exit(void *arg)
{
    (void)arg;
    object *o = atomic_load_explicit(&source, memory_order_relaxed);
    atomic_store_explicit(&source, NULL, memory_order_relaxed);
    cask_hp_retire(domain, &o->node, o, reclaim);
    cask_hp_drain(domain); /* main protects o: it stays, and is orphaned at exit */
    return NULL;
}

static void *destroy_it(void *arg)
{
    (void)arg;
    cask_hp_domain_destroy(domain);
    return NULL;
}

static void test_reentrant_retire_in_destroy(bool on_other_thread)
{
    EXPECT_EQ(cask_hp_domain_create(&domain), 0);
    atomic_store_explicit(&reclaimed, 0, memory_order_relaxed);
    object *o = make(make(NULL));
    atomic_store_explicit(&source, o, memory_order_relaxed);
    cask_hp_slot *slot;
    EXPECT_EQ(cask_hp_slot_acquire(domain, &slot), 0);
    EXPECT(cask_hp_protect(slot, &source) == o);
    pthread_t t;
    EXPECT_EQ(pthread_create(&t, NULL, retire_protected_and_exit, NULL), 0);
    EXPECT_EQ(pthread_join(t, NULL), 0);
    cask_hp_slot_release(slot);
    EXPECT_EQ(cask_hp_pending(domain), 1);
    if (on_other_thread) {
        EXPECT_EQ(pthread_create(&t, NULL, destroy_it, NULL), 0);
        EXPECT_EQ(pthread_join(t, NULL), 0);
    } else {
        cask_hp_domain_destroy(domain);
    }
    EXPECT_EQ(atomic_load_explicit(&reclaimed, memory_order_relaxed), 2);
}

/* ---- a user thread exits while the domain is destroyed ---- */

static _Atomic int worker_done;

static void *retire_one_and_finish(void *arg)
{
    (void)arg;
    object *o = make(NULL);
    cask_hp_retire(domain, &o->node, o, reclaim);
    /* Release: pairs with main's acquire; main then destroys while we are still exiting. */
    atomic_store_explicit(&worker_done, 1, memory_order_release);
    return NULL;
}

static void test_destroy_while_thread_exits(void)
{
    for (int i = 0; i < 300; i++) {
        EXPECT_EQ(cask_hp_domain_create(&domain), 0);
        atomic_store_explicit(&reclaimed, 0, memory_order_relaxed);
        atomic_store_explicit(&worker_done, 0, memory_order_relaxed);
        pthread_t t;
        EXPECT_EQ(pthread_create(&t, NULL, retire_one_and_finish, NULL), 0);
        /* Acquire: pairs with the worker's release store. */
        while (!atomic_load_explicit(&worker_done, memory_order_acquire))
            sched_yield();
        cask_hp_domain_destroy(domain);
        EXPECT_EQ(pthread_join(t, NULL), 0);
        EXPECT_EQ(atomic_load_explicit(&reclaimed, memory_order_relaxed), 1);
    }
}

/* ---- the owner of extra records uses other domains while destroy runs ---- */

static cask_hp_domain *other;
static _Atomic int phase;

static void *many_slots_then_other_domain(void *arg)
{
    (void)arg;
    cask_hp_slot *slots[20];
    for (int i = 0; i < 20; i++)
        EXPECT_EQ(cask_hp_slot_acquire(domain, &slots[i]), 0);
    for (int i = 0; i < 20; i++)
        cask_hp_slot_release(slots[i]);
    /* Release: pairs with main's acquire; our records are set up, destroy may start. */
    atomic_store_explicit(&phase, 1, memory_order_release);
    for (int i = 0; i < 20000; i++) { /* each call on `other` may purge the destroyed binding */
        cask_hp_slot *s;
        EXPECT_EQ(cask_hp_slot_acquire(i % 2 ? other : cask_hp_default_domain(), &s), 0);
        cask_hp_slot_release(s);
    }
    return NULL;
}

static void test_destroy_while_owner_uses_other_domains(void)
{
    for (int round = 0; round < 20; round++) {
        EXPECT_EQ(cask_hp_domain_create(&domain), 0);
        EXPECT_EQ(cask_hp_domain_create(&other), 0);
        atomic_store_explicit(&phase, 0, memory_order_relaxed);
        pthread_t t;
        EXPECT_EQ(pthread_create(&t, NULL, many_slots_then_other_domain, NULL), 0);
        /* Acquire: pairs with the thread's release store. */
        while (atomic_load_explicit(&phase, memory_order_acquire) == 0)
            sched_yield();
        cask_hp_domain_destroy(domain);
        EXPECT_EQ(pthread_join(t, NULL), 0);
        cask_hp_domain_destroy(other);
    }
}

int main(void)
{
    test_reentrant_retire_in_destroy(false);
    test_reentrant_retire_in_destroy(true);
    test_destroy_while_thread_exits();
    test_destroy_while_owner_uses_other_domains();
    return 0;
}
