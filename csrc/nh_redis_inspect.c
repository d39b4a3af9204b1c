/*
 * nh_redis_inspect.c: the Redis spool's shared rate windows, the receipts
 * other owners sent back to this one, and the inspector's entries (stats,
 * failed, retry, purge). Only labels, ids, receipts and times come back
 * out of Redis here, never a record (it holds secrets).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "nh_redis_store.h"

/* One script call; its reply (NULL with the code on failure). */
static redisReply *call1(nh_redis *r, nh_redis_args *a, const char *what, nh_code *code, char *err,
                         size_t errlen) {
  redisReply *rep = NULL;
  *code = nh_redis_enter(r, err, errlen);
  if (*code == NH_OK) {
    *code = nh_redis_call(r, a, 1, &rep, what, err, errlen);
    nh_redis_leave(r);
  }
  nh_redis_args_free(a);
  return *code == NH_OK ? rep : NULL;
}

/* Redis's clock decides (the script reads TIME): `now` is not used, so
 * hosts whose clocks differ still share one window. */
nh_code nh_redis_rate_take(nh_spool *sp, const char *key, const nh_rate_rule *rules, int n_rules,
                           double now, double *wait, char *err, size_t errlen) {
  nh_redis *r = (nh_redis *)sp;
  *wait = 0;
  if (!key || n_rules <= 0) return NH_OK;
  nh_redis_args a;
  nh_redis_args_init(&a, r, NH_RS_RATE, now);
  nh_redis_args_str(&a, key);
  char member[192];
  snprintf(member, sizeof member, "%s-%llu", r->owner,
           __atomic_add_fetch(&r->sends, 1, __ATOMIC_RELAXED));
  nh_redis_args_str(&a, member);
  for (int i = 0; i < n_rules && i < NH_MAX_RATE_RULES; i++) {
    nh_redis_args_int(&a, rules[i].count);
    nh_redis_args_num(&a, rules[i].per);
  }
  nh_code code;
  redisReply *rep = call1(r, &a, "counting a send", &code, err, errlen);
  if (rep && rep->type == REDIS_REPLY_STRING) *wait = strtod(rep->str, NULL);
  if (!(*wait >= 0)) *wait = 0;
  nh_redis_reply_free(rep);
  return code;
}

/* ---- receipts ------------------------------------------------------------------ */


nh_code nh_redis_receipts(nh_spool *sp, nh_spool_receipt_in *out, size_t max, size_t *n, char *err,
                          size_t errlen) {
  nh_redis *r = (nh_redis *)sp;
  *n = 0;
  if (max == 0) return NH_OK;
  nh_redis_args a;
  nh_redis_args_init(&a, r, NH_RS_RECEIPTS, nh_wall_time());
  nh_redis_args_int(&a, (long long)(max > 100000 ? 100000 : max));
  nh_code code;
  redisReply *rep = call1(r, &a, "reading receipts", &code, err, errlen);
  for (size_t i = 0; rep && rep->type == REDIS_REPLY_ARRAY && i < rep->elements && *n < max; i++) {
    const redisReply *e = rep->element[i];
    const char *id = nh_redis_str(e, 1, NULL), *receipt = nh_redis_str(e, 2, NULL);
    nh_spool_receipt_in *in = &out[*n];
    in->seq = nh_redis_int(e, 0);
    in->id = nh_strdup(id ? id : "");
    in->receipt = nh_strdup(receipt ? receipt : "{}");
    (*n)++;
    if (!in->id || !in->receipt) {
      code = nh_redis_refuse(r, NH_NO_MEMORY, err, errlen, "reading receipts: out of memory");
      break;
    }
  }
  if (code != NH_OK) {
    for (size_t i = 0; i < *n; i++) {
      free(out[i].id);
      free(out[i].receipt);
    }
    *n = 0;
  }
  nh_redis_reply_free(rep);
  return code;
}

/* ---- the inspector ------------------------------------------------------------ */

static size_t *slot_of(size_t *q, size_t *t, size_t *f, char state) {
  return state == 'q' ? q : state == 't' ? t : state == 'f' ? f : NULL;
}

static int by_label(const void *a, const void *b) {
  return strcmp(((const nh_spool_dest *)a)->label, ((const nh_spool_dest *)b)->label);
}

