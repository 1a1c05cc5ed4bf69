/*
 * stress/check/lincheck.h: record what a concurrent structure returned, then check it.
 *
 * A stress scenario (or your own test) records every operation its threads perform into a
 * cask_history: the invocation (kind, key, argument) just before the call, the response (result
 * value and status) just after it. After joining the threads, the main thread asks whether the
 * history is linearizable (Herlihy & Wing 1990) with respect to a sequential model of the
 * structure: is there one order of all the operations that respects real time (an operation that
 * returned before another was invoked comes first) in which every operation returns exactly what
 * it returned?
 *
 * Three checks, by cost:
 *   cask_lin_check           exact, for any model: Wing & Gong's search with Lowe's memoisation,
 *                            as in Porcupine. Exponential in the worst case, so it runs under a
 *                            step budget and answers UNKNOWN, never OK, when the budget runs out.
 *   cask_check_queue_unique  necessary conditions for a FIFO queue whose enqueued values are
 *                            unique, in O(n log n) time: for long runs.
 *   cask_check_conservation, cask_check_no_duplicates, cask_check_producer_order
 *                            on plain arrays of values: nothing lost, nothing invented, nothing
 *                            taken twice, every producer's items seen in order.
 *
 * How long a history the exact check can take. A step (one model call) costs well under a
 * microsecond with the shipped models; operations that do not overlap cost one step each. What
 * costs is an ambiguity resolved late: the search must guess the order of overlapping
 * operations, and a wrong guess that only later operations expose is explored again for every
 * guess made in between; proving a violation means exhausting every guess before it. Measured
 * on random executions of a queue with unique values (200 histories each): linearizable ones
 * are OK in at most 1,600 steps at 4 threads x 600 operations, 14,000 at 6 x 600, 860,000 at
 * 8 x 400; with one result made impossible, 92% are VIOLATION at 4 x 600 and two thirds at
 * 6 x 600, the rest UNKNOWN (budget). So: check in rounds of a few hundred operations per
 * thread, each round starting from a known state (drain the queue, reset the history); make
 * queue values unique (cask_check_tag); run cask_check_queue_unique first, which finds lost,
 * invented, repeated and reordered values at once on any length; count UNKNOWN rounds rather
 * than fail them, and shorten the rounds if a correct structure gets many.
 *
 * Recording adds no synchronisation. Each thread index owns one preallocated buffer that only
 * the thread using that index writes; stamps come from clock_gettime(CLOCK_MONOTONIC). There is
 * no shared counter, lock or atomic in the recording path, so ThreadSanitizer sees no
 * happens-before edge between workers that the structure under test did not create itself:
 * recording cannot hide the races the harness hunts. (history.c explains why the clock still
 * gives a correct real-time order.)
 *
 * Concurrency table for one history ("yes": may run at the same time in different threads):
 *
 *                             invoke/respond on   invoke/respond on   read-only calls   other calls
 *                             thread index i      index j != i        (checks, queries)
 *   invoke/respond, index i        no                  yes                 no                no
 *   read-only calls                no                  no                  yes               no
 *   other calls (create, reset,    no                  no                  no                no
 *   append, destroy)
 *
 * A thread index may move to another thread only through a happens-before edge (typically: the
 * first thread is joined). Read the history (check it) only after joining every thread that
 * recorded into it: the join is what makes their buffers visible to the main thread.
 *
 * Progress: invoke and respond are wait-free and never allocate. The checks allocate, run on
 * the calling thread, and touch nothing shared but the history they read.
 *
 * Errors: functions that can fail return 0 (or a non-negative result) or a negative code; the
 * codes are cask's (include/cask/cask.h, with the same values; this library does not depend on
 * the cask library, and an identical redefinition of these macros is legal C). A failed call
 * changes nothing. The checks never fail with a code: an error (out of memory, a bad argument)
 * makes their verdict CASK_LIN_UNKNOWN, with the reason in the explanation and the code in
 * cask_lin_stats.error.
 *
 * Example (a queue, in a stress scenario; see stress/harness.h for the cask_stress_* calls):
 *
 *     // worker with thread index i, values tagged so that they are unique
 *     uint64_t v = cask_check_tag((uint32_t)i, seq++);
 *     long h = cask_history_invoke(hist, i, CASK_OP_ENQUEUE, 0, v);
 *     int rc = my_queue_push(q, v);
 *     cask_history_respond(hist, i, h, 0, rc);
 *     ...
 *     h = cask_history_invoke(hist, i, CASK_OP_DEQUEUE, 0, 0);
 *     rc = my_queue_pop(q, &v);                    // 0, or CASK_EEMPTY
 *     cask_history_respond(hist, i, h, rc == 0 ? v : 0, rc);
 *
 *     // main thread, after joining the workers of this round
 *     char why[2048];
 *     if (cask_check_queue_unique(hist, why, sizeof(why)) == CASK_LIN_VIOLATION ||
 *         cask_lin_check(hist, &cask_lin_model_queue, NULL, NULL, why, sizeof(why)) ==
 *             CASK_LIN_VIOLATION)
 *         cask_stress_fail(run, "%s", why);
 *     cask_stress_add_checked(run, 1);
 *     // drain q (unrecorded), cask_history_reset(hist), next round
 */
