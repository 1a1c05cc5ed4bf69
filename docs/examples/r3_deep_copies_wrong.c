/* Recipe 3, the wrong way: a shallow copy passed through a queue still shares its buffer. */
#include <pthread.h>

#include "cask/cask.h"
#include "example.h"

typedef struct batch {
    size_t len;
    int *values;
} batch;

static step consumed;

static void *consumer(void *arg)
{
    cask_queue *q = arg;
    void *item;
    CHECK(cask_queue_pop(q, &item, CASK_QUEUE_FOREVER) == 0);
    batch *b = item;
    b->values[0] = -1; /* the consumer thinks the copy is its own */
    step_done(&consumed);
    free(b);
    return NULL;
}

int main(void)
{
    cask_queue *q;
    CHECK(cask_queue_create(&q) == 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, consumer, q) == 0);
    batch mine = {.len = 8, .values = calloc(8, sizeof(int))};
    CHECK(mine.values != NULL);
    batch *copy = malloc(sizeof *copy);
    CHECK(copy != NULL);
    *copy = mine; /* copies the pointer, not the values */
    CHECK(cask_queue_push(q, copy) == 0);
    step_wait(&consumed);
    mine.values[0] = 1; /* races with the consumer's write */
    pthread_join(t, NULL);
    free(mine.values);
    cask_queue_destroy(q);
    return 0;
}
