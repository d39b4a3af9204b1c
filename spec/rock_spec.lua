-- The LuaRocks build: `luarocks make` into a fresh tree, then
-- require("notifyhub") from lua5.4 and from luajit with that tree's paths,
-- and the tree's `notifyhub` command.
-- Runs once, under Lua 5.4 (the build is the same for both runs).

local function run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  local ok = p:close()
  return ok, out
end

local describe_rock = _VERSION == "Lua 5.4" and describe or pending

-- The version (csrc/nh_version.h) and the rockspec (spec/version_spec.lua
-- checks that they agree).
local function version()
  local f = assert(io.open("csrc/nh_version.h"))
  local v = f:read("*a"):match('#define NH_VERSION%s+"([^"]+)"')
  f:close()
  return assert(v)
end
local rockspec = select(2, run("ls notifyhub-*.rockspec")):match("^(%S+)\n$")

describe_rock("luarocks make", function()
  local tree

  setup(function()
    local _, dir = run("mktemp -d")
    tree = dir:gsub("%s+$", "")
  end)

  teardown(function()
    if tree and tree:match("^/tmp/") then run("rm -rf '" .. tree .. "'") end
  end)

  local function check(lua_version, interpreter)
    local ok, out = run(("luarocks --lua-version=%s make --tree='%s' %s")
      :format(lua_version, tree, rockspec))
    assert(ok, out)
    ok, out = run(("cd /tmp && eval \"$(luarocks --lua-version=%s path --tree='%s')\" && "
      .. "%s -e 'local n = require(\"notifyhub\"); local c = n.new({ webhook = { url = "
      .. "\"http://127.0.0.1:9/\" } }); print(n._VERSION, c:close(0))'")
      :format(lua_version, tree, interpreter))
    assert(ok, out)
    assert.equal("notifyhub " .. version() .. "\t0", out:match("notifyhub [^\n]*"))
    -- the command: installed in the tree's bin/, run from elsewhere, using
    -- the rock's modules (a check sends nothing)
    ok, out = run(("cd /tmp && env -u NOTIFYHUB_URLS -u NOTIFYHUB_CONFIG '%s/bin/notifyhub' --version")
      :format(tree))
    assert(ok, out)
    assert.equal("notifyhub " .. version(), out:match("^notifyhub [%d.]+"))
    ok, out = run(("cd /tmp && '%s/bin/notifyhub' check http://127.0.0.1:9/hook/t0ken"):format(tree))
    assert(ok, out)
    assert.truthy(out:find("ok  webhook", 1, true), out)
    local unknown = run(("'%s/bin/notifyhub' sned"):format(tree))
    assert.falsy(unknown)   -- status 2
  end

  it("installs for Lua 5.4 and loads from lua5.4", function() check("5.4", "lua5.4") end)
  it("installs for Lua 5.1 and loads from luajit", function() check("5.1", "luajit") end)
end)
