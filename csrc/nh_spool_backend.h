/*
 * nh_spool_backend.h: the spool's backends (issue 15).
 *
 * One interface, two stores behind it (DESIGN.md: "the rest of the core
 * does not know which one it talks to"): SQLite (spool.path: nh_sqlite_*,
 * csrc/nh_spool*.c) and Redis (spool.redis: nh_redis_*, csrc/nh_redis*.c).
 * nh_spool_open picks one from the options; every nh_spool_* call of
 * nh_core.h goes through the handle's backend (nh_spool_dispatch.c). Each
 * backend's handle begins with struct nh_spool (its `base`), so a backend
 * casts an nh_spool * to its own type. Every entry has nh_core.h's meaning
 * of the call of the same name and is never given a NULL spool
 * (nh_spool_dispatch.c answers for that); the entries marked optional may
 * be NULL (nothing to do for that store).
 */
#ifndef NH_SPOOL_BACKEND_H
#define NH_SPOOL_BACKEND_H

#include "nh_core.h"

typedef struct nh_spool_receipt_in nh_spool_receipt_in;

typedef struct nh_spool_backend {
  const char *name; /* "sqlite", "redis" */
  /* 1: a holder cut off from the store loses what it holds after the lease
   * even while it lives (Redis: others cannot tell cut off from dead), so
   * once a call failed the client confirms a job still held before it
   * sends it (nh_spool_client_doubt). 0: only a holder known dead does
   * (SQLite: one host, its pid). */
  int lease_only;
  void (*close)(nh_spool *sp);
  void (*set_timeout)(nh_spool *sp, double timeout);
  const char *(*owner)(const nh_spool *sp);
  nh_code (*put_finish)(nh_spool *sp, nh_spool_item *items, size_t n, nh_spool_end *ends, size_t m,
                        char *err, size_t errlen);
  /* nh_spool_finish: its own entry, as the ends are recorded at the
   * caller's now (a failure's failed_at); nh_spool_done, _fail and
   * _requeue are one end of it. */
  nh_code (*finish)(nh_spool *sp, nh_spool_end *ends, size_t n, double now, char *err,
                    size_t errlen);
  nh_code (*take)(nh_spool *sp, double now, size_t max, nh_spool_rec *out, size_t *n, char *err,
                  size_t errlen);
  nh_code (*renew)(nh_spool *sp, double now, size_t *held, char *err, size_t errlen);
  nh_code (*unpark)(nh_spool *sp, int64_t seq, double now, int *held, char *err, size_t errlen);
  nh_code (*release)(nh_spool *sp, size_t *n, char *err, size_t errlen);
  nh_code (*rate_take)(nh_spool *sp, const char *key, const nh_rate_rule *rules, int n_rules,
                       double now, double *wait, char *err, size_t errlen);
  nh_code (*stats)(nh_spool *sp, nh_spool_summary *st, char *err, size_t errlen);
  nh_code (*failed)(nh_spool *sp, size_t limit, nh_spool_failure **out, size_t *n, char *err,
                    size_t errlen);
  nh_code (*retry)(nh_spool *sp, const char *id, size_t *n, char *err, size_t errlen);
  nh_code (*purge_failed)(nh_spool *sp, size_t *n, char *err, size_t errlen);
  /* optional: checkpoints off the committing thread (SQLite's WAL) */
  void (*defer_checkpoints)(nh_spool *sp);
  int (*wal_frames)(nh_spool *sp);
  void (*checkpoint)(nh_spool *sp, int min_frames);
  /* optional: receipts of records this owner put that another owner ended
   * (a stream per producer on Redis): up to max into out, *n of them; free
   * each with nh_spool_receipt_in_free. NULL: the store keeps none. */
  nh_code (*receipts)(nh_spool *sp, nh_spool_receipt_in *out, size_t max, size_t *n, char *err,
                      size_t errlen);
} nh_spool_backend;

/* What every backend's handle begins with. path: what errors name ("spool
 * PATH: why"): the file, or the Redis URL without its password. opt: the
 * options it was opened with (opt.lease is the writer's renew period; the
 * strings in opt are not the handle's: NULL). */
struct nh_spool {
  const nh_spool_backend *be;
  char *path;
  nh_spool_options opt;
};

/* A receipt another owner wrote for one of this owner's records: its seq,
 * its message id and the receipt (redacted JSON, as nh_spool_receipt
 * makes it: message_id, status, code, error, targets). */
struct nh_spool_receipt_in {
  int64_t seq;
  char *id;
  char *receipt;
};
void nh_spool_receipt_in_free(nh_spool_receipt_in *r);
/* The stats' entry of a destination label, added (zeroed) when missing;
 * NULL without memory. For the stores' stats (nh_spool_common.c). */
nh_spool_dest *nh_spool_summary_dest(nh_spool_summary *st, const char *label);

/* The stores' opens: nh_spool_open calls the one the options name. */
nh_spool *nh_sqlite_open(const nh_spool_options *o, double timeout, nh_code *code, char *err,
                         size_t errlen);
nh_spool *nh_redis_open(const nh_spool_options *o, double timeout, nh_code *code, char *err,
                        size_t errlen);
/* spool.redis with spool.path: Redis, and the file while Redis is down
 * (nh_spool_fallback.c). */
nh_spool *nh_spool_fallback_open(const nh_spool_options *o, double timeout, nh_code *code,
                                 char *err, size_t errlen);

#endif