/* {P:n as field, value..., P:lab as field, value...}; -1 without memory. */
static int read_counts(const redisReply *rep, nh_spool_summary *st) {
  const redisReply *n = rep->elements > 0 ? rep->element[0] : NULL;
  const redisReply *lab = rep->elements > 1 ? rep->element[1] : NULL;
  for (size_t i = 0; n && i + 1 < n->elements; i += 2) {
    const char *f = nh_redis_str(n, i, NULL);
    size_t *s = f ? slot_of(&st->queued, &st->taken, &st->failed, f[0]) : NULL;
    long long v = nh_redis_int(n, i + 1);
    if (s && v > 0) *s = (size_t)v;
  }
  for (size_t i = 0; lab && i + 1 < lab->elements; i += 2) {
    const char *f = nh_redis_str(lab, i, NULL);
    long long v = nh_redis_int(lab, i + 1);
    if (!f || !f[0] || v <= 0) continue;
    nh_spool_dest *d = nh_spool_summary_dest(st, f + 1);
    if (!d) return -1;
    size_t *s = slot_of(&d->queued, &d->taken, &d->failed, f[0]);
    if (s) *s = (size_t)v;
  }
  if (st->n_dests > 1) qsort(st->dests, st->n_dests, sizeof *st->dests, by_label);
  return 0;
}

nh_code nh_redis_stats(nh_spool *sp, nh_spool_summary *st, char *err, size_t errlen) {
  nh_redis *r = (nh_redis *)sp;
  memset(st, 0, sizeof *st);
  nh_redis_args a;
  nh_redis_args_init(&a, r, NH_RS_STATS, nh_wall_time());
  nh_code code;
  redisReply *rep = call1(r, &a, "reading stats", &code, err, errlen);
  if (rep && rep->type == REDIS_REPLY_ARRAY && read_counts(rep, st) != 0)
    code = nh_redis_refuse(r, NH_NO_MEMORY, err, errlen, "reading stats: out of memory");
  nh_redis_reply_free(rep);
  if (code != NH_OK) {
    for (size_t i = 0; i < st->n_dests; i++) free(st->dests[i].label);
    free(st->dests);
    memset(st, 0, sizeof *st);
  }
  return code;
}

nh_code nh_redis_failed(nh_spool *sp, size_t limit, nh_spool_failure **out, size_t *n, char *err,
                        size_t errlen) {
  nh_redis *r = (nh_redis *)sp;
  *out = NULL;
  *n = 0;
  if (limit == 0) return NH_OK;
  nh_redis_args a;
  nh_redis_args_init(&a, r, NH_RS_FAILED, nh_wall_time());
  nh_redis_args_int(&a, (long long)(limit > 1000000 ? 1000000 : limit));
  nh_code code;
  redisReply *rep = call1(r, &a, "reading failures", &code, err, errlen);
  size_t count = rep && rep->type == REDIS_REPLY_ARRAY ? rep->elements : 0;
  if (count && !(*out = calloc(count, sizeof **out)))
    code = nh_redis_refuse(r, NH_NO_MEMORY, err, errlen, "reading failures: out of memory");
  for (size_t i = 0; code == NH_OK && i < count; i++) {
    const redisReply *e = rep->element[i];
    const char *id = nh_redis_str(e, 0, NULL), *rc = nh_redis_str(e, 1, NULL),
               *at = nh_redis_str(e, 2, NULL);
    nh_spool_failure *f = &(*out)[(*n)++];
    f->id = nh_strdup(id ? id : "");
    f->receipt = nh_strdup(rc ? rc : "{}");
    f->failed_at = at ? strtod(at, NULL) : 0;
    if (!f->id || !f->receipt)
      code = nh_redis_refuse(r, NH_NO_MEMORY, err, errlen, "reading failures: out of memory");
  }
  nh_redis_reply_free(rep);
  if (code != NH_OK) {
    for (size_t i = 0; *out && i < *n; i++) free((*out)[i].id), free((*out)[i].receipt);
    free(*out);
    *out = NULL;
    *n = 0;
  }
  return code;
}

static nh_code count_call(nh_redis *r, int script, const char *arg, size_t *n, const char *what,
                          char *err, size_t errlen) {
  nh_redis_args a;
  nh_redis_args_init(&a, r, script, nh_wall_time());
  if (arg) nh_redis_args_str(&a, arg);
  nh_code code;
  redisReply *rep = call1(r, &a, what, &code, err, errlen);
  *n = rep && rep->type == REDIS_REPLY_INTEGER && rep->integer > 0 ? (size_t)rep->integer : 0;
  nh_redis_reply_free(rep);
  return code;
}

nh_code nh_redis_retry(nh_spool *sp, const char *id, size_t *n, char *err, size_t errlen) {
  return count_call((nh_redis *)sp, NH_RS_RETRY, id ? id : "", n, "queueing a failed message again",
                    err, errlen);
}

nh_code nh_redis_purge_failed(nh_spool *sp, size_t *n, char *err, size_t errlen) {
  return count_call((nh_redis *)sp, NH_RS_PURGE, NULL, n, "purging failures", err, errlen);
}
