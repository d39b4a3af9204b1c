/*
 * nh_spool_open.c: the spool's file: opening (created 0600, refused when
 * it is not a spool), the schema, WAL and the sync level, closing. The
 * statements and transactions are nh_spool.c's.
 *
 * Schema 2 (PRAGMA application_id 'NHSP', user_version 2; a schema 1 file
 * is upgraded in place when opened: schema 2 adds `progress`):
 *   jobs    one row per message accepted and not delivered: seq (never
 *           reused: counts.seq), id, state (0 queued, 1 taken, 2 failed), owner and
 *           lease (taken), due, priority, attempt, created, labels (a JSON
 *           array of redacted destination labels, for stats), record (the
 *           serialised job: secrets), failed_at and receipt (failed).
 *   owners  who holds records: id, host, pid, start (process start time),
 *           lease.
 *   counts  'open': the rows queued or taken plus the slots handles
 *           reserved, for max_queued without a scan; 'seq': the last seq
 *           reserved (handles take both in blocks, nh_spool_queue.c, so a
 *           put rarely writes this page; jobs.seq is not AUTOINCREMENT, whose
 *           table would be one more page per put; a file without 'seq', made
 *           before, starts from sqlite_sequence); 'epoch' (added when first
 *           needed): bumped when a takeover recounts 'open'.
 *   rate    send times per destination key, for the shared rate windows.
 *   progress  per target of a message with targets left: seq, target (its
 *           index), kind (0 failed, 1 delivered, 2 waiting for a retry) and
 *           result (JSON: the redacted result, or the attempts made, the
 *           part and the wall time the next attempt is due). A takeover
 *           sends only the targets not ended. Triggers drop a message's
 *           rows with it, and its failed or waiting rows when it fails (so
 *           :retry() resends only the targets not delivered).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "nh_sqlite.h"

#define APP_ID 0x4E485350 /* "NHSP" */
#define SCHEMA 2

static const char *const schema_sql =
  "CREATE TABLE jobs (seq INTEGER PRIMARY KEY, id TEXT NOT NULL,"
  " state INTEGER NOT NULL, owner TEXT, lease REAL, due REAL NOT NULL,"
  " priority INTEGER NOT NULL, attempt INTEGER NOT NULL, created REAL NOT NULL,"
  " labels TEXT NOT NULL, record BLOB NOT NULL, failed_at REAL, receipt TEXT);"
  "CREATE INDEX jobs_queue ON jobs (priority DESC, due, seq) WHERE state = 0;"
  "CREATE INDEX jobs_owner ON jobs (owner) WHERE state = 1;"
  "CREATE INDEX jobs_failed ON jobs (failed_at, seq) WHERE state = 2;"
  "CREATE TABLE owners (id TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL,"
  " start INTEGER NOT NULL, lease REAL NOT NULL);"
  "CREATE TABLE counts (k TEXT PRIMARY KEY, n INTEGER NOT NULL);"
  "INSERT INTO counts VALUES ('open', 0), ('seq', 0);"
  "CREATE TABLE rate (key TEXT NOT NULL, t REAL NOT NULL);"
  "CREATE INDEX rate_key ON rate (key, t);"; /* application_id: make_schema, from APP_ID */

/* Schema 1 -> 2 (a new file gets both). */
static const char *const progress_sql =
  "CREATE TABLE progress (seq INTEGER NOT NULL, target INTEGER NOT NULL, kind INTEGER NOT NULL,"
  " result TEXT NOT NULL, PRIMARY KEY (seq, target)) WITHOUT ROWID;"
  "CREATE TRIGGER progress_gone AFTER DELETE ON jobs BEGIN"
  " DELETE FROM progress WHERE seq = old.seq; END;"
  "CREATE TRIGGER progress_failed AFTER UPDATE OF state ON jobs WHEN new.state = 2 BEGIN"
  " DELETE FROM progress WHERE seq = new.seq AND kind <> 1; END;"
  "PRAGMA user_version = 2;";

