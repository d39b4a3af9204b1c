/*
 * spool_store.c: the spool (csrc/nh_spool*.c) from C, against real files
 * and real processes (spec/spool_spec.lua builds and runs it; make
 * asan-core runs `all` under ASan + UBSan).
 *
 *   spool_store open DIR      open errors, 0600, reopening, schema checks
 *   spool_store queue DIR     put/take/renew/done/fail/requeue/release, order,
 *                             max_queued, job records and receipts, per-target
 *                             progress, park and unpark
 *   spool_store race DIR      two processes taking at once never take one record twice
 *   spool_store kill DIR      a holder killed with SIGKILL loses its records at once
 *   spool_store foreign DIR   a holder on another host loses them when its lease ends
 *   spool_store busy DIR      a write lock held past the timeout: SPOOL_BUSY, bounded
 *   spool_store full DIR      a file-size limit: SPOOL_FULL, nothing half-recorded, works after
 *   spool_store rate DIR      4 processes on one rate window: never more than N per window
 *   spool_store inspect FILE  leaves a spool for the inspector spec (2 queued, 1 taken, 3 failed)
 *   spool_store all DIR       every mode above but inspect
 *
 * Prints one "PASS ..." or "FAIL ..." line per check; exits 1 on a FAIL.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "nh_sqlite.h"

#define URL_SECRET "TOKEN-SECRET-1234"
#define SIGN_SECRET "SIGN-SECRET-5678"

static int failures;
static char err[512];

static void check(int ok, const char *mode, const char *what) {
  printf("%s %s: %s\n", ok ? "PASS" : "FAIL", mode, what);
  if (!ok) {
    failures++;
    if (err[0]) printf("  (last error: %s)\n", err);
  }
  fflush(stdout);
}

static void path_in(char *out, size_t len, const char *dir, const char *name) {
  snprintf(out, len, "%s/%s", dir, name);
}

static nh_spool *open_at(const char *path, double lease, double timeout, nh_code *code) {
  nh_spool_options o;
  nh_spool_options_default(&o);
  o.path = path;
  o.lease = lease;
  nh_code dummy;
  err[0] = '\0';
  return nh_spool_open(&o, timeout, code ? code : &dummy, err, sizeof err);
}

/* A message to one webhook whose URL and signing secret are secrets. */
static nh_job *make_job(const char *id, const char *label) {
  nh_job *job = nh_job_new(1);
  nh_target *t = &job->msg.targets[0];
  job->msg.id = nh_strdup(id);
  job->msg.title = nh_strdup("disk full");
  job->msg.body = nh_strdup("on host db-1");
  job->msg.format = nh_strdup("text");
  job->msg.metadata = cJSON_Parse("{\"team\":\"ops\"}");
  job->retry.max_attempts = 3;
  job->retry.initial_delay = 0.5;
  job->retry.max_delay = 30;
  job->retry.multiplier = 2;
  t->platform = NH_PLATFORM_WEBHOOK;
  t->url = nh_strdup("https://hooks.example/" URL_SECRET);
  t->label = nh_strdup(label);
  t->secret = nh_strdup(SIGN_SECRET);
  t->n_headers = 1;
  t->headers = calloc(1, sizeof *t->headers);
  t->headers[0] = nh_strdup("X-Team: ops");
  t->n_secrets = 2;
  t->secrets = calloc(2, sizeof *t->secrets);
  t->secrets[0] = nh_strdup(URL_SECRET);
  t->secrets[1] = nh_strdup(SIGN_SECRET);
  t->n_rate = 1;
  t->rate[0].count = 5;
  t->rate[0].per = 1;
  return job;
}

/* n records with ids prefix-0.., one transaction per call. */
static nh_code put_n(nh_spool *sp, const char *prefix, int n, int priority, double due) {
  nh_spool_item *items = calloc((size_t)n, sizeof *items);
  for (int i = 0; i < n; i++) {
    char id[64];
    snprintf(id, sizeof id, "%s-%d", prefix, i);
    nh_job *job = make_job(id, "webhook https://hooks.example/***");
    job->msg.priority = priority;
    nh_spool_item_from_job(&items[i], job, due, 0);
    nh_job_release(job);
  }
  nh_code code = nh_spool_put(sp, items, (size_t)n, err, sizeof err);
  for (int i = 0; i < n; i++) nh_spool_item_free(&items[i]);
  free(items);
  return code;
}

static size_t take_all(nh_spool *sp, nh_spool_rec *out, size_t max) {
  size_t n = 0;
  nh_spool_take(sp, nh_wall_time(), max, out, &n, err, sizeof err);
  return n;
}

static void free_recs(nh_spool_rec *r, size_t n) {
  for (size_t i = 0; i < n; i++) nh_spool_rec_free(&r[i]);
}

static size_t count_state(nh_spool *sp, int state) {
  nh_spool_summary s;
  if (nh_spool_stats(sp, &s, err, sizeof err) != NH_OK) return (size_t)-1;
  size_t n = state == 0 ? s.queued : state == 1 ? s.taken : s.failed;
  nh_spool_summary_free(&s);
  return n;
}

/* Runs SQL on the file with a connection of its own (what another
 * program, or another host's row, would be). */
static int raw_sql(const char *path, const char *text) {
  sqlite3 *db;
  int rc = sqlite3_open(path, &db);
  if (rc == SQLITE_OK) {
    sqlite3_busy_timeout(db, 5000);
    rc = sqlite3_exec(db, text, NULL, NULL, NULL);
  }
  sqlite3_close(db);
  return rc;
}

