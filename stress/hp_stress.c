/*
 * hp_stress.c: stress scenarios for hazard pointers.
 *
 * hp.replace        Threads read and replace objects in a shared array of atomic pointers:
 *                   a reader protects a cell and checks the object's magic and checksum; a writer
 *                   swaps in a fresh object and retires the old one. Reclaim poisons the object,
 *                   then frees it, so a reader that reaches a reclaimed object fails its check or
 *                   is caught by TSan (race with the poisoning write or the free) or ASan.
 *                   At the end every retired object must have been reclaimed exactly once.
 * hp.exit_handover  The same, and now and then a worker starts a short-lived thread that
 *                   replaces and retires a few objects and exits with them still pending: the
 *                   domain must adopt them and reclaim each exactly once. Reclaim functions run
 *                   on a short-lived thread (nearly all in its exit scan) do not free: they push
 *                   the poisoned object onto a queue, the graveyard, that the worker that
 *                   started the thread empties and frees after the join. Every such push must
 *                   succeed (reclaim functions may use the queues at thread exit), and every
 *                   object pushed must come out once.
 * Both use a private domain, destroyed at the end of the run.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "cask/cask.h"
#include "stress/harness.h"
#include "stress/scenarios.h"

#define CELLS 64
#define LIVE UINT64_C(0x11FE11FE11FE11FE)
#define DEAD UINT64_C(0xDEADDEADDEADDEAD)
#define CHECK_KEY UINT64_C(0x9E3779B97F4A7C15)

typedef struct {
    cask_hp_retired node;
    uint64_t magic; /* plain fields: TSan must see every unordered access to them */
    uint64_t id;
    uint64_t check; /* id * CHECK_KEY while live */
} object;

typedef struct {
    cask_stress_run *run;
    cask_hp_domain *domain;
    _Atomic(void *) cells[CELLS];
    _Atomic uint64_t next_id, retired, reclaimed, double_reclaims;
    bool handover; /* hp.exit_handover */
    cask_queue *graveyard; /* hp.exit_handover: what short-lived threads reclaimed */
    _Atomic uint64_t buried, exhumed;
} hp_ctx;

static hp_ctx *_Atomic reclaim_ctx; /* the reclaim function's counters; set before workers */
static _Thread_local bool on_short_lived; /* this thread is a short-lived one */

static void reclaim_object(void *p)
{
    object *o = p;
    hp_ctx *c = atomic_load_explicit(&reclaim_ctx, memory_order_relaxed);
    if (o->magic != LIVE)
        atomic_fetch_add_explicit(&c->double_reclaims, 1, memory_order_relaxed);
    o->magic = DEAD; /* poison: a late reader sees it, or TSan sees the race */
    o->check = ~o->check;
    atomic_fetch_add_explicit(&c->reclaimed, 1, memory_order_relaxed);
    if (c->graveyard != NULL && on_short_lived) {
        int rc = cask_queue_push(c->graveyard, o);
        if (rc == 0) {
            atomic_fetch_add_explicit(&c->buried, 1, memory_order_relaxed);
            return;
        }
        cask_stress_fail(c->run, "a reclaim function on an exiting thread could not push to a "
                         "queue: %s", cask_strerror(rc));
    }
    free(o);
}

/* Frees what the short-lived threads' reclaim functions pushed. */
static void empty_graveyard(hp_ctx *c)
{
    void *o;
    while (cask_queue_try_pop(c->graveyard, &o) == 0) {
        if (((object *)o)->magic != DEAD)
            cask_stress_fail(c->run, "the graveyard held a live object %p", o);
        free(o);
        atomic_fetch_add_explicit(&c->exhumed, 1, memory_order_relaxed);
    }
}

static object *make_object(hp_ctx *c)
{
    object *o = malloc(sizeof(*o));
    if (o == NULL)
        return NULL;
    o->magic = LIVE;
    o->id = atomic_fetch_add_explicit(&c->next_id, 1, memory_order_relaxed);
    o->check = o->id * CHECK_KEY;
    return o;
}

static void check_live(hp_ctx *c, const object *o)
{
    if (o->magic != LIVE || o->check != o->id * CHECK_KEY)
        cask_stress_fail(c->run, "reader saw a reclaimed object %p (magic %#llx)", (void *)o,
                         (unsigned long long)o->magic);
}

static void read_one(hp_ctx *c, cask_hp_slot *slot)
{
    _Atomic(void *) *cell = &c->cells[cask_stress_rand() % CELLS];
    object *o = cask_hp_protect(slot, cell);
    CASK_NOISE_POINT("hp_stress.read.protected");
    check_live(c, o);
    if (cask_stress_rand() % 16 == 0) {
        /* Dwell: hold the protection while other threads replace, retire and scan, then look
         * again. A protection that does not protect shows here. */
        for (uint64_t n = 1 + cask_stress_rand() % 4; n > 0; n--) {
            CASK_NOISE_POINT("hp_stress.read.dwell");
            sched_yield();
        }
        check_live(c, o);
    }
    cask_hp_reset(slot);
}

