/*
 * Private to cask: the open-addressing hash set of pointers that a hazard-pointer scan fills
 * with every announced hazard (lib/hp_scan.c), so that each retired object is checked in O(1).
 * The set is an array of `cap` pointers (cap a power of two, at least twice the number of
 * entries, so probing ends at a NULL); NULL is never an entry.
 */
#ifndef CASK_INTERNAL_HP_SET_H
#define CASK_INTERNAL_HP_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline size_t cask__hp_hash(const void *p, size_t mask)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 29;
    x *= UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(x >> 32) & mask;
}

/* Adds p (not NULL) to the set. */
static inline void cask__hp_set_insert(void **set, size_t cap, void *p)
{
    size_t i = cask__hp_hash(p, cap - 1);
    while (set[i] != NULL && set[i] != p)
        i = (i + 1) & (cap - 1);
    set[i] = p;
}

/* True if p is in the set. */
static inline bool cask__hp_set_contains(void *const *set, size_t cap, const void *p)
{
    size_t i = cask__hp_hash(p, cap - 1);
    while (set[i] != NULL) {
        if (set[i] == p)
            return true;
        i = (i + 1) & (cap - 1);
    }
    return false;
}

#endif /* CASK_INTERNAL_HP_SET_H */
