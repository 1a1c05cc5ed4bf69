/*
 * resp.h: the Redis protocol (RESP2) as kvserver speaks it: a request parser that works in
 * place on a connection's input buffer, and a reply buffer with the reply encoders.
 *
 * Requests are arrays of bulk strings ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), as redis-cli and
 * redis-benchmark send them, or inline commands ("PING\r\n", words separated by spaces), as a
 * person typing into a socket sends them. Every length is checked against a limit before
 * anything is buffered for it, so a request larger than the limit is refused as soon as its
 * header says so.
 *
 * Threads: none of this is shared; each connection's buffers belong to the worker serving it.
 */
#ifndef KV_RESP_H
#define KV_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* At most this many arguments in one request (MSET of 2047 pairs). */
#define KV_MAX_ARGS 4096
/* An inline command or a header line longer than this is a protocol error. */
#define KV_MAX_INLINE 65536

typedef struct kv_arg {
    const char *p; /* points into the input buffer: valid until the buffer is consumed */
    size_t len;
} kv_arg;

enum {
    KV_PARSE_OK = 0,         /* one request parsed */
    KV_PARSE_INCOMPLETE = 1, /* need more bytes */
    KV_PARSE_EMPTY = 2,      /* an empty request (blank inline line, "*0"): skip it */
    KV_PARSE_TOO_LARGE = -1, /* the request exceeds the size limit: refuse and close */
    KV_PARSE_PROTOCOL = -2,  /* malformed framing: reply an error and close */
};

/*
 * kv_parse - parses one request from buf[0..len).
 * Returns KV_PARSE_OK with *argc and args[] set and *used = bytes the request took;
 * KV_PARSE_EMPTY with *used set; KV_PARSE_INCOMPLETE if more bytes are needed (nothing set);
 * KV_PARSE_TOO_LARGE if the request would take more than max_request bytes or KV_MAX_ARGS
 * arguments; KV_PARSE_PROTOCOL for malformed framing, with *why a static message.
 */
int kv_parse(const char *buf, size_t len, size_t max_request, kv_arg *args, int *argc,
             size_t *used, const char **why);

/* A growable reply buffer: bytes [off, len) are still to be sent. */
typedef struct kv_out {
    char *p;
    size_t off, len, cap;
    int failed; /* an append could not allocate: the connection is closed */
} kv_out;

void kv_out_free(kv_out *o);
void kv_out_raw(kv_out *o, const char *s, size_t n);
void kv_out_simple(kv_out *o, const char *s);              /* +s */
void kv_out_error(kv_out *o, const char *s);               /* -s */
void kv_out_errorf(kv_out *o, const char *fmt, ...);       /* -formatted */
void kv_out_int(kv_out *o, long long v);                   /* :v */
void kv_out_bulk(kv_out *o, const void *s, size_t n);      /* $n s */
void kv_out_null(kv_out *o);                               /* $-1 */
void kv_out_array(kv_out *o, long long n);                 /* *n */

/* Pending bytes. */
static inline size_t kv_out_pending(const kv_out *o)
{
    return o->len - o->off;
}

#endif
