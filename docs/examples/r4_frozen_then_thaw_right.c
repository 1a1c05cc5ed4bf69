/*
 * Recipe 4, the right way: pass a frozen vector, thaw it on the other side. The sole owner
 * thaws in place (no copy); a receiver that shares the vector gets a mutable copy and the
 * other owners keep the frozen original.
 */
#include <pthread.h>
#include <stdint.h>

#include "cask/cask.h"
#include "example.h"

static void *receiver(void *arg)
{
    cask_queue *q = arg;
    void *item;
    CHECK(cask_queue_pop(q, &item, CASK_QUEUE_FOREVER) == 0);
    cask_vec *v = item, *before = v;
    CHECK(cask_vec_thaw(&v) == 0);
    CHECK(v == before); /* we held the only reference: thawed in place */
    int64_t x = 99;
    CHECK(cask_vec_set(v, 0, &x) == 0);

    CHECK(cask_queue_pop(q, &item, CASK_QUEUE_FOREVER) == 0);
    cask_vec *w = item, *shared = w;
    CHECK(cask_vec_thaw(&w) == 0);
    CHECK(w != shared); /* the sender kept a reference: we got a copy */
    CHECK(cask_vec_set(w, 0, &x) == 0);
    cask_vec_unref(w);
    cask_vec_unref(v);
    return NULL;
}

static cask_vec *make_frozen(void)
{
    cask_vec *v;
    CHECK(cask_vec_create(sizeof(int64_t), 0, "scores", &v) == 0);
    for (int64_t i = 1; i <= 3; i++)
        CHECK(cask_vec_push(v, &i, NULL) == 0);
    CHECK(cask_vec_freeze(v) == 0);
    return v;
}

int main(void)
{
    cask_queue *q;
    CHECK(cask_queue_create(&q) == 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, receiver, q) == 0);
    CHECK(cask_queue_push(q, make_frozen()) == 0); /* our only reference goes with the item */
    cask_vec *kept = make_frozen();
    cask_vec_ref(kept);                     /* one reference for the receiver, one we keep */
    CHECK(cask_queue_push(q, kept) == 0);
    pthread_join(t, NULL);
    const int64_t *data = cask_vec_frozen_data(kept);
    CHECK(data != NULL && data[0] == 1); /* our frozen original is untouched */
    cask_vec_unref(kept);
    cask_queue_destroy(q);
    return 0;
}
