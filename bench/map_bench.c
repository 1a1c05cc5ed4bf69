/*
 * map_bench.c: `./cask bench map`: cask's map side by side with liburcu's rculfhash (memb
 * flavour, auto-resize), Concurrency Kit's ck_hs (SPMC: one writer at a time behind a mutex, as
 * its contract demands; readers lock-free) and a chained table behind one pthread_rwlock.
 *
 * Workload: keys drawn uniformly from a 1,000,000-key range, the map pre-filled
 * with half of them; mixes "read" (100% lookup), "90/5/5" and "50/25/25" (lookup / insert-if-
 * absent / remove), which keep it about half full; integer keys and 16-byte string keys; 1, 2
 * and 8 threads (--threads). Bench names: map.<keys>.<mix>, e.g. map.str16.90/5/5.
 * Before the rows, one line per implementation and key type gives the bytes per entry after
 * the pre-fill, measured as the growth of malloc's in-use bytes (mallinfo2) divided by the
 * number of keys: tables, nodes, key copies and allocator headers included.
 *
 * Fairness notes. Values are pointer-sized tokens (no destructor) everywhere. rculfhash frees
 * removed nodes with call_rcu; cask retires them through hazard pointers; ck_hs has no
 * reclamation of its own, so removed objects and replaced arrays are kept on a list and freed
 * at teardown (this flatters ck_hs: it pays no reclamation at all). rculfhash starts with 2^20
 * buckets (as in /work/shared/ENV-NOTES.md); cask and ck_hs start small and grow.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ck_hs.h>
#include <urcu.h>
#include <urcu/rculfhash.h>

#include "bench/bench.h"
#include "cask/cask.h"

#define RANGE 1000000u
#define MAX_T 256

typedef struct impl impl;
struct impl {
    const char *name;
    void *(*create)(bool str);
    void (*destroy)(void *h);
    void (*thread_init)(void *h, unsigned index);
    void (*thread_fini)(void *h, unsigned index);
    bool (*get)(void *h, unsigned index, uint64_t k);
    void (*insert)(void *h, unsigned index, uint64_t k);
    void (*remove)(void *h, unsigned index, uint64_t k);
    void (*settle)(void *h); /* reclaim what the pre-fill left pending, before measuring memory */
};

static bool str_keys;

static void key16(uint64_t k, unsigned char *b)
{
    memcpy(b, "key:", 4);
    memcpy(b + 4, &k, 8);
    memcpy(b + 12, "/end", 4);
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    return x;
}

static uint64_t hkey(uint64_t k)
{
    if (!str_keys)
        return mix(k);
    unsigned char b[16];
    key16(k, b);
    uint64_t a, c;
    memcpy(&a, b, 8);
    memcpy(&c, b + 8, 8);
    return mix(a * 31 + c); /* what any 16-byte hash costs, roughly */
}

/* ---- cask ---- */

static cask_map_guard *cask_guards[MAX_T];
static cask_map_guard *cask_main_guard;

static void *cask_create(bool str)
{
    cask_map *m;
    cask_map_options o = {.key_kind = str ? CASK_MAP_KEY_BYTES : CASK_MAP_KEY_U64};
    if (cask_map_create(&m, &o) != 0)
        abort();
    cask_map_guard_acquire(m, &cask_main_guard);
    return m;
}

static void cask_settle(void *h)
{
    cask_map_drain(h); /* tables left by the pre-fill's resizes */
}

static void cask_destroy(void *h)
{
    cask_map_guard_release(cask_main_guard);
    cask_map_destroy(h);
}

static void cask_tinit(void *h, unsigned i)
{
    if (i == UINT32_MAX)
        return;
    cask_map_guard_acquire(h, &cask_guards[i]);
}

static void cask_tfini(void *h, unsigned i)
{
    (void)h;
    if (i != UINT32_MAX)
        cask_map_guard_release(cask_guards[i]);
}

static cask_map_guard *cg(unsigned i)
{
    return i == UINT32_MAX ? cask_main_guard : cask_guards[i];
}

