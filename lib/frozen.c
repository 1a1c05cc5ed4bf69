/*
 * frozen.c: frozen memory, and the trap that makes a write to it loud.
 *
 * Design
 * ------
 * A region is one private anonymous mapping: a header page (the region's range and mapping
 * size), then the data pages, which the region occupies alone so that protecting them protects
 * nothing else. The caller sees the data pointer.
 *
 * The registry is a fixed table of CASK__FROZEN_MAX records, each holding a copy of what the
 * trap needs (start, length, whether it traps, and the report's strings and freeze site) plus a
 * pointer to the range for owner lookups. A region has a record from alloc to free in every
 * build; every call that takes a region pointer finds it in the registry (hashing the start
 * address, probing linearly) and rejects a pointer that has none with CASK_EINVAL (or the
 * misuse report), without reading memory near the pointer, which may not be mapped. A vector's
 * range has a record only while frozen, in checked builds.
 *
 * Checked builds (CASK_CHECKED=1) freeze by marking the record trapping, then
 * mprotect(PROT_READ). A write then raises SIGSEGV (SEGV_ACCERR). On the first freeze the
 * process installs a SIGSEGV handler (pthread_once) that looks the faulting address up in the
 * registry and, if it falls in a trapping record, reports the record's name, freeze site (file
 * and line), the address and the offset, and aborts, all through the async-signal-safe
 * cask__die_detail. The handler reads only the registry's atomics: never a range, never a
 * header page, which another thread may be unmapping at that moment. It reads each record
 * under the record's sequence word (a seqlock: odd while the owner rewrites it), so it never
 * pairs the start of one range with the length or name of another. A fault outside every
 * trapping record is not ours: the handler passes it to the previous handler (a function), or
 * returns with SIGSEGV added to the signal mask that the return restores, so the instruction
 * faults again with the signal blocked, which Linux turns into the default action: the process
 * dies the ordinary way. The handler is installed without SA_NODEFER: a fault inside it (or
 * inside a previous handler it calls) is delivered with SIGSEGV blocked, which the kernel turns
 * into the default action, never into unbounded recursion.
 *
 * Under ThreadSanitizer the handler and the pass-on are not instrumented (CASK__UNSEEN_BY_TSAN),
 * and neither calls into TSan's runtime. TSan's atomic operations run inside the runtime, and a
 * non-relaxed one holds the thread's slot lock (and the address's sync object) while it touches
 * the memory: an atomic release store (or any RMW) into a frozen page faults there, with the
 * lock held, and anything in the handler that takes it waits for ever (seen with clang-19: an
 * instrumented acquire load did; the process hung, and ignored SIGTERM, which TSan defers
 * unless the thread is in a blocking call). Hence: the handler's loads are uninstrumented (the
 * same acquire loads, unseen by TSan); the report is written with the write system call, as
 * TSan's write() interceptor releases on the descriptor (a pipe's, say) under the slot lock;
 * and the pass-on blocks SIGSEGV in the returned-to mask instead of calling sigaction(), an
 * interceptor that takes the lock too (a SIGSEGV that was sent, not raised by a fault, would
 * not come back: for that one the default action is restored by the rt_sigaction system call
 * and the signal sent again, cask__frozen_die_by). TSan loses nothing it needs: the handler's only plain
 * read of shared memory is `cask__frozen_previous`, which the real sigaction() fills in (TSan
 * records no write there) before the release store of `cask__frozen_previous_ready` that the
 * handler acquires; the rest is the registry's atomics. The report's formatting
 * (cask__die_detail) stays instrumented: plain accesses to its stack buffer take the slot lock
 * only in its recursive form. Left as they are: abort(), which TSan intercepts to flush stdio
 * (glibc's locks, not TSan's), and a previous handler, which is the program's (or TSan's own:
 * with TSan's default handle_segv=1, TSan's SIGSEGV handler may itself hang on a fault inside
 * an atomic, with or without cask; tests/frozen_test.c's "not frozen" case therefore runs with
 * handle_segv=0). tests/frozen_test.c dies by an atomic release store and by a seq_cst RMW into
 * frozen memory under TSan too, with stderr a pipe.
 *
 * Unchecked builds (CASK_CHECKED=0, as with -DNDEBUG in --config=opt) take a 64-bit
 * multiply-xorshift checksum (four lanes; cask__frozen_checksum) of the data at the freeze and recompute it on thaw, free and verify; a mismatch
 * aborts with the same report ("modified after freeze"). Cheap, but it finds the write late and
 * does not say where it came from.
 *
 * Invariants
 *   F1  range->frozen is true exactly while the range's pages are protected (checked builds) or
 *       range->checksum describes its bytes (unchecked builds).
 *   F2  A region has exactly one record from alloc to free; in checked builds a frozen range
 *       has exactly one record, and it is trapping exactly while the pages are protected
 *       (marked before mprotect(PROT_READ), cleared after mprotect(PROT_READ|PROT_WRITE)).
 *   F3  Nothing but freeze and thaw changes the protection of a region's pages.
 *   F4  A record's claim word goes EMPTY -> USED once, then USED <-> FREE; only its owner (the
 *       thread holding the range) writes its other fields, between two increments of seq.
 *
 * Linearization: a record is visible to lookups from its claim CAS and to the handler from the
 * even seq store that follows its fields; it leaves at the seq store that clears `trapping`.
 * Thread safety follows from the contract (frozen.h): freeze, thaw and free run on the sole
 * owner; readers only read. The only shared mutable state is the registry (atomics above) and
 * the handler installation (pthread_once, then a release flag for the previous disposition).
 */
