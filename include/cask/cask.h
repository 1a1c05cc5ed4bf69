/*
 * cask: lock-free concurrent data structures that make sharing explicit and mistakes loud.
 *
 * This is the umbrella header: the version, the error codes every fallible call returns, and the
 * headers of each structure. Include it, or include only the structure headers you use.
 *
 * Conventions that hold for every cask call unless its own comment says otherwise:
 *   - A fallible call returns 0 on success or one negative CASK_E* code, and a failed call leaves
 *     the structure exactly as it was.
 *   - Allocation failure is CASK_ENOMEM, never a crash.
 *   - Misuse that cannot be reported as an error (a handle used after it was freed, a slot used
 *     from a thread that does not own it) is caught in checked builds and aborts with a message
 *     naming the object, the operation and the fix. See "Checked builds" in README.md.
 */
#ifndef CASK_CASK_H
#define CASK_CASK_H

#define CASK_VERSION_MAJOR 0
#define CASK_VERSION_MINOR 1
#define CASK_VERSION_PATCH 0
#define CASK_VERSION_STRING "0.1.0"

/* Error codes. All are negative so that "ret < 0" is the one test for failure. */
#define CASK_ENOMEM (-1)    /* an allocation failed; nothing was changed */
#define CASK_EINVAL (-2)    /* an argument is out of its documented range */
#define CASK_EEMPTY (-3)    /* nothing to take: the structure is empty */
#define CASK_EFULL (-4)     /* no room: a bounded structure is at capacity */
#define CASK_ECLOSED (-5)   /* the structure was closed; see its close reason */
#define CASK_EFROZEN (-6)   /* the object is frozen (immutable); make a mutable copy instead */
#define CASK_EEXIST (-7)    /* the key or item is already present */
#define CASK_ENOENT (-8)    /* the key or item is not present */
#define CASK_ETIMEDOUT (-9) /* a blocking call reached its deadline */

/*
 * cask_strerror - a short English description of a cask error code.
 * Returns a static string; an unknown code (including 0 and positive values) gives a string that
 * says so, never NULL.
 * Context: any thread, any time; wait-free; touches no shared state.
 */
const char *cask_strerror(int code);

#include "cask/frozen.h"
#include "cask/hp.h"
#include "cask/queue.h"
#include "cask/bqueue.h"
#include "cask/snap.h"
#include "cask/vec.h"
#include "cask/map.h"

#endif /* CASK_CASK_H */
