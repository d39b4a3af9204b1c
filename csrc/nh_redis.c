/*
 * nh_redis.c: the spool on Redis (spool.redis, issue 15): the handle, its
 * connection (hiredis), the scripts' calls and what failures mean to a
 * caller. nh_redis_queue.c and nh_redis_inspect.c hold the entries,
 * nh_redis_lua.c the scripts.
 *
 * Data model (every key begins "<prefix>:", written P: here):
 *   P:seq        INCRBY: the records' seqs (never reused).
 *   P:m:<seq>    a hash per record: id, pri, att, due, lb (a JSON array of
 *                redacted labels), d (the serialised job: secrets), cr
 *                (created), prod (the owner that put it: its receipts go
 *                back there), st (q queued, t taken, f failed), o (the
 *                owner holding it, or ""), k and e (its stream and entry
 *                while it is in one), fa and rc (failed at, receipt).
 *   P:p:<seq>    its targets' progress: target -> "[target,kind,result]".
 *   P:h          a stream of the records put as taken (item.take = 1): the
 *                put script XADDs them and at once XREADGROUPs them for its
 *                owner, so they sit in that owner's pending list and nobody
 *                else sees them until they go idle past the lease.
 *   P:q:<0..3>   a stream per priority of the records due: queued, ended
 *                AGAIN, handed back, retried. Everyone reads them with
 *                XREADGROUP ">" (consumer group "workers", consumer = the
 *                owner id), highest priority first.
 *   P:due        a sorted set (score: due) of the records queued for later;
 *                each take moves those due into their stream.
 *   P:failed     a sorted set (score: failed at) of the dead letters; their
 *                hashes keep the receipt; a take drops those older than
 *                keep_failed.
 *   P:r:<owner>  a stream of receipts for the owner that put records another
 *                owner ended (MAXLEN ~100000, expires a day after its last).
 *   P:n, P:lab   counts: q, t, f in all and per label (field state..label),
 *                kept by the scripts (stats is O(labels); max_queued reads
 *                q + t).
 *   P:rate:<key> a sorted set of send times (Redis's clock) per destination.
 *
 * Holding: a record is held by the consumer whose pending list has its
 * entry; the hash's o says the same and every script that moves a record
 * checks o (a holder's lease ran out and another took it: held = 0).
 * renew XCLAIMs the owner's own pending entries (their idle time starts
 * again); a take XCLAIMs other consumers' entries idle past the lease
 * (the holder died, or is cut off). A parked record stays held (its
 * holder renews it; due and attempt are written for a release).
 *
 * Every entry is one script (atomic); a writer's round (ends and puts) is
 * two scripts pipelined: one round trip. Commands are bounded by the
 * timeout (connect and replies); a connection that failed is dropped and
 * made again by the next call. Errors never show the password: path is the
 * URL without it.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "nh_redis_store.h"

#define MIN_TIMEOUT 0.05 /* seconds: a command needs a round trip, even at a deadline */
#define STREAM_COUNT 5

