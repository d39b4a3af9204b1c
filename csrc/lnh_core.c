/*
 * lnh_core.c: luaopen_notifyhub_core, the module's only exported symbol.
 * require("notifyhub") loads lua/notifyhub/init.lua, which wraps this.
 */
#include <math.h>
#include <string.h>

#include "lnh_binding.h"
#include "nh_version.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#if defined(__GNUC__)
#define LNH_EXPORT __attribute__((visibility("default")))
#else
#define LNH_EXPORT
#endif

/* core.now() -> monotonic seconds, for the façade's wait loops. */
static int lnh_core_now(lua_State *L) {
  lua_pushnumber(L, nh_now());
  return 1;
}

/* core.trim_memory(): hands freed heap back to the system where the C
 * library can (glibc's malloc_trim), so that RSS shows what is in use. */
static int lnh_core_trim_memory(lua_State *L) {
#ifdef __GLIBC__
  lua_pushboolean(L, malloc_trim(0));
#else
  lua_pushboolean(L, 0);
#endif
  return 1;
}

/* core.heap_in_use() -> bytes the C heap has handed out and not had back
 * (glibc's mallinfo2), or nil where that is not known. */
static int lnh_core_heap_in_use(lua_State *L) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  struct mallinfo2 mi = mallinfo2();
  lua_pushnumber(L, (lua_Number)(mi.uordblks + mi.hblkhd));
#else
  lua_pushnil(L);
#endif
  return 1;
}

/* The state's allocator with a bound on the net growth since it was put
 * in: growth past `limit` is refused (Lua raises "not enough memory");
 * shrinking and freeing always pass. */
typedef struct {
  lua_Alloc f;
  void *ud;
  long long used, limit;
} lnh_memcap;

static void *lnh_memcap_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  lnh_memcap *m = ud;
  size_t old = ptr ? osize : 0; /* without ptr, osize is a type tag */
  if (nsize > old && (m->used >= m->limit || nsize - old > (size_t)(m->limit - m->used)))
    return NULL;
  void *p = m->f(m->ud, ptr, osize, nsize);
  if (p || nsize == 0) m->used += (long long)nsize - (long long)old;
  return p;
}

/* core.with_memory_limit(bytes, fn, ...) -> pcall(fn, ...), with the
 * allocator bounded while fn runs (a config file's chunk: a few
 * instructions can ask for a terabyte), and given back after. */
static int lnh_core_with_memory_limit(lua_State *L) {
  lnh_memcap m;
  m.limit = (long long)luaL_checkinteger(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  m.used = 0;
  m.f = lua_getallocf(L, &m.ud);
  lua_setallocf(L, lnh_memcap_alloc, &m);
  int rc = lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 0);
  lua_setallocf(L, m.f, m.ud);
  lua_pushboolean(L, rc == 0);
  lua_replace(L, 1);
  return lua_gettop(L);
}

/* core.url_problem(s) -> nil when libcurl parses s as a URL, else why not. */
static int lnh_core_url_problem(lua_State *L) {
  const char *why = nh_url_problem(luaL_checkstring(L, 1));
  if (why) lua_pushstring(L, why);
  else lua_pushnil(L);
  return 1;
}

static void push_names(lua_State *L) {
  lua_createtable(L, NH_CODE_COUNT, 0);
  for (int i = 0; i < NH_CODE_COUNT; i++) {
    lua_pushstring(L, nh_code_name((nh_code)i));
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "codes");
}

/* ---- core.platforms: the descriptors (csrc/nh_<name>.c) ----------------- */

static void set_flag(lua_State *L, const char *name, int on) {
  if (!on) return;
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, name);
}

/* "a,b,c" -> { "a", "b", "c" } */
static void push_choices(lua_State *L, const char *list) {
  lua_newtable(L);
  int n = 0;
  for (const char *s = list; *s;) {
    size_t len = strcspn(s, ",");
    lua_pushlstring(L, s, len);
    lua_rawseti(L, -2, ++n);
    s += len + (s[len] == ',');
  }
}

