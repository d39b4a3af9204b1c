/*
 * nh_sqlite.h: the SQLite store's own parts (csrc/nh_spool.c, nh_spool_open.c,
 * nh_spool_queue.c, nh_spool_owner.c, nh_spool_rate.c, nh_spool_inspect.c,
 * nh_spool_ckpt.c), which nothing else includes: the rest of the core talks
 * to a spool through nh_spool_backend.h.
 */
#ifndef NH_SQLITE_H
#define NH_SQLITE_H

#include <pthread.h>

#include "nh_internal.h"

struct sqlite3;
struct sqlite3_stmt;

/* The statements the spool prepares once (nh_spool.c holds their SQL). */
typedef enum nh_spool_sql {
  NH_SQL_OPEN_COUNT,
  NH_SQL_OPEN_ADD,
  NH_SQL_SEQ,
  NH_SQL_SEQ_SET,
  NH_SQL_SEQ_ADD,
  NH_SQL_SEQ_FIRST,
  NH_SQL_SEQ_FIRST_NEW,
  NH_SQL_BEGIN,
  NH_SQL_COMMIT,
  NH_SQL_INSERT,
  NH_SQL_DUE,
  NH_SQL_MARK_TAKEN,
  NH_SQL_OWNER_UPSERT,
  NH_SQL_OWNERS,
  NH_SQL_OWNER_DROP,
  NH_SQL_RECLAIM,
  NH_SQL_RENEW,
  NH_SQL_DONE,
  NH_SQL_FAIL,
  NH_SQL_REQUEUE,
  NH_SQL_RELEASE,
  NH_SQL_PURGE_OLD,
  NH_SQL_RATE_NTH,
  NH_SQL_RATE_ADD,
  NH_SQL_RATE_PRUNE,
  NH_SQL_PROGRESS_PUT,
  NH_SQL_PROGRESS_GET,
  NH_SQL_PARK,
  NH_SQL_UNPARK,
  NH_SQL_EPOCH,
  NH_SQL_EPOCH_BUMP,
  NH_SQL_RECOUNT,
  NH_SQL_COUNT
} nh_spool_sql;

/* What a handle reserves in blocks so that a put need not write counts
 * (nh_spool_queue.c): seqs next..last are its own; quota: slots of
 * counts.open it reserved and has not used; epoch: counts.epoch when it
 * did (a takeover that recounts counts.open bumps it: the quota is gone). */
typedef struct nh_spool_reserve {
  int64_t next, last, quota, epoch;
} nh_spool_reserve;

/* The SQLite store's handle. base: its backend, its file's path, its
 * options (base.opt.path, base.opt.sync: NULL; see base.path). */
typedef struct nh_sqlite {
  nh_spool base;        /* first: an nh_spool * of this store is an nh_sqlite * */
  pthread_mutex_t lock; /* one call at a time on db */
  struct sqlite3 *db;
  double timeout;
  unsigned fork_generation;
  char host[192]; /* machine-id (or hostname) + pid namespace */
  long pid;
  unsigned long long start; /* /proc/self/stat field 22 */
  char owner[96];
  double registered;      /* wall time of this owner's last committed register, 0: none */
  double registering;     /* the register of the open transaction, 0: none */
  nh_spool_reserve res;   /* this handle's reserved seqs and max_queued slots */
  nh_spool_reserve saved; /* res at BEGIN: a rolled back transaction restores it */
  struct sqlite3_stmt *stmt[NH_SQL_COUNT];
  int sync_full;           /* spool.sync = "full" */
  int wal_frames;          /* the WAL's frames after the last commit (atomic) */
  struct sqlite3 *ckpt_db; /* nh_sqlite_checkpoint's own connection, or NULL */
} nh_sqlite;

static inline nh_sqlite *nh_sqlite_of(nh_spool *sp) { return (nh_sqlite *)sp; }

/* The store's entries of nh_spool_backend (nh_spool_open.c binds them):
 * each has nh_core.h's meaning of the nh_spool_* call of the same name,
 * and is never given NULL (nh_spool_dispatch.c answers for that). */
void nh_sqlite_close(nh_spool *sp);
void nh_sqlite_set_timeout(nh_spool *sp, double timeout);
const char *nh_sqlite_owner(const nh_spool *sp);
nh_code nh_sqlite_put_finish(nh_spool *sp, nh_spool_item *items, size_t n, nh_spool_end *ends,
                             size_t m, char *err, size_t errlen);
