/* Recipe 4, the wrong way: the receiver writes into the frozen vector instead of thawing it. */
#include <pthread.h>
#include <stdint.h>

#include "cask/cask.h"
#include "example.h"

static void *receiver(void *arg)
{
    cask_queue *q = arg;
    void *item;
    CHECK(cask_queue_pop(q, &item, CASK_QUEUE_FOREVER) == 0);
    cask_vec *v = item;
    int64_t *data = (int64_t *)cask_vec_frozen_data(v); /* casting away const */
    data[0] = 99;                                       /* traps: the vector is frozen */
    cask_vec_unref(v);
    return NULL;
}

int main(void)
{
    cask_queue *q;
    CHECK(cask_queue_create(&q) == 0);
    cask_vec *v;
    CHECK(cask_vec_create(sizeof(int64_t), 0, "scores", &v) == 0);
    for (int64_t i = 1; i <= 3; i++)
        CHECK(cask_vec_push(v, &i, NULL) == 0);
    CHECK(cask_vec_freeze(v) == 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, receiver, q) == 0);
    CHECK(cask_queue_push(q, v) == 0);
    pthread_join(t, NULL);
    cask_queue_destroy(q);
    return 0;
}
