/* Recipe 1, the wrong way: a plain pointer as the mailbox between two threads. */
#include <pthread.h>

#include "example.h"

typedef struct message {
    int seq;
} message;

static message *mailbox; /* plain pointer: no ordering between the writer and the reader */
static step posted;

static void *consumer(void *arg)
{
    (void)arg;
    step_wait(&posted);
    message *m = mailbox; /* races with the store in main */
    printf("got message %d\n", m->seq);
    return NULL;
}

int main(void)
{
    pthread_t t;
    CHECK(pthread_create(&t, NULL, consumer, NULL) == 0);
    message *m = malloc(sizeof *m);
    CHECK(m != NULL);
    m->seq = 1;
    mailbox = m;
    step_done(&posted);
    pthread_join(t, NULL);
    free(m);
    return 0;
}
