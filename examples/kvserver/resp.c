/*
 * resp.c: RESP2 request parsing and reply encoding (see resp.h).
 *
 * The parser is restartable: it keeps no state between calls and re-parses the request from
 * its first byte when more bytes arrive. A request is bounded by max_request bytes, so the
 * re-parse costs at most that much per read; every length is checked before bytes are waited
 * for, so an oversized bulk is refused from its header, without buffering its body.
 */
#define _GNU_SOURCE
#include "resp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest header line we accept: '*' or '$', up to 19 digits and a sign, "\r\n". */
#define HEADER_MAX 32

/*
 * Reads "<prefix><integer>\r\n" at buf[*pos]. Returns KV_PARSE_OK and advances *pos;
 * KV_PARSE_INCOMPLETE; KV_PARSE_PROTOCOL with *why.
 */
static int header(const char *buf, size_t len, size_t *pos, char prefix, long long *v,
                  const char **why)
{
    size_t i = *pos;
    if (i >= len)
        return KV_PARSE_INCOMPLETE;
    if (buf[i] != prefix) {
        *why = prefix == '$' ? "Protocol error: expected '$'" : "Protocol error: expected '*'";
        return KV_PARSE_PROTOCOL;
    }
    const char *cr = memchr(buf + i, '\r', len - i < HEADER_MAX ? len - i : HEADER_MAX);
    if (cr == NULL) {
        if (len - i >= HEADER_MAX) {
            *why = prefix == '$' ? "Protocol error: invalid bulk length"
                                 : "Protocol error: invalid multibulk length";
            return KV_PARSE_PROTOCOL;
        }
        return KV_PARSE_INCOMPLETE;
    }
    size_t end = (size_t)(cr - buf);
    if (end + 1 >= len)
        return KV_PARSE_INCOMPLETE;
    const char *p = buf + i + 1;
    bool neg = false;
    if (p < cr && *p == '-') {
        neg = true;
        p++;
    }
    long long n = 0;
    if (p == cr || buf[end + 1] != '\n' || cr - p > 18)
        goto bad;
    for (; p < cr; p++) {
        if (*p < '0' || *p > '9')
            goto bad;
        n = n * 10 + (*p - '0');
    }
    *v = neg ? -n : n;
    *pos = end + 2;
    return KV_PARSE_OK;
bad:
    *why = prefix == '$' ? "Protocol error: invalid bulk length"
                         : "Protocol error: invalid multibulk length";
    return KV_PARSE_PROTOCOL;
}

static int parse_multibulk(const char *buf, size_t len, size_t max_request, kv_arg *args,
                           int *argc, size_t *used, const char **why)
{
    size_t pos = 0;
    long long n;
    int rc = header(buf, len, &pos, '*', &n, why);
    if (rc != KV_PARSE_OK)
        return rc;
    if (n <= 0) { /* "*0" and the null array "*-1": nothing to run */
        *used = pos;
        return KV_PARSE_EMPTY;
    }
    if (n > KV_MAX_ARGS)
        return KV_PARSE_TOO_LARGE;
    for (long long i = 0; i < n; i++) {
        long long blen;
        rc = header(buf, len, &pos, '$', &blen, why);
        if (rc == KV_PARSE_INCOMPLETE && len > max_request)
            return KV_PARSE_TOO_LARGE;
        if (rc != KV_PARSE_OK)
            return rc;
        if (blen < 0) {
            *why = "Protocol error: invalid bulk length";
            return KV_PARSE_PROTOCOL;
        }
        /* The limit is checked on the header, before any of the body is waited for. */
        if ((unsigned long long)blen > max_request || pos + (size_t)blen + 2 > max_request)
            return KV_PARSE_TOO_LARGE;
        if (pos + (size_t)blen + 2 > len)
            return KV_PARSE_INCOMPLETE;
        if (buf[pos + blen] != '\r' || buf[pos + blen + 1] != '\n') {
            *why = "Protocol error: bulk string not followed by CRLF";
            return KV_PARSE_PROTOCOL;
        }
        args[i].p = buf + pos;
        args[i].len = (size_t)blen;
        pos += (size_t)blen + 2;
    }
    *argc = (int)n;
    *used = pos;
    return KV_PARSE_OK;
}

