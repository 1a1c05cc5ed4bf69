/*
 * bench/bench_util_test.c: cask_bench_measure_group interleaves its contenders' repetitions,
 * records one row per contender in the order given, and reports errors without adding rows.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "tests/expect.h"

/* The order in which the contenders' timed runs happened: one letter per run (one thread). */
static char order[64];
static size_t order_len;

typedef struct contender {
    char letter;
    int setup_error; /* returned by setup: makes the measurement fail */
} contender;

static int record_setup(void *ctx, unsigned index)
{
    (void)index;
    return ((contender *)ctx)->setup_error;
}

static void record_run(void *ctx, unsigned index, uint64_t ops)
{
    (void)index, (void)ops;
    if (order_len < sizeof(order) - 1)
        order[order_len++] = ((contender *)ctx)->letter;
}

static const cask_bench_worker recorder = {record_setup, record_run, NULL};

int main(void)
{
    cask_bench_options opt = {.reps = 5, .quick = true, .threads = {1}, .thread_count = 1};
    cask_bench_results res = {0};
    contender a = {'a', 0}, b = {'b', 0}, c = {'c', 0};
    cask_bench_entry entries[] = {
        {"a", &recorder, &a, 100}, {"b", &recorder, &b, 100}, {"c", &recorder, &c, 100}};

    /* One warm-up run each, then five rounds of a, b, c. */
    EXPECT(cask_bench_measure_group(&opt, &res, "group", 1, 3, entries) == 0);
    EXPECT(strcmp(order, "abc" "abcabcabcabcabc") == 0);
    EXPECT(res.count == 3);
    EXPECT(strcmp(res.rows[0].impl, "a") == 0 && strcmp(res.rows[1].impl, "b") == 0 &&
          strcmp(res.rows[2].impl, "c") == 0);
    for (size_t i = 0; i < res.count; i++) {
        EXPECT(strcmp(res.rows[i].bench, "group") == 0);
        EXPECT(res.rows[i].threads == 1 && res.rows[i].ns_per_op > 0);
    }

    /* Bad arguments add nothing. */
    EXPECT(cask_bench_measure_group(&opt, &res, "group", 1, 0, entries) == -EINVAL);
    EXPECT(cask_bench_measure_group(&opt, &res, NULL, 1, 3, entries) == -EINVAL);
    cask_bench_entry no_worker = {"x", NULL, &a, 100};
    EXPECT(cask_bench_measure_group(&opt, &res, "group", 1, 1, &no_worker) == -EINVAL);
    EXPECT(res.count == 3);

    /* A failing contender stops the measurement with its error; no row is added. */
    b.setup_error = -EIO;
    EXPECT(cask_bench_measure_group(&opt, &res, "failing", 1, 3, entries) == -EIO);
    EXPECT(res.count == 3);

    cask_bench_results_free(&res);
    puts("bench_util_test: ok");
    return 0;
}
