/*
 * models.c: the shipped sequential specifications: register, map, vector (the queue has its own
 * file, queue_model.c).
 *
 * Design
 * ------
 * Each model is a cask_lin_model (lincheck.h): immutable states, a step function that says
 * whether an operation with its recorded result is possible in a state and returns the next
 * state, equality and hash. The specifications are the obvious sequential ones; lincheck.h
 * lists each operation's possible results. An operation with an unknown result
 * (op->responded == false) is always possible and has its effect: every model here is total
 * and deterministic, which is what makes that sound (lincheck.c).
 *
 * Representation: the register and the per-key map hold a fixed pair of words; the vector an
 * array of values with its length. Read-only operations return the state they were given (no
 * allocation); changing ones allocate a new state, O(length) for the vector.
 *
 * Observers (lincheck.h): the operations that, with their result, never change a state that
 * accepts them: READ; LOOKUP, INSERT -> EEXIST, REMOVE -> ENOENT; GET, LENGTH, SET -> ENOENT.
 *
 * Invariant: a state is never changed after the step that made it returned it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stress/check/internal.h"

/* ---- two-word states: register and per-key map ---- */

typedef struct pair_state {
    uint64_t present; /* register: always 1; map: 1 if the key is present */
    uint64_t value;
} pair_state;

/* pair_new - a new two-word state (present, value). Returns 1, or CASK_ENOMEM. */
static int pair_new(uint64_t present, uint64_t value, void **out)
{
    pair_state *p = malloc(sizeof(*p));
    if (p == NULL)
        return CASK_ENOMEM;
    p->present = present;
    p->value = value;
    *out = p;
    return 1;
}

/* pair_to - the state (present, value): s itself when it already is that. */
static int pair_to(const pair_state *s, uint64_t present, uint64_t value, void **next)
{
    if (s->present == present && (present == 0 || s->value == value)) {
        *next = (void *)s;
        return 1;
    }
    return pair_new(present, present != 0 ? value : 0, next);
}

/* pair_equal - two-word states are equal when both words are. */
static bool pair_equal(const void *a, const void *b)
{
    const pair_state *x = a, *y = b;
    return x->present == y->present && x->value == y->value;
}

/* pair_hash - hash of both words. */
static uint64_t pair_hash(const void *state)
{
    const pair_state *s = state;
    return cask__mix64(s->value ^ cask__mix64(s->present));
}

/* pair_bytes - the memory of a two-word state, for the budget. */
static size_t pair_bytes(const void *state)
{
    (void)state;
    return sizeof(pair_state) + 16; /* + malloc's overhead */
}

/* plain_free - states are single allocations. */
static void plain_free(void *state)
{
    free(state);
}

/* register_init - a register holding 0. */
static int register_init(void *context, void **state)
{
    (void)context;
    return pair_new(1, 0, state) == 1 ? 0 : CASK_ENOMEM;
}

/* register_step - WRITE sets the value; READ must return it. */
static int register_step(const void *state, const cask_op *op, void **next)
{
    const pair_state *s = state;
    switch (op->kind) {
    case CASK_OP_WRITE:
        if (op->responded && op->status != 0)
            return 0;
        return pair_to(s, 1, op->arg, next);
    case CASK_OP_READ:
        if (op->responded && (op->status != 0 || op->value != s->value))
            return 0;
        *next = (void *)s;
        return 1;
    default:
        return CASK_EINVAL;
    }
}

/* register_observer - a READ changes nothing. */
static bool register_observer(const cask_op *op)
{
    return op->kind == CASK_OP_READ;
}

/* register_describe - "value V". */
static void register_describe(const void *state, char *buf, size_t cap)
{
    snprintf(buf, cap, "value %" PRIu64, ((const pair_state *)state)->value);
}

const cask_lin_model cask_lin_model_register = {
    .name = "register",
    .partition_by_key = true,
    .init = register_init,
    .step = register_step,
    .equal = pair_equal,
    .hash = pair_hash,
    .free_state = plain_free,
    .describe_state = register_describe,
    .state_bytes = pair_bytes,
    .observer = register_observer,
};

/* map_init - one key, absent. */
static int map_init(void *context, void **state)
{
    (void)context;
    return pair_new(0, 0, state) == 1 ? 0 : CASK_ENOMEM;
}

/* map_step - the map operations on one key (lincheck.h lists their results). */
static int map_step(const void *state, const cask_op *op, void **next)
{
    const pair_state *s = state;
    bool known = op->responded;
    switch (op->kind) {
    case CASK_OP_INSERT: /* insert if absent */
        if (s->present) {
            if (known && op->status != CASK_EEXIST)
                return 0;
            *next = (void *)s;
            return 1;
        }
        if (known && op->status != 0)
            return 0;
        return pair_to(s, 1, op->arg, next);
    case CASK_OP_PUT:
        if (known && op->status != 0)
            return 0;
        return pair_to(s, 1, op->arg, next);
    case CASK_OP_LOOKUP:
        if (known && (s->present ? op->status != 0 || op->value != s->value
                                 : op->status != CASK_ENOENT))
            return 0;
        *next = (void *)s;
        return 1;
    case CASK_OP_REMOVE:
        if (known && op->status != (s->present ? 0 : CASK_ENOENT))
            return 0;
        return pair_to(s, 0, 0, next);
    default:
        return CASK_EINVAL;
    }
}

