/*
 * vec.c: freezable vectors.
 *
 * Design
 * ------
 * Storage: one reservation of address space (PROT_NONE, MAP_NORESERVE) holding max_len elements,
 * followed by one "ready" byte per element; pages are committed (mprotect read-write) as pushes
 * reach them, growing the committed prefix geometrically. Storage never moves or shrinks while
 * the vector lives, so readers need no protection, and a frozen vector is a C array. (The
 * alternative, segments of doubling size, also never moves, but a frozen get would then cost a
 * segment lookup instead of an index, and the frozen elements would not be one array.)
 *
 * The length word `state` holds the length in its low bits and two flags: CLOSING (a freeze has
 * begun: mutations fail) and FROZEN (the freeze has completed: no mutation is in flight and none
 * will ever run). `active` counts mutations in flight.
 *
 *   push:   active += 1 (seq_cst); loop { s = state; fail if CLOSING; commit the page of index
 *           len(s); CAS state s -> s + 1 (seq_cst) }; store the element (release); ready[i] = 1
 *           (release); active -= 1 (release).
 *   set:    active += 1 (seq_cst); s = state (seq_cst); fail if CLOSING or i >= len(s); wait for
 *           ready[i]; store the element (release); active -= 1 (release).
 *   freeze: s = fetch_or(state, CLOSING) (seq_cst); wait until active == 0 (acquire); protect
 *           or checksum; state |= FROZEN (release).
 *   get:    s = state (acquire); if FROZEN: plain load; else wait for ready[i] (acquire) and
 *           load the element (acquire).
 *
 * Why a mutation either lands before the freeze or fails (Dekker through seq_cst): a mutation
 * does (A) active += 1 then (B) reads or CASes state; a freeze does (C) the fetch_or on state
 * then (D) reads active. All four are seq_cst, so in the single total order either B comes
 * before C, and then A comes before D, so the freeze waits for this mutation, or C comes before
 * B, and the mutation sees CLOSING and fails. A push's CAS cannot succeed after C, since C
 * changed the word the CAS compares.
 * Why frozen readers may use plain loads: FROZEN is stored with release after the freeze's
 * acquire load saw active == 0, which every finished mutation's release decrement precedes; a
 * reader that sees FROZEN (acquire) therefore sees every element write. No write follows.
 * Linearization points: push at its successful CAS (the element is readable from then on: a get
 * of that index waits for its ready byte); set at its element store; freeze at its fetch_or.
 *
 * Frozen memory: the committed element pages are frozen as one range (lib/internal/frozen.h),
 * write-protected in checked builds, checksummed otherwise.
 */
#define _GNU_SOURCE
#include "cask/vec.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cask/cask.h"
#include "internal/check.h"
#include "internal/frozen.h"

#define CASK__VEC_CLOSING (UINT64_C(1) << 63)
#define CASK__VEC_FROZEN (UINT64_C(1) << 62)
#define CASK__VEC_LEN_MASK (CASK__VEC_FROZEN - 1)

struct cask_vec {
    _Atomic uint64_t state;     /* length | CLOSING | FROZEN */
    _Atomic size_t active;      /* mutations in flight */
    _Atomic size_t committed;   /* elements whose pages are committed */
    _Atomic long refs;
    size_t elem_size, max_len;
    char *data;                 /* max_len * elem_size bytes reserved, page-rounded */
    _Atomic unsigned char *ready; /* max_len bytes reserved, page-rounded */
    size_t data_bytes, ready_bytes;
    const char *name;
    cask__frozen_range range; /* the committed element pages, while frozen */
};

static size_t cask__round_pages(size_t bytes)
{
    size_t page = cask__page_size();
    return (bytes + page - 1) / page * page;
}

/* Element access of the vector's width: one atomic operation, never torn. */
static void cask__vec_store(const cask_vec *v, size_t i, const void *elem)
{
    void *at = v->data + i * v->elem_size;
    switch (v->elem_size) {
    case 1: { uint8_t x; memcpy(&x, elem, 1);
        /* Release: pairs with the acquire load in cask__vec_load. */
        atomic_store_explicit((_Atomic uint8_t *)at, x, memory_order_release); break; }
    case 2: { uint16_t x; memcpy(&x, elem, 2);
        /* Release: pairs with the acquire load in cask__vec_load. */
        atomic_store_explicit((_Atomic uint16_t *)at, x, memory_order_release); break; }
    case 4: { uint32_t x; memcpy(&x, elem, 4);
        /* Release: pairs with the acquire load in cask__vec_load. */
        atomic_store_explicit((_Atomic uint32_t *)at, x, memory_order_release); break; }
    default: { uint64_t x; memcpy(&x, elem, 8);
        /* Release: pairs with the acquire load in cask__vec_load. */
        atomic_store_explicit((_Atomic uint64_t *)at, x, memory_order_release); break; }
    }
}

