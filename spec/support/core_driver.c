/*
 * core_driver.c: drives the Lua-free core from plain C, as the specs'
 * proof that workers need no Lua: it is built from csrc/nh_*.c with no Lua
 * header on the include path and no Lua library on the link line.
 *
 *   core_driver URL COUNT   -> prints "submitted=N succeeded=N failed=N"
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

int main(int argc, char **argv) {
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
    nh_job_release(job);                    /* our reference; the core keeps its own */
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
