/*
 * Pattern 1, the right way: a separate object. One thread owns the account; other threads
 * send it calls through a queue and wait for the answer on a queue of their own. Only the
 * owner ever touches the balance, so it needs no lock and no atomics.
 */
#include <pthread.h>

#include "cask/cask.h"
#include "example.h"

typedef struct call {
    long amount;        /* deposit this much... */
    long balance_after; /* ...and the owner answers with the new balance */
    cask_queue *reply;  /* where the answer goes */
} call;

static cask_queue *inbox;

static void *account_owner(void *arg)
{
    (void)arg;
    long balance = 0; /* the separate object: local to its owner */
    void *item;
    while (cask_queue_pop(inbox, &item, CASK_QUEUE_FOREVER) == 0) {
        call *c = item;
        balance += c->amount;
        c->balance_after = balance;
        CHECK(cask_queue_push(c->reply, c) == 0); /* hands the call back with its answer */
    }
    CHECK(balance == 2 * 100 * 10);
    return NULL;
}

static void *client(void *arg)
{
    cask_queue *reply = arg; /* this client's own answer queue */
    call c = {.amount = 10, .reply = reply};
    for (int i = 0; i < 100; i++) {
        CHECK(cask_queue_push(inbox, &c) == 0); /* c is the owner's until it comes back */
        void *answer;
        CHECK(cask_queue_pop(reply, &answer, CASK_QUEUE_FOREVER) == 0);
        CHECK(answer == &c && c.balance_after >= 10 * (i + 1));
    }
    return NULL;
}

int main(void)
{
    cask_queue *replies[2];
    CHECK(cask_queue_create(&inbox) == 0);
    pthread_t owner, clients[2];
    CHECK(pthread_create(&owner, NULL, account_owner, NULL) == 0);
    for (int i = 0; i < 2; i++) {
        CHECK(cask_queue_create(&replies[i]) == 0);
        CHECK(pthread_create(&clients[i], NULL, client, replies[i]) == 0);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(clients[i], NULL);
    cask_queue_close(inbox, 0); /* the owner finishes what was sent, then stops */
    pthread_join(owner, NULL);
    /* Only now: a client has its last answer when the owner's push of it may still be running,
     * and a queue may be destroyed only once every call on it has returned. */
    for (int i = 0; i < 2; i++)
        cask_queue_destroy(replies[i]);
    cask_queue_destroy(inbox);
    return 0;
}
