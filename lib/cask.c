/*
 * cask.c: what every structure shares: error strings and the fatal-misuse report.
 *
 * It also holds the weak allocation calls every structure uses (lib/internal/alloc.h) and each
 * thread's contention-backoff state (lib/internal/backoff.h; only its own thread touches it).
 *
 * Nothing here touches shared mutable state: cask_strerror returns string literals and
 * cask__die formats on its own stack, so both are safe from any thread (cask__die also from a
 * signal handler, which the frozen-memory trap relies on).
 */
#define _GNU_SOURCE
#include "cask/cask.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif
#include <unistd.h>

#include "internal/alloc.h"
#include "internal/backoff.h"
#include "internal/check.h"

_Thread_local cask__backoff cask__backoff_state;

const char *cask_strerror(int code)
{
    switch (code) {
    case CASK_ENOMEM: return "out of memory (nothing was changed)";
    case CASK_EINVAL: return "invalid argument";
    case CASK_EEMPTY: return "empty";
    case CASK_EFULL: return "full";
    case CASK_ECLOSED: return "closed";
    case CASK_EFROZEN: return "frozen (immutable): make a mutable copy to change it";
    case CASK_EEXIST: return "already exists";
    case CASK_ENOENT: return "not found";
    case CASK_ETIMEDOUT: return "timed out";
    default: return "unknown cask error code";
    }
}

/* Appends a NUL-terminated string to buf[*len..cap), truncating; async-signal-safe. */
static void cask__append(char *buf, size_t cap, size_t *len, const char *s)
{
    while (*s != '\0' && *len + 1 < cap)
        buf[(*len)++] = *s++;
}

/* Appends "0x" and the address in hexadecimal; async-signal-safe. */
static void cask__append_ptr(char *buf, size_t cap, size_t *len, const void *p)
{
    char digits[2 + 2 * sizeof(uintptr_t) + 1];
    uintptr_t v = (uintptr_t)p;
    size_t n = sizeof(digits) - 1;
    digits[n] = '\0';
    do {
        digits[--n] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v != 0);
    digits[--n] = 'x';
    digits[--n] = '0';
    cask__append(buf, cap, len, digits + n);
}

/* Appends a non-negative decimal number; async-signal-safe. */
static void cask__append_int(char *buf, size_t cap, size_t *len, int v)
{
    char digits[16];
    size_t n = sizeof(digits) - 1;
    digits[n] = '\0';
    unsigned u = v < 0 ? 0u : (unsigned)v;
    do {
        digits[--n] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    cask__append(buf, cap, len, digits + n);
}

_Noreturn void cask__die_detail(const char *file, int line, const char *site, const char *kind,
                                const char *name, const void *object, const char *what,
                                const void *address, size_t offset, const char *fix)
{
    char buf[1280];
    size_t len = 0;
    cask__append(buf, sizeof(buf), &len, "cask: fatal misuse of ");
    cask__append(buf, sizeof(buf), &len, kind);
    if (name != NULL) {
        cask__append(buf, sizeof(buf), &len, " \"");
        cask__append(buf, sizeof(buf), &len, name);
        cask__append(buf, sizeof(buf), &len, "\"");
    }
    cask__append(buf, sizeof(buf), &len, " ");
    cask__append_ptr(buf, sizeof(buf), &len, object);
    cask__append(buf, sizeof(buf), &len, " ");
    cask__append(buf, sizeof(buf), &len, site);
    cask__append(buf, sizeof(buf), &len, " ");
    cask__append(buf, sizeof(buf), &len, file);
    cask__append(buf, sizeof(buf), &len, ":");
    cask__append_int(buf, sizeof(buf), &len, line);
    cask__append(buf, sizeof(buf), &len, "\n  what: ");
    cask__append(buf, sizeof(buf), &len, what);
    if (address != NULL) {
        cask__append(buf, sizeof(buf), &len, "\n  address: ");
        cask__append_ptr(buf, sizeof(buf), &len, address);
        cask__append(buf, sizeof(buf), &len, " (offset ");
        cask__append_int(buf, sizeof(buf), &len, offset > 0x7fffffff ? 0x7fffffff : (int)offset);
        cask__append(buf, sizeof(buf), &len, " in the object)");
    }
    cask__append(buf, sizeof(buf), &len, "\n  fix:  ");
    cask__append(buf, sizeof(buf), &len, fix);
    cask__append(buf, sizeof(buf), &len, "\n");
    /* The write system call itself, not write(): a sanitizer's write() interceptor may take a
     * lock of the runtime (ThreadSanitizer's releases on the descriptor, under the thread's slot
     * lock), and the frozen-memory trap can get here from a fault inside that runtime's own
     * atomic store, with that lock held: the report would never appear (lib/frozen.c). */
#if defined(__linux__) && defined(SYS_write)
    long ignored = syscall(SYS_write, STDERR_FILENO, buf, len);
#else
    ssize_t ignored = write(STDERR_FILENO, buf, len);
#endif
    (void)ignored;
    abort();
}

_Noreturn void cask__die(const char *file, int line, const char *kind, const void *object,
                         const char *what, const char *fix)
{
    cask__die_detail(file, line, "at", kind, NULL, object, what, NULL, 0, fix);
}

/* ---- Allocation (weak: tests override it to inject failures; see lib/internal/alloc.h) ---- */

__attribute__((weak)) void *cask__alloc(size_t align, size_t size)
{
    return aligned_alloc(align, (size + align - 1) / align * align);
}

__attribute__((weak)) void cask__free(void *p)
{
    free(p);
}
