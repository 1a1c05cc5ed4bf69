/*
 * commands.h: the commands kvserver runs, on a keyspace that is a cask map.
 *
 * Keyspace: a cask_map with byte-string keys whose values are kv_value objects (length and
 * bytes), immutable once stored. A write stores a new object; the one it replaces or deletes is
 * freed by the map through hazard pointers, once no worker still reads it (a GET copies the bytes
 * into its reply while its guard protects the object). INCR is a read-modify-write on top of
 * that: get, compute, cask_map_replace with the object read as `expected` (insert for a
 * missing key), retried when another write came first, so concurrent INCRs never lose one.
 *
 * Threads: kv_execute runs on any worker, each with its own kv_ctx (its own map guard); the map
 * and the configuration snapshot are shared by all of them without locks.
 */
#ifndef KV_COMMANDS_H
#define KV_COMMANDS_H

#include "cask/map.h"
#include "cask/snap.h"
#include "resp.h"

/* A stored value: immutable once in the map. */
typedef struct kv_value {
    size_t len;
    char data[];
} kv_value;

/* The shared state: the keyspace and the configuration cell. */
typedef struct kv_db {
    cask_map *map;     /* byte keys -> kv_value *, destructor free() */
    cask_snap *config; /* the current kv_config (config.h) */
} kv_db;

/* One worker's handle: the map guard is the worker's alone. */
typedef struct kv_ctx {
    kv_db *db;
    cask_map_guard *guard;
} kv_ctx;

enum { KV_CONTINUE = 0, KV_CLOSE = 1 };

/*
 * kv_execute - runs the command argv[0..argc) and appends its reply to out.
 * Returns KV_CLOSE when the connection must be closed once the reply is sent (QUIT),
 * KV_CONTINUE otherwise (errors included: they are replies).
 */
int kv_execute(kv_ctx *ctx, const kv_arg *argv, int argc, kv_out *out);

#endif
