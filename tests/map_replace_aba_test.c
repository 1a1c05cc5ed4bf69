/*
 * map_replace_aba_test.c: cask_map_replace and cask_map_remove_if compare `expected` by address,
 * so the map must keep protecting the caller's `expected` (the value its last get returned
 * through the same guard) until the comparison is decided. Otherwise `expected` can be
 * destroyed in the middle of the call, its address reused by a newer value, and the comparison
 * matches the newer value: a read-modify-write built on get + replace (a counter increment)
 * then overwrites an update it never saw.
 *
 * The interleaving is made deterministic, on one thread, through the schedule-noise point
 * "map.write.published" (this binary wraps cask_noise_point, as the stress program does):
 *   1. K maps to P1; the caller gets P1 through guard g.
 *   2. Another writer (guard h) puts P2: P1's box is retired, still protected by g.
 *   3. The caller calls replace(K, expected = P1). It loads P2's box and announces it; at that
 *      noise point the other writer puts P3, drains the map's retired boxes, and puts P4 from
 *      an allocator that hands out the most recently destroyed address first (as malloc does).
 *   4. The caller re-validates, sees P4's box and compares P4 with P1.
 * If the map dropped the protection of P1's box in step 3, the drain destroys P1, P4 takes
 * P1's address and the replace wrongly succeeds. The test requires CASK_ENOENT, that P1 was not
 * destroyed while the call ran, and that K still maps to P4.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cask/cask.h"
#include "expect.h"

#define LIVE 0x11FE11FEu
#define DEAD 0xDEADDEADu
#define POOL 64

typedef struct {
    unsigned magic;
    int n;
} value;

/* A tiny allocator that reuses the most recently destroyed address first. */
static value *recycled[POOL];
static int nrecycled;
static bool in_call;            /* the replace or remove_if under test is running */
static value *expected_value;   /* its `expected` */
static bool expected_destroyed; /* ... was destroyed while it ran */

static value *make(int n)
{
    value *v = nrecycled > 0 ? recycled[--nrecycled] : malloc(sizeof(*v));
    EXPECT(v != NULL);
    v->magic = LIVE;
    v->n = n;
    return v;
}

static void dtor(void *p)
{
    value *v = p;
    EXPECT(v->magic == LIVE);
    v->magic = DEAD;
    if (in_call && v == expected_value)
        expected_destroyed = true;
    EXPECT(nrecycled < POOL);
    recycled[nrecycled++] = v;
}

static cask_map *map;
static cask_map_guard *other; /* the other writer's guard */
static const uint64_t K = 7;
static bool armed;

/* The other writer's steps, run once inside the call under test (step 3). */
static void interfere(void)
{
    EXPECT_EQ(cask_map_put_u64(map, other, K, make(3)), 0);
    cask_map_drain(map);
    EXPECT_EQ(cask_map_put_u64(map, other, K, make(4)), 0);
}

void __real_cask_noise_point(const char *where);

void __wrap_cask_noise_point(const char *where)
{
    if (armed && strcmp(where, "map.write.published") == 0) {
        armed = false;
        interfere();
    }
    __real_cask_noise_point(where);
}

static void run(bool remove_if)
{
    in_call = false;
    expected_destroyed = false;
    cask_map_options o = {.key_kind = CASK_MAP_KEY_U64, .dtor = dtor};
    EXPECT_EQ(cask_map_create(&map, &o), 0);
    cask_map_guard *g;
    EXPECT_EQ(cask_map_guard_acquire(map, &g), 0);
    EXPECT_EQ(cask_map_guard_acquire(map, &other), 0);

    value *p1 = make(1);
    EXPECT_EQ(cask_map_put_u64(map, other, K, p1), 0);        /* step 1 */
    void *got;
    EXPECT_EQ(cask_map_get_u64(map, g, K, &got), 0);
    EXPECT(got == p1);
    EXPECT_EQ(cask_map_put_u64(map, other, K, make(2)), 0);   /* step 2 */

    expected_value = p1;
    in_call = true;
    armed = true;
    value *mine = make(100);
    int rc = remove_if ? cask_map_remove_if_u64(map, g, K, p1)
                       : cask_map_replace_u64(map, g, K, p1, mine); /* steps 3-4 */
    in_call = false;
    EXPECT(!armed); /* the interleaving happened */
    EXPECT(!expected_destroyed);
    EXPECT_EQ(rc, CASK_ENOENT);
    EXPECT_EQ(cask_map_get_u64(map, g, K, &got), 0);
    EXPECT_EQ(((value *)got)->n, 4);
    EXPECT(((value *)got)->magic == LIVE);

    if (remove_if)
        dtor(mine); /* never handed to the map */
    else if (rc != 0)
        dtor(mine); /* refused: still ours */
    cask_map_guard_release(g);
    cask_map_guard_release(other);
    cask_map_destroy(map);
}

int main(void)
{
    run(false);
    run(true);
    for (int i = 0; i < nrecycled; i++)
        free(recycled[i]);
    printf("map_replace_aba_test: ok\n");
    return 0;
}
