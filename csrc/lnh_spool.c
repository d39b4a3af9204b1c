/*
 * lnh_spool.c: the spool inspector's userdata, "notifyhub.spool"
 * (core.spool_open(path); lua/notifyhub/spool.lua is its façade): stats,
 * the failed records with their receipts, retry, purge. It reads labels,
 * ids, receipts and times only, never a record's content (secrets).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "lnh_binding.h"

#define LNH_SPOOL_MT "notifyhub.spool"
#define INSPECT_TIMEOUT 5.0 /* seconds a call waits for another process's lock */
#define MAX_DEPTH 32

typedef struct lnh_spool {
  nh_spool *sp; /* NULL: closed */
} lnh_spool;

static nh_spool *check_open(lua_State *L, int idx) {
  lnh_spool *u = luaL_checkudata(L, idx, LNH_SPOOL_MT);
  return u->sp;
}

/* A cJSON value as a Lua value (null: nil). */
static void push_json(lua_State *L, const cJSON *v, int depth) {
  const cJSON *item;
  if (depth > MAX_DEPTH || cJSON_IsNull(v) || !v) lua_pushnil(L);
  else if (cJSON_IsBool(v)) lua_pushboolean(L, cJSON_IsTrue(v));
  else if (cJSON_IsString(v)) lua_pushstring(L, v->valuestring);
  else if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    if (d == floor(d) && fabs(d) < 9007199254740992.0) lua_pushinteger(L, (lua_Integer)d);
    else lua_pushnumber(L, d);
  } else if (cJSON_IsArray(v)) {
    int i = 0;
    lua_createtable(L, cJSON_GetArraySize(v), 0);
    cJSON_ArrayForEach(item, v) {
      push_json(L, item, depth + 1);
      lua_rawseti(L, -2, ++i);
    }
  } else {
    lua_newtable(L);
    cJSON_ArrayForEach(item, v) {
      push_json(L, item, depth + 1);
      lua_setfield(L, -2, item->string);
    }
  }
}

static void set_count(lua_State *L, const char *k, size_t n) {
  lua_pushinteger(L, (lua_Integer)n);
  lua_setfield(L, -2, k);
}

/* spool:stats() -> { queued, taken, failed, destinations = { [label] = {...} } } */
static int lnh_spool_stats(lua_State *L) {
  nh_spool *sp = check_open(L, 1);
  if (!sp) return lnh_fail(L, NH_CLOSED, "spool: closed");
  char err[512];
  nh_spool_summary s;
  nh_code code = nh_spool_stats(sp, &s, err, sizeof err);
  if (code != NH_OK) return lnh_fail(L, code, err);
  lua_createtable(L, 0, 4);
  set_count(L, "queued", s.queued);
  set_count(L, "taken", s.taken);
  set_count(L, "failed", s.failed);
  lua_createtable(L, 0, (int)s.n_dests);
  for (size_t i = 0; i < s.n_dests; i++) {
    lua_createtable(L, 0, 3);
    set_count(L, "queued", s.dests[i].queued);
    set_count(L, "taken", s.dests[i].taken);
    set_count(L, "failed", s.dests[i].failed);
    lua_setfield(L, -2, s.dests[i].label);
  }
  lua_setfield(L, -2, "destinations");
  nh_spool_summary_free(&s);
  return 1;
}

static size_t check_limit(lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx)) return 1000000;
  lua_Number n = luaL_checknumber(L, idx);
  if (!(n >= 0 && n <= 1e9) || floor(n) != n)
    luaL_argerror(L, idx, "integer from 0 to 1000000000 expected");
  return (size_t)n;
}

