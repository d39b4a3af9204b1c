/*
 * lnh_options.c: the rows of nh_options.h in Lua: core.new's table read into
 * an nh_options (each key by the name the user writes, t.async.workers, each
 * number checked against its row before the cast), a message's retry read
 * over the client's, and the rows themselves as core.options.
 */
#include <math.h>
#include <string.h>

#include "lnh_binding.h"

static const char *const level_names[] = NH_LOG_LEVEL_NAMES;

static int fail_type(lua_State *L, const char *path, const char *expected) {
  return luaL_error(L, "notifyhub: %s: %s expected, got %s", path, expected, luaL_typename(L, -1));
}

/* Each reader takes the value on top of the stack (checked) and pops it. */
static void read_BOOL(lua_State *L, const char *path, int *out) {
  if (!lua_isboolean(L, -1)) fail_type(L, path, "boolean");
  *out = lua_toboolean(L, -1);
  lua_pop(L, 1);
}

static void read_INT(lua_State *L, const char *path, int *out) {
  *out = (int)lnh_check_range(L, -1, path);
  lua_pop(L, 1);
}

static void read_SIZE(lua_State *L, const char *path, size_t *out) {
  *out = (size_t)lnh_check_range(L, -1, path);
  lua_pop(L, 1);
}

static void read_SEC(lua_State *L, const char *path, double *out) {
  *out = lnh_check_range(L, -1, path);
  lua_pop(L, 1);
}

/* Whole milliseconds, rounded up: a limit of 0 would mean none to libcurl. */
static void read_MS(lua_State *L, const char *path, long *out) {
  *out = (long)ceil(lnh_check_range(L, -1, path) * 1000.0);
  lua_pop(L, 1);
}

/* The string stays anchored by the caller's table; the core copies it. */
static void read_STR(lua_State *L, const char *path, const char **out) {
  if (lua_type(L, -1) != LUA_TSTRING) fail_type(L, path, "string");
  *out = lua_tostring(L, -1);
  lua_pop(L, 1);
}

static void read_HEADER(lua_State *L, const char *path, const char **out) {
  size_t n;
  if (lua_type(L, -1) != LUA_TSTRING) fail_type(L, path, "string");
  const char *s = lua_tolstring(L, -1, &n);
  for (size_t i = 0; i < n; i++) { /* a tab is the one control character allowed */
    unsigned char ch = (unsigned char)s[i];
    if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
      luaL_error(L,
                 "notifyhub: %s: string without control characters (CR, LF, NUL, ...) expected,"
                 " got string",
                 path);
  }
  *out = s;
  lua_pop(L, 1);
}

static void read_LEVEL(lua_State *L, const char *path, int *out) {
  const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
  for (int i = 0; level_names[i]; i++) {
    if (strcmp(s, level_names[i]) == 0) {
      *out = i;
      lua_pop(L, 1);
      return;
    }
  }
  /* the names as config.lua lists them: "one of debug, info, ..." */
  luaL_Buffer b;
  const char *got = luaL_typename(L, -1);
  luaL_buffinit(L, &b);
  for (int i = 0; level_names[i]; i++) {
    if (i) luaL_addstring(&b, ", ");
    luaL_addstring(&b, level_names[i]);
  }
  luaL_pushresult(&b);
  luaL_error(L, "notifyhub: %s: one of %s expected, got %s", path, lua_tostring(L, -1), got);
}

/* Pushes t[section][key] and answers 1; answers 0 (nothing pushed) when absent. */
static int get_option(lua_State *L, int t, const char *section, const char *key) {
  lua_getfield(L, t, section);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  if (!lua_istable(L, -1)) fail_type(L, section, "table");
  lua_getfield(L, -1, key);
  lua_remove(L, -2);
  if (!lua_isnil(L, -1)) return 1;
  lua_pop(L, 1);
  return 0;
}

