/*
 * memo.c: the memo cache of the linearizability search (Lowe's memoisation).
 *
 * Design
 * ------
 * Source: G. Lowe, "Testing for linearizability", Concurrency and Computation: Practice and
 * Experience 29(4), 2017, section 4: the search of Wing & Gong revisits the same configuration
 * (which operations are linearized, and the model state they led to) through different orders
 * of the same operations. Remembering every configuration seen, and not expanding one seen
 * before, turns many exponential searches into polynomial ones. Porcupine (A. Athalye, 2017)
 * does the same with a map from the bitset's hash to a list of (bitset, state) pairs.
 *
 * Here: an open-addressing hash table (linear probing, power-of-two capacity, at most half
 * full) of indices into an array of entries; an entry holds the full 64-bit hash, a copy of the
 * bitset in an arena of large blocks (never moved, never freed before the cache), and the
 * state pointer. The caller supplies the hash (in lincheck.c: a Zobrist hash of the bitset,
 * updated in O(1) per step, mixed with the model's hash of the state), so a lookup costs one
 * probe sequence plus, on a full-hash match, one O(words) compare and one equal() call.
 *
 * Memory budget: every allocation is counted (entries, table, arena blocks, and the bytes of
 * each state the cache keeps, as the caller reports them); an insert that would pass max_bytes
 * fails with CASK_EFULL and changes nothing visible, and the search reports UNKNOWN.
 *
 * Invariants
 *   M1  count <= table_cap / 2; every entry index appears in the table exactly once.
 *   M2  No two entries have equal bitsets and equal states.
 *   M3  bytes == what is allocated now, states included; bytes <= max_bytes.
 *
 * Cost: insert is O(words) expected; growing is amortised O(1) per entry.
 */
#include <stdlib.h>
#include <string.h>

#include "stress/check/internal.h"

typedef struct memo_entry {
    uint64_t hash;
    uint64_t *bits;
    void *state;
    bool owned;
} memo_entry;

typedef struct memo_block {
    struct memo_block *next;
    size_t used, cap; /* in words */
    uint64_t words[];
} memo_block;

struct cask__memo {
    size_t words;       /* bitset length */
    size_t max_bytes;
    size_t bytes;       /* M3 */
    memo_entry *entries;
    size_t count, entries_cap;
    uint32_t *table;    /* 0: empty; otherwise entry index + 1 */
    size_t table_cap;   /* power of two */
    memo_block *blocks; /* newest first */
    size_t next_block;  /* words in the next arena block */
};

int cask__memo_create(size_t words, size_t max_bytes, cask__memo **out)
{
    cask__memo *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return CASK_ENOMEM;
    m->words = words == 0 ? 1 : words;
    m->max_bytes = max_bytes;
    m->table_cap = 1024;
    m->next_block = 1024;
    m->table = calloc(m->table_cap, sizeof(uint32_t));
    if (m->table == NULL) {
        free(m);
        return CASK_ENOMEM;
    }
    m->bytes = sizeof(*m) + m->table_cap * sizeof(uint32_t);
    *out = m;
    return 0;
}

size_t cask__memo_count(const cask__memo *memo)
{
    return memo->count;
}

/* probe - the table position holding an entry equal to (hash, bits, state), or the empty
 * position where it would go. */
static size_t probe(const cask__memo *m, uint64_t hash, const uint64_t *bits, const void *state,
                    bool (*equal)(const void *a, const void *b), bool *found)
{
    size_t mask = m->table_cap - 1;
    for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
        uint32_t slot = m->table[i];
        if (slot == 0) {
            *found = false;
            return i;
        }
        const memo_entry *e = &m->entries[slot - 1];
        if (e->hash == hash && memcmp(e->bits, bits, m->words * sizeof(uint64_t)) == 0 &&
            equal(e->state, state)) {
            *found = true;
            return i;
        }
    }
}

/* grow_table - doubles the table and re-inserts every entry by its stored hash. */
static int grow_table(cask__memo *m)
{
    size_t cap = m->table_cap * 2;
    size_t add = (cap - m->table_cap) * sizeof(uint32_t);
    if (cap > (size_t)UINT32_MAX || m->bytes + add > m->max_bytes)
        return CASK_EFULL;
    uint32_t *t = calloc(cap, sizeof(uint32_t));
    if (t == NULL)
        return CASK_ENOMEM;
    for (size_t k = 0; k < m->count; k++) {
        size_t i = (size_t)m->entries[k].hash & (cap - 1);
        while (t[i] != 0)
            i = (i + 1) & (cap - 1);
        t[i] = (uint32_t)(k + 1);
    }
    free(m->table);
    m->table = t;
    m->table_cap = cap;
    m->bytes += add;
    return 0;
}

/* reserve - makes room for one more entry and one more bitset, or fails changing nothing
 * visible (a grown table or entry array is kept: it is still consistent). */
static int reserve(cask__memo *m, size_t state_bytes)
{
    int rc;
    if ((m->count + 1) * 2 > m->table_cap && (rc = grow_table(m)) != 0)
        return rc;
    if (m->count == m->entries_cap) {
        size_t cap = m->entries_cap == 0 ? 256 : m->entries_cap * 2;
        size_t add = (cap - m->entries_cap) * sizeof(memo_entry);
        if (m->bytes + add > m->max_bytes)
            return CASK_EFULL;
        memo_entry *e = realloc(m->entries, cap * sizeof(memo_entry));
        if (e == NULL)
            return CASK_ENOMEM;
        m->entries = e;
        m->entries_cap = cap;
        m->bytes += add;
    }
    if (m->blocks == NULL || m->blocks->cap - m->blocks->used < m->words) {
        /* Blocks double from 8 KiB to 8 MiB: small partitions stay small. */
        size_t cap = m->next_block > m->words ? m->next_block : m->words;
        if (m->next_block < ((size_t)1 << 20))
            m->next_block *= 2;
        size_t add = sizeof(memo_block) + cap * sizeof(uint64_t);
        if (m->bytes + add > m->max_bytes)
            return CASK_EFULL;
        memo_block *b = malloc(add);
        if (b == NULL)
            return CASK_ENOMEM;
        b->next = m->blocks;
        b->used = 0;
        b->cap = cap;
        m->blocks = b;
        m->bytes += add;
    }
    if (m->bytes + state_bytes > m->max_bytes)
        return CASK_EFULL;
    return 0;
}

int cask__memo_insert(cask__memo *memo, uint64_t hash, const uint64_t *bits, void *state,
                      bool owned, size_t state_bytes,
                      bool (*equal)(const void *a, const void *b))
{
    bool found;
    probe(memo, hash, bits, state, equal, &found);
    if (found)
        return 0;
    int rc = reserve(memo, state_bytes);
    if (rc != 0)
        return rc;
    size_t pos = probe(memo, hash, bits, state, equal, &found); /* the table may have grown */
    memo_block *b = memo->blocks;
    uint64_t *copy = b->words + b->used;
    b->used += memo->words;
    memcpy(copy, bits, memo->words * sizeof(uint64_t));
    memo->entries[memo->count] = (memo_entry){hash, copy, state, owned};
    memo->table[pos] = (uint32_t)(memo->count + 1);
    memo->count++;
    memo->bytes += state_bytes;
    return 1;
}

void cask__memo_destroy(cask__memo *memo, void (*free_state)(void *state))
{
    if (memo == NULL)
        return;
    for (size_t k = 0; k < memo->count; k++)
        if (memo->entries[k].owned)
            free_state(memo->entries[k].state);
    for (memo_block *b = memo->blocks, *next; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    free(memo->entries);
    free(memo->table);
    free(memo);
}
