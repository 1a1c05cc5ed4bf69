/*
 * Recipe 5, the right way: immutable objects under names that cannot be rebound. Build a
 * cask map, freeze it: lookups are wait-free and need no hazard pointer, and every attempt to
 * rebind a name fails with CASK_EFROZEN.
 */
#include <pthread.h>
#include <string.h>

#include "cask/cask.h"
#include "example.h"

typedef struct limit {
    const char *unit;
    int value;
} limit;

static const limit max_clients = {"clients", 1000};
static const limit max_body = {"bytes", 1 << 20};
static const limit other = {"bytes", 0};

static cask_map *names;

static void *reader(void *arg)
{
    (void)arg;
    cask_map_guard *g;
    CHECK(cask_map_guard_acquire(names, &g) == 0);
    for (int i = 0; i < 1000; i++) {
        void *v;
        CHECK(cask_map_get(names, g, "max_clients", 11, &v) == 0);
        CHECK(((const limit *)v)->value == 1000);
        CHECK(cask_map_get(names, g, "max_body", 8, &v) == 0);
        CHECK(strcmp(((const limit *)v)->unit, "bytes") == 0);
        /* nobody can rebind a name: */
        CHECK(cask_map_put(names, g, "max_body", 8, (void *)&other) == CASK_EFROZEN);
    }
    cask_map_guard_release(g);
    return NULL;
}

int main(void)
{
    CHECK(cask_map_create(&names, NULL) == 0); /* byte-string keys, no destructor */
    cask_map_guard *g;
    CHECK(cask_map_guard_acquire(names, &g) == 0);
    CHECK(cask_map_insert(names, g, "max_clients", 11, (void *)&max_clients) == 0);
    CHECK(cask_map_insert(names, g, "max_body", 8, (void *)&max_body) == 0);
    CHECK(cask_map_freeze(names, g) == 0);
    cask_map_guard_release(g);

    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&t[i], NULL, reader, NULL) == 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    cask_map_destroy(names);
    return 0;
}
