/*
 * vec_test.c: freezable vectors. Push, get, set and length while mutable; every element size;
 * freeze makes mutations fail with CASK_EFROZEN and the elements one C array; thaw works in place
 * for the sole owner and copies otherwise, and either freezes again (with pushes made after the
 * thaw, and without any); a write through the frozen array is reported (trap in
 * checked builds, checksum in unchecked ones: this file is also built against
 * //:cask_unchecked); and producers racing a freeze lose nothing: every push that succeeded is
 * in the frozen vector exactly once, every other one failed with CASK_EFROZEN. A freeze that
 * fails (checked builds: the frozen-memory registry is full) leaves the vector mutable and
 * unchanged. Reserve makes room without changing the vector, refuses a frozen one and sizes
 * past max_len, and (where the kernel can populate pages and no sanitizer shadows memory) the
 * pushes into reserved room take no page faults; pushes run across the prefaulted chunks up
 * to a max_len that cuts the last one short.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cask/cask.h"
#include "cask/frozen.h"
#include "cask/hp.h"
#include "cask/vec.h"
#include "expect.h"

static void test_sizes_and_errors(void)
{
    cask_vec *v = NULL;
    EXPECT_EQ(cask_vec_create(3, 0, NULL, &v), CASK_EINVAL);
    EXPECT_EQ(cask_vec_create(16, 0, NULL, &v), CASK_EINVAL);
    EXPECT_EQ(cask_vec_create(8, 0, NULL, NULL), CASK_EINVAL);
    EXPECT(v == NULL);
    const size_t sizes[] = {1, 2, 4, 8};
    for (int s = 0; s < 4; s++) {
        EXPECT_EQ(cask_vec_create(sizes[s], 5000, "sized", &v), 0);
        for (uint64_t i = 0; i < 5000; i++) {
            uint64_t x = i * 2654435761u;
            size_t index = 0;
            EXPECT_EQ(cask_vec_push(v, &x, &index), 0);
            EXPECT_EQ(index, i);
        }
        uint64_t x = 1;
        EXPECT_EQ(cask_vec_push(v, &x, NULL), CASK_EFULL);
        EXPECT_EQ(cask_vec_length(v), 5000);
        for (uint64_t i = 0; i < 5000; i++) {
            uint64_t want = i * 2654435761u, got = 0;
            EXPECT_EQ(cask_vec_get(v, i, &got), 0);
            EXPECT(memcmp(&got, &want, sizes[s]) == 0);
        }
        uint64_t untouched = 77;
        EXPECT_EQ(cask_vec_get(v, 5000, &untouched), CASK_ENOENT);
        EXPECT_EQ(untouched, 77);
        x = 0xAB;
        EXPECT_EQ(cask_vec_set(v, 10, &x), 0);
        uint64_t got = 0;
        EXPECT_EQ(cask_vec_get(v, 10, &got), 0);
        EXPECT(memcmp(&got, &x, sizes[s]) == 0);
        EXPECT_EQ(cask_vec_set(v, 5000, &x), CASK_ENOENT);
        cask_vec_unref(v);
    }
}

static void test_freeze_thaw(void)
{
    cask_vec *v;
    EXPECT_EQ(cask_vec_create(8, 0, "numbers", &v), 0);
    EXPECT(cask_vec_frozen_data(v) == NULL);
    for (uint64_t i = 0; i < 1000; i++)
        EXPECT_EQ(cask_vec_push(v, &i, NULL), 0);
    EXPECT_EQ(cask_vec_freeze(v), 0);
    EXPECT(cask_vec_is_frozen(v));
    EXPECT_EQ(cask_vec_freeze(v), CASK_EFROZEN);
    uint64_t x = 5;
    EXPECT_EQ(cask_vec_push(v, &x, NULL), CASK_EFROZEN);
    EXPECT_EQ(cask_vec_set(v, 3, &x), CASK_EFROZEN);
    EXPECT_EQ(cask_vec_length(v), 1000);
    const uint64_t *a = cask_vec_frozen_data(v);
    EXPECT(a != NULL);
    for (uint64_t i = 0; i < 1000; i++)
        EXPECT_EQ(a[i], i);

    /* two references: thaw gives a mutable copy; the frozen original is untouched */
    cask_vec *shared = v;
    cask_vec_ref(shared);
    EXPECT_EQ(cask_vec_thaw(&v), 0);
    EXPECT(v != shared);
    EXPECT(!cask_vec_is_frozen(v));
    EXPECT(cask_vec_is_frozen(shared));
    EXPECT_EQ(cask_vec_set(v, 3, &x), 0);
    EXPECT_EQ(a[3], 3);
    uint64_t got;
    EXPECT_EQ(cask_vec_get(v, 3, &got), 0);
    EXPECT_EQ(got, 5);
    EXPECT_EQ(cask_vec_length(v), 1000);
    /* the copy freezes again (its freeze waits for no push that never happened), and again
     * after pushes of its own */
    EXPECT_EQ(cask_vec_freeze(v), 0);
    EXPECT_EQ(cask_vec_length(v), 1000);
    EXPECT_EQ(cask_vec_thaw(&v), 0); /* sole owner of the copy: in place */
    EXPECT_EQ(cask_vec_push(v, &x, NULL), 0);
    EXPECT_EQ(cask_vec_freeze(v), 0);
    EXPECT_EQ(cask_vec_length(v), 1001);

    /* sole owner: thaw in place */
    EXPECT_EQ(cask_vec_thaw(&shared), 0);
    EXPECT(!cask_vec_is_frozen(shared));
    EXPECT_EQ(cask_vec_push(shared, &x, NULL), 0);
    EXPECT_EQ(cask_vec_length(shared), 1001);
    EXPECT_EQ(cask_vec_thaw(&shared), CASK_EINVAL); /* not frozen */
    EXPECT_EQ(cask_vec_freeze(shared), 0); /* frozen again, with the push made after the thaw */
    EXPECT_EQ(cask_vec_length(shared), 1001);
    EXPECT_EQ(((const uint64_t *)cask_vec_frozen_data(shared))[1000], x);
    cask_vec_unref(shared);
    cask_vec_unref(v);
}

