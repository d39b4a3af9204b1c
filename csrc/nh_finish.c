/*
 * nh_finish.c: how a job ends, whoever ends it (a worker, the queued
 * deadline sweep, cancel(), close(), a thread that could not be made):
 * counted once, its failure logged, handed to the owner through the
 * completion queue, or released when nobody will read it. Every path that
 * ends a job calls nh_finish_job() exactly once; a job that failed before
 * any request goes through nh_finish_fail().
 *
 * Below the client, the pool and the workers: it calls only the lower
 * parts (jobs, redaction, the log buffer, the completion queue).
 */
#include <stdio.h>
#include <unistd.h>

#include "nh_internal.h"

/* One line on stderr, in one write so that threads do not interleave. */
static void report_undelivered(const nh_job *job, nh_code code) {
  char line[NH_MAX_ID_LEN + 96];
  int n = snprintf(line, sizeof line, "notifyhub: message %s not delivered (%s)\n",
                   job->msg.id ? job->msg.id : "?", nh_code_name(code));
  if (n > 0 && write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1) < 0) {}
}

/* The first failed target's text, for the failure log. */
static const nh_result *first_failure(const nh_job *job) {
  for (size_t i = 0; i < job->msg.n_targets; i++)
    if (!job->results[i].success) return &job->results[i];
  return NULL;
}

/* What a receipt and the logs call the job's end. */
static nh_code end_code(const nh_job *job) {
  const nh_result *bad = first_failure(job);
  return job->code != NH_OK ? job->code : bad ? bad->code : NH_OK;
}

/* Finished jobs nobody read: at exit nobody will; say which were lost
 * (those whose failure record flush_logs() wrote are named already). */
void nh_finish_report_unread(nh_client *c) {
  pthread_mutex_lock(&c->done.lock);
  for (nh_job *job = c->done.head; job; job = job->next)
    if (!nh_job_succeeded(job) && job->code != NH_CANCELLED && job->code != NH_HANDED_OVER &&
        !job->failure_logged)
      report_undelivered(job, end_code(job));
  pthread_mutex_unlock(&c->done.lock);
}

/* Each finished job is counted once, in the first class that fits it:
 * cancelled, timed out (its own deadline), succeeded, failed. */
static void count_finished(nh_client *c, nh_job *job) {
  uint64_t *counter = job->code == NH_CANCELLED ? &c->cancelled
                      : job->code == NH_TIMEOUT ? &c->timed_out
                      : nh_job_succeeded(job)   ? &c->succeeded
                                                : &c->failed;
  __atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
  if (job->code == NH_CLOSED) __atomic_add_fetch(&c->closed, 1, __ATOMIC_RELAXED);
  if (job->code == NH_HANDED_OVER) __atomic_add_fetch(&c->handed_over, 1, __ATOMIC_RELAXED);
  if (__atomic_load_n(&job->state, __ATOMIC_ACQUIRE) == NH_JOB_SENDING)
    __atomic_sub_fetch(&c->in_flight, 1, __ATOMIC_RELAXED);
}

/* A failed job is logged (logger.failures); while closing, past the log
 * buffer's capacity too: close must name every message it did not deliver.
 * At exit nobody drains the buffer: a job nobody will read goes to stderr. */
static void log_failure(nh_client *c, nh_job *job, int detached) {
  const nh_result *bad = first_failure(job);
  /* cancelled: the caller asked for it; handed over: not lost */
  if (!bad || job->code == NH_CANCELLED || job->code == NH_HANDED_OVER) return;
  if (__atomic_load_n(&c->at_exit, __ATOMIC_ACQUIRE)) {
    if (detached) report_undelivered(job, end_code(job));
    return;
  }
  if (!c->opt.log_failures) return;
  int lost = job->code == NH_CLOSED;
  int closing = __atomic_load_n(&c->closing, __ATOMIC_ACQUIRE);
  int level = lost ? NH_LOG_ERROR : NH_LOG_WARN;
  job->failure_logged = nh_log_keep(&c->log, level, closing, job->msg.id, "message %s %s: %s (%s)",
                                    job->msg.id, lost ? "not delivered" : "failed",
                                    bad->error ? bad->error : "", nh_code_name(end_code(job)));
  /* The buffer is full (nobody polls): without a handler the record was
   * bound for stderr anyway, and a collected handle leaves nothing else. */
  if (!job->failure_logged && c->opt.failures_stderr && level >= c->log.level) {
    report_undelivered(job, end_code(job));
    job->failure_logged = 1;
  }
}

/* A spooled job cut off by close() is not lost: its record goes back to
 * the spool (nh_spool_client_close), so it ends HANDED_OVER, not CLOSED. */
static void hand_over(nh_job *job) {
  if (!job->spool_seq || job->code != NH_CLOSED) return;
  job->code = NH_HANDED_OVER;
  for (size_t i = 0; i < job->msg.n_targets; i++)
    if (job->results[i].code == NH_CLOSED) job->results[i].code = NH_HANDED_OVER;
}

void nh_finish_job(nh_client *c, nh_job *job) {
  if (!nh_job_seal(job)) nh_job_end_cancelled(job, (size_t)-1); /* cancel() said true */
  hand_over(job);
  for (size_t i = 0; i < job->msg.n_targets; i++)
    nh_redact_result(&job->results[i], &job->msg.targets[i], c->secrets, c->n_secrets);
  if (job->spool_seq) nh_spool_client_end(c, job);
  count_finished(c, job);
  int detached = __atomic_load_n(&job->detached, __ATOMIC_ACQUIRE);
  log_failure(c, job, detached);
  __atomic_store_n(&job->state, NH_JOB_DONE, __ATOMIC_RELEASE);
  detached = __atomic_load_n(&job->detached, __ATOMIC_ACQUIRE);
  /* One step under one lock, so nh_client_pending() never reads zero while
   * a record is between the two counts. */
  pthread_mutex_lock(&c->done.lock);
  if (!detached) nh_completions_push_locked(&c->done, job); /* the owner may free it now */
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

/* A target nothing has ended yet: no success and no code. */
static int unfinished(const nh_result *r) { return !r->success && r->code == NH_OK; }

void nh_finish_fail(nh_client *c, nh_job *job, nh_code code, const char *text) {
  for (size_t i = 0; i < job->msg.n_targets; i++)
    if (unfinished(&job->results[i])) nh_result_set(&job->results[i], code, "%s", text);
  job->code = code;
  nh_finish_job(c, job);
}
