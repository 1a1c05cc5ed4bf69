/*
 * snap_test.c: the snapshot cell's contract on one thread, plus the grace period itself.
 *   - create checks its arguments; read returns what was published, NULL included;
 *   - every replaced version is freed exactly once, after cask_snap_barrier at the latest, and
 *     destroy frees the last one; nothing is freed twice, nothing leaks (ASan's leak check);
 *   - update applies fn to the current version; an fn error changes nothing and frees nothing;
 *   - an update whose candidate loses runs fn again on the newer version and frees the loser at
 *     once (before update returns, without any barrier), never publishing it;
 *   - sections nest;
 *   - the grace period: a version that a reader thread is still reading is not freed while
 *     that reader stays inside its section, even after a barrier-calling thread started waiting;
 *     it is freed once the reader leaves.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "cask/cask.h"
#include "expect.h"

/* Built again as snap_test_lgpl with _LGPL_SOURCE: then snap.h must use liburcu's inline read
 * side (except under TSan, where it never does). */
#if defined(_LGPL_SOURCE) && !defined(CASK__SNAP_TSAN) && !defined(CASK__SNAP_INLINE_MEMB)
#error "_LGPL_SOURCE is defined but snap.h did not take the inline read side"
#endif
#if !defined(_LGPL_SOURCE) && defined(CASK__SNAP_INLINE_MEMB)
#error "snap.h inlined liburcu without _LGPL_SOURCE"
#endif

typedef struct {
    uint64_t value;
    uint64_t body[6];
    uint64_t sum; /* value + body: a checksum readers verify */
    _Atomic int freed;
} obj;

static _Atomic long frees;
static _Atomic long made;

static obj *make(uint64_t value)
{
    obj *o = malloc(sizeof(*o));
    EXPECT(o != NULL);
    o->value = value;
    o->sum = value;
    for (int i = 0; i < 6; i++) {
        o->body[i] = value * 31 + (uint64_t)i;
        o->sum += o->body[i];
    }
    atomic_init(&o->freed, 0);
    atomic_fetch_add_explicit(&made, 1, memory_order_relaxed);
    return o;
}

static void check(const obj *o)
{
    uint64_t s = o->value;
    for (int i = 0; i < 6; i++)
        s += o->body[i];
    EXPECT(s == o->sum);
}

/* Free function: counts, and frees for real so that ASan sees any late access. */
static void free_obj(void *p)
{
    obj *o = p;
    EXPECT(atomic_fetch_add_explicit(&o->freed, 1, memory_order_relaxed) == 0);
    atomic_fetch_add_explicit(&frees, 1, memory_order_relaxed);
    free(o);
}

static long nfrees(void)
{
    return atomic_load_explicit(&frees, memory_order_relaxed);
}

static int increment(const void *current, void *arg, void **next)
{
    (void)arg;
    const obj *c = current;
    check(c);
    *next = make(c->value + 1);
    return 0;
}

static int refuse(const void *current, void *arg, void **next)
{
    (void)current;
    (void)next;
    ++*(int *)arg;
    return CASK_EINVAL;
}

/* The first call publishes a rival version itself (as another writer would), so its own
 * candidate must lose; the second call, on the rival, wins. */
struct rival {
    cask_snap *cell;
    int calls;
    uint64_t seen[2];
    long frees_when_second_call;
};

static int with_rival(const void *current, void *arg, void **next)
{
    struct rival *r = arg;
    const obj *c = current;
    r->seen[r->calls] = c->value;
    if (r->calls++ == 0)
        EXPECT_EQ(cask_snap_publish(r->cell, make(1000)), 0);
    else
        r->frees_when_second_call = nfrees();
    *next = make(c->value + 1);
    return 0;
}