nh_code nh_redis_refuse(nh_redis *r, nh_code code, char *err, size_t errlen, const char *fmt, ...) {
  char why[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  if (err && errlen) snprintf(err, errlen, "spool %s: %s", r->url.path, why);
  return code;
}

static struct timeval timeval_of(double s) {
  if (!(s >= MIN_TIMEOUT)) s = MIN_TIMEOUT;
  if (s > 86400) s = 86400;
  struct timeval tv = { .tv_sec = (time_t)s, .tv_usec = (suseconds_t)((s - floor(s)) * 1e6) };
  return tv;
}

static void drop(nh_redis *r) {
  if (r->ctx) redisFree(r->ctx);
  r->ctx = NULL;
}

/* A failed connection's words: hiredis's errstr names the system error
 * ("Connection refused", "Resource temporarily unavailable" on a timeout). */
static nh_code broken(nh_redis *r, const char *what, char *err, size_t errlen) {
  const char *why = r->ctx && r->ctx->errstr[0] ? r->ctx->errstr : "connection lost";
  int timeout = r->ctx && r->ctx->err == REDIS_ERR_IO && strstr(why, "temporarily") != NULL;
  nh_code code = timeout
                   ? nh_redis_refuse(r, NH_SPOOL_BUSY, err, errlen, "%s: no answer within %.3g s",
                                     what, r->bound > MIN_TIMEOUT ? r->bound : MIN_TIMEOUT)
                   : nh_redis_refuse(r, NH_SPOOL_BUSY, err, errlen, "%s: %s", what, why);
  drop(r);
  return code;
}

/* An error reply: what it means to the caller (never the arguments). */
static nh_code reply_error(nh_redis *r, const redisReply *rep, const char *what, char *err,
                           size_t errlen) {
  const char *s = rep->str ? rep->str : "";
  if (strncmp(s, "OOM", 3) == 0)
    return nh_redis_refuse(r, NH_SPOOL_FULL, err, errlen,
                           "%s: Redis is out of memory (maxmemory); nothing of it was recorded",
                           what);
  if (strncmp(s, "NHKEY ", 6) == 0)
    return nh_redis_refuse(r, NH_INVALID_CONFIG, err, errlen,
                           "%s: key %.160s: another program writes under spool.prefix (use "
                           "another prefix, or delete that key)",
                           what, s + 6);
  /* ACL: EVALSHA itself, or a command inside a script ("The user executing the script
   * can't run this command", "... can't access at least one of the keys") */
  if (strncmp(s, "NOPERM", 6) == 0 || strstr(s, "The user executing the script can't") != NULL) {
    const char *tail = strstr(s, " script: "); /* the script's SHA1 and line */
    int len = tail ? (int)(tail - s) : (int)strlen(s);
    return nh_redis_refuse(r, NH_INVALID_CONFIG, err, errlen,
                           "%s: user %.64s lacks a permission the spool needs: %.*s (ACL: EVALSHA, "
                           "SCRIPT LOAD and the data commands on %.64s:*)",
                           what, r->url.user[0] ? r->url.user : "default", len > 120 ? 120 : len, s,
                           r->prefix);
  }
  if (strncmp(s, "NOAUTH", 6) == 0 || strncmp(s, "WRONGPASS", 9) == 0)
    return nh_redis_refuse(
      r, NH_INVALID_CONFIG, err, errlen,
      "%s: authentication refused for user %.64s (check the user and password)", what,
      r->url.user[0] ? r->url.user : "default");
  if (strncmp(s, "LOADING", 7) == 0 || strncmp(s, "BUSY", 4) == 0 ||
      strncmp(s, "MASTERDOWN", 10) == 0 || strncmp(s, "READONLY", 8) == 0)
    return nh_redis_refuse(r, NH_SPOOL_BUSY, err, errlen, "%s: %.120s", what, s);
  return nh_redis_refuse(r, NH_INTERNAL, err, errlen, "%s: %.160s", what, s);
}

void nh_redis_reply_free(redisReply *reply) {
  if (reply) freeReplyObject(reply);
}

/* One command, its reply checked; NULL with err (the connection dropped
 * when it broke). */
static redisReply *command(nh_redis *r, int argc, const char **argv, const char *what, char *err,
                           size_t errlen, nh_code *code) {
  redisReply *rep = redisCommandArgv(r->ctx, argc, argv, NULL);
  if (!rep) {
    *code = broken(r, what, err, errlen);
    return NULL;
  }
  if (rep->type == REDIS_REPLY_ERROR) {
    *code = reply_error(r, rep, what, err, errlen);
    freeReplyObject(rep);
    return NULL;
  }
  *code = NH_OK;
  return rep;
}

static nh_code simple(nh_redis *r, int argc, const char **argv, const char *what, char *err,
                      size_t errlen) {
  nh_code code;
  redisReply *rep = command(r, argc, argv, what, err, errlen, &code);
  nh_redis_reply_free(rep);
  return code;
}

static nh_code load_script(nh_redis *r, int i, char *err, size_t errlen) {
  char *text = nh_redis_script(i);
  if (!text) return nh_redis_refuse(r, NH_NO_MEMORY, err, errlen, "out of memory");
  const char *argv[] = { "SCRIPT", "LOAD", text };
  nh_code code;
  redisReply *rep = command(r, 3, argv, "loading its scripts", err, errlen, &code);
  free(text);
  if (rep && rep->type == REDIS_REPLY_STRING && rep->len == 40) memcpy(r->sha[i], rep->str, 41);
  else if (rep) code = nh_redis_refuse(r, NH_INTERNAL, err, errlen, "SCRIPT LOAD: no SHA1");
  nh_redis_reply_free(rep);
  return code;
}

/* The streams and their group (made once; BUSYGROUP: it is there). */
static nh_code make_groups(nh_redis *r, char *err, size_t errlen) {
  static const char *const names[STREAM_COUNT] = { "h", "q:3", "q:2", "q:1", "q:0" };
  for (int i = 0; i < STREAM_COUNT; i++) {
    char key[96];
    snprintf(key, sizeof key, "%s:%s", r->prefix, names[i]);
    /* K'h' from its end, as check() in the scripts: what is in it was read already */
    const char *argv[] = { "XGROUP", "CREATE", key, "workers", i ? "0" : "$", "MKSTREAM" };
    redisReply *rep = redisCommandArgv(r->ctx, 6, argv, NULL);
    if (!rep) return broken(r, "making its streams", err, errlen);
    nh_code code = NH_OK;
    if (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "WRONGTYPE", 9) == 0)
      code = nh_redis_refuse(r, NH_INVALID_CONFIG, err, errlen,
                             "making its streams: key %s is not a stream: another program writes "
                             "under spool.prefix (use another prefix, or delete that key)",
                             key);
    else if (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "BUSYGROUP", 9) != 0)
      code = reply_error(r, rep, "making its streams", err, errlen);
    freeReplyObject(rep);
    if (code != NH_OK) return code;
  }
  return NH_OK;
}