/* count(*) of a query on the file, through a connection of its own; -1 on error. */
static long raw_count(const char *path, const char *query) {
  sqlite3 *db;
  sqlite3_stmt *st = NULL;
  long n = -1;
  if (sqlite3_open(path, &db) == SQLITE_OK &&
      sqlite3_prepare_v2(db, query, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    n = (long)sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

/* ---- open ------------------------------------------------------------------ */

static int open_fails(const char *path, const char *mode, const char *why, const char *what) {
  nh_code code;
  nh_spool *sp = open_at(path, 30, 1, &code);
  int ok = !sp && code == NH_INVALID_CONFIG && strstr(err, path) && strstr(err, why);
  if (!ok) printf("  got: %s\n", sp ? "(opened)" : err);
  check(ok, mode, what);
  nh_spool_close(sp);
  return ok;
}

static void write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  fwrite(data, 1, n, f);
  fclose(f);
}

/* As root, permissions do not stop a write: the check runs as nobody. */
static void check_unwritable(const char *dir) {
  char path[512];
  path_in(path, sizeof path, dir, "readonly.db");
  nh_spool_close(open_at(path, 30, 1, NULL));
  chmod(dir, 0755);
  if (geteuid() != 0) {
    chmod(path, 0400);
    open_fails(path, "open", "cannot be written", "an unwritable file is refused, naming it");
    return;
  }
  pid_t pid = fork();
  if (pid == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
    _exit(open_fails(path, "open", "cannot be written", "an unwritable file is refused, naming it")
            ? 0
            : 1);
  }
  int st;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) failures++;
}

static void mode_open(const char *dir) {
  char path[512], wal[600];
  path_in(path, sizeof path, dir, "missing/spool.db");
  open_fails(path, "open", "directory does not exist",
             "a missing directory is refused, naming the path");
  path_in(path, sizeof path, dir, "random.db");
  unsigned char junk[4096];
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)(rand() & 0xff);
  write_file(path, junk, sizeof junk);
  open_fails(path, "open", "is not a spool (not an SQLite database)",
             "a file of random bytes is refused");
  memcpy(junk, "SQLite format 3", 16);
  write_file(path, junk, sizeof junk);
  open_fails(path, "open", "is not a spool", "random bytes behind SQLite's header are refused");
  path_in(path, sizeof path, dir, "other.db");
  raw_sql(path, "CREATE TABLE accounts (name TEXT, password TEXT)");
  open_fails(path, "open", "an SQLite database of something else",
             "another SQLite database is refused");
  path_in(path, sizeof path, dir, "newer.db");
  nh_spool_close(open_at(path, 30, 1, NULL));
  raw_sql(path, "PRAGMA user_version = 99");
  open_fails(path, "open", "schema 99", "a spool of a newer schema is refused");
  path_in(path, sizeof path, dir, "schema1.db");
  nh_spool_close(open_at(path, 30, 1, NULL));
  raw_sql(path, "DROP TRIGGER progress_gone; DROP TRIGGER progress_failed; DROP TABLE progress;"
                " PRAGMA user_version = 1");
  nh_spool *old = open_at(path, 30, 1, NULL);
  check(old && raw_count(path, "PRAGMA user_version") == 2 &&
          raw_count(path, "SELECT count(*) FROM progress") == 0,
        "open", "a schema 1 spool is upgraded to schema 2 when opened");
  nh_spool_close(old);
  check_unwritable(dir);

  path_in(path, sizeof path, dir, "new.db");
  umask(022);
  nh_spool *sp = open_at(path, 30, 1, NULL);
  struct stat st;
  check(sp && stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "open",
        "a new spool file has mode 0600");
  put_n(sp, "m", 3, NH_PRIORITY_NORMAL, 0);
  snprintf(wal, sizeof wal, "%s-wal", path);
  check(stat(wal, &st) == 0 && (st.st_mode & 0777) == 0600, "open",
        "its -wal file has mode 0600 too");
  nh_spool_close(sp);
  sp = open_at(path, 30, 1, NULL);
  check(sp && count_state(sp, 0) == 3, "open", "reopened, it holds what was put");
  nh_spool_options o;
  nh_spool_options_default(&o);
  o.path = path;
  o.sync = "fast";
  nh_code code;
  nh_spool *bad = nh_spool_open(&o, 1, &code, err, sizeof err);
  check(!bad && code == NH_INVALID_CONFIG && strstr(err, "spool.sync"), "open",
        "sync other than normal/full is refused");
  nh_spool_close(sp);
}

/* ---- queue ----------------------------------------------------------------- */

static void check_roundtrip(nh_spool *sp) {
  nh_spool_rec r[4];
  put_n(sp, "rt", 1, NH_PRIORITY_NORMAL, 0);
  size_t n = take_all(sp, r, 4);
  nh_job *job = n == 1 ? nh_spool_job_decode(r[0].data, r[0].len, err, sizeof err) : NULL;
  const nh_target *t = job ? &job->msg.targets[0] : NULL;
  check(job && strcmp(job->msg.id, "rt-0") == 0 && strcmp(job->msg.title, "disk full") == 0 &&
          t->platform == NH_PLATFORM_WEBHOOK && strstr(t->url, URL_SECRET) &&
          strcmp(t->secret, SIGN_SECRET) == 0 && t->n_headers == 1 && t->n_secrets == 2 &&
          t->n_rate == 1 && t->rate[0].count == 5 && job->retry.max_attempts == 3 &&
          cJSON_GetObjectItem(job->msg.metadata, "team"),
        "queue", "a record decodes into the job it was made from (URL, secret, headers, retry)");
  if (job) {
    nh_result_set(&job->results[0], NH_HTTP_STATUS, "HTTP 500 from https://hooks.example/%s",
                  URL_SECRET);
    job->results[0].response = nh_strdup("{\"echo\":\"" SIGN_SECRET "\"}");
    job->results[0].response_len = strlen(job->results[0].response);
    job->results[0].attempts = 3;
    job->code = NH_HTTP_STATUS;
    char *receipt = nh_spool_receipt(job);
    check(receipt && !strstr(receipt, URL_SECRET) && !strstr(receipt, SIGN_SECRET) &&
            strstr(receipt, "HTTP_STATUS"),
          "queue", "a receipt holds no secret");
    int held = 0;
    nh_spool_fail(sp, r[0].seq, receipt, nh_wall_time(), &held, err, sizeof err);
    check(held && count_state(sp, 2) == 1, "queue", "a failed record is kept");
    free(receipt);
    nh_job_release(job);
  }
  free_recs(r, n);
  check(!nh_spool_job_decode("{\"v\":1}", 7, err, sizeof err) &&
          !nh_spool_job_decode("xx", 2, err, sizeof err),
        "queue", "a record that is no job decodes to nothing");
}

static void check_order(nh_spool *sp) {
  nh_spool_rec r[8];
  put_n(sp, "low", 2, NH_PRIORITY_LOW, 0);
  put_n(sp, "urgent", 1, NH_PRIORITY_URGENT, 0);
  put_n(sp, "later", 1, NH_PRIORITY_URGENT, nh_wall_time() + 3600);
  size_t n = take_all(sp, r, 8);
  check(n == 3 && strcmp(r[0].id, "urgent-0") == 0 && strcmp(r[1].id, "low-0") == 0, "queue",
        "take: the highest priority first, nothing before its due time");
  int held = 0;
  nh_spool_done(sp, r[0].seq, &held, err, sizeof err);
  check(held && count_state(sp, 1) == 2, "queue", "done deletes the record");
  nh_spool_requeue(sp, r[1].seq, 0, 2, &held, err, sizeof err);
  nh_spool_rec again[2];
  size_t m = take_all(sp, again, 2);
  check(held && m == 1 && again[0].seq == r[1].seq && again[0].attempt == 2, "queue",
        "requeue hands one back with its attempt count");
  size_t renewed = 0, released = 0;
  nh_spool_renew(sp, nh_wall_time(), &renewed, err, sizeof err);
  check(renewed == 2, "queue", "renew extends the lease of everything held");
  nh_spool_release(sp, &released, err, sizeof err);
  nh_spool_rec back[4];
  size_t k = take_all(sp, back, 4);
  check(released == 2 && k == 2 && back[0].seq == r[1].seq && back[0].attempt == 2 &&
          strcmp(back[0].id, "low-0") == 0,
        "queue", "release queues everything held again: same id, same attempt");
  nh_spool_done(sp, r[0].seq, &held, err, sizeof err);
  check(!held, "queue", "finishing a record no longer held changes nothing");
  for (size_t i = 0; i < k; i++) nh_spool_done(sp, back[i].seq, NULL, err, sizeof err);
  free_recs(r, n);
  free_recs(again, m);
  free_recs(back, k);
}

