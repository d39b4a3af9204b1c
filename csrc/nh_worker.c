/*
 * nh_worker.c: a worker drives one libcurl multi handle and keeps up to
 * `concurrency` transfers in flight. A job fans out to one delivery per
 * target; a target goes through its parts (a split message) one after the
 * other, each part through its attempts.
 *
 * Waiting costs no transfer slot: a target waiting for a retry or for its
 * destination's rate limit sits in the worker's timer heap, and the loop
 * polls libcurl until the first timer is due. Cancels and close() reach the
 * loop through flags and curl_multi_wakeup().
 *
 * The same loop serves the three modes: pool threads take jobs from the
 * shared queue, a direct-mode thread runs the one job it was made for, and
 * async.enabled = false runs that direct loop on the caller's thread. The
 * loop also ends queued jobs whose deadline passed, and starts another pool
 * thread while a backlog lasts (a worker starts its siblings: the pool
 * grows without a submit). Jobs end through nh_finish.c; nothing here
 * calls back into the client. Nothing here touches Lua.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define POLL_MAX_MS 1000
/* A retry due at least PARK_AFTER seconds away gives the message's record
 * back to the spool (park); others on the spool take it PARK_GRACE
 * seconds after it is due, this worker at its due time. */
#define PARK_AFTER 2.0
#define PARK_GRACE 1.0
/* Seconds between asks whether a job in doubt is still this client's. */
#define DOUBT_RETRY 0.5

typedef struct timer {
  double when;
  nh_job *job;
  size_t index, part;
} timer;

typedef struct worker_state {
  nh_transfer *transfers; /* in flight */
  timer *timers;          /* a min-heap on `when` */
  int n_timers, cap_timers;
  int took_own; /* direct mode: own_job has been started */
  uint64_t rng; /* xorshift state for the backoff's jitter */
} worker_state;

/* ---- the job's class: in flight or waiting (for stats) ------------------ */

/* A job with a transfer running counts as in flight; one with only timers
 * as waiting. */
static void reclass(nh_client *c, nh_job *job, int was_waiting) {
  int waiting = job->active == 0 && job->waiting > 0;
  if (waiting == was_waiting) return;
  __atomic_add_fetch(&c->waiting, waiting ? 1 : (size_t)-1, __ATOMIC_RELAXED);
  __atomic_add_fetch(&c->in_flight, waiting ? (size_t)-1 : 1, __ATOMIC_RELAXED);
}

static int is_waiting(const nh_job *job) { return job->active == 0 && job->waiting > 0; }

/* ---- timers ------------------------------------------------------------- */

static void timer_swap(timer *a, timer *b) {
  timer t = *a;
  *a = *b;
  *b = t;
}

static int push_timer(worker_state *ws, timer t) {
  if (ws->n_timers == ws->cap_timers) {
    int cap = ws->cap_timers ? ws->cap_timers * 2 : 16;
    timer *more = realloc(ws->timers, (size_t)cap * sizeof *more);
    if (!more) return -1;
    ws->timers = more;
    ws->cap_timers = cap;
  }
  int i = ws->n_timers++;
  ws->timers[i] = t;
  while (i > 0 && ws->timers[(i - 1) / 2].when > ws->timers[i].when) {
    timer_swap(&ws->timers[i], &ws->timers[(i - 1) / 2]);
    i = (i - 1) / 2;
  }
  return 0;
}

static void sift_down(worker_state *ws, int i) {
  for (;;) {
    int l = 2 * i + 1, r = l + 1, m = i;
    if (l < ws->n_timers && ws->timers[l].when < ws->timers[m].when) m = l;
    if (r < ws->n_timers && ws->timers[r].when < ws->timers[m].when) m = r;
    if (m == i) return;
    timer_swap(&ws->timers[i], &ws->timers[m]);
    i = m;
  }
}

static timer pop_timer(worker_state *ws) {
  timer top = ws->timers[0];
  ws->timers[0] = ws->timers[--ws->n_timers];
  sift_down(ws, 0);
  return top;
}

/* ---- targets and jobs --------------------------------------------------- */

