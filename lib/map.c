/*
 * map.c: a lock-free resizable open-addressing hash map, hazard-pointer managed, freezable.
 *
 * Design
 * ------
 * Sources: C. Click, "A Lock-Free Wait-Free Hash Table", talk at Stanford EE380 and Google,
 * 2007 (keys never leave their slot within a table, so a removed key's slot keeps its identity
 * and a late copier cannot resurrect it); Y. Liu, K. Zhang, M. Spear, "Dynamic-sized
 * nonblocking hash tables", PODC 2014 (a resize first freezes the old buckets, after which they
 * are immutable, then copies them); M. M. Michael's hazard pointers (lib/hp.c) for every object
 * a reader may still hold. docs/design/map.md has the full argument and the table of atomics.
 *
 * Files: this one holds the public operations (create, guards, lookup, the one write path,
 * freeze, iteration); lib/map_table.c holds the tables and the resize/freeze helping machinery;
 * lib/internal/map.h the layout they share.
 *
 * A table is an array of 16-byte slots {key word, value word} with linear probing. The key word
 * is 0 (never used) or the key: u64+1 for integer maps, or a pointer to an immutable key node
 * {hash, len, bytes} with the top 16 bits of the hash packed above the 48-bit address (most
 * probes that do not match are rejected without touching the node). Once set, a key word never
 * changes in that table. The value word is NULL (never had a value), TOMB (removed), or a
 * pointer to a box {retire node, user value}; its low bit F marks the slot frozen.
 * Why boxes and not the user's pointer inline: cask_hp_retire gives the reclaim function only
 * the retired object's address, so the map could not find its destructor from a bare user
 * pointer; the box carries it. It costs one dependent load per successful get; the key and the
 * box pointer stay inline, so a miss or a probe past other keys costs one cache line.
 *
 * Resize (Liu/Zhang/Spear's freeze-then-copy, made cooperative): a thread that sees the table
 * too full (claimed keys > 3/4) or too empty (live keys < 1/8) sets table->next from 0 to
 * PLAN_RESIZE. Every writer that meets a non-zero next helps, in three phases, each split into
 * chunks claimed with fetch_add and finished by a full sweep when the claims ran out before the
 * done-count (a stalled claimer never blocks anyone):
 *   1. freeze: set F on every value word (CAS loop). A frozen slot never changes again.
 *   2. plan: count live values (the frozen table is immutable, so the count is exact), allocate
 *      the new table (2x live, power of two) and install it with CAS next PLAN_RESIZE -> N.
 *   3. copy: for each frozen live slot, claim the same key word in N and CAS N's value
 *      NULL -> box. Then CAS root T -> N and retire T.
 * No thread writes to N before the root CAS (writers help first), so while root == T the
 * frozen T holds the current contents and readers keep reading T without helping. Two copiers
 * of one slot meet on N's key word and only the first value CAS succeeds; a copier stalled past
 * the promotion finds the key word in N (it was copied before promotion) with a non-NULL value
 * (a later remove leaves TOMB, never NULL) and its CAS fails: no resurrection.
 * Freeze uses phase 1 with next = PLAN_FREEZE, then sets map->frozen.
 *
 * Why this design, and what was measured (bench/map_bench.c, 2-core shared machine, one run,
 * side by side; 1,000,000-key range half full, 90/5/5, u64 keys): open addressing with the key
 * and the box pointer inline costs one cache miss to find or miss a key plus one for the box,
 * against a bucket load plus one or more node loads for a split-ordered list: 247 ns/op for
 * this map against 475 for rculfhash at 1 thread (1.9x), 238 against 643 at 2 threads (2.7x);
 * a full `./cask bench map` on a busier machine gave 1.5x and 2.1x (16-byte strings: 3.2x, 2.7x).
 * Memory after the pre-fill (malloc's in-use bytes per key): 82 B (u64) and 114 B (16-byte
 * strings) against rculfhash's 114 and 114. Freeze-then-copy was chosen over Click's per-slot
 * copy-on-touch because it gives invariant M3 (the new table is written only by copiers until
 * promotion), so readers never help and never look in two tables, and a late copier needs no
 * state beyond "the value word is not NULL"; its cost is that writers stop for one table copy
 * per resize (they help, so the pause is the copy's work divided among the writers, about
 * 10 ns per slot). An implementation of Click's scheme was not built to compare against.
 *
 * Memory. Boxes: retired through the map's private hazard-pointer domain by the thread whose
 * CAS took them out of a slot (remove, replace); the reclaim calls the destructor. Tables:
 * retired by the thread whose CAS moved root past them. Key nodes: a key node in T is either
 * live when T froze (carried to N, the same pointer) or dead (freed when T is destroyed). A
 * reader of T may touch key nodes that N owns, so N must outlive T: in a byte map each table
 * has pins = 1 (its own retirement) + 1 if it has a predecessor; destroying T unpins T->next.
 * Tables are therefore destroyed in chain order, and a key node is freed only after every
 * table that shows it is gone. Integer maps have no key nodes: one pin, no chain (a thread
 * stalled inside a call keeps one table alive, not every later one).
 *
 * Invariants
 *   M1 A key word changes at most once (0 -> key) per table; a key occurs in at most one slot.
 *   M2 A value word with F set never changes; F is set only after table->next != 0.
 *   M3 N receives writes other than copies only after root == N; root == T implies every
 *      value of T is current (frozen or not).
 *   M4 A box is in at most one slot of the current table; the thread whose CAS removes it from
 *      the current table retires it, exactly once. Copying moves a box without retiring it.
 *
 * Linearization points
 *   get: the validating load of the value word (not frozen), or the root re-check after
 *        protecting a frozen value; absent: the load of the empty key word (validated by the
 *        empty slot's value not being frozen, or root == T).
 *   insert/put/replace/remove/remove_if: the successful CAS on the value word; failures
 *        (EEXIST, ENOENT): the load of the value word that showed it, unfrozen.
 *   freeze: the last CAS that sets F on the root table's slots (EFROZEN is returned only after
 *        the caller has seen every slot frozen).
 *
 * Memory orders
 *   - Key CAS 0 -> key: acq_rel; key loads acquire: the key node's bytes are published by it.
 *   - Value CAS: release publishes the box (and the user's value behind it) to get's acquire
 *     load; acquire makes the previous box's history ours before we retire it. Freezing CAS is
 *     acq_rel too (the copier's acquire load of the frozen word sees the box's contents).
 *   - root: protect's acquire load pairs with the promotion CAS (acq_rel), which publishes N's
 *     copied contents (every copy happened before the done-count or sweep that preceded it).
 *   - table->next: CAS acq_rel, loads acquire: N's initialisation is published with it.
 *   - chunk claims: relaxed (they only spread work); done-counts: release add / acquire load,
 *     so a thread that sees done == size sees every slot frozen or copied.
 *   - map->frozen: release store after the last freezing CAS; acquire load in readers, which
 *     then read the immutable table without hazard pointers.
 *   - live-count stripes and claimed counts: relaxed (statistics and resize triggers only).
 */