#ifndef CASK_STRESS_CHECK_LINCHECK_H
#define CASK_STRESS_CHECK_LINCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* cask's error codes used here; the values are those of include/cask/cask.h (a test checks). */
#define CASK_ENOMEM (-1) /* an allocation failed; nothing was changed */
#define CASK_EINVAL (-2) /* an argument is out of its documented range */
#define CASK_EEMPTY (-3) /* nothing to take: the structure is empty */
#define CASK_EFULL (-4)  /* no room: a bounded structure is at capacity */
#define CASK_EEXIST (-7) /* the key or item is already present */
#define CASK_ENOENT (-8) /* the key or item is not present */

/* ---- Operations ---- */

/*
 * The operation kinds the shipped models understand. A kind is an int so that your own model
 * can use its own: numbers from CASK_OP_USER up are never used by cask.
 */
typedef enum cask_op_kind {
    CASK_OP_READ = 1, /* register: value = the value read; status 0 */
    CASK_OP_WRITE,    /* register: arg = the value written; status 0 */
    CASK_OP_ENQUEUE,  /* queue: arg = the value enqueued; status 0 */
    CASK_OP_DEQUEUE,  /* queue: value = the value dequeued, status 0; or status CASK_EEMPTY */
    CASK_OP_INSERT,   /* map: insert-if-absent key -> arg; status 0 or CASK_EEXIST */
    CASK_OP_PUT,      /* map: upsert key -> arg; status 0 */
    CASK_OP_LOOKUP,   /* map: value = the value of key, status 0; or status CASK_ENOENT */
    CASK_OP_REMOVE,   /* map: remove key; status 0 or CASK_ENOENT */
    CASK_OP_PUSH,     /* vector: append arg; value = its index; status 0 */
    CASK_OP_GET,      /* vector: value = element key, status 0; CASK_ENOENT if key >= length */
    CASK_OP_SET,      /* vector: element key = arg, status 0; CASK_ENOENT if key >= length */
    CASK_OP_LENGTH,   /* vector: value = the length; status 0 */
    CASK_OP_USER = 256
} cask_op_kind;

/* One recorded operation: what was asked, what came back, and when. */
typedef struct cask_op {
    uint64_t invoke_ns;  /* CLOCK_MONOTONIC, taken before the operation started */
    uint64_t respond_ns; /* taken after it returned; UINT64_MAX while it has no response */
    uint64_t key;        /* the key or index it acts on (0 when it has none) */
    uint64_t arg;        /* its argument: the value written, enqueued, inserted, pushed */
    uint64_t value;      /* its result value (meaningful when status says so) */
    int kind;            /* a cask_op_kind, or your model's own from CASK_OP_USER up */
    int status;          /* its result status: 0, or a negative code such as CASK_EEMPTY */
    int thread;          /* the thread index that recorded it */
    uint32_t seq;        /* its position in that thread's buffer */
    bool responded;      /* false: no response was recorded, the result is unknown */
} cask_op;

/*
 * cask_op_describe - writes a short description of op into buf, such as
 * "t1#7 dequeue() -> 5" or "t0#2 insert(k=3, 9) -> EEXIST" (cap bytes at most, always
 * NUL-terminated when cap > 0). Knows the kinds above; others are shown as numbers.
 * Context: any thread; touches only op and buf.
 */
void cask_op_describe(const cask_op *op, char *buf, size_t cap);

/* ---- Recording ---- */

/* A history: one buffer of operations per thread index. Opaque. */
typedef struct cask_history cask_history;