static void record_latency(nh_client *c, nh_job *job, size_t i) {
  double ms = (nh_now() - job->submitted_at) * 1000.0;
  nh_latency_record(c, job->msg.targets[i].platform, ms);
}

/* One target of a job is over: the job ends with its last target. Its end
 * is decided here, once: a cancel() that came first (and answered true)
 * makes it CANCELLED, even when this target's request went through. */
static void target_done(nh_worker *w, nh_job *job, size_t i) {
  if (i < job->msg.n_targets) record_latency(w->client, job, i);
  if (--job->targets_left > 0) {
    if (i < job->msg.n_targets) nh_spool_client_target_end(w->client, job, i);
    return;
  }
  if (!nh_job_seal(job)) nh_job_end_cancelled(job, i);
  nh_log(&w->client->log, NH_LOG_DEBUG, w->id, job->msg.id, "message finished: %s (%s)",
         nh_job_succeeded(job) ? "delivered" : "failed", nh_code_name(job->code));
  nh_finish_job(w->client, job);
}

/* Ends target i now with code (cancel, deadline, close). */
static void end_target(nh_worker *w, nh_job *job, size_t i, nh_code code, const char *why) {
  nh_result *r = &job->results[i];
  if (r->error && code != NH_CLOSED) {
    char *prev = r->error;
    r->error = NULL;
    nh_result_set(r, code, "%s (last attempt: %s)", why, prev);
    free(prev);
  } else {
    nh_result_set(r, code, "%s", why);
  }
  if (job->code == NH_OK) job->code = code;
  target_done(w, job, i);
}

/* A timer at `when` (now + a delay): a NaN, negative or huge time must not
 * freeze the heap, so it is brought within [now, now + NH_MAX_DELAY]. */
static void wait_for(nh_worker *w, worker_state *ws, nh_job *job, size_t i, size_t part,
                     double when) {
  int was = is_waiting(job);
  double now = nh_now();
  when = now + nh_delay_clamp(when - now, NH_MAX_DELAY);
  if (job->deadline > 0 && when > job->deadline) when = job->deadline;
  if (push_timer(ws, (timer){ when, job, i, part }) != 0) {
    end_target(w, job, i, NH_NO_MEMORY, "out of memory scheduling a retry");
    return;
  }
  job->waiting++;
  reclass(w->client, job, was);
}

/* Seconds target t must wait for its destination's rate limit (0: it may
 * go now, and the send is counted). With a spool, the windows are the
 * spool's, shared by every process on it, under a hash of the destination
 * (its URL may hold a token); a store error asks again a little later. */
static double rate_wait(nh_worker *w, const nh_job *job, const nh_target *t, double now) {
  nh_client *c = w->client;
  if (!c->rates || t->n_rate == 0) return nh_limits_reserve(c->limits, t, now);
  const char *dest = t->rate_key ? t->rate_key : t->url;
  char key[64], err[256];
  double wait = 0;
  if (nh_hmac_sha256_base64("notifyhub rate", 14, dest, strlen(dest), key, sizeof key) != 0 ||
      nh_spool_rate_take(c->rates, key, t->rate, t->n_rate, nh_wall_time(), &wait, err,
                         sizeof err) != NH_OK) {
    nh_log(&c->log, NH_LOG_DEBUG, w->id, job->msg.id, "rate limit: %s; asking again in 0.1 s", err);
    return 0.1;
  }
  return wait;
}

/* The job leaves this worker: its timers go (none is in flight). */
static void drop_timers(nh_worker *w, worker_state *ws, nh_job *job) {
  int was = is_waiting(job), k = 0;
  for (int n = 0; n < ws->n_timers; n++)
    if (ws->timers[n].job != job) ws->timers[k++] = ws->timers[n];
  job->waiting -= ws->n_timers - k;
  ws->n_timers = k;
  for (int n = k / 2; n >= 0 && k; n--) sift_down(ws, n); /* re-heapify */
  reclass(w->client, job, was);
}

/* Another client took over the parked record of a job this client
 * accepted: with a store that sends receipts back (c->remote), the job
 * waits for that client's receipt (nh_spool_remote.c) instead of ending
 * HANDED_OVER here. 1 when it does. Not for a record taken from the spool
 * (its producer waits for the receipt), nor a cancelled job (it ends
 * CANCELLED), nor a job with a thread of its own (direct mode,
 * async.enabled = false). */
