/*
 * conservation.c: checks on plain arrays of values: conservation, uniqueness, producer order.
 *
 * Design
 * ------
 * These are the checks a long stress run can afford on millions of items, when the values
 * carry their identity: each producer puts distinct values (or values tagged with
 * cask_check_tag), consumers record what they took, a final drain records what was left.
 *   conservation      put == taken + remaining as multisets: sort the three arrays (copies) and
 *                     merge them, comparing counts value by value;
 *   no duplicates     sort (value, position) pairs; equal neighbours are duplicates;
 *   producer order    a FIFO queue delivers each producer's items to each consumer in the
 *                     order they were produced (the enqueues of one producer are ordered in
 *                     real time, so linearizability forces it). Sort the consumer's items by
 *                     (producer, position), a stable grouping, then each group's sequence
 *                     numbers must strictly increase.
 * The first problem found (the smallest value, or the first producer) is reported.
 *
 * Cost: O(n log n) time, O(n) memory; inputs are never modified.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "stress/check/internal.h"

/* u64_order - qsort order of uint64_t values. */
static int u64_order(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return a < b ? -1 : a > b;
}

/* sorted_copy - a sorted copy of a[0..n) in *out (a 1-element buffer when n is 0). */
static int sorted_copy(const uint64_t *a, size_t n, uint64_t **out)
{
    *out = malloc((n == 0 ? 1 : n) * sizeof(uint64_t));
    if (*out == NULL)
        return CASK_ENOMEM;
    if (n > 0) {
        memcpy(*out, a, n * sizeof(uint64_t));
        qsort(*out, n, sizeof(uint64_t), u64_order);
    }
    return 0;
}

/* run_length - how many times a[*i..n) starts with value v; advances *i past them. */
static size_t run_length(const uint64_t *a, size_t n, size_t *i, uint64_t v)
{
    size_t k = 0;
    while (*i < n && a[*i] == v) {
        (*i)++;
        k++;
    }
    return k;
}

cask_lin_result cask_check_conservation(const uint64_t *put, size_t n_put, const uint64_t *taken,
                                        size_t n_taken, const uint64_t *remaining,
                                        size_t n_remaining, char *explain, size_t explain_cap)
{
    cask__text t;
    cask__text_init(&t, explain, explain_cap);
    if ((put == NULL && n_put > 0) || (taken == NULL && n_taken > 0) ||
        (remaining == NULL && n_remaining > 0)) {
        cask__text_printf(&t, "UNKNOWN: invalid argument (CASK_EINVAL): NULL array with a "
                              "non-zero count.\n");
        return CASK_LIN_UNKNOWN;
    }
    uint64_t *p = NULL, *tk = NULL, *r = NULL;
    if (sorted_copy(put, n_put, &p) != 0 || sorted_copy(taken, n_taken, &tk) != 0 ||
        sorted_copy(remaining, n_remaining, &r) != 0) {
        free(p);
        free(tk);
        free(r);
        cask__text_printf(&t, "UNKNOWN: out of memory (CASK_ENOMEM).\n");
        return CASK_LIN_UNKNOWN;
    }
    cask_lin_result verdict = CASK_LIN_OK;
    size_t i = 0, j = 0, k = 0;
    while (i < n_put || j < n_taken || k < n_remaining) {
        uint64_t v = UINT64_MAX; /* the smallest value not yet merged */
        if (i < n_put && p[i] < v)
            v = p[i];
        if (j < n_taken && tk[j] < v)
            v = tk[j];
        if (k < n_remaining && r[k] < v)
            v = r[k];
        size_t cp = run_length(p, n_put, &i, v), ct = run_length(tk, n_taken, &j, v),
               cr = run_length(r, n_remaining, &k, v);
        if (cp != ct + cr) {
            cask__text_printf(&t, "VIOLATION (conservation): value %" PRIu64 ": put %zu time%s, "
                                  "taken %zu, remaining %zu (%s); totals: put %zu, taken %zu, "
                                  "remaining %zu.\n",
                              v, cp, cp == 1 ? "" : "s", ct, cr,
                              cp > ct + cr ? "lost" : cp == 0 ? "invented" : "duplicated",
                              n_put, n_taken, n_remaining);
            verdict = CASK_LIN_VIOLATION;
            break;
        }
    }
    if (verdict == CASK_LIN_OK)
        cask__text_printf(&t, "OK (conservation): %zu put = %zu taken + %zu remaining, value by "
                              "value.\n", n_put, n_taken, n_remaining);
    free(p);
    free(tk);
    free(r);
    return verdict;
}

