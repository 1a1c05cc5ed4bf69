/*
 * Pattern 2, the wrong way: two related values in two cells, updated one after the other.
 * Each cell is safe; a reader between the two updates sees money that is in neither account.
 */
#include <pthread.h>

#include "cask/cask.h"
#include "example.h"

static cask_snap *checking, *savings; /* each holds a long; the sum should stay 100 */
static step half_done, audited;

static void free_long(void *p)
{
    free(p);
}

static long *boxed(long v)
{
    long *p = malloc(sizeof *p);
    CHECK(p != NULL);
    *p = v;
    return p;
}

static long read_long(cask_snap *cell)
{
    cask_snap_read_begin(cell);
    long v = *(const long *)cask_snap_read(cell);
    cask_snap_read_end(cell);
    return v;
}

static void *auditor(void *arg)
{
    (void)arg;
    step_wait(&half_done);
    long total = read_long(checking) + read_long(savings);
    step_done(&audited);
    printf("total: %ld\n", total);
    CHECK(total == 100); /* fails: the transfer was half done */
    return NULL;
}

int main(void)
{
    CHECK(cask_snap_create(boxed(100), free_long, &checking) == 0);
    CHECK(cask_snap_create(boxed(0), free_long, &savings) == 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, auditor, NULL) == 0);
    CHECK(cask_snap_publish(checking, boxed(90)) == 0); /* transfer 10: first half */
    step_done(&half_done);
    step_wait(&audited);
    CHECK(cask_snap_publish(savings, boxed(10)) == 0); /* second half */
    pthread_join(t, NULL);
    cask_snap_destroy(checking);
    cask_snap_destroy(savings);
    cask_snap_barrier();
    return 0;
}
