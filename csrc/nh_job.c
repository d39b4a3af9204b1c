/*
 * nh_job.c: job records. A job holds a copy of the message, one resolved
 * target and one result per destination. Two references exist while the job
 * is alive: the core's (dropped when the owner takes the completion, or by
 * the worker when the job was detached) and the caller's handle.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "nh_internal.h"

nh_job *nh_job_new(size_t n_targets) {
  nh_job *job = calloc(1, sizeof *job);
  if (!job) return NULL;
  job->msg.priority = NH_PRIORITY_NORMAL;
  job->msg.n_targets = n_targets;
  job->msg.targets = calloc(n_targets ? n_targets : 1, sizeof *job->msg.targets);
  job->results = calloc(n_targets ? n_targets : 1, sizeof *job->results);
  job->refs = 1;
  if (!job->msg.targets || !job->results) {
    free(job->msg.targets);
    free(job->results);
    free(job);
    return NULL;
  }
  return job;
}

int nh_message_id_ok(const char *id) {
  size_t n = 0;
  for (; id && id[n]; n++)
    if ((unsigned char)id[n] <= 0x20 || (unsigned char)id[n] >= 0x7F) return 0;
  return n > 0 && n <= NH_MAX_ID_LEN;
}

static void free_strings(char **v, size_t n) {
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

static void free_target(nh_target *t) {
  free(t->url);
  free(t->label);
  free(t->secret);
  free(t->method);
  free(t->rate_key);
  free_strings(t->headers, t->n_headers);
  free_strings(t->keywords, t->n_keywords);
  free_strings(t->parts, t->n_parts);
  free_strings(t->secrets, t->n_secrets);
  cJSON_Delete(t->options);
}

static void free_attachments(nh_message *m) {
  for (size_t i = 0; i < m->n_attachments; i++) {
    free(m->attachments[i].filename);
    free(m->attachments[i].content_type);
    free(m->attachments[i].content);
    free(m->attachments[i].path);
  }
  free(m->attachments);
}

static void free_job(nh_job *job) {
  nh_message *m = &job->msg;
  for (size_t i = 0; i < m->n_targets; i++) {
    free_target(&m->targets[i]);
    free(job->results[i].error);
    free(job->results[i].response);
    free(job->results[i].rejected);
  }
  free_attachments(m);
  free(m->targets);
  free(job->results);
  free(job->resume);
  free(m->id);
  free(m->title);
  free(m->body);
  free(m->format);
  cJSON_Delete(m->metadata);
  cJSON_Delete(m->platform_data);
  free(job);
}

void nh_job_release(nh_job *job) {
  if (job && __atomic_sub_fetch(&job->refs, 1, __ATOMIC_ACQ_REL) == 0) free_job(job);
}

int nh_job_state(const nh_job *job) { return __atomic_load_n(&job->state, __ATOMIC_ACQUIRE); }

/* Process-wide: a job does not know its client, which may be gone. */
static unsigned long detaches;

void nh_job_detach(nh_job *job) {
  __atomic_store_n(&job->detached, 1, __ATOMIC_RELEASE);
  __atomic_add_fetch(&detaches, 1, __ATOMIC_RELAXED);
}

unsigned long nh_job_detaches(void) { return __atomic_load_n(&detaches, __ATOMIC_RELAXED); }

void nh_result_set(nh_result *r, nh_code code, const char *fmt, ...) {
  r->code = code;
  r->success = code == NH_OK;
  r->transient = 0; /* a new outcome: the caller says if it is */
  free(r->error);
  r->error = NULL;
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    r->error = nh_vsprintf(fmt, ap);
    va_end(ap);
  }
}

int nh_job_succeeded(const nh_job *job) {
  for (size_t i = 0; i < job->msg.n_targets; i++)
    if (!job->results[i].success) return 0;
  return job->msg.n_targets > 0;
}

/* ---- how a job ends ----------------------------------------------------- */

int nh_job_fate_cancel(nh_job *job) {
  int open = NH_FATE_OPEN;
  if (__atomic_compare_exchange_n(&job->fate, &open, NH_FATE_CANCELLED, 0, __ATOMIC_ACQ_REL,
                                  __ATOMIC_ACQUIRE))
    return 1;
  return open == NH_FATE_CANCELLED; /* asked twice: still true */
}

int nh_job_is_cancelled(const nh_job *job) {
  return __atomic_load_n(&job->fate, __ATOMIC_ACQUIRE) == NH_FATE_CANCELLED;
}

int nh_job_seal(nh_job *job) {
  int open = NH_FATE_OPEN;
  if (__atomic_compare_exchange_n(&job->fate, &open, NH_FATE_SEALED, 0, __ATOMIC_ACQ_REL,
                                  __ATOMIC_ACQUIRE))
    return 1;
  return open == NH_FATE_SEALED;
}

static void cancel_result(nh_result *r) {
  if (r->success) {
    nh_result_set(r, NH_CANCELLED, "cancelled as its request finished (it may have arrived)");
  } else if (r->code != NH_CANCELLED) {
    char *prev = r->error;
    r->error = NULL;
    nh_result_set(r, NH_CANCELLED, "cancelled (last attempt: %s)",
                  prev ? prev : nh_code_text(r->code));
    free(prev);
  }
}

void nh_job_end_cancelled(nh_job *job, size_t i) {
  size_t n = job->msg.n_targets;
  job->code = NH_CANCELLED;
  for (size_t k = 0; k < n; k++)
    if (job->results[k].code == NH_CANCELLED && !job->results[k].success) return;
  if (i >= n && !nh_job_succeeded(job)) {
    for (size_t k = 0; k < n; k++)
      if (!job->results[k].success) cancel_result(&job->results[k]);
  } else if (n > 0) {
    /* A receipt that says success must not come with a cancel that won. */
    cancel_result(&job->results[i < n ? i : n - 1]);
  }
}

/* ---- delays ------------------------------------------------------------- */

double nh_delay_clamp(double seconds, double max) {
  if (!(max >= 0)) max = 0; /* NaN, negative */
  if (max > NH_MAX_DELAY) max = NH_MAX_DELAY;
  if (!(seconds > 0)) return 0; /* NaN, zero, negative */
  return seconds < max ? seconds : max;
}

void nh_retry_sanitize(nh_retry *p) {
  if (p->max_attempts < 1) p->max_attempts = 1;
  p->max_delay = nh_delay_clamp(p->max_delay, NH_MAX_DELAY);
  p->initial_delay = nh_delay_clamp(p->initial_delay, p->max_delay);
  if (!(p->multiplier >= 1)) p->multiplier = 1; /* NaN, below 1 */
  if (p->multiplier > 1e6) p->multiplier = 1e6; /* inf: capped by max_delay */
  if (!(p->max_elapsed > 0) || isinf(p->max_elapsed)) p->max_elapsed = 0; /* no limit */
}
