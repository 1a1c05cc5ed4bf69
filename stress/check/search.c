/*
 * search.c: the linearizability search of one part: Wing & Gong with Lowe's memoisation.
 *
 * Design
 * ------
 * Sources: M. Herlihy and J. Wing, "Linearizability: a correctness condition for concurrent
 * objects", TOPLAS 12(3), 1990 (the definition, and locality: a history is linearizable iff
 * each object's sub-history is); J. Wing and C. Gong, "Testing and verifying concurrent
 * objects", JPDC 17(1), 1993 (the search); G. Lowe, "Testing for linearizability", CCPE 29(4),
 * 2017 (memoising configurations); A. Athalye, Porcupine (github.com/anishathalye/porcupine,
 * 2017), whose entry list with lift and unlift this file follows.
 *
 * The history of one part (all of it, or one key's operations for a per-key model) becomes a
 * doubly linked list of 2n entries, a call and a return per operation, in stamp order. At equal
 * stamps calls come first: operations whose stamps touch count as overlapping (history.c: only
 * resp(a) < inv(b) proves that a came first). Operations without a response return at the end
 * of time. A call entry points to its return entry (match). Lifting an operation takes both
 * entries out of the list; unlifting puts them back (dancing links, undone in reverse order).
 *
 * The search is a depth-first search over levels; level d has d operations linearized. The
 * candidates at a level are the calls before the first return entry still in the list: exactly
 * the operations that real time allows next (the first return's operation must be linearized
 * before anything invoked after that return). For each candidate in turn, the model says
 * whether it can take effect in the level's state with its recorded result; if so, and the new
 * configuration (the set of linearized operations, the new state) is not in the memo cache, it
 * is recorded there, the operation is lifted, and the search descends. A level whose candidates
 * are all exhausted is a dead end: the search backtracks (unlifts the previous level's choice
 * and tries that level's next candidate). An empty list means everything was linearized: OK.
 * A dead end at level 0 means there is no linearization: VIOLATION.
 *
 * Two refinements, neither of which changes the answer:
 *   - Candidates are tried in the order of their responses, earliest first (Wing & Gong and
 *     Porcupine use invocation order). A lock-based or lock-free operation takes effect inside
 *     its call and returns soon after, so the response order is the better guess of the real
 *     order; a wrong guess about two concurrent enqueues costs a whole subtree, explored until
 *     the dequeues expose it.
 *   - Observers first (a partial-order reduction). If a candidate is an observer (the model
 *     says the operation, with its result, leaves every state that accepts it unchanged: a read,
 *     a lookup, a dequeue that returned EMPTY) and the current state accepts it, it is the only
 *     choice tried at that level. Sound: in any linearization of the rest, moving the observer
 *     to the front keeps every other operation's state (it changes none), it sees a state that
 *     accepts it, and real time allows it (it was invoked before every pending return). So if
 *     the rest cannot be linearized with it first, it cannot be linearized at all.
 *
 * Memo: the set of linearized operations is a bitset with a Zobrist hash (a random 64-bit word
 * per operation, XORed in and out in O(1)); the memo key mixes it with the model's state hash.
 * Two configurations with the same set and equal states have the same futures, so a
 * configuration seen before is never expanded again (memo.c).
 *
 * Invariants
 *   L1  The list holds exactly the entries of the operations not chosen at levels 0..d-1, in
 *       stamp order; bits and the level's lin_hash describe exactly the chosen ones.
 *   L2  level[k].state is the model state after the choices of levels 0..k-1, in order.
 *   L3  cand[level[k].off .. + n) are level k's candidates, and nothing above them is in use.
 *   L4  Every state the search holds is the initial state or one the memo cache owns or
 *       references, so all of them live until the part's search is freed (which is what lets a
 *       violation report describe the state of its dead end after the search ended).
 *
 * Explaining a violation: at each dead end deeper than every earlier one, the search records
 * the level's state (a pointer: L4), the last choices before it, its candidates and the
 * operation whose return bounds them. The deepest dead end is the longest linearizable prefix
 * found, and the report shows it.
 *
 * Complexity: worst case exponential (checking linearizability is NP-complete: Gibbons and
 * Korach 1997); each step costs one model step, O(k) for the k candidates of a new level (k is
 * bounded by the concurrency), O(1) for the bitset and hash, and O(n / 64) on memo hits. The
 * step budget bounds the time and the memory budget the cache (per part); either running out
 * gives UNKNOWN. A history without overlaps takes n steps. The hard case is an ambiguity that
 * is resolved late: two concurrent enqueues whose order only the dequeues, much later, reveal.
 * Models can cut that short with a prepare context (queue_model.c does, for unique values);
 * otherwise keep such histories short (lincheck.h).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "stress/check/internal.h"

#define NONE UINT32_MAX
#define TAIL 4       /* prefix operations shown in a violation report */
#define CANDIDATES 8 /* candidate operations shown */

