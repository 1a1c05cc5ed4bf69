/*
 * hp_test.c: the single-threaded promises of hazard pointers: a protected object is never
 * reclaimed, an unprotected retired one is reclaimed exactly once by drain, automatic scans keep
 * garbage under the bound, sized retires scan early, more than eight slots work, reclaim may retire, private domains
 * reclaim everything on destroy. Built twice: with membarrier publication and (EXPECT_FULL_FENCE)
 * with the full-fence fallback.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "cask/cask.h"
#include "expect.h"

typedef struct {
    cask_hp_retired node;
    int id;
    int reclaimed; /* times reclaim ran on it: must end at exactly 1 */
    void *retire_next; /* if set, reclaim retires this object (reentrant retire) */
    cask_hp_domain *domain;
} object;

static int reclaim_calls;

static void reclaim(void *p)
{
    object *o = p;
    o->reclaimed++;
    reclaim_calls++;
    if (o->retire_next != NULL) {
        object *next = o->retire_next;
        o->retire_next = NULL;
        cask_hp_retire(o->domain, &next->node, next, reclaim);
    }
}

static object *make(int id, cask_hp_domain *d)
{
    object *o = calloc(1, sizeof(*o));
    EXPECT(o != NULL);
    o->id = id;
    o->domain = d;
    return o;
}

static void test_mode(void)
{
#if defined(EXPECT_FULL_FENCE)
    EXPECT(!cask_hp_uses_membarrier());
#elif defined(__linux__)
    long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0);
    bool available = cmds >= 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0;
    EXPECT(cask_hp_uses_membarrier() == available);
#endif
}

static void test_arguments(void)
{
    cask_hp_slot *slot = (cask_hp_slot *)&slot;
    EXPECT_EQ(cask_hp_slot_acquire(NULL, &slot), CASK_EINVAL);
    EXPECT(slot == (cask_hp_slot *)&slot); /* untouched on failure */
    EXPECT_EQ(cask_hp_slot_acquire(cask_hp_default_domain(), NULL), CASK_EINVAL);
    EXPECT_EQ(cask_hp_domain_create(NULL), CASK_EINVAL);
    EXPECT(cask_hp_default_domain() == cask_hp_default_domain());
}

/* protect, retire while protected, drain keeps it; reset, drain reclaims it exactly once. */
static void test_protect_then_retire(cask_hp_domain *d)
{
    object *o = make(1, d);
    _Atomic(void *) src;
    atomic_init(&src, o);
    cask_hp_slot *slot;
    EXPECT_EQ(cask_hp_slot_acquire(d, &slot), 0);
    EXPECT(cask_hp_protect(slot, &src) == o);
    atomic_store_explicit(&src, NULL, memory_order_relaxed); /* unlink */
    size_t before = cask_hp_pending(d);
    cask_hp_retire(d, &o->node, o, reclaim);
    EXPECT_EQ(cask_hp_pending(d), before + 1);
    EXPECT_EQ(cask_hp_drain(d), 0);
    EXPECT_EQ(o->reclaimed, 0);
    EXPECT_EQ(cask_hp_pending(d), before + 1);
    cask_hp_reset(slot);
    EXPECT_EQ(cask_hp_drain(d), 1);
    EXPECT_EQ(o->reclaimed, 1);
    EXPECT_EQ(cask_hp_drain(d), 0);
    EXPECT_EQ(o->reclaimed, 1);
    EXPECT_EQ(cask_hp_pending(d), before);
    /* protect of NULL returns NULL and protects nothing */
    EXPECT(cask_hp_protect(slot, &src) == NULL);
    cask_hp_slot_release(slot);
    free(o);
}

