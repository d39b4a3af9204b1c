/*
 * fail_job.c: jobs that fail before any request, from C: every accepted job
 * ends in exactly one completion record, with the job's code set, when an
 * allocation or a thread the core needs cannot be had
 * (spec/core_fail_spec.lua builds and runs it).
 *
 *   fail_job direct
 *     Direct mode (a thread per message): the job's thread cannot be made
 *     (its record's calloc fails). The job ends with one record: the job's
 *     code and every target's are INTERNAL.
 *   fail_job queue
 *     A pool client with no worker holds 64 queued jobs with a deadline;
 *     growing the queue's deadline heap for the 65th fails. The submit is
 *     refused with NO_MEMORY and the caller keeps the job (it goes in once
 *     memory is back), or the job ends with one record: after close, every
 *     accepted job has exactly one record and nothing is pending.
 *
 * The failures are real allocation failures: this program replaces calloc
 * and realloc (forwarding to glibc's) and fails one call of a given size on
 * the calling thread when armed. Under a sanitizer, which owns malloc, the
 * program skips.
 *
 * Prints one "PASS ..." or "FAIL ..." line per check; exits 1 on a FAIL.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#endif

static int failures;

static void check(int ok, const char *what) {
  printf("%s %s\n", ok ? "PASS" : "FAIL", what);
  if (!ok) failures++;
}

#ifndef UNDER_SANITIZER

/* ---- allocation faults on the calling thread ----------------------------- */

extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);

static __thread size_t fail_calloc_bytes, fail_realloc_bytes;
static __thread int faults_fired;

void *calloc(size_t n, size_t size) {
  if (fail_calloc_bytes && n * size == fail_calloc_bytes) {
    fail_calloc_bytes = 0;
    faults_fired++;
    errno = ENOMEM;
    return NULL;
  }
  return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size) {
  if (fail_realloc_bytes && size == fail_realloc_bytes) {
    fail_realloc_bytes = 0;
    faults_fired++;
    errno = ENOMEM;
    return NULL;
  }
  return __libc_realloc(p, size);
}

/* ---- jobs and clients ---------------------------------------------------- */

#define DEAD_URL "http://127.0.0.1:1/never"

static nh_job *job_new(int n, double timeout) {
  char id[32];
  nh_job *job = nh_job_new(2);
  snprintf(id, sizeof id, "fj-%d", n);
  job->msg.id = strdup(id);
  job->msg.body = strdup("fail");
  job->timeout = timeout;
  for (int i = 0; i < 2; i++) {
    job->msg.targets[i].platform = NH_PLATFORM_WEBHOOK;
    job->msg.targets[i].url = strdup(DEAD_URL);
    job->msg.targets[i].label = strdup("fail");
  }
  job->retry = (nh_retry){ 1, 0, 0, 1, 0 };
  return job;
}

static nh_client *client_new(int use_pool, int workers) {
  char err[256];
  nh_options o;
  nh_options_default(&o);
  o.use_pool = use_pool;
  o.workers = o.min_workers = o.max_workers = workers;
  o.log_failures = 0;
  nh_client *c = nh_client_new(&o, err, sizeof err);
  if (!c) {
    fprintf(stderr, "nh_client_new: %s\n", err);
    exit(2);
  }
  return c;
}

/* Takes every record there is, waiting up to `wait` seconds for the first. */
static size_t take_all(nh_client *c, nh_job **out, size_t max, double wait) {
  size_t n = 0;
  double until = nh_now() + wait;
  while (n < max) {
    size_t got = nh_client_take(c, out + n, max - n);
    n += got;
    if (got == 0 && (n > 0 || nh_now() >= until || !nh_client_wait(c, until - nh_now()))) break;
  }
  return n;
}

/* ---- direct mode: no thread for the job ---------------------------------- */

