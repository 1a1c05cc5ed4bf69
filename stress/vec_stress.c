/*
 * vec_stress.c: stress scenarios for freezable vectors.
 *
 * vec.freeze_race  Rounds: producers push pointers to freshly built items (producer id,
 *                  sequence number, checksum) while readers get random indices below the length
 *                  and check the item behind each pointer, and one thread freezes after a random
 *                  number of its own reads, then at once reads every frozen element with plain
 *                  loads while producers may still run. After the round: every push that
 *                  returned 0 is in the frozen vector exactly once, in its producer's order;
 *                  every other push returned CASK_EFROZEN and its producer pushed nothing after
 *                  it (nor after a cask_vec_reserve, which producers also call now and then,
 *                  that returned CASK_EFROZEN); nothing landed after the freeze; the frozen
 *                  array holds only well-formed items.
 * vec.thaw_refs    Rounds: a frozen vector is shared by every thread; all read it (the frozen
 *                  array with a four-lane FNV checksum of every element, compared with the one
 *                  taken at the freeze, and cask_vec_get) and drop their reference, while one
 *                  thread thaws its own (in place if it was the last holder, a copy otherwise),
 *                  checks the contents, sets, pushes and freezes it again.
 * vec.growth       Rounds: producers push pointers to fresh items (each producer its own stripe
 *                  of producer id and sequence numbers, each item carrying a checksum) and now
 *                  and then replace one of their own earlier elements with a fresh copy
 *                  (cask_vec_set) or reserve room ahead (cask_vec_reserve), while readers get
 *                  the newest element and random ones, so reads run across every commit and
 *                  prefault of new pages (the stress build prefaults one page at a time). After the round: frozen, every
 *                  push that succeeded is in the vector once, in its producer's order, and well
 *                  formed.
 * vec.stall        Lock-freedom of push: thread 0 pushes until it parks (stress/stall.h), with no
 *                  time limit, at a random "vec.*" noise point: any, or one of the two where a
 *                  paused push matters most: after its reservation and before its element is
 *                  stored (vec.push.reserved), or in the middle of committing new pages
 *                  (vec.commit). Each other thread then pushes STALL_PUSHES items across several
 *                  page commits (made by the pushes themselves; in half the rounds a reserve now
 *                  and then commits ahead instead) and reads back each element it pushed. A
 *                  push that waits for the parked one never lets the round end: the
 *                  watchdog reports the hang. After the release: frozen, every push is in the
 *                  vector once, in its producer's order (thread 0's too).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cask/cask.h"
#include "stress/harness.h"
#include "stress/scenarios.h"
#include "stress/stall.h"

#define ITEM_KEY UINT64_C(0x9E3779B97F4A7C15)
#define PER_THREAD 400

typedef struct {
    uint64_t producer, seq, check; /* plain fields: written before the push publishes them */
} item;

static item *make_item(uint64_t producer, uint64_t seq)
{
    item *it = malloc(sizeof(*it));
    if (it != NULL) {
        it->producer = producer;
        it->seq = seq;
        it->check = (producer * 1000003u + seq) * ITEM_KEY;
    }
    return it;
}

static bool item_ok(const item *it, int threads)
{
    return it != NULL && it->producer < (uint64_t)threads &&
           it->check == (it->producer * 1000003u + it->seq) * ITEM_KEY;
}

/* Counts, per producer, the items of the frozen array a[0..len) into seen[], and fails the run
 * if an item is malformed or out of its producer's order (a producer's items carry seq 0, 1, ...). */
static void count_frozen_items(cask_stress_run *run, const item *const *a, size_t len, int threads,
                               uint64_t seen[64])
{
    for (size_t i = 0; a != NULL && i < len; i++) {
        if (!item_ok(a[i], threads) || a[i]->seq != seen[a[i]->producer]) {
            cask_stress_fail(run, "invariant: frozen element %zu is malformed or out of its "
                                  "producer's order", i);
            return;
        }
        seen[a[i]->producer]++;
    }
}

