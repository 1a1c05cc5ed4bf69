/*
 * worker.c: one worker thread: an epoll loop over its connections and its inbox (worker.h).
 *
 * A connection has an input buffer (at most max-request-bytes plus one read's worth, so an
 * oversized request is seen and refused, never buffered without bound) and a reply buffer.
 * Each readable event reads once, then runs every complete request in the buffer (pipelining)
 * until the replies waiting to be sent reach max-output-bytes; then it sends what it can.
 * A connection whose replies cannot all be sent stops being read (EPOLLIN off, EPOLLOUT on)
 * until they are: a client that pipelines without reading slows down, it cannot grow our
 * memory. Limits come from the configuration snapshot, read once per epoll_wait batch.
 *
 * Broken framing (RESP protocol error) or an oversized request gets an error reply, then the
 * connection is closed once the reply is sent. Unknown commands and wrong arguments are
 * ordinary error replies: the connection stays usable.
 */
#define _GNU_SOURCE
#include "worker.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cask/cask.h"
#include "config.h"
#include "resp.h"

#define IN_MIN 16384 /* initial input buffer */

typedef struct kv_conn {
    int fd;
    char *in;
    size_t in_len, in_cap;
    kv_out out;
    unsigned events; /* the epoll interest currently registered */
    bool quit;       /* run no more requests: QUIT, protocol error, oversized request */
    bool eof;        /* read no more: the client closed its end, or the server stops */
    struct kv_conn *prev, *next; /* the worker's list */
} kv_conn;

typedef struct wstate {
    kv_worker *w;
    int ep;
    kv_ctx ctx;
    kv_conn *conns;
    size_t max_request, max_output;
    kv_arg args[KV_MAX_ARGS];
} wstate;

static void conn_free(wstate *s, kv_conn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    close(c->fd); /* also removes it from the epoll set */
    free(c->in);
    kv_out_free(&c->out);
    free(c);
}

/* Reads the configuration's limits into s. */
static void read_limits(wstate *s)
{
    cask_snap *cell = s->ctx.db->config;
    cask_snap_read_begin(cell);
    const kv_config *cfg = cask_snap_read(cell);
    s->max_request = cfg->max_request;
    s->max_output = cfg->max_output;
    cask_snap_read_end(cell);
}

/* Runs every complete request in c's input buffer while the reply buffer has room. */
static void process(wstate *s, kv_conn *c)
{
    size_t start = 0;
    while (!c->quit && kv_out_pending(&c->out) < s->max_output && !c->out.failed) {
        int argc = 0;
        size_t used = 0;
        const char *why = NULL;
        int rc = kv_parse(c->in + start, c->in_len - start, s->max_request, s->args, &argc,
                          &used, &why);
        if (rc == KV_PARSE_INCOMPLETE)
            break;
        if (rc == KV_PARSE_OK) {
            start += used;
            if (kv_execute(&s->ctx, s->args, argc, &c->out) == KV_CLOSE)
                c->quit = true;
        } else if (rc == KV_PARSE_EMPTY) {
            start += used;
        } else if (rc == KV_PARSE_TOO_LARGE) {
            kv_out_errorf(&c->out, "ERR request larger than max-request-bytes (%zu)",
                          s->max_request);
            c->quit = true;
        } else {
            kv_out_errorf(&c->out, "ERR %s", why);
            c->quit = true;
        }
    }
    if (start > 0) {
        memmove(c->in, c->in + start, c->in_len - start);
        c->in_len -= start;
    }
}

