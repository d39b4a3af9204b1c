/*
 * nh_spool_queue.c: the spool's queue calls. Each call is one transaction
 * (BEGIN IMMEDIATE: the write lock first, so two processes never decide
 * on the same rows, and a lock held too long is SPOOL_BUSY at the start,
 * before anything was written); a failure rolls all of it back.
 *
 * counts.open (queued + taken rows, plus the slots live handles reserved:
 * see "put") changes when a handle reserves or gives back slots, and with
 * the rows that enter or leave those states elsewhere (the inspector's retry).
 *
 * Group commit (how phase 2 wires this into submit; the functions here
 * take the batches, the thread that makes them comes with the wiring):
 *   - submit, on the caller's thread: plan the job, nh_spool_item_from_job
 *     (the JSON, a few microseconds), item.take = 1 (this process delivers
 *     it from memory), one group per call (send_async_batch: all or none);
 *     append the items to the client's writer list under its lock, wake
 *     the writer, wait on the call's slot until the writer fills in codes
 *     and seqs, at most until the call's deadline (async.timeout).
 *   - the writer thread, one per client: takes everything waiting (up to
 *     a cap, e.g. 4096 items), sets the busy timeout to the nearest
 *     deadline among them (nh_spool_set_timeout), one nh_spool_put, fills
 *     every slot, broadcasts. Submits that arrive while it commits form the
 *     next batch: under load the batches grow by themselves, with no timer
 *     delay when idle. A caller whose items are still waiting when its
 *     deadline passes takes them back (SPOOL_BUSY); once they are in the
 *     transaction it waits for its end (bounded by the busy timeout set
 *     from its own deadline, plus the commit).
 *   - the same writer batches the workers' ends (nh_spool_finish: one
 *     transaction for everything finished since the last), renews the
 *     lease every lease/3 (nh_spool_renew), and, when the memory queue has
 *     room, takes what others left (nh_spool_take: released, requeued,
 *     dead holders'), decoded by nh_spool_job_decode into detached jobs.
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "nh_sqlite.h"

#define ERRC(what) nh_sqlite_error(sp, sqlite3_errcode(sp->db), what, err, errlen)

static int open_count(nh_sqlite *sp, sqlite3_int64 *n) {
  sqlite3_stmt *st = nh_sqlite_stmt(sp, NH_SQL_OPEN_COUNT);
  if (!st) return sqlite3_errcode(sp->db);
  int rc = sqlite3_step(st);
  *n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_reset(st);
  return rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static int open_add(nh_sqlite *sp, sqlite3_int64 d) {
  if (d == 0) return SQLITE_OK;
  sqlite3_stmt *st = nh_sqlite_stmt(sp, NH_SQL_OPEN_ADD);
  if (!st) return sqlite3_errcode(sp->db);
  sqlite3_bind_int64(st, 1, d);
  int rc = nh_sqlite_run(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* ---- put ------------------------------------------------------------------ */

/* Reservations: a put writes its rows and the index pages, not counts
 * (one page less per commit). Each handle takes seqs and max_queued slots
 * in blocks, in the transaction of the put that needs them (a rollback
 * drops the block: nh_sqlite_commit restores sp->res).
 *   seq    counts.seq is the last seq reserved by anyone: a seq is never
 *          given out twice, even after its row went; a block a process did
 *          not use up is skipped (gaps). A file of schema 1 made before
 *          counts.seq starts from sqlite_sequence.
 *   open   counts.open = the rows queued or taken + the slots handles
 *          reserved and have not used, so it still bounds the rows by
 *          max_queued; a handle holds at most reserve_max() unused slots
 *          (QUEUE_FULL may come that many early per live handle). The
 *          delivered and failed rows' slots go back to the handle that ends
 *          them; past reserve_max() the excess goes back to counts. A clean
 *          close gives back the rest; a dead holder's are recounted by the
 *          takeover (recount in nh_spool_owner.c), which bumps counts.epoch so that
 *          every handle drops the reservation it had. */
