/*
 * config.h: kvserver's configuration, an immutable object published in a cask snapshot.
 *
 * Workers read the current version inside a snapshot read section (no lock, no shared write);
 * SIGHUP makes the acceptor thread parse the configuration file into a new object and publish
 * it; the old version is freed after a grace period, once no worker can still be reading it.
 * A file that does not parse is refused as a whole: the server keeps the version it has.
 *
 * File format: one "key value" per line; '#' starts a comment; blank lines are ignored.
 *   name               a word the server reports through CONFIG GET name   (default "kvserver")
 *   max-request-bytes  the largest request accepted, 64 .. 536870912      (default 1048576)
 *   max-output-bytes   replies buffered per connection before it stops reading its requests
 *                      until they are sent, 1024 .. 1073741824            (default 4194304)
 * port and workers are command-line options: fixed for the life of the server.
 */
#ifndef KV_CONFIG_H
#define KV_CONFIG_H

#include <stddef.h>

#include "resp.h"

typedef struct kv_config {
    char name[64];
    size_t max_request;       /* max-request-bytes */
    size_t max_output;        /* max-output-bytes */
    int port;                 /* fixed at start */
    int workers;              /* fixed at start */
    unsigned long generation; /* 1 for the first version, +1 per successful reload */
} kv_config;

/* The defaults above, with port, workers and generation 0. */
void kv_config_defaults(kv_config *c);

/*
 * kv_config_parse_file - reads path into *c, whose fields not named in the file keep the values
 * they have on entry. Returns 0, or -1 with a message in err (then *c may be partly changed:
 * parse into a copy).
 */
int kv_config_parse_file(const char *path, kv_config *c, char *err, size_t errlen);

/*
 * kv_config_get - the reply to CONFIG GET pattern (glob, case-insensitive): an array of
 * name/value pairs for every parameter that matches, as redis-server answers it.
 */
void kv_config_get(const kv_config *c, const kv_arg *pattern, kv_out *out);

#endif
