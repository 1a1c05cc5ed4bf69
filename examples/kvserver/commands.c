/*
 * commands.c: PING, SET, GET, DEL, INCR, EXISTS, MSET, MGET, DBSIZE, CONFIG GET and QUIT on a
 * cask map (see commands.h).
 *
 * Every map call goes through the worker's guard; the value a get returns stays protected until
 * the guard's next call, so a reply copies its bytes before doing anything else with the map.
 * The guard is reset after each command, so an idle worker pins nothing.
 */
#define _GNU_SOURCE
#include "commands.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cask/cask.h"
#include "config.h"

static kv_value *value_new(const char *p, size_t len)
{
    kv_value *v = malloc(sizeof(*v) + len);
    if (v != NULL) {
        v->len = len;
        memcpy(v->data, p, len);
    }
    return v;
}

static bool is(const kv_arg *a, const char *name)
{
    return a->len == strlen(name) && strncasecmp(a->p, name, a->len) == 0;
}

static void wrong_args(kv_out *out, const char *cmd)
{
    kv_out_errorf(out, "ERR wrong number of arguments for '%s' command", cmd);
}

static void map_error(kv_out *out, int rc)
{
    if (rc == CASK_ENOMEM)
        kv_out_error(out, "ERR out of memory");
    else
        kv_out_errorf(out, "ERR internal error: %s", cask_strerror(rc));
}

/* Stores key = val; replies +OK if reply is set. Returns false after replying an error. */
static bool cmd_set(kv_ctx *c, const kv_arg *key, const kv_arg *val, kv_out *out, bool reply)
{
    kv_value *v = value_new(val->p, val->len);
    int rc = v == NULL ? CASK_ENOMEM : cask_map_put(c->db->map, c->guard, key->p, key->len, v);
    if (rc != 0) {
        free(v);
        map_error(out, rc);
        return false;
    }
    if (reply)
        kv_out_simple(out, "OK");
    return true;
}

/* Appends key's value as a bulk string, or the null bulk string. */
static void reply_get(kv_ctx *c, const kv_arg *key, kv_out *out)
{
    void *p;
    int rc = cask_map_get(c->db->map, c->guard, key->p, key->len, &p);
    if (rc == 0) {
        const kv_value *v = p; /* protected by the guard until its next call */
        kv_out_bulk(out, v->data, v->len);
    } else if (rc == CASK_ENOENT) {
        kv_out_null(out);
    } else {
        map_error(out, rc);
    }
}

/* Redis's integer syntax: optional '-', digits, no leading zero, fits in a long long. */
static bool parse_ll(const char *p, size_t len, long long *out)
{
    if (len == 0 || len > 20)
        return false;
    char tmp[24];
    memcpy(tmp, p, len);
    tmp[len] = '\0';
    const char *s = tmp[0] == '-' ? tmp + 1 : tmp;
    if (*s == '\0' || (s[0] == '0' && (s[1] != '\0' || tmp[0] == '-')))
        return false;
    unsigned long long v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (tmp[0] == '-') {
        if (v > (unsigned long long)LLONG_MAX + 1)
            return false;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX)
            return false;
        *out = (long long)v;
    }
    return true;
}

/*
 * INCR: get the current object, compute the successor, and install it only if the key still
 * maps to the object read (cask_map_replace compares `expected` while the guard still protects
 * it, so the object cannot be freed and its address reused meanwhile). A missing key is
 * created with insert, which fails if another INCR or SET created it first. Either failure
 * means another write linearized in between: read again. Lock-free: a retry implies another
 * write succeeded.
 */
static void cmd_incr(kv_ctx *c, const kv_arg *key, kv_out *out)
{
    cask_map *m = c->db->map;
    for (;;) {
        void *p;
        long long n = 0;
        int rc = cask_map_get(m, c->guard, key->p, key->len, &p);
        if (rc != 0 && rc != CASK_ENOENT) {
            map_error(out, rc);
            return;
        }
        if (rc == 0) {
            const kv_value *cur = p;
            if (!parse_ll(cur->data, cur->len, &n)) {
                kv_out_error(out, "ERR value is not an integer or out of range");
                return;
            }
            if (n == LLONG_MAX) {
                kv_out_error(out, "ERR increment or decrement would overflow");
                return;
            }
        }
        char digits[24];
        int len = snprintf(digits, sizeof(digits), "%lld", n + 1);
        kv_value *next = value_new(digits, (size_t)len);
        if (next == NULL) {
            map_error(out, CASK_ENOMEM);
            return;
        }
        int wrc = rc == 0 ? cask_map_replace(m, c->guard, key->p, key->len, p, next)
                          : cask_map_insert(m, c->guard, key->p, key->len, next);
        if (wrc == 0) {
            kv_out_int(out, n + 1);
            return;
        }
        free(next);
        if (wrc != CASK_ENOENT && wrc != CASK_EEXIST) {
            map_error(out, wrc);
            return;
        }
    }
}