static void check_finish_many(nh_spool *sp) {
  nh_spool_rec r[8];
  size_t before_failed = count_state(sp, 2), before_queued = count_state(sp, 0);
  put_n(sp, "fm", 4, NH_PRIORITY_NORMAL, 0);
  size_t n = take_all(sp, r, 8);
  nh_spool_end e[5] = {
    { .seq = r[0].seq, .how = NH_SPOOL_DELIVERED },
    { .seq = r[1].seq, .how = NH_SPOOL_DELIVERED },
    { .seq = r[2].seq, .how = NH_SPOOL_FAILED, .receipt = "{\"status\":\"failed\"}" },
    { .seq = r[3].seq, .how = NH_SPOOL_AGAIN, .due = 0, .attempt = 1 },
    { .seq = 999999, .how = NH_SPOOL_DELIVERED },
  };
  nh_code code = nh_spool_finish(sp, e, 5, nh_wall_time(), err, sizeof err);
  check(n == 4 && code == NH_OK && e[0].held && e[1].held && e[2].held && e[3].held && !e[4].held,
        "queue", "finish: many ends in one transaction, each says whether it was held");
  check(count_state(sp, 0) == before_queued + 1 && count_state(sp, 1) == 0 &&
          count_state(sp, 2) == before_failed + 1,
        "queue", "finish: delivered ones leave, a failed one stays, one is queued again");
  size_t m = take_all(sp, r + 4, 4);
  if (m == 1) nh_spool_done(sp, r[4].seq, NULL, err, sizeof err);
  free_recs(r, n + m);
}

static nh_code end1(nh_spool *sp, nh_spool_end e, int *held) {
  nh_code code = nh_spool_finish(sp, &e, 1, nh_wall_time(), err, sizeof err);
  if (held) *held = e.held;
  return code;
}

/* Per-target progress goes with the record to whoever takes it; a parked
 * record waits for its due time, its owner takes it back unless another
 * took it; the triggers keep progress rows only as long as they mean
 * something (delivered targets of a failed message stay for retry). */
static void check_progress(const char *dir) {
  char path[512];
  path_in(path, sizeof path, dir, "progress.db");
  nh_spool *sp = open_at(path, 30, 1, NULL), *other = open_at(path, 30, 1, NULL);
  nh_spool_rec r[2];
  put_n(sp, "pg", 1, NH_PRIORITY_NORMAL, 0);
  size_t n = take_all(sp, r, 2);
  int64_t seq = n == 1 ? r[0].seq : 0;
  check(n == 1 && !r[0].progress, "queue", "progress: a fresh record has none");
  free_recs(r, n);
  int held[4] = { 0 };
  double now = nh_wall_time();
  end1(sp,
       (nh_spool_end){ .seq = seq,
                       .how = NH_SPOOL_TARGET,
                       .target = 0,
                       .kind = NH_SPOOL_TARGET_DELIVERED,
                       .receipt = "{\"success\":true,\"attempts\":1}" },
       &held[0]);
  end1(sp,
       (nh_spool_end){ .seq = seq,
                       .how = NH_SPOOL_TARGET,
                       .target = 1,
                       .kind = NH_SPOOL_TARGET_WAITING,
                       .receipt = "{\"attempts\":2,\"part\":0}" },
       &held[1]);
  end1(sp, (nh_spool_end){ .seq = seq, .how = NH_SPOOL_PARK, .due = now + 100, .attempt = 2 },
       &held[2]);
  end1(other,
       (nh_spool_end){ .seq = seq,
                       .how = NH_SPOOL_TARGET,
                       .target = 3,
                       .kind = NH_SPOOL_TARGET_DELIVERED,
                       .receipt = "{}" },
       &held[3]);
  check(held[0] && held[1] && held[2] && !held[3], "queue",
        "progress: the holder writes targets and parks; another owner writes nothing");
  check(count_state(sp, 0) == 1 && take_all(other, r, 2) == 0, "queue",
        "progress: a parked record is queued, not taken before it is due");
  int back = 0;
  nh_spool_unpark(sp, seq, nh_wall_time(), &back, err, sizeof err);
  check(back && count_state(sp, 1) == 1, "queue", "progress: its owner takes a parked record back");
  end1(sp, (nh_spool_end){ .seq = seq, .how = NH_SPOOL_PARK, .due = now - 1, .attempt = 2 }, NULL);
  n = take_all(other, r, 2);
  check(n == 1 && r[0].seq == seq && r[0].attempt == 2 && r[0].progress &&
          strstr(r[0].progress, "[0,1,{\"success\":true,\"attempts\":1}]") &&
          strstr(r[0].progress, "[1,2,{\"attempts\":2,\"part\":0}]"),
        "queue", "progress: another owner takes a parked record once due, with its progress");
  free_recs(r, n);
  nh_spool_unpark(sp, seq, nh_wall_time(), &back, err, sizeof err);
  check(!back, "queue", "progress: once another took it, its first owner cannot take it back");
  end1(other, (nh_spool_end){ .seq = seq, .how = NH_SPOOL_FAILED, .receipt = "{}" }, NULL);
  check(raw_count(path, "SELECT count(*) FROM progress") == 1, "queue",
        "progress: a failed message keeps only its delivered targets' rows");
  size_t again = 0;
  nh_spool_retry(sp, "pg-0", &again, err, sizeof err);
  n = take_all(sp, r, 2);
  check(again == 1 && n == 1 && r[0].progress && !strstr(r[0].progress, "[1,"), "queue",
        "progress: retry() sends it again with the delivered target's row only");
  free_recs(r, n);
  nh_spool_done(sp, seq, NULL, err, sizeof err);
  check(raw_count(path, "SELECT count(*) FROM progress") == 0, "queue",
        "progress: a delivered message leaves no rows");
  nh_spool_close(other);
  nh_spool_close(sp);
}

