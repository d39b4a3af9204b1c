/*
 * redis_store.c: the Redis spool (csrc/nh_redis*.c) from C, through its
 * backend's entries, against a real redis-server (spec/redis_store_spec.lua
 * starts one on a free port and runs this).
 *
 *   redis_store queue URL     put/take/renew/finish/requeue/park/unpark/release,
 *                             order and held semantics, max_queued, progress,
 *                             receipts to the producer, stats, failed, retry, purge
 *   redis_store race URL      two processes taking at once never take one record twice
 *   redis_store kill URL      a holder killed with SIGKILL loses its records after its lease
 *   redis_store rate URL      4 processes on one rate window: never more than N per window
 *   redis_store secret URL    URLs: the password never in an error or the path; bad ones refused
 *   redis_store lost URL      (REDIS_PIDFILE) a put or take whose answer is lost
 *                             (Redis stopped, then continued) is undone at the next call
 *   redis_store late URL      a lost put or take that reaches Redis after its undo does nothing
 *   redis_store restart URL   (REDIS_STOP, REDIS_START: shell commands) Redis stopped: calls
 *                             fail within the timeout, clearly; restarted (AOF): the
 *                             records are there and the same handle works again
 *
 * URL: redis://[user:password@]host:port/db of an empty database. Prints one
 * "PASS ..." or "FAIL ..." line per check; exits 1 on a FAIL.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "nh_redis_store.h"

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

static double wall(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static nh_spool *open_with(const char *url, const char *prefix, double lease, size_t max_queued,
                           double keep_failed, nh_code *code) {
  nh_spool_options o;
  nh_spool_options_default(&o);
  o.redis = url;
  o.prefix = prefix;
  o.lease = lease;
  o.max_queued = max_queued;
  o.keep_failed = keep_failed;
  nh_code dummy;
  err[0] = '\0';
  return nh_redis_open(&o, 2.0, code ? code : &dummy, err, sizeof err);
}

static nh_spool *open_r(const char *url, const char *prefix) {
  return open_with(url, prefix, 30, 1000000, 604800, NULL);
}

static void sp_close(nh_spool *sp) {
  if (sp) sp->be->close(sp);
}

/* n items "<tag>-<i>" (data "data-<tag>-<i>"), one group each unless group >= 0. */
static nh_code put(nh_spool *sp, const char *tag, int n, int priority, double due, int take,
                   int group, int64_t *seqs) {
  nh_spool_item *items = calloc((size_t)n, sizeof *items);
  char(*ids)[64] = calloc((size_t)n, 64), (*data)[80] = calloc((size_t)n, 80);
  for (int i = 0; i < n; i++) {
    snprintf(ids[i], 64, "%s-%d", tag, i);
    snprintf(data[i], 80, "data-%s-%d", tag, i);
    items[i] = (nh_spool_item){ .id = ids[i],
                                .priority = priority,
                                .due = due,
                                .labels = "[\"hook-a\"]",
                                .data = data[i],
                                .len = strlen(data[i]),
                                .group = group >= 0 ? group : i,
                                .take = take };
  }
  nh_code code = sp->be->put_finish(sp, items, (size_t)n, NULL, 0, err, sizeof err);
  for (int i = 0; seqs && i < n; i++) seqs[i] = items[i].seq;
  free(items);
  free(ids);
  free(data);
  return code;
}

static void recs_free(nh_spool_rec *r, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(r[i].id);
    free(r[i].data);
    free(r[i].progress);
  }
}

static size_t take(nh_spool *sp, nh_spool_rec *out, size_t max) {
  size_t n = 0;
  if (sp->be->take(sp, wall(), max, out, &n, err, sizeof err) != NH_OK) return 0;
  return n;
}

static size_t take_count(nh_spool *sp, size_t max) {
  nh_spool_rec r[256];
  size_t n = take(sp, r, max > 256 ? 256 : max);
  recs_free(r, n);
  return n;
}

static int end1(nh_spool *sp, nh_spool_end e) {
  if (sp->be->put_finish(sp, NULL, 0, &e, 1, err, sizeof err) != NH_OK) return -1;
  return e.held;
}

/* ---- queue ------------------------------------------------------------------ */

