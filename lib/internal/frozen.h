/*
 * Private to cask: the engine behind frozen memory (frozen.c), shared by frozen regions and by
 * structures that freeze storage of their own (frozen vectors).
 *
 * A range is a page-aligned span of memory that its owner freezes and thaws. In checked builds
 * freezing write-protects the pages and marks the range's record in the registry as trapping,
 * so the SIGSEGV handler reports a write with the range's kind, name and freeze site; in
 * unchecked builds it records a checksum that verify and thaw compare.
 *
 * The registry (a fixed table of CASK__FROZEN_MAX records) also lets cask_frozen_* calls
 * recognise a pointer from cask_frozen_alloc without reading any memory near it: regions are
 * registered from alloc to free (in every build), vector ranges only while frozen (in checked
 * builds). The signal handler reads only the registry, never a range.
 */
#ifndef CASK_INTERNAL_FROZEN_H
#define CASK_INTERNAL_FROZEN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Records in the registry: regions allocated plus vectors frozen (checked builds), at once. */
#define CASK__FROZEN_MAX 16384

typedef struct cask__frozen_range {
    const char *kind; /* "frozen region", "frozen vector": the report's object kind */
    const char *name; /* a user-given name, or NULL */
    const void *object; /* the object the report names (the region, the vector) */
    char *start;        /* page-aligned */
    size_t len;         /* bytes, a multiple of the page size (may be 0) */
    const char *file;   /* where it was frozen */
    int line;
    _Atomic bool frozen; /* is_frozen may read it while the owner freezes or thaws */
    bool registered;    /* has a registry record (slot) */
    bool transient;     /* the record was taken by freeze and goes with thaw */
    uint64_t checksum;  /* unchecked builds, while frozen */
    size_t slot;        /* the registry record, while registered */
} cask__frozen_range;

/* The system page size. */
size_t cask__page_size(void);

/* Give r (kind, name, object, start, len set) a registry record, so cask__frozen_range_find
 * finds it by start. Returns 0, or CASK_ENOMEM if the registry is full (r unchanged). */
int cask__frozen_range_register(cask__frozen_range *r);

/* The registered range whose start is `start`, or NULL. Reads only the registry. Bounded:
 * at most CASK__FROZEN_MAX records probed. The caller must be entitled to use the range (it is
 * not freed concurrently). */
cask__frozen_range *cask__frozen_range_find(const void *start);

/* Freeze r (its kind, name, object, start and len set by the caller). Returns 0, or
 * CASK_ENOMEM if the protection could not be set up (registry full, no handler, mprotect
 * refused): r is then unchanged, still mutable. */
int cask__frozen_range_freeze(cask__frozen_range *r, const char *file, int line);

/* Thaw r: verify (unchecked builds: abort on mismatch), then lift the protection. Returns 0, or
 * CASK_ENOMEM if the kernel refused (r still frozen). */
int cask__frozen_range_thaw(cask__frozen_range *r);

/* Unchecked builds: abort with the "modified after freeze" report if r's checksum changed. */
void cask__frozen_range_verify(const cask__frozen_range *r);

/* Take r out of the registry without touching its pages (they are about to be unmapped). */
void cask__frozen_range_forget(cask__frozen_range *r);

#endif