/* A record's progress read back by a job of 2 targets: hostile numbers
 * become harmless ones, unknown targets are ignored. */
static void check_resume(void) {
  nh_job *job = nh_job_new(2);
  const char *p = "[[0,1,{\"success\":false,\"code\":\"HTTP_STATUS\",\"error\":\"HTTP 404\","
                  "\"attempts\":1e300,\"http_status\":-5}],"
                  "[1,2,{\"attempts\":2,\"part\":1e300,\"due\":-1e308}],"
                  "[\"x\",1,{}],[7,1,{}],[1e300,1,{}],7]";
  int rc = nh_spool_job_resume(job, p);
  check(rc == 0 && !job->results[0].success && job->results[0].code == NH_HTTP_STATUS &&
          job->results[0].attempts == 0 && job->results[0].http_status == 0 &&
          job->results[0].error && strcmp(job->results[0].error, "HTTP 404") == 0,
        "queue", "resume: an ended target gets its result, numbers out of range are 0");
  check(job->resume && job->resume[1].waiting && job->resume[1].part == 0 &&
          job->results[1].attempts == 2 && job->resume[1].at <= nh_now() + 1,
        "queue", "resume: a waiting target gets its attempts, a sane part and due time");
  nh_job_release(job);
  job = nh_job_new(1);
  check(nh_spool_job_resume(job, "not json") == 0 && !job->resume && job->results[0].code == NH_OK,
        "queue", "resume: progress that is not JSON leaves the job as it was");
  nh_job_release(job);
}

/* Put as held: this owner delivers them; nobody else takes them while it lives. */
static void check_put_taken(const char *path, nh_spool *sp) {
  nh_spool_item items[3];
  nh_job *job = make_job("held", "x");
  for (int i = 0; i < 3; i++) {
    nh_spool_item_from_job(&items[i], job, 0, 0);
    items[i].take = 1;
  }
  nh_job_release(job);
  size_t taken_before = count_state(sp, 1);
  nh_code code = nh_spool_put(sp, items, 3, err, sizeof err);
  nh_spool *other = open_at(path, 30, 5, NULL);
  nh_spool_rec r[64];
  size_t n = take_all(other, r, 64);
  int none_held = 1;
  for (size_t i = 0; i < n; i++) none_held &= strcmp(r[i].id, "held") != 0;
  nh_spool_release(other, NULL, err, sizeof err);
  free_recs(r, n);
  nh_spool_close(other);
  check(code == NH_OK && count_state(sp, 1) == taken_before + 3 && none_held, "queue",
        "put as taken: held by this owner at once, another holder does not get them");
  nh_spool_end e[3];
  for (int i = 0; i < 3; i++)
    e[i] = (nh_spool_end){ .seq = items[i].seq, .how = NH_SPOOL_DELIVERED };
  code = nh_spool_finish(sp, e, 3, nh_wall_time(), err, sizeof err);
  check(code == NH_OK && e[0].held && e[1].held && e[2].held && count_state(sp, 1) == taken_before,
        "queue", "and this owner finishes them by seq");
  for (int i = 0; i < 3; i++) nh_spool_item_free(&items[i]);
}

/* Failed records stay keep_failed seconds, then the next take purges them. */
static void check_keep_failed(const char *dir) {
  char path[512];
  path_in(path, sizeof path, dir, "keep.db");
  nh_spool_options o;
  nh_spool_options_default(&o);
  o.path = path;
  o.keep_failed = 1;
  nh_code code;
  nh_spool *sp = nh_spool_open(&o, 1, &code, err, sizeof err);
  nh_spool_rec r[2];
  put_n(sp, "kf", 1, NH_PRIORITY_NORMAL, 0);
  size_t n = take_all(sp, r, 2);
  if (n == 1) nh_spool_fail(sp, r[0].seq, "{}", nh_wall_time(), NULL, err, sizeof err);
  free_recs(r, n);
  n = take_all(sp, r, 2);
  size_t kept = count_state(sp, 2);
  usleep(1200000);
  size_t m = take_all(sp, r + n, 2);
  check(n == 0 && m == 0 && kept == 1 && count_state(sp, 2) == 0, "queue",
        "a failure is kept keep_failed seconds (1 s here), then purged");
  nh_spool_close(sp);
}

/* Records that are not jobs decode to nothing, without a crash. */
static void check_bad_records(void) {
  const char *bad[] = {
    "{\"v\":1,\"id\":\"a\",\"targets\":{}}",
    "{\"v\":1,\"id\":\"a\",\"targets\":[{\"platform\":\"nope\"}]}",
    "{\"v\":1,\"id\":\"a\",\"targets\":[{\"platform\":\"webhook\",\"headers\":[1]}]}",
    "{\"v\":1,\"id\":\"a\",\"targets\":[{\"platform\":\"webhook\",\"rate\":[[1e300,1]]}]}",
    "{\"v\":1,\"id\":\"a b\",\"targets\":[{\"platform\":\"webhook\"}]}",
    "{\"v\":1,\"id\":\"a\",\"metadata\":[1],\"targets\":[{\"platform\":\"webhook\"}]}",
    "{\"v\":1,\"id\":\"a\",\"attachments\":[{\"content\":\"!!\"}],\"targets\":[{\"platform\":"
    "\"webhook\"}]}",
    "{\"v\":2,\"id\":\"a\",\"targets\":[{\"platform\":\"webhook\"}]}",
    "[]",
  };
  int none = 1;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    nh_job *job = nh_spool_job_decode(bad[i], strlen(bad[i]), err, sizeof err);
    if (job) printf("  decoded: %s\n", bad[i]);
    none &= job == NULL;
    nh_job_release(job);
  }
  const char *good = "{\"v\":1,\"id\":\"a\",\"priority\":1e300,\"timeout\":-5,"
                     "\"retry\":{\"max_attempts\":1e300,\"initial_delay\":-1},"
                     "\"targets\":[{\"platform\":\"webhook\",\"url\":\"https://x/\"}]}";
  nh_job *job = nh_spool_job_decode(good, strlen(good), err, sizeof err);
  check(none && job && job->msg.priority == NH_PRIORITY_NORMAL && job->timeout == 0 &&
          job->retry.max_attempts == 3 && job->retry.initial_delay == 0.5,
        "queue", "records that are not jobs decode to nothing; out-of-range numbers are clamped");
  nh_job_release(job);
}

