/*
 * map_stress.c: stress scenarios for the lock-free map (lib/map.c).
 *
 * map.conflict  4 u64 keys, every thread mixes lookup, insert, put and remove: heavy conflict on
 *               each slot. Short rounds are recorded and checked for linearizability key by key
 *               (cask_lin_model_map); after each round the main thread looks up every key
 *               (recorded too), so the final contents must equal a replay of the completed
 *               operations in their linearization order.
 * map.resize    byte keys (with a zero byte inside) over 2,048 keys; each round starts from an
 *               empty small table, the first half of a thread's operations mostly inserts and
 *               the second half mostly removes, so the table grows and shrinks several times
 *               while other threads read and write. Checked as map.conflict.
 * map.cas       as map.resize on u64 keys with compare-and-replace and remove-if in the mix
 *               (not in the model): every value a thread sees must be live and belong to its
 *               key, and each value is destroyed exactly once.
 * map.churn     u64 keys: each thread inserts ever new keys and removes its older ones while
 *               all threads look up recent keys of everyone: a small table whose claimed slots
 *               fill up with dead keys, so it is resized (and old tables retired) every few
 *               dozen operations. Per-key linearizability as map.conflict.
 * map.reclaim   u64 keys: a few stable keys inserted before the round must always be found with
 *               their values; each thread inserts a batch of fresh keys of its own, checking
 *               each is then found with its value, and removes them again, checking each is then
 *               gone, while it also looks up the others' recent keys. The live count swings
 *               across the grow and the shrink thresholds of a small table, so tables are
 *               replaced constantly, and every write is followed by cask_map_drain: retired
 *               tables and values are reclaimed at once instead of in batches, so a reader that
 *               still uses a replaced table (or value) touches freed memory.
 * map.freeze    threads write their own keys while thread 0 freezes the map in the middle of a
 *               round: once a thread sees CASK_EFROZEN every later write fails too, the contents
 *               right after freeze returned equal the contents at the end, and they equal each
 *               thread's last successful write per key.
 * map.stall     lock-freedom, resize included: thread 0 churns keys of its own (insert a fresh
 *               key, remove the one STALL_WINDOW older) on a small table until it parks
 *               (stress/stall.h) at a random noise point: in one round of six any "map.*"
 *               point, in the others a point of the resize (a freeze or copy chunk claimed and
 *               not reported done, a plan not yet installed, a promotion not yet made). It stays
 *               parked until every other thread has made STALL_STEPS churn steps, which take the
 *               table through several resizes; nothing is timed, so a resize that waits for the
 *               parked thread never ends the round and the watchdog reports the hang. Each step
 *               checks its key found after the insert and gone after the remove, the stable keys
 *               of map.reclaim are always found, and at the end the map holds exactly the stable
 *               keys and each thread's last STALL_WINDOW keys.
 * In every scenario values are objects with a magic word and their key; the destructor checks
 * and poisons them, so a value destroyed too early (or twice) is seen by the reader's check, by
 * the destructor's, or by ThreadSanitizer. At the end of each round the map is destroyed and
 * every value created and accepted must have been destroyed exactly once.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cask/cask.h"
#include "stress/check/lincheck.h"
#include "stress/harness.h"
#include "stress/scenarios.h"
#include "stress/stall.h"

#define LIVE UINT64_C(0x11FE11FE11FE11FE)
#define DEAD UINT64_C(0xDEADDEADDEADDEAD)
#define MAX_THREADS 64
#define FREEZE_KEYS 32
#define RECLAIM_STABLE 8 /* map.reclaim: keys present for the whole round */
#define RECLAIM_BATCH 48 /* map.reclaim: at most this many own keys inserted, then removed */
#define STALL_STEPS 120  /* map.stall: churn steps each thread makes while thread 0 is parked */
#define STALL_WINDOW 8   /* map.stall: each thread's live keys (its last STALL_WINDOW) */