/* The report must name the freeze call's line; the child checks that this constant is it. */
#define FREEZE_LINE 132

static void write_through_frozen_array(void *arg)
{
    (void)arg;
    cask_vec *v;
    EXPECT_EQ(cask_vec_create(8, 0, "routing table", &v), 0);
    for (uint64_t i = 0; i < 100; i++)
        EXPECT_EQ(cask_vec_push(v, &i, NULL), 0);
    EXPECT_EQ(cask_vec_freeze(v), 0); EXPECT_EQ(__LINE__, FREEZE_LINE);
    uint64_t *cheat = (uint64_t *)cask_vec_frozen_data(v);
    cheat[7] = 0; /* checked builds die here */
    cask_vec_unref(v); /* unchecked builds die here: the checksum no longer matches */
}

/* Checked builds: fill the frozen-memory registry with frozen regions, so the vector's freeze
 * cannot register its storage: it must fail with CASK_ENOMEM and leave the vector as it was,
 * mutable; with one record free again, the same freeze succeeds. */
static void test_failed_freeze_changes_nothing(void)
{
    if (!cask_frozen_traps_writes())
        return; /* unchecked builds checksum instead: no registry, no such failure */
    enum { MAX_REGIONS = 1 << 16 };
    void **regions = calloc(MAX_REGIONS, sizeof(void *));
    EXPECT(regions != NULL);
    size_t n = 0;
    while (n < MAX_REGIONS) {
        void *r;
        if (cask_frozen_alloc(8, "filler", &r) != 0)
            break;
        if (cask_frozen_freeze(r) != 0) {
            cask_frozen_free(r);
            break;
        }
        regions[n++] = r;
    }
    EXPECT(n > 0 && n < MAX_REGIONS); /* the registry is bounded, and now full */
    cask_vec *v;
    EXPECT_EQ(cask_vec_create(8, 0, "unlucky", &v), 0);
    for (uint64_t i = 0; i < 10; i++)
        EXPECT_EQ(cask_vec_push(v, &i, NULL), 0);
    EXPECT_EQ(cask_vec_freeze(v), CASK_ENOMEM);
    EXPECT(!cask_vec_is_frozen(v));
    EXPECT(cask_vec_frozen_data(v) == NULL);
    EXPECT_EQ(cask_vec_length(v), 10);
    uint64_t x = 10, got = 0;
    EXPECT_EQ(cask_vec_push(v, &x, NULL), 0); /* still mutable */
    EXPECT_EQ(cask_vec_set(v, 0, &x), 0);
    EXPECT_EQ(cask_vec_get(v, 0, &got), 0);
    EXPECT_EQ(got, 10);
    cask_frozen_free(regions[--n]);
    EXPECT_EQ(cask_vec_freeze(v), 0);
    EXPECT(cask_vec_is_frozen(v));
    EXPECT_EQ(cask_vec_length(v), 11);
    EXPECT_EQ(cask_vec_push(v, &x, NULL), CASK_EFROZEN);
    cask_vec_unref(v);
    while (n > 0)
        cask_frozen_free(regions[--n]);
    free(regions);
}

