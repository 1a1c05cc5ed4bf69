/*
 * cask/map.h: a lock-free, resizable hash map with many readers and many writers, whose memory is
 * managed by hazard pointers, and which can be frozen (made immutable) at any time.
 *
 * What it is for: a shared dictionary (a name table, a cache index, a routing table) that many
 * threads read and update without a lock, and that one thread can later turn into a read-only
 * namespace whose names can no longer be rebound; lookups in a frozen map cost no more than in a
 * plain array-backed table. Keys are either byte strings (copied into the map: any bytes,
 * including zeros, any length) or 64-bit integers (a fast path without allocation), chosen when
 * the map is created. Values are `void *` that the map owns once stored: it calls the map's
 * destructor on a value exactly once, after it was removed or replaced and no reader can still
 * see it (or at cask_map_destroy).
 *
 * Concurrency table ("yes": the two calls may run at the same time from different threads on
 * the same map; each guard is used by one thread at a time, the one that acquired it):
 *
 *                   get   insert/put/  remove/    size_approx  size_exact  iterate  freeze  destroy
 *                         replace      remove_if
 *   get             yes   yes          yes        yes          yes         yes      yes     no
 *   insert/put/rep. yes   yes          yes        yes          yes         yes      yes     no
 *   remove/_if      yes   yes          yes        yes          yes         yes      yes     no
 *   size_approx     yes   yes          yes        yes          yes         yes      yes     no
 *   size_exact      yes   yes          yes        yes          yes         yes      yes     no
 *   iterate         yes   yes          yes        yes          yes         yes      yes     no
 *   freeze          yes   yes          yes        yes          yes         yes      yes     no
 *   destroy         no    no           no         no           no          no       no      no
 *   guard_acquire, guard_release, drain, capacity_bytes: "yes" with everything but destroy.
 *
 * Progress: every call but create, destroy and guard_acquire is lock-free in cask's own code: a
 * thread retries only because another thread's step succeeded. A thread that meets a resize or a
 * freeze in progress helps to finish it (freezes slots, copies them) as part of its own call, so
 * no call ever waits for a stalled thread. Writes allocate (malloc may take a lock): a byte-
 * string key is copied once per new key, and every value stored (insert, put, replace) gets a
 * small box of its own, which also serves as its retire record; remove allocates nothing but
 * may, like every write, have to allocate a resize's new table. Lookups never allocate.
 *
 * Memory-reclamation rule: a value removed or replaced by one thread may still be in the hands
 * of a reader that found it just before; the map retires it through hazard pointers (a domain
 * private to the map) and calls the destructor once no guard announces it. So:
 *   - the value cask_map_get returns stays valid while the guard that was passed in is not used
 *     again, reset or released (copy what you need out of it before that); in a frozen map it
 *     stays valid until cask_map_destroy;
 *   - a value handed to a successful insert/put/replace belongs to the map: do not free it, and
 *     do not store the same pointer twice while the map holds it (it would be destroyed twice);
 *     on failure the caller keeps it;
 *   - between calls a guard protects only that one value. A thread stalled in the middle of a
 *     call (preempted, or blocked in a signal handler) protects the table it is in (and the
 *     next one, if it is helping a resize): in an integer-key map those two tables; in a
 *     byte-key map, since each table keeps its successor alive (they share key nodes), every
 *     table the map goes through until the thread resumes.
 * Values may be any pointer, NULL included (the map stores them in a small box of its own).
 *
 * Keys: byte strings of 0 to UINT32_MAX bytes (longer: CASK_EINVAL); integer keys: any
 * uint64_t except UINT64_MAX (reserved as the empty mark; CASK_EINVAL).
 */
#ifndef CASK_MAP_H
#define CASK_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cask_map cask_map;

/* A thread's handle for map calls: it holds the hazard slots that protect what the call reads
 * (and the value get returned). Acquired per thread per map; never shared between threads. */
typedef struct cask_map_guard cask_map_guard;

/* Called exactly once for each value the map stops holding, once no reader can see it. */
typedef void (*cask_map_value_dtor)(void *value);

/* Which kind of keys a map takes; every key call must match it (a mismatch aborts). */
typedef enum { CASK_MAP_KEY_BYTES = 0, CASK_MAP_KEY_U64 = 1 } cask_map_key_kind;

typedef struct cask_map_options {
    cask_map_key_kind key_kind;   /* CASK_MAP_KEY_BYTES (default) or CASK_MAP_KEY_U64 */
    cask_map_value_dtor dtor;     /* NULL: values are never destroyed by the map */
    size_t initial_capacity;      /* expected number of keys; 0 for a small start (16 slots) */
} cask_map_options;

/*
 * cask_map_create - a new, empty, mutable map.
 * Returns 0 and sets *out; CASK_EINVAL if out is NULL or options->key_kind is unknown;
 * CASK_ENOMEM if an allocation failed (*out untouched). options NULL: byte keys, no destructor.
 * Context: any thread. Progress: blocking only in malloc. Ordering: hand the map to other threads
 * with a release store or before creating them. Memory: free it with cask_map_destroy.
 */
