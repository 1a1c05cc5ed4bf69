/*
 * map_resize_enomem_test.c: a writer that helps a resize and cannot allocate the new table
 * fails with CASK_ENOMEM only if no other helper has installed one; if one has, it copies into
 * that table and its write succeeds.
 *
 * Deterministic, on one thread, through the test's own cask__alloc (strong, replacing the
 * library's weak one, lib/internal/alloc.h): writer B's insert plans a resize and, helping it,
 * asks for the new table; inside that allocation writer C (another guard) inserts a key too,
 * helps the same resize with a successful allocation, installs its table, copies and promotes
 * it; then B's allocation returns NULL. B then finds C's table installed: its insert must
 * succeed, and the map must hold every key once.
 */
#include <stdint.h>
#include <stdlib.h>

#include "cask/cask.h"
#include "expect.h"

static cask_map *map;
static cask_map_guard *helper_c;
static bool armed; /* B's next table-sized allocation: let C resize, then fail */
static int c_rc = 1;

void *cask__alloc(size_t align, size_t size)
{
    if (armed && size >= 256) { /* a table (16 slots of 16 bytes at least), not a box or key */
        armed = false;
        c_rc = cask_map_insert_u64(map, helper_c, 1000, (void *)(uintptr_t)2000);
        return NULL;
    }
    return aligned_alloc(align, (size + align - 1) / align * align);
}

void cask__free(void *p)
{
    free(p);
}

int main(void)
{
    cask_map_options o = {.key_kind = CASK_MAP_KEY_U64};
    EXPECT_EQ(cask_map_create(&map, &o), 0);
    cask_map_guard *b;
    EXPECT_EQ(cask_map_guard_acquire(map, &b), 0);
    EXPECT_EQ(cask_map_guard_acquire(map, &helper_c), 0);
    size_t before = cask_map_capacity_bytes(map, b);
    /* Insert through B until an insert plans a resize (its helping asks for a table: the
     * armed allocation); stop there. */
    uint64_t k;
    for (k = 0; k < 1000 && c_rc == 1; k++) {
        armed = true;
        int rc = cask_map_insert_u64(map, b, k, (void *)(uintptr_t)(2 * k));
        armed = false;
        EXPECT_EQ(rc, 0); /* the write that met C's installed table too */
    }
    EXPECT(c_rc != 1);   /* a resize happened within the first 1000 keys */
    EXPECT_EQ(c_rc, 0);  /* C's insert, with its own table, succeeded */
    EXPECT(cask_map_capacity_bytes(map, b) > before); /* the map grew (C's table) */
    /* Every key once, with its value. */
    EXPECT_EQ(cask_map_size_exact(map, b), k + 1);
    for (uint64_t i = 0; i < k; i++) {
        void *v = NULL;
        EXPECT_EQ(cask_map_get_u64(map, b, i, &v), 0);
        EXPECT(v == (void *)(uintptr_t)(2 * i));
    }
    void *v = NULL;
    EXPECT_EQ(cask_map_get_u64(map, b, 1000, &v), 0);
    EXPECT(v == (void *)(uintptr_t)2000);
    cask_map_guard_release(b);
    cask_map_guard_release(helper_c);
    cask_map_destroy(map);
    return 0;
}
