/*
 * nh_spool_fallback.c: spool.redis with spool.path beside it (issue 15,
 * item 5): Redis first, the local SQLite file while Redis cannot be
 * reached. A third backend over the other two (nh_spool_backend.h), so the
 * client does not know it is there.
 *
 * - A put goes to Redis; when Redis fails it (down, unreachable, timed
 *   out: any code but QUEUE_FULL, NO_MEMORY and the INVALID_* ones), the
 *   same items go to the SQLite file in the same call, and Redis is not
 *   asked again for DOWN_FOR seconds (a down host would otherwise cost
 *   every submit its timeout). Redis gets half of each call's timeout, so
 *   both fit in what the caller waits (spool.wait, async.timeout).
 * - Seqs: the file's are negated (Redis's are positive), so every later
 *   call on a record (ends, unpark) goes to the store that holds it.
 * - take: the file's records first (they were accepted while Redis was
 *   down), then Redis's; renew and release: both.
 * - Rate windows: Redis's; the file's while Redis is down (shared by this
 *   host only, meanwhile).
 * - Receipts and the inspector's calls: Redis's (open the file with
 *   notifyhub.spool.open(path) to see what it holds).
 * - Redis down when the client opens: the client opens on the file and
 *   tries Redis again every DOWN_FOR seconds.
 * - Until Redis answers again after a failure (suspect), a call gives it
 *   PROBE_WAIT at most: the writer's looks (a renew, a take, opening it
 *   again) would otherwise hold the submits handed to it past spool.wait,
 *   refused while the file was there to take them.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"
#include "nh_redis_store.h"

#define DOWN_FOR 1.0    /* seconds Redis is not asked after it failed */
#define PROBE_WAIT 0.05 /* seconds a call gives Redis while it is suspect */

typedef struct fallback {
  nh_spool base;
  pthread_mutex_t lock; /* main, down_until, opt's strings (a leaf) */
  nh_spool *main;       /* Redis, or NULL while it could not be opened */
  nh_spool *local;      /* the SQLite file */
  double down_until;    /* nh_now(): Redis is skipped until then */
  int suspect;          /* Redis failed and has not answered since */
  int opening;          /* a thread opens Redis (outside the lock) */
  double timeout;
  nh_spool_options opt; /* for opening Redis again: owned copies of redis, prefix */
  char *redis, *prefix;
} fallback;

static fallback *fb_of(nh_spool *sp) { return (fallback *)sp; }

/* Redis's failure that sends a call to the file. */
static int down_code(nh_code code) {
  return code != NH_OK && code != NH_QUEUE_FULL && code != NH_NO_MEMORY &&
         code != NH_INVALID_CONFIG && code != NH_INVALID_ARGUMENT && code != NH_INVALID_MESSAGE;
}

/* f->lock held: seconds Redis gets of a call's timeout. */
static double redis_wait_locked(const fallback *f) {
  double half = f->timeout / 2;
  return f->suspect && half > PROBE_WAIT ? PROBE_WAIT : half;
}

/* Opened again outside the lock (a connect may take its whole wait, and a
 * submit may be waiting for the lock); meanwhile the others use the file. */
static nh_spool *main_open(fallback *f, double wait) {
  nh_code code;
  char err[256];
  nh_spool *m = nh_redis_open(&f->opt, wait, &code, err, sizeof err);
  pthread_mutex_lock(&f->lock);
  f->opening = 0;
  f->main = m;
  if (!m) f->down_until = nh_now() + DOWN_FOR;
  pthread_mutex_unlock(&f->lock);
  return m;
}

/* Redis, when it is not known down (opened again when it was not open);
 * NULL: use the file. */
static nh_spool *main_up(fallback *f) {
  pthread_mutex_lock(&f->lock);
  nh_spool *m = NULL;
  int open_now = 0;
  double wait = redis_wait_locked(f);
  if (nh_now() >= f->down_until) {
    m = f->main;
    if (!m && !f->opening) open_now = f->opening = 1;
  }
  pthread_mutex_unlock(&f->lock);
  return open_now ? main_open(f, wait) : m;
}

static nh_code main_failed(fallback *f, nh_code code) {
  int down = down_code(code);
  if (down || code == NH_OK) {
    pthread_mutex_lock(&f->lock);
    if (down) f->down_until = nh_now() + DOWN_FOR;
    f->suspect = down;
    pthread_mutex_unlock(&f->lock);
  }
  return code;
}

