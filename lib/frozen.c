/*
 * frozen.c: frozen memory, and the trap that makes a write to it loud.
 *
 * Design
 * ------
 * A region is one private anonymous mapping: a header page, never protected, then the data pages,
 * which the region occupies alone so that protecting them protects nothing else. The caller sees
 * the data pointer; the header sits exactly one page before it and starts with a magic number,
 * which is how every call recognises (and rejects) a pointer that is not a region.
 *
 * Checked builds (CASK_CHECKED=1) freeze with mprotect(PROT_READ). A write then raises SIGSEGV
 * (SEGV_ACCERR). On the first freeze the process installs a SIGSEGV handler (pthread_once) that
 * looks the faulting address up in the registry of frozen regions and, if it falls in one,
 * reports the region's name, its freeze site (file and line), the address and the offset, and
 * aborts, all through the async-signal-safe cask__die_detail. A fault outside every frozen region
 * is not ours: the handler puts the previous disposition back and returns, so the faulting
 * instruction runs again and faults into the previous handler (or the default action).
 *
 * Unchecked builds (CASK_CHECKED=0, as with -DNDEBUG in --config=opt) take a 64-bit FNV-1a
 * checksum of the data at the freeze and recompute it on thaw, free and verify; a mismatch
 * aborts with the same report ("modified after freeze"). Cheap, but it finds the write late and
 * does not say where it came from.
 *
 * The engine works on ranges (lib/internal/frozen.h): a region's header embeds one, and frozen
 * vectors freeze their element storage through the same calls, so one handler reports both.
 * The registry is a fixed array of atomic pointers to ranges plus a high-water mark, so the
 * signal handler can read it without locks: a freeze claims a free slot with a CAS and stores
 * the range pointer with release (after filling the range in), thaw and free clear it with
 * release; the handler reads with acquire. Its size bounds how many regions can be frozen at
 * once in checked builds (CASK__FROZEN_MAX); beyond that a freeze fails with CASK_ENOMEM.
 *
 * Invariants
 *   F1  range->frozen is true exactly while the range's pages are protected (checked builds) or
 *       range->checksum describes its bytes (unchecked builds).
 *   F2  In checked builds, a frozen range is in exactly one registry slot.
 *   F3  Nothing but freeze and thaw changes the protection of a region's pages.
 *
 * Thread safety follows from the contract (frozen.h): freeze, thaw and free run on the sole
 * owner; readers only read. The only shared mutable state is the registry (atomics above) and
 * the handler installation (pthread_once).
 */
#define _GNU_SOURCE
#include "cask/frozen.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cask/cask.h"
#include "internal/check.h"
#include "internal/frozen.h"

#define CASK__FROZEN_MAGIC UINT64_C(0x6672f2e7a5c0ffee)
#define CASK__FROZEN_MAX 16384

/* The page before a region's data: never protected. */
struct cask__frozen_header {
    uint64_t magic;
    size_t map_size; /* header page + data pages */
    cask__frozen_range range;
};

static _Atomic(cask__frozen_range *) cask__frozen_registry[CASK__FROZEN_MAX];
static _Atomic size_t cask__frozen_high_water;
static struct sigaction cask__frozen_previous;
static pthread_once_t cask__frozen_once = PTHREAD_ONCE_INIT;
static bool cask__frozen_handler_ok;

size_t cask__page_size(void)
{
    static _Atomic size_t cached;
    size_t p = atomic_load_explicit(&cached, memory_order_relaxed);
    if (p == 0) {
        long v = sysconf(_SC_PAGESIZE);
        p = v > 0 ? (size_t)v : 4096;
        atomic_store_explicit(&cached, p, memory_order_relaxed);
    }
    return p;
}

/* The header of a region, or NULL if region does not look like one. */
static struct cask__frozen_header *cask__frozen_header_of(const void *region)
{
    if (region == NULL || ((uintptr_t)region & (cask__page_size() - 1)) != 0)
        return NULL;
    struct cask__frozen_header *h =
        (struct cask__frozen_header *)((uintptr_t)region - cask__page_size());
    return h->magic == CASK__FROZEN_MAGIC ? h : NULL;
}