/* The end of a round of a mutable vector: freezes it and checks that producers
 * first..threads-1 each have exactly pushed[p] items in it, in order, and nothing else is; then
 * frees the items and drops the vector. */
static void freeze_and_count(cask_stress_run *run, cask_vec *v, int threads, int first,
                             const uint64_t pushed[64])
{
    if (cask_vec_freeze(v) != 0)
        cask_stress_fail(run, "invariant: cask_vec_freeze failed");
    const item *const *a = cask_vec_frozen_data(v);
    size_t len = cask_vec_length(v);
    uint64_t seen[64] = {0}, total = 0;
    count_frozen_items(run, a, len, threads, seen);
    for (int p = first; p < threads; p++) {
        total += pushed[p];
        if (seen[p] != pushed[p])
            cask_stress_fail(run, "invariant: producer %d pushed %llu, the frozen vector holds "
                                  "%llu of its items", p, (unsigned long long)pushed[p],
                             (unsigned long long)seen[p]);
    }
    if (total != len)
        cask_stress_fail(run, "invariant: %llu successful pushes, frozen length %zu",
                         (unsigned long long)total, len);
    for (size_t i = 0; a != NULL && i < len; i++)
        free((void *)a[i]);
    cask_vec_unref(v);
    cask_stress_add_checked(run, 1);
}

typedef struct {
    cask_vec *v;
    int threads;
    uint64_t pushed[64];    /* per producer: successful pushes */
    bool after_fail[64];    /* a producer pushed successfully after a CASK_EFROZEN */
} race_round;

static void race_worker(cask_stress_run *run, int index, void *arg)
{
    race_round *r = arg;
    if (index == 0) { /* the freezer, which reads first */
        uint64_t reads = cask_stress_rand() % 200;
        for (uint64_t n = 0; n < reads; n++) {
            size_t len = cask_vec_length(r->v);
            item *it = NULL;
            if (len > 0 && cask_vec_get(r->v, cask_stress_rand() % len, &it) == 0 &&
                !item_ok(it, r->threads))
                cask_stress_fail(run, "invariant: a reader got a malformed item");
        }
        CASK_NOISE_POINT("vec_stress.before_freeze");
        if (cask_vec_freeze(r->v) != 0)
            cask_stress_fail(run, "invariant: cask_vec_freeze failed");
        /* At once, while producers may still be running: plain reads of every frozen element.
         * A push that stores after the freeze returned races with these (TSan), or left its
         * element unwritten (the check). */
        const item *const *a = cask_vec_frozen_data(r->v);
        size_t len = cask_vec_length(r->v);
        for (size_t i = 0; a != NULL && i < len; i++)
            if (!item_ok(a[i], r->threads))
                cask_stress_fail(run, "invariant: frozen element %zu is malformed right after "
                                      "the freeze", i);
        cask_stress_add_ops(run, reads + 1 + len);
        return;
    }
    uint64_t ok = 0;
    bool failed = false;
    for (uint64_t s = 0; s < PER_THREAD; s++) {
        if (cask_stress_rand() % 4 == 0) { /* a read */
            size_t len = cask_vec_length(r->v);
            item *it = NULL;
            if (len > 0 && cask_vec_get(r->v, cask_stress_rand() % len, &it) == 0 &&
                !item_ok(it, r->threads))
                cask_stress_fail(run, "invariant: a reader got a malformed item");
            continue;
        }
        if (cask_stress_rand() % 32 == 0) { /* make room ahead: a mutation racing the freeze too */
            int rc = cask_vec_reserve(r->v, cask_vec_length(r->v) + 300);
            if (rc == CASK_EFROZEN)
                failed = true; /* the freeze has begun: every later push must fail */
            else if (rc != 0)
                cask_stress_fail(run, "invariant: reserve returned %d, not 0 or CASK_EFROZEN", rc);
            continue;
        }
        item *it = make_item((uint64_t)index, ok);
        if (it == NULL) {
            cask_stress_fail(run, "out of memory");
            return;
        }
        int rc = cask_vec_push(r->v, &it, NULL);
        if (rc == 0) {
            if (failed)
                r->after_fail[index] = true;
            ok++;
        } else {
            free(it);
            if (rc != CASK_EFROZEN)
                cask_stress_fail(run, "invariant: push returned %d, not 0 or CASK_EFROZEN", rc);
            failed = true;
        }
    }
    r->pushed[index] = ok;
    cask_stress_add_ops(run, PER_THREAD);
}