/* AUTH [user] password: any refusal (a wrong password, a server without
 * one) is the configuration's, in words that never repeat it. */
static nh_code authenticate(nh_redis *r, char *err, size_t errlen) {
  const char *with_user[] = { "AUTH", r->url.user, r->url.password };
  const char *without[] = { "AUTH", r->url.password };
  int user = r->url.user[0] != 0;
  nh_code code = simple(r, user ? 3 : 2, user ? with_user : without, "authenticating", err, errlen);
  if (code == NH_OK || !r->ctx) return code; /* the connection's failure says why */
  return nh_redis_refuse(r, NH_INVALID_CONFIG, err, errlen,
                         "authenticating: refused for user %.64s (check the user and password)",
                         user ? r->url.user : "default");
}

/* The check script (nh_redis_lua.c's check()): EVALSHA allowed, the prefix's keys of
 * their types, the streams' groups there; so an ACL or another program's keys show at open. */
static nh_code check_keys(nh_redis *r, char *err, size_t errlen) {
  nh_redis_args a;
  nh_redis_args_init(&a, r, NH_RS_CHECK, nh_wall_time());
  nh_code code = a.failed ? nh_redis_refuse(r, NH_NO_MEMORY, err, errlen, "out of memory") : NH_OK;
  redisReply *rep = NULL;
  if (code == NH_OK) rep = redisCommandArgv(r->ctx, (int)a.n, a.argv, a.lens);
  if (code == NH_OK && !rep) code = broken(r, "checking its keys", err, errlen);
  else if (rep && rep->type == REDIS_REPLY_ERROR)
    code = reply_error(r, rep, "checking its keys", err, errlen);
  nh_redis_reply_free(rep);
  nh_redis_args_free(&a);
  return code;
}

