-- The core is Lua-free: workers cannot touch a Lua state because the code
-- they run has no Lua in it. Checked two ways: the core's object code calls
-- no lua_* / luaL_* function, and a plain C program (no Lua at all) drives
-- the core against the loopback server.

local server = require("spec.support.server")

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
    local ok, out = run("nm -u build/core_driver")
    assert(ok, out)
    assert.is_true(#out > 0)
    assert.is_nil(out:match("[^%w_]lua[L_]?[%w_]*"), out:match("[^\n]*lua[^\n]*"))
    -- The module itself does use Lua, in the binding only.
    local _, mod = run("nm -u build/lua5.4/notifyhub/core.so")
    assert.matches("lua_pushstring", mod)
  end)

  it("delivers from a C program with no Lua in it", function()
    server.clear()
    local ok, out = run("build/core_driver " .. server.url("/webhook/core-c") .. " 500")
    assert(ok, out)
    assert.matches("submitted=500 succeeded=500 failed=0 taken=500 ok=500", out)
    assert.equal(500, server.count("/webhook/core-c"))
  end)
end)
