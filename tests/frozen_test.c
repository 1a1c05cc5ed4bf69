/*
 * frozen_test.c: frozen memory. A frozen region reads like any memory and cannot be frozen
 * twice; thaw makes it writable again; and a write after the freeze is loud: in checked builds
 * it traps at once with a report naming the region, the freeze site and the faulting address;
 * in unchecked builds (this file is also built against //:cask_unchecked) the checksum check
 * aborts with "modified after freeze". A fault that is not a frozen write still crashes the
 * ordinary way, or goes to the handler the program had installed before, even while other
 * threads freeze and free regions. A pointer that is not a region is rejected without reading
 * the memory around it.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cask/cask.h"
#include "cask/frozen.h"
#include "cask/vec.h"
#include "expect.h"

typedef struct {
    int version;
    char motd[64];
    long limits[100];
} config;

static int freeze_line; /* the line of the freeze call the report must name */

static config *make_frozen_config(void)
{
    void *p;
    EXPECT_EQ(cask_frozen_alloc(sizeof(config), "server config", &p), 0);
    config *c = p;
    c->version = 7;
    strcpy(c->motd, "hello");
    for (int i = 0; i < 100; i++)
        c->limits[i] = i * 10;
    freeze_line = __LINE__ + 1;
    EXPECT_EQ(cask_frozen_freeze(c), 0);
    return c;
}

/* How the stale write is made. An atomic store or RMW must be as loud as a plain store: under
 * ThreadSanitizer those fault inside TSan's runtime while it holds a lock (lib/frozen.c). */
typedef enum { WRITE_PLAIN, WRITE_ATOMIC_RELEASE, WRITE_ATOMIC_RMW, WRITE_KINDS } write_kind;
static const char *const write_kind_names[WRITE_KINDS] = {"plain store", "atomic release store",
                                                          "atomic seq_cst fetch-add"};

/* Writes v to *p the way `how` says (RMW: adds v). The atomic accesses pair with nothing: they
 * must fault. */
static void write_as(write_kind how, volatile long *p, long v)
{
    if (how == WRITE_PLAIN)
        *p = v; /* volatile: the write must happen */
    else if (how == WRITE_ATOMIC_RELEASE)
        atomic_store_explicit((volatile _Atomic long *)p, v, memory_order_release); /* release: pairs with nothing, it must fault */
    else
        atomic_fetch_add_explicit((volatile _Atomic long *)p, v, memory_order_seq_cst); /* seq_cst: pairs with nothing, it must fault */
}

static void write_after_freeze(void *arg)
{
    write_kind how = *(const write_kind *)arg;
    config *c = make_frozen_config();
    long *stale = &c->limits[42]; /* a pointer kept from before the freeze */
    write_as(how, stale, -1); /* checked builds die here */
    cask_frozen_verify(c);    /* unchecked builds die here */
}

/* Changes that leave the sum of a weak checksum alone (a multiply-xor hash carries a flip of
 * bit 63 only to bit 63, so two cancel): the sign of two longs or doubles, two words swapped. */
typedef enum { MODIFY_TWO_SIGNS, MODIFY_SWAP, MODIFY_KINDS } modify_kind;
static const char *const modify_kind_names[MODIFY_KINDS] = {"two sign bits flipped",
                                                            "two words swapped"};

static void modify_after_freeze(void *arg)
{
    modify_kind how = *(const modify_kind *)arg;
    config *c = make_frozen_config();
    volatile long *a = &c->limits[10], *b = &c->limits[77]; /* kept from before the freeze */
    if (how == MODIFY_TWO_SIGNS) {
        *a = (long)((unsigned long)*a ^ ((unsigned long)1 << 63)); /* checked builds die here */
        *b = (long)((unsigned long)*b ^ ((unsigned long)1 << 63));
    } else {
        long t = *a;
        *a = *b;
        *b = t;
    }
    cask_frozen_verify(c); /* unchecked builds die here */
}

