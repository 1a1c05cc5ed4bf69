/*
 * map_table.c: the hash map's tables, and the cooperative resize and freeze that replace them.
 *
 * Design (the map as a whole, its invariants M1-M4 and its linearization points: lib/map.c)
 * ------
 * A plan is written into the current table T's `next` word: PLAN_RESIZE (T is too full or too
 * empty) or PLAN_FREEZE (cask_map_freeze). Every writer that meets a non-zero `next` calls
 * cask__map_help, which runs the phases of Liu, Zhang and Spear's freeze-then-copy resize:
 *   1. freeze: set F on every value word of T (freeze_slot). A frozen word never changes again
 *      (M2), so from here on T is immutable and its contents can be counted and copied exactly.
 *   2. plan: count T's live values, allocate N (2x live, power of two; pins: see Memory) and
 *      install it with CAS next PLAN_RESIZE -> N (losers free theirs; N was never visible).
 *      A freeze stops after phase 1 and stores map->frozen instead.
 *   3. copy: for every frozen live slot of T, claim the same key word in N and CAS N's value
 *      word NULL -> box (copy_slot); then CAS root T -> N (promotion) and retire T.
 * Each phase is spread over the helpers by chunks of MAP_CHUNK slots claimed with fetch_add and
 * finished by a full sweep of one's own when the claims ran out before the done-count reached
 * the table size (for_all_slots): a stalled claimer never blocks anyone, at the price of
 * repeated (idempotent) work. Freezing a slot twice is a no-op; copying it twice meets the first
 * copy on N's key word and fails N's value CAS (it is no longer NULL).
 *
 * Why late copies cannot resurrect a removed key: before promotion only copiers write N (M3),
 * and every copy of T was done before the done-count or sweep that preceded the promotion. A
 * copier stalled past the promotion finds its key word already in N with a non-NULL value (a
 * later remove leaves TOMB, never NULL), so its CAS from NULL fails.
 *
 * Memory orders used here (the pairs; each line names its own):
 *   freezing CAS (acq_rel): acquires the last writer's box, publishes the frozen word to copiers'
 *     acquire loads and, through the done-count, to whoever completes the phase;
 *   copier's key CAS on N (acq_rel) and value CAS (release): publish the copy to readers of N,
 *     who load N from root with acquire after the promotion CAS (acq_rel);
 *   done-counts: release fetch_add after a chunk / acquire load before trusting "all done";
 *   table->next: plan and install CASes acq_rel / helpers' acquire loads (N's initialisation);
 *   map->frozen: release store after phase 1 / acquire loads in every call (lib/map.c);
 *   pins: acq_rel fetch_sub, so the last unpinner sees every other access to the table.
 *   Chunk claims and the `claimed` statistic are relaxed: they only spread work.
 *
 * Memory: a table is retired by the thread whose CAS moved root past it. In a byte map a retired
 * table is freed once its own retirement and its predecessor's destruction both unpinned it
 * (pins = 2: tables die in chain order, so a key node shared by T and N outlives every reader of
 * T). An integer map has no key nodes: its tables have one pin and die independently, so a
 * thread stalled inside a call keeps one table in memory, not the chain after it.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "cask/cask.h"
#include "cask/hp.h"
#include "internal/alloc.h"
#include "internal/check.h"
#include "internal/map.h"

_Alignas(16) char cask__map_tomb_obj;

/* The hash of a key word found in a table (its node lives as long as the table; see Memory). */
static uint64_t kw_hash(const cask_map *m, uintptr_t kw)
{
    if (m->kind == CASK_MAP_KEY_U64)
        return mix64((uint64_t)kw - 1);
    return hash_bytes(kn_of(kw)->bytes, kn_of(kw)->len); /* resizes only: not stored */
}

table *cask__map_table_new(cask_map *m, size_t size, int pins)
{
    table *t = cask__alloc(64, sizeof(table) + size * sizeof(slot));
    if (t == NULL)
        return NULL;
    memset(t, 0, sizeof(table) + size * sizeof(slot));
    t->size = size;
    t->mask = size - 1;
    t->map = m;
    atomic_init(&t->pins, pins);
    return t;
}

/* Drops one pin of t; the last one frees its dead key nodes, then (byte maps) unpins its
 * successor. Boxes are not touched: live ones were carried to the successor, dead ones were
 * retired when they left their slot. */