static void cask__vec_load(const cask_vec *v, size_t i, void *out)
{
    void *at = v->data + i * v->elem_size;
    switch (v->elem_size) {
    case 1: { /* Acquire: pairs with the release store in cask__vec_store. */
        uint8_t x = atomic_load_explicit((_Atomic uint8_t *)at, memory_order_acquire);
        memcpy(out, &x, 1); break; }
    case 2: { /* Acquire: pairs with the release store in cask__vec_store. */
        uint16_t x = atomic_load_explicit((_Atomic uint16_t *)at, memory_order_acquire);
        memcpy(out, &x, 2); break; }
    case 4: { /* Acquire: pairs with the release store in cask__vec_store. */
        uint32_t x = atomic_load_explicit((_Atomic uint32_t *)at, memory_order_acquire);
        memcpy(out, &x, 4); break; }
    default: { /* Acquire: pairs with the release store in cask__vec_store. */
        uint64_t x = atomic_load_explicit((_Atomic uint64_t *)at, memory_order_acquire);
        memcpy(out, &x, 8); break; }
    }
}

/* Waits until element i's push has published it (it has reserved i: it is nearly done). */
static void cask__vec_wait_ready(const cask_vec *v, size_t i)
{
    /* Acquire: pairs with the release store of ready[i] in push (the element is written). */
    while (atomic_load_explicit(&v->ready[i], memory_order_acquire) == 0) {
        CASK__NOISE("vec.wait_ready");
        sched_yield();
    }
}

/* Makes sure the pages of element i (and its ready byte) are committed. Returns false if the
 * kernel refused (nothing visible changed). */
static bool cask__vec_commit(cask_vec *v, size_t i)
{
    /* Acquire: pairs with the release CAS below (the pages are read-write for us too). */
    size_t have = atomic_load_explicit(&v->committed, memory_order_acquire);
    while (i >= have) {
        size_t want = have < 64 ? 64 : 2 * have;
        if (want < i + 1)
            want = i + 1;
        if (want > v->max_len)
            want = v->max_len;
        size_t data_from = cask__round_pages(have * v->elem_size) , data_to =
            cask__round_pages(want * v->elem_size);
        size_t ready_from = cask__round_pages(have), ready_to = cask__round_pages(want);
        if (data_to > data_from &&
            mprotect(v->data + data_from, data_to - data_from, PROT_READ | PROT_WRITE) != 0)
            return false;
        if (ready_to > ready_from &&
            mprotect((char *)v->ready + ready_from, ready_to - ready_from,
                     PROT_READ | PROT_WRITE) != 0)
            return false;
        want = data_to / v->elem_size < ready_to ? data_to / v->elem_size : ready_to;
        if (want > v->max_len)
            want = v->max_len;
        CASK__NOISE("vec.commit");
        /* Release: pairs with the acquire load above; losing means another thread committed
         * at least as much (mprotect of committed pages to read-write changes nothing). */
        if (atomic_compare_exchange_strong_explicit(&v->committed, &have, want,
                                                    memory_order_release, memory_order_acquire))
            have = want;
    }
    return true;
}