typedef struct entry {
    uint64_t time;
    uint32_t op;    /* index into the part's operations */
    uint32_t match; /* a call: its return entry; a return: NONE */
    uint32_t prev, next;
} entry;

typedef struct level {
    const void *state;     /* the state here (L2) */
    uint64_t lin_hash;     /* Zobrist hash of the operations linearized before this level */
    uint32_t first_return; /* the return entry that bounds the candidates */
    uint32_t off, n, i;    /* candidates cand[off .. off + n), the i-th being tried */
    uint32_t all;          /* candidates before an observer made the choice forced */
} level;

typedef struct dead_end {
    bool seen;
    size_t depth;      /* operations linearized before it */
    uint32_t blocked;  /* the operation whose return bounds the candidates */
    const void *state; /* the state there (L4) */
    uint32_t tail[TAIL];
    size_t tail_len;
    uint32_t cand[CANDIDATES];
    size_t cand_len, cand_total;
} dead_end;

typedef struct search {
    const cask_lin_model *model;
    const cask_op **ops; /* the part's operations */
    size_t n;
    entry *e; /* 2n + 1 entries; e[2n] is the head of the circular list */
    level *lv; /* n + 1 levels */
    uint32_t *cand;
    size_t cand_used, cand_cap;
    uint64_t *bits;
    size_t words;
    uint64_t *zobrist;
    cask__memo *memo;
    void *context; /* the model's, from prepare */
    bool prepared;
    void *init_state;
    uint64_t steps, max_steps;
    size_t max_memory;
    int error;
    dead_end dead;
} search;

typedef struct event {
    uint64_t time;
    uint32_t is_return; /* calls (0) before returns (1) at equal stamps */
    uint32_t op;
} event;

/* event_order - qsort order of entries: stamp, calls before returns, operation. */
static int event_order(const void *pa, const void *pb)
{
    const event *a = pa, *b = pb;
    if (a->time != b->time)
        return a->time < b->time ? -1 : 1;
    if (a->is_return != b->is_return)
        return a->is_return < b->is_return ? -1 : 1;
    return a->op < b->op ? -1 : a->op > b->op;
}

/* search_free - frees everything search_init allocated (any subset of it). */
static void search_free(search *s)
{
    cask__memo_destroy(s->memo, s->model->free_state);
    if (s->init_state != NULL)
        s->model->free_state(s->init_state);
    if (s->prepared && s->model->finish != NULL)
        s->model->finish(s->context); /* after every state: they may point to it */
    free(s->e);
    free(s->lv);
    free(s->cand);
    free(s->bits);
    free(s->zobrist);
    memset(s, 0, sizeof(*s));
}

