/*
 * map_basic_test.c: the map's sequential contract. Byte keys (with zero bytes, empty, long) and
 * u64 keys; insert-if-absent, put, compare-and-replace, remove, remove-if; the destructor runs
 * exactly once per value that leaves the map, at the latest at destroy; growth through many
 * resizes and shrinking back; freeze (writes fail with CASK_EFROZEN, reads still work, values
 * stay valid); iteration and both sizes; misuse that aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cask/cask.h"
#include "expect.h"

static int destroyed[4096];

static void dtor(void *v)
{
    int *p = v;
    destroyed[*p]++;
    free(p);
}

static int *val(int id)
{
    int *p = malloc(sizeof(int));
    *p = id;
    return p;
}

static void expect_all_destroyed_once(int n)
{
    for (int i = 0; i < n; i++)
        EXPECT_EQ(destroyed[i], 1);
}

static void test_bytes(void)
{
    memset(destroyed, 0, sizeof(destroyed));
    cask_map *m;
    cask_map_options o = {.key_kind = CASK_MAP_KEY_BYTES, .dtor = dtor};
    EXPECT_EQ(cask_map_create(&m, &o), 0);
    cask_map_guard *g;
    EXPECT_EQ(cask_map_guard_acquire(m, &g), 0);
    const char k1[] = {'a', 0, 'b'}, k2[] = {'a', 0, 'c'};
    char longkey[5000];
    memset(longkey, 'x', sizeof(longkey));
    void *v;
    EXPECT_EQ(cask_map_get(m, g, k1, 3, &v), CASK_ENOENT);
    int *a = val(0), *b = val(1), *c = val(2), *d = val(3), *e = val(4), *f = val(5);
    EXPECT_EQ(cask_map_insert(m, g, k1, 3, a), 0);
    EXPECT_EQ(cask_map_insert(m, g, k1, 3, b), CASK_EEXIST); /* b stays ours */
    EXPECT_EQ(cask_map_insert(m, g, k2, 3, b), 0);           /* differs after the zero byte */
    EXPECT_EQ(cask_map_insert(m, g, "", 0, c), 0);           /* the empty key */
    EXPECT_EQ(cask_map_insert(m, g, longkey, sizeof(longkey), d), 0);
    EXPECT_EQ(cask_map_get(m, g, k1, 3, &v), 0);
    EXPECT(v == a);
    EXPECT_EQ(cask_map_get(m, g, k2, 3, &v), 0);
    EXPECT(v == b);
    EXPECT_EQ(cask_map_get(m, g, k1, 2, &v), CASK_ENOENT); /* a prefix is another key */
    EXPECT_EQ(cask_map_get(m, g, "", 0, &v), 0);
    EXPECT(v == c);
    /* NULL with length 0 is the empty key too (and no undefined memcpy/memcmp from NULL: the
     * asan build's UBSan checks that). */
    v = NULL;
    EXPECT_EQ(cask_map_get(m, g, NULL, 0, &v), 0);
    EXPECT(v == c);
    EXPECT_EQ(cask_map_insert(m, g, NULL, 0, b), CASK_EEXIST);
    EXPECT_EQ(cask_map_get(m, g, longkey, sizeof(longkey), &v), 0);
    EXPECT(v == d);
    EXPECT_EQ(cask_map_size_approx(m), 4);
    EXPECT_EQ(cask_map_size_exact(m, g), 4);
    /* put replaces and destroys the old value (after the guards let go: drained at destroy or
     * by a later scan; here we only check it is not destroyed twice and not before). */
    EXPECT_EQ(cask_map_put(m, g, k1, 3, e), 0);
    EXPECT_EQ(cask_map_get(m, g, k1, 3, &v), 0);
    EXPECT(v == e);
    EXPECT_EQ(cask_map_replace(m, g, k1, 3, a, f), CASK_ENOENT); /* a is no longer there */
    EXPECT_EQ(cask_map_replace(m, g, k1, 3, e, f), 0);
    EXPECT_EQ(cask_map_get(m, g, k1, 3, &v), 0);
    EXPECT(v == f);
    EXPECT_EQ(cask_map_remove_if(m, g, k2, 3, a), CASK_ENOENT);
    EXPECT_EQ(cask_map_remove_if(m, g, k2, 3, b), 0);
    EXPECT_EQ(cask_map_remove(m, g, k2, 3), CASK_ENOENT);
    EXPECT_EQ(cask_map_get(m, g, k2, 3, &v), CASK_ENOENT);
    EXPECT_EQ(cask_map_remove(m, g, "", 0), 0);
    EXPECT_EQ(cask_map_size_approx(m), 2);
    EXPECT_EQ(cask_map_size_exact(m, g), 2);
    /* Nothing protects the values that left (a, e replaced; b, c removed): drain destroys them
     * now, each once, and nothing still in the map. */
    EXPECT(cask_map_drain(m) >= 4);
    EXPECT(destroyed[0] == 1 && destroyed[4] == 1 && destroyed[1] == 1 && destroyed[2] == 1);
    EXPECT(destroyed[3] == 0 && destroyed[5] == 0);
    /* Re-insert after remove reuses the key's slot. */
    int *h = val(6);
    EXPECT_EQ(cask_map_insert(m, g, k2, 3, h), 0);
    EXPECT_EQ(cask_map_get(m, g, k2, 3, &v), 0);
    EXPECT(v == h);
    EXPECT_EQ(cask_map_get(m, g, NULL, 1, &v), CASK_EINVAL);
    cask_map_guard_release(g);
    cask_map_destroy(m);
    expect_all_destroyed_once(7);
}

static int sum_visit(const void *key, size_t len, uint64_t u, void *value, void *arg)
{
    (void)key, (void)len;
    EXPECT_EQ(*(int *)value, (int)(u % 4096));
    *(uint64_t *)arg += u;
    return 0;
}

