/*
 * map_threads_test.c: the map under real concurrency (no sleeps; the threads simply overlap).
 *  - conflict: 4 threads hammer 32 u64 keys with every write kind and lookups; every value a
 *    reader gets is live (magic and key checked; ASan/TSan see a destroyed one), and at the end
 *    every value created was destroyed exactly once.
 *  - growth: 4 threads insert disjoint ranges of byte keys (the table resizes many times while
 *    others insert and look up); afterwards every key maps to its own value.
 *  - freeze: writers put on their own keys while the main thread freezes; once a writer sees
 *    CASK_EFROZEN every later write fails too, and the frozen map holds, for each key, exactly
 *    the value of the writer's last successful put.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cask/cask.h"
#include "expect.h"

#define LIVE 0x11FE11FEu
#define THREADS 4

typedef struct {
    unsigned magic;
    uint64_t key;
} value;

static _Atomic long created, destroyed_count;
static cask_map *map;

static void dtor(void *p)
{
    value *v = p;
    EXPECT(v->magic == LIVE);
    v->magic = 0xDEAD;
    free(v);
    atomic_fetch_add_explicit(&destroyed_count, 1, memory_order_relaxed);
}

static value *make(uint64_t key)
{
    value *v = malloc(sizeof(*v));
    v->magic = LIVE;
    v->key = key;
    atomic_fetch_add_explicit(&created, 1, memory_order_relaxed);
    return v;
}

static void drop(value *v) /* a value the map refused: still ours */
{
    free(v);
    atomic_fetch_add_explicit(&created, -1, memory_order_relaxed);
}

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

static void *conflict_worker(void *arg)
{
    uint64_t s = (uintptr_t)arg * 7919 + 1;
    cask_map_guard *g;
    EXPECT_EQ(cask_map_guard_acquire(map, &g), 0);
    for (int i = 0; i < 40000; i++) {
        uint64_t k = rng(&s) % 32;
        void *got;
        int rc;
        switch (rng(&s) % 6) {
        case 0:
            if (cask_map_get_u64(map, g, k, &got) == 0)
                EXPECT(((value *)got)->magic == LIVE && ((value *)got)->key == k);
            break;
        case 1: {
            value *v = make(k);
            rc = cask_map_insert_u64(map, g, k, v);
            EXPECT(rc == 0 || rc == CASK_EEXIST);
            if (rc != 0)
                drop(v);
            break;
        }
        case 2:
            EXPECT_EQ(cask_map_put_u64(map, g, k, make(k)), 0);
            break;
        case 3:
            rc = cask_map_remove_u64(map, g, k);
            EXPECT(rc == 0 || rc == CASK_ENOENT);
            break;
        case 4:
            if (cask_map_get_u64(map, g, k, &got) == 0) {
                EXPECT(((value *)got)->magic == LIVE);
                value *v = make(k);
                rc = cask_map_replace_u64(map, g, k, got, v);
                EXPECT(rc == 0 || rc == CASK_ENOENT);
                if (rc != 0)
                    drop(v);
            }
            break;
        default:
            if (cask_map_get_u64(map, g, k, &got) == 0) {
                rc = cask_map_remove_if_u64(map, g, k, got);
                EXPECT(rc == 0 || rc == CASK_ENOENT);
            }
        }
    }
    cask_map_guard_release(g);
    return NULL;
}

