/*
 * tests/expect.h: the assertions cask's tests use. EXPECT(cond) prints the file, line and the
 * failed condition and exits 1; the test binaries are plain programs, run by Bazel's cc_test.
 * Also the expected-death helper for misuse that must abort with a report.
 */
#ifndef CASK_TESTS_EXPECT_H
#define CASK_TESTS_EXPECT_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: expectation failed: %s\n", __FILE__, __LINE__, #cond);         \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define EXPECT_EQ(a, b)                                                                            \
    do {                                                                                           \
        long long expect_a_ = (long long)(a), expect_b_ = (long long)(b);                          \
        if (expect_a_ != expect_b_) {                                                              \
            fprintf(stderr, "%s:%d: expected %s == %s, got %lld and %lld\n", __FILE__, __LINE__,   \
                    #a, #b, expect_a_, expect_b_);                                                 \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/*
 * Runs fn(arg) in a forked child and checks that it dies by SIGABRT with every string of
 * `needles` (NULL-terminated) in its stderr. Returns true if so; prints what happened if not.
 * A child still alive after 60 seconds is killed and counts as a failure ("hung").
 * Call it before the test starts any thread.
 */
bool expect_death(void (*fn)(void *arg), void *arg, const char *const *needles);

/*
 * Runs fn(arg) in a forked child, its stderr captured into out (cap bytes, NUL-terminated, the
 * rest drained), and waits for it: true with *status set (waitpid's) once it ended; false if it
 * could not be run, or hung: still alive 60 seconds after the start, then killed (and said on
 * stderr). Call it before the test starts any thread.
 */
bool run_child(void (*fn)(void *arg), void *arg, char *out, size_t cap, int *status);

/*
 * A scripted schedule's position, for tests that drive threads through a fixed interleaving:
 * expect_step_wait(s) blocks until some thread has called expect_step_set(t) with t >= s.
 * A mutex and a condition variable (real synchronisation, which TSan sees: the script orders
 * only the steps it names). One script per process.
 */
void expect_step_wait(int s);
void expect_step_set(int s);

/* UNDER_TSAN: defined to 1 when this file is compiled with ThreadSanitizer. */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

#endif
