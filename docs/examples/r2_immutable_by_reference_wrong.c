/* Recipe 2, the wrong way: a table shared by reference, then patched while a reader reads it. */
#include <pthread.h>

#include "example.h"

int primes[6] = {2, 3, 5, 7, 11, 13}; /* meant to be read-only, but nothing says so */
static step looked_up;

static void *reader(void *arg)
{
    (void)arg;
    int p = primes[4];
    step_done(&looked_up);
    printf("fifth prime: %d\n", p);
    return NULL;
}

int main(void)
{
    pthread_t t;
    CHECK(pthread_create(&t, NULL, reader, NULL) == 0);
    step_wait(&looked_up);
    primes[4] = 17; /* "just fixing one entry": races with the reader */
    pthread_join(t, NULL);
    return 0;
}
