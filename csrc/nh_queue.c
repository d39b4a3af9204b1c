/*
 * nh_queue.c: the bounded submission queue between the owner thread and the
 * workers, under one mutex.
 *
 * One FIFO per priority: urgent and high go before normal and low, and a job
 * that has waited longer than `aging` seconds goes first whatever its class,
 * so low jobs are never starved. Jobs with a deadline also sit in a min-heap
 * on it, so that the one due first can be found (and removed from the middle
 * of its list) when it expires while still queued. Submitters wait on
 * not_full for at most async.timeout; idle workers wait on not_empty.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nh_internal.h"

int nh_queue_init(nh_queue *q, size_t capacity, double aging) {
  memset(q, 0, sizeof *q);
  q->capacity = capacity;
  q->aging = aging;
  if (pthread_mutex_init(&q->lock, NULL) != 0) return -1;
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  int rc = pthread_cond_init(&q->not_empty, &attr) | pthread_cond_init(&q->not_full, &attr);
  pthread_condattr_destroy(&attr);
  return rc ? -1 : 0;
}

void nh_queue_destroy(nh_queue *q) {
  free(q->heap);
  pthread_cond_destroy(&q->not_empty);
  pthread_cond_destroy(&q->not_full);
  pthread_mutex_destroy(&q->lock);
}

/* ---- deadline heap ------------------------------------------------------ */

static void heap_swap(nh_queue *q, int a, int b) {
  nh_job *t = q->heap[a];
  q->heap[a] = q->heap[b];
  q->heap[b] = t;
  q->heap[a]->heap_index = a;
  q->heap[b]->heap_index = b;
}

static void heap_up(nh_queue *q, int i) {
  while (i > 0 && q->heap[(i - 1) / 2]->deadline > q->heap[i]->deadline) {
    heap_swap(q, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
}

static void heap_down(nh_queue *q, int i) {
  for (;;) {
    int l = 2 * i + 1, r = l + 1, m = i;
    if (l < q->heap_len && q->heap[l]->deadline < q->heap[m]->deadline) m = l;
    if (r < q->heap_len && q->heap[r]->deadline < q->heap[m]->deadline) m = r;
    if (m == i) return;
    heap_swap(q, i, m);
    i = m;
  }
}

/* Room for `more` jobs beyond those in the heap. */
static int heap_reserve(nh_queue *q, size_t more) {
  if (more > (size_t)(INT_MAX / 2 - q->heap_len)) return -1;
  int need = q->heap_len + (int)more, cap = q->heap_cap ? q->heap_cap : 64;
  if (need <= q->heap_cap) return 0;
  while (cap < need) cap *= 2;
  nh_job **h = realloc(q->heap, (size_t)cap * sizeof *h);
  if (!h) return -1;
  q->heap = h;
  q->heap_cap = cap;
  return 0;
}

int nh_queue_reserve_locked(nh_queue *q, size_t n) { return heap_reserve(q, n); }

static int heap_push(nh_queue *q, nh_job *job) {
  if (heap_reserve(q, 1) != 0) return -1;
  job->heap_index = q->heap_len;
  q->heap[q->heap_len++] = job;
  heap_up(q, job->heap_index);
  return 0;
}

static void heap_remove(nh_queue *q, nh_job *job) {
  int i = job->heap_index;
  if (i < 0) return;
  job->heap_index = -1;
  if (i == --q->heap_len) return;
  q->heap[i] = q->heap[q->heap_len];
  q->heap[i]->heap_index = i;
  heap_up(q, i);
  heap_down(q, q->heap[i]->heap_index);
}

/* ---- lists -------------------------------------------------------------- */

int nh_queue_append_locked(nh_queue *q, nh_job *job) {
  int p = job->msg.priority & 3;
  job->heap_index = -1;
  if (job->deadline > 0 && heap_push(q, job) != 0) return -1;
  job->next = NULL;
  job->prev = q->tail[p];
  if (q->tail[p]) q->tail[p]->next = job;
  else q->head[p] = job;
  q->tail[p] = job;
  q->length++;
  job->in_queue = 1;
  return 0;
}

/* Whether job is in the queue now (a worker or the deadline sweep may have
 * taken it out a moment ago). */
int nh_queue_contains_locked(const nh_queue *q, const nh_job *job) {
  (void)q;
  return job->in_queue;
}

/* Takes job out of its list and the heap, wherever it is. */
void nh_queue_remove_locked(nh_queue *q, nh_job *job) {
  int p = job->msg.priority & 3;
  if (job->prev) job->prev->next = job->next;
  else q->head[p] = job->next;
  if (job->next) job->next->prev = job->prev;
  else q->tail[p] = job->prev;
  job->next = job->prev = NULL;
  job->in_queue = 0;
  heap_remove(q, job);
  q->length--;
  pthread_cond_signal(&q->not_full);
}

/* The job to run next: the oldest one past the aging limit, else the head
 * of the highest non-empty class. */
nh_job *nh_queue_pop_locked(nh_queue *q) {
  if (q->length == 0) return NULL;
  double now = nh_now();
  nh_job *pick = NULL;
  for (int p = NH_PRIORITY_URGENT; p >= NH_PRIORITY_LOW; p--) {
    nh_job *head = q->head[p];
    if (!head) continue;
    if (!pick) pick = head; /* the highest class */
    else if (now - head->enqueued_at > q->aging && head->enqueued_at < pick->enqueued_at)
      pick = head; /* waited too long */
  }
  nh_queue_remove_locked(q, pick);
  return pick;
}

/* The queued job whose deadline comes first, or NULL. */
nh_job *nh_queue_first_deadline_locked(nh_queue *q) { return q->heap_len ? q->heap[0] : NULL; }

static struct timespec deadline_after(double seconds) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  double whole = floor(seconds);
  ts.tv_sec += (time_t)whole;
  ts.tv_nsec += (long)((seconds - whole) * 1e9);
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  return ts;
}

/* A wait longer than a year (or an infinite one) has no deadline. */
int nh_queue_timedwait(pthread_cond_t *cond, pthread_mutex_t *lock, double seconds) {
  if (!(seconds < 3.2e7)) return pthread_cond_wait(cond, lock);
  struct timespec until = deadline_after(seconds > 0 ? seconds : 0);
  return pthread_cond_timedwait(cond, lock, &until);
}

nh_code nh_queue_wait_room_locked(nh_queue *q, size_t n, double timeout) {
  double until = nh_now() + (timeout > 0 ? timeout : 0); /* inf stays inf */
  for (;;) {
    if (q->closing) return NH_CLOSED;
    if (q->length + q->reserved + n <= q->capacity) return NH_OK;
    double left = until - nh_now();
    if (left <= 0 || n > q->capacity) return NH_QUEUE_FULL;
    nh_queue_timedwait(&q->not_full, &q->lock, left);
  }
}