static void test_basics(void)
{
    config *c = make_frozen_config();
    EXPECT(cask_frozen_is_frozen(c));
    EXPECT_EQ(c->version, 7);
    EXPECT_EQ(c->limits[99], 990);
    EXPECT(strcmp(c->motd, "hello") == 0);
    EXPECT_EQ(cask_frozen_freeze(c), CASK_EFROZEN);
    cask_frozen_verify(c); /* untouched: passes */
    EXPECT_EQ(cask_frozen_thaw(c), 0);
    EXPECT(!cask_frozen_is_frozen(c));
    EXPECT_EQ(cask_frozen_thaw(c), CASK_EINVAL); /* not frozen */
    c->version = 8;                              /* writable again */
    EXPECT_EQ(cask_frozen_freeze(c), 0);
    EXPECT_EQ(c->version, 8);
    cask_frozen_free(c); /* frozen regions may be freed by their owner */

    void *p = NULL;
    EXPECT_EQ(cask_frozen_alloc(0, NULL, &p), CASK_EINVAL);
    EXPECT_EQ(cask_frozen_alloc(8, NULL, NULL), CASK_EINVAL);
    EXPECT(p == NULL);
    long page = sysconf(_SC_PAGESIZE);
    char *plain = aligned_alloc((size_t)page, (size_t)page * 2);
    EXPECT(plain != NULL);
    EXPECT_EQ(cask_frozen_freeze(plain + page), CASK_EINVAL); /* not a region */
    EXPECT_EQ(cask_frozen_freeze(plain + 1), CASK_EINVAL);
    free(plain);
    cask_frozen_free(NULL);
}

/* cask_frozen_is_frozen from another thread while the owner freezes and thaws (the table says
 * they may overlap): no data race (the tsan build of this test fails on one), and the last
 * answer after the owner's final thaw, handed over by the join, is false. */
static _Atomic bool stop_reader;

static void *is_frozen_reader(void *arg)
{
    long trues = 0;
    while (!atomic_load_explicit(&stop_reader, memory_order_relaxed))
        trues += cask_frozen_is_frozen(arg);
    return (void *)trues;
}

static void test_is_frozen_while_freezing(void)
{
    void *p;
    EXPECT_EQ(cask_frozen_alloc(4096, "flip-flop", &p), 0);
    pthread_t t;
    EXPECT_EQ(pthread_create(&t, NULL, is_frozen_reader, p), 0);
    for (int i = 0; i < 2000; i++) {
        EXPECT_EQ(cask_frozen_freeze(p), 0);
        EXPECT_EQ(cask_frozen_thaw(p), 0);
    }
    atomic_store_explicit(&stop_reader, true, memory_order_relaxed);
    void *trues;
    EXPECT_EQ(pthread_join(t, &trues), 0);
    EXPECT(!cask_frozen_is_frozen(p));
    cask_frozen_free(p);
}

/* Many regions frozen at once, each still trapping its own writes (registry reuse). */
static void test_many_regions(void)
{
    enum { N = 300 };
    void *r[N];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            EXPECT_EQ(cask_frozen_alloc(100, "many", &r[i]), 0);
            ((int *)r[i])[0] = i;
            EXPECT_EQ(cask_frozen_freeze(r[i]), 0);
        }
        for (int i = 0; i < N; i++) {
            EXPECT_EQ(((int *)r[i])[0], i);
            cask_frozen_free(r[i]);
        }
    }
}

