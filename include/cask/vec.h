/*
 * cask/vec.h: freezable vectors. Built up by one or many threads, then frozen: from that instant
 * nobody can change it, so any number of threads read it with plain loads: no hazard pointers,
 * no atomics, no locks. Freezing does not copy. A frozen vector is thawed back to mutable in
 * place only by its sole owner; otherwise thawing gives a mutable copy (like Rust's
 * Arc::make_mut). Writing to a frozen vector is never silent: push and set fail with
 * CASK_EFROZEN, and in checked builds a write through a raw pointer traps (see cask/frozen.h).
 *
 * Elements are 1, 2, 4 or 8 bytes (integers, or pointers to your own objects). Why only these:
 * while the vector is mutable, get and set race with each other by design, and an element of
 * these sizes is read and written with one atomic access, so a reader never sees a torn element
 * without a lock or a sequence counter. For bigger elements store pointers.
 *
 * Storage is one contiguous reservation of address space (max_len elements, fixed at create),
 * committed page by page as the vector grows. It never moves, so growth never invalidates an
 * element a reader may be reading, and a frozen vector's elements are one C array.
 *
 * Concurrency ("yes": may run at the same time on the same vector):
 *
 *               push   get   set   length   freeze   frozen_data   thaw   ref   unref
 *   push        yes    yes   yes   yes      yes      -             no     yes   (1)
 *   reserve     yes    yes   yes   yes      yes      -             no     yes   (1)
 *   get         yes    yes   yes   yes      yes      yes           no     yes   (1)
 *   set         yes    yes   yes   yes      yes      -             no     yes   (1)
 *   length      yes    yes   yes   yes      yes      yes           no     yes   (1)
 *   freeze      yes    yes   yes   yes      no       -             no     yes   (1)
 *   thaw        no     no    no    no       no       no            no     no    no
 *   (1) unref may run concurrently with anything done through other references; the call that
 *       drops the last reference must be the last call on the vector.
 *
 * Progress: push and freeze's marking are lock-free (a push retries only when another push or
 * the freeze changed the length word; a thread whose pushes interleave with another thread's
 * back to back waits CASK_QUEUE_BACKOFF_NS when its push returns, after the push took effect
 * and cleared its in-flight announcement, the contention backoff of cask/queue.h); length is
 * wait-free; get and set are wait-free except
 * that a get or set of an element whose push is still between its reservation and its
 * publication waits for that push (a few instructions, unless that pusher is preempted): they
 * are blocking in that case; freeze waits for the mutations already in flight when it starts,
 * never for new ones (they fail). Frozen reads are plain loads.
 * Hazard slot: a push announces the vector (a mark derived from its address, never equal to a
 * pointer you protect) in its thread's slot of the default hazard-pointer domain
 * (cask_hp_thread_slot, cask/hp.h) while it is in flight, and clears it before it returns; so
 * do not call push while you hold a protection in that slot (checked builds abort with a
 * report), and do not call push or freeze from a signal handler (a push interrupted by one would
 * lose its announcement). A hazard pointer to the vector itself does not delay a freeze.
 * Linearization: push at its reservation CAS, set at its element store, freeze at its atomic
 * fetch-or of the CLOSING flag into the length word: every mutation takes effect before it
 * (and is in the frozen vector) or fails with CASK_EFROZEN; none is lost or half applied.
 * Memory: reference counted. create gives one reference; cask_vec_ref adds one; cask_vec_unref
 * drops one and the last frees. Storage of a live vector is never freed, so readers need no
 * hazard pointers at any time.
 */
#ifndef CASK_VEC_H
#define CASK_VEC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cask_vec cask_vec;

/* The default max_len: 2^24 elements of reserved (not committed) address space. */
#define CASK_VEC_DEFAULT_MAX ((size_t)1 << 24)

/*
 * cask_vec_create - a mutable, empty vector of elements of elem_size bytes (1, 2, 4 or 8), that
 * can grow to max_len elements (0: CASK_VEC_DEFAULT_MAX). `name` (NULL, or a string that outlives
 * the vector) appears in reports.
 * Returns 0 and sets *out; CASK_EINVAL for a bad elem_size or a NULL out; CASK_ENOMEM if the
 * address space could not be reserved (*out untouched).
 * Context: any thread. Progress: a few system calls. Memory: the caller holds one reference.
 */
int cask_vec_create(size_t elem_size, size_t max_len, const char *name, cask_vec **out);

