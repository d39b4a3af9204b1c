-- The core is Lua-free: workers cannot touch a Lua state because the code
-- they run has no Lua in it. Checked two ways: the core's objects (the
-- static library both modules, the C driver and the test programs link)
-- neither use nor define a lua_* / luaL_* / luaJIT_* symbol, and a plain C
-- program (no Lua at all) drives the core against the loopback server.

local server = require("spec.support.server")

-- The build folder of the modules under test (make asan: build/asan).
local BUILD = os.getenv("NOTIFYHUB_BUILD") or "build"
local FLAVOUR = rawget(_G, "jit") and "luajit" or "lua5.4"

-- The names of the Lua C API in nm output ("U lua_pushstring", "T luaL_ref").
local function lua_symbols(nm_out)
  local found = {}
  for name in nm_out:gmatch("%s([%w_]+)\n") do
    local prefix = name:match("^(lua%w*_)")
    if prefix == "lua_" or prefix == "luaL_" or prefix == "luaJIT_" or prefix == "luaopen_" then
      found[#found + 1] = name
    end
  end
  return found
end

local function run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  local ok = p:close()
  return ok, out
end

describe("the C core", function()
  setup(function() server.start() end)
  teardown(function() server.stop() end)

  it("references no Lua symbol", function()
    local lib = BUILD .. "/core/libnhcore.a"
    local ok, undefined = run("nm -u " .. lib)
    assert(ok, undefined)
    -- nm read the core: it needs libcurl and cJSON, and holds every nh_*.c
    assert.matches("U curl_multi_perform", undefined)
    assert.matches("U cJSON_Delete", undefined)
    local _, members = run("ar t " .. lib)
    local _, listing = run("ls csrc")
    local sources = {}
    for line in listing:gmatch("[^\n]+") do
      local name = line:match("^(nh_[%w_]+)%.c$")
      if name then sources[#sources + 1] = name .. ".o" end
    end
    assert.is_true(#sources > 10)
    for _, obj in ipairs(sources) do assert.matches(obj, members, 1, true) end
    assert.same({}, lua_symbols(undefined))
    local defined
    ok, defined = run("nm --defined-only " .. lib)
    assert(ok, defined)
    assert.matches("T nh_client_new", defined)
    assert.same({}, lua_symbols(defined))
    -- The check sees Lua symbols where there are some: the module's binding.
    local _, mod = run("nm -u " .. BUILD .. "/" .. FLAVOUR .. "/notifyhub/core.so")
    assert.matches("lua_pushstring", mod)
    assert.is_true(#lua_symbols(mod) > 10)
  end)

  it("delivers from a C program with no Lua in it", function()
    server.clear()
    local ok, out = run("build/core_driver " .. server.url("/webhook/core-c") .. " 500")
    assert(ok, out)
    assert.matches("submitted=500 succeeded=500 failed=0 taken=500 ok=500", out)
    assert.equal(500, server.count("/webhook/core-c"))
  end)
end)
