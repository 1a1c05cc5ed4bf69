/*
 * queue_unique.c: cheap necessary conditions for FIFO queue histories with unique values.
 *
 * Design
 * ------
 * Source: T. A. Henzinger, A. Sezgin and V. Vafeiadis, "Aspect-oriented linearizability
 * proofs", CONCUR 2013. For a queue whose enqueued values are distinct (data independence: a
 * correct queue does not look at the values), a history is linearizable iff it has none of four
 * bad patterns: a value dequeued that was not enqueued before (VFresh), dequeued twice (VRepet),
 * two values dequeued against their enqueue order (VOrd), and an EMPTY dequeue while the queue
 * was certainly not empty (VWit). This file checks VFresh, VRepet and VOrd exactly, and VWit for
 * single values: a value whose presence covers the whole EMPTY dequeue. (The full VWit also
 * covers EMPTY dequeues that a changing set of values overlapped; that one is not checked, so
 * OK here is a necessary condition, not a proof; lincheck.h says so.)
 *
 * With "a <hb b" meaning resp(a) < inv(b) (history.c: a really finished before b started):
 *   VFresh  deq(v) with no successful enqueue of v, or deq(v) <hb enq(v);
 *   VRepet  two dequeues returned v;
 *   VOrd    enq(a) <hb enq(b), b dequeued, and a not dequeued or deq(b) <hb deq(a);
 *   VWit'   an EMPTY dequeue e with enq(v) <hb e and e <hb deq(v) (or v never dequeued).
 * VOrd and VWit' share one structure: the successful enqueues sorted by response stamp, with a
 * running maximum of their dequeue's invocation stamp (UINT64_MAX when never dequeued). For an
 * operation x (the enqueue of b, or e), the enqueues that finished before x was invoked are a
 * prefix found by binary search, and the pattern exists iff that prefix's maximum is later
 * than the end of x's partner (deq(b)'s response, or e's own response). The witness is the
 * operation that holds the maximum.
 *
 * "Never dequeued" is concluded only from a complete history (not truncated, no dequeue
 * without a response): otherwise a missing or unfinished dequeue may have taken the value, and
 * such values are left out of VOrd and VWit'. A dequeued value whose enqueue is missing from a
 * truncated history is not reported either. Everything else is sound on a truncated history
 * (its operations really happened with those stamps), so a pattern found there is a violation.
 *
 * Cost: O(n log n) time (sorting and one binary search per operation), O(n) memory.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "stress/check/internal.h"

typedef struct item {
    uint64_t value;
    const cask_op *op;
} item;

/* An enqueue that responded successfully, for VOrd and VWit'. */
typedef struct done_enq {
    uint64_t resp;      /* its response stamp */
    uint64_t deq_inv;   /* its value's dequeue invocation; UINT64_MAX if never dequeued */
    const cask_op *enq; /* the enqueue */
    const cask_op *deq; /* its value's dequeue, NULL if never dequeued */
} done_enq;

/* by_value - qsort order of items by value. */
static int by_value(const void *pa, const void *pb)
{
    const item *a = pa, *b = pb;
    return a->value < b->value ? -1 : a->value > b->value;
}

/* by_resp - qsort order of finished enqueues by response stamp. */
static int by_resp(const void *pa, const void *pb)
{
    const done_enq *a = pa, *b = pb;
    return a->resp < b->resp ? -1 : a->resp > b->resp;
}

/* find - the index of value in the sorted items[0..n), or -1. */
static long find(const item *items, size_t n, uint64_t value)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (items[mid].value < value)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && items[lo].value == value ? (long)lo : -1;
}

