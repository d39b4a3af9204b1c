/*
 * nh_spool_inspect.c: what notifyhub.spool.open(path) shows and does:
 * counts per state and per destination label, the failed records with
 * their receipts, retry and purge. Only labels, ids, receipts and times
 * are read back out of the file, never a record (which holds secrets);
 * labels and receipts were redacted before they went in.
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "nh_sqlite.h"

static const char *const stats_sql =
  "SELECT d.value, j.state, count(*) FROM jobs j, json_each(j.labels) d"
  " GROUP BY d.value, j.state ORDER BY d.value";

static size_t *state_slot(size_t *q, size_t *t, size_t *f, int state) {
  return state == 0 ? q : state == 1 ? t : f;
}

static int read_states(nh_sqlite *sp, nh_spool_summary *st) {
  sqlite3_stmt *q;
  int rc =
    sqlite3_prepare_v2(sp->db, "SELECT state, count(*) FROM jobs GROUP BY state", -1, &q, NULL);
  if (rc != SQLITE_OK) return rc;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW)
    *state_slot(&st->queued, &st->taken, &st->failed, sqlite3_column_int(q, 0)) =
      (size_t)sqlite3_column_int64(q, 1);
  sqlite3_finalize(q);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int read_dests(nh_sqlite *sp, nh_spool_summary *st) {
  sqlite3_stmt *q;
  int rc = sqlite3_prepare_v2(sp->db, stats_sql, -1, &q, NULL);
  if (rc != SQLITE_OK) return rc;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    const char *label = (const char *)sqlite3_column_text(q, 0);
    nh_spool_dest *d = nh_spool_summary_dest(st, label ? label : "");
    if (!d) {
      rc = SQLITE_NOMEM;
      break;
    }
    *state_slot(&d->queued, &d->taken, &d->failed, sqlite3_column_int(q, 1)) =
      (size_t)sqlite3_column_int64(q, 2);
  }
  sqlite3_finalize(q);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Both reads in one read transaction: they see the same moment. */
nh_code nh_sqlite_stats(nh_spool *spool, nh_spool_summary *st, char *err, size_t errlen) {
  nh_sqlite *sp = nh_sqlite_of(spool);
  memset(st, 0, sizeof *st);
  nh_code code = nh_sqlite_enter(sp, err, errlen);
  if (code != NH_OK) return code;
  int rc = sqlite3_exec(sp->db, "BEGIN", NULL, NULL, NULL);
  if (rc == SQLITE_OK && (rc = read_states(sp, st)) == SQLITE_OK) rc = read_dests(sp, st);
  if (!sqlite3_get_autocommit(sp->db)) sqlite3_exec(sp->db, "COMMIT", NULL, NULL, NULL);
  if (rc != SQLITE_OK) code = nh_sqlite_error(sp, rc, "reading stats", err, errlen);
  nh_sqlite_leave(sp);
  if (code != NH_OK) nh_spool_summary_free(st);
  return code;
}

static int read_failed(nh_sqlite *sp, size_t limit, nh_spool_failure **out, size_t *n) {
  sqlite3_stmt *q;
  int rc = sqlite3_prepare_v2(sp->db,
                              "SELECT id, receipt, failed_at FROM jobs WHERE state = 2"
                              " ORDER BY failed_at, seq LIMIT ?1",
                              -1, &q, NULL);
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_int64(q, 1, (sqlite3_int64)limit);
  size_t cap = 0;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    if (*n == cap) {
      cap = cap ? cap * 2 : 16;
      nh_spool_failure *f = realloc(*out, cap * sizeof *f);
      if (!f) break;
      *out = f;
    }
    nh_spool_failure *f = &(*out)[(*n)++];
    f->id = nh_strdup((const char *)sqlite3_column_text(q, 0));
    f->receipt = nh_strdup((const char *)sqlite3_column_text(q, 1));
    f->failed_at = sqlite3_column_double(q, 2);
    if (!f->id || !f->receipt) break;
  }
  sqlite3_finalize(q);
  return rc == SQLITE_DONE ? SQLITE_OK : rc == SQLITE_ROW ? SQLITE_NOMEM : rc;
}

nh_code nh_sqlite_failed(nh_spool *spool, size_t limit, nh_spool_failure **out, size_t *n,
                         char *err, size_t errlen) {
  nh_sqlite *sp = nh_sqlite_of(spool);
  *out = NULL;
  *n = 0;
  nh_code code = nh_sqlite_enter(sp, err, errlen);
  if (code != NH_OK) return code;
  int rc = read_failed(sp, limit, out, n);
  if (rc != SQLITE_OK) code = nh_sqlite_error(sp, rc, "reading failures", err, errlen);
  nh_sqlite_leave(sp);
  if (code != NH_OK) {
    nh_spool_failures_free(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return code;
}

/* One statement with up to two bindings in a write transaction;
 * counts.open changes by open_sign per row changed. */
static nh_code change(nh_sqlite *sp, const char *text, const char *id, double now, int open_sign,
                      size_t *n, const char *what, char *err, size_t errlen) {
  *n = 0;
  nh_code code = nh_sqlite_enter(sp, err, errlen);
  if (code != NH_OK) return code;
  if ((code = nh_sqlite_begin(sp, err, errlen)) == NH_OK) {
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(sp->db, text, -1, &q, NULL);
    if (rc == SQLITE_OK) {
      if (id) sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
      sqlite3_bind_double(q, 2, now);
      rc = sqlite3_step(q);
      sqlite3_finalize(q);
    }
    if (rc == SQLITE_DONE) *n = (size_t)sqlite3_changes(sp->db);
    if (rc == SQLITE_DONE && open_sign && *n) {
      char add[96];
      snprintf(add, sizeof add, "UPDATE counts SET n = n + %d * %zu WHERE k = 'open'", open_sign,
               *n);
      rc = sqlite3_exec(sp->db, add, NULL, NULL, NULL) == SQLITE_OK ? SQLITE_DONE
                                                                    : sqlite3_errcode(sp->db);
    }
    if (rc != SQLITE_DONE) code = nh_sqlite_error(sp, rc, what, err, errlen);
    code = nh_sqlite_commit(sp, code, err, errlen);
    if (code != NH_OK) *n = 0;
  }
  nh_sqlite_leave(sp);
  return code;
}

nh_code nh_sqlite_retry(nh_spool *spool, const char *id, size_t *n, char *err, size_t errlen) {
  nh_sqlite *sp = nh_sqlite_of(spool);
  double now = nh_wall_time();
  return change(sp,
                "UPDATE jobs SET state = 0, due = ?2, attempt = 0, failed_at = NULL,"
                " receipt = NULL WHERE state = 2 AND id = ?1",
                id ? id : "", now, 1, n, "queueing a failed message again", err, errlen);
}

nh_code nh_sqlite_purge_failed(nh_spool *spool, size_t *n, char *err, size_t errlen) {
  nh_sqlite *sp = nh_sqlite_of(spool);
  return change(sp, "DELETE FROM jobs WHERE state = 2 AND ?2 = ?2", NULL, 0, 0, n,
                "purging failures", err, errlen);
}
