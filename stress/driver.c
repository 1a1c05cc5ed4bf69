/*
 * driver.c: the stress driver behind cask_stress_main: options, runs, progress, report, replay.
 *
 * Each (scenario, thread count) pair is one run. A run's seed is derived from the base seed
 * (--seed, or the clock), the scenario's name and the thread count, so `--seed=S --only=NAME
 * --threads=T` replays exactly that run: the same per-thread random streams and, with
 * --noise=pct, the same schedule.
 *
 * The driver's bookkeeping (op counts, stop flags, violation counts) uses relaxed atomics and
 * thread-local counters only, so it creates no happens-before edge between workers that could
 * hide a race in the structure under test from ThreadSanitizer. The one thread the driver adds,
 * the progress printer, only reads those counters.
 *
 * Under ThreadSanitizer, the runtime calls __tsan_on_report for every report; the driver counts
 * them per run (run it with TSAN_OPTIONS=halt_on_error=0 to see all runs; with halt_on_error=1
 * the first report ends the process and its replay line is printed from the death callback).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stress/internal.h"

#define MAX_THREAD_COUNTS 8

struct cask_stress_run {
    const cask_stress_scenario *scenario;
    int threads;
    uint64_t base_seed, seed;
    uint64_t ops_budget; /* per thread; 0 = none */
    uint64_t deadline_ns; /* 0 = none */
    _Atomic uint64_t ops, checked, undecided, violations, tsan_reports;
    _Atomic bool stop;
    _Atomic bool finished; /* the progress printer's cue */
    uint64_t start_ns, end_ns;
    uint64_t pct_steps, pct_steals; /* --noise=pct: scheduled steps and steals */
    uint64_t generation; /* calls of cask_stress_run_threads so far (main thread only) */
    char replay[1024];   /* the command that replays this run, made before it starts */
    char died_in[1200];  /* " in NAME (threads=T)\n  replay: ...\n", for on_fatal_signal */
};

typedef struct {
    const char *only;
    int thread_counts[MAX_THREAD_COUNTS];
    int n_thread_counts;
    double seconds; /* per run; < 0 = default */
    uint64_t ops;   /* per thread; 0 = time-bounded */
    uint64_t seed;
    bool seed_given;
    cask_noise_mode noise;
    const char *noise_spec;
    bool quiet;
    const char *program; /* how to run this program again: "./cask stress" for cask's own */
} options;

static const char *const noise_names[] = {"off", "random", "pct"};

static _Atomic uint64_t tsan_reports_total;
/* PCT step of the first report: the reporting thread's own last step. (The global count is not
 * stable: while TSan symbolizes and prints, waiting threads may steal the turn and step on.) */
static _Atomic uint64_t first_report_step;
static cask_stress_run *_Atomic current_run; /* for the death callback; relaxed */
static options opts;

static _Thread_local uint64_t thread_ops;
static _Thread_local bool is_worker; /* started by cask_stress_run_threads */

