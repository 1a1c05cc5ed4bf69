/* tests/expect_death.c: expected-death tests (see expect.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "expect.h"

enum { EXPECT_DEATH_DEADLINE_S = 60 };

/* Milliseconds left until start + the deadline (<= 0: passed). */
static long ms_left(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return EXPECT_DEATH_DEADLINE_S * 1000L -
           ((now.tv_sec - start->tv_sec) * 1000L + (now.tv_nsec - start->tv_nsec) / 1000000);
}

bool run_child(void (*fn)(void *arg), void *arg, char *out, size_t cap, int *status)
{
    int fds[2];
    if (cap == 0 || pipe(fds) != 0)
        return false;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return false;
    }
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        signal(SIGABRT, SIG_DFL);
        fn(arg);
        _exit(0); /* survived: the caller reports it */
    }
    close(fds[1]);
    /* A child that neither dies nor exits (a hang in the report's path) is killed at the
     * deadline and reported as hung, so the test fails in a minute instead of at the runner's
     * timeout. The deadline covers the whole life of the child: a child that closes stderr and
     * then hangs is caught by the wait below. */
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    bool hung = false;
    size_t len = 0;
    for (;;) {
        long left = ms_left(&start);
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        int ready = left > 0 ? poll(&pfd, 1, (int)left) : 0;
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0) { /* the deadline, or poll failed: give up on the child either way */
            hung = ready == 0;
            kill(pid, SIGKILL);
            break;
        }
        char chunk[512];
        ssize_t n = read(fds[0], chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* EOF: the child is gone, or closed stderr */
        size_t keep = cap - 1 - len < (size_t)n ? cap - 1 - len : (size_t)n;
        memcpy(out + len, chunk, keep); /* past cap: drained, not kept */
        len += keep;
    }
    out[len] = '\0';
    close(fds[0]);
    pid_t got;
    while ((got = waitpid(pid, status, WNOHANG)) == 0 || (got < 0 && errno == EINTR)) {
        if (!hung && ms_left(&start) <= 0) { /* EOF came, but the child lives on */
            hung = true;
            kill(pid, SIGKILL);
        }
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    if (hung)
        fprintf(stderr, "the child hung and was killed after %d s\n", EXPECT_DEATH_DEADLINE_S);
    return got == pid && !hung;
}

bool expect_death(void (*fn)(void *arg), void *arg, const char *const *needles)
{
    char out[8192];
    int status = 0;
    if (!run_child(fn, arg, out, sizeof(out), &status)) {
        fprintf(stderr, "expected death by SIGABRT with the report; the child hung or could "
                        "not be run, stderr:\n%s\n", out);
        return false;
    }
    bool ok = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    for (const char *const *s = needles; ok && *s != NULL; s++)
        ok = strstr(out, *s) != NULL;
    if (!ok)
        fprintf(stderr, "expected death by SIGABRT with the report; child %s %d, stderr:\n%s\n",
                WIFSIGNALED(status) ? "died by signal" : "exited with", WIFSIGNALED(status) ?
                WTERMSIG(status) : WEXITSTATUS(status), out);
    return ok;
}
