/* Recipe 1, the right way: build a message, freeze it, pass it through a cask queue. */
#include <pthread.h>
#include <string.h>

#include "cask/cask.h"
#include "example.h"

typedef struct message {
    int seq;
    char text[32];
} message;

static void *consumer(void *arg)
{
    cask_queue *q = arg;
    void *item;
    int expected = 0;
    while (cask_queue_pop(q, &item, CASK_QUEUE_FOREVER) == 0) {
        const message *m = item; /* frozen: read it with plain loads, never write it */
        CHECK(m->seq == expected++);
        CHECK(strcmp(m->text, "hello") == 0);
        cask_frozen_free(item); /* the consumer is its last user */
    }
    CHECK(expected == 100);
    return NULL;
}

int main(void)
{
    cask_queue *q;
    CHECK(cask_queue_create(&q) == 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, consumer, q) == 0);
    for (int i = 0; i < 100; i++) {
        void *region;
        CHECK(cask_frozen_alloc(sizeof(message), "message", &region) == 0);
        message *m = region;
        m->seq = i;
        strcpy(m->text, "hello");
        CHECK(cask_frozen_freeze(region) == 0); /* from here on a write to *m traps */
        CHECK(cask_queue_push(q, region) == 0); /* release: the consumer sees the contents */
    }
    cask_queue_close(q, 0); /* 0: finished normally; the consumer drains, then stops */
    pthread_join(t, NULL);
    cask_queue_destroy(q);
    return 0;
}