/* The store behind nh_core.h's nh_spool_* calls (nh_spool_dispatch.c). */
static const nh_spool_backend sqlite_backend = {
  .name = "sqlite",
  .close = nh_sqlite_close,
  .set_timeout = nh_sqlite_set_timeout,
  .owner = nh_sqlite_owner,
  .put_finish = nh_sqlite_put_finish,
  .finish = nh_sqlite_finish,
  .take = nh_sqlite_take,
  .renew = nh_sqlite_renew,
  .unpark = nh_sqlite_unpark,
  .release = nh_sqlite_release,
  .rate_take = nh_sqlite_rate_take,
  .stats = nh_sqlite_stats,
  .failed = nh_sqlite_failed,
  .retry = nh_sqlite_retry,
  .purge_failed = nh_sqlite_purge_failed,
  .defer_checkpoints = nh_sqlite_defer_checkpoints,
  .wal_frames = nh_sqlite_wal_frames,
  .checkpoint = nh_sqlite_checkpoint,
  .receipts = NULL, /* receipts go back through the process's own memory */
};

/* ---- opening ------------------------------------------------------------- */

static nh_code check_options(const nh_spool_options *o, char *err, size_t errlen) {
  const char *p = o->path;
  if (!p || !*p)
    return nh_spool_refuse(err, errlen, NH_INVALID_CONFIG, p, "spool.path: a file name expected");
  if (!o->sync || (strcmp(o->sync, "normal") != 0 && strcmp(o->sync, "full") != 0))
    return nh_spool_refuse(err, errlen, NH_INVALID_CONFIG, p,
                           "spool.sync: \"normal\" or \"full\" expected");
  if (!(o->lease >= 1 && o->lease <= NH_DAY))
    return nh_spool_refuse(err, errlen, NH_INVALID_CONFIG, p,
                           "spool.lease: seconds from 1 to 86400 expected");
  if (!(o->keep_failed >= 0 && o->keep_failed <= 365 * NH_DAY))
    return nh_spool_refuse(err, errlen, NH_INVALID_CONFIG, p,
                           "spool.keep_failed: seconds from 0 to 31536000 expected");
  if (o->max_queued < 1 || o->max_queued > 1000000000)
    return nh_spool_refuse(err, errlen, NH_INVALID_CONFIG, p,
                           "spool.max_queued: 1 to 1000000000 expected");
  return NH_OK;
}

/* The file itself, before SQLite sees it: created 0600 when missing (its
 * directory must exist), else a regular file this process can write whose
 * first bytes, if any, are SQLite's. */
/* The files this process has spools open on. POSIX locks belong to the
 * process: a close() of any descriptor of the file drops every lock the
 * process's SQLite connections hold on it (and another process, closing
 * last, would then delete the WAL they still write). So the header is
 * read with open()/close() only while no handle here has the file open;
 * otherwise it is a spool already, and SQLite's own reads check it. The
 * lock is held from that check until the handle is listed. */
typedef struct open_file {
  const nh_sqlite *sp;
  dev_t dev;
  ino_t ino;
  struct open_file *next;
} open_file;

static pthread_mutex_t files_lock = PTHREAD_MUTEX_INITIALIZER;
static open_file *files;

static int open_here_locked(const struct stat *st) {
  for (open_file *f = files; f; f = f->next)
    if (f->dev == st->st_dev && f->ino == st->st_ino) return 1;
  return 0;
}

/* files_lock held: lists sp (its file's identity); -1 without memory. */
static int files_add_locked(const nh_sqlite *sp) {
  struct stat st;
  open_file *f = malloc(sizeof *f);
  if (!f || stat(sp->base.path, &st) != 0) {
    free(f);
    return -1;
  }
  *f = (open_file){ .sp = sp, .dev = st.st_dev, .ino = st.st_ino, .next = files };
  files = f;
  return 0;
}

