/*
 * snap_stress.c: stress scenarios for RCU snapshot cells (include/cask/snap.h).
 *
 * Every object carries a checksum of its body. The free function checks it (a version freed
 * twice, or torn, fails), poisons the body and frees the object for real, so a reader that
 * reaches a freed object either fails its checksum or is reported by TSan (its read races the
 * poisoning write and the free: only the grace period orders them) or ASan.
 *
 * snap.publish  Most operations are reads (check the checksum; now and then dwell in the
 *               section across yields and check again; sometimes nest a second section);
 *               the rest publish fresh objects or update (read-copy-update) the current one.
 *               At the end: destroy + barrier, and every object made was freed exactly once.
 * snap.update   Reads and concurrent read-copy-update increments only: the final count must
 *               equal the number of successful updates (no lost update), and every losing
 *               candidate must have been freed at once (made == freed after the barrier).
 * snap.qsbr     As snap.publish on a QSBR cell: every worker registers, announces a quiescent
 *               state after each batch of operations (never inside a section) and now and then
 *               goes offline across a yield; the grace periods that free replaced versions are
 *               then QSBR's, and readers that dwell in a section must still see live objects.
 * snap.lin      Short rounds on a fresh cell: each thread records reads, publishes and
 *               updates (each writes a unique value) into a history, which is checked against
 *               the register model (a read returns a value current at some instant inside its
 *               interval).
 */
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "cask/cask.h"
#include "stress/check/lincheck.h"
#include "stress/harness.h"
#include "stress/scenarios.h"

#define BODY 6
#define LIN_OPS 120   /* operations per thread per checked round, up to LIN_THREADS threads; */
#define LIN_THREADS 8 /* above, a round keeps its 960 operations, so that it stays decidable */

typedef struct {
    uint64_t value;      /* the register value (snap.lin) or the count (snap.update) */
    uint64_t body[BODY]; /* derived from value and salt */
    uint64_t sum;        /* checksum of value and body */
} object;

typedef struct {
    cask_stress_run *run;
    cask_snap *cell;
    _Atomic uint64_t made, freed, updates, salt;
    cask_history *history; /* snap.lin */
    int mode;              /* 0 publish, 1 update, 2 lin, 3 qsbr */
} snap_ctx;

/* The free function has no argument: the run's counters come from here (set before workers;
 * relaxed: the threads that read it were started, or the call_rcu thread woken, after). */
static snap_ctx *_Atomic free_ctx;

static uint64_t checksum(const object *o)
{
    uint64_t s = o->value * UINT64_C(0x9E3779B97F4A7C15);
    for (int i = 0; i < BODY; i++)
        s = (s ^ o->body[i]) * UINT64_C(0x100000001B3);
    return s;
}

static object *make(snap_ctx *c, uint64_t value)
{
    object *o = malloc(sizeof(*o));
    if (o == NULL)
        return NULL;
    uint64_t salt = atomic_fetch_add_explicit(&c->salt, 1, memory_order_relaxed);
    o->value = value;
    for (int i = 0; i < BODY; i++)
        o->body[i] = salt * 31 + (uint64_t)i;
    o->sum = checksum(o);
    atomic_fetch_add_explicit(&c->made, 1, memory_order_relaxed);
    return o;
}

static void free_object(void *p)
{
    object *o = p;
    snap_ctx *c = atomic_load_explicit(&free_ctx, memory_order_relaxed);
    if (o->sum != checksum(o))
        cask_stress_fail(c->run, "free: object %p torn or freed twice", p);
    for (int i = 0; i < BODY; i++)
        o->body[i] = UINT64_C(0xDEADDEADDEADDEAD); /* poison: late readers fail or race */
    free(o);
    atomic_fetch_add_explicit(&c->freed, 1, memory_order_relaxed);
}

static void check(snap_ctx *c, const object *o, const char *when)
{
    if (o == NULL || o->sum != checksum(o))
        cask_stress_fail(c->run, "reader saw a torn or freed object %p (%s)", (const void *)o,
                         when);
}

/* Update function: the next version has value arg (lin) or current + 1 (update, publish). */
struct update_arg {
    snap_ctx *c;
    uint64_t value; /* UINT64_MAX: increment */
    unsigned calls;
};