int cask_vec_create(size_t elem_size, size_t max_len, const char *name, cask_vec **out)
{
    if (out == NULL || (elem_size != 1 && elem_size != 2 && elem_size != 4 && elem_size != 8))
        return CASK_EINVAL;
    if (max_len == 0)
        max_len = CASK_VEC_DEFAULT_MAX;
    if (max_len > CASK__VEC_LEN_MASK / 8 || max_len > SIZE_MAX / 16)
        return CASK_EINVAL;
    cask_vec *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return CASK_ENOMEM;
    v->elem_size = elem_size;
    v->max_len = max_len;
    v->data_bytes = cask__round_pages(max_len * elem_size);
    v->ready_bytes = cask__round_pages(max_len);
    char *base = mmap(NULL, v->data_bytes + v->ready_bytes, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) {
        free(v);
        return CASK_ENOMEM;
    }
    v->data = base;
    v->ready = (_Atomic unsigned char *)(void *)(base + v->data_bytes);
    v->name = name;
    atomic_init(&v->state, 0);
    atomic_init(&v->active, 0);
    atomic_init(&v->committed, 0);
    atomic_init(&v->refs, 1);
    v->range.kind = "frozen vector";
    v->range.name = name;
    v->range.object = v;
    *out = v;
    return 0;
}

int cask_vec_push(cask_vec *v, const void *elem, size_t *index)
{
    /* Seq_cst: the Dekker pair with freeze (see the design comment). */
    atomic_fetch_add_explicit(&v->active, 1, memory_order_seq_cst);
    CASK__NOISE("vec.push.active");
    int rc = 0;
    /* Seq_cst: the other half of the Dekker pair with freeze's fetch_or. */
    uint64_t s = atomic_load_explicit(&v->state, memory_order_seq_cst);
    size_t i;
    for (;;) {
        if (s & CASK__VEC_CLOSING) {
            rc = CASK_EFROZEN;
            goto out;
        }
        i = (size_t)(s & CASK__VEC_LEN_MASK);
        if (i >= v->max_len) {
            rc = CASK_EFULL;
            goto out;
        }
        if (!cask__vec_commit(v, i)) {
            rc = CASK_ENOMEM;
            goto out;
        }
        CASK__NOISE("vec.push.reserve");
        /* Seq_cst: the reservation, ordered with freeze's fetch_or (fails if it came first). */
        if (atomic_compare_exchange_weak_explicit(&v->state, &s, s + 1, memory_order_seq_cst,
                                                  memory_order_seq_cst))
            break;
    }
    CASK__NOISE("vec.push.reserved");
    cask__vec_store(v, i, elem);
    /* Release: pairs with the acquire load in cask__vec_wait_ready. */
    atomic_store_explicit(&v->ready[i], 1, memory_order_release);
    if (index != NULL)
        *index = i;
out:
    /* Release: pairs with freeze's acquire load of active (our writes precede the freeze). */
    atomic_fetch_sub_explicit(&v->active, 1, memory_order_release);
    return rc;
}

int cask_vec_set(cask_vec *v, size_t i, const void *elem)
{
    /* Seq_cst: the Dekker pair with freeze (see the design comment). */
    atomic_fetch_add_explicit(&v->active, 1, memory_order_seq_cst);
    CASK__NOISE("vec.set.active");
    int rc = 0;
    /* Seq_cst: the other half of the Dekker pair with freeze's fetch_or. */
    uint64_t s = atomic_load_explicit(&v->state, memory_order_seq_cst);
    if (s & CASK__VEC_CLOSING)
        rc = CASK_EFROZEN;
    else if (i >= (size_t)(s & CASK__VEC_LEN_MASK))
        rc = CASK_ENOENT;
    else {
        cask__vec_wait_ready(v, i);
        cask__vec_store(v, i, elem);
    }
    /* Release: pairs with freeze's acquire load of active. */
    atomic_fetch_sub_explicit(&v->active, 1, memory_order_release);
    return rc;
}

int cask_vec_get(const cask_vec *v, size_t i, void *out)
{
    /* Acquire: pairs with the release that set FROZEN (frozen reads are then plain). */
    uint64_t s = atomic_load_explicit(&v->state, memory_order_acquire);
    if (i >= (size_t)(s & CASK__VEC_LEN_MASK))
        return CASK_ENOENT;
    if (s & CASK__VEC_FROZEN) {
        memcpy(out, v->data + i * v->elem_size, v->elem_size);
        return 0;
    }
    cask__vec_wait_ready(v, i);
    cask__vec_load(v, i, out);
    return 0;
}

size_t cask_vec_length(const cask_vec *v)
{
    /* Acquire: pairs with the reservation CAS and the FROZEN release. */
    return (size_t)(atomic_load_explicit(&v->state, memory_order_acquire) & CASK__VEC_LEN_MASK);
}

