/*
 * nh_limit.c: rate limits per destination (a bot's URL, a Telegram chat),
 * shared by all the workers of a client.
 *
 * A rule "at most N requests in any `per` seconds" is kept exactly as a ring
 * of the last N send times: a send may go when the oldest of them is `per`
 * seconds old. A token bucket would let 2N through in some window; services
 * count windows, so this counts the same way. A small margin covers the
 * time between starting a transfer here and its arrival there.
 *
 * A destination whose every ring's newest send is older than its window
 * constrains nothing: it is dropped (each call sweeps one bucket, so the
 * table holds about the destinations sent to within their windows, however
 * many there were). Its rules are taken from the first target that uses it
 * again.
 */
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define MARGIN 0.02 /* seconds added to every window */
#define BUCKETS 256

typedef struct ring {
  int count;
  double per;
  double *times; /* count slots, oldest at `next` once full */
  int next, used;
} ring;

typedef struct entry {
  char *key;
  ring rings[NH_MAX_RATE_RULES];
  int n;
  struct entry *next;
} entry;

struct nh_limits {
  pthread_mutex_t lock;
  entry *buckets[BUCKETS];
  size_t entries;
  unsigned sweep; /* the bucket the next call sweeps */
};

nh_limits *nh_limits_new(void) {
  nh_limits *l = calloc(1, sizeof *l);
  if (l) pthread_mutex_init(&l->lock, NULL);
  return l;
}

static void entry_free(entry *e) {
  for (int i = 0; i < e->n; i++) free(e->rings[i].times);
  free(e->key);
  free(e);
}

void nh_limits_free(nh_limits *l) {
  if (!l) return;
  for (int b = 0; b < BUCKETS; b++) {
    entry *e = l->buckets[b];
    while (e) {
      entry *next = e->next;
      entry_free(e);
      e = next;
    }
  }
  pthread_mutex_destroy(&l->lock);
  free(l);
}

/* Every ring's newest send is more than its window ago (or none was made). */
static int idle(const entry *e, double now) {
  for (int i = 0; i < e->n; i++) {
    const ring *r = &e->rings[i];
    if (r->used == 0) continue;
    double newest = r->times[(r->next + r->count - 1) % r->count];
    if (newest + r->per + MARGIN > now) return 0;
  }
  return 1;
}

static void sweep_bucket(nh_limits *l, unsigned b, double now) {
  entry **link = &l->buckets[b];
  while (*link) {
    entry *e = *link;
    if (idle(e, now)) {
      *link = e->next;
      entry_free(e);
      l->entries--;
    } else {
      link = &e->next;
    }
  }
}

size_t nh_limits_count(nh_limits *l) {
  if (!l) return 0;
  pthread_mutex_lock(&l->lock);
  size_t n = l->entries;
  pthread_mutex_unlock(&l->lock);
  return n;
}

static unsigned hash(const char *s) {
  unsigned h = 2166136261u; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h % BUCKETS;
}

static entry *find(nh_limits *l, const nh_target *t, const char *key) {
  unsigned b = hash(key);
  for (entry *e = l->buckets[b]; e; e = e->next)
    if (strcmp(e->key, key) == 0) return e;
  entry *e = calloc(1, sizeof *e);
  if (!e || !(e->key = nh_strdup(key))) {
    free(e);
    return NULL;
  }
  for (int i = 0; i < t->n_rate; i++) {
    e->rings[i].count = t->rate[i].count;
    e->rings[i].per = t->rate[i].per;
    e->rings[i].times = calloc((size_t)t->rate[i].count, sizeof(double));
    if (!e->rings[i].times) break;
    e->n++;
  }
  e->next = l->buckets[b];
  l->buckets[b] = e;
  l->entries++;
  return e;
}

/* Seconds until the ring allows one more send at `now`. */
static double ring_wait(const ring *r, double now) {
  if (r->used < r->count) return 0;
  double free_at = r->times[r->next] + r->per + MARGIN;
  return free_at > now ? free_at - now : 0;
}

static void ring_add(ring *r, double now) {
  r->times[r->next] = now;
  r->next = (r->next + 1) % r->count;
  if (r->used < r->count) r->used++;
}

double nh_limits_reserve(nh_limits *l, const nh_target *t, double now) {
  if (t->n_rate == 0 || !l) return 0;
  const char *key = t->rate_key ? t->rate_key : t->url;
  double wait = 0;
  pthread_mutex_lock(&l->lock);
  sweep_bucket(l, l->sweep++ % BUCKETS, now);
  entry *e = find(l, t, key);
  for (int i = 0; e && i < e->n; i++) {
    double w = ring_wait(&e->rings[i], now);
    if (w > wait) wait = w;
  }
  if (e && wait == 0)
    for (int i = 0; i < e->n; i++) ring_add(&e->rings[i], now);
  pthread_mutex_unlock(&l->lock);
  return wait;
}
