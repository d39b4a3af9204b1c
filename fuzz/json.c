/*
 * json.c: the binding's Lua-to-JSON conversion (csrc/lnh_json.c,
 * lnh_to_json) on Lua values built from the fuzz bytes, read as a small
 * stack-machine recipe: push numbers (integers, floats, NaN, inf), strings
 * (any bytes, NUL included), booleans, new tables; set t[k] = v with any
 * key; append; nest; tie a table to itself.
 *
 * Checks: the conversion fails exactly when it must (a table nested 32
 * deep or in a cycle, a table that is neither a sequence 1..n nor all
 * string keys, a string key or value with a NUL byte: what lnh_json.c
 * documents), and when it succeeds the tree holds the same data (arrays
 * the sequence, objects every key, numbers exactly, strings) and prints as JSON
 * that cJSON parses back. A failed check prints the value as Lua source.
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>

#include "fuzz_input.h"
#include "lnh_binding.h"

#define MAX_DEPTH 32 /* lnh_json.c's */
#define MAX_STACK 48

static lua_State *L;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  L = luaL_newstate();
  return 0;
}

static void build(fuzz_input *in) {
  while (in->n > 0) {
    int top = lua_gettop(L);
    unsigned op = fz_u8(in) % 10;
    if (top >= MAX_STACK && op <= 5) op = 6;
    switch (op) {
    case 0: lua_pushinteger(L, (int8_t)fz_u8(in)); break;
    case 1: {
      uint64_t v = 0;
      for (int i = 0; i < 8; i++) v = v << 8 | fz_u8(in);
      lua_pushinteger(L, (lua_Integer)v);
      break;
    }
    case 2: {
      uint64_t v = 0;
      double d;
      for (int i = 0; i < 8; i++) v = v << 8 | fz_u8(in);
      memcpy(&d, &v, sizeof d);
      lua_pushnumber(L, d);
      break;
    }
    case 3: {
      size_t n = fz_u8(in) % 24;
      if (n > in->n) n = in->n;
      lua_pushlstring(L, (const char *)in->p, n);
      in->p += n;
      in->n -= n;
      break;
    }
    case 4: lua_pushboolean(L, fz_bool(in)); break;
    case 5: lua_newtable(L); break;
    case 6: /* [t, k, v]: t[k] = v */
      if (top >= 3 && lua_istable(L, -3) && !lua_isnil(L, -2) &&
          !(lua_type(L, -2) == LUA_TNUMBER && isnan(lua_tonumber(L, -2))))
        lua_rawset(L, -3);
      else if (top >= 1) lua_pop(L, top >= 2 ? 2 : 1);
      break;
    case 7: /* [t, v]: t[#t + 1] = v */
      if (top >= 2 && lua_istable(L, -2)) lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
      else if (top >= 1) lua_pop(L, 1);
      break;
    case 8: /* [t]: t[k] = t, a cycle */
      if (top >= 1 && lua_istable(L, -1)) {
        if (fz_bool(in)) lua_pushstring(L, "self");
        else lua_pushinteger(L, (lua_Integer)lua_rawlen(L, -1) + 1);
        lua_pushvalue(L, -2);
        lua_rawset(L, -3);
      }
      break;
    default: /* [v]: { v } */
      if (top >= 1) {
        lua_createtable(L, 1, 0);
        lua_insert(L, -2);
        lua_rawseti(L, -2, 1);
      }
      break;
    }
  }
}

/* What lnh_json.c documents: does converting the value at idx fail? */
static int nul_inside(int idx) {
  size_t n;
  return lua_type(L, idx) == LUA_TSTRING && strlen(lua_tolstring(L, idx, &n)) != n;
}

static int must_fail(int idx, int depth) {
  if (nul_inside(idx)) return 1;
  if (lua_type(L, idx) != LUA_TTABLE) return 0;
  if (depth >= MAX_DEPTH) return 1;
  size_t count = 0, strings = 0, max_int = 0;
  int bad = 0;
  lua_pushnil(L);
  while (!bad && lua_next(L, idx)) {
    count++;
    if (nul_inside(lua_gettop(L) - 1)) bad = 1;
    else if (lua_type(L, -2) == LUA_TSTRING) strings++;
    else if (lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1) {
      lua_Integer k = lua_tointeger(L, -2);
      if ((lua_Unsigned)k > max_int) max_int = (size_t)k;
    } else bad = 1;
    if (!bad && must_fail(lua_gettop(L), depth + 1)) bad = 1;
    lua_pop(L, bad ? 2 : 1);
  }
  if (bad) return 1;
  if (strings == count) return 0;             /* an object (or {}) */
  return !(strings == 0 && max_int == count); /* an array: exactly 1..n */
}

static int has_nul_key(int idx) {
  int found = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    size_t n;
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &n) : NULL;
    if (k && strlen(k) != n) found = 1;
    lua_pop(L, 1);
  }
  return found;
}

/* NaN and infinities are null; an integer beyond 2^53, or a double that
 * needs 17 digits, is its exact decimal text (a raw item); others numbers. */
static void same_number(int idx, const cJSON *j, const char *path) {
  double d = (double)lua_tonumber(L, idx);
  if (!isfinite(d)) {
    FZ_CHECK(cJSON_IsNull(j), "%s: %g became type %d, not null", path, d, j->type);
    return;
  }
  if (lua_isinteger(L, idx) && cJSON_IsRaw(j)) {
    long long want = (long long)lua_tointeger(L, idx);
    FZ_CHECK(strtoll(j->valuestring, NULL, 10) == want, "%s: integer %lld became %s", path, want,
             j->valuestring);
    return;
  }
  double got = cJSON_IsNumber(j) ? j->valuedouble
               : cJSON_IsRaw(j)  ? strtod(j->valuestring, NULL)
                                 : NAN;
  FZ_CHECK(got == d, "%s: number %.17g became %.17g", path, d, got);
}