/* ThreadSanitizer's report hook (a weak symbol in its runtime; the name is the runtime's). */
void __tsan_on_report(const void *report);
void __tsan_on_report(const void *report)
{
    (void)report;
    if (atomic_fetch_add_explicit(&tsan_reports_total, 1, memory_order_relaxed) == 0)
        atomic_store_explicit(&first_report_step, cask_stress__pct_my_step(),
                              memory_order_relaxed);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t hash_name(const char *s)
{
    uint64_t h = UINT64_C(1469598103934665603);
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
    return h;
}

int cask_stress_threads(const cask_stress_run *run)
{
    return run->threads;
}

uint64_t cask_stress_seed(const cask_stress_run *run)
{
    return run->seed;
}

bool cask_stress_should_stop(cask_stress_run *run)
{
    if (cask_stress__noise_mode() == CASK_NOISE_PCT)
        cask_noise_point("stress.should_stop"); /* the driver loop is a scheduling point too */
    if (atomic_load_explicit(&run->stop, memory_order_relaxed))
        return true;
    /* A worker spends its own budget; the main thread of a round-based scenario (which asks
     * between rounds) stops once the workers together have spent all of theirs. */
    if (run->ops_budget != 0 &&
        (is_worker ? thread_ops >= run->ops_budget
                   : atomic_load_explicit(&run->ops, memory_order_relaxed) >=
                         run->ops_budget * (uint64_t)run->threads))
        return true;
    if (run->deadline_ns != 0 && now_ns() >= run->deadline_ns) {
        atomic_store_explicit(&run->stop, true, memory_order_relaxed);
        return true;
    }
    return false;
}

void cask_stress_add_ops(cask_stress_run *run, uint64_t n)
{
    thread_ops += n;
    atomic_fetch_add_explicit(&run->ops, n, memory_order_relaxed);
}

void cask_stress_add_checked(cask_stress_run *run, uint64_t n)
{
    atomic_fetch_add_explicit(&run->checked, n, memory_order_relaxed);
}

void cask_stress_add_undecided(cask_stress_run *run, uint64_t n)
{
    atomic_fetch_add_explicit(&run->undecided, n, memory_order_relaxed);
}

/* Writes the first len bytes of line (clamped to cap - 1: snprintf returns the length it
 * wanted) to stderr; async-signal-safe. */
static void write_line(const char *line, int len, size_t cap)
{
    if (len <= 0)
        return;
    ssize_t ignored = write(STDERR_FILENO, line, (size_t)len < cap ? (size_t)len : cap - 1);
    (void)ignored;
}

/* Makes the command line that replays run, into run->replay. A line that does not fit (a very
 * long program path or scenario name) says so instead of silently losing its last options. */
static void make_replay_command(cask_stress_run *run)
{
    char budget[64];
    if (run->ops_budget != 0)
        snprintf(budget, sizeof(budget), "--ops=%" PRIu64, run->ops_budget);
    else
        snprintf(budget, sizeof(budget), "--seconds=%g", opts.seconds);
    int len = snprintf(run->replay, sizeof(run->replay),
                       "%s --only=%s --threads=%d --seed=%" PRIu64 " --noise=%s %s",
                       opts.program, run->scenario->name, run->threads, run->base_seed,
                       opts.noise_spec, budget);
    if (len < 0 || (size_t)len >= sizeof(run->replay))
        snprintf(run->replay, sizeof(run->replay),
                 "(too long to print) --threads=%d --seed=%" PRIu64 " --noise=%s %s", run->threads,
                 run->base_seed, opts.noise_spec, budget);
    snprintf(run->died_in, sizeof(run->died_in), " in %s (threads=%d)\n  replay: %s\n",
             run->scenario->name, run->threads, run->replay);
}

/* Where under PCT a failure was found: the calling worker's own last step, or, on the main
 * thread (checks after the join), the round, i.e. the number of cask_stress_run_threads calls. */
static void pct_where(const cask_stress_run *run, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (opts.noise != CASK_NOISE_PCT)
        return;
    if (is_worker)
        snprintf(buf, cap, " at pct step %" PRIu64 " of round %" PRIu64,
                 cask_stress__pct_my_step(), run->generation);
    else
        snprintf(buf, cap, " after pct round %" PRIu64, run->generation);
}

void cask_stress_fail(cask_stress_run *run, const char *fmt, ...)
{
    char msg[768], line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    uint64_t n = atomic_fetch_add_explicit(&run->violations, 1, memory_order_relaxed);
    atomic_store_explicit(&run->stop, true, memory_order_relaxed);
    if (n >= 5)
        return; /* enough said; the count is in the table */
    char step[96];
    pct_where(run, step, sizeof(step));
    int len = snprintf(line, sizeof(line), "VIOLATION in %s (threads=%d)%s: %s\n  replay: %s\n",
                       run->scenario->name, run->threads, step, msg, run->replay);
    write_line(line, len, sizeof(line));
}

/* Death callback: with halt_on_error=1 a sanitizer report ends the process; say how to replay. */
static void on_sanitizer_death(void)
{
    cask_stress_run *run = atomic_load_explicit(&current_run, memory_order_relaxed);
    if (run == NULL)
        return;
    char line[1400];
    char step[96] = "";
    if (opts.noise == CASK_NOISE_PCT) /* the same seed reaches the report at the same step */
        snprintf(step, sizeof(step), " at pct step %" PRIu64 " (%" PRIu64 " steals)",
                 atomic_load_explicit(&tsan_reports_total, memory_order_relaxed) > 0
                     ? atomic_load_explicit(&first_report_step, memory_order_relaxed)
                     : cask_stress__pct_steps(),
                 cask_stress__pct_steals());
    int len = snprintf(line, sizeof(line), "sanitizer report in %s (threads=%d)%s\n  replay: %s\n",
                       run->scenario->name, run->threads, step, run->replay);
    write_line(line, len, sizeof(line));
}

/*
 * SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL: a failure that ends the process without a sanitizer
 * report (abort() from a checked-build misuse report, the frozen-memory trap or an assert; a
 * crash in a build without sanitizers) prints the run's replay line too, then dies of the same
 * signal (SA_RESETHAND put the default action back; the signal is re-raised on return for
 * faults, and raised again here for a sent or aborting one). Only write(), strlen() and raise()
 * here: the text was made when the run started.
 */
static void on_fatal_signal(int sig)
{
    cask_stress_run *run = atomic_load_explicit(&current_run, memory_order_relaxed);
    if (run != NULL) {
        static const char died[] = "died of signal ";
        char digits[3] = {(char)('0' + sig / 10 % 10), (char)('0' + sig % 10), '\0'};
        write_line(died, (int)sizeof(died) - 1, sizeof(died));
        write_line(sig >= 10 ? digits : digits + 1, sig >= 10 ? 2 : 1, sizeof(digits));
        write_line(run->died_in, (int)strlen(run->died_in), sizeof(run->died_in));
    }
    raise(sig);
}

static void install_fatal_signal_handlers(void)
{
    static const int sigs[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        struct sigaction sa, old;
        if (sigaction(sigs[i], NULL, &old) != 0 || old.sa_handler != SIG_DFL)
            continue; /* someone's handler (a sanitizer's, the program's): leave it */
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_fatal_signal;
        sa.sa_flags = SA_RESETHAND | SA_NODEFER;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
}

typedef struct {
    cask_stress_run *run;
    int index;
    uint64_t seed; /* this thread's streams (noise and cask_stress_rand) */
    void (*fn)(cask_stress_run *run, int index, void *arg);
    void *arg;
} worker;

/*
 * PCT: a worker stays under the scheduler until its thread-exit destructors have run, since
 * code under test runs there too (cask's hazard pointers scan at thread exit, through noise
 * points; left unscheduled it would run beside the scheduled threads and make the schedule
 * depend on timing). A key destructor of the driver's own hands the turn on: it re-arms itself
 * until the round before the last one (POSIX runs at most PTHREAD_DESTRUCTOR_ITERATIONS rounds;
 * ThreadSanitizer and AddressSanitizer finish the thread in the last, after which no
 * instrumented code may run on it). It hands the turn on in the third round, so destructors
 * run in the first two rounds are scheduled, whatever their keys' order. cask's own does its
 * work in the first (and finds nothing left in a second, if a reclaim function bound the default
 * domain); one of yours that re-arms itself into a third round may run unscheduled there.
 */
static pthread_key_t pct_exit_key;
static bool pct_exit_key_ok;
static _Thread_local int pct_exit_rounds;

static void pct_exit_destructor(void *index_plus_one)
{
    if (++pct_exit_rounds < PTHREAD_DESTRUCTOR_ITERATIONS - 1 &&
        pthread_setspecific(pct_exit_key, index_plus_one) == 0)
        return; /* another round may follow: stay scheduled through it */
    cask_stress__pct_thread_exit((int)((intptr_t)index_plus_one - 1));
}

static void *worker_main(void *p)
{
    worker *w = p;
    cask_stress__seed_thread(w->seed);
    thread_ops = 0;
    is_worker = true;
    bool pct = cask_stress__noise_mode() == CASK_NOISE_PCT;
    if (pct)
        cask_stress__pct_thread_start(w->index);
    w->fn(w->run, w->index, w->arg);
    if (pct && !(pct_exit_key_ok &&
                 pthread_setspecific(pct_exit_key, (void *)((intptr_t)w->index + 1)) == 0))
        cask_stress__pct_thread_exit(w->index);
    return NULL;
}

int cask_stress_run_threads(cask_stress_run *run, int threads,
                            void (*fn)(cask_stress_run *run, int index, void *arg), void *arg)
{
    if (threads < 1)
        return -2; /* CASK_EINVAL */
    worker *w = calloc((size_t)threads, sizeof(*w));
    pthread_t *t = calloc((size_t)threads, sizeof(*t));
    if (w == NULL || t == NULL) {
        free(w);
        free(t);
        return -1; /* CASK_ENOMEM */
    }
    /* Each call (a scenario's round) gets streams of its own: seeded from the run's seed and
     * the call's number, so a replay with the same seed repeats them, but round k + 1 does not
     * repeat round k's noise, random choices (where queue.stall parks its thread, say) or PCT
     * schedule. */
    uint64_t round_seed = cask_stress__mix(run->seed + run->generation++);
    bool pct = cask_stress__noise_mode() == CASK_NOISE_PCT;
    if (pct)
        cask_stress__pct_begin(threads, round_seed);
    int started = 0, rc = 0;
    for (; started < threads; started++) {
        w[started] = (worker){run, started,
                              round_seed + (uint64_t)started * UINT64_C(0x9E3779B97F4A7C15), fn,
                              arg};
        if (pthread_create(&t[started], NULL, worker_main, &w[started]) != 0) {
            rc = -1; /* CASK_ENOMEM */
            atomic_store_explicit(&run->stop, true, memory_order_relaxed);
            if (pct) /* the threads that never started must not keep the turn */
                for (int i = started; i < threads; i++)
                    cask_stress__pct_abandon(i);
            break;
        }
    }
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    if (pct) {
        run->pct_steps += cask_stress__pct_steps();
        run->pct_steals += cask_stress__pct_steals();
        cask_stress__pct_end();
    }
    free(w);
    free(t);
    return rc;
}

/* ---- the run loop ---- */

/*
 * The progress printer and watchdog. Every second it prints a progress line (unless --quiet).
 * It also declares a hang, which is a failure like any other: a time-bounded run still going
 * HANG_GRACE_S (or its own length, if longer) after its deadline, or an op-bounded run whose op
 * count has not moved for HANG_IDLE_S. A lost wake-up or a livelock then ends the program with a
 * report and a replay command instead of hanging it.
 */
#define HANG_GRACE_S 10
#define HANG_IDLE_S 60

static void report_hang(cask_stress_run *run, const char *why)
{
    char parked[300] = "", line[2048];
    const char *where = cask_stress__stall_where();
    if (where != NULL)
        snprintf(parked, sizeof(parked),
                 "\n  a thread is parked on purpose at noise point \"%s\" (stress/stall.h), "
                 "and the others could not finish without it: not lock-free there", where);
    int len = snprintf(line, sizeof(line),
                       "HANG in %s (threads=%d): %s%s\n  replay: %s\nstress: FAILED (hang)\n",
                       run->scenario->name, run->threads, why, parked, run->replay);
    write_line(line, len, sizeof(line));
    _exit(1); /* the workers are stuck: there is no clean way to join them */
}

static void *progress_main(void *p)
{
    cask_stress_run *run = p;
    uint64_t last_ops = 0, last_ns = run->start_ns, idle_since = run->start_ns;
    uint64_t grace_ns = (uint64_t)HANG_GRACE_S * 1000000000u;
    if (run->deadline_ns != 0 && run->deadline_ns - run->start_ns > grace_ns)
        grace_ns = run->deadline_ns - run->start_ns;
    for (int tick = 1;; tick++) {
        for (int i = 0; i < 10; i++) {
            struct timespec ts = {0, 100000000};
            nanosleep(&ts, NULL);
            if (atomic_load_explicit(&run->finished, memory_order_relaxed))
                return NULL;
        }
        uint64_t ops = atomic_load_explicit(&run->ops, memory_order_relaxed), t = now_ns();
        if (ops != last_ops)
            idle_since = t;
        if (run->deadline_ns != 0 && t > run->deadline_ns + grace_ns)
            report_hang(run, "still running well past its deadline (a lost wake-up, a livelock "
                             "or a deadlock)");
        if (run->deadline_ns == 0 && t - idle_since > (uint64_t)HANG_IDLE_S * 1000000000u)
            report_hang(run, "no operation completed for a minute");
        if (!opts.quiet) {
            /* The total can step back for a moment: scenarios with an --ops budget per thread
             * seed each round's new threads with their index's total and take it out again. */
            double rate = ops < last_ops ? 0.0
                                         : (double)(ops - last_ops) / ((double)(t - last_ns) / 1e9);
            fprintf(stderr, "  [%s threads=%d] %6.2f Mops/s  elapsed %4ds  violations %" PRIu64
                            "  tsan %" PRIu64 "\n",
                    run->scenario->name, run->threads, rate / 1e6, tick,
                    atomic_load_explicit(&run->violations, memory_order_relaxed),
                    atomic_load_explicit(&tsan_reports_total, memory_order_relaxed) -
                        atomic_load_explicit(&run->tsan_reports, memory_order_relaxed));
        }
        last_ops = ops;
        last_ns = t;
    }
}

/*
 * A run that checked nothing must not look clean: no operation counted at all, or more than
 * half of its checked batches with a check that could not decide (cask_stress_add_undecided:
 * a linearizability check out of budget) is a violation. Fewer undecided show in the table.
 */
static void check_run_did_something(cask_stress_run *run)
{
    if (atomic_load_explicit(&run->violations, memory_order_relaxed) != 0)
        return; /* it failed already: that is the report */
    uint64_t ops = atomic_load_explicit(&run->ops, memory_order_relaxed);
    uint64_t checked = atomic_load_explicit(&run->checked, memory_order_relaxed);
    uint64_t undecided = atomic_load_explicit(&run->undecided, memory_order_relaxed);
    if (ops == 0)
        cask_stress_fail(run, "nothing ran: the scenario counted no operation "
                              "(cask_stress_add_ops), so nothing it says was tested");
    else if (undecided * 2 > checked)
        cask_stress_fail(run, "UNDECIDED: %" PRIu64 " checks could not decide (a linearizability "
                              "check out of budget) against %" PRIu64 " batches checked: the "
                              "rounds are too long to check at this thread count; use fewer "
                              "threads", undecided, checked);
}

static void run_one(cask_stress_run *run, const cask_stress_scenario *s, int threads,
                    double seconds)
{
    memset(run, 0, sizeof(*run));
    run->scenario = s;
    run->threads = threads;
    run->base_seed = opts.seed;
    run->seed = cask_stress__mix(opts.seed ^ hash_name(s->name) ^ ((uint64_t)threads << 48));
    run->ops_budget = opts.ops;
    run->start_ns = now_ns();
    if (opts.ops == 0)
        run->deadline_ns = run->start_ns + (uint64_t)(seconds * 1e9);
    make_replay_command(run);
    /* tsan_reports holds the global count at the start; the end subtracts it */
    atomic_store_explicit(&run->tsan_reports,
                          atomic_load_explicit(&tsan_reports_total, memory_order_relaxed),
                          memory_order_relaxed);
    atomic_store_explicit(&current_run, run, memory_order_relaxed);
    cask_stress__seed_thread(run->seed ^ UINT64_C(0x6D61696E)); /* the main thread's stream */
    pthread_t progress;
    bool have_progress = pthread_create(&progress, NULL, progress_main, run) == 0;
    s->run(run);
    run->end_ns = now_ns();
    check_run_did_something(run);
    atomic_store_explicit(&run->finished, true, memory_order_relaxed);
    if (have_progress)
        pthread_join(progress, NULL);
    uint64_t reports = atomic_load_explicit(&tsan_reports_total, memory_order_relaxed) -
                       atomic_load_explicit(&run->tsan_reports, memory_order_relaxed);
    atomic_store_explicit(&run->tsan_reports, reports, memory_order_relaxed);
    if (reports > 0)
        fprintf(stderr, "TSAN REPORTS in %s (threads=%d): %" PRIu64 "\n  replay: %s\n", s->name,
                threads, reports, run->replay);
    atomic_store_explicit(&current_run, NULL, memory_order_relaxed);
}

/* ---- options ---- */

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [options]\n"
            "  --list                  list the scenarios and exit\n"
            "  --only=NAME[,NAME...]   run only these scenarios (a name ending in '.' or '*'\n"
            "                          selects a prefix: --only=hp.)\n"
            "  --threads=N[,N...]      worker thread counts (default 2,4)\n"
            "  --seconds=S             seconds per scenario and thread count (default: about\n"
            "                          120 s in total)\n"
            "  --ops=N                 operations per thread instead of a time budget\n"
            "  --seed=S                base seed (default: from the clock; printed)\n"
            "  --noise=off|random[:SPIN,YIELD,SLEEP]|pct[:DEPTH,WINDOW]\n"
            "                          schedule noise (default random:20,10,5: percent spin,\n"
            "                          percent yield, per mille sleep; pct:3,2000)\n"
            "  --quiet                 no progress lines\n"
            "exit status: 0 clean; 1 violations, sanitizer reports or a hang (a TSan build may\n"
            "exit with TSan's own code instead: 66 by default); 2 usage error; a signal's\n"
            "status (134 for SIGABRT) when the program died of one\n",
            prog);
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
        return false;
    *out = v;
    return true;
}