#define _GNU_SOURCE
#include "cask/frozen.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "cask/cask.h"
#include "internal/check.h"
#include "internal/frozen.h"

/* Keeps a function out of ThreadSanitizer's (and the other sanitizers') instrumentation, atomics
 * included (clang's no_sanitize("thread") still instruments atomics; gcc's no_sanitize_thread
 * does not). For the signal handler only: see the design note above. */
#if defined(__has_attribute)
#if __has_attribute(disable_sanitizer_instrumentation)
#define CASK__UNSEEN_BY_TSAN __attribute__((disable_sanitizer_instrumentation))
#elif defined(__GNUC__) && !defined(__clang__) && __has_attribute(no_sanitize_thread)
#define CASK__UNSEEN_BY_TSAN __attribute__((no_sanitize_thread))
#endif
#endif
#ifndef CASK__UNSEEN_BY_TSAN
#define CASK__UNSEEN_BY_TSAN
#endif

enum { CASK__SLOT_EMPTY = 0, CASK__SLOT_USED = 1, CASK__SLOT_FREE = 2 };

static const char cask__frozen_region_kind[] = "frozen region";

/* One registry record. Every field is atomic: the handler and other threads' probes read them
 * while the owner writes them. */
typedef struct {
    _Atomic unsigned claim;   /* EMPTY (never used), USED, FREE (used before) */
    _Atomic uint64_t seq;     /* odd while the owner rewrites the fields below */
    _Atomic(char *) start;
    _Atomic size_t len;
    _Atomic bool trapping;    /* frozen and write-protected: the handler reports writes */
    _Atomic(const char *) kind, name, file;
    _Atomic(const void *) object;
    _Atomic int line;
    _Atomic(cask__frozen_range *) range; /* for owner lookups; the handler never follows it */
} cask__frozen_slot;

/* The page before a region's data. */
struct cask__frozen_header {
    size_t map_size; /* header page + data pages */
    cask__frozen_range range;
};

static cask__frozen_slot cask__frozen_registry[CASK__FROZEN_MAX];
static struct sigaction cask__frozen_previous;
static _Atomic bool cask__frozen_previous_ready;
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

static size_t cask__frozen_hash(const void *start)
{
    uint64_t x = (uint64_t)(uintptr_t)start >> 12;
    x *= UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(x >> 50) & (CASK__FROZEN_MAX - 1); /* CASK__FROZEN_MAX is 2^14 */
}

