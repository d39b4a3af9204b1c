/*
 * nh_client.c: the client: options, the libcurl share handle, starting the
 * pool, submitting jobs, handing completions back, stats and close.
 *
 * Locks: queue.lock guards the submission queue and the workers' wake-up
 * flags; client->lock guards the direct-mode thread list and the count of
 * outstanding jobs that close() waits on. Counters are atomics. Neither lock
 * is held while calling into libcurl's transfers.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nh_internal.h"

#define LOG_CAPACITY 4096
#define PURGE_AFTER 256       /* detaches, and unread records, before a purge */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

/* Bumped in the child after fork(): a client made before it refuses to
 * send (its threads do not exist there). Cheaper than getpid() per submit. */
static volatile unsigned nh_fork_generation;

static void after_fork_in_child(void) { nh_fork_generation++; }

static void init_curl(void) {
  curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  pthread_atfork(NULL, NULL, after_fork_in_child);
}

static int forked(const nh_client *c) { return c->fork_generation != nh_fork_generation; }

const char *nh_curl_version(void) {
  return curl_version_info(CURLVERSION_NOW)->version;
}

void nh_options_default(nh_options *o) {
  memset(o, 0, sizeof *o);
  o->enabled = 1;
  o->use_pool = 1;
  o->workers = 4;
  o->min_workers = 1;
  o->max_workers = 16;
  o->buffer_size = 1000;
  o->queue_timeout = 0;
  o->concurrency = 32;
  o->timeout_ms = 10000;
  o->connect_timeout_ms = 5000;
  o->verify_tls = 1;
  o->max_response = 1024 * 1024;
  o->log_level = NH_LOG_WARN;
}

/* ---- libcurl share handle: DNS and TLS sessions across workers ---------- */

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access a, void *ud) {
  (void)h;
  (void)a;
  nh_client *c = ud;
  pthread_mutex_lock(&c->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud) {
  (void)h;
  nh_client *c = ud;
  pthread_mutex_unlock(&c->share_locks[data]);
}

static int open_share(nh_client *c) {
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_init(&c->share_locks[i], NULL);
  c->share = curl_share_init();
  if (!c->share) return -1;
  curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
  curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
  curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
  curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  return 0;
}

void nh_client_setup_easy(nh_client *c, CURL *e) {
  const nh_options *o = &c->opt;
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_SHARE, c->share);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, o->verify_tls ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, o->verify_tls ? 2L : 0L);
  if (c->ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
  if (c->proxy) curl_easy_setopt(e, CURLOPT_PROXY, c->proxy);
  curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
}

/* ---- life cycle --------------------------------------------------------- */

static int start_worker(nh_client *c) {
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
  pthread_mutex_lock(&c->queue.lock);
  w->next = c->workers;
  c->workers = w;
  c->n_workers++;
  pthread_mutex_unlock(&c->queue.lock);
  __atomic_add_fetch(&c->threads_created, 1, __ATOMIC_RELAXED);
  return 0;
}

static uint64_t random_prefix(void) {
  uint64_t v = 0;
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    if (read(fd, &v, sizeof v) != (ssize_t)sizeof v) v = 0;
    close(fd);
  }
  /* Without urandom, the pid and the clock still separate processes. */
  return v ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(nh_wall_time() * 1e6);
}

