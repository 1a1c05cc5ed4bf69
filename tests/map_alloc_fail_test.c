/*
 * map_alloc_fail_test.c: allocation failure leaves the map unchanged, also in the middle of a
 * resize. The test defines cask__alloc (strong), replacing the library's weak one
 * (lib/internal/alloc.h), and fails the n-th allocation. For every n up to the number of
 * allocations a scripted workload makes (create, guard, byte-key inserts through several
 * resizes, puts, replaces, removes that shrink the table, freeze), the workload runs with the
 * n-th allocation failing: the failing call must return CASK_ENOMEM and the map must still
 * equal a reference model; the same call then succeeds when repeated, and at the end the map
 * holds exactly the model's contents and every value is destroyed exactly once.
 * Not covered: the hazard-pointer records (hp.c allocates them with malloc, outside this hook).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cask/cask.h"
#include "expect.h"

static long alloc_calls, fail_at = -1;

void *cask__alloc(size_t align, size_t size)
{
    if (alloc_calls++ == fail_at)
        return NULL;
    return aligned_alloc(align, (size + align - 1) / align * align);
}

void cask__free(void *p)
{
    free(p);
}

#define KEYS 200
static int model[KEYS]; /* 0: absent, else the value id */
static int destroyed[4 * KEYS + 8];
static int next_id = 1;
static bool failed;

static void dtor(void *v)
{
    destroyed[(intptr_t)v / 2]++;
}

static void *V(int id)
{
    return (void *)(intptr_t)(id * 2); /* any pointer-sized token works as a value */
}

static void keyname(int k, char *buf, size_t *len)
{
    *len = (size_t)snprintf(buf, 32, "key-%d-with-a-longer-tail", k);
    buf[3] = 0; /* a zero byte inside */
}

/* Runs op; on ENOMEM checks nothing changed, then repeats it (allocations work again). */
#define RUN(call, on_success)                                                                      \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ == CASK_ENOMEM) {                                                                  \
            failed = true;                                                                         \
            check_model(m, g);                                                                     \
            rc_ = (call);                                                                          \
        }                                                                                          \
        EXPECT_EQ(rc_, 0);                                                                         \
        on_success;                                                                                \
    } while (0)

static void check_model(cask_map *m, cask_map_guard *g)
{
    long saved = fail_at;
    fail_at = -1; /* lookups never allocate; keep the check itself out of the script */
    size_t n = 0;
    for (int k = 0; k < KEYS; k++) {
        char buf[32];
        size_t len;
        keyname(k, buf, &len);
        void *v;
        int rc = cask_map_get(m, g, buf, len, &v);
        if (model[k] == 0) {
            EXPECT_EQ(rc, CASK_ENOENT);
        } else {
            EXPECT_EQ(rc, 0);
            EXPECT(v == V(model[k]));
            n++;
        }
    }
    EXPECT_EQ(cask_map_size_exact(m, g), n);
    fail_at = saved;
}

static void workload(long n)
{
    alloc_calls = 0;
    fail_at = n;
    failed = false;
    next_id = 1;
    memset(model, 0, sizeof(model));
    memset(destroyed, 0, sizeof(destroyed));
    cask_map *m;
    cask_map_options o = {.key_kind = CASK_MAP_KEY_BYTES, .dtor = dtor};
    int rc = cask_map_create(&m, &o);
    if (rc == CASK_ENOMEM) {
        failed = true;
        rc = cask_map_create(&m, &o);
    }
    EXPECT_EQ(rc, 0);
    cask_map_guard *g;
    rc = cask_map_guard_acquire(m, &g);
    if (rc == CASK_ENOMEM) {
        failed = true;
        rc = cask_map_guard_acquire(m, &g);
    }
    EXPECT_EQ(rc, 0);
    char buf[32];
    size_t len;
    for (int k = 0; k < KEYS; k++) { /* grows 16 -> 512 slots: several resizes */
        keyname(k, buf, &len);
        int id = next_id++;
        RUN(cask_map_insert(m, g, buf, len, V(id)), model[k] = id);
    }
    for (int k = 0; k < KEYS; k += 3) {
        keyname(k, buf, &len);
        int id = next_id++;
        RUN(cask_map_put(m, g, buf, len, V(id)), model[k] = id);
    }
    for (int k = 1; k < KEYS; k += 3) {
        keyname(k, buf, &len);
        int id = next_id++;
        RUN(cask_map_replace(m, g, buf, len, V(model[k]), V(id)), model[k] = id);
    }
    for (int k = 0; k < KEYS - 5; k++) { /* shrinks: the plan is helped by later writes */
        keyname(k, buf, &len);
        RUN(cask_map_remove(m, g, buf, len), model[k] = 0);
    }
    for (int k = 0; k < 20; k++) {
        keyname(k, buf, &len);
        int id = next_id++;
        RUN(cask_map_put(m, g, buf, len, V(id)), model[k] = id);
    }
    RUN(cask_map_freeze(m, g), (void)0);
    check_model(m, g);
    cask_map_guard_release(g);
    cask_map_destroy(m);
    for (int id = 1; id < next_id; id++)
        EXPECT_EQ(destroyed[id], 1);
}

int main(void)
{
    workload(-1);
    long total = alloc_calls;
    EXPECT(total > KEYS);
    long hits = 0;
    for (long n = 0; n < total; n++) {
        workload(n);
        hits += failed;
    }
    EXPECT(hits > total / 2); /* most injected failures reached a map call */
    printf("map_alloc_fail_test: %ld allocations, %ld failures injected and checked\n", total,
           hits);
    return 0;
}
