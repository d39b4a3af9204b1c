/*
 * nh_client.c: the client as nh_core.h shows it: options, the libcurl share
 * handle, creating and freeing, submitting, cancelling, taking completions,
 * stats, close and the exit handler. It calls down (nh_pool.c, nh_worker.c,
 * nh_finish.c, nh_completion.c, nh_queue.c); nothing below calls back up.
 *
 * Locks: queue.lock guards the submission queue, the workers' wake-up
 * flags and the pool's worker list; client->lock the direct-mode and
 * retired thread lists; done.lock the completions and the count of
 * outstanding jobs that close() waits on. Counters are atomics. No lock is
 * held while calling into libcurl's transfers.
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
#include "nh_version.h"

#define LOG_CAPACITY 4096
#define PURGE_AFTER 256 /* detaches, and unread records, before a purge */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

/* Every client not yet freed, for the exit handler. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static nh_client *live_clients;

/* Another thread may have held it at the fork; only this one runs here. */
static void after_fork_in_child(void) { pthread_mutex_init(&live_lock, NULL); }

static void at_exit(void);

/* atexit() after curl_global_init(): handlers run in reverse order, so ours
 * runs before OpenSSL's cleanup, while no worker may still use it. */
static void init_curl(void) {
  curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  pthread_atfork(NULL, NULL, after_fork_in_child);
  if (curl_init_rc == CURLE_OK) atexit(at_exit);
}

static void live_add(nh_client *c) {
  pthread_mutex_lock(&live_lock);
  c->live_next = live_clients;
  live_clients = c;
  pthread_mutex_unlock(&live_lock);
}

static void live_remove(nh_client *c) {
  pthread_mutex_lock(&live_lock);
  nh_client **link = &live_clients;
  while (*link && *link != c) link = &(*link)->live_next;
  if (*link) *link = c->live_next;
  pthread_mutex_unlock(&live_lock);
}

/* Failure records the owner never drained (a handle collected before its
 * message failed leaves nothing else): at exit they go to stderr. */
static void flush_logs(nh_client *c) {
  static const char *const names[] = { "DEBUG", "INFO", "WARN", "ERROR", "OFF" };
  nh_log_record *all = nh_logbuf_take(&c->log);
  for (nh_log_record *r = all; r; r = r->next) {
    if (r->level < NH_LOG_WARN || r->level > NH_LOG_ERROR || !r->text) continue;
    char *line = nh_sprintf("[notifyhub] %s %s\n", names[r->level], r->text);
    if (line && write(2, line, strlen(line)) < 0) {}
    free(line);
  }
  nh_log_free(all);
}

/* The process exits (exit(), os.exit() without closing the Lua state) with
 * clients left open: their messages get close_timeout, all clients at once,
 * then every thread is joined. No Lua runs here, so no callback either. */
/* The pool's close, then the spool's: what the workers did not finish is
 * handed back, waiting for the store until deadline but at least
 * NH_SPOOL_MIN_WAIT (close(0) of a worker that nginx stops while the
 * others commit: a hand-back given up at the first lock would leave the
 * records held, and the ends unwritten would send delivered messages
 * again). How many messages close() cut off (neither delivered nor
 * handed over). */
static size_t close_end(nh_client *c, double deadline) {
  size_t cut = nh_pool_close_end(c, deadline);
  double store_by = nh_now() + NH_SPOOL_MIN_WAIT;
  if (c->spool) nh_spool_client_close(c, deadline > store_by ? deadline : store_by);
  return cut;
}

static void at_exit(void) {
  pthread_mutex_lock(&live_lock);
  double start = nh_now();
  for (nh_client *c = live_clients; c; c = c->live_next) {
    c->exit_open = c->ready && !c->closed_flag && !nh_client_forked(c);
    if (!c->exit_open) continue;
    __atomic_store_n(&c->at_exit, 1, __ATOMIC_RELEASE);
    nh_pool_close_begin(c);
  }
  for (nh_client *c = live_clients; c; c = c->live_next) {
    if (!c->exit_open) continue;
    close_end(c, start + c->opt.close_timeout);
    flush_logs(c);
    nh_finish_report_unread(c);
  }
  pthread_mutex_unlock(&live_lock);
}

