/*
 * lnh_range.h: the allowed range of every number a user passes, one row per
 * key (Lua-cURL's lcopteasy.h style). The façade reads them as core.ranges
 * to check the config and messages (lua/notifyhub/config.lua); the binding
 * checks the same rows again before it turns a lua_Number into an int, long
 * or size_t, so that no conversion can overflow whatever reaches it.
 *
 * X(path, field, integer, min, max, above)
 *   path     the key as the user writes it ("async.workers")
 *   field    the key core.new / submit read (NULL: checked in Lua only)
 *   integer  1: a whole number
 *   above    1: min itself is excluded (a timeout > 0)
 */
#ifndef LNH_RANGE_H
#define LNH_RANGE_H

#define LNH_DAY 86400.0
#define LNH_MAX_SAFE_INT 9007199254740992.0   /* 2^53: every integer below is a double */

#define LNH_RANGES(X)                                                        \
  X("async.workers", "workers", 1, 1, 256, 0)                                \
  X("async.min_workers", "min_workers", 1, 0, 256, 0)                        \
  X("async.max_workers", "max_workers", 1, 1, 256, 0)                        \
  X("async.buffer_size", "buffer_size", 1, 1, 10000000, 0)                   \
  X("async.timeout", "queue_timeout", 0, 0, 3600, 0)                         \
  X("async.concurrency", "concurrency", 1, 1, 1024, 0)                       \
  X("async.close_timeout", "close_timeout", 0, 0, 3600, 0)                   \
  X("async.idle_timeout", "idle_timeout", 0, 0, LNH_DAY, 1)                  \
  X("async.grow_after", "grow_after", 0, 0, 3600, 0)                         \
  X("async.priority_aging", "priority_aging", 0, 0, LNH_DAY, 1)              \
  X("retry.max_attempts", "max_attempts", 1, 1, 100, 0)                      \
  X("retry.initial_delay", "initial_delay", 0, 0, 3600, 0)                   \
  X("retry.max_delay", "max_delay", 0, 0, LNH_DAY, 0)                        \
  X("retry.multiplier", "multiplier", 0, 1, 100, 0)                          \
  X("retry.max_elapsed", "max_elapsed", 0, 0, 7 * LNH_DAY, 0)                \
  X("http.timeout", "timeout", 0, 0, LNH_DAY, 1)                             \
  X("http.connect_timeout", "connect_timeout", 0, 0, LNH_DAY, 1)             \
  X("http.max_response", "max_response", 1, 1024, 1073741824, 0)            \
  X("http.follow_redirects", "follow_redirects", 1, 0, 20, 0)                \
  X("message.timeout", "timeout", 0, 0, 7 * LNH_DAY, 1)                      \
  X("rate_limit.per_second", NULL, 1, 1, 1000000, 0)                         \
  X("rate_limit.per_minute", NULL, 1, 1, 1000000, 0)                         \
  X("rate_limit.per_hour", NULL, 1, 1, 1000000, 0)                           \
  X("rate_limit.burst", NULL, 1, 1, 1000000, 0)                              \
  X("rate.count", "count", 1, 1, 1000000, 0)                                 \
  X("rate.per", "per", 0, 0, 1000000, 1)                                     \
  X("email.port", NULL, 1, 1, 65535, 0)                                      \
  X("telegram.chat_id", NULL, 1, -LNH_MAX_SAFE_INT, LNH_MAX_SAFE_INT, 0)      \
  X("ngx.close_timeout", NULL, 0, 0, 3600, 0)                                \
  X("ngx.busy_interval", NULL, 0, 0, 1, 1)                                   \
  X("ngx.busy_max", NULL, 0, 0, 10, 1)                                       \
  X("ngx.idle_interval", NULL, 0, 0, 10, 1)

typedef struct lnh_range {
  const char *path, *field;
  int integer;
  double min, max;
  int above;
} lnh_range;

#endif