static void check_order(const char *url) {
  nh_spool *sp = open_r(url, "order");
  double now = wall();
  put(sp, "low", 2, NH_PRIORITY_LOW, now, 0, -1, NULL);
  put(sp, "urgent", 2, NH_PRIORITY_URGENT, now, 0, -1, NULL);
  put(sp, "later", 1, NH_PRIORITY_URGENT, now + 3600, 0, -1, NULL);
  nh_spool_rec r[8];
  size_t n = take(sp, r, 8);
  check(n == 4 && strcmp(r[0].id, "urgent-0") == 0 && strcmp(r[1].id, "urgent-1") == 0 &&
          strcmp(r[2].id, "low-0") == 0 && r[0].len == strlen("data-urgent-0") &&
          memcmp(r[0].data, "data-urgent-0", r[0].len) == 0,
        "queue", "take: the highest priority first, nothing before its due time, data intact");
  size_t held = 0;
  sp->be->renew(sp, wall(), &held, err, sizeof err);
  check(held == 4, "queue", "renew counts what this owner holds");
  int d = end1(sp, (nh_spool_end){ .seq = r[0].seq, .how = NH_SPOOL_DELIVERED });
  int f =
    end1(sp, (nh_spool_end){ .seq = r[1].seq, .how = NH_SPOOL_FAILED, .receipt = "{\"x\":1}" });
  int a =
    end1(sp, (nh_spool_end){ .seq = r[2].seq, .how = NH_SPOOL_AGAIN, .due = wall(), .attempt = 2 });
  int again = end1(sp, (nh_spool_end){ .seq = r[0].seq, .how = NH_SPOOL_DELIVERED });
  check(d == 1 && f == 1 && a == 1 && again == 0, "queue",
        "finish: delivered, failed, again were held; a second end of one record is not");
  nh_spool_rec r2[4];
  size_t m = take(sp, r2, 4);
  check(m == 1 && strcmp(r2[0].id, "low-0") == 0 && r2[0].attempt == 2, "queue",
        "a requeued record comes back with its attempt");
  size_t released = 0;
  sp->be->release(sp, &released, err, sizeof err);
  nh_spool *other = open_r(url, "order");
  size_t got = take_count(other, 8);
  check(released == 2 && got == 2, "queue", "release queues everything held again for others");
  recs_free(r, n);
  recs_free(r2, m);
  sp_close(other);
  sp_close(sp);
}

static void check_held(const char *url) {
  nh_spool *a = open_r(url, "held"), *b = open_r(url, "held");
  int64_t seqs[3];
  nh_code code = put(a, "mine", 3, NH_PRIORITY_NORMAL, wall(), 1, 0, seqs);
  check(code == NH_OK && seqs[0] > 0 && seqs[2] == seqs[0] + 2, "queue",
        "put as taken: recorded with consecutive seqs");
  check(take_count(b, 8) == 0 && take_count(a, 8) == 0, "queue",
        "put as taken: held by this owner at once, nobody takes it");
  int other = end1(b, (nh_spool_end){ .seq = seqs[0], .how = NH_SPOOL_DELIVERED });
  int mine = end1(a, (nh_spool_end){ .seq = seqs[0], .how = NH_SPOOL_DELIVERED });
  check(other == 0 && mine == 1, "queue", "only its holder can end it");
  /* park: still this owner's; a target's progress is kept */
  int t = end1(a, (nh_spool_end){ .seq = seqs[1],
                                  .how = NH_SPOOL_TARGET,
                                  .target = 0,
                                  .kind = NH_SPOOL_TARGET_DELIVERED,
                                  .receipt = "{\"ok\":true}" });
  int p = end1(
    a, (nh_spool_end){ .seq = seqs[1], .how = NH_SPOOL_PARK, .due = wall() + 3600, .attempt = 1 });
  int held = 0;
  a->be->unpark(a, seqs[1], wall(), &held, err, sizeof err);
  int b_held = 1;
  b->be->unpark(b, seqs[1], wall(), &b_held, err, sizeof err);
  check(t == 1 && p == 1 && held == 1 && b_held == 0, "queue",
        "park and unpark: the parked record stays its holder's");
  /* released, the parked one waits for its due time; the other is taken with nothing lost */
  size_t released = 0;
  a->be->release(a, &released, err, sizeof err);
  nh_spool_rec r[4];
  size_t n = take(b, r, 4);
  check(released == 2 && n == 1 && r[0].seq == seqs[2], "queue",
        "a released parked record waits for its due time");
  recs_free(r, n);
  /* the parked one, due now, comes with its progress */
  end1(b, (nh_spool_end){ .seq = seqs[2], .how = NH_SPOOL_DELIVERED });
  sp_close(a);
  sp_close(b);
}