/* Sends what it can. Returns false if the connection failed (to be freed). */
static bool flush(kv_conn *c)
{
    if (c->out.failed)
        return false;
    while (kv_out_pending(&c->out) > 0) {
        ssize_t n = send(c->fd, c->out.p + c->out.off, kv_out_pending(&c->out), MSG_NOSIGNAL);
        if (n > 0) {
            c->out.off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
    c->out.off = c->out.len = 0;
    return true;
}

/* Reads once into c's input buffer. Returns bytes read, 0 at EOF, -1 on EAGAIN, -2 on error. */
static ssize_t read_some(wstate *s, kv_conn *c)
{
    /* Room for one more byte than the largest request, so an oversized one is always seen. */
    size_t limit = s->max_request + 1 > IN_MIN ? s->max_request + 1 : IN_MIN;
    if (c->in_len == c->in_cap) {
        size_t cap = c->in_cap ? 2 * c->in_cap : IN_MIN;
        if (cap > limit)
            cap = limit > c->in_cap ? limit : c->in_cap;
        if (cap == c->in_cap)
            return -1; /* full: process() must consume first (output back-pressure) */
        char *p = realloc(c->in, cap);
        if (p == NULL)
            return -2;
        c->in = p;
        c->in_cap = cap;
    }
    ssize_t n;
    do
        n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    while (n < 0 && errno == EINTR);
    if (n > 0)
        c->in_len += (size_t)n;
    else if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : -2;
    return n;
}

/* Registers the interest c needs now: replies pending => EPOLLOUT, else EPOLLIN. */
static bool rearm(wstate *s, kv_conn *c)
{
    unsigned want = kv_out_pending(&c->out) > 0 ? EPOLLOUT : EPOLLIN;
    if (want == c->events)
        return true;
    struct epoll_event ev = {.events = want, .data.ptr = c};
    if (epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        return false;
    c->events = want;
    return true;
}

/*
 * Runs c's complete requests and sends the replies, again while everything was sent and
 * requests remain (process() stops at max-output-bytes). Returns false if c must be freed now:
 * the socket failed, or it is done (QUIT, protocol error or end of input) with nothing left
 * to send.
 */
static bool serve(wstate *s, kv_conn *c)
{
    for (;;) {
        size_t before = c->in_len;
        process(s, c);
        if (!flush(c))
            return false;
        if (kv_out_pending(&c->out) > 0 || c->quit || c->in_len == before)
            break;
    }
    return kv_out_pending(&c->out) > 0 || !(c->quit || c->eof);
}

static void conn_event(wstate *s, kv_conn *c, unsigned events)
{
    if (events & EPOLLERR) {
        conn_free(s, c);
        return;
    }
    if (events & (EPOLLIN | EPOLLHUP)) {
        ssize_t n = read_some(s, c);
        if (n == -2) {
            conn_free(s, c);
            return;
        }
        if (n == 0)
            c->eof = true; /* answer what was sent, then close */
    }
    if (!serve(s, c) || !rearm(s, c))
        conn_free(s, c);
}

static void add_conn(wstate *s, kv_conn *c)
{
    c->events = EPOLLIN;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(s->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        perror("kvserver: epoll_ctl");
        close(c->fd);
        free(c);
        return;
    }
    c->next = s->conns;
    if (s->conns != NULL)
        s->conns->prev = c;
    s->conns = c;
    s->w->served++;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Shutdown: answer what every connection has already sent, send it, close. */
static void drain(wstate *s)
{
    read_limits(s);
    int64_t deadline = now_ms() + KV_DRAIN_MS;
    while (s->conns != NULL) {
        kv_conn *c = s->conns;
        /* Bytes already in the socket are in flight too: read until none is left. */
        for (;;) {
            ssize_t n = read_some(s, c);
            if (n == -2 || !serve(s, c))
                break;
            if (kv_out_pending(&c->out) == 0) {
                if (n <= 0 || now_ms() >= deadline)
                    break; /* all answered, nothing more arrived (or no more time) */
                continue;
            }
            int left = (int)(deadline - now_ms());
            struct pollfd p = {.fd = c->fd, .events = POLLOUT};
            if (left <= 0 || poll(&p, 1, left) <= 0)
                break; /* the client does not take its replies: give up at the deadline */
        }
        conn_free(s, c);
    }
}

static void *worker_main(void *arg)
{
    kv_worker *w = arg;
    wstate *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        cask_map_guard_acquire(w->db->map, &s->ctx.guard) != 0) {
        fprintf(stderr, "kvserver: worker %d cannot start\n", w->id);
        abort();
    }
    s->w = w;
    s->ctx.db = w->db;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(s->ep, EPOLL_CTL_ADD, w->wake_fd, &ev) != 0)
        abort();
    bool stopping = false;
    int reason = 0;
    struct epoll_event events[256];
    while (!stopping) {
        int n = epoll_wait(s->ep, events, 256, -1);
        if (n < 0 && errno != EINTR) {
            perror("kvserver: epoll_wait");
            abort();
        }
        read_limits(s); /* once per batch of events: a reload applies from the next batch */
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr != NULL) {
                conn_event(s, events[i].data.ptr, events[i].events);
                continue;
            }
            uint64_t count;
            if (read(w->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
                perror("kvserver: eventfd");
            /* Pop after resetting the eventfd: a push that we miss here writes it again. */
            void *item;
            int rc;
            while ((rc = cask_queue_try_pop(w->inbox, &item)) == 0)
                add_conn(s, item);
            if (rc == CASK_ECLOSED && cask_queue_closed(w->inbox, &reason))
                stopping = true;
        }
    }
    drain(s);
    fprintf(stderr, "kvserver: worker %d: inbox closed (reason: %s), requests in flight answered\n",
            w->id, reason == KV_STOP_SIGTERM ? "SIGTERM" : reason == KV_STOP_SIGINT ? "SIGINT" : "?");
    cask_map_guard_release(s->ctx.guard);
    close(s->ep);
    free(s);
    return NULL;
}

int kv_worker_start(kv_worker *w, int id, kv_db *db)
{
    memset(w, 0, sizeof(*w));
    w->id = id;
    w->db = db;
    if (cask_queue_create(&w->inbox) != 0)
        return -1;
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->wake_fd < 0) {
        cask_queue_destroy(w->inbox);
        return -1;
    }
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        close(w->wake_fd);
        cask_queue_destroy(w->inbox);
        return -1;
    }
    return 0;
}

static void wake(kv_worker *w)
{
    uint64_t one = 1;
    if (write(w->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        perror("kvserver: eventfd");
}

int kv_worker_hand(kv_worker *w, int fd)
{
    kv_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return CASK_ENOMEM;
    c->fd = fd;
    /* The push publishes *c to the worker (release; its pop acquires). */
    int rc = cask_queue_push(w->inbox, c);
    if (rc != 0) {
        free(c);
        return rc;
    }
    wake(w);
    return 0;
}

void kv_worker_stop(kv_worker *w, int reason)
{
    cask_queue_close(w->inbox, reason);
    wake(w);
}

void kv_worker_join(kv_worker *w)
{
    pthread_join(w->thread, NULL);
    cask_queue_destroy(w->inbox);
    close(w->wake_fd);
}
