/*
 * Recipe 9, the wrong way: read, copy, change, then publish blindly. Each step is safe on its
 * own, but two writers that read the same version overwrite each other's update.
 */
#include <pthread.h>

#include "cask/cask.h"
#include "example.h"

typedef struct stats {
    long requests;
} stats;

static cask_snap *cell;
static step a_read, b_read, a_published;

static void free_stats(void *s)
{
    free(s);
}

static void add_request(step *wait_before_read, step *read, step *wait_before_publish)
{
    if (wait_before_read != NULL)
        step_wait(wait_before_read);
    stats *next = malloc(sizeof *next);
    CHECK(next != NULL);
    cask_snap_read_begin(cell);
    const stats *cur = cask_snap_read(cell);
    next->requests = cur->requests + 1;
    cask_snap_read_end(cell);
    step_done(read);
    step_wait(wait_before_publish);
    CHECK(cask_snap_publish(cell, next) == 0); /* replaces whatever is current */
}

static void *writer_b(void *arg)
{
    (void)arg;
    add_request(&a_read, &b_read, &a_published);
    return NULL;
}

int main(void)
{
    stats *zero = calloc(1, sizeof *zero);
    CHECK(zero != NULL);
    CHECK(cask_snap_create(zero, free_stats, &cell) == 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, writer_b, NULL) == 0);
    add_request(NULL, &a_read, &b_read); /* writer A, on this thread */
    step_done(&a_published);
    pthread_join(t, NULL);
    cask_snap_read_begin(cell);
    long requests = ((const stats *)cask_snap_read(cell))->requests;
    cask_snap_read_end(cell);
    printf("2 requests counted as %ld\n", requests);
    CHECK(requests == 2); /* fails: writer B's update replaced writer A's */
    cask_snap_destroy(cell);
    cask_snap_barrier();
    return 0;
}