static int wait_receipt(nh_worker *w, worker_state *ws, nh_job *job) {
  nh_client *c = w->client;
  if (!c->remote || job->adopted || w->own_job || job->active > 0 || nh_job_is_cancelled(job))
    return 0;
  drop_timers(w, ws, job);
  __atomic_store_n(&job->state, NH_JOB_QUEUED, __ATOMIC_RELEASE);
  __atomic_sub_fetch(&c->in_flight, 1, __ATOMIC_RELAXED);
  __atomic_store_n(&job->remote, 1, __ATOMIC_RELEASE);
  pthread_mutex_lock(&c->queue.lock);
  job->worker = NULL; /* a cancel no longer looks here */
  pthread_mutex_unlock(&c->queue.lock);
  nh_log(&c->log, NH_LOG_DEBUG, w->id, job->msg.id,
         "taken over by another client on the spool: waiting for its receipt");
  nh_spool_remote_add(c, job);
  return 1;
}

/* A parked job's record is taken back before anything more happens to
 * it (a send, a cancel, an end). 0 when another client on the spool took
 * it meanwhile: the job waits for that client's receipt (wait_receipt),
 * else target i ends HANDED_OVER (that client delivers it). A store error
 * sends anyway (at least once: the other may send it too), unless the job
 * is in doubt (doubtful): -1, ask again later. */
static int unpark(nh_worker *w, worker_state *ws, nh_job *job, size_t i, int in_doubt) {
  nh_client *c = w->client;
  int held = 0;
  char err[256];
  if (job->parked == 1) {
    if (nh_spool_unpark(c->spool, job->spool_seq, nh_wall_time(), &held, err, sizeof err) !=
        NH_OK) {
      if (in_doubt) return -1;
      nh_log(&c->log, NH_LOG_WARN, w->id, job->msg.id, "%s (sending it anyway)", err);
      held = 1;
    }
    job->parked = held ? 0 : 2;
  }
  if (!job->parked) return 1;
  if (job->parked == 2 && wait_receipt(w, ws, job)) return 0;
  end_target(w, job, i, NH_HANDED_OVER, "taken over by another client on the spool");
  return 0;
}

/* A spooled job that may have gone to another client since it was queued
 * (nh_spool_client_doubt) is confirmed held, as a parked one is taken
 * back, before a send. */
static int doubtful(nh_client *c, const nh_job *job) {
  return c->spool && job->spool_seq && nh_spool_client_doubt(c, job->enqueued_at);
}

/* Sends part `part` of target i when nothing holds it back: a cancel, the
 * deadline, or the destination's rate limit (then it waits in a timer). */
static void start_target(nh_worker *w, worker_state *ws, nh_job *job, size_t i, size_t part) {
  nh_client *c = w->client;
  int in_doubt = doubtful(c, job);
  if (in_doubt && !job->parked) job->parked = 1;
  int go = job->parked ? unpark(w, ws, job, i, in_doubt) : 1;
  if (go == 0) return;
  double now = nh_now();
  if (nh_job_is_cancelled(job)) {
    end_target(w, job, i, NH_CANCELLED, "cancelled");
    return;
  }
  if (job->deadline > 0 && now >= job->deadline) {
    end_target(w, job, i, NH_TIMEOUT, "the message's deadline passed");
    return;
  }
  if (go < 0) { /* the spool cannot say yet: neither sent nor given up */
    wait_for(w, ws, job, i, part, now + DOUBT_RETRY);
    return;
  }
  double wait = rate_wait(w, job, &job->msg.targets[i], now);
  if (wait > 0) {
    nh_log(&c->log, NH_LOG_DEBUG, w->id, job->msg.id, "rate limit: waiting %.3f s", wait);
    wait_for(w, ws, job, i, part, now + wait);
    return;
  }
  int was = is_waiting(job);
  nh_transfer *t = nh_transfer_start(w, job, i, part);
  if (!t && job->results[i].code == NH_TIMEOUT) {
    /* The deadline passed while the request was built: no transfer. */
    end_target(w, job, i, NH_TIMEOUT, "the message's deadline passed");
    return;
  }
  if (!t) {
    target_done(w, job, i);
    return;
  }
  t->next = ws->transfers;
  if (t->next) t->next->prev = t;
  ws->transfers = t;
  __atomic_add_fetch(&w->active, 1, __ATOMIC_RELAXED); /* the pool reads it to grow */
  job->active++;
  reclass(c, job, was);
}