/* The owner rewrites its record: seq odd, the fields, seq even. Only the owner writes seq. */
static void cask__frozen_slot_write(cask__frozen_slot *s, const cask__frozen_range *r,
                                    bool trapping)
{
    uint64_t q = atomic_load_explicit(&s->seq, memory_order_relaxed); /* only we write it */
    atomic_store_explicit(&s->seq, q + 1, memory_order_relaxed); /* ordered by the releases below */
    /* Release (each field): orders the odd seq before it; pairs with the handler's acquire
     * load of the same field, after which its second seq load sees the odd value or later. */
    atomic_store_explicit(&s->start, r->start, memory_order_release); /* Release: pairs with the acquire load in cask__frozen_on_fault */
    atomic_store_explicit(&s->len, r->len, memory_order_release); /* Release: pairs with the acquire load in cask__frozen_on_fault */
    atomic_store_explicit(&s->kind, r->kind, memory_order_release); /* Release: pairs with the acquire load in cask__frozen_on_fault */
    atomic_store_explicit(&s->name, r->name, memory_order_release); /* Release: pairs with the acquire load in cask__frozen_on_fault */
    atomic_store_explicit(&s->file, r->file, memory_order_release); /* Release: pairs with the acquire load in cask__frozen_on_fault */
    atomic_store_explicit(&s->object, r->object, memory_order_release); /* Release: pairs with the acquire load in cask__frozen_on_fault */
    atomic_store_explicit(&s->line, r->line, memory_order_release); /* Release: pairs with the acquire load in cask__frozen_on_fault */
    atomic_store_explicit(&s->trapping, trapping, memory_order_release); /* Release: pairs with the acquire load in cask__frozen_on_fault */
    atomic_store_explicit(&s->seq, q + 2, memory_order_release); /* Release: pairs with the handler's first (acquire) seq load: the fields above are complete */
}

int cask__frozen_range_register(cask__frozen_range *r)
{
    size_t h = cask__frozen_hash(r->start);
    for (size_t k = 0; k < CASK__FROZEN_MAX; k++) {
        cask__frozen_slot *s = &cask__frozen_registry[(h + k) & (CASK__FROZEN_MAX - 1)];
        unsigned c = atomic_load_explicit(&s->claim, memory_order_relaxed); /* a filter */
        if (c == CASK__SLOT_USED)
            continue;
        if (!atomic_compare_exchange_strong_explicit(&s->claim, &c, CASK__SLOT_USED, /* acquire: pairs with the release FREE store in cask__frozen_range_forget (the last owner's seq) */
                                                     memory_order_acquire, memory_order_relaxed)) /* failure: relaxed, the slot is skipped */
            continue;
        atomic_store_explicit(&s->range, r, memory_order_relaxed); /* finders have happens-before with us */
        r->slot = (size_t)(s - cask__frozen_registry);
        r->registered = true;
        cask__frozen_slot_write(s, r, false);
        return 0;
    }
    return CASK_ENOMEM;
}

cask__frozen_range *cask__frozen_range_find(const void *start)
{
    if (start == NULL)
        return NULL;
    /* Relaxed loads are enough: the caller's range was registered before it got the pointer
     * (happens-before), and every record probed before it was USED then and never becomes
     * EMPTY again (coherence: a later read sees that value or a later one). */
    size_t h = cask__frozen_hash(start);
    for (size_t k = 0; k < CASK__FROZEN_MAX; k++) {
        cask__frozen_slot *s = &cask__frozen_registry[(h + k) & (CASK__FROZEN_MAX - 1)];
        unsigned c = atomic_load_explicit(&s->claim, memory_order_relaxed);
        if (c == CASK__SLOT_EMPTY)
            return NULL;
        if (c == CASK__SLOT_USED && atomic_load_explicit(&s->start, memory_order_relaxed) == start)
            return atomic_load_explicit(&s->range, memory_order_relaxed);
    }
    return NULL;
}

void cask__frozen_range_forget(cask__frozen_range *r)
{
    if (!r->registered)
        return;
    cask__frozen_slot *s = &cask__frozen_registry[r->slot];
    cask__frozen_range gone = {0};
    cask__frozen_slot_write(s, &gone, false);
    r->registered = false;
    r->transient = false;
    atomic_store_explicit(&s->claim, CASK__SLOT_FREE, memory_order_release); /* Release: pairs with the acquire claim CAS in cask__frozen_range_register */
}

/* One step of a checksum lane: a bijection in w for a fixed h (so a change to one word always
 * changes the lane) and in h for a fixed w. The shift brings the high bits down before the next
 * multiply: with only (h ^ w) * K, a flip of bit 63 of a word flips only bit 63 of h, and two such
 * flips (negating two doubles) cancel. */
