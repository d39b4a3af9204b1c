/*
 * nh_spool.c: the spool's file: opening (created 0600, refused when it is
 * not a spool), the schema, WAL and the sync level, the statements it
 * prepares once, transactions and what SQLite's failures mean to a caller
 * (SPOOL_BUSY, SPOOL_FULL). nh_spool_queue.c holds the queue's calls,
 * nh_spool_owner.c the holders and takeover, nh_spool_rate.c the shared
 * rate windows, nh_spool_job.c the records' format.
 *
 * Schema 1 (PRAGMA application_id 'NHSP', user_version 1):
 *   jobs    one row per message accepted and not delivered: seq (never
 *           reused), id, state (0 queued, 1 taken, 2 failed), owner and
 *           lease (taken), due, priority, attempt, created, labels (a JSON
 *           array of redacted destination labels, for stats), record (the
 *           serialised job: secrets), failed_at and receipt (failed).
 *   owners  who holds records: id, host, pid, start (process start time),
 *           lease.
 *   counts  'open': the rows queued or taken, for max_queued without a scan.
 *   rate    send times per destination key, for the shared rate windows.
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

#include "nh_internal.h"

#define APP_ID 0x4E485350 /* "NHSP" */
#define SCHEMA 1

static const char *const schema_sql =
  "CREATE TABLE jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL,"
  " state INTEGER NOT NULL, owner TEXT, lease REAL, due REAL NOT NULL,"
  " priority INTEGER NOT NULL, attempt INTEGER NOT NULL, created REAL NOT NULL,"
  " labels TEXT NOT NULL, record BLOB NOT NULL, failed_at REAL, receipt TEXT);"
  "CREATE INDEX jobs_queue ON jobs (priority DESC, due, seq) WHERE state = 0;"
  "CREATE INDEX jobs_owner ON jobs (owner) WHERE state = 1;"
  "CREATE INDEX jobs_failed ON jobs (failed_at, seq) WHERE state = 2;"
  "CREATE TABLE owners (id TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL,"
  " start INTEGER NOT NULL, lease REAL NOT NULL);"
  "CREATE TABLE counts (k TEXT PRIMARY KEY, n INTEGER NOT NULL);"
  "INSERT INTO counts VALUES ('open', 0);"
  "CREATE TABLE rate (key TEXT NOT NULL, t REAL NOT NULL);"
  "CREATE INDEX rate_key ON rate (key, t);"
  "PRAGMA user_version = 1;"; /* application_id: make_schema, from APP_ID */

static const char *const sql[NH_SQL_COUNT] = {
  [NH_SQL_OPEN_COUNT] = "SELECT n FROM counts WHERE k = 'open'",
  [NH_SQL_OPEN_ADD] = "UPDATE counts SET n = n + ?1 WHERE k = 'open'",
  [NH_SQL_INSERT] = "INSERT INTO jobs (id, state, due, priority, attempt, created, labels, record,"
                    " owner, lease) VALUES (?1, ?8, ?2, ?3, ?4, ?5, ?6, ?7, ?9, ?10)",
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
};

#define DEFAULT(P, section, key, field, type, dflt, min, max, above) o->field = (dflt);

void nh_spool_options_default(nh_spool_options *o) {
  memset(o, 0, sizeof *o);
  NH_SPOOL_OPTIONS(DEFAULT, )
}