typedef struct {
    uint64_t magic; /* plain fields: TSan sees every unordered access */
    uint64_t key;
    uint64_t id;
} mval;

typedef struct mctx {
    cask_stress_run *run;
    cask_map *map;
    cask_history *hist;
    int threads;
    int mode; /* 0 conflict, 1 resize (bytes), 2 cas, 3 freeze, 4 churn, 5 reclaim, 6 stall */
    uint64_t keys;
    size_t per_thread;
    _Atomic uint64_t created, refused, destroyed, bad_destroy;
    /* map.freeze, each written by its own thread only and read after the join */
    mval *last[MAX_THREADS][FREEZE_KEYS];
    mval *after_freeze[MAX_THREADS][FREEZE_KEYS];
    /* map.reclaim: the stable values (written before the workers start), and each thread's
     * next fresh key number (relaxed: only a hint of which keys others may look up) */
    mval *stable[RECLAIM_STABLE];
    _Atomic uint64_t front[MAX_THREADS];
    /* map.stall: how many other threads have made their steps (releases thread 0's pause), and
     * each thread's number of steps (written by its own thread, read after the join) */
    _Atomic int done_others;
    uint64_t stall_steps[MAX_THREADS];
    /* --ops budgets count per thread, and each round has new threads: a worker carries its
     * index's total from round to round (as queue_stress.c does) */
    uint64_t cum_ops[MAX_THREADS];
    _Atomic bool budget_spent;
} mctx;

/* Seeds this thread's op count with its index's total so far (see cum_ops). */
static void ops_begin(mctx *c, int index)
{
    cask_stress_add_ops(c->run, c->cum_ops[index]);
}

/* Counts the round's operations, notes a spent budget, and takes the seed back out. */
static void ops_end(mctx *c, int index, uint64_t n)
{
    cask_stress_add_ops(c->run, n);
    if (cask_stress_should_stop(c->run))
        atomic_store_explicit(&c->budget_spent, true, memory_order_relaxed);
    cask_stress_add_ops(c->run, (uint64_t)0 - c->cum_ops[index]);
    c->cum_ops[index] += n;
}

/* A worker's start: its guard, and its op count seeded. False (reported): no guard. */
static bool worker_begin(mctx *c, int index, cask_map_guard **g)
{
    if (cask_map_guard_acquire(c->map, g) != 0) {
        cask_stress_fail(c->run, "guard: out of memory");
        return false;
    }
    ops_begin(c, index);
    return true;
}

static mctx *_Atomic dtor_ctx; /* set before the workers start */

static void mval_dtor(void *p)
{
    mval *v = p;
    mctx *c = atomic_load_explicit(&dtor_ctx, memory_order_relaxed);
    if (v->magic != LIVE)
        atomic_fetch_add_explicit(&c->bad_destroy, 1, memory_order_relaxed);
    v->magic = DEAD;
    free(v);
    atomic_fetch_add_explicit(&c->destroyed, 1, memory_order_relaxed);
}

static mval *mval_new(mctx *c, uint64_t key, uint64_t id)
{
    mval *v = malloc(sizeof(*v));
    if (v == NULL) {
        cask_stress_fail(c->run, "out of memory");
        return NULL;
    }
    v->magic = LIVE;
    v->key = key;
    v->id = id;
    atomic_fetch_add_explicit(&c->created, 1, memory_order_relaxed);
    return v;
}

static void mval_refused(mctx *c, mval *v)
{
    free(v);
    atomic_fetch_add_explicit(&c->refused, 1, memory_order_relaxed);
}

static void check_value(mctx *c, const mval *v, uint64_t key)
{
    if (v->magic != LIVE || v->key != key)
        cask_stress_fail(c->run, "lookup of key %llu returned a dead or foreign value %p",
                         (unsigned long long)key, (const void *)v);
}

static void key_bytes(uint64_t k, unsigned char *buf)
{
    memset(buf, 0xA5, 16);
    buf[2] = 0;
    memcpy(buf + 8, &k, 8);
}

