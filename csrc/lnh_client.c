/*
 * lnh_client.c: the "notifyhub.client" userdata: a core client as the Lua
 * façade drives it (lua/notifyhub/init.lua wraps it in the public client).
 *
 * Methods take plain values and return plain values; callbacks, handles and
 * wait loops live in Lua. __gc first runs the façade's finaliser (kept in the
 * user value) so that callbacks of messages cut off by the collection still
 * run on this thread, then frees the core.
 */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "lnh_binding.h"

#define GC_DEADLINE 1.0 /* seconds a collected client gives its messages */
#define TAKE_DEFAULT 256

typedef struct lnh_client {
  nh_client *c;
} lnh_client;

static const char *const log_levels[] = NH_LOG_LEVEL_NAMES;

int lnh_fail(lua_State *L, nh_code code, const char *message) {
  lua_pushnil(L);
  lua_pushstring(L, message);
  lua_pushstring(L, nh_code_name(code));
  return 3;
}

static nh_client *lnh_check_client(lua_State *L, int idx) {
  lnh_client *u = luaL_checkudata(L, idx, LNH_CLIENT_MT);
  if (!u->c) luaL_error(L, "notifyhub client is already released");
  return u->c;
}

/* core.new(config) with the checked config: each option read by the name
 * the user writes (config.async.workers) and checked against its row of
 * nh_options.h before the cast; an absent one keeps the row's default. */
static int lnh_client_new(lua_State *L) {
  nh_options o;
  char err[256];
  nh_options_default(&o);
  luaL_checktype(L, 1, LUA_TTABLE);
  lnh_options_check(L, 1, &o);
  lnh_client *u = lnh_newuserdata(L, sizeof *u);
  u->c = NULL; /* closed until the core exists */
  luaL_getmetatable(L, LNH_CLIENT_MT);
  lua_setmetatable(L, -2);
  lua_newtable(L);
  lnh_setuservalue(L, -2);
  nh_code code;
  u->c = nh_client_open(&o, &code, err, sizeof err);
  if (!u->c) return lnh_fail(L, code, err);
  return 1;
}

/* The seconds a submit waits for room: its argument, else the client's async.timeout. */
static double queue_timeout_arg(lua_State *L, int idx, nh_client *c) {
  if (lua_isnoneornil(L, idx)) return nh_client_options(c)->queue_timeout;
  return lnh_check_range(L, idx, "async.timeout");
}

/* client:submit(message, queue_timeout) -> token, id, seq | nil, err, code */
static int lnh_client_submit(lua_State *L) {
  nh_client *c = lnh_check_client(L, 1);
  double queue_timeout = queue_timeout_arg(L, 3, c);
  char err[256] = "";
  nh_code rc = NH_OK;
  nh_job *job = lnh_check_message(L, 2, c, &rc, err, sizeof err); /* pushes the token */
  if (!job) return lnh_fail(L, rc, err);
  rc = nh_client_submit(c, job, queue_timeout, err, sizeof err);
  if (rc != NH_OK) return lnh_fail(L, rc, err);
  lua_pushstring(L, job->msg.id);
  lua_pushinteger(L, (lua_Integer)job->seq);
  return 3;
}

/* client:submit_many({ message, ... }, queue_timeout) -> { token, ... }, { id, ... },
 * { seq, ... } | nil, err, code. All of them are queued, or none. */
static int lnh_client_submit_many(lua_State *L) {
  nh_client *c = lnh_check_client(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  double queue_timeout = queue_timeout_arg(L, 3, c);
  size_t n = lnh_rawlen(L, 2);
  char err[256] = "";
  nh_code rc = NH_OK;
  nh_job **jobs = lua_newuserdata(L, (n ? n : 1) * sizeof *jobs); /* freed by the GC */
  lua_createtable(L, (int)n, 0);                                  /* the tokens */
  int tokens = lua_gettop(L);
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, 2, (int)i + 1);
    jobs[i] = lnh_check_message(L, -1, c, &rc, err, sizeof err);
    if (!jobs[i]) {
      char why[300];
      snprintf(why, sizeof why, "message %zu: %s", i + 1, err);
      return lnh_fail(L, rc, why);
    }
    lua_rawseti(L, tokens, (int)i + 1); /* the token */
    lua_pop(L, 1);
  }
  rc = nh_client_submit_many(c, jobs, n, queue_timeout, err, sizeof err);
  if (rc != NH_OK) return lnh_fail(L, rc, err);
  lua_createtable(L, (int)n, 0);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_pushstring(L, jobs[i]->msg.id);
    lua_rawseti(L, -3, (int)i + 1);
    lua_pushinteger(L, (lua_Integer)jobs[i]->seq);
    lua_rawseti(L, -2, (int)i + 1);
  }
  return 3;
}

