/*
 * hardening_exit.c: the core from C, for what Lua cannot reach directly
 * (spec/hardening_exit_spec.lua builds and runs it against the faults
 * server).
 *
 *   hardening_exit cancel OK_URL [JOBS]
 *     Cancels jobs racing fast deliveries: every cancel that answered 1
 *     must end its job CANCELLED (not delivered), and stats().cancelled
 *     must equal the number of such answers.
 *   hardening_exit delays OK_URL DEAD_URL
 *     Jobs whose nh_retry holds NaN, inf, negative and huge values (and
 *     NaN/inf/negative message timeouts) beside valid jobs that retry: all
 *     must end within 15 s, the valid ones after all their attempts.
 *   hardening_exit exit OK_URL HANG_URL
 *     exit(0) with a client left open: 4 jobs to OK_URL, 4 to HANG_URL
 *     (half of each detached, as a collected Lua handle is); the exit
 *     handler gives them close_timeout (1 s) and names on stderr the
 *     ones not delivered: hx-4 to hx-7, whether detached or not.
 *
 * Prints one "PASS ..." or "FAIL ..." line per check; exits 1 on a FAIL.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nh_core.h"

static int failures;

static void check(int ok, const char *what) {
  printf("%s %s\n", ok ? "PASS" : "FAIL", what);
  if (!ok) failures++;
}

static nh_job *job_to(const char *url, int n) {
  char id[32];
  nh_job *job = nh_job_new(1);
  snprintf(id, sizeof id, "hx-%d", n);
  job->msg.id = strdup(id);
  job->msg.body = strdup("hardening");
  job->msg.targets[0].platform = NH_PLATFORM_WEBHOOK;
  job->msg.targets[0].url = strdup(url);
  job->msg.targets[0].label = strdup("hardening");
  job->retry = (nh_retry){ 1, 0.01, 0.05, 2, 0 };
  return job;
}

static nh_client *client(int workers, int concurrency) {
  nh_options o;
  char err[256];
  nh_options_default(&o);
  o.workers = o.min_workers = o.max_workers = workers;
  o.concurrency = concurrency;
  o.buffer_size = 100000;
  o.timeout_ms = 5000;
  nh_client *c = nh_client_new(&o, err, sizeof err);
  if (!c) {
    fprintf(stderr, "nh_client_new: %s\n", err);
    exit(2);
  }
  return c;
}

static void pause_us(long us) {
  struct timespec ts = { 0, us * 1000 };
  nanosleep(&ts, NULL);
}

/* Takes completions until n jobs are back or `seconds` pass. */
static size_t take_all(nh_client *c, nh_job **out, size_t n, double seconds) {
  size_t got = 0;
  double until = nh_now() + seconds;
  while (got < n && nh_now() < until) {
    nh_client_wait(c, 0.1);
    got += nh_client_take(c, out + got, n - got);
  }
  return got;
}

static int cancel_race(const char *ok_url, int n) {
  nh_client *c = client(2, 64);
  nh_job **jobs = calloc((size_t)n, sizeof *jobs), **done = calloc((size_t)n, sizeof *done);
  int *said = calloc((size_t)n, sizeof *said);
  char err[256];
  unsigned seed = 12345;
  for (int i = 0; i < n; i++) {
    jobs[i] = job_to(ok_url, i);
    if (nh_client_submit(c, jobs[i], 1, err, sizeof err) != NH_OK) {
      fprintf(stderr, "submit: %s\n", err);
      return 2;
    }
    seed = seed * 1103515245u + 12345u;
    if (i % 10 == 0) {
      /* Some cancels come after the end, whatever the machine's speed:
       * the race must see both answers. */
      for (int w = 0; w < 20000 && nh_job_state(jobs[i]) != NH_JOB_DONE; w++) pause_us(100);
    } else if (i % 10 != 1) {
      pause_us((long)((seed >> 16) % 1500)); /* 0 to 1.5 ms: queued, in flight, finishing */
    }
    said[i] = nh_client_cancel(c, jobs[i]);
  }
  size_t got = take_all(c, done, (size_t)n, 30);
  int yes = 0, disagree = 0, delivered_after_yes = 0;
  for (int i = 0; i < n; i++) {
    yes += said[i];
    if (said[i] && jobs[i]->code != NH_CANCELLED) disagree++;
    if (said[i] && nh_job_succeeded(jobs[i])) delivered_after_yes++;
    if (!said[i] && jobs[i]->code == NH_CANCELLED) disagree++;
  }
  nh_stats s;
  nh_client_stats(c, &s);
  printf("cancel: %d jobs, %d cancels answered 1, %d disagree, %d delivered after 1, "
         "stats cancelled %llu succeeded %llu\n",
         n, yes, disagree, delivered_after_yes, (unsigned long long)s.cancelled,
         (unsigned long long)s.succeeded);
  check(got == (size_t)n, "cancel: every job came back once");
  check(disagree == 0 && delivered_after_yes == 0, "cancel: 1 means the job ended CANCELLED");
  check(s.cancelled == (uint64_t)yes, "cancel: stats().cancelled = the cancels that answered 1");
  check(yes > 0 && yes < n, "cancel: the race saw both answers");
  for (size_t i = 0; i < got; i++) nh_job_release(done[i]);
  for (int i = 0; i < n; i++) nh_job_release(jobs[i]);
  nh_client_free(c);
  free(jobs);
  free(done);
  free(said);
  return 0;
}

