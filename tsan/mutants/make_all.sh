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
$m hp-reclaim-without-scan lib/hp_scan.c 's/^        if (protected) {$/        if (protected \&\& false) {/' \
    tsan hp.replace yes "the scan reclaims every retired object without looking at the hazard slots"
$m hp-free-instead-of-retire lib/hp.c 's/^    node->next = r->retired;$/    reclaim(object); return;/' \
    tsan hp.replace no "retire calls the reclaim function at once instead of deferring it until no slot protects the object"
$m hp-exit-drops-leftovers lib/hp.c 's/^    cask__hp_orphan_leftovers(d, r);$/    r->retired = NULL, r->retired_count = 0;/' \
    invariant hp.exit_handover no "a thread exit forgets the objects still protected instead of handing them to the domain (they leak)"
$m hp-exit-refuses-default lib/hp.c 's/^        (cask__hp_exiting \&\& (d != \&cask__hp_default || cask__hp_default_released)))$/        cask__hp_exiting)/' \
    invariant hp.exit_handover no "a thread's exit refuses to bind the default domain, so a reclaim function run by the exit scan of another domain cannot push to a queue (CASK_ENOMEM)"
$m hp-exit-default-first lib/hp.c '/^static struct cask__hp_binding \*cask__hp_exit_next/,/^}/s/^        if (b->domain_id != cask__hp_default.id)$/        if (1)/' \
    invariant - no "a thread's exit hands its bindings back in list order, the default domain's possibly first, so reclaim functions of a later domain's exit scan cannot use the queues" \
    asan //tests:hp_exit_reclaim_test
$m hp-acquire-slot-relaxed lib/hp_scan.c '/^static long cask__hp_collect/,/^}/s/memory_order_acquire/memory_order_relaxed/' \
    tsan hp.replace no "the scan reads hazard slots with relaxed loads, so a reader's last accesses are not ordered before the reclaim"
$m snap-free-without-grace lib/snap.c 's/^    cask__snap_call_rcu(cell, &r->head, cask__snap_free_cb);$/    cell->free_fn(r->object); cask__free(r); (void)cask__snap_free_cb;/' \
    tsan snap.publish yes "a replaced snapshot is freed at once instead of after a grace period, while readers may still use it"
$m snap-relaxed-publish lib/snap.c '/atomic_exchange_explicit(&cell->current, next, memory_order_acq_rel)/s/memory_order_acq_rel/memory_order_relaxed/' \
    tsan snap.publish no "publish installs the new object with a relaxed exchange, so readers may see the pointer before the object's contents"
$m snap-relaxed-update-cas lib/snap.c 's/memory_order_acq_rel, memory_order_acquire)) {/memory_order_relaxed, memory_order_relaxed)) {/' \
    tsan snap.update no "read-copy-update installs its candidate with a relaxed compare-and-swap: readers and later updaters may see it before its contents"
$m snap-relaxed-read lib/snap.c 's/return atomic_load_explicit(&cell->current, memory_order_acquire);/return atomic_load_explicit(\&cell->current, memory_order_relaxed);/' \
    tsan snap.publish no "readers load the snapshot pointer with relaxed order, so the object's contents are not ordered before their reads"
$m snap-update-blind-swap lib/snap.c 's/if (cask__snap_install(cell, false, &cur, next, &old)) {/if (cask__snap_install(cell, true, \&cur, next, \&old)) {/' \
    invariant snap.update no "read-copy-update replaces the current version without checking it is still the one fn read (exchange instead of compare-and-swap): concurrent updates are lost"
$m snap-qsbr-wrong-flavour lib/snap.c 's/^    if (qsbr)$/    if (qsbr \&\& 0)/' \
    tsan snap.qsbr no "versions replaced in a QSBR cell are handed to the memb flavour's call_rcu, whose grace period does not wait for QSBR readers"
$m snap-barrier-relaxed-done lib/snap.c 's/atomic_fetch_add_explicit(&cask__snap_done, 1, memory_order_release);/atomic_fetch_add_explicit(\&cask__snap_done, 1, memory_order_relaxed);/' \
    tsan snap.publish no "the call_rcu callbacks count their completion with a relaxed increment, so cask_snap_barrier can return before their frees are visible to the caller"
