/*
 * queue_model.c: the FIFO queue model, with early rejection of hopeless enqueue orders.
 *
 * Design
 * ------
 * The sequential specification is the plain unbounded FIFO queue (lincheck.h). What makes
 * queues hard for the Wing & Gong search is an ambiguity resolved late: two overlapping
 * enqueues of a and b may take effect in either order, the search must pick one, and a wrong
 * pick shows only when a or b is dequeued, perhaps hundreds of operations later; every choice
 * made in between is explored again under the wrong pick (exponential in the ambiguities
 * between). So the model looks at the whole part once (prepare) and rejects an enqueue that
 * cannot lead to a linearization, right where it would be chosen:
 *
 *   Putting v behind w is hopeless if v's dequeue responded before w's dequeue was invoked,
 *   or if w is never dequeued while v is: w would have to leave the queue first.
 *
 * This is VOrd of Henzinger, Sezgin & Vafeiadis (CONCUR 2013) used as a pruning rule, and it
 * applies only to what is certain. For a value v: D(v) is the one dequeue that returned it,
 * known when exactly one dequeue with a known result returned v and v was enqueued at most once
 * (no rule for other values). Each queued value w carries guard(w), a time before which w
 * certainly does not leave the queue: D(w)'s invocation stamp; for a value no dequeue with a
 * known result returned, the first invocation of a dequeue without a known result (only such a
 * dequeue can take it), UINT64_MAX if there is none; 0 (no rule) for the remaining values
 * (dequeued more than once, or enqueued more than once and dequeued). A state keeps the
 * maximum guard of its values, and enqueue(v) is rejected when that maximum exceeds D(v)'s
 * response stamp. Sound: in the rejected state some w precedes v, so every completion removes
 * w before it dequeues v, at or after guard(w), later than D(v) returned. Complete: only states
 * without a completion are rejected, so the verdict is the plain model's; the observer
 * reduction and the memo stay valid (the rule depends on the state and the operation only).
 *
 * Anonymous values. A value that no dequeue with a known result returned can only ever be
 * taken by a dequeue whose result is unknown, which accepts any value: its identity never
 * decides a step. So equality (and the hash) treats all such values as one: states that differ
 * only in the order of anonymous values (those left in the queue at the end, typically,
 * enqueued concurrently) are equal, and the memo merges them. Equal states accept and reject
 * exactly the same steps and lead to equal states (anonymous values share their guard), so the
 * verdict does not change.
 *
 * Representation: the context is one entry (value, guard, D(v) response, anonymous) per value
 * of the part, sorted by value; a state is the queue as 32-bit indices of those entries, head
 * first, with the maximum guard and a pointer to the context: 4 bytes per queued value (the
 * memo keeps many states). Enqueue and dequeue copy the state: O(length); enqueue also looks
 * its value up in O(log n). Observers: a dequeue that returned EMPTY.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "stress/check/internal.h"

#define NO_RULE UINT64_MAX /* as a dequeue response: nothing is hopeless for this value */

typedef struct value_info {
    uint64_t value;
    uint64_t guard;    /* no dequeue takes the value before this time (0: no rule) */
    uint64_t deq_resp; /* D(value)'s response, or NO_RULE */
    bool anonymous;    /* no dequeue with a known result returned it */
} value_info;

typedef struct queue_ctx {
    uint32_t n;
    value_info info[]; /* sorted by value, one entry per value */
} queue_ctx;

typedef struct queue_state {
    const queue_ctx *ctx;
    uint64_t max_guard;
    uint32_t len;
    uint32_t q[]; /* len indices into ctx->info, head first */
} queue_state;

/* A value's appearances in the part, for prepare. */
typedef struct sighting {
    uint64_t value;
    int what; /* 0: an enqueue that may have succeeded; 1: a dequeue that returned it */
    const cask_op *op;
} sighting;

/* by_value - qsort order of sightings: value, then enqueues before dequeues. */
static int by_value(const void *pa, const void *pb)
{
    const sighting *a = pa, *b = pb;
    if (a->value != b->value)
        return a->value < b->value ? -1 : 1;
    return a->what - b->what;
}

/* queue_prepare - the context: each value's guard and D(v) response (see the design). */
static int queue_prepare(const cask_op *const *ops, size_t n, void **context)
{
    sighting *s = malloc((n == 0 ? 1 : n) * sizeof(sighting));
    queue_ctx *ctx = malloc(sizeof(queue_ctx) + (n == 0 ? 1 : n) * sizeof(value_info));
    if (s == NULL || ctx == NULL) {
        free(s);
        free(ctx);
        return CASK_ENOMEM;
    }
    size_t k = 0;
    uint64_t unknown_deq = UINT64_MAX; /* the first invocation of a dequeue without a result */
    for (size_t i = 0; i < n; i++) {
        const cask_op *op = ops[i];
        if (op->kind == CASK_OP_ENQUEUE && (!op->responded || op->status == 0))
            s[k++] = (sighting){op->arg, 0, op};
        else if (op->kind == CASK_OP_DEQUEUE && !op->responded && op->invoke_ns < unknown_deq)
            unknown_deq = op->invoke_ns;
        else if (op->kind == CASK_OP_DEQUEUE && op->responded && op->status == 0)
            s[k++] = (sighting){op->value, 1, op};
    }
    qsort(s, k, sizeof(sighting), by_value);
    ctx->n = 0;
    for (size_t i = 0; i < k;) {
        size_t enq = 0, deq = 0;
        const cask_op *d = NULL;
        uint64_t v = s[i].value;
        for (; i < k && s[i].value == v; i++) {
            if (s[i].what == 0) {
                enq++;
            } else {
                deq++;
                d = s[i].op;
            }
        }
        value_info info = {v, 0, NO_RULE, false};
        if (enq <= 1 && deq == 1) /* only a dequeue without a result can take it: */
            info = (value_info){v, d->invoke_ns, d->respond_ns, false};
        else if (deq == 0)
            info = (value_info){v, unknown_deq, NO_RULE, true};
        ctx->info[ctx->n++] = info;
    }
    free(s);
    *context = ctx;
    return 0;
}