/* AUTH, SELECT, the streams, the scripts: a connection ready for calls. */
static nh_code setup(nh_redis *r, char *err, size_t errlen) {
  nh_code code = NH_OK;
  if (r->url.password[0] || r->url.user[0]) code = authenticate(r, err, errlen);
  char db[16];
  snprintf(db, sizeof db, "%d", r->url.db);
  if (code == NH_OK && r->url.db != 0) {
    code = simple(r, 2, (const char *[]){ "SELECT", db }, "selecting the database", err, errlen);
    if (code != NH_OK && r->ctx)
      code = nh_redis_refuse(r, NH_INVALID_CONFIG, err, errlen,
                             "the server has no database %d (its `databases` setting)", r->url.db);
  }
  if (code == NH_OK) code = make_groups(r, err, errlen);
  for (int i = 0; code == NH_OK && i < NH_RS_COUNT; i++) code = load_script(r, i, err, errlen);
  if (code == NH_OK) code = check_keys(r, err, errlen);
  return code;
}

static nh_code connect_now(nh_redis *r, char *err, size_t errlen) {
  struct timeval tv = timeval_of(r->bound);
  r->ctx = redisConnectWithTimeout(r->url.host, r->url.port, tv);
  if (!r->ctx) return nh_redis_refuse(r, NH_NO_MEMORY, err, errlen, "out of memory");
  if (r->ctx->err) {
    nh_code code =
      nh_redis_refuse(r, NH_SPOOL_BUSY, err, errlen, "cannot connect (%s)", r->ctx->errstr);
    drop(r);
    return code;
  }
  redisSetTimeout(r->ctx, tv);
  nh_code code = setup(r, err, errlen);
  if (code != NH_OK) drop(r);
  return code;
}

/* A put or take whose answer was lost, undone (nh_redis_args_token). */
static nh_code undo_lost(nh_redis *r, char *err, size_t errlen) {
  nh_redis_args a;
  nh_redis_args_init(&a, r, NH_RS_UNDO, nh_wall_time());
  nh_redis_args_str(&a, r->undo);
  redisReply *rep = NULL;
  nh_code code = nh_redis_call(r, &a, 1, &rep, "undoing a call whose answer was lost", err, errlen);
  if (code == NH_OK) r->undo[0] = '\0';
  nh_redis_reply_free(rep);
  nh_redis_args_free(&a);
  return code;
}

static double timeout_of(nh_redis *r) {
  double t;
  __atomic_load(&r->timeout, &t, __ATOMIC_ACQUIRE);
  return t > MIN_TIMEOUT ? t : MIN_TIMEOUT;
}

/* 0 with the lock, or -1 when others held it past seconds. */
static int lock_within(nh_redis *r, double seconds) {
  struct timespec by;
  clock_gettime(CLOCK_REALTIME, &by);
  double end = (double)by.tv_sec + by.tv_nsec / 1e9 + seconds;
  by.tv_sec = (time_t)end;
  by.tv_nsec = (long)((end - floor(end)) * 1e9);
  return pthread_mutex_timedlock(&r->lock, &by) == 0 ? 0 : -1;
}

/* r->lock held: the connection (made when there is none), bounded by
 * r->bound, and a lost call undone. */
static nh_code ready(nh_redis *r, char *err, size_t errlen) {
  if (r->ctx) redisSetTimeout(r->ctx, timeval_of(r->bound));
  nh_code code = r->ctx ? NH_OK : connect_now(r, err, errlen);
  if (code == NH_OK && r->undo[0]) code = undo_lost(r, err, errlen);
  if (code != NH_OK) pthread_mutex_unlock(&r->lock);
  return code;
}

static nh_code forked(nh_redis *r, char *err, size_t errlen) {
  return nh_redis_refuse(r, NH_CLOSED, err, errlen,
                         "opened before fork(): open the spool again in this process");
}

/* Bounded: a worker confirming a job (nh_redis_unpark) may hold the lock
 * for a whole timeout of a Redis that does not answer, and a submit (an
 * event loop) behind it must still answer within its own. */