static int next_version(const void *current, void *arg, void **next)
{
    struct update_arg *u = arg;
    const object *cur = current;
    check(u->c, cur, "update");
    u->calls++;
    object *o = make(u->c, u->value == UINT64_MAX ? cur->value + 1 : u->value);
    if (o == NULL)
        return CASK_ENOMEM;
    *next = o;
    return 0;
}

static void read_one(snap_ctx *c)
{
    cask_snap_read_begin(c->cell);
    const object *o = cask_snap_read(c->cell);
    CASK_NOISE_POINT("snap_stress.read.loaded");
    check(c, o, "read");
    uint64_t r = cask_stress_rand() % 16;
    if (r == 0) {
        /* Dwell: hold the section while writers replace and call_rcu frees, then look again. */
        for (uint64_t n = 1 + cask_stress_rand() % 4; n > 0; n--) {
            CASK_NOISE_POINT("snap_stress.read.dwell");
            sched_yield();
        }
        check(c, o, "after dwelling");
    } else if (r == 1) {
        cask_snap_read_begin(c->cell); /* nested: the outer section still protects o */
        check(c, cask_snap_read(c->cell), "nested read");
        cask_snap_read_end(c->cell);
        check(c, o, "after a nested section");
    }
    cask_snap_read_end(c->cell);
}

static void publish_one(snap_ctx *c)
{
    object *o = make(c, 0);
    if (o == NULL || cask_snap_publish(c->cell, o) != 0)
        cask_stress_fail(c->run, "publish: out of memory");
}

static void update_one(snap_ctx *c)
{
    struct update_arg u = {.c = c, .value = UINT64_MAX};
    if (cask_snap_update(c->cell, next_version, &u) != 0)
        cask_stress_fail(c->run, "update: out of memory");
    else
        atomic_fetch_add_explicit(&c->updates, 1, memory_order_relaxed);
}

static void worker(cask_stress_run *run, int index, void *arg)
{
    (void)index;
    snap_ctx *c = arg;
    bool qsbr = c->mode == 3;
    if (qsbr)
        cask_snap_qsbr_register();
    while (!cask_stress_should_stop(run)) {
        for (int i = 0; i < 64; i++) {
            uint64_t r = cask_stress_rand() % 100;
            if (r < 75)
                read_one(c);
            else if (c->mode != 1 && r < 90)
                publish_one(c);
            else
                update_one(c);
        }
        cask_stress_add_ops(run, 64);
        if (qsbr) {
            CASK_NOISE_POINT("snap_stress.qsbr.quiescent");
            cask_snap_quiescent(); /* one event-loop turn: no snapshot held */
            if (cask_stress_rand() % 8 == 0) {
                cask_snap_qsbr_offline(); /* a blocking wait: holds up no grace period */
                sched_yield();
                cask_snap_qsbr_online();
            }
        }
    }
    if (qsbr)
        cask_snap_qsbr_unregister();
}

/* Ends a run: destroy, wait for every free, check the counts. */
static void finish(snap_ctx *c, bool check_count)
{
    if (check_count) {
        cask_snap_read_begin(c->cell);
        const object *o = cask_snap_read(c->cell);
        uint64_t updates = atomic_load_explicit(&c->updates, memory_order_relaxed);
        if (o->value != updates)
            cask_stress_fail(c->run, "lost update: count %llu after %llu updates",
                             (unsigned long long)o->value, (unsigned long long)updates);
        cask_snap_read_end(c->cell);
    }
    cask_snap_destroy(c->cell);
    cask_snap_barrier();
    uint64_t made = atomic_load_explicit(&c->made, memory_order_relaxed);
    uint64_t freed = atomic_load_explicit(&c->freed, memory_order_relaxed);
    if (made != freed)
        cask_stress_fail(c->run, "made %llu objects but freed %llu", (unsigned long long)made,
                         (unsigned long long)freed);
    cask_stress_add_checked(c->run, 1);
}

static snap_ctx *setup(cask_stress_run *run, int mode)
{
    snap_ctx *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        cask_stress_fail(run, "setup: out of memory");
        return NULL;
    }
    c->run = run;
    c->mode = mode;
    atomic_store_explicit(&free_ctx, c, memory_order_relaxed);
    object *first = make(c, 0);
    unsigned flags = mode == 3 ? CASK_SNAP_QSBR : 0;
    if (first == NULL || cask_snap_create_with(first, free_object, flags, &c->cell) != 0) {
        cask_stress_fail(run, "setup: out of memory");
        free(first);
        free(c);
        return NULL;
    }
    return c;
}

