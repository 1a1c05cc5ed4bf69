/*
 * stress/check/check_test.h: assertions and history builders for the checker's own tests.
 * EXPECT(cond) prints the file, line and condition and exits 1 (the tests are plain programs
 * run by Bazel's cc_test). H(...) appends a hand-written operation with explicit stamps.
 */
#ifndef CASK_STRESS_CHECK_CHECK_TEST_H
#define CASK_STRESS_CHECK_CHECK_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stress/check/lincheck.h"

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

/* EXPECT_HAS(text, needle): the explanation text mentions needle. */
#define EXPECT_HAS(text, needle)                                                                   \
    do {                                                                                           \
        if (strstr((text), (needle)) == NULL) {                                                    \
            fprintf(stderr, "%s:%d: expected \"%s\" in:\n%s\n", __FILE__, __LINE__, (needle),      \
                    (text));                                                                       \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* A history with room for 64 operations on each of 8 threads (tests are small). */
static inline cask_history *test_history(void)
{
    cask_history *h = NULL;
    EXPECT(cask_history_create(8, 64, &h) == 0);
    return h;
}

/* Appends a completed operation: thread, kind, key, arg, [inv, resp], result value, status. */
static inline void test_op(cask_history *h, int thread, int kind, uint64_t key, uint64_t arg,
                           uint64_t inv, uint64_t resp, uint64_t value, int status)
{
    cask_op op = {.invoke_ns = inv, .respond_ns = resp, .key = key, .arg = arg, .value = value,
                  .kind = kind, .status = status, .thread = thread, .responded = true};
    EXPECT(cask_history_append(h, &op) == 0);
}

/* Appends an operation that was invoked at inv and never responded. */
static inline void test_pending(cask_history *h, int thread, int kind, uint64_t key, uint64_t arg,
                                uint64_t inv)
{
    cask_op op = {.invoke_ns = inv, .key = key, .arg = arg, .kind = kind, .thread = thread,
                  .responded = false};
    EXPECT(cask_history_append(h, &op) == 0);
}

#endif