/* A body too large to plan on the caller's thread (NH_PLAN_SYNC_MAX) is
 * planned here, before its first transfer; a target it refuses ends now.
 * 0 when the target ended. A cancel or a passed deadline skips the work:
 * start_target ends the target. */
typedef struct plan_guard {
  nh_worker *w;
  nh_job *job;
} plan_guard;

static int client_aborting(nh_client *c) {
  pthread_mutex_lock(&c->queue.lock);
  int aborting = c->queue.aborting;
  pthread_mutex_unlock(&c->queue.lock);
  return aborting;
}

/* Planning 10 MB can take seconds: it stops between parts once nobody
 * wants the result (nh_message.stop). */
static int plan_stop(const void *arg) {
  const plan_guard *g = arg;
  return __atomic_load_n(&g->job->fate, __ATOMIC_ACQUIRE) == NH_FATE_CANCELLED ||
         (g->job->deadline > 0 && nh_now() >= g->job->deadline) || client_aborting(g->w->client);
}

static int plan_late(nh_worker *w, nh_job *job, size_t i) {
  nh_target *t = &job->msg.targets[i];
  if (t->planned || __atomic_load_n(&job->fate, __ATOMIC_ACQUIRE) == NH_FATE_CANCELLED ||
      (job->deadline > 0 && nh_now() >= job->deadline))
    return 1;
  char err[256];
  plan_guard g = { w, job };
  job->msg.stop = plan_stop;
  job->msg.stop_arg = &g;
  nh_code rc = nh_target_plan(&job->msg, t, err, sizeof err);
  job->msg.stop = NULL;
  job->msg.stop_arg = NULL;
  if (rc == NH_OK) return 1;
  if (rc == NH_CANCELLED) {                    /* plan_stop said so */
    if (!client_aborting(w->client)) return 1; /* start_target ends it: CANCELLED or TIMEOUT */
    end_target(w, job, i, NH_CLOSED, "client closed before the message was sent");
    return 0;
  }
  nh_result_set(&job->results[i], rc, "%s", err);
  target_done(w, job, i);
  return 0;
}

static void start_job(nh_worker *w, worker_state *ws, nh_job *job) {
  __atomic_store_n(&job->state, NH_JOB_SENDING, __ATOMIC_RELEASE);
  __atomic_add_fetch(&w->client->in_flight, 1, __ATOMIC_RELAXED);
  nh_log(&w->client->log, NH_LOG_DEBUG, w->id, job->msg.id, "worker %d picked message", w->id);
  /* +1 so that a target failing at once cannot finish the job early. */
  job->targets_left = job->msg.n_targets + 1;
  for (size_t i = 0; i < job->msg.n_targets; i++) {
    const nh_result *r = &job->results[i];
    if (r->success || r->code != NH_OK) { /* ended in the process that took it before */
      job->targets_left--;
      continue;
    }
    if (!plan_late(w, job, i)) continue;
    if (job->resume && job->resume[i].waiting) /* a retry due then, with its attempts so far */
      wait_for(w, ws, job, i, job->resume[i].part, job->resume[i].at);
    else start_target(w, ws, job, i, 0);
  }
  target_done(w, job, (size_t)-1);
}

/* ---- retries ------------------------------------------------------------ */

static double random_unit(worker_state *ws) {
  ws->rng ^= ws->rng << 13;
  ws->rng ^= ws->rng >> 7;
  ws->rng ^= ws->rng << 17;
  return (double)(ws->rng >> 11) / 9007199254740992.0;
}

/* Full jitter: uniform in [0, min(max_delay, initial * multiplier^(n-1))];
 * the service's own hint, when it gave one, instead (capped the same). */
