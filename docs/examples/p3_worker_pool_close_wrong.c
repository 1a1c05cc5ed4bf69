/*
 * Pattern 3, the wrong way: a worker that fails just returns. The queue goes on accepting jobs
 * that nobody will ever run, and the producer cannot tell.
 */
#include <pthread.h>
#include <stdint.h>

#include "cask/cask.h"
#include "example.h"

static cask_queue *jobs;

static void *worker(void *arg)
{
    (void)arg;
    void *item;
    while (cask_queue_pop(jobs, &item, CASK_QUEUE_FOREVER) == 0)
        if ((intptr_t)item < 0)
            return NULL; /* gives up, and tells nobody */
    return NULL;
}

int main(void)
{
    CHECK(cask_queue_create(&jobs) == 0);
    pthread_t w;
    CHECK(pthread_create(&w, NULL, worker, NULL) == 0);
    CHECK(cask_queue_push(jobs, (void *)(intptr_t)-1) == 0); /* bad input: the worker dies */
    pthread_join(w, NULL);
    int rc = cask_queue_push(jobs, (void *)(intptr_t)1);
    printf("push after the last worker died: %s\n", rc == 0 ? "accepted" : cask_strerror(rc));
    CHECK(rc != 0); /* fails: the job was accepted, and will never run */
    cask_queue_destroy(jobs);
    return 0;
}