/*
 * cask_history_create - a history for thread indices 0..threads-1, each with room for
 * max_ops_per_thread operations (allocated now: recording never allocates).
 * Returns 0 and sets *out; CASK_EINVAL if out is NULL, threads < 1 or max_ops_per_thread is 0
 * or too large to allocate; CASK_ENOMEM if allocation failed (*out untouched).
 * Context: any thread, before the recording threads start. Memory: cask_history_destroy.
 */
int cask_history_create(int threads, size_t max_ops_per_thread, cask_history **out);

/*
 * cask_history_destroy - frees the history and its buffers. NULL is accepted.
 * Context: no other call on this history may run concurrently or afterwards.
 */
void cask_history_destroy(cask_history *history);

/*
 * cask_history_reset - forgets every recorded operation and the truncation mark, keeping the
 * buffers, to record another round. Context: as destroy (no concurrent call).
 */
void cask_history_reset(cask_history *history);

/*
 * cask_history_invoke - records the invocation of an operation on thread index `thread`: its
 * kind, key and argument, and the invocation stamp. Call it right before the operation starts.
 * Returns a handle (>= 0) for cask_history_respond; CASK_EFULL if the thread's buffer is full:
 * the operation is not recorded and the history is marked truncated (see cask_lin_check for
 * what that means for a verdict); CASK_EINVAL if history is NULL or thread is out of range.
 * Context: only the thread currently using index `thread`; other indices may record
 * concurrently. Progress: wait-free, no allocation, no synchronisation with other threads.
 * The stamp is taken after the thread's previous response stamp (the call re-reads the clock
 * while it has not advanced, at most one clock tick), so a thread's operations are ordered.
 */
long cask_history_invoke(cask_history *history, int thread, int kind, uint64_t key,
                         uint64_t arg);

/*
 * cask_history_respond - records the response of the operation `handle` returned by invoke on
 * the same thread index: its result value and status, and the response stamp. Call it right
 * after the operation returned.
 * Returns 0; also 0, doing nothing, for a negative handle (an invocation that was not recorded),
 * so callers need not test invoke's result; CASK_EINVAL if thread is out of range, or handle is
 * not an unanswered invocation of this thread index (nothing is recorded then).
 * Context, progress: as cask_history_invoke.
 */
int cask_history_respond(cask_history *history, int thread, long handle, uint64_t value,
                         int status);

/*
 * cask_history_append - adds a complete operation record, stamps included, to the buffer of
 * op->thread: for hand-written histories (tests, or histories recorded by other means). The
 * record is copied; its seq is set to its position. A record with responded == false is a
 * pending operation (its respond_ns is taken as UINT64_MAX).
 * Returns 0; CASK_EFULL if that buffer is full (not recorded, history marked truncated, as for
 * invoke); CASK_EINVAL if an argument is NULL, op->thread is out of range, or op responded
 * before it was invoked.
 * Context: no concurrent call on this history (it is not a recording call).
 */
int cask_history_append(cask_history *history, const cask_op *op);

/* cask_history_threads - the number of thread indices. Context: any read-only context. */
int cask_history_threads(const cask_history *history);

/*
 * cask_history_count - how many operations thread index `thread` recorded (0 for an index out
 * of range). Context: read-only; after the recording threads were joined.
 */
size_t cask_history_count(const cask_history *history, int thread);

/*
 * cask_history_op - the index-th operation recorded by `thread`, or NULL if out of range. The
 * pointer is valid until the history is reset or destroyed. Context: as cask_history_count.
 */
const cask_op *cask_history_op(const cask_history *history, int thread, size_t index);

/*
 * cask_history_truncated - true if some operation could not be recorded because its thread's
 * buffer was full. Context: as cask_history_count.
 */
bool cask_history_truncated(const cask_history *history);

/* ---- Sequential models ---- */

/*
 * A sequential specification, as function pointers over opaque states. States are immutable:
 * step never changes the state it is given; it returns a new one, or the same pointer when the
 * operation leaves the state as it is. The checker frees each state it was given exactly once
 * with free_state, at the latest when the check returns (states it keeps in its cache live
 * until then).
 *
 * An operation whose result is unknown (op->responded == false: it never returned, or it
 * straddles a truncation point) may have any result: step must accept it and apply its effect,
 * which for a deterministic model depends on the state alone. Every shipped model is total
 * (each operation is possible in every state) and deterministic, and so must yours be for such
 * operations to be checked soundly. The functions must be reentrant and free of side effects
 * other than allocating and freeing states: several checks may run at once.
 */