static void check_bound(const char *dir) {
  char path[512];
  path_in(path, sizeof path, dir, "bound.db");
  nh_spool_options o;
  nh_spool_options_default(&o);
  o.path = path;
  o.max_queued = 10;
  nh_code code;
  nh_spool *sp = nh_spool_open(&o, 1, &code, err, sizeof err);
  put_n(sp, "a", 8, NH_PRIORITY_NORMAL, 0);
  code = put_n(sp, "b", 3, NH_PRIORITY_NORMAL, 0);
  check(code == NH_QUEUE_FULL && strstr(err, "max_queued") && count_state(sp, 0) == 8, "queue",
        "max_queued: a batch that does not fit is refused whole (QUEUE_FULL)");
  nh_spool_item items[3];
  nh_job *job = make_job("g", "x");
  for (int i = 0; i < 3; i++) {
    nh_spool_item_from_job(&items[i], job, 0, 0);
    items[i].group = i == 0 ? 1 : 2;
  }
  nh_job_release(job);
  code = nh_spool_put(sp, items, 3, err, sizeof err);
  check(code == NH_OK && items[0].code == NH_OK && items[1].code == NH_QUEUE_FULL &&
          items[2].code == NH_QUEUE_FULL && count_state(sp, 0) == 9,
        "queue", "groups sharing one transaction: the one that fits goes in, the other is refused");
  for (int i = 0; i < 3; i++) nh_spool_item_free(&items[i]);
  nh_spool_close(sp);
}

/* counts.open, which max_queued reads, minus the open rows: the slots
 * live handles reserved and have not used (-1000 when unreadable). */
static long open_slack(const char *path) {
  sqlite3 *db;
  sqlite3_stmt *st;
  long slack = -1000;
  sqlite3_open(path, &db);
  if (sqlite3_prepare_v2(db,
                         "SELECT (SELECT n FROM counts WHERE k = 'open') -"
                         " (SELECT count(*) FROM jobs WHERE state < 2)",
                         -1, &st, NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW) slack = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return slack;
}

/* A handle opened before fork() does nothing in the child (NH_CLOSED), and
 * freeing it there leaves the parent's connection alone. */
static void check_fork(nh_spool *sp) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    nh_code code = put_n(sp, "child", 1, NH_PRIORITY_NORMAL, 0);
    int ok = code == NH_CLOSED && strstr(err, "fork");
    nh_spool_close(sp);
    _exit(ok ? 0 : 1);
  }
  int st;
  waitpid(pid, &st, 0);
  check(WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
          put_n(sp, "parent", 1, NH_PRIORITY_NORMAL, 0) == NH_OK,
        "queue", "in a child of fork() a handle answers CLOSED; the parent's goes on");
}

static void mode_queue(const char *dir) {
  char path[512];
  path_in(path, sizeof path, dir, "queue.db");
  nh_spool *sp = open_at(path, 30, 1, NULL);
  check_roundtrip(sp);
  check_order(sp);
  check_finish_many(sp);
  check_progress(dir);
  check_resume();
  check_put_taken(path, sp);
  check_fork(sp);
  check_bad_records();
  check_keep_failed(dir);
  check_bound(dir);
  size_t n = 0;
  nh_spool_retry(sp, "rt-0", &n, err, sizeof err);
  check(n == 1 && count_state(sp, 0) >= 1, "queue", "retry queues a failed record again");
  /* Each handle reserves max_queued slots in blocks (at most 256 unused at
   * a time): the count bounds the rows, exact once the handles closed. */
  long slack = open_slack(path);
  check(slack >= 0 && slack <= 256, "queue", "the count max_queued reads bounds the rows");
  nh_spool_close(sp);
  check(open_slack(path) == 0, "queue", "and agrees with them once the handle closed cleanly");
}

/* ---- reserve: seqs and max_queued slots taken in blocks ----------------- */

static nh_spool *open_max(const char *path, size_t max_queued) {
  nh_spool_options o;
  nh_spool_options_default(&o);
  o.path = path;
  o.max_queued = max_queued;
  nh_code code;
  return nh_spool_open(&o, 5, &code, err, sizeof err);
}

/* Puts one message; its seq, or 0 when refused. */
static int64_t put_one(nh_spool *sp, const char *id) {
  nh_spool_item it = { 0 };
  nh_job *job = make_job(id, "x");
  nh_spool_item_from_job(&it, job, 0, 0);
  nh_job_release(job);
  int64_t seq = nh_spool_put(sp, &it, 1, err, sizeof err) == NH_OK ? it.seq : 0;
  nh_spool_item_free(&it);
  return seq;
}

static int seq_seen(const int64_t *seqs, size_t n, int64_t seq) {
  for (size_t i = 0; i < n; i++)
    if (seqs[i] == seq) return 1;
  return 0;
}

static void check_reserve_seq(const char *dir) {
  char path[512];
  path_in(path, sizeof path, dir, "reserve-seq.db");
  int64_t seqs[64], top = 0;
  size_t n = 0;
  int ok = 1;
  nh_spool *a = open_max(path, 1000000), *b = open_max(path, 1000000);
  for (int i = 0; i < 20; i++) { /* two handles, one after the other */
    int64_t s1 = put_one(a, "a"), s2 = put_one(b, "b");
    ok &= s1 > 0 && s2 > 0 && !seq_seen(seqs, n, s1) && s1 != s2 && !seq_seen(seqs, n, s2);
    seqs[n++] = s1, seqs[n++] = s2;
    top = s1 > top ? s1 : top, top = s2 > top ? s2 : top;
  }
  check(ok, "reserve", "two handles on one file never give out the same seq");
  nh_spool_close(a);
  nh_spool_close(b);
  a = open_max(path, 1000000);
  int64_t next = put_one(a, "c");
  check(next > top, "reserve", "a handle opened later gives seqs above every earlier one");
  nh_spool_close(a);
}

static void check_reserve_one(const char *dir) {
  char path[512];
  path_in(path, sizeof path, dir, "reserve-one.db");
  nh_spool *sp = open_max(path, 1);
  int first = put_one(sp, "one") > 0, second = put_one(sp, "two") == 0;
  nh_spool_rec r[2];
  size_t n = take_all(sp, r, 2);
  int held = 0;
  if (n == 1) nh_spool_done(sp, r[0].seq, &held, err, sizeof err);
  free_recs(r, n);
  int third = put_one(sp, "three") > 0, fourth = put_one(sp, "four") == 0;
  check(first && second && held && third && fourth, "reserve",
        "max_queued = 1 holds exactly one message, and one again once it was delivered");
  nh_spool_close(sp);
}

/* Two live handles with max_queued = 128 (each keeps at most 2 slots):
 * the rows never pass it; QUEUE_FULL comes at most 2 per handle early. */
