/*
 * driver_selftest.c: scenarios that test the stress driver itself (driver_selftest.sh runs
 * them and checks the verdicts and messages):
 *   self.abort        a worker calls abort(): the run's replay line is printed, then the
 *                     process dies of SIGABRT;
 *   self.nothing      counts no operation: the run fails ("nothing ran");
 *   self.undecided    one batch checked, one check undecided: the run fails ("UNDECIDED");
 *   self.some_undecided  three checked, one undecided: clean, and the table shows it;
 *   self.exit_points  each worker goes through 500 noise points in a thread-exit destructor of
 *                     its own: under --noise=pct they are scheduled steps like any other.
 */
#include <pthread.h>
#include <stdlib.h>

#include "stress/harness.h"

static void abort_worker(cask_stress_run *run, int index, void *arg)
{
    (void)arg;
    cask_stress_add_ops(run, 1);
    if (index == 0)
        abort();
}

static void run_abort(cask_stress_run *run)
{
    cask_stress_run_threads(run, cask_stress_threads(run), abort_worker, NULL);
}

static void run_nothing(cask_stress_run *run)
{
    (void)run;
}

static void run_undecided(cask_stress_run *run)
{
    cask_stress_add_ops(run, 1);
    cask_stress_add_checked(run, 1);
    cask_stress_add_undecided(run, 1);
}

static void run_some_undecided(cask_stress_run *run)
{
    cask_stress_add_ops(run, 1);
    cask_stress_add_checked(run, 3);
    cask_stress_add_undecided(run, 1);
}

enum { EXIT_POINTS = 500 };
static pthread_key_t exit_key;

static void exit_destructor(void *unused)
{
    (void)unused;
    for (int i = 0; i < EXIT_POINTS; i++)
        CASK_NOISE_POINT("selftest.thread_exit");
}

static void exit_points_worker(cask_stress_run *run, int index, void *arg)
{
    (void)index;
    (void)arg;
    pthread_setspecific(exit_key, (void *)1);
    cask_stress_add_ops(run, 1);
}

static void run_exit_points(cask_stress_run *run)
{
    if (pthread_key_create(&exit_key, exit_destructor) != 0) {
        cask_stress_fail(run, "pthread_key_create failed");
        return;
    }
    cask_stress_run_threads(run, cask_stress_threads(run), exit_points_worker, NULL);
    pthread_key_delete(exit_key);
}

static const cask_stress_scenario scenarios[] = {
    {"self.abort", "a worker calls abort()", run_abort, 1},
    {"self.nothing", "counts no operation", run_nothing, 1},
    {"self.undecided", "one batch checked, one check undecided", run_undecided, 1},
    {"self.some_undecided", "three batches checked, one check undecided", run_some_undecided, 1},
    {"self.exit_points", "noise points in a thread-exit destructor", run_exit_points, 1},
};

int main(int argc, char **argv)
{
    return cask_stress_main(argc, argv, scenarios, sizeof(scenarios) / sizeof(scenarios[0]));
}