#include "cask/map.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "cask/cask.h"
#include "cask/hp.h"
#include "internal/alloc.h"
#include "internal/check.h"
#include "internal/map.h"

static bool kw_match(const cask_map *m, uintptr_t kw, const mkey *k)
{
    if (m->kind == CASK_MAP_KEY_U64)
        return kw == k->word;
    if ((kw >> TAG_SHIFT) != (k->hash >> TAG_SHIFT))
        return false;
    const keynode *n = kn_of(kw);
    return n->hash32 == (uint32_t)k->hash && n->len == k->len &&
           memcmp(n->bytes, k->bytes, k->len) == 0;
}


static void box_reclaim(void *object)
{
    box *b = object;
    if (b->dtor != NULL)
        b->dtor(b->value);
    cask__free(b);
}

static box *box_new(cask_map *m, void *value)
{
    box *b = cask__alloc(8, sizeof(box));
    if (b != NULL) {
        b->value = value;
        b->dtor = m->dtor;
    }
    return b;
}

static void live_add(cask_map *m, uint64_t hash, long d)
{
    atomic_fetch_add_explicit(&m->live[(hash >> 7) % MAP_STRIPES].n, d, memory_order_relaxed);
}

size_t cask_map_size_approx(cask_map *m)
{
    CASK__REQUIRE(m != NULL, "map", m, "cask_map_size_approx got a NULL map", "pass a map");
    long s = 0;
    for (unsigned i = 0; i < MAP_STRIPES; i++)
        s += atomic_load_explicit(&m->live[i].n, memory_order_relaxed);
    return s < 0 ? 0 : (size_t)s;
}


/* ---- Create, destroy, guards ---- */