/* { name, kind, required, option, secret, value, client, choices, default } */
static void push_key(lua_State *L, const nh_platform_key *k) {
  lua_createtable(L, 0, 4);
  lua_pushstring(L, k->name);
  lua_setfield(L, -2, "name");
  lua_pushstring(L, k->kind);
  lua_setfield(L, -2, "kind");
  set_flag(L, "required", k->flags & NH_KEY_REQUIRED);
  set_flag(L, "option", k->flags & NH_KEY_OPTION);
  set_flag(L, "secret", k->flags & NH_KEY_SECRET);
  set_flag(L, "value", k->flags & NH_KEY_VALUE);
  set_flag(L, "client", k->flags & NH_KEY_CLIENT);
  if (k->choices) {
    push_choices(L, k->choices);
    lua_setfield(L, -2, "choices");
  }
  if (k->dflt) {
    lua_pushstring(L, k->dflt);
    lua_setfield(L, -2, "default");
  }
}

static void set_rate(lua_State *L, const char *name, double v) {
  if (v <= 0) return;
  if (v == floor(v) && v < 1e15) lua_pushinteger(L, (lua_Integer)v); /* 5, not 5.0 */
  else lua_pushnumber(L, v);
  lua_setfield(L, -2, name);
}

/* rate_limit = { per_second, per_minute, per_hour, burst } or absent */
static void push_rate(lua_State *L, const nh_rate_default *r) {
  if (r->per_second <= 0 && r->per_minute <= 0 && r->per_hour <= 0) return;
  lua_createtable(L, 0, 4);
  set_rate(L, "per_second", r->per_second);
  set_rate(L, "per_minute", r->per_minute);
  set_rate(L, "per_hour", r->per_hour);
  set_rate(L, "burst", r->burst);
  lua_setfield(L, -2, "rate_limit");
}

/* transient = { "network", "timeout", ... } in NH_FAILURES order */
static void push_transient(lua_State *L, unsigned bits) {
  lua_newtable(L);
  int n = 0;
  for (int f = 0; f < NH_FAIL_COUNT; f++) {
    if (!(bits & (1u << f))) continue;
    lua_pushstring(L, nh_failure_name((nh_failure)f));
    lua_rawseti(L, -2, ++n);
  }
  lua_setfield(L, -2, "transient");
}

static void push_platform(lua_State *L, const nh_platform_desc *d) {
  lua_createtable(L, 0, 5);
  lua_pushstring(L, d->name);
  lua_setfield(L, -2, "name");
  lua_pushstring(L, nh_value_name(d->value));
  lua_setfield(L, -2, "value");
  lua_newtable(L);
  for (int i = 0; d->keys[i].name; i++) {
    push_key(L, &d->keys[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "keys");
  push_rate(L, &d->rate);
  push_transient(L, d->transient);
}

/* core.platforms = { descriptor, ... } in the enum's order; core.failures =
 * every failure class name a descriptor's transient list may hold. */
static void push_platforms(lua_State *L) {
  lua_createtable(L, NH_PLATFORM_COUNT, 0);
  for (int i = 0; i < NH_PLATFORM_COUNT; i++) {
    push_platform(L, nh_platform_describe((nh_platform_id)i));
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "platforms");
  lua_createtable(L, NH_FAIL_COUNT, 0);
  for (int f = 0; f < NH_FAIL_COUNT; f++) {
    lua_pushstring(L, nh_failure_name((nh_failure)f));
    lua_rawseti(L, -2, f + 1);
  }
  lua_setfield(L, -2, "failures");
}

LNH_EXPORT int luaopen_notifyhub_core(lua_State *L) {
  lnh_job_open(L);
  lua_newtable(L);
  lnh_client_open(L);
  lnh_spool_open_module(L);
  push_names(L);
  push_platforms(L);
  lnh_range_push(L);
  lnh_options_push(L);
  lnh_utf8_open(L);
  lua_pushcfunction(L, lnh_core_url_problem);
  lua_setfield(L, -2, "url_problem");
  lua_pushcfunction(L, lnh_core_now);
  lua_setfield(L, -2, "now");
  lua_pushcfunction(L, lnh_core_trim_memory);
  lua_setfield(L, -2, "trim_memory");
  lua_pushcfunction(L, lnh_core_heap_in_use);
  lua_setfield(L, -2, "heap_in_use");
  lua_pushcfunction(L, lnh_core_with_memory_limit);
  lua_setfield(L, -2, "with_memory_limit");
  lua_pushstring(L, nh_curl_version());
  lua_setfield(L, -2, "curl_version");
  lua_pushstring(L, NH_VERSION);
  lua_setfield(L, -2, "version");
  return 1;
}
