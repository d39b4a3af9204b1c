/*
 * nh_queue.c: the bounded submission queue between the owner thread and the
 * workers. A FIFO under one mutex: submitters wait on not_full (for at most
 * async.timeout), idle workers wait on not_empty.
 */
#include <errno.h>
#include <math.h>
#include <time.h>

#include "nh_internal.h"

int nh_queue_init(nh_queue *q, size_t capacity) {
  q->head = q->tail = NULL;
  q->length = q->reserved = 0;
  q->capacity = capacity;
  q->closing = q->aborting = 0;
  if (pthread_mutex_init(&q->lock, NULL) != 0) return -1;
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  int rc = pthread_cond_init(&q->not_empty, &attr) | pthread_cond_init(&q->not_full, &attr);
  pthread_condattr_destroy(&attr);
  return rc ? -1 : 0;
}

void nh_queue_destroy(nh_queue *q) {
  pthread_cond_destroy(&q->not_empty);
  pthread_cond_destroy(&q->not_full);
  pthread_mutex_destroy(&q->lock);
}

void nh_queue_append_locked(nh_queue *q, nh_job *job) {
  job->next = NULL;
  if (q->tail) q->tail->next = job;
  else q->head = job;
  q->tail = job;
  q->length++;
}

nh_job *nh_queue_pop_locked(nh_queue *q) {
  nh_job *job = q->head;
  if (!job) return NULL;
  q->head = job->next;
  if (!q->head) q->tail = NULL;
  job->next = NULL;
  q->length--;
  pthread_cond_signal(&q->not_full);
  return job;
}

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

nh_code nh_queue_wait_room_locked(nh_queue *q, double timeout) {
  struct timespec until = deadline_after(timeout > 0 ? timeout : 0);
  for (;;) {
    if (q->closing) return NH_CLOSED;
    if (q->length + q->reserved < q->capacity) return NH_OK;
    if (timeout <= 0) return NH_QUEUE_FULL;
    if (pthread_cond_timedwait(&q->not_full, &q->lock, &until) == ETIMEDOUT) {
      if (q->closing) return NH_CLOSED;
      return q->length + q->reserved < q->capacity ? NH_OK : NH_QUEUE_FULL;
    }
  }
}