static void run_freeze_race(cask_stress_run *run)
{
    int threads = cask_stress_threads(run);
    if (threads > 64)
        threads = 64;
    while (!cask_stress_should_stop(run)) {
        race_round r = {.threads = threads};
        if (cask_vec_create(sizeof(item *), 0, "stress items", &r.v) != 0) {
            cask_stress_fail(run, "setup: out of memory");
            return;
        }
        if (cask_stress_run_threads(run, threads, race_worker, &r) != 0)
            cask_stress_fail(run, "could not start the worker threads");
        const item *const *a = cask_vec_frozen_data(r.v);
        size_t len = cask_vec_length(r.v);
        uint64_t seen[64] = {0}, total = 0;
        if (a == NULL)
            cask_stress_fail(run, "invariant: the vector is not frozen after the round");
        count_frozen_items(run, a, len, threads, seen);
        for (int p = 1; p < threads; p++) {
            total += r.pushed[p];
            if (seen[p] != r.pushed[p] || r.after_fail[p])
                cask_stress_fail(run, "invariant: producer %d pushed %llu successfully, the frozen "
                                      "vector holds %llu of its items%s", p,
                                 (unsigned long long)r.pushed[p], (unsigned long long)seen[p],
                                 r.after_fail[p] ? " (and a push succeeded after a failure)" : "");
        }
        if (total != len)
            cask_stress_fail(run, "invariant: %llu successful pushes, frozen length %zu",
                             (unsigned long long)total, len);
        for (size_t i = 0; a != NULL && i < len; i++)
            free((void *)a[i]);
        cask_vec_unref(r.v);
        cask_stress_add_checked(run, 1);
    }
}

/* Four-lane FNV-1a over 64-bit words: lane i takes words i, i + 4, ...; the lanes are folded at
 * the end. Four independent multiply chains: about four times the speed of one. */
static uint64_t fnv4(const uint64_t *w, size_t n)
{
    uint64_t lane[4] = {UINT64_C(0xcbf29ce484222325), UINT64_C(0x84222325cbf29ce4),
                        UINT64_C(0xcbf29ce4cbf29ce4), UINT64_C(0x8422232584222325)};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int l = 0; l < 4; l++)
            lane[l] = (lane[l] ^ w[i + l]) * UINT64_C(0x100000001b3);
    for (; i < n; i++)
        lane[0] = (lane[0] ^ w[i]) * UINT64_C(0x100000001b3);
    return ((lane[0] * 31 + lane[1]) * 31 + lane[2]) * 31 + lane[3];
}

typedef struct {
    cask_vec *v;
    uint64_t sum; /* fnv4 of the elements, taken at the freeze */
} thaw_round;

