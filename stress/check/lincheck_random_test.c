/*
 * lincheck_random_test.c: the exact checker against random histories and an independent oracle.
 *
 *   1. Executions: threads invoke random operations on a reference implementation (written
 *      here, separately from models.c); each operation takes effect at a random moment between
 *      its invocation and its response. Such a history is linearizable by construction, with
 *      any amount of overlap, and with some operations left without a response (whether or not
 *      they took effect). The checker must say OK, for every model, at 2 to 6 threads, up to
 *      1000 operations. (The queue workload leans towards dequeues when the queue grows, and
 *      its values repeat: lincheck.h explains why long-lived queue contents are costly; the
 *      unique-value case with a real queue is history_threads_test's.)
 *   1b. Queue executions with unique values and no bias towards short queues, as stress
 *      scenarios record them: OK, and the cheap check agrees.
 *   2. The same histories with one result changed to an impossible one (a value nobody wrote,
 *      an index or length past every push, an error status the operation cannot return): the
 *      checker must say VIOLATION.
 *   3. Small histories (up to 8 operations) from executions, then mutated at random (results,
 *      statuses, stamps, responses dropped): the checker's verdict must equal a brute-force
 *      oracle that tries every order allowed by real time on the reference implementation
 *      (and, for operations without a response, also leaving them out). Both verdicts occur
 *      many times (counted and required). The oracle knows nothing of partitions, so this also
 *      tests the per-key split of the register and map models. For queues with unique values,
 *      cask_check_queue_unique must be sound: it never says VIOLATION where the oracle says
 *      linearizable (how many of the rejected histories it catches is printed).
 * The seed is fixed (set CASK_TEST_SEED to vary it) and printed.
 */
#include <inttypes.h>
#include <stdint.h>

#include "stress/check/check_test.h"

enum { M_REGISTER, M_QUEUE, M_MAP, M_VECTOR, MODELS };
static const cask_lin_model *const models[MODELS] = {
    &cask_lin_model_register, &cask_lin_model_queue, &cask_lin_model_map, &cask_lin_model_vector};
static const char *const names[MODELS] = {"register", "queue", "map", "vector"};

#define KEYS 3
#define CAP 2048 /* operations per generated history, at most */
#define IMPOSSIBLE UINT64_C(1000000)

static uint64_t rng;

