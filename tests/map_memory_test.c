/*
 * map_memory_test.c: the map's memory comes back after churn, also while another guard is idle
 * after a lookup. The test defines cask__alloc and cask__free (strong, replacing the library's
 * weak ones, lib/internal/alloc.h) to count the bytes the map holds.
 *
 * Why: each table pins its successor (a reader of a table may touch key nodes the next one
 * owns), so one hazard pointer left on an old table keeps that table and every later one in
 * memory. A lookup used to leave its table announced in the guard until the guard's next call:
 * a thread idle after a get then held every table the others grew and shrank through (about
 * 4.7 MB more per round of this test's churn).
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cask/cask.h"
#include "expect.h"

static long long live_bytes; /* one thread only: plain */

void *cask__alloc(size_t align, size_t size)
{
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

/* One round of churn through guard g: KEYS keys in (the table grows several times), out again
 * (it shrinks), then drain: every table and value retired on the way can be freed. */
static void churn(cask_map *m, cask_map_guard *g)
{
    for (uint64_t k = 100; k < 100 + KEYS; k++)
        EXPECT_EQ(cask_map_insert_u64(m, g, k, (void *)(uintptr_t)(k * 2)), 0);
    for (uint64_t k = 100; k < 100 + KEYS; k++)
        EXPECT_EQ(cask_map_remove_u64(m, g, k), 0);
    cask_map_guard_reset(g);
    cask_map_drain(m);
}

/* The guard `idle` makes one call, then waits (never used again until the end) while `busy`
 * churns: the map's memory after each round must stay where the first round left it. */
static void check_idle_guard(const char *what, int (*last_call)(cask_map *, cask_map_guard *))
{
    cask_map *m;
    cask_map_options o = {.key_kind = CASK_MAP_KEY_U64};
    EXPECT_EQ(cask_map_create(&m, &o), 0);
    cask_map_guard *idle, *busy;
    EXPECT_EQ(cask_map_guard_acquire(m, &idle), 0);
    EXPECT_EQ(cask_map_guard_acquire(m, &busy), 0);
    EXPECT_EQ(cask_map_insert_u64(m, busy, 1, (void *)(uintptr_t)2), 0);
    EXPECT_EQ(last_call(m, idle), 0);
    long long after[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        churn(m, busy);
        after[r] = live_bytes;
    }
    fprintf(stderr, "%s: live bytes after round 1: %lld, after round %d: %lld\n", what, after[0],
            ROUNDS, after[ROUNDS - 1]);
    /* Nothing accumulates: the same small table and one value after every round (a little
     * slack for the domain's bookkeeping). */
    EXPECT(after[ROUNDS - 1] <= after[0] + 4096);
    cask_map_guard_release(idle);
    cask_map_guard_release(busy);
    cask_map_destroy(m);
}

static int get_one(cask_map *m, cask_map_guard *g)
{
    void *v = NULL;
    int rc = cask_map_get_u64(m, g, 1, &v);
    return rc != 0 ? rc : v == (void *)(uintptr_t)2 ? 0 : -1;
}

static int miss_one(cask_map *m, cask_map_guard *g)
{
    void *v;
    return cask_map_get_u64(m, g, 7, &v) == CASK_ENOENT ? 0 : -1;
}

static int put_one(cask_map *m, cask_map_guard *g)
{
    return cask_map_put_u64(m, g, 1, (void *)(uintptr_t)4);
}

static int size_exact(cask_map *m, cask_map_guard *g)
{
    return cask_map_size_exact(m, g) == 1 ? 0 : -1;
}

int main(void)
{
    check_idle_guard("get (found)", get_one);
    /* What is left after a destroy is this thread's own hazard-pointer state (its binding to a
     * domain and its scan buffer, kept until the thread exits): the same after every map. */
    long long left = live_bytes;
    check_idle_guard("get (absent)", miss_one);
    EXPECT_EQ(live_bytes, left);
    check_idle_guard("put", put_one);
    EXPECT_EQ(live_bytes, left);
    check_idle_guard("size_exact", size_exact);
    EXPECT_EQ(live_bytes, left);
    return 0;
}
