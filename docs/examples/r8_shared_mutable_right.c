/*
 * Recipe 8, the right way: share mutable objects by reference. Threads update counters found
 * in a cask map while another thread replaces them; a value stays alive while the guard that
 * found it protects it (hazard pointers), and is freed once no guard does. A cask vector
 * takes pushes from several threads while others read it.
 */
#include <pthread.h>
#include <stdint.h>

#include "cask/cask.h"
#include "example.h"

typedef struct counter {
    atomic_long hits; /* shared and mutable: updated with atomics */
} counter;

static cask_map *counters;
static cask_vec *events;

static void free_counter(void *c)
{
    free(c);
}

static void *worker(void *arg)
{
    uint64_t id = (uint64_t)(uintptr_t)arg;
    cask_map_guard *g;
    CHECK(cask_map_guard_acquire(counters, &g) == 0);
    for (int i = 0; i < 1000; i++) {
        void *found;
        if (cask_map_get_u64(counters, g, (uint64_t)(i % 8), &found) == 0) {
            counter *c = found; /* protected until the guard's next call */
            atomic_fetch_add_explicit(&c->hits, 1, memory_order_relaxed);
        }
        int64_t e = (int64_t)(id * 1000 + (uint64_t)i);
        CHECK(cask_vec_push(events, &e, NULL) == 0);
        size_t n = cask_vec_length(events);
        int64_t seen;
        CHECK(cask_vec_get(events, n - 1, &seen) == 0);
    }
    cask_map_guard_release(g);
    return NULL;
}

static void *replacer(void *arg)
{
    (void)arg;
    cask_map_guard *g;
    CHECK(cask_map_guard_acquire(counters, &g) == 0);
    for (int i = 0; i < 500; i++) {
        counter *fresh = calloc(1, sizeof *fresh);
        CHECK(fresh != NULL);
        /* the old counter is freed once no guard protects it */
        CHECK(cask_map_put_u64(counters, g, (uint64_t)(i % 8), fresh) == 0);
    }
    cask_map_guard_release(g);
    return NULL;
}

int main(void)
{
    cask_map_options options = {.key_kind = CASK_MAP_KEY_U64, .dtor = free_counter};
    CHECK(cask_map_create(&counters, &options) == 0);
    CHECK(cask_vec_create(sizeof(int64_t), 0, "events", &events) == 0);
    pthread_t t[3];
    for (uintptr_t i = 0; i < 2; i++)
        CHECK(pthread_create(&t[i], NULL, worker, (void *)i) == 0);
    CHECK(pthread_create(&t[2], NULL, replacer, NULL) == 0);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    CHECK(cask_vec_length(events) == 2000);
    cask_vec_unref(events);
    cask_map_destroy(counters);
    return 0;
}
