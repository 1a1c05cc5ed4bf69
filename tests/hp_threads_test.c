/*
 * hp_threads_test.c: hazard pointers across threads.
 *   - objects a thread retired are handed to the domain when it exits, never leaked, and are
 *     reclaimed by the next scanner once unprotected;
 *   - a reader that stalls forever holding a hazard pointer pins only its own objects: the
 *     writers' garbage stays under cask_hp_garbage_bound() the whole time;
 *   - thread records are recycled: a hundred short-lived threads do not grow the domain;
 *   - readers that protect and dereference objects that writers replace and retire never see a
 *     reclaimed one (reclaim poisons, then frees, so ASan and TSan see any late read too).
 * Threads meet through pthread barriers and joins, never through sleeps.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>

#include "cask/cask.h"
#include "expect.h"

#define LIVE 0x11fe11feu
#define DEAD 0xdeaddeadu

typedef struct {
    cask_hp_retired node;
    _Atomic unsigned magic; /* LIVE until reclaimed; relaxed: the hazard protocol orders it */
    _Atomic int reclaimed;
} object;

static _Atomic long reclaimed_total;

static void reclaim_count(void *p)
{
    object *o = p;
    atomic_fetch_add_explicit(&o->reclaimed, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&reclaimed_total, 1, memory_order_relaxed);
}

static void reclaim_free(void *p)
{
    object *o = p;
    EXPECT(atomic_load_explicit(&o->magic, memory_order_relaxed) == LIVE); /* reclaimed twice? */
    atomic_store_explicit(&o->magic, DEAD, memory_order_relaxed);
    atomic_fetch_add_explicit(&reclaimed_total, 1, memory_order_relaxed);
    free(o);
}

static object *make(void)
{
    object *o = calloc(1, sizeof(*o));
    EXPECT(o != NULL);
    atomic_init(&o->magic, LIVE);
    atomic_init(&o->reclaimed, 0);
    return o;
}

/* ---- handover at thread exit ---- */

enum { HANDOVER = 1000 };
static object *handover_objs[HANDOVER];

static void *retire_all_and_exit(void *arg)
{
    cask_hp_domain *d = arg;
    for (int i = 0; i < HANDOVER; i++)
        cask_hp_retire(d, &handover_objs[i]->node, handover_objs[i], reclaim_count);
    return NULL; /* exit with objects still retired: the exit scan frees the unprotected ones */
}

static void test_exit_handover(cask_hp_domain *d)
{
    for (int i = 0; i < HANDOVER; i++)
        handover_objs[i] = make();
    /* main protects every tenth object so that the exiting thread cannot reclaim them */
    enum { HELD = HANDOVER / 10 };
    cask_hp_slot *slots[HELD];
    for (int i = 0; i < HELD; i++) {
        _Atomic(void *) src;
        atomic_init(&src, handover_objs[i * 10]);
        EXPECT_EQ(cask_hp_slot_acquire(d, &slots[i]), 0);
        EXPECT(cask_hp_protect(slots[i], &src) == handover_objs[i * 10]);
    }
    pthread_t t;
    EXPECT_EQ(pthread_create(&t, NULL, retire_all_and_exit, d), 0);
    EXPECT_EQ(pthread_join(t, NULL), 0);
    /* the exit scan reclaimed the unprotected ones; the held ones are pending in the domain */
    for (int i = 0; i < HANDOVER; i++)
        EXPECT_EQ(atomic_load_explicit(&handover_objs[i]->reclaimed, memory_order_relaxed),
                  i % 10 == 0 ? 0 : 1);
    EXPECT_EQ(cask_hp_pending(d), HELD);
    EXPECT_EQ(cask_hp_drain(d), 0); /* still protected */
    for (int i = 0; i < HELD; i++)
        cask_hp_slot_release(slots[i]);
    EXPECT_EQ(cask_hp_drain(d), HELD);
    EXPECT_EQ(cask_hp_pending(d), 0);
    for (int i = 0; i < HANDOVER; i++) {
        EXPECT_EQ(atomic_load_explicit(&handover_objs[i]->reclaimed, memory_order_relaxed), 1);
        free(handover_objs[i]);
    }
}

/* ---- stalled reader ---- */

enum { WRITERS = 3, RETIRES_PER_WRITER = 60000 };

