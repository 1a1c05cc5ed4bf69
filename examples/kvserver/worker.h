/*
 * worker.h: kvserver's worker threads. Each worker serves its own set of connections with
 * epoll; new connections reach it through its inbox, a cask queue that the acceptor thread
 * pushes to (then it bumps the worker's eventfd, which is in the worker's epoll set).
 *
 * Shutdown: the acceptor closes every inbox with a reason (kv_worker_stop). A worker that pops
 * CASK_ECLOSED has already received every connection the acceptor handed it (the queue
 * delivers what it accepted before the close); it then answers the requests its connections
 * have already sent, sends the replies (waiting at most KV_DRAIN_MS for slow readers), closes
 * the connections and exits.
 *
 * Threads: kv_worker_start/hand/stop/join are called by the acceptor thread only; everything
 * else runs on the worker's own thread. A connection belongs to one worker from the pop on.
 */
#ifndef KV_WORKER_H
#define KV_WORKER_H

#include <pthread.h>

#include "cask/queue.h"
#include "commands.h"

/* The longest a stopping worker waits for clients to take their last replies. */
#define KV_DRAIN_MS 2000

/* Close reasons of the inboxes. */
enum { KV_STOP_SIGTERM = 1, KV_STOP_SIGINT = 2 };

typedef struct kv_worker {
    int id;
    kv_db *db;
    cask_queue *inbox; /* kv_conn * from the acceptor */
    int wake_fd;       /* eventfd: written after each push and after the close */
    pthread_t thread;
    unsigned long served; /* connections served (read after join) */
} kv_worker;

/* Creates the inbox, the eventfd and the thread. Returns 0, or -1 with errno-style message
 * printed. */
int kv_worker_start(kv_worker *w, int id, kv_db *db);

/* Hands the accepted socket fd to w. Returns 0; a negative CASK_E* code if the inbox refused it
 * (the caller still owns fd). */
int kv_worker_hand(kv_worker *w, int fd);

/* Closes w's inbox with reason and wakes it. */
void kv_worker_stop(kv_worker *w, int reason);

/* Waits for w's thread to exit and frees its inbox and eventfd. */
void kv_worker_join(kv_worker *w);

#endif
