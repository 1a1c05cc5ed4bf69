/*
 * Recipe 3, the right way: pass a mutable deep copy. The receiver gets its own copy of every
 * level of the object and may change it; the sender goes on changing its original.
 */
#include <pthread.h>
#include <string.h>

#include "cask/cask.h"
#include "example.h"

typedef struct batch {
    size_t len;
    int *values; /* owned by the batch: a deep copy copies it too */
} batch;

static batch *batch_copy(const batch *b)
{
    batch *c = malloc(sizeof *c);
    int *values = malloc(b->len * sizeof *values);
    if (c == NULL || values == NULL) {
        free(c);
        free(values);
        return NULL;
    }
    memcpy(values, b->values, b->len * sizeof *values);
    *c = (batch){.len = b->len, .values = values};
    return c;
}

static void *consumer(void *arg)
{
    cask_queue *q = arg;
    void *item;
    int round = 0;
    while (cask_queue_pop(q, &item, CASK_QUEUE_FOREVER) == 0) {
        batch *b = item; /* ours now: change it as we like */
        for (size_t i = 0; i < b->len; i++) {
            CHECK(b->values[i] == round);
            b->values[i] = -1;
        }
        round++;
        free(b->values);
        free(b);
    }
    CHECK(round == 50);
    return NULL;
}

int main(void)
{
    cask_queue *q;
    CHECK(cask_queue_create(&q) == 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, consumer, q) == 0);
    int storage[8] = {0};
    batch mine = {.len = 8, .values = storage};
    for (int round = 0; round < 50; round++) {
        for (size_t i = 0; i < mine.len; i++)
            mine.values[i] = round; /* the sender keeps changing its original */
        batch *copy = batch_copy(&mine);
        CHECK(copy != NULL);
        CHECK(cask_queue_push(q, copy) == 0); /* the copy now belongs to the consumer */
    }
    cask_queue_close(q, 0);
    pthread_join(t, NULL);
    cask_queue_destroy(q);
    return 0;
}