static void fb_close(nh_spool *sp) {
  fallback *f = fb_of(sp);
  nh_spool_close(f->main);
  nh_spool_close(f->local);
  pthread_mutex_destroy(&f->lock);
  free(f->redis);
  free(f->prefix);
  free(f->base.path);
  free(f);
}

static void fb_set_timeout(nh_spool *sp, double timeout) {
  fallback *f = fb_of(sp);
  pthread_mutex_lock(&f->lock);
  f->timeout = timeout;
  nh_spool *m = f->main;
  double wait = redis_wait_locked(f);
  pthread_mutex_unlock(&f->lock);
  if (m) nh_spool_set_timeout(m, wait);
  nh_spool_set_timeout(f->local, timeout / 2);
}

static const char *fb_owner(const nh_spool *sp) {
  const fallback *f = (const fallback *)sp;
  return nh_spool_owner(f->local);
}

/* Ends split by store: the file's (negative seqs, given back positive) in
 * *local, Redis's in *remote; each remembers where it came from. */
typedef struct split {
  nh_spool_end *ends;
  size_t *from, n;
} split;

static int split_ends(nh_spool_end *ends, size_t m, int want_local, split *s) {
  s->n = 0;
  s->ends = m ? malloc(m * sizeof *s->ends) : NULL;
  s->from = m ? malloc(m * sizeof *s->from) : NULL;
  if (m && (!s->ends || !s->from)) return -1;
  for (size_t i = 0; i < m; i++) {
    if ((ends[i].seq < 0) != want_local) continue;
    s->ends[s->n] = ends[i];
    if (want_local) s->ends[s->n].seq = -ends[i].seq;
    s->from[s->n++] = i;
  }
  return 0;
}

static void split_back(split *s, nh_spool_end *ends) {
  for (size_t i = 0; i < s->n; i++) ends[s->from[i]].held = s->ends[i].held;
  free(s->ends);
  free(s->from);
}

static nh_code no_memory(char *err, size_t errlen) {
  snprintf(err, errlen, "spool: out of memory");
  return NH_NO_MEMORY;
}

/* The ends, each to its store: the first failure's code (the caller keeps
 * the ends for another try; an end done twice finds its record gone or
 * ended: held 0, nothing changes). */
static nh_code finish_split(fallback *f, nh_spool *m, nh_spool_end *ends, size_t n, double now,
                            char *err, size_t errlen) {
  split loc, rem;
  if (split_ends(ends, n, 1, &loc) != 0 || split_ends(ends, n, 0, &rem) != 0) {
    free(loc.ends), free(loc.from);
    return no_memory(err, errlen);
  }
  nh_code code = NH_OK, c2 = NH_OK;
  if (loc.n) code = nh_spool_finish(f->local, loc.ends, loc.n, now, err, errlen);
  if (rem.n && m) c2 = main_failed(f, nh_spool_finish(m, rem.ends, rem.n, now, err, errlen));
  else if (rem.n)
    c2 = nh_spool_refuse(err, errlen, NH_SPOOL_BUSY, f->base.path,
                         "Redis is down: %zu ends wait for it", rem.n);
  split_back(&loc, ends);
  split_back(&rem, ends);
  return code != NH_OK ? code : c2;
}

static nh_code fb_finish(nh_spool *sp, nh_spool_end *ends, size_t n, double now, char *err,
                         size_t errlen) {
  fallback *f = fb_of(sp);
  return finish_split(f, main_up(f), ends, n, now, err, errlen);
}

static void negate_seqs(nh_spool_item *items, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (items[i].code == NH_OK) items[i].seq = -items[i].seq;
}

/* The file sends no receipt back: a message recorded there for any client
 * (spool.deliver = "any") is this client's, delivered here (another
 * process on the file would deliver it with nobody to tell). */
static nh_code put_local(fallback *f, nh_spool_item *items, size_t n, char *err, size_t errlen) {
  for (size_t i = 0; i < n; i++) items[i].take = 1;
  nh_code code = nh_spool_put(f->local, items, n, err, errlen);
  negate_seqs(items, n);
  return code;
}

