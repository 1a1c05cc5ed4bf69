/*
 * stress/check/internal.h: what the checker's files share. Not part of the public API.
 *
 *   history.c    the recorder, and cask__view_build: the operations a check looks at
 *   describe.c   cask_op_describe and the explanation writer (cask__text)
 *   memo.c       Lowe's memo cache: (set of linearized operations, model state) pairs
 *   search.c     the Wing & Gong search of one part, and its violation report
 *   lincheck.c   cask_lin_check: parts, budgets, verdict
 *   models.c     the shipped register, map and vector models
 *   queue_model.c   the queue model, which prunes hopeless enqueue orders
 *   queue_unique.c, conservation.c   the cheaper checks
 */
#ifndef CASK_STRESS_CHECK_INTERNAL_H
#define CASK_STRESS_CHECK_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stress/check/lincheck.h"

/* ---- history.c ---- */

/*
 * The operations a check considers, copied out of a history, with truncation applied: if some
 * operation was not recorded, only the operations invoked before the first unrecorded one
 * (cut_ns) are kept, and those that had not responded before cut_ns get an unknown result
 * (responded == false, respond_ns == UINT64_MAX), like operations that never responded.
 */
typedef struct cask__view {
    cask_op *ops;       /* count copies, ordered by thread index, then seq */
    size_t count;
    size_t recorded;    /* operations recorded in the history, before the cut */
    size_t dropped;     /* operations that could not be recorded (buffers full) */
    size_t cut_unknown; /* operations kept whose result the cut made unknown */
    bool truncated;     /* dropped > 0 */
    uint64_t cut_ns;    /* the first unrecorded invocation, UINT64_MAX if none */
    int cut_thread;     /* the thread index whose buffer filled first, -1 if none */
    uint64_t base_ns;   /* the earliest invocation: explanations print times relative to it */
} cask__view;

/*
 * cask__view_build - fills *view from history. Returns 0 or CASK_ENOMEM (view then empty).
 * Read-only on history. Free with cask__view_free.
 */
int cask__view_build(const cask_history *history, cask__view *view);

/* cask__view_free - frees what cask__view_build allocated; the view is then empty. */
void cask__view_free(cask__view *view);

/* ---- describe.c ---- */

/* An explanation being written into a caller's buffer: appends never overflow, and the text is
 * NUL-terminated after every append; what does not fit is cut and ends with "...". */
typedef struct cask__text {
    char *buf;
    size_t cap;
    size_t len;
} cask__text;

/* cask__text_init - starts an empty text in buf[0..cap) (buf may be NULL if cap is 0). */
void cask__text_init(cask__text *text, char *buf, size_t cap);

/* cask__text_printf - appends printf-style. */
void cask__text_printf(cask__text *text, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * cask__text_op - appends one line "    <description>  [+inv .. +resp ns]<suffix>\n" for op,
 * its times relative to base_ns, described by describe (cask_op_describe if NULL).
 */
void cask__text_op(cask__text *text, const cask_op *op, uint64_t base_ns,
                   void (*describe)(const cask_op *op, char *buf, size_t cap), const char *suffix);

/* ---- hashing (describe.c) ---- */

/* cask__mix64 - a 64-bit finaliser (splitmix64's): a bijection that spreads every input bit. */
static inline uint64_t cask__mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xBF58476D1CE4E5B9);
    x ^= x >> 27;
    x *= UINT64_C(0x94D049BB133111EB);
    x ^= x >> 31;
    return x;
}

/* ---- memo.c ---- */

/*
 * The memo cache of the search: a set of configurations (bitset of linearized operations,
 * model state). Bitsets are copied into the cache's arena; states are referenced, and freed
 * with the model's free_state when the cache is destroyed if the cache owns them.
 */
typedef struct cask__memo cask__memo;

/*
 * cask__memo_create - an empty cache for bitsets of `words` 64-bit words that will use at most
 * max_bytes, counting its own allocations and the state_bytes of every insert.
 * Returns 0 or CASK_ENOMEM.
 */
int cask__memo_create(size_t words, size_t max_bytes, cask__memo **out);

/*
 * cask__memo_insert - adds (bits, state) unless an entry with equal bits and an equal state
 * (by equal()) is present. hash must be a function of both (equal pairs, equal hashes).
 * state_bytes is charged to the budget (the memory the state holds if the cache will own it).
 * Returns 1 if added (the cache keeps state, and frees it at destroy if owned), 0 if an equal
 * entry was present (the cache keeps nothing), CASK_EFULL if adding would pass max_bytes, or
 * CASK_ENOMEM; after an error the cache is unchanged.
 */
int cask__memo_insert(cask__memo *memo, uint64_t hash, const uint64_t *bits, void *state,
                      bool owned, size_t state_bytes,
                      bool (*equal)(const void *a, const void *b));

/* cask__memo_count - the number of entries. */
size_t cask__memo_count(const cask__memo *memo);

/* cask__memo_destroy - frees the cache and the states it owns (with free_state). NULL is ok. */
void cask__memo_destroy(cask__memo *memo, void (*free_state)(void *state));

/* ---- search.c ---- */

/* The verdict on one part. */
typedef enum cask__part_result {
    CASK__PART_OK,        /* linearizable */
    CASK__PART_VIOLATION, /* no linearization exists */
    CASK__PART_STEPS,     /* the step budget ran out */
    CASK__PART_MEMORY,    /* the memory budget ran out */
    CASK__PART_ERROR,     /* an error: see cask__part_stats.error */
} cask__part_result;

typedef struct cask__part_stats {
    uint64_t steps;       /* model steps taken */
    size_t cache_entries; /* memoised configurations */
    int error;            /* CASK_ENOMEM, or the model's error code, for CASK__PART_ERROR */
} cask__part_stats;

/*
 * cask__search_part - searches for a linearization of ops[0..n) (one part of view) with model,
 * within max_steps model steps and max_memory bytes of cache. On CASK__PART_VIOLATION, appends
 * the report of the deepest dead end to explain (times relative to view->base_ns). Fills
 * *stats. Allocates only while it runs.
 */
cask__part_result cask__search_part(const cask_lin_model *model, const cask_op **ops, size_t n,
                                    uint64_t max_steps, size_t max_memory,
                                    const cask__view *view, cask__text *explain,
                                    cask__part_stats *stats);

#endif /* CASK_STRESS_CHECK_INTERNAL_H */
