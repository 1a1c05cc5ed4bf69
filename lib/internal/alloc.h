/*
 * Private to cask: the allocation calls of every structure (queues, maps, snapshots, hazard
 * pointers), so that tests can make them fail.
 *
 * cask__alloc and cask__free are defined in lib/cask.c as weak symbols that call aligned_alloc
 * and free. A test that wants to inject allocation failures defines its own (strong) cask__alloc
 * returning NULL on the n-th call, and the linker uses it in place of the weak one: no flag, no
 * global, no branch in the library. A program that does not define them gets exactly
 * aligned_alloc/free behind one (non-inlined) call.
 */
#ifndef CASK_INTERNAL_ALLOC_H
#define CASK_INTERNAL_ALLOC_H

#include <stddef.h>

/* Allocates size bytes aligned to align (a power of two, a multiple of sizeof(void *)); NULL on
 * failure. The size is rounded up to a multiple of align. */
void *cask__alloc(size_t align, size_t size);

/* Frees what cask__alloc returned; NULL does nothing. */
void cask__free(void *p);

#endif /* CASK_INTERNAL_ALLOC_H */
