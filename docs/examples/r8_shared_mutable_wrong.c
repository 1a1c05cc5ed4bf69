/* Recipe 8, the wrong way: using a map value after the guard stopped protecting it. */
#include <pthread.h>
#include <stdint.h>

#include "cask/cask.h"
#include "example.h"

typedef struct counter {
    long hits;
} counter;

static cask_map *counters;
static step released, replaced;

static void free_counter(void *c)
{
    free(c);
}

static void *reader(void *arg)
{
    (void)arg;
    cask_map_guard *g;
    CHECK(cask_map_guard_acquire(counters, &g) == 0);
    void *found;
    CHECK(cask_map_get_u64(counters, g, 7, &found) == 0);
    counter *c = found;
    cask_map_guard_reset(g); /* c is no longer protected... */
    step_done(&released);
    step_wait(&replaced);
    printf("hits: %ld\n", c->hits); /* ...and has been freed: use after free */
    cask_map_guard_release(g);
    return NULL;
}

int main(void)
{
    cask_map_options options = {.key_kind = CASK_MAP_KEY_U64, .dtor = free_counter};
    CHECK(cask_map_create(&counters, &options) == 0);
    cask_map_guard *g;
    CHECK(cask_map_guard_acquire(counters, &g) == 0);
    CHECK(cask_map_insert_u64(counters, g, 7, calloc(1, sizeof(counter))) == 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, reader, NULL) == 0);
    step_wait(&released);
    CHECK(cask_map_put_u64(counters, g, 7, calloc(1, sizeof(counter))) == 0);
    cask_map_drain(counters); /* no guard protects the old counter: it is freed now */
    step_done(&replaced);
    pthread_join(t, NULL);
    cask_map_guard_release(g);
    cask_map_destroy(counters);
    return 0;
}