#define SEQ_BLOCK 256

static sqlite3_int64 reserve_max(const nh_sqlite *sp) {
  size_t r = sp->base.opt.max_queued / 64;
  return r < 1 ? 1 : r > 256 ? 256 : (sqlite3_int64)r;
}

/* What a handle keeps after taking or giving back slots. */
static sqlite3_int64 reserve_keep(const nh_sqlite *sp) { return (reserve_max(sp) + 1) / 2; }

static int seq_load(nh_sqlite *sp, sqlite3_int64 *last, int *found) {
  sqlite3_stmt *st = nh_sqlite_stmt(sp, NH_SQL_SEQ);
  if (!st) return sqlite3_errcode(sp->db);
  int rc = sqlite3_step(st);
  *last = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  *found = rc == SQLITE_ROW;
  sqlite3_reset(st);
  if (rc == SQLITE_ROW) return SQLITE_OK;
  if (rc != SQLITE_DONE) return rc;
  if (!(st = nh_sqlite_stmt(sp, NH_SQL_SEQ_FIRST)) &&
      !(st = nh_sqlite_stmt(sp, NH_SQL_SEQ_FIRST_NEW)))
    return sqlite3_errcode(sp->db);
  rc = sqlite3_step(st);
  *last = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_reset(st);
  return rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static int seq_store(nh_sqlite *sp, sqlite3_int64 last, int found) {
  sqlite3_stmt *st = nh_sqlite_stmt(sp, found ? NH_SQL_SEQ_SET : NH_SQL_SEQ_ADD);
  if (!st) return sqlite3_errcode(sp->db);
  sqlite3_bind_int64(st, 1, last);
  int rc = nh_sqlite_run(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The next seq of this handle's block, reserving a new block when it is used up. */
static int seq_next(nh_sqlite *sp, sqlite3_int64 *seq) {
  if (sp->res.next == 0 || sp->res.next > sp->res.last) {
    sqlite3_int64 last = 0;
    int found = 0, rc = seq_load(sp, &last, &found);
    if (rc == SQLITE_OK) rc = seq_store(sp, last + SEQ_BLOCK, found);
    if (rc != SQLITE_OK) return rc;
    sp->res.next = last + 1, sp->res.last = last + SEQ_BLOCK;
  }
  *seq = sp->res.next++;
  return SQLITE_OK;
}

/* A takeover recounted counts.open since this handle reserved: its quota went. */
static int quota_sync(nh_sqlite *sp) {
  sqlite3_stmt *st = nh_sqlite_stmt(sp, NH_SQL_EPOCH);
  if (!st) return sqlite3_errcode(sp->db);
  int rc = sqlite3_step(st);
  sqlite3_int64 epoch = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_reset(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return rc;
  if (epoch != sp->res.epoch) sp->res.quota = 0, sp->res.epoch = epoch;
  return SQLITE_OK;
}

/* The end of a transaction that changed the quota: the excess over
 * reserve_max() back to counts, with delta (what it reserved). */
static int quota_settle(nh_sqlite *sp, sqlite3_int64 delta) {
  if (sp->res.quota > reserve_max(sp)) {
    delta -= sp->res.quota - reserve_keep(sp);
    sp->res.quota = reserve_keep(sp);
  }
  return open_add(sp, delta);
}

/* Slots for a group of k: from the quota, else reserved while counts.open
 * stays within max_queued (up to reserve_keep() more); 0: no room. */
static int quota_take(nh_sqlite *sp, sqlite3_int64 k, sqlite3_int64 *open, sqlite3_int64 *delta,
                      int *rc) {
  if (sp->res.quota < k) {
    if (*open < 0 && (*rc = open_count(sp, open)) != SQLITE_OK) return 0;
    sqlite3_int64 room = (sqlite3_int64)sp->base.opt.max_queued - (*open + *delta);
    sqlite3_int64 want = k + reserve_keep(sp) - sp->res.quota;
    if (room < k - sp->res.quota) return 0;
    if (want > room) want = room;
    sp->res.quota += want, *delta += want;
  }
  sp->res.quota -= k;
  return 1;
}

static int insert(nh_sqlite *sp, nh_spool_item *it, double now) {
  sqlite3_int64 seq;
  int rc = seq_next(sp, &seq);
  if (rc != SQLITE_OK) return rc;
  sqlite3_stmt *st = nh_sqlite_stmt(sp, NH_SQL_INSERT);
  if (!st) return sqlite3_errcode(sp->db);
  sqlite3_bind_text(st, 1, it->id ? it->id : "", -1, SQLITE_STATIC);
  sqlite3_bind_double(st, 2, it->due);
  sqlite3_bind_int(st, 3, it->priority);
  sqlite3_bind_int(st, 4, it->attempt);
  sqlite3_bind_double(st, 5, now);
  sqlite3_bind_text(st, 6, it->labels ? it->labels : "[]", -1, SQLITE_STATIC);
  sqlite3_bind_blob64(st, 7, it->data ? it->data : "", it->data ? it->len : 0, SQLITE_STATIC);
  sqlite3_bind_int(st, 8, it->take ? 1 : 0);
  if (it->take) { /* recorded as held by this owner: its process delivers it from memory */
    sqlite3_bind_text(st, 9, sp->owner, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 10, now + sp->base.opt.lease);
  }
  sqlite3_bind_int64(st, 11, seq);
  rc = nh_sqlite_run(st);
  if (rc != SQLITE_DONE) return rc;
  it->seq = seq;
  it->code = NH_OK;
  return SQLITE_OK;
}

/* The items of each group go in while they fit under max_queued. ended:
 * what the same transaction's ends took off the open rows (<= 0): their
 * slots join this handle's quota. A handle that reserves is registered,
 * so that a takeover finds it when it dies. */
static int put_groups(nh_sqlite *sp, nh_spool_item *items, size_t n, double now,
                      sqlite3_int64 ended) {
  sqlite3_int64 open = -1, delta = 0;
  int rc = quota_sync(sp), takes = 0;
  sp->res.quota -= ended;
  for (size_t i = 0; i < n; i++) takes |= items[i].take;
  for (size_t i = 0, end; rc == SQLITE_OK && i < n; i = end) {
    for (end = i + 1; end < n && items[end].group == items[i].group; end++) {}
    if (!quota_take(sp, (sqlite3_int64)(end - i), &open, &delta, &rc)) {
      for (size_t k = i; k < end; k++) items[k].code = NH_QUEUE_FULL;
      continue;
    }
    for (size_t k = i; rc == SQLITE_OK && k < end; k++) rc = insert(sp, &items[k], now);
  }
  if (rc == SQLITE_OK && (takes || delta > 0) &&
      nh_sqlite_register_stale(sp, now, NULL, 0) != NH_OK)
    rc = sqlite3_errcode(sp->db);
  return rc == SQLITE_OK ? quota_settle(sp, delta) : rc;
}

void nh_sqlite_give_back(nh_sqlite *sp) {
  if (!sp || !sp->db || sp->res.quota <= 0 || nh_sqlite_enter(sp, NULL, 0) != NH_OK) return;
  if (nh_sqlite_begin(sp, NULL, 0) == NH_OK) {
    int rc = quota_sync(sp);
    if (rc == SQLITE_OK && sp->res.quota > 0) {
      rc = open_add(sp, -sp->res.quota);
      sp->res.quota = 0;
    }
    nh_sqlite_commit(sp, rc == SQLITE_OK ? NH_OK : NH_INTERNAL, NULL, 0);
  }
  nh_sqlite_leave(sp);
}

/* QUEUE_FULL when no item went in and some group was refused. */
static nh_code refused(nh_sqlite *sp, const nh_spool_item *items, size_t n, char *err,
                       size_t errlen) {
  size_t in = 0, out = 0;
  for (size_t i = 0; i < n; i++) items[i].code == NH_OK ? in++ : out++;
  if (out && err && errlen)
    snprintf(err, errlen, "spool %s: holds spool.max_queued = %zu messages", sp->base.path,
             sp->base.opt.max_queued);
  return out && !in ? NH_QUEUE_FULL : NH_OK;
}

/* ---- take ----------------------------------------------------------------- */

static int copy_rec(sqlite3_stmt *st, nh_spool_rec *r) {
  memset(r, 0, sizeof *r);
  r->seq = sqlite3_column_int64(st, 0);
  r->id = nh_strdup((const char *)sqlite3_column_text(st, 1));
  r->attempt = sqlite3_column_int(st, 2);
  r->due = sqlite3_column_double(st, 3);
  r->len = (size_t)sqlite3_column_bytes(st, 4);
  r->data = malloc(r->len + 1);
  if (!r->id || !r->data) return SQLITE_NOMEM;
  if (r->len) memcpy(r->data, sqlite3_column_blob(st, 4), r->len);
  r->data[r->len] = '\0';
  return SQLITE_OK;
}

/* The record's progress rows as [[target, kind, result], ...], or NULL
 * (none, or a row that is not JSON: those targets are sent again). */
static int read_progress(nh_sqlite *sp, nh_spool_rec *r) {
  sqlite3_stmt *st = nh_sqlite_stmt(sp, NH_SQL_PROGRESS_GET);
  if (!st) return sqlite3_errcode(sp->db);
  sqlite3_bind_int64(st, 1, r->seq);
  cJSON *a = NULL;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    cJSON *res = cJSON_Parse((const char *)sqlite3_column_text(st, 2)), *e = cJSON_CreateArray();
    if (!a) a = cJSON_CreateArray();
    if (!e || !a || !res) {
      cJSON_Delete(res);
      cJSON_Delete(e);
      continue;
    }
    cJSON_AddItemToArray(e, cJSON_CreateNumber(sqlite3_column_int(st, 0)));
    cJSON_AddItemToArray(e, cJSON_CreateNumber(sqlite3_column_int(st, 1)));
    cJSON_AddItemToArray(e, res);
    cJSON_AddItemToArray(a, e);
  }
  sqlite3_reset(st);
  if (a) r->progress = cJSON_PrintUnformatted(a);
  cJSON_Delete(a);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Reads the due rows first and marks them after: a statement does not
 * change the rows it is walking. */
static int take_due(nh_sqlite *sp, double now, size_t max, nh_spool_rec *out, size_t *n) {
  sqlite3_stmt *st = nh_sqlite_stmt(sp, NH_SQL_DUE);
  if (!st) return sqlite3_errcode(sp->db);
  sqlite3_bind_double(st, 1, now);
  sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
  int rc = SQLITE_DONE;
  while (*n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    rc = copy_rec(st, &out[*n]);
    (*n)++;
    if (rc != SQLITE_OK) break;
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE && rc != SQLITE_OK && rc != SQLITE_ROW) return rc;
  for (size_t i = 0; i < *n; i++) {
    if (!(st = nh_sqlite_stmt(sp, NH_SQL_MARK_TAKEN))) return sqlite3_errcode(sp->db);
    sqlite3_bind_int64(st, 1, out[i].seq);
    sqlite3_bind_text(st, 2, sp->owner, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, now + sp->base.opt.lease);
    if ((rc = nh_sqlite_run(st)) != SQLITE_DONE) return rc;
    if ((rc = read_progress(sp, &out[i])) != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

static nh_code purge_old(nh_sqlite *sp, double now, char *err, size_t errlen) {
  sqlite3_stmt *st = nh_sqlite_stmt(sp, NH_SQL_PURGE_OLD);
  if (!st) return ERRC("purging old failures");
  sqlite3_bind_double(st, 1, now - sp->base.opt.keep_failed);
  int rc = nh_sqlite_run(st);
  return rc == SQLITE_DONE ? NH_OK : nh_sqlite_error(sp, rc, "purging old failures", err, errlen);
}

nh_code nh_sqlite_take(nh_spool *spool, double now, size_t max, nh_spool_rec *out, size_t *n,
                       char *err, size_t errlen) {
  nh_sqlite *sp = nh_sqlite_of(spool);
  *n = 0;
  nh_code code = nh_sqlite_enter(sp, err, errlen);
  if (code != NH_OK) return code;
  if ((code = nh_sqlite_begin(sp, err, errlen)) == NH_OK) {
    if ((code = nh_sqlite_reclaim(sp, now, err, errlen)) == NH_OK &&
        (code = purge_old(sp, now, err, errlen)) == NH_OK &&
        (code = nh_sqlite_register(sp, now, err, errlen)) == NH_OK && max > 0) {
      int rc = take_due(sp, now, max, out, n);
      if (rc != SQLITE_OK) code = nh_sqlite_error(sp, rc, "taking messages", err, errlen);
    }
    code = nh_sqlite_commit(sp, code, err, errlen);
  }
  nh_sqlite_leave(sp);
  if (code != NH_OK) {
    for (size_t i = 0; i < *n; i++) nh_spool_rec_free(&out[i]);
    *n = 0;
  }
  return code;
}

/* ---- what a holder does with what it holds ---------------------------------- */

/* One statement on this owner's rows in its own transaction; *changed: rows. */
typedef int (*bind_fn)(nh_sqlite *sp, sqlite3_stmt *st, const void *arg);

static nh_code owner_step(nh_sqlite *sp, nh_spool_sql which, bind_fn bind, const void *arg,
                          int open_delta, const char *what, size_t *changed, char *err,
                          size_t errlen) {
  size_t dummy;
  if (!changed) changed = &dummy;
  *changed = 0;
  nh_code code = nh_sqlite_enter(sp, err, errlen);
  if (code != NH_OK) return code;
  if ((code = nh_sqlite_begin(sp, err, errlen)) == NH_OK) {
    sqlite3_stmt *st = nh_sqlite_stmt(sp, which);
    int rc = st ? bind(sp, st, arg) : sqlite3_errcode(sp->db);
    if (rc == SQLITE_OK) rc = nh_sqlite_run(st);
    if (rc == SQLITE_DONE) {
      *changed = (size_t)sqlite3_changes(sp->db);
      rc = open_add(sp, open_delta * (sqlite3_int64)*changed);
    }
    if (rc != SQLITE_OK && rc != SQLITE_DONE) code = nh_sqlite_error(sp, rc, what, err, errlen);
    code = nh_sqlite_commit(sp, code, err, errlen);
    if (code != NH_OK) *changed = 0;
  }
  nh_sqlite_leave(sp);
  return code;
}

static nh_spool_sql end_sql(int how) {
  switch (how) {
  case NH_SPOOL_DELIVERED: return NH_SQL_DONE;
  case NH_SPOOL_FAILED: return NH_SQL_FAIL;
  case NH_SPOOL_TARGET: return NH_SQL_PROGRESS_PUT;
  case NH_SPOOL_PARK: return NH_SQL_PARK;
  default: return NH_SQL_REQUEUE;
  }
}

/* One end: the row changes only while this owner holds it. */
static int finish_one(nh_sqlite *sp, nh_spool_end *e, double now, sqlite3_int64 *open) {
  nh_spool_sql which = end_sql(e->how);
  sqlite3_stmt *st = nh_sqlite_stmt(sp, which);
  if (!st) return sqlite3_errcode(sp->db);
  sqlite3_bind_int64(st, 1, e->seq);
  sqlite3_bind_text(st, 2, sp->owner, -1, SQLITE_STATIC);
  if (which == NH_SQL_FAIL) {
    sqlite3_bind_double(st, 3, now);
    sqlite3_bind_text(st, 4, e->receipt ? e->receipt : "{}", -1, SQLITE_STATIC);
  } else if (which == NH_SQL_REQUEUE || which == NH_SQL_PARK) {
    sqlite3_bind_double(st, 3, e->due);
    sqlite3_bind_int(st, 4, e->attempt < 0 ? 0 : e->attempt);
  } else if (which == NH_SQL_PROGRESS_PUT) {
    sqlite3_bind_int(st, 3, e->target);
    sqlite3_bind_int(st, 4, e->kind);
    sqlite3_bind_text(st, 5, e->receipt ? e->receipt : "{}", -1, SQLITE_STATIC);
  }
  int rc = nh_sqlite_run(st);
  if (rc != SQLITE_DONE) return rc;
  e->held = sqlite3_changes(sp->db) > 0;
  if (e->held && (which == NH_SQL_DONE || which == NH_SQL_FAIL)) (*open)--;
  return SQLITE_OK;
}

nh_code nh_sqlite_finish(nh_spool *spool, nh_spool_end *ends, size_t n, double now, char *err,
                         size_t errlen) {
  nh_sqlite *sp = nh_sqlite_of(spool);
  for (size_t i = 0; i < n; i++) ends[i].held = 0;
  nh_code code = nh_sqlite_enter(sp, err, errlen);
  if (code != NH_OK) return code;
  if ((code = nh_sqlite_begin(sp, err, errlen)) == NH_OK) {
    sqlite3_int64 open = 0;
    int rc = SQLITE_OK;
    for (size_t i = 0; rc == SQLITE_OK && i < n; i++) rc = finish_one(sp, &ends[i], now, &open);
    if (rc == SQLITE_OK && open != 0 && (rc = quota_sync(sp)) == SQLITE_OK) {
      sp->res.quota -= open; /* the ended rows' slots: this handle's to use */
      rc = quota_settle(sp, 0);
    }
    if (rc != SQLITE_OK) code = nh_sqlite_error(sp, rc, "finishing messages", err, errlen);
    code = nh_sqlite_commit(sp, code, err, errlen);
  }
  nh_sqlite_leave(sp);
  if (code != NH_OK)
    for (size_t i = 0; i < n; i++) ends[i].held = 0;
  return code;
}

/* A writer's round in one transaction (one commit instead of two): the
 * ends, then the items as nh_spool_put records them. On failure nothing
 * of either was written: items get the code, ends held = 0. */
nh_code nh_sqlite_put_finish(nh_spool *spool, nh_spool_item *items, size_t n, nh_spool_end *ends,
                             size_t m, char *err, size_t errlen) {
  nh_sqlite *sp = nh_sqlite_of(spool);
  for (size_t i = 0; i < m; i++) ends[i].held = 0;
  nh_code code = nh_sqlite_enter(sp, err, errlen);
  if (code != NH_OK) goto out;
  if ((code = nh_sqlite_begin(sp, err, errlen)) == NH_OK) {
    double now = nh_wall_time();
    sqlite3_int64 open = 0;
    int rc = SQLITE_OK;
    for (size_t i = 0; rc == SQLITE_OK && i < m; i++) rc = finish_one(sp, &ends[i], now, &open);
    if (rc == SQLITE_OK) rc = put_groups(sp, items, n, now, open);
    if (rc != SQLITE_OK) code = nh_sqlite_error(sp, rc, "recording messages", err, errlen);
    code = nh_sqlite_commit(sp, code, err, errlen);
  }
  nh_sqlite_leave(sp);
out:
  if (code != NH_OK) {
    for (size_t i = 0; i < n; i++) items[i].code = code, items[i].seq = 0;
    for (size_t i = 0; i < m; i++) ends[i].held = 0;
  } else {
    code = refused(sp, items, n, err, errlen);
  }
  return code;
}

nh_code nh_sqlite_unpark(nh_spool *spool, int64_t seq, double now, int *held, char *err,
                         size_t errlen) {
  nh_sqlite *sp = nh_sqlite_of(spool);
  *held = 0;
  nh_code code = nh_sqlite_enter(sp, err, errlen);
  if (code != NH_OK) return code;
  if ((code = nh_sqlite_begin(sp, err, errlen)) == NH_OK) {
    sqlite3_stmt *st = nh_sqlite_stmt(sp, NH_SQL_UNPARK);
    int rc = st ? SQLITE_OK : sqlite3_errcode(sp->db);
    if (st) {
      sqlite3_bind_int64(st, 1, seq);
      sqlite3_bind_text(st, 2, sp->owner, -1, SQLITE_STATIC);
      sqlite3_bind_double(st, 3, now + sp->base.opt.lease);
      if ((rc = nh_sqlite_run(st)) == SQLITE_DONE) *held = sqlite3_changes(sp->db) > 0;
    }
    if (rc != SQLITE_OK && rc != SQLITE_DONE)
      code = nh_sqlite_error(sp, rc, "taking a waiting message back", err, errlen);
    code = nh_sqlite_commit(sp, code, err, errlen);
    if (code != NH_OK) *held = 0;
  }
  nh_sqlite_leave(sp);
  return code;
}

static int bind_owner(nh_sqlite *sp, sqlite3_stmt *st, const void *arg) {
  sqlite3_bind_text(st, 1, sp->owner, -1, SQLITE_STATIC);
  if (arg) sqlite3_bind_double(st, 2, *(const double *)arg + sp->base.opt.lease);
  return SQLITE_OK;
}

/* Leaving: the owner's row goes, so a later put registers again. */
static int bind_leave(nh_sqlite *sp, sqlite3_stmt *st, const void *arg) {
  sp->registered = 0;
  return bind_owner(sp, st, arg);
}

nh_code nh_sqlite_release(nh_spool *spool, size_t *n, char *err, size_t errlen) {
  nh_sqlite *sp = nh_sqlite_of(spool);
  nh_code code =
    owner_step(sp, NH_SQL_RELEASE, bind_owner, NULL, 0, "handing messages back", n, err, errlen);
  /* Not handed back (locked past the wait): its reservation goes the way
   * of its records, to the takeover after its lease, without a second
   * wait. The holder's row stays while it has slots to give back. */
  if (code == NH_OK) nh_sqlite_give_back(sp);
  else if (sp) sp->res.quota = 0;
  if (code == NH_OK && sp->res.quota == 0)
    owner_step(sp, NH_SQL_OWNER_DROP, bind_leave, NULL, 0, "leaving", NULL, NULL, 0);
  return code;
}

nh_code nh_sqlite_renew(nh_spool *spool, double now, size_t *held, char *err, size_t errlen) {
  nh_sqlite *sp = nh_sqlite_of(spool);
  nh_code code = nh_sqlite_enter(sp, err, errlen);
  if (code != NH_OK) return code;
  size_t n = 0;
  if ((code = nh_sqlite_begin(sp, err, errlen)) == NH_OK) {
    code = nh_sqlite_register(sp, now, err, errlen);
    sqlite3_stmt *st = code == NH_OK ? nh_sqlite_stmt(sp, NH_SQL_RENEW) : NULL;
    if (code == NH_OK && !st) code = ERRC("renewing the lease");
    if (st) {
      bind_owner(sp, st, &now);
      int rc = nh_sqlite_run(st);
      if (rc == SQLITE_DONE) n = (size_t)sqlite3_changes(sp->db);
      else code = nh_sqlite_error(sp, rc, "renewing the lease", err, errlen);
    }
    code = nh_sqlite_commit(sp, code, err, errlen);
  }
  nh_sqlite_leave(sp);
  if (held) *held = code == NH_OK ? n : 0;
  return code;
}
