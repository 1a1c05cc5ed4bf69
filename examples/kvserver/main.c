/*
 * main.c: kvserver, a small Redis-protocol key-value server built on a vendored copy of cask.
 *
 *   kvserver [--port N] [--workers N] [--config FILE]
 *
 * Threads: this one (the acceptor) owns the listening socket and the signals; N workers
 * (worker.h) serve the connections. The acceptor hands each accepted socket to the next worker
 * in turn through that worker's inbox, a cask queue. The keyspace is a cask map shared by the
 * workers (commands.h); the configuration is a cask snapshot (config.h) that SIGHUP reloads from
 * FILE while the workers go on serving. SIGTERM (or SIGINT) stops accepting, closes every inbox
 * with the signal as its reason, waits for the workers to answer the requests already received,
 * and exits 0.
 *
 * Signals are blocked in every thread and read from a signalfd by the acceptor, so no code runs
 * in a signal handler. Listens on 127.0.0.1 only; --port 0 takes any free port. The first line
 * on stdout is "kvserver: listening on 127.0.0.1:PORT ...".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cask/cask.h"
#include "commands.h"
#include "config.h"
#include "worker.h"

#define MAX_WORKERS 64

static void usage(FILE *f)
{
    fprintf(f, "usage: kvserver [--port N] [--workers N] [--config FILE]\n"
               "  --port N      TCP port on 127.0.0.1 (default 6380; 0: any free port)\n"
               "  --workers N   worker threads, 1..%d (default 2)\n"
               "  --config FILE configuration file, reloaded on SIGHUP (see kvserver.conf)\n",
            MAX_WORKERS);
}

static int listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 511) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Parses the file into a new version and publishes it; on any error keeps the current one. */
static void reload(kv_db *db, const char *path)
{
    cask_snap_read_begin(db->config);
    const kv_config *cur = cask_snap_read(db->config);
    kv_config base = *cur; /* this thread is the only writer: cur stays current */
    cask_snap_read_end(db->config);
    kv_config *next = malloc(sizeof(*next));
    char err[300];
    if (next == NULL) {
        fprintf(stderr, "kvserver: reload: out of memory; configuration unchanged\n");
        return;
    }
    kv_config_defaults(next);
    next->port = base.port;
    next->workers = base.workers;
    next->generation = base.generation + 1;
    if (kv_config_parse_file(path, next, err, sizeof(err)) != 0) {
        fprintf(stderr, "kvserver: reload refused: %s; configuration unchanged\n", err);
        free(next);
        return;
    }
    if (cask_snap_publish(db->config, next) != 0) {
        fprintf(stderr, "kvserver: reload: out of memory; configuration unchanged\n");
        free(next);
        return;
    }
    fprintf(stderr, "kvserver: configuration reloaded from %s (generation %lu)\n", path,
            next->generation);
}

int main(int argc, char **argv)
{
    int port = 6380, nworkers = 2;
    const char *config_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end != '\0' || v < 0 || v > 65535) {
                fprintf(stderr, "kvserver: bad port '%s'\n", argv[i]);
                return 2;
            }
            port = (int)v;
        } else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end != '\0' || v < 1 || v > MAX_WORKERS) {
                fprintf(stderr, "kvserver: --workers must be 1..%d\n", MAX_WORKERS);
                return 2;
            }
            nworkers = (int)v;
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config_path = argv[++i];
        } else {
            usage(stderr);
            return 2;
        }
    }

    kv_config *cfg = malloc(sizeof(*cfg));
    if (cfg == NULL)
        return 1;
    kv_config_defaults(cfg);
    char err[300];
    if (config_path != NULL && kv_config_parse_file(config_path, cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "kvserver: %s\n", err);
        return 2;
    }

    /* Every thread inherits this mask: the signals are read from the signalfd only. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
    int lfd = listen_on(port);
    if (sfd < 0 || lfd < 0) {
        fprintf(stderr, "kvserver: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
        return 1;
    }
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    getsockname(lfd, (struct sockaddr *)&a, &alen);
    port = ntohs(a.sin_port);
    cfg->port = port;
    cfg->workers = nworkers;
    cfg->generation = 1;

    kv_db db;
    cask_map_options mo = {.key_kind = CASK_MAP_KEY_BYTES, .dtor = free, .initial_capacity = 1024};
    int rc = cask_map_create(&db.map, &mo);
    if (rc == 0 && (rc = cask_snap_create(cfg, free, &db.config)) != 0)
        cask_map_destroy(db.map);
    if (rc != 0) {
        fprintf(stderr, "kvserver: %s\n", cask_strerror(rc));
        return 1;
    }
    static kv_worker workers[MAX_WORKERS];
    for (int i = 0; i < nworkers; i++) {
        if (kv_worker_start(&workers[i], i, &db) != 0) {
            fprintf(stderr, "kvserver: cannot start worker %d\n", i);
            return 1;
        }
    }
    printf("kvserver: listening on 127.0.0.1:%d with %d workers\n", port, nworkers);
    fflush(stdout);

    int stop = 0, next = 0;
    while (!stop) {
        struct pollfd p[2] = {{.fd = lfd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            perror("kvserver: poll");
            break;
        }
        if (p[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (si.ssi_signo == SIGHUP) {
                    if (config_path != NULL)
                        reload(&db, config_path);
                    else
                        fprintf(stderr, "kvserver: SIGHUP without --config: nothing to reload\n");
                } else {
                    stop = si.ssi_signo == SIGTERM ? KV_STOP_SIGTERM : KV_STOP_SIGINT;
                }
            }
        }
        /* On stop, the connections already in the backlog are taken too: their clients may
         * have sent requests, which count as in flight. */
        if (stop || (p[0].revents & POLLIN)) {
            for (;;) {
                int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0)
                    break; /* EAGAIN, or a connection that died before we took it */
                int one = 1;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                if (kv_worker_hand(&workers[next], fd) != 0)
                    close(fd);
                next = (next + 1) % nworkers;
            }
        }
    }

    close(lfd);
    for (int i = 0; i < nworkers; i++)
        kv_worker_stop(&workers[i], stop);
    unsigned long served = 0;
    for (int i = 0; i < nworkers; i++) {
        kv_worker_join(&workers[i]);
        served += workers[i].served;
    }
    cask_map_destroy(db.map);
    cask_snap_destroy(db.config);
    cask_snap_barrier();
    close(sfd);
    fprintf(stderr, "kvserver: stopped by %s after %lu connections\n",
            stop == KV_STOP_SIGTERM ? "SIGTERM" : "SIGINT", served);
    return 0;
}
