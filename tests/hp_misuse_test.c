/*
 * hp_misuse_test.c: misuse of hazard pointers is loud. Each case runs in a forked child and must
 * abort with a report naming the object kind, the mistake and the fix.
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "cask/cask.h"
#include "expect.h"

static void release_twice(void *arg)
{
    (void)arg;
    cask_hp_slot *slot;
    EXPECT_EQ(cask_hp_slot_acquire(cask_hp_default_domain(), &slot), 0);
    cask_hp_slot_release(slot);
    cask_hp_slot_release(slot);
}

static void *release_it(void *slot)
{
    cask_hp_slot_release(slot);
    return NULL;
}

static void release_from_other_thread(void *arg)
{
    (void)arg;
    cask_hp_slot *slot;
    EXPECT_EQ(cask_hp_slot_acquire(cask_hp_default_domain(), &slot), 0);
    pthread_t t;
    EXPECT_EQ(pthread_create(&t, NULL, release_it, slot), 0);
    pthread_join(t, NULL);
}

static void *acquire_and_exit(void *arg)
{
    (void)arg;
    cask_hp_slot *slot;
    EXPECT_EQ(cask_hp_slot_acquire(cask_hp_default_domain(), &slot), 0);
    return NULL; /* exits holding the slot */
}

static void exit_holding_slot(void *arg)
{
    (void)arg;
    pthread_t t;
    EXPECT_EQ(pthread_create(&t, NULL, acquire_and_exit, NULL), 0);
    pthread_join(t, NULL);
}

static void destroy_default(void *arg)
{
    (void)arg;
    cask_hp_domain_destroy(cask_hp_default_domain());
}

static void destroy_while_protecting(void *arg)
{
    (void)arg;
    cask_hp_domain *d;
    EXPECT_EQ(cask_hp_domain_create(&d), 0);
    cask_hp_slot *slot;
    EXPECT_EQ(cask_hp_slot_acquire(d, &slot), 0);
    cask_hp_set(slot, &slot);
    cask_hp_domain_destroy(d);
}

static void retire_null(void *arg)
{
    (void)arg;
    cask_hp_retire(cask_hp_default_domain(), NULL, NULL, NULL);
}

int main(void)
{
    const char *const twice[] = {"hazard slot", "released twice", "fix:", NULL};
    EXPECT(expect_death(release_twice, NULL, twice));
    const char *const other[] = {"hazard slot", "does not own it", "fix:", NULL};
    EXPECT(expect_death(release_from_other_thread, NULL, other));
    const char *const exited[] = {"hazard slot", "exited while still holding", "fix:", NULL};
    EXPECT(expect_death(exit_holding_slot, NULL, exited));
    const char *const dflt[] = {"hazard-pointer domain", "default domain", "fix:", NULL};
    EXPECT(expect_death(destroy_default, NULL, dflt));
    const char *const held[] = {"hazard slot", "still held or protects", "fix:", NULL};
    EXPECT(expect_death(destroy_while_protecting, NULL, held));
    const char *const null[] = {"hazard-pointer domain", "NULL argument", NULL};
    EXPECT(expect_death(retire_null, NULL, null));
    return 0;
}