int cask_map_create(cask_map **out, const cask_map_options *o)
{
    if (out == NULL || (o != NULL && o->key_kind != CASK_MAP_KEY_BYTES &&
                        o->key_kind != CASK_MAP_KEY_U64))
        return CASK_EINVAL;
    cask_map *m = cask__alloc(64, sizeof(*m));
    if (m == NULL)
        return CASK_ENOMEM;
    memset(m, 0, sizeof(*m));
    m->kind = o != NULL ? o->key_kind : CASK_MAP_KEY_BYTES;
    m->dtor = o != NULL ? o->dtor : NULL;
    size_t size = MAP_MIN_SIZE, want = o != NULL ? o->initial_capacity : 0;
    while (size < 2 * want && size < ((size_t)1 << 40))
        size *= 2;
    table *t = cask__map_table_new(m, size, 1);
    if (t == NULL || cask_hp_domain_create(&m->domain) != 0) {
        cask__free(t);
        cask__free(m);
        return CASK_ENOMEM;
    }
    atomic_init(&m->root, t);
    atomic_init(&m->frozen, false);
    *out = m;
    return 0;
}

void cask_map_destroy(cask_map *m)
{
    if (m == NULL)
        return;
    /* Reclaims the retired boxes (destructors) and tables (unpinning root down to 1). */
    cask_hp_domain_destroy(m->domain);
    table *t = atomic_load_explicit(&m->root, memory_order_relaxed);
    for (size_t i = 0; i < t->size; i++) {
        uintptr_t kw = atomic_load_explicit(&t->slots[i].key, memory_order_relaxed);
        uintptr_t v = atomic_load_explicit(&t->slots[i].val, memory_order_relaxed) & ~MAP_F;
        if (is_box(v))
            box_reclaim((box *)v);
        if (kw != 0 && m->kind == CASK_MAP_KEY_BYTES)
            cask__free(kn_of(kw));
    }
    cask__free(t);
    cask__free(m);
}

int cask_map_guard_acquire(cask_map *m, cask_map_guard **out)
{
    if (m == NULL || out == NULL)
        return CASK_EINVAL;
    cask_map_guard *g = cask__alloc(16, sizeof(*g));
    if (g == NULL)
        return CASK_ENOMEM;
    g->map = m;
    cask_hp_slot **s[5] = {&g->tab, &g->nxt, &g->val, &g->cmp, &g->it};
    for (int i = 0; i < 5; i++) {
        if (cask_hp_slot_acquire(m->domain, s[i]) != 0) {
            while (i-- > 0)
                cask_hp_slot_release(*s[i]);
            cask__free(g);
            return CASK_ENOMEM;
        }
    }
    *out = g;
    return 0;
}

void cask_map_guard_release(cask_map_guard *g)
{
    CASK__REQUIRE(g != NULL && g->map != NULL, "map guard", g,
                  "cask_map_guard_release got NULL or a guard already released",
                  "release each guard once, with the pointer cask_map_guard_acquire gave");
    cask_hp_slot_release(g->tab);
    cask_hp_slot_release(g->nxt);
    cask_hp_slot_release(g->val);
    cask_hp_slot_release(g->cmp);
    cask_hp_slot_release(g->it);
    g->map = NULL;
    cask__free(g);
}

void cask_map_guard_reset(cask_map_guard *g)
{
    CASK__REQUIRE(g != NULL && g->map != NULL, "map guard", g, "reset of a NULL/released guard",
                  "use a guard from cask_map_guard_acquire");
    cask_hp_reset(g->val);
}

bool cask_map_is_frozen(cask_map *m)
{
    return atomic_load_explicit(&m->frozen, memory_order_acquire); /* pairs with the release store of frozen in cask__map_help() */
}

static void check_call(cask_map *m, cask_map_guard *g, cask_map_key_kind kind)
{
    CASK__REQUIRE(m != NULL && g != NULL, "map", m, "a map call got a NULL map or guard",
                  "pass the map and a guard from cask_map_guard_acquire");
    CASK__REQUIRE(g->map == m, "map guard", g,
                  "a guard was used with another map than the one it was acquired for, or after "
                  "it was released",
                  "acquire one guard per map and thread");
    CASK__REQUIRE(m->kind == kind, "map", m,
                  "a byte-key call on a u64-key map, or a u64-key call on a byte-key map",
                  "use the calls matching the key_kind given to cask_map_create");
}

/* ---- Lookup ---- */

