/*
 * map_help_recheck_test.c: a resize helper announces the new table N in its hazard slot and
 * then checks that root is still the old table T before it touches N. In an integer-key map
 * tables are not chained (each is freed as soon as its own reclaim runs), so that check is
 * what keeps a late helper out of a table that was promoted, replaced and freed meanwhile.
 *
 * The interleaving, made deterministic with three threads and a wrapper of the schedule-noise
 * point (this binary wraps cask_noise_point; the steps hand over through a condition variable):
 *   C  helps T's resize: installs N, announces and validates it, claims T's only copy chunk,
 *      and parks inside it (map.help.chunk_done), its hazard on N still set.
 *   H  helps too: loads T->next = N and parks there (map.resize.next_loaded), no hazard on N.
 *   P  helps: no chunk left and none done, so it copies T itself and promotes N; it then writes
 *      until N is replaced and retired (C's hazard keeps it), and drains: its scan reads P's and
 *      H's hazard slots (hp.collect.record_done) and parks before reading C's.
 *   H  announces N (P's scan has passed its slot) and, with the check, sees root moved and
 *      leaves N alone; without it, it would sweep T into N and park at its first copy.
 *   C  finishes its chunk and clears its hazard; P's scan reads C's slot: nobody protects N, and
 *      P frees it. H resumes: without the check it now writes into freed memory, which
 *      AddressSanitizer and ThreadSanitizer report (the test runs under both in ./cask test).
 * Afterwards every key written is in the map exactly once.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cask/cask.h"
#include "expect.h"

static cask_map *map;
static _Thread_local char role;  /* 'C', 'H' or 'P' */
static _Thread_local int armed;  /* per role: which pause comes next (0: none) */
static _Thread_local int scanned;
static const char *h_parked_at; /* written by H before step 14 */

void __real_cask_noise_point(const char *where);

void __wrap_cask_noise_point(const char *where)
{
    if (role == 'C' && armed == 1 && strcmp(where, "map.resize.nxt_published") == 0) {
        armed = 2; /* C has installed and announced N; its chunk comes next */
    } else if (role == 'C' && armed == 2 && strcmp(where, "map.help.chunk_done") == 0) {
        armed = 0;
        expect_step_set(11);
        expect_step_wait(14);
    } else if (role == 'H' && armed == 1 && strcmp(where, "map.resize.next_loaded") == 0) {
        armed = 2;
        expect_step_set(12);
        expect_step_wait(13);
    } else if (role == 'H' && armed == 2 &&
               (strncmp(where, "map.copy.", 9) == 0 || strncmp(where, "map.claim.", 10) == 0)) {
        armed = 0;
        h_parked_at = where;
        expect_step_set(14);
        expect_step_wait(16);
    } else if (role == 'P' && armed == 1 && strcmp(where, "hp.collect.record_done") == 0 &&
               ++scanned == 2) { /* records are listed newest first: P's, then H's, then C's */
        armed = 0;
        expect_step_set(13);
        expect_step_wait(15);
    }
    __real_cask_noise_point(where);
}

static void insert(cask_map_guard *g, uint64_t k)
{
    EXPECT_EQ(cask_map_insert_u64(map, g, k, (void *)(uintptr_t)(k + 1)), 0);
}

/* Guards are taken in the order C, H, P (steps 0-2), so that P's hazard record is the first
 * in the domain's list and C's the last. */
static cask_map_guard *guard_in_order(int my_turn)
{
    cask_map_guard *g;
    expect_step_wait(my_turn);
    EXPECT_EQ(cask_map_guard_acquire(map, &g), 0);
    expect_step_set(my_turn + 1);
    return g;
}

static uint64_t p_last; /* P's keys after the promotion: 1000 .. p_last - 1 */

static void *copier(void *arg)
{
    (void)arg;
    role = 'C';
    cask_map_guard *g = guard_in_order(0);
    expect_step_wait(10);
    armed = 1;
    insert(g, 100); /* helps T's resize and parks in its chunk until step 14 */
    expect_step_set(15);
    expect_step_wait(17);
    cask_map_guard_release(g);
    return NULL;
}

static void *late_helper(void *arg)
{
    (void)arg;
    role = 'H';
    cask_map_guard *g = guard_in_order(1);
    expect_step_wait(11);
    armed = 1;
    insert(g, 101); /* parks after loading next until 13, then at a copy or claim until 16 */
    expect_step_set(17);
    cask_map_guard_release(g);
    return NULL;
}

static void *promoter(void *arg)
{
    (void)arg;
    role = 'P';
    cask_map_guard *g = guard_in_order(2);
    /* 13 keys in the 16-slot table: the 13th claim plans a resize nobody has helped yet. */
    for (uint64_t k = 0; k < 13; k++)
        insert(g, k);
    expect_step_set(10);
    expect_step_wait(12);
    insert(g, 102); /* copies T itself (C's chunk is not done) and promotes N */
    /* N has 32 slots (2 x 13 live + 2, rounded up) and plans its own resize at its 25th claim:
     * 64 more keys replace it (and its successor), and P retires it. */
    for (p_last = 1000; p_last < 1064; p_last++)
        insert(g, p_last);
    armed = 1;
    cask_map_drain(map); /* its scan parks after H's slot until 15, then frees N */
    EXPECT(armed == 0);
    expect_step_set(16);
    expect_step_wait(17);
    cask_map_guard_release(g);
    return NULL;
}

int main(void)
{
    cask_map_options o = {.key_kind = CASK_MAP_KEY_U64};
    EXPECT_EQ(cask_map_create(&map, &o), 0);
    pthread_t c, h, p;
    EXPECT_EQ(pthread_create(&c, NULL, copier, NULL), 0);
    EXPECT_EQ(pthread_create(&h, NULL, late_helper, NULL), 0);
    EXPECT_EQ(pthread_create(&p, NULL, promoter, NULL), 0);
    EXPECT_EQ(pthread_join(c, NULL), 0);
    EXPECT_EQ(pthread_join(h, NULL), 0);
    EXPECT_EQ(pthread_join(p, NULL), 0);
    EXPECT(h_parked_at != NULL);
    fprintf(stderr, "the late helper went on to %s\n", h_parked_at);
    /* Every key once, with its value. */
    cask_map_guard *g;
    EXPECT_EQ(cask_map_guard_acquire(map, &g), 0);
    size_t want = 13 + 3 + (size_t)(p_last - 1000);
    EXPECT_EQ(cask_map_size_exact(map, g), want);
    uint64_t keys[] = {0, 12, 100, 101, 102, 1000};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        void *v = NULL;
        EXPECT_EQ(cask_map_get_u64(map, g, keys[i], &v), 0);
        EXPECT(v == (void *)(uintptr_t)(keys[i] + 1));
    }
    cask_map_guard_release(g);
    cask_map_destroy(map);
    return 0;
}