/* finished_before - how many of done[0..n) (sorted by resp) responded before time t. */
static size_t finished_before(const done_enq *done, size_t n, uint64_t t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (done[mid].resp < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The sorted operations, and what the checks found. */
typedef struct qcheck {
    cask__view v;
    item *enq, *deq; /* enqueues that did not fail / dequeues that returned a value */
    size_t n_enq, n_deq;
    const cask_op **empty; /* dequeues that returned EMPTY */
    size_t n_empty;
    size_t deq_unknown; /* dequeues without a known result */
    const cask_op **deq_of; /* per enq item: the dequeue of its value, or NULL */
    done_enq *done;
    size_t n_done;
    size_t *argmax; /* argmax[k]: the index in done[0..k] with the largest deq_inv */
} qcheck;

/* qcheck_free - frees what collect allocated (any part of it). */
static void qcheck_free(qcheck *q)
{
    free(q->enq);
    free(q->deq);
    free(q->empty);
    free(q->deq_of);
    free(q->done);
    free(q->argmax);
    cask__view_free(&q->v);
}

/* collect - sorts the history's queue operations into q. 0 or CASK_ENOMEM. */
static int collect(const cask_history *history, qcheck *q)
{
    if (cask__view_build(history, &q->v) != 0)
        return CASK_ENOMEM;
    size_t n = q->v.count + 1;
    q->enq = malloc(n * sizeof(item));
    q->deq = malloc(n * sizeof(item));
    q->empty = malloc(n * sizeof(*q->empty));
    q->deq_of = calloc(n, sizeof(*q->deq_of));
    q->done = malloc(n * sizeof(done_enq));
    q->argmax = malloc(n * sizeof(size_t));
    if (q->enq == NULL || q->deq == NULL || q->empty == NULL || q->deq_of == NULL ||
        q->done == NULL || q->argmax == NULL)
        return CASK_ENOMEM;
    for (size_t i = 0; i < q->v.count; i++) {
        const cask_op *op = &q->v.ops[i];
        if (op->kind == CASK_OP_ENQUEUE && (!op->responded || op->status == 0))
            q->enq[q->n_enq++] = (item){op->arg, op};
        else if (op->kind == CASK_OP_DEQUEUE && !op->responded)
            q->deq_unknown++;
        else if (op->kind == CASK_OP_DEQUEUE && op->status == 0)
            q->deq[q->n_deq++] = (item){op->value, op};
        else if (op->kind == CASK_OP_DEQUEUE && op->status == CASK_EEMPTY)
            q->empty[q->n_empty++] = op;
    }
    qsort(q->enq, q->n_enq, sizeof(item), by_value);
    qsort(q->deq, q->n_deq, sizeof(item), by_value);
    return 0;
}

/* check_values - VFresh and VRepet, and fills deq_of. Returns CASK_LIN_OK or a verdict. */
static cask_lin_result check_values(qcheck *q, cask__text *t)
{
    uint64_t base = q->v.base_ns;
    for (size_t i = 1; i < q->n_enq; i++)
        if (q->enq[i].value == q->enq[i - 1].value) {
            cask__text_printf(t, "UNKNOWN: value %" PRIu64 " was enqueued twice, so the unique-"
                                 "value queue check does not apply:\n", q->enq[i].value);
            cask__text_op(t, q->enq[i - 1].op, base, NULL, NULL);
            cask__text_op(t, q->enq[i].op, base, NULL, NULL);
            return CASK_LIN_UNKNOWN;
        }
    for (size_t i = 0; i < q->n_deq; i++) {
        const item *d = &q->deq[i];
        if (i > 0 && d->value == q->deq[i - 1].value) {
            cask__text_printf(t, "VIOLATION (queue): value %" PRIu64 " was dequeued twice:\n",
                              d->value);
            cask__text_op(t, q->deq[i - 1].op, base, NULL, NULL);
            cask__text_op(t, d->op, base, NULL, NULL);
            long e = find(q->enq, q->n_enq, d->value);
            if (e >= 0)
                cask__text_op(t, q->enq[e].op, base, NULL, "  (its only enqueue)");
            return CASK_LIN_VIOLATION;
        }
        long e = find(q->enq, q->n_enq, d->value);
        if (e < 0) {
            if (q->v.truncated)
                continue; /* its enqueue may be among the unrecorded operations */
            cask__text_printf(t, "VIOLATION (queue): value %" PRIu64 " was dequeued but never "
                                 "enqueued (by an enqueue that succeeded):\n", d->value);
            cask__text_op(t, d->op, base, NULL, NULL);
            return CASK_LIN_VIOLATION;
        }
        const cask_op *enq = q->enq[e].op;
        if (d->op->respond_ns < enq->invoke_ns) {
            cask__text_printf(t, "VIOLATION (queue): value %" PRIu64 " was dequeued before its "
                                 "enqueue was invoked:\n", d->value);
            cask__text_op(t, d->op, base, NULL, NULL);
            cask__text_op(t, enq, base, NULL, NULL);
            return CASK_LIN_VIOLATION;
        }
        q->deq_of[e] = d->op;
    }
    return CASK_LIN_OK;
}

/* build_done - the successful enqueues by response stamp, with the running argmax of deq_inv;
 * values never dequeued take part only if the history is complete. */
static void build_done(qcheck *q, bool complete)
{
    for (size_t i = 0; i < q->n_enq; i++) {
        const cask_op *enq = q->enq[i].op, *deq = q->deq_of[i];
        if (!enq->responded || (deq == NULL && !complete))
            continue;
        q->done[q->n_done++] =
            (done_enq){enq->respond_ns, deq != NULL ? deq->invoke_ns : UINT64_MAX, enq, deq};
    }
    qsort(q->done, q->n_done, sizeof(done_enq), by_resp);
    for (size_t k = 0; k < q->n_done; k++)
        q->argmax[k] = k > 0 && q->done[q->argmax[k - 1]].deq_inv >= q->done[k].deq_inv
                           ? q->argmax[k - 1]
                           : k;
}

/* witness - the enqueue, among those that responded before `after`, whose value was dequeued
 * latest (or never), if that dequeue was invoked after `until`; NULL if there is none. */
static const done_enq *witness(const qcheck *q, uint64_t after, uint64_t until)
{
    size_t k = finished_before(q->done, q->n_done, after);
    if (k == 0)
        return NULL;
    const done_enq *a = &q->done[q->argmax[k - 1]];
    return a->deq_inv > until ? a : NULL;
}

/* check_order - VOrd and VWit'. */
static cask_lin_result check_order(const qcheck *q, cask__text *t)
{
    uint64_t base = q->v.base_ns;
    for (size_t i = 0; i < q->n_enq; i++) {
        const cask_op *deq_b = q->deq_of[i];
        if (deq_b == NULL)
            continue;
        const done_enq *a = witness(q, q->enq[i].op->invoke_ns, deq_b->respond_ns);
        if (a == NULL)
            continue;
        if (a->deq == NULL)
            cask__text_printf(t, "VIOLATION (queue): FIFO order: %" PRIu64 " was dequeued, but "
                                 "%" PRIu64 ", enqueued before it, was never dequeued:\n",
                              q->enq[i].value, a->enq->arg);
        else
            cask__text_printf(t, "VIOLATION (queue): FIFO order: %" PRIu64 " was enqueued "
                                 "before %" PRIu64 " but dequeued after it:\n",
                              a->enq->arg, q->enq[i].value);
        cask__text_op(t, a->enq, base, NULL, NULL);
        cask__text_op(t, q->enq[i].op, base, NULL, NULL);
        cask__text_op(t, deq_b, base, NULL, NULL);
        if (a->deq != NULL)
            cask__text_op(t, a->deq, base, NULL, NULL);
        return CASK_LIN_VIOLATION;
    }
    for (size_t i = 0; i < q->n_empty; i++) {
        const cask_op *e = q->empty[i];
        const done_enq *a = witness(q, e->invoke_ns, e->respond_ns);
        if (a == NULL)
            continue;
        cask__text_printf(t, "VIOLATION (queue): a dequeue returned EMPTY while %" PRIu64
                             " was in the queue for its whole duration:\n", a->enq->arg);
        cask__text_op(t, a->enq, base, NULL, NULL);
        cask__text_op(t, e, base, NULL, NULL);
        if (a->deq != NULL)
            cask__text_op(t, a->deq, base, NULL, NULL);
        else
            cask__text_printf(t, "    (%" PRIu64 " was never dequeued)\n", a->enq->arg);
        return CASK_LIN_VIOLATION;
    }
    return CASK_LIN_OK;
}

cask_lin_result cask_check_queue_unique(const cask_history *history, char *explain,
                                        size_t explain_cap)
{
    cask__text t;
    cask__text_init(&t, explain, explain_cap);
    if (history == NULL) {
        cask__text_printf(&t, "UNKNOWN: invalid argument (CASK_EINVAL): NULL history.\n");
        return CASK_LIN_UNKNOWN;
    }
    qcheck q = {0};
    if (collect(history, &q) != 0) {
        qcheck_free(&q);
        cask__text_printf(&t, "UNKNOWN: out of memory (CASK_ENOMEM).\n");
        return CASK_LIN_UNKNOWN;
    }
    bool complete = !q.v.truncated && q.deq_unknown == 0;
    cask_lin_result r = check_values(&q, &t);
    if (r == CASK_LIN_OK) {
        build_done(&q, complete);
        r = check_order(&q, &t);
    }
    if (r == CASK_LIN_OK && q.v.truncated) {
        r = CASK_LIN_UNKNOWN;
        cask__text_printf(&t, "UNKNOWN (queue, unique values): the history is truncated (%zu "
                              "operations not recorded); the %zu operations before the first "
                              "unrecorded one show no violation.\n", q.v.dropped, q.v.count);
    } else if (r == CASK_LIN_OK) {
        cask__text_printf(&t, "OK (queue, unique values): %zu enqueues, %zu dequeues of a value, "
                              "%zu EMPTY dequeues: no lost, invented, repeated or reordered "
                              "value%s.\n", q.n_enq, q.n_deq, q.n_empty,
                          complete ? "" : " (dequeues without a response: values never "
                                          "dequeued were not checked)");
    }
    qcheck_free(&q);
    return r;
}