static bool cask_get(void *h, unsigned i, uint64_t k)
{
    void *v;
    if (!str_keys)
        return cask_map_get_u64(h, cg(i), k, &v) == 0;
    unsigned char b[16];
    key16(k, b);
    return cask_map_get(h, cg(i), b, 16, &v) == 0;
}

static void cask_insert(void *h, unsigned i, uint64_t k)
{
    void *v = (void *)(uintptr_t)(k * 2 + 2);
    if (!str_keys) {
        cask_map_insert_u64(h, cg(i), k, v);
        return;
    }
    unsigned char b[16];
    key16(k, b);
    cask_map_insert(h, cg(i), b, 16, v);
}

static void cask_remove(void *h, unsigned i, uint64_t k)
{
    if (!str_keys) {
        cask_map_remove_u64(h, cg(i), k);
        return;
    }
    unsigned char b[16];
    key16(k, b);
    cask_map_remove(h, cg(i), b, 16);
}

/* ---- liburcu rculfhash ---- */

typedef struct unode {
    struct cds_lfht_node node;
    uint64_t key;
    unsigned char skey[16];
    void *value;
    struct rcu_head rh;
} unode;

static int urcu_match(struct cds_lfht_node *n, const void *key)
{
    const unode *u = caa_container_of(n, unode, node);
    if (!str_keys)
        return u->key == *(const uint64_t *)key;
    return memcmp(u->skey, key, 16) == 0;
}