/* ---- reserve ---- */

/* Minor page faults of this process so far. */
static long minor_faults(void)
{
    struct rusage u;
    EXPECT_EQ(getrusage(RUSAGE_SELF, &u), 0);
    return u.ru_minflt;
}

/* True if this kernel populates pages on request (MADV_POPULATE_WRITE, Linux 5.14) and no
 * sanitizer maps shadow memory on first use: then a reserved push must not fault at all. */
static bool faults_are_countable(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    return false;
#endif
#endif
#ifdef MADV_POPULATE_WRITE
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT(p != MAP_FAILED);
    bool ok = madvise(p, 4096, MADV_POPULATE_WRITE) == 0;
    munmap(p, 4096);
    return ok;
#else
    return false;
#endif
}

static void test_reserve(void)
{
    enum { N = 70000 };
    cask_vec *v;
    EXPECT_EQ(cask_vec_create(8, N, "reserved", &v), 0);
    EXPECT_EQ(cask_vec_reserve(v, N + 1), CASK_EINVAL);
    EXPECT_EQ(cask_vec_reserve(v, 0), 0);
    EXPECT_EQ(cask_vec_length(v), 0);
    for (uint64_t i = 0; i < 10; i++)
        EXPECT_EQ(cask_vec_push(v, &i, NULL), 0);
    EXPECT_EQ(cask_vec_reserve(v, N), 0);
    EXPECT_EQ(cask_vec_reserve(v, 5), 0); /* room already there */
    EXPECT_EQ(cask_vec_length(v), 10);    /* reserve changes no element and not the length */
    uint64_t got;
    for (uint64_t i = 0; i < 10; i++) {
        EXPECT_EQ(cask_vec_get(v, i, &got), 0);
        EXPECT_EQ(got, i);
    }
    EXPECT_EQ(cask_vec_get(v, 10, &got), CASK_ENOENT); /* reserved is not pushed */
    bool count = faults_are_countable();
    long before = count ? minor_faults() : 0;
    for (uint64_t i = 10; i < N; i++)
        EXPECT_EQ(cask_vec_push(v, &i, NULL), 0);
    if (count) /* 547 pages of elements and 18 of ready bytes: without reserve each one faults */
        EXPECT(minor_faults() - before < 8);
    uint64_t x = N;
    EXPECT_EQ(cask_vec_push(v, &x, NULL), CASK_EFULL);
    for (uint64_t i = 0; i < N; i++) {
        EXPECT_EQ(cask_vec_get(v, i, &got), 0);
        EXPECT_EQ(got, i);
    }
    EXPECT_EQ(cask_vec_freeze(v), 0);
    EXPECT_EQ(cask_vec_reserve(v, 1), CASK_EFROZEN);
    EXPECT_EQ(cask_vec_length(v), N);
    EXPECT_EQ(cask_vec_thaw(&v), 0); /* sole owner: in place, mutable again */
    EXPECT_EQ(cask_vec_reserve(v, N), 0);
    cask_vec_unref(v);

    /* Every element size, reserved to max_len, filled to the brim. */
    const size_t sizes[] = {1, 2, 4};
    for (size_t s = 0; s < 3; s++) {
        EXPECT_EQ(cask_vec_create(sizes[s], 9000, "reserved sized", &v), 0);
        EXPECT_EQ(cask_vec_reserve(v, 9000), 0);
        for (uint64_t i = 0; i < 9000; i++) {
            uint64_t e = i * 7;
            EXPECT_EQ(cask_vec_push(v, &e, NULL), 0); /* little-endian: the low bytes */
        }
        for (uint64_t i = 0; i < 9000; i++) {
            uint64_t e = 0;
            EXPECT_EQ(cask_vec_get(v, i, &e), 0);
            EXPECT_EQ(e, (i * 7) & (sizes[s] == 4 ? 0xffffffffu : sizes[s] == 2 ? 0xffffu : 0xffu));
        }
        cask_vec_unref(v);
    }
}