static void thaw_worker(cask_stress_run *run, int index, void *arg)
{
    thaw_round *r = arg;
    const uint64_t *a = cask_vec_frozen_data(r->v);
    size_t len = cask_vec_length(r->v);
    if (fnv4(a, len) != r->sum)
        cask_stress_fail(run, "invariant: the frozen elements' checksum changed under a reader");
    for (size_t i = 0; i < len; i += 1 + cask_stress_rand() % 8) {
        uint64_t x = 0;
        if (a[i] != i * ITEM_KEY || cask_vec_get(r->v, i, &x) != 0 || x != a[i])
            cask_stress_fail(run, "invariant: frozen element %zu changed under a reader", i);
    }
    if (index != 0) {
        CASK_NOISE_POINT("vec_stress.before_unref");
        cask_vec_unref(r->v);
        return;
    }
    cask_vec *mine = r->v;
    if (cask_vec_thaw(&mine) != 0) {
        cask_stress_fail(run, "cask_vec_thaw failed");
        return;
    }
    uint64_t x = 0;
    for (size_t i = 0; i < len; i++)
        if (cask_vec_get(mine, i, &x) != 0 || x != i * ITEM_KEY)
            cask_stress_fail(run, "invariant: element %zu differs after thaw", i);
    x = 1;
    if (cask_vec_set(mine, 0, &x) != 0 || cask_vec_push(mine, &x, NULL) != 0)
        cask_stress_fail(run, "invariant: the thawed vector is not mutable");
    /* A copy or the same vector: either freezes again, with the push above in it (a freeze that
     * waited for pushes the copy never made would hang here, and the watchdog says so). */
    if (cask_vec_freeze(mine) != 0 || cask_vec_length(mine) != len + 1)
        cask_stress_fail(run, "invariant: the thawed vector does not freeze again with %zu elements",
                         len + 1);
    cask_vec_unref(mine);
    cask_stress_add_ops(run, len);
}

static void run_thaw_refs(cask_stress_run *run)
{
    int threads = cask_stress_threads(run);
    while (!cask_stress_should_stop(run)) {
        thaw_round r;
        if (cask_vec_create(8, 0, "shared table", &r.v) != 0) {
            cask_stress_fail(run, "setup: out of memory");
            return;
        }
        size_t len = 100 + cask_stress_rand() % 2000;
        for (size_t i = 0; i < len; i++) {
            uint64_t x = i * ITEM_KEY;
            if (cask_vec_push(r.v, &x, NULL) != 0)
                cask_stress_fail(run, "setup: push failed");
        }
        if (cask_vec_freeze(r.v) != 0)
            cask_stress_fail(run, "setup: freeze failed");
        r.sum = fnv4(cask_vec_frozen_data(r.v), len);
        for (int i = 1; i < threads; i++)
            cask_vec_ref(r.v); /* one reference per thread */
        if (cask_stress_run_threads(run, threads, thaw_worker, &r) != 0) {
            cask_stress_fail(run, "could not start the worker threads");
            return;
        }
        cask_stress_add_checked(run, 1);
    }
}

/* ---- vec.growth ---- */

#define GROWTH_PER_THREAD 1500

typedef struct {
    cask_vec *v;
    int threads, readers;
    _Atomic int producing;      /* producers still pushing (relaxed: a loop bound only) */
    uint64_t pushed[64];        /* per producer: successful pushes */
    item **replaced[64];        /* per producer: items replaced by set, freed after the round */
    size_t replaced_n[64];
} growth_round;

static void growth_read(cask_stress_run *run, growth_round *r, size_t i)
{
    item *it = NULL;
    if (cask_vec_get(r->v, i, &it) != 0)
        cask_stress_fail(run, "invariant: get of index %zu below the length failed", i);
    else if (!item_ok(it, r->threads))
        cask_stress_fail(run, "invariant: element %zu is malformed while the vector grows", i);
}