/*
 * Finds k in t. Returns the slot, or NULL if absent; *empty_val receives the value word of the
 * empty slot that ended the probe (for validation), or F when the table was full.
 */
static slot *find(cask_map *m, table *t, const mkey *k, uintptr_t *empty_val)
{
    size_t i = k->hash & t->mask;
    for (size_t probes = 0; probes < t->size; probes++, i = (i + 1) & t->mask) {
        uintptr_t kw = atomic_load_explicit(&t->slots[i].key, memory_order_acquire); /* pairs with the key claim CAS in write_key() or copy_slot() (the key node's bytes) */
        if (kw == 0) {
            /* Relaxed: only tested for F; coherence orders it after the key load's value. */
            *empty_val = atomic_load_explicit(&t->slots[i].val, memory_order_relaxed);
            return NULL;
        }
        if (kw_match(m, kw, k))
            return &t->slots[i];
    }
    *empty_val = MAP_F;
    return NULL;
}

static int get_frozen(cask_map *m, const mkey *k, void **value)
{
    table *t = atomic_load_explicit(&m->root, memory_order_relaxed); /* final: frozen acquired */
    uintptr_t ev;
    slot *s = find(m, t, k, &ev);
    if (s == NULL)
        return CASK_ENOENT;
    uintptr_t v = atomic_load_explicit(&s->val, memory_order_relaxed) & ~MAP_F;
    if (!is_box(v))
        return CASK_ENOENT;
    *value = ((box *)v)->value;
    return 0;
}

/* get on a map not seen frozen, with g->tab and g->val; on success g->val protects the box.
 * Leaves g->tab set: get_value clears it. */
static int get_key(cask_map *m, cask_map_guard *g, const mkey *k, void **value)
{
    for (;;) {
        table *t = cask_hp_protect(g->tab, &m->root);
        uintptr_t ev;
        slot *s = find(m, t, k, &ev);
        if (s == NULL) {
            CASK__NOISE("map.get.absent");
            /* Not frozen: t was current when we read it; else t must still be the root. */
            if ((ev & MAP_F) == 0 || atomic_load_explicit(&m->root, memory_order_acquire) == t) /* pairs with the promotion CAS in cask__map_help() */
                return CASK_ENOENT;
            continue;
        }
        uintptr_t v = atomic_load_explicit(&s->val, memory_order_acquire); /* pairs with the value CAS in write_key() or copy_slot() that published the box */
        for (;;) {
            uintptr_t b = v & ~MAP_F;
            if (!is_box(b)) {
                if ((v & MAP_F) == 0 ||
                    atomic_load_explicit(&m->root, memory_order_acquire) == t) /* pairs with the promotion CAS in cask__map_help() */
                    return CASK_ENOENT;
                break;
            }
            CASK__NOISE("map.get.loaded"); /* b may be removed and destroyed right now */
            cask_hp_set(g->val, (void *)b);
            CASK__NOISE("map.get.published");
            /* The hazard re-validation (hp.h): the box is protected if the slot still holds it. */
            uintptr_t again = atomic_load_explicit(&s->val, memory_order_acquire); /* pairs with the value CAS in write_key() that stored again */
            if (again != v) {
                v = again;
                continue;
            }
            /* A frozen box may be replaced in the new table after promotion: valid only if t is
             * still the root. */
            if ((v & MAP_F) != 0 && atomic_load_explicit(&m->root, memory_order_acquire) != t) /* pairs with the promotion CAS in cask__map_help() */
                break;
            CASK__NOISE("map.get.linearized");
            *value = ((box *)b)->value;
            return 0;
        }
    }
}

/* The lookup of cask_map_get and cask_map_get_u64; on success g->val protects the box (unless
 * frozen). The table's announcement ends with the call: a guard left holding it (a thread idle
 * after a get) would keep that table, and through the pins every later one, in memory. */
static int get_value(cask_map *m, cask_map_guard *g, const mkey *k, void **value)
{
    if (atomic_load_explicit(&m->frozen, memory_order_acquire)) /* pairs with the release store of frozen in cask__map_help() */
        return get_frozen(m, k, value);
    int rc = get_key(m, g, k, value);
    cask_hp_reset(g->tab); /* release: pairs with the scan's acquire load of the slot (the probe's reads of t come before t's reclaim) */
    return rc;
}

