/* Recipe 5, the wrong way: a plain table as a namespace, and a name rebound while in use. */
#include <pthread.h>
#include <string.h>

#include "example.h"

typedef struct binding {
    const char *name;
    int value;
} binding;

binding names[2] = {{"max_clients", 1000}, {"max_body", 1 << 20}};
static step looked_up;

static int lookup(const char *name)
{
    for (int i = 0; i < 2; i++)
        if (strcmp(names[i].name, name) == 0)
            return names[i].value;
    return -1;
}

static void *reader(void *arg)
{
    (void)arg;
    int n = lookup("max_clients");
    step_done(&looked_up);
    printf("max_clients = %d\n", n);
    return NULL;
}

int main(void)
{
    pthread_t t;
    CHECK(pthread_create(&t, NULL, reader, NULL) == 0);
    step_wait(&looked_up);
    names[0].value = 10; /* rebinding a name others use: races with the lookup */
    pthread_join(t, NULL);
    return 0;
}
