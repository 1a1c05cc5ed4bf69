/*
 * history.c: the history recorder, and the view of a history that the checks read.
 *
 * Design
 * ------
 * A history holds one preallocated buffer of cask_op records per thread index. Recording an
 * operation writes only the buffer and the small header of the caller's own index, and reads
 * the clock: there is no shared counter, no lock, no atomic read-modify-write and no fence.
 * ThreadSanitizer therefore sees no happens-before edge between two recording threads that the
 * structure under test did not create itself, so recording cannot hide a data race in it (a
 * global sequence number taken with a seq_cst fetch_add, or a mutex around the log, would order
 * every pair of recorded operations for TSan and mask exactly the races the harness hunts).
 * Each thread header is aligned to a cache line so that recording threads do not false-share.
 *
 * Why the stamps give a correct real-time order. Stamps come from CLOCK_MONOTONIC, a single
 * clock for the whole system: a reading taken after another reading in real time (on any CPU)
 * is not smaller (Linux keeps the per-CPU sources synchronised for exactly this promise). The
 * invocation stamp is read before the operation starts and the response stamp after it
 * returned, so the operation's real execution lies inside [inv, resp]. If resp(a) < inv(b),
 * then the real end of a precedes resp(a)'s reading, which precedes inv(b)'s reading, which
 * precedes the real start of b: a really finished before b started, and every linearization
 * must put a first. The converse is not claimed: operations with resp(a) >= inv(b) are treated
 * as overlapping, which only gives the checker more orders to try (equal stamps included), so
 * it never invents a violation. The clock is no synchronisation either: TSan does not treat
 * clock_gettime as an acquire or a release.
 *
 * Why the main thread may read every buffer after joining the workers. Each buffer is written
 * only by the thread using its index; pthread_join creates a happens-before edge from
 * everything the joined thread did to everything the joiner does next (POSIX memory
 * synchronisation, and TSan models it), so after the joins every record is visible and no
 * longer written. The buffers were allocated and initialised before the threads were created,
 * which pthread_create orders the same way. Handing an index from one thread to another needs
 * the same kind of edge.
 *
 * Per-thread order. A thread's next invocation stamp is taken strictly after its previous
 * response stamp (invoke re-reads the clock while it has not advanced: at most one tick of
 * CLOCK_MONOTONIC, 1 ns on Linux), so the operations of one thread never look concurrent.
 *
 * Truncation. When a buffer is full, invoke records nothing, counts the drop, and remembers
 * the stamp of the first dropped invocation (thread-private, like everything else). The view
 * below then keeps only the operations invoked before the earliest such stamp, cut_ns, over all
 * threads, and treats the results of those still running at cut_ns as unknown. That part is
 * prefix-closed and cannot depend on a missing operation: every missing operation was invoked
 * at or after cut_ns, so it really started after every kept operation with a known result had
 * finished, and any linearization of the full history orders those first. Hence a violation in
 * the kept part is a violation of the whole, and the checks report UNKNOWN (not OK) otherwise.
 *
 * Invariants
 *   H1  t->ops[0..count) are initialised records; record i has seq == i and thread == index.
 *   H2  Only the thread using index i writes h->t[i] (recording calls), or no thread records
 *       at all (create, reset, append, destroy, and the read-only calls).
 *   H3  first_dropped_ns is UINT64_MAX if and only if dropped == 0.
 *
 * Cost: invoke and respond are O(1) (two clock reads at most per operation); building a view
 * is O(n) time and memory.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stress/check/internal.h"

/* One thread index's buffer and bookkeeping, alone on its cache line(s). */
typedef struct history_thread {
    alignas(64) cask_op *ops;
    size_t count;              /* records in ops */
    size_t dropped;            /* invocations not recorded: the buffer was full */
    uint64_t first_dropped_ns; /* the first of those; UINT64_MAX if none (H3) */
    uint64_t last_respond_ns;  /* this index's latest response stamp, 0 if none */
} history_thread;

struct cask_history {
    int threads;
    size_t cap; /* records per thread */
    history_thread *t;
};

/* now_ns - CLOCK_MONOTONIC in nanoseconds. */
static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

/* stamp_after - a clock reading strictly greater than `after` (re-reads while equal). */
static uint64_t stamp_after(uint64_t after)
{
    uint64_t t = now_ns();
    while (t <= after)
        t = now_ns();
    return t;
}

int cask_history_create(int threads, size_t max_ops_per_thread, cask_history **out)
{
    if (out == NULL || threads < 1 || max_ops_per_thread == 0 ||
        max_ops_per_thread > SIZE_MAX / sizeof(cask_op) ||
        max_ops_per_thread > (size_t)UINT32_MAX || (size_t)threads > SIZE_MAX / 4096)
        return CASK_EINVAL;
    cask_history *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return CASK_ENOMEM;
    h->threads = threads;
    h->cap = max_ops_per_thread;
    h->t = aligned_alloc(alignof(history_thread), (size_t)threads * sizeof(history_thread));
    if (h->t == NULL) {
        free(h);
        return CASK_ENOMEM;
    }
    memset(h->t, 0, (size_t)threads * sizeof(history_thread));
    for (int i = 0; i < threads; i++) {
        /* Touch the buffer now (memset, not calloc's lazy zero pages), so that recording does
         * not take page faults that would perturb the schedule under test. */
        h->t[i].ops = malloc(max_ops_per_thread * sizeof(cask_op));
        if (h->t[i].ops == NULL) {
            cask_history_destroy(h);
            return CASK_ENOMEM;
        }
        memset(h->t[i].ops, 0, max_ops_per_thread * sizeof(cask_op));
    }
    cask_history_reset(h);
    *out = h;
    return 0;
}