/* spool:failed([limit]) -> { { id =, receipt = {...}, failed_at = }, ... } oldest first */
static int lnh_spool_failed(lua_State *L) {
  nh_spool *sp = check_open(L, 1);
  size_t limit = check_limit(L, 2), n;
  if (!sp) return lnh_fail(L, NH_CLOSED, "spool: closed");
  char err[512];
  nh_spool_failure *f;
  nh_code code = nh_spool_failed(sp, limit, &f, &n, err, sizeof err);
  if (code != NH_OK) return lnh_fail(L, code, err);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_createtable(L, 0, 3);
    lua_pushstring(L, f[i].id);
    lua_setfield(L, -2, "id");
    cJSON *receipt = cJSON_Parse(f[i].receipt);
    push_json(L, receipt, 0);
    cJSON_Delete(receipt);
    lua_setfield(L, -2, "receipt");
    lua_pushnumber(L, f[i].failed_at);
    lua_setfield(L, -2, "failed_at");
    lua_rawseti(L, -2, (int)i + 1);
  }
  nh_spool_failures_free(f, n);
  return 1;
}

/* spool:retry(id) -> true when it queued that failed message again */
static int lnh_spool_retry(lua_State *L) {
  nh_spool *sp = check_open(L, 1);
  size_t len, n;
  const char *id = luaL_checklstring(L, 2, &len);
  if (!sp) return lnh_fail(L, NH_CLOSED, "spool: closed");
  if (strlen(id) != len) { /* no id holds a NUL: "m1\0x" is not "m1" */
    lua_pushboolean(L, 0);
    return 1;
  }
  char err[512];
  nh_code code = nh_spool_retry(sp, id, &n, err, sizeof err);
  if (code != NH_OK) return lnh_fail(L, code, err);
  lua_pushboolean(L, n > 0);
  return 1;
}

/* spool:purge_failed() -> how many failed records it removed */
static int lnh_spool_purge_failed(lua_State *L) {
  nh_spool *sp = check_open(L, 1);
  if (!sp) return lnh_fail(L, NH_CLOSED, "spool: closed");
  char err[512];
  size_t n;
  nh_code code = nh_spool_purge_failed(sp, &n, err, sizeof err);
  if (code != NH_OK) return lnh_fail(L, code, err);
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

/* close, __gc and __close: safe twice. */
static int lnh_spool_close(lua_State *L) {
  lnh_spool *u = luaL_checkudata(L, 1, LNH_SPOOL_MT);
  nh_spool_close(u->sp);
  u->sp = NULL;
  return 0;
}

static int lnh_spool_tostring(lua_State *L) {
  lnh_spool *u = luaL_checkudata(L, 1, LNH_SPOOL_MT);
  if (u->sp) lua_pushfstring(L, "notifyhub.spool (%p)", (void *)u);
  else lua_pushliteral(L, "notifyhub.spool (closed)");
  return 1;
}

/* The value on top as opts.wait: > 0 and <= 60 seconds. */
static double check_wait(lua_State *L, int idx) {
  double wait = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
  if (!(wait > 0 && wait <= 60)) luaL_argerror(L, idx, "opts.wait: number > 0 and <= 60 expected");
  return wait;
}

/* opts.wait: seconds each call waits for another process's lock (> 0 and
 * <= 60, default 5); the only key. */
static double check_open_opts(lua_State *L, int idx) {
  double wait = INSPECT_TIMEOUT;
  if (lua_isnoneornil(L, idx)) return wait;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    if (!k || strcmp(k, "wait") != 0)
      luaL_argerror(L, idx, lua_pushfstring(L, "opts.%s: unknown key", k ? k : "?"));
    wait = check_wait(L, idx);
    lua_pop(L, 1);
  }
  return wait;
}

/* { redis = url [, prefix = p] [, wait = s] } at idx into o and *wait. The
 * strings stay the table's. */