$m queue-relaxed-publish lib/queue.c '/&t->cells\[i\], &expected, item,$/{n;s/memory_order_seq_cst,/memory_order_relaxed,/;}' \
    tsan queue.pairs,queue.split no "push publishes the item into its cell with a relaxed CAS, so the consumer's reads of the item are not ordered after the producer's writes"
$m queue-no-head-revalidate lib/queue.c '/^static int cask__queue_take/,/^}/s/cask__qseg \*h = cask_hp_protect(slot, &q->head);/cask__qseg *h = atomic_load_explicit(\&q->head, memory_order_acquire); CASK__NOISE("queue.pop.loaded"); cask_hp_set(slot, h);/' \
    tsan queue.pairs,queue.split no "pop announces the head segment in its hazard slot but never re-reads head, so it can use a segment that was already retired and freed"
$m queue-refusal-skips-seal lib/queue.c '/^static int cask__queue_put/,/^}/s/^            cask__queue_seal(q, slot); \/\* before the answer: no later push may be accepted \*\/$/            cask_hp_reset(slot);/' \
    invariant - no "a push refused by a segment's mark answers CASK_ECLOSED at once instead of finishing the seal first: while close is paused before the next segment (linked by a push in progress), a push that starts after the refusal is accepted there" \
    asan //tests:queue_close_order_test
$m bqueue-closed-reads-reason lib/bqueue.c '/^bool cask_bqueue_closed/,/^}/s/^    if ((t \& CASK__BQ_CLOSED) == 0)$/    if (0 \&\& (t \& CASK__BQ_CLOSED) == 0)/' \
    invariant - no "cask_bqueue_closed answers from the reason word, which close claims before it sets the bit: it says closed while pushes are still accepted" \
    asan //tests:queue_close_order_test
$m snap-gp-edge-global-hand-off lib/snap.c '/^static inline void cask__snap_gp_edge/,/^}/s/^        __tsan_release((void \*)record);$/        __tsan_release(\&cask__snap_gp_token);/' \
    invariant - no "every call_rcu hand-off releases the one grace-period token instead of its own record, so TSan sees any writer ordered before every later free: an unordered write and free go unreported (the annotation hides a race)" \
    tsan //tests:snap_tsan_edge_test
$m queue-close-skips-mark lib/queue.c 's/^        uint64_t before = atomic_fetch_or_explicit(&t->enq, CLOSED_BIT,$/        uint64_t before = atomic_load_explicit(\&t->enq,/' \
    invariant queue.close no "close does not set the CLOSED bit in the tail segment's index, so pushes into its free cells are accepted after close returned"
$m queue-closed-before-empty lib/queue.c 's/^            if (d >= e \&\& (next == NULL || next == CLOSED_LINK)) {$/            if (closed || (d >= e \&\& (next == NULL || next == CLOSED_LINK))) {/' \
    invariant queue.close no "pop reports CASK_ECLOSED as soon as it sees the queue closed, losing the items accepted before the close that are still in it"
$m queue-wake-before-visible lib/queue.c 's/^    rc = cask__queue_put(q, slot, item);$/    cask__ec_notify(\&q->ec);\n    rc = cask__queue_put(q, slot, item);/;s/^    if (rc == 0)$/    if (rc == 0 \&\& 0)/' \
    hang queue.blocking no "push wakes the sleeping consumers before its item is in the queue (and not after), so a consumer that re-checks in between sleeps with the item there: a lost wake-up, reported as a hang"
$m queue-pop-waits-for-pusher lib/queue.c 's/^            if (x == NULL) \/\* one of this exchange and the push.s cell CAS wins \*\/$/            while (x == NULL) x = atomic_load_explicit(\&h->cells[i], memory_order_seq_cst); if (0)/' \
    hang queue.stall no "a pop whose cell is still empty waits for its pusher instead of marking the cell taken: a pusher paused between its reservation and its write stops every pop that reaches its cell (the queue is no longer lock-free)"
