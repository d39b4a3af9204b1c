/*
 * cancel_expire.c: one owner thread, as a Lua program has: jobs with a
 * 20 ms deadline wait in the queue behind a busy worker (one worker, one
 * transfer slot, a slow first message), and the owner cancels each one
 * just after its deadline, while the worker is expiring it. A job must end
 * once: cancelled or timed out, never both.
 *
 *   cancel_expire BASE_URL [ROUNDS]
 *
 * Exits 1 when a round ends a job twice (stats that do not add up, or a
 * completion taken twice); under AddressSanitizer a double ending shows as
 * a use after free or a crash in the queue.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_core.h"

#define N 64

static nh_job *job_to(const char *url, double timeout) {
  nh_job *job = nh_job_new(1);
  job->msg.id = strdup("cancel-expire");
  job->msg.body = strdup("m");
  job->timeout = timeout;
  job->msg.targets[0].platform = NH_PLATFORM_WEBHOOK;
  job->msg.targets[0].url = strdup(url);
  job->msg.targets[0].label = strdup("cancel-expire");
  return job;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: cancel_expire BASE_URL [ROUNDS]\n");
    return 2;
  }
  char sink[256], slow[256], err[256];
  snprintf(sink, sizeof sink, "%s/sink", argv[1]);
  snprintf(slow, sizeof slow, "%s/sink/delay/300", argv[1]);
  int rounds = argc > 2 ? atoi(argv[2]) : 20, bad = 0;
  for (int r = 0; r < rounds; r++) {
    nh_options o;
    nh_options_default(&o);
    o.workers = o.min_workers = o.max_workers = 1;
    o.concurrency = 1;
    nh_client *c = nh_client_new(&o, err, sizeof err);
    if (!c) {
      fprintf(stderr, "nh_client_new: %s\n", err);
      return 2;
    }
    nh_job *busy = job_to(slow, 0), *jobs[N];
    nh_client_submit(c, busy, 1, err, sizeof err);
    nh_job_release(busy);
    for (int i = 0; i < N; i++) {
      jobs[i] = job_to(sink, 0.02);
      if (nh_client_submit(c, jobs[i], 1, err, sizeof err) != NH_OK) {
        fprintf(stderr, "submit: %s\n", err);
        return 2;
      }
    }
    /* The worker wakes about 1 ms after the deadline to expire them (later
     * under a sanitizer): each round cancels at another offset, 0-4 ms. */
    double offset = 0.0002 * (r % 20);
    for (int left = N; left > 0;) {
      left = 0;
      for (int i = 0; i < N; i++) {
        if (nh_job_state(jobs[i]) == NH_JOB_DONE) continue;
        left++;
        if (nh_now() >= jobs[i]->deadline + offset + 0.0001 * (i % 4)) nh_client_cancel(c, jobs[i]);
      }
    }
    nh_client_close(c, 2);
    size_t taken = 0;
    nh_job *done[N + 1];
    for (size_t n; (n = nh_client_take(c, done, N + 1)) > 0;) {
      for (size_t k = 0; k < n; k++) nh_job_release(done[k]);
      taken += n;
    }
    nh_stats s;
    nh_client_stats(c, &s);
    uint64_t ended = s.succeeded + s.failed + s.cancelled + s.timed_out;
    if (ended != s.submitted || taken != s.submitted) {
      bad++;
      printf("round %d: submitted %llu, ended %llu (cancelled %llu, timed out %llu), taken %zu\n",
             r, (unsigned long long)s.submitted, (unsigned long long)ended,
             (unsigned long long)s.cancelled, (unsigned long long)s.timed_out, taken);
    }
    for (int i = 0; i < N; i++) nh_job_release(jobs[i]);
    nh_client_free(c);
  }
  printf("cancel_expire: %d of %d rounds ended a job twice\n", bad, rounds);
  return bad ? 1 : 0;
}