/* The map call of one kind on key k (byte or u64 keys by mode). */
static int m_get(mctx *c, cask_map_guard *g, uint64_t k, void **out)
{
    unsigned char b[16];
    if (c->mode != 1)
        return cask_map_get_u64(c->map, g, k, out);
    key_bytes(k, b);
    return cask_map_get(c->map, g, b, 16, out);
}

static int m_insert(mctx *c, cask_map_guard *g, uint64_t k, void *v)
{
    unsigned char b[16];
    if (c->mode != 1)
        return cask_map_insert_u64(c->map, g, k, v);
    key_bytes(k, b);
    return cask_map_insert(c->map, g, b, 16, v);
}

static int m_put(mctx *c, cask_map_guard *g, uint64_t k, void *v)
{
    unsigned char b[16];
    if (c->mode != 1)
        return cask_map_put_u64(c->map, g, k, v);
    key_bytes(k, b);
    return cask_map_put(c->map, g, b, 16, v);
}

static int m_remove(mctx *c, cask_map_guard *g, uint64_t k)
{
    unsigned char b[16];
    if (c->mode != 1)
        return cask_map_remove_u64(c->map, g, k);
    key_bytes(k, b);
    return cask_map_remove(c->map, g, b, 16);
}

static void lin_worker(cask_stress_run *run, int index, void *arg)
{
    mctx *c = arg;
    cask_map_guard *g;
    if (!worker_begin(c, index, &g))
        return;
    size_t i;
    for (i = 0; i < c->per_thread && !cask_stress_should_stop(run); i++) {
        uint64_t k = c->keys != 0 ? cask_stress_rand() % c->keys : 0;
        uint64_t r = cask_stress_rand() % 100;
        uint64_t id = ((uint64_t)index << 32) | (i + 1);
        bool growing = i < c->per_thread / 2;
        if (c->mode == 4) { /* churn: new keys all the time, old ones removed */
            uint64_t step = i / 3, back = cask_stress_rand() % 6;
            uint64_t owner = cask_stress_rand() % (uint64_t)c->threads;
            r = i % 3;
            k = r == 0 ? (owner << 32 | (step > back ? step - back : 0))
                : r == 1 ? ((uint64_t)index << 32 | step)
                         : ((uint64_t)index << 32 | (step > 4 ? step - 4 : 0));
            r = r == 0 ? 0 : r == 1 ? 1 : 3;
        } else if (c->mode == 0)
            r = r < 40 ? 0 : r < 60 ? 1 : r < 80 ? 2 : 3;
        else if (c->mode == 1)
            r = r < 30 ? 0 : r < (growing ? 80 : 40) ? 1 : r < (growing ? 85 : 50) ? 2 : 3;
        else
            r = r < 30 ? 0 : r < (growing ? 70 : 40) ? 1 : r < 50 ? 2 : r < 60 ? 4 : r < 70 ? 5
                                                                                  : 3;
        void *got = NULL;
        int rc = 0;
        long h;
        mval *v;
        switch (r) {
        case 0:
            h = cask_history_invoke(c->hist, index, CASK_OP_LOOKUP, k, 0);
            rc = m_get(c, g, k, &got);
            if (rc == 0)
                check_value(c, got, k);
            cask_history_respond(c->hist, index, h, rc == 0 ? ((mval *)got)->id : 0, rc);
            break;
        case 1:
        case 2:
            if ((v = mval_new(c, k, id)) == NULL)
                return;
            h = cask_history_invoke(c->hist, index, r == 1 ? CASK_OP_INSERT : CASK_OP_PUT, k, id);
            rc = r == 1 ? m_insert(c, g, k, v) : m_put(c, g, k, v);
            cask_history_respond(c->hist, index, h, 0, rc);
            if (rc != 0)
                mval_refused(c, v);
            break;
        case 3:
            h = cask_history_invoke(c->hist, index, CASK_OP_REMOVE, k, 0);
            rc = m_remove(c, g, k);
            cask_history_respond(c->hist, index, h, 0, rc);
            break;
        case 4: /* compare-and-replace (map.cas, unrecorded) */
            if (m_get(c, g, k, &got) == 0) {
                check_value(c, got, k);
                if ((v = mval_new(c, k, id)) == NULL)
                    return;
                rc = cask_map_replace_u64(c->map, g, k, got, v);
                if (rc != 0)
                    mval_refused(c, v);
                if (rc != 0 && rc != CASK_ENOENT)
                    cask_stress_fail(run, "replace returned %d", rc);
            }
            break;
        default: /* remove-if (map.cas, unrecorded) */
            if (m_get(c, g, k, &got) == 0) {
                check_value(c, got, k);
                rc = cask_map_remove_if_u64(c->map, g, k, got);
                if (rc != 0 && rc != CASK_ENOENT)
                    cask_stress_fail(run, "remove_if returned %d", rc);
            }
        }
        if (c->mode != 2 && r < 4 && rc != 0 && rc != CASK_ENOENT && rc != CASK_EEXIST)
            cask_stress_fail(run, "a map call returned %d (%s)", rc, cask_strerror(rc));
    }
    ops_end(c, index, i);
    cask_map_guard_release(g);
}

