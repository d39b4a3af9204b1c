/*
 * nh_redis_queue.c: the Redis spool's queue entries (put_finish, take,
 * renew, unpark, release), each one script call (put_finish: the ends'
 * script and the puts' script pipelined, one round trip). The scripts are
 * nh_redis_lua.c's; the data model is nh_redis.c's header.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "nh_redis_store.h"

/* ---- put and finish ------------------------------------------------------- */

static void add_end(nh_redis_args *a, const nh_spool_end *e) {
  nh_redis_args_int(a, e->seq);
  nh_redis_args_int(a, e->how);
  const char *receipt = e->receipt;
  if (!receipt && (e->how == NH_SPOOL_FAILED || e->how == NH_SPOOL_TARGET)) receipt = "{}";
  nh_redis_args_str(a, receipt);
  nh_redis_args_num(a, e->due);
  nh_redis_args_int(a, e->attempt < 0 ? 0 : e->attempt);
  nh_redis_args_int(a, e->target);
  nh_redis_args_int(a, e->kind);
}

static void add_item(nh_redis_args *a, const nh_spool_item *it) {
  nh_redis_args_str(a, it->id);
  nh_redis_args_int(a, it->priority);
  nh_redis_args_int(a, it->attempt < 0 ? 0 : it->attempt);
  nh_redis_args_num(a, it->due);
  nh_redis_args_str(a, it->labels ? it->labels : "[]");
  nh_redis_args_add(a, it->data ? it->data : "", it->data ? it->len : 0);
  nh_redis_args_str(a, it->take ? "1" : "0");
  nh_redis_args_int(a, it->group);
}

static void read_ends(const redisReply *rep, nh_spool_end *ends, size_t m) {
  for (size_t i = 0; i < m; i++) ends[i].held = nh_redis_int(rep, i) == 1;
}

/* QUEUE_FULL when no item went in and some group was refused. */
static nh_code read_items(nh_redis *r, const redisReply *rep, nh_spool_item *items, size_t n,
                          char *err, size_t errlen) {
  size_t in = 0, out = 0;
  for (size_t i = 0; i < n; i++) {
    items[i].seq = nh_redis_int(rep, i);
    items[i].code = items[i].seq > 0 ? NH_OK : NH_QUEUE_FULL;
    items[i].seq > 0 ? in++ : out++;
  }
  if (out)
    nh_redis_refuse(r, NH_QUEUE_FULL, err, errlen, "holds spool.max_queued = %zu messages",
                    r->base.opt.max_queued);
  return out && !in ? NH_QUEUE_FULL : NH_OK;
}

/* The ends (a failure's time: now) and the items, two scripts in one round trip. */
static nh_code put_finish(nh_redis *r, nh_spool_item *items, size_t n, nh_spool_end *ends, size_t m,
                          double now, char *err, size_t errlen) {
  for (size_t i = 0; i < m; i++) ends[i].held = 0;
  nh_code code = nh_redis_enter(r, err, errlen);
  if (code == NH_OK) {
    nh_redis_args calls[2];
    size_t k = 0;
    if (m) {
      nh_redis_args_init(&calls[k], r, NH_RS_FINISH, now);
      for (size_t i = 0; i < m; i++) add_end(&calls[k], &ends[i]);
      k++;
    }
    if (n) {
      nh_redis_args_init(&calls[k], r, NH_RS_PUT, now);
      nh_redis_args_token(&calls[k], r);
      nh_redis_args_int(&calls[k], (long long)r->base.opt.max_queued);
      for (size_t i = 0; i < n; i++) add_item(&calls[k], &items[i]);
      k++;
    }
    redisReply *replies[2] = { NULL, NULL };
    if (k) code = nh_redis_call(r, calls, k, replies, "recording messages", err, errlen);
    if (code == NH_OK && m) read_ends(replies[0], ends, m);
    if (code == NH_OK && n) code = read_items(r, replies[k - 1], items, n, err, errlen);
    for (size_t i = 0; i < k; i++) {
      nh_redis_reply_free(replies[i]);
      nh_redis_args_free(&calls[i]);
    }
    nh_redis_leave(r);
  }
  if (code != NH_OK && code != NH_QUEUE_FULL) {
    for (size_t i = 0; i < n; i++) items[i].code = code, items[i].seq = 0;
    for (size_t i = 0; i < m; i++) ends[i].held = 0;
  }
  return code;
}

nh_code nh_redis_put_finish(nh_spool *sp, nh_spool_item *items, size_t n, nh_spool_end *ends,
                            size_t m, char *err, size_t errlen) {
  return put_finish((nh_redis *)sp, items, n, ends, m, nh_wall_time(), err, errlen);
}

nh_code nh_redis_finish(nh_spool *sp, nh_spool_end *ends, size_t n, double now, char *err,
                        size_t errlen) {
  return put_finish((nh_redis *)sp, NULL, 0, ends, n, now > 0 ? now : nh_wall_time(), err, errlen);
}

/* ---- take ------------------------------------------------------------------ */

static char *dup_len(const char *s, size_t len) {
  char *d = malloc(len + 1);
  if (!d) return NULL;
  if (len) memcpy(d, s, len);
  d[len] = '\0';
  return d;
}