/* client:cancel(token) -> true when the message had not finished */
static int lnh_client_cancel(lua_State *L) {
  nh_client *c = lnh_check_client(L, 1);
  nh_job *job = lnh_job_of(L, 2);
  lua_pushboolean(L, job && !nh_client_forked(c) && nh_client_cancel(c, job));
  return 1;
}

/* client:latency() -> { platform = { count, p50, p90, p99 } } for platforms used */
static int lnh_client_latency(lua_State *L) {
  nh_client *c = lnh_check_client(L, 1);
  lua_newtable(L);
  for (int p = 0; p < NH_PLATFORM_COUNT; p++) {
    nh_latency l;
    nh_client_latency(c, (nh_platform_id)p, &l);
    if (l.count == 0) continue;
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, (lua_Integer)l.count);
    lua_setfield(L, -2, "count");
    lua_pushnumber(L, l.p50);
    lua_setfield(L, -2, "p50");
    lua_pushnumber(L, l.p90);
    lua_setfield(L, -2, "p90");
    lua_pushnumber(L, l.p99);
    lua_setfield(L, -2, "p99");
    lua_setfield(L, -2, nh_platform_name((nh_platform_id)p));
  }
  return 1;
}

/* client:take([max]) -> { receipt, ... } (never blocks) */
static int lnh_client_take(lua_State *L) {
  nh_client *c = lnh_check_client(L, 1);
  lua_Number want = luaL_optnumber(L, 2, TAKE_DEFAULT); /* compared before any cast */
  nh_job *jobs[TAKE_DEFAULT];
  size_t max = want >= 1 && want <= TAKE_DEFAULT ? (size_t)want : TAKE_DEFAULT;
  size_t n = nh_client_take(c, jobs, max);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lnh_push_receipt(L, jobs[i]);
    lua_rawseti(L, -2, (int)i + 1);
    nh_job_release(jobs[i]);
  }
  return 1;
}

/* client:wait(timeout) -> true when a completion is ready */
static int lnh_client_wait(lua_State *L) {
  nh_client *c = lnh_check_client(L, 1);
  lua_pushboolean(L, nh_client_wait(c, luaL_optnumber(L, 2, -1)));
  return 1;
}

static int lnh_client_fd(lua_State *L) {
  lua_pushinteger(L, nh_client_fd(lnh_check_client(L, 1)));
  return 1;
}

/* client:waker_listen() -> a unix socket path to connect to, or nil, err */
static int lnh_client_waker_listen(lua_State *L) {
  char path[128];
  if (nh_client_waker_listen(lnh_check_client(L, 1), path, sizeof path) != 0)
    return lnh_fail(L, NH_INTERNAL, "cannot listen on a unix socket for wake-ups");
  lua_pushstring(L, path);
  return 1;
}

/* client:waker_accept() -> true once the owner's connection is taken */
static int lnh_client_waker_accept(lua_State *L) {
  if (nh_client_waker_accept(lnh_check_client(L, 1)) != 0)
    return lnh_fail(L, NH_INTERNAL, "no connection to the wake-up socket");
  lua_pushboolean(L, 1);
  return 1;
}

/* client:arm() -> true: sleep on the waker; false: records are ready */
static int lnh_client_arm(lua_State *L) {
  lua_pushboolean(L, nh_client_waker_arm(lnh_check_client(L, 1)) == 1);
  return 1;
}

static int lnh_client_wake(lua_State *L) {
  nh_client_wake(lnh_check_client(L, 1));
  return 0;
}

static int lnh_client_pending(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)nh_client_pending(lnh_check_client(L, 1)));
  return 1;
}

static int lnh_client_stats(lua_State *L) {
  nh_stats s;
  nh_client_stats(lnh_check_client(L, 1), &s);
  lua_createtable(L, 0, 14);
#define FIELD(name) (lua_pushinteger(L, (lua_Integer)s.name), lua_setfield(L, -2, #name))
  FIELD(submitted);
  FIELD(succeeded);
  FIELD(failed);
  FIELD(closed);
  FIELD(dropped);
  FIELD(retried);
  FIELD(cancelled);
  FIELD(timed_out);
  FIELD(handed_over);
  FIELD(waiting);
  FIELD(remote);
  FIELD(queued);
  FIELD(in_flight);
  FIELD(completed_unread);
  FIELD(workers);
  FIELD(min_workers);
  FIELD(max_workers);
  FIELD(threads_created);
  FIELD(rate_destinations);
  FIELD(log_dropped);
#undef FIELD
  return 1;
}