static void freeze_worker(cask_stress_run *run, int index, void *arg)
{
    mctx *c = arg;
    cask_map_guard *g;
    if (!worker_begin(c, index, &g))
        return;
    bool frozen = false;
    size_t freeze_at = c->per_thread / 4 + cask_stress_rand() % (c->per_thread / 2);
    uint64_t base = (uint64_t)index * FREEZE_KEYS;
    for (size_t i = 0; i < c->per_thread; i++) {
        if (index == 0 && i == freeze_at) {
            if (cask_map_freeze(c->map, g) != 0)
                cask_stress_fail(run, "freeze failed");
            for (int j = 0; j < c->threads * FREEZE_KEYS; j++) { /* contents at freeze */
                void *got;
                c->after_freeze[j / FREEZE_KEYS][j % FREEZE_KEYS] =
                    cask_map_get_u64(c->map, g, (uint64_t)j, &got) == 0 ? got : NULL;
            }
        }
        uint64_t j = cask_stress_rand() % FREEZE_KEYS;
        int rc;
        if (cask_stress_rand() % 4 == 0) {
            rc = cask_map_remove_u64(c->map, g, base + j);
            if (rc == 0)
                c->last[index][j] = NULL;
        } else {
            mval *v = mval_new(c, base + j, i);
            if (v == NULL)
                return;
            rc = cask_map_put_u64(c->map, g, base + j, v);
            if (rc == 0)
                c->last[index][j] = v;
            else
                mval_refused(c, v);
        }
        if (frozen && rc != CASK_EFROZEN)
            cask_stress_fail(run, "a write returned %d after an earlier one saw CASK_EFROZEN", rc);
        if (rc == CASK_EFROZEN)
            frozen = true;
        else if (rc != 0 && rc != CASK_ENOENT)
            cask_stress_fail(run, "a write returned %d", rc);
    }
    ops_end(c, index, c->per_thread);
    cask_map_guard_release(g);
}

/* map.reclaim: key number n of thread t (the stable keys are 0 .. RECLAIM_STABLE - 1). */
static uint64_t reclaim_key(int t, uint64_t n)
{
    return (uint64_t)(t + 1) << 32 | n;
}

/* Looks k up and checks the answer. must: 1 present (holding want, unless want is NULL),
 * 0 absent, -1 either; a value found must be live and belong to k. */