static uint64_t cask__frozen_mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * UINT64_C(0x9E3779B97F4A7C15);
    return h ^ (h >> 29);
}

/* The checksum of a frozen range (whole pages): four lanes over interleaved words, so that four
 * multiplies are in flight at once, then the lanes mixed into one. */
static uint64_t cask__frozen_checksum(const cask__frozen_range *r)
{
    const uint64_t *w = (const uint64_t *)(const void *)r->start;
    size_t n = r->len / sizeof(uint64_t), i = 0;
    uint64_t h[4] = {UINT64_C(0xcbf29ce484222325), UINT64_C(0x84222325cbf29ce4),
                     UINT64_C(0x6a09e667f3bcc908), UINT64_C(0xbb67ae8584caa73b)};
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++)
            h[k] = cask__frozen_mix(h[k], w[i + (size_t)k]);
    for (; i < n; i++)
        h[0] = cask__frozen_mix(h[0], w[i]);
    uint64_t sum = cask__frozen_mix(h[0], (uint64_t)n);
    for (int k = 1; k < 4; k++)
        sum = cask__frozen_mix(sum, h[k]);
    return sum;
}

/* Makes the process die by `sig` when the handler returns: the default action back, by the
 * rt_sigaction system call (the sigaction() interceptor of TSan takes a lock a faulting atomic
 * may hold, see the design note), then the signal sent again to this thread by tgkill; it stays
 * pending while the handler runs (SIGSEGV is blocked in it) and is delivered, with the default
 * action, on return. The kernel's struct sigaction: handler, flags, restorer, 8-byte mask. */
CASK__UNSEEN_BY_TSAN static void cask__frozen_die_by(int sig)
{
    struct {
        void (*handler)(int);
        unsigned long flags;
        void (*restorer)(void);
        uint64_t mask;
    } dfl = {SIG_DFL, 0, NULL, 0};
    syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(dfl.mask));
    syscall(SYS_tgkill, syscall(SYS_getpid), syscall(SYS_gettid), sig);
}

/* Passes a fault that is not a write to frozen memory to whoever handled SIGSEGV before.
 * Not instrumented by TSan: it runs in the handler (see the design note). */
CASK__UNSEEN_BY_TSAN static void cask__frozen_pass_on(int sig, siginfo_t *info, void *context)
{
    /* Our handler went live in the same sigaction call that returned the previous one; the
     * installing thread publishes it right after. A fault on another thread in between waits
     * for that store (a few instructions away; the installer does not wait for anything). */
    while (!atomic_load_explicit(&cask__frozen_previous_ready, memory_order_acquire)) /* acquire: pairs with the release store in cask__frozen_install (previous is filled in) */
        ;
    const struct sigaction *p = &cask__frozen_previous;
    if ((p->sa_flags & SA_SIGINFO) && p->sa_sigaction != NULL) {
        p->sa_sigaction(sig, info, context);
        return;
    }
    if (!(p->sa_flags & SA_SIGINFO) && p->sa_handler != SIG_DFL && p->sa_handler != SIG_IGN) {
        p->sa_handler(sig);
        return;
    }
    bool ignored = !(p->sa_flags & SA_SIGINFO) && p->sa_handler == SIG_IGN;
    if (info != NULL && info->si_code <= 0) {
        /* Sent, not raised by a fault (kill, raise, sigqueue): nothing faults again when the
         * handler returns, so blocking it would swallow the signal and leave SIGSEGV blocked.
         * Ignored: done. Default: die by it, as without cask. */
        if (!ignored)
            cask__frozen_die_by(sig);
        return;
    }
    /* Default (or ignored, which for a fault would loop): return with the signal blocked in the
     * mask the kernel restores, so the instruction faults again with SIGSEGV blocked, which Linux
     * delivers as the default action (a fault's signal that is blocked gets its handler reset
     * and is unblocked: the process dies by SIGSEGV, with a core dump if enabled). Not by
     * sigaction(SIG_DFL): under TSan that is an interceptor that takes the slot lock, so a
     * fault inside TSan's atomic store (a read-only page that is not frozen) hung there. */
    ucontext_t *uc = context;
    sigaddset(&uc->uc_sigmask, sig);
}