/* try_protect succeeds when the source still holds the pointer and reports the new one if not. */
static void test_try_protect(cask_hp_domain *d)
{
    object *a = make(1, d), *b = make(2, d);
    _Atomic(void *) src;
    atomic_init(&src, a);
    cask_hp_slot *slot;
    EXPECT_EQ(cask_hp_slot_acquire(d, &slot), 0);
    void *p = a;
    EXPECT(cask_hp_try_protect(slot, &p, &src));
    EXPECT(p == a);
    atomic_store_explicit(&src, b, memory_order_relaxed);
    EXPECT(!cask_hp_try_protect(slot, &p, &src));
    EXPECT(p == b);
    EXPECT(cask_hp_try_protect(slot, &p, &src));
    /* the slot now announces b, not a: a retired a is reclaimed, b is not */
    cask_hp_retire(d, &a->node, a, reclaim);
    cask_hp_retire(d, &b->node, b, reclaim);
    cask_hp_drain(d);
    EXPECT_EQ(a->reclaimed, 1);
    EXPECT_EQ(b->reclaimed, 0);
    /* set announces without validating */
    cask_hp_set(slot, b);
    cask_hp_drain(d);
    EXPECT_EQ(b->reclaimed, 0);
    cask_hp_slot_release(slot); /* release resets */
    cask_hp_drain(d);
    EXPECT_EQ(b->reclaimed, 1);
    free(a);
    free(b);
}

/* A thread can hold more than eight slots; every one of them protects. */
static void test_many_slots(cask_hp_domain *d)
{
    enum { SLOTS = 21 };
    cask_hp_slot *slots[SLOTS];
    object *objs[SLOTS];
    for (int i = 0; i < SLOTS; i++) {
        EXPECT_EQ(cask_hp_slot_acquire(d, &slots[i]), 0);
        for (int j = 0; j < i; j++)
            EXPECT(slots[i] != slots[j]);
        objs[i] = make(i, d);
        _Atomic(void *) src;
        atomic_init(&src, objs[i]);
        EXPECT(cask_hp_protect(slots[i], &src) == objs[i]);
        cask_hp_retire(d, &objs[i]->node, objs[i], reclaim);
    }
    cask_hp_drain(d);
    for (int i = 0; i < SLOTS; i++)
        EXPECT_EQ(objs[i]->reclaimed, 0);
    for (int i = 0; i < SLOTS; i += 2)
        cask_hp_slot_release(slots[i]);
    cask_hp_drain(d);
    for (int i = 0; i < SLOTS; i++)
        EXPECT_EQ(objs[i]->reclaimed, i % 2 == 0 ? 1 : 0);
    for (int i = 1; i < SLOTS; i += 2)
        cask_hp_slot_release(slots[i]);
    cask_hp_drain(d);
    for (int i = 0; i < SLOTS; i++) {
        EXPECT_EQ(objs[i]->reclaimed, 1);
        free(objs[i]);
    }
    /* released slots are reused rather than new records made */
    size_t bound = cask_hp_garbage_bound(d);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < SLOTS; i++)
            EXPECT_EQ(cask_hp_slot_acquire(d, &slots[i]), 0);
        for (int i = 0; i < SLOTS; i++)
            cask_hp_slot_release(slots[i]);
    }
    EXPECT_EQ(cask_hp_garbage_bound(d), bound);
}

/* A reclaim function may retire another object; it is queued and reclaimed too. */
static void test_reentrant_retire(cask_hp_domain *d)
{
    enum { CHAIN = 50 };
    object *objs[CHAIN];
    for (int i = 0; i < CHAIN; i++)
        objs[i] = make(i, d);
    for (int i = 0; i + 1 < CHAIN; i++)
        objs[i]->retire_next = objs[i + 1];
    cask_hp_retire(d, &objs[0]->node, objs[0], reclaim);
    for (int i = 0; i < CHAIN && cask_hp_pending(d) > 0; i++)
        cask_hp_drain(d);
    for (int i = 0; i < CHAIN; i++) {
        EXPECT_EQ(objs[i]->reclaimed, 1);
        free(objs[i]);
    }
}

/* Without drain, automatic scans keep the pending count under the documented bound. */
static void test_automatic_scans(cask_hp_domain *d)
{
    enum { COUNT = 20000 };
    object *objs = calloc(COUNT, sizeof(object));
    EXPECT(objs != NULL);
    int before = reclaim_calls;
    size_t max_pending = 0;
    for (int i = 0; i < COUNT; i++) {
        cask_hp_retire(d, &objs[i].node, &objs[i], reclaim);
        size_t pending = cask_hp_pending(d);
        if (pending > max_pending)
            max_pending = pending;
    }
    EXPECT(max_pending <= cask_hp_garbage_bound(d));
    EXPECT(reclaim_calls - before >= COUNT - (int)cask_hp_garbage_bound(d));
    cask_hp_drain(d);
    EXPECT_EQ(cask_hp_pending(d), 0);
    for (int i = 0; i < COUNT; i++)
        EXPECT_EQ(objs[i].reclaimed, 1);
    free(objs);
}

