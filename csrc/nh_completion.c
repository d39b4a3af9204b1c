/*
 * nh_completion.c: finished jobs on their way back to the owner thread.
 *
 * Workers append under a mutex and write the eventfd (a pipe where there is
 * none) only when the list goes from empty to non-empty. The owner clears
 * the fd before it takes records, so a record pushed after the take always
 * leaves the fd readable again: a poll loop on nh_client_fd() never misses
 * one.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

#include "nh_internal.h"

int nh_completions_init(nh_completions *cq) {
  cq->head = cq->tail = NULL;
  cq->length = 0;
  cq->waker_listen = cq->waker_fd = -1;
  cq->waker_armed = 0;
  cq->fd_unused = 0;
  cq->waker_path[0] = '\0';
#ifdef __linux__
  cq->fd_read = cq->fd_write = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (cq->fd_read < 0) return -1;
#else
  int fds[2];
  if (pipe(fds) != 0) return -1;
  for (int i = 0; i < 2; i++) {
    fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
    fcntl(fds[i], F_SETFD, FD_CLOEXEC);
  }
  cq->fd_read = fds[0];
  cq->fd_write = fds[1];
#endif
  return pthread_mutex_init(&cq->lock, NULL) ? -1 : 0;
}

void nh_completions_destroy(nh_completions *cq) {
  nh_waker_destroy(cq);
  close(cq->fd_read);
  if (cq->fd_write != cq->fd_read) close(cq->fd_write);
  pthread_mutex_destroy(&cq->lock);
}

void nh_completions_signal_locked(nh_completions *cq) {
  if (cq->fd_unused) return;
  uint64_t one = 1;
  ssize_t n;
  do n = write(cq->fd_write, &one, cq->fd_write == cq->fd_read ? sizeof one : 1);
  while (n < 0 && errno == EINTR);
  /* EAGAIN: already readable, which is all we need. */
}

static void clear_fd(nh_completions *cq) {
  uint64_t buf[16];
  if (__atomic_load_n(&cq->fd_unused, __ATOMIC_RELAXED)) return;
  while (read(cq->fd_read, buf, sizeof buf) > 0) {}
}

void nh_completions_push_locked(nh_completions *cq, nh_job *job) {
  job->next = NULL;
  int was_empty = cq->head == NULL;
  if (cq->tail) cq->tail->next = job;
  else cq->head = job;
  cq->tail = job;
  cq->length++;
  if (was_empty) nh_completions_signal_locked(cq);
  nh_waker_push_locked(cq);
}

size_t nh_completions_take(nh_completions *cq, nh_job **out, size_t max) {
  size_t n = 0;
  clear_fd(cq);
  pthread_mutex_lock(&cq->lock);
  while (n < max && cq->head) {
    nh_job *job = cq->head;
    cq->head = job->next;
    job->next = NULL;
    out[n++] = job;
  }
  if (!cq->head) cq->tail = NULL;
  cq->length -= n;
  if (cq->head) nh_completions_signal_locked(cq); /* more left: stay readable */
  pthread_mutex_unlock(&cq->lock);
  return n;
}

void nh_completions_want_fd(nh_completions *cq) {
  pthread_mutex_lock(&cq->lock);
  if (cq->fd_unused) {
    __atomic_store_n(&cq->fd_unused, 0, __ATOMIC_RELAXED);
    if (cq->head) nh_completions_signal_locked(cq);
  }
  pthread_mutex_unlock(&cq->lock);
}

int nh_completions_wait(nh_completions *cq, double timeout) {
  nh_completions_want_fd(cq);
  pthread_mutex_lock(&cq->lock);
  int ready = cq->head != NULL;
  pthread_mutex_unlock(&cq->lock);
  if (ready) return 1;
  struct pollfd p = { .fd = cq->fd_read, .events = POLLIN };
  int ms = !(timeout >= 0 && timeout < 2e6) ? -1 : (int)(timeout * 1000.0 + 0.999);
  int rc;
  do rc = poll(&p, 1, ms);
  while (rc < 0 && errno == EINTR);
  return rc > 0;
}

size_t nh_completions_purge(nh_completions *cq) {
  size_t n = 0;
  pthread_mutex_lock(&cq->lock);
  nh_job **link = &cq->head, *last = NULL;
  while (*link) {
    nh_job *job = *link;
    if (__atomic_load_n(&job->detached, __ATOMIC_ACQUIRE)) {
      *link = job->next;
      nh_job_release(job);
      n++; /* the caller counts them dropped */
    } else {
      last = job;
      link = &job->next;
    }
  }
  cq->tail = last;
  cq->length -= n;
  pthread_mutex_unlock(&cq->lock);
  return n;
}