static void reclaim_lookup(mctx *c, cask_map_guard *g, uint64_t k, int must, const mval *want)
{
    void *got = NULL;
    int rc = cask_map_get_u64(c->map, g, k, &got);
    if (rc != 0 && rc != CASK_ENOENT) {
        cask_stress_fail(c->run, "get returned %d (%s)", rc, cask_strerror(rc));
        return;
    }
    if (rc == 0)
        check_value(c, got, k);
    if (must == 1 && (rc != 0 || (want != NULL && got != want)))
        cask_stress_fail(c->run, "key %#llx must hold %p, but get returned %d with %p",
                         (unsigned long long)k, (const void *)want, rc, rc == 0 ? got : NULL);
    else if (must == 0 && rc == 0)
        cask_stress_fail(c->run, "key %#llx was removed, but get found %p", (unsigned long long)k,
                         got);
}

/* map.reclaim: one stable key (must hold its value) and a recent key of another thread (may be
 * there or not). */
static void reclaim_others(mctx *c, cask_map_guard *g, int index)
{
    uint64_t s = cask_stress_rand() % RECLAIM_STABLE;
    reclaim_lookup(c, g, s, 1, c->stable[s]);
    if (c->threads < 2)
        return;
    int t = (index + 1 + (int)(cask_stress_rand() % (uint64_t)(c->threads - 1))) % c->threads;
    uint64_t front = atomic_load_explicit(&c->front[t], memory_order_relaxed);
    uint64_t back = cask_stress_rand() % 8;
    reclaim_lookup(c, g, reclaim_key(t, front > back ? front - back : 0), -1, NULL);
}

static void reclaim_worker(cask_stress_run *run, int index, void *arg)
{
    mctx *c = arg;
    cask_map_guard *g;
    if (!worker_begin(c, index, &g))
        return;
    mval *mine[RECLAIM_BATCH];
    uint64_t next = 0, ops = 0;
    while (ops < c->per_thread && !cask_stress_should_stop(run)) {
        size_t batch = 1 + (size_t)(cask_stress_rand() % RECLAIM_BATCH);
        for (size_t j = 0; j < batch; j++) { /* up: fresh keys, each found right after */
            uint64_t k = reclaim_key(index, next + j);
            int rc = (mine[j] = mval_new(c, k, next + j)) == NULL
                         ? CASK_ENOMEM
                         : cask_map_insert_u64(c->map, g, k, mine[j]);
            if (rc != 0) {
                cask_stress_fail(run, "insert of a fresh key returned %d (%s)", rc,
                                 cask_strerror(rc));
                if (mine[j] != NULL)
                    mval_refused(c, mine[j]);
                batch = j;
                break;
            }
            atomic_store_explicit(&c->front[index], next + j + 1, memory_order_relaxed);
            cask_map_drain(c->map);
            reclaim_lookup(c, g, k, 1, mine[j]);
            reclaim_others(c, g, index);
        }
        for (size_t j = 0; j < batch; j++) { /* down: each removed key gone right after */
            uint64_t k = reclaim_key(index, next + j);
            int rc = cask_map_remove_u64(c->map, g, k);
            if (rc != 0)
                cask_stress_fail(run, "remove of a key of ours returned %d (%s)", rc,
                                 cask_strerror(rc));
            cask_map_drain(c->map);
            reclaim_lookup(c, g, k, 0, NULL);
            reclaim_others(c, g, index);
        }
        next += batch;
        ops += 8 * batch; /* per key: insert, remove and six lookups */
    }
    ops_end(c, index, ops);
    cask_map_guard_release(g);
}

/* map.stall: the noise point prefixes thread 0 may park at. "map." is any point of any
 * operation; the others are the phases of a resize, where a parked helper holds a claimed chunk
 * of freezing or copying, a table not yet installed, or a promotion not yet made. */
static const char *const stall_prefixes[] = {"map.",      "map.freeze.", "map.copy.",
                                             "map.help.", "map.plan.",   "map.resize."};
#define STALL_PREFIXES (sizeof(stall_prefixes) / sizeof(stall_prefixes[0]))

/* map.stall: step n of thread index: insert its key n (then found), remove its key
 * n - STALL_WINDOW (then gone), look up a stable key and a recent key of another thread. */