/* Pushes t[key] and answers 1; 0 (nothing pushed) when absent. */
static int get_field(lua_State *L, int t, const char *key) {
  lua_getfield(L, t, key);
  if (!lua_isnil(L, -1)) return 1;
  lua_pop(L, 1);
  return 0;
}

/* Every key core.new takes: the rows, and the one the façade keeps. */
#define PATH(P, section, key, field, type, dflt, min, max, above) #section "." #key,
static const char *const known_paths[] = { NH_OPTIONS(PATH) "logger.handler", NULL };

static int known(const char *section, const char *key) {
  size_t n = strlen(section);
  for (int i = 0; known_paths[i]; i++) {
    const char *p = known_paths[i];
    if (strncmp(p, section, n) == 0 && p[n] == '.' && strcmp(p + n + 1, key) == 0) return 1;
  }
  return 0;
}

/* The key on top of the stack as config.check's tostring() names it (on a
 * copy: lua_tostring on the key itself would confuse lua_next). */
static const char *key_name(lua_State *L) {
  int type = lua_type(L, -1);
  if (type == LUA_TBOOLEAN) return lua_toboolean(L, -1) ? "true" : "false";
  if (type != LUA_TSTRING && type != LUA_TNUMBER) return "?";
  lua_pushvalue(L, -1);
  return lua_tostring(L, -1);
}

/* A key no row has is a typo, not something to ignore. */
static void check_keys(lua_State *L, int t, const char *section) {
  lua_getfield(L, t, section);
  if (lua_istable(L, -1)) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      lua_pop(L, 1);
      if (lua_type(L, -1) != LUA_TSTRING || !known(section, lua_tostring(L, -1)))
        luaL_error(L, "notifyhub: %s.%s: unknown key", section, key_name(L));
    }
  }
  lua_pop(L, 1);
}

/* spool.path, spool.sync, spool.deliver, spool.redis and spool.prefix
 * have more rules than their row's type: the same as config.lua's
 * REFINED checks, in the same words. */
static void check_spool(lua_State *L, const nh_options *o) {
  if (o->spool.path && !*o->spool.path)
    luaL_error(L, "notifyhub: spool.path: a file name expected, got an empty name");
  if (o->spool.redis && !*o->spool.redis)
    luaL_error(L,
               "notifyhub: spool.redis: a URL redis://host:port/db expected, got an empty string");
  if (o->spool.prefix && !nh_redis_prefix_ok(o->spool.prefix))
    luaL_error(L, "notifyhub: spool.prefix: 1 to 64 characters of A-Z a-z 0-9 _ . : - expected,"
                  " got string");
  const char *s = o->spool.sync;
  if (s && strcmp(s, "normal") != 0 && strcmp(s, "full") != 0)
    luaL_error(L, "notifyhub: spool.sync: one of normal, full expected, got string");
  s = o->spool.deliver;
  if (s && strcmp(s, "local") != 0 && strcmp(s, "any") != 0)
    luaL_error(L, "notifyhub: spool.deliver: one of local, any expected, got string");
}

static int given(lua_State *L, int t, const char *section, const char *key) {
  if (!get_option(L, t, section, key)) return 0;
  lua_pop(L, 1);
  return 1;
}

/* min_workers <= workers <= max_workers, the bounds that were not given
 * following workers: config.lua's rule, in its words. */
static void check_workers(lua_State *L, int t, nh_options *o) {
  nh_options d;
  nh_options_default(&d);
  if (!given(L, t, "async", "min_workers"))
    o->min_workers = d.min_workers < o->workers ? d.min_workers : o->workers;
  if (!given(L, t, "async", "max_workers"))
    o->max_workers = d.max_workers > o->workers ? d.max_workers : o->workers;
  if (o->min_workers > o->workers || o->workers > o->max_workers)
    luaL_error(
      L, "notifyhub config: async: min_workers (%d) <= workers (%d) <= max_workers (%d) expected",
      o->min_workers, o->workers, o->max_workers);
}

