/*
 * stress_core.c: the Lua-free core driven from C by many threads at once,
 * for ThreadSanitizer (make tsan) and AddressSanitizer (make asan-core).
 *
 *   stress_core BASE_URL [ROUNDS] [--racy-submit] [--no-inline-cancel] [--no-cancel]
 *               [--seed N]
 *
 * BASE_URL is the loopback server of spec/support/server.lua
 * ("http://127.0.0.1:PORT"): /sink answers 200 at once, /sink/delay/<ms>
 * later, /webhook/stress?status=503 fails (and is retried).
 *
 * Each run takes one mode (pool, direct: a thread per message, inline:
 * async.enabled = false) and one layout: four producer threads sharing one
 * client, or each producer with a client of its own. Around the producers:
 *   - cancellers call nh_client_cancel() on random submitted jobs from
 *     threads of their own (the job's state is readable from any thread),
 *     and on jobs inside nh_client_submit() (in inline mode: running);
 *   - a taker thread waits on the completion queue and takes completions
 *     while the producers still submit (producers take some too);
 *   - some jobs are detached and released at once, while workers hold them;
 *   - a closer thread closes each client at a random moment with a short
 *     deadline, racing the submits (which then answer CLOSED);
 *   - jobs have 1-3 targets, priorities, retries, short deadlines, rate
 *     limits; the pool grows and idle workers retire.
 *
 * The owner contract: next_seq and detaches_seen in nh_client.c are the
 * owner thread's, so the calls a Lua owner would make (submit, take,
 * detach, release, close) go through one mutex per client, the "owner
 * lock": they come from several threads, never at the same time.
 * nh_client_cancel() and nh_client_wait() are called without it.
 * --racy-submit drops the owner lock around nh_client_submit() to show what
 * concurrent submitters would race on (not part of make tsan).
 * --no-inline-cancel keeps cancels from other threads away from inline mode;
 * --no-cancel runs no canceller thread at all.
 *
 * Checks, per client: every job submitted and not detached is taken
 * exactly once, detached ones never; stats add up: submitted = accepted,
 * succeeded + failed + cancelled + timed_out = submitted, nothing queued,
 * in flight or waiting at the end, taken + dropped = submitted, dropped =
 * detached; each taken job is DONE and its results agree with its code.
 * Ends with "stress: N passed, N failed".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nh_core.h"

#define PRODUCERS 4
#define JOBS_PER_PRODUCER 200
#define CANCELLERS 2

enum { MODE_POOL, MODE_DIRECT, MODE_INLINE };
static const char *const mode_names[] = { "pool", "direct", "inline" };

#define MAX_JOBS (PRODUCERS * JOBS_PER_PRODUCER)

/* One per job made, by its tag (metadata.tag): registered before submit,
 * so that cancellers can reach a job while it is being submitted. */
typedef struct slot {
  nh_job *job; /* the caller's reference, until taken or detached */
  int accepted, detached, taken;
} slot;

typedef struct client_ctx {
  nh_client *c;
  pthread_mutex_t owner; /* the owner thread's calls, one at a time */
  pthread_mutex_t reg;   /* slots, n_tags */
  slot slots[MAX_JOBS];
  int n_tags;
  size_t accepted, refused, taken, detached, duplicates, strangers, bad_results;
  int closed; /* under owner */
  double close_after;
  double close_deadline;
} client_ctx;

typedef struct run {
  const char *base;
  int mode, shared, racy, round;
  int n_clients;
  client_ctx clients[PRODUCERS];
  int producers_left;         /* atomic */
  int stop_cancel, stop_take; /* atomic */
} run;

typedef struct producer_arg {
  run *r;
  int index;
} producer_arg;