static void test_u64_resize(void)
{
    memset(destroyed, 0, sizeof(destroyed));
    cask_map *m;
    cask_map_options o = {.key_kind = CASK_MAP_KEY_U64, .dtor = dtor};
    EXPECT_EQ(cask_map_create(&m, &o), 0);
    cask_map_guard *g;
    EXPECT_EQ(cask_map_guard_acquire(m, &g), 0);
    size_t small = cask_map_capacity_bytes(m, g);
    void *v;
    /* 4000 keys: many doublings. Key 0 works; UINT64_MAX is reserved. */
    for (uint64_t k = 0; k < 4000; k++)
        EXPECT_EQ(cask_map_insert_u64(m, g, k, val((int)k)), 0);
    EXPECT_EQ(cask_map_insert_u64(m, g, UINT64_MAX, &v), CASK_EINVAL);
    EXPECT_EQ(cask_map_size_exact(m, g), 4000);
    EXPECT_EQ(cask_map_size_approx(m), 4000);
    size_t big = cask_map_capacity_bytes(m, g);
    EXPECT(big > 4000 * 16);
    uint64_t sum = 0;
    EXPECT_EQ(cask_map_iterate(m, g, sum_visit, &sum), 0);
    EXPECT(sum == 3999ull * 4000 / 2);
    for (uint64_t k = 0; k < 4000; k++) {
        EXPECT_EQ(cask_map_get_u64(m, g, k, &v), 0);
        EXPECT_EQ(*(int *)v, (int)k);
    }
    EXPECT_EQ(cask_map_get_u64(m, g, 4000, &v), CASK_ENOENT);
    /* Remove almost everything: the table shrinks (a later write helps the planned resize). */
    for (uint64_t k = 10; k < 4000; k++)
        EXPECT_EQ(cask_map_remove_u64(m, g, k), 0);
    for (uint64_t k = 0; k < 200; k++) { /* writes that meet the planned shrink help it */
        EXPECT_EQ(cask_map_put_u64(m, g, k % 10, val(4000 + (int)k % 90)), 0);
    }
    size_t shrunk = cask_map_capacity_bytes(m, g);
    EXPECT(shrunk < big / 4);
    EXPECT(shrunk >= small);
    EXPECT_EQ(cask_map_size_exact(m, g), 10);
    cask_map_guard_release(g);
    cask_map_destroy(m);
    /* values 0..3999 and the 200 puts' values: each destroyed once (ids 4000.. reused, so
     * count them together). */
    for (int i = 0; i < 4000; i++)
        EXPECT_EQ(destroyed[i], 1);
    int extra = 0;
    for (int i = 4000; i < 4096; i++)
        extra += destroyed[i];
    EXPECT_EQ(extra, 200);
}

static void test_freeze(void)
{
    memset(destroyed, 0, sizeof(destroyed));
    cask_map *m;
    cask_map_options o = {.key_kind = CASK_MAP_KEY_U64, .dtor = dtor};
    EXPECT_EQ(cask_map_create(&m, &o), 0);
    cask_map_guard *g;
    EXPECT_EQ(cask_map_guard_acquire(m, &g), 0);
    for (uint64_t k = 0; k < 100; k++)
        EXPECT_EQ(cask_map_put_u64(m, g, k, val((int)k)), 0);
    EXPECT(!cask_map_is_frozen(m));
    EXPECT_EQ(cask_map_freeze(m, g), 0);
    EXPECT(cask_map_is_frozen(m));
    EXPECT_EQ(cask_map_freeze(m, g), 0);
    int *x = val(200);
    void *v;
    EXPECT_EQ(cask_map_insert_u64(m, g, 500, x), CASK_EFROZEN);
    EXPECT_EQ(cask_map_put_u64(m, g, 1, x), CASK_EFROZEN);
    EXPECT_EQ(cask_map_replace_u64(m, g, 1, NULL, x), CASK_EFROZEN);
    EXPECT_EQ(cask_map_remove_u64(m, g, 1), CASK_EFROZEN);
    EXPECT_EQ(cask_map_remove_if_u64(m, g, 1, NULL), CASK_EFROZEN);
    free(x);
    for (uint64_t k = 0; k < 100; k++) {
        EXPECT_EQ(cask_map_get_u64(m, g, k, &v), 0);
        EXPECT_EQ(*(int *)v, (int)k);
    }
    EXPECT_EQ(cask_map_get_u64(m, g, 100, &v), CASK_ENOENT);
    EXPECT_EQ(cask_map_size_exact(m, g), 100);
    cask_map_guard_release(g);
    cask_map_destroy(m);
    expect_all_destroyed_once(100);
}

static void wrong_kind(void *arg)
{
    (void)arg;
    cask_map *m;
    cask_map_options o = {.key_kind = CASK_MAP_KEY_U64};
    cask_map_create(&m, &o);
    cask_map_guard *g;
    cask_map_guard_acquire(m, &g);
    void *v;
    cask_map_get(m, g, "x", 1, &v);
}

static void foreign_guard(void *arg)
{
    (void)arg;
    cask_map *m1, *m2;
    cask_map_create(&m1, NULL);
    cask_map_create(&m2, NULL);
    cask_map_guard *g;
    cask_map_guard_acquire(m1, &g);
    cask_map_put(m2, g, "x", 1, &g);
}

int main(void)
{
    static const char *const kind[] = {"byte-key call on a u64-key map", "fix", NULL};
    EXPECT(expect_death(wrong_kind, NULL, kind));
    static const char *const foreign[] = {"another map", NULL};
    EXPECT(expect_death(foreign_guard, NULL, foreign));
    test_bytes();
    test_u64_resize();
    test_freeze();
    return 0;
}