/* Policies the core must survive (a binding that forgot to check them).
 * The first two wait up to the core's cap (an hour): they get a deadline;
 * the others are paired with every timeout, also NaN, inf and negative. */
static const nh_retry bad_policies[] = {
  { 3, INFINITY, INFINITY, INFINITY, INFINITY },
  { 3, 1e300, 1e300, 1e300, 1e300 },
  { 3, NAN, NAN, NAN, NAN },
  { 3, -1, -5, -2, -1 },
  { 3, 0.01, NAN, 2, 0 },
  { 3, 0.01, 0.05, NAN, -INFINITY },
  { -7, 0.01, 0.05, 2, 0 },
};
#define N_BAD (sizeof bad_policies / sizeof bad_policies[0])
static const double bad_timeouts[] = { NAN, INFINITY, -1, 1e300, 2 };
#define N_GOOD 20

static int delays(const char *ok_url, const char *dead_url) {
  nh_client *c = client(1, 8);
  enum { N = N_BAD * 5 + N_GOOD * 2 };
  nh_job *jobs[N], *done[N];
  char err[256];
  int n = 0;
  for (size_t p = 0; p < N_BAD; p++) {
    for (int t = 0; t < 5; t++) {
      nh_job *job = job_to(dead_url, n);
      job->retry = bad_policies[p];
      job->timeout = p < 2 ? 2 : bad_timeouts[t];
      jobs[n++] = job;
    }
  }
  for (int i = 0; i < N_GOOD * 2; i++) {
    nh_job *job = job_to(i % 2 ? ok_url : dead_url, n); /* valid: retries on a dead port */
    job->retry = (nh_retry){ 3, 0.02, 0.1, 2, 0 };
    jobs[n++] = job;
  }
  for (int i = 0; i < n; i++) {
    if (nh_client_submit(c, jobs[i], 1, err, sizeof err) != NH_OK) {
      fprintf(stderr, "submit: %s\n", err);
      return 2;
    }
  }
  double t0 = nh_now();
  size_t got = take_all(c, done, (size_t)n, 15);
  double took = nh_now() - t0;
  int good_ok = 1;
  for (int i = N_BAD * 5; i < n; i++) {
    int ok_target = (i - (int)N_BAD * 5) % 2;
    if (ok_target ? !nh_job_succeeded(jobs[i])
                  : (jobs[i]->results[0].attempts != 3 || jobs[i]->results[0].code != NH_NETWORK))
      good_ok = 0;
  }
  printf("delays: %zu of %d jobs ended in %.2f s\n", got, n, took);
  check(got == (size_t)n, "delays: every job ends (no timer frozen by NaN, inf or a huge delay)");
  check(got == (size_t)n && good_ok, "delays: valid jobs beside them run all their attempts");
  size_t cut = nh_client_close(c, 1);
  check(cut == 0, "delays: nothing was left for close");
  for (size_t i = 0; i < got; i++) nh_job_release(done[i]);
  for (int i = 0; i < n; i++) nh_job_release(jobs[i]);
  nh_client_free(c);
  return 0;
}

static int exit_open(const char *ok_url, const char *hang_url) {
  nh_options o;
  char err[256];
  nh_options_default(&o);
  o.close_timeout = 1;
  nh_client *c = nh_client_new(&o, err, sizeof err);
  if (!c) return 2;
  for (int i = 0; i < 8; i++) {
    nh_job *job = job_to(i < 4 ? ok_url : hang_url, i);
    if (nh_client_submit(c, job, 1, err, sizeof err) != NH_OK) return 2;
    if (i % 2) nh_job_detach(job);
    nh_job_release(job);
  }
  printf("exit with 8 jobs\n");
  fflush(stdout);
  exit(0); /* the client is never closed here */
}

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "cancel") == 0) {
    if (cancel_race(argv[2], argc > 3 ? atoi(argv[3]) : 2000)) return 2;
  } else if (argc >= 4 && strcmp(argv[1], "delays") == 0) {
    if (delays(argv[2], argv[3])) return 2;
  } else if (argc >= 4 && strcmp(argv[1], "exit") == 0) {
    return exit_open(argv[2], argv[3]);
  } else {
    fprintf(stderr, "usage: hardening_exit cancel OK_URL [JOBS] | delays OK_URL DEAD_URL"
                    " | exit OK_URL HANG_URL\n");
    return 2;
  }
  return failures ? 1 : 0;
}