typedef struct positioned {
    uint64_t key; /* the value, or the producer */
    size_t pos;   /* the position in the caller's array */
} positioned;

/* by_key_then_pos - qsort order of positioned items: key, then position (a stable grouping). */
static int by_key_then_pos(const void *pa, const void *pb)
{
    const positioned *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* positioned_sorted - (key(values[i]), i) pairs sorted by key, then position. */
static positioned *positioned_sorted(const uint64_t *values, size_t n, bool by_producer)
{
    positioned *a = malloc((n == 0 ? 1 : n) * sizeof(positioned));
    if (a == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        a[i] = (positioned){by_producer ? cask_check_tag_producer(values[i]) : values[i], i};
    qsort(a, n, sizeof(positioned), by_key_then_pos);
    return a;
}

cask_lin_result cask_check_no_duplicates(const uint64_t *values, size_t n, char *explain,
                                         size_t explain_cap)
{
    cask__text t;
    cask__text_init(&t, explain, explain_cap);
    if (values == NULL && n > 0) {
        cask__text_printf(&t, "UNKNOWN: invalid argument (CASK_EINVAL): NULL array.\n");
        return CASK_LIN_UNKNOWN;
    }
    positioned *a = positioned_sorted(values, n, false);
    if (a == NULL) {
        cask__text_printf(&t, "UNKNOWN: out of memory (CASK_ENOMEM).\n");
        return CASK_LIN_UNKNOWN;
    }
    cask_lin_result verdict = CASK_LIN_OK;
    for (size_t i = 1; i < n; i++)
        if (a[i].key == a[i - 1].key) {
            cask__text_printf(&t, "VIOLATION (duplicates): value %" PRIu64 " occurs at positions "
                                  "%zu and %zu.\n", a[i].key, a[i - 1].pos, a[i].pos);
            verdict = CASK_LIN_VIOLATION;
            break;
        }
    if (verdict == CASK_LIN_OK)
        cask__text_printf(&t, "OK (duplicates): %zu distinct values.\n", n);
    free(a);
    return verdict;
}

cask_lin_result cask_check_producer_order(const uint64_t *seen, size_t n, char *explain,
                                          size_t explain_cap)
{
    cask__text t;
    cask__text_init(&t, explain, explain_cap);
    if (seen == NULL && n > 0) {
        cask__text_printf(&t, "UNKNOWN: invalid argument (CASK_EINVAL): NULL array.\n");
        return CASK_LIN_UNKNOWN;
    }
    positioned *a = positioned_sorted(seen, n, true);
    if (a == NULL) {
        cask__text_printf(&t, "UNKNOWN: out of memory (CASK_ENOMEM).\n");
        return CASK_LIN_UNKNOWN;
    }
    cask_lin_result verdict = CASK_LIN_OK;
    size_t producers = n > 0 ? 1 : 0;
    for (size_t i = 1; i < n; i++) {
        if (a[i].key != a[i - 1].key) {
            producers++;
            continue;
        }
        uint64_t before = cask_check_tag_seq(seen[a[i - 1].pos]);
        uint64_t after = cask_check_tag_seq(seen[a[i].pos]);
        if (after <= before) {
            cask__text_printf(&t, "VIOLATION (producer order): producer %" PRIu64 "'s item %" PRIu64
                                  " was taken at position %zu, after its item %" PRIu64
                                  " at position %zu.\n",
                              a[i].key, after, a[i].pos, before, a[i - 1].pos);
            verdict = CASK_LIN_VIOLATION;
            break;
        }
    }
    if (verdict == CASK_LIN_OK)
        cask__text_printf(&t, "OK (producer order): %zu items from %zu producers, each "
                              "producer's in order.\n", n, producers);
    free(a);
    return verdict;
}
