/* tests/expect_death.c: expected-death tests (see expect.h). */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "expect.h"

enum { EXPECT_DEATH_DEADLINE_S = 60 };

bool expect_death(void (*fn)(void *arg), void *arg, const char *const *needles)
{
    int fds[2];
    if (pipe(fds) != 0)
        return false;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        signal(SIGABRT, SIG_DFL);
        fn(arg);
        _exit(0); /* survived: the parent reports it */
    }
    close(fds[1]);
    /* A child that neither dies nor exits (a hang in the report's path) is killed at the
     * deadline and reported as hung, so the test fails in a minute instead of at the runner's
     * timeout. Death tests take well under a second, under the sanitizers too. */
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    bool hung = false;
    char out[8192];
    size_t len = 0;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left_ms = EXPECT_DEATH_DEADLINE_S * 1000L - ((now.tv_sec - start.tv_sec) * 1000L +
                                                          (now.tv_nsec - start.tv_nsec) / 1000000);
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        int ready = left_ms > 0 ? poll(&pfd, 1, (int)left_ms) : 0;
        if (ready == 0) {
            hung = true;
            kill(pid, SIGKILL);
            break;
        }
        if (ready < 0)
            continue; /* EINTR */
        char chunk[512];
        ssize_t n = read(fds[0], chunk, sizeof(chunk));
        if (n <= 0)
            break;
        size_t keep = sizeof(out) - 1 - len < (size_t)n ? sizeof(out) - 1 - len : (size_t)n;
        memcpy(out + len, chunk, keep); /* past 8 KiB: drained, not kept */
        len += keep;
    }
    out[len] = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (hung)
        fprintf(stderr, "expected death by SIGABRT; the child hung and was killed after %d s\n",
                EXPECT_DEATH_DEADLINE_S);
    bool ok = !hung && WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    for (const char *const *s = needles; ok && *s != NULL; s++)
        ok = strstr(out, *s) != NULL;
    if (!ok)
        fprintf(stderr, "expected death by SIGABRT with the report; child %s %d, stderr:\n%s\n",
                WIFSIGNALED(status) ? "died by signal" : "exited with", WIFSIGNALED(status) ?
                WTERMSIG(status) : WEXITSTATUS(status), out);
    return ok;
}
