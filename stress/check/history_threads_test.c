/*
 * history_threads_test.c: recording from several threads, as a stress scenario does.
 *   - 4 threads share a mutex-protected FIFO queue (a correct object) for 20 rounds of 150
 *     operations each, recording every call; after each round the exact checker and the
 *     unique-value queue check say OK, and the recorder kept each thread's operations in order
 *     with invoke < respond < next invoke; at the end nothing was lost or duplicated and each
 *     consumer saw each producer's values in order. Clean under ThreadSanitizer and ASan.
 *   - Under ThreadSanitizer: recording adds no synchronisation. A child process has two threads
 *     touch a plain variable in an order fixed only by a relaxed flag, each access between an
 *     invoke and a respond; TSan must report the race (the child exits with TSan's exit code
 *     66). A control child, identical except for a mutex around its recording calls (what a
 *     recorder with a lock would do), must exit cleanly: so the first child's report comes
 *     from the absence of synchronisation in the recorder, which is the point.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stress/check/check_test.h"

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

#define THREADS 4
#define ROUNDS 20
#define OPS 150 /* per thread per round */
#define TOTAL (THREADS * ROUNDS * OPS)

/* The object under test: a correct FIFO queue behind a mutex. */
typedef struct locked_queue {
    pthread_mutex_t lock;
    uint64_t items[TOTAL];
    size_t head, tail;
} locked_queue;

static void lq_push(locked_queue *q, uint64_t v)
{
    pthread_mutex_lock(&q->lock);
    q->items[q->tail++] = v;
    pthread_mutex_unlock(&q->lock);
}