/* SIGSEGV handler: a write to a trapping record becomes a report; anything else is passed on.
 * Async-signal-safe: it reads only the registry's atomics (lock-free), then makes the write
 * system call and calls abort().
 * Not instrumented by TSan: a fault inside TSan's atomic store holds a lock its loads need. */
CASK__UNSEEN_BY_TSAN static void cask__frozen_on_fault(int sig, siginfo_t *info, void *context)
{
    const char *addr = info->si_addr;
    /* A sent SIGSEGV (kill, sigqueue: si_code <= 0) has no faulting address: the field holds
     * the sender's pid and uid, or whatever it queued, which may well point into a region. */
    for (size_t i = 0; i < CASK__FROZEN_MAX && info->si_code > 0; i++) {
        cask__frozen_slot *s = &cask__frozen_registry[i];
        if (atomic_load_explicit(&s->claim, memory_order_relaxed) != CASK__SLOT_USED)
            continue; /* a filter; the seq check below decides */
        for (int attempt = 0; attempt < 4; attempt++) {
            uint64_t q = atomic_load_explicit(&s->seq, memory_order_acquire); /* Acquire: pairs with the release even seq store in cask__frozen_slot_write */
            if (q & 1)
                continue; /* being rewritten: look again */
            bool trapping = atomic_load_explicit(&s->trapping, memory_order_acquire); /* Acquire: pairs with the release store in cask__frozen_slot_write */
            char *start = atomic_load_explicit(&s->start, memory_order_acquire); /* Acquire: pairs with the release store in cask__frozen_slot_write */
            size_t len = atomic_load_explicit(&s->len, memory_order_acquire); /* Acquire: pairs with the release store in cask__frozen_slot_write */
            const char *kind = atomic_load_explicit(&s->kind, memory_order_acquire); /* Acquire: pairs with the release store in cask__frozen_slot_write */
            const char *name = atomic_load_explicit(&s->name, memory_order_acquire); /* Acquire: pairs with the release store in cask__frozen_slot_write */
            const char *file = atomic_load_explicit(&s->file, memory_order_acquire); /* Acquire: pairs with the release store in cask__frozen_slot_write */
            const void *object = atomic_load_explicit(&s->object, memory_order_acquire); /* Acquire: pairs with the release store in cask__frozen_slot_write */
            int line = atomic_load_explicit(&s->line, memory_order_acquire); /* Acquire: pairs with the release store in cask__frozen_slot_write */
            /* Relaxed: ordered after the acquire loads above; unchanged means they all came
             * from the one version that the first load saw completed. */
            if (atomic_load_explicit(&s->seq, memory_order_relaxed) != q)
                continue;
            if (trapping && addr >= start && addr < start + len)
                cask__die_detail(file, line, "frozen at", kind, name, object,
                                 "write to frozen memory: it is immutable since it was frozen, "
                                 "and may be shared with other threads",
                                 addr, (size_t)(addr - start),
                                 "do not write to frozen memory: thaw it first if you are its "
                                 "only owner, or make a mutable copy");
            break;
        }
    }
    cask__frozen_pass_on(sig, info, context);
}

static void cask__frozen_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = cask__frozen_on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK; /* no SA_NODEFER: a fault in the handler is fatal */
    sigemptyset(&sa.sa_mask);
    /* One swap: a handler the program installs at the same moment either comes before ours (and
     * is the previous one) or replaces ours; reading it first and installing after lost it. A
     * fault in another thread before the release store below waits for it (pass_on). */
    if (sigaction(SIGSEGV, &sa, &cask__frozen_previous) != 0)
        return; /* cask__frozen_handler_ok stays false: checked freezes say CASK_ENOMEM */
    atomic_store_explicit(&cask__frozen_previous_ready, true, memory_order_release); /* Release: pairs with the acquire load in cask__frozen_pass_on */
    cask__frozen_handler_ok = true;
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
    const char *old_file = r->file;
    int old_line = r->line;
    r->file = file;
    r->line = line;
    if (CASK_CHECKED) {
        pthread_once(&cask__frozen_once, cask__frozen_install);
        bool claimed = false;
        if (!cask__frozen_handler_ok ||
            (!r->registered && !(claimed = cask__frozen_range_register(r) == 0))) {
            r->file = old_file, r->line = old_line;
            return CASK_ENOMEM;
        }
        r->transient = r->transient || claimed;
        /* Trapping before the protection (F2): a fault after mprotect finds the record. */
        cask__frozen_slot_write(&cask__frozen_registry[r->slot], r, true);
        if (r->len > 0 && mprotect(r->start, r->len, PROT_READ) != 0) {
            r->file = old_file, r->line = old_line;
            if (claimed)
                cask__frozen_range_forget(r);
            else
                cask__frozen_slot_write(&cask__frozen_registry[r->slot], r, false);
            return CASK_ENOMEM;
        }
    } else {
        r->checksum = cask__frozen_checksum(r);
    }
    atomic_store_explicit(&r->frozen, true, memory_order_release); /* release: pairs with the acquire load in cask_frozen_is_frozen (the contents and the protection or checksum) */
    return 0;
}