nh_client *nh_client_new(const nh_options *opt, char *err, size_t errlen) {
  pthread_once(&curl_once, init_curl);
  if (curl_init_rc != CURLE_OK) {
    snprintf(err, errlen, "curl_global_init failed: %s", curl_easy_strerror(curl_init_rc));
    return NULL;
  }
  nh_client *c = calloc(1, sizeof *c);
  if (!c) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  c->opt = *opt;
  c->ca_file = nh_strdup(opt->ca_file);
  c->proxy = nh_strdup(opt->proxy);
  c->user_agent = nh_strdup(opt->user_agent ? opt->user_agent : "notifyhub/0.1");
  c->opt.ca_file = c->opt.proxy = c->opt.user_agent = NULL;
  c->fork_generation = nh_fork_generation;
  c->id_prefix = random_prefix();
  pthread_mutex_init(&c->lock, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&c->idle, &attr);
  pthread_condattr_destroy(&attr);
  nh_logbuf_init(&c->log, opt->log_level, LOG_CAPACITY);
  if (nh_queue_init(&c->queue, opt->buffer_size) || nh_completions_init(&c->done) ||
      open_share(c)) {
    snprintf(err, errlen, "could not set up the client: %s", strerror(errno));
    free(c->ca_file);
    free(c->proxy);
    free(c->user_agent);
    free(c);                                  /* leaks a mutex or two, never a thread */
    return NULL;
  }
  c->ready = 1;
  int want = opt->enabled && opt->use_pool ? opt->workers : 0;
  for (int i = 0; i < want; i++) {
    if (start_worker(c) != 0) {
      snprintf(err, errlen, "could not start worker thread %d of %d", i + 1, want);
      nh_client_free(c);
      return NULL;
    }
  }
  return c;
}

void nh_client_new_id(nh_client *c, char *buf, size_t len) {
  uint64_t n = __atomic_add_fetch(&c->id_counter, 1, __ATOMIC_RELAXED);
  snprintf(buf, len, "%016llx-%llu", (unsigned long long)c->id_prefix, (unsigned long long)n);
}

/* ---- submitting --------------------------------------------------------- */

/* Direct mode: joins the threads that have returned. */
static void reap_direct(nh_client *c, int all) {
  pthread_mutex_lock(&c->lock);
  nh_worker **link = &c->direct;
  while (*link) {
    nh_worker *w = *link;
    if (!all && !w->finished) {
      link = &w->next;
      continue;
    }
    *link = w->next;
    pthread_mutex_unlock(&c->lock);
    pthread_join(w->thread, NULL);
    free(w);
    pthread_mutex_lock(&c->lock);
  }
  pthread_mutex_unlock(&c->lock);
}

