/*
 * Private to cask: checked builds and the one path for fatal misuse.
 *
 * CASK_CHECKED decides how much cask checks at run time:
 *   - undefined: 1 unless NDEBUG is defined (so -DNDEBUG, as in --config=opt, turns it off);
 *   - -DCASK_CHECKED=1 or =0 forces it either way, whatever NDEBUG says.
 * Checks that cost nothing measurable (a NULL handle, a released slot released again) are always
 * on and use CASK__REQUIRE. Heavier ones (owner checks that read thread identity, poisoning,
 * write protection) use CASK__CHECK and vanish when CASK_CHECKED is 0.
 *
 * Either way a failed check ends in cask__die(): it prints where, on which object, what was done
 * wrong and what to do instead, then aborts. Misuse is never silent and never "recovered".
 */
#ifndef CASK_INTERNAL_CHECK_H
#define CASK_INTERNAL_CHECK_H

#include <stddef.h>

#ifndef CASK_CHECKED
#ifdef NDEBUG
#define CASK_CHECKED 0
#else
#define CASK_CHECKED 1
#endif
#endif

/*
 * cask__die - report fatal misuse and abort.
 * `kind` names the object's type ("hazard slot"), `object` its address, `what` the mistake in a
 * sentence, `fix` what the caller should do instead. Writes one report to stderr with a single
 * write system call so reports from several threads do not interleave, then calls abort().
 * Context: any thread; async-signal-safe (it formats into a stack buffer, no malloc, no stdio).
 */
_Noreturn void cask__die(const char *file, int line, const char *kind, const void *object,
                         const char *what, const char *fix);

/*
 * cask__die_detail - the same report with more detail, for the frozen-memory trap: `site` is the
 * word before file:line ("at", or "frozen at" when file:line is where the object was frozen),
 * `name` an optional user-given name of the object (NULL: none), `address` an optional faulting
 * address (NULL: none) at `offset` bytes into the object. Async-signal-safe, as cask__die.
 */
_Noreturn void cask__die_detail(const char *file, int line, const char *site, const char *kind,
                                const char *name, const void *object, const char *what,
                                const void *address, size_t offset, const char *fix);

#define CASK__DIE(kind, object, what, fix) cask__die(__FILE__, __LINE__, (kind), (object), (what), (fix))

/* Always-on check: cond must hold, else die. */
#define CASK__REQUIRE(cond, kind, object, what, fix)                                               \
    do {                                                                                           \
        if (!(cond))                                                                               \
            CASK__DIE((kind), (object), (what), (fix));                                            \
    } while (0)

/* Checked-build check: compiled out (cond not evaluated) when CASK_CHECKED is 0. */
#define CASK__CHECK(cond, kind, object, what, fix)                                                 \
    do {                                                                                           \
        if (CASK_CHECKED && !(cond))                                                               \
            CASK__DIE((kind), (object), (what), (fix));                                            \
    } while (0)

#endif /* CASK_INTERNAL_CHECK_H */