/* queue_finish - frees the context. */
static void queue_finish(void *context)
{
    free(context);
}

/* lookup - the index of value's entry in the context, or -1. */
static long lookup(const queue_ctx *ctx, uint64_t value)
{
    if (ctx == NULL)
        return -1;
    size_t lo = 0, hi = ctx->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ctx->info[mid].value < value)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ctx->n && ctx->info[lo].value == value ? (long)lo : -1;
}

/* state_new - a state holding src's entries from `from` on (keep of them), plus the value with
 * context index `index` if append. */
static int state_new(const queue_state *src, size_t from, size_t keep, bool append,
                     uint32_t index, void **out)
{
    size_t len = keep + (append ? 1 : 0);
    queue_state *s = malloc(sizeof(*s) + (len == 0 ? 1 : len) * sizeof(uint32_t));
    if (s == NULL)
        return CASK_ENOMEM;
    s->ctx = src->ctx;
    s->len = (uint32_t)len;
    s->max_guard = 0;
    if (keep > 0)
        memcpy(s->q, src->q + from, keep * sizeof(uint32_t));
    if (append)
        s->q[keep] = index;
    for (size_t i = 0; i < len; i++)
        if (s->ctx->info[s->q[i]].guard > s->max_guard)
            s->max_guard = s->ctx->info[s->q[i]].guard;
    *out = s;
    return 1;
}

/* queue_init - an empty queue that refers to the part's context. */
static int queue_init(void *context, void **state)
{
    if (context == NULL)
        return CASK_EINVAL; /* the checker always prepares */
    queue_state empty = {.ctx = context};
    return state_new(&empty, 0, 0, false, 0, state) == 1 ? 0 : CASK_ENOMEM;
}

/* queue_step - ENQUEUE appends (unless hopeless), DEQUEUE takes the head or finds EMPTY. */
static int queue_step(const void *state, const cask_op *op, void **next)
{
    const queue_state *s = state;
    bool known = op->responded;
    switch (op->kind) {
    case CASK_OP_ENQUEUE: {
        if (known && op->status != 0)
            return 0;
        long i = lookup(s->ctx, op->arg);
        if (i < 0)
            return CASK_EINVAL; /* not an operation of the prepared part */
        uint64_t deq_resp = s->ctx->info[i].deq_resp;
        if (deq_resp != NO_RULE && s->max_guard > deq_resp)
            return 0; /* hopeless: see the design */
        return state_new(s, 0, s->len, true, (uint32_t)i, next);
    }
    case CASK_OP_DEQUEUE:
        if (s->len == 0) {
            if (known && op->status != CASK_EEMPTY)
                return 0;
            *next = (void *)s;
            return 1;
        }
        if (known && (op->status != 0 || op->value != s->ctx->info[s->q[0]].value))
            return 0;
        return state_new(s, 1, s->len - 1, false, 0, next);
    default:
        return CASK_EINVAL;
    }
}

/* queue_equal - same contents in the same order (guards follow from the values). */
static bool queue_equal(const void *a, const void *b)
{
    const queue_state *x = a, *y = b;
    if (x->len != y->len)
        return false;
    for (uint32_t i = 0; i < x->len; i++)
        if (x->q[i] != y->q[i] &&
            !(x->ctx->info[x->q[i]].anonymous && x->ctx->info[y->q[i]].anonymous))
            return false;
    return true;
}

/* queue_hash - hash of the length and the values in order. */
static uint64_t queue_hash(const void *state)
{
    const queue_state *s = state;
    uint64_t h = cask__mix64(s->len);
    for (size_t i = 0; i < s->len; i++) /* anonymous values hash alike: see queue_equal */
        h = cask__mix64(h ^ (s->ctx->info[s->q[i]].anonymous ? UINT32_MAX : s->q[i])) + i;
    return h;
}

/* queue_bytes - the memory of a state, for the budget. */
static size_t queue_bytes(const void *state)
{
    return sizeof(queue_state) + ((const queue_state *)state)->len * sizeof(uint32_t) + 16;
}

/* queue_free - states are single allocations. */
static void queue_free(void *state)
{
    free(state);
}

/* queue_describe - "length N [head, ...]" (the first 16 values). */
static void queue_describe(const void *state, char *buf, size_t cap)
{
    const queue_state *s = state;
    cask__text t;
    cask__text_init(&t, buf, cap);
    cask__text_printf(&t, "length %" PRIu32 " [", s->len);
    for (size_t i = 0; i < s->len && i < 16; i++)
        cask__text_printf(&t, i == 0 ? "%" PRIu64 : ", %" PRIu64, s->ctx->info[s->q[i]].value);
    cask__text_printf(&t, s->len > 16 ? ", ...]" : "]");
}

/* queue_observer - a dequeue that returned EMPTY changes nothing. */
static bool queue_observer(const cask_op *op)
{
    return op->kind == CASK_OP_DEQUEUE && op->responded && op->status == CASK_EEMPTY;
}

const cask_lin_model cask_lin_model_queue = {
    .name = "queue",
    .partition_by_key = false,
    .prepare = queue_prepare,
    .finish = queue_finish,
    .init = queue_init,
    .step = queue_step,
    .equal = queue_equal,
    .hash = queue_hash,
    .free_state = queue_free,
    .describe_state = queue_describe,
    .state_bytes = queue_bytes,
    .observer = queue_observer,
};
