/*
 * nh_worker.c: a worker drives one libcurl multi handle and keeps up to
 * `concurrency` transfers in flight. One job fans out to one transfer per
 * target; the job is finished when its last transfer is.
 *
 * The same loop serves the three modes: pool threads take jobs from the
 * shared queue, a direct-mode thread runs the one job it was made for, and
 * async.enabled = false runs that direct loop on the caller's thread.
 * Nothing here touches Lua.
 */
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define RESPONSE_KEPT 512   /* bytes of an answer a receipt keeps */

typedef struct transfer {
  nh_worker *w;
  nh_job *job;
  size_t index;             /* which target of the job */
  size_t part;              /* which part of a split message */
  CURL *easy;
  nh_request req;
  char *buf;                /* the answer's body, up to max_response */
  size_t len, cap;
  size_t sent;              /* SMTP: bytes of req.body uploaded */
  int too_big;
  char errbuf[CURL_ERROR_SIZE];
  struct transfer *prev, *next;
} transfer;

typedef struct worker_state {
  transfer *transfers;      /* in flight, for abort */
  int took_own;             /* direct mode: own_job has been started */
} worker_state;

static size_t on_body(char *data, size_t size, size_t n, void *ud) {
  transfer *t = ud;
  size_t len = size * n, limit = t->w->client->opt.max_response;
  if (t->len + len > limit) {
    t->too_big = 1;
    return 0;                                 /* aborts with CURLE_WRITE_ERROR */
  }
  if (t->len + len + 1 > t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 1024;
    while (cap < t->len + len + 1) cap *= 2;
    char *p = realloc(t->buf, cap);
    if (!p) return 0;
    t->buf = p;
    t->cap = cap;
  }
  memcpy(t->buf + t->len, data, len);
  t->len += len;
  t->buf[t->len] = '\0';
  return len;
}

static CURL *get_easy(nh_worker *w) {
  CURL *easy = w->n_spare ? w->spare[--w->n_spare] : curl_easy_init();
  if (easy) nh_client_setup_easy(w->client, easy);
  return easy;
}

static void put_easy(nh_worker *w, CURL *easy) {
  if (w->n_spare < w->capacity && w->spare) {
    curl_easy_reset(easy);
    w->spare[w->n_spare++] = easy;
  } else {
    curl_easy_cleanup(easy);
  }
}

/* One target of a job is over: the job ends with its last target. */
static void target_done(nh_worker *w, nh_job *job) {
  if (--job->targets_left == 0) {
    nh_log(&w->client->log, NH_LOG_DEBUG, w->id, job->msg.id, "message finished: %s",
           nh_job_succeeded(job) ? "delivered" : "failed");
    nh_client_finish(w->client, job);
  }
}

static nh_code map_curl_error(CURLcode rc) {
  switch (rc) {
  case CURLE_OPERATION_TIMEDOUT: return NH_TIMEOUT;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_USE_SSL_FAILED:
    return NH_TLS;
  default: return NH_NETWORK;
  }
}

static void record_answer(transfer *t, CURLcode rc) {
  nh_job *job = t->job;
  nh_result *r = &job->results[t->index];
  const nh_target *target = &job->msg.targets[t->index];
  curl_off_t us = 0;
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &r->http_status);
  curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME_T, &us);
  r->duration_ms = (double)us / 1000.0;
  r->attempts++;
  curl_off_t retry_after = 0;
  curl_easy_getinfo(t->easy, CURLINFO_RETRY_AFTER, &retry_after);
  r->retry_after = (double)retry_after;
  free(r->response);
  r->response = NULL;
  if (rc == CURLE_OK) {
    nh_answer a = { r->http_status, t->buf ? t->buf : "", t->len };
    nh_platform_get(target->platform)->classify(target, &a, r);
    /* A platform may keep a cleaned copy (WeCom hides the caller's IP). */
    if (!r->response)
      r->response = nh_strndup(a.body, a.body_len < RESPONSE_KEPT ? a.body_len : RESPONSE_KEPT);
  } else if (t->too_big) {
    nh_result_set(r, NH_NETWORK, "%s: the answer is larger than %zu bytes",
                  nh_platform_name(target->platform), t->w->client->opt.max_response);
  } else {
    /* libcurl's messages name host and port at most, never the path. An
     * SMTP server that answered 4xx/5xx (or refused the login) rejected the
     * message; it is not a network failure. */
    nh_code code = map_curl_error(rc);
    if (t->req.smtp && (r->http_status >= 400 || rc == CURLE_LOGIN_DENIED))
      code = NH_PLATFORM_REJECTED;
    nh_result_set(r, code, "%s: %s", nh_platform_name(target->platform),
                  t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
  }
}