static void stall_step(mctx *c, cask_map_guard *g, int index, uint64_t n)
{
    uint64_t k = reclaim_key(index, n);
    mval *v = mval_new(c, k, n + 1);
    if (v == NULL)
        return;
    int rc = cask_map_insert_u64(c->map, g, k, v);
    if (rc != 0) {
        cask_stress_fail(c->run, "insert of a fresh key returned %d (%s)", rc, cask_strerror(rc));
        mval_refused(c, v);
        return;
    }
    reclaim_lookup(c, g, k, 1, v);
    if (n >= STALL_WINDOW) {
        uint64_t old = reclaim_key(index, n - STALL_WINDOW);
        if ((rc = cask_map_remove_u64(c->map, g, old)) != 0)
            cask_stress_fail(c->run, "remove of a key of ours returned %d (%s)", rc,
                             cask_strerror(rc));
        reclaim_lookup(c, g, old, 0, NULL);
    }
    atomic_store_explicit(&c->front[index], n + 1, memory_order_relaxed);
    reclaim_others(c, g, index);
}

static void stall_worker(cask_stress_run *run, int index, void *arg)
{
    mctx *c = arg;
    cask_map_guard *g;
    if (!worker_begin(c, index, &g))
        return;
    uint64_t n = 0;
    if (index == 0) {
        /* Churn alone until parked (a resize comes every few dozen steps, so a resize point is
         * reached too); then finish the operation it was parked in, and stop. */
        if (c->threads > 1) {
            const char *prefix = stall_prefixes[cask_stress_rand() % STALL_PREFIXES];
            int range = strcmp(prefix, "map.") == 0 ? 40 : 8;
            cask_stress_stall_arm(prefix, 1 + (int)(cask_stress_rand() % (uint64_t)range),
                                  &c->done_others, c->threads - 1);
        }
        while (c->threads > 1 ? cask_stress_stall_pending() : n < STALL_STEPS)
            stall_step(c, g, index, n++);
        cask_stress_stall_disarm();
    } else {
        if (!cask_stress_stall_wait(run, &c->done_others)) {
            ops_end(c, index, 0);
            cask_map_guard_release(g);
            return;
        }
        /* The property: STALL_STEPS steps while thread 0 is parked inside an operation. A map
         * whose writers wait for thread 0 (to finish a chunk it claimed, to install the table it
         * planned, ...) makes us wait here for ever: the watchdog reports the hang. */
        while (n < STALL_STEPS)
            stall_step(c, g, index, n++);
        if (!cask_stress_stall_paused())
            cask_stress_fail(run, "thread 0 left its pause before the others were done");
        atomic_fetch_add_explicit(&c->done_others, 1, memory_order_relaxed);
    }
    c->stall_steps[index] = n;
    ops_end(c, index, 5 * n); /* per step: insert, remove and three lookups */
    cask_map_guard_release(g);
}