static nh_code start_direct(nh_client *c, nh_job *job) {
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
static void wake_worker_locked(nh_client *c) {
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

/* Records of collected handles go once enough handles were collected since
 * the last walk: at least PURGE_AFTER and a quarter of the list, so each walk
 * is paid for by the detaches before it and unread records stay within
 * 4/3 of the live ones plus PURGE_AFTER. */
static void maybe_purge(nh_client *c) {
  unsigned long now = nh_job_detaches(), fresh = now - c->detaches_seen;
  if (fresh < PURGE_AFTER) return;
  pthread_mutex_lock(&c->done.lock);
  size_t length = c->done.length;
  pthread_mutex_unlock(&c->done.lock);
  if (length <= PURGE_AFTER || fresh < length / 4) return;
  c->detaches_seen = now;
  nh_completions_purge(&c->done);
}

static void count_submitted(nh_client *c, nh_job *job) {
  job->refs = 2;
  __atomic_store_n(&job->state, NH_JOB_QUEUED, __ATOMIC_RELEASE);
  __atomic_add_fetch(&c->submitted, 1, __ATOMIC_RELAXED);
  pthread_mutex_lock(&c->done.lock);
  c->outstanding++;
  pthread_mutex_unlock(&c->done.lock);
}

nh_code nh_client_submit(nh_client *c, nh_job *job, double queue_timeout, char *err,
                         size_t errlen) {
  if (forked(c)) {
    snprintf(err, errlen, "the client belongs to another process (created before fork)");
    return NH_CLOSED;
  }
  maybe_purge(c);
  if (!c->opt.enabled) {
    if (c->queue.closing) goto closed;
    job->seq = ++c->next_seq;
    job->submitted_at = nh_now();
    count_submitted(c, job);
    nh_worker_run_inline(c, job);
    return NH_OK;
  }
  if (!c->opt.use_pool) reap_direct(c, 0);
  pthread_mutex_lock(&c->queue.lock);
  nh_code rc = nh_queue_wait_room_locked(&c->queue, queue_timeout);
  if (rc != NH_OK) {
    pthread_mutex_unlock(&c->queue.lock);
    if (rc == NH_CLOSED) goto closed;
    snprintf(err, errlen, "the queue is full (%zu messages)", c->queue.capacity);
    return rc;
  }
  job->seq = ++c->next_seq;
  job->submitted_at = nh_now();
  count_submitted(c, job);
  if (c->opt.use_pool) {
    nh_queue_append_locked(&c->queue, job);
    wake_worker_locked(c);
    pthread_mutex_unlock(&c->queue.lock);
  } else {
    c->queue.reserved++;
    pthread_mutex_unlock(&c->queue.lock);
    if (start_direct(c, job) != NH_OK) {
      pthread_mutex_lock(&c->queue.lock);
      c->queue.reserved--;
      pthread_mutex_unlock(&c->queue.lock);
      for (size_t i = 0; i < job->msg.n_targets; i++)
        nh_result_set(&job->results[i], NH_INTERNAL, "could not start a thread");
      nh_client_finish(c, job);
    }
  }
  nh_log(&c->log, NH_LOG_DEBUG, 0, job->msg.id, "message queued (%zu targets)",
         job->msg.n_targets);
  return NH_OK;
closed:
  snprintf(err, errlen, "the client is closed");
  return NH_CLOSED;
}

/* ---- completions -------------------------------------------------------- */

void nh_client_finish(nh_client *c, nh_job *job) {
  int ok = nh_job_succeeded(job);
  if (job->code == NH_CLOSED) __atomic_add_fetch(&c->closed, 1, __ATOMIC_RELAXED);
  if (ok) __atomic_add_fetch(&c->succeeded, 1, __ATOMIC_RELAXED);
  else __atomic_add_fetch(&c->failed, 1, __ATOMIC_RELAXED);
  if (__atomic_load_n(&job->state, __ATOMIC_ACQUIRE) == NH_JOB_SENDING)
    __atomic_sub_fetch(&c->in_flight, 1, __ATOMIC_RELAXED);
  __atomic_store_n(&job->state, NH_JOB_DONE, __ATOMIC_RELEASE);
  int detached = __atomic_load_n(&job->detached, __ATOMIC_ACQUIRE);
  /* One step under one lock, so nh_client_pending() never reads zero while
   * a record is between the two counts. */
  pthread_mutex_lock(&c->done.lock);
  if (!detached) nh_completions_push_locked(&c->done, job);   /* the owner may free it now */
  if (--c->outstanding == 0) {
    pthread_cond_broadcast(&c->idle);
    /* wait_all() sleeps on the fd: wake it even when no record came. */
    if (detached) nh_completions_signal_locked(&c->done);
  }
  pthread_mutex_unlock(&c->done.lock);
  if (detached) {
    __atomic_add_fetch(&c->dropped, 1, __ATOMIC_RELAXED);
    nh_job_release(job);
  }
}

size_t nh_client_pending(nh_client *c) {
  pthread_mutex_lock(&c->done.lock);
  size_t n = c->outstanding + c->done.length;
  pthread_mutex_unlock(&c->done.lock);
  return n;
}

size_t nh_client_take(nh_client *c, nh_job **out, size_t max) {
  size_t n = nh_completions_take(&c->done, out, max), kept = 0;
  for (size_t i = 0; i < n; i++) {
    if (__atomic_load_n(&out[i]->detached, __ATOMIC_ACQUIRE)) nh_job_release(out[i]);
    else out[kept++] = out[i];
  }
  return kept;
}

int nh_client_wait(nh_client *c, double timeout) {
  return nh_completions_wait(&c->done, timeout);
}

int nh_client_fd(nh_client *c) { return c->done.fd_read; }

void nh_client_stats(nh_client *c, nh_stats *s) {
  memset(s, 0, sizeof *s);
  s->submitted = __atomic_load_n(&c->submitted, __ATOMIC_RELAXED);
  s->succeeded = __atomic_load_n(&c->succeeded, __ATOMIC_RELAXED);
  s->failed = __atomic_load_n(&c->failed, __ATOMIC_RELAXED);
  s->closed = __atomic_load_n(&c->closed, __ATOMIC_RELAXED);
  s->dropped = __atomic_load_n(&c->dropped, __ATOMIC_RELAXED);
  s->in_flight = __atomic_load_n(&c->in_flight, __ATOMIC_RELAXED);
  s->threads_created = __atomic_load_n(&c->threads_created, __ATOMIC_RELAXED);
  pthread_mutex_lock(&c->queue.lock);
  s->queued = c->queue.length;
  s->workers = c->n_workers;
  pthread_mutex_unlock(&c->queue.lock);
  pthread_mutex_lock(&c->done.lock);
  s->completed_unread = c->done.length;
  pthread_mutex_unlock(&c->done.lock);
  pthread_mutex_lock(&c->log.lock);
  s->log_dropped = c->log.dropped;
  pthread_mutex_unlock(&c->log.lock);
  if (!c->opt.use_pool) {
    pthread_mutex_lock(&c->lock);
    for (nh_worker *w = c->direct; w; w = w->next) s->workers += !w->finished;
    pthread_mutex_unlock(&c->lock);
  }
  s->min_workers = c->opt.min_workers;
  s->max_workers = c->opt.max_workers;
}

nh_log_record *nh_client_logs(nh_client *c) { return nh_logbuf_take(&c->log); }

/* ---- close -------------------------------------------------------------- */

static void wait_outstanding(nh_client *c, double deadline) {
  struct timespec ts;
  pthread_mutex_lock(&c->done.lock);
  while (c->outstanding > 0) {
    double left = deadline - nh_now();
    if (left <= 0) break;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double whole = floor(left);
    ts.tv_sec += (time_t)whole;
    ts.tv_nsec += (long)((left - whole) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&c->idle, &c->done.lock, &ts);
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
  pthread_mutex_lock(&c->lock);
  for (nh_worker *w = c->direct; w; w = w->next)
    if (w->multi) curl_multi_wakeup(w->multi);
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
  reap_direct(c, 1);
  pthread_mutex_lock(&c->queue.lock);
  c->n_workers = 0;
  pthread_mutex_unlock(&c->queue.lock);
}

size_t nh_client_close(nh_client *c, double timeout) {
  if (c->closed_flag || !c->ready) return 0;
  c->closed_flag = 1;
  if (forked(c)) return 0;                    /* a forked copy has no threads */
  uint64_t closed_before = __atomic_load_n(&c->closed, __ATOMIC_RELAXED);
  pthread_mutex_lock(&c->queue.lock);
  c->queue.closing = 1;
  pthread_cond_broadcast(&c->queue.not_full);
  pthread_cond_broadcast(&c->queue.not_empty);
  pthread_mutex_unlock(&c->queue.lock);
  wait_outstanding(c, nh_now() + (timeout > 0 ? timeout : 0));
  pthread_mutex_lock(&c->done.lock);
  size_t left = c->outstanding;
  pthread_mutex_unlock(&c->done.lock);
  if (left > 0) cut_off(c);
  join_workers(c);
  return (size_t)(__atomic_load_n(&c->closed, __ATOMIC_RELAXED) - closed_before);
}

int nh_client_closed(nh_client *c) { return c->closed_flag; }

void nh_client_free(nh_client *c) {
  if (!c) return;
  if (forked(c)) return;                      /* locks may be held by threads
                                                 that do not exist here */
  nh_client_close(c, 0);
  nh_job *jobs[64];
  size_t n;
  while ((n = nh_completions_take(&c->done, jobs, 64)) > 0)
    for (size_t i = 0; i < n; i++) nh_job_release(jobs[i]);
  if (c->share) curl_share_cleanup(c->share);
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_destroy(&c->share_locks[i]);
  nh_completions_destroy(&c->done);
  nh_queue_destroy(&c->queue);
  nh_logbuf_destroy(&c->log);
  pthread_cond_destroy(&c->idle);
  pthread_mutex_destroy(&c->lock);
  free(c->ca_file);
  free(c->proxy);
  free(c->user_agent);
  free(c);
}