/* map_observer - LOOKUP, and INSERT/REMOVE that failed, change nothing. */
static bool map_observer(const cask_op *op)
{
    return op->kind == CASK_OP_LOOKUP ||
           (op->responded && ((op->kind == CASK_OP_INSERT && op->status == CASK_EEXIST) ||
                              (op->kind == CASK_OP_REMOVE && op->status == CASK_ENOENT)));
}

/* map_describe - "absent" or "present, value V". */
static void map_describe(const void *state, char *buf, size_t cap)
{
    const pair_state *s = state;
    if (s->present)
        snprintf(buf, cap, "present, value %" PRIu64, s->value);
    else
        snprintf(buf, cap, "absent");
}

const cask_lin_model cask_lin_model_map = {
    .name = "map",
    .partition_by_key = true,
    .init = map_init,
    .step = map_step,
    .equal = pair_equal,
    .hash = pair_hash,
    .free_state = plain_free,
    .describe_state = map_describe,
    .state_bytes = pair_bytes,
    .observer = map_observer,
};

/* ---- the vector: an array state ---- */

typedef struct array_state {
    size_t len;
    uint64_t v[];
} array_state;

/* array_new - a state of len values: the first keep of src->v starting at from, then, if
 * append, one more value. */
static int array_new(const array_state *src, size_t from, size_t keep, bool append,
                     uint64_t value, void **out)
{
    size_t len = keep + (append ? 1 : 0);
    array_state *a = malloc(sizeof(*a) + (len == 0 ? 1 : len) * sizeof(uint64_t));
    if (a == NULL)
        return CASK_ENOMEM;
    a->len = len;
    if (keep > 0)
        memcpy(a->v, src->v + from, keep * sizeof(uint64_t));
    if (append)
        a->v[keep] = value;
    *out = a;
    return 1;
}

/* array_init - an empty vector. */
static int array_init(void *context, void **state)
{
    (void)context;
    return array_new(NULL, 0, 0, false, 0, state) == 1 ? 0 : CASK_ENOMEM;
}

/* array_equal - same length, same values. */
static bool array_equal(const void *a, const void *b)
{
    const array_state *x = a, *y = b;
    return x->len == y->len && memcmp(x->v, y->v, x->len * sizeof(uint64_t)) == 0;
}

/* array_hash - hash of the length and the values in order. */
static uint64_t array_hash(const void *state)
{
    const array_state *s = state;
    uint64_t h = cask__mix64(s->len);
    for (size_t i = 0; i < s->len; i++)
        h = cask__mix64(h ^ s->v[i]) + i;
    return h;
}

/* array_bytes - the memory of an array state, for the budget. */
static size_t array_bytes(const void *state)
{
    return sizeof(array_state) + ((const array_state *)state)->len * sizeof(uint64_t) + 16;
}

/* array_describe - "length N [v0, v1, ...]" (the first 16 values). */
static void array_describe(const void *state, char *buf, size_t cap)
{
    const array_state *s = state;
    cask__text t;
    cask__text_init(&t, buf, cap);
    cask__text_printf(&t, "length %zu [", s->len);
    for (size_t i = 0; i < s->len && i < 16; i++)
        cask__text_printf(&t, i == 0 ? "%" PRIu64 : ", %" PRIu64, s->v[i]);
    cask__text_printf(&t, s->len > 16 ? ", ...]" : "]");
}

/* vector_observer - GET, LENGTH, and a SET out of range change nothing. */
static bool vector_observer(const cask_op *op)
{
    return op->kind == CASK_OP_GET || op->kind == CASK_OP_LENGTH ||
           (op->kind == CASK_OP_SET && op->responded && op->status == CASK_ENOENT);
}

/* vector_step - the vector operations (lincheck.h lists their results). */
static int vector_step(const void *state, const cask_op *op, void **next)
{
    const array_state *s = state;
    bool known = op->responded;
    bool in_range = op->key < s->len;
    switch (op->kind) {
    case CASK_OP_PUSH:
        if (known && (op->status != 0 || op->value != s->len))
            return 0;
        return array_new(s, 0, s->len, true, op->arg, next);
    case CASK_OP_GET:
        if (known && (in_range ? op->status != 0 || op->value != s->v[op->key]
                               : op->status != CASK_ENOENT))
            return 0;
        *next = (void *)s;
        return 1;
    case CASK_OP_SET:
        if (known && op->status != (in_range ? 0 : CASK_ENOENT))
            return 0;
        if (!in_range || s->v[op->key] == op->arg) {
            *next = (void *)s;
            return 1;
        }
        if (array_new(s, 0, s->len, false, 0, next) != 1)
            return CASK_ENOMEM;
        ((array_state *)*next)->v[op->key] = op->arg;
        return 1;
    case CASK_OP_LENGTH:
        if (known && (op->status != 0 || op->value != s->len))
            return 0;
        *next = (void *)s;
        return 1;
    default:
        return CASK_EINVAL;
    }
}

const cask_lin_model cask_lin_model_vector = {
    .name = "vector",
    .partition_by_key = false,
    .init = array_init,
    .step = vector_step,
    .equal = array_equal,
    .hash = array_hash,
    .free_state = plain_free,
    .describe_state = array_describe,
    .state_bytes = array_bytes,
    .observer = vector_observer,
};