static void check_progress_back(const char *url) {
  nh_spool *a = open_r(url, "prog");
  int64_t seq;
  put(a, "p", 1, NH_PRIORITY_NORMAL, wall(), 1, 0, &seq);
  end1(a, (nh_spool_end){ .seq = seq,
                          .how = NH_SPOOL_TARGET,
                          .target = 1,
                          .kind = NH_SPOOL_TARGET_DELIVERED,
                          .receipt = "{\"ok\":true}" });
  size_t n = 0;
  a->be->release(a, &n, err, sizeof err);
  nh_spool *b = open_r(url, "prog");
  nh_spool_rec r[2];
  size_t got = take(b, r, 2);
  check(got == 1 && r[0].progress && strcmp(r[0].progress, "[[1,1,{\"ok\":true}]]") == 0, "queue",
        "a record taken again brings its targets' progress");
  recs_free(r, got);
  sp_close(a);
  sp_close(b);
}

static void check_bound(const char *url) {
  nh_spool *sp = open_with(url, "bound", 30, 5, 604800, NULL);
  nh_code c1 = put(sp, "a", 3, NH_PRIORITY_NORMAL, wall(), 1, 0, NULL);
  nh_code c2 = put(sp, "b", 3, NH_PRIORITY_NORMAL, wall(), 1, 0, NULL);
  check(c1 == NH_OK && c2 == NH_QUEUE_FULL && strstr(err, "max_queued"), "queue",
        "max_queued: a group that does not fit is refused whole (QUEUE_FULL)");
  /* two groups in one call: the one that fits goes in */
  nh_spool_item items[3] = {
    { .id = "g1", .data = "x", .len = 1, .group = 1, .labels = "[]" },
    { .id = "g2", .data = "x", .len = 1, .group = 2, .labels = "[]" },
    { .id = "g2b", .data = "x", .len = 1, .group = 2, .labels = "[]" },
  };
  nh_code c3 = sp->be->put_finish(sp, items, 3, NULL, 0, err, sizeof err);
  check(c3 == NH_OK && items[0].code == NH_OK && items[1].code == NH_QUEUE_FULL &&
          items[2].code == NH_QUEUE_FULL,
        "queue", "groups in one call: the one that fits goes in, the other is refused");
  sp_close(sp);
}

static void check_receipts_stats(const char *url) {
  nh_spool *a = open_r(url, "rcpt"), *b = open_r(url, "rcpt");
  int64_t seqs[2];
  put(a, "r", 2, NH_PRIORITY_NORMAL, wall(), 0, -1, seqs);
  nh_spool_rec r[2];
  size_t n = take(b, r, 2);
  nh_spool_end ends[2] = {
    { .seq = seqs[0], .how = NH_SPOOL_DELIVERED, .receipt = "{\"status\":\"success\"}" },
    { .seq = seqs[1], .how = NH_SPOOL_FAILED, .receipt = "{\"status\":\"failed\"}" },
  };
  b->be->put_finish(b, NULL, 0, ends, 2, err, sizeof err);
  nh_spool_receipt_in in[4];
  size_t k = 0;
  a->be->receipts(a, in, 4, &k, err, sizeof err);
  check(n == 2 && k == 2 && in[0].seq == seqs[0] && strcmp(in[0].id, "r-0") == 0 &&
          strstr(in[1].receipt, "failed"),
        "queue", "receipts of records another owner ended go back to their producer");
  for (size_t i = 0; i < k; i++) free(in[i].id), free(in[i].receipt);
  a->be->receipts(a, in, 4, &k, err, sizeof err);
  check(k == 0, "queue", "and are read once");
  nh_spool_summary st;
  put(a, "s", 1, NH_PRIORITY_NORMAL, wall(), 0, -1, NULL);
  put(a, "t", 1, NH_PRIORITY_NORMAL, wall(), 1, -1, NULL);
  nh_code code = a->be->stats(a, &st, err, sizeof err);
  check(code == NH_OK && st.queued == 1 && st.taken == 1 && st.failed == 1 && st.n_dests == 1 &&
          strcmp(st.dests[0].label, "hook-a") == 0 && st.dests[0].queued == 1 &&
          st.dests[0].taken == 1 && st.dests[0].failed == 1,
        "queue", "stats: queued, taken, failed, in all and per label");
  for (size_t i = 0; i < st.n_dests; i++) free(st.dests[i].label);
  free(st.dests);
  nh_spool_failure *f = NULL;
  size_t nf = 0, retried = 0, purged = 0;
  a->be->failed(a, 10, &f, &nf, err, sizeof err);
  check(nf == 1 && strcmp(f[0].id, "r-1") == 0 && strstr(f[0].receipt, "failed") &&
          f[0].failed_at > wall() - 60,
        "queue", "failed: the dead letter with its receipt");
  for (size_t i = 0; i < nf; i++) free(f[i].id), free(f[i].receipt);
  free(f);
  a->be->retry(a, "r-1", &retried, err, sizeof err);
  nh_spool_rec rr[4];
  size_t got = take(b, rr, 4);
  int found = 0;
  for (size_t i = 0; i < got; i++) found |= strcmp(rr[i].id, "r-1") == 0 && rr[i].attempt == 0;
  check(retried == 1 && found, "queue", "retry queues a failure again, attempt 0");
  for (size_t i = 0; i < got; i++)
    end1(b, (nh_spool_end){ .seq = rr[i].seq, .how = NH_SPOOL_FAILED, .receipt = "{}" });
  recs_free(rr, got);
  a->be->purge_failed(a, &purged, err, sizeof err);
  a->be->stats(a, &st, err, sizeof err);
  check(purged == got && st.failed == 0, "queue", "purge_failed drops every dead letter");
  for (size_t i = 0; i < st.n_dests; i++) free(st.dests[i].label);
  free(st.dests);
  recs_free(r, n);
  sp_close(a);
  sp_close(b);
}