static void check_reserve_bound(const char *dir) {
  char path[512];
  path_in(path, sizeof path, dir, "reserve-bound.db");
  nh_spool *a = open_max(path, 128), *b = open_max(path, 128);
  int in = put_one(a, "a") > 0;
  for (int i = 0; i < 200 && put_one(b, "b") > 0; i++) in++;
  in += put_one(a, "a2") > 0;
  check(in <= 128 && in >= 124 && count_state(a, 0) == (size_t)in, "reserve",
        "two live handles: never more rows than max_queued, QUEUE_FULL at most 2 per handle early");
  nh_spool_close(a);
  nh_spool_close(b);
  check(open_slack(path) == 0, "reserve", "closed cleanly, they give back what they reserved");
}

/* A holder killed with slots reserved: the takeover counts them out. */
static void check_reserve_dead(const char *dir) {
  char path[512];
  path_in(path, sizeof path, dir, "reserve-dead.db");
  nh_spool_close(open_max(path, 128));
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    nh_spool *sp = open_max(path, 128);
    _exit(sp && put_one(sp, "dead") > 0 ? 0 : 1); /* no close: its reservation stays */
  }
  int st;
  waitpid(pid, &st, 0);
  nh_spool *live = open_max(path, 128); /* reserves too, and stays */
  int live_put = put_one(live, "live") > 0;
  long before = open_slack(path);
  nh_spool *sp = open_max(path, 128);
  nh_spool_rec r[4];
  size_t n = take_all(sp, r, 4);
  free_recs(r, n);
  check(WIFEXITED(st) && WEXITSTATUS(st) == 0 && live_put && before >= 2 && n == 2 &&
          open_slack(path) == 0,
        "reserve", "a dead holder's unused reservation is counted out by the takeover");
  /* the recount counted the live handle's out as well: it must not give
   * back what it no longer has, and reserves again for its next put */
  int again = put_one(live, "live-2") > 0;
  long slack = open_slack(path);
  nh_spool_close(live);
  check(again && slack >= 0 && open_slack(path) == 0, "reserve",
        "a live handle whose reservation was recounted gives back nothing twice");
  nh_spool_close(sp);
}

static void mode_reserve(const char *dir) {
  check_reserve_seq(dir);
  check_reserve_one(dir);
  check_reserve_bound(dir);
  check_reserve_dead(dir);
}

/* ---- race: two processes take at once ------------------------------------ */

#define RACE_N 3000

static void race_child(const char *path, int fd, int go) {
  nh_spool *sp = open_at(path, 30, 10, NULL);
  nh_spool_rec r[7];
  char x;
  if (read(go, &x, 1) != 1) _exit(4); /* both start together */
  for (;;) {
    size_t n = 0;
    if (nh_spool_take(sp, nh_wall_time(), 7, r, &n, err, sizeof err) != NH_OK) _exit(2);
    if (n == 0) break;
    for (size_t i = 0; i < n; i++) {
      if (write(fd, &r[i].seq, sizeof r[i].seq) != sizeof r[i].seq) _exit(3);
      nh_spool_rec_free(&r[i]);
    }
    usleep(200); /* a worker's work: the other gets the lock too */
  }
  nh_spool_close(sp);
  _exit(0);
}

static void mode_race(const char *dir) {
  char path[512];
  path_in(path, sizeof path, dir, "race.db");
  nh_spool *sp = open_at(path, 30, 10, NULL);
  for (int i = 0; i < RACE_N / 100; i++) put_n(sp, "r", 100, NH_PRIORITY_NORMAL, 0);
  nh_spool_close(sp);
  int fds[2][2], go[2];
  pid_t pids[2];
  if (pipe(go) != 0) exit(2);
  for (int c = 0; c < 2; c++) {
    if (pipe(fds[c]) != 0) exit(2);
    if ((pids[c] = fork()) == 0) {
      close(fds[c][0]);
      race_child(path, fds[c][1], go[0]);
    }
    close(fds[c][1]);
  }
  usleep(100000);
  if (write(go[1], "xx", 2) != 2) exit(2);
  static unsigned char seen[RACE_N + 1];
  size_t got[2] = { 0, 0 }, twice = 0, out_of_range = 0;
  for (int c = 0; c < 2; c++) {
    int64_t seq;
    while (read(fds[c][0], &seq, sizeof seq) == sizeof seq) {
      got[c]++;
      if (seq < 1 || seq > RACE_N) out_of_range++;
      else if (seen[seq]++) twice++;
    }
    close(fds[c][0]);
  }
  int ok = 1, st;
  for (int c = 0; c < 2; c++)
    ok &= waitpid(pids[c], &st, 0) == pids[c] && WIFEXITED(st) && WEXITSTATUS(st) == 0;
  printf("  taken: %zu and %zu (twice: %zu, unknown: %zu)\n", got[0], got[1], twice, out_of_range);
  check(ok && got[0] + got[1] == RACE_N && twice == 0 && out_of_range == 0, "race",
        "two processes taking at once took every record exactly once");
  check(got[0] > 0 && got[1] > 0, "race", "both processes took some");
}

/* ---- kill: a holder on this host dies -------------------------------------- */

static void mode_kill(const char *dir) {
  char path[512];
  path_in(path, sizeof path, dir, "kill.db");
  nh_spool_close(open_at(path, 30, 5, NULL));
  int ready[2];
  if (pipe(ready) != 0) exit(2);
  pid_t pid = fork();
  if (pid == 0) {
    nh_spool *sp = open_at(path, 30, 5, NULL); /* a lease of 30 s: only death frees them */
    put_n(sp, "k", 100, NH_PRIORITY_NORMAL, 0);
    nh_spool_rec r[10];
    size_t n = take_all(sp, r, 10);
    if (write(ready[1], &n, sizeof n) != sizeof n) _exit(2);
    pause();
    _exit(0);
  }
  close(ready[1]);
  size_t held = 0;
  if (read(ready[0], &held, sizeof held) != sizeof held) held = 0;
  nh_spool *sp = open_at(path, 30, 5, NULL);
  nh_spool_rec r[128];
  size_t before = take_all(sp, r, 128);
  free_recs(r, before);
  check(held == 10 && before == 90, "kill", "a live holder keeps what it took (10 of 100)");
  nh_spool_release(sp, NULL, err, sizeof err);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  double t0 = nh_now();
  size_t after = take_all(sp, r, 128);
  check(after == 100 && nh_now() - t0 < 5, "kill",
        "killed with SIGKILL, its 10 records are taken over at once (all 100 recorded)");
  free_recs(r, after);
  nh_spool_release(sp, NULL, err, sizeof err);
  /* A row naming this very process but another start time: the pid was reused. */
  char text[1024];
  snprintf(text, sizeof text,
           "INSERT INTO owners VALUES ('ghost', '%s', %ld, 1, %f);"
           "UPDATE jobs SET state = 1, owner = 'ghost', lease = %f WHERE seq IN (SELECT seq FROM "
           "jobs LIMIT 5);",
           nh_sqlite_of(sp)->host, (long)getpid(), nh_wall_time() + 3600, nh_wall_time() + 3600);
  raw_sql(path, text);
  after = take_all(sp, r, 128);
  check(after == 100, "kill",
        "a holder whose pid now belongs to a process started at another time is dead");
  free_recs(r, after);
  nh_spool_close(sp);
}