static void table_unpin(table *t)
{
    while (t != NULL) {
        if (atomic_fetch_sub_explicit(&t->pins, 1, memory_order_acq_rel) != 1) /* pairs with the other unpinner's acq_rel fetch_sub: the last one sees its accesses */
            return;
        if (t->map->kind == CASK_MAP_KEY_BYTES) {
            for (size_t i = 0; i < t->size; i++) {
                uintptr_t kw = atomic_load_explicit(&t->slots[i].key, memory_order_relaxed);
                uintptr_t v = atomic_load_explicit(&t->slots[i].val, memory_order_relaxed);
                if (kw != 0 && !is_box(v))
                    cask__free(kn_of(kw));
            }
        }
        /* Only byte maps chain their tables: integer keys have no key nodes to share. */
        uintptr_t next = t->map->kind == CASK_MAP_KEY_BYTES
                             ? atomic_load_explicit(&t->next, memory_order_relaxed)
                             : 0;
        cask__free(t);
        t = next > PLAN_FREEZE ? (table *)next : NULL;
    }
}

void cask__map_table_reclaim(void *object)
{
    table_unpin(object);
}

void cask__map_plan_resize(table *t)
{
    uintptr_t expect = 0;
    CASK__NOISE("map.plan.before_cas");
    /* Success: orders the plan before any freezing CAS of a helper; failure: a plan exists. */
    atomic_compare_exchange_strong_explicit(&t->next, &expect, PLAN_RESIZE,
                                            memory_order_acq_rel, /* pairs with the acquire load of next in cask__map_help and write_key() */
                                            memory_order_relaxed);
    CASK__NOISE("map.plan.after_cas");
}

/* Sets F on slot s's value word (idempotent). */
static void freeze_slot(slot *s)
{
    /* Acquire (here and on CAS failure): if another helper froze the slot, its freezing CAS
     * (which acquired the last writer's box) happens before our completion of the phase, and so
     * before the release store of map->frozen that lock-free frozen readers rely on. */
    uintptr_t v = atomic_load_explicit(&s->val, memory_order_acquire); /* pairs with the release of the freezing CAS below or of write_key()'s value CAS */
    while ((v & MAP_F) == 0) {
        CASK__NOISE("map.freeze.before_cas");
        /* acq_rel: acquires the box a writer's value CAS published; releases the frozen word
         * to the copier's acquire load in copy_slot and to the sweeping helper's load above. */
        if (atomic_compare_exchange_weak_explicit(&s->val, &v, v | MAP_F,
                                                  memory_order_acq_rel, /* pairs with write_key()'s value CAS and copy_slot()'s acquire load */
                                                  memory_order_acquire)) /* pairs with the release of the value CAS or freezing CAS that changed v */
            break;
    }
    CASK__NOISE("map.freeze.after_cas");
}

/* Copies slot i of t (frozen) into n. Idempotent; see the head comment on late copiers. */
static void copy_slot(cask_map *m, table *t, size_t i, table *n)
{
    uintptr_t v = atomic_load_explicit(&t->slots[i].val, memory_order_acquire) & ~MAP_F; /* pairs with freeze_slot()'s acq_rel CAS (the box's contents) */
    if (!is_box(v))
        return;
    uintptr_t kw = atomic_load_explicit(&t->slots[i].key, memory_order_acquire); /* pairs with the key claim CAS in write_key() (the key node's bytes) */
    for (size_t j = kw_hash(m, kw) & n->mask, probes = 0; probes < n->size;
         j = (j + 1) & n->mask, probes++) {
        uintptr_t nk = atomic_load_explicit(&n->slots[j].key, memory_order_acquire); /* pairs with another copier's key CAS below */
        if (nk == 0) {
            CASK__NOISE("map.copy.before_key_cas");
            /* Success publishes the key word to readers of n; failure gives us the winner's. */
            if (atomic_compare_exchange_strong_explicit(&n->slots[j].key, &nk, kw,
                                                        memory_order_acq_rel, /* pairs with the acquire key loads in find() and write_key() */
                                                        memory_order_acquire)) { /* pairs with the winning copier's acq_rel key CAS */
                nk = kw;
                atomic_fetch_add_explicit(&n->claimed, 1, memory_order_relaxed); /* statistic */
            }
            CASK__NOISE("map.copy.after_key_cas");
        }
        if (nk != kw)
            continue;
        uintptr_t expect = 0;
        CASK__NOISE("map.copy.before_val_cas");
        /* Publishes the box to readers of n. Failure (another copier, or a later write after
         * promotion) is fine: nothing to do; a relaxed failure still orders this load before
         * the promotion (hb), so readers of n see that value or a later one (coherence). */
        atomic_compare_exchange_strong_explicit(&n->slots[j].val, &expect, v,
                                                memory_order_release, /* pairs with the acquire value loads in get_key() and write_key() */
                                                memory_order_relaxed);
        CASK__NOISE("map.copy.after_val_cas");
        return;
    }
    CASK__DIE("map table", n, "a resize found no room for a key in the new table",
              "this is a bug in cask's map sizing; please report it");
}

/* Runs freeze_slot (n == NULL) or copy_slot over every slot of t: chunks claimed with
 * fetch_add, then a sweep if the claims ran out before every chunk was reported done. On
 * return every slot was processed, and its processing happens before the return. */