nh_code nh_redis_enter(nh_redis *r, char *err, size_t errlen) {
  if (nh_fork_since(r->fork_generation)) return forked(r, err, errlen);
  double timeout = timeout_of(r), began = nh_now();
  if (lock_within(r, timeout) != 0)
    return nh_redis_refuse(r, NH_SPOOL_BUSY, err, errlen,
                           "busy: the connection was not free within %.3g s", timeout);
  r->bound = timeout - (nh_now() - began);
  return ready(r, err, errlen);
}

nh_code nh_redis_enter_any(nh_redis *r, char *err, size_t errlen) {
  if (nh_fork_since(r->fork_generation)) return forked(r, err, errlen);
  pthread_mutex_lock(&r->lock);
  r->bound = timeout_of(r);
  return ready(r, err, errlen);
}

void nh_redis_leave(nh_redis *r) { pthread_mutex_unlock(&r->lock); }

/* ---- a script's arguments ------------------------------------------------ */

static void args_grow(nh_redis_args *a) {
  if (a->n < a->cap || a->failed) return;
  size_t cap = a->cap ? a->cap * 2 : 32;
  const char **argv = realloc(a->argv, cap * sizeof *argv);
  if (argv) a->argv = argv;
  size_t *lens = argv ? realloc(a->lens, cap * sizeof *lens) : NULL;
  if (lens) a->lens = lens;
  char **owned = lens ? realloc(a->owned, cap * sizeof *owned) : NULL;
  if (owned) a->owned = owned;
  if (!owned) a->failed = 1;
  else a->cap = cap;
}

void nh_redis_args_add(nh_redis_args *a, const char *s, size_t len) {
  args_grow(a);
  if (a->failed) return;
  a->argv[a->n] = s;
  a->lens[a->n++] = len;
}

void nh_redis_args_str(nh_redis_args *a, const char *s) {
  nh_redis_args_add(a, s ? s : "", s ? strlen(s) : 0);
}

static void args_own(nh_redis_args *a, const char *text) {
  args_grow(a);
  char *s = a->failed ? NULL : nh_strdup(text);
  if (!s) {
    a->failed = 1;
    return;
  }
  a->owned[a->n_owned++] = s;
  nh_redis_args_add(a, s, strlen(s));
}

void nh_redis_args_num(nh_redis_args *a, double v) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.6f", isfinite(v) ? v : 0);
  args_own(a, buf);
}

void nh_redis_args_int(nh_redis_args *a, long long v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%lld", v);
  args_own(a, buf);
}

void nh_redis_args_init(nh_redis_args *a, nh_redis *r, int script, double now) {
  memset(a, 0, sizeof *a);
  nh_redis_args_str(a, "EVALSHA");
  nh_redis_args_add(a, r->sha[script], 40);
  nh_redis_args_str(a, "0");
  nh_redis_args_str(a, r->prefix);
  nh_redis_args_str(a, r->owner);
  nh_redis_args_num(a, now);
}

void nh_redis_args_token(nh_redis_args *a, nh_redis *r) {
  nh_redis_args_int(a, (long long)++r->calls);
}

void nh_redis_args_free(nh_redis_args *a) {
  for (size_t i = 0; i < a->n_owned; i++) free(a->owned[i]);
  free(a->owned);
  free(a->argv);
  free(a->lens);
  memset(a, 0, sizeof *a);
}

/* ---- calls ---------------------------------------------------------------- */

static int script_of(nh_redis *r, const nh_redis_args *a) {
  for (int i = 0; i < NH_RS_COUNT; i++)
    if (a->argv[1] == r->sha[i]) return i;
  return -1;
}

static int noscript(const redisReply *rep) {
  return rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0;
}

