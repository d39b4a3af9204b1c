/*
 * nh_waker.c: a unix stream socket that wakes an event loop which cannot
 * watch an arbitrary fd, only connect to a socket by path (lua-nginx-module
 * cosockets). The owner listens on a fresh path in a private directory,
 * connects to it from its event loop, and the core accepts that one
 * connection and removes the path at once. From then on a worker that
 * pushes a completion writes one byte to it, but only when the owner has
 * armed it just before going to sleep: a busy owner costs no syscall.
 *
 * The armed flag is read and written under the completion lock, the same
 * lock that pushes take, so a record pushed after the owner armed always
 * finds it armed, and one pushed before is seen by the owner's check.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "nh_internal.h"

static void waker_close_listener(nh_completions *cq) {
  if (cq->waker_listen >= 0) close(cq->waker_listen);
  cq->waker_listen = -1;
  if (cq->waker_path[0]) {
    unlink(cq->waker_path);
    char *slash = strrchr(cq->waker_path, '/');
    if (slash) *slash = '\0';
    rmdir(cq->waker_path);
    cq->waker_path[0] = '\0';
  }
}

static int waker_bind(nh_completions *cq, const char *dir) {
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int n = snprintf(addr.sun_path, sizeof addr.sun_path, "%s/w", dir);
  if (n < 0 || (size_t)n >= sizeof addr.sun_path) return -1;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 1) != 0) {
    close(fd);
    return -1;
  }
  cq->waker_listen = fd;
  memcpy(cq->waker_path, addr.sun_path, (size_t)n + 1);
  return 0;
}

int nh_client_waker_listen(nh_client *c, char *path, size_t len) {
  nh_completions *cq = &c->done;
  if (nh_fork_since(c->fork_generation) || c->closed_flag) return -1;
  waker_close_listener(cq);
  const char *tmp = getenv("TMPDIR");
  char dir[96];
  int n = snprintf(dir, sizeof dir, "%s/notifyhub-XXXXXX",
                   tmp && *tmp && strlen(tmp) < 60 ? tmp : "/tmp");
  if (n < 0 || (size_t)n >= sizeof dir || !mkdtemp(dir)) return -1;
  if (waker_bind(cq, dir) != 0) {
    rmdir(dir);
    return -1;
  }
  if (strlen(cq->waker_path) >= len) {
    waker_close_listener(cq);
    return -1;
  }
  strcpy(path, cq->waker_path);
  return 0;
}

int nh_client_waker_accept(nh_client *c) {
  nh_completions *cq = &c->done;
  if (cq->waker_listen < 0) return -1;
  int fd = accept4(cq->waker_listen, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  waker_close_listener(cq);
  if (fd < 0) return -1;
  pthread_mutex_lock(&cq->lock);
  if (cq->waker_fd >= 0) close(cq->waker_fd);
  cq->waker_fd = fd;
  cq->waker_armed = 0;
  /* The owner sleeps on the waker now: the eventfd costs a write per batch
   * and a read per take that nobody needs, until someone asks for it. */
  __atomic_store_n(&cq->fd_unused, 1, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&cq->lock);
  return 0;
}

static void waker_write(nh_completions *cq) {
  ssize_t n;
  do n = write(cq->waker_fd, "!", 1);
  while (n < 0 && errno == EINTR);
  /* EAGAIN: the owner has bytes to read already, which is all it needs. */
}

void nh_waker_push_locked(nh_completions *cq) {
  if (cq->waker_armed && cq->waker_fd >= 0) {
    cq->waker_armed = 0;
    waker_write(cq);
  }
}

int nh_client_waker_arm(nh_client *c) {
  nh_completions *cq = &c->done;
  pthread_mutex_lock(&cq->lock);
  int sleep = cq->head == NULL && cq->waker_fd >= 0;
  cq->waker_armed = sleep;
  pthread_mutex_unlock(&cq->lock);
  return sleep;
}

void nh_client_wake(nh_client *c) {
  nh_completions *cq = &c->done;
  if (nh_fork_since(c->fork_generation)) return;
  pthread_mutex_lock(&cq->lock);
  if (cq->waker_fd >= 0) {
    cq->waker_armed = 0;
    waker_write(cq);
  }
  pthread_mutex_unlock(&cq->lock);
}

void nh_waker_destroy(nh_completions *cq) {
  waker_close_listener(cq);
  if (cq->waker_fd >= 0) close(cq->waker_fd);
  cq->waker_fd = -1;
}