static double backoff(worker_state *ws, const nh_retry *p, const nh_result *r) {
  if (r->retry_after > 0) return nh_delay_clamp(r->retry_after, p->max_delay);
  double cap = nh_delay_clamp(p->initial_delay * pow(p->multiplier, r->attempts - 1), p->max_delay);
  return nh_delay_clamp(cap * random_unit(ws), p->max_delay);
}

/* Every target of a spooled job left waits at least PARK_AFTER (a long
 * backoff, a Retry-After): its record goes back to the spool with each
 * waiting target's attempts, part and due time, so that a close() or a
 * crash keeps them and another client can take it once due; this worker
 * keeps its timers and takes the record back when one fires (unpark). */
static void park(nh_worker *w, worker_state *ws, nh_job *job) {
  nh_client *c = w->client;
  if (!c->spool || !job->spool_seq || job->parked || job->active > 0) return;
  double now = nh_now(), wall = nh_wall_time(), first = INFINITY;
  size_t n = 0;
  for (int k = 0; k < ws->n_timers; k++) {
    if (ws->timers[k].job != job) continue;
    if (ws->timers[k].when - now < PARK_AFTER) return;
    if (ws->timers[k].when < first) first = ws->timers[k].when;
    n++;
  }
  nh_spool_end *ends = n ? calloc(n + 1, sizeof *ends) : NULL;
  if (!ends) return;
  int most = 0;
  size_t m = 0;
  for (int k = 0; k < ws->n_timers; k++) {
    const timer *t = &ws->timers[k];
    if (t->job != job) continue;
    if (job->results[t->index].attempts > most) most = job->results[t->index].attempts;
    ends[m++] = (nh_spool_end){ .seq = job->spool_seq,
                                .how = NH_SPOOL_TARGET,
                                .target = (int)t->index,
                                .kind = NH_SPOOL_TARGET_WAITING,
                                .receipt = nh_spool_target_waiting(job, t->index, t->part,
                                                                   wall + (t->when - now)) };
  }
  ends[n] = (nh_spool_end){ .seq = job->spool_seq,
                            .how = NH_SPOOL_PARK,
                            .due = wall + (first - now) + PARK_GRACE,
                            .attempt = most };
  char err[256];
  if (nh_spool_client_park(c, ends, n + 1, err, sizeof err) == 0) {
    job->parked = 1;
    nh_log(&c->log, NH_LOG_DEBUG, w->id, job->msg.id,
           "waiting %.3f s: its record goes back to the spool meanwhile", first - now);
  }
  nh_spool_ends_free(ends, n + 1);
}

/* Schedules another attempt of a failed part; 0 when none is due. */
static int maybe_retry(nh_worker *w, worker_state *ws, nh_job *job, size_t i, size_t part) {
  const nh_result *r = &job->results[i];
  const nh_retry *p = &job->retry;
  /* the platform's descriptor decides, nothing else (nh_platform_transient) */
  if (!nh_platform_transient(job->msg.targets[i].platform, r) || r->attempts >= p->max_attempts)
    return 0;
  if (nh_job_is_cancelled(job)) return 0;
  double now = nh_now(), delay = backoff(ws, p, r);
  if (p->max_elapsed > 0 && now + delay - job->submitted_at > p->max_elapsed) return 0;
  __atomic_add_fetch(&w->client->retried, 1, __ATOMIC_RELAXED);
  nh_log_attempt(&w->client->log, NH_LOG_INFO, w->id, job->msg.id, r->attempts,
                 "attempt %d of %s failed (%s): retrying in %.3f s", r->attempts,
                 nh_platform_name(job->msg.targets[i].platform), nh_code_name(r->code), delay);
  wait_for(w, ws, job, i, part, now + delay);
  if (delay >= PARK_AFTER) park(w, ws, job);
  return 1;
}

/* ---- the loop ----------------------------------------------------------- */

static void unlink_transfer(worker_state *ws, nh_transfer *t) {
  if (t->prev) t->prev->next = t->next;
  else ws->transfers = t->next;
  if (t->next) t->next->prev = t->prev;
}

/* Frees the transfer; returns its job. */
static nh_job *end_transfer(nh_worker *w, worker_state *ws, nh_transfer *t) {
  nh_job *job = t->job;
  unlink_transfer(ws, t);
  nh_transfer_free(t);
  __atomic_sub_fetch(&w->active, 1, __ATOMIC_RELAXED);
  int was = is_waiting(job);
  job->active--;
  reclass(w->client, job, was);
  return job;
}