static bool parse_noise(const char *spec)
{
    unsigned a, b, c;
    opts.noise_spec = spec;
    if (strcmp(spec, "off") == 0) {
        cask_stress__noise_configure(CASK_NOISE_OFF, 0, 0, 0);
        opts.noise = CASK_NOISE_OFF;
    } else if (strcmp(spec, "random") == 0) {
        cask_stress__noise_configure(CASK_NOISE_RANDOM, 20, 10, 5);
        opts.noise = CASK_NOISE_RANDOM;
    } else if (sscanf(spec, "random:%u,%u,%u", &a, &b, &c) == 3 && a + b <= 100 && c <= 1000) {
        cask_stress__noise_configure(CASK_NOISE_RANDOM, a, b, c);
        opts.noise = CASK_NOISE_RANDOM;
    } else if (strcmp(spec, "pct") == 0) {
        cask_stress__noise_configure(CASK_NOISE_PCT, 0, 0, 0);
        cask_stress__pct_configure(3, 2000);
        opts.noise = CASK_NOISE_PCT;
    } else if (sscanf(spec, "pct:%u,%u", &a, &b) == 2 && a >= 1 && b >= 1) {
        cask_stress__noise_configure(CASK_NOISE_PCT, 0, 0, 0);
        cask_stress__pct_configure(a, b);
        opts.noise = CASK_NOISE_PCT;
    } else {
        return false;
    }
    return true;
}