static void growth_worker(cask_stress_run *run, int index, void *arg)
{
    growth_round *r = arg;
    if (index < r->readers) {
        uint64_t reads = 0;
        /* Relaxed: a loop bound; what is read is ordered by the vector itself. */
        while (atomic_load_explicit(&r->producing, memory_order_relaxed) > 0) {
            size_t len = cask_vec_length(r->v);
            if (len > 0) {
                growth_read(run, r, len - 1); /* the newest: next to the commit frontier */
                growth_read(run, r, cask_stress_rand() % len);
                reads += 2;
            }
            CASK_NOISE_POINT("vec_stress.growth_read");
        }
        cask_stress_add_ops(run, reads);
        return;
    }
    size_t mine[GROWTH_PER_THREAD];
    item **replaced = malloc(GROWTH_PER_THREAD / 8 * sizeof(item *) + sizeof(item *));
    size_t nrep = 0;
    uint64_t ok = 0;
    for (uint64_t s = 0; s < GROWTH_PER_THREAD && replaced != NULL; s++) {
        item *it = make_item((uint64_t)index, ok);
        if (it == NULL)
            break;
        if (cask_vec_push(r->v, &it, &mine[ok]) != 0) {
            free(it);
            cask_stress_fail(run, "invariant: push to a mutable vector failed");
            break;
        }
        ok++;
        if (cask_stress_rand() % 64 == 0 && cask_vec_reserve(r->v, cask_vec_length(r->v) + 500) != 0)
            cask_stress_fail(run, "invariant: reserve of a mutable vector failed");
        if (cask_stress_rand() % 8 == 0 && nrep < GROWTH_PER_THREAD / 8) {
            /* replace one of my earlier elements with a fresh copy of the same item */
            uint64_t k = cask_stress_rand() % ok;
            item *copy = make_item((uint64_t)index, k), *old = NULL;
            if (copy == NULL)
                break;
            if (cask_vec_get(r->v, mine[k], &old) != 0 || cask_vec_set(r->v, mine[k], &copy) != 0) {
                free(copy);
                cask_stress_fail(run, "invariant: get or set of my own element %zu failed", mine[k]);
                break;
            }
            replaced[nrep++] = old; /* readers may still hold it: freed after the round */
        }
    }
    r->pushed[index] = ok;
    r->replaced[index] = replaced;
    r->replaced_n[index] = nrep;
    /* Relaxed: only ends the readers' loop. */
    atomic_fetch_sub_explicit(&r->producing, 1, memory_order_relaxed);
    cask_stress_add_ops(run, ok + nrep);
}

static void run_growth(cask_stress_run *run)
{
    int threads = cask_stress_threads(run);
    if (threads > 64)
        threads = 64;
    while (!cask_stress_should_stop(run)) {
        growth_round r = {.threads = threads, .readers = threads >= 4 ? 2 : 1};
        atomic_init(&r.producing, threads - r.readers);
        if (cask_vec_create(sizeof(item *), 0, "growing items", &r.v) != 0) {
            cask_stress_fail(run, "setup: out of memory");
            return;
        }
        if (cask_stress_run_threads(run, threads, growth_worker, &r) != 0)
            cask_stress_fail(run, "could not start the worker threads");
        for (int p = r.readers; p < threads; p++) {
            for (size_t k = 0; k < r.replaced_n[p]; k++)
                free(r.replaced[p][k]);
            free(r.replaced[p]);
        }
        freeze_and_count(run, r.v, threads, r.readers, r.pushed);
    }
}

/* ---- vec.stall ---- */

/* Per other thread: enough that the others commit pages themselves wherever thread 0 parks
 * (within its first few pushes, or inside its commit at index 0, 512 or 1024; a page holds 512
 * elements and commits double). */
#define STALL_PUSHES 700

/* Where thread 0 may park: any vec.* point, after a reservation, in a commit. */
static const char *const stall_prefixes[] = {"vec.", "vec.push.reserved", "vec.commit"};

typedef struct {
    cask_vec *v;
    int threads;
    _Atomic int done_others; /* releases thread 0 (relaxed: control only) */
    bool reserving;          /* the others reserve room ahead now and then (half the rounds:
                              * a reserve commits pages ahead, so pushes would never commit) */
    uint64_t pushed[64];     /* per producer: successful pushes */
} stall_round;

