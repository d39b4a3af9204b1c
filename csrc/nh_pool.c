/*
 * nh_pool.c: the client's threads as the owner sees them: starting the
 * pool's first workers, direct-mode threads, joining threads that returned
 * or retired, waking a worker for new work, and close(). (A worker starts
 * another itself when a backlog lasts: nh_worker_grow_locked.)
 *
 * Lock order: c->lock (thread lists) before queue.lock (queue, worker flags,
 * each worker's multi handle) before done.lock (completions).
 */
#include <stdio.h>
#include <stdlib.h>

#include "nh_internal.h"

int nh_pool_start_worker(nh_client *c) {
  pthread_mutex_lock(&c->queue.lock);
  int rc = nh_worker_start_locked(c);
  pthread_mutex_unlock(&c->queue.lock);
  return rc;
}

/* Joins the threads of one list (under c->lock) that have returned, or all. */
static void reap_list(nh_client *c, nh_worker **list, int all) {
  pthread_mutex_lock(&c->lock);
  nh_worker **link = list;
  while (*link) {
    nh_worker *w = *link;
    if (!all && !w->finished && !w->retiring) {
      link = &w->next;
      continue;
    }
    *link = w->next;
    pthread_mutex_unlock(&c->lock);
    pthread_join(w->thread, NULL);
    free(w);
    pthread_mutex_lock(&c->lock);
    link = list;
  }
  pthread_mutex_unlock(&c->lock);
}

void nh_pool_reap(nh_client *c, int all) {
  reap_list(c, &c->direct, all);
  reap_list(c, &c->retired, 1); /* retired threads are on their way out */
}

nh_code nh_pool_start_direct(nh_client *c, nh_job *job) {
  nh_worker *w = calloc(1, sizeof *w);
  if (!w) return NH_NO_MEMORY;
  w->client = c;
  w->own_job = job;
  w->capacity = (int)(job->msg.n_targets ? job->msg.n_targets : 1);
  pthread_mutex_lock(&c->lock);
  w->id = ++c->next_worker_id;
  int rc = pthread_create(&w->thread, NULL, nh_worker_main, w);
  if (rc == 0) {
    w->next = c->direct;
    c->direct = w;
  }
  pthread_mutex_unlock(&c->lock);
  if (rc != 0) {
    free(w);
    return NH_INTERNAL;
  }
  __atomic_add_fetch(&c->threads_created, 1, __ATOMIC_RELAXED);
  return NH_OK;
}

/* Wakes one worker for a new job: an idle one not already signalled, else
 * one polling its transfers with room for more. */
void nh_pool_wake_locked(nh_client *c) {
  nh_queue *q = &c->queue;
  if (q->idle_workers > q->wakes_pending) {
    q->wakes_pending++;
    pthread_cond_signal(&q->not_empty);
    return;
  }
  for (nh_worker *w = c->workers; w; w = w->next) {
    if (w->wants_work && w->multi) {
      w->wants_work = 0;
      curl_multi_wakeup(w->multi);
      return;
    }
  }
}


/* ---- close -------------------------------------------------------------- */

static void wait_outstanding(nh_client *c, double deadline) {
  pthread_mutex_lock(&c->done.lock);
  while (c->outstanding > 0) {
    double left = deadline - nh_now();
    if (left <= 0) break;
    nh_queue_timedwait(&c->idle, &c->done.lock, left);
  }
  pthread_mutex_unlock(&c->done.lock);
}

/* The deadline passed: queued jobs end here, in-flight ones in their worker. */
static void cut_off(nh_client *c) {
  nh_job *queued = NULL, **tail = &queued, *job;
  pthread_mutex_lock(&c->queue.lock);
  c->queue.aborting = 1;
  while ((job = nh_queue_pop_locked(&c->queue))) {
    *tail = job;
    tail = &job->next;
  }
  pthread_cond_broadcast(&c->queue.not_empty);
  for (nh_worker *w = c->workers; w; w = w->next)
    if (w->multi) curl_multi_wakeup(w->multi);
  pthread_mutex_unlock(&c->queue.lock);
  pthread_mutex_lock(&c->lock); /* lock order: c->lock, then queue.lock */
  pthread_mutex_lock(&c->queue.lock);
  for (nh_worker *w = c->direct; w; w = w->next)
    if (w->multi) curl_multi_wakeup(w->multi);
  pthread_mutex_unlock(&c->queue.lock);
  pthread_mutex_unlock(&c->lock);
  while ((job = queued)) {
    queued = job->next;
    nh_finish_fail(c, job, NH_CLOSED, "client closed before the message was sent");
  }
}

static void join_workers(nh_client *c) {
  nh_worker *w;
  pthread_mutex_lock(&c->queue.lock);
  nh_worker *all = c->workers;
  c->workers = NULL;
  pthread_mutex_unlock(&c->queue.lock);
  while ((w = all)) {
    all = w->next;
    if (w->started) pthread_join(w->thread, NULL);
    free(w);
  }
  nh_pool_reap(c, 1);
  pthread_mutex_lock(&c->queue.lock);
  c->n_workers = 0;
  pthread_mutex_unlock(&c->queue.lock);
}

int nh_pool_close_begin(nh_client *c) {
  if (c->closed_flag || !c->ready) return 0;
  c->closed_flag = 1;
  if (nh_fork_since(c->fork_generation)) return 0; /* a forked copy has no threads */
  c->closed_before = __atomic_load_n(&c->closed, __ATOMIC_RELAXED);
  __atomic_store_n(&c->closing, 1, __ATOMIC_RELEASE); /* failures: log every one */
  pthread_mutex_lock(&c->queue.lock);
  c->queue.closing = 1;
  pthread_cond_broadcast(&c->queue.not_full);
  pthread_cond_broadcast(&c->queue.not_empty);
  pthread_mutex_unlock(&c->queue.lock);
  return 1;
}

size_t nh_pool_close_end(nh_client *c, double deadline) {
  wait_outstanding(c, deadline);
  pthread_mutex_lock(&c->done.lock);
  size_t left = c->outstanding;
  pthread_mutex_unlock(&c->done.lock);
  if (left > 0) cut_off(c);
  join_workers(c);
  return (size_t)(__atomic_load_n(&c->closed, __ATOMIC_RELAXED) - c->closed_before);
}