static nh_code fb_put_finish(nh_spool *sp, nh_spool_item *items, size_t n, nh_spool_end *ends,
                             size_t m, char *err, size_t errlen) {
  fallback *f = fb_of(sp);
  nh_spool *r = main_up(f);
  if (r && n) {
    char why[256];
    nh_code code = main_failed(f, nh_spool_put(r, items, n, why, sizeof why));
    if (!down_code(code)) {
      nh_code ec = m ? finish_split(f, r, ends, m, nh_wall_time(), err, errlen) : NH_OK;
      if (code != NH_OK) snprintf(err, errlen, "%s", why);
      return code != NH_OK ? code : ec;
    }
    r = NULL; /* down: the file takes the items */
  }
  nh_code code = n ? put_local(f, items, n, err, errlen) : NH_OK;
  nh_code ec = m ? finish_split(f, r, ends, m, nh_wall_time(), err, errlen) : NH_OK;
  return code != NH_OK ? code : ec;
}

static nh_code fb_take(nh_spool *sp, double now, size_t max, nh_spool_rec *out, size_t *n,
                       char *err, size_t errlen) {
  fallback *f = fb_of(sp);
  size_t got = 0, more = 0;
  nh_code code = nh_spool_take(f->local, now, max, out, &got, err, errlen);
  for (size_t i = 0; i < got; i++) out[i].seq = -out[i].seq;
  nh_spool *m = got < max ? main_up(f) : NULL;
  if (m) {
    char why[256];
    nh_code c2 =
      main_failed(f, nh_spool_take(m, now, max - got, out + got, &more, why, sizeof why));
    if (c2 != NH_OK && code == NH_OK && got == 0) {
      snprintf(err, errlen, "%s", why);
      code = c2;
    }
  }
  *n = got + more;
  return *n ? NH_OK : code;
}

static nh_code fb_renew(nh_spool *sp, double now, size_t *held, char *err, size_t errlen) {
  fallback *f = fb_of(sp);
  size_t a = 0, b = 0;
  nh_code code = nh_spool_renew(f->local, now, &a, err, errlen);
  nh_spool *m = main_up(f);
  nh_code c2 = m ? main_failed(f, nh_spool_renew(m, now, &b, err, errlen)) : NH_OK;
  if (held) *held = a + b;
  return code != NH_OK ? code : c2;
}

static nh_code fb_unpark(nh_spool *sp, int64_t seq, double now, int *held, char *err,
                         size_t errlen) {
  fallback *f = fb_of(sp);
  if (seq < 0) return nh_spool_unpark(f->local, -seq, now, held, err, errlen);
  nh_spool *m = main_up(f);
  if (!m) {
    if (held) *held = 1; /* the worker sends it anyway: at least once */
    return nh_spool_refuse(err, errlen, NH_SPOOL_BUSY, f->base.path, "Redis is down");
  }
  return main_failed(f, nh_spool_unpark(m, seq, now, held, err, errlen));
}

static nh_code fb_release(nh_spool *sp, size_t *n, char *err, size_t errlen) {
  fallback *f = fb_of(sp);
  size_t a = 0, b = 0;
  nh_code code = nh_spool_release(f->local, &a, err, errlen);
  pthread_mutex_lock(&f->lock);
  nh_spool *m = f->main; /* tried even when thought down: close gives back what it can */
  pthread_mutex_unlock(&f->lock);
  nh_code c2 = m ? nh_spool_release(m, &b, err, errlen) : NH_OK;
  if (n) *n = a + b;
  return code != NH_OK ? code : c2;
}

static nh_code fb_rate_take(nh_spool *sp, const char *key, const nh_rate_rule *rules, int n_rules,
                            double now, double *wait, char *err, size_t errlen) {
  fallback *f = fb_of(sp);
  nh_spool *m = main_up(f);
  if (m) {
    nh_code code =
      main_failed(f, nh_spool_rate_take(m, key, rules, n_rules, now, wait, err, errlen));
    if (!down_code(code)) return code;
  }
  return nh_spool_rate_take(f->local, key, rules, n_rules, now, wait, err, errlen);
}

/* The inspector's calls and receipts: Redis's. */
static nh_spool *main_or_refuse(fallback *f, char *err, size_t errlen) {
  nh_spool *m = main_up(f);
  if (!m) nh_spool_refuse(err, errlen, NH_SPOOL_BUSY, f->base.path, "Redis is down");
  return m;
}

static nh_code fb_stats(nh_spool *sp, nh_spool_summary *st, char *err, size_t errlen) {
  nh_spool *m = main_or_refuse(fb_of(sp), err, errlen);
  return m ? nh_spool_stats(m, st, err, errlen) : NH_SPOOL_BUSY;
}

