/*
 * bench/hp_bench.c: hazard-pointer benchmark, cask against its peers, side by side in one run.
 *
 *   bazel run --config=opt //bench:hp_bench -- [--threads=1,2] [--reps 5] [--quick] [--json F]
 *
 * Peers: Concurrency Kit's ck_hp (the classic hazard pointer: a fenced publication per protect),
 * liburcu's memb flavour (not hazard pointers but the usual alternative for readers: a read-side
 * critical section, with membarrier on the writer side like cask), and a pthread mutex (what the
 * data structure would cost without any lock-free reclamation). What each bench measures is in
 * hp_bench.h; the implementations are in hp_bench_<impl>.c.
 *
 * The goals this benchmark checks (on the project's 2-core machine, --config=opt):
 *   - cask protect + reset at most 2 ns per operation, and at most 1/3 of ck's time;
 *   - cask retire + reclaim at most 30 ns per operation, amortised (malloc and free included).
 */
#include "bench/hp_bench.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cask/hp.h"

/* Relaxed: the sink only has to be written, so that the loops feeding it are not dead code; no
 * thread ever reads it. An atomic rather than a volatile so that concurrent runs do not race. */
static _Atomic uint64_t hp_bench_sink;

void hp_bench_consume(uint64_t value)
{
    atomic_fetch_add_explicit(&hp_bench_sink, value, memory_order_relaxed);
}

_Noreturn void hp_bench_die(const char *what)
{
    fprintf(stderr, "hp_bench: %s\n", what);
    exit(1);
}

int hp_bench_pool_init(hp_bench_pool *pool, bool pooled, size_t object_size,
                       void (*wait)(void *arg), void *wait_arg)
{
    memset(pool, 0, sizeof(*pool));
    pool->object_size = object_size;
    pool->wait = wait;
    pool->wait_arg = wait_arg;
    if (!pooled)
        return 0;
    size_t stride = (object_size + 63) / 64 * 64;
    unsigned char *cells = aligned_alloc(64, stride * HP_BENCH_RING_SIZE);
    if (cells == NULL)
        return -ENOMEM;
    memset(cells, 0, stride * HP_BENCH_RING_SIZE);
    for (size_t i = 0; i < HP_BENCH_RING_SIZE; i++) {
        hp_bench_cell *c = (hp_bench_cell *)(void *)(cells + i * stride);
        atomic_init(&c->live, 0);
        c->pooled = true;
    }
    pool->cells = cells;
    pool->stride = stride;
    return 0;
}

void hp_bench_pool_fini(hp_bench_pool *pool)
{
    free(pool->cells);
    pool->cells = NULL;
}

/* One bench: its name, which worker of an implementation runs it, and its operation count. */
struct hp_bench_spec {
    const char *name;
    bool retire;     /* false: the protect_reset worker; true: the retire_reclaim worker */
    bool pooled;     /* ring objects instead of malloc (retire only) */
    uint64_t ops;    /* base operations per thread (cask_bench_measure calibrates from it) */
};

static const struct hp_bench_spec hp_bench_specs[] = {
    {"hp.protect_reset", false, false, 50000000},
    {"hp.retire_reclaim", true, false, 4000000},
    {"hp.retire_reclaim_nomalloc", true, true, 4000000},
};

/* cask first: it is the reference row of every group. */
static const hp_bench_impl *const hp_bench_impls[] = {
    &hp_bench_cask_impl,
    &hp_bench_ck_impl,
    &hp_bench_urcu_impl,
    &hp_bench_mutex_impl,
};

/* The object the protect bench's source points to, and the source itself. */
static hp_bench_target hp_bench_the_target = {.value = 42};
static _Atomic(void *) hp_bench_source;

int main(int argc, char **argv)
{
    cask_bench_options opt;
    int rc = cask_bench_parse_args(
        argc, argv, "1,2", "hazard-pointer protect/reset and retire/reclaim: cask, ck, urcu, mutex",
        &opt);
    if (rc != 0)
        return rc > 0 ? 0 : 2;

    /* Release: pairs with the acquire loads of the source in every protect loop (thread
     * creation orders it too; the pair is what a real publisher would rely on). */
    atomic_store_explicit(&hp_bench_source, &hp_bench_the_target, memory_order_release);

    fprintf(stderr, "hp_bench: cask hazard publication uses %s; %u repetitions per row%s\n",
            cask_hp_uses_membarrier() ? "membarrier (asymmetric fence)" : "a full fence",
            opt.reps, opt.quick ? "; --quick (smoke test, numbers are noisy)" : "");

    cask_bench_results results = {0};
    int status = 0;
    for (size_t b = 0; b < sizeof(hp_bench_specs) / sizeof(hp_bench_specs[0]); b++) {
        const struct hp_bench_spec *spec = &hp_bench_specs[b];
        for (size_t t = 0; t < opt.thread_count; t++) {
            /* Every implementation at this point, repetitions interleaved. */
            enum { IMPLS = sizeof(hp_bench_impls) / sizeof(hp_bench_impls[0]) };
            unsigned threads = opt.threads[t];
            cask_bench_entry entries[IMPLS];
            const hp_bench_impl *used[IMPLS];
            size_t count = 0;
            for (size_t i = 0; i < IMPLS; i++) {
                const hp_bench_impl *impl = hp_bench_impls[i];
                if (!cask_bench_selected(&opt, spec->name, impl->name))
                    continue;
                void *ctx = impl->create(threads, &hp_bench_source, spec->pooled);
                if (ctx == NULL) {
                    status = 1;
                    continue;
                }
                const cask_bench_worker *w =
                    spec->retire ? &impl->retire_reclaim : &impl->protect_reset;
                used[count] = impl;
                entries[count++] = (cask_bench_entry){impl->name, w, ctx, spec->ops};
            }
            if (count > 0) {
                rc = cask_bench_measure_group(&opt, &results, spec->name, threads, count,
                                              entries);
                if (rc != 0) {
                    fprintf(stderr, "hp_bench: %s with %u threads failed: %s\n", spec->name,
                            threads, strerror(-rc));
                    status = 1;
                }
            }
            for (size_t i = 0; i < count; i++)
                used[i]->destroy(entries[i].ctx);
        }
    }

    cask_bench_results_print(&results, "cask", stdout);
    printf("(cask hazard publication: %s)\n",
           cask_hp_uses_membarrier() ? "membarrier, asymmetric fence" : "full fence");
    if (opt.json_path != NULL && cask_bench_results_write_json(&results, opt.json_path) != 0)
        status = 1;
    cask_bench_results_free(&results);
    return status;
}
