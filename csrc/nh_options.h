/*
 * nh_options.h: every client option, one row each (Lua-cURL's lcopteasy.h).
 * From these rows come struct nh_options and struct nh_retry (nh_core.h),
 * nh_options_default() (nh_client.c), the binding's reading and range check
 * of core.new's table (lnh_client.c, lnh_range.c) and core.options, from
 * which lua/notifyhub/config.lua builds its schema and defaults.
 *
 * Adding an option (say async.stack_size):
 *   1. one row here:  X(P, async, stack_size, stack_size, SIZE, 0, 0, 67108864, 0)
 *   2. the code that reads c->opt.stack_size.
 * notifyhub.new then takes it, checks it, defaults it and hands it to the
 * core under the same name; the README's table of ranges is written by hand.
 *
 * X(P, section, key, field, type, dflt, min, max, above)
 *   section.key  the key as the user writes it ("async.workers")
 *   P field      the member of nh_options (P: the sub-struct, e.g. "retry.")
 *   type         BOOL (int 0/1), INT (int), SIZE (size_t), SEC (double
 *                seconds), MS (seconds from the user, long milliseconds in
 *                the core, rounded up), STR (const char *, NULL: none),
 *                HEADER (a STR that goes into a request: no control
 *                character but a tab),
 *                LEVEL (NH_LOG_*, named by NH_LOG_LEVEL_NAMES)
 *   dflt         the default, in the user's unit (seconds, not ms)
 *   min, max     the range of a number in the user's unit; 0, 0 otherwise
 *   above        1: min itself is excluded (a timeout > 0)
 */
#ifndef NH_OPTIONS_H
#define NH_OPTIONS_H

#include "nh_version.h"

#define NH_DAY 86400.0

#define NH_CLIENT_OPTIONS(X, P)                                                   \
  /* 0: send on the calling thread, no threads */                                 \
  X(P, async, enabled, enabled, BOOL, 1, 0, 0, 0)                                 \
  /* 0: one short-lived thread per message */                                     \
  X(P, async, use_pool, use_pool, BOOL, 1, 0, 0, 0)                               \
  /* threads started with the pool */                                             \
  X(P, async, workers, workers, INT, 4, 1, 256, 0)                                \
  /* the façade defaults these two to min(1, workers) and max(16, workers) */    \
  X(P, async, min_workers, min_workers, INT, 1, 0, 256, 0)                        \
  X(P, async, max_workers, max_workers, INT, 16, 1, 256, 0)                       \
  /* submission queue bound, in messages */                                       \
  X(P, async, buffer_size, buffer_size, SIZE, 1000, 1, 10000000, 0)               \
  /* seconds submit waits for room when the caller gives none; 0: fail at once */ \
  X(P, async, timeout, queue_timeout, SEC, 0, 0, 3600, 0)                         \
  /* transfers in flight per worker */                                            \
  X(P, async, concurrency, concurrency, INT, 32, 1, 1024, 0)                      \
  /* seconds the exit handler gives a client left open */                         \
  X(P, async, close_timeout, close_timeout, SEC, 5, 0, 3600, 0)                   \
  /* seconds an idle worker above min_workers lives */                            \
  X(P, async, idle_timeout, idle_timeout, SEC, 30, 0, NH_DAY, 1)                  \
  /* seconds a backlog lasts before the pool grows */                             \
  X(P, async, grow_after, grow_after, SEC, 0.1, 0, 3600, 0)                       \
  /* seconds before a waiting low job goes first */                               \
  X(P, async, priority_aging, priority_aging, SEC, 2, 0, NH_DAY, 1)               \
  /* a whole HTTP transfer */                                                     \
  X(P, http, timeout, timeout_ms, MS, 10, 0, NH_DAY, 1)                           \
  X(P, http, connect_timeout, connect_timeout_ms, MS, 5, 0, NH_DAY, 1)            \
  X(P, http, verify_tls, verify_tls, BOOL, 1, 0, 0, 0)                            \
  /* NULL: the system's bundle */                                                 \
  X(P, http, ca_file, ca_file, STR, NULL, 0, 0, 0)                                \
  /* NULL: libcurl's environment rules; config.lua checks the URL, the binding    \
   * at least refuses control characters (core.new called directly) */            \
  X(P, http, proxy, proxy, HEADER, NULL, 0, 0, 0)                                 \
  X(P, http, user_agent, user_agent, HEADER, NH_USER_AGENT, 0, 0, 0)              \
  /* bytes of an answer read before giving up */                                  \
  X(P, http, max_response, max_response, SIZE, 1048576, 1024, 1073741824, 0)      \
  /* 0: a 3xx is the answer; n: follow up to n (http/https only) */               \
  X(P, http, follow_redirects, follow_redirects, INT, 0, 0, 20, 0)                \
  /* NH_LOG_* recorded for the owner to drain */                                  \
  X(P, logger, level, log_level, LEVEL, NH_LOG_WARN, 0, 0, 0)                     \
  /* log every failed job (warn; CLOSED: error) */                                \
  X(P, logger, failures, log_failures, BOOL, 1, 0, 0, 0)

