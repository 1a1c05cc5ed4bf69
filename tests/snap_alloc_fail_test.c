/*
 * snap_alloc_fail_test.c: allocation failure leaves snapshot cells unchanged. The test defines
 * cask__alloc (strong), replacing the library's weak one (lib/internal/alloc.h), and fails the
 * n-th allocation. For every n up to the number of allocations a scripted workload makes
 * (creating memb, QSBR and FROZEN cells, publishes, read-copy-updates), the workload runs with
 * the n-th allocation failing: the failing call must return CASK_ENOMEM having changed nothing
 * (create: *out untouched, the initial object neither freed nor frozen; publish: the cell still
 * holds the old version, the object neither freed nor frozen; update: fn not called, the cell
 * still holds the old version); the same call then succeeds when repeated; at the end every
 * object made was freed exactly once.
 */
#include <stdint.h>
#include <stdlib.h>

#include "cask/cask.h"
#include "cask/frozen.h"
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

typedef struct {
    uint64_t value;
    int frees; /* times the cell freed it: must end at exactly 1 */
} obj;

#define MAX_OBJS 64
static obj *objs[MAX_OBJS];
static int nobjs;
static int failures; /* calls that returned CASK_ENOMEM in this run */
static int fn_calls;

static obj *make(uint64_t value)
{
    EXPECT(nobjs < MAX_OBJS);
    obj *o = calloc(1, sizeof(*o));
    EXPECT(o != NULL);
    o->value = value;
    objs[nobjs++] = o;
    return o;
}

/* Frozen regions are freed by the cell (no free function); plain objects are counted here and
 * freed at the end of the run. */
static obj *make_frozen(uint64_t value)
{
    void *p;
    EXPECT_EQ(cask_frozen_alloc(sizeof(obj), "alloc-fail", &p), 0);
    obj *o = p;
    o->value = value;
    return o;
}

static void count_free(void *p)
{
    ((obj *)p)->frees++;
}

static int increment(const void *current, void *arg, void **next)
{
    (void)arg;
    fn_calls++;
    *next = make(((const obj *)current)->value + 1);
    return 0;
}

static int increment_frozen(const void *current, void *arg, void **next)
{
    (void)arg;
    fn_calls++;
    *next = make_frozen(((const obj *)current)->value + 1);
    return 0;
}

static uint64_t value_of(cask_snap *cell)
{
    cask_snap_read_begin(cell);
    uint64_t v = ((const obj *)cask_snap_read(cell))->value;
    cask_snap_read_end(cell);
    return v;
}

static cask_snap *create(const void *initial, cask_snap_free_fn fn, unsigned flags)
{
    cask_snap *sentinel = (cask_snap *)(void *)&objs, *cell = sentinel;
    int rc = cask_snap_create_with(initial, fn, flags, &cell);
    if (rc == CASK_ENOMEM) {
        failures++;
        EXPECT(cell == sentinel);
        if (flags & CASK_SNAP_FROZEN)
            EXPECT(!cask_frozen_is_frozen(initial));
        else
            EXPECT_EQ(((const obj *)initial)->frees, 0);
        rc = cask_snap_create_with(initial, fn, flags, &cell);
    }
    EXPECT_EQ(rc, 0);
    EXPECT(cell != sentinel);
    return cell;
}

static void publish(cask_snap *cell, obj *o, bool frozen)
{
    uint64_t before = value_of(cell);
    int rc = cask_snap_publish(cell, o);
    if (rc == CASK_ENOMEM) {
        failures++;
        EXPECT_EQ(value_of(cell), before);
        if (frozen)
            EXPECT(!cask_frozen_is_frozen(o));
        else
            EXPECT_EQ(o->frees, 0);
        rc = cask_snap_publish(cell, o);
    }
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(value_of(cell), o->value);
}

static void update(cask_snap *cell, cask_snap_update_fn fn)
{
    uint64_t before = value_of(cell);
    int calls = fn_calls;
    int rc = cask_snap_update(cell, fn, NULL);
    if (rc == CASK_ENOMEM) {
        failures++;
        EXPECT_EQ(fn_calls, calls); /* failed before fn ran */
        EXPECT_EQ(value_of(cell), before);
        rc = cask_snap_update(cell, fn, NULL);
    }
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(value_of(cell), before + 1);
}

/* The script. Returns the number of allocations it made. */
static long workload(void)
{
    alloc_calls = 0;
    nobjs = failures = 0;

    cask_snap *memb = create(make(0), count_free, 0);
    for (uint64_t v = 10; v < 13; v++) {
        publish(memb, make(v), false);
        update(memb, increment);
    }

    cask_snap_qsbr_register();
    cask_snap *qsbr = create(make(100), count_free, CASK_SNAP_QSBR);
    publish(qsbr, make(200), false);
    update(qsbr, increment);
    cask_snap_quiescent();

    cask_snap *frozen = create(make_frozen(1000), NULL, CASK_SNAP_FROZEN);
    publish(frozen, make_frozen(2000), true);
    update(frozen, increment_frozen);

    long made = alloc_calls;
    cask_snap_destroy(memb);
    cask_snap_destroy(qsbr);
    cask_snap_destroy(frozen);
    cask_snap_barrier();
    cask_snap_qsbr_unregister();
    for (int i = 0; i < nobjs; i++) {
        EXPECT_EQ(objs[i]->frees, 1);
        free(objs[i]);
    }
    return made;
}

int main(void)
{
    fail_at = -1;
    long total = workload();
    EXPECT(total >= 12); /* 3 cells, 10 retirement records */
    EXPECT_EQ(failures, 0);
    for (fail_at = 0; fail_at < total; fail_at++) {
        workload();
        EXPECT_EQ(failures, 1); /* the n-th allocation belonged to exactly one call */
    }
    return 0;
}