int nh_client_forked(const nh_client *c) { return nh_fork_since(c->fork_generation); }

const char *nh_curl_version(void) { return curl_version_info(CURLVERSION_NOW)->version; }

/* One assignment per row of nh_options.h, in the core's unit. */
#define NH_OPT_SET_BOOL(lv, d) lv = (d)
#define NH_OPT_SET_INT(lv, d) lv = (d)
#define NH_OPT_SET_SIZE(lv, d) lv = (size_t)(d)
#define NH_OPT_SET_SEC(lv, d) lv = (d)
#define NH_OPT_SET_MS(lv, d) lv = (long)ceil((d)*1000.0)
#define NH_OPT_SET_STR(lv, d) lv = (d)
#define NH_OPT_SET_HEADER(lv, d) lv = (d)
#define NH_OPT_SET_LEVEL(lv, d) lv = (d)
#define NH_OPT_DEFAULT(P, section, key, field, type, dflt, min, max, above) \
  NH_OPT_SET_##type(o->P field, dflt);

void nh_options_default(nh_options *o) {
  memset(o, 0, sizeof *o);
  NH_OPTIONS(NH_OPT_DEFAULT)
}

const nh_options *nh_client_options(const nh_client *c) { return &c->opt; }

/* Limits the core can hand to libcurl and to its timers: a transfer's limit
 * of 0 would mean none at all. */
static void normalize_options(nh_options *o) {
  if (o->timeout_ms < 1) o->timeout_ms = 1;
  if (o->connect_timeout_ms < 1) o->connect_timeout_ms = 1;
  if (!(o->close_timeout >= 0)) o->close_timeout = 0;
  if (o->close_timeout > NH_MAX_DELAY) o->close_timeout = NH_MAX_DELAY;
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

/* ---- life cycle --------------------------------------------------------- */

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
  return nh_client_open(opt, NULL, err, errlen);
}

