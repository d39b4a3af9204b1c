/*
 * lnh_core.c: luaopen_notifyhub_core, the module's only exported symbol.
 * require("notifyhub") loads lua/notifyhub/init.lua, which wraps this.
 */
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
  lua_createtable(L, NH_PLATFORM_COUNT, 0);
  for (int i = 0; i < NH_PLATFORM_COUNT; i++) {
    lua_pushstring(L, nh_platform_name((nh_platform_id)i));
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "platforms");
}

LNH_EXPORT int luaopen_notifyhub_core(lua_State *L) {
  lnh_job_open(L);
  lua_newtable(L);
  lnh_client_open(L);
  push_names(L);
  lnh_range_push(L);
  lnh_utf8_open(L);
  lua_pushcfunction(L, lnh_core_url_problem);
  lua_setfield(L, -2, "url_problem");
  lua_pushcfunction(L, lnh_core_now);
  lua_setfield(L, -2, "now");
  lua_pushcfunction(L, lnh_core_trim_memory);
  lua_setfield(L, -2, "trim_memory");
  lua_pushcfunction(L, lnh_core_heap_in_use);
  lua_setfield(L, -2, "heap_in_use");
  lua_pushstring(L, nh_curl_version());
  lua_setfield(L, -2, "curl_version");
  lua_pushstring(L, NH_VERSION);
  lua_setfield(L, -2, "version");
  return 1;
}