static void basics(void)
{
    cask_snap *cell;
    obj *first = make(1);
    EXPECT_EQ(cask_snap_create(first, NULL, &cell), CASK_EINVAL);
    EXPECT_EQ(cask_snap_create(first, free_obj, NULL), CASK_EINVAL);
    EXPECT_EQ(cask_snap_create(first, free_obj, &cell), 0);

    cask_snap_read_begin(cell);
    EXPECT(cask_snap_read(cell) == first);
    cask_snap_read_begin(cell); /* nested */
    EXPECT(cask_snap_read(cell) == first);
    cask_snap_read_end(cell);
    EXPECT(cask_snap_read(cell) == first); /* still inside the outer section */
    cask_snap_read_end(cell);

    obj *second = make(2);
    EXPECT_EQ(cask_snap_publish(cell, second), 0);
    cask_snap_read_begin(cell);
    EXPECT(cask_snap_read(cell) == second);
    cask_snap_read_end(cell);
    cask_snap_barrier();
    EXPECT_EQ(nfrees(), 1); /* first, exactly once */

    for (int i = 0; i < 10; i++)
        EXPECT_EQ(cask_snap_update(cell, increment, NULL), 0);
    cask_snap_read_begin(cell);
    const obj *now = cask_snap_read(cell);
    EXPECT_EQ(now->value, 12);
    check(now);
    cask_snap_read_end(cell);

    int refused = 0;
    EXPECT_EQ(cask_snap_update(cell, refuse, &refused), CASK_EINVAL);
    EXPECT_EQ(refused, 1);
    cask_snap_read_begin(cell);
    EXPECT(cask_snap_read(cell) == now); /* unchanged */
    cask_snap_read_end(cell);

    struct rival r = {.cell = cell};
    long before = nfrees();
    EXPECT_EQ(cask_snap_update(cell, with_rival, &r), 0);
    EXPECT_EQ(r.calls, 2);
    EXPECT_EQ(r.seen[0], 12);
    EXPECT_EQ(r.seen[1], 1000);                   /* retried on the rival's version */
    EXPECT_EQ(nfrees() - before >= 1, 1);          /* the loser (13) freed at once... */
    EXPECT(r.frees_when_second_call - before >= 1); /* ...even before fn ran again */
    cask_snap_read_begin(cell);
    EXPECT_EQ(((const obj *)cask_snap_read(cell))->value, 1001);
    cask_snap_read_end(cell);

    EXPECT_EQ(cask_snap_publish(cell, NULL), 0); /* NULL is a value like any other */
    cask_snap_read_begin(cell);
    EXPECT(cask_snap_read(cell) == NULL);
    cask_snap_read_end(cell);
    EXPECT_EQ(cask_snap_publish(cell, make(7)), 0);

    cask_snap_destroy(cell);
    cask_snap_barrier();
    EXPECT_EQ(nfrees(), atomic_load_explicit(&made, memory_order_relaxed)); /* all, once each */
}

/* ---- The grace period, across threads ---- */

static pthread_barrier_t meet;
static cask_snap *shared;
static _Atomic int barrier_returned;

static void *hold_reader(void *arg)
{
    (void)arg;
    cask_snap_read_begin(shared);
    const obj *o = cask_snap_read(shared);
    pthread_barrier_wait(&meet); /* 1: we hold o */
    pthread_barrier_wait(&meet); /* 2: main replaced it and a thread is waiting in barrier */
    check(o);                    /* still intact */
    EXPECT_EQ(atomic_load_explicit(&((obj *)o)->freed, memory_order_relaxed), 0);
    cask_snap_read_end(shared);
    return NULL;
}

static void *wait_frees(void *arg)
{
    (void)arg;
    cask_snap_barrier();
    atomic_store_explicit(&barrier_returned, 1, memory_order_relaxed);
    return NULL;
}

static void grace_period(void)
{
    long base = nfrees();
    EXPECT_EQ(cask_snap_create(make(1), free_obj, &shared), 0);
    EXPECT_EQ(pthread_barrier_init(&meet, NULL, 2), 0);
    pthread_t reader, waiter;
    EXPECT_EQ(pthread_create(&reader, NULL, hold_reader, NULL), 0);
    pthread_barrier_wait(&meet); /* 1 */
    EXPECT_EQ(cask_snap_publish(shared, make(2)), 0);
    EXPECT_EQ(pthread_create(&waiter, NULL, wait_frees, NULL), 0);
    /* Watch for 100 ms: a free without a grace period would happen in microseconds. This
     * checks that something does not happen; no race depends on the timing. */
    for (int i = 0; i < 100; i++) {
        EXPECT_EQ(nfrees(), base);
        EXPECT_EQ(atomic_load_explicit(&barrier_returned, memory_order_relaxed), 0);
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    }
    pthread_barrier_wait(&meet); /* 2: the reader checks and leaves */
    pthread_join(reader, NULL);
    pthread_join(waiter, NULL);
    EXPECT_EQ(nfrees(), base + 1); /* freed once the reader left */
    cask_snap_destroy(shared);
    cask_snap_barrier();
    EXPECT_EQ(nfrees(), base + 2);
    pthread_barrier_destroy(&meet);
}

int main(void)
{
    basics();
    grace_period();
    return 0;
}