static int make_u64(uint64_t key, mkey *k)
{
    if (key == UINT64_MAX)
        return CASK_EINVAL;
    k->word = (uintptr_t)key + 1;
    k->hash = mix64(key);
    k->bytes = NULL;
    k->len = 0;
    return 0;
}

static void make_bytes(const void *key, size_t len, mkey *k)
{
    /* Key nodes store a 32-bit length; callers check len <= UINT32_MAX first. */
    static const unsigned char empty[1];
    k->word = 0;
    k->bytes = key != NULL ? key : empty; /* NULL with len 0: memcpy/memcmp want a valid pointer */
    k->len = len;
    k->hash = hash_bytes(k->bytes, len);
}

int cask_map_get(cask_map *m, cask_map_guard *g, const void *key, size_t len, void **value)
{
    if (m == NULL || g == NULL || value == NULL || (key == NULL && len > 0) || len > UINT32_MAX)
        return CASK_EINVAL;
    check_call(m, g, CASK_MAP_KEY_BYTES);
    mkey k;
    make_bytes(key, len, &k);
    return get_value(m, g, &k, value);
}

int cask_map_get_u64(cask_map *m, cask_map_guard *g, uint64_t key, void **value)
{
    if (m == NULL || g == NULL || value == NULL)
        return CASK_EINVAL;
    check_call(m, g, CASK_MAP_KEY_U64);
    mkey k;
    if (make_u64(key, &k) != 0)
        return CASK_EINVAL;
    return get_value(m, g, &k, value);
}


/* ---- Writes ---- */

enum { OP_INSERT, OP_PUT, OP_REPLACE, OP_REMOVE, OP_REMOVE_IF };

static keynode *keynode_new(const mkey *k)
{
    keynode *n = cask__alloc(8, sizeof(keynode) + k->len);
    if (n != NULL) {
        n->hash32 = (uint32_t)k->hash;
        n->len = (uint32_t)k->len;
        if (k->len > 0)
            memcpy(n->bytes, k->bytes, k->len);
        CASK__REQUIRE(((uintptr_t)n >> TAG_SHIFT) == 0, "map", n,
                      "malloc returned an address above 2^48", "build cask for 48-bit addresses");
    }
    return n;
}

/*
 * The one write path. Finds (or, for insert and put, claims) k's slot in the current table and
 * CASes its value word; helps any resize or freeze it meets and retries on the new root.
 */