int cask__frozen_range_thaw(cask__frozen_range *r)
{
    if (CASK_CHECKED) {
        if (r->len > 0 && mprotect(r->start, r->len, PROT_READ | PROT_WRITE) != 0)
            return CASK_ENOMEM;
        if (r->transient)
            cask__frozen_range_forget(r);
        else if (r->registered)
            cask__frozen_slot_write(&cask__frozen_registry[r->slot], r, false);
    } else {
        cask__frozen_range_verify(r);
    }
    atomic_store_explicit(&r->frozen, false, memory_order_relaxed); /* "not frozen" promises a reader nothing */
    return 0;
}

void cask__frozen_range_verify(const cask__frozen_range *r)
{
    if (!CASK_CHECKED && atomic_load_explicit(&r->frozen, memory_order_relaxed) && /* the owner's own store */
        cask__frozen_checksum(r) != r->checksum)
        cask__frozen_die_modified(r);
}

bool cask_frozen_traps_writes(void)
{
    return CASK_CHECKED != 0;
}

/* The header of the region whose data starts at `region`, found through the registry (no
 * memory near `region` is read), or NULL if it is not a live region from cask_frozen_alloc. */
static struct cask__frozen_header *cask__frozen_header_of(const void *region)
{
    if (region == NULL || ((uintptr_t)region & (cask__page_size() - 1)) != 0)
        return NULL;
    cask__frozen_range *r = cask__frozen_range_find(region);
    if (r == NULL || r->kind != cask__frozen_region_kind)
        return NULL;
    return (struct cask__frozen_header *)(void *)((char *)r -
                                                 offsetof(struct cask__frozen_header, range));
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
    h->map_size = page + data_size;
    h->range.kind = cask__frozen_region_kind;
    h->range.name = name;
    h->range.start = (char *)base + page;
    h->range.len = data_size;
    h->range.object = h->range.start;
    if (cask__frozen_range_register(&h->range) != 0) {
        munmap(base, page + data_size);
        return CASK_ENOMEM;
    }
    *out = h->range.start;
    return 0;
}

int cask_frozen_freeze_at(void *region, const char *file, int line)
{
    struct cask__frozen_header *h = cask__frozen_header_of(region);
    if (h == NULL)
        return CASK_EINVAL;
    if (atomic_load_explicit(&h->range.frozen, memory_order_relaxed)) /* the owner's own store */
        return CASK_EFROZEN;
    return cask__frozen_range_freeze(&h->range, file, line);
}

int cask_frozen_thaw(void *region)
{
    struct cask__frozen_header *h = cask__frozen_header_of(region);
    if (h == NULL || !atomic_load_explicit(&h->range.frozen, memory_order_relaxed)) /* the owner's */
        return CASK_EINVAL;
    return cask__frozen_range_thaw(&h->range);
}

bool cask_frozen_is_frozen(const void *region)
{
    struct cask__frozen_header *h = cask__frozen_header_of(region);
    CASK__REQUIRE(h != NULL, "frozen region", region,
                  "cask_frozen_is_frozen on memory that is not a frozen-memory region",
                  "pass a pointer returned by cask_frozen_alloc");
    return atomic_load_explicit(&h->range.frozen, memory_order_acquire); /* acquire: pairs with the release store in cask__frozen_range_freeze */
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
    munmap(h, h->map_size);
}