/* The tree j holds the value at idx. */
static void same(int idx, const cJSON *j, const char *path) {
  switch (lua_type(L, idx)) {
  case LUA_TNIL: FZ_CHECK(cJSON_IsNull(j), "%s: nil became %d", path, j->type); break;
  case LUA_TBOOLEAN:
    FZ_CHECK(cJSON_IsBool(j) && !!cJSON_IsTrue(j) == lua_toboolean(L, idx), "%s: boolean", path);
    break;
  case LUA_TNUMBER: same_number(idx, j, path); break;
  case LUA_TSTRING:
    FZ_CHECK(cJSON_IsString(j) && strcmp(j->valuestring, lua_tostring(L, idx)) == 0,
             "%s: string \"%s\" became something else", path, lua_tostring(L, idx));
    break;
  case LUA_TTABLE: {
    size_t count = 0;
    if (cJSON_IsArray(j)) {
      size_t n = (size_t)cJSON_GetArraySize(j);
      lua_pushnil(L);
      while (lua_next(L, idx)) {
        count++;
        FZ_CHECK(lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1 &&
                   (size_t)lua_tointeger(L, -2) <= n,
                 "%s: a table with the key %s became an array of %zu (the key is lost)", path,
                 luaL_tolstring(L, -2, NULL), n);
        char sub[64];
        snprintf(sub, sizeof sub, "%.40s[%lld]", path, (long long)lua_tointeger(L, -2));
        same(lua_gettop(L), cJSON_GetArrayItem(j, (int)lua_tointeger(L, -2) - 1), sub);
        lua_pop(L, 1);
      }
      FZ_CHECK(count == n, "%s: %zu entries became an array of %zu", path, count, n);
    } else {
      FZ_CHECK(cJSON_IsObject(j), "%s: a table became type %d", path, j->type);
      if (has_nul_key(idx)) break; /* cJSON keys are C strings */
      lua_pushnil(L);
      while (lua_next(L, idx)) {
        count++;
        FZ_CHECK(lua_type(L, -2) == LUA_TSTRING, "%s: a non-string key in an object", path);
        const char *k = lua_tostring(L, -2);
        char sub[64];
        snprintf(sub, sizeof sub, "%.40s.%.16s", path, k);
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(j, k);
        FZ_CHECK(item, "%s: the key \"%s\" is missing", path, k);
        same(lua_gettop(L), item, sub);
        lua_pop(L, 1);
      }
      FZ_CHECK(count == (size_t)cJSON_GetArraySize(j), "%s: %zu keys became %d", path, count,
               cJSON_GetArraySize(j));
    }
    break;
  }
  default: FZ_CHECK(0, "%s: unexpected Lua type", path);
  }
}

/* The value at idx as Lua source, to stderr, for a failed check. */
static void dump(int idx, int depth) {
  switch (lua_type(L, idx)) {
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    fputc('"', stderr);
    for (size_t i = 0; i < n; i++)
      fprintf(stderr, s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' ? "%c" : "\\%u",
              (unsigned char)s[i]);
    fputc('"', stderr);
    break;
  }
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) fprintf(stderr, "%lld", (long long)lua_tointeger(L, idx));
    else fprintf(stderr, "%.17g", (double)lua_tonumber(L, idx));
    break;
  case LUA_TTABLE:
    if (depth > 4) {
      fputs("{...}", stderr);
      break;
    }
    fputc('{', stderr);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      fputc('[', stderr);
      dump(lua_gettop(L) - 1, depth + 1);
      fputs("] = ", stderr);
      dump(lua_gettop(L), depth + 1);
      fputs(", ", stderr);
      lua_pop(L, 1);
    }
    fputc('}', stderr);
    break;
  default: fputs(luaL_typename(L, idx), stderr);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_input in = { data, size };
  lua_settop(L, 0);
  /* Room for the recipe's MAX_STACK values and for the checks below, which
   * walk up to MAX_DEPTH levels with a key and a value each: Lua promises
   * only LUA_MINSTACK slots, and its own (uninstrumented) writes past the
   * stack would corrupt the heap unseen. */
  if (!lua_checkstack(L, MAX_STACK + 4 * MAX_DEPTH + 32)) abort();
  build(&in);
  if (lua_gettop(L) == 0) lua_pushnil(L);
  int idx = 1;
  char err[256];
  cJSON *j = lnh_to_json(L, idx, err, sizeof err);
  int fail = must_fail(idx, 0);
  if ((j == NULL) != fail) {
    fputs("the value: ", stderr);
    dump(idx, 0);
    fputc('\n', stderr);
  }
  FZ_CHECK((j == NULL) == fail, "lnh_to_json %s (%s) where it %s", j ? "succeeded" : "failed",
           j ? "" : err, fail ? "must fail" : "must succeed");
  if (j) {
    same(idx, j, "$");
    char *text = cJSON_PrintUnformatted(j);
    FZ_CHECK(text, "the tree does not print");
    cJSON *back = cJSON_Parse(text);
    FZ_CHECK(back, "the printed JSON does not parse: %.300s", text);
    cJSON_Delete(back);
    free(text);
    cJSON_Delete(j);
  } else {
    FZ_CHECK(err[0], "failed without a reason");
  }
  lua_settop(L, 0);
  if (size & 1) lua_gc(L, LUA_GCSTEP, 0);
  return 0;
}
