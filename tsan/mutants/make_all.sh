#!/bin/sh
# Regenerates every mutant patch from the current sources (run after changing the library; a
# mutant whose expression no longer matches makes this fail loudly).
set -eu
cd "$(dirname "$0")/../.."
m=tsan/make_mutant.sh
$m hp-no-revalidate include/cask/hp.h 's/        if (q == p)$/        if (q == p || q != p)/' \
    tsan hp.replace yes "protect publishes the hazard but never re-checks the source, so it can protect an object that was already unlinked and reclaimed"
$m hp-relaxed-reset include/cask/hp.h '/^static inline void cask_hp_reset/,/^}/s/memory_order_release/memory_order_relaxed/' \
    tsan hp.replace no "reset stores NULL with relaxed order instead of release, so the reader's accesses are not ordered before the reclaim"
$m hp-reclaim-without-scan lib/hp.c 's/^        if (protected) {$/        if (protected \&\& false) {/' \
    tsan hp.replace yes "the scan reclaims every retired object without looking at the hazard slots"
$m hp-free-instead-of-retire lib/hp.c 's/^    node->next = r->retired;$/    reclaim(object); return;/' \
    tsan hp.replace no "retire calls the reclaim function at once instead of deferring it until no slot protects the object"
$m hp-exit-drops-leftovers lib/hp.c 's/^            cask__hp_orphan_leftovers(d, r);$/            r->retired = NULL, r->retired_count = 0;/' \
    invariant hp.exit_handover no "a thread exit forgets the objects still protected instead of handing them to the domain (they leak)"
$m hp-acquire-slot-relaxed lib/hp.c '/^static long cask__hp_collect/,/^}/s/memory_order_acquire/memory_order_relaxed/' \
    tsan hp.replace no "the scan reads hazard slots with relaxed loads, so a reader's last accesses are not ordered before the reclaim"