static void files_remove(const nh_sqlite *sp) {
  pthread_mutex_lock(&files_lock);
  for (open_file **link = &files; *link; link = &(*link)->next)
    if ((*link)->sp == sp) {
      open_file *f = *link;
      *link = f->next;
      free(f);
      break;
    }
  pthread_mutex_unlock(&files_lock);
}

/* The records hold secrets: a file others may read (made by touch, or
 * chmod by hand) is made 0600 when this user owns it, else refused. The
 * -wal and -shm files too (SQLite gives new ones the spool's mode). */
static int private_mode(const char *path, const char *suffix) {
  char name[4096];
  struct stat st;
  int n = snprintf(name, sizeof name, "%s%s", path, suffix);
  if (n < 0 || (size_t)n >= sizeof name) return 0; /* SQLite cannot make it either */
  if (stat(name, &st) != 0 || (st.st_mode & 077) == 0) return 0;
  return S_ISREG(st.st_mode) && st.st_uid == geteuid() ? chmod(name, st.st_mode & 0700) : -1;
}

static nh_code check_private(const char *path, char *err, size_t errlen) {
  if (private_mode(path, "") == 0 && private_mode(path, "-wal") == 0 &&
      private_mode(path, "-shm") == 0)
    return NH_OK;
  return nh_spool_refuse(err, errlen, NH_INVALID_CONFIG, path,
                         "can be read by other users and cannot be made 0600 (it holds secrets)");
}

/* files_lock held. */
static nh_code check_file(const char *path, char *err, size_t errlen) {
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd >= 0) {
    close(fd);
    return check_private(path, err, errlen); /* a -wal or -shm left from before */
  }
  if (errno == ENOENT)
    return nh_spool_refuse(err, errlen, NH_INVALID_CONFIG, path,
                           "cannot be created: its directory does not exist");
  if (errno != EEXIST)
    return nh_spool_refuse(err, errlen, NH_INVALID_CONFIG, path, "cannot be created: %s",
                           strerror(errno));
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
    return nh_spool_refuse(err, errlen, NH_INVALID_CONFIG, path, "is not a regular file");
  if (check_private(path, err, errlen) != NH_OK) return NH_INVALID_CONFIG;
  if (open_here_locked(&st))
    return access(path, W_OK) == 0 ? NH_OK
                                   : nh_spool_refuse(err, errlen, NH_INVALID_CONFIG, path,
                                                     "cannot be written: %s", strerror(errno));
  fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return nh_spool_refuse(err, errlen, NH_INVALID_CONFIG, path, "cannot be written: %s",
                           strerror(errno));
  char head[16];
  ssize_t got = read(fd, head, sizeof head);
  close(fd);
  if (got != 0 && (got != 16 || memcmp(head, "SQLite format 3", 16) != 0))
    return nh_spool_refuse(err, errlen, NH_INVALID_CONFIG, path,
                           "is not a spool (not an SQLite database)");
  return NH_OK;
}

static int pragma_int(nh_sqlite *sp, const char *text, int *out) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(sp->db, text, -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *out = sqlite3_column_int(st, 0), rc = SQLITE_OK;
  sqlite3_finalize(st);
  return rc;
}

/* WAL makes the -wal and -shm files beside the spool: a file this process
 * can write in a directory it cannot write fails in SQLite's first read. */
static nh_code refuse_dir(nh_sqlite *sp, char *err, size_t errlen) {
  return nh_spool_refuse(
    err, errlen, NH_INVALID_CONFIG, sp->base.path,
    "cannot use WAL mode (its directory must be writable for the -wal and -shm files)");
}

/* 1: ours; 2: ours, schema 1 (to be upgraded); 0: empty, to be made ours;
 * -1: something else (err filled). */
