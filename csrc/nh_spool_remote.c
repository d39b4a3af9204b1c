/*
 * nh_spool_remote.c: jobs this client accepted that another client
 * delivers (issue 15). With a store that sends receipts back to the
 * producer (spool.redis; SQLite has none: c->remote is NULL), a job waits
 * here, keyed by its spool_seq, when it went into the spool's shared queue
 * (spool.deliver = "any") or when another client took over its parked
 * record (nh_worker.c). The writer thread (nh_spool_client.c) polls the
 * store's receipts while any job waits and ends each matching job once
 * with the receipt's outcome; a job whose deadline passed (plus GRACE)
 * ends TIMEOUT; close() ends the rest HANDED_OVER (the spool keeps the
 * record: another client delivers it). A receipt for no listed job is
 * kept ORPHAN_KEEP seconds (its job may be listed a moment later), then
 * dropped.
 *
 * Locks: the list's lock is a leaf; jobs end (nh_finish_job) with no lock
 * held. Below the client, the pool and the workers; above the finish.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define GRACE 1.0          /* seconds past a deadline a receipt may still come */
#define RECEIPTS_MAX 256   /* receipts read at once */
#define RECEIPT_ROUNDS 16  /* reads per poll, at most (the next poll goes on) */
#define TOMB ((nh_job *)1) /* a slot whose job left */
#define ORPHAN_KEEP 5.0    /* seconds a receipt for no waiting job is kept */
#define ORPHANS_MAX 4096   /* such receipts kept, at most */

/* A receipt that came before its job was listed (a worker lists a parked
 * job only when it finds its record taken over): the writer's alone. */
typedef struct orphan {
  nh_spool_receipt_in in;
  double at; /* nh_now() when it came */
} orphan;

struct nh_spool_remote {
  pthread_mutex_t lock; /* a leaf */
  nh_job **slot;        /* open addressing on spool_seq */
  size_t cap, used;     /* used: jobs and tombstones */
  size_t count;         /* atomic: jobs */
  double first_due;     /* no deadline + GRACE is earlier; INFINITY: none */
  orphan *orphans;      /* the writer's: receipts for no listed job yet */
  size_t n_orphans, cap_orphans;
};

nh_spool_remote *nh_spool_remote_new(void) {
  nh_spool_remote *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  pthread_mutex_init(&r->lock, NULL);
  r->first_due = INFINITY;
  return r;
}

size_t nh_spool_remote_count(nh_client *c) {
  return c->remote ? __atomic_load_n(&c->remote->count, __ATOMIC_ACQUIRE) : 0;
}

/* ---- the table ----------------------------------------------------------- */

static size_t home(const nh_spool_remote *r, int64_t seq) {
  uint64_t h = (uint64_t)seq * 0x9E3779B97F4A7C15ULL;
  return (size_t)(h ^ (h >> 29)) & (r->cap - 1);
}

/* r->lock held: the slot of seq, or of the empty slot where it would go. */
static size_t find_locked(const nh_spool_remote *r, int64_t seq) {
  size_t i = home(r, seq);
  while (r->slot[i] && (r->slot[i] == TOMB || r->slot[i]->spool_seq != seq))
    i = (i + 1) & (r->cap - 1);
  return i;
}

/* r->lock held: room for one more (0), or -1 without memory. */
static int grow_locked(nh_spool_remote *r) {
  if (r->cap && 2 * (r->used + 1) <= r->cap) return 0;
  size_t cap = 64;
  while (cap < 4 * (r->count + 1)) cap *= 2;
  nh_job **old = r->slot, **slot = calloc(cap, sizeof *slot);
  if (!slot) return -1;
  size_t old_cap = r->cap;
  r->slot = slot;
  r->cap = cap;
  r->used = 0;
  for (size_t i = 0; i < old_cap; i++)
    if (old[i] && old[i] != TOMB) {
      r->slot[find_locked(r, old[i]->spool_seq)] = old[i];
      r->used++;
    }
  free(old);
  return 0;
}

void nh_spool_remote_add(nh_client *c, nh_job *job) {
  nh_spool_remote *r = c->remote;
  pthread_mutex_lock(&r->lock);
  int ok = grow_locked(r) == 0;
  if (ok) {
    r->slot[find_locked(r, job->spool_seq)] = job;
    r->used++;
    __atomic_add_fetch(&r->count, 1, __ATOMIC_RELEASE);
    double due = job->deadline > 0 ? job->deadline + GRACE : INFINITY;
    if (due < r->first_due) r->first_due = due;
  }
  size_t count = __atomic_load_n(&r->count, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&r->lock);
  if (!ok) {
    nh_finish_fail(c, job, NH_NO_MEMORY,
                   "out of memory waiting for its receipt (another client may deliver it)");
    return;
  }
  if (count == 1) nh_spool_writer_wake(c); /* it polls receipts while one waits */
}

/* r->lock held: takes out the job in slot i. */
static nh_job *remove_locked(nh_spool_remote *r, size_t i) {
  nh_job *job = r->slot[i];
  r->slot[i] = TOMB;
  __atomic_sub_fetch(&r->count, 1, __ATOMIC_RELEASE);
  return job;
}

nh_job *nh_spool_remote_take(nh_client *c, int64_t seq) {
  nh_spool_remote *r = c->remote;
  nh_job *job = NULL;
  if (!r || !nh_spool_remote_count(c)) return NULL;
  pthread_mutex_lock(&r->lock);
  size_t i = find_locked(r, seq);
  if (r->slot[i]) job = remove_locked(r, i);
  pthread_mutex_unlock(&r->lock);
  return job;
}

