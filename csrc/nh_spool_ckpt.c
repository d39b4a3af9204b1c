/*
 * nh_spool_ckpt.c: WAL checkpoints off the committing thread.
 *
 * SQLite checkpoints in the thread whose commit passed wal_autocheckpoint
 * frames: a copy of the WAL's pages into the file and two fdatasync, about
 * a third of a submit's time when the submit commits on the caller's
 * thread. A client's spool defers them (nh_spool_defer_checkpoints) and its
 * writer thread runs them (nh_spool_checkpoint): the bulk on a connection
 * of its own, without the spool's lock, so commits go on meanwhile; then,
 * under the lock, the few frames committed during it, so the WAL is fully
 * copied and the next commit starts it over (a checkpoint that always
 * lags behind the commits would let the WAL grow without end).
 */
#include <sqlite3.h>

#include "nh_sqlite.h"

/* Runs after every commit of sp->db (under sp->lock): the WAL's frames. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames) {
  (void)db, (void)name;
  __atomic_store_n(&((nh_sqlite *)arg)->wal_frames, frames, __ATOMIC_RELAXED);
  return SQLITE_OK;
}

void nh_sqlite_defer_checkpoints(nh_spool *spool) {
  nh_sqlite *sp = nh_sqlite_of(spool);
  if (!sp || nh_fork_since(sp->fork_generation)) return;
  pthread_mutex_lock(&sp->lock);
  sqlite3_wal_autocheckpoint(sp->db, 0); /* also removes SQLite's own hook */
  sqlite3_wal_hook(sp->db, wal_hook, sp);
  pthread_mutex_unlock(&sp->lock);
}

int nh_sqlite_wal_frames(nh_spool *spool) {
  nh_sqlite *sp = nh_sqlite_of(spool);
  return sp ? __atomic_load_n(&sp->wal_frames, __ATOMIC_RELAXED) : 0;
}

static sqlite3 *ckpt_db(nh_sqlite *sp) {
  if (sp->ckpt_db) return sp->ckpt_db;
  if (sqlite3_open_v2(sp->base.path, &sp->ckpt_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                      NULL) != SQLITE_OK) {
    sqlite3_close_v2(sp->ckpt_db);
    sp->ckpt_db = NULL;
    return NULL;
  }
  /* Its checkpoints sync as the spool's commits promise. */
  sqlite3_exec(sp->ckpt_db,
               sp->sync_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL", NULL,
               NULL, NULL);
  return sp->ckpt_db;
}

/* One thread at a time (the client's writer). Best effort: a checkpoint
 * that cannot run now (another process's, a reader) runs at a later call. */
void nh_sqlite_checkpoint(nh_spool *spool, int min_frames) {
  nh_sqlite *sp = nh_sqlite_of(spool);
  if (!sp || nh_fork_since(sp->fork_generation) || nh_sqlite_wal_frames(spool) < min_frames) return;
  sqlite3 *db = ckpt_db(sp);
  if (db) sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
  pthread_mutex_lock(&sp->lock);
  sqlite3_wal_checkpoint_v2(sp->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
  __atomic_store_n(&sp->wal_frames, 0, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&sp->lock);
}

void nh_sqlite_ckpt_close(nh_sqlite *sp) {
  sqlite3_close_v2(sp->ckpt_db);
  sp->ckpt_db = NULL;
}