static void cmd_config(kv_ctx *c, const kv_arg *argv, int argc, kv_out *out)
{
    if (argc < 2) {
        wrong_args(out, "config");
        return;
    }
    if (!is(&argv[1], "get")) {
        kv_out_errorf(out, "ERR unknown subcommand '%.*s'. Try CONFIG GET.",
                      (int)(argv[1].len > 64 ? 64 : argv[1].len), argv[1].p);
        return;
    }
    if (argc != 3) {
        wrong_args(out, "config|get");
        return;
    }
    cask_snap_read_begin(c->db->config);
    const kv_config *cfg = cask_snap_read(c->db->config);
    kv_config_get(cfg, &argv[2], out);
    cask_snap_read_end(c->db->config);
}

static void unknown(const kv_arg *argv, int argc, kv_out *out)
{
    char args[160] = "";
    size_t used = 0;
    for (int i = 1; i < argc && used < 120; i++) {
        int n = snprintf(args + used, sizeof(args) - used, "'%.*s' ",
                         (int)(argv[i].len > 32 ? 32 : argv[i].len), argv[i].p);
        if (n < 0 || (size_t)n >= sizeof(args) - used)
            break;
        used += (size_t)n;
    }
    kv_out_errorf(out, "ERR unknown command '%.*s', with args beginning with: %s",
                  (int)(argv[0].len > 64 ? 64 : argv[0].len), argv[0].p, args);
}

int kv_execute(kv_ctx *c, const kv_arg *argv, int argc, kv_out *out)
{
    const kv_arg *cmd = &argv[0];
    cask_map *m = c->db->map;
    int rc = KV_CONTINUE;
    if (is(cmd, "get")) {
        if (argc != 2)
            wrong_args(out, "get");
        else
            reply_get(c, &argv[1], out);
    } else if (is(cmd, "set")) {
        if (argc < 3)
            wrong_args(out, "set");
        else if (argc > 3)
            kv_out_error(out, "ERR syntax error");
        else
            cmd_set(c, &argv[1], &argv[2], out, true);
    } else if (is(cmd, "incr")) {
        if (argc != 2)
            wrong_args(out, "incr");
        else
            cmd_incr(c, &argv[1], out);
    } else if (is(cmd, "ping")) {
        if (argc == 1)
            kv_out_simple(out, "PONG");
        else if (argc == 2)
            kv_out_bulk(out, argv[1].p, argv[1].len);
        else
            wrong_args(out, "ping");
    } else if (is(cmd, "del") || is(cmd, "exists")) {
        bool del = is(cmd, "del");
        if (argc < 2) {
            wrong_args(out, del ? "del" : "exists");
        } else {
            long long n = 0;
            for (int i = 1; i < argc; i++) {
                void *p;
                int r = del ? cask_map_remove(m, c->guard, argv[i].p, argv[i].len)
                            : cask_map_get(m, c->guard, argv[i].p, argv[i].len, &p);
                n += r == 0;
            }
            kv_out_int(out, n);
        }
    } else if (is(cmd, "mset")) {
        if (argc < 3 || argc % 2 == 0) {
            wrong_args(out, "mset");
        } else {
            /* Each pair is its own put: another client may see some keys set and not others. */
            bool ok = true;
            for (int i = 1; i < argc && ok; i += 2)
                ok = cmd_set(c, &argv[i], &argv[i + 1], out, false);
            if (ok)
                kv_out_simple(out, "OK");
        }
    } else if (is(cmd, "mget")) {
        if (argc < 2) {
            wrong_args(out, "mget");
        } else {
            kv_out_array(out, argc - 1);
            for (int i = 1; i < argc; i++)
                reply_get(c, &argv[i], out);
        }
    } else if (is(cmd, "dbsize")) {
        if (argc != 1)
            wrong_args(out, "dbsize");
        else
            kv_out_int(out, (long long)cask_map_size_approx(m));
    } else if (is(cmd, "config")) {
        cmd_config(c, argv, argc, out);
    } else if (is(cmd, "quit")) {
        kv_out_simple(out, "OK");
        rc = KV_CLOSE;
    } else {
        unknown(argv, argc, out);
    }
    cask_map_guard_reset(c->guard);
    return rc;
}
