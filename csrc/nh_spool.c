/*
 * nh_spool.c: the spool's statements (prepared once), transactions and what
 * SQLite's failures mean to a caller (SPOOL_BUSY, SPOOL_FULL).
 * nh_spool_open.c opens the file (schema, WAL, sync level);
 * nh_spool_queue.c holds the queue's calls, nh_spool_owner.c the holders
 * and takeover, nh_spool_rate.c the shared rate windows, nh_spool_job.c the
 * records' format.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "nh_sqlite.h"

static const char *const sql[NH_SQL_COUNT] = {
  [NH_SQL_OPEN_COUNT] = "SELECT n FROM counts WHERE k = 'open'",
  [NH_SQL_OPEN_ADD] = "UPDATE counts SET n = n + ?1 WHERE k = 'open'",
  [NH_SQL_SEQ] = "SELECT n FROM counts WHERE k = 'seq'",
  [NH_SQL_SEQ_SET] = "UPDATE counts SET n = ?1 WHERE k = 'seq'", /* one page: n is not indexed */
  [NH_SQL_SEQ_ADD] = "INSERT INTO counts (k, n) VALUES ('seq', ?1)",
  [NH_SQL_SEQ_FIRST] = "SELECT max(ifnull((SELECT max(seq) FROM jobs), 0),"
                       " ifnull((SELECT seq FROM sqlite_sequence WHERE name = 'jobs'), 0))",
  [NH_SQL_SEQ_FIRST_NEW] = "SELECT ifnull(max(seq), 0) FROM jobs",
  [NH_SQL_BEGIN] = "BEGIN IMMEDIATE",
  [NH_SQL_COMMIT] = "COMMIT",
  [NH_SQL_INSERT] = "INSERT INTO jobs (id, state, due, priority, attempt, created, labels, record,"
                    " owner, lease, seq) VALUES (?1, ?8, ?2, ?3, ?4, ?5, ?6, ?7, ?9, ?10, ?11)",
  [NH_SQL_DUE] = "SELECT seq, id, attempt, due, record FROM jobs WHERE state = 0 AND due <= ?1"
                 " ORDER BY priority DESC, due, seq LIMIT ?2",
  [NH_SQL_MARK_TAKEN] = "UPDATE jobs SET state = 1, owner = ?2, lease = ?3 WHERE seq = ?1",
  [NH_SQL_OWNER_UPSERT] =
    "INSERT INTO owners (id, host, pid, start, lease) VALUES (?1, ?2, ?3, ?4, ?5)"
    " ON CONFLICT (id) DO UPDATE SET lease = excluded.lease",
  [NH_SQL_OWNERS] = "SELECT id, host, pid, start, lease FROM owners WHERE id <> ?1",
  [NH_SQL_OWNER_DROP] = "DELETE FROM owners WHERE id = ?1",
  [NH_SQL_RECLAIM] = "UPDATE jobs SET state = 0, owner = NULL, lease = NULL"
                     " WHERE owner = ?1 AND state = 1",
  [NH_SQL_RENEW] = "UPDATE jobs SET lease = ?2 WHERE owner = ?1 AND state = 1",
  [NH_SQL_DONE] = "DELETE FROM jobs WHERE seq = ?1 AND owner = ?2 AND state = 1",
  [NH_SQL_FAIL] = "UPDATE jobs SET state = 2, owner = NULL, lease = NULL, failed_at = ?3,"
                  " receipt = ?4 WHERE seq = ?1 AND owner = ?2 AND state = 1",
  [NH_SQL_REQUEUE] = "UPDATE jobs SET state = 0, owner = NULL, lease = NULL, due = ?3,"
                     " attempt = ?4 WHERE seq = ?1 AND owner = ?2 AND state = 1",
  [NH_SQL_RELEASE] = "UPDATE jobs SET state = 0, owner = NULL, lease = NULL"
                     " WHERE owner = ?1 AND state = 1",
  [NH_SQL_PURGE_OLD] = "DELETE FROM jobs WHERE state = 2 AND failed_at < ?1",
  [NH_SQL_RATE_NTH] = "SELECT t FROM rate WHERE key = ?1 ORDER BY t DESC LIMIT 1 OFFSET ?2",
  [NH_SQL_RATE_ADD] = "INSERT INTO rate (key, t) VALUES (?1, ?2)",
  [NH_SQL_RATE_PRUNE] = "DELETE FROM rate WHERE key = ?1 AND t < ?2",
  [NH_SQL_PROGRESS_PUT] =
    "INSERT OR REPLACE INTO progress (seq, target, kind, result) SELECT ?1, ?3, ?4, ?5"
    " WHERE EXISTS (SELECT 1 FROM jobs WHERE seq = ?1 AND owner = ?2 AND state < 2)",
  [NH_SQL_PROGRESS_GET] = "SELECT target, kind, result FROM progress WHERE seq = ?1",
  [NH_SQL_PARK] = "UPDATE jobs SET state = 0, lease = NULL, due = ?3, attempt = ?4"
                  " WHERE seq = ?1 AND owner = ?2 AND state = 1",
  [NH_SQL_UNPARK] = "UPDATE jobs SET state = 1, lease = ?3 WHERE seq = ?1 AND owner = ?2"
                    " AND state = 0",
  [NH_SQL_EPOCH] = "SELECT n FROM counts WHERE k = 'epoch'",
  [NH_SQL_EPOCH_BUMP] = "INSERT INTO counts (k, n) VALUES ('epoch', 1)"
                        " ON CONFLICT (k) DO UPDATE SET n = n + 1",
  /* two counts over the partial indexes, not a scan of the failed rows */
  [NH_SQL_RECOUNT] = "UPDATE counts SET n = (SELECT count(*) FROM jobs WHERE state = 0)"
                     " + (SELECT count(*) FROM jobs WHERE state = 1) WHERE k = 'open'",
};