/* r->lock held: the jobs due by now, taken out, in a new array (NULL
 * without memory: they are looked at again next time). */
static nh_job **collect_due_locked(nh_spool_remote *r, double now, size_t *n) {
  nh_job **out = malloc((r->count ? r->count : 1) * sizeof *out);
  double first = INFINITY;
  *n = 0;
  for (size_t i = 0; out && i < r->cap; i++) {
    nh_job *job = r->slot[i];
    if (!job || job == TOMB) continue;
    double due = job->deadline > 0 ? job->deadline + GRACE : INFINITY;
    if (due <= now) out[(*n)++] = remove_locked(r, i);
    else if (due < first) first = due;
  }
  if (out) r->first_due = first;
  return out;
}

/* ---- ending ---------------------------------------------------------------- */

/* The other client's outcome becomes the job's. */
static void end_with(nh_client *c, nh_job *job, const char *receipt) {
  if (nh_spool_job_receipt(job, receipt) != 0) {
    nh_finish_fail(c, job, NH_INTERNAL, "a receipt from another client that could not be read");
    return;
  }
  nh_log(&c->log, NH_LOG_DEBUG, 0, job->msg.id, "receipt from another client: %s",
         nh_job_succeeded(job) ? "delivered" : "not delivered");
  nh_finish_job(c, job);
}

static void end_due(nh_client *c) {
  nh_spool_remote *r = c->remote;
  double now = nh_now();
  pthread_mutex_lock(&r->lock);
  size_t n = 0;
  nh_job **due = now >= r->first_due ? collect_due_locked(r, now, &n) : NULL;
  pthread_mutex_unlock(&r->lock);
  for (size_t i = 0; i < n; i++)
    nh_finish_fail(c, due[i], NH_TIMEOUT,
                   "no receipt within the deadline: it may still be delivered by another client");
  free(due);
}

/* The job a receipt names, taken out of the list (NULL: none listed). */
static nh_job *take_named(nh_client *c, const nh_spool_receipt_in *in) {
  nh_job *job = nh_spool_remote_take(c, in->seq);
  if (job && in->id && strcmp(in->id, job->msg.id) != 0) {
    nh_spool_remote_add(c, job); /* not its receipt after all */
    job = NULL;
  }
  return job;
}

/* Kept a little while (it owns in's strings), or dropped. */
static void keep_orphan(nh_spool_remote *r, nh_spool_receipt_in *in) {
  if (r->n_orphans == r->cap_orphans && r->cap_orphans < ORPHANS_MAX) {
    size_t cap = r->cap_orphans ? 2 * r->cap_orphans : 16;
    orphan *more = realloc(r->orphans, cap * sizeof *more);
    if (more) r->orphans = more, r->cap_orphans = cap;
  }
  if (r->n_orphans == r->cap_orphans) {
    nh_spool_receipt_in_free(in);
    return;
  }
  r->orphans[r->n_orphans++] = (orphan){ *in, nh_now() };
}

/* Orphans whose job is listed now end it; those past ORPHAN_KEEP go. */
static void match_orphans(nh_client *c) {
  nh_spool_remote *r = c->remote;
  double now = nh_now();
  size_t k = 0;
  for (size_t i = 0; i < r->n_orphans; i++) {
    orphan *o = &r->orphans[i];
    nh_job *job = take_named(c, &o->in);
    if (job) end_with(c, job, o->in.receipt);
    if (job || now - o->at > ORPHAN_KEEP) {
      if (!job)
        nh_log(&c->log, NH_LOG_DEBUG, 0, o->in.id, "a receipt for no waiting message: dropped");
      nh_spool_receipt_in_free(&o->in);
    } else {
      r->orphans[k++] = *o;
    }
  }
  r->n_orphans = k;
}

/* One read of the store's receipts; how many came. */
static size_t read_some(nh_client *c) {
  nh_spool_receipt_in in[RECEIPTS_MAX];
  size_t n = 0;
  char err[256];
  if (c->spool->be->receipts(c->spool, in, RECEIPTS_MAX, &n, err, sizeof err) != NH_OK) {
    nh_log(&c->log, NH_LOG_DEBUG, 0, NULL, "%s (receipts: will try again)", err);
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    nh_job *job = take_named(c, &in[i]);
    if (!job) {
      keep_orphan(c->remote, &in[i]);
      continue;
    }
    end_with(c, job, in[i].receipt);
    nh_spool_receipt_in_free(&in[i]);
  }
  return n;
}

void nh_spool_remote_poll(nh_client *c) {
  if (!c->remote) return;
  if (c->remote->n_orphans) match_orphans(c);
  for (int k = 0; k < RECEIPT_ROUNDS && nh_spool_remote_count(c) > 0; k++)
    if (read_some(c) < RECEIPTS_MAX) break;
  end_due(c);
}

/* No lock: the workers are joined and the writer stopped, nobody else
 * looks at the list (and nothing here needs memory). */
void nh_spool_remote_close(nh_client *c) {
  nh_spool_remote *r = c->remote;
  if (!r) return;
  c->remote = NULL;
  for (size_t i = 0; i < r->cap; i++) {
    nh_job *job = r->slot[i];
    if (!job || job == TOMB) continue;
    __atomic_store_n(&job->remote, 1, __ATOMIC_RELEASE);
    nh_finish_fail(c, job, NH_HANDED_OVER,
                   "client closed before its receipt came: another client on the spool "
                   "delivers it");
  }
  for (size_t i = 0; i < r->n_orphans; i++) nh_spool_receipt_in_free(&r->orphans[i].in);
  free(r->orphans);
  pthread_mutex_destroy(&r->lock);
  free(r->slot);
  free(r);
}