$m bqueue-deq-waits-for-enqueuer lib/bqueue.c 's/^        uint64_t next;$/        if (ecycle < hcycle \&\& idx == cask__scq_bot(q) \&\& (atomic_load_explicit(\&r->tail, memory_order_seq_cst) \& ~CASK__BQ_CLOSED) > h) { e = atomic_load_explicit(slot, memory_order_seq_cst); continue; } uint64_t next;/' \
    hang queue.bounded_stall no "a ring dequeue whose entry an enqueuer has claimed but not filled waits for it instead of marking the entry and moving on: an enqueuer paused between its FAA and its CAS stops every pop behind it (the bounded queue is no longer lock-free)"
$m bqueue-relaxed-publish lib/bqueue.c '/atomic_compare_exchange_strong_explicit(slot, &e, fresh,$/{n;s/memory_order_seq_cst,/memory_order_relaxed,/;n;s/memory_order_seq_cst)/memory_order_relaxed)/;}' \
    tsan queue.bounded_pairs,queue.bounded_split no "the bounded queue's ring entry that publishes an index is written with a relaxed CAS, so the consumer's read of the item slot is not ordered after the producer's write"
$m bqueue-close-loses-item lib/bqueue.c 's/^        i = cask__scq_drain(q, &q->aq, end);.*$/        i = -1; (void)cask__scq_drain;/' \
    invariant queue.bounded_close no "a pop after close says CASK_ECLOSED as soon as the ring looks empty, without settling the positions claimed before the close: a push that claimed one and writes its entry late is accepted, and nobody pops its item"
$m bqueue-pop-waits-for-closed-at lib/bqueue.c 's/^            if ((t \& CASK__BQ_CLOSED) == 0)$/            if ((t \& CASK__BQ_CLOSED) == 0 || 1)/' \
    invariant queue.bounded_close no "a pop after close trusts only closed_at, which the close that set the bit stores last: while that close is paused, pops say CASK_EEMPTY although a second close has already returned"
$m bqueue-wake-before-visible lib/bqueue.c '/^static int cask__bq_push_once/,/^}/{s/^    if (cask__scq_enqueue(q, &q->aq, (uint64_t)i) != 0) {$/    cask__ec_notify(\&q->not_empty);\n&/;s/^    cask__ec_notify(&q->not_empty);$/    (void)0;/;}' \
    hang queue.bounded_blocking no "bounded push wakes sleeping pops before its item is in the ring (and not after): a pop that re-checks in between sleeps with the item there, a lost wake-up"
$m bqueue-pop-wakes-before-room lib/bqueue.c '/^static int cask__bq_pop_once/,/^}/{s/^    cask__scq_enqueue(q, &q->fq, (uint64_t)i);$/    cask__ec_notify(\&q->not_full);\n    cask__scq_enqueue(q, \&q->fq, (uint64_t)i);/;s/^    cask__ec_notify(&q->not_full);$/    (void)0;/;}' \
    hang queue.bounded_blocking no "bounded pop wakes sleeping pushes before it has given the slot back (and not after): a push that re-checks in between sleeps on a queue with room, a lost wake-up"
$m bqueue-try-push-ignores-full lib/bqueue.c '/^static int cask__bq_push_once/,/^}/s/^    if (i < 0) {$/    if (i < 0 \&\& (i = 0)) {/' \
    tsan queue.bounded_split no "try_push on a full bounded queue does not say CASK_EFULL but overwrites slot 0, which is still in use: an accepted item is lost and another is delivered twice"
$m map-get-no-table-revalidate lib/map.c '/^static int get_key/,/^}/s/        table \*t = cask_hp_protect(g->tab, &m->root);/        table *t = atomic_load_explicit(\&m->root, memory_order_acquire); CASK__NOISE("map.get.loaded"); cask_hp_set(g->tab, t);/' \
    tsan map.reclaim no "get announces the table in its hazard slot but never re-reads root, so it can probe a table that a resize already retired and freed"
$m map-get-no-value-revalidate lib/map.c '/^static int get_key/,/^}/s/            if (again != v) {/            if (again != v \&\& false) {/' \
    tsan map.conflict,map.cas yes "get publishes the value's box but does not re-check the slot, so it can return a value that was removed and destroyed in between"
