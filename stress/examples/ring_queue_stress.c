/*
 * ring_queue_stress.c: the example stress program for ring_queue (see ../../tsan/README.md).
 *
 * One scenario, "example.ring", in rounds: half the threads produce tagged values (producer id,
 * sequence number), the others consume; every operation is recorded in a history. After each
 * round the main thread joins the workers, drains the queue, and checks what came out:
 *   - linearizability of the whole round (rounds are short so the exact search stays cheap)
 *     against a model written here: cask's FIFO model, except that a push may fail (full) and a
 *     pop may fail (empty) without effect in any state. Vyukov's queue allows both: a cell
 *     claimed by a slow consumer looks full, a cell claimed by a slow producer looks empty
 *     even when later cells are published, so the stricter model (and the unique-value queue
 *     check, which flags "empty while a value was certainly there") would reject the correct
 *     queue. Writing the spec you actually promise is part of using the checker;
 *   - conservation: everything produced was consumed or is still in the queue, once;
 *   - each consumer saw each producer's values in order.
 * Any failure goes to cask_stress_fail, which prints the seed and the replay command.
 *
 * Built against ring_queue.c it must come out clean; against the broken twin
 * (-DRING_QUEUE_BROKEN=1) it must report a violation.
 *
 * A second scenario, "example.ring_progress", asks whether the queue is lock-free, and the
 * answer is no (it is not meant to be: Vyukov's queue is blocking): thread 0 parks (stress/
 * stall.h) between claiming a cell and publishing its value, and the others must each complete
 * PROGRESS_PAIRS push-then-pop pairs meanwhile. Their pops reach the parked producer's cell and
 * report "empty" for ever, so the round never ends, and the watchdog reports the hang with the
 * noise point thread 0 is parked at. Run it on its own (--only=example.ring_progress): the
 * example's test expects exactly that report.
 */
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "stress/check/lincheck.h"
#include "stress/examples/ring_queue.h"
#include "stress/harness.h"
#include "stress/stall.h"

#define OPS_PER_THREAD 150 /* per round: small rounds keep the exact check fast */
#define CAPACITY 8         /* small, so that full and wrap-around happen all the time */

typedef struct {
    ring_queue queue;
    cask_history *history;
    int producers;
    uint64_t *taken;   /* per consumer: the values it took, in order */
    size_t *n_taken;
} round_ctx;

static void worker(cask_stress_run *run, int index, void *arg)
{
    round_ctx *c = arg;
    uint64_t next_seq = 0;
    for (int i = 0; i < OPS_PER_THREAD; i++) {
        if (index < c->producers) {
            uint64_t v = cask_check_tag((uint32_t)index, next_seq);
            long h = cask_history_invoke(c->history, index, CASK_OP_ENQUEUE, 0, v);
            int rc = ring_queue_push(&c->queue, v);
            cask_history_respond(c->history, index, h, 0, rc == 0 ? 0 : CASK_EFULL);
            if (rc == 0)
                next_seq++;
        } else {
            uint64_t v = 0;
            long h = cask_history_invoke(c->history, index, CASK_OP_DEQUEUE, 0, 0);
            int rc = ring_queue_pop(&c->queue, &v);
            cask_history_respond(c->history, index, h, v, rc == 0 ? 0 : CASK_EEMPTY);
            if (rc == 0) {
                size_t consumer = (size_t)(index - c->producers);
                c->taken[consumer * OPS_PER_THREAD + c->n_taken[consumer]++] = v;
            }
        }
    }
    cask_stress_add_ops(run, OPS_PER_THREAD);
}

/* The model: a push that reported full and a pop that reported empty change nothing and are
 * possible in every state; everything else is cask's FIFO queue. */
static cask_lin_model ring_model;

static int ring_step(const void *state, const cask_op *op, void **next)
{
    if (op->responded && ((op->kind == CASK_OP_ENQUEUE && op->status == CASK_EFULL) ||
                          (op->kind == CASK_OP_DEQUEUE && op->status == CASK_EEMPTY))) {
        *next = (void *)state;
        return 1;
    }
    return cask_lin_model_queue.step(state, op, next);
}