/* A transfer that failed as (or after) the message's own deadline passed:
 * the message timed out; it did not fail. */
static int past_deadline(const nh_job *job, const nh_result *r, int cut_to_deadline) {
  if (r->success || job->deadline <= 0) return 0;
  return nh_now() >= job->deadline || (cut_to_deadline && r->code == NH_TIMEOUT);
}

/* A transfer ended: a retry, the next part of a split message, or the
 * target is done. */
static void after_transfer(nh_worker *w, worker_state *ws, nh_transfer *t) {
  size_t i = t->index, part = t->part, next = part + 1;
  int cut_to_deadline = t->cut_to_deadline;
  nh_job *job = end_transfer(w, ws, t);
  nh_result *r = &job->results[i];
  if (past_deadline(job, r, cut_to_deadline)) {
    end_target(w, job, i, NH_TIMEOUT, "the message's deadline passed");
    return;
  }
  size_t parts = job->msg.targets[i].n_parts;
  if (r->success) r->parts_sent = (int)next;
  if (r->success && next < parts) {
    start_target(w, ws, job, i, next);
    return;
  }
  if (maybe_retry(w, ws, job, i, part)) return;
  if (!r->success && parts > 1) {
    char *why = nh_sprintf("part %zu of %zu: %s", next, parts, r->error ? r->error : "");
    if (why) {
      free(r->error);
      r->error = why;
    }
  }
  int more = job->targets_left > 1; /* the job outlives target_done */
  target_done(w, job, i);
  if (more) park(w, ws, job); /* the targets left may all wait long */
}

static void collect_done(nh_worker *w, worker_state *ws) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(w->multi, &left))) {
    if (m->msg != CURLMSG_DONE) continue;
    nh_transfer *t;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
    if (nh_transfer_follow(t, m->data.result)) continue;
    nh_transfer_record(t, m->data.result);
    after_transfer(w, ws, t);
  }
}

static void fire_timers(nh_worker *w, worker_state *ws) {
  double now = nh_now();
  while (ws->n_timers > 0 && ws->timers[0].when <= now) {
    timer t = pop_timer(ws);
    int was = is_waiting(t.job);
    t.job->waiting--;
    reclass(w->client, t.job, was);
    start_target(w, ws, t.job, t.index, t.part);
  }
}

/* Cancelled jobs lose their transfers and timers now. */
static void apply_cancels(nh_worker *w, worker_state *ws) {
  for (nh_transfer *t = ws->transfers, *next; t; t = next) {
    next = t->next;
    if (!nh_job_is_cancelled(t->job)) continue;
    size_t i = t->index;
    end_target(w, end_transfer(w, ws, t), i, NH_CANCELLED, "cancelled while in flight");
  }
  /* Due now: start_target sees the flag and ends the target. */
  for (int k = 0; k < ws->n_timers; k++)
    if (nh_job_is_cancelled(ws->timers[k].job)) ws->timers[k].when = 0;
  for (int k = ws->n_timers / 2; k >= 0 && ws->n_timers; k--) sift_down(ws, k); /* re-heapify */
  fire_timers(w, ws);
}

/* close() ran out of time: every transfer and timer ends now with CLOSED. */
static void abort_all(nh_worker *w, worker_state *ws) {
  const char *why = "client closed while the message was in flight";
  while (ws->transfers) {
    nh_transfer *t = ws->transfers;
    size_t i = t->index;
    end_target(w, end_transfer(w, ws, t), i, NH_CLOSED, why);
  }
  while (ws->n_timers > 0) {
    timer t = pop_timer(ws);
    int was = is_waiting(t.job);
    t.job->waiting--;
    reclass(w->client, t.job, was);
    end_target(w, t.job, t.index, NH_CLOSED, "client closed while the message waited to be sent");
  }
}

static nh_job *next_job(nh_worker *w, worker_state *ws, nh_queue *q) {
  if (!w->own_job) return nh_queue_pop_locked(q);
  if (ws->took_own) return NULL;
  ws->took_own = 1;
  return w->own_job;
}

