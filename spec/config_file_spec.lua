-- Config files (issue 14, item 3): notifyhub.config.load reads Apprise's
-- YAML format (urls with tags) plus notifyhub's own sections, or a Lua file
-- returning a config table in a restricted environment; errors name the
-- file, the line and the key, never a URL or a password.

local notifyhub = require("notifyhub")
local server = require("spec.support.server")

local files = {}

local function file(ext, text)
  local path = os.tmpname() .. ext
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  files[#files + 1] = path
  return path
end

local function reached()
  local names = {}
  for _, r in ipairs(server.requests("/webhook/")) do names[#names + 1] = r.path:match("^/webhook/(.*)$") end
  table.sort(names)
  return names
end

describe("config files", function()
  local json

  setup(function()
    server.start()
    json = ("json://127.0.0.1:%d/webhook/"):format(server.port())
  end)
  teardown(function()
    server.stop()
    for _, p in ipairs(files) do os.remove(p) end
  end)
  before_each(function() server.clear() end)

  describe("YAML", function()
    it("reads Apprise's format: urls as strings, with options, with a list of options, a global tag", function()
      local path = file(".yaml", table.concat({
        "version: 1",
        "tag: team",
        "urls:",
        "  - " .. json .. "plain",
        "  - " .. json .. "ops:",
        "      tag: ops, db",
        "  - " .. json .. "multi:",
        "      - tag: dev",
        "        ':source': ci",
        "      - tag: [qa]",
        "        name: qa-hook",
        "  - url: " .. json .. "own",
        "    tags: [own]",
        "async:",
        "  workers: 2",
        "retry:",
        "  max_attempts: 1",
        "",
      }, "\n"))
      local cfg = assert(notifyhub.config.load(path))
      assert.equal(2, cfg.async.workers)
      assert.equal(5, #cfg.urls)
      assert.same({ url = json .. "plain", tags = "team" }, cfg.urls[1])
      local c = notifyhub.new(cfg)
      assert(c:send({ body = "x", tags = { "ops" } }))
      assert.same({ "ops" }, reached())
      server.clear()
      assert(c:send({ body = "x", tags = { "team,dev" } }))
      assert.same({ "multi" }, reached())
      assert.equal("ci", require("cjson").decode(server.requests("/webhook/")[1].body).source)
      server.clear()
      assert(c:send({ body = "x", tags = { "qa", "own" } }))
      assert.same({ "multi", "own" }, reached())
      server.clear()
      assert(c:send({ body = "x", targets = { notifyhub.target.webhook("qa-hook") } }))
      assert.same({ "multi" }, reached())
      c:close()
    end)

    it("passes an entry's options as URL arguments (mailto's to, smtp)", function()
      local path = file(".yml", "urls:\n  - mailtos://bob:pw@example.com:\n      to: ops@example.com\n"
        .. "      smtp: mx.example.com\n")
      local cfg = assert(notifyhub.config.load(path))
      local checked = notifyhub.config.check(cfg)
      local inst = checked.platforms.email.instances.url1
      assert.same({ "ops@example.com" }, inst.to)
      assert.equal("mx.example.com", inst.host)
    end)

    it("names file, line and key of a wrong value, and never the URL", function()
      local cases = {
        { "async:\n  workers: 2\n  wokers: 3\n", ":3: async.wokers: unknown key" },
        { "urls:\n  - " .. json .. "a\n  - slack://SECRET-A/x\n", ":3: urls%[2%]: slack:// URL: three tokens" },
        { "urls:\n  - slack://A/B/SECRET-B:\n      tag: 'a;b'\n", ":3: urls%[1%]%.tags: tag name" },
        { "urls:\n  - slack://A/B/SECRETC:\n      - tag: ok\n      - tag: 'x;y'\n",
          ":4: urls%[1%]%[2%]%.tags: tag name" },
        { "retry:\n  max_attempts: 1000\n", ":2: retry.max_attempts: integer from 1 to 100 expected, got 1000" },
        { "urls: [1, [2]]\n", ":1: urls%[1%]: a URL, or a URL with its options" },
        { "version: 2\nurls: []\n", ":1: version: 1 expected" },
        { "include: [other.yaml]\n", ":1: include: not supported" },
        { "urls:\n  - foo://SECRET-D\n", ":2: urls%[1%]: unknown URL scheme 'foo'" },
        { "- just\n- a list\n", ": a mapping" },
        { "feishu:\n  webhook_url: ftp://SECRET-E\n", ":2: feishu.webhook_url: http%(s%) URL expected" },
      }
      for _, case in ipairs(cases) do
        local path = file(".yaml", case[1])
        local cfg, err, code = notifyhub.config.load(path)
        assert.is_nil(cfg, case[1])
        assert.equal("INVALID_CONFIG", code)
        assert.equal(path, err:sub(1, #path), err)
        assert.matches(case[2], err:sub(#path + 1))
        assert.is_nil(err:find("SECRET", 1, true), err)
      end
    end)

    it("takes a file of nested aliases (a billion laughs) in bounded time", function()
      local lines, prev = { 'l0: &l0 ["x","x","x","x","x","x","x","x","x"]' }, "l0"
      for i = 1, 9 do
        lines[#lines + 1] = ("l%d: &l%d [%s]"):format(i, i, ("*" .. prev .. ","):rep(9):sub(1, -2))
        prev = "l" .. i
      end
      local t0 = os.clock()
      local cfg, err, code = notifyhub.config.load(file(".yaml", table.concat(lines, "\n") .. "\n"))
      assert.is_nil(cfg)
      assert.equal("INVALID_CONFIG", code)
      assert.matches(":%d+: l%d: unknown key$", err)
      assert.is_true(os.clock() - t0 < 5)
    end)

    it("names the line of a YAML syntax error", function()
      local path = file(".yaml", "urls:\n  - a\n bad: [1,\n")
      local cfg, err, code = notifyhub.config.load(path)
      assert.is_nil(cfg)
      assert.equal("INVALID_CONFIG", code)
      assert.matches("^" .. path:gsub("%p", "%%%0") .. ":%d+: YAML: ", err)
    end)
  end)

  describe("Apprise's text format", function()
    it("reads a URL a line and tags=URL, with comments", function()
      local path = file(".conf", table.concat({
        "# notifications", "; also a comment", "", json .. "plain",
        "ops, db = " .. json .. "ops", "  dev=" .. json .. "dev  ", "",
      }, "\n"))
      local cfg = assert(notifyhub.config.load(path))
      assert.same({ json .. "plain", { url = json .. "ops", tags = "ops, db" }, { url = json .. "dev", tags = "dev" } },
        cfg.urls)
      local c = notifyhub.new(cfg)
      assert(c:send({ body = "x", tags = "db" }))
      assert.same({ "ops" }, reached())
      c:close()
    end)

    it("names the line of a line that is neither, and of a bad URL", function()
      local path = file("", "slack://T1/B2/c3\nnot a url\n")
      local _, err, code = notifyhub.config.load(path)
      assert.equal("INVALID_CONFIG", code)
      assert.equal(path .. ":2: a URL or tags=URL expected (Apprise's text format)", err)
      path = file(".txt", "# x\n\nslack://T1/B2/c3\ntgram://SECRET-TG/1\n")
      _, err = notifyhub.config.load(path)
      assert.equal(1, err:find(path .. ":4: urls[2]: tgram:// URL: a bot token", 1, true), err)
      assert.is_nil(err:find("SECRET", 1, true))
    end)
  end)

  describe("Lua", function()
    it("reads a file returning a config table, with os.getenv", function()
      local path = file(".lua", ([[
        local base = %q
        return {
          urls = { base .. "a", { url = base .. "b", tags = { "ops" } } },
          retry = { max_attempts = 1 },
          logger = { level = os.getenv("NOTIFYHUB_SPEC_UNSET_VAR") or "warn" },
        }
      ]]):format(json))
      local cfg = assert(notifyhub.config.load(path))
      local c = notifyhub.new(cfg)
      assert(c:send({ body = "x", tags = "ops" }))
      assert.same({ "b" }, reached())
      c:close()
    end)

    it("gives the file no I/O, no loading of code and no program globals", function()
      _G.NOTIFYHUB_SPEC_GLOBAL = "x"
      for _, body in ipairs({ "io.open('/etc/passwd')", "require('os')", "load('return 1')",
          "dofile('/dev/null')", "assert(NOTIFYHUB_SPEC_GLOBAL)", "os.execute('true')", "debug.getinfo(1)" }) do
        local path = file(".lua", "local x = 1\n" .. body .. "\nreturn {}\n")
        local cfg, err, code = notifyhub.config.load(path)
        assert.is_nil(cfg, body)
        assert.equal("INVALID_CONFIG", code)
        assert.equal(path .. ":2:", err:sub(1, #path + 3), err)
      end
      _G.NOTIFYHUB_SPEC_GLOBAL = nil
      -- the file's copy of a library is its own
      assert(notifyhub.config.load(file(".lua", "string.format = nil\nreturn {}\n")))
      assert.equal("function", type(string.format))
    end)

    it("stops a file that never ends", function()
      local path = file(".lua", "local n = 0\nwhile true do n = n + 1 end\n")
      local cfg, err, code = notifyhub.config.load(path)
      assert.is_nil(cfg)
      assert.equal("INVALID_CONFIG", code)
      assert.matches("^" .. path:gsub("%p", "%%%0") .. ":2: runs more than 100000000 instructions", err)
    end)

    it("names file and line of a syntax error, a wrong key and a wrong return", function()
      local path = file(".lua", "return {\n  async = {\n    wokers = 2,\n  },\n}\n")
      local _, err, code = notifyhub.config.load(path)
      assert.equal("INVALID_CONFIG", code)
      assert.equal(path .. ":3: async.wokers: unknown key", err)
      path = file(".lua", "return {\n  retry = { max_attempts = \n")
      _, err = notifyhub.config.load(path)
      assert.equal(path .. ":", err:sub(1, #path + 1))
      path = file(".lua", "return 5\n")
      _, err = notifyhub.config.load(path)
      assert.equal(path .. ": the file must return a config table, it returned number", err)
      path = file(".lua", "return { urls = { 'slack://A/B' .. '/SECRETF', 'foo://SECRET-G' } }\n")
      _, err = notifyhub.config.load(path)
      assert.equal(1, err:find(path .. ":1: urls[2]: unknown URL scheme 'foo'", 1, true))
      assert.is_nil(err:find("SECRET", 1, true))
    end)
  end)

  it("answers a missing file with INVALID_CONFIG and refuses a non-string path", function()
    local cfg, err, code = notifyhub.config.load("/nonexistent/notifyhub.yaml")
    assert.is_nil(cfg)
    assert.equal("INVALID_CONFIG", code)
    assert.matches("/nonexistent/notifyhub.yaml", err)
    local path = file(".yaml", "retry:\n  max_attempts: 2\n")
    cfg, err, code = notifyhub.config.load(path .. "\0.lua")
    assert.is_nil(cfg)
    assert.equal("INVALID_CONFIG", code)
    assert.equal("config file: a path with a NUL byte", err)
    assert.has_error(function() notifyhub.config.load(nil) end,
      "bad argument #1 to 'load' (string expected, got nil)")
  end)
end)