static int whose(nh_sqlite *sp, nh_code *code, char *err, size_t errlen) {
  int app = 0, version = 0, tables = 0, rc;
  if ((rc = pragma_int(sp, "PRAGMA application_id", &app)) != SQLITE_OK ||
      (rc = pragma_int(sp, "PRAGMA user_version", &version)) != SQLITE_OK ||
      (rc = pragma_int(sp, "SELECT count(*) FROM sqlite_master", &tables)) != SQLITE_OK) {
    if ((rc & 0xff) == SQLITE_NOTADB)
      *code = nh_spool_refuse(err, errlen, NH_INVALID_CONFIG, sp->base.path,
                              "is not a spool (not an SQLite database)");
    else if ((rc & 0xff) == SQLITE_CORRUPT)
      *code = nh_spool_refuse(err, errlen, NH_INVALID_CONFIG, sp->base.path,
                              "is not a spool (a damaged SQLite database: %s)", sqlite3_errstr(rc));
    else if ((rc & 0xff) == SQLITE_READONLY || (rc & 0xff) == SQLITE_CANTOPEN)
      *code = refuse_dir(sp, err, errlen);
    else *code = nh_sqlite_error(sp, rc, "reading its header", err, errlen);
    return -1;
  }
  if (app == APP_ID && version == SCHEMA) return 1;
  if (app == APP_ID && version == 1) return 2;
  if (app == APP_ID)
    *code =
      nh_spool_refuse(err, errlen, NH_INVALID_CONFIG, sp->base.path,
                      "is a spool of schema %d, this notifyhub knows schema %d", version, SCHEMA);
  else if (app != 0 || tables > 0)
    *code = nh_spool_refuse(err, errlen, NH_INVALID_CONFIG, sp->base.path,
                            "is not a spool (an SQLite database of something else)");
  else return 0;
  return -1;
}

static nh_code make_schema(nh_sqlite *sp, char *err, size_t errlen) {
  nh_code code = nh_sqlite_begin(sp, err, errlen);
  if (code != NH_OK) return code;
  int app = 0, version = 0, rc = pragma_int(sp, "PRAGMA application_id", &app);
  if (rc == SQLITE_OK && app != APP_ID) { /* not made by another process meanwhile */
    char mark[64];
    snprintf(mark, sizeof mark, "PRAGMA application_id = %d", APP_ID);
    if ((rc = nh_sqlite_exec(sp, schema_sql)) == SQLITE_OK) rc = nh_sqlite_exec(sp, mark);
  }
  if (rc == SQLITE_OK) rc = pragma_int(sp, "PRAGMA user_version", &version);
  if (rc == SQLITE_OK && version < SCHEMA) rc = nh_sqlite_exec(sp, progress_sql);
  if (rc != SQLITE_OK) code = nh_sqlite_error(sp, rc, "creating its tables", err, errlen);
  return nh_sqlite_commit(sp, code, err, errlen);
}

static nh_code set_modes(nh_sqlite *sp, char *err, size_t errlen) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(sp->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
      rc =
        strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0 ? SQLITE_OK : SQLITE_CANTOPEN;
    sqlite3_finalize(st);
  }
  if (rc == SQLITE_CANTOPEN) return refuse_dir(sp, err, errlen);
  return rc == SQLITE_OK ? NH_OK : nh_sqlite_error(sp, rc, "switching to WAL mode", err, errlen);
}

static void spool_free(nh_sqlite *sp) {
  if (!sp) return;
  if (!nh_fork_since(sp->fork_generation)) { /* a child leaves the parent's connection be */
    for (int i = 0; i < NH_SQL_COUNT; i++) sqlite3_finalize(sp->stmt[i]);
    nh_sqlite_ckpt_close(sp);
    sqlite3_close_v2(sp->db);
    pthread_mutex_destroy(&sp->lock);
  }
  free(sp->base.path);
  free(sp);
}