/* Rows come grouped by section: each section's keys are checked once. */
#define READ_OPTION(P, section, key, field, type, dflt, min, max, above) \
  if (strcmp(last, #section) != 0) check_keys(L, t, last = #section);    \
  if (get_option(L, t, #section, #key)) read_##type(L, #section "." #key, &o->P field);

void lnh_options_check(lua_State *L, int t, nh_options *o) {
  const char *last = "";
  t = lnh_absindex(L, t);
  NH_OPTIONS(READ_OPTION)
  check_spool(L, o);
  check_workers(L, t, o);
  /* logger.handler lives in Lua: without one, failures the log buffer
   * cannot keep go to stderr. */
  if (get_option(L, t, "logger", "handler")) lua_pop(L, 1);
  else o->failures_stderr = 1;
}

#define READ_RETRY(P, section, key, field, type, dflt, min, max, above) \
  if (get_field(L, t, #key)) read_##type(L, #section "." #key, &r->field);

void lnh_retry_check(lua_State *L, int t, nh_retry *r) {
  t = lnh_absindex(L, t);
  NH_RETRY_OPTIONS(READ_RETRY, )
}

/* ---- core.options ------------------------------------------------------- */

static void push_BOOL(lua_State *L, int d) { lua_pushboolean(L, d); }
static void push_INT(lua_State *L, lua_Number d) { lua_pushinteger(L, (lua_Integer)d); }
static void push_SIZE(lua_State *L, lua_Number d) { lua_pushinteger(L, (lua_Integer)d); }
static void push_SEC(lua_State *L, lua_Number d) { lua_pushnumber(L, d); }
static void push_MS(lua_State *L, lua_Number d) { lua_pushnumber(L, d); }
static void push_STR(lua_State *L, const char *d) { lua_pushstring(L, d); } /* NULL: nil */
static void push_HEADER(lua_State *L, const char *d) { lua_pushstring(L, d); }
static void push_LEVEL(lua_State *L, int d) { lua_pushstring(L, level_names[d]); }

#define KIND_BOOL "boolean"
#define KIND_INT "integer"
#define KIND_SIZE "integer"
#define KIND_SEC "number"
#define KIND_MS "number"
#define KIND_STR "string"
#define KIND_HEADER "header"
#define KIND_LEVEL "enum"

/* Turns the default on top of the stack into options[path] = { type =,
 * default =, min =, max =, above = (numbers), values = (enums) }. */
static void set_row(lua_State *L, const char *path, const char *kind, double min, double max,
                    int above) {
  lua_createtable(L, 0, 5);
  lua_insert(L, -2);
  lua_setfield(L, -2, "default");
  lua_pushstring(L, kind);
  lua_setfield(L, -2, "type");
  if (strcmp(kind, "integer") == 0 || strcmp(kind, "number") == 0) {
    lua_pushnumber(L, min);
    lua_setfield(L, -2, "min");
    lua_pushnumber(L, max);
    lua_setfield(L, -2, "max");
    lua_pushboolean(L, above);
    lua_setfield(L, -2, "above");
  } else if (strcmp(kind, "enum") == 0) {
    lua_newtable(L);
    for (int i = 0; level_names[i]; i++) {
      lua_pushstring(L, level_names[i]);
      lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "values");
  }
  lua_setfield(L, -2, path);
}

#define PUSH_OPTION(P, section, key, field, type, dflt, min, max, above) \
  push_##type(L, dflt);                                                  \
  set_row(L, #section "." #key, KIND_##type, min, max, above);

/* core.options = { ["async.workers"] = { type = "integer", default = 4,
 * min = 1, max = 256, above = false }, ... } */
void lnh_options_push(lua_State *L) {
  lua_newtable(L);
  NH_OPTIONS(PUSH_OPTION)
  lua_setfield(L, -2, "options");
}
