/*
 * nh_spool_client.c: the client's spool (spool.path, issue 13).
 *
 * Accepted = recorded. A submit records its jobs before it accepts them:
 * the caller's thread serialises them (nh_spool_item_from_job, recorded as
 * taken by this client: it delivers them from memory). When the writer
 * is idle the caller commits them itself, with the ends waiting, in one
 * transaction (no hand-off: two context switches were most of the cost);
 * else it hands them to the writer thread and waits for the commit, at
 * most until its deadline (async.timeout, at least spool.wait):
 * past it, items the writer has not begun to write are taken back
 * (SPOOL_BUSY, nothing recorded); once in a transaction, the caller waits
 * for its end, which SQLite's busy timeout (set from the nearest
 * deadline) bounds.
 *
 * The writer, one thread per client: everything submitted while it
 * committed goes in the next transaction (group commit: batches grow with
 * the load, no timer when idle); the ends of finished jobs (delivered:
 * deleted; failed: kept with the receipt; gathered ENDS_DELAY) go in one
 * transaction, with the next submits' when there are any; every
 * lease/3 it renews the lease; every TAKE_EVERY seconds, when the queue
 * has room (and nh_client_stop_taking was not called), it takes due
 * records others left (released, a dead process's) and queues them as
 * detached jobs. close() stops it, then hands back what
 * the client still holds (nh_spool_release).
 *
 * With a store that sends receipts back (spool.redis): spool.deliver =
 * "any" records with take = 0 (the shared queue) and queues nothing
 * here; the jobs wait in the remote list (nh_spool_remote.c), listed by
 * whoever commits them, and the writer reads receipts every RECEIPT_EVERY
 * while one waits. A record of this client's that it takes itself is
 * delivered by the waiting job (adopt_own); another client's, when it
 * ends, sends its receipt back, delivered too (nh_spool_ends.c).
 *
 * Locks: the writer's lock is a leaf (nothing else is taken under it), so
 * nh_finish_job may queue an end while holding the queue's lock.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define WRITER_BATCH 4096 /* items per transaction, at most (one call's are never split) */
#define TAKE_MAX 256      /* records taken at once */
#define TAKE_EVERY 0.5    /* seconds between looks for records others left */
#define STORE_WAIT 1.0    /* busy timeout of the writer's own calls */
#define ENDS_DELAY 0.01   /* seconds ends wait to be written together */
#define RATE_WAIT 0.1     /* busy timeout of the rate windows' connection */
#define CKPT_FRAMES 4000  /* WAL frames (pages) that call for a checkpoint by the writer */

/* Seconds between looks for receipts while jobs wait for one (nh_spool_remote.c). */
#define RECEIPT_EVERY 0.01

/* A record that does not decode: kept failed, with a receipt that says so. */
static void fail_record(nh_client *c, const nh_spool_rec *r, const char *why) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "message_id", r->id ? r->id : "");
  cJSON_AddStringToObject(o, "status", "failed");
  cJSON_AddStringToObject(o, "code", nh_code_name(NH_INTERNAL));
  cJSON_AddStringToObject(o, "error", why);
  nh_spool_end e = { .seq = r->seq, .how = NH_SPOOL_FAILED, .receipt = cJSON_PrintUnformatted(o) };
  cJSON_Delete(o);
  nh_spool_ends_queue(c, &e);
}

/* ---- the writer's work ----------------------------------------------------- */

/* A call on a Redis spool failed (unreachable, no answer): this client may
 * be cut off, and after its lease others take what it holds. Its workers
 * confirm each job queued before now (nh_spool_unpark) before they send
 * it, so that a cut duplicates no more than the sends in flight. (On
 * SQLite a failure is a lock held too long: nobody takes over meanwhile.) */
static void doubt(nh_client *c, nh_code code) {
  if (code != NH_SPOOL_BUSY || !c->spool->be->lease_only) return;
  double now = nh_now();
  __atomic_store(&c->spool_doubt, &now, __ATOMIC_RELEASE);
}

static void set_wait(nh_client *c, double seconds) {
  nh_spool_set_timeout(c->spool, seconds > 0 ? seconds : 0);
}

