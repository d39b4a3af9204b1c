/*
 * nh_spool_choose.c: nh_spool_open picks the store the options name:
 * spool.path alone SQLite, spool.redis alone Redis, both Redis with the
 * file while Redis is down (nh_spool_fallback.c). Its own file: the
 * fallback calls the stores through nh_spool_dispatch.c, which must not
 * know the fallback.
 */
#include "nh_internal.h"

nh_spool *nh_spool_open(const nh_spool_options *o, double timeout, nh_code *code, char *err,
                        size_t errlen) {
  /* spool.redis with spool.path: the file while Redis is down. */
  if (o->redis && o->path) return nh_spool_fallback_open(o, timeout, code, err, errlen);
  return o->redis ? nh_redis_open(o, timeout, code, err, errlen)
                  : nh_sqlite_open(o, timeout, code, err, errlen);
}
