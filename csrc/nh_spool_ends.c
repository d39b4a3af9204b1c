/*
 * nh_spool_ends.c: how a finished job's record ends in the spool. The job's
 * end (delivered or cancelled: deleted; failed: kept with its receipt) is
 * queued for the client's writer thread (nh_spool_client.c), which writes
 * the ends in batches. Called by nh_finish_job, from any thread: it sits
 * below the pool and the workers and calls nothing above it (the writer's
 * lock is a leaf).
 */
#include <stdlib.h>

#include "nh_internal.h"

void nh_spool_ends_free(nh_spool_end *ends, size_t n) {
  for (size_t i = 0; i < n; i++) free((void *)ends[i].receipt);
  free(ends);
}

/* w->lock held; 0, or -1 without memory (the end is dropped: the record
 * stays held, and is delivered again after this process). */
int nh_spool_ends_push_locked(nh_spool_writer *w, const nh_spool_end *e) {
  if (w->n_ends == w->cap_ends) {
    size_t cap = w->cap_ends ? 2 * w->cap_ends : 64;
    nh_spool_end *more = realloc(w->ends, cap * sizeof *more);
    if (!more) return -1;
    w->ends = more;
    w->cap_ends = cap;
  }
  if (w->n_ends == 0) w->ends_since = nh_now();
  w->ends[w->n_ends++] = *e;
  return 0;
}

void nh_spool_ends_queue(nh_client *c, nh_spool_end *e) {
  nh_spool_writer *w = c->writer;
  pthread_mutex_lock(&w->lock);
  int kept = !w->stop && nh_spool_ends_push_locked(w, e) == 0;
  /* The writer, unless asleep for long (idle), looks within ENDS_DELAY. */
  if (kept && ((w->idle && w->n_ends == 1) || w->n_ends == NH_SPOOL_ENDS_MANY))
    pthread_cond_signal(&w->wake);
  pthread_mutex_unlock(&w->lock);
  if (!kept) free((void *)e->receipt);
}

void nh_spool_writer_wake(nh_client *c) {
  nh_spool_writer *w = c->writer;
  if (!w) return;
  pthread_mutex_lock(&w->lock);
  if (w->idle) pthread_cond_signal(&w->wake);
  pthread_mutex_unlock(&w->lock);
}

/* A job that waited for a receipt (remote) wrote no record: another
 * client ends it, or holds it still. */
void nh_spool_client_end(nh_client *c, nh_job *job) {
  if (!c->writer || !job->spool_seq || job->code == NH_HANDED_OVER ||
      __atomic_load_n(&job->remote, __ATOMIC_ACQUIRE))
    return;
  nh_spool_end e = { .seq = job->spool_seq, .how = NH_SPOOL_DELIVERED };
  /* Cancelled: the caller asked for it, nothing to keep. */
  if (!nh_job_succeeded(job) && job->code != NH_CANCELLED) {
    e.how = NH_SPOOL_FAILED;
    e.receipt = nh_spool_receipt(job);
  }
  /* Another client accepted it: a store that sends receipts back (remote
   * list: c->remote) routes this one to it, delivered too (issue 15). */
  if (!e.receipt && job->adopted && c->remote) e.receipt = nh_spool_receipt(job);
  nh_spool_ends_queue(c, &e);
}

/* A target that ended for good (delivered, or failed: not cut off by
 * close() or a cancel, not out of memory) while others of its message go
 * on: written down, so a takeover sends only the others. A message of one
 * target needs none: its end is the message's. */
void nh_spool_client_target_end(nh_client *c, nh_job *job, size_t i) {
  if (!c->writer || !job->spool_seq || job->msg.n_targets < 2) return;
  nh_result *r = &job->results[i];
  if (!r->success && (r->code == NH_CLOSED || r->code == NH_HANDED_OVER ||
                      r->code == NH_CANCELLED || r->code == NH_NO_MEMORY || r->code == NH_OK))
    return;
  nh_redact_result(r, &job->msg.targets[i], c->secrets, c->n_secrets);
  nh_spool_end e = { .seq = job->spool_seq,
                     .how = NH_SPOOL_TARGET,
                     .target = (int)i,
                     .kind = r->success ? NH_SPOOL_TARGET_DELIVERED : NH_SPOOL_TARGET_FAILED,
                     .receipt = nh_spool_target_result(job, i) };
  if (e.receipt) nh_spool_ends_queue(c, &e);
}

int nh_spool_client_park(nh_client *c, nh_spool_end *ends, size_t n, char *err, size_t errlen) {
  if (nh_spool_finish(c->spool, ends, n, nh_wall_time(), err, errlen) != NH_OK) return -1;
  return n && ends[n - 1].held ? 0 : -1;
}

/* Seconds ends may wait unwritten, or a call on the store may take, on a
 * store where a cut-off holder loses its records (lease_only: Redis),
 * before the client is in doubt (a cut line answers nothing). */
#define STALL 0.2

int nh_spool_client_doubt(nh_client *c, double since) {
  nh_spool_writer *w = c->writer;
  if (w && c->spool->be->lease_only) {
    pthread_mutex_lock(&w->lock);
    double now = nh_now(), call;
    int stalled = w->n_ends > 0 && now - w->ends_since > STALL;
    pthread_mutex_unlock(&w->lock);
    __atomic_load(&c->spool_call_since, &call, __ATOMIC_ACQUIRE);
    if (call > 0 && now - call > STALL) stalled = 1;
    if (stalled) __atomic_store(&c->spool_doubt, &now, __ATOMIC_RELEASE);
  }
  double at;
  __atomic_load(&c->spool_doubt, &at, __ATOMIC_ACQUIRE);
  return at > 0 && since <= at;
}

void nh_spool_client_calling(nh_client *c, int on) {
  double t = on ? nh_now() : 0;
  __atomic_store(&c->spool_call_since, &t, __ATOMIC_RELEASE);
}