static void queue_taken(nh_client *c, nh_job *job);

/* spool.deliver = "any": the slot's jobs, recorded, wait for their
 * receipts; listed here, before the writer can read a receipt or take
 * the record itself (both are the writer's, after this). One the store
 * recorded as this client's (take: a store that sends no receipt back,
 * the fallback's file) is queued here instead, as if taken. */
static void list_remote(nh_client *c, nh_spool_slot *s) {
  for (size_t i = 0; s->remote && i < s->n; i++) {
    nh_job *job = s->remote[i];
    job->spool_seq = s->items[i].seq;
    if (!s->items[i].take) {
      nh_spool_remote_add(c, job);
      continue;
    }
    __atomic_store_n(&job->remote, 0, __ATOMIC_RELEASE);
    queue_taken(c, job);
  }
}

/* One transaction for every slot of the batch (each group is one slot)
 * and the m ends given (NULL: none); the transaction's code. */
static nh_code write_batch(nh_client *c, nh_spool_slot *batch, nh_spool_end *ends, size_t m) {
  size_t total = 0, k = 0;
  double first = INFINITY;
  for (nh_spool_slot *s = batch; s; s = s->next) {
    total += s->n;
    if (s->deadline < first) first = s->deadline;
  }
  nh_spool_item *items = malloc(total * sizeof *items);
  char err[256] = "";
  nh_code code = NH_NO_MEMORY;
  if (items) {
    int group = 0;
    for (nh_spool_slot *s = batch; s; s = s->next, group++)
      for (size_t i = 0; i < s->n; i++) {
        items[k] = s->items[i];
        items[k++].group = group;
      }
    set_wait(c, first - nh_now());
    nh_spool_client_calling(c, 1);
    code = nh_spool_put_finish(c->spool, items, total, ends, m, err, sizeof err);
    nh_spool_client_calling(c, 0);
    doubt(c, code);
  }
  k = 0;
  for (nh_spool_slot *s = batch; s; s = s->next) {
    s->code = items ? NH_OK : NH_NO_MEMORY;
    for (size_t i = 0; items && i < s->n; i++, k++) {
      s->items[i].seq = items[k].seq;
      s->items[i].take = items[k].take;
      if (items[k].code != NH_OK) s->code = items[k].code;
    }
    if (s->code != NH_OK)
      snprintf(s->err, sizeof s->err, "%s", err[0] ? err : nh_code_text(s->code));
    else list_remote(c, s);
  }
  free(items);
  return code;
}

/* Ends in one transaction; 0 when they are written (or given up), else
 * the writer keeps them for its next round. */
static int write_ends(nh_client *c, nh_spool_end *ends, size_t n, int stopping, double stop_by) {
  char err[256];
  set_wait(c, stopping ? stop_by - nh_now() : STORE_WAIT);
  nh_spool_client_calling(c, 1);
  nh_code code = nh_spool_finish(c->spool, ends, n, nh_wall_time(), err, sizeof err);
  nh_spool_client_calling(c, 0);
  doubt(c, code);
  if (code == NH_OK || stopping) {
    if (code != NH_OK)
      nh_log(&c->log, NH_LOG_WARN, 0, NULL,
             "%s (%zu finished messages stay held: they may be sent again)", err, n);
    nh_spool_ends_free(ends, n);
    return 0;
  }
  nh_log(&c->log, NH_LOG_DEBUG, 0, NULL, "%s (will try again)", err);
  return -1;
}

/* Queues a job taken from the spool (already counted as outstanding). */
static void queue_taken(nh_client *c, nh_job *job) {
  job->enqueued_at = nh_now();
  pthread_mutex_lock(&c->queue.lock);
  int refused = c->queue.closing || nh_queue_reserve_locked(&c->queue, job->deadline > 0) != 0 ||
                nh_queue_append_locked(&c->queue, job) != 0;
  if (!refused) {
    nh_log(&c->log, NH_LOG_DEBUG, 0, job->msg.id, "message taken over from the spool");
    nh_pool_wake_locked(c);
    nh_worker_grow_locked(c);
  }
  pthread_mutex_unlock(&c->queue.lock);
  /* Closing: CLOSED becomes HANDED_OVER (release gives it back). */
  if (refused) nh_finish_fail(c, job, NH_CLOSED, "client closed before the message was sent");
}

