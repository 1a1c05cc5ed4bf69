/*
 * bench/snap_bench.h: what snap_bench.c and snap_bench_lgpl.c share. The second file is its own
 * compilation unit, built with -D_LGPL_SOURCE (bench/BUILD), so that its rows see liburcu's
 * inline read side, as a program that opts in does; snap_bench.c is built without it, as a
 * program that does not.
 */
#ifndef CASK_BENCH_SNAP_BENCH_H
#define CASK_BENCH_SNAP_BENCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "cask/snap.h"

typedef struct {
    uint64_t value;
    uint64_t body[7];
} snap_bench_version;

/* What every implementation reads or replaces. One of these per measurement. */
struct snap_bench_ctx {
    cask_snap *cell;                                   /* cask, cask-lgpl, cask-qsbr */
    _Alignas(64) _Atomic(snap_bench_version *) plain;  /* atomic, urcu, rwlock */
    _Alignas(64) pthread_rwlock_t lock;
};

/* Adds v to a sink nobody reads, so the timed loops are not dead code. Thread-safe. */
void snap_bench_consume(uint64_t v);

/* snap_bench_lgpl.c: cask_snap_read_begin/read/end with the inline liburcu read side. */
void snap_bench_read_cask_lgpl(void *arg, unsigned index, uint64_t ops);

/* snap_bench_lgpl.c: liburcu memb used directly, inline (register, read, unregister). */
int snap_bench_urcu_setup(void *arg, unsigned index);
void snap_bench_urcu_teardown(void *arg, unsigned index);
void snap_bench_read_urcu(void *arg, unsigned index, uint64_t ops);

#endif