nh_client *nh_client_open(const nh_options *opt, nh_code *code, char *err, size_t errlen) {
  nh_code dummy;
  if (!code) code = &dummy;
  *code = NH_INTERNAL;
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
  normalize_options(&c->opt);
  c->ca_file = nh_strdup(opt->ca_file);
  c->proxy = nh_strdup(opt->proxy);
  c->secrets = nh_redact_proxy_secrets(c->proxy, &c->n_secrets);
  c->user_agent = nh_strdup(opt->user_agent ? opt->user_agent : NH_USER_AGENT);
  c->opt.ca_file = c->opt.proxy = c->opt.user_agent = NULL;
  c->fork_generation = nh_fork_generation();
  c->id_prefix = random_prefix();
  pthread_mutex_init(&c->lock, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&c->idle, &attr);
  pthread_condattr_destroy(&attr);
  nh_logbuf_init(&c->log, opt->log_level, LOG_CAPACITY);
  c->limits = nh_limits_new();
  if (!c->limits || nh_queue_init(&c->queue, opt->buffer_size, opt->priority_aging) ||
      nh_completions_init(&c->done) || open_share(c)) {
    snprintf(err, errlen, "could not set up the client: %s", strerror(errno));
    free(c->ca_file);
    free(c->proxy);
    nh_redact_free(c->secrets, c->n_secrets);
    free(c->user_agent);
    nh_limits_free(c->limits);
    free(c); /* leaks a mutex or two, never a thread */
    return NULL;
  }
  c->ready = 1;
  live_add(c);
  if ((opt->spool.path || opt->spool.redis) &&
      (*code = nh_spool_client_open(c, opt, err, errlen)) != NH_OK) {
    nh_client_free(c);
    return NULL;
  }
  c->opt.spool.path = c->opt.spool.sync = c->opt.spool.deliver = NULL; /* the caller's strings */
  c->opt.spool.redis = c->opt.spool.prefix = NULL;
  *code = NH_INTERNAL;
  int want = opt->enabled && opt->use_pool ? opt->workers : 0;
  for (int i = 0; i < want; i++) {
    if (nh_pool_start_worker(c) != 0) {
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
  __atomic_add_fetch(&c->dropped, nh_completions_purge(&c->done), __ATOMIC_RELAXED);
}

static void count_submitted(nh_client *c, nh_job *job) {
  job->refs = 2;
  __atomic_store_n(&job->state, NH_JOB_QUEUED, __ATOMIC_RELEASE);
  __atomic_add_fetch(&c->submitted, 1, __ATOMIC_RELAXED);
  pthread_mutex_lock(&c->done.lock);
  c->outstanding++;
  pthread_mutex_unlock(&c->done.lock);
}

/* NaN, negative and infinite timeouts mean none. */
static int has_deadline(const nh_job *job) { return job->timeout > 0 && !isinf(job->timeout); }

/* Its times, from now (before a spool records them). */
static void stamp_job(nh_job *job) {
  job->submitted_at = job->enqueued_at = nh_now();
  /* Delays the core can run. */
  if (!has_deadline(job)) job->timeout = 0;
  job->deadline = job->timeout > 0 ? job->submitted_at + job->timeout : 0;
  nh_retry_sanitize(&job->retry);
}

/* Stamps a job accepted now (a spool's job was stamped when recorded). */
static void accept_job(nh_client *c, nh_job *job) {
  job->seq = ++c->next_seq;
  if (!job->spool_seq) stamp_job(job);
  count_submitted(c, job);
}

/* With a spool, accepted means recorded: the jobs are stamped and recorded
 * first; refused, they are left as they came. */
static nh_code record(nh_client *c, nh_job **jobs, size_t n, double wait, char *err,
                      size_t errlen) {
  for (size_t i = 0; i < n; i++) {
    jobs[i]->spool_seq = 0;
    stamp_job(jobs[i]);
  }
  nh_code rc = nh_spool_client_record(c, jobs, n, wait, err, errlen);
  for (size_t i = 0; rc != NH_OK && i < n; i++) jobs[i]->submitted_at = jobs[i]->deadline = 0;
  return rc;
}

static nh_code refuse(nh_client *c, nh_code rc, size_t n, char *err, size_t errlen) {
  if (rc == NH_CLOSED) snprintf(err, errlen, "the client is closed");
  else if (rc == NH_NO_MEMORY)
    snprintf(err, errlen, "out of memory queueing the message%s", n > 1 ? "s" : "");
  else if (n > c->queue.capacity)
    snprintf(err, errlen, "%zu messages do not fit a queue of %zu", n, c->queue.capacity);
  else snprintf(err, errlen, "the queue is full (%zu messages)", c->queue.capacity);
  return rc;
}

/* Direct mode: a thread for the job; a job no thread could take fails. */
static void run_direct(nh_client *c, nh_job *job) {
  if (nh_pool_start_direct(c, job) == NH_OK) return;
  pthread_mutex_lock(&c->queue.lock);
  c->queue.reserved--;
  pthread_mutex_unlock(&c->queue.lock);
  nh_finish_fail(c, job, NH_INTERNAL, "could not start a thread");
}

/* Pool mode, queue.lock held: the queue's room for the jobs' deadlines is
 * made before any of them is accepted, so that appending cannot fail. */
static nh_code reserve_locked(nh_client *c, nh_job **jobs, size_t n) {
  size_t deadlines = 0;
  for (size_t i = 0; i < n; i++) deadlines += has_deadline(jobs[i]);
  return nh_queue_reserve_locked(&c->queue, deadlines) == 0 ? NH_OK : NH_NO_MEMORY;
}

/* Queues an accepted job; should it not go in after all, it ends now,
 * once, with NO_MEMORY (never accepted into no queue). */
static void enqueue_locked(nh_client *c, nh_job *job) {
  if (nh_queue_append_locked(&c->queue, job) != 0) {
    nh_finish_fail(c, job, NH_NO_MEMORY, "out of memory queueing the message");
    return;
  }
  nh_pool_wake_locked(c);
}

/* A caller that did not plan a small message cannot skip its checks: it is
 * planned (and refused) here; a large one is planned by the worker. */
static nh_code plan_small(nh_job *job, size_t k, size_t n, char *err, size_t errlen) {
  nh_message *m = &job->msg;
  if (!nh_message_plan_now(m)) return NH_OK;
  for (size_t i = 0; i < m->n_targets; i++) {
    char why[256];
    nh_code rc = nh_target_plan(m, &m->targets[i], why, sizeof why);
    if (rc == NH_OK) continue;
    if (n > 1) snprintf(err, errlen, "message %zu: %s", k + 1, why);
    else snprintf(err, errlen, "%s", why);
    return NH_INVALID_MESSAGE;
  }
  return NH_OK;
}

/* The counts of a job accepted by submit_remote, taken back: it was not. */
static void take_back(nh_client *c, nh_job *job) {
  job->refs = 1;
  job->submitted_at = job->deadline = 0;
  job->spool_seq = job->seq = 0;
  __atomic_store_n(&job->remote, 0, __ATOMIC_RELEASE);
  __atomic_store_n(&job->state, NH_JOB_NEW, __ATOMIC_RELEASE);
  __atomic_sub_fetch(&c->submitted, 1, __ATOMIC_RELAXED);
  c->next_seq--;
  pthread_mutex_lock(&c->done.lock);
  if (--c->outstanding == 0) pthread_cond_broadcast(&c->idle);
  pthread_mutex_unlock(&c->done.lock);
}

/* spool.deliver = "any": the jobs go into the spool's shared queue, not
 * this client's, and wait for the receipt of whoever delivers them
 * (nh_spool_remote.c). They count as accepted before they are recorded:
 * the writer lists them as their records commit, and a receipt may end
 * one before this call returns. */
static nh_code submit_remote(nh_client *c, nh_job **jobs, size_t n, double queue_timeout, char *err,
                             size_t errlen) {
  pthread_mutex_lock(&c->queue.lock);
  int closing = c->queue.closing;
  pthread_mutex_unlock(&c->queue.lock);
  if (closing) return refuse(c, NH_CLOSED, n, err, errlen);
  for (size_t i = 0; i < n; i++) {
    jobs[i]->spool_seq = 0;
    stamp_job(jobs[i]);
    jobs[i]->seq = ++c->next_seq;
    __atomic_store_n(&jobs[i]->remote, 1, __ATOMIC_RELEASE);
    count_submitted(c, jobs[i]);
  }
  nh_code rc = nh_spool_client_record(c, jobs, n, queue_timeout, err, errlen);
  for (size_t i = n; rc != NH_OK && i > 0; i--) take_back(c, jobs[i - 1]);
  for (size_t i = 0; rc == NH_OK && i < n; i++)
    nh_log(&c->log, NH_LOG_DEBUG, 0, jobs[i]->msg.id, "message recorded for any client");
  return rc;
}

nh_code nh_client_submit_many(nh_client *c, nh_job **jobs, size_t n, double queue_timeout,
                              char *err, size_t errlen) {
  if (nh_client_forked(c)) {
    snprintf(err, errlen, "the client belongs to another process (created before fork)");
    return NH_CLOSED;
  }
  for (size_t i = 0; i < n; i++)
    if (!nh_message_id_ok(jobs[i]->msg.id)) {
      snprintf(err, errlen,
               "message %zu: id: 1 to %d printable ASCII characters without spaces "
               "expected",
               i + 1, NH_MAX_ID_LEN);
      return NH_INVALID_MESSAGE;
    }
  for (size_t i = 0; i < n; i++)
    if (plan_small(jobs[i], i, n, err, errlen) != NH_OK) return NH_INVALID_MESSAGE;
  maybe_purge(c);
  if (c->deliver_any) return submit_remote(c, jobs, n, queue_timeout, err, errlen);
  if (!c->opt.enabled) {
    if (c->queue.closing) return refuse(c, NH_CLOSED, n, err, errlen);
    nh_code rc = c->writer ? record(c, jobs, n, queue_timeout, err, errlen) : NH_OK;
    if (rc != NH_OK) return rc;
    for (size_t i = 0; i < n; i++) accept_job(c, jobs[i]);
    for (size_t i = 0; i < n; i++) nh_worker_run_inline(c, jobs[i]);
    return NH_OK;
  }
  nh_pool_reap(c, 0);
  pthread_mutex_lock(&c->queue.lock);
  nh_code rc = nh_queue_wait_room_locked(&c->queue, n, queue_timeout);
  if (rc == NH_OK && c->opt.use_pool) rc = reserve_locked(c, jobs, n);
  if (rc != NH_OK) {
    pthread_mutex_unlock(&c->queue.lock);
    return refuse(c, rc, n, err, errlen);
  }
  if (c->writer) { /* the room stays reserved while the writer records them */
    c->queue.reserved += n;
    pthread_mutex_unlock(&c->queue.lock);
    rc = record(c, jobs, n, queue_timeout, err, errlen);
    pthread_mutex_lock(&c->queue.lock);
    c->queue.reserved -= n;
    if (rc != NH_OK) {
      pthread_cond_signal(&c->queue.not_full);
      pthread_mutex_unlock(&c->queue.lock);
      return rc;
    }
  }
  for (size_t i = 0; i < n; i++) {
    accept_job(c, jobs[i]);
    /* Before a worker can see it, so the log reads in the order things happen. */
    nh_log(&c->log, NH_LOG_DEBUG, 0, jobs[i]->msg.id, "message queued (%zu targets)",
           jobs[i]->msg.n_targets);
    if (!c->opt.use_pool) c->queue.reserved++;
    else enqueue_locked(c, jobs[i]);
  }
  if (c->opt.use_pool) nh_worker_grow_locked(c);
  pthread_mutex_unlock(&c->queue.lock);
  for (size_t i = 0; i < n && !c->opt.use_pool; i++) run_direct(c, jobs[i]);
  return NH_OK;
}

nh_code nh_client_submit(nh_client *c, nh_job *job, double queue_timeout, char *err,
                         size_t errlen) {
  return nh_client_submit_many(c, &job, 1, queue_timeout, err, errlen);
}

int nh_client_cancel(nh_client *c, nh_job *job) {
  if (nh_client_forked(c) || nh_job_state(job) == NH_JOB_DONE) return 0;
  /* Another client delivers it: nothing here can stop that. */
  if (__atomic_load_n(&job->remote, __ATOMIC_ACQUIRE)) return 0;
  /* The one decision: past it, whoever ends the job ends it CANCELLED. */
  if (!nh_job_fate_cancel(job)) return 0;
  pthread_mutex_lock(&c->queue.lock);
  /* In the queue itself: not taken by a worker, nor by the deadline sweep,
   * which ends the job on its own (cancel must not end it a second time). */
  int queued = c->opt.use_pool && !job->worker && nh_queue_contains_locked(&c->queue, job);
  if (queued) {
    nh_queue_remove_locked(&c->queue, job);
  } else if (job->worker && nh_job_state(job) != NH_JOB_DONE) {
    nh_worker *w = job->worker;
    w->cancel_pending = 1;
    if (w->multi) curl_multi_wakeup(w->multi);
  }
  pthread_mutex_unlock(&c->queue.lock);
  if (queued) nh_finish_fail(c, job, NH_CANCELLED, "cancelled before it was sent");
  return 1;
}

/* ---- completions -------------------------------------------------------- */

size_t nh_client_pending(nh_client *c) {
  if (nh_client_forked(c)) return 0;
  pthread_mutex_lock(&c->done.lock);
  size_t n = c->outstanding + c->done.length;
  pthread_mutex_unlock(&c->done.lock);
  return n;
}

size_t nh_client_take(nh_client *c, nh_job **out, size_t max) {
  /* A forked child must not run the parent's callbacks again. */
  if (nh_client_forked(c)) return 0;
  size_t n = nh_completions_take(&c->done, out, max), kept = 0;
  for (size_t i = 0; i < n; i++) {
    if (__atomic_load_n(&out[i]->detached, __ATOMIC_ACQUIRE)) {
      __atomic_add_fetch(&c->dropped, 1, __ATOMIC_RELAXED);
      nh_job_release(out[i]);
    } else {
      out[kept++] = out[i];
    }
  }
  return kept;
}

int nh_client_wait(nh_client *c, double timeout) {
  if (nh_client_forked(c)) return 0;
  return nh_completions_wait(&c->done, timeout);
}

int nh_client_fd(nh_client *c) {
  nh_completions_want_fd(&c->done);
  return c->done.fd_read;
}

void nh_client_stats(nh_client *c, nh_stats *s) {
  memset(s, 0, sizeof *s);
  if (nh_client_forked(c)) return;
  s->submitted = __atomic_load_n(&c->submitted, __ATOMIC_RELAXED);
  s->succeeded = __atomic_load_n(&c->succeeded, __ATOMIC_RELAXED);
  s->failed = __atomic_load_n(&c->failed, __ATOMIC_RELAXED);
  s->closed = __atomic_load_n(&c->closed, __ATOMIC_RELAXED);
  s->dropped = __atomic_load_n(&c->dropped, __ATOMIC_RELAXED);
  s->retried = __atomic_load_n(&c->retried, __ATOMIC_RELAXED);
  s->cancelled = __atomic_load_n(&c->cancelled, __ATOMIC_RELAXED);
  s->timed_out = __atomic_load_n(&c->timed_out, __ATOMIC_RELAXED);
  s->in_flight = __atomic_load_n(&c->in_flight, __ATOMIC_RELAXED);
  s->waiting = __atomic_load_n(&c->waiting, __ATOMIC_RELAXED);
  s->threads_created = __atomic_load_n(&c->threads_created, __ATOMIC_RELAXED);
  s->rate_destinations = nh_limits_count(c->limits);
  s->handed_over = __atomic_load_n(&c->handed_over, __ATOMIC_RELAXED);
  s->remote = nh_spool_remote_count(c);
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

nh_log_record *nh_client_logs(nh_client *c) {
  return nh_client_forked(c) ? NULL : nh_logbuf_take(&c->log);
}

void nh_client_latency(nh_client *c, nh_platform_id p, nh_latency *out) {
  nh_latency_read(c, p, out);
}

size_t nh_client_close(nh_client *c, double timeout) {
  if (!nh_pool_close_begin(c)) return 0;
  return close_end(c, nh_now() + (timeout > 0 ? timeout : 0));
}

int nh_client_closed(nh_client *c) { return c->closed_flag; }

void nh_client_free(nh_client *c) {
  if (!c) return;
  if (nh_client_forked(c))
    return; /* locks may be held by threads
     that do not exist here */
  live_remove(c);
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
  nh_limits_free(c->limits);
  pthread_cond_destroy(&c->idle);
  pthread_mutex_destroy(&c->lock);
  free(c->ca_file);
  free(c->proxy);
  nh_redact_free(c->secrets, c->n_secrets);
  free(c->user_agent);
  free(c);
}