typedef struct cask_lin_model {
    const char *name; /* "queue": used in explanations */
    /*
     * true: operations on different keys are independent (each key is its own object), so the
     * checker splits the history by op->key and checks each part separately: linearizability
     * is local (Herlihy & Wing), and n operations on k keys cost k small searches, not one
     * large one. The model's states then describe one key.
     */
    bool partition_by_key;
    /*
     * Optional (may be NULL): called once per part before init, with the part's operations (in
     * no particular order; valid until finish); may build a context that init receives and the
     * states may point to, for rules that need the whole history (the queue model uses it to
     * reject hopeless enqueue orders early). Sets *context; returns 0 or CASK_ENOMEM.
     */
    int (*prepare)(const cask_op *const *ops, size_t n, void **context);
    /* Optional: frees the context, after every state of the part was freed. */
    void (*finish)(void *context);
    /* Sets *state to a new initial state; context is prepare's (NULL without prepare).
     * Returns 0, or CASK_ENOMEM. */
    int (*init)(void *context, void **state);
    /*
     * If op, with its recorded result (or any result, when !op->responded), is possible in
     * state: sets *next to the state after it (state itself if unchanged) and returns 1.
     * If it is not possible: returns 0 and leaves *next alone. It may also return 0 for a
     * possible operation after which no linearization can exist, if it can prove that (from
     * its prepare context: the queue model does); a wrong 0 makes the checker unsound.
     * Returns CASK_ENOMEM if a new state could not be allocated, CASK_EINVAL if the model does
     * not know op->kind.
     */
    int (*step)(const void *state, const cask_op *op, void **next);
    /* True if the two states are the same abstract state. */
    bool (*equal)(const void *a, const void *b);
    /* A hash consistent with equal (equal states hash alike). */
    uint64_t (*hash)(const void *state);
    /* Frees a state made by init or step. */
    void (*free_state)(void *state);
    /* Optional (may be NULL): writes a short description of state into buf (NUL-terminated). */
    void (*describe_state)(const void *state, char *buf, size_t cap);
    /* Optional (may be NULL, then cask_op_describe is used): describes op. */
    void (*describe_op)(const cask_op *op, char *buf, size_t cap);
    /* Optional (may be NULL: 64 bytes): the bytes a state occupies, for the memory budget. */
    size_t (*state_bytes)(const void *state);
    /*
     * Optional (may be NULL: none is): true if op, with its recorded result, leaves unchanged
     * every state in which step accepts it: a read, a lookup, a dequeue that returned EMPTY.
     * The checker then linearizes such an operation as soon as the state accepts it, without
     * trying orders that put it later (they cannot succeed where that one fails: lincheck.c),
     * which prunes most of the search where observers overlap. A wrong true makes the checker
     * unsound (it may report a violation that is not one); a wrong false only makes it slower.
     * An operation with an unknown result is an observer only if every result would be one.
     */
    bool (*observer)(const cask_op *op);
} cask_lin_model;

/*
 * The shipped models. A status other than the ones listed for a kind makes the operation
 * impossible in every state (a violation); a kind the model does not know is CASK_EINVAL.
 *
 * cask_lin_model_register  a register per key (use key 0 for one register), initially 0.
 *                          WRITE(arg) -> 0; READ -> the last value written. For snapshots.
 * cask_lin_model_queue     an unbounded FIFO queue (key ignored). ENQUEUE(arg) -> 0;
 *                          DEQUEUE -> the oldest value, or CASK_EEMPTY when empty. Values need
 *                          not be unique, but unique ones check much faster: the model then
 *                          rejects an enqueue order the later dequeues rule out at once, and
 *                          treats values no dequeue returned as interchangeable
 *                          (queue_model.c), instead of trying every order of them.
 * cask_lin_model_map       a map, checked per key (partition_by_key). INSERT(key, arg) -> 0 if
 *                          absent (inserts), CASK_EEXIST if present (no change); PUT(key, arg)
 *                          -> 0 (inserts or replaces); LOOKUP(key) -> the value, or CASK_ENOENT;
 *                          REMOVE(key) -> 0 if present (removes), CASK_ENOENT if absent.
 *                          Also a set: use INSERT/LOOKUP/REMOVE with any constant arg.
 * cask_lin_model_vector    a growable array (key = index). PUSH(arg) -> value = its index;
 *                          GET(i) -> element i, or CASK_ENOENT if i >= length; SET(i, arg) -> 0,
 *                          or CASK_ENOENT if i >= length (no change); LENGTH -> value = length.
 */