void cask_history_destroy(cask_history *history)
{
    if (history == NULL)
        return;
    if (history->t != NULL)
        for (int i = 0; i < history->threads; i++)
            free(history->t[i].ops);
    free(history->t);
    free(history);
}

void cask_history_reset(cask_history *history)
{
    if (history == NULL)
        return;
    for (int i = 0; i < history->threads; i++) {
        history_thread *t = &history->t[i];
        t->count = 0;
        t->dropped = 0;
        t->first_dropped_ns = UINT64_MAX;
        t->last_respond_ns = 0;
    }
}

/* note_drop - counts an invocation that found the buffer full (H3). */
static void note_drop(history_thread *t, uint64_t invoke_ns)
{
    if (t->dropped++ == 0)
        t->first_dropped_ns = invoke_ns;
}

long cask_history_invoke(cask_history *history, int thread, int kind, uint64_t key,
                         uint64_t arg)
{
    if (history == NULL || thread < 0 || thread >= history->threads)
        return CASK_EINVAL;
    history_thread *t = &history->t[thread];
    if (t->count == history->cap) {
        note_drop(t, stamp_after(t->last_respond_ns));
        return CASK_EFULL;
    }
    cask_op *op = &t->ops[t->count];
    op->respond_ns = UINT64_MAX;
    op->key = key;
    op->arg = arg;
    op->value = 0;
    op->kind = kind;
    op->status = 0;
    op->thread = thread;
    op->seq = (uint32_t)t->count;
    op->responded = false;
    /* Stamp last: as close as possible before the operation starts. */
    op->invoke_ns = stamp_after(t->last_respond_ns);
    return (long)t->count++;
}

int cask_history_respond(cask_history *history, int thread, long handle, uint64_t value,
                         int status)
{
    /* Stamp first: as close as possible after the operation returned. */
    uint64_t now = now_ns();
    if (history == NULL || thread < 0 || thread >= history->threads)
        return CASK_EINVAL;
    if (handle < 0)
        return 0; /* an invocation that was not recorded */
    history_thread *t = &history->t[thread];
    if ((size_t)handle >= t->count || t->ops[handle].responded)
        return CASK_EINVAL;
    cask_op *op = &t->ops[handle];
    op->value = value;
    op->status = status;
    op->respond_ns = now;
    op->responded = true;
    t->last_respond_ns = now;
    return 0;
}

int cask_history_append(cask_history *history, const cask_op *op)
{
    if (history == NULL || op == NULL || op->thread < 0 || op->thread >= history->threads ||
        (op->responded && op->respond_ns < op->invoke_ns))
        return CASK_EINVAL;
    history_thread *t = &history->t[op->thread];
    if (t->count == history->cap) {
        note_drop(t, op->invoke_ns);
        return CASK_EFULL;
    }
    cask_op *rec = &t->ops[t->count];
    *rec = *op;
    rec->seq = (uint32_t)t->count;
    if (!rec->responded)
        rec->respond_ns = UINT64_MAX;
    t->count++;
    return 0;
}

int cask_history_threads(const cask_history *history)
{
    return history == NULL ? 0 : history->threads;
}

size_t cask_history_count(const cask_history *history, int thread)
{
    if (history == NULL || thread < 0 || thread >= history->threads)
        return 0;
    return history->t[thread].count;
}

const cask_op *cask_history_op(const cask_history *history, int thread, size_t index)
{
    if (history == NULL || thread < 0 || thread >= history->threads ||
        index >= history->t[thread].count)
        return NULL;
    return &history->t[thread].ops[index];
}

bool cask_history_truncated(const cask_history *history)
{
    if (history == NULL)
        return false;
    for (int i = 0; i < history->threads; i++)
        if (history->t[i].dropped != 0)
            return true;
    return false;
}

int cask__view_build(const cask_history *history, cask__view *view)
{
    memset(view, 0, sizeof(*view));
    view->cut_ns = UINT64_MAX;
    view->cut_thread = -1;
    view->base_ns = UINT64_MAX;
    size_t total = 0;
    for (int i = 0; i < history->threads; i++) {
        const history_thread *t = &history->t[i];
        total += t->count;
        view->dropped += t->dropped;
        if (t->dropped != 0 && t->first_dropped_ns < view->cut_ns) {
            view->cut_ns = t->first_dropped_ns;
            view->cut_thread = i;
        }
    }
    view->truncated = view->dropped != 0;
    view->recorded = total;
    view->ops = malloc((total == 0 ? 1 : total) * sizeof(cask_op));
    if (view->ops == NULL)
        return CASK_ENOMEM;
    for (int i = 0; i < history->threads; i++) {
        const history_thread *t = &history->t[i];
        for (size_t k = 0; k < t->count; k++) {
            const cask_op *op = &t->ops[k];
            if (op->invoke_ns >= view->cut_ns)
                continue; /* may depend on a missing operation */
            cask_op *copy = &view->ops[view->count++];
            *copy = *op;
            if (!copy->responded || copy->respond_ns >= view->cut_ns) {
                if (copy->responded)
                    view->cut_unknown++;
                copy->responded = false;
                copy->respond_ns = UINT64_MAX;
            }
            if (copy->invoke_ns < view->base_ns)
                view->base_ns = copy->invoke_ns;
        }
    }
    if (view->base_ns == UINT64_MAX)
        view->base_ns = 0;
    return 0;
}

void cask__view_free(cask__view *view)
{
    free(view->ops);
    memset(view, 0, sizeof(*view));
}