static void *urcu_create(bool str)
{
    (void)str;
    rcu_register_thread();
    return cds_lfht_new(1u << 20, 1u << 20, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
}

static void urcu_free_node(struct rcu_head *rh)
{
    free(caa_container_of(rh, unode, rh));
}

static void urcu_settle(void *h)
{
    (void)h;
    rcu_barrier(); /* pending call_rcu frees (none after a pure pre-fill) */
}

static void urcu_destroy(void *h)
{
    struct cds_lfht_iter it;
    struct cds_lfht_node *n;
    rcu_read_lock();
    cds_lfht_for_each(h, &it, n)
    {
        if (cds_lfht_del(h, n) == 0)
            call_rcu(&caa_container_of(n, unode, node)->rh, urcu_free_node);
    }
    rcu_read_unlock();
    rcu_barrier();
    cds_lfht_destroy(h, NULL);
    rcu_unregister_thread();
}

static void urcu_tinit(void *h, unsigned i)
{
    (void)h;
    if (i != UINT32_MAX)
        rcu_register_thread();
}

static void urcu_tfini(void *h, unsigned i)
{
    (void)h;
    if (i != UINT32_MAX)
        rcu_unregister_thread();
}

static bool urcu_get(void *h, unsigned i, uint64_t k)
{
    (void)i;
    unsigned char b[16];
    const void *key = &k;
    if (str_keys)
        key16(k, b), key = b;
    struct cds_lfht_iter it;
    rcu_read_lock();
    cds_lfht_lookup(h, hkey(k), urcu_match, key, &it);
    struct cds_lfht_node *n = cds_lfht_iter_get_node(&it);
    volatile void *v = n != NULL ? caa_container_of(n, unode, node)->value : NULL; /* use it */
    rcu_read_unlock();
    return v != NULL;
}

static void urcu_insert(void *h, unsigned i, uint64_t k)
{
    (void)i;
    unode *u = malloc(sizeof(*u));
    u->key = k;
    key16(k, u->skey);
    u->value = (void *)(uintptr_t)(k * 2 + 2);
    cds_lfht_node_init(&u->node);
    rcu_read_lock();
    struct cds_lfht_node *r =
        cds_lfht_add_unique(h, hkey(k), urcu_match, str_keys ? (void *)u->skey : (void *)&u->key,
                            &u->node);
    rcu_read_unlock();
    if (r != &u->node)
        free(u);
}

static void urcu_remove(void *h, unsigned i, uint64_t k)
{
    (void)i;
    unsigned char b[16];
    const void *key = &k;
    if (str_keys)
        key16(k, b), key = b;
    struct cds_lfht_iter it;
    rcu_read_lock();
    cds_lfht_lookup(h, hkey(k), urcu_match, key, &it);
    struct cds_lfht_node *n = cds_lfht_iter_get_node(&it);
    if (n != NULL && cds_lfht_del(h, n) == 0)
        call_rcu(&caa_container_of(n, unode, node)->rh, urcu_free_node);
    rcu_read_unlock();
}

/* ---- Concurrency Kit ck_hs (SPMC: writers serialised by a mutex) ---- */

typedef struct cknode {
    uint64_t key;
    unsigned char skey[16];
    void *value;
    struct cknode *garbage; /* removed: freed at teardown (ck_hs has no reclamation) */
} cknode;

typedef struct {
    ck_hs_t hs;
    pthread_mutex_t lock;
    cknode *garbage;
} ckmap;

static unsigned long ck_hash(const void *o, unsigned long seed)
{
    (void)seed;
    return (unsigned long)hkey(((const cknode *)o)->key);
}

static bool ck_cmp(const void *a, const void *b)
{
    const cknode *x = a, *y = b;
    return str_keys ? memcmp(x->skey, y->skey, 16) == 0 : x->key == y->key;
}

static void *ck_malloc_fn(size_t n)
{
    return malloc(n);
}

static void ck_free_fn(void *p, size_t n, bool defer)
{
    (void)n;
    if (!defer) {
        free(p);
        return;
    }
    /* A replaced array that readers may still use: keep it until teardown (no SMR). */
    cknode *g = malloc(sizeof(*g));
    g->value = p;
    g->key = UINT64_MAX;
    static pthread_mutex_t l = PTHREAD_MUTEX_INITIALIZER;
    static cknode *arrays;
    pthread_mutex_lock(&l);
    g->garbage = arrays, arrays = g;
    pthread_mutex_unlock(&l);
}

static struct ck_malloc ck_allocator = {.malloc = ck_malloc_fn, .free = ck_free_fn};

static void *ck_create(bool str)
{
    (void)str;
    ckmap *m = calloc(1, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
    if (!ck_hs_init(&m->hs, CK_HS_MODE_SPMC | CK_HS_MODE_OBJECT, ck_hash, ck_cmp, &ck_allocator,
                    1024, 6602834))
        abort();
    return m;
}

static void ck_destroy(void *h)
{
    ckmap *m = h;
    ck_hs_iterator_t it = CK_HS_ITERATOR_INITIALIZER;
    void *o;
    while (ck_hs_next(&m->hs, &it, &o))
        free(o);
    ck_hs_destroy(&m->hs);
    while (m->garbage != NULL) {
        cknode *g = m->garbage;
        m->garbage = g->garbage;
        free(g);
    }
    free(m);
}

static void noop_t(void *h, unsigned i)
{
    (void)h, (void)i;
}

static void noop_settle(void *h)
{
    (void)h;
}

static bool ck_get(void *h, unsigned i, uint64_t k)
{
    (void)i;
    ckmap *m = h;
    cknode probe;
    probe.key = k;
    if (str_keys)
        key16(k, probe.skey);
    cknode *n = ck_hs_get(&m->hs, CK_HS_HASH(&m->hs, ck_hash, &probe), &probe);
    volatile void *v = n != NULL ? n->value : NULL;
    return v != NULL;
}

static void ck_insert(void *h, unsigned i, uint64_t k)
{
    (void)i;
    ckmap *m = h;
    cknode *n = malloc(sizeof(*n));
    n->key = k;
    key16(k, n->skey);
    n->value = (void *)(uintptr_t)(k * 2 + 2);
    pthread_mutex_lock(&m->lock);
    bool ok = ck_hs_put(&m->hs, CK_HS_HASH(&m->hs, ck_hash, n), n);
    pthread_mutex_unlock(&m->lock);
    if (!ok)
        free(n);
}

static void ck_remove(void *h, unsigned i, uint64_t k)
{
    (void)i;
    ckmap *m = h;
    cknode probe;
    probe.key = k;
    if (str_keys)
        key16(k, probe.skey);
    pthread_mutex_lock(&m->lock);
    cknode *n = ck_hs_remove(&m->hs, CK_HS_HASH(&m->hs, ck_hash, &probe), &probe);
    if (n != NULL)
        n->garbage = m->garbage, m->garbage = n;
    pthread_mutex_unlock(&m->lock);
}

/* ---- pthread rwlock + chained table (fixed 2^20 buckets) ---- */

typedef struct rwnode {
    struct rwnode *next;
    uint64_t key;
    unsigned char skey[16];
    void *value;
} rwnode;

typedef struct {
    pthread_rwlock_t lock;
    rwnode **b;
} rwmap;

#define RW_BUCKETS (1u << 20)

static void *rw_create(bool str)
{
    (void)str;
    rwmap *m = calloc(1, sizeof(*m));
    pthread_rwlock_init(&m->lock, NULL);
    m->b = calloc(RW_BUCKETS, sizeof(rwnode *));
    return m;
}

static void rw_destroy(void *h)
{
    rwmap *m = h;
    for (size_t i = 0; i < RW_BUCKETS; i++)
        for (rwnode *n = m->b[i], *nx; n != NULL; n = nx)
            nx = n->next, free(n);
    free(m->b);
    free(m);
}

static rwnode **rw_find(rwmap *m, uint64_t k, const unsigned char *s)
{
    rwnode **p = &m->b[hkey(k) & (RW_BUCKETS - 1)];
    for (; *p != NULL; p = &(*p)->next)
        if (str_keys ? memcmp((*p)->skey, s, 16) == 0 : (*p)->key == k)
            break;
    return p;
}

static bool rw_get(void *h, unsigned i, uint64_t k)
{
    (void)i;
    rwmap *m = h;
    unsigned char s[16];
    key16(k, s);
    pthread_rwlock_rdlock(&m->lock);
    rwnode *n = *rw_find(m, k, s);
    volatile void *v = n != NULL ? n->value : NULL;
    pthread_rwlock_unlock(&m->lock);
    return v != NULL;
}

static void rw_insert(void *h, unsigned i, uint64_t k)
{
    (void)i;
    rwmap *m = h;
    rwnode *n = malloc(sizeof(*n));
    n->key = k;
    key16(k, n->skey);
    n->value = (void *)(uintptr_t)(k * 2 + 2);
    n->next = NULL;
    pthread_rwlock_wrlock(&m->lock);
    rwnode **p = rw_find(m, k, n->skey);
    if (*p == NULL)
        *p = n, n = NULL;
    pthread_rwlock_unlock(&m->lock);
    free(n);
}

static void rw_remove(void *h, unsigned i, uint64_t k)
{
    (void)i;
    rwmap *m = h;
    unsigned char s[16];
    key16(k, s);
    pthread_rwlock_wrlock(&m->lock);
    rwnode **p = rw_find(m, k, s), *n = *p;
    if (n != NULL)
        *p = n->next;
    pthread_rwlock_unlock(&m->lock);
    free(n);
}

static const impl impls[] = {
    {"cask", cask_create, cask_destroy, cask_tinit, cask_tfini, cask_get, cask_insert,
     cask_remove, cask_settle},
    {"rculfhash", urcu_create, urcu_destroy, urcu_tinit, urcu_tfini, urcu_get, urcu_insert,
     urcu_remove, urcu_settle},
    {"ck_hs", ck_create, ck_destroy, noop_t, noop_t, ck_get, ck_insert, ck_remove, noop_settle},
    {"rwlock", rw_create, rw_destroy, noop_t, noop_t, rw_get, rw_insert, rw_remove, noop_settle},
};

/* ---- The workload ---- */

typedef struct {
    const impl *im;
    void *h;
    unsigned lookup_pct, insert_pct; /* the rest removes */
    uint64_t seeds[MAX_T];
} wctx;

static int w_setup(void *p, unsigned i)
{
    wctx *c = p;
    c->im->thread_init(c->h, i);
    return 0;
}

static void w_teardown(void *p, unsigned i)
{
    wctx *c = p;
    c->im->thread_fini(c->h, i);
}

static void w_run(void *p, unsigned i, uint64_t ops)
{
    wctx *c = p;
    uint64_t s = c->seeds[i] | 1;
    uint64_t hits = 0;
    for (uint64_t n = 0; n < ops; n++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        uint64_t k = (s >> 16) % RANGE;
        unsigned r = (unsigned)(s & 127) * 100 / 128;
        if (r < c->lookup_pct)
            hits += c->im->get(c->h, i, k);
        else if (r < c->lookup_pct + c->insert_pct)
            c->im->insert(c->h, i, k);
        else
            c->im->remove(c->h, i, k);
    }
    c->seeds[i] = s;
    if (hits == UINT64_MAX)
        printf("%llu\n", (unsigned long long)hits);
}

int main(int argc, char **argv)
{
    cask_bench_options opt;
    int rc = cask_bench_parse_args(argc, argv, "1,2,8",
                                   "cask map vs rculfhash, ck_hs (mutex writer), rwlock table",
                                   &opt);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    cask_bench_results res = {0};
    static const struct {
        const char *name;
        unsigned lookup, insert;
    } mixes[] = {{"read", 100, 0}, {"90/5/5", 90, 5}, {"50/25/25", 50, 25}};
    for (int str = 0; str < 2; str++) {
        str_keys = str;
        for (size_t ii = 0; ii < sizeof(impls) / sizeof(impls[0]); ii++) {
            const impl *im = &impls[ii];
            bool any = false;
            for (size_t mi = 0; mi < 3; mi++) {
                char bench[64];
                snprintf(bench, sizeof(bench), "map.%s.%s", str ? "str16" : "u64", mixes[mi].name);
                any |= cask_bench_selected(&opt, bench, im->name);
            }
            if (!any)
                continue;
            struct mallinfo2 before = mallinfo2();
            wctx *c = calloc(1, sizeof(*c));
            c->im = im;
            c->h = im->create(str);
            uint64_t filled = 0;
            for (uint64_t k = 0; k < RANGE; k++)
                if (mix(k ^ 0x5bd1e995) & 1)
                    im->insert(c->h, UINT32_MAX, k), filled++;
            im->settle(c->h);
            struct mallinfo2 after = mallinfo2();
            fprintf(stdout, "memory %-6s %-10s %llu keys: %.1f bytes/entry\n",
                    str ? "str16" : "u64", im->name, (unsigned long long)filled,
                    (double)(after.uordblks + after.hblkhd - before.uordblks - before.hblkhd) /
                        (double)filled);
            fflush(stdout);
            for (unsigned t = 0; t < MAX_T; t++)
                c->seeds[t] = mix(t + 1 + 1000 * (uint64_t)str);
            cask_bench_worker w = {w_setup, w_run, w_teardown};
            for (size_t mi = 0; mi < 3; mi++) {
                char bench[64];
                snprintf(bench, sizeof(bench), "map.%s.%s", str ? "str16" : "u64", mixes[mi].name);
                if (!cask_bench_selected(&opt, bench, im->name))
                    continue;
                c->lookup_pct = mixes[mi].lookup;
                c->insert_pct = mixes[mi].insert;
                for (size_t ti = 0; ti < opt.thread_count; ti++)
                    if (cask_bench_measure(&opt, &res, bench, im->name, opt.threads[ti], &w, c,
                                           400000) != 0)
                        fprintf(stderr, "%s %s: measurement failed\n", bench, im->name);
            }
            im->destroy(c->h);
            free(c);
        }
    }
    cask_bench_results_print(&res, "cask", stdout);
    if (opt.json_path != NULL)
        cask_bench_results_write_json(&res, opt.json_path);
    cask_bench_results_free(&res);
    return 0;
}