/*
 * cask_vec_push - append the element at `elem` (elem_size bytes). If index is not NULL it gets
 * the new element's index.
 * Returns 0; CASK_EFROZEN if the vector is frozen or being frozen; CASK_EFULL if it holds
 * max_len elements; CASK_ENOMEM if memory for it could not be committed, or if this thread's
 * hazard slot cannot be had (its first use could not allocate a record). Pushes from reclaim
 * functions work, also those run while the thread exits (cask/hp.h, cask_hp_retire), and so do
 * pushes from a thread-exit destructor of your own (the thread takes a record again and gives
 * it back when the destructors run again). On failure nothing changed.
 * Context: any thread holding a reference. Progress: lock-free (see above); may commit memory
 * (one mprotect) when it crosses into a new page, and the push that opens each 64 KiB of elements
 * makes the kernel back the 64 KiB two ahead of it (one madvise; see cask_vec_reserve to do it
 * all at once). Ordering: release: whatever this thread did before the push happens before a
 * get (acquire) that returns the element, and before the freeze. Memory: the element's bytes are copied; pointers stored in it stay yours.
 */
int cask_vec_push(cask_vec *v, const void *elem, size_t *index);

/*
 * cask_vec_reserve - make room now for the first n elements (indices 0 .. n-1): commit their
 * storage and have the kernel back it with memory, so that pushes up to that point never commit
 * memory or take a page fault. Call it before a burst of pushes whose count you know. The
 * length and the elements do not change; storage already there is kept (it may commit somewhat
 * more than asked, never past max_len).
 * Returns 0 (also for n == 0, and when the room is already there); CASK_EINVAL if n > max_len;
 * CASK_EFROZEN if the vector is frozen or being frozen (nothing changed); CASK_ENOMEM if the
 * kernel refused the memory: the length and elements are unchanged, part of the storage may
 * have been committed (pushes then take it as they would have anyway). On a kernel without
 * MADV_POPULATE_WRITE (Linux before 5.14) the storage is committed but its pages still fault at
 * their first write.
 * Context: any thread holding a reference, concurrently with push, get, set, length and freeze
 * (a freeze waits for a reserve in flight, as for a push). Progress: blocking in the kernel for
 * the time it takes to provide the memory (about a microsecond per page); otherwise like set.
 * Ordering: none needed: it changes no value a reader can see. Memory: the storage belongs to
 * the vector and is released with it.
 */
int cask_vec_reserve(cask_vec *v, size_t n);

/*
 * cask_vec_get - copy element i into out (elem_size bytes).
 * Returns 0; CASK_ENOENT if i >= length (out untouched).
 * Context: any thread holding a reference, concurrently with everything but thaw.
 * Progress: wait-free, except as said above. Ordering: acquire: pairs with the push or set that
 * stored the value. On a frozen vector it is inline: one acquire load of the frozen array
 * pointer (a plain load on x86-64 and most targets), a bounds check and the element copy.
 */
static inline int cask_vec_get(const cask_vec *v, size_t i, void *out);

/*
 * cask_vec_set - replace element i with the element at `elem`.
 * Returns 0; CASK_EFROZEN if the vector is frozen or being frozen; CASK_ENOENT if i >= length.
 * On failure nothing changed. Context: any thread holding a reference; concurrent sets of the
 * same index: one of the values wins, each get sees one whole value. Progress: blocking in one
 * case only, like get: if the push of index i has reserved it but not yet stored its element,
 * set waits for that push (a few instructions, unless the pusher is preempted); otherwise it
 * takes a bounded number of steps.
 * Ordering: release, pairing with the get that reads the value.
 */
int cask_vec_set(cask_vec *v, size_t i, const void *elem);

/*
 * cask_vec_length - the number of elements (pushes that have taken effect).
 * Context: any thread holding a reference. Progress: wait-free. Ordering: acquire.
 */
size_t cask_vec_length(const cask_vec *v);

