/* tests/expect_step.c: the scripted-schedule position of tests/expect.h. */
#include <pthread.h>

#include "expect.h"

static pthread_mutex_t expect_step_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t expect_step_cv = PTHREAD_COND_INITIALIZER;
static int expect_step_at; /* guarded by expect_step_mu */

void expect_step_wait(int s)
{
    pthread_mutex_lock(&expect_step_mu);
    while (expect_step_at < s)
        pthread_cond_wait(&expect_step_cv, &expect_step_mu);
    pthread_mutex_unlock(&expect_step_mu);
}

void expect_step_set(int s)
{
    pthread_mutex_lock(&expect_step_mu);
    expect_step_at = s;
    pthread_cond_broadcast(&expect_step_cv);
    pthread_mutex_unlock(&expect_step_mu);
}
