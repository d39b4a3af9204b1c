/*
 * nh_redis_store.h: the Redis spool's parts (csrc/nh_redis*.c), private to them (not nh_redis.h: it
 * is below them all, nh_redis.c among them). nh_redis.c: the handle, the connection, the scripts'
 * calls and errors; nh_redis_url.c: spool.redis and spool.prefix; nh_redis_lua.c: the scripts;
 * nh_redis_queue.c: the queue's entries; nh_redis_inspect.c: rates, receipts and the inspector's
 * entries.
 */
#ifndef NH_REDIS_STORE_H
#define NH_REDIS_STORE_H

#include <pthread.h>

#include "nh_internal.h"

struct redisContext;
struct redisReply;

/* spool.redis, parsed. path: "redis://[user@]host:port/db", what errors
 * show (never the password). */
typedef struct nh_redis_url {
  char host[256];
  int port;
  int db;
  char user[128];
  char password[256];
  char path[512];
} nh_redis_url;

/* 0, or -1 with err ("spool.redis: <which part> ..."; never the URL's
 * password). [pure] */
int nh_redis_url_parse(const char *url, nh_redis_url *u, char *err, size_t errlen);
/* 0 when prefix is 1 to 64 of A-Z a-z 0-9 _ . : - ; [pure] */
int nh_redis_prefix_ok(const char *prefix);

/* The scripts, each loaded once per connection (EVALSHA). */
enum {
  NH_RS_PUT,
  NH_RS_FINISH,
  NH_RS_TAKE,
  NH_RS_RENEW,
  NH_RS_UNPARK,
  NH_RS_RELEASE,
  NH_RS_RATE,
  NH_RS_FAILED,
  NH_RS_RETRY,
  NH_RS_PURGE,
  NH_RS_RECEIPTS,
  NH_RS_STATS,
  NH_RS_UNDO,
  NH_RS_CHECK,
  NH_RS_COUNT
};
/* Script i's text (the common prelude and its body), malloc'd; NULL
 * without memory. */
char *nh_redis_script(int i);

typedef struct nh_redis {
  nh_spool base;
  pthread_mutex_t lock; /* a hiredis context is one thread's at a time */
  struct redisContext *ctx;
  nh_redis_url url;
  char prefix[65];
  double timeout; /* seconds: connect and every command (atomic: set without the lock) */
  double bound;   /* the lock's: this call's seconds, what is left of timeout */
  unsigned fork_generation;
  char owner[128]; /* the consumer name: host, pid, random */
  char sha[NH_RS_COUNT][41];
  unsigned long long sends; /* rate windows' members: owner + this */
  unsigned long long calls; /* the tokens of puts and takes */
  unsigned takes;           /* every 64th take drops the consumers of gone processes */
  char undo[24];            /* the token of a put or take whose answer was lost; "": none */
} nh_redis;

/* Each entry runs between enter (the lock; NH_CLOSED in a forked child;
 * a connection, made when there is none) and leave. The lock is waited
 * for within the timeout (SPOOL_BUSY past it), and the call gets what is
 * left; enter_any waits for the lock as long as it takes (a worker's, that
 * nobody waits on), then gives the call the whole timeout. */
nh_code nh_redis_enter(nh_redis *r, char *err, size_t errlen);
nh_code nh_redis_enter_any(nh_redis *r, char *err, size_t errlen);
void nh_redis_leave(nh_redis *r);

/* One script call's arguments: the prelude's (prefix, owner, now) come
 * first, then what the caller adds. */
typedef struct nh_redis_args {
  const char **argv;
  size_t *lens;
  char **owned; /* formatted numbers, freed with the args */
  size_t n, cap, n_owned;
  int failed; /* out of memory */
} nh_redis_args;
void nh_redis_args_init(nh_redis_args *a, nh_redis *r, int script, double now);
/* A put's or take's first argument: this call's token. A call whose answer
 * is lost (the connection broke, or no answer in time) is undone at the
 * next connection, before anything else (undo.lua): the messages a put
 * recorded go (its caller was told they were not), those a take took are
 * queued again (nobody has them in memory). */
void nh_redis_args_token(nh_redis_args *a, nh_redis *r);
void nh_redis_args_add(nh_redis_args *a, const char *s, size_t len);
void nh_redis_args_str(nh_redis_args *a, const char *s); /* NULL: "" */
void nh_redis_args_num(nh_redis_args *a, double v);
void nh_redis_args_int(nh_redis_args *a, long long v);
void nh_redis_args_free(nh_redis_args *a);

/* Sends the calls (one round trip: pipelined) and reads their replies
 * into replies[i] (free each with nh_redis_reply_free). A script the
 * server lost (NOSCRIPT: it restarted) is loaded and the call made again.
 * On failure every reply is NULL, the connection dropped when it broke,
 * and err says why. */
nh_code nh_redis_call(nh_redis *r, nh_redis_args *calls, size_t n, struct redisReply **replies,
                      const char *what, char *err, size_t errlen);
void nh_redis_reply_free(struct redisReply *reply);
/* "spool <path>: <why>" into err; returns code. */
nh_code nh_redis_refuse(nh_redis *r, nh_code code, char *err, size_t errlen, const char *fmt, ...);

/* Reply helpers: element i of an array reply as a number / a string
 * (NULL when it is not one). */
long long nh_redis_int(const struct redisReply *a, size_t i);
const char *nh_redis_str(const struct redisReply *a, size_t i, size_t *len);

/* nh_redis_queue.c and nh_redis_inspect.c: the backend's entries. */
nh_code nh_redis_put_finish(nh_spool *sp, nh_spool_item *items, size_t n, nh_spool_end *ends,
                            size_t m, char *err, size_t errlen);
nh_code nh_redis_finish(nh_spool *sp, nh_spool_end *ends, size_t n, double now, char *err,
                        size_t errlen);
nh_code nh_redis_take(nh_spool *sp, double now, size_t max, nh_spool_rec *out, size_t *n, char *err,
                      size_t errlen);
nh_code nh_redis_renew(nh_spool *sp, double now, size_t *held, char *err, size_t errlen);
nh_code nh_redis_unpark(nh_spool *sp, int64_t seq, double now, int *held, char *err, size_t errlen);
nh_code nh_redis_release(nh_spool *sp, size_t *n, char *err, size_t errlen);
nh_code nh_redis_rate_take(nh_spool *sp, const char *key, const nh_rate_rule *rules, int n_rules,
                           double now, double *wait, char *err, size_t errlen);
nh_code nh_redis_stats(nh_spool *sp, nh_spool_summary *st, char *err, size_t errlen);
nh_code nh_redis_failed(nh_spool *sp, size_t limit, nh_spool_failure **out, size_t *n, char *err,
                        size_t errlen);
nh_code nh_redis_retry(nh_spool *sp, const char *id, size_t *n, char *err, size_t errlen);
nh_code nh_redis_purge_failed(nh_spool *sp, size_t *n, char *err, size_t errlen);
nh_code nh_redis_receipts(nh_spool *sp, nh_spool_receipt_in *out, size_t max, size_t *n, char *err,
                          size_t errlen);

#endif