/* ---- calls, statements, transactions ------------------------------------ */

nh_code nh_sqlite_enter(nh_sqlite *sp, char *err, size_t errlen) {
  if (!sp || nh_fork_since(sp->fork_generation))
    return nh_spool_refuse(err, errlen, NH_CLOSED, sp ? sp->base.path : NULL,
                           "opened before fork(): open the spool again in this process");
  pthread_mutex_lock(&sp->lock);
  return NH_OK;
}

void nh_sqlite_leave(nh_sqlite *sp) { pthread_mutex_unlock(&sp->lock); }

sqlite3_stmt *nh_sqlite_stmt(nh_sqlite *sp, nh_spool_sql which) {
  sqlite3_stmt **st = &sp->stmt[which];
  if (!*st) {
    if (sqlite3_prepare_v3(sp->db, sql[which], -1, SQLITE_PREPARE_PERSISTENT, st, NULL) !=
        SQLITE_OK)
      return NULL;
  } else {
    sqlite3_reset(*st);
    sqlite3_clear_bindings(*st);
  }
  return *st;
}

int nh_sqlite_run(sqlite3_stmt *st) {
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {}
  sqlite3_reset(st);
  return rc;
}

static int full_errno(int e) {
  return e == ENOSPC || e == EFBIG
#ifdef EDQUOT
         || e == EDQUOT
#endif
    ;
}

nh_code nh_sqlite_error(nh_sqlite *sp, int rc, const char *what, char *err, size_t errlen) {
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
    return nh_spool_refuse(err, errlen, NH_SPOOL_BUSY, sp->base.path,
                           "locked by another process for more than %.3g s (%s)", sp->timeout,
                           what);
  /* A write refused for want of room often comes back as IOERR_WRITE with
   * the errno already gone (SQLite reads it later): a failed write is no room. */
  int ext = sqlite3_extended_errcode(sp->db);
  if (primary == SQLITE_FULL || ext == SQLITE_IOERR_WRITE ||
      (primary == SQLITE_IOERR && full_errno(sqlite3_system_errno(sp->db))))
    return nh_spool_refuse(
      err, errlen, NH_SPOOL_FULL, sp->base.path,
      "no room to write (disk full or file size limit) while %s; nothing of it was recorded", what);
  if (primary == SQLITE_NOMEM)
    return nh_spool_refuse(err, errlen, NH_NO_MEMORY, sp->base.path, "%s: out of memory", what);
  int e = sqlite3_system_errno(sp->db);
  return nh_spool_refuse(err, errlen, NH_INTERNAL, sp->base.path, "%s: %s%s%s", what,
                         sqlite3_errstr(rc), e ? ": " : "", e ? strerror(e) : "");
}

/* Runs SQL text without results (pragmas, BEGIN, COMMIT). */
int nh_sqlite_exec(nh_sqlite *sp, const char *text) {
  return sqlite3_exec(sp->db, text, NULL, NULL, NULL);
}

/* BEGIN and COMMIT prepared once: parsing them was a good part of a
 * one-record transaction. */
static int run_prepared(nh_sqlite *sp, nh_spool_sql which) {
  sqlite3_stmt *st = nh_sqlite_stmt(sp, which);
  if (!st) return sqlite3_errcode(sp->db);
  int rc = nh_sqlite_run(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

nh_code nh_sqlite_begin(nh_sqlite *sp, char *err, size_t errlen) {
  int rc = run_prepared(sp, NH_SQL_BEGIN);
  if (rc != SQLITE_OK) return nh_sqlite_error(sp, rc, "waiting for the write lock", err, errlen);
  sp->saved = sp->res;
  return NH_OK;
}

nh_code nh_sqlite_commit(nh_sqlite *sp, nh_code code, char *err, size_t errlen) {
  double registering = sp->registering;
  sp->registering = 0;
  if (code == NH_OK) {
    int rc = run_prepared(sp, NH_SQL_COMMIT);
    if (rc == SQLITE_OK) {
      if (registering > 0) sp->registered = registering;
      return NH_OK;
    }
    code = nh_sqlite_error(sp, rc, "committing", err, errlen);
  }
  /* A failed write may have rolled back already (SQLITE_FULL does). */
  if (!sqlite3_get_autocommit(sp->db)) nh_sqlite_exec(sp, "ROLLBACK");
  /* what it reserved went with it: a seq block not written is not ours */
  sp->res = sp->saved;
  /* A WAL that hit a file-size limit or a full disk only shrinks by a
   * checkpoint: without one, no later write would fit even once there is
   * room again (best effort; the next failure tries again). */
  if (code == NH_SPOOL_FULL)
    sqlite3_wal_checkpoint_v2(sp->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
  return code;
}

void nh_sqlite_set_timeout(nh_spool *spool, double timeout) {
  nh_sqlite *sp = nh_sqlite_of(spool);
  if (!sp || nh_fork_since(sp->fork_generation)) return;
  if (!(timeout >= 0)) timeout = 0;
  if (timeout > NH_DAY) timeout = NH_DAY;
  pthread_mutex_lock(&sp->lock);
  sp->timeout = timeout;
  sqlite3_busy_timeout(sp->db, (int)ceil(timeout * 1000.0));
  pthread_mutex_unlock(&sp->lock);
}

const char *nh_sqlite_owner(const nh_spool *spool) {
  const nh_sqlite *sp = (const nh_sqlite *)spool;
  return sp ? sp->owner : NULL;
}