static uint64_t rnd(void)
{
    uint64_t z = (rng += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t n)
{
    return rnd() % n;
}

/* ---- the reference implementation: one object of each model, plain sequential code ---- */

typedef struct ref {
    uint64_t reg[KEYS];
    bool present[KEYS];
    uint64_t val[KEYS];
    size_t qhead, qtail, vlen;
    uint64_t q[CAP];
    uint64_t vec[CAP];
} ref;

/* ref_copy - copies only what is in use (the oracle copies at every node). */
static void ref_copy(ref *dst, const ref *src)
{
    memcpy(dst, src, offsetof(ref, q));
    memcpy(dst->q + src->qhead, src->q + src->qhead, (src->qtail - src->qhead) * sizeof(uint64_t));
    memcpy(dst->vec, src->vec, src->vlen * sizeof(uint64_t));
}

/* ref_run - performs op and returns its result in *value and *status. */
static void ref_run(ref *r, const cask_op *op, uint64_t *value, int *status)
{
    uint64_t k = op->key;
    *value = 0;
    *status = 0;
    switch (op->kind) {
    case CASK_OP_READ:
        *value = r->reg[k];
        break;
    case CASK_OP_WRITE:
        r->reg[k] = op->arg;
        break;
    case CASK_OP_ENQUEUE:
        r->q[r->qtail++] = op->arg;
        break;
    case CASK_OP_DEQUEUE:
        if (r->qhead == r->qtail)
            *status = CASK_EEMPTY;
        else
            *value = r->q[r->qhead++];
        break;
    case CASK_OP_INSERT:
        if (r->present[k]) {
            *status = CASK_EEXIST;
        } else {
            r->present[k] = true;
            r->val[k] = op->arg;
        }
        break;
    case CASK_OP_PUT:
        r->present[k] = true;
        r->val[k] = op->arg;
        break;
    case CASK_OP_LOOKUP:
        if (r->present[k])
            *value = r->val[k];
        else
            *status = CASK_ENOENT;
        break;
    case CASK_OP_REMOVE:
        if (r->present[k])
            r->present[k] = false;
        else
            *status = CASK_ENOENT;
        break;
    case CASK_OP_PUSH:
        *value = r->vlen;
        r->vec[r->vlen++] = op->arg;
        break;
    case CASK_OP_GET:
        if (k < r->vlen)
            *value = r->vec[k];
        else
            *status = CASK_ENOENT;
        break;
    case CASK_OP_SET:
        if (k < r->vlen)
            r->vec[k] = op->arg;
        else
            *status = CASK_ENOENT;
        break;
    case CASK_OP_LENGTH:
        *value = r->vlen;
        break;
    default:
        EXPECT(!"unknown kind");
    }
}

/* returns_value - whether a successful op of this kind returns a value. */
static bool returns_value(int kind)
{
    return kind == CASK_OP_READ || kind == CASK_OP_DEQUEUE || kind == CASK_OP_LOOKUP ||
           kind == CASK_OP_PUSH || kind == CASK_OP_GET || kind == CASK_OP_LENGTH;
}

/*
 * random_op - an invocation for model m. Queue values are unique when `unique` (the shape of a
 * stress scenario with tagged values); otherwise they repeat, and queue operations lean towards
 * dequeues when the queue (r) holds more than a few values: with repeated values the exact
 * check of long-lived queue contents costs time exponential in the overlapping enqueues still
 * queued (lincheck.h), so such workloads keep the queue short.
 */
static cask_op random_op(const ref *r, int m, bool unique, uint64_t *next_value)
{
    cask_op op = {0};
    uint64_t arg = unique ? ++*next_value : 1 + below(3);
    switch (m) {
    case M_REGISTER:
        op.kind = below(2) ? CASK_OP_READ : CASK_OP_WRITE;
        op.key = below(2);
        break;
    case M_QUEUE:
        if (unique) /* the stress-scenario shape: tagged values, no bias */
            op.kind = below(2) == 0 ? CASK_OP_ENQUEUE : CASK_OP_DEQUEUE;
        else
            op.kind = below(r->qtail - r->qhead > 4 ? 4 : 2) == 0 ? CASK_OP_ENQUEUE
                                                                   : CASK_OP_DEQUEUE;
        break;
    case M_MAP: {
        static const int kinds[] = {CASK_OP_INSERT, CASK_OP_PUT, CASK_OP_LOOKUP, CASK_OP_REMOVE};
        op.kind = kinds[below(4)];
        op.key = below(KEYS);
        break;
    }
    default: {
        static const int kinds[] = {CASK_OP_PUSH, CASK_OP_GET, CASK_OP_SET, CASK_OP_LENGTH};
        op.kind = kinds[below(4)];
        op.key = below(6);
        break;
    }
    }
    op.arg = arg;
    return op;
}

/*
 * execute - a linearizable history of n operations of model m by `threads` threads into
 * ops[0..*count): every step, one random thread invokes, takes effect, or responds. With
 * `pending`, threads still busy at the end may stop without a response.
 */
static void execute(int m, int threads, int n, bool pending, bool unique, cask_op *ops,
                    size_t *count)
{
    static ref r;
    memset(&r, 0, sizeof(r));
    struct {
        int phase; /* 0 idle, 1 invoked, 2 took effect */
        cask_op op;
    } sim[8] = {{0}};
    uint64_t now = 0, next_value = 0;
    int started = 0, busy = 0;
    *count = 0;
    while (started < n || busy > 0) {
        int t = (int)below((uint64_t)threads);
        now += 1 + below(3);
        if (started == n && pending && sim[t].phase != 0 && below(3) == 0) {
            sim[t].op.responded = false; /* stops here, maybe after taking effect */
            sim[t].op.respond_ns = UINT64_MAX;
            ops[(*count)++] = sim[t].op;
            sim[t].phase = 0;
            busy--;
            continue;
        }
        switch (sim[t].phase) {
        case 0:
            if (started == n)
                break;
            sim[t].op = random_op(&r, m, unique, &next_value);
            sim[t].op.thread = t;
            sim[t].op.invoke_ns = now;
            sim[t].phase = 1;
            started++;
            busy++;
            break;
        case 1:
            ref_run(&r, &sim[t].op, &sim[t].op.value, &sim[t].op.status);
            sim[t].phase = 2;
            break;
        default:
            sim[t].op.respond_ns = now;
            sim[t].op.responded = true;
            ops[(*count)++] = sim[t].op;
            sim[t].phase = 0;
            busy--;
            break;
        }
    }
}

static cask_history *history_of(const cask_op *ops, size_t count)
{
    cask_history *h = NULL; /* room for every operation on any thread, and no more */
    EXPECT(cask_history_create(8, count > 0 ? count : 1, &h) == 0);
    for (size_t i = 0; i < count; i++)
        EXPECT(cask_history_append(h, &ops[i]) == 0);
    return h;
}

/* ---- the oracle ---- */

static const cask_op *o_ops;
static size_t o_n;

/* oracle_from - true if the unplaced operations can be ordered after state r. */
static bool oracle_from(const ref *r, uint32_t placed)
{
    bool done = true;
    for (size_t i = 0; i < o_n; i++)
        if (!(placed & (1u << i)) && o_ops[i].responded)
            done = false;
    if (done)
        return true; /* what is left never responded: it may never have taken effect */
    for (size_t i = 0; i < o_n; i++) {
        if (placed & (1u << i))
            continue;
        bool blocked = false; /* some unplaced operation finished before this one started */
        for (size_t j = 0; j < o_n && !blocked; j++)
            blocked = j != i && !(placed & (1u << j)) && o_ops[j].responded &&
                      o_ops[j].respond_ns < o_ops[i].invoke_ns;
        if (blocked)
            continue;
        ref next;
        ref_copy(&next, r);
        uint64_t value;
        int status;
        ref_run(&next, &o_ops[i], &value, &status);
        if (o_ops[i].responded &&
            (status != o_ops[i].status || (status == 0 && returns_value(o_ops[i].kind) &&
                                           value != o_ops[i].value)))
            continue;
        if (oracle_from(&next, placed | (1u << i)))
            return true;
    }
    return false;
}

static bool oracle(const cask_op *ops, size_t n)
{
    static ref r;
    memset(&r, 0, sizeof(r));
    o_ops = ops;
    o_n = n;
    return oracle_from(&r, 0);
}

/* mutate - one random change to one operation. */
static void mutate(cask_op *ops, size_t n)
{
    cask_op *op = &ops[below(n)];
    switch (below(5)) {
    case 0:
    case 1:
        op->value = below(4);
        break;
    case 2: {
        static const int statuses[] = {0, CASK_EEMPTY, CASK_EEXIST, CASK_ENOENT};
        op->status = statuses[below(4)];
        break;
    }
    case 3: {
        uint64_t a = below(60), b = below(60);
        op->invoke_ns = a < b ? a : b;
        op->respond_ns = a < b ? b : a;
        break;
    }
    default:
        op->responded = !op->responded;
        break;
    }
    if (!op->responded)
        op->respond_ns = UINT64_MAX;
    else if (op->respond_ns == UINT64_MAX || op->respond_ns < op->invoke_ns)
        op->respond_ns = op->invoke_ns + 5;
}

/* make_impossible - gives a responded op a result no order can produce. */
static void make_impossible(cask_op *op)
{
    if (returns_value(op->kind)) {
        op->status = 0;
        op->value = IMPOSSIBLE + below(1000);
    } else {
        op->status = CASK_EINVAL;
    }
}

static char why[8192];

static void test_executions(void)
{
    static cask_op ops[CAP];
    static const int sizes[] = {50, 200, 1000};
    /* Proving a violation explores every configuration before it: for a queue whose contents
     * live long, that is exponential in the concurrent enqueues still queued. A smaller budget
     * keeps the test fast; at 1000 operations UNKNOWN (budget) is allowed, never OK. */
    const cask_lin_options bad_budget = {.max_steps = 300000};
    for (int m = 0; m < MODELS; m++) {
        uint64_t steps_ok = 0, steps_bad = 0;
        int histories = 0, violations = 0, unknown = 0;
        for (int threads = 2; threads <= 6; threads++)
            for (int s = 0; s < 3; s++)
                for (int rep = 0; rep < 2; rep++) {
                    size_t count;
                    execute(m, threads, sizes[s], rep == 1, false, ops, &count);
                    cask_history *h = history_of(ops, count);
                    cask_lin_stats st;
                    cask_lin_result r = cask_lin_check(h, models[m], NULL, &st, why, sizeof(why));
                    if (r != CASK_LIN_OK)
                        fprintf(stderr, "%s, %d threads, %d ops (%" PRIu64 " steps, %zu memo "
                                "entries):\n%s", names[m], threads, sizes[s], st.steps,
                                st.cache_entries, why);
                    EXPECT_EQ(r, CASK_LIN_OK);
                    steps_ok += st.steps;
                    cask_history_destroy(h);
                    size_t victim;
                    do
                        victim = below(count);
                    while (!ops[victim].responded);
                    make_impossible(&ops[victim]);
                    h = history_of(ops, count);
                    r = cask_lin_check(h, models[m], &bad_budget, &st, why, sizeof(why));
                    bool budget = r == CASK_LIN_UNKNOWN && st.error == 0 &&
                                  strstr(why, "budget ran out") != NULL && sizes[s] > 200;
                    if (r != CASK_LIN_VIOLATION && !budget)
                        fprintf(stderr, "%s, %d threads, %d ops, op %zu made impossible:\n%s",
                                names[m], threads, sizes[s], victim, why);
                    EXPECT(r == CASK_LIN_VIOLATION || budget);
                    violations += r == CASK_LIN_VIOLATION;
                    unknown += r != CASK_LIN_VIOLATION;
                    steps_bad += st.steps;
                    histories++;
                    cask_history_destroy(h);
                }
        printf("executions, %-8s: %d linearizable histories OK (%" PRIu64 " steps); with one "
               "impossible result: %d VIOLATION, %d UNKNOWN (budget, 1000 ops) (%" PRIu64
               " steps)\n",
               names[m], histories, steps_ok, violations, unknown, steps_bad);
        EXPECT(violations >= histories * 2 / 3);
    }
}

/* Queue executions with unique values and no bias, up to 6 threads: what stress scenarios
 * record. OK must be OK; one impossible result must be VIOLATION or UNKNOWN (budget), and the
 * cheap check must catch a dequeue of a value never enqueued. */
static void test_unique_queue_executions(void)
{
    static cask_op ops[CAP];
    const cask_lin_options bad_budget = {.max_steps = 200000};
    int histories = 0, violations = 0, unknown = 0;
    uint64_t max_ok_steps = 0;
    for (int threads = 2; threads <= 6; threads++)
        for (int rep = 0; rep < 4; rep++) {
            size_t count;
            execute(M_QUEUE, threads, 600, rep % 2 == 1, true, ops, &count);
            cask_history *h = history_of(ops, count);
            cask_lin_stats st;
            cask_lin_result r =
                cask_lin_check(h, &cask_lin_model_queue, NULL, &st, why, sizeof(why));
            if (r != CASK_LIN_OK)
                fprintf(stderr, "unique queue, %d threads:\n%s", threads, why);
            EXPECT_EQ(r, CASK_LIN_OK);
            EXPECT_EQ(cask_check_queue_unique(h, why, sizeof(why)), CASK_LIN_OK);
            max_ok_steps = st.steps > max_ok_steps ? st.steps : max_ok_steps;
            cask_history_destroy(h);
            size_t victim;
            do
                victim = below(count);
            while (!ops[victim].responded);
            make_impossible(&ops[victim]);
            h = history_of(ops, count);
            r = cask_lin_check(h, &cask_lin_model_queue, &bad_budget, &st, why, sizeof(why));
            EXPECT(r == CASK_LIN_VIOLATION ||
                   (r == CASK_LIN_UNKNOWN && strstr(why, "budget ran out") != NULL));
            violations += r == CASK_LIN_VIOLATION;
            unknown += r == CASK_LIN_UNKNOWN;
            if (ops[victim].kind == CASK_OP_DEQUEUE)
                EXPECT_EQ(cask_check_queue_unique(h, why, sizeof(why)), CASK_LIN_VIOLATION);
            histories++;
            cask_history_destroy(h);
        }
    printf("unique-value queues, 2-6 threads x 600 ops: %d OK (at most %" PRIu64 " steps); with "
           "one impossible result: %d VIOLATION, %d UNKNOWN (budget %" PRIu64 " steps)\n",
           histories, max_ok_steps, violations, unknown, bad_budget.max_steps);
    EXPECT(violations >= histories / 3);
}

static void test_against_oracle(void)
{
    static cask_op ops[CAP];
    for (int m = 0; m < MODELS; m++) {
        int agree_ok = 0, agree_bad = 0, unique_caught = 0, unique_applicable = 0;
        for (int rep = 0; rep < 10000; rep++) {
            size_t count;
            bool unique = m == M_QUEUE && rep % 2 == 0;
            execute(m, 2 + (int)below(2), 2 + (int)below(7), below(2) == 0, unique, ops, &count);
            for (int k = (int)below(3); k > 0; k--)
                mutate(ops, count);
            bool expected = oracle(ops, count);
            cask_history *h = history_of(ops, count);
            cask_lin_result r = cask_lin_check(h, models[m], NULL, NULL, why, sizeof(why));
            if (r != (expected ? CASK_LIN_OK : CASK_LIN_VIOLATION)) {
                fprintf(stderr, "%s: the oracle says %s, the checker:\n%s", names[m],
                        expected ? "linearizable" : "not linearizable", why);
                for (size_t i = 0; i < count; i++) {
                    char d[128];
                    cask_op_describe(&ops[i], d, sizeof(d));
                    fprintf(stderr, "  %s [%" PRIu64 ", %" PRIu64 "]\n", d, ops[i].invoke_ns,
                            ops[i].respond_ns);
                }
                EXPECT(0);
            }
            agree_ok += expected;
            agree_bad += !expected;
            if (unique) {
                cask_lin_result u = cask_check_queue_unique(h, why, sizeof(why));
                if (u == CASK_LIN_VIOLATION && expected)
                    fprintf(stderr, "queue_unique wrongly rejects a linearizable history:\n%s",
                            why);
                EXPECT(!(u == CASK_LIN_VIOLATION && expected));
                unique_applicable += !expected;
                unique_caught += !expected && u == CASK_LIN_VIOLATION;
            }
            cask_history_destroy(h);
        }
        printf("oracle, %-8s: %d linearizable and %d not, all agreed", names[m], agree_ok,
               agree_bad);
        if (m == M_QUEUE)
            printf("; queue_unique caught %d of %d non-linearizable unique-value histories",
                   unique_caught, unique_applicable);
        printf("\n");
        EXPECT(agree_ok >= 300 && agree_bad >= 300); /* both sides are really exercised */
    }
}

int main(void)
{
    const char *seed = getenv("CASK_TEST_SEED");
    rng = seed != NULL ? strtoull(seed, NULL, 10) : 20240917;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("seed %" PRIu64 " (set CASK_TEST_SEED to change it)\n", rng);
    test_executions();
    test_unique_queue_executions();
    test_against_oracle();
    printf("lincheck_random_test: all passed\n");
    return 0;
}