/* A record this client put for any client (spool.deliver = "any") that it
 * took itself: the waiting job is delivered here, with its own callbacks
 * (no receipt comes back to the client that delivers). */
static int adopt_own(nh_client *c, nh_spool_rec *r) {
  nh_job *job = nh_spool_remote_take(c, r->seq);
  if (!job) return 0;
  if (r->id && strcmp(r->id, job->msg.id) != 0) {
    nh_spool_remote_add(c, job); /* another record's seq: not ours after all */
    return 0;
  }
  if (r->progress) nh_spool_job_resume(job, r->progress);
  __atomic_store_n(&job->remote, 0, __ATOMIC_RELEASE);
  queue_taken(c, job);
  return 1;
}

/* Queues a record taken from the spool as a detached job (nobody reads
 * its completion); its own deadline is checked by the queue's sweep. */
static void adopt(nh_client *c, nh_spool_rec *r) {
  char err[256];
  if (adopt_own(c, r)) return;
  nh_job *job = nh_spool_job_decode(r->data, r->len, err, sizeof err);
  if (!job) {
    fail_record(c, r, err);
    return;
  }
  job->spool_seq = r->seq;
  job->adopted = 1;
  /* Targets that ended before keep their results, waiting ones their
   * attempts (without memory, some are sent again: at least once). */
  if (r->progress) nh_spool_job_resume(job, r->progress);
  nh_job_detach(job);
  __atomic_store_n(&job->state, NH_JOB_QUEUED, __ATOMIC_RELEASE);
  __atomic_add_fetch(&c->submitted, 1, __ATOMIC_RELAXED);
  pthread_mutex_lock(&c->done.lock);
  c->outstanding++;
  pthread_mutex_unlock(&c->done.lock);
  queue_taken(c, job);
}

/* Takes what the queue has room for; 1 when it took all it asked for. */
static int take_some(nh_client *c) {
  if (!c->opt.enabled || !c->opt.use_pool) return 0;
  pthread_mutex_lock(&c->queue.lock);
  size_t used = c->queue.length + c->queue.reserved, cap = c->queue.capacity;
  size_t room = c->queue.closing || used >= cap ? 0 : cap - used;
  size_t slots = (size_t)c->opt.max_workers * (size_t)c->opt.concurrency;
  size_t busy = c->queue.length + __atomic_load_n(&c->in_flight, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&c->queue.lock);
  /* spool.deliver = "any": the queue is everyone's, and what one client
   * takes the others cannot: take no more than the workers can start
   * (max_workers x concurrency), not what the local queue holds. */
  if (c->deliver_any && room > (slots > busy ? slots - busy : 0))
    room = slots > busy ? slots - busy : 0;
  if (room > TAKE_MAX) room = TAKE_MAX;
  if (room == 0) return 0;
  nh_spool_rec recs[TAKE_MAX];
  size_t n = 0;
  char err[256];
  set_wait(c, STORE_WAIT);
  nh_spool_client_calling(c, 1);
  nh_code code = nh_spool_take(c->spool, nh_wall_time(), room, recs, &n, err, sizeof err);
  nh_spool_client_calling(c, 0);
  if (code != NH_OK) {
    doubt(c, code);
    nh_log(&c->log, NH_LOG_DEBUG, 0, NULL, "%s", err);
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    adopt(c, &recs[i]);
    nh_spool_rec_free(&recs[i]);
  }
  return n == room;
}

/* Renews the lease of everything this client holds. *last_ok: when the
 * last renew that succeeded began (0: none yet). A renew that succeeds less
 * than a lease after the one before it ends a doubt: nothing this client
 * held was idle a whole lease in between, so nobody could take it over
 * (a slow call under load, or a short cut, then costs no confirmations). */