static void check_round(mctx *c)
{
    char why[2048];
    cask_map_guard *g;
    if (cask_map_guard_acquire(c->map, &g) != 0) {
        cask_stress_fail(c->run, "guard: out of memory");
        return;
    }
    if (c->mode == 3) {
        for (int t = 0; t < c->threads; t++)
            for (int j = 0; j < FREEZE_KEYS; j++) {
                void *got;
                mval *now = cask_map_get_u64(c->map, g, (uint64_t)(t * FREEZE_KEYS + j), &got) == 0
                                ? got
                                : NULL;
                if (now != c->last[t][j] || now != c->after_freeze[t][j])
                    cask_stress_fail(c->run,
                                     "frozen map: key %d holds %p, last successful write %p, "
                                     "contents at freeze %p",
                                     t * FREEZE_KEYS + j, (void *)now, (void *)c->last[t][j],
                                     (void *)c->after_freeze[t][j]);
            }
        if (!cask_map_is_frozen(c->map))
            cask_stress_fail(c->run, "the map is not frozen after freeze returned");
    } else if (c->mode == 5) {
        /* Every key of the workers was removed: only the stable keys are left. */
        for (uint64_t k = 0; k < RECLAIM_STABLE; k++)
            reclaim_lookup(c, g, k, 1, c->stable[k]);
        size_t n = cask_map_size_exact(c->map, g);
        if (n != RECLAIM_STABLE)
            cask_stress_fail(c->run, "the map holds %zu keys after the round, not %d", n,
                             RECLAIM_STABLE);
    } else if (c->mode == 6) {
        /* The stable keys, and each thread's last STALL_WINDOW keys, and nothing else. */
        size_t want = RECLAIM_STABLE;
        for (uint64_t k = 0; k < RECLAIM_STABLE; k++)
            reclaim_lookup(c, g, k, 1, c->stable[k]);
        for (int t = 0; t < c->threads; t++) {
            uint64_t steps = c->stall_steps[t];
            for (uint64_t s = 0; s < steps; s++)
                reclaim_lookup(c, g, reclaim_key(t, s), s + STALL_WINDOW >= steps, NULL);
            want += steps < STALL_WINDOW ? steps : STALL_WINDOW;
        }
        size_t n = cask_map_size_exact(c->map, g);
        if (n != want)
            cask_stress_fail(c->run, "the map holds %zu keys after the round, not %zu", n, want);
    } else {
        /* The final contents, recorded on thread index 0 after the join: the checker must
         * explain them by the same linearization as the round. */
        for (uint64_t k = 0; k < c->keys; k++) {
            void *got;
            long h = cask_history_invoke(c->hist, 0, CASK_OP_LOOKUP, k, 0);
            int rc = m_get(c, g, k, &got);
            cask_history_respond(c->hist, 0, h, rc == 0 ? ((mval *)got)->id : 0, rc);
        }
        cask_lin_result verdict =
            c->mode != 2 ? cask_lin_check(c->hist, &cask_lin_model_map, NULL, NULL, why, sizeof(why))
                         : CASK_LIN_OK;
        if (verdict == CASK_LIN_VIOLATION)
            cask_stress_fail(c->run, "linearizability: %s", why);
        else if (verdict == CASK_LIN_UNKNOWN)
            cask_stress_add_undecided(c->run, 1);
        cask_history_reset(c->hist);
    }
    cask_map_guard_release(g);
    cask_map_destroy(c->map);
    uint64_t made = atomic_load_explicit(&c->created, memory_order_relaxed);
    uint64_t refused = atomic_load_explicit(&c->refused, memory_order_relaxed);
    uint64_t gone = atomic_load_explicit(&c->destroyed, memory_order_relaxed);
    uint64_t bad = atomic_load_explicit(&c->bad_destroy, memory_order_relaxed);
    if (made - refused != gone || bad != 0)
        cask_stress_fail(c->run,
                         "values: %llu accepted, %llu destroyed (%llu destroyed twice or dead)",
                         (unsigned long long)(made - refused), (unsigned long long)gone,
                         (unsigned long long)bad);
    cask_stress_add_checked(c->run, 1);
}

/* map.reclaim, before the workers start: the stable keys, and no thread's keys yet. */
static bool reclaim_setup(mctx *c)
{
    cask_map_guard *g;
    if (cask_map_guard_acquire(c->map, &g) != 0) {
        cask_stress_fail(c->run, "guard: out of memory");
        cask_map_destroy(c->map);
        return false;
    }
    for (int t = 0; t < MAX_THREADS; t++)
        atomic_store_explicit(&c->front[t], 0, memory_order_relaxed);
    bool ok = true;
    for (uint64_t k = 0; k < RECLAIM_STABLE && ok; k++) {
        if ((c->stable[k] = mval_new(c, k, k + 1)) == NULL)
            ok = false;
        else if (cask_map_insert_u64(c->map, g, k, c->stable[k]) != 0)
            ok = false, mval_refused(c, c->stable[k]);
    }
    cask_map_guard_release(g);
    if (!ok) {
        cask_stress_fail(c->run, "map.reclaim: could not insert the stable keys");
        cask_map_destroy(c->map);
    }
    return ok;
}