/* One record {seq, id, attempt, due, data, progress}; -1 without memory. */
static int copy_rec(const redisReply *e, nh_spool_rec *rec) {
  memset(rec, 0, sizeof *rec);
  size_t idlen = 0, dlen = 0, plen = 0;
  const char *id = nh_redis_str(e, 1, &idlen), *data = nh_redis_str(e, 4, &dlen),
             *progress = nh_redis_str(e, 5, &plen);
  const char *att = nh_redis_str(e, 2, NULL), *due = nh_redis_str(e, 3, NULL);
  rec->seq = nh_redis_int(e, 0);
  rec->attempt = att ? atoi(att) : 0;
  rec->due = due ? strtod(due, NULL) : 0;
  rec->id = dup_len(id ? id : "", id ? idlen : 0);
  rec->data = dup_len(data ? data : "", data ? dlen : 0);
  rec->len = data ? dlen : 0;
  if (progress && plen) rec->progress = dup_len(progress, plen);
  if (!rec->id || !rec->data || (progress && plen && !rec->progress)) return -1;
  return 0;
}

static void recs_free(nh_spool_rec *out, size_t *n) {
  for (size_t i = 0; i < *n; i++) {
    free(out[i].id);
    free(out[i].data);
    free(out[i].progress);
    memset(&out[i], 0, sizeof out[i]);
  }
  *n = 0;
}

nh_code nh_redis_take(nh_spool *sp, double now, size_t max, nh_spool_rec *out, size_t *n, char *err,
                      size_t errlen) {
  nh_redis *r = (nh_redis *)sp;
  *n = 0;
  nh_code code = nh_redis_enter(r, err, errlen);
  if (code != NH_OK) return code;
  nh_redis_args a;
  nh_redis_args_init(&a, r, NH_RS_TAKE, now);
  nh_redis_args_token(&a, r);
  nh_redis_args_int(&a, (long long)(max > 4096 ? 4096 : max));
  nh_redis_args_int(&a, (long long)(r->base.opt.lease * 1000));
  nh_redis_args_num(&a, r->base.opt.keep_failed);
  nh_redis_args_str(&a, r->takes++ % 64 == 0 ? "1" : "0");
  redisReply *rep = NULL;
  code = nh_redis_call(r, &a, 1, &rep, "taking messages", err, errlen);
  nh_redis_leave(r);
  for (size_t i = 0;
       code == NH_OK && rep->type == REDIS_REPLY_ARRAY && i < rep->elements && *n < max; i++) {
    if (copy_rec(rep->element[i], &out[*n]) != 0) {
      (*n)++;
      code = nh_redis_refuse(r, NH_NO_MEMORY, err, errlen, "taking messages: out of memory");
      break;
    }
    (*n)++;
  }
  /* Records taken but not given to the caller stay held by this owner:
   * the next release or lease hands them on. */
  if (code != NH_OK) recs_free(out, n);
  nh_redis_reply_free(rep);
  nh_redis_args_free(&a);
  return code;
}

/* ---- renew, unpark, release -------------------------------------------------- */

/* One script of this owner with up to one more argument; its integer
 * answer in *out. */
static nh_code owner_call(nh_redis *r, int script, const char *arg, double now, long long *out,
                          const char *what, char *err, size_t errlen) {
  *out = 0;
  /* A worker's unpark waits for the connection (nobody waits on it): a
   * failure would send a parked job anyway. */
  nh_code code =
    script == NH_RS_UNPARK ? nh_redis_enter_any(r, err, errlen) : nh_redis_enter(r, err, errlen);
  if (code != NH_OK) return code;
  nh_redis_args a;
  nh_redis_args_init(&a, r, script, now);
  if (arg) nh_redis_args_str(&a, arg);
  redisReply *rep = NULL;
  code = nh_redis_call(r, &a, 1, &rep, what, err, errlen);
  nh_redis_leave(r);
  if (code == NH_OK) *out = rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;
  nh_redis_reply_free(rep);
  nh_redis_args_free(&a);
  return code;
}

nh_code nh_redis_renew(nh_spool *sp, double now, size_t *held, char *err, size_t errlen) {
  long long n = 0;
  nh_code code =
    owner_call((nh_redis *)sp, NH_RS_RENEW, NULL, now, &n, "renewing the lease", err, errlen);
  if (held) *held = code == NH_OK && n > 0 ? (size_t)n : 0;
  return code;
}

nh_code nh_redis_unpark(nh_spool *sp, int64_t seq, double now, int *held, char *err,
                        size_t errlen) {
  char s[32];
  snprintf(s, sizeof s, "%lld", (long long)seq);
  long long n = 0;
  nh_code code = owner_call((nh_redis *)sp, NH_RS_UNPARK, s, now, &n,
                            "taking a waiting message back", err, errlen);
  *held = code == NH_OK && n == 1;
  return code;
}

nh_code nh_redis_release(nh_spool *sp, size_t *n, char *err, size_t errlen) {
  long long k = 0;
  nh_code code = owner_call((nh_redis *)sp, NH_RS_RELEASE, NULL, nh_wall_time(), &k,
                            "handing messages back", err, errlen);
  if (n) *n = code == NH_OK && k > 0 ? (size_t)k : 0;
  return code;
}
