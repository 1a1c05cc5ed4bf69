/*
 * hp_alloc_fail_test.c: every allocation the hazard pointers make can fail, and a failure is
 * either CASK_ENOMEM from the call that needed the memory (which changes nothing) or, where no
 * error can be reported, a slower path that still reclaims every object exactly once and never
 * one that is protected.
 *
 * The test defines cask__alloc (strong), which replaces the library's weak one
 * (lib/internal/alloc.h), and fails the n-th allocation. For n = 0, 1, 2, ... it runs a scripted
 * workload with the n-th allocation failing, until a run makes fewer than n + 1 allocations
 * (every allocation site of the script has then failed once). The script touches every site:
 *   - cask_hp_domain_create (the domain);
 *   - a thread's first call on a domain (its binding and its record), through retire first and
 *     through slot_acquire;
 *   - acquiring more slots than one record holds (an extra record);
 *   - the scans of retire and drain (the hash set of hazards; on failure a scan looks in every
 *     slot instead);
 *   - cask_hp_thread_slot on a new thread (its binding and record in the default domain), then
 *     retire on that thread and its exit (the hand-over to the domain).
 * After each run: every object was reclaimed exactly once, the protected one not before its slot
 * was reset.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cask/cask.h"
#include "expect.h"

static _Atomic long alloc_calls; /* the workload's second thread allocates too */
static _Atomic long fail_at = -1;

void *cask__alloc(size_t align, size_t size)
{
    if (atomic_fetch_add_explicit(&alloc_calls, 1, memory_order_relaxed) ==
        atomic_load_explicit(&fail_at, memory_order_relaxed))
        return NULL;
    return aligned_alloc(align, (size + align - 1) / align * align);
}

void cask__free(void *p)
{
    free(p);
}

#define OBJECTS 200 /* well above a scan's threshold, so retire scans several times */
#define SLOTS 10    /* more than one record's 8 slots: an extra record */

typedef struct object {
    cask_hp_retired node;
    int reclaimed;            /* only the reclaiming thread writes; read after joins/drains */
    const bool *protected_by; /* while *protected_by is true, reclaim is a bug */
} object;

static void reclaim(void *p)
{
    object *o = p;
    EXPECT(o->protected_by == NULL || !*o->protected_by);
    o->reclaimed++;
}

/* Stops injecting: every allocation from now on succeeds. */
static void heal(void)
{
    atomic_store_explicit(&fail_at, -1, memory_order_relaxed);
}

/* Calls `call` until it succeeds; it may fail once with CASK_ENOMEM (the injected failure), then
 * must succeed. Counts the failure in *failures. */
#define RETRY_ONCE(call, failures)                                                                \
    do {                                                                                          \
        int rc_ = (call);                                                                         \
        if (rc_ == CASK_ENOMEM) {                                                                 \
            (*(failures))++;                                                                      \
            heal();                                                                               \
            rc_ = (call);                                                                         \
        }                                                                                         \
        EXPECT_EQ(rc_, 0);                                                                        \
    } while (0)

typedef struct thread_part {
    object obj;
    int failures;
} thread_part;

/* A new thread: the thread slot, a protect, a retire, then exit with the object still pending
 * (unless its own scan got it): the exit hands it to the domain. */
static void *thread_main(void *arg)
{
    thread_part *t = arg;
    cask_hp_slot *slot = NULL;
    RETRY_ONCE(cask_hp_thread_slot(&slot), &t->failures);
    cask_hp_set(slot, &t->obj);
    cask_hp_reset(slot);
    cask_hp_retire(cask_hp_default_domain(), &t->obj.node, &t->obj, reclaim);
    return NULL;
}

/* One run with the n-th allocation failing; returns how many allocations it made. */
static long workload(long n, int *failures)
{
    atomic_store_explicit(&alloc_calls, 0, memory_order_relaxed);
    atomic_store_explicit(&fail_at, n, memory_order_relaxed);

    cask_hp_domain *d = (cask_hp_domain *)0x1;
    int rc = cask_hp_domain_create(&d);
    if (rc == CASK_ENOMEM) {
        EXPECT(d == (cask_hp_domain *)0x1); /* untouched */
        (*failures)++;
        heal();
        rc = cask_hp_domain_create(&d);
    }
    EXPECT_EQ(rc, 0);

    static object objs[OBJECTS];
    bool protecting = true;
    for (int i = 0; i < OBJECTS; i++)
        objs[i] = (object){.protected_by = i == 0 ? &protecting : NULL};

    /* The first call of this thread on d is a retire: if its record cannot be had, the object
     * goes straight to the domain, and a later scan must still reclaim it. */
    cask_hp_retire(d, &objs[OBJECTS - 1].node, &objs[OBJECTS - 1], reclaim);

    cask_hp_slot *slots[SLOTS];
    for (int i = 0; i < SLOTS; i++)
        RETRY_ONCE(cask_hp_slot_acquire(d, &slots[i]), failures);
    cask_hp_set(slots[0], &objs[0]);
    cask_hp_set(slots[SLOTS - 1], &objs[0]); /* a slot of the extra record protects it too */
    for (int i = 0; i < OBJECTS - 1; i++)
        cask_hp_retire(d, &objs[i].node, &objs[i], reclaim);
    cask_hp_drain(d);
    EXPECT_EQ(objs[0].reclaimed, 0); /* still protected */
    for (int i = 1; i < OBJECTS; i++)
        EXPECT_EQ(objs[i].reclaimed, 1);
    protecting = false;
    cask_hp_reset(slots[0]);
    cask_hp_reset(slots[SLOTS - 1]);
    cask_hp_drain(d);
    EXPECT_EQ(objs[0].reclaimed, 1);
    for (int i = 0; i < SLOTS; i++)
        cask_hp_slot_release(slots[i]);

    thread_part t = {.failures = 0};
    pthread_t th;
    EXPECT_EQ(pthread_create(&th, NULL, thread_main, &t), 0);
    EXPECT_EQ(pthread_join(th, NULL), 0);
    *failures += t.failures;
    cask_hp_drain(cask_hp_default_domain());
    EXPECT_EQ(t.obj.reclaimed, 1);

    cask_hp_domain_destroy(d);
    long made = atomic_load_explicit(&alloc_calls, memory_order_relaxed);
    heal();
    return made;
}

int main(void)
{
    int failures = 0;
    long n = 0;
    /* pthread_create allocates with malloc, not cask__alloc: the count is cask's alone. */
    while (workload(n, &failures) > n)
        n++;
    /* Every run up to the last made more than n allocations, so each failed one site and that
     * failure came back as CASK_ENOMEM (counted) or was absorbed by a path that still
     * reclaimed everything (checked above). */
    printf("hp_alloc_fail_test: %ld allocation sites failed one at a time, %d reported "
           "CASK_ENOMEM\n",
           n, failures);
    /* At least: the domain, this thread's binding and record (allocated by the first retire,
     * which absorbs their failure), the extra record, a scan's set, the new thread's binding. */
    EXPECT(n >= 6);
    /* Of those, reported: the domain, the extra record (slot_acquire), the thread slot. */
    EXPECT(failures >= 3);
    return 0;
}