static void check_keep_failed(const char *url) {
  nh_spool *sp = open_with(url, "keep", 30, 100, 1, NULL);
  int64_t seq;
  put(sp, "k", 1, NH_PRIORITY_NORMAL, wall(), 1, 0, &seq);
  end1(sp, (nh_spool_end){ .seq = seq, .how = NH_SPOOL_FAILED, .receipt = "{}" });
  usleep(1300000);
  take_count(sp, 1);
  nh_spool_failure *f = NULL;
  size_t nf = 5;
  sp->be->failed(sp, 10, &f, &nf, err, sizeof err);
  free(f);
  check(nf == 0, "queue", "a failure is kept keep_failed seconds (1 s here), then purged");
  sp_close(sp);
}

static void check_fork(const char *url) {
  nh_spool *sp = open_r(url, "fork");
  pid_t pid = fork();
  if (pid == 0) {
    size_t n = 0;
    nh_spool_rec r[1];
    _exit(sp->be->take(sp, wall(), 1, r, &n, err, sizeof err) == NH_CLOSED ? 0 : 1);
  }
  int st;
  waitpid(pid, &st, 0);
  check(WIFEXITED(st) && WEXITSTATUS(st) == 0 && put(sp, "f", 1, 1, wall(), 0, -1, NULL) == NH_OK,
        "queue", "in a child of fork() a handle answers CLOSED; the parent's goes on");
  sp_close(sp);
}

static void mode_queue(const char *url) {
  check_order(url);
  check_held(url);
  check_progress_back(url);
  check_bound(url);
  check_receipts_stats(url);
  check_keep_failed(url);
  check_fork(url);
}

/* ---- race ---------------------------------------------------------------------- */

#define RACE_N 2000

static void race_child(const char *url, int fd, int go) {
  nh_spool *sp = open_r(url, "race");
  nh_spool_rec r[7];
  char x;
  if (!sp || read(go, &x, 1) != 1) _exit(4);
  for (;;) {
    size_t n = 0;
    if (sp->be->take(sp, wall(), 7, r, &n, err, sizeof err) != NH_OK) _exit(2);
    if (n == 0) break;
    for (size_t i = 0; i < n; i++)
      if (write(fd, &r[i].seq, sizeof r[i].seq) != sizeof r[i].seq) _exit(3);
    recs_free(r, n);
  }
  sp_close(sp);
  _exit(0);
}

