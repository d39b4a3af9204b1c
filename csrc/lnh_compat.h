/*
 * lnh_compat.h: the differences between Lua 5.4 and LuaJIT 2.1 (Lua 5.1 API)
 * that the binding meets, keyed on LUA_VERSION_NUM only.
 */
#ifndef LNH_COMPAT_H
#define LNH_COMPAT_H

#include <lauxlib.h>
#include <lua.h>

#if LUA_VERSION_NUM >= 502
#define lnh_rawlen(L, i) lua_rawlen(L, i)
#else
#define lnh_rawlen(L, i) lua_objlen(L, i)
#endif

#if LUA_VERSION_NUM >= 504
#define lnh_newuserdata(L, size) lua_newuserdatauv(L, size, 1)
#define lnh_setuservalue(L, i) lua_setiuservalue(L, i, 1)
#define lnh_getuservalue(L, i) lua_getiuservalue(L, i, 1)
#elif LUA_VERSION_NUM >= 502
#define lnh_newuserdata(L, size) lua_newuserdata(L, size)
#define lnh_setuservalue(L, i) lua_setuservalue(L, i)
#define lnh_getuservalue(L, i) lua_getuservalue(L, i)
#else
/* Lua 5.1 / LuaJIT: a userdata's environment table plays the user value. */
#define lnh_newuserdata(L, size) lua_newuserdata(L, size)
#define lnh_setuservalue(L, i) lua_setfenv(L, i)
#define lnh_getuservalue(L, i) lua_getfenv(L, i)
#endif

/* LuaJIT 2.1 has luaL_setfuncs and luaL_newlib; plain Lua 5.1 headers
 * (what LuaRocks picks for a 5.1 tree) do not. */
#if LUA_VERSION_NUM < 502 && !defined(luaL_newlib)
static inline void lnh_setfuncs_51(lua_State *L, const luaL_Reg *l, int nup) {
  for (; l->name; l++) {
    for (int i = 0; i < nup; i++) lua_pushvalue(L, -nup);
    lua_pushcclosure(L, l->func, nup);
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}
#define luaL_setfuncs(L, l, nup) lnh_setfuncs_51(L, l, nup)
#define luaL_newlib(L, l) (lua_newtable(L), luaL_setfuncs(L, l, 0))
#endif

static inline int lnh_absindex(lua_State *L, int i) {
  return i > 0 || i <= LUA_REGISTRYINDEX ? i : lua_gettop(L) + i + 1;
}

/* An integer-valued number (5.4 integers; any integral double elsewhere). */
static inline int lnh_isinteger(lua_State *L, int i) {
#if LUA_VERSION_NUM >= 503
  if (lua_isinteger(L, i)) return 1;
#endif
  if (lua_type(L, i) != LUA_TNUMBER) return 0;
  lua_Number n = lua_tonumber(L, i);
  /* In range first: casting 1e300 or NaN to long long is undefined. */
  return n >= -9007199254740992.0 && n <= 9007199254740992.0 && n == (lua_Number)(long long)n;
}

#endif
