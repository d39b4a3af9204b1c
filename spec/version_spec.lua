-- One version: csrc/nh_version.h defines NH_VERSION and nothing else
-- writes it down. notifyhub._VERSION and the default User-Agent come from
-- it through the C module; the rockspec's file name and version field
-- cannot (LuaRocks reads them before anything is built), so this spec
-- fails when they say another version.

local notifyhub = require("notifyhub")
local core = require("notifyhub.core")
local server = require("spec.support.server")

local shell = require("spec.support.shell")

local function read(path) return assert(shell.read_file(path), path) end

local VERSION = read("csrc/nh_version.h"):match('#define NH_VERSION%s+"([^"]+)"')

local function rockspecs()
  local p = assert(io.popen("ls *.rockspec"))
  local names = {}
  for name in p:lines() do names[#names + 1] = name end
  p:close()
  return names
end

describe("the version", function()
  it("is defined once, in csrc/nh_version.h", function()
    assert.is_string(VERSION)
    assert.matches("^%d+%.%d+%.%d+$", VERSION)
  end)

  it("is the module's", function()
    assert.equal(VERSION, core.version)
    assert.equal("notifyhub " .. VERSION, notifyhub._VERSION)
  end)

  it("names the one rockspec, whose version field agrees", function()
    local names = rockspecs()
    assert.equal(1, #names, table.concat(names, " "))
    local rev = names[1]:match("^notifyhub%-" .. VERSION:gsub("%.", "%%.") .. "%-(%d+)%.rockspec$")
    assert.is_string(rev, names[1] .. " is not notifyhub-" .. VERSION .. "-<revision>.rockspec")
    local spec = {}
    assert(load(read(names[1]), "@" .. names[1], "t", spec))()
    assert.equal("notifyhub", spec.package)
    assert.equal(VERSION .. "-" .. rev, spec.version)
  end)

  describe("in the User-Agent", function()
    setup(function() server.start() end)
    teardown(function() server.stop() end)

    it("is what the core sends when http.user_agent is not set", function()
      server.clear()
      local c = notifyhub.new({ webhook = { url = server.url("/webhook/version-ua") } })
      assert(c:send({ body = "ua" }))
      c:close()
      local r = server.requests("/webhook/version-ua")
      assert.equal(1, #r)
      assert.equal("notifyhub/" .. VERSION, r[1].headers["user-agent"])
    end)

    it("is replaced by http.user_agent", function()
      server.clear()
      local c = notifyhub.new({ webhook = { url = server.url("/webhook/version-ua2") },
        http = { user_agent = "mine/2" } })
      assert(c:send({ body = "ua" }))
      c:close()
      assert.equal("mine/2", server.requests("/webhook/version-ua2")[1].headers["user-agent"])
    end)
  end)
end)
