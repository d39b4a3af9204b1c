/*
 * lnh_range.h: the allowed range of every number a user passes that is not
 * a client option (the options' rows are in nh_options.h). core.ranges holds
 * both (lnh_range.c), the numeric options first: the façade checks the
 * config and messages with them (lua/notifyhub/config.lua's M.ranged); the
 * binding checks the same rows again before it turns a lua_Number into an
 * int, long or size_t, so that no conversion can overflow whatever reaches it.
 *
 * X(path, integer, min, max, above)
 *   path     the key as the user writes it ("message.timeout")
 *   integer  1: a whole number
 *   above    1: min itself is excluded (a timeout > 0)
 */
#ifndef LNH_RANGE_H
#define LNH_RANGE_H

#include "nh_options.h"

#define LNH_MAX_SAFE_INT 9007199254740992.0 /* 2^53: every integer below is a double */

#define LNH_RANGES(X)                                              \
  X("message.timeout", 0, 0, 7 * NH_DAY, 1)                        \
  X("rate_limit.per_second", 1, 1, 1000000, 0)                     \
  X("rate_limit.per_minute", 1, 1, 1000000, 0)                     \
  X("rate_limit.per_hour", 1, 1, 1000000, 0)                       \
  X("rate_limit.burst", 1, 1, 1000000, 0)                          \
  X("rate.count", 1, 1, 1000000, 0)                                \
  X("rate.per", 0, 0, 1000000, 1)                                  \
  X("email.port", 1, 1, 65535, 0)                                  \
  X("telegram.chat_id", 1, -LNH_MAX_SAFE_INT, LNH_MAX_SAFE_INT, 0) \
  X("ngx.close_timeout", 0, 0, 3600, 0)                            \
  X("ngx.busy_interval", 0, 0, 1, 1)                               \
  X("ngx.busy_max", 0, 0, 10, 1)                                   \
  X("ngx.idle_interval", 0, 0, 10, 1)

typedef struct lnh_range {
  const char *path;
  int integer;
  double min, max;
  int above;
} lnh_range;

#endif