/* Pushes producer index's item number seq; false (reported) if it failed. */
static bool stall_push(cask_stress_run *run, stall_round *r, int index, uint64_t seq,
                       size_t *at)
{
    item *it = make_item((uint64_t)index, seq);
    int rc = it == NULL ? CASK_ENOMEM : cask_vec_push(r->v, &it, at);
    if (rc != 0) {
        free(it);
        cask_stress_fail(run, "invariant: push to a mutable vector returned %d (%s)", rc,
                         cask_strerror(rc));
    }
    return rc == 0;
}

static void stall_worker(cask_stress_run *run, int index, void *arg)
{
    stall_round *r = arg;
    uint64_t ok = 0;
    if (index == 0) {
        const char *prefix = stall_prefixes[cask_stress_rand() % 3];
        int range = strcmp(prefix, "vec.") == 0 ? 24 : 3;
        cask_stress_stall_arm(prefix, 1 + (int)(cask_stress_rand() % (uint64_t)range),
                              &r->done_others, r->threads - 1);
        /* The push it parks in counts when it returns, after the release. */
        while (cask_stress_stall_pending() && stall_push(run, r, index, ok, NULL))
            ok++;
        cask_stress_stall_disarm();
        r->pushed[index] = ok;
        cask_stress_add_ops(run, ok);
        return;
    }
    if (!cask_stress_stall_wait(run, &r->done_others))
        return;
    /* The property: STALL_PUSHES pushes (and the calls around them) while thread 0 is parked
     * inside a push. Only our own elements are read: a get of the index thread 0 reserved
     * waits for it, as vec.h says. */
    size_t at = 0;
    for (; ok < STALL_PUSHES && stall_push(run, r, index, ok, &at); ok++) {
        item *it = NULL;
        if (cask_vec_get(r->v, at, &it) != 0 || !item_ok(it, r->threads) ||
            it->producer != (uint64_t)index || it->seq != ok)
            cask_stress_fail(run, "invariant: element %zu is not the item just pushed there", at);
        if (r->reserving && cask_stress_rand() % 64 == 0 && cask_vec_reserve(r->v, at + 600) != 0)
            cask_stress_fail(run, "invariant: reserve of a mutable vector failed");
    }
    if (!cask_stress_stall_paused())
        cask_stress_fail(run, "thread 0 left its pause before the others were done");
    r->pushed[index] = ok;
    cask_stress_add_ops(run, 2 * ok);
    atomic_fetch_add_explicit(&r->done_others, 1, memory_order_relaxed);
}

static void run_stall(cask_stress_run *run)
{
    int threads = cask_stress_threads(run);
    if (threads > 64)
        threads = 64;
    while (!cask_stress_should_stop(run)) {
        stall_round r = {.threads = threads, .reserving = cask_stress_rand() % 2 == 0};
        atomic_init(&r.done_others, 0);
        cask_stress_stall_reset();
        if (cask_vec_create(sizeof(item *), 0, "stalled items", &r.v) != 0) {
            cask_stress_fail(run, "setup: out of memory");
            return;
        }
        if (cask_stress_run_threads(run, threads, stall_worker, &r) != 0)
            cask_stress_fail(run, "could not start the worker threads");
        freeze_and_count(run, r.v, threads, 0, r.pushed);
    }
}

const cask_stress_scenario cask_stress_vec_scenarios[] = {
    {"vec.freeze_race", "producers and readers while a thread freezes: nothing lost or late",
     run_freeze_race, 2},
    {"vec.thaw_refs", "readers of a frozen vector drop references while one thread thaws",
     run_thaw_refs, 2},
    {"vec.growth", "readers while producers push and set across page commits: nothing torn or lost",
     run_growth, 2},
    {"vec.stall", "thread 0 paused inside a push or a page commit; the others must still push",
     run_stall, 2},
};
const size_t cask_stress_vec_scenario_count =
    sizeof(cask_stress_vec_scenarios) / sizeof(cask_stress_vec_scenarios[0]);