static void run_map(cask_stress_run *run, int mode, uint64_t keys, size_t per_thread)
{
    mctx *c = calloc(1, sizeof(*c));
    int threads = cask_stress_threads(run);
    if (c == NULL || threads > MAX_THREADS ||
        cask_history_create(threads, per_thread + keys + 16, &c->hist) != 0) {
        cask_stress_fail(run, "setup failed");
        free(c);
        return;
    }
    c->run = run;
    c->threads = threads;
    c->mode = mode;
    c->keys = keys;
    c->per_thread = per_thread;
    atomic_store_explicit(&dtor_ctx, c, memory_order_relaxed);
    while (!cask_stress_should_stop(run) &&
           !atomic_load_explicit(&c->budget_spent, memory_order_relaxed)) {
        cask_map_options o = {.key_kind = mode == 1 ? CASK_MAP_KEY_BYTES : CASK_MAP_KEY_U64,
                              .dtor = mval_dtor};
        if (cask_map_create(&c->map, &o) != 0) {
            cask_stress_fail(run, "cask_map_create: out of memory");
            break;
        }
        atomic_store_explicit(&c->created, 0, memory_order_relaxed);
        atomic_store_explicit(&c->refused, 0, memory_order_relaxed);
        atomic_store_explicit(&c->destroyed, 0, memory_order_relaxed);
        memset(c->last, 0, sizeof(c->last));
        memset(c->after_freeze, 0, sizeof(c->after_freeze));
        if ((mode == 5 || mode == 6) && !reclaim_setup(c))
            break;
        atomic_store_explicit(&c->done_others, 0, memory_order_relaxed);
        memset(c->stall_steps, 0, sizeof(c->stall_steps));
        cask_stress_stall_reset();
        if (cask_stress_run_threads(run, threads,
                                    mode == 3   ? freeze_worker
                                    : mode == 5 ? reclaim_worker
                                    : mode == 6 ? stall_worker
                                                : lin_worker,
                                    c) != 0)
            cask_stress_fail(run, "could not start the worker threads");
        check_round(c);
    }
    cask_history_destroy(c->hist);
    free(c);
}

static void run_conflict(cask_stress_run *run)
{
    run_map(run, 0, 4, 150);
}

static void run_resize(cask_stress_run *run)
{
    run_map(run, 1, 2048, 2000);
}

static void run_cas(cask_stress_run *run)
{
    run_map(run, 2, 1024, 2000);
}

static void run_churn(cask_stress_run *run)
{
    run_map(run, 4, 0, 1500);
}

static void run_freeze(cask_stress_run *run)
{
    run_map(run, 3, 0, 400);
}

static void run_reclaim(cask_stress_run *run)
{
    run_map(run, 5, 0, 2000);
}

static void run_stall(cask_stress_run *run)
{
    run_map(run, 6, 0, 5 * STALL_STEPS);
}

const cask_stress_scenario cask_stress_map_scenarios[] = {
    {"map.conflict", "4 keys, every write kind, per-key linearizability and final contents",
     run_conflict, 1},
    {"map.resize", "2,048 byte keys: grow and shrink under load, per-key linearizability",
     run_resize, 1},
    {"map.cas", "u64 keys with compare-and-replace and remove-if; values live, destroyed once",
     run_cas, 1},
    {"map.churn", "fresh keys inserted, old ones removed: a small table resized all the time",
     run_churn, 1},
    {"map.reclaim", "batches of keys in and out: tables replaced and reclaimed at once; "
                    "stable keys always found", run_reclaim, 1},
    {"map.freeze", "freeze races with writers: later writes fail, contents fixed at freeze",
     run_freeze, 1},
    {"map.stall", "thread 0 paused inside an operation or a resize; the others must still "
                  "finish", run_stall, 1},
};
const size_t cask_stress_map_scenario_count =
    sizeof(cask_stress_map_scenarios) / sizeof(cask_stress_map_scenarios[0]);