/* True if `name` matches the --only entry p[0..len) (exactly, or as a prefix ending in '.' or
 * '*'). */
static bool entry_matches(const char *name, const char *p, size_t len)
{
    bool prefix = len > 0 && (p[len - 1] == '*' || p[len - 1] == '.');
    size_t cmp = prefix && p[len - 1] == '*' ? len - 1 : len;
    return prefix ? strncmp(name, p, cmp) == 0
                  : strlen(name) == len && strncmp(name, p, len) == 0;
}

static bool selected(const char *name)
{
    if (opts.only == NULL)
        return true;
    for (const char *p = opts.only; *p != '\0';) {
        size_t len = strcspn(p, ",");
        if (entry_matches(name, p, len))
            return true;
        p += len + (p[len] == ',');
    }
    return false;
}

/* 0 if every --only entry names at least one scenario; else prints the first that names none
 * and returns 2 (a misspelt name must not quietly shrink the run). */
static int check_only(const char *argv0, const cask_stress_scenario *scenarios, size_t count)
{
    if (opts.only[0] == '\0') {
        fprintf(stderr, "%s: --only needs a scenario name (see --list)\n", argv0);
        return 2;
    }
    for (const char *p = opts.only; *p != '\0';) {
        size_t len = strcspn(p, ",");
        bool found = false;
        for (size_t s = 0; s < count && !found; s++)
            found = entry_matches(scenarios[s].name, p, len);
        if (!found) {
            fprintf(stderr, "%s: --only: '%.*s' matches no scenario (see --list)\n", argv0,
                    (int)len, p);
            return 2;
        }
        p += len + (p[len] == ',');
    }
    return 0;
}