static nh_code fail(char *err, size_t errlen, nh_code code, const char *path, const char *fmt,
                    ...) {
  char why[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  if (err && errlen) snprintf(err, errlen, "spool %s: %s", path ? path : "(no path)", why);
  return code;
}

/* ---- calls, statements, transactions ------------------------------------ */

nh_code nh_spool_enter(nh_spool *sp, char *err, size_t errlen) {
  if (!sp || nh_fork_since(sp->fork_generation))
    return fail(err, errlen, NH_CLOSED, sp ? sp->path : NULL,
                "opened before fork(): open the spool again in this process");
  pthread_mutex_lock(&sp->lock);
  return NH_OK;
}

void nh_spool_leave(nh_spool *sp) { pthread_mutex_unlock(&sp->lock); }

sqlite3_stmt *nh_spool_stmt(nh_spool *sp, nh_spool_sql which) {
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

int nh_spool_run(sqlite3_stmt *st) {
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

nh_code nh_spool_error(nh_spool *sp, int rc, const char *what, char *err, size_t errlen) {
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
    return fail(err, errlen, NH_SPOOL_BUSY, sp->path,
                "locked by another process for more than %.3g s (%s)", sp->timeout, what);
  /* A write refused for want of room often comes back as IOERR_WRITE with
   * the errno already gone (SQLite reads it later): a failed write is no room. */
  int ext = sqlite3_extended_errcode(sp->db);
  if (primary == SQLITE_FULL || ext == SQLITE_IOERR_WRITE ||
      (primary == SQLITE_IOERR && full_errno(sqlite3_system_errno(sp->db))))
    return fail(
      err, errlen, NH_SPOOL_FULL, sp->path,
      "no room to write (disk full or file size limit) while %s; nothing of it was recorded", what);
  if (primary == SQLITE_NOMEM)
    return fail(err, errlen, NH_NO_MEMORY, sp->path, "%s: out of memory", what);
  int e = sqlite3_system_errno(sp->db);
  return fail(err, errlen, NH_INTERNAL, sp->path, "%s: %s%s%s", what, sqlite3_errstr(rc),
              e ? ": " : "", e ? strerror(e) : "");
}

/* Runs SQL text without results (pragmas, BEGIN, COMMIT). */
static int exec(nh_spool *sp, const char *text) {
  return sqlite3_exec(sp->db, text, NULL, NULL, NULL);
}

nh_code nh_spool_begin(nh_spool *sp, char *err, size_t errlen) {
  int rc = exec(sp, "BEGIN IMMEDIATE");
  return rc == SQLITE_OK ? NH_OK
                         : nh_spool_error(sp, rc, "waiting for the write lock", err, errlen);
}

nh_code nh_spool_commit(nh_spool *sp, nh_code code, char *err, size_t errlen) {
  if (code == NH_OK) {
    int rc = exec(sp, "COMMIT");
    if (rc == SQLITE_OK) return NH_OK;
    code = nh_spool_error(sp, rc, "committing", err, errlen);
  }
  /* A failed write may have rolled back already (SQLITE_FULL does). */
  if (!sqlite3_get_autocommit(sp->db)) exec(sp, "ROLLBACK");
  /* A WAL that hit a file-size limit or a full disk only shrinks by a
   * checkpoint: without one, no later write would fit even once there is
   * room again (best effort; the next failure tries again). */
  if (code == NH_SPOOL_FULL)
    sqlite3_wal_checkpoint_v2(sp->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
  return code;
}

void nh_spool_set_timeout(nh_spool *sp, double timeout) {
  if (!sp || nh_fork_since(sp->fork_generation)) return;
  if (!(timeout >= 0)) timeout = 0;
  if (timeout > NH_DAY) timeout = NH_DAY;
  pthread_mutex_lock(&sp->lock);
  sp->timeout = timeout;
  sqlite3_busy_timeout(sp->db, (int)ceil(timeout * 1000.0));
  pthread_mutex_unlock(&sp->lock);
}

const char *nh_spool_owner(const nh_spool *sp) { return sp ? sp->owner : NULL; }

/* ---- opening ------------------------------------------------------------- */

static nh_code check_options(const nh_spool_options *o, char *err, size_t errlen) {
  const char *p = o->path;
  if (!p || !*p) return fail(err, errlen, NH_INVALID_CONFIG, p, "spool.path: a file name expected");
  if (!o->sync || (strcmp(o->sync, "normal") != 0 && strcmp(o->sync, "full") != 0))
    return fail(err, errlen, NH_INVALID_CONFIG, p, "spool.sync: \"normal\" or \"full\" expected");
  if (!(o->lease > 0 && o->lease <= NH_DAY))
    return fail(err, errlen, NH_INVALID_CONFIG, p,
                "spool.lease: seconds > 0 and <= 86400 expected");
  if (!(o->keep_failed >= 0 && o->keep_failed <= 365 * NH_DAY))
    return fail(err, errlen, NH_INVALID_CONFIG, p,
                "spool.keep_failed: seconds from 0 to 31536000 expected");
  if (o->max_queued < 1 || o->max_queued > 1000000000)
    return fail(err, errlen, NH_INVALID_CONFIG, p, "spool.max_queued: 1 to 1000000000 expected");
  return NH_OK;
}

/* The file itself, before SQLite sees it: created 0600 when missing (its
 * directory must exist), else a regular file this process can write whose
 * first bytes, if any, are SQLite's. */
static nh_code check_file(const char *path, char *err, size_t errlen) {
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd >= 0) {
    close(fd);
    return NH_OK;
  }
  if (errno == ENOENT)
    return fail(err, errlen, NH_INVALID_CONFIG, path,
                "cannot be created: its directory does not exist");
  if (errno != EEXIST)
    return fail(err, errlen, NH_INVALID_CONFIG, path, "cannot be created: %s", strerror(errno));
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
    return fail(err, errlen, NH_INVALID_CONFIG, path, "is not a regular file");
  fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return fail(err, errlen, NH_INVALID_CONFIG, path, "cannot be written: %s", strerror(errno));
  char head[16];
  ssize_t got = read(fd, head, sizeof head);
  close(fd);
  if (got != 0 && (got != 16 || memcmp(head, "SQLite format 3", 16) != 0))
    return fail(err, errlen, NH_INVALID_CONFIG, path, "is not a spool (not an SQLite database)");
  return NH_OK;
}

static int pragma_int(nh_spool *sp, const char *text, int *out) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(sp->db, text, -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *out = sqlite3_column_int(st, 0), rc = SQLITE_OK;
  sqlite3_finalize(st);
  return rc;
}

/* 1: ours; 0: empty, to be made ours; -1: something else (err filled). */
static int whose(nh_spool *sp, nh_code *code, char *err, size_t errlen) {
  int app = 0, version = 0, tables = 0, rc;
  if ((rc = pragma_int(sp, "PRAGMA application_id", &app)) != SQLITE_OK ||
      (rc = pragma_int(sp, "PRAGMA user_version", &version)) != SQLITE_OK ||
      (rc = pragma_int(sp, "SELECT count(*) FROM sqlite_master", &tables)) != SQLITE_OK) {
    if ((rc & 0xff) == SQLITE_NOTADB)
      *code =
        fail(err, errlen, NH_INVALID_CONFIG, sp->path, "is not a spool (not an SQLite database)");
    else *code = nh_spool_error(sp, rc, "reading its header", err, errlen);
    return -1;
  }
  if (app == APP_ID && version == SCHEMA) return 1;
  if (app == APP_ID)
    *code = fail(err, errlen, NH_INVALID_CONFIG, sp->path,
                 "is a spool of schema %d, this notifyhub knows schema %d", version, SCHEMA);
  else if (app != 0 || tables > 0)
    *code = fail(err, errlen, NH_INVALID_CONFIG, sp->path,
                 "is not a spool (an SQLite database of something else)");
  else return 0;
  return -1;
}

static nh_code make_schema(nh_spool *sp, char *err, size_t errlen) {
  nh_code code = nh_spool_begin(sp, err, errlen);
  if (code != NH_OK) return code;
  int app = 0, rc = pragma_int(sp, "PRAGMA application_id", &app); /* another process's? */
  if (rc == SQLITE_OK && app != APP_ID) {
    char mark[64];
    snprintf(mark, sizeof mark, "PRAGMA application_id = %d", APP_ID);
    if ((rc = exec(sp, schema_sql)) == SQLITE_OK) rc = exec(sp, mark);
  }
  if (rc != SQLITE_OK) code = nh_spool_error(sp, rc, "creating its tables", err, errlen);
  return nh_spool_commit(sp, code, err, errlen);
}

static nh_code set_modes(nh_spool *sp, char *err, size_t errlen) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(sp->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
      rc =
        strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0 ? SQLITE_OK : SQLITE_CANTOPEN;
    sqlite3_finalize(st);
  }
  if (rc == SQLITE_CANTOPEN)
    return fail(err, errlen, NH_INVALID_CONFIG, sp->path,
                "cannot use WAL mode (its directory must be writable for the -wal and -shm files)");
  return rc == SQLITE_OK ? NH_OK : nh_spool_error(sp, rc, "switching to WAL mode", err, errlen);
}

static void spool_free(nh_spool *sp) {
  if (!sp) return;
  if (!nh_fork_since(sp->fork_generation)) { /* a child leaves the parent's connection be */
    for (int i = 0; i < NH_SQL_COUNT; i++) sqlite3_finalize(sp->stmt[i]);
    sqlite3_close_v2(sp->db);
    pthread_mutex_destroy(&sp->lock);
  }
  free(sp->path);
  free(sp);
}

static nh_code connect_db(nh_spool *sp, int full, char *err, size_t errlen) {
  int rc = sqlite3_open_v2(sp->path, &sp->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK)
    return fail(err, errlen, NH_INVALID_CONFIG, sp->path, "cannot be opened: %s",
                sqlite3_errstr(rc));
  sqlite3_extended_result_codes(sp->db, 1);
  sqlite3_busy_timeout(sp->db, (int)ceil(sp->timeout * 1000.0));
  if (sqlite3_db_readonly(sp->db, "main") == 1)
    return fail(err, errlen, NH_INVALID_CONFIG, sp->path, "cannot be written");
  nh_code code = NH_OK;
  int mine = whose(sp, &code, err, errlen);
  if (mine < 0) return code;
  if ((code = set_modes(sp, err, errlen)) != NH_OK) return code;
  if (mine == 0 && (code = make_schema(sp, err, errlen)) != NH_OK) return code;
  rc = exec(sp, full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
  return rc == SQLITE_OK ? NH_OK : nh_spool_error(sp, rc, "setting spool.sync", err, errlen);
}

nh_spool *nh_spool_open(const nh_spool_options *o, double timeout, nh_code *code, char *err,
                        size_t errlen) {
  nh_code dummy;
  if (!code) code = &dummy;
  if ((*code = check_options(o, err, errlen)) != NH_OK) return NULL;
  if ((*code = check_file(o->path, err, errlen)) != NH_OK) return NULL;
  nh_spool *sp = calloc(1, sizeof *sp);
  if (!sp || !(sp->path = nh_strdup(o->path))) {
    free(sp);
    *code = fail(err, errlen, NH_NO_MEMORY, o->path, "out of memory");
    return NULL;
  }
  sp->opt = *o;
  sp->opt.path = sp->opt.sync = NULL;
  sp->timeout = timeout >= 0 && timeout <= NH_DAY ? timeout : 0;
  sp->fork_generation = nh_fork_generation();
  pthread_mutex_init(&sp->lock, NULL);
  if ((*code = connect_db(sp, strcmp(o->sync, "full") == 0, err, errlen)) != NH_OK) {
    spool_free(sp);
    return NULL;
  }
  nh_spool_identity(sp);
  return sp;
}

void nh_spool_close(nh_spool *sp) { spool_free(sp); }