static int racy_submit, inline_cancel = 1, no_cancel;
static const char *spool_dir; /* --spool DIR: every client on a spool there */
static unsigned base_seed = 1;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *url_for(const char *base, unsigned *seed) {
  char buf[256];
  int k = rand_r(seed) % 20;
  if (k < 11) snprintf(buf, sizeof buf, "%s/sink", base);
  else if (k < 17) snprintf(buf, sizeof buf, "%s/sink/delay/%d", base, 5 + rand_r(seed) % 60);
  else snprintf(buf, sizeof buf, "%s/webhook/stress?status=503", base);
  return strdup(buf);
}

static nh_job *make_job(run *r, unsigned *seed, int producer, int i, int tag) {
  size_t n = 1 + (size_t)(rand_r(seed) % 3);
  nh_job *job = nh_job_new(n);
  char id[64];
  snprintf(id, sizeof id, "r%d-%s-p%d-%d", r->round, mode_names[r->mode], producer, i);
  job->msg.id = strdup(id);
  job->msg.metadata = cJSON_CreateObject();
  cJSON_AddNumberToObject(job->msg.metadata, "tag", tag);
  job->msg.body = strdup("stress");
  job->msg.priority = rand_r(seed) % 4;
  job->retry.max_attempts = 1 + rand_r(seed) % 3;
  job->retry.initial_delay = 0.002;
  job->retry.max_delay = 0.02;
  job->retry.multiplier = 2;
  if (rand_r(seed) % 6 == 0) job->timeout = 0.005 + (rand_r(seed) % 50) / 1000.0;
  for (size_t t = 0; t < n; t++) {
    nh_target *tg = &job->msg.targets[t];
    tg->platform = NH_PLATFORM_WEBHOOK;
    tg->url = url_for(r->base, seed);
    tg->label = strdup("stress");
    if (rand_r(seed) % 5 == 0) {
      tg->n_rate = 1;
      tg->rate[0].count = 20;
      tg->rate[0].per = 0.02;
    }
  }
  return job;
}

static int tag_of(const nh_job *job) {
  const cJSON *tag = cJSON_GetObjectItemCaseSensitive(job->msg.metadata, "tag");
  return cJSON_IsNumber(tag) ? tag->valueint : -1;
}

/* A new job's slot: the job is the cancellers' from now on. */
static nh_job *new_job(run *r, client_ctx *cx, unsigned *seed, int producer, int i) {
  pthread_mutex_lock(&cx->reg);
  int tag = cx->n_tags++;
  nh_job *job = make_job(r, seed, producer, i, tag);
  cx->slots[tag].job = job;
  pthread_mutex_unlock(&cx->reg);
  return job;
}

static int results_agree(const nh_job *job) {
  if (nh_job_state(job) != NH_JOB_DONE) return 0;
  int all_ok = job->msg.n_targets > 0;
  for (size_t i = 0; i < job->msg.n_targets; i++) {
    const nh_result *res = &job->results[i];
    if (res->success != (res->code == NH_OK)) return 0;
    if (!res->success && !res->error) return 0;
    all_ok &= res->success;
  }
  if (all_ok != nh_job_succeeded(job)) return 0;
  /* A job that ended as a whole (cancel, deadline, close) failed somewhere. */
  if (job->code != NH_OK && all_ok) return 0;
  return 1;
}

/* Owner lock held. Returns how many were taken. */
static size_t take_some(client_ctx *cx) {
  nh_job *done[32];
  size_t n = nh_client_take(cx->c, done, 32);
  for (size_t k = 0; k < n; k++) {
    nh_job *job = done[k];
    int ours = 0;
    pthread_mutex_lock(&cx->reg);
    int tag = tag_of(job);
    if (tag < 0 || tag >= cx->n_tags) {
      cx->strangers++;
    } else if (cx->slots[tag].taken) {
      cx->duplicates++;
    } else if (cx->slots[tag].job != job) {
      cx->strangers++;
    } else {
      cx->slots[tag].taken = 1;
      cx->slots[tag].job = NULL;
      ours = 1;
    }
    pthread_mutex_unlock(&cx->reg);
    if (!ours) {
      fprintf(stderr, "stress: a completion that was not due (tag %d)\n", tag);
      continue;
    }
    cx->taken++;
    if (!results_agree(job)) {
      cx->bad_results++;
      fprintf(stderr, "stress: job %s: results disagree with code %s\n", job->msg.id,
              nh_code_name(job->code));
    }
    nh_job_release(job); /* the core's reference */
    nh_job_release(job); /* ours */
  }
  return n;
}