/* Pipelined: every call written, then every reply read. */
static nh_code round_trip(nh_redis *r, nh_redis_args *calls, size_t n, redisReply **replies,
                          const char *what, char *err, size_t errlen) {
  for (size_t i = 0; i < n; i++)
    if (redisAppendCommandArgv(r->ctx, (int)calls[i].n, calls[i].argv, calls[i].lens) != REDIS_OK)
      return broken(r, what, err, errlen);
  for (size_t i = 0; i < n; i++) {
    void *rep = NULL;
    if (redisGetReply(r->ctx, &rep) != REDIS_OK || !rep) {
      for (size_t k = 0; k < i; k++) nh_redis_reply_free(replies[k]), replies[k] = NULL;
      return broken(r, what, err, errlen);
    }
    replies[i] = rep;
  }
  return NH_OK;
}

/* The connection broke with calls sent: a put's or take's token is kept
 * for undo_lost (argv[6]: the first argument after the prelude's). */
static void remember_lost(nh_redis *r, const nh_redis_args *calls, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int s = script_of(r, &calls[i]);
    if ((s == NH_RS_PUT || s == NH_RS_TAKE) && calls[i].n > 6 && calls[i].lens[6] < sizeof r->undo)
      snprintf(r->undo, sizeof r->undo, "%.*s", (int)calls[i].lens[6], calls[i].argv[6]);
  }
}

nh_code nh_redis_call(nh_redis *r, nh_redis_args *calls, size_t n, redisReply **replies,
                      const char *what, char *err, size_t errlen) {
  for (size_t i = 0; i < n; i++) {
    replies[i] = NULL;
    if (calls[i].failed) return nh_redis_refuse(r, NH_NO_MEMORY, err, errlen, "out of memory");
  }
  nh_code code = round_trip(r, calls, n, replies, what, err, errlen);
  /* Redis restarted (or SCRIPT FLUSH): the scripts again, and those calls again. */
  for (size_t i = 0; code == NH_OK && i < n; i++) {
    if (!noscript(replies[i])) continue;
    nh_redis_reply_free(replies[i]);
    replies[i] = NULL;
    int s = script_of(r, &calls[i]);
    if (s < 0 || (code = load_script(r, s, err, errlen)) != NH_OK ||
        (code = make_groups(r, err, errlen)) != NH_OK)
      break;
    code = round_trip(r, &calls[i], 1, &replies[i], what, err, errlen);
  }
  if (code != NH_OK && !r->ctx) remember_lost(r, calls, n);
  for (size_t i = 0; code == NH_OK && i < n; i++)
    if (replies[i]->type == REDIS_REPLY_ERROR) code = reply_error(r, replies[i], what, err, errlen);
  if (code != NH_OK)
    for (size_t i = 0; i < n; i++) nh_redis_reply_free(replies[i]), replies[i] = NULL;
  return code;
}

long long nh_redis_int(const redisReply *a, size_t i) {
  if (!a || a->type != REDIS_REPLY_ARRAY || i >= a->elements) return 0;
  const redisReply *e = a->element[i];
  if (e->type == REDIS_REPLY_INTEGER) return e->integer;
  if (e->type == REDIS_REPLY_STRING) return strtoll(e->str, NULL, 10);
  return 0;
}

const char *nh_redis_str(const redisReply *a, size_t i, size_t *len) {
  if (!a || a->type != REDIS_REPLY_ARRAY || i >= a->elements) return NULL;
  const redisReply *e = a->element[i];
  if (e->type != REDIS_REPLY_STRING && e->type != REDIS_REPLY_STATUS) return NULL;
  if (len) *len = e->len;
  return e->str;
}

/* ---- the handle ------------------------------------------------------------ */

static void redis_close(nh_spool *sp) {
  nh_redis *r = (nh_redis *)sp;
  if (!r) return;
  /* a child of fork() leaves the parent's connection and lock be */
  if (!nh_fork_since(r->fork_generation)) {
    drop(r);
    pthread_mutex_destroy(&r->lock);
  }
  memset(r->url.password, 0, sizeof r->url.password);
  free(r);
}

static void redis_set_timeout(nh_spool *sp, double timeout) {
  nh_redis *r = (nh_redis *)sp;
  if (!r || nh_fork_since(r->fork_generation)) return;
  if (!(timeout >= 0)) timeout = 0;
  if (timeout > 86400) timeout = 86400;
  /* Not under the lock: a call in flight holds it (the next one applies it). */
  __atomic_store(&r->timeout, &timeout, __ATOMIC_RELEASE);
}

