/*
 * Private to cask: the hash map's layout and the calls between its two files.
 *
 * lib/map.c holds the public operations (create, guards, lookup, the one write path, freeze,
 * iteration) and the map's design essay; lib/map_table.c holds the table machinery those
 * operations share: allocating and unpinning tables, and helping a planned resize or freeze to
 * its end (freeze every slot, plan, copy, promote). Nothing here is part of the API.
 */
#ifndef CASK_INTERNAL_MAP_H
#define CASK_INTERNAL_MAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cask/hp.h"
#include "cask/map.h"

#define MAP_MIN_SIZE 16u
#define MAP_CHUNK 1024u
#define MAP_STRIPES 16u
#define MAP_F ((uintptr_t)1)
#define PLAN_RESIZE ((uintptr_t)1)
#define PLAN_FREEZE ((uintptr_t)2)
#define TAG_SHIFT 48

/* The removed-value mark: the address of an object no box can share (defined in map_table.c). */
extern _Alignas(16) char cask__map_tomb_obj;
#define TOMB ((uintptr_t)&cask__map_tomb_obj)

typedef struct keynode { /* 8 + len bytes: a 16-byte key fits a 32-byte malloc chunk */
    uint32_t hash32; /* the low half of the key's hash (the top 16 bits are in the key word) */
    uint32_t len;
    unsigned char bytes[];
} keynode;

typedef struct box { /* 40 bytes: one 48-byte malloc chunk */
    cask_hp_retired node;
    void *value;
    cask_map_value_dtor dtor; /* the map's, copied: the reclaim function has only the box */
} box;

typedef struct slot {
    _Atomic uintptr_t key;
    _Atomic uintptr_t val;
} slot;

typedef struct table {
    cask_hp_retired node;
    size_t size, mask;
    cask_map *map;
    _Atomic int pins;
    _Atomic uintptr_t next; /* 0, PLAN_RESIZE, PLAN_FREEZE or the new table */
    _Alignas(64) _Atomic size_t claimed;
    _Alignas(64) _Atomic size_t freeze_claim;
    _Atomic size_t freeze_done;
    _Alignas(64) _Atomic size_t copy_claim;
    _Atomic size_t copy_done;
    _Alignas(64) slot slots[];
} table;

typedef struct {
    _Alignas(64) _Atomic long n;
} stripe;

struct cask_map {
    _Atomic(void *) root; /* the current table */
    _Atomic bool frozen;
    cask_map_key_kind kind;
    cask_map_value_dtor dtor;
    cask_hp_domain *domain;
    stripe live[MAP_STRIPES];
};

struct cask_map_guard {
    cask_map *map;
    cask_hp_slot *tab; /* the table the call works on */
    cask_hp_slot *nxt; /* the table a resize copies into */
    cask_hp_slot *val; /* the box get returned (replace/remove_if: the box of `expected`) */
    cask_hp_slot *cmp; /* replace/remove_if: the slot's current box, while it is compared */
    cask_hp_slot *it;  /* the table an iteration walks */
};

/* A key as a call sees it: hash, and the u64 word or the bytes. */
typedef struct mkey {
    uint64_t hash;
    uintptr_t word; /* u64 maps: key + 1; byte maps: 0 until a node is allocated */
    const void *bytes;
    size_t len;
} mkey;

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

static inline uint64_t hash_bytes(const void *p, size_t len)
{
    const unsigned char *s = p;
    uint64_t h = UINT64_C(0x9E3779B97F4A7C15) ^ (len * UINT64_C(0xff51afd7ed558ccd));
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * UINT64_C(0x87c37b91114253d5);
        h ^= h >> 32;
        s += 8, len -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, len);
    return mix64(h ^ w);
}

/* The key node a byte-map key word points to (the tag bits above the address removed). */
static inline keynode *kn_of(uintptr_t kw)
{
    return (keynode *)(kw & ((UINT64_C(1) << TAG_SHIFT) - 1));
}

/* True if a value word (F masked or not) holds a box, not NULL (never had one) or TOMB. */
static inline bool is_box(uintptr_t v)
{
    v &= ~MAP_F;
    return v != 0 && v != TOMB;
}

/*
 * cask__map_table_new - a zeroed table of `size` slots (a power of two) with `pins` pins: 1 for
 * its own retirement, plus 1 if a predecessor will unpin it (byte maps only). NULL if
 * allocation failed.
 */
table *cask__map_table_new(cask_map *m, size_t size, int pins);

/*
 * cask__map_table_reclaim - the hazard-pointer reclaim function of a retired table: drops its
 * retirement pin; the last pin frees its dead key nodes and (byte maps) unpins its successor.
 */
void cask__map_table_reclaim(void *object);

/* cask__map_plan_resize - requests a resize of t; a no-op if a resize or freeze is planned. */
void cask__map_plan_resize(table *t);

/*
 * cask__map_help - helps the plan of t (protected by g->tab) to its end: freezes every slot; for
 * a freeze, stores map->frozen; for a resize, installs the new table, copies, promotes it and
 * retires t. Returns 0 when the caller should restart from root, CASK_ENOMEM if the new table
 * could not be allocated (the map's contents are unchanged; t stays frozen and planned, and the
 * next writer retries the allocation). Lock-free: never waits for another helper.
 */
int cask__map_help(cask_map *m, cask_map_guard *g, table *t);

#endif /* CASK_INTERNAL_MAP_H */
