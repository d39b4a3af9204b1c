-- LuaRocks build of notifyhub: the same sources and flags as `make build`,
-- through the Makefile's `rock` and `rock-install` targets.
--
--   luarocks make --tree=./luarocks-tree                    (Lua 5.4)
--   luarocks make --tree=./luarocks-tree --lua-version=5.1 \
--     LUA_INCDIR=/usr/include/luajit-2.1                    (LuaJIT / OpenResty)
--
-- The version is NH_VERSION of csrc/nh_version.h: on a new version, rename
-- this file and change `version` (spec/version_spec.lua fails until both agree).
package = "notifyhub"
version = "0.1.0-1"
source = {
  url = "git+file:///dev/null",   -- built from a checkout with `luarocks make`
}
description = {
  summary = "Notifications (Feishu/Lark, webhooks, ...) from Lua without blocking",
  detailed = [[
A C core with a worker thread pool, a bounded queue and libcurl senders,
exposed as require("notifyhub"): clients, send_async with chainable
on_complete / on_error handles, and wait. Runs in Lua 5.4, LuaJIT and
OpenResty.]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.1",
}
-- Libraries only: on Debian bookworm LuaRocks 3.8 does not look for
-- curl/curl.h under the multiarch include folder, so no header is named.
external_dependencies = {
  CURL = { library = "curl" },
  CJSON = { library = "cjson" },
  CRYPTO = { library = "crypto" },
  CMARK = { library = "cmark" },
  HIREDIS = { library = "hiredis" }, -- the Redis spool (spool.redis)
}
build = {
  type = "make",
  build_target = "rock",
  build_variables = {
    CFLAGS = "$(CFLAGS)",
    LUA_INCDIR = "$(LUA_INCDIR)",
  },
  install_target = "rock-install",
  -- the `notifyhub` command; LuaRocks wraps it so that it finds this tree
  install = { bin = { notifyhub = "bin/notifyhub" } },
  install_variables = {
    INST_LIBDIR = "$(LIBDIR)",
    INST_LUADIR = "$(LUADIR)",
  },
}