static void mode_race(const char *url) {
  nh_spool *sp = open_r(url, "race");
  int64_t first = 0, seqs[100];
  for (int i = 0; i < RACE_N / 100; i++) {
    put(sp, "r", 100, NH_PRIORITY_NORMAL, 0, 0, -1, seqs);
    if (i == 0) first = seqs[0];
  }
  sp_close(sp);
  int fds[2][2], go[2];
  pid_t pids[2];
  if (pipe(go) != 0) exit(2);
  for (int c = 0; c < 2; c++) {
    if (pipe(fds[c]) != 0) exit(2);
    if ((pids[c] = fork()) == 0) {
      close(fds[c][0]);
      race_child(url, fds[c][1], go[0]);
    }
    close(fds[c][1]);
  }
  usleep(100000);
  if (write(go[1], "xx", 2) != 2) exit(2);
  static unsigned char seen[RACE_N];
  size_t got[2] = { 0, 0 }, twice = 0, unknown = 0;
  for (int c = 0; c < 2; c++) {
    int64_t seq;
    while (read(fds[c][0], &seq, sizeof seq) == sizeof seq) {
      got[c]++;
      if (seq < first || seq >= first + RACE_N) unknown++;
      else if (seen[seq - first]++) twice++;
    }
    close(fds[c][0]);
  }
  int ok = 1, st;
  for (int c = 0; c < 2; c++)
    ok &= waitpid(pids[c], &st, 0) == pids[c] && WIFEXITED(st) && WEXITSTATUS(st) == 0;
  printf("  taken: %zu and %zu (twice: %zu, unknown: %zu)\n", got[0], got[1], twice, unknown);
  check(ok && got[0] + got[1] == RACE_N && twice == 0 && unknown == 0, "race",
        "two processes taking at once took every record exactly once");
  check(got[0] > 0 && got[1] > 0, "race", "both processes took some");
}

/* One command on a connection of its own to url's server and database. */
static redisReply *command_on(const char *url, const char *text) {
  nh_redis_url u;
  if (nh_redis_url_parse(url, &u, err, sizeof err) != 0) return NULL;
  redisContext *c = redisConnect(u.host, u.port);
  if (!c || c->err) {
    if (c) redisFree(c);
    return NULL;
  }
  if (u.password[0]) freeReplyObject(redisCommand(c, "AUTH %s", u.password));
  freeReplyObject(redisCommand(c, "SELECT %d", u.db));
  redisReply *rep = redisCommand(c, text);
  redisFree(c);
  return rep;
}

/* ---- kill ------------------------------------------------------------------------ */

static void mode_kill(const char *url) {
  int ready[2];
  if (pipe(ready) != 0) exit(2);
  pid_t pid = fork();
  if (pid == 0) {
    nh_spool *sp = open_with(url, "kill", 2, 1000000, 604800, NULL);
    int ok = sp && put(sp, "k", 20, NH_PRIORITY_NORMAL, wall(), 1, 0, NULL) == NH_OK;
    if (write(ready[1], ok ? "y" : "n", 1) != 1) _exit(3);
    pause();
    _exit(0);
  }
  char x = 0;
  int got_ready = read(ready[0], &x, 1) == 1 && x == 'y';
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  nh_spool *sp = open_with(url, "kill", 2, 1000000, 604800, NULL);
  size_t before = take_count(sp, 100);
  double t0 = wall();
  size_t after = 0;
  while (after < 20 && wall() - t0 < 10) {
    after += take_count(sp, 100);
    usleep(100000);
  }
  double took = wall() - t0;
  printf("  taken over after %.2f s (lease 2 s)\n", took);
  check(got_ready && before == 0, "kill", "a killed holder's records wait for its lease");
  check(after == 20 && took >= 1.0 && took < 6, "kill",
        "then another owner takes every one of them");
  /* a later take (the first of a handle) drops the dead consumer: nothing pending, idle */
  nh_spool *later = open_with(url, "kill", 2, 1000000, 604800, NULL);
  take_count(later, 1);
  redisReply *rep = command_on(url, "XINFO CONSUMERS kill:h workers");
  check(rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1, "kill",
        "the dead holder leaves the consumer group once it holds nothing");
  if (rep) freeReplyObject(rep);
  sp_close(later);
  sp_close(sp);
}

/* ---- rate ---------------------------------------------------------------------------- */

#define RATE_PROCS 4
#define RATE_SECONDS 2.5
/* the third rule only keeps every send in the window set, for the check */
static const nh_rate_rule rate_rules[3] = { { 5, 1.0 }, { 8, 2.0 }, { 100000, 60 } };

static void rate_child(const char *url) {
  nh_spool *sp = open_r(url, "rate");
  if (!sp) _exit(4);
  double end = wall() + RATE_SECONDS;
  while (wall() < end) {
    double wait = 0;
    if (sp->be->rate_take(sp, "bot-1", rate_rules, 3, wall(), &wait, err, sizeof err) != NH_OK)
      _exit(2);
    if (wait > 0) usleep((useconds_t)(fmin(wait, 0.05) * 1e6));
  }
  sp_close(sp);
  _exit(0);
}

static int most_in_window(const double *t, size_t n, double per) {
  int most = 0;
  for (size_t i = 0, j = 0; i < n; i++) {
    while (t[i] - t[j] >= per) j++;
    if ((int)(i - j + 1) > most) most = (int)(i - j + 1);
  }
  return most;
}