static void check_redis_opts(lua_State *L, int idx, nh_spool_options *o, double *wait) {
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    int redis = k && strcmp(k, "redis") == 0, prefix = k && strcmp(k, "prefix") == 0;
    if (k && strcmp(k, "wait") == 0) *wait = check_wait(L, idx);
    else if (!redis && !prefix)
      luaL_argerror(L, idx, lua_pushfstring(L, "opts.%s: unknown key", k ? k : "?"));
    else if (lua_type(L, -1) != LUA_TSTRING)
      luaL_argerror(L, idx, lua_pushfstring(L, "opts.%s: string expected", k));
    else if (redis) o->redis = lua_tostring(L, -1);
    else o->prefix = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  if (!o->redis) luaL_argerror(L, idx, "opts.redis: a URL redis://host:port/db expected");
}

/* core.spool_open{ redis = url, prefix =, wait = } -> spool, or nil,
 * message, CODE: the Redis spool (its errors never show the password). */
static int open_redis(lua_State *L, lnh_spool *u) {
  nh_spool_options o;
  nh_spool_options_default(&o);
  double wait = INSPECT_TIMEOUT;
  check_redis_opts(L, 1, &o, &wait);
  char err[512];
  nh_code code;
  if (!(u->sp = nh_spool_open(&o, wait, &code, err, sizeof err))) return lnh_fail(L, code, err);
  return 1;
}

/* core.spool_open(path [, opts]) -> spool, or nil, message, CODE. An
 * inspector does not create a spool: a missing file is an error.
 * core.spool_open{ redis = ... }: the Redis spool (open_redis). */
static int lnh_spool_open(lua_State *L) {
  int redis = lua_type(L, 1) == LUA_TTABLE;
  size_t len = 0;
  const char *path = redis ? NULL : luaL_checklstring(L, 1, &len);
  double wait = redis ? 0 : check_open_opts(L, 2);
  lnh_spool *u = lua_newuserdata(L, sizeof *u); /* closed until the spool opens */
  u->sp = NULL;
  luaL_getmetatable(L, LNH_SPOOL_MT);
  lua_setmetatable(L, -2);
  if (redis) return open_redis(L, u);
  char err[512];
  struct stat st;
  if (strlen(path) != len) { /* the file system would see only the part before it */
    snprintf(err, sizeof err, "spool %s: a file name without NUL bytes expected", path);
    return lnh_fail(L, NH_INVALID_CONFIG, err);
  }
  if (stat(path, &st) != 0) {
    snprintf(err, sizeof err, "spool %s: %s", path,
             errno == ENOENT ? "does not exist" : strerror(errno));
    return lnh_fail(L, NH_INVALID_CONFIG, err);
  }
  nh_spool_options o;
  nh_spool_options_default(&o);
  o.path = path;
  nh_code code;
  if (!(u->sp = nh_spool_open(&o, wait, &code, err, sizeof err))) return lnh_fail(L, code, err);
  return 1;
}

/* core.private_dir(base) -> base/notifyhub-UID (made 0700), or nil, message.
 * notifyhub.ngx keeps its shared rate windows there. */
static int lnh_spool_private_dir(lua_State *L) {
  const char *base = luaL_checkstring(L, 1);
  char path[4096], err[512];
  if (nh_spool_private_dir(base, path, sizeof path, err, sizeof err) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushstring(L, path);
  return 1;
}

void lnh_spool_open_module(lua_State *L) {
  static const luaL_Reg methods[] = {
    { "stats", lnh_spool_stats }, { "failed", lnh_spool_failed },
    { "retry", lnh_spool_retry }, { "purge_failed", lnh_spool_purge_failed },
    { "close", lnh_spool_close }, { NULL, NULL }
  };
  static const luaL_Reg meta[] = { { "__gc", lnh_spool_close },
                                   { "__close", lnh_spool_close },
                                   { "__tostring", lnh_spool_tostring },
                                   { NULL, NULL } };
  lnh_new_class(L, LNH_SPOOL_MT, meta, methods);
  lua_pushcfunction(L, lnh_spool_open);
  lua_setfield(L, -2, "spool_open");
  lua_pushcfunction(L, lnh_spool_private_dir);
  lua_setfield(L, -2, "private_dir");
}