/* A worker with nothing in flight stops when no more work can come. */
static int no_more_work(nh_worker *w, worker_state *ws, nh_queue *q) {
  if (w->own_job) return ws->took_own;
  return q->closing && q->length == 0;
}

static void take_jobs_locked(nh_worker *w, worker_state *ws, nh_queue *q) {
  nh_job *job;
  while (w->active < w->capacity && !q->aborting && (job = next_job(w, ws, q))) {
    job->worker = w;
    pthread_mutex_unlock(&q->lock);
    start_job(w, ws, job);
    pthread_mutex_lock(&q->lock);
  }
}

/* Seconds until the first timer, capped. */
static double next_timer_in(worker_state *ws, double cap) {
  if (ws->n_timers == 0) return cap;
  double left = ws->timers[0].when - nh_now();
  return left < 0 ? 0 : left < cap ? left : cap;
}

/* queue.lock held: ends queued jobs whose deadline passed (the lock is
 * let go while each one ends); returns the seconds until the next queued
 * deadline, or `cap`. */
static double expire_locked(nh_client *c, double cap) {
  nh_queue *q = &c->queue;
  nh_job *job;
  double now = nh_now();
  while ((job = nh_queue_first_deadline_locked(q)) && job->deadline <= now) {
    nh_queue_remove_locked(q, job);
    pthread_mutex_unlock(&q->lock);
    for (size_t i = 0; i < job->msg.n_targets; i++)
      nh_latency_record(c, job->msg.targets[i].platform, (now - job->submitted_at) * 1000.0);
    nh_finish_fail(c, job, NH_TIMEOUT, "the message's deadline passed while it was queued");
    pthread_mutex_lock(&q->lock);
  }
  if (job && job->deadline - now < cap) cap = job->deadline - now;
  return cap;
}

/* Idle: sleeps until work comes, a queued deadline is due, or the idle
 * timeout retires this worker. Returns 1 when the worker should leave. */
static int idle_wait_locked(nh_worker *w, nh_queue *q) {
  nh_client *c = w->client;
  double cap = w->own_job ? POLL_MAX_MS / 1000.0 : c->opt.idle_timeout;
  double wait = expire_locked(c, cap);
  q->idle_workers++;
  int rc = nh_queue_timedwait(&q->not_empty, &q->lock, wait);
  q->idle_workers--;
  if (q->wakes_pending > 0) q->wakes_pending--;
  if (rc == 0 || w->own_job || q->length > 0 || q->closing) return 0;
  if (wait < c->opt.idle_timeout || c->n_workers <= c->opt.min_workers) return 0;
  c->n_workers--; /* now, so two idle workers cannot both leave */
  return 1;
}

static void run(nh_worker *w) {
  nh_client *c = w->client;
  nh_queue *q = &c->queue;
  worker_state ws = { .rng = (uint64_t)(nh_wall_time() * 1e6) ^ ((uint64_t)(uintptr_t)w << 16) };
  int running;
  if (!ws.rng) ws.rng = 88172645463325252ULL;
  for (;;) {
    pthread_mutex_lock(&q->lock);
    w->wants_work = 0;
    int cancels = w->cancel_pending;
    w->cancel_pending = 0;
    if (q->aborting) {
      pthread_mutex_unlock(&q->lock);
      abort_all(w, &ws);
      if (w->own_job && !ws.took_own)
        nh_finish_fail(c, w->own_job, NH_CLOSED, "client closed before the message was sent");
      break;
    }
    double cap = next_timer_in(&ws, POLL_MAX_MS / 1000.0);
    if (!w->own_job) cap = expire_locked(c, cap);
    take_jobs_locked(w, &ws, q);
    if (!w->own_job) nh_worker_grow_locked(c);
    if (w->active == 0 && ws.n_timers == 0) {
      if (no_more_work(w, &ws, q)) {
        pthread_mutex_unlock(&q->lock);
        break;
      }
      w->retiring = idle_wait_locked(w, q);
      pthread_mutex_unlock(&q->lock);
      if (w->retiring) break;
      continue;
    }
    w->wants_work = !w->own_job && w->active < w->capacity && !q->closing;
    pthread_mutex_unlock(&q->lock);
    if (cancels) apply_cancels(w, &ws);
    curl_multi_poll(w->multi, NULL, 0, (int)(next_timer_in(&ws, cap) * 1000.0) + 1, NULL);
    curl_multi_perform(w->multi, &running);
    collect_done(w, &ws);
    fire_timers(w, &ws);
  }
  free(ws.timers);
}

