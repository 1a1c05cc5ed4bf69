/*
 * cask/frozen.h: frozen memory. A region that is mutable while one owner builds it, then frozen:
 * immutable, so any number of threads may read it with plain loads, and a write to it is never
 * silent.
 *
 * Allocate the region with cask_frozen_alloc, fill it, freeze it with cask_frozen_freeze, hand
 * the pointer to readers (through any release/acquire hand-off: a queue, a snapshot cell, a
 * thread start). What a write after the freeze does depends on the build (CASK_CHECKED, see
 * README.md "Checked builds"):
 *   - checked builds: the region's pages are write-protected (mprotect); a write through any
 *     pointer, stale or not, faults, and a signal handler turns the fault into a report naming
 *     the region, where it was frozen (file and line of the freeze call), the faulting address,
 *     then aborts;
 *   - unchecked (opt) builds: a checksum is taken at the freeze and verified on thaw, on free and
 *     on cask_frozen_verify; a mismatch aborts with "modified after freeze" and the same details.
 * cask's own immutable objects (frozen vectors, published snapshots) use this; so can yours (a
 * configuration struct, a lookup table).
 *
 * Concurrency ("yes": may run at the same time, from different threads, on the same region):
 *
 *                    alloc  freeze  thaw  free  verify  is_frozen  plain reads  plain writes
 *   freeze            -      no      no    no    no      yes        no           no
 *   thaw              -      no      no    no    no      yes        no           no
 *   free              -      no      no    no    no      no         no           no
 *   verify            -      no      no    no    yes     yes        yes          (trap)
 *   is_frozen         -      yes     yes   no    yes     yes        yes          yes
 *   plain reads       -      no      no    no    yes     yes        yes          frozen: trap
 *
 * Different regions are independent. Progress: every call is bounded (a registry lookup probes
 * at most 16,384 records, normally one or two; freeze, thaw, free and verify are O(size) in
 * unchecked builds for the checksum, O(pages) system work in checked builds); none waits for
 * another thread.
 * Memory: a region is owned by whoever allocated it until cask_frozen_free; a frozen region
 * must not be freed while readers use it (share ownership with a reference count, as
 * cask_vec does).
 */
#ifndef CASK_FROZEN_H
#define CASK_FROZEN_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * cask_frozen_alloc - allocate a zeroed, writable region of `size` bytes (rounded up to whole
 * pages, which it occupies alone) that can later be frozen. `name` (a string that must outlive
 * the region, or NULL) appears in reports.
 * Returns 0 and sets *out to the region (page-aligned); CASK_EINVAL if out is NULL or size is 0;
 * CASK_ENOMEM if the memory could not be mapped, or if 16,384 regions (plus, in checked builds,
 * frozen vectors) already exist: every region has a record in a fixed registry, which is how
 * the other calls recognise a region and the trap finds it (*out untouched).
 * Context: any thread. Progress: one mmap system call. Ordering: none.
 * Memory: the caller owns the region; give it back with cask_frozen_free.
 */
int cask_frozen_alloc(size_t size, const char *name, void **out);

/*
 * cask_frozen_freeze - make the region immutable (write-protected in checked builds,
 * checksummed otherwise), remembering the caller's file and line for reports.
 * Returns 0; CASK_EFROZEN if it is already frozen (no change); CASK_EINVAL if region is not a
 * region from cask_frozen_alloc (looked up in the registry: no memory near the pointer is
 * read); CASK_ENOMEM if the kernel refused the protection (the region stays mutable).
 * Context: the region's owner, with no other thread using the region (see the table). Progress:
 * O(size) checksum or one mprotect. Ordering: none by itself; publish the region to readers
 * with a release store (or any hand-off) after this returns.
 * Memory: unchanged ownership.
 */
#define cask_frozen_freeze(region) cask_frozen_freeze_at((region), __FILE__, __LINE__)
int cask_frozen_freeze_at(void *region, const char *file, int line);

/*
 * cask_frozen_thaw - make a frozen region writable again. Verifies the checksum first in
 * unchecked builds (a mismatch aborts with the report).
 * Returns 0; CASK_EINVAL if region is not a frozen region from cask_frozen_alloc; CASK_ENOMEM if
 * the kernel refused to lift the protection (the region stays frozen).
 * Context: the region's sole owner: no reader may still use it (thawing shared memory is what
 * freezing exists to prevent; share by reference count and thaw only at count one).
 * Progress, ordering, memory: as freeze.
 */
int cask_frozen_thaw(void *region);

/*
 * cask_frozen_is_frozen - true if region (from cask_frozen_alloc) is frozen.
 * Context: any thread that may read the region, also while its owner freezes or thaws it.
 * Progress: wait-free. Ordering: acquire: a call that returns true sees everything written to
 * the region before the freeze. False says only that no freeze had completed when it looked.
 * Errors: aborts with a report if region is not from cask_frozen_alloc.
 */
bool cask_frozen_is_frozen(const void *region);

/*
 * cask_frozen_verify - in unchecked builds, recompute the checksum of a frozen region and abort
 * with the "modified after freeze" report if it changed; in checked builds the protection has
 * already made any write fault, and this does nothing. Does nothing on a region that is not
 * frozen. Context: any thread that may read the region. Progress: O(size). Errors: aborts as
 * said, or if region is not from cask_frozen_alloc.
 */
void cask_frozen_verify(const void *region);

/*
 * cask_frozen_free - verify (as cask_frozen_verify) and unmap the region, frozen or not.
 * NULL is accepted and does nothing. Context: the sole owner; nobody may use the region after.
 */
void cask_frozen_free(void *region);

/*
 * cask_frozen_traps_writes - true if this build write-protects frozen regions (checked builds),
 * false if it checksums them. Context: any thread; constant.
 */
bool cask_frozen_traps_writes(void);

#ifdef __cplusplus
}
#endif

#endif /* CASK_FROZEN_H */
