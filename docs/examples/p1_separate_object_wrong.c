/* Pattern 1, the wrong way: every thread calls the object's methods directly. */
#include <pthread.h>

#include "example.h"

typedef struct account {
    long balance;
} account;

account shared;
static step first_deposit;

static void deposit(account *a, long amount)
{
    a->balance += amount;
}

static void *client(void *arg)
{
    (void)arg;
    deposit(&shared, 10);
    step_done(&first_deposit);
    return NULL;
}

int main(void)
{
    pthread_t t;
    CHECK(pthread_create(&t, NULL, client, NULL) == 0);
    step_wait(&first_deposit);
    deposit(&shared, 10); /* races with the other client's deposit */
    pthread_join(t, NULL);
    printf("balance: %ld\n", shared.balance);
    return 0;
}
