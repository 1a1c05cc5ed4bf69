/* tests/expect_death.c: expected-death tests (see expect.h). */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "expect.h"

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
    char out[8192];
    size_t len = 0;
    ssize_t n;
    while (len + 1 < sizeof(out) && (n = read(fds[0], out + len, sizeof(out) - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    bool ok = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    for (const char *const *s = needles; ok && *s != NULL; s++)
        ok = strstr(out, *s) != NULL;
    if (!ok)
        fprintf(stderr, "expected death by SIGABRT with the report; child %s %d, stderr:\n%s\n",
                WIFSIGNALED(status) ? "died by signal" : "exited with", WIFSIGNALED(status) ?
                WTERMSIG(status) : WEXITSTATUS(status), out);
    return ok;
}