static const char *redis_owner(const nh_spool *sp) {
  return sp ? ((const nh_redis *)sp)->owner : NULL;
}

static const nh_spool_backend redis_backend = {
  .name = "redis",
  .lease_only = 1,
  .close = redis_close,
  .set_timeout = redis_set_timeout,
  .owner = redis_owner,
  .put_finish = nh_redis_put_finish,
  .finish = nh_redis_finish,
  .take = nh_redis_take,
  .renew = nh_redis_renew,
  .unpark = nh_redis_unpark,
  .release = nh_redis_release,
  .rate_take = nh_redis_rate_take,
  .stats = nh_redis_stats,
  .failed = nh_redis_failed,
  .retry = nh_redis_retry,
  .purge_failed = nh_redis_purge_failed,
  .receipts = nh_redis_receipts,
};

/* The consumer name: host, pid and 64 random bits (unique among every
 * process on the Redis, across hosts). */
static void make_owner(nh_redis *r) {
  char host[64] = "";
  if (gethostname(host, sizeof host - 1) != 0 || !host[0]) strcpy(host, "unknown");
  unsigned long long rnd = 0;
  if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
    rnd ^= (unsigned long long)(uintptr_t)r;
  snprintf(r->owner, sizeof r->owner, "%s-%ld-%016llx", host, (long)getpid(), rnd);
}

static nh_code check_options(const nh_spool_options *o, const char *path, char *err,
                             size_t errlen) {
  const char *why = NULL;
  if (!nh_redis_prefix_ok(o->prefix))
    why = "spool.prefix: 1 to 64 characters of A-Z a-z 0-9 _ . : - expected";
  else if (!(o->lease >= 1 && o->lease <= 86400))
    why = "spool.lease: seconds from 1 to 86400 expected";
  else if (!(o->keep_failed >= 0 && o->keep_failed <= 365 * 86400.0))
    why = "spool.keep_failed: seconds from 0 to 31536000 expected";
  else if (o->max_queued < 1 || o->max_queued > 1000000000)
    why = "spool.max_queued: 1 to 1000000000 expected";
  if (why && err && errlen) snprintf(err, errlen, "spool %s: %s", path, why);
  return why ? NH_INVALID_CONFIG : NH_OK;
}

nh_spool *nh_redis_open(const nh_spool_options *o, double timeout, nh_code *code, char *err,
                        size_t errlen) {
  nh_code dummy;
  if (!code) code = &dummy;
  nh_redis *r = calloc(1, sizeof *r);
  if (!r) {
    *code = NH_NO_MEMORY;
    if (err && errlen) snprintf(err, errlen, "spool: out of memory");
    return NULL;
  }
  if (nh_redis_url_parse(o->redis, &r->url, err, errlen) != 0) {
    free(r);
    *code = NH_INVALID_CONFIG;
    return NULL;
  }
  if ((*code = check_options(o, r->url.path, err, errlen)) != NH_OK) {
    redis_close(&r->base);
    return NULL;
  }
  r->base.be = &redis_backend;
  r->base.path = r->url.path;
  r->base.opt = *o;
  r->base.opt.path = r->base.opt.sync = r->base.opt.redis = r->base.opt.prefix = NULL;
  snprintf(r->prefix, sizeof r->prefix, "%s", o->prefix);
  r->timeout = timeout >= 0 && timeout <= 86400 ? timeout : 0;
  r->fork_generation = nh_fork_generation();
  pthread_mutex_init(&r->lock, NULL);
  make_owner(r);
  /* Connected now: a wrong host, password or database shows at open. */
  if ((*code = nh_redis_enter(r, err, errlen)) != NH_OK) {
    redis_close(&r->base);
    return NULL;
  }
  nh_redis_leave(r);
  return &r->base;
}