static void write_to_read_only(void *arg)
{
    write_kind how = *(const write_kind *)arg;
    config *c = make_frozen_config(); /* installs the trap's handler in checked builds */
    (void)c;
    /* a page the program itself made read-only: the same kind of fault, but not frozen memory */
    long page = sysconf(_SC_PAGESIZE);
    volatile long *other = mmap(NULL, (size_t)page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT(other != MAP_FAILED);
    write_as(how, other, 1); /* an atomic store faults inside TSan's runtime under TSan */
}

static const char reexec_flag[] = "--atomic-write-to-read-only";

/* The atomic case again in a fresh process whose TSAN_OPTIONS add handle_segv=0. */
static void reexec_without_tsan_segv_handler(void *arg)
{
    (void)arg;
    const char *old = getenv("TSAN_OPTIONS");
    char opts[1024];
    snprintf(opts, sizeof(opts), "%s%shandle_segv=0", old != NULL ? old : "",
             old != NULL && old[0] != '\0' ? ":" : "");
    setenv("TSAN_OPTIONS", opts, 1);
    execl("/proc/self/exe", "frozen_test", reexec_flag, (char *)NULL);
    _exit(127);
}

/* A fault outside frozen memory is not reported as one: the process dies the ordinary way
 * (default action, or a sanitizer's report), never with the frozen-memory report, and never
 * hangs, also when the write is an atomic store (under TSan the trap's handler used to put the
 * default action back with sigaction, an interceptor that waited for the lock TSan's faulting
 * store held; TSAN_OPTIONS=handle_segv=0 reaches that path, as TSan's default hands the fault
 * to TSan's own handler instead). */
static void test_other_faults_pass_through(void)
{
    /* The atomic store runs only with handle_segv=0: with TSan's default, TSan's own SIGSEGV
     * handler gets such a fault next, and it can hang by itself (clang-19: it unwinds through
     * pthread_getattr_np, whose realloc waits for the slot lock the faulting store holds; a
     * program without cask does the same), which is not what this test is about. */
    for (int k = 0; k < 2; k++) {
        write_kind how = k == 0 ? WRITE_PLAIN : WRITE_ATOMIC_RELEASE;
        char out[8192];
        int status = 0;
        bool ended = k == 0 ? run_child(write_to_read_only, &how, out, sizeof(out), &status)
                            : run_child(reexec_without_tsan_segv_handler, NULL, out, sizeof(out),
                                        &status);
        if (!ended)
            fprintf(stderr, "the write to a read-only page that is not frozen: %s%s\n",
                    write_kind_names[how], k == 1 ? " (TSAN_OPTIONS handle_segv=0)" : "");
        EXPECT(ended);
        EXPECT(!(WIFEXITED(status) && WEXITSTATUS(status) == 127)); /* the exec worked */
        EXPECT(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
        EXPECT(strstr(out, "frozen region") == NULL);
    }
}

/* A SIGSEGV sent by kill() (no fault behind it) still ends the process, with the trap's
 * handler installed: returning from the handler does not fault again, so blocking the signal
 * there would swallow it (and leave SIGSEGV blocked in that thread). */
static void sent_sigsegv(void *arg)
{
    (void)arg;
    make_frozen_config(); /* installs the trap's handler in checked builds */
    kill(getpid(), SIGSEGV);
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    fprintf(stderr, "survived a sent SIGSEGV%s\n",
            sigismember(&now, SIGSEGV) ? "; SIGSEGV is now blocked" : "");
    _exit(0);
}

/* The same, queued with a data word that points into a frozen region (where a fault's address
 * would be): a sent signal has no faulting address, so it must not be reported as a write. */
static void sent_sigsegv_pointing_into_region(void *arg)
{
    (void)arg;
    config *c = make_frozen_config();
    siginfo_t info;
    memset(&info, 0, sizeof(info));
    info.si_signo = SIGSEGV;
    info.si_code = SI_QUEUE;
    info.si_addr = (char *)c + 8; /* the first word of the sender fields, as the handler reads it */
    syscall(SYS_rt_sigqueueinfo, getpid(), SIGSEGV, &info);
    fprintf(stderr, "survived a queued SIGSEGV\n");
    _exit(0);
}

static void test_sent_sigsegv_kills(void)
{
    void (*const senders[])(void *) = {sent_sigsegv, sent_sigsegv_pointing_into_region};
    for (size_t i = 0; i < sizeof(senders) / sizeof(senders[0]); i++) {
        char out[8192];
        int status = 0;
        EXPECT(run_child(senders[i], NULL, out, sizeof(out), &status));
        if ((WIFEXITED(status) && WEXITSTATUS(status) == 0) || strstr(out, "frozen region"))
            fprintf(stderr, "%s", out);
        EXPECT(!(WIFEXITED(status) && WEXITSTATUS(status) == 0)); /* died (sanitizers: report) */
        EXPECT(strstr(out, "frozen region") == NULL);
    }
}

/* A page-aligned pointer whose previous page is not mapped is rejected, not read around; so is
 * a frozen vector's array (frozen storage, but not a region). */
static void test_not_a_region(void)
{
    long page = sysconf(_SC_PAGESIZE);
    char *two = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    EXPECT(two != MAP_FAILED);
    EXPECT_EQ(munmap(two, (size_t)page), 0);
    EXPECT_EQ(cask_frozen_freeze(two + page), CASK_EINVAL);
    EXPECT_EQ(cask_frozen_thaw(two + page), CASK_EINVAL);
    EXPECT_EQ(munmap(two + page, (size_t)page), 0);

    cask_vec *v;
    EXPECT_EQ(cask_vec_create(8, 0, "not a region", &v), 0);
    uint64_t x = 1;
    EXPECT_EQ(cask_vec_push(v, &x, NULL), 0);
    EXPECT_EQ(cask_vec_freeze(v), 0);
    void *data = (void *)cask_vec_frozen_data(v);
    EXPECT_EQ(cask_frozen_thaw(data), CASK_EINVAL);
    EXPECT_EQ(cask_frozen_freeze(data), CASK_EINVAL);
    cask_vec_unref(v);
}

/* ---- the program's own SIGSEGV handler keeps working, and the trap with it ---- */

static sigjmp_buf recover_point;
static _Atomic int churn_stop;

static void program_handler(int sig)
{
    (void)sig;
    siglongjmp(recover_point, 1);
}

/* Freezes and frees regions as fast as it can: the handler must never read a range that is
 * being unmapped. */
static void *churn(void *arg)
{
    (void)arg;
    /* Relaxed: a stop flag; the join orders everything else. */
    while (!atomic_load_explicit(&churn_stop, memory_order_relaxed)) {
        void *r;
        EXPECT_EQ(cask_frozen_alloc(100, "churn", &r), 0);
        EXPECT_EQ(cask_frozen_freeze(r), 0);
        cask_frozen_free(r);
    }
    return NULL;
}

static void faults_pass_to_program_handler(void *arg)
{
    (void)arg;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = program_handler;
    sigemptyset(&sa.sa_mask);
    EXPECT_EQ(sigaction(SIGSEGV, &sa, NULL), 0);
    config *c = make_frozen_config(); /* installs the trap's handler, after the program's */
    long page = sysconf(_SC_PAGESIZE);
    volatile int *ro = mmap(NULL, (size_t)page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT(ro != MAP_FAILED);
    static pthread_t t;
    EXPECT_EQ(pthread_create(&t, NULL, churn, NULL), 0);
    volatile int recovered = 0;
    for (volatile int i = 0; i < 40; i++) {
        if (sigsetjmp(recover_point, 1) == 0)
            *ro = 1; /* not frozen memory: the program's handler recovers */
        else
            recovered++;
    }
    atomic_store_explicit(&churn_stop, 1, memory_order_relaxed);
    EXPECT_EQ(pthread_join(t, NULL), 0);
    EXPECT_EQ(recovered, 40);
    c->limits[3] = 0; /* frozen memory: still trapped and reported */
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], reexec_flag) == 0) {
        write_kind how = WRITE_ATOMIC_RELEASE;
        write_to_read_only(&how);
        return 0; /* survived: the parent reports it */
    }
    char line[32];
    /* First, before anything is frozen in this process: the program's handler must be
     * installed before the trap's (a handler installed after cask's replaces it). */
    if (cask_frozen_traps_writes()) {
        const char *const needles[] = {"frozen region \"server config\"", "frozen_test.c:",
                                       "write to frozen memory", "offset 96", NULL};
        EXPECT(expect_death(faults_pass_to_program_handler, NULL, needles));
    }
    test_basics();
    test_many_regions();
    test_is_frozen_while_freezing();
    make_frozen_config(); /* sets freeze_line */
    snprintf(line, sizeof(line), "frozen_test.c:%d", freeze_line);
    char offset[32]; /* of the stale write: limits[42] */
    snprintf(offset, sizeof(offset), "offset %zu", offsetof(config, limits) + 42 * sizeof(long));
    for (write_kind how = WRITE_PLAIN; how < WRITE_KINDS; how++) {
        bool died;
        if (cask_frozen_traps_writes()) {
            const char *const needles[] = {"frozen region \"server config\"", "frozen at", line,
                                           "write to frozen memory", "address: 0x",
                                           offset, "fix:", NULL};
            died = expect_death(write_after_freeze, &how, needles);
        } else {
            const char *const needles[] = {"frozen region \"server config\"", "frozen at", line,
                                           "modified after freeze", "fix:", NULL};
            died = expect_death(write_after_freeze, &how, needles);
        }
        if (!died)
            fprintf(stderr, "the write after freeze: %s\n", write_kind_names[how]);
        EXPECT(died);
    }
    for (modify_kind how = MODIFY_TWO_SIGNS; how < MODIFY_KINDS; how++) {
        const char *const trapped[] = {"frozen region \"server config\"", line,
                                       "write to frozen memory", NULL};
        const char *const summed[] = {"frozen region \"server config\"", line,
                                      "modified after freeze", NULL};
        bool died = expect_death(modify_after_freeze, &how,
                                 cask_frozen_traps_writes() ? trapped : summed);
        if (!died)
            fprintf(stderr, "the modification after freeze: %s\n", modify_kind_names[how]);
        EXPECT(died);
    }
    test_other_faults_pass_through();
    test_sent_sigsegv_kills();
    test_not_a_region();
    return 0;
}
