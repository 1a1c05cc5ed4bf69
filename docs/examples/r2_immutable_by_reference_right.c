/*
 * Recipe 2, the right way: share immutable objects by reference. A frozen vector is one C array
 * that every thread reads with plain loads; a snapshot cell holds a configuration that a writer
 * replaces while readers keep reading the version they took.
 */
#include <pthread.h>
#include <stdint.h>

#include "cask/cask.h"
#include "example.h"

typedef struct config {
    int version;
    int limit; /* always version * 10 */
} config;

static cask_vec *primes;
static cask_snap *current_config;

static void *reader(void *arg)
{
    (void)arg;
    const int32_t *p = cask_vec_frozen_data(primes); /* no lock, no atomics: it is frozen */
    size_t n = cask_vec_length(primes);
    CHECK(n == 6 && p[0] == 2 && p[5] == 13);
    for (int i = 0; i < 1000; i++) {
        cask_snap_read_begin(current_config);
        const config *c = cask_snap_read(current_config);
        CHECK(c->limit == c->version * 10); /* a whole version, never half of one */
        cask_snap_read_end(current_config);
    }
    cask_vec_unref(primes); /* the reference main took for this thread */
    return NULL;
}

static void free_config(void *c)
{
    free(c);
}

int main(void)
{
    CHECK(cask_vec_create(sizeof(int32_t), 0, "primes", &primes) == 0);
    const int32_t values[] = {2, 3, 5, 7, 11, 13};
    for (size_t i = 0; i < 6; i++)
        CHECK(cask_vec_push(primes, &values[i], NULL) == 0);
    CHECK(cask_vec_freeze(primes) == 0);

    config *first = malloc(sizeof *first);
    CHECK(first != NULL);
    *first = (config){.version = 1, .limit = 10};
    CHECK(cask_snap_create(first, free_config, &current_config) == 0);

    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        cask_vec_ref(primes); /* one reference per reader */
        CHECK(pthread_create(&t[i], NULL, reader, NULL) == 0);
    }
    for (int v = 2; v <= 100; v++) {
        config *next = malloc(sizeof *next);
        CHECK(next != NULL);
        *next = (config){.version = v, .limit = v * 10};
        CHECK(cask_snap_publish(current_config, next) == 0); /* old one freed after readers */
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    cask_snap_destroy(current_config);
    cask_snap_barrier();
    cask_vec_unref(primes);
    return 0;
}
