/*
 * Recipe 7, the right way: hand over a mutable object. Ownership moves with the queue item:
 * the sender forgets its pointer when the push succeeds; the receiver changes and frees it.
 */
#include <pthread.h>

#include "cask/cask.h"
#include "example.h"

typedef struct request {
    int id;
    int status; /* filled in by the receiver */
} request;

static void *receiver(void *arg)
{
    cask_queue *q = arg;
    void *item;
    int handled = 0;
    while (cask_queue_pop(q, &item, CASK_QUEUE_FOREVER) == 0) {
        request *r = item; /* ours alone now */
        r->status = 200;
        CHECK(r->id >= 0 && r->id < 200);
        free(r);
        handled++;
    }
    CHECK(handled == 200);
    return NULL;
}

static void *sender(void *arg)
{
    cask_queue *q = arg;
    static atomic_int next_id;
    for (int i = 0; i < 100; i++) {
        request *r = malloc(sizeof *r);
        CHECK(r != NULL);
        r->id = atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed);
        r->status = 0;
        if (cask_queue_push(q, r) != 0)
            free(r); /* refused: still ours */
        /* accepted: the receiver owns r now; this thread does not touch it again */
    }
    return NULL;
}

int main(void)
{
    cask_queue *q;
    CHECK(cask_queue_create(&q) == 0);
    pthread_t recv, send[2];
    CHECK(pthread_create(&recv, NULL, receiver, q) == 0);
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&send[i], NULL, sender, q) == 0);
    for (int i = 0; i < 2; i++)
        pthread_join(send[i], NULL);
    cask_queue_close(q, 0);
    pthread_join(recv, NULL);
    cask_queue_destroy(q);
    return 0;
}