int cask_map_create(cask_map **out, const cask_map_options *options);

/*
 * cask_map_destroy - destroys every value still in the map or waiting for reclamation (calling
 * the destructor once on each), then frees the map. NULL does nothing.
 * Context: no other call on this map may run concurrently or afterwards, and every guard must
 * have been released (a guard still held aborts with a report). Progress: O(capacity).
 * Ordering: the caller must have a happens-before edge from every other call (join, or a
 * release/acquire hand-off). Errors: none.
 */
void cask_map_destroy(cask_map *map);

/*
 * cask_map_guard_acquire - a guard for the calling thread on this map.
 * Returns 0 and sets *out; CASK_EINVAL for NULL arguments; CASK_ENOMEM (nothing changed) if
 * memory ran out, or if called from a reclaim function that runs during its thread's exit (a
 * map's hazard slots come from its own domain, which another thread may be destroying then;
 * cask/hp.h, cask_hp_retire). Context: any thread, concurrently with every call but destroy.
 * Progress: may allocate.
 * Memory: release it with cask_map_guard_release on the same thread before destroy.
 */
int cask_map_guard_acquire(cask_map *map, cask_map_guard **out);

/*
 * cask_map_guard_release - gives the guard back; the value last returned through it may be
 * destroyed after this. Context: the owning thread. Progress: wait-free. Ordering: release
 * (every access to a value read through the guard happens before its destructor runs).
 * Errors: none; NULL or a guard released twice aborts with a report.
 */
void cask_map_guard_release(cask_map_guard *guard);

/*
 * cask_map_guard_reset - stops protecting the value last returned through the guard (it may be
 * destroyed from now on). Context: the owning thread; wait-free. Ordering: release.
 */
void cask_map_guard_reset(cask_map_guard *guard);

/*
 * cask_map_get / cask_map_get_u64 - look up key; on success *value is its value.
 * Returns 0; CASK_ENOENT if the key is absent (*value untouched); CASK_EINVAL for a NULL map,
 * guard or value, a NULL key with len > 0, a key longer than UINT32_MAX, or the u64 key UINT64_MAX.
 * Context: the guard's thread; any time (also while resizing or frozen). Progress: lock-free
 * (wait-free in a frozen map: no hazard pointer, one probe sequence).
 * Ordering: on success acquire, pairing with the release that stored the value: everything the
 * writer did to the value before storing it is visible. On CASK_ENOENT: none needed.
 * Linearizes at the load of the key's slot that it returns (or that shows the key absent).
 * Memory: *value is protected by the guard until the guard's next call, reset or release; in a
 * frozen map it is valid until cask_map_destroy. The map still owns it: do not free it.
 */
int cask_map_get(cask_map *map, cask_map_guard *guard, const void *key, size_t len,
                 void **value);
int cask_map_get_u64(cask_map *map, cask_map_guard *guard, uint64_t key, void **value);

/*
 * cask_map_insert / _u64 - insert-if-absent: maps key to value only if the key is absent.
 * cask_map_put / _u64 - insert or replace: maps key to value; the old value (if any) is
 * destroyed once no reader can see it.
 * cask_map_replace / _u64 - compare-and-replace: maps key to value only if it currently maps to
 * expected; expected is then destroyed once no reader can see it.
 * Returns 0; CASK_EEXIST (insert: the key is present); CASK_ENOENT (replace: the key is absent
 * or maps to another value than expected); CASK_EFROZEN (the map is frozen, or froze while the
 * call ran and the write had not taken effect); CASK_ENOMEM (a key copy, the value's box or a
 * resize's table could not be allocated: nothing changed; while a planned resize cannot get its
 * table, every write fails so, removes included, and lookups still work); CASK_EINVAL (NULL
 * map or guard, a NULL key with len > 0, a key too long, u64 key UINT64_MAX).
 * Context: the guard's thread; concurrently with everything but destroy. Progress: lock-free;
 * a call that meets a resize helps it to the end first (O(capacity) work, shared among helpers).
 * Ordering: on success release (pairs with get's acquire: the value's contents are published)
 * and acquire (the replaced value's last writer happens before its destruction). On failure:
 * acquire on what was read. Linearizes at its successful compare-and-swap of the slot's value.
 * Memory: on success the map owns value; on failure the caller still does. The guard's previous
 * protection is dropped when the call returns. replace compares `expected` by address, so it
 * must not have been destroyed (its address reused by a newer value would match): pass the
 * value the last get through this same guard returned; the guard keeps protecting it until
 * the comparison is decided (a read-modify-write such as a counter increment is get, compute,
 * replace, retried on CASK_ENOENT).
 */
int cask_map_insert(cask_map *map, cask_map_guard *guard, const void *key, size_t len,
                    void *value);
int cask_map_insert_u64(cask_map *map, cask_map_guard *guard, uint64_t key, void *value);
int cask_map_put(cask_map *map, cask_map_guard *guard, const void *key, size_t len, void *value);
int cask_map_put_u64(cask_map *map, cask_map_guard *guard, uint64_t key, void *value);
int cask_map_replace(cask_map *map, cask_map_guard *guard, const void *key, size_t len,
                     void *expected, void *value);
