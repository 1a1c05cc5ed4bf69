/* Recipe 6, the wrong way: changing a frozen object found in a shared namespace in place. */
#include <pthread.h>

#include "cask/cask.h"
#include "example.h"

typedef struct limits {
    int max_clients;
    int max_body;
} limits;

static cask_map *names;

static void *worker(void *arg)
{
    (void)arg;
    cask_map_guard *g;
    CHECK(cask_map_guard_acquire(names, &g) == 0);
    void *found;
    CHECK(cask_map_get(names, g, "limits", 6, &found) == 0);
    limits *l = found;
    l->max_clients++; /* traps: every reader shares this object */
    cask_map_guard_release(g);
    return NULL;
}

int main(void)
{
    void *region;
    CHECK(cask_frozen_alloc(sizeof(limits), "limits", &region) == 0);
    *(limits *)region = (limits){.max_clients = 1000, .max_body = 1 << 20};
    CHECK(cask_frozen_freeze(region) == 0);
    CHECK(cask_map_create(&names, NULL) == 0);
    cask_map_guard *g;
    CHECK(cask_map_guard_acquire(names, &g) == 0);
    CHECK(cask_map_insert(names, g, "limits", 6, region) == 0);
    cask_map_guard_release(g);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, worker, NULL) == 0);
    pthread_join(t, NULL);
    cask_map_destroy(names);
    cask_frozen_free(region);
    return 0;
}