$m map-copy-drops-key lib/map_table.c '/^static void copy_slot/,/^}/s/    if (!is_box(v))/    if (!is_box(v) || (i \& 15) == 5)/' \
    linearizability map.churn,map.resize no "a resize skips one slot in 16 when it copies the old table, so keys vanish from the map"
$m map-help-waits-for-claimer lib/map_table.c '/^static void for_all_slots/,/^}/s/^    if (atomic_load_explicit(done, memory_order_acquire) >= t->size) \(.*\)$/    while (atomic_load_explicit(done, memory_order_acquire) < t->size) CASK__NOISE("map.help.wait_for_claimer");\n    if (1) \1/' \
    hang map.stall no "a resize helper whose chunk claims ran out waits for the claimers to report their chunks done instead of sweeping the table itself: a helper paused inside a claimed chunk stops every writer (the map is no longer lock-free)"
$m map-help-no-next-revalidate lib/map_table.c '/^int cask__map_help/,/^}/s/^    if (atomic_load_explicit(&m->root, memory_order_acquire) != t) {\(.*\)$/    if (0 \&\& atomic_load_explicit(\&m->root, memory_order_acquire) != t) {\1/' \
    asan - no "a resize helper announces the new table but never checks that root is still the old one, so a late helper copies into a table that was promoted, replaced and freed meanwhile (integer-key tables are not chained)" \
    asan //tests:map_help_recheck_test
$m map-replace-shares-hazard lib/map.c '/^static int write_key/,/^}/s/^                cask_hp_set(g->cmp, (void \*)v);$/                cask_hp_set(g->val, (void *)v);/' \
    invariant - no "compare-and-replace announces the slot's current box in the hazard slot that protects expected (the caller's last get): expected can be destroyed and its address reused while compared, so a get + replace counter loses an update (ABA)" \
    asan //tests:map_replace_aba_test
$m map-relaxed-publish lib/map.c '/atomic_compare_exchange_strong_explicit(&s->val, &v, nv,$/{n;s/memory_order_acq_rel,/memory_order_relaxed,/;}' \
    tsan map.conflict,map.cas no "writes install the new value's box with a relaxed compare-and-swap, so a reader may see the box before its contents (and the user's value before its fields)"
$m map-remove-frees-now lib/map.c 's/                    cask_hp_retire(m->domain, &((box \*)v)->node, (void \*)v, box_reclaim);/                    box_reclaim((void *)v);/' \
    tsan map.conflict,map.cas no "remove and put destroy the old value at once instead of retiring it through hazard pointers, while readers may still hold it"
$m vec-freeze-no-wait lib/vec.c '/^static void cask__vec_wait_drained/,/^}/s/^    for (int spin = 0; spin < 128; spin++) {$/    return;\n    for (int spin = 0; spin < 128; spin++) {/' \
    tsan vec.freeze_race no "freeze does not wait for mutations in flight, so pushes land after the vector is frozen"
$m vec-push-done-before-store lib/vec.c '/^int cask_vec_push/,/^}/s/^    cask__vec_store(v, i, elem);$/    cask_hp_reset(slot);\n    cask__vec_store(v, i, elem);/' \
    tsan vec.freeze_race no "push clears its in-flight announcement before it stores its element, so a freeze can stop waiting for it and checksum or protect the elements while the store is still coming"
$m vec-push-announces-late lib/vec.c '/^int cask_vec_push/,/^}/{/^    atomic_store_explicit(&slot->hazard, cask__vec_mark(v), memory_order_release);/d;s/^    CASK__NOISE("vec.push.reserved");$/    CASK__NOISE("vec.push.reserved");\n    atomic_store_explicit(\&slot->hazard, cask__vec_mark(v), memory_order_release);/;}' \
    tsan vec.freeze_race no "push announces itself only after its reservation CAS, so a freeze that came just after the CAS does not wait for the element store"
$m vec-push-waits-for-previous lib/vec.c '/^int cask_vec_push/,/^}/s/^        CASK__NOISE("vec.push.reserve");$/        if (i > 0)\n            cask__vec_wait_ready(v, i - 1);\n&/' \
    hang vec.stall no "push waits until the element before its index is stored before it reserves (pushes complete in index order): a push paused between its reservation and its store stops every later push (push is no longer lock-free)"
