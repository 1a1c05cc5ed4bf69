/*
 * vec_push_enomem_test.c: a push's errors come in the contract's order. A push from a thread
 * whose hazard record cannot be allocated (its first call into the hazard pointers, with every
 * allocation failing) says CASK_EFROZEN on a frozen vector, as on any other thread, and
 * CASK_ENOMEM on a mutable one, which it leaves unchanged. The test defines cask__alloc (strong),
 * replacing the library's weak one (lib/internal/alloc.h), and fails it on the second thread.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "cask/cask.h"
#include "cask/vec.h"
#include "expect.h"

static _Thread_local bool failing; /* this thread's allocations fail */

void *cask__alloc(size_t align, size_t size)
{
    if (failing)
        return NULL;
    return aligned_alloc(align, (size + align - 1) / align * align);
}

void cask__free(void *p)
{
    free(p);
}

static cask_vec *frozen, *mutable;

static void *pusher(void *arg)
{
    (void)arg;
    failing = true;
    uint64_t x = 99;
    EXPECT_EQ(cask_vec_push(frozen, &x, NULL), CASK_EFROZEN);
    EXPECT_EQ(cask_vec_push(mutable, &x, NULL), CASK_ENOMEM);
    return NULL;
}

int main(void)
{
    EXPECT_EQ(cask_vec_create(sizeof(uint64_t), 1024, "frozen", &frozen), 0);
    EXPECT_EQ(cask_vec_create(sizeof(uint64_t), 1024, "mutable", &mutable), 0);
    uint64_t x = 5;
    EXPECT_EQ(cask_vec_push(frozen, &x, NULL), 0);
    EXPECT_EQ(cask_vec_push(mutable, &x, NULL), 0);
    EXPECT_EQ(cask_vec_freeze(frozen), 0);
    pthread_t t;
    EXPECT_EQ(pthread_create(&t, NULL, pusher, NULL), 0);
    EXPECT_EQ(pthread_join(t, NULL), 0);
    EXPECT_EQ(cask_vec_length(frozen), (size_t)1);
    EXPECT_EQ(cask_vec_length(mutable), (size_t)1); /* the failed push changed nothing */
    uint64_t y = 0;
    EXPECT_EQ(cask_vec_get(mutable, 0, &y), 0);
    EXPECT_EQ(y, (uint64_t)5);
    cask_vec_unref(frozen);
    cask_vec_unref(mutable);
    return 0;
}