static void renew(nh_client *c, double *last_ok) {
  char err[256];
  set_wait(c, STORE_WAIT);
  double began = nh_now();
  nh_spool_client_calling(c, 1);
  nh_code code = nh_spool_renew(c->spool, nh_wall_time(), NULL, err, sizeof err);
  nh_spool_client_calling(c, 0);
  doubt(c, code);
  if (code != NH_OK) {
    nh_log(&c->log, NH_LOG_WARN, 0, NULL, "%s", err);
    return;
  }
  double zero = 0, at;
  __atomic_load(&c->spool_doubt, &at, __ATOMIC_ACQUIRE);
  if (at > 0 && *last_ok > 0 && nh_now() - *last_ok < c->spool->opt.lease * 0.9)
    __atomic_compare_exchange(&c->spool_doubt, &at, &zero, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
  *last_ok = began;
}

/* Seconds between takes: spool.deliver = "any" with messages of this
 * client waiting in the shared queue looks for them (and any other) as
 * often as for their receipts, not every TAKE_EVERY. */
static double take_every(nh_client *c) {
  return c->deliver_any && nh_spool_remote_count(c) > 0 ? RECEIPT_EVERY : TAKE_EVERY;
}

/* w->lock held: the waiting slots, up to WRITER_BATCH items, now writing. */
static nh_spool_slot *grab_slots_locked(nh_spool_writer *w) {
  nh_spool_slot *batch = NULL, **tail = &batch;
  size_t items = 0;
  while (w->head && (items == 0 || items + w->head->n <= WRITER_BATCH)) {
    nh_spool_slot *s = w->head;
    w->head = s->next;
    if (!w->head) w->tail = &w->head;
    s->state = NH_SLOT_WRITING;
    s->next = NULL;
    *tail = s;
    tail = &s->next;
    items += s->n;
  }
  return batch;
}

/* The batch's slots are written: their callers go on now, not after the
 * rest of the round (a take or renew may wait a second for another
 * process's lock; an event loop must not). */
static void end_slots(nh_spool_writer *w, nh_spool_slot *batch) {
  pthread_mutex_lock(&w->lock);
  for (nh_spool_slot *s = batch, *after; s; s = after) {
    after = s->next; /* once DONE, the slot's owner may leave */
    s->state = NH_SLOT_DONE;
  }
  pthread_cond_broadcast(&w->filled);
  pthread_mutex_unlock(&w->lock);
}

static void *writer_main(void *arg) {
  nh_spool_writer *w = arg;
  nh_client *c = w->c;
  double lease = c->spool->opt.lease, next_renew = nh_now() + lease / 3, next_take = nh_now();
  double renewed = nh_now(), doubt_seen = 0; /* the last renew that held; the doubt it answered */
  double next_receipts = 0;
  pthread_mutex_lock(&w->lock);
  for (;;) {
    /* Checkpoints are the writer's (nh_spool_ckpt.c), not busy: the
     * caller goes on committing its own submits meanwhile. */
    if (!w->stop && nh_spool_wal_frames(c->spool) >= CKPT_FRAMES) {
      pthread_mutex_unlock(&w->lock);
      nh_spool_checkpoint(c->spool, CKPT_FRAMES);
      pthread_mutex_lock(&w->lock);
    }
    double now = nh_now();
    if (next_take > now + take_every(c)) next_take = now + take_every(c);
    double next = next_renew < next_take ? next_renew : next_take;
    if (nh_spool_remote_count(c) > 0 && next_receipts < next) next = next_receipts;
    /* Ends wait a little to share a transaction (they are not anyone's
     * wait); a caller writing its own round (busy) is let finish. */
    double ends_at = w->n_ends == 0                               ? INFINITY
                     : w->stop || w->n_ends >= NH_SPOOL_ENDS_MANY ? now
                                                                  : w->ends_since + ENDS_DELAY;
    /* While a caller submits, due ends ride in its commit for free; the
     * writer writes them once submits pause for ENDS_DELAY. */
    if (!w->stop && ends_at < w->last_submit + ENDS_DELAY) ends_at = w->last_submit + ENDS_DELAY;
    if (ends_at < next) next = ends_at;
    if (w->busy || (!w->head && (w->stop ? !w->n_ends : now < next))) {
      if (w->stop && !w->busy && !w->head && !w->n_ends) break;
      /* A caller's round (busy) is looked at again after ENDS_DELAY, not
       * woken for: it takes the ends itself. Only a long sleep (idle) is
       * woken by the first end (nh_spool_ends_queue). */
      double wait = w->busy ? ENDS_DELAY : next - now;
      w->idle = wait > ENDS_DELAY;
      nh_queue_timedwait(&w->wake, &w->lock, wait);
      w->idle = 0;
      continue;
    }
    w->busy = 1;
    nh_spool_slot *batch = grab_slots_locked(w);
    nh_spool_end *ends = w->ends;
    size_t n_ends = w->n_ends;
    w->ends = NULL;
    w->n_ends = w->cap_ends = 0;
    int stopping = w->stop, taking = !w->no_take;
    double stop_by = w->stop_deadline;
    pthread_mutex_unlock(&w->lock);
    /* With submits waiting, the ends ride in their transaction; should it
     * fail, the ends alone are tried next. */
    int with = batch && n_ends && !stopping;
    int keep = 0;
    if (batch && write_batch(c, batch, with ? ends : NULL, with ? n_ends : 0) == NH_OK && with) {
      nh_spool_ends_free(ends, n_ends);
      n_ends = 0;
    }
    if (batch) end_slots(w, batch);
    if (n_ends) keep = write_ends(c, ends, n_ends, stopping, stop_by) != 0;
    now = nh_now();
    /* A new doubt is answered by a renew at once (it may end it). */
    double in_doubt;
    __atomic_load(&c->spool_doubt, &in_doubt, __ATOMIC_ACQUIRE);
    if (!stopping && (now >= next_renew || in_doubt > doubt_seen)) {
      doubt_seen = in_doubt;
      renew(c, &renewed);
      next_renew = now + lease / 3;
    }
    /* Not taking (stop_taking): next_take moves on all the same, or the
     * writer would wake for it at once, again and again. */
    if (!stopping && now >= next_take)
      next_take = now + (taking && take_some(c) ? 0 : take_every(c));
    if (!stopping && now >= next_receipts && nh_spool_remote_count(c) > 0) {
      set_wait(c, STORE_WAIT);
      nh_spool_remote_poll(c);
      next_receipts = nh_now() + RECEIPT_EVERY;
    }
    pthread_mutex_lock(&w->lock);
    for (size_t i = 0; keep && i < n_ends; i++)
      if (nh_spool_ends_push_locked(w, &ends[i]) != 0) free((void *)ends[i].receipt);
    if (keep) free(ends);
    w->busy = 0;
  }
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

/* ---- the client's calls ------------------------------------------------------ */

static void unlink_slot_locked(nh_spool_writer *w, nh_spool_slot *slot) {
  nh_spool_slot **link = &w->head;
  while (*link && *link != slot) link = &(*link)->next;
  if (!*link) return;
  *link = slot->next;
  if (w->tail == &slot->next) w->tail = link;
}

static void items_free(nh_spool_item *items, size_t n) {
  for (size_t i = 0; i < n; i++) nh_spool_item_free(&items[i]);
  free(items);
}

/* Waits for the writer to end the slot, or takes it back at its deadline. */
/* w->lock held, the writer idle: the caller writes its own slot, with the
 * pending ends once they are due, in one transaction (no hand-off to the
 * writer thread: the owner submits one call at a time, so there is nobody
 * to group with); the writer meanwhile waits (busy). Ends taken at every
 * submit went one at a time, each a page of its own in the commit (about
 * 10 us); gathered for ENDS_DELAY, many share a page. */
static void write_own_locked(nh_spool_writer *w, nh_spool_slot *slot) {
  int due =
    w->n_ends >= NH_SPOOL_ENDS_MANY || (w->n_ends && nh_now() >= w->ends_since + ENDS_DELAY);
  nh_spool_end *ends = due ? w->ends : NULL;
  size_t m = due ? w->n_ends : 0;
  w->last_submit = nh_now();
  if (due) {
    w->ends = NULL;
    w->n_ends = w->cap_ends = 0;
  }
  w->busy = 1;
  slot->state = NH_SLOT_WRITING;
  pthread_mutex_unlock(&w->lock);
  int keep = write_batch(w->c, slot, ends, m) != NH_OK && m;
  if (!keep) nh_spool_ends_free(ends, m);
  pthread_mutex_lock(&w->lock);
  for (size_t i = 0; keep && i < m; i++)
    if (nh_spool_ends_push_locked(w, &ends[i]) != 0) free((void *)ends[i].receipt);
  if (keep) free(ends);
  slot->state = NH_SLOT_DONE;
  w->busy = 0;
  /* Not for ends: the writer is either woken by their first (idle) or
   * looks again within ENDS_DELAY; a wake per submit cost two switches. */
  if (w->head || (w->idle && w->n_ends) || nh_spool_wal_frames(w->c->spool) >= CKPT_FRAMES)
    pthread_cond_signal(&w->wake);
}

static void await_slot(nh_spool_writer *w, nh_spool_slot *slot, const char *path, double wait) {
  pthread_mutex_lock(&w->lock);
  if (w->stop) {
    slot->code = NH_CLOSED;
    snprintf(slot->err, sizeof slot->err, "the client is closed");
    pthread_mutex_unlock(&w->lock);
    return;
  }
  if (!w->busy && !w->head) {
    write_own_locked(w, slot);
    pthread_mutex_unlock(&w->lock);
    return;
  }
  *w->tail = slot;
  w->tail = &slot->next;
  pthread_cond_signal(&w->wake);
  while (slot->state != NH_SLOT_DONE) {
    double left = slot->deadline - nh_now();
    if (slot->state == NH_SLOT_WAITING && left <= 0) {
      unlink_slot_locked(w, slot);
      slot->code = NH_SPOOL_BUSY;
      snprintf(slot->err, sizeof slot->err,
               "spool %s: not recorded within %.3g s (spool.wait, or async.timeout when longer)",
               path, wait);
      break;
    }
    nh_queue_timedwait(&w->filled, &w->lock, slot->state == NH_SLOT_WAITING ? left : 0.5);
  }
  pthread_mutex_unlock(&w->lock);
}

nh_code nh_spool_client_record(nh_client *c, nh_job **jobs, size_t n, double wait, char *err,
                               size_t errlen) {
  if (n == 0) return NH_OK;
  nh_spool_item *items = calloc(n, sizeof *items);
  double wall = nh_wall_time();
  size_t made = 0;
  /* "any": into the shared queue (take = 0), for whichever client takes it. */
  while (items && made < n && nh_spool_item_from_job(&items[made], jobs[made], wall, 0) == 0)
    items[made++].take = !c->deliver_any;
  if (made < n) {
    if (items) items_free(items, n);
    snprintf(err, errlen, "out of memory recording the message%s", n > 1 ? "s" : "");
    return NH_NO_MEMORY;
  }
  wait = nh_spool_client_wait(wait, c->opt.spool.wait);
  nh_spool_slot slot = {
    .items = items, .remote = c->deliver_any ? jobs : NULL, .n = n, .deadline = nh_now() + wait
  };
  await_slot(c->writer, &slot, c->spool->path, wait);
  /* "any": list_remote set them (the jobs may have ended since). */
  for (size_t i = 0; slot.code == NH_OK && !slot.remote && i < n; i++)
    jobs[i]->spool_seq = items[i].seq;
  if (slot.code != NH_OK) snprintf(err, errlen, "%s", slot.err);
  items_free(items, n);
  return slot.code;
}

void nh_client_stop_taking(nh_client *c) {
  nh_spool_writer *w = c->writer;
  if (!w || nh_fork_since(c->fork_generation)) return;
  pthread_mutex_lock(&w->lock);
  w->no_take = 1;
  pthread_mutex_unlock(&w->lock);
}

static void writer_free(nh_spool_writer *w) {
  if (!w) return;
  nh_spool_ends_free(w->ends, w->n_ends);
  pthread_cond_destroy(&w->wake);
  pthread_cond_destroy(&w->filled);
  pthread_mutex_destroy(&w->lock);
  free(w);
}

static nh_spool_writer *writer_start(nh_client *c) {
  nh_spool_writer *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->c = c;
  w->tail = &w->head;
  pthread_mutex_init(&w->lock, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&w->wake, &attr);
  pthread_cond_init(&w->filled, &attr);
  pthread_condattr_destroy(&attr);
  c->writer = w;
  if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
    c->writer = NULL;
    writer_free(w);
    return NULL;
  }
  return w;
}

/* spool.deliver: "any" needs a store that sends receipts back and a pool
 * to wait in; with such a store, jobs that another client took over wait
 * for its receipt in "local" too (c->remote). */
static nh_code check_deliver(nh_client *c, const nh_options *opt, char *err, size_t errlen) {
  c->deliver_any = opt->spool.deliver && strcmp(opt->spool.deliver, "any") == 0;
  const char *needs = !c->spool->be->receipts ? "spool.redis"
                      : !opt->spool.messages  ? "spool.messages = true"
                      : !opt->enabled         ? "async.enabled = true"
                                              : NULL;
  if (c->deliver_any && needs) {
    snprintf(err, errlen, "spool.deliver = \"any\" needs %s", needs);
    return NH_INVALID_CONFIG;
  }
  if (c->spool->be->receipts && opt->spool.messages && !(c->remote = nh_spool_remote_new())) {
    snprintf(err, errlen, "out of memory opening the spool");
    return NH_NO_MEMORY;
  }
  return NH_OK;
}

/* Seconds opening may wait: at least NH_SPOOL_MIN_WAIT for a file (the
 * schema, made by one process at a time); Redis alone has no such race, and
 * a client made lazily in a request (notifyhub.ngx, Redis not answering)
 * must not hold the event loop past spool.wait. */
static double open_wait(const nh_options *opt) {
  int redis_only = opt->spool.redis && !opt->spool.path;
  return nh_spool_client_wait(opt->queue_timeout, redis_only ? opt->spool.wait : NH_SPOOL_MIN_WAIT);
}

nh_code nh_spool_client_open(nh_client *c, const nh_options *opt, char *err, size_t errlen) {
  nh_code code;
  c->spool = nh_spool_open(&opt->spool, open_wait(opt), &code, err, errlen);
  if (!c->spool) return code;
  if ((code = check_deliver(c, opt, err, errlen)) != NH_OK) return code;
  /* spool.messages = false: rate windows only, no writer, nothing recorded. */
  if (!opt->spool.messages) {
    c->rates = c->spool;
    nh_spool_set_timeout(c->rates, RATE_WAIT);
    return NH_OK;
  }
  nh_spool_defer_checkpoints(c->spool); /* the writer's (nh_spool_ckpt.c) */
  if (!writer_start(c)) {
    snprintf(err, errlen, "spool %s: could not start its writer thread", c->spool->path);
    return NH_INTERNAL;
  }
  /* The workers count rate-limited sends on a connection of their own: on
   * the owner's, a worker waiting for another process's lock would hold
   * the connection's mutex, and a submit (an event loop) behind it, past
   * spool.wait. */
  c->rates = nh_spool_open(&opt->spool, open_wait(opt), &code, err, errlen);
  if (!c->rates) return code;
  nh_spool_set_timeout(c->rates, RATE_WAIT);
  return NH_OK;
}

size_t nh_spool_client_close(nh_client *c, double deadline) {
  nh_spool_writer *w = c->writer;
  if (w) {
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    w->stop_deadline = deadline;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    c->writer = NULL;
    writer_free(w);
  }
  nh_spool_remote_close(c); /* no receipt is read any more */
  size_t n = 0;
  char err[256];
  set_wait(c, deadline - nh_now());
  /* Rate windows only (no writer): nothing was recorded, nothing to give back. */
  if (w && nh_spool_release(c->spool, &n, err, sizeof err) != NH_OK)
    nh_log(&c->log, NH_LOG_WARN, 0, NULL,
           "%s (what this client held goes to another client after its lease)", err);
  if (c->rates != c->spool) nh_spool_close(c->rates);
  nh_spool_close(c->spool);
  c->spool = c->rates = NULL;
  return n;
}
