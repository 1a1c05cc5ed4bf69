/*
 * map_counter_test.c: a read-modify-write built on cask_map_get + cask_map_replace (the way a
 * server implements INCR) loses no update under real concurrency: THREADS threads each add 1
 * INCREMENTS times to a few shared counters, byte-string keys and u64 keys; afterwards the
 * counters sum to exactly THREADS * INCREMENTS, each counter to the increments made on it, and
 * every value object created was destroyed exactly once.
 *
 * Each stored value is a fresh malloc'd object freed by the map's destructor, so the allocator
 * hands a destroyed value's address to a later increment: a replace that compared `expected`
 * without keeping it protected could match a newer value at the same address (ABA) and drop an
 * update. That window is narrow (it needs a reclamation scan inside one replace), so a free
 * schedule rarely hits it: tests/map_replace_aba_test.c forces it deterministically. This test
 * is the counting contract under a free schedule, and under TSan the check that the pattern is
 * free of data races.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cask/cask.h"
#include "expect.h"

#define THREADS 4
#define INCREMENTS 20000
#define KEYS 3
#define LIVE 0x600D600Du

typedef struct {
    unsigned magic;
    long n;
} counter;

static _Atomic long created, destroyed;
static cask_map *map;
static bool u64_keys;
static long done_per_key[THREADS][KEYS];

static void dtor(void *p)
{
    counter *c = p;
    EXPECT(c->magic == LIVE);
    c->magic = 0;
    free(c);
    atomic_fetch_add_explicit(&destroyed, 1, memory_order_relaxed);
}

static counter *make(long n)
{
    counter *c = malloc(sizeof(*c));
    EXPECT(c != NULL);
    c->magic = LIVE;
    c->n = n;
    atomic_fetch_add_explicit(&created, 1, memory_order_relaxed);
    return c;
}

static void unmake(counter *c) /* refused by the map: still ours */
{
    free(c);
    atomic_fetch_add_explicit(&created, -1, memory_order_relaxed);
}

static int get(cask_map_guard *g, unsigned k, void **out)
{
    char key[8] = {'c', 'n', 't', 0, (char)k};
    return u64_keys ? cask_map_get_u64(map, g, k, out) : cask_map_get(map, g, key, sizeof(key), out);
}

/* Adds 1 to counter k: get, compute, replace (insert if absent), retried until it wins. */
static void increment(cask_map_guard *g, unsigned k)
{
    char key[8] = {'c', 'n', 't', 0, (char)k};
    for (;;) {
        void *cur;
        int rc = get(g, k, &cur);
        EXPECT(rc == 0 || rc == CASK_ENOENT);
        if (rc == 0)
            EXPECT(((counter *)cur)->magic == LIVE);
        counter *next = make(rc == 0 ? ((counter *)cur)->n + 1 : 1);
        int wrc;
        if (rc == 0)
            wrc = u64_keys ? cask_map_replace_u64(map, g, k, cur, next)
                           : cask_map_replace(map, g, key, sizeof(key), cur, next);
        else
            wrc = u64_keys ? cask_map_insert_u64(map, g, k, next)
                           : cask_map_insert(map, g, key, sizeof(key), next);
        if (wrc == 0)
            return;
        EXPECT(wrc == CASK_ENOENT || wrc == CASK_EEXIST);
        unmake(next);
    }
}

static void *worker(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    uint64_t s = id * 0x9E3779B97F4A7C15u + 1;
    cask_map_guard *g;
    EXPECT_EQ(cask_map_guard_acquire(map, &g), 0);
    for (int i = 0; i < INCREMENTS; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        unsigned k = (unsigned)(s % KEYS);
        increment(g, k);
        done_per_key[id][k]++;
    }
    cask_map_guard_release(g);
    return NULL;
}

static void run(bool u64)
{
    u64_keys = u64;
    memset(done_per_key, 0, sizeof(done_per_key));
    cask_map_options o = {.key_kind = u64 ? CASK_MAP_KEY_U64 : CASK_MAP_KEY_BYTES, .dtor = dtor};
    EXPECT_EQ(cask_map_create(&map, &o), 0);
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        EXPECT_EQ(pthread_create(&t[i], NULL, worker, (void *)i), 0);
    for (int i = 0; i < THREADS; i++)
        EXPECT_EQ(pthread_join(t[i], NULL), 0);
    cask_map_guard *g;
    EXPECT_EQ(cask_map_guard_acquire(map, &g), 0);
    long total = 0;
    for (unsigned k = 0; k < KEYS; k++) {
        long want = 0;
        for (int i = 0; i < THREADS; i++)
            want += done_per_key[i][k];
        void *cur;
        long have = get(g, k, &cur) == 0 ? ((counter *)cur)->n : 0;
        EXPECT_EQ(have, want);
        total += have;
    }
    EXPECT_EQ(total, (long)THREADS * INCREMENTS);
    cask_map_guard_release(g);
    cask_map_destroy(map);
    EXPECT_EQ(atomic_load(&created), atomic_load(&destroyed));
}

int main(void)
{
    run(false);
    run(true);
    printf("map_counter_test: ok\n");
    return 0;
}
