/*
 * vec_freeze_publish_test.c: a vector seen frozen always comes with its array. A freeze
 * publishes two words (the array for the inline get and frozen_data, then the FROZEN bit of
 * the length word for the slow paths); this test parks the freezing thread between the two
 * (through a wrapper of the schedule-noise point "vec.freeze.published", linked with
 * -Wl,--wrap=cask_noise_point against the stress build of the library) and checks, from another
 * thread, that cask_vec_is_frozen and cask_vec_frozen_data agree and that the array holds every
 * pushed element. When FROZEN was set first, is_frozen said true while frozen_data was still NULL
 * (a caller indexing it crashed).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "cask/cask.h"
#include "cask/vec.h"
#include "expect.h"

enum { ITEMS = 1000 };

/* The script (tests/expect.h): step 1, the freezer is parked at the point; 2, it may go on. */
static _Thread_local int freezer;
static int parked_at_point; /* times the freezer parked there: its own; read after the join */

void __real_cask_noise_point(const char *where);

void __wrap_cask_noise_point(const char *where)
{
    if (freezer && strcmp(where, "vec.freeze.published") == 0) {
        parked_at_point++;
        expect_step_set(1);
        expect_step_wait(2);
    }
    __real_cask_noise_point(where);
}

static void *freeze_main(void *arg)
{
    freezer = 1;
    EXPECT_EQ(cask_vec_freeze((cask_vec *)arg), 0);
    return NULL;
}

static void check_consistent(cask_vec *v, bool must_be_frozen)
{
    bool frozen = cask_vec_is_frozen(v);
    const uint64_t *a = cask_vec_frozen_data(v);
    EXPECT_EQ(frozen, a != NULL); /* frozen means the array is there, and only then */
    if (must_be_frozen)
        EXPECT(frozen);
    if (a == NULL)
        return;
    EXPECT_EQ(cask_vec_length(v), (size_t)ITEMS);
    for (uint64_t i = 0; i < ITEMS; i++) {
        EXPECT_EQ(a[i], i * 3);
        uint64_t x = 0;
        EXPECT_EQ(cask_vec_get(v, (size_t)i, &x), 0);
        EXPECT_EQ(x, i * 3);
    }
    uint64_t x = 7;
    EXPECT_EQ(cask_vec_push(v, &x, NULL), CASK_EFROZEN);
}

int main(void)
{
    cask_vec *v;
    EXPECT_EQ(cask_vec_create(sizeof(uint64_t), 4096, "publish test", &v), 0);
    for (uint64_t i = 0; i < ITEMS; i++) {
        uint64_t x = i * 3;
        EXPECT_EQ(cask_vec_push(v, &x, NULL), 0);
    }
    pthread_t t;
    EXPECT_EQ(pthread_create(&t, NULL, freeze_main, v), 0);
    expect_step_wait(1); /* the freezer is between its two publications */
    check_consistent(v, false);
    expect_step_set(2);
    EXPECT_EQ(pthread_join(t, NULL), 0);
    check_consistent(v, true);
    EXPECT_EQ(parked_at_point, 1); /* the schedule happened: the point exists and was reached */
    cask_vec_unref(v);
    return 0;
}
