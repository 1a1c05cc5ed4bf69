/* errors_test.c: every error code is negative, distinct, and has its own description. */
#include <string.h>

#include "cask/cask.h"
#include "expect.h"

int main(void)
{
    const int codes[] = {CASK_ENOMEM, CASK_EINVAL, CASK_EEMPTY,  CASK_EFULL,    CASK_ECLOSED,
                         CASK_EFROZEN, CASK_EEXIST, CASK_ENOENT, CASK_ETIMEDOUT};
    const size_t n = sizeof(codes) / sizeof(codes[0]);
    const char *unknown = cask_strerror(12345);
    EXPECT(unknown != NULL);
    EXPECT(strcmp(cask_strerror(0), unknown) == 0);
    EXPECT(strcmp(cask_strerror(-100), unknown) == 0);
    for (size_t i = 0; i < n; i++) {
        EXPECT(codes[i] < 0);
        EXPECT(cask_strerror(codes[i]) != NULL);
        EXPECT(strcmp(cask_strerror(codes[i]), unknown) != 0);
        for (size_t j = 0; j < i; j++) {
            EXPECT(codes[i] != codes[j]);
            EXPECT(strcmp(cask_strerror(codes[i]), cask_strerror(codes[j])) != 0);
        }
    }
    EXPECT(strcmp(CASK_VERSION_STRING, "0.1.0") == 0);
    return 0;
}
