/*
 * nh_pool.c: the client's threads: starting pool workers, growing the pool
 * while a backlog lasts, joining workers that retired when idle, direct-mode
 * threads, waking a worker for new work, queued deadlines, and close().
 *
 * Lock order: c->lock (thread lists) before queue.lock (queue, worker flags,
 * each worker's multi handle) before done.lock (completions).
 */
#include <stdio.h>
#include <stdlib.h>

#include "nh_internal.h"

/* With queue.lock held: one more pool thread. */
static int start_worker_locked(nh_client *c) {
  nh_worker *w = calloc(1, sizeof *w);
  if (!w) return -1;
  w->client = c;
  w->id = ++c->next_worker_id;
  w->capacity = c->opt.concurrency;
  if (pthread_create(&w->thread, NULL, nh_worker_main, w) != 0) {
    free(w);
    return -1;
  }
  w->started = 1;
  w->next = c->workers;
  c->workers = w;
  c->n_workers++;
  __atomic_add_fetch(&c->threads_created, 1, __ATOMIC_RELAXED);
  return 0;
}

int nh_client_start_worker(nh_client *c) {
  pthread_mutex_lock(&c->queue.lock);
  int rc = start_worker_locked(c);
  pthread_mutex_unlock(&c->queue.lock);
  return rc;
}

void nh_client_maybe_grow_locked(nh_client *c) {
  nh_queue *q = &c->queue;
  /* Grow only when every worker has all its transfer slots taken: a backlog
   * behind busy CPUs is not helped by more threads. */
  int room = q->idle_workers > q->wakes_pending;
  for (nh_worker *w = c->workers; w && !room; w = w->next)
    room = __atomic_load_n(&w->active, __ATOMIC_RELAXED) < w->capacity;
  if (q->length == 0 || room || q->closing) {
    c->backlog_since = 0;
    return;
  }
  double now = nh_now();
  if (c->backlog_since == 0) c->backlog_since = now;
  if (now - c->backlog_since < c->opt.grow_after || c->n_workers >= c->opt.max_workers) return;
  c->backlog_since = now;
  if (start_worker_locked(c) == 0)
    nh_log(&c->log, NH_LOG_DEBUG, 0, NULL, "pool grows to %d workers (backlog of %zu)",
           c->n_workers, q->length);
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

void nh_client_reap(nh_client *c, int all) {
  reap_list(c, &c->direct, all);
  reap_list(c, &c->retired, 1);             /* retired threads are on their way out */
}

nh_code nh_client_start_direct(nh_client *c, nh_job *job) {
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
void nh_client_wake_locked(nh_client *c) {
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
  pthread_mutex_lock(&c->lock);              /* lock order: c->lock, then queue.lock */
  pthread_mutex_lock(&c->queue.lock);
  for (nh_worker *w = c->direct; w; w = w->next)
    if (w->multi) curl_multi_wakeup(w->multi);
  pthread_mutex_unlock(&c->queue.lock);
  pthread_mutex_unlock(&c->lock);
  while ((job = queued)) {
    queued = job->next;
    for (size_t i = 0; i < job->msg.n_targets; i++)
      nh_result_set(&job->results[i], NH_CLOSED, "client closed before the message was sent");
    job->code = NH_CLOSED;
    nh_client_finish(c, job);
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
  nh_client_reap(c, 1);
  pthread_mutex_lock(&c->queue.lock);
  c->n_workers = 0;
  pthread_mutex_unlock(&c->queue.lock);
}

int nh_client_close_begin(nh_client *c) {
  if (c->closed_flag || !c->ready) return 0;
  c->closed_flag = 1;
  if (nh_client_forked(c)) return 0;                    /* a forked copy has no threads */
  c->closed_before = __atomic_load_n(&c->closed, __ATOMIC_RELAXED);
  __atomic_store_n(&c->closing, 1, __ATOMIC_RELEASE);   /* failures: log every one */
  pthread_mutex_lock(&c->queue.lock);
  c->queue.closing = 1;
  pthread_cond_broadcast(&c->queue.not_full);
  pthread_cond_broadcast(&c->queue.not_empty);
  pthread_mutex_unlock(&c->queue.lock);
  return 1;
}

size_t nh_client_close_end(nh_client *c, double deadline) {
  wait_outstanding(c, deadline);
  pthread_mutex_lock(&c->done.lock);
  size_t left = c->outstanding;
  pthread_mutex_unlock(&c->done.lock);
  if (left > 0) cut_off(c);
  join_workers(c);
  return (size_t)(__atomic_load_n(&c->closed, __ATOMIC_RELAXED) - c->closed_before);
}

size_t nh_client_close(nh_client *c, double timeout) {
  if (!nh_client_close_begin(c)) return 0;
  return nh_client_close_end(c, nh_now() + (timeout > 0 ? timeout : 0));
}


double nh_client_expire_locked(nh_client *c, double cap) {
  nh_queue *q = &c->queue;
  nh_job *job;
  double now = nh_now();
  while ((job = nh_queue_first_deadline_locked(q)) && job->deadline <= now) {
    nh_queue_remove_locked(q, job);
    pthread_mutex_unlock(&q->lock);
    for (size_t i = 0; i < job->msg.n_targets; i++) {
      nh_result_set(&job->results[i], NH_TIMEOUT, "the message's deadline passed while it was queued");
      nh_client_record_latency(c, job->msg.targets[i].platform, (now - job->submitted_at) * 1000.0);
    }
    job->code = NH_TIMEOUT;
    nh_client_finish(c, job);
    pthread_mutex_lock(&q->lock);
  }
  if (job && job->deadline - now < cap) cap = job->deadline - now;
  return cap;
}