static void for_all_slots(cask_map *m, table *t, _Atomic size_t *claim, _Atomic size_t *done,
                          table *n)
{
    size_t start;
    while ((start = atomic_fetch_add_explicit(claim, MAP_CHUNK, memory_order_relaxed)) <
           t->size) {
        size_t end = start + MAP_CHUNK < t->size ? start + MAP_CHUNK : t->size;
        for (size_t i = start; i < end; i++) {
            if (n == NULL)
                freeze_slot(&t->slots[i]);
            else
                copy_slot(m, t, i, n);
        }
        CASK__NOISE("map.help.chunk_done");
        atomic_fetch_add_explicit(done, end - start, memory_order_release); /* pairs with the acquire load of done below, in other helpers */
    }
    if (atomic_load_explicit(done, memory_order_acquire) >= t->size) /* pairs with every helper's release add above (one release sequence) */
        return;
    for (size_t i = 0; i < t->size; i++) { /* a claimer is slow: do it all ourselves */
        if (n == NULL)
            freeze_slot(&t->slots[i]);
        else
            copy_slot(m, t, i, n);
    }
}

int cask__map_help(cask_map *m, cask_map_guard *g, table *t)
{
    uintptr_t plan = atomic_load_explicit(&t->next, memory_order_acquire); /* pairs with the plan CAS in cask__map_plan_resize() or cask_map_freeze() */
    if (plan == 0)
        return 0;
    for_all_slots(m, t, &t->freeze_claim, &t->freeze_done, NULL);
    if (plan == PLAN_FREEZE) {
        CASK__NOISE("map.freeze.all_frozen");
        /* Every freezing CAS happens before this store (for_all_slots). */
        atomic_store_explicit(&m->frozen, true, memory_order_release); /* pairs with the acquire loads of frozen in lib/map.c */
        return 0;
    }
    plan = atomic_load_explicit(&t->next, memory_order_acquire); /* pairs with the install CAS below, in another helper (n's initialisation) */
    CASK__NOISE("map.resize.next_loaded"); /* a table in plan may be promoted, replaced, freed now */
    if (plan == PLAN_RESIZE) {
        size_t live = 0;
        for (size_t i = 0; i < t->size; i++) /* frozen, and ordered before us: exact */
            live += is_box(atomic_load_explicit(&t->slots[i].val, memory_order_relaxed));
        size_t size = MAP_MIN_SIZE;
        while (size < 2 * live + 2)
            size *= 2;
        table *n = cask__map_table_new(m, size, m->kind == CASK_MAP_KEY_BYTES ? 2 : 1); /* see Memory */
        if (n == NULL) {
            /* Out of memory: only if no other helper has installed its table meanwhile (then we
             * copy into that one, as if our CAS had lost). */
            CASK__NOISE("map.resize.no_memory");
            plan = atomic_load_explicit(&t->next, memory_order_acquire); /* pairs with the install CAS below, in another helper (n's initialisation) */
            if (plan == PLAN_RESIZE)
                return CASK_ENOMEM;
        } else {
            CASK__NOISE("map.resize.before_install");
            if (atomic_compare_exchange_strong_explicit(&t->next, &plan, (uintptr_t)n,
                                                        memory_order_acq_rel, /* pairs with the acquire loads of next above: publishes n's initialisation */
                                                        memory_order_acquire)) /* pairs with the winning helper's install CAS */
                plan = (uintptr_t)n;
            else
                cask__free(n); /* never visible */
            CASK__NOISE("map.resize.after_install");
        }
    }
    table *n = (table *)plan;
    cask_hp_set(g->nxt, n);
    CASK__NOISE("map.resize.nxt_published");
    /* n is retired only after root moved from t to n and then on: if root is still t after
     * the hazard was published, n is protected. */
    if (atomic_load_explicit(&m->root, memory_order_acquire) != t) { /* pairs with the promotion CAS below */
        cask_hp_reset(g->nxt);
        return 0;
    }
    for_all_slots(m, t, &t->copy_claim, &t->copy_done, n);
    void *expect = t;
    CASK__NOISE("map.resize.before_promote");
    /* Every copy happens before this CAS (for_all_slots). */
    if (atomic_compare_exchange_strong_explicit(&m->root, &expect, n,
                                                memory_order_acq_rel, /* pairs with cask_hp_protect()'s acquire load of root: publishes every copy */
                                                memory_order_relaxed))
        cask_hp_retire_sized(m->domain, &t->node, t, cask__map_table_reclaim, /* big: scan soon */
                             sizeof(table) + t->size * sizeof(slot));
    CASK__NOISE("map.resize.after_promote");
    cask_hp_reset(g->nxt);
    return 0;
}
