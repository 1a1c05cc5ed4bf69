/*
 * Pattern 2, the right way: related values in one immutable world snapshot, replaced all at
 * once. A transfer moves money between two accounts; every reader sees the total unchanged.
 */
#include <pthread.h>

#include "cask/cask.h"
#include "example.h"

typedef struct world {
    long checking;
    long savings; /* checking + savings is always 100 */
} world;

static cask_snap *cell;

static void free_world(void *w)
{
    free(w);
}

static int transfer(const void *current, void *arg, void **next)
{
    const world *cur = current;
    long amount = *(const long *)arg;
    world *w = malloc(sizeof *w);
    if (w == NULL)
        return CASK_ENOMEM;
    *w = (world){.checking = cur->checking - amount, .savings = cur->savings + amount};
    *next = w;
    return 0;
}

static void *mover(void *arg)
{
    for (int i = 0; i < 500; i++)
        CHECK(cask_snap_update(cell, transfer, arg) == 0);
    return NULL;
}

static void *auditor(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        cask_snap_read_begin(cell);
        const world *w = cask_snap_read(cell);
        long total = w->checking + w->savings;
        cask_snap_read_end(cell);
        CHECK(total == 100); /* never a half-done transfer */
    }
    return NULL;
}

int main(void)
{
    world *w = malloc(sizeof *w);
    CHECK(w != NULL);
    *w = (world){.checking = 100, .savings = 0};
    CHECK(cask_snap_create(w, free_world, &cell) == 0);
    long there = 1, back = -1;
    pthread_t t[3];
    CHECK(pthread_create(&t[0], NULL, mover, &there) == 0);
    CHECK(pthread_create(&t[1], NULL, mover, &back) == 0);
    CHECK(pthread_create(&t[2], NULL, auditor, NULL) == 0);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    cask_snap_destroy(cell);
    cask_snap_barrier();
    return 0;
}
