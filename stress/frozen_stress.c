/*
 * frozen_stress.c: stress scenario for frozen memory.
 *
 * frozen.churn  Rounds: every thread allocates regions of one to three pages, fills them with a
 *               pattern, freezes them, checks the contents and cask_frozen_is_frozen, thaws some
 *               and writes to them, refreezes, and frees them, so registry records are claimed,
 *               rewritten and released by all threads at once. After each round the main thread
 *               checks that the trap still works: a forked child writes to a frozen region and
 *               must die by SIGABRT with the report (checked builds: the trap; unchecked
 *               builds: the checksum, through cask_frozen_verify).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cask/cask.h"
#include "cask/frozen.h"
#include "stress/harness.h"
#include "stress/scenarios.h"

#define CHURN_REGIONS 8
#define CHURN_CYCLES 400

static uint64_t pattern(uint64_t region, size_t i)
{
    return (region * UINT64_C(0x9E3779B97F4A7C15)) ^ (i * UINT64_C(0xC2B2AE3D27D4EB4F));
}

static void churn_worker(cask_stress_run *run, int index, void *arg)
{
    (void)arg;
    long page = sysconf(_SC_PAGESIZE);
    uint64_t *r[CHURN_REGIONS] = {0};
    size_t words[CHURN_REGIONS] = {0};
    uint64_t ops = 0; /* calls to cask_frozen_* */
    for (int cycle = 0; cycle < CHURN_CYCLES; cycle++) {
        int k = (int)(cask_stress_rand() % CHURN_REGIONS);
        if (r[k] != NULL) { /* check, maybe thaw and change, then free */
            uint64_t id = (uint64_t)index * 1000003u + (uint64_t)k;
            if (!cask_frozen_is_frozen(r[k]))
                cask_stress_fail(run, "invariant: a frozen region reads as not frozen");
            for (size_t i = 0; i < words[k]; i += 1 + cask_stress_rand() % 16)
                if (r[k][i] != pattern(id, i))
                    cask_stress_fail(run, "invariant: a frozen region's word %zu changed", i);
            if (cask_stress_rand() % 2 == 0) {
                ops += 2;
                if (cask_frozen_thaw(r[k]) != 0)
                    cask_stress_fail(run, "invariant: thaw of a frozen region failed");
                r[k][0] = pattern(id, 0); /* writable again (the same value) */
                if (cask_frozen_freeze(r[k]) != 0)
                    cask_stress_fail(run, "invariant: refreeze failed");
            }
            CASK_NOISE_POINT("frozen_stress.before_free");
            cask_frozen_free(r[k]);
            r[k] = NULL;
            ops += 2; /* is_frozen, free */
            continue;
        }
        size_t bytes = (size_t)page * (1 + cask_stress_rand() % 3);
        void *p;
        if (cask_frozen_alloc(bytes, "churn", &p) != 0) {
            cask_stress_fail(run, "invariant: cask_frozen_alloc failed");
            break;
        }
        r[k] = p;
        words[k] = bytes / sizeof(uint64_t);
        uint64_t id = (uint64_t)index * 1000003u + (uint64_t)k;
        for (size_t i = 0; i < words[k]; i++)
            r[k][i] = pattern(id, i);
        CASK_NOISE_POINT("frozen_stress.before_freeze");
        if (cask_frozen_freeze(p) != 0)
            cask_stress_fail(run, "invariant: cask_frozen_freeze failed");
        ops += 2; /* alloc, freeze */
    }
    for (int k = 0; k < CHURN_REGIONS; k++)
        cask_frozen_free(r[k]);
    cask_stress_add_ops(run, ops);
}

/* In a child: write to a frozen region. It must not come back. */
static void write_frozen(uint64_t *region)
{
    ((volatile uint64_t *)region)[1] = 0; /* checked builds die here */
    cask_frozen_verify(region);            /* unchecked builds die here */
    _exit(0);
}

/* Forks a child that writes to a frozen region; true if it died by SIGABRT with the report. */
static bool trap_fires(cask_stress_run *run)
{
    void *p;
    if (cask_frozen_alloc(64, "trap check", &p) != 0)
        return false;
    ((uint64_t *)p)[1] = 42;
    if (cask_frozen_freeze(p) != 0) {
        cask_frozen_free(p);
        return false;
    }
    int fds[2];
    if (pipe(fds) != 0) {
        cask_frozen_free(p);
        return true; /* cannot check: not a failure of the trap */
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        signal(SIGABRT, SIG_DFL);
        write_frozen(p);
    }
    close(fds[1]);
    char out[4096];
    size_t len = 0;
    ssize_t n;
    while (len + 1 < sizeof(out) && (n = read(fds[0], out + len, sizeof(out) - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    close(fds[0]);
    int status = 0;
    bool ok = pid > 0 && waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) &&
              WTERMSIG(status) == SIGABRT && strstr(out, "frozen region \"trap check\"") != NULL;
    if (pid < 0)
        ok = true; /* could not fork: cannot check */
    if (!ok)
        cask_stress_fail(run, "invariant: a write to a frozen region was not reported (child "
                              "status %d): %.200s", status, out);
    cask_frozen_free(p);
    return ok;
}

static void run_churn(cask_stress_run *run)
{
    int threads = cask_stress_threads(run);
    uint64_t round = 0;
    while (!cask_stress_should_stop(run)) {
        if (cask_stress_run_threads(run, threads, churn_worker, NULL) != 0) {
            cask_stress_fail(run, "could not start the worker threads");
            return;
        }
        if (round++ % 8 == 0 && !trap_fires(run))
            return;
        cask_stress_add_checked(run, 1);
    }
}

const cask_stress_scenario cask_stress_frozen_scenarios[] = {
    {"frozen.churn", "threads freeze, thaw and free regions at once; the trap still fires",
     run_churn, 2},
};
const size_t cask_stress_frozen_scenario_count =
    sizeof(cask_stress_frozen_scenarios) / sizeof(cask_stress_frozen_scenarios[0]);