/* The send times as Redis recorded them (its clock). */
static size_t read_sends(const char *url, double *t, size_t max) {
  redisReply *rep = command_on(url, "ZRANGE rate:rate:bot-1 0 -1 WITHSCORES");
  size_t n = 0;
  for (size_t i = 1; rep && rep->type == REDIS_REPLY_ARRAY && i < rep->elements && n < max; i += 2)
    t[n++] = strtod(rep->element[i]->str, NULL);
  if (rep) freeReplyObject(rep);
  return n;
}

static void mode_rate(const char *url) {
  pid_t pids[RATE_PROCS];
  for (int c = 0; c < RATE_PROCS; c++)
    if ((pids[c] = fork()) == 0) rate_child(url);
  int ok = 1, st;
  for (int c = 0; c < RATE_PROCS; c++)
    ok &= waitpid(pids[c], &st, 0) > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
  static double t[4096];
  size_t n = read_sends(url, t, 4096);
  int in1 = most_in_window(t, n, 1.0), in2 = most_in_window(t, n, 2.0);
  printf("  %zu sends in %.1f s from %d processes; at most %d in 1 s, %d in 2 s\n", n, RATE_SECONDS,
         RATE_PROCS, in1, in2);
  check(ok && in1 <= 5 && in2 <= 8, "rate",
        "4 processes together: never more than 5 in 1 s nor 8 in 2 s");
  check(n >= 8, "rate", "and the window lets sends through");
}

/* ---- secret ------------------------------------------------------------------------------ */

static int refused(const char *url, const char *part) {
  nh_code code = NH_OK;
  nh_spool *sp = open_with(url, "s", 30, 100, 60, &code);
  sp_close(sp);
  return !sp && code == NH_INVALID_CONFIG && strstr(err, part) && !strstr(err, "hunter2");
}

static void mode_secret(const char *url) {
  const char *port = strrchr(url, ':') + 1;
  char bad[256], down[256];
  snprintf(bad, sizeof bad, "redis://default:hunter2-wrong@127.0.0.1:%s", port);
  snprintf(down, sizeof down, "redis://u:hunter2@127.0.0.1:1/3");
  nh_code code = NH_OK;
  nh_spool *sp = open_with(bad, "s", 30, 100, 60, &code);
  check(!sp && code == NH_INVALID_CONFIG && strstr(err, "authenticating: refused") &&
          !strstr(err, "hunter2"),
        "secret", "a wrong password: INVALID_CONFIG, and the error does not repeat it");
  sp = open_with(down, "s", 30, 100, 60, &code);
  check(!sp && code == NH_SPOOL_BUSY && strstr(err, "redis://127.0.0.1:1/3: cannot connect") &&
          !strstr(err, "hunter2"),
        "secret", "nothing listening: SPOOL_BUSY naming the URL without its password");
  char nodb[256];
  snprintf(nodb, sizeof nodb, "%.*s/99", (int)(strrchr(url, '/') - url), url);
  sp = open_with(nodb, "s", 30, 100, 60, &code);
  check(!sp && code == NH_INVALID_CONFIG && strstr(err, "no database 99"), "secret",
        "a database the server does not have: INVALID_CONFIG");
  sp = open_r(url, "s");
  const char *pw = getenv("REDIS_PASSWORD");
  check(sp && strncmp(sp->path, "redis://", 8) == 0 && (!pw || !strstr(sp->path, pw)), "secret",
        "the handle's path has no password");
  sp_close(sp);
  check(refused("rediss://h:1", "TLS") && refused("http://h", "scheme") &&
          refused("redis://:hunter2@h:99999", "port") &&
          refused("redis://:hunter2@h:1/x", "(/db)") &&
          refused("redis://:hunter2@[::1:1", "IPv6") && refused("redis://:hunter2@", "host") &&
          refused("redis:// h", "spaces"),
        "secret", "malformed URLs are refused naming the part, never the password");
  nh_spool_options o;
  nh_spool_options_default(&o);
  o.redis = url;
  o.prefix = "a b";
  sp = nh_redis_open(&o, 1, &code, err, sizeof err);
  check(!sp && code == NH_INVALID_CONFIG && strstr(err, "spool.prefix"), "secret",
        "a prefix with a space is refused");
  nh_redis_url u;
  check(nh_redis_url_parse("redis://[::1]:7000/2", &u, err, sizeof err) == 0 &&
          strcmp(u.host, "::1") == 0 && u.port == 7000 && u.db == 2 &&
          strcmp(u.path, "redis://[::1]:7000/2") == 0 &&
          nh_redis_url_parse("redis://us%40r:p%3Aw@host", &u, err, sizeof err) == 0 &&
          strcmp(u.user, "us@r") == 0 && strcmp(u.password, "p:w") == 0 && u.port == 6379 &&
          u.db == 0,
        "secret", "URLs: IPv6, default port and database, %-escapes in user and password");
}

