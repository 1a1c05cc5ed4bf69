/*
 * bench/snap_bench_lgpl.c: the snap.read rows of a program that defines _LGPL_SOURCE (this file
 * is compiled with -D_LGPL_SOURCE, see bench/BUILD): cask's read section with liburcu's inline
 * fast path (snap.h takes it when _LGPL_SOURCE is defined), and liburcu's memb flavour used
 * directly, also inline. See snap_bench.c for the table.
 */
#define _GNU_SOURCE /* pthread_rwlock_t in snap_bench.h */
#ifndef _LGPL_SOURCE
#error "bench/snap_bench_lgpl.c must be compiled with -D_LGPL_SOURCE"
#endif
#include <urcu/urcu-memb.h>

#include "bench/snap_bench.h"

#if !defined(CASK__SNAP_INLINE_MEMB) && !defined(CASK__SNAP_TSAN) /* TSan builds never inline */
#error "snap.h did not take the inline read side"
#endif

void snap_bench_read_cask_lgpl(void *arg, unsigned index, uint64_t ops)
{
    (void)index;
    struct snap_bench_ctx *c = arg;
    cask_snap *cell = c->cell;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < ops; i++) {
        cask_snap_read_begin(cell);
        sum += ((const snap_bench_version *)cask_snap_read(cell))->value;
        cask_snap_read_end(cell);
    }
    snap_bench_consume(sum);
}

int snap_bench_urcu_setup(void *arg, unsigned index)
{
    (void)arg;
    (void)index;
    urcu_memb_register_thread();
    return 0;
}

void snap_bench_urcu_teardown(void *arg, unsigned index)
{
    (void)arg;
    (void)index;
    urcu_memb_unregister_thread();
}

void snap_bench_read_urcu(void *arg, unsigned index, uint64_t ops)
{
    (void)index;
    struct snap_bench_ctx *c = arg;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < ops; i++) {
        urcu_memb_read_lock();
        sum += atomic_load_explicit(&c->plain, memory_order_acquire)->value; /* pairs with main's release store of the version */
        urcu_memb_read_unlock();
    }
    snap_bench_consume(sum);
}