/* Pushes run across the chunks that earlier pushes prefaulted, up to a max_len that ends in the
 * middle of one (8-byte elements: a chunk is 8,192; the last one is cut at 30,000). */
static void test_push_across_prefaulted_chunks(void)
{
    cask_vec *v;
    EXPECT_EQ(cask_vec_create(8, 30000, "chunks", &v), 0);
    for (uint64_t i = 0; i < 30000; i++)
        EXPECT_EQ(cask_vec_push(v, &i, NULL), 0);
    uint64_t x = 0;
    EXPECT_EQ(cask_vec_push(v, &x, NULL), CASK_EFULL);
    EXPECT_EQ(cask_vec_freeze(v), 0);
    const uint64_t *a = cask_vec_frozen_data(v);
    for (uint64_t i = 0; i < 30000; i++)
        EXPECT_EQ(a[i], i);
    cask_vec_unref(v);
}

/* ---- producers racing a freeze ---- */

enum { PRODUCERS = 3, PER_PRODUCER = 20000 };

typedef struct {
    cask_vec *v;
    _Atomic int started;
    uint64_t ok[PRODUCERS];
} race_ctx;

typedef struct {
    race_ctx *c;
    int id;
} producer_arg;

static void *producer(void *p)
{
    producer_arg *a = p;
    /* Relaxed: only a start signal; the vector itself orders what matters. */
    atomic_fetch_add_explicit(&a->c->started, 1, memory_order_relaxed);
    uint64_t ok = 0;
    for (uint64_t s = 0; s < PER_PRODUCER; s++) {
        uint64_t value = ((uint64_t)a->id << 32) | s;
        int rc = cask_vec_push(a->c->v, &value, NULL);
        EXPECT(rc == 0 || rc == CASK_EFROZEN);
        if (rc == 0) {
            EXPECT(ok == s); /* once frozen, every later push fails too */
            ok++;
        }
    }
    a->c->ok[a->id] = ok;
    return NULL;
}