/* ---- restart ------------------------------------------------------------------------------- */

static void mode_restart(const char *url) {
  nh_spool *sp = open_r(url, "restart");
  int64_t seqs[5];
  nh_code c0 = put(sp, "x", 5, NH_PRIORITY_NORMAL, wall(), 0, -1, seqs);
  if (system(getenv("REDIS_STOP")) != 0) printf("  (stop failed)\n");
  sp->be->set_timeout(sp, 1.0);
  /* the first call may find the connection closed; the next cannot connect */
  nh_code c1 = put(sp, "y", 1, NH_PRIORITY_NORMAL, wall(), 0, -1, NULL);
  double t0 = wall();
  nh_code c2 = put(sp, "y", 1, NH_PRIORITY_NORMAL, wall(), 0, -1, NULL);
  double took = wall() - t0;
  printf("  down: %s (%.3f s)\n", err, took);
  check(c0 == NH_OK && c1 == NH_SPOOL_BUSY && c2 == NH_SPOOL_BUSY && took < 3 &&
          strstr(err, "cannot connect (Connection refused)") && strstr(err, "spool redis://"),
        "restart", "Redis stopped: a put fails within the timeout with SPOOL_BUSY, saying why");
  if (system(getenv("REDIS_START")) != 0) printf("  (start failed)\n");
  nh_code c3 = NH_INTERNAL;
  for (int i = 0; i < 50 && c3 != NH_OK; i++, usleep(100000))
    c3 = put(sp, "z", 1, NH_PRIORITY_NORMAL, wall(), 0, -1, NULL);
  size_t n = take_count(sp, 20);
  check(c3 == NH_OK && n == 6, "restart",
        "restarted: the same handle works again, and what was recorded before is there (AOF)");
  sp_close(sp);
}

/* ---- lost: a call whose answer never came ------------------------------------------ */

static pid_t redis_pid(void) {
  FILE *f = fopen(getenv("REDIS_PIDFILE") ? getenv("REDIS_PIDFILE") : "/nonexistent", "r");
  long pid = 0;
  if (f && fscanf(f, "%ld", &pid) != 1) pid = 0;
  if (f) fclose(f);
  return (pid_t)pid;
}

static void stats_of(nh_spool *sp, size_t *queued, size_t *taken) {
  nh_spool_summary st;
  *queued = *taken = 999;
  if (sp->be->stats(sp, &st, err, sizeof err) != NH_OK) return;
  *queued = st.queued, *taken = st.taken;
  nh_spool_summary_free(&st);
}

/* Redis stopped (SIGSTOP) while the call is on its way: no answer within
 * the timeout; continued, Redis runs it all the same. */
static nh_code frozen_call(nh_spool *sp, pid_t pid, int take_it) {
  sp->be->set_timeout(sp, 0.2);
  kill(pid, SIGSTOP);
  nh_code code;
  if (take_it) {
    nh_spool_rec r[8];
    size_t n = 0;
    code = sp->be->take(sp, wall(), 8, r, &n, err, sizeof err);
    recs_free(r, n);
  } else {
    code = put(sp, "lost", 5, NH_PRIORITY_NORMAL, wall(), 1, 0, NULL);
  }
  kill(pid, SIGCONT);
  usleep(300000);
  sp->be->set_timeout(sp, 2);
  return code;
}

static void mode_lost(const char *url) {
  pid_t pid = redis_pid();
  nh_spool *a = open_r(url, "lost"), *b = open_r(url, "lost");
  put(a, "kept", 3, NH_PRIORITY_NORMAL, wall(), 1, 0, NULL);
  nh_code c1 = frozen_call(a, pid, 0);
  size_t q1, t1, q2, t2, held = 0;
  stats_of(b, &q1, &t1);
  a->be->renew(a, wall(), &held, err, sizeof err);
  stats_of(b, &q2, &t2);
  printf("  put: %s; before the undo %zu taken, after %zu (held %zu)\n", nh_code_name(c1), t1, t2,
         held);
  check(pid > 0 && c1 == NH_SPOOL_BUSY && t1 == 8 && t2 == 3 && held == 3, "lost",
        "a put whose answer was lost is undone at the next call: refused means not recorded");
  put(b, "free", 4, NH_PRIORITY_NORMAL, wall(), 0, -1, NULL);
  nh_code c2 = frozen_call(a, pid, 1);
  stats_of(b, &q1, &t1);
  a->be->renew(a, wall(), &held, err, sizeof err);
  stats_of(b, &q2, &t2);
  printf("  take: %s; before the undo %zu queued, %zu taken; after %zu, %zu\n", nh_code_name(c2),
         q1, t1, q2, t2);
  check(c2 == NH_SPOOL_BUSY && q1 == 0 && t1 == 7 && q2 == 4 && t2 == 3 && take_count(b, 8) == 4,
        "lost", "a take whose answer was lost is undone: its messages are queued again for anyone");
  sp_close(a);
  sp_close(b);
}

