/*
 * snap_qsbr_test.c: the QSBR opt-in. Event-loop-style reader threads register, read and check
 * objects in sections that cost nothing, and announce a quiescent state once per loop turn
 * (going offline around a simulated blocking wait every few turns); a writer publishes and
 * another updates. Every object is freed exactly once, none while a reader could still hold
 * it (checksums, poisoning, and ASan/TSan in those builds). A QSBR grace period must also
 * wait for a registered reader that has not yet passed a quiescent state.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "cask/cask.h"
#include "expect.h"

#define READERS 2
#define WRITES 2000

typedef struct {
    uint64_t count;
    uint64_t body[5];
    uint64_t sum;
} obj;

static _Atomic long made, frees;
static cask_snap *cell;
static _Atomic int done;

static obj *make(uint64_t count)
{
    obj *o = malloc(sizeof(*o));
    EXPECT(o != NULL);
    o->count = count;
    o->sum = count;
    for (int i = 0; i < 5; i++) {
        o->body[i] = count * 7 + (uint64_t)i;
        o->sum += o->body[i];
    }
    atomic_fetch_add_explicit(&made, 1, memory_order_relaxed);
    return o;
}

static void check(const obj *o)
{
    uint64_t s = o->count;
    for (int i = 0; i < 5; i++)
        s += o->body[i];
    EXPECT(s == o->sum);
}

static void free_obj(void *p)
{
    obj *o = p;
    check(o);
    o->sum = ~o->sum;
    free(o);
    atomic_fetch_add_explicit(&frees, 1, memory_order_relaxed);
}

static int increment(const void *current, void *arg, void **next)
{
    (void)arg;
    *next = make(((const obj *)current)->count + 1);
    return 0;
}

static void *loop_reader(void *arg)
{
    (void)arg;
    cask_snap_qsbr_register();
    for (unsigned turn = 0; !atomic_load_explicit(&done, memory_order_relaxed); turn++) {
        cask_snap_read_begin(cell);
        const obj *o = cask_snap_read(cell);
        check(o);
        cask_snap_read_end(cell);
        if (turn % 64 == 0) {
            cask_snap_qsbr_offline(); /* as around epoll_wait */
            cask_snap_qsbr_online();
        }
        cask_snap_quiescent(); /* end of the loop turn */
    }
    return NULL; /* unregistered at exit */
}

static void *writer(void *arg)
{
    cask_snap_qsbr_register(); /* update reads in a (QSBR) section */
    for (int i = 0; i < WRITES; i++) {
        if (arg != NULL)
            EXPECT_EQ(cask_snap_update(cell, increment, NULL), 0);
        else
            EXPECT_EQ(cask_snap_publish(cell, make(0)), 0);
        cask_snap_quiescent();
    }
    cask_snap_qsbr_unregister();
    return NULL;
}

/* A registered reader that has not passed a quiescent state holds up the free. */
static pthread_barrier_t meet;
static void *stalled_reader(void *arg)
{
    (void)arg;
    cask_snap_qsbr_register();
    cask_snap_read_begin(cell);
    const obj *o = cask_snap_read(cell);
    cask_snap_read_end(cell); /* QSBR: still protected until the quiescent state below */
    pthread_barrier_wait(&meet); /* 1 */
    pthread_barrier_wait(&meet); /* 2 */
    check(o);
    cask_snap_quiescent();
    cask_snap_qsbr_unregister();
    return NULL;
}

static void *wait_frees(void *arg)
{
    (void)arg;
    cask_snap_barrier();
    return NULL;
}

int main(void)
{
    EXPECT_EQ(cask_snap_create_qsbr(make(0), free_obj, &cell), 0);
    pthread_t r[READERS], w[2];
    for (int i = 0; i < READERS; i++)
        EXPECT_EQ(pthread_create(&r[i], NULL, loop_reader, NULL), 0);
    EXPECT_EQ(pthread_create(&w[0], NULL, writer, NULL), 0);
    EXPECT_EQ(pthread_create(&w[1], NULL, writer, (void *)1), 0);
    pthread_join(w[0], NULL);
    pthread_join(w[1], NULL);
    atomic_store_explicit(&done, 1, memory_order_relaxed);
    for (int i = 0; i < READERS; i++)
        pthread_join(r[i], NULL);
    cask_snap_barrier();
    EXPECT_EQ(atomic_load_explicit(&frees, memory_order_relaxed),
              atomic_load_explicit(&made, memory_order_relaxed) - 1);

    /* The stalled reader. */
    EXPECT_EQ(pthread_barrier_init(&meet, NULL, 2), 0);
    pthread_t s, b;
    EXPECT_EQ(pthread_create(&s, NULL, stalled_reader, NULL), 0);
    pthread_barrier_wait(&meet); /* 1 */
    long before = atomic_load_explicit(&frees, memory_order_relaxed);
    EXPECT_EQ(cask_snap_publish(cell, make(99)), 0);
    EXPECT_EQ(pthread_create(&b, NULL, wait_frees, NULL), 0);
    /* Watch 100 ms: without the QSBR grace period the free would come in microseconds. */
    for (int i = 0; i < 100; i++) {
        EXPECT_EQ(atomic_load_explicit(&frees, memory_order_relaxed), before);
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    }
    pthread_barrier_wait(&meet); /* 2 */
    pthread_join(s, NULL);
    pthread_join(b, NULL);
    EXPECT_EQ(atomic_load_explicit(&frees, memory_order_relaxed), before + 1);

    cask_snap_destroy(cell);
    cask_snap_barrier();
    EXPECT_EQ(atomic_load_explicit(&frees, memory_order_relaxed),
              atomic_load_explicit(&made, memory_order_relaxed));
    pthread_barrier_destroy(&meet);
    return 0;
}
