/*
 * Private to cask: the engine behind frozen memory (frozen.c), shared by frozen regions and by
 * structures that freeze storage of their own (frozen vectors).
 *
 * A range is a page-aligned span of memory that its owner freezes and thaws. In checked builds
 * freezing write-protects the pages and registers the range with the trap's SIGSEGV handler,
 * which reports a write with the range's kind, name and freeze site; in unchecked builds it
 * records a checksum that verify and thaw compare.
 */
#ifndef CASK_INTERNAL_FROZEN_H
#define CASK_INTERNAL_FROZEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cask__frozen_range {
    const char *kind; /* "frozen region", "frozen vector": the report's object kind */
    const char *name; /* a user-given name, or NULL */
    const void *object; /* the object the report names (the region, the vector) */
    char *start;        /* page-aligned */
    size_t len;         /* bytes, a multiple of the page size (may be 0) */
    const char *file;   /* where it was frozen */
    int line;
    bool frozen;
    uint64_t checksum;     /* unchecked builds, while frozen */
    size_t registry_index; /* checked builds, while frozen */
} cask__frozen_range;

/* The system page size. */
size_t cask__page_size(void);

/* Freeze r (its kind, name, object, start and len set by the caller). Returns 0, or
 * CASK_ENOMEM if the protection could not be set up (r unchanged, still mutable). */
int cask__frozen_range_freeze(cask__frozen_range *r, const char *file, int line);

/* Thaw r: verify (unchecked builds: abort on mismatch), then lift the protection. Returns 0, or
 * CASK_ENOMEM if the kernel refused (r still frozen). */
int cask__frozen_range_thaw(cask__frozen_range *r);

/* Unchecked builds: abort with the "modified after freeze" report if r's checksum changed. */
void cask__frozen_range_verify(const cask__frozen_range *r);

/* Checked builds: take r out of the trap's registry without touching the pages (they are about
 * to be unmapped). */
void cask__frozen_range_forget(cask__frozen_range *r);

#endif