static uint64_t cask__frozen_checksum(const cask__frozen_range *r)
{
    const uint64_t *w = (const uint64_t *)(const void *)r->start;
    uint64_t sum = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < r->len / sizeof(uint64_t); i++)
        sum = (sum ^ w[i]) * UINT64_C(0x100000001b3);
    return sum;
}

/* SIGSEGV handler: a write to a frozen range becomes a report; anything else is not ours. */
static void cask__frozen_on_fault(int sig, siginfo_t *info, void *context)
{
    (void)context;
    const char *addr = info->si_addr;
    /* Acquire: pairs with the release update of the high-water mark in register. */
    size_t n = atomic_load_explicit(&cask__frozen_high_water, memory_order_acquire);
    for (size_t i = 0; i < n; i++) {
        /* Acquire: pairs with the release store that registered the filled-in range. */
        cask__frozen_range *r =
            atomic_load_explicit(&cask__frozen_registry[i], memory_order_acquire);
        if (r != NULL && addr >= r->start && addr < r->start + r->len)
            cask__die_detail(r->file, r->line, "frozen at", r->kind, r->name, r->object,
                             "write to frozen memory: it is immutable since it was frozen, and "
                             "may be shared with other threads",
                             addr, (size_t)(addr - r->start),
                             "do not write to frozen memory: thaw it first if you are its only "
                             "owner, or make a mutable copy");
    }
    /* Not frozen memory: give the fault back to whoever handled it before. */
    sigaction(sig, &cask__frozen_previous, NULL);
}

static void cask__frozen_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = cask__frozen_on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    cask__frozen_handler_ok = sigaction(SIGSEGV, &sa, &cask__frozen_previous) == 0;
}

/* Puts r in a free registry slot. Returns false if the registry is full. */
static bool cask__frozen_register(cask__frozen_range *r)
{
    for (size_t i = 0; i < CASK__FROZEN_MAX; i++) {
        cask__frozen_range *expected = NULL;
        if (atomic_load_explicit(&cask__frozen_registry[i], memory_order_relaxed) != NULL)
            continue;
        /* Release: pairs with the handler's acquire load (the range is filled in). */
        if (atomic_compare_exchange_strong_explicit(&cask__frozen_registry[i], &expected, r,
                                                    memory_order_release,
                                                    memory_order_relaxed)) {
            r->registry_index = i;
            size_t hw = atomic_load_explicit(&cask__frozen_high_water, memory_order_relaxed);
            /* Release: pairs with the handler's acquire load of the high-water mark. */
            while (hw <= i && !atomic_compare_exchange_weak_explicit(
                                  &cask__frozen_high_water, &hw, i + 1, memory_order_release,
                                  memory_order_relaxed)) {
            }
            return true;
        }
    }
    return false;
}

void cask__frozen_range_forget(cask__frozen_range *r)
{
    if (CASK_CHECKED && r->frozen)
        /* Release: pairs with the handler's acquire load; the slot may be reused. */
        atomic_store_explicit(&cask__frozen_registry[r->registry_index], NULL,
                              memory_order_release);
}

static void cask__frozen_die_modified(const cask__frozen_range *r)
{
    cask__die_detail(r->file, r->line, "frozen at", r->kind, r->name, r->object,
                     "modified after freeze: its checksum no longer matches the one taken when "
                     "it was frozen, so some thread wrote to memory others may share",
                     NULL, 0,
                     "find the write through a stale pointer (a checked build traps it at the "
                     "faulting instruction); thaw or copy before changing frozen data");
}