int cask_vec_freeze_at(cask_vec *v, const char *file, int line)
{
    CASK__REQUIRE(v != NULL, "vector", v, "cask_vec_freeze(NULL)", "pass a vector");
    /* Seq_cst: the freeze's linearization point, the Dekker pair with mutations' active += 1. */
    uint64_t s = atomic_fetch_or_explicit(&v->state, CASK__VEC_CLOSING, memory_order_seq_cst);
    if (s & CASK__VEC_CLOSING)
        return CASK_EFROZEN;
    CASK__NOISE("vec.freeze.closing");
    /* Seq_cst (acquire at least): pairs with every mutation's release decrement; waits for the
     * ones in flight, which now either finish or fail. */
    while (atomic_load_explicit(&v->active, memory_order_seq_cst) != 0) {
        CASK__NOISE("vec.freeze.wait");
        sched_yield();
    }
    size_t len = (size_t)(s & CASK__VEC_LEN_MASK);
    v->range.start = v->data;
    v->range.len = cask__round_pages(len * v->elem_size);
    int rc = cask__frozen_range_freeze(&v->range, file, line);
    if (rc != 0) {
        /* Undo: the vector is mutable again, unchanged (mutations that ran meanwhile failed
         * with CASK_EFROZEN: they saw a freeze in progress). */
        atomic_fetch_and_explicit(&v->state, ~CASK__VEC_CLOSING, memory_order_release); /* release: pairs with the seq_cst state loads in push and set (they may mutate again) */
        return rc;
    }
    atomic_fetch_or_explicit(&v->state, CASK__VEC_FROZEN, memory_order_release); /* release: pairs with the acquire loads of state in get, is_frozen and frozen_data */
    return 0;
}

bool cask_vec_is_frozen(const cask_vec *v)
{
    /* Acquire: pairs with the release that set FROZEN. */
    return (atomic_load_explicit(&v->state, memory_order_acquire) & CASK__VEC_FROZEN) != 0;
}

const void *cask_vec_frozen_data(const cask_vec *v)
{
    return cask_vec_is_frozen(v) ? v->data : NULL;
}

void cask_vec_ref(cask_vec *v)
{
    long before = atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
    CASK__REQUIRE(before > 0, "vector", v, "cask_vec_ref on a vector already freed",
                  "take a reference while you still hold one");
}

static void cask__vec_free(cask_vec *v)
{
    cask__frozen_range_verify(&v->range);
    cask__frozen_range_forget(&v->range);
    munmap(v->data, v->data_bytes + v->ready_bytes);
    free(v);
}

void cask_vec_unref(cask_vec *v)
{
    if (v == NULL)
        return;
    /* Acq_rel: the last holder acquires every other holder's accesses before freeing. */
    long before = atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel);
    CASK__REQUIRE(before > 0, "vector", v, "cask_vec_unref on a vector already freed",
                  "drop each reference exactly once");
    if (before == 1)
        cask__vec_free(v);
}

int cask_vec_thaw(cask_vec **vp)
{
    CASK__REQUIRE(vp != NULL && *vp != NULL, "vector", vp, "cask_vec_thaw(NULL)",
                  "pass the address of your vector pointer");
    cask_vec *v = *vp;
    if (!cask_vec_is_frozen(v))
        return CASK_EINVAL;
    size_t len = cask_vec_length(v);
    /* Acquire: pairs with the other holders' release in unref (they are done with it). */
    if (atomic_load_explicit(&v->refs, memory_order_acquire) == 1) {
        int rc = cask__frozen_range_thaw(&v->range);
        if (rc != 0)
            return rc;
        /* Release: we are the sole owner; the mutable vector starts here. */
        atomic_store_explicit(&v->state, (uint64_t)len, memory_order_release);
        return 0;
    }
    cask_vec *copy;
    int rc = cask_vec_create(v->elem_size, v->max_len, v->name, &copy);
    if (rc != 0)
        return rc;
    if (len > 0 && !cask__vec_commit(copy, len - 1)) {
        cask_vec_unref(copy);
        return CASK_ENOMEM;
    }
    memcpy(copy->data, v->data, len * v->elem_size);
    memset((void *)copy->ready, 1, len);
    atomic_store_explicit(&copy->state, (uint64_t)len, memory_order_relaxed); /* not shared yet */
    *vp = copy;
    cask_vec_unref(v);
    return 0;
}