static int parse_inline(const char *buf, size_t len, size_t max_request, kv_arg *args, int *argc,
                        size_t *used, const char **why)
{
    size_t limit = max_request < KV_MAX_INLINE ? max_request : KV_MAX_INLINE;
    const char *nl = memchr(buf, '\n', len < limit ? len : limit);
    if (nl == NULL) {
        if (len < limit)
            return KV_PARSE_INCOMPLETE;
        if (limit == max_request)
            return KV_PARSE_TOO_LARGE;
        *why = "Protocol error: too big inline request";
        return KV_PARSE_PROTOCOL;
    }
    size_t end = (size_t)(nl - buf);
    size_t stop = end > 0 && buf[end - 1] == '\r' ? end - 1 : end;
    int n = 0;
    for (size_t i = 0; i < stop;) {
        while (i < stop && (buf[i] == ' ' || buf[i] == '\t'))
            i++;
        if (i == stop)
            break;
        size_t start = i;
        while (i < stop && buf[i] != ' ' && buf[i] != '\t')
            i++;
        if (n == KV_MAX_ARGS)
            return KV_PARSE_TOO_LARGE;
        args[n].p = buf + start;
        args[n].len = i - start;
        n++;
    }
    *used = end + 1;
    if (n == 0)
        return KV_PARSE_EMPTY;
    *argc = n;
    return KV_PARSE_OK;
}

int kv_parse(const char *buf, size_t len, size_t max_request, kv_arg *args, int *argc,
             size_t *used, const char **why)
{
    if (len == 0)
        return KV_PARSE_INCOMPLETE;
    if (buf[0] == '*')
        return parse_multibulk(buf, len, max_request, args, argc, used, why);
    return parse_inline(buf, len, max_request, args, argc, used, why);
}

/* ---- Replies ---- */

void kv_out_free(kv_out *o)
{
    free(o->p);
    memset(o, 0, sizeof(*o));
}

static bool reserve(kv_out *o, size_t n)
{
    if (o->failed)
        return false;
    if (o->len + n <= o->cap)
        return true;
    if (o->off > 0) { /* slide the unsent bytes to the front first */
        memmove(o->p, o->p + o->off, o->len - o->off);
        o->len -= o->off;
        o->off = 0;
        if (o->len + n <= o->cap)
            return true;
    }
    size_t cap = o->cap ? o->cap : 16384;
    while (cap < o->len + n)
        cap *= 2;
    char *p = realloc(o->p, cap);
    if (p == NULL) {
        o->failed = 1;
        return false;
    }
    o->p = p;
    o->cap = cap;
    return true;
}

void kv_out_raw(kv_out *o, const char *s, size_t n)
{
    if (!reserve(o, n))
        return;
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

/* Appends "<c><v>\r\n" (by hand: snprintf costs more than the rest of a GET's reply). */
static void out_num(kv_out *o, char c, long long v)
{
    char tmp[32];
    char *end = tmp + sizeof(tmp), *p = end;
    *--p = '\n';
    *--p = '\r';
    unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        *--p = '-';
    *--p = c;
    kv_out_raw(o, p, (size_t)(end - p));
}

void kv_out_simple(kv_out *o, const char *s)
{
    kv_out_raw(o, "+", 1);
    kv_out_raw(o, s, strlen(s));
    kv_out_raw(o, "\r\n", 2);
}

void kv_out_error(kv_out *o, const char *s)
{
    kv_out_raw(o, "-", 1);
    kv_out_raw(o, s, strlen(s));
    kv_out_raw(o, "\r\n", 2);
}

void kv_out_errorf(kv_out *o, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    /* An error line must not contain CR or LF (it may quote the client's bytes). */
    for (char *p = tmp; *p; p++)
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    kv_out_error(o, tmp);
}

void kv_out_int(kv_out *o, long long v)
{
    out_num(o, ':', v);
}

void kv_out_bulk(kv_out *o, const void *s, size_t n)
{
    out_num(o, '$', (long long)n);
    kv_out_raw(o, s, n);
    kv_out_raw(o, "\r\n", 2);
}

void kv_out_null(kv_out *o)
{
    kv_out_raw(o, "$-1\r\n", 5);
}

void kv_out_array(kv_out *o, long long n)
{
    out_num(o, '*', n);
}
