/*
 * error_codes_test.c: lincheck.h repeats the values of cask's error codes (the checker does not
 * depend on the cask library). Including both headers redefines each macro; C allows that only
 * with an identical definition, and the compiler warns otherwise, which -Werror makes an error:
 * if the two ever disagree, this test stops compiling. The static assertion pins the values
 * that lincheck.h documents.
 */
#include "stress/check/lincheck.h"

#include "cask/cask.h"

#include <stdio.h>
#include <string.h>

_Static_assert(CASK_ENOMEM == -1 && CASK_EINVAL == -2 && CASK_EEMPTY == -3 && CASK_EFULL == -4 &&
                   CASK_EEXIST == -7 && CASK_ENOENT == -8,
               "lincheck.h documents these values");

int main(void)
{
    /* The statuses the models use mean what cask says they mean. */
    if (strstr(cask_strerror(CASK_EEMPTY), "empty") == NULL ||
        strstr(cask_strerror(CASK_EEXIST), "already") == NULL ||
        strstr(cask_strerror(CASK_ENOENT), "not") == NULL) {
        fprintf(stderr, "unexpected cask_strerror texts: %s / %s / %s\n",
                cask_strerror(CASK_EEMPTY), cask_strerror(CASK_EEXIST),
                cask_strerror(CASK_ENOENT));
        return 1;
    }
    printf("error_codes_test: lincheck.h and cask.h agree\n");
    return 0;
}