$m vec-commit-waits-for-earlier lib/vec.c '/^static int cask__vec_commit/,/^}/s/^    while (i >= have) {$/    for (size_t j = 0; announced != NULL \&\& j < i; j++)\n        cask__vec_wait_ready(v, j);\n&/' \
    hang vec.stall no "a push that has to commit new pages first waits until every element below its index is stored: a push paused between its reservation and its store stops every push that reaches a page boundary (push is no longer lock-free)"
$m vec-thaw-shared-in-place lib/vec.c 's/if (atomic_load_explicit(&v->refs, memory_order_acquire) == 1) {/if (atomic_load_explicit(\&v->refs, memory_order_acquire) >= 1) {/' \
    tsan vec.thaw_refs no "thaw works in place even when other threads still hold references to the frozen vector"
$m vec-is-frozen-reads-state lib/vec.c '/^bool cask_vec_is_frozen/,/^}/s/^    return atomic_load_explicit(&v->view.frozen, memory_order_acquire) != NULL;\(.*\)$/    return (atomic_load_explicit(\&v->state, memory_order_acquire) \& CASK__VEC_FROZEN) != 0;\1/' \
    invariant - no "is_frozen reads the length word's FROZEN bit, not the array pointer that frozen_data reads: while a freeze is between its two publications the two calls disagree (before the fix the stores ran the other way round, and is_frozen said true while frozen_data was still NULL)" \
    asan //tests:vec_freeze_publish_test
$m vec-push-ignores-freeze lib/vec.c '/^int cask_vec_push/,/^}/{s/^        if (s & CASK__VEC_CLOSING) {$/        if (0 \&\& (s \& CASK__VEC_CLOSING)) {/;s/^    if (s & CASK__VEC_CLOSING)$/    if (0 \&\& (s \& CASK__VEC_CLOSING))/;}' \
    tsan vec.freeze_race no "push does not check whether a freeze has begun, so it can succeed after the freeze"
$m vec-set-relaxed-publish lib/vec.c '/^static void cask__vec_store/,/^}/s/(_Atomic uint64_t \*)at, x, memory_order_release)/(_Atomic uint64_t *)at, x, memory_order_relaxed)/' \
    tsan vec.growth no "elements are stored with relaxed order: a reader that gets an element replaced by set sees the pointer before the object behind it"
$m vec-unref-no-acquire lib/vec.c 's/atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel)/atomic_fetch_sub_explicit(\&v->refs, 1, memory_order_release)/' \
    tsan vec.thaw_refs no "the last unref frees the vector without acquiring the other holders' accesses (release only), so their last reads race with the free"
$m vec-get-skips-ready lib/vec.c '/^int cask__vec_get_slow/,/^}/s/^    cask__vec_wait_ready(v, i);$/    (void)0;/' \
    invariant vec.growth no "get of a mutable vector does not wait for the element's ready byte, so it can return an element whose push reserved the index but has not stored it yet"
$m vec-growth-replaces-storage lib/vec.c 's/mprotect(v->data + data_from, data_to - data_from, PROT_READ | PROT_WRITE) != 0/mmap(v->data, data_to, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED/' \
    tsan vec.growth no "growth maps fresh storage over the old instead of extending it: the elements readers are reading are thrown away without waiting for them (the reserve-and-commit form of freeing old storage without retiring it)"
$m frozen-freeze-no-protect lib/frozen.c 's/if (r->len > 0 && mprotect(r->start, r->len, PROT_READ) != 0) {/if (r->len > 0 \&\& 0) {/' \
    invariant frozen.churn no "freeze registers the region but never write-protects it, so a write after the freeze goes through silently"
$m frozen-sent-matches-region lib/frozen.c 's/^    for (size_t i = 0; i < CASK__FROZEN_MAX \&\& info->si_code > 0; i++) {$/    for (size_t i = 0; i < CASK__FROZEN_MAX; i++) {/' \
    invariant - no "the trap matches a sent SIGSEGV's si_addr (the sender's pid and uid, or queued data) against the frozen regions, so a queued signal whose data points into a region is reported as a write to frozen memory" \
    asan //tests:frozen_test