static void *producer(void *arg) {
  producer_arg *pa = arg;
  run *r = pa->r;
  client_ctx *cx = &r->clients[r->shared ? 0 : pa->index];
  unsigned seed = base_seed * 7919u + (unsigned)(r->round * 131 + r->mode * 17 + pa->index);
  char err[256];
  for (int i = 0; i < JOBS_PER_PRODUCER; i++) {
    nh_job *job = new_job(r, cx, &seed, pa->index, i);
    int tag = tag_of(job);
    int lock_submit = !(r->racy && r->shared);
    if (lock_submit) pthread_mutex_lock(&cx->owner);
    nh_code rc = nh_client_submit(cx->c, job, 0.02, err, sizeof err);
    if (!lock_submit) pthread_mutex_lock(&cx->owner);
    if (rc == NH_OK) {
      cx->accepted++;
      pthread_mutex_lock(&cx->reg);
      cx->slots[tag].accepted = 1;
      pthread_mutex_unlock(&cx->reg);
      if (rand_r(&seed) % 8 == 0) { /* a handle dropped at once */
        pthread_mutex_lock(&cx->reg);
        cx->slots[tag].job = NULL;
        cx->slots[tag].detached = 1;
        pthread_mutex_unlock(&cx->reg);
        nh_job_detach(job);
        nh_job_release(job);
        cx->detached++;
      }
      if (rand_r(&seed) % 4 == 0) take_some(cx);
    } else {
      cx->refused++;
      pthread_mutex_lock(&cx->reg);
      cx->slots[tag].job = NULL;
      pthread_mutex_unlock(&cx->reg);
      nh_job_release(job);
    }
    pthread_mutex_unlock(&cx->owner);
    if (rc == NH_CLOSED) break;
    if (rand_r(&seed) % 3 == 0) usleep((useconds_t)(rand_r(&seed) % 400));
  }
  __atomic_sub_fetch(&r->producers_left, 1, __ATOMIC_RELEASE);
  return NULL;
}

static void *canceller(void *arg) {
  run *r = arg;
  unsigned seed = base_seed * 31u + (unsigned)r->round;
  while (!__atomic_load_n(&r->stop_cancel, __ATOMIC_ACQUIRE)) {
    client_ctx *cx = &r->clients[rand_r(&seed) % r->n_clients];
    pthread_mutex_lock(&cx->reg);
    nh_job *job = NULL;
    int n = cx->n_tags;
    if (n > 0) {
      /* One in four among the newest four: often inside submit (inline: running). */
      int span = rand_r(&seed) % 4 == 0 && n > 4 ? 4 : n;
      job = cx->slots[n - 1 - rand_r(&seed) % span].job;
    }
    if (job) nh_client_cancel(cx->c, job); /* our reference keeps it alive */
    pthread_mutex_unlock(&cx->reg);
    usleep((useconds_t)(100 + rand_r(&seed) % 400));
  }
  return NULL;
}

static void *taker(void *arg) {
  run *r = arg;
  while (!__atomic_load_n(&r->stop_take, __ATOMIC_ACQUIRE)) {
    for (int k = 0; k < r->n_clients; k++) {
      client_ctx *cx = &r->clients[k];
      if (!nh_client_wait(cx->c, 0.002)) continue;
      pthread_mutex_lock(&cx->owner);
      take_some(cx);
      pthread_mutex_unlock(&cx->owner);
    }
  }
  return NULL;
}

