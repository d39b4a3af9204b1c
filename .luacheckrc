-- luacheck settings for `make lint` (luacheck lua spec), from the repository root.
-- The library runs on Lua 5.4, LuaJIT and OpenResty: the union of their globals.
std = "max"
max_line_length = 120

-- Unused variables and arguments whose names start with "_" are meant
-- (a callback's fixed signature, a value kept only to stay alive).
ignore = {
  "21[123]/_.*",
  -- `not (x >= y)` is how this code refuses NaN (x < y would let it pass).
  "581",
}

-- The nginx side: notifyhub.ngx, the test app and the platform stand-ins
-- that nginx runs for the specs.
files["lua/notifyhub/ngx.lua"] = { std = "+ngx_lua" }
files["spec"] = { std = "+busted" }
files["spec/support"] = { std = "+ngx_lua" }

-- spec/helper.lua wraps os.execute and io.popen (the sanitizer runtime must
-- not be preloaded into the shell commands specs run).
files["spec/helper.lua"] = {
  globals = { os = { fields = { execute = {} } }, io = { fields = { popen = {} } } },
}