extern const cask_lin_model cask_lin_model_register;
extern const cask_lin_model cask_lin_model_queue;
extern const cask_lin_model cask_lin_model_map;
extern const cask_lin_model cask_lin_model_vector;

/* ---- The linearizability checker ---- */

typedef enum cask_lin_result {
    CASK_LIN_OK = 0,        /* the history is linearizable (and was fully checked) */
    CASK_LIN_VIOLATION = 1, /* no linearization exists: the structure misbehaved */
    CASK_LIN_UNKNOWN = 2,   /* could not decide: budget spent, history truncated, or an error */
} cask_lin_result;

/* Limits; zero fields take the defaults. Pass NULL for all defaults. */
typedef struct cask_lin_options {
    uint64_t max_steps; /* model steps per partition (default CASK_LIN_DEFAULT_STEPS) */
    size_t max_memory;  /* bytes of memo cache per partition, the states it keeps included
                         * (default CASK_LIN_DEFAULT_MEMORY) */
} cask_lin_options;

#define CASK_LIN_DEFAULT_STEPS UINT64_C(5000000)   /* a few seconds */
#define CASK_LIN_DEFAULT_MEMORY ((size_t)256 << 20) /* 256 MiB */

/* What a check did, for reports and tests. */
typedef struct cask_lin_stats {
    uint64_t steps;       /* model steps taken, all partitions */
    size_t ops;           /* operations checked (after a truncation cut) */
    size_t partitions;    /* parts checked separately (1 unless the model is per key) */
    size_t cache_entries; /* memoised configurations, all partitions */
    int error;            /* 0, or CASK_ENOMEM / CASK_EINVAL if that made the verdict UNKNOWN */
} cask_lin_stats;

/*
 * cask_lin_check - decides whether history is linearizable with respect to model.
 *
 * Returns CASK_LIN_OK, CASK_LIN_VIOLATION or CASK_LIN_UNKNOWN, and writes a human-readable
 * explanation into explain (at most explain_cap bytes, NUL-terminated; explain may be NULL when
 * explain_cap is 0). For a violation it names the part (key) that fails, the longest
 * linearizable prefix the search found (its last operations and the state after it), the
 * operation that could not take effect before it returned, and the operations that could have
 * come next at that point.
 *
 * Soundness: VIOLATION is certain (up to a model that is wrong); OK is certain; everything
 * else is UNKNOWN:
 *   - the step budget or memory budget of a partition ran out: UNKNOWN, never OK (a violation
 *     found in another partition still gives VIOLATION);
 *   - the history is truncated: the checker checks the prefix-closed part that the missing
 *     operations cannot have influenced: the operations invoked before the first operation
 *     that was not recorded, where those that had not responded by then count as having an
 *     unknown result. A violation there is a real violation (VIOLATION); otherwise the verdict
 *     is UNKNOWN, never OK, and the explanation says how much was checked;
 *   - an operation with no response is a pending operation: it may have taken effect at any
 *     point after its invocation, with any result (it is checked as responding at the end of
 *     time, which also covers "never took effect" for total models);
 *   - allocation failure or an invalid argument (NULL history or model, a model without init,
 *     step, equal, hash or free_state) gives UNKNOWN, with stats->error set.
 * options may be NULL (defaults); stats may be NULL.
 *
 * Context: read-only on history: any thread, after every recording thread was joined; several
 * checks may run concurrently on the same history. Progress: bounded by the budgets:
 * O(max_steps) model steps per partition, each with O(n / 64) work for the memo cache.
 * Memory: allocates while it runs and frees everything before it returns.
 */
cask_lin_result cask_lin_check(const cask_history *history, const cask_lin_model *model,
                               const cask_lin_options *options, cask_lin_stats *stats,
                               char *explain, size_t explain_cap);

/* ---- Cheaper checks for long runs ---- */