/* search_init - builds the entry list of ops[0..n) and the search's memory. 0 or CASK_ENOMEM. */
static int search_init(search *s, const cask_lin_model *model, const cask_op **ops, size_t n,
                       uint64_t max_steps, size_t max_memory)
{
    memset(s, 0, sizeof(*s));
    s->model = model;
    s->ops = ops;
    s->n = n;
    s->max_steps = max_steps;
    s->max_memory = max_memory;
    s->words = (n + 63) / 64;
    s->cand_cap = 64;
    s->e = malloc((2 * n + 1) * sizeof(entry));
    s->lv = malloc((n + 1) * sizeof(level));
    s->cand = malloc(s->cand_cap * sizeof(uint32_t));
    s->bits = calloc(s->words + 1, sizeof(uint64_t));
    s->zobrist = malloc((n + 1) * sizeof(uint64_t));
    event *ev = malloc((2 * n + 1) * sizeof(event));
    uint32_t *ret_at = malloc((n + 1) * sizeof(uint32_t));
    int rc = CASK_ENOMEM;
    if (s->e != NULL && s->lv != NULL && s->cand != NULL && s->bits != NULL &&
        s->zobrist != NULL && ev != NULL && ret_at != NULL)
        rc = cask__memo_create(s->words, max_memory, &s->memo);
    if (rc == 0 && model->prepare != NULL) {
        rc = model->prepare((const cask_op *const *)ops, n, &s->context);
        s->prepared = rc == 0;
    }
    if (rc == 0)
        rc = model->init(s->context, &s->init_state);
    if (rc != 0) {
        free(ev);
        free(ret_at);
        search_free(s);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        ev[2 * i] = (event){ops[i]->invoke_ns, 0, (uint32_t)i};
        ev[2 * i + 1] = (event){ops[i]->responded ? ops[i]->respond_ns : UINT64_MAX, 1,
                                (uint32_t)i};
        s->zobrist[i] = cask__mix64(UINT64_C(0x5EED5EED5EED5EED) + i);
    }
    qsort(ev, 2 * n, sizeof(event), event_order);
    uint32_t head = (uint32_t)(2 * n);
    for (uint32_t k = 0; k < 2 * n; k++) {
        s->e[k] = (entry){ev[k].time, ev[k].op, NONE, k == 0 ? head : k - 1,
                          k + 1 == 2 * n ? head : k + 1};
        if (ev[k].is_return)
            ret_at[ev[k].op] = k;
    }
    for (uint32_t k = 0; k < 2 * n; k++)
        if (!ev[k].is_return)
            s->e[k].match = ret_at[ev[k].op];
    s->e[head] = (entry){0, NONE, NONE, n == 0 ? head : head - 1, n == 0 ? head : 0};
    free(ev);
    free(ret_at);
    return 0;
}

/* lift - takes call entry c and its return out of the list (dancing links: they keep their
 * own links, so unlift can put them back). */
static void lift(search *s, uint32_t c)
{
    entry *call = &s->e[c], *ret = &s->e[call->match];
    s->e[call->prev].next = call->next;
    s->e[call->next].prev = call->prev;
    s->e[ret->prev].next = ret->next;
    s->e[ret->next].prev = ret->prev;
}

/* unlift - undoes lift(c); must undo lifts in the reverse order (the levels guarantee it). */
static void unlift(search *s, uint32_t c)
{
    entry *call = &s->e[c];
    uint32_t r = call->match;
    entry *ret = &s->e[r];
    s->e[ret->prev].next = r;
    s->e[ret->next].prev = r;
    s->e[call->prev].next = c;
    s->e[call->next].prev = c;
}

/* push_candidate - appends call entry c to the candidate stack. 0 or an error. */
static int push_candidate(search *s, uint32_t c)
{
    if (s->cand_used == s->cand_cap) {
        size_t cap = s->cand_cap * 2;
        if (cap * sizeof(uint32_t) > s->max_memory)
            return CASK_EFULL;
        uint32_t *p = realloc(s->cand, cap * sizeof(uint32_t));
        if (p == NULL)
            return CASK_ENOMEM;
        s->cand = p;
        s->cand_cap = cap;
    }
    s->cand[s->cand_used++] = c;
    return 0;
}

/*
 * open_level - fills level d from the current list and state: its candidates in response
 * order, or only an observer the state accepts (see the design). Returns 0, or an error
 * (CASK_EFULL: memory budget; CASK_ENOMEM; a model error).
 */
