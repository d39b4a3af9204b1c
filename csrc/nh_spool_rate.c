/*
 * nh_spool_rate.c: rate windows shared by every process on one spool.
 *
 * The same rule as nh_limit.c's rings: at most `count` sends in any `per`
 * seconds, exactly, by send times; a send may go when the count-th most
 * recent send of the destination is more than per (+ the same margin)
 * old. The times live in the rate table; the check and the record of a
 * send are one write transaction, so processes decide one at a time and
 * together stay under the limit. Sends older than the longest window are
 * pruned as the destination sends again.
 */
#include <stdio.h>

#include <sqlite3.h>

#include "nh_sqlite.h"

#define MARGIN 0.02 /* seconds added to every window, as nh_limit.c */

/* Seconds until rule r allows a send at now (0: now). */
static int rule_wait(nh_sqlite *sp, const char *key, const nh_rate_rule *r, double now,
                     double *wait) {
  sqlite3_stmt *st = nh_sqlite_stmt(sp, NH_SQL_RATE_NTH);
  if (!st) return sqlite3_errcode(sp->db);
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, r->count - 1);
  int rc = sqlite3_step(st);
  *wait = 0;
  if (rc == SQLITE_ROW) {
    double free_at = sqlite3_column_double(st, 0) + r->per + MARGIN;
    if (free_at > now) *wait = free_at - now;
    rc = SQLITE_DONE;
  }
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int record_send(nh_sqlite *sp, const char *key, double now, double longest) {
  sqlite3_stmt *st = nh_sqlite_stmt(sp, NH_SQL_RATE_ADD);
  if (!st) return sqlite3_errcode(sp->db);
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_double(st, 2, now);
  int rc = nh_sqlite_run(st);
  if (rc != SQLITE_DONE) return rc;
  if (!(st = nh_sqlite_stmt(sp, NH_SQL_RATE_PRUNE))) return sqlite3_errcode(sp->db);
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_double(st, 2, now - longest - MARGIN);
  rc = nh_sqlite_run(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int decide(nh_sqlite *sp, const char *key, const nh_rate_rule *rules, int n, double now,
                  double *wait) {
  double longest = 0;
  int rc = SQLITE_OK;
  for (int i = 0; rc == SQLITE_OK && i < n; i++) {
    if (rules[i].count < 1 || !(rules[i].per > 0)) continue;
    double w = 0;
    rc = rule_wait(sp, key, &rules[i], now, &w);
    if (w > *wait) *wait = w;
    if (rules[i].per > longest) longest = rules[i].per;
  }
  if (rc == SQLITE_OK && *wait == 0 && longest > 0) rc = record_send(sp, key, now, longest);
  return rc;
}

nh_code nh_sqlite_rate_take(nh_spool *spool, const char *key, const nh_rate_rule *rules,
                            int n_rules, double now, double *wait, char *err, size_t errlen) {
  nh_sqlite *sp = nh_sqlite_of(spool);
  *wait = 0;
  if (!key || n_rules <= 0) return NH_OK;
  nh_code code = nh_sqlite_enter(sp, err, errlen);
  if (code != NH_OK) return code;
  if ((code = nh_sqlite_begin(sp, err, errlen)) == NH_OK) {
    int rc = decide(sp, key, rules, n_rules, now, wait);
    if (rc != SQLITE_OK) code = nh_sqlite_error(sp, rc, "counting a send", err, errlen);
    code = nh_sqlite_commit(sp, code, err, errlen);
  }
  nh_sqlite_leave(sp);
  if (code != NH_OK) *wait = 0;
  return code;
}
