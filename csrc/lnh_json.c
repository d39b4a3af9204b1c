/*
 * lnh_json.c: Lua values to cJSON trees, for the parts of a message that a
 * platform sends as JSON (metadata, platform_data). Runs on the owner thread
 * at submit time, so workers only ever see the copy.
 *
 * A table whose keys are exactly 1..n is an array; any other table is an
 * object with its keys sorted, so the same table always gives the same bytes.
 * An empty table is an object. A string with a NUL byte, key or value, is
 * refused: cJSON holds C strings and would cut it short.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lnh_binding.h"

#define MAX_DEPTH 32                         /* MAX_DEPTH in lua/notifyhub/message.lua */
#define LNH_EXACT_INT ((lua_Integer)1 << 53) /* doubles hold every integer up to here */

static cJSON *to_json(lua_State *L, int idx, int depth, char *err, size_t errlen);

/* n when the keys of the table at idx are exactly 1..n, else -1: n keys,
 * each a whole number in 1..n, are that set (a border from the length
 * operator alone is not: {[0] = a, [1] = b, [2] = c, [4] = d} has 4 keys). */
static int array_length(lua_State *L, int idx) {
  size_t n = lnh_rawlen(L, idx), count = 0;
  if (n == 0 || n > INT_MAX) return -1;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    count++;
    if (!lnh_isinteger(L, -1) || lua_tonumber(L, -1) < 1 || lua_tonumber(L, -1) > (lua_Number)n) {
      lua_pop(L, 1);
      return -1;
    }
  }
  return count == n ? (int)n : -1;
}

/* A string at idx with a NUL byte inside: cJSON keeps C strings, so it
 * would be cut short (a key "a\0b" would become "a"): refused instead. */
static int has_nul(lua_State *L, int idx) {
  size_t n;
  const char *s = lua_tolstring(L, idx, &n);
  return strlen(s) != n;
}

static int compare_keys(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static cJSON *array_json(lua_State *L, int idx, int n, int depth, char *err, size_t errlen) {
  cJSON *arr = cJSON_CreateArray();
  for (int i = 1; arr && i <= n; i++) {
    lua_rawgeti(L, idx, i);
    cJSON *item = to_json(L, lua_gettop(L), depth + 1, err, errlen);
    lua_pop(L, 1);
    if (!item) {
      cJSON_Delete(arr);
      return NULL;
    }
    cJSON_AddItemToArray(arr, item);
  }
  return arr;
}

/* Collects the string keys of the table at idx into a sorted array. */
static const char **sorted_keys(lua_State *L, int idx, size_t *n, char *err, size_t errlen) {
  size_t cap = 8;
  const char **keys = malloc(cap * sizeof *keys);
  *n = 0;
  if (!keys) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    const char *why = lua_type(L, -1) != LUA_TSTRING ? "keys must be strings"
                      : has_nul(L, -1)               ? "a NUL byte, which JSON here cannot carry"
                                                     : NULL;
    if (!why && *n == cap) {
      const char **more = realloc(keys, (cap *= 2) * sizeof *keys);
      if (more) keys = more;
      else why = "out of memory";
    }
    if (why) {
      snprintf(err, errlen, "a %s key in an object (%s)", luaL_typename(L, -1), why);
      lua_pop(L, 1);
      free(keys);
      return NULL;
    }
    keys[(*n)++] = lua_tostring(L, -1); /* anchored by the table */
  }
  qsort(keys, *n, sizeof *keys, compare_keys);
  return keys;
}

static cJSON *object_json(lua_State *L, int idx, int depth, char *err, size_t errlen) {
  size_t n;
  const char **keys = sorted_keys(L, idx, &n, err, errlen);
  if (!keys) return NULL;
  cJSON *obj = cJSON_CreateObject();
  for (size_t i = 0; obj && i < n; i++) {
    lua_getfield(L, idx, keys[i]);
    cJSON *item = to_json(L, lua_gettop(L), depth + 1, err, errlen);
    lua_pop(L, 1);
    if (!item) {
      char inner[200];
      snprintf(inner, sizeof inner, "%s", err);
      snprintf(err, errlen, "%s: %s", keys[i], inner); /* the path, outside in */
      cJSON_Delete(obj);
      obj = NULL;
      break;
    }
    cJSON_AddItemToObject(obj, keys[i], item);
  }
  free(keys);
  return obj;
}