static void replace_one(hp_ctx *c)
{
    object *fresh = make_object(c);
    if (fresh == NULL) {
        cask_stress_fail(c->run, "out of memory");
        return;
    }
    _Atomic(void *) *cell = &c->cells[cask_stress_rand() % CELLS];
    /* acq_rel: release publishes fresh's fields to the readers' acquire load in protect;
     * acquire makes the old object's fields ours before we retire it. */
    object *old = atomic_exchange_explicit(cell, fresh, memory_order_acq_rel);
    CASK_NOISE_POINT("hp_stress.replace.unlinked");
    atomic_fetch_add_explicit(&c->retired, 1, memory_order_relaxed);
    cask_hp_retire(c->domain, &old->node, old, reclaim_object);
}

static void *short_lived(void *arg)
{
    hp_ctx *c = arg;
    on_short_lived = true;
    for (int i = 0; i < 32; i++)
        replace_one(c);
    return NULL; /* exits with retired objects pending: the domain adopts them */
}

static void worker(cask_stress_run *run, int index, void *arg)
{
    (void)index;
    hp_ctx *c = arg;
    cask_hp_slot *slot;
    if (cask_hp_slot_acquire(c->domain, &slot) != 0) {
        cask_stress_fail(run, "cask_hp_slot_acquire failed");
        return;
    }
    while (!cask_stress_should_stop(run)) {
        for (int i = 0; i < 64; i++) {
            uint64_t r = cask_stress_rand() % 1024;
            if (c->handover && r == 0) {
                pthread_t t;
                if (pthread_create(&t, NULL, short_lived, c) == 0)
                    pthread_join(t, NULL);
                empty_graveyard(c);
            } else if (r < 700) {
                read_one(c, slot);
            } else {
                replace_one(c);
            }
        }
        cask_stress_add_ops(run, 64);
    }
    cask_hp_slot_release(slot);
}

static void run_hp(cask_stress_run *run, bool handover)
{
    hp_ctx *c = calloc(1, sizeof(*c));
    if (c == NULL || cask_hp_domain_create(&c->domain) != 0) {
        cask_stress_fail(run, "setup: out of memory");
        free(c);
        return;
    }
    c->run = run;
    c->handover = handover;
    if (handover && cask_queue_create(&c->graveyard) != 0) {
        cask_stress_fail(run, "setup: out of memory");
        cask_hp_domain_destroy(c->domain);
        free(c);
        return;
    }
    atomic_store_explicit(&reclaim_ctx, c, memory_order_relaxed);
    for (int i = 0; i < CELLS; i++)
        atomic_init(&c->cells[i], make_object(c));
    if (cask_stress_run_threads(run, cask_stress_threads(run), worker, c) != 0)
        cask_stress_fail(run, "could not start the worker threads");
    /* All workers have exited: their leftovers are the domain's. Destroy reclaims them all. */
    cask_hp_domain_destroy(c->domain);
    uint64_t retired = atomic_load_explicit(&c->retired, memory_order_relaxed);
    uint64_t reclaimed = atomic_load_explicit(&c->reclaimed, memory_order_relaxed);
    uint64_t twice = atomic_load_explicit(&c->double_reclaims, memory_order_relaxed);
    if (retired != reclaimed || twice != 0)
        cask_stress_fail(run, "retired %llu objects but reclaimed %llu (%llu twice)",
                         (unsigned long long)retired, (unsigned long long)reclaimed,
                         (unsigned long long)twice);
    if (c->graveyard != NULL) {
        empty_graveyard(c);
        uint64_t buried = atomic_load_explicit(&c->buried, memory_order_relaxed);
        uint64_t exhumed = atomic_load_explicit(&c->exhumed, memory_order_relaxed);
        if (buried != exhumed)
            cask_stress_fail(run, "reclaim functions pushed %llu objects to a queue, %llu came out",
                             (unsigned long long)buried, (unsigned long long)exhumed);
        cask_queue_destroy(c->graveyard);
    }
    cask_stress_add_checked(run, 1);
    for (int i = 0; i < CELLS; i++)
        free(atomic_load_explicit(&c->cells[i], memory_order_relaxed));
    free(c);
}

static void run_replace(cask_stress_run *run)
{
    run_hp(run, false);
}

static void run_handover(cask_stress_run *run)
{
    run_hp(run, true);
}

const cask_stress_scenario cask_stress_hp_scenarios[] = {
    {"hp.replace", "readers protect and check objects that writers replace and retire",
     run_replace, 1},
    {"hp.exit_handover", "as hp.replace, plus short-lived threads that exit with retired objects",
     run_handover, 1},
};
const size_t cask_stress_hp_scenario_count =
    sizeof(cask_stress_hp_scenarios) / sizeof(cask_stress_hp_scenarios[0]);
