/*
 * Pattern 3, the right way: a worker pool that learns when its other end died. A worker that
 * cannot go on closes the job queue with the reason; the producer's next push is refused with
 * CASK_ECLOSED and the producer reads why. The error itself travels back on the result queue.
 * The normal end uses the same path: the producer closes the job queue with reason 0.
 */
#include <pthread.h>
#include <stdint.h>

#include "cask/cask.h"
#include "example.h"

#define BAD_INPUT 1000 /* a reason of our own: positive, so it cannot be mistaken for CASK_E* */

static cask_queue *jobs, *results;

static void *worker(void *arg)
{
    (void)arg;
    void *item;
    while (cask_queue_pop(jobs, &item, CASK_QUEUE_FOREVER) == 0) {
        intptr_t job = (intptr_t)item;
        if (job < 0) { /* cannot go on: tell both ends why */
            cask_queue_close(jobs, BAD_INPUT);
            cask_queue_push(results, (void *)(intptr_t)-BAD_INPUT);
            return NULL;
        }
        CHECK(cask_queue_push(results, (void *)(job * 2)) == 0);
    }
    return NULL; /* closed: by the producer (finished) or by another worker (failed) */
}

static int run_pool(const intptr_t *input, int n)
{
    CHECK(cask_queue_create(&jobs) == 0);
    CHECK(cask_queue_create(&results) == 0);
    pthread_t w[2];
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&w[i], NULL, worker, NULL) == 0);
    int refused = 0;
    for (int i = 0; i < n && !refused; i++) {
        int rc = cask_queue_push(jobs, (void *)input[i]);
        refused = rc == CASK_ECLOSED; /* every worker will see the close: stop sending */
        CHECK(rc == 0 || refused);
    }
    cask_queue_close(jobs, 0); /* finished; keeps the first reason if a worker closed it */
    for (int i = 0; i < 2; i++)
        pthread_join(w[i], NULL);
    int reason = 0;
    CHECK(cask_queue_closed(jobs, &reason));
    CHECK(!refused || reason == BAD_INPUT); /* a refused push learns why */
    void *item;
    int error = 0;
    while (cask_queue_try_pop(results, &item) == 0)
        if ((intptr_t)item < 0)
            error = (int)-(intptr_t)item; /* the error itself came back with the results */
    cask_queue_destroy(jobs);
    cask_queue_destroy(results);
    return error;
}

int main(void)
{
    intptr_t good[100], bad[100];
    for (int i = 0; i < 100; i++) {
        good[i] = i + 1;
        bad[i] = i == 10 ? -1 : i + 1;
    }
    CHECK(run_pool(good, 100) == 0);
    CHECK(run_pool(bad, 100) == BAD_INPUT);
    return 0;
}