/* The client's retry policy; a message's own retry overrides it field by field. */
#define NH_RETRY_OPTIONS(X, P)                                       \
  /* 1: no retry */                                                  \
  X(P, retry, max_attempts, max_attempts, INT, 3, 1, 100, 0)         \
  X(P, retry, initial_delay, initial_delay, SEC, 0.5, 0, 3600, 0)    \
  X(P, retry, max_delay, max_delay, SEC, 30, 0, NH_DAY, 0)           \
  X(P, retry, multiplier, multiplier, SEC, 2, 1, 100, 0)             \
  /* seconds from submit after which no retry starts; 0: no limit */ \
  X(P, retry, max_elapsed, max_elapsed, SEC, 0, 0, 7 * NH_DAY, 0)

/* The spool (issue 13, nh_spool*.c): struct nh_spool_options, the spool
 * member of nh_options. path: no control character (type HEADER) and not
 * empty; sync: "normal" or "full"; deliver: "local" or "any";
 * redis: not empty; prefix: its rule
 * (lnh_options.c's check_spool and config.lua's REFINED say so in the
 * same words; nh_redis_open checks the URL). */
#define NH_SPOOL_OPTIONS(X, P)                                                    \
  /* the SQLite file; NULL: no spool (memory only) */                             \
  X(P, spool, path, path, HEADER, NULL, 0, 0, 0)                                  \
  /* "redis://[user:password@]host[:port][/db]": the Redis spool */               \
  X(P, spool, redis, redis, HEADER, NULL, 0, 0, 0)                                \
  /* its keys begin "<prefix>:" (1 to 64 of A-Z a-z 0-9 _ . : -) */               \
  X(P, spool, prefix, prefix, HEADER, "notifyhub", 0, 0, 0)                       \
  /* "normal" (synchronous=NORMAL: safe from kill -9) or "full" (+ power loss) */ \
  X(P, spool, sync, sync, STR, "normal", 0, 0, 0)                                 \
  /* seconds a holder on another host keeps what it took without renewing; at     \
   * least 1: a shorter one runs out before the writer renews it */               \
  X(P, spool, lease, lease, SEC, 30, 1, NH_DAY, 0)                                \
  /* seconds a failed message stays for inspection */                             \
  X(P, spool, keep_failed, keep_failed, SEC, 604800, 0, 365 * NH_DAY, 0)          \
  /* messages queued or taken, at most (QUEUE_FULL past it) */                    \
  X(P, spool, max_queued, max_queued, SIZE, 1000000, 1, 1000000000, 0)            \
  /* seconds a submit waits for the spool (another process's lock or commit) */   \
  /* before SPOOL_BUSY, at least async.timeout; notifyhub.ngx makes it 0.1 */     \
  X(P, spool, wait, wait, SEC, 1, 0, 60, 1)                                       \
  /* false: the file keeps rate windows only, messages stay in memory */          \
  X(P, spool, messages, messages, BOOL, 1, 0, 0, 0)                               \
  /* "local": this client delivers what it accepts; "any": into the shared queue, \
   * whichever client takes it delivers, the receipt comes back (issue 15) */     \
  X(P, spool, deliver, deliver, STR, "local", 0, 0, 0)

/* Every row, with its path from nh_options. */
#define NH_OPTIONS(X) NH_CLIENT_OPTIONS(X, ) NH_RETRY_OPTIONS(X, retry.) NH_SPOOL_OPTIONS(X, spool.)

/* NH_LOG_* in order, as logger.level names them. */
#define NH_LOG_LEVEL_NAMES \
  { "debug", "info", "warn", "error", "off", NULL }

/* The C type of each kind of row. */
#define NH_OPT_CTYPE_BOOL int
#define NH_OPT_CTYPE_INT int
#define NH_OPT_CTYPE_SIZE size_t
#define NH_OPT_CTYPE_SEC double
#define NH_OPT_CTYPE_MS long
#define NH_OPT_CTYPE_STR const char *
#define NH_OPT_CTYPE_HEADER const char *
#define NH_OPT_CTYPE_LEVEL int

#define NH_OPT_MEMBER(P, section, key, field, type, dflt, min, max, above) \
  NH_OPT_CTYPE_##type field;

#endif