static void *closer(void *arg) {
  run *r = arg;
  double start = now();
  int left = r->n_clients;
  while (left > 0) {
    left = 0;
    for (int k = 0; k < r->n_clients; k++) {
      client_ctx *cx = &r->clients[k];
      pthread_mutex_lock(&cx->owner);
      if (!cx->closed && now() - start >= cx->close_after) {
        nh_client_close(cx->c, cx->close_deadline);
        cx->closed = 1;
      }
      left += !cx->closed;
      pthread_mutex_unlock(&cx->owner);
    }
    usleep(1000);
  }
  return NULL;
}

static int check_client(run *r, int k) {
  client_ctx *cx = &r->clients[k];
  int ok = 1;
  nh_stats s;
  /* Closed: every job has completed; take what is left. */
  pthread_mutex_lock(&cx->owner);
  while (take_some(cx) > 0) {}
  pthread_mutex_unlock(&cx->owner);
  nh_client_stats(cx->c, &s);
  size_t not_taken = 0, detached_taken = 0;
  for (int tag = 0; tag < cx->n_tags; tag++) {
    slot *sl = &cx->slots[tag];
    if (!sl->accepted) continue;
    if (sl->detached && sl->taken) detached_taken++;
    if (!sl->detached && !sl->taken) {
      not_taken++;
      if (sl->job) {
        fprintf(stderr, "stress: job %s (state %d) never completed\n", sl->job->msg.id,
                nh_job_state(sl->job));
        sl->job = NULL; /* the core may still hold it: leave it */
      }
    }
  }
  uint64_t ended = s.succeeded + s.failed + s.cancelled + s.timed_out;
#define EXPECT(cond)                                                                 \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      fprintf(stderr, "stress: %s/%s client %d: expected %s\n", mode_names[r->mode], \
              r->shared ? "shared" : "own", k, #cond);                               \
      ok = 0;                                                                        \
    }                                                                                \
  } while (0)
  EXPECT(s.submitted == cx->accepted);
  EXPECT(ended == s.submitted);
  EXPECT(s.queued + s.in_flight + s.waiting == 0);
  EXPECT(s.completed_unread == 0);
  EXPECT(cx->taken + s.dropped == s.submitted);
  EXPECT(s.dropped == cx->detached);
  EXPECT(not_taken == 0);
  EXPECT(detached_taken == 0);
  EXPECT(cx->duplicates == 0);
  EXPECT(cx->strangers == 0);
  EXPECT(cx->bad_results == 0);
  EXPECT(nh_client_pending(cx->c) == 0);
  EXPECT(s.closed <= s.failed);
#undef EXPECT
  printf("  %-6s %-6s client %d: submitted=%llu refused=%zu taken=%zu dropped=%llu "
         "ok=%llu failed=%llu (closed %llu) cancelled=%llu timed_out=%llu retried=%llu "
         "threads=%llu %s\n",
         mode_names[r->mode], r->shared ? "shared" : "own", k, (unsigned long long)s.submitted,
         cx->refused, cx->taken, (unsigned long long)s.dropped, (unsigned long long)s.succeeded,
         (unsigned long long)s.failed, (unsigned long long)s.closed,
         (unsigned long long)s.cancelled, (unsigned long long)s.timed_out,
         (unsigned long long)s.retried, (unsigned long long)s.threads_created,
         ok ? "ok" : "MISMATCH");
  return ok;
}

