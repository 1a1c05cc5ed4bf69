/*
 * map_memory_test.c: what the map keeps in memory while a guard is idle after a call, or while
 * its thread is stalled inside a call. The test defines cask__alloc and cask__free (strong,
 * replacing the library's weak ones, lib/internal/alloc.h) to count the bytes the map holds.
 *
 * Why: in a byte-key map each table pins its successor (a reader of a table may touch key nodes
 * the next one owns), so one hazard pointer left on an old table keeps that table and every
 * later one in memory. A lookup used to leave its table announced in the guard until the
 * guard's next call: a thread idle after a get then held every table the others grew and shrank
 * through (about 4.7 MB more per round of this test's churn). Integer-key maps have no key
 * nodes and do not chain their tables: a thread stalled inside a call keeps one table alive.
 * Single-threaded and deterministic: the "stalled" call is a write that helps a resize, and the
 * other guard's churn runs inside that write's allocation of the new table.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cask/cask.h"
#include "expect.h"

static long long live_bytes;         /* one thread only: plain */
static void (*in_table_alloc)(void); /* run once inside the next table-sized allocation */

void *cask__alloc(size_t align, size_t size)
{
    if (in_table_alloc != NULL && size >= 256) { /* a table (16 slots of 16 bytes at least) */
        void (*fn)(void) = in_table_alloc;
        in_table_alloc = NULL;
        fn();
    }
    void *p = aligned_alloc(align, (size + align - 1) / align * align);
    if (p != NULL)
        live_bytes += (long long)malloc_usable_size(p);
    return p;
}

void cask__free(void *p)
{
    if (p != NULL)
        live_bytes -= (long long)malloc_usable_size(p);
    free(p);
}

#define ROUNDS 6
#define KEYS 20000

static cask_map *map;
static cask_map_key_kind kind;
static cask_map_guard *busy; /* the churning guard */
static long long after[ROUNDS];

/* In byte maps, key k is this 24-byte string; in integer maps, k itself. Its value: 2k + 2. */
static void key_bytes(uint64_t k, unsigned char b[24])
{
    memset(b, 0xA5, 24);
    memcpy(b + 8, &k, sizeof(k));
}

static int put_key(cask_map_guard *g, uint64_t k)
{
    unsigned char b[24];
    key_bytes(k, b);
    void *v = (void *)(uintptr_t)(2 * k + 2);
    return kind == CASK_MAP_KEY_U64 ? cask_map_put_u64(map, g, k, v)
                                    : cask_map_put(map, g, b, sizeof(b), v);
}

static int remove_key(cask_map_guard *g, uint64_t k)
{
    unsigned char b[24];
    key_bytes(k, b);
    return kind == CASK_MAP_KEY_U64 ? cask_map_remove_u64(map, g, k)
                                    : cask_map_remove(map, g, b, sizeof(b));
}

/* ROUNDS rounds of churn through `busy`: KEYS keys in (the table grows several times), out
 * again (it shrinks), then a drain (every table and value retired on the way can be freed);
 * after[r] is the map's memory after round r. */
static void churn(void)
{
    for (int r = 0; r < ROUNDS; r++) {
        for (uint64_t k = 100; k < 100 + KEYS; k++)
            EXPECT_EQ(put_key(busy, k), 0);
        for (uint64_t k = 100; k < 100 + KEYS; k++)
            EXPECT_EQ(remove_key(busy, k), 0);
        cask_map_guard_reset(busy);
        cask_map_drain(map);
        after[r] = live_bytes;
    }
}

static void setup(cask_map_key_kind k, cask_map_guard **other)
{
    kind = k;
    cask_map_options o = {.key_kind = k};
    EXPECT_EQ(cask_map_create(&map, &o), 0);
    EXPECT_EQ(cask_map_guard_acquire(map, other), 0);
    EXPECT_EQ(cask_map_guard_acquire(map, &busy), 0);
    EXPECT_EQ(put_key(busy, 1), 0);
}

static void teardown(cask_map_guard *other)
{
    cask_map_guard_release(other);
    cask_map_guard_release(busy);
    cask_map_destroy(map);
}

static const char *kind_name(void)
{
    return kind == CASK_MAP_KEY_U64 ? "u64 keys" : "byte keys";
}

/* ---- a guard idle after a call ---- */