static void unlink_transfer(worker_state *ws, transfer *t) {
  if (t->prev) t->prev->next = t->next;
  else ws->transfers = t->next;
  if (t->next) t->next->prev = t->prev;
}

/* Frees the transfer; returns its job. */
static nh_job *end_transfer(nh_worker *w, worker_state *ws, transfer *t) {
  curl_multi_remove_handle(w->multi, t->easy);
  unlink_transfer(ws, t);
  put_easy(w, t->easy);
  nh_request_free(&t->req);
  free(t->buf);
  nh_job *job = t->job;
  free(t);
  w->active--;
  return job;
}

static size_t on_upload(char *out, size_t size, size_t n, void *ud) {
  transfer *t = ud;
  size_t left = t->req.body_len - t->sent, room = size * n;
  size_t len = left < room ? left : room;
  memcpy(out, t->req.body + t->sent, len);
  t->sent += len;
  return len;
}

static void setup_smtp(transfer *t, CURL *e) {
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(e, CURLOPT_MAIL_FROM, t->req.mail_from);
  curl_easy_setopt(e, CURLOPT_MAIL_RCPT, t->req.rcpt);
  curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(e, CURLOPT_READFUNCTION, on_upload);
  curl_easy_setopt(e, CURLOPT_READDATA, t);
  curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)t->req.body_len);
  curl_easy_setopt(e, CURLOPT_USE_SSL, (long)t->req.use_ssl);
  if (t->req.username) curl_easy_setopt(e, CURLOPT_USERNAME, t->req.username);
  if (t->req.password) curl_easy_setopt(e, CURLOPT_PASSWORD, t->req.password);
}

static void setup_http(transfer *t, CURL *e) {
  if (t->req.method && strcmp(t->req.method, "POST") != 0)
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, t->req.method);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->req.body_len);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->req.body ? t->req.body : "");
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->req.headers);
}

/* Builds part `part` of target i and starts sending it. */
static int start_transfer(nh_worker *w, worker_state *ws, nh_job *job, size_t i, size_t part) {
  const nh_target *target = &job->msg.targets[i];
  nh_result *r = &job->results[i];
  transfer *t = calloc(1, sizeof *t);
  char err[256] = "";
  if (!t) {
    nh_result_set(r, NH_NO_MEMORY, "out of memory");
    return -1;
  }
  t->w = w;
  t->job = job;
  t->index = i;
  t->part = part;
  nh_message msg = job->msg;
  if (target->n_parts) msg.body = target->parts[part];
  nh_code rc = nh_platform_get(target->platform)->build(&msg, target, &t->req, err, sizeof err);
  if (rc == NH_OK && !(t->easy = get_easy(w))) rc = NH_NO_MEMORY;
  if (rc != NH_OK) {
    nh_result_set(r, rc, "%s", err[0] ? err : nh_code_text(rc));
    nh_request_free(&t->req);
    free(t);
    return -1;
  }
  CURL *e = t->easy;
  curl_easy_setopt(e, CURLOPT_URL, t->req.url);
  if (t->req.smtp) setup_smtp(t, e);
  else setup_http(t, e);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
  curl_easy_setopt(e, CURLOPT_PRIVATE, t);
  t->next = ws->transfers;
  if (t->next) t->next->prev = t;
  ws->transfers = t;
  w->active++;
  curl_multi_add_handle(w->multi, e);
  return 0;
}

static void start_job(nh_worker *w, worker_state *ws, nh_job *job) {
  __atomic_store_n(&job->state, NH_JOB_SENDING, __ATOMIC_RELEASE);
  __atomic_add_fetch(&w->client->in_flight, 1, __ATOMIC_RELAXED);
  nh_log(&w->client->log, NH_LOG_DEBUG, w->id, job->msg.id, "worker %d picked message", w->id);
  /* +1 so that a target failing at once cannot finish the job early. */
  job->targets_left = job->msg.n_targets + 1;
  for (size_t i = 0; i < job->msg.n_targets; i++)
    if (start_transfer(w, ws, job, i, 0) != 0) target_done(w, job);
  target_done(w, job);
}

/* A transfer ended: the next part of a split message goes out after the
 * one before it succeeded; otherwise its target is done. */