int cask_map_replace_u64(cask_map *map, cask_map_guard *guard, uint64_t key, void *expected,
                         void *value);

/*
 * cask_map_remove / _u64 - removes key. cask_map_remove_if / _u64 - removes key only if it maps
 * to expected. The removed value is destroyed once no reader can see it.
 * Returns 0; CASK_ENOENT (absent, or mapped to another value); CASK_EFROZEN; CASK_ENOMEM (a resize's
 * table it had to help allocate; nothing changed); CASK_EINVAL (as for insert).
 * Context, progress, ordering: as insert. Linearizes at its compare-and-swap (on CASK_ENOENT: at
 * the load that showed the key absent or mapped elsewhere).
 * Memory: the caller must not touch the removed value unless it protects it through a guard.
 * remove_if compares `expected` by address: as for replace, pass the value the last get
 * through this same guard returned, which the guard keeps protecting during the call.
 */
int cask_map_remove(cask_map *map, cask_map_guard *guard, const void *key, size_t len);
int cask_map_remove_u64(cask_map *map, cask_map_guard *guard, uint64_t key);
int cask_map_remove_if(cask_map *map, cask_map_guard *guard, const void *key, size_t len,
                       void *expected);
int cask_map_remove_if_u64(cask_map *map, cask_map_guard *guard, uint64_t key, void *expected);

/*
 * cask_map_freeze - makes the map immutable, for good. Every write that takes effect does so
 * before freeze returns; every write that linearizes later fails with CASK_EFROZEN (a write
 * racing with the freeze either completes before it or fails). Lookups in a frozen map take no
 * hazard pointer. Freezing a frozen map does nothing.
 * Returns 0; CASK_ENOMEM if a resize it met could not allocate its table (nothing changed: call
 * again). Context: any thread with its guard; concurrently with everything but destroy.
 * Progress: lock-free, O(capacity) (it freezes every slot; other threads help).
 * Ordering: release on success (pairs with the acquire in every later call): every write that
 * took effect is visible to every later lookup. Linearizes when the last slot is frozen.
 */
int cask_map_freeze(cask_map *map, cask_map_guard *guard);

/* cask_map_is_frozen - true once the map is frozen (acquire). Context: any thread; wait-free. */
bool cask_map_is_frozen(cask_map *map);

/*
 * cask_map_size_approx - the number of keys, from per-stripe counters updated after each
 * write: exact when no write is in flight; otherwise it may be off by the writes in flight.
 * Context: any thread; wait-free (16 relaxed loads). Ordering: none.
 */
size_t cask_map_size_approx(cask_map *map);

/*
 * cask_map_size_exact - counts the keys by walking the table: exact in a frozen map and when no
 * write runs concurrently; under concurrent writes it counts a weakly consistent iteration (see
 * cask_map_iterate). Context: the guard's thread. Progress: lock-free, O(capacity).
 */
size_t cask_map_size_exact(cask_map *map, cask_map_guard *guard);

/*
 * cask_map_iterate - calls fn(key, len, u64_key, value, arg) for keys in the map, stopping early
 * if fn returns non-zero (then that return value is returned; else 0). For a u64 map key is
 * NULL and len 0; for a byte map u64_key is 0.
 * Weakly consistent: it sees every key that is present and unchanged for the whole iteration
 * exactly once; a key inserted, removed or replaced during the iteration may be seen or not, and
 * if seen, with a value it held at some moment during the iteration; no key is seen twice; the
 * order is unspecified; it never fails and never blocks writers.
 * Context: the guard's thread; fn must not use the same guard (use another guard for nested map
 * calls). Memory: key and value are valid only during the call of fn.
 * Progress: lock-free, O(capacity) plus fn. Ordering: acquire on each value seen.
 */
typedef int (*cask_map_visit_fn)(const void *key, size_t len, uint64_t u64_key, void *value,
                                 void *arg);
int cask_map_iterate(cask_map *map, cask_map_guard *guard, cask_map_visit_fn fn, void *arg);

/*
 * cask_map_drain - reclaims now what the calling thread (and threads that exited) retired from
 * this map and no guard protects: replaced and removed values (their destructor runs here) and
 * tables left behind by resizes. Reclamation otherwise happens in batches, every few thousand
 * retirements per thread. Returns how many objects were reclaimed.
 * Context: any thread, concurrently with every call but destroy; not from inside a destructor.
 * Progress: bounded work (one hazard-pointer scan). Ordering: as cask_hp_drain.
 */
size_t cask_map_drain(cask_map *map);

/*
 * cask_map_capacity_bytes - bytes the map's current table and key copies occupy (a snapshot,
 * for statistics and benchmarks). Context: the guard's thread; lock-free, O(capacity).
 */
size_t cask_map_capacity_bytes(cask_map *map, cask_map_guard *guard);

#ifdef __cplusplus
}
#endif

#endif /* CASK_MAP_H */