static void direct(void) {
  nh_client *c = client_new(0, 0);
  nh_job *job = job_new(0, 0), *done[4];
  char err[256] = "";
  fail_calloc_bytes = sizeof(nh_worker);
  faults_fired = 0;
  nh_code rc = nh_client_submit(c, job, 1, err, sizeof err);
  fail_calloc_bytes = 0;
  check(faults_fired == 1, "direct: the thread's record could not be allocated");
  check(rc == NH_OK, "direct: the submit accepted the job");
  size_t n = take_all(c, done, 4, 10);
  check(n == 1 && done[0] == job, "direct: the job ends in one record");
  printf("     job code %s, targets %s %s\n", nh_code_name(job->code),
         nh_code_name(job->results[0].code), nh_code_name(job->results[1].code));
  check(job->code == NH_INTERNAL, "direct: the job's code is INTERNAL");
  check(job->results[0].code == NH_INTERNAL && job->results[1].code == NH_INTERNAL &&
          !job->results[0].success && !job->results[1].success,
        "direct: every target failed INTERNAL");
  nh_stats s;
  nh_client_stats(c, &s);
  check(s.submitted == 1 && s.failed == 1 && nh_client_pending(c) == 0,
        "direct: stats count it failed, nothing pending");
  for (size_t i = 0; i < n; i++) nh_job_release(done[i]);
  nh_job_release(job);
  nh_client_close(c, 1);
  nh_client_free(c);
}

/* ---- the queue's deadline heap cannot grow -------------------------------- */

#define HELD 64 /* the heap's first size: the 65th job grows it */

static void queue(void) {
  nh_client *c = client_new(1, 0);
  nh_job *jobs[HELD + 1], *done[HELD + 8];
  char err[256] = "";
  size_t accepted = 0;
  for (int i = 0; i < HELD; i++) {
    jobs[i] = job_new(i, 60);
    accepted += nh_client_submit(c, jobs[i], 1, err, sizeof err) == NH_OK;
  }
  check(accepted == HELD, "queue: 64 jobs with a deadline wait in the queue");
  nh_job *last = jobs[HELD] = job_new(HELD, 60);
  fail_realloc_bytes = 2 * HELD * sizeof(nh_job *);
  faults_fired = 0;
  nh_code rc = nh_client_submit(c, last, 1, err, sizeof err);
  fail_realloc_bytes = 0;
  check(faults_fired == 1, "queue: the deadline heap could not grow");
  printf("     submit: %s (%s)\n", nh_code_name(rc), rc == NH_OK ? "accepted" : err);
  if (rc == NH_OK) {
    accepted++;
  } else {
    check(rc == NH_NO_MEMORY && strstr(err, "out of memory") != NULL,
          "queue: the submit is refused with NO_MEMORY and says why");
    check(nh_job_state(last) == NH_JOB_NEW, "queue: the refused job stays the caller's");
    rc = nh_client_submit(c, last, 1, err, sizeof err);
    check(rc == NH_OK, "queue: the same job goes in once memory is back");
    accepted += rc == NH_OK;
  }
  nh_stats s;
  nh_client_stats(c, &s);
  check(s.submitted == accepted && s.queued == accepted,
        "queue: every accepted job is in the queue");
  size_t cut = nh_client_close(c, 0);
  size_t n = take_all(c, done, HELD + 8, 5);
  printf("     accepted %zu, cut off %zu, records %zu, pending %zu\n", accepted, cut, n,
         nh_client_pending(c));
  check(n == accepted && cut == accepted, "queue: every accepted job ends in one record");
  check(nh_client_pending(c) == 0, "queue: nothing is left pending");
  int once = 1;
  for (size_t i = 0; i < n; i++) {
    once &= done[i]->code == NH_CLOSED;
    for (size_t k = i + 1; k < n; k++) once &= done[i] != done[k];
  }
  check(once, "queue: each record is a different job, ended CLOSED");
  for (size_t i = 0; i < n; i++) nh_job_release(done[i]);
  for (int i = 0; i <= HELD; i++) nh_job_release(jobs[i]);
  nh_client_free(c);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: fail_job direct|queue\n");
    return 2;
  }
  if (strcmp(argv[1], "direct") == 0) direct();
  else if (strcmp(argv[1], "queue") == 0) queue();
  else return 2;
  return failures ? 1 : 0;
}

#else

int main(void) {
  check(1, "skipped: a sanitizer owns malloc, so no allocation is failed here");
  return failures;
}

#endif
