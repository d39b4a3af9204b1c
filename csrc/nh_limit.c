/*
 * nh_limit.c: rate limits per destination (a bot's URL, a Telegram chat),
 * shared by all the workers of a client.
 *
 * A rule "at most N requests in any `per` seconds" is kept exactly as a ring
 * of the last N send times: a send may go when the oldest of them is `per`
 * seconds old. A token bucket would let 2N through in some window; services
 * count windows, so this counts the same way. A small margin covers the
 * time between starting a transfer here and its arrival there.
 */
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

#define MARGIN 0.02         /* seconds added to every window */
#define BUCKETS 256

typedef struct ring {
  int count;
  double per;
  double *times;            /* count slots, oldest at `next` once full */
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
};

nh_limits *nh_limits_new(void) {
  nh_limits *l = calloc(1, sizeof *l);
  if (l) pthread_mutex_init(&l->lock, NULL);
  return l;
}

void nh_limits_free(nh_limits *l) {
  if (!l) return;
  for (int b = 0; b < BUCKETS; b++) {
    entry *e = l->buckets[b];
    while (e) {
      entry *next = e->next;
      for (int i = 0; i < e->n; i++) free(e->rings[i].times);
      free(e->key);
      free(e);
      e = next;
    }
  }
  pthread_mutex_destroy(&l->lock);
  free(l);
}

static unsigned hash(const char *s) {
  unsigned h = 2166136261u;                      /* FNV-1a */
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
