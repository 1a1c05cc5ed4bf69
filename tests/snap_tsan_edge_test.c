/*
 * snap_tsan_edge_test.c: the grace-period edges lib/snap.c gives ThreadSanitizer order a writer
 * only before the free of what that writer retired, not before every later free. Here a thread
 * writes a plain int after the grace period of object B has ended, while B's callback is held
 * back in the same call_rcu batch, and then publishes on an unrelated cell; B's free function
 * reads the int. Nothing orders the write before the read, so TSan must report the race. When
 * one global token carried every call_rcu hand-off, the unrelated publish ordered the write
 * before every later callback, and TSan said nothing. Run in a child, under TSan builds only
 * (elsewhere there is nothing to check: the test says so and passes).
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include "cask/cask.h"
#include "expect.h"


static int z; /* written by the thread, read by B's free function: deliberately unordered */
/* Relaxed flags: they order nothing for TSan on purpose (the test is about the edges cask adds). */
static atomic_int first_cb_started, let_first_cb_go, a_cb_started, thread_done;
static cask_snap *cell, *other;

static void *tagged(int tag)
{
    int *p = malloc(sizeof(*p));
    EXPECT(p != NULL);
    *p = tag;
    return p;
}

static void wait_flag(atomic_int *f)
{
    while (!atomic_load_explicit(f, memory_order_relaxed))
        usleep(1000); /* waiting for a step of the script, not for a race */
}

static void free_fn(void *o)
{
    int tag = *(int *)o;
    if (tag == 0) { /* holds the call_rcu thread, so that A and B are queued in one batch */
        atomic_store_explicit(&first_cb_started, 1, memory_order_relaxed);
        wait_flag(&let_first_cb_go);
    } else if (tag == 1) { /* A: B's grace period is over; hold B until the thread is done */
        atomic_store_explicit(&a_cb_started, 1, memory_order_relaxed);
        wait_flag(&thread_done);
    } else if (tag == 2) { /* B */
        fprintf(stderr, "B's free read z=%d\n", z);
    }
    free(o);
}

static void *writer(void *arg)
{
    (void)arg;
    wait_flag(&a_cb_started);
    z = 1;                                  /* after B's grace period */
    cask_snap_publish(other, tagged(9));    /* an unrelated hand-off to call_rcu */
    atomic_store_explicit(&thread_done, 1, memory_order_relaxed);
    return NULL;
}

static void scenario(void *arg)
{
    (void)arg;
    EXPECT_EQ(cask_snap_create(tagged(0), free_fn, &cell), 0);
    EXPECT_EQ(cask_snap_create(tagged(8), free_fn, &other), 0);
    pthread_t t;
    EXPECT_EQ(pthread_create(&t, NULL, writer, NULL), 0);
    cask_snap_publish(cell, tagged(1)); /* retires 0: its callback holds the call_rcu thread */
    wait_flag(&first_cb_started);
    cask_snap_publish(cell, tagged(2)); /* retires A (1) */
    cask_snap_publish(cell, tagged(3)); /* retires B (2): same batch as A */
    atomic_store_explicit(&let_first_cb_go, 1, memory_order_relaxed);
    EXPECT_EQ(pthread_join(t, NULL), 0);
    cask_snap_barrier();
    cask_snap_destroy(cell);
    cask_snap_destroy(other);
    cask_snap_barrier();
    _exit(0);
}

int main(void)
{
#ifdef UNDER_TSAN
    char out[16384];
    int status = 0;
    EXPECT(run_child(scenario, NULL, out, sizeof(out), &status));
    if (strstr(out, "ThreadSanitizer: data race") == NULL || strstr(out, "free_fn") == NULL) {
        fprintf(stderr, "TSan did not report the unordered write and free; child said:\n%s\n", out);
        EXPECT(false);
    }
#else
    (void)scenario;
    printf("not a ThreadSanitizer build: nothing to check\n");
#endif
    return 0;
}