/* Sized retire: big objects make the thread scan at once (the protected one survives), tiny
 * ones wait for the count threshold as plain retire does. */
static void test_sized_retire(cask_hp_domain *d)
{
    enum { BIG = 1 << 30, COUNT = 10 }; /* far above any scan byte threshold */
    cask_hp_drain(d);
    EXPECT_EQ(cask_hp_pending(d), 0);
    object *objs = calloc(COUNT, sizeof(object));
    EXPECT(objs != NULL);
    cask_hp_slot *slot;
    EXPECT_EQ(cask_hp_slot_acquire(d, &slot), 0);
    _Atomic(void *) src = &objs[0];
    EXPECT(cask_hp_protect(slot, &src) == &objs[0]);
    atomic_store_explicit(&src, NULL, memory_order_relaxed); /* unlinked: single thread */
    cask_hp_retire_sized(d, &objs[0].node, &objs[0], reclaim, BIG);
    EXPECT_EQ(objs[0].reclaimed, 0); /* scanned, but protected */
    EXPECT_EQ(cask_hp_pending(d), 1);
    for (int i = 1; i < COUNT; i++) {
        cask_hp_retire_sized(d, &objs[i].node, &objs[i], reclaim, BIG);
        EXPECT_EQ(objs[i].reclaimed, 1); /* reclaimed by the scan its own retire started */
        EXPECT_EQ(cask_hp_pending(d), 1);
    }
    cask_hp_reset(slot);
    cask_hp_slot_release(slot);
    cask_hp_drain(d);
    EXPECT_EQ(objs[0].reclaimed, 1);
    /* One byte each: no scan before the count threshold. */
    for (int i = 0; i < COUNT; i++) {
        objs[i].reclaimed = 0;
        cask_hp_retire_sized(d, &objs[i].node, &objs[i], reclaim, 1);
    }
    EXPECT_EQ(cask_hp_pending(d), COUNT);
    cask_hp_drain(d);
    for (int i = 0; i < COUNT; i++)
        EXPECT_EQ(objs[i].reclaimed, 1);
    free(objs);
}

/* Destroying a private domain reclaims whatever it still holds. */
static void test_destroy_reclaims(void)
{
    cask_hp_domain *d;
    EXPECT_EQ(cask_hp_domain_create(&d), 0);
    object *objs[10];
    for (int i = 0; i < 10; i++) {
        objs[i] = make(i, d);
        cask_hp_retire(d, &objs[i]->node, objs[i], reclaim);
    }
    EXPECT_EQ(cask_hp_pending(d), 10);
    cask_hp_domain_destroy(d);
    for (int i = 0; i < 10; i++) {
        EXPECT_EQ(objs[i]->reclaimed, 1);
        free(objs[i]);
    }
    /* a second private domain works after the first is gone (stale thread bindings purged) */
    EXPECT_EQ(cask_hp_domain_create(&d), 0);
    cask_hp_slot *slot;
    EXPECT_EQ(cask_hp_slot_acquire(d, &slot), 0);
    cask_hp_slot_release(slot);
    cask_hp_domain_destroy(d);
}

int main(void)
{
    test_mode();
    test_arguments();
    cask_hp_domain *priv;
    EXPECT_EQ(cask_hp_domain_create(&priv), 0);
    cask_hp_domain *domains[] = {cask_hp_default_domain(), priv};
    for (int i = 0; i < 2; i++) {
        test_protect_then_retire(domains[i]);
        test_try_protect(domains[i]);
        test_many_slots(domains[i]);
        test_reentrant_retire(domains[i]);
        test_automatic_scans(domains[i]);
        test_sized_retire(domains[i]);
    }
    cask_hp_domain_destroy(priv);
    test_destroy_reclaims();
    return 0;
}