static void test_conflict(void)
{
    cask_map_options o = {.key_kind = CASK_MAP_KEY_U64, .dtor = dtor};
    EXPECT_EQ(cask_map_create(&map, &o), 0);
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        EXPECT_EQ(pthread_create(&t[i], NULL, conflict_worker, (void *)i), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    cask_map_destroy(map);
    EXPECT_EQ(atomic_load(&created), atomic_load(&destroyed_count));
}

#define PER_THREAD 6000

static void key_of(uint64_t k, char *buf, size_t *len)
{
    /* 16-byte keys with a zero byte inside, so C-string handling would break them. */
    memset(buf, 0, 16);
    memcpy(buf, "key", 3);
    memcpy(buf + 8, &k, 8);
    *len = 16;
}

static void *growth_worker(void *arg)
{
    uint64_t base = (uintptr_t)arg * PER_THREAD;
    cask_map_guard *g;
    EXPECT_EQ(cask_map_guard_acquire(map, &g), 0);
    char buf[16];
    size_t len;
    for (uint64_t k = base; k < base + PER_THREAD; k++) {
        key_of(k, buf, &len);
        EXPECT_EQ(cask_map_insert(map, g, buf, len, make(k)), 0);
        void *got;
        key_of(base + (k - base) / 2, buf, &len); /* an earlier key of ours: must be there */
        EXPECT_EQ(cask_map_get(map, g, buf, len, &got), 0);
        EXPECT(((value *)got)->key == base + (k - base) / 2);
    }
    cask_map_guard_release(g);
    return NULL;
}

static void test_growth(void)
{
    atomic_store(&created, 0), atomic_store(&destroyed_count, 0);
    cask_map_options o = {.key_kind = CASK_MAP_KEY_BYTES, .dtor = dtor};
    EXPECT_EQ(cask_map_create(&map, &o), 0);
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        EXPECT_EQ(pthread_create(&t[i], NULL, growth_worker, (void *)i), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    cask_map_guard *g;
    EXPECT_EQ(cask_map_guard_acquire(map, &g), 0);
    EXPECT_EQ(cask_map_size_exact(map, g), THREADS * PER_THREAD);
    EXPECT_EQ(cask_map_size_approx(map), THREADS * PER_THREAD);
    char buf[16];
    size_t len;
    for (uint64_t k = 0; k < THREADS * PER_THREAD; k++) {
        void *got;
        key_of(k, buf, &len);
        EXPECT_EQ(cask_map_get(map, g, buf, len, &got), 0);
        EXPECT(((value *)got)->key == k);
    }
    cask_map_guard_release(g);
    cask_map_destroy(map);
    EXPECT_EQ(atomic_load(&created), atomic_load(&destroyed_count));
}

#define FKEYS 64

typedef struct {
    uintptr_t index;
    value *last[FKEYS];
    _Atomic bool started;
} freezer_arg;

static void *freeze_worker(void *p)
{
    freezer_arg *a = p;
    cask_map_guard *g;
    EXPECT_EQ(cask_map_guard_acquire(map, &g), 0);
    bool frozen = false;
    for (uint64_t i = 0;; i++) {
        uint64_t k = a->index * FKEYS + i % FKEYS;
        value *v = make(k);
        int rc = i % 3 == 2 ? cask_map_remove_u64(map, g, k) : cask_map_put_u64(map, g, k, v);
        if (i % 3 == 2) {
            drop(v);
            if (rc == 0)
                a->last[i % FKEYS] = NULL;
        } else if (rc == 0) {
            a->last[i % FKEYS] = v;
        } else {
            drop(v);
        }
        EXPECT(rc == 0 || rc == CASK_EFROZEN || rc == CASK_ENOENT);
        if (frozen)
            EXPECT_EQ(rc, CASK_EFROZEN); /* once frozen, always frozen */
        if (rc == CASK_EFROZEN)
            frozen = true;
        if (i == 1000)
            atomic_store_explicit(&a->started, true, memory_order_release);
        if (frozen && i > 1000 && i % FKEYS == 0)
            break;
    }
    cask_map_guard_release(g);
    return NULL;
}

static void test_freeze_race(void)
{
    atomic_store(&created, 0), atomic_store(&destroyed_count, 0);
    cask_map_options o = {.key_kind = CASK_MAP_KEY_U64, .dtor = dtor};
    EXPECT_EQ(cask_map_create(&map, &o), 0);
    static freezer_arg args[THREADS];
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++) {
        args[i].index = i;
        EXPECT_EQ(pthread_create(&t[i], NULL, freeze_worker, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) /* every writer is busy writing: freeze races with them */
        while (!atomic_load_explicit(&args[i].started, memory_order_acquire))
            ;
    cask_map_guard *g;
    EXPECT_EQ(cask_map_guard_acquire(map, &g), 0);
    EXPECT_EQ(cask_map_freeze(map, g), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < THREADS; i++) {
        for (int j = 0; j < FKEYS; j++) {
            void *got = NULL;
            int rc = cask_map_get_u64(map, g, (uint64_t)i * FKEYS + (uint64_t)j, &got);
            if (args[i].last[j] == NULL)
                EXPECT_EQ(rc, CASK_ENOENT);
            else
                EXPECT(rc == 0 && got == args[i].last[j]);
        }
    }
    cask_map_guard_release(g);
    cask_map_destroy(map);
    EXPECT_EQ(atomic_load(&created), atomic_load(&destroyed_count));
}

int main(void)
{
    test_conflict();
    test_growth();
    test_freeze_race();
    return 0;
}