/* Field 22 of /proc/self/stat (starttime), read here independently of
 * nh_spool_owner.c: the fields after the command name's last ')'. */
static unsigned long long own_start_time(void) {
  char buf[1024];
  FILE *f = fopen("/proc/self/stat", "r");
  size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
  if (f) fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  unsigned long long v = 0;
  /* fields 3..21 skipped, then 22 */
  if (p &&
      sscanf(p + 1,
             " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
             &v) != 1)
    v = 0;
  return v;
}

/* A holder that is alive keeps its records however its memory changes:
 * the start time in its row is the process's, and it stays the same. */
static void check_start_time(const char *dir) {
  char path[512];
  path_in(path, sizeof path, dir, "start.db");
  nh_spool *sp = open_at(path, 30, 5, NULL);
  nh_spool_rec r[2];
  put_n(sp, "s", 1, NH_PRIORITY_NORMAL, 0);
  size_t n = take_all(sp, r, 2);
  free_recs(r, n);
  sqlite3 *db;
  sqlite3_stmt *st;
  unsigned long long stored = 0;
  sqlite3_open(path, &db);
  if (sqlite3_prepare_v2(db, "SELECT start FROM owners", -1, &st, NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW) stored = (unsigned long long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  printf("  start time: stored %llu, /proc/self/stat field 22: %llu\n", stored, own_start_time());
  check(n == 1 && stored != 0 && stored == own_start_time(), "kill",
        "a holder's row holds its process start time (/proc/<pid>/stat field 22)");
  void *grow = malloc(64 << 20); /* the process's size changes, its start time does not */
  memset(grow, 1, 64 << 20);
  check(!nh_sqlite_pid_dead((long)getpid(), stored), "kill",
        "a live holder is not dead, whatever its size");
  free(grow);
  nh_spool_close(sp);
}

/* ---- foreign: a holder on another host -------------------------------------- */

static void mode_foreign(const char *dir) {
  char path[512], text[1024];
  path_in(path, sizeof path, dir, "foreign.db");
  nh_spool *sp = open_at(path, 1, 5, NULL);
  put_n(sp, "f", 20, NH_PRIORITY_NORMAL, 0);
  double lease_end = nh_wall_time() + 1.0;
  /* pid 1 of another host: alive or not here says nothing about it there. */
  snprintf(text, sizeof text,
           "INSERT INTO owners VALUES ('far', 'another-host/pid:[1]', %ld, 1, %f);"
           "UPDATE jobs SET state = 1, owner = 'far', lease = %f;",
           (long)getpid() + 1000000, lease_end, lease_end);
  raw_sql(path, text);
  nh_spool_rec r[32];
  size_t n = take_all(sp, r, 32);
  check(n == 0, "foreign", "a holder on another host keeps its records while its lease runs");
  while (nh_wall_time() < lease_end + 0.1) usleep(20000);
  n = take_all(sp, r, 32);
  check(n == 20, "foreign", "after its lease (1 s) ran out they are taken over");
  free_recs(r, n);
  nh_spool_close(sp);
}

/* ---- busy: another process holds the write lock ---------------------------- */

static void mode_busy(const char *dir) {
  char path[512];
  path_in(path, sizeof path, dir, "busy.db");
  nh_spool *sp = open_at(path, 30, 0.5, NULL);
  put_n(sp, "b", 5, NH_PRIORITY_NORMAL, 0);
  int ready[2];
  if (pipe(ready) != 0) exit(2);
  pid_t pid = fork();
  if (pid == 0) {
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (write(ready[1], "x", 1) != 1) _exit(2);
    sleep(3);
    _exit(0); /* the lock goes with the process */
  }
  char x;
  if (read(ready[0], &x, 1) != 1) exit(2);
  double t0 = nh_now();
  nh_code code = put_n(sp, "b2", 5, NH_PRIORITY_NORMAL, 0);
  double took = nh_now() - t0;
  printf("  put waited %.3f s: %s\n", took, err);
  check(
    code == NH_SPOOL_BUSY && took >= 0.4 && took < 2.5 && strstr(err, path) &&
      strstr(err, "locked"),
    "busy",
    "a lock held past the timeout (0.5 s): SPOOL_BUSY, naming the path, after about the timeout");
  size_t n = 0;
  nh_spool_rec r[4];
  code = nh_spool_take(sp, nh_wall_time(), 4, r, &n, err, sizeof err);
  check(code == NH_SPOOL_BUSY && n == 0, "busy", "take too");
  waitpid(pid, NULL, 0);
  check(put_n(sp, "b3", 5, NH_PRIORITY_NORMAL, 0) == NH_OK && count_state(sp, 0) == 10, "busy",
        "once the lock is gone it works again; nothing of the refused put was recorded");
  nh_spool_close(sp);
}

/* ---- full: a file-size limit ------------------------------------------------ */

static off_t file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? st.st_size : 0;
}

static nh_code put_big(nh_spool *sp, int n) {
  nh_spool_item *items = calloc((size_t)n, sizeof *items);
  char *blob = malloc(64 * 1024 + 1);
  for (int i = 0; i < 64 * 1024; i++) blob[i] = (char)('a' + (i * 7 + n) % 26);
  blob[64 * 1024] = '\0';
  for (int i = 0; i < n; i++) {
    items[i].id = "big";
    items[i].labels = "[\"x\"]";
    items[i].data = blob;
    items[i].len = 64 * 1024;
  }
  nh_code code = nh_spool_put(sp, items, (size_t)n, err, sizeof err);
  free(blob);
  free(items);
  return code;
}

static void full_child(const char *path) {
  failures = 0;
  signal(SIGXFSZ, SIG_IGN);
  nh_spool *sp = open_at(path, 30, 1, NULL);
  put_n(sp, "before", 3, NH_PRIORITY_NORMAL, 0);
  char wal[600];
  snprintf(wal, sizeof wal, "%s-wal", path);
  off_t biggest = file_size(path) > file_size(wal) ? file_size(path) : file_size(wal);
  struct rlimit old, lim;
  getrlimit(RLIMIT_FSIZE, &old);
  lim = old;
  lim.rlim_cur = (rlim_t)biggest + 256 * 1024;
  setrlimit(RLIMIT_FSIZE, &lim);
  nh_code code = put_big(sp, 40); /* 2.5 MB in one transaction */
  printf("  %s\n", err);
  check(code == NH_SPOOL_FULL && strstr(err, path) && strstr(err, "no room"), "full",
        "past the file-size limit: SPOOL_FULL, naming the path");
  check(count_state(sp, 0) == 3, "full", "nothing of the refused batch was recorded");
  code = put_big(sp, 40);
  check(code == NH_SPOOL_FULL && count_state(sp, 0) == 3, "full",
        "again: refused, nothing half-recorded");
  setrlimit(RLIMIT_FSIZE, &old);
  code = put_big(sp, 40);
  check(code == NH_OK && count_state(sp, 0) == 43, "full",
        "once there is room the spool works again");
  nh_spool_rec r[64];
  size_t n = take_all(sp, r, 64);
  check(n == 43, "full", "and everything recorded can be taken");
  free_recs(r, n);
  nh_spool_close(sp);
  _exit(failures ? 1 : 0);
}

static void mode_full(const char *dir) {
  char path[512];
  path_in(path, sizeof path, dir, "full.db");
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) full_child(path);
  int st;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    printf("FAIL full: the child ended with status %d\n", st);
    failures++;
  }
}