/* ---- late: a lost call that reaches Redis only after its undo ------------------------ */

/* The put or take script of handle r as another connection would send it
 * on r's behalf: a call whose answer was lost and whose bytes reach
 * Redis late (TCP retransmits them after a network cut heals). */
static long long late_call(nh_redis *r, int script, const char *token, const char *url) {
  char text[512];
  double now = wall();
  if (script == NH_RS_PUT)
    snprintf(text, sizeof text, "EVALSHA %s 0 %s %s %.6f %s 1000 late-1 1 0 %.6f [] data 1 0",
             r->sha[NH_RS_PUT], r->prefix, r->owner, now, token, now);
  else
    snprintf(text, sizeof text, "EVALSHA %s 0 %s %s %.6f %s 8 2000 60 0", r->sha[NH_RS_TAKE],
             r->prefix, r->owner, now, token);
  redisReply *rep = command_on(url, text);
  long long n = rep && rep->type == REDIS_REPLY_ARRAY ? (long long)rep->elements : -1;
  if (rep && rep->type == REDIS_REPLY_ERROR) printf("  late call: %s\n", rep->str);
  if (rep) freeReplyObject(rep);
  return n;
}

static void mode_late(const char *url) {
  nh_spool *a = open_r(url, "late"), *b = open_r(url, "late");
  size_t q0, t0, q1, t1, held = 0;
  put(a, "kept", 2, NH_PRIORITY_NORMAL, wall(), 1, 0, NULL);
  stats_of(b, &q0, &t0);
  char token[24];
  nh_redis *r = (nh_redis *)a;
  r->calls = 100;
  snprintf(r->undo, sizeof r->undo, "100");
  a->be->renew(a, wall(), &held, err, sizeof err); /* the undo runs first: nothing to undo */
  snprintf(token, sizeof token, "100");
  long long got = late_call(r, NH_RS_PUT, token, url);
  stats_of(b, &q1, &t1);
  printf("  put: %lld recorded late; taken %zu -> %zu\n", got, t0, t1);
  check(t0 == 2 && t1 == 2, "late",
        "a put that reaches Redis after its undo records nothing (its caller was told no)");
  put(b, "free", 3, NH_PRIORITY_NORMAL, wall(), 0, -1, NULL);
  r->calls = 200;
  snprintf(r->undo, sizeof r->undo, "200");
  a->be->renew(a, wall(), &held, err, sizeof err);
  got = late_call(r, NH_RS_TAKE, "200", url);
  stats_of(b, &q1, &t1);
  printf("  take: %lld taken late; queued %zu, taken %zu\n", got, q1, t1);
  check(q1 == 3 && t1 == 2 && take_count(b, 8) == 3, "late",
        "a take that reaches Redis after its undo takes nothing (nobody would send it)");
  put(a, "after", 1, NH_PRIORITY_NORMAL, wall(), 1, 0, NULL);
  stats_of(b, &q1, &t1);
  check(t1 == 6, "late", "the handle's next calls work as before");
  sp_close(a);
  sp_close(b);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s queue|race|kill|rate|secret|restart|lost|late URL\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  const char *mode = argv[1], *url = argv[2];
  if (strcmp(mode, "queue") == 0) mode_queue(url);
  else if (strcmp(mode, "race") == 0) mode_race(url);
  else if (strcmp(mode, "kill") == 0) mode_kill(url);
  else if (strcmp(mode, "rate") == 0) mode_rate(url);
  else if (strcmp(mode, "secret") == 0) mode_secret(url);
  else if (strcmp(mode, "restart") == 0) mode_restart(url);
  else if (strcmp(mode, "lost") == 0) mode_lost(url);
  else if (strcmp(mode, "late") == 0) mode_late(url);
  else return 2;
  return failures ? 1 : 0;
}