static int write_key(cask_map *m, cask_map_guard *g, const mkey *k, int op, void *expected,
                     void *value)
{
    box *nb = NULL;
    keynode *kn = NULL; /* our key copy while no table owns it */
    int rc;
    bool claimable = op == OP_INSERT || op == OP_PUT;
    if (op == OP_INSERT || op == OP_PUT || op == OP_REPLACE) {
        nb = box_new(m, value);
        if (nb == NULL)
            return CASK_ENOMEM;
    }
    for (;;) {
        if (atomic_load_explicit(&m->frozen, memory_order_acquire)) { /* pairs with the release store of frozen in cask__map_help() */
            rc = CASK_EFROZEN;
            goto out;
        }
        table *t = cask_hp_protect(g->tab, &m->root);
        /* A planned table is helped before it is written (M3). */
        if (atomic_load_explicit(&t->next, memory_order_acquire) != 0) /* pairs with the plan CAS in cask__map_plan_resize() or cask_map_freeze() */
            goto help_and_retry;
        slot *s = NULL;
        uintptr_t ev = MAP_F + 1; /* the empty slot's value word; F + 1: the table was full */
        size_t i = k->hash & t->mask;
        for (size_t probes = 0; probes < t->size; probes++, i = (i + 1) & t->mask) {
            uintptr_t kw = atomic_load_explicit(&t->slots[i].key, memory_order_acquire); /* pairs with the key claim CAS below or in copy_slot() (the key node's bytes) */
            if (kw == 0) {
                if (!claimable) {
                    ev = atomic_load_explicit(&t->slots[i].val, memory_order_relaxed);
                    break;
                }
                uintptr_t want = k->word;
                if (m->kind == CASK_MAP_KEY_BYTES) {
                    if (kn == NULL && (kn = keynode_new(k)) == NULL) {
                        rc = CASK_ENOMEM;
                        goto out;
                    }
                    want = (uintptr_t)kn | (uintptr_t)(k->hash >> TAG_SHIFT) << TAG_SHIFT;
                }
                CASK__NOISE("map.claim.before_cas");
                /* Success publishes our key node; failure gives us the winner's. */
                if (atomic_compare_exchange_strong_explicit(&t->slots[i].key, &kw, want,
                                                            memory_order_acq_rel, /* pairs with the acquire key loads in find(), iterate and copy_slot() */
                                                            memory_order_acquire)) { /* pairs with the winner's acq_rel key CAS */
                    CASK__NOISE("map.claim.after_cas");
                    kn = NULL; /* the table owns it now (see Memory) */
                    s = &t->slots[i];
                    size_t c =
                        atomic_fetch_add_explicit(&t->claimed, 1, memory_order_relaxed) + 1;
                    if (c * 4 > t->size * 3)
                        cask__map_plan_resize(t);
                    break;
                }
                CASK__NOISE("map.claim.after_cas");
            }
            if (kw_match(m, kw, k)) {
                s = &t->slots[i];
                break;
            }
        }
        if (s == NULL) {
            if (claimable) { /* full table: grow it */
                cask__map_plan_resize(t);
                goto help_and_retry;
            }
            /* Absent. Not frozen (or, for a full table, no plan yet): t was current when the
             * key words were read. */
            if (ev == MAP_F + 1
                    ? atomic_load_explicit(&t->next, memory_order_acquire) == 0 /* pairs with the plan CAS in cask__map_plan_resize() */
                    : (ev & MAP_F) == 0) {
                rc = CASK_ENOENT;
                goto out;
            }
            goto help_and_retry;
        }
        uintptr_t v = atomic_load_explicit(&s->val, memory_order_acquire); /* pairs with the value CAS below or in copy_slot() that stored the box */
        for (;;) {
            if ((v & MAP_F) != 0)
                goto help_and_retry;
            bool live = is_box(v);
            if (op == OP_INSERT && live) {
                rc = CASK_EEXIST;
                goto out;
            }
            if (!claimable && !live) {
                rc = CASK_ENOENT;
                goto out;
            }
            if (op == OP_REPLACE || op == OP_REMOVE_IF) {
                /* The current box goes in g->cmp, not g->val: g->val still protects the box
                 * of `expected` (the caller's last get), so `expected` cannot be destroyed and
                 * its address reused by another value while we compare against it (ABA). */
                CASK__NOISE("map.write.loaded");
                cask_hp_set(g->cmp, (void *)v);
                CASK__NOISE("map.write.published");
                /* The hazard re-validation (hp.h). */
                uintptr_t again = atomic_load_explicit(&s->val, memory_order_acquire); /* pairs with the value CAS below, in the writer that stored again */
                if (again != v) {
                    v = again;
                    continue;
                }
                if (((box *)v)->value != expected) {
                    rc = CASK_ENOENT;
                    goto out;
                }
            }
            uintptr_t nv = nb != NULL ? (uintptr_t)nb : TOMB;
            CASK__NOISE("map.write.before_cas");
            /* Release publishes nb (and the user's value); acquire orders the old box's
             * writers before its retirement. Failure: acquire, for the box we then look at. */
            if (atomic_compare_exchange_strong_explicit(&s->val, &v, nv,
                                                        memory_order_acq_rel, /* pairs with get_key()'s acquire value loads and freeze_slot()'s CAS */
                                                        memory_order_acquire)) { /* pairs with the value CAS or freezing CAS that changed v */
                CASK__NOISE("map.write.linearized");
                if (live)
                    cask_hp_retire(m->domain, &((box *)v)->node, (void *)v, box_reclaim);
                if (live != (nb != NULL))
                    live_add(m, k->hash, live ? -1 : 1);
                if (live && nb == NULL && t->size > MAP_MIN_SIZE && (k->hash & 15) == 0 &&
                    cask_map_size_approx(m) < t->size / 8)
                    cask__map_plan_resize(t); /* shrink: the next writer to meet it helps */
                nb = NULL;
                rc = 0;
                goto out;
            }
            CASK__NOISE("map.write.cas_failed");
        }
    help_and_retry:
        rc = cask__map_help(m, g, t);
        if (rc != 0)
            goto out;
    }
out:
    cask_hp_reset(g->cmp);
    cask_hp_reset(g->val);
    cask_hp_reset(g->tab);
    if (nb != NULL)
        cask__free(nb);
    if (kn != NULL)
        cask__free(kn);
    return rc;
}