static nh_code connect_db(nh_sqlite *sp, int full, char *err, size_t errlen) {
  int rc =
    sqlite3_open_v2(sp->base.path, &sp->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK)
    return nh_spool_refuse(err, errlen, NH_INVALID_CONFIG, sp->base.path, "cannot be opened: %s",
                           sqlite3_errstr(rc));
  sqlite3_extended_result_codes(sp->db, 1);
  sqlite3_busy_timeout(sp->db, (int)ceil(sp->timeout * 1000.0));
  if (sqlite3_db_readonly(sp->db, "main") == 1)
    return nh_spool_refuse(err, errlen, NH_INVALID_CONFIG, sp->base.path, "cannot be written");
  nh_code code = NH_OK;
  int mine = whose(sp, &code, err, errlen);
  if (mine < 0) return code;
  if ((code = set_modes(sp, err, errlen)) != NH_OK) return code;
  if (mine != 1 && (code = make_schema(sp, err, errlen)) != NH_OK) return code;
  rc = nh_sqlite_exec(sp, full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
  return rc == SQLITE_OK ? NH_OK : nh_sqlite_error(sp, rc, "setting spool.sync", err, errlen);
}

/* files_lock held: the file checked, a handle on it, listed. */
static nh_sqlite *open_locked(const nh_spool_options *o, double timeout, nh_code *code, char *err,
                              size_t errlen) {
  nh_sqlite *sp = calloc(1, sizeof *sp);
  if (!sp || !(sp->base.path = nh_strdup(o->path))) {
    free(sp);
    *code = nh_spool_refuse(err, errlen, NH_NO_MEMORY, o->path, "out of memory");
    return NULL;
  }
  sp->base.be = &sqlite_backend;
  sp->base.opt = *o;
  sp->base.opt.path = sp->base.opt.sync = NULL;
  sp->timeout = timeout >= 0 && timeout <= NH_DAY ? timeout : 0;
  sp->fork_generation = nh_fork_generation();
  pthread_mutex_init(&sp->lock, NULL);
  sp->sync_full = strcmp(o->sync, "full") == 0;
  if ((*code = connect_db(sp, sp->sync_full, err, errlen)) == NH_OK && files_add_locked(sp) != 0)
    *code = nh_spool_refuse(err, errlen, NH_NO_MEMORY, o->path, "out of memory");
  if (*code != NH_OK) {
    spool_free(sp); /* never listed */
    return NULL;
  }
  nh_sqlite_identity(sp);
  return sp;
}

/* A write past a file-size limit (ulimit -f) raises SIGXFSZ, whose default
 * action ends the process: ignored, the write fails with EFBIG and the
 * caller gets SPOOL_FULL. A handler or SIG_IGN the program set stays. */
static void ignore_xfsz(void) {
  struct sigaction old, ign = { 0 };
  ign.sa_handler = SIG_IGN;
  sigemptyset(&ign.sa_mask);
  if (sigaction(SIGXFSZ, NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
      !(old.sa_flags & SA_SIGINFO))
    sigaction(SIGXFSZ, &ign, NULL);
}

nh_spool *nh_sqlite_open(const nh_spool_options *o, double timeout, nh_code *code, char *err,
                         size_t errlen) {
  nh_code dummy;
  if (!code) code = &dummy;
  if ((*code = check_options(o, err, errlen)) != NH_OK) return NULL;
  ignore_xfsz();
  pthread_mutex_lock(&files_lock);
  nh_sqlite *sp = NULL;
  if ((*code = check_file(o->path, err, errlen)) == NH_OK)
    sp = open_locked(o, timeout, code, err, errlen);
  pthread_mutex_unlock(&files_lock);
  return sp ? &sp->base : NULL;
}

void nh_sqlite_close(nh_spool *spool) {
  nh_sqlite *sp = nh_sqlite_of(spool);
  /* a child of fork() leaves the parent's list be (its lock may be held) */
  if (sp && !nh_fork_since(sp->fork_generation)) {
    nh_sqlite_give_back(sp); /* its unused max_queued slots */
    files_remove(sp);
  }
  spool_free(sp);
}
