/*
 * redact.c: the façade's URL redaction and target parsing, in Lua
 * (lua/notifyhub/util.lua redact_url, lua/notifyhub/target.lua parse),
 * from an embedded Lua 5.4 on fuzzed strings. One byte picks a prefix
 * (none, a scheme, user info, ...) that the rest follows.
 *
 * Checks (in the Lua below): neither function raises; parse answers a
 * platform of csrc/nh_platforms.h with the string as its value, or nil
 * and a text; and redact_url(url) never shows, when 8 bytes or longer,
 * the last non-empty path segment, a query value, the user info or the
 * fragment of url more often than the documented redaction does (scheme,
 * host and port, the path with its last segment as ***, query names with
 * values as ***: a secret may appear there by chance, e.g. as the host).
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef NH_LUA_DIR
#define NH_LUA_DIR "lua"
#endif

#include "nh_platforms.h"

static lua_State *L;

/* "feishu = 1, webhook = 1, ..." from the one platform list */
#define NH_X_FIELD(id, name) #name " = 1, "
#define NH_PLATFORM_FIELDS NH_PLATFORMS(NH_X_FIELD)

static const char *const check_lua =
  "local util = require('notifyhub.util')\n"
  "local target = require('notifyhub.target')\n"
  "local PLATFORMS = { " NH_PLATFORM_FIELDS "}\n"
  "local function fail(fmt, ...) error(fmt:format(...), 0) end\n"
  "-- What redact_url must hide, by RFC 3986's split, and what the documented\n"
  "-- redaction keeps: scheme, host and port, the path with its last\n"
  "-- (non-empty) segment as ***, query names with values as ***.\n"
  "local function pieces(url)\n"
  "  local scheme, rest = url:match('^(%a[%w+.-]*)://(.*)$')\n"
  "  if not scheme then return nil end\n"
  "  local authority = rest:match('^[^/?#]*')\n"
  "  rest = rest:sub(#authority + 1)\n"
  "  local path = rest:match('^[^?#]*')\n"
  "  rest = rest:sub(#path + 1)\n"
  "  local query, fragment = '', ''\n"
  "  if rest:sub(1, 1) == '?' then query = rest:match('^%?([^#]*)'); rest = rest:sub(#query + 2) "
  "end\n"
  "  if rest:sub(1, 1) == '#' then fragment = rest:sub(2) end\n"
  "  local userinfo, host = authority:match('^(.*)@(.*)$')\n"
  "  host = host or authority\n"
  "  local secrets = {}\n"
  "  if userinfo then secrets[#secrets + 1] = { 'user info', userinfo } end\n"
  "  if fragment ~= '' then secrets[#secrets + 1] = { 'fragment', fragment } end\n"
  "  local last_start, last_end\n"
  "  for s, e in path:gmatch('()[^/]+()') do last_start, last_end = s, e end\n"
  "  local shown = path\n"
  "  if last_start then\n"
  "    secrets[#secrets + 1] = { 'last path segment', path:sub(last_start, last_end - 1) }\n"
  "    shown = path:sub(1, last_start - 1) .. '***' .. path:sub(last_end)\n"
  "  end\n"
  "  local params = {}\n"
  "  for param in (query .. '&'):gmatch('([^&]*)&') do\n"
  "    local name, value = param:match('^([^=]*)=(.*)$')\n"
  "    if value then secrets[#secrets + 1] = { 'query value', value } end\n"
  "    params[#params + 1] = value and name .. '=***' or param\n"
  "  end\n"
  "  local expected = scheme:lower() .. '://' .. host .. shown\n"
  "  if query ~= '' then expected = expected .. '?' .. table.concat(params, '&') end\n"
  "  return secrets, expected\n"
  "end\n"
  "local function count(s, text)\n"
  "  local n, i = 0, 1\n"
  "  while true do\n"
  "    local a = s:find(text, i, true)\n"
  "    if not a then return n end\n"
  "    n, i = n + 1, a + 1\n"
  "  end\n"
  "end\n"
  "return function(s)\n"
  "  local ok, t, why = pcall(target.parse, s)\n"
  "  if not ok then fail('target.parse raised: %s', tostring(t)) end\n"
  "  -- an Apprise-style URL (slack://...) names its destination otherwise\n"
  "  local scheme = (s:match('^(%a[%w+.-]*)://') or 'http'):lower()\n"
  "  local same = scheme == 'http' or scheme == 'https'\n"
  "  if t then\n"
  "    if not PLATFORMS[t.platform] or (same and t.value ~= s) then fail('target.parse: %s', "
  "tostring(t.platform)) end\n"
  "  elseif type(why) ~= 'string' then\n"
  "    fail('target.parse gave neither a target nor a reason')\n"
  "  end\n"
  "  local out\n"
  "  ok, out = pcall(util.redact_url, s)\n"
  "  if not ok then fail('redact_url raised: %s', tostring(out)) end\n"
  "  if type(out) ~= 'string' then fail('redact_url gave a %s', type(out)) end\n"
  "  local secrets, expected = pieces(s)\n"
  "  for _, sec in ipairs(secrets or {}) do\n"
  "    local what, text = sec[1], sec[2]\n"
  "    if #text >= 8 and count(out, text) > count(expected, text) then\n"
  "      fail('redact_url shows the %s %q: %q -> %q (expected %q)', what, text, s, out, expected)\n"
  "    end\n"
  "  end\n"
  "end\n";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  L = luaL_newstate();
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_pushstring(L, NH_LUA_DIR "/?.lua;" NH_LUA_DIR "/?/init.lua");
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
  if (luaL_loadstring(L, check_lua) || lua_pcall(L, 0, 1, 0)) {
    fprintf(stderr, "redact: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_setfield(L, LUA_REGISTRYINDEX, "nh_fuzz_check");
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const prefixes[] = {
    "",
    "https://",
    "http://",
    "https://user:pass@",
    "HTTPS://",
    "mailto:",
    "https://h/",
    "https://hooks.slack.com/services/",
    "https://open.feishu.cn/open-apis/bot/v2/hook/",
    "https://h?token=",
  };
  if (size == 0) return 0;
  const char *prefix = prefixes[data[0] % (sizeof prefixes / sizeof *prefixes)];
  lua_settop(L, 0);
  lua_getfield(L, LUA_REGISTRYINDEX, "nh_fuzz_check");
  lua_pushstring(L, prefix);
  lua_pushlstring(L, (const char *)data + 1, size - 1);
  lua_concat(L, 2);
  if (lua_pcall(L, 1, 0, 0)) {
    fprintf(stderr, "redact: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_settop(L, 0);
  lua_gc(L, LUA_GCSTEP, 0);
  return 0;
}