#define BYTES_WRITE(m, g, key, len, op, expected, value)                                           \
    do {                                                                                           \
        if ((m) == NULL || (g) == NULL || ((key) == NULL && (len) > 0) || (len) > UINT32_MAX)     \
            return CASK_EINVAL;                                                                    \
        check_call((m), (g), CASK_MAP_KEY_BYTES);                                                  \
        mkey k_;                                                                                   \
        make_bytes((key), (len), &k_);                                                             \
        return write_key((m), (g), &k_, (op), (expected), (value));                                \
    } while (0)

#define U64_WRITE(m, g, key, op, expected, value)                                                  \
    do {                                                                                           \
        if ((m) == NULL || (g) == NULL)                                                            \
            return CASK_EINVAL;                                                                    \
        check_call((m), (g), CASK_MAP_KEY_U64);                                                    \
        mkey k_;                                                                                   \
        if (make_u64((key), &k_) != 0)                                                             \
            return CASK_EINVAL;                                                                    \
        return write_key((m), (g), &k_, (op), (expected), (value));                                \
    } while (0)

int cask_map_insert(cask_map *m, cask_map_guard *g, const void *key, size_t len, void *value)
{
    BYTES_WRITE(m, g, key, len, OP_INSERT, NULL, value);
}

int cask_map_insert_u64(cask_map *m, cask_map_guard *g, uint64_t key, void *value)
{
    U64_WRITE(m, g, key, OP_INSERT, NULL, value);
}

int cask_map_put(cask_map *m, cask_map_guard *g, const void *key, size_t len, void *value)
{
    BYTES_WRITE(m, g, key, len, OP_PUT, NULL, value);
}

int cask_map_put_u64(cask_map *m, cask_map_guard *g, uint64_t key, void *value)
{
    U64_WRITE(m, g, key, OP_PUT, NULL, value);
}

int cask_map_replace(cask_map *m, cask_map_guard *g, const void *key, size_t len,
                     void *expected, void *value)
{
    BYTES_WRITE(m, g, key, len, OP_REPLACE, expected, value);
}

int cask_map_replace_u64(cask_map *m, cask_map_guard *g, uint64_t key, void *expected,
                         void *value)
{
    U64_WRITE(m, g, key, OP_REPLACE, expected, value);
}

int cask_map_remove(cask_map *m, cask_map_guard *g, const void *key, size_t len)
{
    BYTES_WRITE(m, g, key, len, OP_REMOVE, NULL, NULL);
}

int cask_map_remove_u64(cask_map *m, cask_map_guard *g, uint64_t key)
{
    U64_WRITE(m, g, key, OP_REMOVE, NULL, NULL);
}

int cask_map_remove_if(cask_map *m, cask_map_guard *g, const void *key, size_t len,
                       void *expected)
{
    BYTES_WRITE(m, g, key, len, OP_REMOVE_IF, expected, NULL);
}

int cask_map_remove_if_u64(cask_map *m, cask_map_guard *g, uint64_t key, void *expected)
{
    U64_WRITE(m, g, key, OP_REMOVE_IF, expected, NULL);
}

/* ---- Freeze, iteration, sizes ---- */

int cask_map_freeze(cask_map *m, cask_map_guard *g)
{
    CASK__REQUIRE(m != NULL && g != NULL && g->map == m, "map", m,
                  "cask_map_freeze got NULL or a guard of another map", "pass the map's guard");
    int rc = 0;
    while (!atomic_load_explicit(&m->frozen, memory_order_acquire)) { /* pairs with the release store of frozen in cask__map_help() */
        table *t = cask_hp_protect(g->tab, &m->root);
        uintptr_t plan = 0;
        CASK__NOISE("map.freeze.before_plan");
        /* As cask__map_plan_resize; a resize already planned is helped first. */
        atomic_compare_exchange_strong_explicit(&t->next, &plan, PLAN_FREEZE,
                                                memory_order_acq_rel, /* pairs with the acquire load of next in cask__map_help() */
                                                memory_order_acquire); /* pairs with the plan CAS that won */
        if ((rc = cask__map_help(m, g, t)) != 0)
            break;
    }
    cask_hp_reset(g->tab);
    return rc;
}

static int visit(cask_map *m, uintptr_t kw, box *b, cask_map_visit_fn fn, void *arg)
{
    if (m->kind == CASK_MAP_KEY_U64)
        return fn(NULL, 0, (uint64_t)kw - 1, b->value, arg);
    keynode *n = kn_of(kw);
    return fn(n->bytes, n->len, 0, b->value, arg);
}

