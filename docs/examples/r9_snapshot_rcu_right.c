/*
 * Recipe 9, the right way: mutable state in a shared namespace, as a snapshot cell updated by
 * read-copy-update. Many writers update at once without a lock; none of their updates is
 * lost, and readers always see a whole version.
 */
#include <pthread.h>

#include "cask/cask.h"
#include "example.h"

typedef struct stats {
    long requests;
    long bytes; /* always requests * 100 */
} stats;

static cask_snap *cell;

static void free_stats(void *s)
{
    free(s);
}

/* next = current + one request of 100 bytes; runs again if another writer won meanwhile */
static int add_request(const void *current, void *arg, void **next)
{
    (void)arg;
    const stats *cur = current;
    stats *s = malloc(sizeof *s);
    if (s == NULL)
        return CASK_ENOMEM;
    *s = (stats){.requests = cur->requests + 1, .bytes = cur->bytes + 100};
    *next = s;
    return 0;
}

static void *writer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 500; i++)
        CHECK(cask_snap_update(cell, add_request, NULL) == 0);
    return NULL;
}

static void *reader(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        cask_snap_read_begin(cell);
        const stats *s = cask_snap_read(cell);
        int whole = s->bytes == s->requests * 100;
        cask_snap_read_end(cell);
        CHECK(whole); /* a whole version, never half of one */
    }
    return NULL;
}

int main(void)
{
    stats *zero = calloc(1, sizeof *zero);
    CHECK(zero != NULL);
    CHECK(cask_snap_create(zero, free_stats, &cell) == 0);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, i < 3 ? writer : reader, NULL) == 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    cask_snap_read_begin(cell);
    long requests = ((const stats *)cask_snap_read(cell))->requests;
    cask_snap_read_end(cell);
    CHECK(requests == 3 * 500); /* no update lost */
    cask_snap_destroy(cell);
    cask_snap_barrier();
    return 0;
}
