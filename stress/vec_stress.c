/*
 * vec_stress.c: stress scenarios for freezable vectors.
 *
 * vec.freeze_race  Rounds: producers push pointers to freshly built items (producer id,
 *                  sequence number, checksum) while readers get random indices below the length
 *                  and check the item behind each pointer, and one thread freezes after a random
 *                  number of its own reads. After the round: every push that returned 0 is in
 *                  the frozen vector exactly once, in its producer's order; every other push
 *                  returned CASK_EFROZEN and its producer pushed nothing after it; nothing
 *                  landed after the freeze; the frozen array holds only well-formed items.
 * vec.thaw_refs    Rounds: a frozen vector is shared by every thread; all read it through the
 *                  frozen array and drop their reference, while one thread thaws its own (in
 *                  place if it was the last holder, a copy otherwise) and checks the contents.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "cask/cask.h"
#include "stress/harness.h"
#include "stress/scenarios.h"

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
        cask_stress_add_ops(run, reads + 1);
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
    int threads = cask_stress_threads(run) < 2 ? 2 : cask_stress_threads(run);
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
        for (size_t i = 0; a != NULL && i < len; i++) {
            if (!item_ok(a[i], threads) || a[i]->seq != seen[a[i]->producer]) {
                cask_stress_fail(run, "invariant: frozen element %zu is malformed or out of its "
                                      "producer's order", i);
                break;
            }
            seen[a[i]->producer]++;
        }
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

typedef struct {
    cask_vec *v;
} thaw_round;

static void thaw_worker(cask_stress_run *run, int index, void *arg)
{
    thaw_round *r = arg;
    const uint64_t *a = cask_vec_frozen_data(r->v);
    size_t len = cask_vec_length(r->v);
    for (size_t i = 0; i < len; i += 1 + cask_stress_rand() % 8)
        if (a[i] != i * ITEM_KEY)
            cask_stress_fail(run, "invariant: frozen element %zu changed under a reader", i);
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
    cask_vec_unref(mine);
    cask_stress_add_ops(run, len);
}

static void run_thaw_refs(cask_stress_run *run)
{
    int threads = cask_stress_threads(run) < 2 ? 2 : cask_stress_threads(run);
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
        for (int i = 1; i < threads; i++)
            cask_vec_ref(r.v); /* one reference per thread */
        if (cask_stress_run_threads(run, threads, thaw_worker, &r) != 0) {
            cask_stress_fail(run, "could not start the worker threads");
            return;
        }
        cask_stress_add_checked(run, 1);
    }
}

const cask_stress_scenario cask_stress_vec_scenarios[] = {
    {"vec.freeze_race", "producers and readers while a thread freezes: nothing lost or late",
     run_freeze_race},
    {"vec.thaw_refs", "readers of a frozen vector drop references while one thread thaws",
     run_thaw_refs},
};
const size_t cask_stress_vec_scenario_count =
    sizeof(cask_stress_vec_scenarios) / sizeof(cask_stress_vec_scenarios[0]);
