#include <cask/cask.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

static void *worker(void *arg) /* sums the numbers it is sent until the queue is closed */
{
    void *item;
    intptr_t sum = 0;
    while (cask_queue_pop(arg, &item, CASK_QUEUE_FOREVER) == 0)
        sum += (intptr_t)item;
    return (void *)sum;
}

int main(void)
{
    cask_queue *q;
    pthread_t t;
    if (cask_queue_create(&q) != 0 || pthread_create(&t, NULL, worker, q) != 0)
        return 1;
    for (intptr_t i = 1; i <= 100; i++)
        cask_queue_push(q, (void *)i); /* release: the worker sees all we did before */
    cask_queue_close(q, 0);            /* no more work: the worker drains it, then stops */
    void *sum;
    pthread_join(t, &sum);
    cask_queue_destroy(q);
    printf("sum = %ld\n", (long)(intptr_t)sum);
    return (intptr_t)sum == 5050 ? 0 : 1;
}
