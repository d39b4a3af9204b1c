/*
 * spool.c: what recording messages in the spool costs on this machine's
 * disk (csrc/nh_spool*.c): put-many in batches of 1, 64 and 1024 records
 * (one transaction each), with sync "normal" and "full"; then taking 64
 * at a time and finishing them as delivered, one transaction per record
 * (nh_spool_done) or one for the 64 (nh_spool_finish).
 * A record is a real one: a webhook message with one target, serialised
 * by nh_spool_item_from_job (about 700 bytes).
 *
 *   spool_bench DIR   -> one line per case, at most about 2 s each
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "nh_internal.h"

#define CASE_SECONDS 1.5
#define MAX_RECORDS 200000

static nh_job *sample_job(void) {
  nh_job *job = nh_job_new(1);
  nh_target *t = &job->msg.targets[0];
  job->msg.id = nh_strdup("bench-0000000000000001");
  job->msg.title = nh_strdup("disk almost full");
  job->msg.body = nh_strdup("db-1: /var is 93% full (12.1 GB free); growing 1.2 GB/h");
  job->msg.format = nh_strdup("text");
  job->msg.metadata = cJSON_Parse("{\"team\":\"ops\",\"severity\":\"warning\"}");
  job->retry.max_attempts = 3;
  t->platform = NH_PLATFORM_WEBHOOK;
  t->url = nh_strdup("https://hooks.example.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX");
  t->label = nh_strdup("webhook https://hooks.example.com/services/***");
  t->secret = nh_strdup("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  return job;
}

static nh_spool *open_fresh(const char *dir, const char *sync) {
  char path[512], err[512];
  snprintf(path, sizeof path, "%s/bench-%s.db", dir, sync);
  unlink(path);
  nh_spool_options o;
  nh_spool_options_default(&o);
  o.path = path;
  o.sync = sync;
  o.max_queued = 100000000;
  nh_code code;
  nh_spool *sp = nh_spool_open(&o, 10, &code, err, sizeof err);
  if (!sp) fprintf(stderr, "%s\n", err);
  return sp;
}

/* Puts batches of `batch` for about CASE_SECONDS; returns records put. */
static size_t put_case(nh_spool *sp, const nh_spool_item *one, size_t batch, double *seconds) {
  nh_spool_item *items = calloc(batch, sizeof *items);
  char err[512];
  size_t done = 0;
  double t0 = nh_now();
  while (nh_now() - t0 < CASE_SECONDS && done < MAX_RECORDS) {
    for (size_t i = 0; i < batch; i++) items[i] = *one;
    if (nh_spool_put(sp, items, batch, err, sizeof err) != NH_OK) {
      fprintf(stderr, "%s\n", err);
      break;
    }
    done += batch;
  }
  *seconds = nh_now() - t0;
  free(items);
  return done;
}

/* Takes 64 at a time and finishes them (delivered), each in its own
 * transaction or all 64 in one (nh_spool_finish), for about CASE_SECONDS. */
static size_t take_case(nh_spool *sp, int batched, double *seconds) {
  nh_spool_rec r[64];
  nh_spool_end e[64];
  char err[512];
  size_t done = 0, n = 1;
  double t0 = nh_now();
  while (n > 0 && nh_now() - t0 < CASE_SECONDS) {
    if (nh_spool_take(sp, nh_wall_time(), 64, r, &n, err, sizeof err) != NH_OK) break;
    for (size_t i = 0; i < n; i++) {
      e[i] = (nh_spool_end){ .seq = r[i].seq, .how = NH_SPOOL_DELIVERED };
      if (!batched) nh_spool_done(sp, r[i].seq, NULL, err, sizeof err);
      nh_spool_rec_free(&r[i]);
    }
    if (batched) nh_spool_finish(sp, e, n, nh_wall_time(), err, sizeof err);
    done += n;
  }
  *seconds = nh_now() - t0;
  return done;
}

static void report(const char *what, const char *sync, size_t n, double s) {
  printf("  %-34s sync=%-6s %8zu records %6.2f s  %9.0f records/s  %8.1f us/record\n", what, sync,
         n, s, n / s, s * 1e6 / (double)n);
  fflush(stdout);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "/tmp";
  nh_job *job = sample_job();
  nh_spool_item one;
  nh_spool_item_from_job(&one, job, 0, 0);
  printf("spool (SQLite %s, WAL) in %s: a record of %zu bytes\n", sqlite3_libversion(), dir,
         one.len);
  const char *syncs[] = { "normal", "full" };
  const size_t batches[] = { 1, 64, 1024 };
  for (int s = 0; s < 2; s++) {
    nh_spool *sp = open_fresh(dir, syncs[s]);
    if (!sp) return 1;
    for (int b = 0; b < 3; b++) {
      double secs;
      size_t n = put_case(sp, &one, batches[b], &secs);
      char what[64];
      snprintf(what, sizeof what, "put, batches of %zu", batches[b]);
      report(what, syncs[s], n, secs);
    }
    double secs;
    size_t n = take_case(sp, 0, &secs);
    report("take 64, done one by one", syncs[s], n, secs);
    n = take_case(sp, 1, &secs);
    report("take 64, finish 64 at once", syncs[s], n, secs);
    nh_spool_close(sp);
  }
  nh_spool_item_free(&one);
  nh_job_release(job);
  return 0;
}