/* client:logs() -> { { level, worker_id, message_id, text }, ... } */
static int lnh_client_logs(lua_State *L) {
  nh_log_record *all = nh_client_logs(lnh_check_client(L, 1)), *r;
  int i = 0;
  lua_newtable(L);
  for (r = all; r; r = r->next) {
    lua_createtable(L, 0, 4);
    lua_pushstring(L, log_levels[r->level]);
    lua_setfield(L, -2, "level");
    lua_pushinteger(L, r->worker_id);
    lua_setfield(L, -2, "worker_id");
    if (r->message_id) {
      lua_pushstring(L, r->message_id);
      lua_setfield(L, -2, "message_id");
    }
    if (r->attempt) {
      lua_pushinteger(L, r->attempt);
      lua_setfield(L, -2, "attempt");
    }
    lua_pushstring(L, r->text ? r->text : "");
    lua_setfield(L, -2, "text");
    lua_rawseti(L, -2, ++i);
  }
  nh_log_free(all);
  return 1;
}

/* client:close([timeout]) -> how many messages were cut off */
static int lnh_client_close(lua_State *L) {
  nh_client *c = lnh_check_client(L, 1);
  lua_pushinteger(L, (lua_Integer)nh_client_close(c, luaL_optnumber(L, 2, 0)));
  return 1;
}

/* client:stop_taking(): with a spool, take no more records others left
 * (notifyhub.ngx, when its worker exits). */
static int lnh_client_stop_taking(lua_State *L) {
  nh_client_stop_taking(lnh_check_client(L, 1));
  return 0;
}

/* client:forked() -> true in a child of fork(): nothing of it works here. */
static int lnh_client_forked(lua_State *L) {
  lua_pushboolean(L, nh_client_forked(lnh_check_client(L, 1)));
  return 1;
}

static int lnh_client_closed(lua_State *L) {
  lua_pushboolean(L, nh_client_closed(lnh_check_client(L, 1)));
  return 1;
}

static int lnh_client_new_id(lua_State *L) {
  char id[64];
  nh_client_new_id(lnh_check_client(L, 1), id, sizeof id);
  lua_pushstring(L, id);
  return 1;
}

/* client:set_finalizer(fn): fn(client) runs first when the client is collected. */
static int lnh_client_set_finalizer(lua_State *L) {
  lnh_check_client(L, 1);
  lnh_getuservalue(L, 1);
  lua_pushvalue(L, 2);
  lua_setfield(L, -2, "finalizer");
  return 0;
}

static int lnh_client_gc(lua_State *L) {
  lnh_client *u = luaL_checkudata(L, 1, LNH_CLIENT_MT);
  if (!u->c) return 0;
  lnh_getuservalue(L, 1);
  if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "finalizer");
    if (lua_isfunction(L, -1)) {
      lua_pushvalue(L, 1);
      lua_pushnumber(L, GC_DEADLINE);
      if (lua_pcall(L, 2, 0, 0) != 0) lua_pop(L, 1); /* nothing can report it now */
    } else {
      lua_pop(L, 1);
    }
  }
  nh_client_close(u->c, GC_DEADLINE);
  nh_client_free(u->c);
  u->c = NULL;
  return 0;
}

static int lnh_client_tostring(lua_State *L) {
  lnh_client *u = luaL_checkudata(L, 1, LNH_CLIENT_MT);
  lua_pushfstring(L, "notifyhub.core.client (%s)",
                  !u->c                    ? "released"
                  : nh_client_closed(u->c) ? "closed"
                                           : "open");
  return 1;
}

void lnh_client_open(lua_State *L) {
  static const luaL_Reg methods[] = { { "submit", lnh_client_submit },
                                      { "take", lnh_client_take },
                                      { "wait", lnh_client_wait },
                                      { "fd", lnh_client_fd },
                                      { "pending", lnh_client_pending },
                                      { "stats", lnh_client_stats },
                                      { "logs", lnh_client_logs },
                                      { "close", lnh_client_close },
                                      { "closed", lnh_client_closed },
                                      { "new_id", lnh_client_new_id },
                                      { "set_finalizer", lnh_client_set_finalizer },
                                      { "submit_many", lnh_client_submit_many },
                                      { "cancel", lnh_client_cancel },
                                      { "latency", lnh_client_latency },
                                      { "waker_listen", lnh_client_waker_listen },
                                      { "waker_accept", lnh_client_waker_accept },
                                      { "arm", lnh_client_arm },
                                      { "wake", lnh_client_wake },
                                      { "forked", lnh_client_forked },
                                      { "stop_taking", lnh_client_stop_taking },
                                      { NULL, NULL } };
  static const luaL_Reg meta[] = { { "__gc", lnh_client_gc },
                                   { "__tostring", lnh_client_tostring },
                                   { NULL, NULL } };
  lnh_new_class(L, LNH_CLIENT_MT, meta, methods);
  lua_pushcfunction(L, lnh_client_new);
  lua_setfield(L, -2, "new");
}