static cJSON *number_json_double(double d, char *text) {
  if (!isfinite(d)) return cJSON_CreateNull();
  snprintf(text, 48, "%.15g", d);
  if (strtod(text, NULL) == d) return cJSON_CreateNumber(d); /* what cJSON prints is exact */
  snprintf(text, 48, "%.17g", d);
  return cJSON_CreateRaw(text);
}

/* cJSON keeps numbers as doubles and prints 15 significant digits when they
 * come back "close enough": a Lua 5.4 integer beyond 2^53, or a double that
 * needs 16 or 17 digits (an id like 1234567890123456789 on LuaJIT), goes out
 * as its exact decimal text instead. JSON has no NaN or infinity: null. */
static cJSON *number_json(lua_State *L, int idx) {
  char text[48];
#if LUA_VERSION_NUM >= 503
  if (lua_isinteger(L, idx)) {
    lua_Integer i = lua_tointeger(L, idx);
    if (i <= LNH_EXACT_INT && i >= -LNH_EXACT_INT) return number_json_double((double)i, text);
    snprintf(text, sizeof text, LUA_INTEGER_FMT, (LUAI_UACINT)i);
    return cJSON_CreateRaw(text);
  }
#endif
  return number_json_double((double)lua_tonumber(L, idx), text);
}

/* LuaJIT: a 64-bit integer cdata (1LL << 60, an id read through the FFI)
 * is how an integer beyond 2^53 exists there; tostring gives "<digits>LL"
 * or "<digits>ULL", and it goes out as that exact decimal text. NULL for
 * any other cdata. */
static cJSON *int64_cdata_json(lua_State *L, int idx) {
  char text[32];
  size_t n = 0;
  int ok = 0;
  lua_getglobal(L, "tostring");
  lua_pushvalue(L, idx);
  if (lua_pcall(L, 1, 1, 0) == 0 && lua_type(L, -1) == LUA_TSTRING) {
    const char *s = lua_tolstring(L, -1, &n);
    size_t sign = s[0] == '-', digits = strspn(s + sign, "0123456789");
    const char *rest = s + sign + digits;
    ok = digits > 0 && n < sizeof text && (strcmp(rest, "LL") == 0 || strcmp(rest, "ULL") == 0);
    if (ok) {
      memcpy(text, s, sign + digits);
      text[sign + digits] = '\0';
    }
  }
  lua_pop(L, 1);
  return ok ? cJSON_CreateRaw(text) : NULL;
}

static cJSON *to_json(lua_State *L, int idx, int depth, char *err, size_t errlen) {
  switch (lua_type(L, idx)) {
  case LUA_TNIL: return cJSON_CreateNull();
  case LUA_TBOOLEAN: return cJSON_CreateBool(lua_toboolean(L, idx));
  case LUA_TNUMBER: return number_json(L, idx);
  case LUA_TSTRING:
    if (has_nul(L, idx)) {
      snprintf(err, errlen, "a string with a NUL byte, which JSON here cannot carry");
      return NULL;
    }
    return cJSON_CreateString(lua_tostring(L, idx));
  case LUA_TTABLE: {
    if (depth >= MAX_DEPTH) {
      snprintf(err, errlen, "nested deeper than %d levels (a cycle?)", MAX_DEPTH);
      return NULL;
    }
    /* Each level holds a key and a value on the Lua stack, and only
     * LUA_MINSTACK slots are promised: ask (without raising, which would
     * leak the tree built so far). */
    if (!lua_checkstack(L, 4)) {
      snprintf(err, errlen, "out of Lua stack space");
      return NULL;
    }
    int n = array_length(L, idx);
    return n > 0 ? array_json(L, idx, n, depth, err, errlen)
                 : object_json(L, idx, depth, err, errlen);
  }
  default: {
    cJSON *exact = strcmp(luaL_typename(L, idx), "cdata") == 0 ? int64_cdata_json(L, idx) : NULL;
    if (exact) return exact;
    snprintf(err, errlen, "cannot encode a %s as JSON", luaL_typename(L, idx));
    return NULL;
  }
  }
}

cJSON *lnh_to_json(lua_State *L, int idx, char *err, size_t errlen) {
  err[0] = '\0';
  return to_json(L, lnh_absindex(L, idx), 0, err, errlen);
}
