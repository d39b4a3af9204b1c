/*
 * nh_spool_dispatch.c: nh_core.h's nh_spool_* calls, whichever store is
 * behind the handle (nh_spool_backend.h): every call goes through the
 * handle's backend (nh_spool_choose.c's nh_spool_open picks the store).
 * Out-parameters are set here first, so a NULL spool (CLOSED) leaves them
 * as a store's failure would; the stores set them again. (Not named after
 * nh_spool_backend.h: the interface sits below the stores, this file above.)
 */
#include <string.h>

#include "nh_internal.h"

/* What a NULL spool answers (the words a spool opened before fork() says). */
static nh_code closed(char *err, size_t errlen) {
  return nh_spool_refuse(err, errlen, NH_CLOSED, NULL,
                         "opened before fork(): open the spool again in this process");
}


void nh_spool_close(nh_spool *sp) {
  if (sp) sp->be->close(sp);
}

void nh_spool_set_timeout(nh_spool *sp, double timeout) {
  if (sp) sp->be->set_timeout(sp, timeout);
}

const char *nh_spool_owner(const nh_spool *sp) { return sp ? sp->be->owner(sp) : NULL; }

/* ---- the queue ------------------------------------------------------------ */

static void items_fail(nh_spool_item *items, size_t n, nh_code code) {
  for (size_t i = 0; i < n; i++) items[i].code = code, items[i].seq = 0;
}

static void ends_clear(nh_spool_end *ends, size_t n) {
  for (size_t i = 0; i < n; i++) ends[i].held = 0;
}

nh_code nh_spool_put_finish(nh_spool *sp, nh_spool_item *items, size_t n, nh_spool_end *ends,
                            size_t m, char *err, size_t errlen) {
  ends_clear(ends, m);
  if (!sp) {
    items_fail(items, n, NH_CLOSED);
    return closed(err, errlen);
  }
  return sp->be->put_finish(sp, items, n, ends, m, err, errlen);
}

nh_code nh_spool_put(nh_spool *sp, nh_spool_item *items, size_t n, char *err, size_t errlen) {
  return nh_spool_put_finish(sp, items, n, NULL, 0, err, errlen);
}

nh_code nh_spool_finish(nh_spool *sp, nh_spool_end *ends, size_t n, double now, char *err,
                        size_t errlen) {
  ends_clear(ends, n);
  return sp ? sp->be->finish(sp, ends, n, now, err, errlen) : closed(err, errlen);
}

static nh_code finish1(nh_spool *sp, nh_spool_end *e, double now, int *held, char *err,
                       size_t errlen) {
  nh_code code = nh_spool_finish(sp, e, 1, now, err, errlen);
  if (held) *held = e->held;
  return code;
}

nh_code nh_spool_done(nh_spool *sp, int64_t seq, int *held, char *err, size_t errlen) {
  nh_spool_end e = { .seq = seq, .how = NH_SPOOL_DELIVERED };
  return finish1(sp, &e, 0, held, err, errlen);
}

nh_code nh_spool_fail(nh_spool *sp, int64_t seq, const char *receipt, double now, int *held,
                      char *err, size_t errlen) {
  nh_spool_end e = { .seq = seq, .how = NH_SPOOL_FAILED, .receipt = receipt };
  return finish1(sp, &e, now, held, err, errlen);
}

nh_code nh_spool_requeue(nh_spool *sp, int64_t seq, double due, int attempt, int *held, char *err,
                         size_t errlen) {
  nh_spool_end e = { .seq = seq, .how = NH_SPOOL_AGAIN, .due = due, .attempt = attempt };
  return finish1(sp, &e, 0, held, err, errlen);
}

nh_code nh_spool_take(nh_spool *sp, double now, size_t max, nh_spool_rec *out, size_t *n, char *err,
                      size_t errlen) {
  *n = 0;
  return sp ? sp->be->take(sp, now, max, out, n, err, errlen) : closed(err, errlen);
}

nh_code nh_spool_renew(nh_spool *sp, double now, size_t *held, char *err, size_t errlen) {
  return sp ? sp->be->renew(sp, now, held, err, errlen) : closed(err, errlen);
}

nh_code nh_spool_unpark(nh_spool *sp, int64_t seq, double now, int *held, char *err,
                        size_t errlen) {
  *held = 0;
  return sp ? sp->be->unpark(sp, seq, now, held, err, errlen) : closed(err, errlen);
}

nh_code nh_spool_release(nh_spool *sp, size_t *n, char *err, size_t errlen) {
  if (n) *n = 0;
  return sp ? sp->be->release(sp, n, err, errlen) : closed(err, errlen);
}

/* No key or no rules: nothing to count, whatever the store. */
nh_code nh_spool_rate_take(nh_spool *sp, const char *key, const nh_rate_rule *rules, int n_rules,
                           double now, double *wait, char *err, size_t errlen) {
  *wait = 0;
  if (!key || n_rules <= 0) return NH_OK;
  return sp ? sp->be->rate_take(sp, key, rules, n_rules, now, wait, err, errlen)
            : closed(err, errlen);
}

/* ---- inspection ----------------------------------------------------------- */

nh_code nh_spool_stats(nh_spool *sp, nh_spool_summary *st, char *err, size_t errlen) {
  memset(st, 0, sizeof *st);
  return sp ? sp->be->stats(sp, st, err, errlen) : closed(err, errlen);
}

nh_code nh_spool_failed(nh_spool *sp, size_t limit, nh_spool_failure **out, size_t *n, char *err,
                        size_t errlen) {
  *out = NULL;
  *n = 0;
  return sp ? sp->be->failed(sp, limit, out, n, err, errlen) : closed(err, errlen);
}

nh_code nh_spool_retry(nh_spool *sp, const char *id, size_t *n, char *err, size_t errlen) {
  *n = 0;
  return sp ? sp->be->retry(sp, id, n, err, errlen) : closed(err, errlen);
}

nh_code nh_spool_purge_failed(nh_spool *sp, size_t *n, char *err, size_t errlen) {
  *n = 0;
  return sp ? sp->be->purge_failed(sp, n, err, errlen) : closed(err, errlen);
}

/* ---- optional entries ----------------------------------------------------- */

void nh_spool_defer_checkpoints(nh_spool *sp) {
  if (sp && sp->be->defer_checkpoints) sp->be->defer_checkpoints(sp);
}

int nh_spool_wal_frames(nh_spool *sp) {
  return sp && sp->be->wal_frames ? sp->be->wal_frames(sp) : 0;
}

void nh_spool_checkpoint(nh_spool *sp, int min_frames) {
  if (sp && sp->be->checkpoint) sp->be->checkpoint(sp, min_frames);
}