/*
 * cask_vec_freeze - make the vector immutable: from its linearization point on, push and set
 * fail with CASK_EFROZEN; it then waits for the mutations already in flight, after which every
 * successful one is in the vector; in checked builds it write-protects the elements (a write
 * through a raw pointer traps with a report naming this call's file and line), otherwise it
 * checksums them (verified on thaw and on the last unref).
 * Returns 0; CASK_EFROZEN if it is already frozen or another freeze is running (no change);
 * CASK_ENOMEM if the protection could not be set up (checked builds: the registry of frozen
 * memory is full, see cask/frozen.h, or the kernel refused): the freeze is undone, and the
 * vector is unchanged and mutable (mutations that overlapped this call may have failed with
 * CASK_EFROZEN: they saw a freeze in progress).
 * Context: any thread holding a reference. Progress: blocking only on mutations in flight (it
 * spins briefly, yields for up to 50 us, then sleeps: sets and reserves wake it; for pushes it
 * looks again after 50 us, doubling up to 1 ms; it reads every hazard slot of the default
 * domain, O(threads)).
 * Ordering: everything every successful mutation did happens before freeze returns, and before
 * any call that observes the vector frozen (is_frozen, frozen_data, a get of a frozen vector).
 */
#define cask_vec_freeze(v) cask_vec_freeze_at((v), __FILE__, __LINE__)
int cask_vec_freeze_at(cask_vec *v, const char *file, int line);

/*
 * cask_vec_is_frozen - true once a freeze has completed. Context: any thread holding a
 * reference. Progress: wait-free. Ordering: acquire (see freeze).
 */
bool cask_vec_is_frozen(const cask_vec *v);

/*
 * cask_vec_frozen_data - the frozen elements as one C array of cask_vec_length() elements, or
 * NULL if the vector is not frozen. Reading it is a plain load, from any thread, with no
 * synchronisation, for as long as the caller holds a reference. Writing through it is the bug
 * the frozen-memory trap reports. Context, progress, ordering: as cask_vec_is_frozen.
 */
const void *cask_vec_frozen_data(const cask_vec *v);

/* cask_vec_ref - add a reference (to hand the vector to another owner). Wait-free, relaxed. */
void cask_vec_ref(cask_vec *v);

/*
 * cask_vec_unref - drop a reference; the last one frees the vector (verifying a frozen
 * vector's checksum first in unchecked builds). NULL is accepted.
 * Ordering: acq_rel: everything done through every reference happens before the free.
 */
void cask_vec_unref(cask_vec *v);

/*
 * cask_vec_thaw - make *vp mutable: in place if the caller holds the only reference (the
 * checksum is verified and the protection lifted), otherwise *vp becomes a new mutable copy
 * and the caller's reference to the frozen vector is dropped.
 * Returns 0; CASK_EINVAL if *vp is not frozen; CASK_ENOMEM if the copy (or lifting the
 * protection) failed: *vp and the vector are then unchanged.
 * Context: the caller's reference must not be used by another thread meanwhile.
 */
int cask_vec_thaw(cask_vec **vp);

/* ---- private: the inline frozen read. Nothing here is API; use the calls above. ---- */

/* The first member of every cask_vec: what the inline frozen get reads. `frozen` is NULL until
 * the freeze completes, then the element array (stored with release after frozen_len). */
struct cask__vec_frozen_view {
    _Atomic(const char *) frozen;
    size_t frozen_len;
    size_t elem_size;
};

/* The frozen 8-byte get laid out as the straight path (no taken branch), where the compiler
 * knows how; a plain condition elsewhere. */
#if defined(__GNUC__)
#define CASK__VEC_LIKELY(c) __builtin_expect(!!(c), 1)
#else
#define CASK__VEC_LIKELY(c) (c)
#endif

/* The out-of-line get: every case (mutable, frozen, out of range). */
int cask__vec_get_slow(const cask_vec *v, size_t i, void *out);

static inline int cask_vec_get(const cask_vec *v, size_t i, void *out)
{
    const struct cask__vec_frozen_view *f = (const struct cask__vec_frozen_view *)(const void *)v;
    const char *a = atomic_load_explicit(&f->frozen, memory_order_acquire); /* acquire: pairs with the release store of frozen in cask_vec_freeze_at (elements and frozen_len) */
    if (CASK__VEC_LIKELY(a != NULL && i < f->frozen_len && f->elem_size == 8)) {
        memcpy(out, a + i * 8, 8); /* pointers and 64-bit integers: straight through */
        return 0;
    }
    if (a == NULL || i >= f->frozen_len)
        return cask__vec_get_slow(v, i, out);
    switch (f->elem_size) { /* fixed-size copies: one load each */
    case 4: memcpy(out, a + i * 4, 4); break;
    case 2: memcpy(out, a + i * 2, 2); break;
    default: memcpy(out, a + i, 1); break;
    }
    return 0;
}

#ifdef __cplusplus
}
#endif

#endif /* CASK_VEC_H */