static void test_freeze_races_push(void)
{
    for (int round = 0; round < 20; round++) {
        race_ctx c = {0};
        EXPECT_EQ(cask_vec_create(8, 0, "race", &c.v), 0);
        atomic_init(&c.started, 0);
        pthread_t t[PRODUCERS];
        producer_arg args[PRODUCERS];
        for (int i = 0; i < PRODUCERS; i++) {
            args[i] = (producer_arg){&c, i};
            EXPECT_EQ(pthread_create(&t[i], NULL, producer, &args[i]), 0);
        }
        while (atomic_load_explicit(&c.started, memory_order_relaxed) < PRODUCERS)
            ;
        /* freeze at some point while they push (a few pushes first, varying by round) */
        while (cask_vec_length(c.v) < (size_t)(round * 500))
            ;
        EXPECT_EQ(cask_vec_freeze(c.v), 0);
        size_t len = cask_vec_length(c.v);
        const uint64_t *a = cask_vec_frozen_data(c.v);
        for (int i = 0; i < PRODUCERS; i++)
            EXPECT_EQ(pthread_join(t[i], NULL), 0);
        EXPECT_EQ(cask_vec_length(c.v), len); /* nothing landed after the freeze */
        uint64_t total = 0, seen[PRODUCERS] = {0};
        for (int i = 0; i < PRODUCERS; i++)
            total += c.ok[i];
        EXPECT_EQ(total, len);
        /* each producer's values appear once each, in its order (it pushed them in order) */
        for (size_t i = 0; i < len; i++) {
            int id = (int)(a[i] >> 32);
            EXPECT(id >= 0 && id < PRODUCERS);
            EXPECT_EQ(a[i] & 0xffffffffu, seen[id]);
            seen[id]++;
        }
        for (int i = 0; i < PRODUCERS; i++)
            EXPECT_EQ(seen[i], c.ok[i]);
        cask_vec_unref(c.v);
    }
}

/* A push clears its in-flight announcement (its thread's hazard slot) on every return: success,
 * CASK_EFULL and CASK_EFROZEN (here a push that sees the freeze in its first load; one that sees
 * it after announcing is left to the freeze-race tests and the stress harness). */
static void test_push_clears_its_slot(void)
{
    cask_hp_slot *slot;
    EXPECT_EQ(cask_hp_thread_slot(&slot), 0);
    cask_vec *v;
    EXPECT_EQ(cask_vec_create(8, 1, "slot", &v), 0);
    uint64_t x = 7;
    EXPECT_EQ(cask_vec_push(v, &x, NULL), 0);
    EXPECT(atomic_load_explicit(&slot->hazard, memory_order_relaxed) == NULL);
    EXPECT_EQ(cask_vec_push(v, &x, NULL), CASK_EFULL);
    EXPECT(atomic_load_explicit(&slot->hazard, memory_order_relaxed) == NULL);
    EXPECT_EQ(cask_vec_freeze(v), 0);
    EXPECT_EQ(cask_vec_push(v, &x, NULL), CASK_EFROZEN);
    EXPECT(atomic_load_explicit(&slot->hazard, memory_order_relaxed) == NULL);
    cask_vec_unref(v);
}

/* A thread that holds the announcement a push makes (its hazard slot set to the vector, as a
 * push between its announcement and its reset) keeps a freeze waiting: the freeze has begun
 * (pushes fail) but does not complete until the slot is cleared; a push's reset wakes nobody,
 * so this also exercises the freeze's bounded sleeps. */
typedef struct {
    cask_vec *v;
    _Atomic int stage; /* 1: slot set; 2: clear it */
} holder_ctx;

static void *hold_announcement(void *arg)
{
    holder_ctx *h = arg;
    cask_hp_slot *slot;
    EXPECT_EQ(cask_hp_thread_slot(&slot), 0);
    cask_hp_set(slot, (void *)((uintptr_t)h->v | 1u)); /* what a push announces (lib/vec.c) */
    atomic_store_explicit(&h->stage, 1, memory_order_release); /* the main thread's acquire load */
    while (atomic_load_explicit(&h->stage, memory_order_acquire) != 2) /* main's release store */
        sched_yield();
    cask_hp_reset(slot);
    return NULL;
}

