/*
 * bench/bench_results.c: the rows a benchmark collects, the side-by-side table and the JSON
 * file (part of //bench:bench_util; the contracts are in bench.h).
 *
 * The table groups rows by bench (first appearance) and thread count (ascending) and divides
 * every row's ns_per_op by the reference implementation's in the same group, so one run shows
 * how each peer compares with cask on the same machine at the same moment.
 */
#define _POSIX_C_SOURCE 200809L /* feature-test macro (reserved name, set by the standard): it
                                 * exposes strdup under -std=c11 */
#include "bench/bench.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

int cask_bench_results_add(cask_bench_results *results, const char *bench, const char *impl,
                           unsigned threads, uint64_t ops_per_thread, uint64_t elapsed_ns)
{
    if (results == NULL || bench == NULL || impl == NULL || *bench == '\0' || *impl == '\0' ||
        threads == 0 || ops_per_thread == 0 || elapsed_ns == 0)
        return -EINVAL;
    if (results->count == results->capacity) {
        size_t cap = results->capacity != 0 ? results->capacity * 2 : 16;
        cask_bench_result *bigger = realloc(results->rows, cap * sizeof(*bigger));
        if (bigger == NULL)
            return -ENOMEM;
        results->rows = bigger;
        results->capacity = cap;
    }
    char *b = strdup(bench), *m = strdup(impl);
    if (b == NULL || m == NULL) {
        free(b);
        free(m);
        return -ENOMEM;
    }
    double total_ops = (double)ops_per_thread * (double)threads;
    cask_bench_result *row = &results->rows[results->count++];
    row->bench = b;
    row->impl = m;
    row->threads = threads;
    row->ops_per_sec = total_ops * 1e9 / (double)elapsed_ns;
    row->ns_per_op = (double)elapsed_ns / (double)ops_per_thread; /* = elapsed * threads / total */
    return 0;
}

/* True if no row before index i has the same bench name as row i. */
static bool cask_bench_first_of_bench(const cask_bench_results *r, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (strcmp(r->rows[j].bench, r->rows[i].bench) == 0)
            return false;
    return true;
}

/* Prints the rows of one (bench, threads) group. */
static void cask_bench_print_group(const cask_bench_results *r, const char *bench,
                                   unsigned threads, const char *reference_impl, FILE *out)
{
    const cask_bench_result *ref = NULL;
    for (size_t i = 0; i < r->count && ref == NULL; i++) {
        const cask_bench_result *row = &r->rows[i];
        if (row->threads == threads && strcmp(row->bench, bench) == 0 &&
            reference_impl != NULL && strcmp(row->impl, reference_impl) == 0)
            ref = row;
    }
    for (size_t i = 0; i < r->count; i++) {
        const cask_bench_result *row = &r->rows[i];
        if (row->threads != threads || strcmp(row->bench, bench) != 0)
            continue;
        fprintf(out, "%-28s %7u  %-8s %10.2f %10.3f", row->bench, row->threads, row->impl,
                row->ops_per_sec / 1e6, row->ns_per_op);
        if (ref != NULL)
            fprintf(out, " %8.2f\n", row->ns_per_op / ref->ns_per_op);
        else
            fprintf(out, " %8s\n", "-");
    }
}

void cask_bench_results_print(const cask_bench_results *results, const char *reference_impl,
                              FILE *out)
{
    fprintf(out, "%-28s %7s  %-8s %10s %10s %8s\n", "bench", "threads", "impl", "Mops/s",
            "ns/op", "ratio");
    bool first_group = true;
    for (size_t i = 0; i < results->count; i++) {
        if (!cask_bench_first_of_bench(results, i))
            continue;
        const char *bench = results->rows[i].bench;
        /* Thread counts of this bench, ascending: repeatedly take the smallest above the last. */
        unsigned last = 0;
        for (;;) {
            unsigned next = UINT_MAX;
            for (size_t j = i; j < results->count; j++)
                if (strcmp(results->rows[j].bench, bench) == 0 &&
                    results->rows[j].threads > last && results->rows[j].threads < next)
                    next = results->rows[j].threads;
            if (next == UINT_MAX)
                break;
            if (!first_group)
                fputc('\n', out);
            first_group = false;
            cask_bench_print_group(results, bench, next, reference_impl, out);
            last = next;
        }
    }
    fprintf(out, "(ns/op: wall-clock ns per operation on one thread; ratio: ns/op divided by "
                 "%s's ns/op in the same group, > 1 means slower than %s)\n",
            reference_impl != NULL ? reference_impl : "the reference",
            reference_impl != NULL ? reference_impl : "it");
}

/* Writes s as a JSON string literal. */
static void cask_bench_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

int cask_bench_results_write_json(const cask_bench_results *results, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        int e = errno;
        fprintf(stderr, "cannot open %s for writing: %s\n", path, strerror(e));
        return -e;
    }
    fputs("[\n", f);
    for (size_t i = 0; i < results->count; i++) {
        const cask_bench_result *row = &results->rows[i];
        fputs("  {\"bench\": ", f);
        cask_bench_json_string(f, row->bench);
        fputs(", \"impl\": ", f);
        cask_bench_json_string(f, row->impl);
        fprintf(f, ", \"threads\": %u, \"ops_per_sec\": %.1f, \"ns_per_op\": %.4f}%s\n",
                row->threads, row->ops_per_sec, row->ns_per_op,
                i + 1 < results->count ? "," : "");
    }
    fputs("]\n", f);
    int failed = ferror(f);
    int e = failed ? EIO : 0;
    if (fclose(f) != 0 && e == 0)
        e = errno != 0 ? errno : EIO;
    if (e != 0) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(e));
        return -e;
    }
    return 0;
}

void cask_bench_results_free(cask_bench_results *results)
{
    for (size_t i = 0; i < results->count; i++) {
        free(results->rows[i].bench);
        free(results->rows[i].impl);
    }
    free(results->rows);
    results->rows = NULL;
    results->count = 0;
    results->capacity = 0;
}