nh_code nh_sqlite_finish(nh_spool *sp, nh_spool_end *ends, size_t n, double now, char *err,
                         size_t errlen);
nh_code nh_sqlite_take(nh_spool *sp, double now, size_t max, nh_spool_rec *out, size_t *n,
                       char *err, size_t errlen);
nh_code nh_sqlite_renew(nh_spool *sp, double now, size_t *held, char *err, size_t errlen);
nh_code nh_sqlite_unpark(nh_spool *sp, int64_t seq, double now, int *held, char *err,
                         size_t errlen);
nh_code nh_sqlite_release(nh_spool *sp, size_t *n, char *err, size_t errlen);
nh_code nh_sqlite_rate_take(nh_spool *sp, const char *key, const nh_rate_rule *rules, int n_rules,
                            double now, double *wait, char *err, size_t errlen);
nh_code nh_sqlite_stats(nh_spool *sp, nh_spool_summary *st, char *err, size_t errlen);
nh_code nh_sqlite_failed(nh_spool *sp, size_t limit, nh_spool_failure **out, size_t *n, char *err,
                         size_t errlen);
nh_code nh_sqlite_retry(nh_spool *sp, const char *id, size_t *n, char *err, size_t errlen);
nh_code nh_sqlite_purge_failed(nh_spool *sp, size_t *n, char *err, size_t errlen);

/* nh_spool.c. Each public call runs between enter (locks; NH_CLOSED in a
 * forked child) and leave. */
nh_code nh_sqlite_enter(nh_sqlite *sp, char *err, size_t errlen);
void nh_sqlite_leave(nh_sqlite *sp);
/* The prepared statement (reset, bindings cleared); NULL when it cannot be. */
struct sqlite3_stmt *nh_sqlite_stmt(nh_sqlite *sp, nh_spool_sql which);
/* A failed SQLite call rc while doing `what`, as a code and words in err. */
nh_code nh_sqlite_error(nh_sqlite *sp, int rc, const char *what, char *err, size_t errlen);
/* SQL text without results (pragmas, BEGIN, COMMIT); SQLite's code. */
int nh_sqlite_exec(nh_sqlite *sp, const char *text);
/* BEGIN IMMEDIATE (the write lock, waiting up to the timeout) and the end
 * of that transaction: COMMIT when code is NH_OK, else ROLLBACK; returns
 * the transaction's code. */
nh_code nh_sqlite_begin(nh_sqlite *sp, char *err, size_t errlen);
nh_code nh_sqlite_commit(nh_sqlite *sp, nh_code code, char *err, size_t errlen);
/* Runs a prepared statement to its end; SQLITE_DONE or the error's rc. */
int nh_sqlite_run(struct sqlite3_stmt *st);

/* nh_spool_ckpt.c: checkpoints off the committing thread (the backend's
 * optional entries). defer: commits
 * no longer checkpoint (wal_autocheckpoint off), someone must call
 * nh_sqlite_checkpoint (one thread); it checkpoints when the last commit
 * left at least min_frames in the WAL. */
void nh_sqlite_defer_checkpoints(nh_spool *sp);
int nh_sqlite_wal_frames(nh_spool *sp);
void nh_sqlite_checkpoint(nh_spool *sp, int min_frames);
void nh_sqlite_ckpt_close(nh_sqlite *sp); /* with the spool */

/* nh_spool_owner.c: this process's host id, pid and start time; whether a
 * holder on this host is dead; taking over what dead or expired holders
 * held (inside a write transaction). */
void nh_sqlite_identity(nh_sqlite *sp);
int nh_sqlite_pid_dead(long pid, unsigned long long start);
nh_code nh_sqlite_reclaim(nh_sqlite *sp, double now, char *err, size_t errlen);
nh_code nh_sqlite_register(nh_sqlite *sp, double now, char *err, size_t errlen);
/* Registers only when this owner's last committed register is older than
 * lease/4 (or in the future): a put needs its holder's row, not a new one. */
nh_code nh_sqlite_register_stale(nh_sqlite *sp, double now, char *err, size_t errlen);
/* nh_spool_queue.c: gives back this handle's unused max_queued slots (a
 * clean close; best effort, its own transaction). */
void nh_sqlite_give_back(nh_sqlite *sp);

#endif
