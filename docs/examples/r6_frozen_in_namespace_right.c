/*
 * Recipe 6, the right way: frozen mutable objects in a shared namespace. A cask map names
 * frozen vectors; readers read them with plain loads while holding their guard; a writer
 * changes one by taking a reference, thawing (a copy, since the map holds a reference too),
 * changing and freezing the copy, and replacing the old one only if it is still current.
 * Several writers may do this at once: a writer whose replace lost starts again.
 */
#include <pthread.h>
#include <stdint.h>

#include "cask/cask.h"
#include "example.h"

#define APPENDS 200

static cask_map *names;

static void unref_vec(void *v)
{
    cask_vec_unref(v); /* the map's reference */
}

/* Appends the next number to the frozen vector named "log". */
static void append_next(cask_map_guard *g)
{
    for (;;) {
        void *found;
        CHECK(cask_map_get(names, g, "log", 3, &found) == 0);
        cask_vec *old = found, *copy = found;
        cask_vec_ref(old); /* kept until the replace, so `old` cannot be freed and reused */
        cask_vec_ref(copy);
        cask_map_guard_reset(g);
        CHECK(cask_vec_thaw(&copy) == 0); /* a mutable copy; drops the reference we gave it */
        int64_t next = (int64_t)cask_vec_length(copy);
        CHECK(cask_vec_push(copy, &next, NULL) == 0);
        CHECK(cask_vec_freeze(copy) == 0);
        int rc = cask_map_replace(names, g, "log", 3, old, copy);
        cask_vec_unref(old);
        if (rc == 0)
            return; /* the map owns copy now; it drops old once no reader can see it */
        CHECK(rc == CASK_ENOENT); /* another writer replaced it first: start again */
        cask_vec_unref(copy);
    }
}

static void *writer(void *arg)
{
    (void)arg;
    cask_map_guard *g;
    CHECK(cask_map_guard_acquire(names, &g) == 0);
    for (int i = 0; i < APPENDS; i++)
        append_next(g);
    cask_map_guard_release(g);
    return NULL;
}

static void *reader(void *arg)
{
    (void)arg;
    cask_map_guard *g;
    CHECK(cask_map_guard_acquire(names, &g) == 0);
    for (int i = 0; i < 1000; i++) {
        void *found;
        CHECK(cask_map_get(names, g, "log", 3, &found) == 0);
        const int64_t *data = cask_vec_frozen_data(found); /* plain loads: it is frozen */
        size_t n = cask_vec_length(found);
        CHECK(data != NULL);
        for (size_t j = 0; j < n; j++)
            CHECK(data[j] == (int64_t)j);
        cask_map_guard_reset(g);
    }
    cask_map_guard_release(g);
    return NULL;
}

int main(void)
{
    cask_map_options options = {.key_kind = CASK_MAP_KEY_BYTES, .dtor = unref_vec};
    CHECK(cask_map_create(&names, &options) == 0);
    cask_vec *empty;
    CHECK(cask_vec_create(sizeof(int64_t), 0, "log", &empty) == 0);
    CHECK(cask_vec_freeze(empty) == 0);
    cask_map_guard *g;
    CHECK(cask_map_guard_acquire(names, &g) == 0);
    CHECK(cask_map_insert(names, g, "log", 3, empty) == 0);

    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, i < 2 ? writer : reader, NULL) == 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    void *found;
    CHECK(cask_map_get(names, g, "log", 3, &found) == 0);
    CHECK(cask_vec_length(found) == 2 * APPENDS); /* no append was lost */
    cask_map_guard_release(g);
    cask_map_destroy(names);
    return 0;
}