/* Returns 0 to go on, or an exit status. */
static int parse(int argc, char **argv, const cask_stress_scenario *scenarios, size_t count)
{
    opts = (options){.seconds = -1, .n_thread_counts = 2, .thread_counts = {2, 4}};
    const char *base = strrchr(argv[0], '/');
    base = base != NULL ? base + 1 : argv[0];
    opts.program = strcmp(base, "stress") == 0 ? "./cask stress" : argv[0];
    parse_noise("random");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = strchr(a, '=');
        v = v != NULL ? v + 1 : NULL;
        uint64_t n;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout, argv[0]);
            return 0 + 100; /* exit 0 */
        } else if (strcmp(a, "--list") == 0) {
            for (size_t s = 0; s < count; s++)
                printf("%-24s %s\n", scenarios[s].name, scenarios[s].description);
            return 100;
        } else if (strcmp(a, "--quiet") == 0) {
            opts.quiet = true;
        } else if (strncmp(a, "--only=", 7) == 0) {
            opts.only = v;
        } else if (strncmp(a, "--threads=", 10) == 0) {
            opts.n_thread_counts = 0;
            for (char *p = (char *)v; *p != '\0';) {
                char *end;
                long t = strtol(p, &end, 10);
                if (end == p || t < 1 || t > 256 || opts.n_thread_counts == MAX_THREAD_COUNTS ||
                    (*end != ',' && *end != '\0'))
                    goto bad;
                opts.thread_counts[opts.n_thread_counts++] = (int)t;
                p = *end == ',' ? end + 1 : end;
            }
            if (opts.n_thread_counts == 0)
                goto bad;
        } else if (strncmp(a, "--seconds=", 10) == 0) {
            char *end;
            opts.seconds = strtod(v, &end);
            if (end == v || *end != '\0' || !(opts.seconds > 0))
                goto bad;
        } else if (strncmp(a, "--ops=", 6) == 0) {
            if (!parse_u64(v, &n) || n == 0)
                goto bad;
            opts.ops = n;
        } else if (strncmp(a, "--seed=", 7) == 0) {
            if (!parse_u64(v, &n))
                goto bad;
            opts.seed = n;
            opts.seed_given = true;
        } else if (strncmp(a, "--noise=", 8) == 0) {
            if (!parse_noise(v))
                goto bad;
        } else {
            goto bad;
        }
        continue;
    bad:
        fprintf(stderr, "%s: bad option '%s'\n", argv[0], a);
        usage(stderr, argv[0]);
        return 2;
    }
    for (int t = 0; opts.noise == CASK_NOISE_PCT && t < opts.n_thread_counts; t++)
        if (opts.thread_counts[t] > CASK_STRESS__PCT_MAX_THREADS) {
            fprintf(stderr, "%s: --noise=pct schedules at most %d threads (--threads=%d)\n",
                    argv[0], CASK_STRESS__PCT_MAX_THREADS, opts.thread_counts[t]);
            return 2;
        }
    if (!opts.seed_given)
        opts.seed = cask_stress__mix(now_ns() ^ (uint64_t)getpid()) % 1000000000u;
    if (opts.only != NULL && check_only(argv[0], scenarios, count) != 0)
        return 2;
    return 0;
}