typedef struct {
    cask_hp_domain *domain;
    pthread_barrier_t protected_barrier; /* reader has protected; writers may start */
    pthread_barrier_t done_barrier;      /* writers are done; reader may resume */
    _Atomic(void *) source;
    object *pinned;
    _Atomic size_t max_pending;
    _Atomic size_t bound_violations;
} stall_ctx;

static void *stalled_reader(void *arg)
{
    stall_ctx *c = arg;
    cask_hp_slot *slot;
    EXPECT_EQ(cask_hp_slot_acquire(c->domain, &slot), 0);
    object *o = cask_hp_protect(slot, &c->source);
    EXPECT(o == c->pinned);
    pthread_barrier_wait(&c->protected_barrier);
    pthread_barrier_wait(&c->done_barrier); /* "stalled" for the writers' whole run */
    EXPECT(atomic_load_explicit(&o->magic, memory_order_relaxed) == LIVE);
    cask_hp_slot_release(slot);
    return NULL;
}

static void *writer(void *arg)
{
    stall_ctx *c = arg;
    pthread_barrier_wait(&c->protected_barrier);
    for (int i = 0; i < RETIRES_PER_WRITER; i++) {
        object *o = make();
        cask_hp_retire(c->domain, &o->node, o, reclaim_free);
        size_t pending = cask_hp_pending(c->domain);
        size_t bound = cask_hp_garbage_bound(c->domain);
        if (pending > bound)
            atomic_fetch_add_explicit(&c->bound_violations, 1, memory_order_relaxed);
        size_t max = atomic_load_explicit(&c->max_pending, memory_order_relaxed);
        while (pending > max && !atomic_compare_exchange_weak_explicit(
                                    &c->max_pending, &max, pending, memory_order_relaxed,
                                    memory_order_relaxed)) {
        }
    }
    pthread_barrier_wait(&c->done_barrier);
    return NULL;
}

static void test_stalled_reader(cask_hp_domain *d)
{
    stall_ctx c = {.domain = d};
    c.pinned = make();
    atomic_init(&c.source, c.pinned);
    atomic_init(&c.max_pending, 0);
    atomic_init(&c.bound_violations, 0);
    pthread_barrier_init(&c.protected_barrier, NULL, WRITERS + 2); /* + main */
    pthread_barrier_init(&c.done_barrier, NULL, WRITERS + 1);
    pthread_t reader, writers[WRITERS];
    EXPECT_EQ(pthread_create(&reader, NULL, stalled_reader, &c), 0);
    for (int i = 0; i < WRITERS; i++)
        EXPECT_EQ(pthread_create(&writers[i], NULL, writer, &c), 0);
    /* the pinned object is unlinked and retired by main while the reader holds it: the
     * writers' scans and main's drain must all leave it alone */
    pthread_barrier_wait(&c.protected_barrier);
    atomic_store_explicit(&c.source, NULL, memory_order_relaxed);
    cask_hp_retire(d, &c.pinned->node, c.pinned, reclaim_free);
    cask_hp_drain(d);
    for (int i = 0; i < WRITERS; i++)
        EXPECT_EQ(pthread_join(writers[i], NULL), 0);
    EXPECT_EQ(pthread_join(reader, NULL), 0);
    size_t max = atomic_load_explicit(&c.max_pending, memory_order_relaxed);
    EXPECT_EQ(atomic_load_explicit(&c.bound_violations, memory_order_relaxed), 0);
    EXPECT(max > 0);
    /* the bound is far below what was retired: garbage really was collected during the run */
    EXPECT(cask_hp_garbage_bound(d) < (size_t)WRITERS * RETIRES_PER_WRITER / 10);
    fprintf(stderr, "stalled reader: max pending %zu, bound %zu, retired %d\n", max,
            cask_hp_garbage_bound(d), WRITERS * RETIRES_PER_WRITER);
    cask_hp_drain(d); /* the reader has released its slot: the pinned object goes now */
    EXPECT_EQ(cask_hp_pending(d), 0);
    pthread_barrier_destroy(&c.protected_barrier);
    pthread_barrier_destroy(&c.done_barrier);
}

/* ---- record recycling ---- */

static void *use_and_exit(void *arg)
{
    cask_hp_domain *d = arg;
    cask_hp_slot *slot;
    EXPECT_EQ(cask_hp_slot_acquire(d, &slot), 0);
    cask_hp_slot_release(slot);
    object *o = make();
    cask_hp_retire(d, &o->node, o, reclaim_free);
    return NULL;
}