/* A hazard pointer held to the vector itself (a reader that found it through a shared pointer)
 * does not delay a freeze, not even one made by the same thread: a push announces a mark that no
 * protection equals. */
static void test_freeze_ignores_protection_of_vector(void)
{
    cask_vec *v;
    EXPECT_EQ(cask_vec_create(8, 0, "protected", &v), 0);
    cask_hp_slot *slot;
    EXPECT_EQ(cask_hp_slot_acquire(cask_hp_default_domain(), &slot), 0);
    cask_hp_set(slot, v);
    EXPECT_EQ(cask_vec_freeze(v), 0);
    EXPECT(cask_vec_is_frozen(v));
    cask_hp_reset(slot);
    cask_hp_slot_release(slot);
    cask_vec_unref(v);
}

/* Checked builds: a push while the thread slot holds a protection would drop it: a report. */
static void push_over_held_thread_slot(void *arg)
{
    (void)arg;
    cask_vec *v;
    cask_hp_slot *slot;
    if (cask_vec_create(8, 0, "held slot", &v) != 0 || cask_hp_thread_slot(&slot) != 0)
        return;
    cask_hp_set(slot, v);
    uint64_t x = 1;
    (void)cask_vec_push(v, &x, NULL);
}

static void *freeze_it(void *arg)
{
    EXPECT_EQ(cask_vec_freeze((cask_vec *)arg), 0);
    return NULL;
}

static void test_freeze_waits_for_announced_push(void)
{
    holder_ctx h = {0};
    EXPECT_EQ(cask_vec_create(8, 0, "announced", &h.v), 0);
    atomic_init(&h.stage, 0);
    pthread_t holder, freezer;
    EXPECT_EQ(pthread_create(&holder, NULL, hold_announcement, &h), 0);
    while (atomic_load_explicit(&h.stage, memory_order_acquire) != 1) /* holder's release store */
        sched_yield();
    EXPECT_EQ(pthread_create(&freezer, NULL, freeze_it, h.v), 0);
    uint64_t x = 1;
    while (cask_vec_push(h.v, &x, NULL) == 0) /* until the freeze has begun */
        sched_yield();
    EXPECT_EQ(cask_vec_push(h.v, &x, NULL), CASK_EFROZEN);
    for (int i = 0; i < 1000; i++) { /* begun, but waiting for the announced push */
        EXPECT(!cask_vec_is_frozen(h.v));
        sched_yield();
    }
    atomic_store_explicit(&h.stage, 2, memory_order_release); /* the holder's acquire load */
    EXPECT_EQ(pthread_join(freezer, NULL), 0);
    EXPECT(cask_vec_is_frozen(h.v));
    EXPECT_EQ(pthread_join(holder, NULL), 0);
    cask_vec_unref(h.v);
}

int main(void)
{
    test_sizes_and_errors();
    test_freeze_thaw();
    test_freeze_races_push();
    test_failed_freeze_changes_nothing();
    test_reserve();
    test_push_across_prefaulted_chunks();
    test_push_clears_its_slot();
    test_freeze_waits_for_announced_push();
    test_freeze_ignores_protection_of_vector();
    if (cask_frozen_traps_writes()) { /* the checked build */
        const char *held[] = {"fatal misuse of vector", "cask_vec_push", "hazard slot",
                              "cask_hp_slot_acquire", NULL};
        EXPECT(expect_death(push_over_held_thread_slot, NULL, held));
    }
    char line[32];
    snprintf(line, sizeof(line), "vec_test.c:%d", FREEZE_LINE);
    const char *common[] = {"frozen vector \"routing table\"", "frozen at", line, "fix:", NULL,
                            NULL};
    common[4] = cask_frozen_traps_writes() ? "write to frozen memory" : "modified after freeze";
    EXPECT(expect_death(write_through_frozen_array, NULL, common));
    return 0;
}