/* Checks one finished round; returns false after reporting a violation. */
static bool check_round(cask_stress_run *run, round_ctx *c, int threads)
{
    char why[2048];
    cask_lin_stats stats;
    cask_lin_result r = cask_lin_check(c->history, &ring_model, NULL, &stats, why, sizeof(why));
    if (r == CASK_LIN_VIOLATION) {
        cask_stress_fail(run, "linearizability: %s", why);
        return false;
    }
    if (r == CASK_LIN_UNKNOWN) /* out of budget: this round proves nothing about linearizability */
        cask_stress_add_undecided(run, 1);
    /* conservation: produced == consumed + left in the queue */
    int consumers = threads - c->producers;
    size_t n_put = 0, n_taken = 0, n_left = 0;
    uint64_t *put = malloc((size_t)threads * OPS_PER_THREAD * sizeof(uint64_t));
    uint64_t *taken = malloc((size_t)threads * OPS_PER_THREAD * sizeof(uint64_t));
    uint64_t *left = malloc((CAPACITY + 1) * sizeof(uint64_t));
    bool ok = put != NULL && taken != NULL && left != NULL;
    for (int t = 0; ok && t < c->producers; t++)
        for (size_t i = 0; i < cask_history_count(c->history, t); i++) {
            const cask_op *op = cask_history_op(c->history, t, i);
            if (op->status == 0)
                put[n_put++] = op->arg;
        }
    for (int k = 0; ok && k < consumers; k++) {
        memcpy(taken + n_taken, c->taken + (size_t)k * OPS_PER_THREAD,
               c->n_taken[k] * sizeof(uint64_t));
        n_taken += c->n_taken[k];
        if (cask_check_producer_order(c->taken + (size_t)k * OPS_PER_THREAD, c->n_taken[k], why,
                                      sizeof(why)) == CASK_LIN_VIOLATION) {
            cask_stress_fail(run, "invariant (per-producer order): %s", why);
            ok = false;
        }
    }
    while (ok && n_left <= CAPACITY && ring_queue_pop(&c->queue, &left[n_left]) == 0)
        n_left++;
    if (ok && cask_check_conservation(put, n_put, taken, n_taken, left, n_left, why,
                                      sizeof(why)) == CASK_LIN_VIOLATION) {
        cask_stress_fail(run, "invariant (conservation): %s", why);
        ok = false;
    }
    free(put);
    free(taken);
    free(left);
    if (ok)
        cask_stress_add_checked(run, 1);
    return ok;
}

static void run_ring(cask_stress_run *run)
{
    int threads = cask_stress_threads(run);
    round_ctx c = {.producers = threads / 2};
    c.taken = malloc((size_t)threads * OPS_PER_THREAD * sizeof(uint64_t));
    c.n_taken = calloc((size_t)threads, sizeof(size_t));
    if (c.taken == NULL || c.n_taken == NULL ||
        cask_history_create(threads, OPS_PER_THREAD, &c.history) != 0) {
        cask_stress_fail(run, "setup: out of memory");
        goto out;
    }
    while (!cask_stress_should_stop(run)) {
        if (ring_queue_init(&c.queue, CAPACITY) != 0) {
            cask_stress_fail(run, "setup: out of memory");
            break;
        }
        cask_history_reset(c.history);
        memset(c.n_taken, 0, (size_t)threads * sizeof(size_t));
        bool ok = cask_stress_run_threads(run, threads, worker, &c) == 0;
        if (!ok)
            cask_stress_fail(run, "could not start the worker threads");
        ok = ok && check_round(run, &c, threads);
        ring_queue_destroy(&c.queue);
        if (!ok)
            break;
    }
out:
    cask_history_destroy(c.history);
    free(c.taken);
    free(c.n_taken);
}

/* ---- example.ring_progress: is the queue lock-free? ---- */

#define PROGRESS_PAIRS 20

typedef struct {
    ring_queue queue;
    _Atomic int done_others; /* releases thread 0 (relaxed: control only) */
} progress_ctx;

static void progress_worker(cask_stress_run *run, int index, void *arg)
{
    progress_ctx *c = arg;
    if (index == 0) {
        /* Parked at its first claimed push until the others are done. */
        cask_stress_stall_arm("ring.push.claimed", 1, &c->done_others, cask_stress_threads(run) - 1);
        ring_queue_push(&c->queue, cask_check_tag(1, 0));
        cask_stress_stall_disarm();
        cask_stress_add_ops(run, 1);
        return;
    }
    if (!cask_stress_stall_wait(run, &c->done_others))
        return;
    /* Each pair must complete, however long it takes: no time limit, so a queue that needs
     * thread 0 to move on never lets us finish (the watchdog then reports the hang). */
    for (uint64_t i = 0; i < PROGRESS_PAIRS; i++) {
        uint64_t v = cask_check_tag((uint32_t)index + 1, i);
        while (ring_queue_push(&c->queue, v) != 0) {
            CASK_NOISE_POINT("example.progress.full");
            sched_yield();
        }
        while (ring_queue_pop(&c->queue, &v) != 0) {
            CASK_NOISE_POINT("example.progress.empty");
            sched_yield();
        }
        cask_stress_add_ops(run, 2);
    }
    atomic_fetch_add_explicit(&c->done_others, 1, memory_order_relaxed);
}

static void run_progress(cask_stress_run *run)
{
    while (!cask_stress_should_stop(run)) {
        progress_ctx c;
        atomic_init(&c.done_others, 0);
        if (ring_queue_init(&c.queue, CAPACITY) != 0) {
            cask_stress_fail(run, "setup: out of memory");
            return;
        }
        cask_stress_stall_reset();
        if (cask_stress_run_threads(run, cask_stress_threads(run), progress_worker, &c) != 0)
            cask_stress_fail(run, "could not start the worker threads");
        ring_queue_destroy(&c.queue);
        cask_stress_add_checked(run, 1);
    }
}

int main(int argc, char **argv)
{
    ring_model = cask_lin_model_queue;
    ring_model.name = "queue whose push and pop may fail without effect";
    ring_model.step = ring_step;
    static const cask_stress_scenario scenarios[] = {
        {"example.ring", "a user's bounded MPMC queue: history, linearizability, conservation",
         run_ring, 2},
        {"example.ring_progress", "is it lock-free? a producer parked after its claim; the "
                                  "others must go on (this queue is not: a HANG is the answer)",
         run_progress, 2},
    };
    return cask_stress_main(argc, argv, scenarios, sizeof(scenarios) / sizeof(scenarios[0]));
}