static void after_transfer(nh_worker *w, worker_state *ws, transfer *t) {
  size_t i = t->index, next = t->part + 1;
  nh_result *r = &t->job->results[i];
  size_t parts = t->job->msg.targets[i].n_parts;
  if (r->success) r->parts_sent = (int)next;
  nh_job *job = end_transfer(w, ws, t);
  if (r->success && next < parts) {
    if (start_transfer(w, ws, job, i, next) == 0) return;
  } else if (!r->success && parts > 1) {
    char *why = nh_sprintf("part %zu of %zu: %s", next, parts, r->error ? r->error : "");
    if (why) {
      free(r->error);
      r->error = why;
    }
  }
  target_done(w, job);
}

static void collect_done(nh_worker *w, worker_state *ws) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(w->multi, &left))) {
    if (m->msg != CURLMSG_DONE) continue;
    transfer *t;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
    record_answer(t, m->data.result);
    after_transfer(w, ws, t);
  }
}

/* close() ran out of time: every transfer ends now with NH_CLOSED. */
static void abort_transfers(nh_worker *w, worker_state *ws) {
  while (ws->transfers) {
    transfer *t = ws->transfers;
    nh_result_set(&t->job->results[t->index], NH_CLOSED,
                  "client closed while the message was in flight");
    t->job->code = NH_CLOSED;
    target_done(w, end_transfer(w, ws, t));
  }
}

/* A job that could not get a worker at all ends with code and text. */
static void fail_job(nh_client *c, nh_job *job, nh_code code, const char *text) {
  for (size_t i = 0; i < job->msg.n_targets; i++)
    nh_result_set(&job->results[i], code, "%s", text);
  job->code = code;
  nh_client_finish(c, job);
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
    pthread_mutex_unlock(&q->lock);
    start_job(w, ws, job);
    pthread_mutex_lock(&q->lock);
  }
}

static void run(nh_worker *w) {
  nh_queue *q = &w->client->queue;
  worker_state ws = { NULL, 0 };
  int running;
  for (;;) {
    pthread_mutex_lock(&q->lock);
    w->wants_work = 0;
    if (q->aborting) {
      pthread_mutex_unlock(&q->lock);
      abort_transfers(w, &ws);
      if (w->own_job && !ws.took_own)
        fail_job(w->client, w->own_job, NH_CLOSED, "client closed before the message was sent");
      break;
    }
    take_jobs_locked(w, &ws, q);
    if (w->active == 0) {
      if (no_more_work(w, &ws, q) || q->aborting) {
        pthread_mutex_unlock(&q->lock);
        break;
      }
      q->idle_workers++;
      pthread_cond_wait(&q->not_empty, &q->lock);
      q->idle_workers--;
      if (q->wakes_pending > 0) q->wakes_pending--;
      pthread_mutex_unlock(&q->lock);
      continue;
    }
    w->wants_work = !w->own_job && w->active < w->capacity && !q->closing;
    pthread_mutex_unlock(&q->lock);
    curl_multi_poll(w->multi, NULL, 0, 1000, NULL);
    curl_multi_perform(w->multi, &running);
    collect_done(w, &ws);
  }
}

/* The lock under which others read w->multi to wake it: the queue's for
 * pool workers, the client's for direct-mode threads (see cut_off). */
static pthread_mutex_t *multi_lock(nh_worker *w) {
  return w->own_job ? &w->client->lock : &w->client->queue.lock;
}

static int worker_open(nh_worker *w) {
  CURLM *multi = curl_multi_init();
  w->spare = calloc((size_t)w->capacity, sizeof *w->spare);
  pthread_mutex_lock(multi_lock(w));
  w->multi = multi;
  pthread_mutex_unlock(multi_lock(w));
  return w->multi && w->spare ? 0 : -1;
}

static void worker_close(nh_worker *w) {
  while (w->n_spare) curl_easy_cleanup(w->spare[--w->n_spare]);
  free(w->spare);
  w->spare = NULL;
  pthread_mutex_lock(multi_lock(w));
  CURLM *multi = w->multi;
  w->multi = NULL;
  w->wants_work = 0;
  pthread_mutex_unlock(multi_lock(w));
  if (multi) curl_multi_cleanup(multi);
}

void *nh_worker_main(void *arg) {
  nh_worker *w = arg;
  nh_client *c = w->client;
  if (worker_open(w) == 0) {
    run(w);
  } else if (w->own_job) {
    fail_job(c, w->own_job, NH_NO_MEMORY, "out of memory starting a transfer");
  }
  worker_close(w);
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
  if (worker_open(&w) == 0) run(&w);
  else fail_job(c, job, NH_NO_MEMORY, "out of memory starting a transfer");
  worker_close(&w);
}