/* The thread count that scenario s runs at for the t-th --threads count: that count raised to
 * s's min_threads; 0 when an earlier count of the list already became the same one. */
static int run_threads(const cask_stress_scenario *s, int t)
{
    int want = opts.thread_counts[t] < s->min_threads ? s->min_threads : opts.thread_counts[t];
    for (int e = 0; e < t; e++) {
        int earlier = opts.thread_counts[e] < s->min_threads ? s->min_threads : opts.thread_counts[e];
        if (earlier == want)
            return 0;
    }
    return want;
}

int cask_stress_main(int argc, char **argv, const cask_stress_scenario *scenarios, size_t count)
{
    int rc = parse(argc, argv, scenarios, count);
    if (rc == 100)
        return 0;
    if (rc != 0)
        return rc;
    size_t n_runs = 0;
    for (size_t s = 0; s < count; s++)
        for (int t = 0; t < opts.n_thread_counts && selected(scenarios[s].name); t++)
            n_runs += run_threads(&scenarios[s], t) != 0;
    double seconds = opts.seconds > 0 ? opts.seconds : 120.0 / (double)n_runs;
    if (seconds < 1)
        seconds = 1;
    if (opts.seconds <= 0)
        opts.seconds = seconds;
    cask_stress_run *runs = calloc(n_runs, sizeof(*runs));
    if (runs == NULL) {
        fprintf(stderr, "%s: out of memory\n", argv[0]);
        return 1;
    }
    if (opts.noise == CASK_NOISE_PCT)
        pct_exit_key_ok = pthread_key_create(&pct_exit_key, pct_exit_destructor) == 0;
    install_fatal_signal_handlers();
    extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));
    if (__sanitizer_set_death_callback != NULL)
        __sanitizer_set_death_callback(on_sanitizer_death);
    fprintf(stderr, "cask stress: %zu runs, seed %" PRIu64 ", noise %s, %s\n", n_runs, opts.seed,
            opts.noise_spec, opts.ops != 0 ? "op budget" : "time budget");
    size_t r = 0;
    for (size_t s = 0; s < count; s++) {
        if (!selected(scenarios[s].name))
            continue;
        for (int t = 0; t < opts.n_thread_counts; t++) {
            int threads = run_threads(&scenarios[s], t);
            if (threads == 0)
                continue;
            fprintf(stderr, "run %zu/%zu: %s threads=%d%s\n", r + 1, n_runs, scenarios[s].name,
                    threads, threads != opts.thread_counts[t] ? " (its fewest)" : "");
            run_one(&runs[r++], &scenarios[s], threads, seconds);
        }
    }
    printf("\n%-26s %7s %7s %12s %10s %10s %9s %10s %6s\n", "scenario", "threads", "noise",
           "ops", "ops/s", "checked", "undecided", "violations", "tsan");
    uint64_t bad = 0;
    for (size_t i = 0; i < n_runs; i++) {
        cask_stress_run *run = &runs[i];
        uint64_t ops = atomic_load_explicit(&run->ops, memory_order_relaxed);
        uint64_t v = atomic_load_explicit(&run->violations, memory_order_relaxed);
        uint64_t ts = atomic_load_explicit(&run->tsan_reports, memory_order_relaxed);
        double secs = (double)(run->end_ns - run->start_ns) / 1e9;
        printf("%-26s %7d %7s %12" PRIu64 " %10.0f %10" PRIu64 " %9" PRIu64 " %10" PRIu64
               " %6" PRIu64 "\n",
               run->scenario->name, run->threads, noise_names[opts.noise], ops,
               secs > 0 ? (double)ops / secs : 0.0,
               atomic_load_explicit(&run->checked, memory_order_relaxed),
               atomic_load_explicit(&run->undecided, memory_order_relaxed), v, ts);
        bad += v + ts;
    }
    for (size_t i = 0; opts.noise == CASK_NOISE_PCT && i < n_runs; i++)
        printf("pct %s threads=%d: %" PRIu64 " scheduled steps, %" PRIu64
               " steals (a steal makes the schedule depend on timing)\n",
               runs[i].scenario->name, runs[i].threads, runs[i].pct_steps, runs[i].pct_steals);
    printf("stress: %s (%zu runs, seed %" PRIu64 ")\n", bad == 0 ? "clean" : "FAILED", n_runs,
           opts.seed);
    free(runs);
    return bad == 0 ? 0 : 1;
}
