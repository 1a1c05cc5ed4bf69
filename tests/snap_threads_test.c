/*
 * snap_threads_test.c: a correct reader/writer/free program, run in every build (and so under
 * ThreadSanitizer and AddressSanitizer, where it must stay clean: that is half of the proof
 * that the grace-period annotation in lib/snap.c is right; the mutants are the other half).
 *   - readers read objects that writers keep replacing, and verify each object's checksum;
 *     objects are poisoned and freed by the free function, so a reader that reaches a freed
 *     object fails the checksum or is reported by ASan/TSan;
 *   - publishers and updaters work at once on two cells: on the update-only cell no update is
 *     lost (the final count is exactly the number of updates), and every object ever made is
 *     freed exactly once after destroy + barrier;
 *   - readers that nest sections across both cells, and threads that exit (and unregister)
 *     while writers keep going.
 * Threads meet through joins only.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "cask/cask.h"
#include "expect.h"

#define READERS 3
#define PUBLISHERS 2
#define UPDATERS 2
#define WRITES 3000

typedef struct {
    uint64_t count;   /* updates applied so far (update-only cell) */
    uint64_t body[7]; /* derived from count and a per-object salt */
    uint64_t sum;     /* checksum of count and body */
} obj;

static _Atomic long made, frees;
static cask_snap *pub_cell, *upd_cell;
static _Atomic int writers_done;

static obj *make(uint64_t count, uint64_t salt)
{
    obj *o = malloc(sizeof(*o));
    EXPECT(o != NULL);
    o->count = count;
    o->sum = count;
    for (int i = 0; i < 7; i++) {
        o->body[i] = salt * 0x9E3779B97F4A7C15u + (uint64_t)i;
        o->sum += o->body[i];
    }
    atomic_fetch_add_explicit(&made, 1, memory_order_relaxed);
    return o;
}

static void check(const obj *o)
{
    uint64_t s = o->count;
    for (int i = 0; i < 7; i++)
        s += o->body[i];
    EXPECT(s == o->sum);
}

static void free_obj(void *p)
{
    obj *o = p;
    check(o);
    o->sum = ~o->sum; /* poison: a late reader fails, or TSan sees this write race its read */
    free(o);
    atomic_fetch_add_explicit(&frees, 1, memory_order_relaxed);
}

static int increment(const void *current, void *arg, void **next)
{
    const obj *c = current;
    check(c);
    *next = make(c->count + 1, (uint64_t)(uintptr_t)arg);
    return 0;
}

static void *reader(void *arg)
{
    (void)arg;
    uint64_t last = 0;
    while (!atomic_load_explicit(&writers_done, memory_order_relaxed)) {
        cask_snap_read_begin(pub_cell);
        const obj *a = cask_snap_read(pub_cell);
        cask_snap_read_begin(upd_cell);
        const obj *b = cask_snap_read(upd_cell);
        check(b);
        EXPECT(b->count >= last); /* versions never go back for one reader */
        last = b->count;
        cask_snap_read_end(upd_cell);
        check(a); /* still inside pub_cell's (outer) section */
        cask_snap_read_end(pub_cell);
    }
    return NULL;
}

static void *publisher(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    for (int i = 0; i < WRITES; i++)
        EXPECT_EQ(cask_snap_publish(pub_cell, make(0, id * 1000000 + (uint64_t)i)), 0);
    return NULL;
}

static void *updater(void *arg)
{
    for (int i = 0; i < WRITES; i++)
        EXPECT_EQ(cask_snap_update(upd_cell, increment, arg), 0);
    return NULL;
}

/* A short-lived reader: registers on its first read, unregisters when it exits. */
static void *short_reader(void *arg)
{
    (void)arg;
    cask_snap_read_begin(upd_cell);
    check(cask_snap_read(upd_cell));
    cask_snap_read_end(upd_cell);
    return NULL;
}

int main(void)
{
    EXPECT_EQ(cask_snap_create(make(0, 1), free_obj, &pub_cell), 0);
    EXPECT_EQ(cask_snap_create(make(0, 2), free_obj, &upd_cell), 0);
    pthread_t r[READERS], w[PUBLISHERS + UPDATERS];
    for (uintptr_t i = 0; i < READERS; i++)
        EXPECT_EQ(pthread_create(&r[i], NULL, reader, NULL), 0);
    for (uintptr_t i = 0; i < PUBLISHERS; i++)
        EXPECT_EQ(pthread_create(&w[i], NULL, publisher, (void *)(i + 1)), 0);
    for (uintptr_t i = 0; i < UPDATERS; i++)
        EXPECT_EQ(pthread_create(&w[PUBLISHERS + i], NULL, updater, (void *)(i + 10)), 0);
    for (int i = 0; i < 20; i++) {
        pthread_t t;
        EXPECT_EQ(pthread_create(&t, NULL, short_reader, NULL), 0);
        pthread_join(t, NULL);
    }
    for (int i = 0; i < PUBLISHERS + UPDATERS; i++)
        pthread_join(w[i], NULL);
    atomic_store_explicit(&writers_done, 1, memory_order_relaxed);
    for (int i = 0; i < READERS; i++)
        pthread_join(r[i], NULL);

    cask_snap_read_begin(upd_cell);
    EXPECT_EQ(((const obj *)cask_snap_read(upd_cell))->count, UPDATERS * WRITES); /* none lost */
    cask_snap_read_end(upd_cell);

    cask_snap_destroy(pub_cell);
    cask_snap_destroy(upd_cell);
    cask_snap_barrier();
    EXPECT_EQ(atomic_load_explicit(&frees, memory_order_relaxed),
              atomic_load_explicit(&made, memory_order_relaxed));
    return 0;
}