static nh_code fb_failed(nh_spool *sp, size_t limit, nh_spool_failure **out, size_t *n, char *err,
                         size_t errlen) {
  nh_spool *m = main_or_refuse(fb_of(sp), err, errlen);
  return m ? nh_spool_failed(m, limit, out, n, err, errlen) : NH_SPOOL_BUSY;
}

static nh_code fb_retry(nh_spool *sp, const char *id, size_t *n, char *err, size_t errlen) {
  nh_spool *m = main_or_refuse(fb_of(sp), err, errlen);
  return m ? nh_spool_retry(m, id, n, err, errlen) : NH_SPOOL_BUSY;
}

static nh_code fb_purge_failed(nh_spool *sp, size_t *n, char *err, size_t errlen) {
  nh_spool *m = main_or_refuse(fb_of(sp), err, errlen);
  return m ? nh_spool_purge_failed(m, n, err, errlen) : NH_SPOOL_BUSY;
}

static void fb_defer_checkpoints(nh_spool *sp) { nh_spool_defer_checkpoints(fb_of(sp)->local); }
static int fb_wal_frames(nh_spool *sp) { return nh_spool_wal_frames(fb_of(sp)->local); }
static void fb_checkpoint(nh_spool *sp, int min_frames) {
  nh_spool_checkpoint(fb_of(sp)->local, min_frames);
}

static nh_code fb_receipts(nh_spool *sp, nh_spool_receipt_in *out, size_t max, size_t *n, char *err,
                           size_t errlen) {
  fallback *f = fb_of(sp);
  *n = 0;
  nh_spool *m = main_up(f);
  if (!m || !m->be->receipts) return NH_OK;
  return main_failed(f, m->be->receipts(m, out, max, n, err, errlen));
}

static const nh_spool_backend fallback_backend = {
  .name = "redis+sqlite",
  .lease_only = 1,
  .close = fb_close,
  .set_timeout = fb_set_timeout,
  .owner = fb_owner,
  .put_finish = fb_put_finish,
  .finish = fb_finish,
  .take = fb_take,
  .renew = fb_renew,
  .unpark = fb_unpark,
  .release = fb_release,
  .rate_take = fb_rate_take,
  .stats = fb_stats,
  .failed = fb_failed,
  .retry = fb_retry,
  .purge_failed = fb_purge_failed,
  .defer_checkpoints = fb_defer_checkpoints,
  .wal_frames = fb_wal_frames,
  .checkpoint = fb_checkpoint,
  .receipts = fb_receipts,
};

nh_spool *nh_spool_fallback_open(const nh_spool_options *o, double timeout, nh_code *code,
                                 char *err, size_t errlen) {
  fallback *f = calloc(1, sizeof *f);
  if (!f || !(f->redis = strdup(o->redis)) || !(f->prefix = strdup(o->prefix ? o->prefix : ""))) {
    if (f) free(f->redis), free(f);
    *code = no_memory(err, errlen);
    return NULL;
  }
  pthread_mutex_init(&f->lock, NULL);
  f->opt = *o;
  f->opt.path = NULL;
  f->opt.redis = f->redis;
  f->opt.prefix = f->prefix;
  f->timeout = timeout;
  /* Redis first: a wrong URL or password is the caller's to fix now; only
   * a Redis that does not answer is waited out on the file. */
  f->main = nh_redis_open(&f->opt, timeout / 2, code, err, errlen);
  if (!f->main && !down_code(*code)) goto fail;
  if (!f->main) f->down_until = nh_now() + DOWN_FOR, f->suspect = 1;
  nh_spool_options lo = *o;
  lo.redis = NULL;
  if (!(f->local = nh_sqlite_open(&lo, timeout / 2, code, err, errlen))) goto fail;
  /* Errors name both: "spool redis://host:port/db + PATH: why". */
  nh_redis_url u;
  if (nh_redis_url_parse(o->redis, &u, err, errlen) != 0) snprintf(u.path, sizeof u.path, "redis");
  size_t len = strlen(u.path) + strlen(f->local->path) + 4;
  if (!(f->base.path = malloc(len))) {
    *code = no_memory(err, errlen);
    goto fail;
  }
  snprintf(f->base.path, len, "%s + %s", u.path, f->local->path);
  f->base.be = &fallback_backend;
  f->base.opt = f->local->opt;
  *code = NH_OK;
  return &f->base;
fail:
  fb_close(&f->base);
  return NULL;
}