static int run_one(const char *base, int round, int mode, int shared) {
  run *r = calloc(1, sizeof *r); /* big: slots for every job */
  unsigned seed = base_seed + (unsigned)(round * 1000 + mode * 10 + shared);
  r->base = base;
  r->round = round;
  r->mode = mode;
  r->shared = shared;
  r->racy = racy_submit;
  r->n_clients = shared ? 1 : PRODUCERS;
  nh_options o;
  nh_options_default(&o);
  o.enabled = mode != MODE_INLINE;
  o.use_pool = mode == MODE_POOL;
  o.workers = 4;
  o.min_workers = 2;
  o.max_workers = 12;
  o.concurrency = 4;
  o.buffer_size = mode == MODE_DIRECT ? 48 : 256;
  o.grow_after = 0.002;
  o.idle_timeout = 0.03;
  o.timeout_ms = 2000;
  o.connect_timeout_ms = 1000;
  o.log_level = NH_LOG_DEBUG;
  o.log_failures = 1;
  char err[256];
  for (int k = 0; k < r->n_clients; k++) {
    client_ctx *cx = &r->clients[k];
    pthread_mutex_init(&cx->owner, NULL);
    pthread_mutex_init(&cx->reg, NULL);
    char path[4096];
    if (spool_dir) { /* a fresh spool per client: the writer thread in the same races */
      snprintf(path, sizeof path, "%s/stress-%d-%d-%d-%d.db", spool_dir, round, mode, shared, k);
      o.spool.path = path;
    }
    cx->c = nh_client_new(&o, err, sizeof err);
    if (!cx->c) {
      fprintf(stderr, "nh_client_new: %s\n", err);
      exit(2);
    }
    cx->close_after = 0.05 + (rand_r(&seed) % 400) / 1000.0;
    cx->close_deadline = (rand_r(&seed) % 30) / 1000.0;
  }
  int foreign_cancel = !no_cancel && (mode != MODE_INLINE || inline_cancel);
  pthread_t prod[PRODUCERS], can[CANCELLERS], tk, cl;
  producer_arg args[PRODUCERS];
  r->producers_left = PRODUCERS;
  for (int i = 0; i < PRODUCERS; i++) {
    args[i] = (producer_arg){ r, i };
    pthread_create(&prod[i], NULL, producer, &args[i]);
  }
  for (int i = 0; foreign_cancel && i < CANCELLERS; i++)
    pthread_create(&can[i], NULL, canceller, r);
  pthread_create(&tk, NULL, taker, r);
  pthread_create(&cl, NULL, closer, r);
  for (int i = 0; i < PRODUCERS; i++) pthread_join(prod[i], NULL);
  pthread_join(cl, NULL);
  __atomic_store_n(&r->stop_cancel, 1, __ATOMIC_RELEASE);
  for (int i = 0; foreign_cancel && i < CANCELLERS; i++) pthread_join(can[i], NULL);
  __atomic_store_n(&r->stop_take, 1, __ATOMIC_RELEASE);
  pthread_join(tk, NULL);
  int ok = 1;
  for (int k = 0; k < r->n_clients; k++) {
    ok &= check_client(r, k);
    client_ctx *cx = &r->clients[k];
    nh_log_free(nh_client_logs(cx->c));
    nh_client_free(cx->c);
    pthread_mutex_destroy(&cx->owner);
    pthread_mutex_destroy(&cx->reg);
  }
  free(r);
  return ok;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: stress_core BASE_URL [ROUNDS] [--racy-submit] [--no-inline-cancel] "
                    "[--no-cancel] [--seed N] [--spool DIR]\n");
    return 2;
  }
  int rounds = 2;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--racy-submit") == 0) racy_submit = 1;
    else if (strcmp(argv[i], "--no-inline-cancel") == 0) inline_cancel = 0;
    else if (strcmp(argv[i], "--no-cancel") == 0) no_cancel = 1;
    else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) base_seed = (unsigned)atoi(argv[++i]);
    else if (strcmp(argv[i], "--spool") == 0 && i + 1 < argc) spool_dir = argv[++i];
    else rounds = atoi(argv[i]);
  }
  int passed = 0, failed = 0;
  double start = now();
  for (int round = 0; round < rounds; round++)
    for (int mode = MODE_POOL; mode <= MODE_INLINE; mode++)
      for (int shared = 1; shared >= 0; shared--) {
        if (run_one(argv[1], round, mode, shared)) passed++;
        else failed++;
        fflush(stdout);
      }
  printf("stress: %d passed, %d failed (%.1f s)\n", passed, failed, now() - start);
  return failed ? 1 : 0;
}
