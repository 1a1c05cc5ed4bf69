/*
 * snap_frozen_test.c: frozen snapshot cells (CASK_SNAP_FROZEN). Everything the cell is given is
 * frozen before readers can see it: the initial object, each published one and each update
 * result; an object already frozen is accepted; one that is not from cask_frozen_alloc is refused
 * with CASK_EINVAL and nothing changes (an update result is then freed, never published);
 * with no free function, retired objects go to cask_frozen_free. Readers read frozen objects as
 * usual, in both flavours. And a write to a published object is loud: in checked builds it traps
 * at once with the frozen-memory report naming the object; in unchecked builds (this file is
 * also built against //:cask_unchecked) the checksum check aborts with "modified after freeze"
 * when the cell frees it.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>

#include "cask/cask.h"
#include "cask/frozen.h"
#include "expect.h"

typedef struct {
    uint64_t version;
    char name[32];
    uint64_t routes[64];
} table;

static _Alignas(64) char not_a_region[64]; /* +8 is never page-aligned: not a region */

static table *make(uint64_t version, const char *region_name)
{
    void *p;
    EXPECT_EQ(cask_frozen_alloc(sizeof(table), region_name, &p), 0);
    table *t = p;
    t->version = version;
    strcpy(t->name, "routes");
    for (int i = 0; i < 64; i++)
        t->routes[i] = version * 100 + (uint64_t)i;
    return t;
}

static void check(const table *t, uint64_t version)
{
    EXPECT_EQ(t->version, version);
    EXPECT(strcmp(t->name, "routes") == 0);
    for (int i = 0; i < 64; i++)
        EXPECT_EQ(t->routes[i], version * 100 + (uint64_t)i);
}

static uint64_t read_version(cask_snap *cell)
{
    cask_snap_read_begin(cell);
    const table *t = cask_snap_read(cell);
    uint64_t v = t->version;
    check(t, v);
    EXPECT(cask_frozen_is_frozen(t));
    cask_snap_read_end(cell);
    return v;
}

/* Frees regions with cask_frozen_free and counts; the non-region is counted only. */
static long frees, stray_frees;

static void counting_free(void *p)
{
    if (p == not_a_region + 8) {
        stray_frees++;
        return;
    }
    frees++;
    cask_frozen_free(p);
}

static int next_table(const void *current, void *arg, void **next)
{
    (void)arg;
    *next = make(((const table *)current)->version + 1, "next table");
    return 0;
}

static int stray_result(const void *current, void *arg, void **next)
{
    (void)current;
    (void)arg;
    *next = not_a_region + 8;
    return 0;
}

static void test_arguments(void)
{
    cask_snap *cell = (cask_snap *)(void *)not_a_region; /* sentinel: must stay untouched */
    table *t = make(0, "args");
    EXPECT_EQ(cask_snap_create_with(t, counting_free, 1u << 7, &cell), CASK_EINVAL);
    EXPECT_EQ(cask_snap_create_with(t, NULL, 0, &cell), CASK_EINVAL); /* not FROZEN: need fn */
    EXPECT_EQ(cask_snap_create_with(t, NULL, CASK_SNAP_FROZEN, NULL), CASK_EINVAL);
    EXPECT_EQ(cask_snap_create_with(not_a_region + 8, NULL, CASK_SNAP_FROZEN, &cell),
              CASK_EINVAL);
    EXPECT(cell == (cask_snap *)(void *)not_a_region);
    EXPECT(!cask_frozen_is_frozen(t)); /* refused calls froze nothing */
    cask_frozen_free(t);
}

static void test_memb(void)
{
    frees = stray_frees = 0;
    table *t0 = make(0, "table 0");
    cask_snap *cell;
    EXPECT_EQ(cask_snap_create_with(t0, counting_free, CASK_SNAP_FROZEN, &cell), 0);
    EXPECT(cask_frozen_is_frozen(t0)); /* frozen before anyone could read it */
    EXPECT_EQ(read_version(cell), 0);

    table *t1 = make(1, "table 1");
    EXPECT(!cask_frozen_is_frozen(t1));
    EXPECT_EQ(cask_snap_publish(cell, t1), 0);
    EXPECT(cask_frozen_is_frozen(t1));
    EXPECT_EQ(read_version(cell), 1);

    table *t2 = make(2, "table 2"); /* frozen by its owner already: accepted */
    EXPECT_EQ(cask_frozen_freeze(t2), 0);
    EXPECT_EQ(cask_snap_publish(cell, t2), 0);
    EXPECT_EQ(read_version(cell), 2);

    EXPECT_EQ(cask_snap_publish(cell, not_a_region + 8), CASK_EINVAL); /* nothing changed */
    EXPECT_EQ(read_version(cell), 2);

    EXPECT_EQ(cask_snap_update(cell, next_table, NULL), 0); /* the result is frozen */
    EXPECT_EQ(read_version(cell), 3);

    EXPECT_EQ(cask_snap_update(cell, stray_result, NULL), CASK_EINVAL);
    EXPECT_EQ(stray_frees, 1); /* freed at once, never published */
    EXPECT_EQ(read_version(cell), 3);

    cask_snap_barrier();
    EXPECT_EQ(frees, 3); /* t0, t1, t2 */
    cask_snap_destroy(cell);
    cask_snap_barrier();
    EXPECT_EQ(frees, 4);
}

/* No free function: the cell frees with cask_frozen_free; QSBR and FROZEN together. */
static void test_default_free_qsbr(void)
{
    cask_snap *cell;
    cask_snap_qsbr_register();
    EXPECT_EQ(cask_snap_create_with(make(10, "qsbr table"), NULL,
                                    CASK_SNAP_FROZEN | CASK_SNAP_QSBR, &cell),
              0);
    EXPECT_EQ(read_version(cell), 10);
    for (uint64_t v = 11; v < 20; v++) {
        EXPECT_EQ(cask_snap_publish(cell, make(v, "qsbr table")), 0);
        EXPECT_EQ(cask_snap_update(cell, next_table, NULL), 0);
        EXPECT_EQ(read_version(cell), v + 1);
        cask_snap_quiescent();
    }
    cask_snap_destroy(cell);
    cask_snap_barrier(); /* leak-free under ASan only if every region went to cask_frozen_free */
    cask_snap_qsbr_unregister();
}

/* Dies: checked builds at the write, unchecked ones when the cell frees the object. */
static void write_to_published(void *arg)
{
    (void)arg;
    cask_snap *cell;
    EXPECT_EQ(cask_snap_create_with(make(1, "routing table"), NULL, CASK_SNAP_FROZEN, &cell), 0);
    cask_snap_read_begin(cell);
    table *t = (table *)cask_snap_read(cell); /* casting const away: the mistake */
    t->routes[3] = 7; /* offset 64 in the region */
    cask_snap_read_end(cell);
    cask_snap_destroy(cell);
    cask_snap_barrier(); /* unchecked builds: cask_frozen_free finds the changed checksum */
}

int main(void)
{
    /* First, before any thread exists (expect_death forks). */
    if (cask_frozen_traps_writes()) {
        const char *const needles[] = {"frozen region \"routing table\"",
                                       "write to frozen memory", "frozen at", "snap.c:",
                                       "offset 64", NULL};
        EXPECT(expect_death(write_to_published, NULL, needles));
    } else {
        const char *const needles[] = {"frozen region \"routing table\"", "modified after freeze",
                                       NULL};
        EXPECT(expect_death(write_to_published, NULL, needles));
    }
    test_arguments();
    test_memb();
    test_default_free_qsbr();
    return 0;
}
