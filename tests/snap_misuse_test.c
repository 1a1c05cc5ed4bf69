/*
 * snap_misuse_test.c: misuse of snapshot cells is loud. Each case runs in a forked child and
 * must abort with a report naming the object kind, the mistake and the fix.
 * (Reading outside a section is a checked-build check: this test is built without NDEBUG.)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>

#include "cask/cask.h"
#include "expect.h"

static int value = 42;

static void no_free(void *p)
{
    (void)p;
}

static cask_snap *cell(void)
{
    cask_snap *c;
    EXPECT_EQ(cask_snap_create(&value, no_free, &c), 0);
    return c;
}

static cask_snap *qsbr_cell(void)
{
    cask_snap *c;
    EXPECT_EQ(cask_snap_create_qsbr(&value, no_free, &c), 0);
    return c;
}

static void end_without_begin(void *arg)
{
    (void)arg;
    cask_snap_read_end(cell());
}

static void read_outside_section(void *arg)
{
    (void)arg;
    cask_snap *c = cell();
    cask_snap_read_begin(c);
    cask_snap_read_end(c);
    (void)cask_snap_read(c);
}

static void *begin_and_exit(void *c)
{
    cask_snap_read_begin(c);
    return NULL; /* exits inside the section */
}

static void exit_inside_section(void *arg)
{
    (void)arg;
    pthread_t t;
    EXPECT_EQ(pthread_create(&t, NULL, begin_and_exit, cell()), 0);
    pthread_join(t, NULL);
}

static void barrier_inside_section(void *arg)
{
    (void)arg;
    cask_snap *c = cell();
    cask_snap_read_begin(c);
    cask_snap_barrier();
}

static void qsbr_unregistered(void *arg)
{
    (void)arg;
    cask_snap_read_begin(qsbr_cell());
}

static void quiescent_inside_section(void *arg)
{
    (void)arg;
    cask_snap_qsbr_register();
    cask_snap *c = qsbr_cell();
    cask_snap_read_begin(c);
    cask_snap_quiescent();
}

static int same(const void *current, void *arg, void **next)
{
    (void)arg;
    *next = (void *)current;
    return 0;
}

static void update_returns_current(void *arg)
{
    (void)arg;
    cask_snap_update(cell(), same, NULL);
}

static void destroy_null(void *arg)
{
    (void)arg;
    cask_snap_destroy(NULL);
}

int main(void)
{
    const char *const unbegun[] = {"snapshot cell", "none was begun", "fix:", NULL};
    EXPECT(expect_death(end_without_begin, NULL, unbegun));
    const char *const outside[] = {"snapshot cell", "outside a read section", "fix:", NULL};
    EXPECT(expect_death(read_outside_section, NULL, outside));
    const char *const exited[] = {"snapshot cell", "exited inside", "fix:", NULL};
    EXPECT(expect_death(exit_inside_section, NULL, exited));
    const char *const bar[] = {"snapshot cell", "barrier inside a read section", "fix:", NULL};
    EXPECT(expect_death(barrier_inside_section, NULL, bar));
    const char *const unreg[] = {"snapshot cell", "not registered", "cask_snap_qsbr_register",
                                 NULL};
    EXPECT(expect_death(qsbr_unregistered, NULL, unreg));
    const char *const quiet[] = {"snapshot cell", "inside a read section", "fix:", NULL};
    EXPECT(expect_death(quiescent_inside_section, NULL, quiet));
    const char *const cur[] = {"snapshot cell", "returned the current version", "fix:", NULL};
    EXPECT(expect_death(update_returns_current, NULL, cur));
    const char *const null[] = {"snapshot cell", "given NULL", "fix:", NULL};
    EXPECT(expect_death(destroy_null, NULL, null));
    return 0;
}
