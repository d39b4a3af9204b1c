/*
 * lnh_range.c: the numeric rows of nh_options.h and the rows of lnh_range.h
 * as core.ranges, and the checks the
 * binding runs before it converts a lua_Number to an integer type: a NaN,
 * an infinity or 1e300 cast to int is undefined behaviour, not a big int.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lnh_binding.h"
#include "lnh_range.h"

/* The numeric rows of nh_options.h, then the rest (lnh_range.h). */
#define OPT_RANGE_BOOL(path, min, max, above)
#define OPT_RANGE_STR(path, min, max, above)
#define OPT_RANGE_HEADER(path, min, max, above)
#define OPT_RANGE_LEVEL(path, min, max, above)
#define OPT_RANGE_INT(path, min, max, above) { path, 1, min, max, above },
#define OPT_RANGE_SIZE(path, min, max, above) { path, 1, min, max, above },
#define OPT_RANGE_SEC(path, min, max, above) { path, 0, min, max, above },
#define OPT_RANGE_MS(path, min, max, above) { path, 0, min, max, above },
#define OPT_ROW(P, section, key, field, type, dflt, min, max, above) \
  OPT_RANGE_##type(#section "." #key, min, max, above)
#define ROW(path, integer, min, max, above) { path, integer, min, max, above },
static const lnh_range ranges[] = { NH_OPTIONS(OPT_ROW) LNH_RANGES(ROW) };
#undef ROW

#define N_RANGES (sizeof ranges / sizeof ranges[0])

static const lnh_range *find(const char *path) {
  for (size_t i = 0; i < N_RANGES; i++)
    if (strcmp(ranges[i].path, path) == 0) return &ranges[i];
  return NULL;
}

static int in_range(const lnh_range *r, lua_Number v) {
  if (!(v >= r->min && v <= r->max)) return 0; /* NaN fails both */
  if (r->above && v == r->min) return 0;
  return !r->integer || floor(v) == v;
}

/* A number as config.lua's util.num_text writes it: a whole number below
 * 2^63 in full (%.14g writes 2^53 + 2 as 9.007199254741e+15, like the
 * range's end), anything else in %.14g; "nan" for a NaN. */
static const char *num_text(char *buf, size_t len, double v) {
  if (v != v) snprintf(buf, len, "nan");
  else if (v == floor(v) && fabs(v) < 9223372036854775808.0) snprintf(buf, len, "%.0f", v);
  else snprintf(buf, len, "%.14g", v);
  return buf;
}

lua_Number lnh_check_range(lua_State *L, int idx, const char *path) {
  const lnh_range *r = find(path);
  if (!r) return luaL_error(L, "notifyhub: no range for '%s'", path);
  if (lua_type(L, idx) != LUA_TNUMBER)
    return luaL_error(L, "notifyhub: %s: %s expected, got %s", path,
                      r->integer ? "integer" : "number", luaL_typename(L, idx));
  lua_Number v = lua_tonumber(L, idx);
  if (!in_range(r, v)) {
    char got[32], min[32], max[32], why[256]; /* lua_pushfstring has no %g */
    snprintf(why, sizeof why,
             r->above ? "%s: %s > %s and <= %s expected, got %s"
                      : "%s: %s from %s to %s expected, got %s",
             path, r->integer ? "integer" : "number", num_text(min, sizeof min, r->min),
             num_text(max, sizeof max, r->max), num_text(got, sizeof got, (double)v));
    return luaL_error(L, "notifyhub: %s", why);
  }
  return v;
}

/* core.ranges = { ["async.workers"] = { integer = true, min = 1, max = 256, above = false } } */
void lnh_range_push(lua_State *L) {
  lua_createtable(L, 0, (int)N_RANGES);
  for (size_t i = 0; i < N_RANGES; i++) {
    lua_createtable(L, 0, 4);
    lua_pushboolean(L, ranges[i].integer);
    lua_setfield(L, -2, "integer");
    lua_pushnumber(L, ranges[i].min);
    lua_setfield(L, -2, "min");
    lua_pushnumber(L, ranges[i].max);
    lua_setfield(L, -2, "max");
    lua_pushboolean(L, ranges[i].above);
    lua_setfield(L, -2, "above");
    lua_setfield(L, -2, ranges[i].path);
  }
  lua_setfield(L, -2, "ranges");
}