static int open_level(search *s, size_t d, const void *state, uint64_t lin_hash)
{
    const cask_lin_model *m = s->model;
    level *l = &s->lv[d];
    uint32_t head = (uint32_t)(2 * s->n);
    l->state = state;
    l->lin_hash = lin_hash;
    l->off = (uint32_t)s->cand_used;
    l->i = 0;
    uint32_t k = s->e[head].next;
    for (; k != head && s->e[k].match != NONE; k = s->e[k].next) {
        int rc = push_candidate(s, k);
        if (rc != 0)
            return rc;
    }
    l->first_return = k;
    l->n = l->all = (uint32_t)(s->cand_used - l->off);
    uint32_t *c = s->cand + l->off;
    for (uint32_t a = 1; a < l->n; a++) /* insertion sort by response: k is small */
        for (uint32_t b = a; b > 0 && s->e[c[b - 1]].match > s->e[c[b]].match; b--) {
            uint32_t t = c[b];
            c[b] = c[b - 1];
            c[b - 1] = t;
        }
    if (m->observer == NULL)
        return 0;
    for (uint32_t a = 0; a < l->n && s->steps < s->max_steps; a++) {
        const cask_op *op = s->ops[s->e[c[a]].op];
        if (!m->observer(op))
            continue;
        void *next = NULL;
        s->steps++;
        int ok = m->step(state, op, &next);
        if (ok < 0)
            return ok;
        if (ok == 0)
            continue;
        if (next != state)
            m->free_state(next);
        uint32_t t = c[0]; /* forced: try only this one (but report them all) */
        c[0] = c[a];
        c[a] = t;
        l->n = 1;
        break;
    }
    return 0;
}

/* note_dead_end - remembers level d's dead end if it is the deepest so far. */
static void note_dead_end(search *s, size_t d)
{
    dead_end *de = &s->dead;
    if (de->seen && d <= de->depth)
        return;
    const level *l = &s->lv[d];
    de->seen = true;
    de->depth = d;
    de->blocked = l->first_return != 2 * s->n ? s->e[l->first_return].op : NONE;
    de->state = l->state;
    de->tail_len = d < TAIL ? d : TAIL;
    for (size_t i = 0; i < de->tail_len; i++) {
        const level *p = &s->lv[d - de->tail_len + i];
        de->tail[i] = s->e[s->cand[p->off + p->i]].op;
    }
    de->cand_total = l->all;
    de->cand_len = l->all < CANDIDATES ? l->all : CANDIDATES;
    for (size_t i = 0; i < de->cand_len; i++)
        de->cand[i] = s->e[s->cand[l->off + i]].op;
}

/* search_run - the search. Returns the part's verdict; s->error is set for CASK__PART_ERROR. */
static cask__part_result search_run(search *s)
{
    const cask_lin_model *m = s->model;
    uint32_t head = (uint32_t)(2 * s->n);
    size_t d = 0;
    int rc = open_level(s, 0, s->init_state, 0);
    while (rc == 0 && s->e[head].next != head) {
        level *l = &s->lv[d];
        if (l->i == l->n) { /* dead end: back to the previous level's next candidate */
            note_dead_end(s, d);
            if (d == 0)
                return CASK__PART_VIOLATION;
            s->cand_used = l->off;
            l = &s->lv[--d];
            uint32_t c = s->cand[l->off + l->i];
            uint32_t op = s->e[c].op;
            s->bits[op / 64] &= ~(UINT64_C(1) << (op % 64));
            unlift(s, c);
            l->i++;
            continue;
        }
        if (s->steps >= s->max_steps)
            return CASK__PART_STEPS;
        s->steps++;
        uint32_t c = s->cand[l->off + l->i];
        uint32_t op = s->e[c].op;
        void *next = NULL;
        int ok = m->step(l->state, s->ops[op], &next);
        if (ok <= 0) {
            if (ok < 0) {
                rc = ok;
                break;
            }
            l->i++;
            continue;
        }
        s->bits[op / 64] |= UINT64_C(1) << (op % 64);
        uint64_t h = l->lin_hash ^ s->zobrist[op];
        uint64_t key = cask__mix64(h ^ cask__mix64(m->hash(next) + UINT64_C(0x9E3779B97F4A7C15)));
        bool owned = next != l->state;
        size_t bytes = !owned ? 0 : m->state_bytes != NULL ? m->state_bytes(next) : 64;
        rc = cask__memo_insert(s->memo, key, s->bits, next, owned, bytes, m->equal);
        if (rc != 1) { /* seen before (0), or no room: undo */
            s->bits[op / 64] &= ~(UINT64_C(1) << (op % 64));
            if (owned)
                m->free_state(next);
            if (rc < 0)
                break;
            l->i++;
            continue;
        }
        lift(s, c);
        rc = open_level(s, ++d, next, h);
    }
    if (rc == 0 && s->e[head].next == head)
        return CASK__PART_OK;
    s->error = rc;
    return rc == CASK_EFULL ? CASK__PART_MEMORY : CASK__PART_ERROR;
}

