/*
 * core_driver.c: drives the Lua-free core from plain C, as the specs'
 * proof that workers need no Lua: it is built from csrc/nh_*.c with no Lua
 * header on the include path and no Lua library on the link line.
 *
 *   core_driver URL COUNT   -> prints "submitted=N succeeded=N failed=N"
 *   core_driver plan URL    -> Discord jobs (limit 2000) that nobody planned
 *                              before nh_client_submit: prints what the core did
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_core.h"

static nh_job *make_job(const char *url, int i) {
  nh_job *job = nh_job_new(1);
  char body[64];
  snprintf(body, sizeof body, "message %d from C", i);
  job->msg.body = strdup(body);
  job->msg.targets[0].platform = NH_PLATFORM_WEBHOOK;
  job->msg.targets[0].url = strdup(url);
  job->msg.targets[0].label = strdup("driver");
  return job;
}

/* One unplanned Discord job of n 'x' bytes: the submit code and, when it was
 * accepted, the result's code and the parts it was split into. */
static void plan_one(nh_client *c, const char *url, size_t n, int overflow, const char *name) {
  nh_job *job = make_job(url, 0), *done = NULL;
  char err[256], id[64];
  nh_client_new_id(c, id, sizeof id);
  job->msg.id = strdup(id);
  free(job->msg.body);
  job->msg.body = malloc(n + 1);
  memset(job->msg.body, 'x', n);
  job->msg.body[n] = '\0';
  job->msg.targets[0].platform = NH_PLATFORM_DISCORD;
  job->msg.targets[0].overflow = overflow;
  nh_code rc = nh_client_submit(c, job, 5.0, err, sizeof err);
  printf("%s: submit=%s", name, nh_code_name(rc));
  while (rc == NH_OK && !done && nh_client_wait(c, 10.0)) nh_client_take(c, &done, 1);
  if (done)
    printf(" result=%s parts=%zu",
           done->results[0].success ? "OK" : nh_code_name(done->results[0].code),
           done->msg.targets[0].n_parts);
  printf("\n");
  if (done) nh_job_release(done);
  nh_job_release(job);
}

static int plan_main(const char *url) {
  char err[256];
  nh_options opt;
  nh_options_default(&opt);
  nh_client *c = nh_client_new(&opt, err, sizeof err);
  if (!c) return 1;
  plan_one(c, url, 5000, NH_OVERFLOW_SPLIT, "small split");
  plan_one(c, url, 5000, NH_OVERFLOW_ERROR, "small error");
  plan_one(c, url, 100000, NH_OVERFLOW_SPLIT, "large split");
  plan_one(c, url, 100000, NH_OVERFLOW_ERROR, "large error");
  nh_client_free(c);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "plan") == 0) return plan_main(argv[2]);
  if (argc != 3) {
    fprintf(stderr, "usage: core_driver URL COUNT\n");
    return 2;
  }
  int count = atoi(argv[2]), taken = 0, ok = 0;
  char err[256];
  nh_options opt;
  nh_options_default(&opt);
  nh_client *c = nh_client_new(&opt, err, sizeof err);
  if (!c) {
    fprintf(stderr, "nh_client_new: %s\n", err);
    return 1;
  }
  for (int i = 0; i < count; i++) {
    nh_job *job = make_job(argv[1], i);
    char id[64];
    nh_client_new_id(c, id, sizeof id);
    job->msg.id = strdup(id);
    if (nh_client_submit(c, job, 5.0, err, sizeof err) != NH_OK) {
      fprintf(stderr, "submit: %s\n", err);
      nh_job_release(job);
      continue;
    }
    nh_job_release(job); /* our reference; the core keeps its own */
  }
  while (taken < count && nh_client_wait(c, 10.0)) {
    nh_job *done[64];
    size_t n = nh_client_take(c, done, 64);
    for (size_t i = 0; i < n; i++) {
      ok += nh_job_succeeded(done[i]);
      nh_job_release(done[i]);
    }
    taken += (int)n;
  }
  nh_stats s;
  nh_client_stats(c, &s);
  printf("submitted=%llu succeeded=%llu failed=%llu taken=%d ok=%d\n",
         (unsigned long long)s.submitted, (unsigned long long)s.succeeded,
         (unsigned long long)s.failed, taken, ok);
  nh_client_close(c, 5.0);
  nh_client_free(c);
  return taken == count && ok == count ? 0 : 1;
}
