/*
 * frozen_install_race_test.c: the frozen-memory trap's handler goes live without losing a
 * SIGSEGV handler that the program installs at the same moment. The test wraps sigaction()
 * (-Wl,--wrap=sigaction): right after the library's first SIGSEGV call (the process's first
 * checked freeze), another thread installs the program's handler and finishes. Then the
 * program's handler must be the live one, and a SIGSEGV sent to the process must reach it.
 * (When the library read the old handler in one call and installed its own in a second, the
 * program's handler, installed in between, was overwritten and never ran.)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cask/cask.h"
#include "cask/frozen.h"
#include "expect.h"

int __real_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
int __wrap_sigaction(int sig, const struct sigaction *act, struct sigaction *old);

static void program_handler(int sig)
{
    (void)sig;
    static const char ran[] = "the program's SIGSEGV handler ran\n";
    ssize_t ignored = write(STDERR_FILENO, ran, sizeof(ran) - 1);
    (void)ignored;
    _exit(0);
}

static void *install_program_handler(void *arg)
{
    (void)arg;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = program_handler;
    sigemptyset(&sa.sa_mask);
    EXPECT_EQ(__real_sigaction(SIGSEGV, &sa, NULL), 0);
    return NULL;
}

static int library_calls; /* the library's SIGSEGV calls seen so far (main thread only) */

int __wrap_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    int rc = __real_sigaction(sig, act, old);
    if (sig == SIGSEGV && library_calls++ == 0) {
        pthread_t t;
        EXPECT_EQ(pthread_create(&t, NULL, install_program_handler, NULL), 0);
        EXPECT_EQ(pthread_join(t, NULL), 0);
    }
    return rc;
}

int main(void)
{
    void *region;
    EXPECT_EQ(cask_frozen_alloc(4096, "install race", &region), 0);
    EXPECT_EQ(cask_frozen_freeze(region), 0);
    if (!cask_frozen_traps_writes()) /* no trap, no handler: nothing to race with */
        return 0;
    EXPECT(library_calls >= 1);
    struct sigaction now;
    EXPECT_EQ(__real_sigaction(SIGSEGV, NULL, &now), 0);
    EXPECT(!(now.sa_flags & SA_SIGINFO) && now.sa_handler == program_handler);
    kill(getpid(), SIGSEGV); /* the program's handler exits 0 */
    pause();
    return 1;
}