int cask_map_iterate(cask_map *m, cask_map_guard *g, cask_map_visit_fn fn, void *arg)
{
    CASK__REQUIRE(m != NULL && g != NULL && g->map == m && fn != NULL, "map", m,
                  "cask_map_iterate got NULL or a guard of another map",
                  "pass the map, its guard and a function");
    int rc = 0;
    bool frozen = atomic_load_explicit(&m->frozen, memory_order_acquire); /* pairs with the release store of frozen in cask__map_help() */
    table *t = frozen ? atomic_load_explicit(&m->root, memory_order_relaxed)
                      : cask_hp_protect(g->it, &m->root);
    for (size_t i = 0; i < t->size && rc == 0; i++) {
        uintptr_t kw = atomic_load_explicit(&t->slots[i].key, memory_order_acquire); /* pairs with the key claim CAS in write_key() or copy_slot() */
        if (kw == 0)
            continue;
        uintptr_t v = atomic_load_explicit(&t->slots[i].val, memory_order_acquire); /* pairs with the value CAS in write_key() or copy_slot() */
        if (frozen) {
            if (is_box(v))
                rc = visit(m, kw, (box *)(v & ~MAP_F), fn, arg);
            continue;
        }
        for (;;) {
            uintptr_t b = v & ~MAP_F;
            if (!is_box(b))
                break;
            CASK__NOISE("map.iter.loaded");
            cask_hp_set(g->val, (void *)b);
            CASK__NOISE("map.iter.published");
            /* The hazard re-validation (hp.h). */
            uintptr_t again = atomic_load_explicit(&t->slots[i].val, memory_order_acquire); /* pairs with the value CAS in write_key() that stored again */
            if (again != v) {
                v = again;
                continue;
            }
            /* A frozen box is current while t is the root. */
            if ((v & MAP_F) == 0 || atomic_load_explicit(&m->root, memory_order_acquire) == t) { /* pairs with the promotion CAS in cask__map_help() */
                rc = visit(m, kw, (box *)b, fn, arg);
                break;
            }
            /* t was replaced: take the key's current value from the new root. */
            mkey k;
            void *value;
            if (m->kind == CASK_MAP_KEY_U64)
                make_u64((uint64_t)kw - 1, &k);
            else
                make_bytes(kn_of(kw)->bytes, kn_of(kw)->len, &k);
            if (get_key(m, g, &k, &value) == 0) {
                box tmp = {.value = value};
                rc = visit(m, kw, &tmp, fn, arg);
            }
            break;
        }
        cask_hp_reset(g->val);
    }
    cask_hp_reset(g->tab);
    cask_hp_reset(g->it);
    return rc;
}

static int count_one(const void *key, size_t len, uint64_t u, void *value, void *arg)
{
    (void)key, (void)len, (void)u, (void)value;
    ++*(size_t *)arg;
    return 0;
}

size_t cask_map_size_exact(cask_map *m, cask_map_guard *g)
{
    size_t n = 0;
    cask_map_iterate(m, g, count_one, &n);
    return n;
}

size_t cask_map_drain(cask_map *m)
{
    CASK__REQUIRE(m != NULL, "map", m, "cask_map_drain got a NULL map", "pass a map");
    return cask_hp_drain(m->domain);
}

size_t cask_map_capacity_bytes(cask_map *m, cask_map_guard *g)
{
    CASK__REQUIRE(m != NULL && g != NULL && g->map == m, "map", m,
                  "cask_map_capacity_bytes got NULL or a guard of another map",
                  "pass the map and its guard");
    table *t = cask_hp_protect(g->tab, &m->root);
    size_t bytes = sizeof(cask_map) + sizeof(table) + t->size * sizeof(slot);
    for (size_t i = 0; i < t->size; i++) {
        /* We read the node's length. */
        uintptr_t kw = atomic_load_explicit(&t->slots[i].key, memory_order_acquire); /* pairs with the key claim CAS in write_key() or copy_slot() */
        uintptr_t v = atomic_load_explicit(&t->slots[i].val, memory_order_relaxed);
        if (kw != 0 && m->kind == CASK_MAP_KEY_BYTES)
            bytes += sizeof(keynode) + kn_of(kw)->len;
        if (is_box(v))
            bytes += sizeof(box);
    }
    cask_hp_reset(g->tab);
    return bytes;
}
