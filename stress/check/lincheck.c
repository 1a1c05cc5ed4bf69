/*
 * lincheck.c: cask_lin_check: what is checked, in which parts, and what the verdict says.
 *
 * Design
 * ------
 * The check takes the history's view (history.c: truncation applied, so the operations kept
 * are a prefix-closed part that missing operations cannot influence), splits it into parts
 * (by key when the model says keys are independent: linearizability is local, Herlihy & Wing
 * 1990, so the history is linearizable iff every key's part is), and runs the search of
 * search.c on each part under its own budgets. The verdict:
 *   VIOLATION  a part has no linearization (reported at once; later parts are not checked);
 *   UNKNOWN    an error, a budget spent in some part, or a truncated history, with no
 *              violation found; never OK in these cases;
 *   OK         every part of a complete history is linearizable.
 * The explanation says which, and for a violation shows the dead end of search.c.
 *
 * Cost: O(n log n) to split, plus the searches (search.c); memory O(n) plus one part's search.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "stress/check/internal.h"

/* by_key - qsort order of operations into parts: key, then invocation, thread, seq. */
static int by_key(const void *pa, const void *pb)
{
    const cask_op *a = *(const cask_op *const *)pa, *b = *(const cask_op *const *)pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    if (a->invoke_ns != b->invoke_ns)
        return a->invoke_ns < b->invoke_ns ? -1 : 1;
    if (a->thread != b->thread)
        return a->thread < b->thread ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* error_name - words for an error that made the verdict UNKNOWN. */
static const char *error_name(int error)
{
    return error == CASK_ENOMEM ? "out of memory (CASK_ENOMEM)"
           : error == CASK_EINVAL
               ? "the model does not know an operation kind (CASK_EINVAL)"
               : "model error";
}

/* What the part loop learned, for the verdict. */
typedef struct tally {
    size_t parts_ok, parts_undecided;
    cask__part_result first_undecided; /* CASK__PART_STEPS or CASK__PART_MEMORY */
    size_t undecided_n;          /* the size of the first undecided part */
    uint64_t undecided_key;
} tally;

/* plural - "s" unless n is 1. */
static const char *plural(size_t n)
{
    return n == 1 ? "" : "s";
}

/* explain_unknown - the report when no violation was found but the verdict is not OK. */
static void explain_unknown(cask__text *t, const cask_lin_model *m, const cask__view *v,
                            const tally *ty, const cask_lin_options *o, int error)
{
    cask__text_printf(t, "UNKNOWN (model %s):", m->name != NULL ? m->name : "?");
    if (error != 0)
        cask__text_printf(t, " %s; %zu part%s checked before it %s linearizable.",
                          error_name(error), ty->parts_ok, plural(ty->parts_ok),
                          ty->parts_ok == 1 ? "is" : "are");
    if (ty->parts_undecided > 0) {
        cask__text_printf(t, " The %s ran out in %zu part%s (the first: %zu operations",
                          ty->first_undecided == CASK__PART_STEPS ? "step budget" : "memory budget",
                          ty->parts_undecided, plural(ty->parts_undecided), ty->undecided_n);
        if (m->partition_by_key)
            cask__text_printf(t, ", key %" PRIu64, ty->undecided_key);
        cask__text_printf(t, "; budget per part: %" PRIu64 " steps, %zu bytes); %zu other "
                             "part%s checked and linearizable.",
                          o->max_steps, o->max_memory, ty->parts_ok, plural(ty->parts_ok));
    }
    if (v->truncated)
        cask__text_printf(t, " The history is truncated: %zu operation%s could not be recorded "
                             "(thread %d's buffer filled first). The %zu operations invoked "
                             "before the first unrecorded one (of %zu recorded; %zu of them with "
                             "results made unknown by the cut) were checked%s; the rest could "
                             "not be.",
                          v->dropped, plural(v->dropped), v->cut_thread, v->count, v->recorded,
                          v->cut_unknown,
                          ty->parts_undecided == 0 && error == 0 ? " and are linearizable" : "");
    cask__text_printf(t, "\n");
}

cask_lin_result cask_lin_check(const cask_history *history, const cask_lin_model *model,
                               const cask_lin_options *options, cask_lin_stats *stats,
                               char *explain, size_t explain_cap)
{
    cask__text t;
    cask__text_init(&t, explain, explain_cap);
    cask_lin_stats st = {0};
    cask_lin_options o = {CASK_LIN_DEFAULT_STEPS, CASK_LIN_DEFAULT_MEMORY};
    if (options != NULL && options->max_steps != 0)
        o.max_steps = options->max_steps;
    if (options != NULL && options->max_memory != 0)
        o.max_memory = options->max_memory;
    if (history == NULL || model == NULL || model->init == NULL || model->step == NULL ||
        model->equal == NULL || model->hash == NULL || model->free_state == NULL) {
        cask__text_printf(&t, "UNKNOWN: invalid argument (CASK_EINVAL): a NULL history or model, "
                              "or a model without init, step, equal, hash or free_state.\n");
        st.error = CASK_EINVAL;
        if (stats != NULL)
            *stats = st;
        return CASK_LIN_UNKNOWN;
    }
    cask__view v;
    const cask_op **order = NULL;
    int error = cask__view_build(history, &v);
    if (error == 0 && (order = malloc((v.count + 1) * sizeof(*order))) == NULL)
        error = CASK_ENOMEM;
    tally ty = {0};
    cask_lin_result verdict = CASK_LIN_UNKNOWN;
    if (error == 0) {
        for (size_t i = 0; i < v.count; i++)
            order[i] = &v.ops[i];
        if (model->partition_by_key)
            qsort(order, v.count, sizeof(*order), by_key);
        st.ops = v.count;
    }
    for (size_t lo = 0; error == 0 && lo < v.count;) {
        size_t hi = lo + 1;
        while (hi < v.count && (!model->partition_by_key || order[hi]->key == order[lo]->key))
            hi++;
        if (hi - lo >= (size_t)UINT32_MAX / 2) {
            error = CASK_EINVAL; /* too large to index: not a history one can search anyway */
            break;
        }
        cask__part_stats ps;
        cask__part_result r = cask__search_part(model, order + lo, hi - lo, o.max_steps,
                                                o.max_memory, &v, &t, &ps);
        st.partitions++;
        st.steps += ps.steps;
        st.cache_entries += ps.cache_entries;
        if (r == CASK__PART_VIOLATION) {
            verdict = CASK_LIN_VIOLATION;
            break;
        }
        if (r == CASK__PART_OK) {
            ty.parts_ok++;
        } else if (r == CASK__PART_ERROR) {
            error = ps.error;
            break;
        } else if (ty.parts_undecided++ == 0) {
            ty.first_undecided = r;
            ty.undecided_n = hi - lo;
            ty.undecided_key = order[lo]->key;
        }
        lo = hi;
    }
    if (verdict != CASK_LIN_VIOLATION) {
        if (error == 0 && ty.parts_undecided == 0 && !v.truncated) {
            verdict = CASK_LIN_OK;
            cask__text_printf(&t, "OK (model %s): %zu operations in %zu part%s are linearizable "
                                  "(%" PRIu64 " steps).\n",
                              model->name != NULL ? model->name : "?", v.count, st.partitions,
                              st.partitions == 1 ? "" : "s", st.steps);
        } else {
            explain_unknown(&t, model, &v, &ty, &o, error);
        }
    }
    st.error = verdict == CASK_LIN_UNKNOWN ? error : 0;
    free(order);
    cask__view_free(&v);
    if (stats != NULL)
        *stats = st;
    return verdict;
}