static int get_one(cask_map_guard *g)
{
    void *v = NULL;
    unsigned char b[24];
    key_bytes(1, b);
    int rc = kind == CASK_MAP_KEY_U64 ? cask_map_get_u64(map, g, 1, &v)
                                      : cask_map_get(map, g, b, sizeof(b), &v);
    return rc != 0 ? rc : v == (void *)(uintptr_t)4 ? 0 : -1;
}

static int miss_one(cask_map_guard *g)
{
    void *v;
    int rc = kind == CASK_MAP_KEY_U64 ? cask_map_get_u64(map, g, 7, &v)
                                      : cask_map_get(map, g, "absent", 6, &v);
    return rc == CASK_ENOENT ? 0 : -1;
}

static int put_one(cask_map_guard *g)
{
    return put_key(g, 1);
}

static int size_exact(cask_map_guard *g)
{
    return cask_map_size_exact(map, g) == 1 ? 0 : -1;
}

/* The guard `idle` makes one call, then is not used again while `busy` churns: the map's memory
 * after each round must stay where the first round left it. */
static void check_idle_guard(cask_map_key_kind k, const char *what,
                             int (*last_call)(cask_map_guard *))
{
    cask_map_guard *idle;
    setup(k, &idle);
    EXPECT_EQ(last_call(idle), 0);
    churn();
    fprintf(stderr, "%s, idle after %s: live bytes after round 1: %lld, after round %d: %lld\n",
            kind_name(), what, after[0], ROUNDS, after[ROUNDS - 1]);
    /* Nothing accumulates: the same small table and one value after every round (a little
     * slack for the domain's bookkeeping). */
    EXPECT(after[ROUNDS - 1] <= after[0] + 4096);
    teardown(idle);
}

/* ---- a thread stalled inside a call ---- */

static void check_stalled_call(cask_map_key_kind k)
{
    cask_map_guard *stalled;
    setup(k, &stalled);
    long long before = live_bytes;
    /* `stalled` puts fresh keys until one of its puts plans a resize and, helping it, asks for
     * the new table: the churn runs there, while that put protects the old table. */
    in_table_alloc = churn;
    uint64_t key = 1000000;
    while (in_table_alloc != NULL)
        EXPECT_EQ(put_key(stalled, key++), 0);
    fprintf(stderr, "%s, stalled inside a put: live bytes before: %lld, after round 1: %lld, "
                    "after round %d: %lld\n",
            kind_name(), before, after[0], ROUNDS, after[ROUNDS - 1]);
    if (k == CASK_MAP_KEY_U64)
        EXPECT(after[ROUNDS - 1] <= after[0] + 4096); /* one table kept, not the chain */
    else
        EXPECT(after[ROUNDS - 1] > after[0]); /* the chain: documented in cask/map.h */
    /* Once the call has returned, everything it kept can go. */
    for (uint64_t i = 1000000; i < key; i++)
        EXPECT_EQ(remove_key(busy, i), 0);
    cask_map_guard_reset(stalled);
    cask_map_guard_reset(busy);
    cask_map_drain(map);
    fprintf(stderr, "%s, after the stalled put returned: %lld\n", kind_name(), live_bytes);
    EXPECT(live_bytes <= before + 4096);
    teardown(stalled);
}

int main(void)
{
    check_idle_guard(CASK_MAP_KEY_BYTES, "get (found)", get_one);
    /* What is left after a destroy is this thread's own hazard-pointer state (its binding to a
     * domain and its scan buffer, kept until the thread exits): the same after every map. */
    long long left = live_bytes;
    check_idle_guard(CASK_MAP_KEY_BYTES, "get (absent)", miss_one);
    check_idle_guard(CASK_MAP_KEY_BYTES, "put", put_one);
    check_idle_guard(CASK_MAP_KEY_BYTES, "size_exact", size_exact);
    check_idle_guard(CASK_MAP_KEY_U64, "get (found)", get_one);
    check_idle_guard(CASK_MAP_KEY_U64, "get (absent)", miss_one);
    EXPECT_EQ(live_bytes, left);
    check_stalled_call(CASK_MAP_KEY_U64);
    check_stalled_call(CASK_MAP_KEY_BYTES);
    EXPECT_EQ(live_bytes, left);
    return 0;
}