/* explain_violation - the report of a part with no linearization, from its deepest dead end. */
static void explain_violation(cask__text *t, search *s, const cask__view *v)
{
    const cask_lin_model *m = s->model;
    void (*describe)(const cask_op *, char *, size_t) =
        m->describe_op != NULL ? m->describe_op : cask_op_describe;
    const dead_end *d = &s->dead;
    cask__text_printf(t, "VIOLATION (model %s", m->name != NULL ? m->name : "?");
    if (m->partition_by_key)
        cask__text_printf(t, ", key %" PRIu64, s->ops[0]->key);
    cask__text_printf(t, "): no linearization of these %zu operations exists.\n", s->n);
    if (v->truncated)
        cask__text_printf(t, "(The history is truncated; this is in the part before the first "
                             "unrecorded operation, which missing operations cannot change.)\n");
    cask__text_printf(t, "The longest linearizable prefix found has %zu operation%s", d->depth,
                      d->depth == 1 ? "" : "s");
    if (d->depth > 0) {
        cask__text_printf(t, "; it ends with:\n");
        for (size_t i = 0; i < d->tail_len; i++)
            cask__text_op(t, s->ops[d->tail[i]], v->base_ns, describe, NULL);
    } else {
        cask__text_printf(t, ".\n");
    }
    char buf[256];
    if (m->describe_state != NULL) {
        m->describe_state(d->state, buf, sizeof(buf));
        cask__text_printf(t, "State %s: %s\n", d->depth > 0 ? "after it" : "(initial)", buf);
    }
    if (d->blocked != NONE) {
        cask__text_printf(t, "Nothing can follow that takes this operation into account before "
                             "it returns:\n");
        cask__text_op(t, s->ops[d->blocked], v->base_ns, describe, NULL);
    }
    cask__text_printf(t, "The operations real time allows next (%zu, invoked before that "
                         "return), each a dead end:\n", d->cand_total);
    for (size_t i = 0; i < d->cand_len; i++) {
        void *next = NULL;
        int ok = m->step(d->state, s->ops[d->cand[i]], &next);
        if (ok == 1 && next != d->state)
            m->free_state(next);
        cask__text_op(t, s->ops[d->cand[i]], v->base_ns, describe,
                      ok == 1   ? "  possible, but nothing linearizable follows"
                      : ok == 0 ? "  ruled out there by the model"
                                : "  (model error)");
    }
    if (d->cand_total > d->cand_len)
        cask__text_printf(t, "    ... and %zu more\n", d->cand_total - d->cand_len);
}

cask__part_result cask__search_part(const cask_lin_model *model, const cask_op **ops, size_t n,
                                    uint64_t max_steps, size_t max_memory,
                                    const cask__view *view, cask__text *explain,
                                    cask__part_stats *stats)
{
    search s;
    int rc = search_init(&s, model, ops, n, max_steps, max_memory);
    if (rc != 0) {
        *stats = (cask__part_stats){0, 0, rc};
        return CASK__PART_ERROR;
    }
    cask__part_result r = search_run(&s);
    *stats = (cask__part_stats){s.steps, cask__memo_count(s.memo), s.error};
    if (r == CASK__PART_VIOLATION)
        explain_violation(explain, &s, view);
    search_free(&s);
    return r;
}
