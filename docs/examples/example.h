/*
 * docs/examples/example.h: the two helpers every program of the cookbook (docs/cookbook.md)
 * shares.
 *
 * CHECK(cond): the program's own checker. A failed check prints what failed and exits 1.
 *
 * Steps (wrong programs only): step_done marks that a thread got past one point, step_wait
 * spins until another thread did. Both are relaxed atomics: they fix the order of two
 * accesses in real time but create no happens-before edge, so the race they surround stays a
 * race, and ThreadSanitizer prints the same report on every run. A real program has the same
 * bug without them; only which access comes second, and so the report's wording, would vary.
 */
#ifndef CASK_DOCS_EXAMPLE_H
#define CASK_DOCS_EXAMPLE_H

#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fflush(stdout);                                                                        \
            fprintf(stderr, "check failed: %s\n", #cond);                                          \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

typedef struct step {
    atomic_int reached;
} step;

static inline void step_done(step *s)
{
    atomic_store_explicit(&s->reached, 1, memory_order_relaxed);
}

static inline void step_wait(step *s)
{
    while (!atomic_load_explicit(&s->reached, memory_order_relaxed))
        sched_yield();
}

#endif /* CASK_DOCS_EXAMPLE_H */