/* ---- threads ------------------------------------------------------------ */

/* Others read w->multi (to wake it) under queue.lock. */
static int worker_open(nh_worker *w) {
  CURLM *multi = curl_multi_init();
  w->spare = calloc((size_t)w->capacity, sizeof *w->spare);
  pthread_mutex_lock(&w->client->queue.lock);
  w->multi = multi;
  pthread_mutex_unlock(&w->client->queue.lock);
  return w->multi && w->spare ? 0 : -1;
}

static void worker_close(nh_worker *w) {
  while (w->n_spare) curl_easy_cleanup(w->spare[--w->n_spare]);
  free(w->spare);
  w->spare = NULL;
  pthread_mutex_lock(&w->client->queue.lock);
  CURLM *multi = w->multi;
  w->multi = NULL;
  w->wants_work = 0;
  pthread_mutex_unlock(&w->client->queue.lock);
  if (multi) curl_multi_cleanup(multi);
}

/* A pool worker idle past idle_timeout leaves the pool; the owner joins it. */
static void retire(nh_worker *w) {
  nh_client *c = w->client;
  pthread_mutex_lock(&c->queue.lock);
  nh_worker **link = &c->workers;
  while (*link && *link != w) link = &(*link)->next;
  if (*link) *link = w->next; /* n_workers went down when it chose to */
  pthread_mutex_unlock(&c->queue.lock);
  pthread_mutex_lock(&c->lock);
  w->next = c->retired;
  c->retired = w;
  pthread_mutex_unlock(&c->lock);
}

int nh_worker_start_locked(nh_client *c) {
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

void nh_worker_grow_locked(nh_client *c) {
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
  if (nh_worker_start_locked(c) == 0)
    nh_log(&c->log, NH_LOG_DEBUG, 0, NULL, "pool grows to %d workers (backlog of %zu)",
           c->n_workers, q->length);
}

void *nh_worker_main(void *arg) {
  nh_worker *w = arg;
  nh_client *c = w->client;
  if (worker_open(w) == 0) {
    run(w);
  } else if (w->own_job) {
    nh_finish_fail(c, w->own_job, NH_NO_MEMORY, "out of memory starting a transfer");
  }
  worker_close(w);
  if (w->retiring) {
    nh_log(&c->log, NH_LOG_DEBUG, w->id, NULL, "worker %d retires (idle)", w->id);
    retire(w);
  }
  if (w->own_job) {
    pthread_mutex_lock(&c->queue.lock);
    c->queue.reserved--;
    pthread_cond_signal(&c->queue.not_full);
    pthread_mutex_unlock(&c->queue.lock);
    pthread_mutex_lock(&c->lock);
    w->finished = 1;
    pthread_mutex_unlock(&c->lock);
  }
  return NULL;
}

void nh_worker_run_inline(nh_client *c, nh_job *job) {
  nh_worker w;
  memset(&w, 0, sizeof w);
  w.client = c;
  w.own_job = job;
  w.capacity = (int)job->msg.n_targets;
  int opened = worker_open(&w) == 0;
  /* job->worker is read by nh_client_cancel() from any thread, under the
   * queue lock: set it there, once the multi handle it wakes exists. */
  pthread_mutex_lock(&c->queue.lock);
  if (opened) job->worker = &w;
  pthread_mutex_unlock(&c->queue.lock);
  if (opened) run(&w);
  else nh_finish_fail(c, job, NH_NO_MEMORY, "out of memory starting a transfer");
  /* The job is finished and still unread (this thread takes it later): it
   * must not point at this stack frame, nor a cancel wake a multi handle
   * that worker_close() frees. */
  pthread_mutex_lock(&c->queue.lock);
  job->worker = NULL;
  pthread_mutex_unlock(&c->queue.lock);
  worker_close(&w);
}