/*
 * cask_check_queue_unique - checks the ENQUEUE and DEQUEUE operations of history (others are
 * ignored) against conditions every linearizable FIFO queue history satisfies when each value
 * is enqueued at most once (the "bad patterns" of Henzinger, Sezgin & Vafeiadis, "Aspect-
 * oriented linearizability proofs", CONCUR 2013, with a simplified emptiness check):
 *   1. every dequeued value was enqueued (by an enqueue that did not fail);
 *   2. no value is dequeued twice;
 *   3. no dequeue of v responded before the enqueue of v was invoked;
 *   4. FIFO between non-overlapping pairs: if enq(a) responded before enq(b) was invoked and b
 *      was dequeued, then a was dequeued too, and deq(b) did not respond before deq(a) was
 *      invoked;
 *   5. a dequeue that returned CASK_EEMPTY did not run entirely while some value v was
 *      certainly in the queue: enq(v) responded before it was invoked and deq(v) was invoked
 *      after it responded (or never happened).
 * "a was dequeued" / "never happened" are only concluded when the history is complete: not
 * truncated and with no dequeue that lacks a response; otherwise those parts are skipped.
 * Returns CASK_LIN_VIOLATION with the first problem found described in explain;
 * CASK_LIN_UNKNOWN if a value was enqueued twice (the conditions do not apply), if the history
 * is truncated and nothing was found (the recorded part passed, but missing operations could
 * matter), or on allocation failure; CASK_LIN_OK if every condition holds. OK means these
 * necessary conditions hold, not that the history is linearizable (condition 5 checks single
 * values; a dequeue returning EMPTY while a changing set of values covered it is not caught):
 * use cask_lin_check with cask_lin_model_queue on short histories for the exact answer.
 * Context: read-only on history, as cask_lin_check. Time O(n log n), memory O(n).
 */
cask_lin_result cask_check_queue_unique(const cask_history *history, char *explain,
                                        size_t explain_cap);

/*
 * cask_check_conservation - checks that the multiset of values put into a structure equals
 * the multiset taken out plus the multiset still in it (for example: what producers enqueued,
 * what consumers dequeued, and what a final drain found): nothing lost, nothing invented,
 * nothing duplicated. Arrays may be NULL when their count is 0; none is modified.
 * Returns CASK_LIN_OK, CASK_LIN_VIOLATION (explain names one value whose counts differ, with
 * its counts), or CASK_LIN_UNKNOWN on allocation failure or an invalid argument (NULL array
 * with a non-zero count).
 * Context: any thread; reads only its arguments. Time O(n log n), memory O(n).
 */
cask_lin_result cask_check_conservation(const uint64_t *put, size_t n_put, const uint64_t *taken,
                                        size_t n_taken, const uint64_t *remaining,
                                        size_t n_remaining, char *explain, size_t explain_cap);

/*
 * cask_check_no_duplicates - checks that no value occurs twice in values[0..n).
 * Returns CASK_LIN_OK, CASK_LIN_VIOLATION (explain names a duplicated value and two of its
 * positions), or CASK_LIN_UNKNOWN on allocation failure or values == NULL with n > 0.
 * Context, cost: as cask_check_conservation.
 */
cask_lin_result cask_check_no_duplicates(const uint64_t *values, size_t n, char *explain,
                                         size_t explain_cap);

/*
 * Tagged values for per-producer order: producer id in the top 24 bits, sequence number in the
 * low 40. A producer numbers its items 0, 1, 2, ... (any strictly increasing sequence works).
 */
#define CASK_CHECK_TAG_SEQ_BITS 40
static inline uint64_t cask_check_tag(uint32_t producer, uint64_t seq)
{
    return ((uint64_t)producer << CASK_CHECK_TAG_SEQ_BITS) |
           (seq & ((UINT64_C(1) << CASK_CHECK_TAG_SEQ_BITS) - 1));
}
static inline uint32_t cask_check_tag_producer(uint64_t tagged)
{
    return (uint32_t)(tagged >> CASK_CHECK_TAG_SEQ_BITS);
}
static inline uint64_t cask_check_tag_seq(uint64_t tagged)
{
    return tagged & ((UINT64_C(1) << CASK_CHECK_TAG_SEQ_BITS) - 1);
}

/*
 * cask_check_producer_order - checks that one consumer saw each producer's items in the order
 * they were produced: in seen[0..n) (the tagged values one consumer took, in the order it took
 * them), the sequence numbers of each producer strictly increase. This is what a FIFO queue
 * promises every consumer, however many producers and consumers share it. Call it once per
 * consumer.
 * Returns CASK_LIN_OK, CASK_LIN_VIOLATION (explain names the producer and the two positions),
 * or CASK_LIN_UNKNOWN on allocation failure or seen == NULL with n > 0.
 * Context, cost: as cask_check_conservation.
 */
cask_lin_result cask_check_producer_order(const uint64_t *seen, size_t n, char *explain,
                                          size_t explain_cap);

#ifdef __cplusplus
}
#endif

#endif /* CASK_STRESS_CHECK_LINCHECK_H */