int cask__frozen_range_freeze(cask__frozen_range *r, const char *file, int line)
{
    r->file = file;
    r->line = line;
    if (CASK_CHECKED) {
        pthread_once(&cask__frozen_once, cask__frozen_install);
        if (!cask__frozen_handler_ok || !cask__frozen_register(r))
            return CASK_ENOMEM;
        if (r->len > 0 && mprotect(r->start, r->len, PROT_READ) != 0) {
            /* Release: pairs with the handler's acquire load. */
            atomic_store_explicit(&cask__frozen_registry[r->registry_index], NULL,
                                  memory_order_release);
            return CASK_ENOMEM;
        }
    } else {
        r->checksum = cask__frozen_checksum(r);
    }
    r->frozen = true;
    return 0;
}

int cask__frozen_range_thaw(cask__frozen_range *r)
{
    if (CASK_CHECKED) {
        if (r->len > 0 && mprotect(r->start, r->len, PROT_READ | PROT_WRITE) != 0)
            return CASK_ENOMEM;
        cask__frozen_range_forget(r);
    } else {
        cask__frozen_range_verify(r);
    }
    r->frozen = false;
    return 0;
}

void cask__frozen_range_verify(const cask__frozen_range *r)
{
    if (!CASK_CHECKED && r->frozen && cask__frozen_checksum(r) != r->checksum)
        cask__frozen_die_modified(r);
}

bool cask_frozen_traps_writes(void)
{
    return CASK_CHECKED != 0;
}

int cask_frozen_alloc(size_t size, const char *name, void **out)
{
    if (out == NULL || size == 0)
        return CASK_EINVAL;
    size_t page = cask__page_size();
    if (size > SIZE_MAX - 2 * page)
        return CASK_ENOMEM;
    size_t data_size = (size + page - 1) / page * page;
    void *base = mmap(NULL, page + data_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                      -1, 0);
    if (base == MAP_FAILED)
        return CASK_ENOMEM;
    struct cask__frozen_header *h = base;
    h->magic = CASK__FROZEN_MAGIC;
    h->map_size = page + data_size;
    h->range.kind = "frozen region";
    h->range.name = name;
    h->range.start = (char *)base + page;
    h->range.len = data_size;
    h->range.object = h->range.start;
    *out = h->range.start;
    return 0;
}

int cask_frozen_freeze_at(void *region, const char *file, int line)
{
    struct cask__frozen_header *h = cask__frozen_header_of(region);
    if (h == NULL)
        return CASK_EINVAL;
    if (h->range.frozen)
        return CASK_EFROZEN;
    return cask__frozen_range_freeze(&h->range, file, line);
}

int cask_frozen_thaw(void *region)
{
    struct cask__frozen_header *h = cask__frozen_header_of(region);
    if (h == NULL || !h->range.frozen)
        return CASK_EINVAL;
    return cask__frozen_range_thaw(&h->range);
}

bool cask_frozen_is_frozen(const void *region)
{
    struct cask__frozen_header *h = cask__frozen_header_of(region);
    CASK__REQUIRE(h != NULL, "frozen region", region,
                  "cask_frozen_is_frozen on memory that is not a frozen-memory region",
                  "pass a pointer returned by cask_frozen_alloc");
    return h->range.frozen;
}

void cask_frozen_verify(const void *region)
{
    struct cask__frozen_header *h = cask__frozen_header_of(region);
    CASK__REQUIRE(h != NULL, "frozen region", region,
                  "cask_frozen_verify on memory that is not a frozen-memory region",
                  "pass a pointer returned by cask_frozen_alloc");
    cask__frozen_range_verify(&h->range);
}

void cask_frozen_free(void *region)
{
    if (region == NULL)
        return;
    struct cask__frozen_header *h = cask__frozen_header_of(region);
    CASK__REQUIRE(h != NULL, "frozen region", region,
                  "cask_frozen_free on memory that is not a frozen-memory region (or freed twice)",
                  "free only pointers from cask_frozen_alloc, once");
    cask__frozen_range_verify(&h->range);
    cask__frozen_range_forget(&h->range);
    h->magic = 0;
    munmap(h, h->map_size);
}