static void run_mode(cask_stress_run *run, int mode)
{
    snap_ctx *c = setup(run, mode);
    if (c == NULL)
        return;
    if (cask_stress_run_threads(run, cask_stress_threads(run), worker, c) != 0)
        cask_stress_fail(run, "could not start the worker threads");
    finish(c, mode == 1);
    free(c);
}

static void run_publish(cask_stress_run *run)
{
    run_mode(run, 0);
}

static void run_update(cask_stress_run *run)
{
    run_mode(run, 1);
}

static void run_qsbr(cask_stress_run *run)
{
    run_mode(run, 3);
}

/* ---- snap.lin ---- */

static void lin_worker(cask_stress_run *run, int index, void *arg)
{
    snap_ctx *c = arg;
    int threads = cask_stress_threads(run);
    uint64_t ops = threads <= LIN_THREADS ? LIN_OPS
                                          : (uint64_t)LIN_OPS * LIN_THREADS / (uint64_t)threads + 1;
    for (uint64_t seq = 1; seq <= ops && !cask_stress_should_stop(run); seq++) {
        uint64_t r = cask_stress_rand() % 100;
        if (r < 60) {
            long h = cask_history_invoke(c->history, index, CASK_OP_READ, 0, 0);
            cask_snap_read_begin(c->cell);
            const object *o = cask_snap_read(c->cell);
            check(c, o, "read");
            uint64_t v = o->value;
            cask_snap_read_end(c->cell);
            cask_history_respond(c->history, index, h, v, 0);
        } else {
            uint64_t v = cask_check_tag((uint32_t)index + 1, seq); /* unique, never 0 */
            long h = cask_history_invoke(c->history, index, CASK_OP_WRITE, 0, v);
            if (r < 80) {
                object *o = make(c, v);
                if (o == NULL || cask_snap_publish(c->cell, o) != 0)
                    cask_stress_fail(run, "publish: out of memory");
            } else {
                struct update_arg u = {.c = c, .value = v};
                if (cask_snap_update(c->cell, next_version, &u) != 0)
                    cask_stress_fail(run, "update: out of memory");
            }
            cask_history_respond(c->history, index, h, 0, 0);
        }
    }
}

static void run_lin(cask_stress_run *run)
{
    int threads = cask_stress_threads(run);
    cask_history *history;
    if (cask_history_create(threads, LIN_OPS, &history) != 0) {
        cask_stress_fail(run, "setup: out of memory");
        return;
    }
    while (!cask_stress_should_stop(run)) {
        snap_ctx *c = setup(run, 2); /* a fresh cell holding value 0, the model's initial */
        if (c == NULL)
            break;
        c->history = history;
        if (cask_stress_run_threads(run, threads, lin_worker, c) != 0)
            cask_stress_fail(run, "could not start the worker threads");
        /* The main thread counts the round (workers are new threads each round, so their own
         * --ops counts would restart): its should_stop then sees the budget spent. */
        uint64_t ops = 0;
        for (int i = 0; i < threads; i++)
            ops += cask_history_count(history, i);
        cask_stress_add_ops(run, ops);
        char why[2048];
        cask_lin_result verdict =
            cask_lin_check(history, &cask_lin_model_register, NULL, NULL, why, sizeof(why));
        if (verdict == CASK_LIN_VIOLATION)
            cask_stress_fail(run, "linearizability (register model): %s", why);
        else if (verdict == CASK_LIN_UNKNOWN)
            cask_stress_add_undecided(run, 1);
        finish(c, false);
        free(c);
        cask_history_reset(history);
    }
    cask_history_destroy(history);
}

const cask_stress_scenario cask_stress_snap_scenarios[] = {
    {"snap.publish", "readers check objects that writers publish and update; frees counted",
     run_publish, 1},
    {"snap.update", "concurrent read-copy-update increments: no update lost, losers freed",
     run_update, 1},
    {"snap.qsbr", "as snap.publish on a QSBR cell: quiescent states, offline waits",
     run_qsbr, 1},
    {"snap.lin", "short rounds of reads, publishes and updates checked against a register",
     run_lin, 1},
};
const size_t cask_stress_snap_scenario_count =
    sizeof(cask_stress_snap_scenarios) / sizeof(cask_stress_snap_scenarios[0]);