/* ---- rate: 4 processes share a window --------------------------------------- */

#define RATE_PROCS 4
#define RATE_SECONDS 3.0

static const nh_rate_rule rate_rules[2] = { { 5, 1.0 }, { 8, 2.0 } };

static void rate_child(const char *path, int fd) {
  nh_spool *sp = open_at(path, 30, 10, NULL);
  double end = nh_wall_time() + RATE_SECONDS;
  while (nh_wall_time() < end) {
    double now = nh_wall_time(), wait = 0;
    if (nh_spool_rate_take(sp, "bot-1", rate_rules, 2, now, &wait, err, sizeof err) != NH_OK)
      _exit(2);
    if (wait == 0) {
      if (write(fd, &now, sizeof now) != sizeof now) _exit(3);
    } else {
      usleep((useconds_t)(fmin(wait, 0.05) * 1e6));
    }
  }
  nh_spool_close(sp);
  _exit(0);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The most sends in any window of `per` seconds. */
static int most_in_window(const double *t, size_t n, double per) {
  int most = 0;
  for (size_t i = 0, j = 0; i < n; i++) {
    while (t[i] - t[j] >= per) j++;
    if ((int)(i - j + 1) > most) most = (int)(i - j + 1);
  }
  return most;
}

static void mode_rate(const char *dir) {
  char path[512];
  path_in(path, sizeof path, dir, "rate.db");
  nh_spool_close(open_at(path, 30, 10, NULL));
  int fds[2];
  if (pipe(fds) != 0) exit(2);
  pid_t pids[RATE_PROCS];
  for (int c = 0; c < RATE_PROCS; c++)
    if ((pids[c] = fork()) == 0) {
      close(fds[0]);
      rate_child(path, fds[1]);
    }
  close(fds[1]);
  static double t[1 << 16];
  size_t n = 0;
  double x;
  while (read(fds[0], &x, sizeof x) == sizeof x) /* to the end: no child blocks on the pipe */
    if (n < sizeof t / sizeof t[0]) t[n++] = x;
  int ok = 1, st;
  for (int c = 0; c < RATE_PROCS; c++)
    ok &= waitpid(pids[c], &st, 0) > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
  qsort(t, n, sizeof *t, cmp_double);
  int in1 = most_in_window(t, n, 1.0), in2 = most_in_window(t, n, 2.0);
  printf("  %zu sends in %.0f s from %d processes; at most %d in 1 s, %d in 2 s\n", n, RATE_SECONDS,
         RATE_PROCS, in1, in2);
  check(ok && in1 <= 5 && in2 <= 8, "rate",
        "4 processes together: never more than 5 in 1 s nor 8 in 2 s");
  check(n >= 8, "rate", "and the window lets sends through");
}

/* ---- inspect: a spool for spec/spool_spec.lua ------------------------------- */

static void mode_inspect(const char *path) {
  nh_spool *sp = open_at(path, 30, 5, NULL);
  nh_spool_item items[6];
  const char *labels[] = { "webhook https://hooks.example/***", "feishu bot ***" };
  for (int i = 0; i < 6; i++) {
    char id[32];
    snprintf(id, sizeof id, "msg-%d", i);
    nh_job *job = make_job(id, labels[i % 2]);
    nh_spool_item_from_job(&items[i], job, 0, 0);
    items[i].due = i; /* taken in this order */
    nh_job_release(job);
  }
  nh_spool_put(sp, items, 6, err, sizeof err);
  for (int i = 0; i < 6; i++) nh_spool_item_free(&items[i]);
  nh_spool_rec r[4];
  size_t n = take_all(sp, r, 4);
  for (size_t i = 0; i < n && i < 3; i++) { /* msg-0..2 fail, msg-3 stays taken */
    nh_job *job = nh_spool_job_decode(r[i].data, r[i].len, err, sizeof err);
    nh_result_set(&job->results[0], NH_HTTP_STATUS, "HTTP 500 at https://hooks.example/%s",
                  URL_SECRET);
    job->code = NH_HTTP_STATUS;
    char *receipt = nh_spool_receipt(job);
    nh_spool_fail(sp, r[i].seq, receipt, 1000.0 + (double)i, NULL, err, sizeof err);
    free(receipt);
    nh_job_release(job);
  }
  free_recs(r, n);
  nh_spool_close(sp); /* not released: msg-3 stays taken by this (dead) process */
  printf("PASS inspect: left %s\n", path);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(
      stderr,
      "usage: %s open|queue|race|kill|foreign|busy|full|rate|reserve|all DIR | inspect FILE\n",
      argv[0]);
    return 2;
  }
  const char *mode = argv[1], *dir = argv[2];
  int all = strcmp(mode, "all") == 0;
  if (all || strcmp(mode, "open") == 0) mode_open(dir);
  if (all || strcmp(mode, "queue") == 0) mode_queue(dir);
  if (all || strcmp(mode, "race") == 0) mode_race(dir);
  if (all || strcmp(mode, "kill") == 0) mode_kill(dir), check_start_time(dir);
  if (all || strcmp(mode, "foreign") == 0) mode_foreign(dir);
  if (all || strcmp(mode, "busy") == 0) mode_busy(dir);
  if (all || strcmp(mode, "full") == 0) mode_full(dir);
  if (all || strcmp(mode, "rate") == 0) mode_rate(dir);
  if (all || strcmp(mode, "reserve") == 0) mode_reserve(dir);
  if (strcmp(mode, "inspect") == 0) mode_inspect(dir);
  return failures ? 1 : 0;
}
