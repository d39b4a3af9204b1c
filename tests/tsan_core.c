/*
 * tsan_core.c: the core driven from C under ThreadSanitizer (make tsan).
 * One owner thread per client submits (the core's contract), while other
 * threads cancel random jobs and a closer races close() against the
 * submissions; workers, direct-mode threads and inline sends run beside
 * them. Every submitted job must complete exactly once.
 *
 *   tsan_core URL ROUNDS   (URL: a loopback sink, e.g. .../sink)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nh_core.h"

#define JOBS 400

typedef struct round {
  nh_client *c;
  const char *url;
  nh_job *jobs[JOBS];
  int submitted;                 /* under lock */
  int taken, dropped;
  pthread_mutex_t lock;
  int stop;
} round_t;

static nh_job *make_job(nh_client *c, const char *url, int i) {
  nh_job *job = nh_job_new(i % 3 == 0 ? 2 : 1);
  char id[64];
  nh_client_new_id(c, id, sizeof id);
  job->msg.id = strdup(id);
  job->msg.body = strdup("tsan");
  job->msg.priority = i % 4;
  job->retry.max_attempts = 2;
  job->retry.initial_delay = 0.001;
  job->retry.max_delay = 0.01;
  job->retry.multiplier = 2;
  if (i % 7 == 0) job->timeout = 0.05;
  for (size_t t = 0; t < job->msg.n_targets; t++) {
    job->msg.targets[t].platform = NH_PLATFORM_WEBHOOK;
    job->msg.targets[t].url = strdup(url);
    job->msg.targets[t].label = strdup("tsan");
    if (i % 5 == 0) {
      job->msg.targets[t].n_rate = 1;
      job->msg.targets[t].rate[0].count = 50;
      job->msg.targets[t].rate[0].per = 0.05;
    }
  }
  return job;
}

/* The owner: submits, takes completions, detaches some jobs early. */
static void *owner(void *arg) {
  round_t *r = arg;
  char err[256];
  for (int i = 0; i < JOBS; i++) {
    nh_job *job = make_job(r->c, r->url, i);
    if (nh_client_submit(r->c, job, 0.5, err, sizeof err) != NH_OK) {
      nh_job_release(job);
      continue;
    }
    pthread_mutex_lock(&r->lock);
    r->jobs[r->submitted++] = job;
    pthread_mutex_unlock(&r->lock);
    if (i % 11 == 0) {               /* a handle dropped at once: its record is dropped */
      nh_job_detach(job);
    }
    nh_job *done[32];
    size_t n = nh_client_take(r->c, done, 32);
    for (size_t k = 0; k < n; k++) nh_job_release(done[k]);
    r->taken += (int)n;
  }
  return NULL;
}

/* Cancels random submitted jobs (the API takes any thread's cancel). */
static void *canceller(void *arg) {
  round_t *r = arg;
  unsigned seed = 7;
  while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
    pthread_mutex_lock(&r->lock);
    int n = r->submitted;
    nh_job *job = n ? r->jobs[rand_r(&seed) % n] : NULL;
    if (job) nh_client_cancel(r->c, job);
    pthread_mutex_unlock(&r->lock);
    usleep(200);
  }
  return NULL;
}

static int run_round(const char *url, int mode, double close_after) {
  nh_options o;
  char err[256];
  nh_options_default(&o);
  o.workers = 2;
  o.max_workers = 4;
  o.concurrency = 8;
  o.buffer_size = JOBS;
  o.grow_after = 0.001;
  o.idle_timeout = 0.05;
  o.use_pool = mode != 1;
  o.enabled = mode != 2;
  round_t r;
  memset(&r, 0, sizeof r);
  pthread_mutex_init(&r.lock, NULL);
  r.url = url;
  r.c = nh_client_new(&o, err, sizeof err);
  if (!r.c) {
    fprintf(stderr, "nh_client_new: %s\n", err);
    return 1;
  }
  pthread_t own, can;
  pthread_create(&own, NULL, owner, &r);
  pthread_create(&can, NULL, canceller, &r);
  usleep((useconds_t)(close_after * 1e6));
  pthread_join(own, NULL);             /* the owner closes: close is owner-thread only */
  nh_client_close(r.c, 0.01);
  __atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
  pthread_join(can, NULL);
  nh_job *done[64];
  size_t n;
  while ((n = nh_client_take(r.c, done, 64)) > 0) {
    for (size_t k = 0; k < n; k++) nh_job_release(done[k]);
    r.taken += (int)n;
  }
  nh_stats s;
  nh_client_stats(r.c, &s);
  uint64_t ended = s.succeeded + s.failed + s.cancelled + s.timed_out;
  int ok = ended == s.submitted && s.queued + s.in_flight + s.waiting == 0 &&
           (uint64_t)r.taken + s.dropped == s.submitted && (int)s.submitted == r.submitted;
  printf("mode %d: submitted=%llu ended=%llu taken=%d dropped=%llu cancelled=%llu timed_out=%llu %s\n",
         mode, (unsigned long long)s.submitted, (unsigned long long)ended, r.taken,
         (unsigned long long)s.dropped, (unsigned long long)s.cancelled,
         (unsigned long long)s.timed_out, ok ? "ok" : "MISMATCH");
  for (int i = 0; i < r.submitted; i++) nh_job_release(r.jobs[i]);   /* the owner's refs */
  nh_client_free(r.c);
  pthread_mutex_destroy(&r.lock);
  return ok ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: tsan_core URL ROUNDS\n");
    return 2;
  }
  int rounds = atoi(argv[2]), failed = 0;
  for (int i = 0; i < rounds; i++)
    for (int mode = 0; mode < 3; mode++) failed += run_round(argv[1], mode, 0.001 * (i % 4));
  printf("tsan: %d passed, %d failed\n", rounds * 3 - failed, failed);
  return failed ? 1 : 0;
}
