/* Recipe 7, the wrong way: the sender touches the object after handing it over. */
#include <pthread.h>

#include "cask/cask.h"
#include "example.h"

typedef struct request {
    int id;
    int status;
} request;

static step handled;

static void *receiver(void *arg)
{
    cask_queue *q = arg;
    void *item;
    CHECK(cask_queue_pop(q, &item, CASK_QUEUE_FOREVER) == 0);
    request *r = item;
    r->status = 200;
    step_done(&handled);
    return NULL;
}

int main(void)
{
    cask_queue *q;
    CHECK(cask_queue_create(&q) == 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, receiver, q) == 0);
    request *r = malloc(sizeof *r);
    CHECK(r != NULL);
    *r = (request){.id = 1, .status = 0};
    CHECK(cask_queue_push(q, r) == 0);
    step_wait(&handled);
    int status = r->status; /* no longer ours: races with the receiver's write */
    printf("request 1: status %d\n", status);
    pthread_join(t, NULL);
    free(r);
    cask_queue_destroy(q);
    return 0;
}