static int lq_pop(locked_queue *q, uint64_t *v)
{
    pthread_mutex_lock(&q->lock);
    int rc = CASK_EEMPTY;
    if (q->head != q->tail) {
        *v = q->items[q->head++];
        rc = 0;
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

typedef struct worker {
    cask_history *history;
    locked_queue *queue;
    int index;
    uint64_t rng, next_seq;
    uint64_t put[ROUNDS * OPS], taken[ROUNDS * OPS];
    size_t n_put, n_taken;
} worker;

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void *work(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < OPS; i++) {
        if (next_rand(&w->rng) % 2 == 0) {
            uint64_t v = cask_check_tag((uint32_t)w->index, w->next_seq++);
            long h = cask_history_invoke(w->history, w->index, CASK_OP_ENQUEUE, 0, v);
            lq_push(w->queue, v);
            EXPECT_EQ(cask_history_respond(w->history, w->index, h, 0, 0), 0);
            w->put[w->n_put++] = v;
        } else {
            uint64_t v = 0;
            long h = cask_history_invoke(w->history, w->index, CASK_OP_DEQUEUE, 0, 0);
            int rc = lq_pop(w->queue, &v);
            EXPECT_EQ(cask_history_respond(w->history, w->index, h, v, rc), 0);
            if (rc == 0)
                w->taken[w->n_taken++] = v;
        }
    }
    return NULL;
}

/* check_thread_order - each thread's records are complete and strictly ordered in time. */
static void check_thread_order(const cask_history *h)
{
    for (int t = 0; t < THREADS; t++) {
        EXPECT_EQ(cask_history_count(h, t), OPS);
        uint64_t last = 0;
        for (size_t i = 0; i < OPS; i++) {
            const cask_op *op = cask_history_op(h, t, i);
            EXPECT(op != NULL && op->responded && op->thread == t && op->seq == i);
            EXPECT(op->invoke_ns > last && op->respond_ns >= op->invoke_ns);
            last = op->respond_ns;
        }
    }
}

static void test_record_queue(void)
{
    static locked_queue q;
    static worker w[THREADS];
    static uint64_t all_put[TOTAL], all_taken[TOTAL], remaining[TOTAL];
    size_t n_remaining = 0;
    pthread_mutex_init(&q.lock, NULL);
    cask_history *h = NULL;
    EXPECT(cask_history_create(THREADS, OPS, &h) == 0);
    uint64_t steps = 0, max_steps = 0;
    char why[4096];
    for (int t = 0; t < THREADS; t++)
        w[t] = (worker){.history = h, .queue = &q, .index = t, .rng = 0x9E3779B97F4A7C15u * (t + 1)};
    for (int round = 0; round < ROUNDS; round++) {
        cask_history_reset(h);
        pthread_t tid[THREADS];
        for (int t = 0; t < THREADS; t++)
            EXPECT(pthread_create(&tid[t], NULL, work, &w[t]) == 0);
        for (int t = 0; t < THREADS; t++)
            EXPECT(pthread_join(tid[t], NULL) == 0); /* makes every buffer visible to us */
        check_thread_order(h);
        EXPECT(!cask_history_truncated(h));
        cask_lin_stats st;
        cask_lin_result r = cask_lin_check(h, &cask_lin_model_queue, NULL, &st, why, sizeof(why));
        if (r != CASK_LIN_OK)
            fprintf(stderr, "round %d:\n%s", round, why);
        EXPECT_EQ(r, CASK_LIN_OK);
        steps += st.steps;
        max_steps = st.steps > max_steps ? st.steps : max_steps;
        r = cask_check_queue_unique(h, why, sizeof(why));
        if (r != CASK_LIN_OK)
            fprintf(stderr, "round %d:\n%s", round, why);
        EXPECT_EQ(r, CASK_LIN_OK);
        /* Drain (unrecorded), so that the next round's history starts from an empty queue as
         * the model does. */
        uint64_t v;
        while (lq_pop(&q, &v) == 0)
            remaining[n_remaining++] = v;
    }
    size_t n_put = 0, n_taken = 0;
    for (int t = 0; t < THREADS; t++) {
        memcpy(all_put + n_put, w[t].put, w[t].n_put * sizeof(uint64_t));
        n_put += w[t].n_put;
        memcpy(all_taken + n_taken, w[t].taken, w[t].n_taken * sizeof(uint64_t));
        n_taken += w[t].n_taken;
        EXPECT_EQ(cask_check_producer_order(w[t].taken, w[t].n_taken, why, sizeof(why)),
                  CASK_LIN_OK);
    }
    EXPECT_EQ(cask_check_conservation(all_put, n_put, all_taken, n_taken, remaining, n_remaining,
                                      why, sizeof(why)),
              CASK_LIN_OK);
    EXPECT_EQ(cask_check_no_duplicates(all_put, n_put, why, sizeof(why)), CASK_LIN_OK);
    printf("recorded %d rounds x %d threads x %d ops: every round linearizable (%llu steps in "
           "all, at most %llu in a round); %zu put = %zu taken + %zu drained\n",
           ROUNDS, THREADS, OPS, (unsigned long long)steps, (unsigned long long)max_steps, n_put,
           n_taken, n_remaining);
    cask_history_destroy(h);
    pthread_mutex_destroy(&q.lock);
}

/* ---- recording adds no happens-before edge (ThreadSanitizer builds) ---- */

static int racy_x;            /* plain on purpose: the race TSan must see */
static _Atomic int racy_flag; /* relaxed only: orders the accesses in time, not for TSan */
static bool lock_recording;   /* the control: what a recorder with a lock would add */
static pthread_mutex_t recording_lock = PTHREAD_MUTEX_INITIALIZER;

static long locked_invoke(cask_history *h, int t, int kind)
{
    if (lock_recording)
        pthread_mutex_lock(&recording_lock);
    long handle = cask_history_invoke(h, t, kind, 0, 0);
    if (lock_recording)
        pthread_mutex_unlock(&recording_lock);
    return handle;
}

static void locked_respond(cask_history *h, int t, long handle, uint64_t value)
{
    if (lock_recording)
        pthread_mutex_lock(&recording_lock);
    cask_history_respond(h, t, handle, value, 0);
    if (lock_recording)
        pthread_mutex_unlock(&recording_lock);
}

static void *racer_write(void *arg)
{
    cask_history *h = arg;
    long handle = locked_invoke(h, 0, CASK_OP_WRITE);
    racy_x = 1;
    locked_respond(h, 0, handle, 0);
    atomic_store_explicit(&racy_flag, 1, memory_order_relaxed);
    return NULL;
}

static void *racer_read(void *arg)
{
    cask_history *h = arg;
    while (atomic_load_explicit(&racy_flag, memory_order_relaxed) == 0)
        sched_yield();
    long handle = locked_invoke(h, 1, CASK_OP_READ);
    int v = racy_x;
    locked_respond(h, 1, handle, (uint64_t)v);
    return NULL;
}

/* racy_child - the child process: two threads, one racy variable, recording around it. */
static int racy_child(bool locked)
{
    lock_recording = locked;
    cask_history *h = NULL;
    EXPECT(cask_history_create(2, 4, &h) == 0);
    pthread_t a, b;
    EXPECT(pthread_create(&b, NULL, racer_read, h) == 0);
    EXPECT(pthread_create(&a, NULL, racer_write, h) == 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    cask_history_destroy(h);
    return 0;
}

#ifdef UNDER_TSAN
/* run_child - runs this program again with `mode`; returns its exit status (-1 if signalled). */
static int run_child(const char *mode)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    EXPECT(pid >= 0);
    if (pid == 0) {
        char opts[1024];
        const char *old = getenv("TSAN_OPTIONS");
        snprintf(opts, sizeof(opts), "%s%sexitcode=66", old != NULL ? old : "",
                 old != NULL && old[0] != '\0' ? ":" : "");
        setenv("TSAN_OPTIONS", opts, 1);
        execl("/proc/self/exe", "history_threads_test", mode, (char *)NULL);
        _exit(127);
    }
    int status;
    EXPECT(waitpid(pid, &status, 0) == pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
#endif

static void test_no_synchronisation(void)
{
#ifdef UNDER_TSAN
    printf("expecting one ThreadSanitizer data race report from a child process: it shows that "
           "recording does not hide races\n");
    int racy = run_child("--racy-child");
    printf("child with the plain recorder exited %d (66: TSan reported the race)\n", racy);
    EXPECT_EQ(racy, 66);
    int control = run_child("--locked-child");
    printf("control child with a lock around recording exited %d (0: the lock hid the race)\n",
           control);
    EXPECT_EQ(control, 0);
#else
    printf("race-visibility test skipped: not a ThreadSanitizer build\n");
#endif
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--racy-child") == 0)
        return racy_child(false);
    if (argc > 1 && strcmp(argv[1], "--locked-child") == 0)
        return racy_child(true);
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_no_synchronisation(); /* first: fork before this process starts any thread */
    test_record_queue();
    printf("history_threads_test: all passed\n");
    return 0;
}