static void run_short_lived_thread(cask_hp_domain *d)
{
    pthread_t t;
    EXPECT_EQ(pthread_create(&t, NULL, use_and_exit, d), 0);
    EXPECT_EQ(pthread_join(t, NULL), 0);
}

static void test_record_recycling(cask_hp_domain *d)
{
    run_short_lived_thread(d);
    size_t bound = cask_hp_garbage_bound(d); /* grows with the number of records */
    for (int i = 0; i < 100; i++)
        run_short_lived_thread(d);
    EXPECT_EQ(cask_hp_garbage_bound(d), bound); /* every thread reused the first one's record */
    EXPECT_EQ(cask_hp_pending(d), 0);
}

/* ---- replace and retire while readers dereference ---- */

enum { CELLS = 16, REPLACERS = 2, READERS = 2, ROUNDS = 20000 };

typedef struct {
    cask_hp_domain *domain;
    _Atomic(void *) cells[CELLS];
    _Atomic int writers_left;
    _Atomic long bad_reads;
} replace_ctx;

static void *replacer(void *arg)
{
    replace_ctx *c = arg;
    unsigned seed = 12345;
    for (int i = 0; i < ROUNDS; i++) {
        seed = seed * 1103515245u + 12345u;
        object *fresh = make();
        /* Release: pairs with the acquire load in cask_hp_protect (fresh's fields visible).
         * Acquire: the old object's contents as its publisher left them, before retiring it. */
        object *old = atomic_exchange_explicit(&c->cells[(seed >> 8) % CELLS], fresh,
                                               memory_order_acq_rel);
        cask_hp_retire(c->domain, &old->node, old, reclaim_free);
    }
    /* Release: pairs with the readers' acquire load, which only ends their loop. */
    atomic_fetch_sub_explicit(&c->writers_left, 1, memory_order_release);
    return NULL;
}

static void *reader(void *arg)
{
    replace_ctx *c = arg;
    cask_hp_slot *slot;
    EXPECT_EQ(cask_hp_slot_acquire(c->domain, &slot), 0);
    unsigned i = 0;
    /* Acquire: pairs with the replacers' release decrement. */
    while (atomic_load_explicit(&c->writers_left, memory_order_acquire) > 0) {
        object *o = cask_hp_protect(slot, &c->cells[i++ % CELLS]);
        if (atomic_load_explicit(&o->magic, memory_order_relaxed) != LIVE)
            atomic_fetch_add_explicit(&c->bad_reads, 1, memory_order_relaxed);
        cask_hp_reset(slot);
    }
    cask_hp_slot_release(slot);
    return NULL;
}

static void test_replace_while_reading(cask_hp_domain *d)
{
    replace_ctx c = {.domain = d};
    for (int i = 0; i < CELLS; i++)
        atomic_init(&c.cells[i], make());
    atomic_init(&c.writers_left, REPLACERS);
    atomic_init(&c.bad_reads, 0);
    long before = atomic_load_explicit(&reclaimed_total, memory_order_relaxed);
    pthread_t t[REPLACERS + READERS];
    for (int i = 0; i < REPLACERS + READERS; i++)
        EXPECT_EQ(pthread_create(&t[i], NULL, i < REPLACERS ? replacer : reader, &c), 0);
    for (int i = 0; i < REPLACERS + READERS; i++)
        EXPECT_EQ(pthread_join(t[i], NULL), 0);
    EXPECT_EQ(atomic_load_explicit(&c.bad_reads, memory_order_relaxed), 0);
    cask_hp_drain(d);
    EXPECT_EQ(cask_hp_pending(d), 0);
    /* every replaced object was reclaimed exactly once (reclaim_free checks "not twice") */
    EXPECT_EQ(atomic_load_explicit(&reclaimed_total, memory_order_relaxed) - before,
              REPLACERS * ROUNDS);
    for (int i = 0; i < CELLS; i++)
        free(atomic_load_explicit(&c.cells[i], memory_order_relaxed));
}

int main(void)
{
    cask_hp_domain *priv;
    EXPECT_EQ(cask_hp_domain_create(&priv), 0);
    cask_hp_domain *domains[] = {cask_hp_default_domain(), priv};
    for (int i = 0; i < 2; i++) {
        test_stalled_reader(domains[i]); /* first: few records, so the bound is tight */
        test_exit_handover(domains[i]);
        test_record_recycling(domains[i]);
        test_replace_while_reading(domains[i]);
    }
    cask_hp_domain_destroy(priv);
    return 0;
}
