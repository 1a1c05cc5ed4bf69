/*
 * hp_thread_slot_test.c: cask_hp_thread_slot gives each thread one slot of the default domain,
 * the same on every call, that protects like any slot, is given back at thread exit (a thread
 * that exits holding it is fine, also in checked builds, and a later thread can reuse the
 * record), and may not be released.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "cask/cask.h"
#include "expect.h"

static int reclaimed;

typedef struct obj {
    cask_hp_retired node;
    int value;
} obj;

static void reclaim(void *p)
{
    reclaimed++;
    free(p);
}

static void *worker(void *arg)
{
    cask_hp_slot **out = arg;
    cask_hp_slot *a, *b;
    EXPECT_EQ(cask_hp_thread_slot(&a), 0);
    EXPECT_EQ(cask_hp_thread_slot(&b), 0);
    EXPECT(a == b);
    cask_hp_slot *other;
    EXPECT_EQ(cask_hp_slot_acquire(cask_hp_default_domain(), &other), 0);
    EXPECT(other != a); /* an acquired slot is never the thread slot */
    cask_hp_slot_release(other);
    *out = a;
    return NULL; /* exits holding the thread slot: allowed */
}

int main(void)
{
    cask_hp_slot *s1, *s2;
    EXPECT_EQ(cask_hp_thread_slot(&s1), 0);
    EXPECT_EQ(cask_hp_thread_slot(&s2), 0);
    EXPECT(s1 == s2);

    /* It protects: an object announced in it survives a drain, and is reclaimed once reset. */
    obj *o = malloc(sizeof(*o));
    EXPECT(o != NULL);
    o->value = 7;
    _Atomic(void *) src;
    atomic_init(&src, o);
    obj *p = cask_hp_protect(s1, &src);
    EXPECT(p == o);
    atomic_store_explicit(&src, NULL, memory_order_relaxed); /* unlinked */
    cask_hp_retire(cask_hp_default_domain(), &o->node, o, reclaim);
    cask_hp_drain(cask_hp_default_domain());
    EXPECT_EQ(reclaimed, 0);
    EXPECT_EQ(p->value, 7);
    cask_hp_reset(s1);
    cask_hp_drain(cask_hp_default_domain());
    EXPECT_EQ(reclaimed, 1);

    /* Other threads get other slots, and exiting while holding theirs is no misuse. */
    for (int round = 0; round < 3; round++) {
        cask_hp_slot *theirs[2] = {NULL, NULL};
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
            EXPECT_EQ(pthread_create(&t[i], NULL, worker, &theirs[i]), 0);
        for (int i = 0; i < 2; i++)
            EXPECT_EQ(pthread_join(t[i], NULL), 0);
        EXPECT(theirs[0] != NULL && theirs[1] != NULL);
        EXPECT(theirs[0] != s1 && theirs[1] != s1); /* a thread that exited may hand its record on */
    }
    EXPECT_EQ(cask_hp_thread_slot(&s2), 0);
    EXPECT(s2 == s1); /* still ours */
    return 0;
}
