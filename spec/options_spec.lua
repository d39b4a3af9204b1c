-- One source of truth for options and validation (issue 12, items 1 and 3):
-- the rows of csrc/nh_options.h (core.options) are config.lua's schema and
-- defaults, every range is enforced by config.check and again by core.new,
-- and a message's own retry and timeout are refused by the same rule as
-- the client's config.

local notifyhub = require("notifyhub")
local core = require("notifyhub.core")
local config = require("notifyhub.config")
local server = require("spec.support.server")
local system = require("system")

local NAN, INF = 0 / 0, math.huge
local REFUSED = "http://127.0.0.1:9/never"   -- the discard port: connections are refused

local function split(path) return path:match("^([^.]+)%.(.+)$") end

local function num_text(v)
  if v ~= v then return "nan" end
  if v == INF then return "inf" end
  if v == -INF then return "-inf" end
  if v == math.floor(v) and math.abs(v) < 2 ^ 63 then return ("%.0f"):format(v) end
  return ("%.14g"):format(v)
end

-- What a row's range reads like in an error ("integer from 1 to 256").
local function range_text(row)
  local min, max = num_text(row.min), num_text(row.max)
  if row.above then return ("%s > %s and <= %s"):format(row.type, min, max) end
  return ("%s from %s to %s"):format(row.type, min, max)
end

-- Values a numeric row must refuse.
local function bad_numbers(row)
  local bad = { NAN, INF, -INF, 1e300, -1e300, row.max + 1 }
  bad[#bad + 1] = row.above and row.min or row.min - 1
  if row.max < 2 ^ 31 then bad[#bad + 1] = 2 ^ 31 end
  if row.type == "integer" then bad[#bad + 1] = row.min + 0.5 end
  return bad
end

-- Values of another type for each kind of row.
local WRONG_TYPE = {
  integer = { "1", true, {} }, number = { "1", false }, boolean = { 1, "true" },
  string = { 1, true }, header = { 1, {} }, enum = { 1, "loud", true },
}

local function sorted_rows()
  local paths = {}
  for path in pairs(core.options) do paths[#paths + 1] = path end
  table.sort(paths)
  return paths
end

-- The error of notifyhub.new with section.key = v (raises; none: nil).
local function config_error(path, v)
  local section, key = split(path)
  local ok, err = pcall(config.check, { [section] = { [key] = v } })
  if ok then return nil end
  return err
end

local function core_error(path, v)
  local section, key = split(path)
  local ok, err = pcall(core.new, { [section] = { [key] = v } })
  if ok then
    err:close(0)
    return nil
  end
  return err
end

describe("core.options: one table of the client's options (item 1)", function()
  it("has a row for every key of the general sections and a key for every row", function()
    local n = 0
    for path, row in pairs(core.options) do
      local section, key = split(path)
      assert.is_function(config.schema[section] and config.schema[section][key], path)
      assert.is_string(row.type, path)
      n = n + 1
    end
    assert.is_true(n >= 27, "rows: " .. n)
    for section, rules in pairs(config.schema) do
      for key in pairs(rules) do
        local path = section .. "." .. key
        assert.truthy(core.options[path] or config.LUA_ONLY[path], path .. " has no row")
      end
    end
    for path in pairs(config.LUA_ONLY) do assert.is_nil(core.options[path], path) end
  end)

  it("gives config.check's defaults from the rows", function()
    local c = config.check({})
    for path, row in pairs(core.options) do
      local section, key = split(path)
      assert.equal(row.default, config.defaults[section][key], path)
      assert.equal(row.default, c[section][key], path)
    end
    assert.equal(3, c.retry.max_attempts)
    assert.equal("warn", c.logger.level)
    assert.equal(10, c.http.timeout)
    -- the two derived from workers
    local big = config.check({ async = { workers = 40 } }).async
    assert.same({ 1, 40 }, { big.min_workers, big.max_workers })
  end)

  it("keeps the numeric rows in core.ranges, with the same ranges", function()
    for path, row in pairs(core.options) do
      local r = core.ranges[path]
      if row.type == "integer" or row.type == "number" then
        assert.same({ integer = row.type == "integer", min = row.min, max = row.max,
          above = row.above }, r, path)
      else
        assert.is_nil(r, path)
      end
    end
    for _, path in ipairs({ "message.timeout", "rate_limit.per_second", "rate.count", "email.port",
        "telegram.chat_id", "ngx.busy_interval" }) do
      assert.is_table(core.ranges[path], path)
    end
  end)

  it("core.new keeps min_workers <= workers <= max_workers as config.check does, in its words", function()
    for _, async in ipairs({ { workers = 2, min_workers = 3 }, { workers = 5, max_workers = 4 },
        { min_workers = 9, workers = 8, max_workers = 16 } }) do
      local ok_lua, lua_err = pcall(config.check, { async = async })
      local ok_c, c_err = pcall(core.new, { async = async })
      assert.is_false(ok_lua)
      assert.is_false(ok_c)
      assert.equal(lua_err, c_err)
    end
    local c = assert(core.new({ async = { workers = 40 } }))   -- the bounds not given follow workers
    local s = c:stats()
    c:close(0)
    assert.same({ 1, 40, 40 }, { s.min_workers, s.workers, s.max_workers })
  end)

  it("the core's own defaults are the rows' (core.new with no options)", function()
    local ud = assert(core.new({}))
    local s = ud:stats()
    ud:close(0)
    assert.same({ core.options["async.workers"].default, core.options["async.min_workers"].default,
      core.options["async.max_workers"].default }, { s.workers, s.min_workers, s.max_workers })
    -- a message without a retry of its own gets the row's max_attempts
    ud = assert(core.new({ retry = { initial_delay = 0, max_delay = 0 }, logger = { failures = false } }))
    assert(ud:submit({ body = "x", targets = { { platform = "webhook", url = REFUSED, label = "x" } } }))
    local receipts, deadline = {}, core.now() + 20
    while #receipts == 0 and core.now() < deadline do
      ud:wait(1)
      receipts = ud:take()
    end
    ud:close(0)
    assert.equal(1, #receipts)
    assert.equal(core.options["retry.max_attempts"].default, receipts[1].results[1].attempts)
    local c = assert(notifyhub.new({ webhook = { url = REFUSED }, logger = { failures = false },
      retry = { initial_delay = 0, max_delay = 0 } }))
    local receipt = select(4, c:send({ body = "x" }))
    assert.equal(3, receipt.results[1].attempts)
    -- one with a partial retry keeps the client's other fields
    receipt = select(4, c:send({ body = "x" }, { retry = { max_attempts = 2 } }))
    assert.equal(2, receipt.results[1].attempts)
    c:close(0)
  end)

  for _, path in ipairs(sorted_rows()) do
    local row = core.options[path]
    if row.type == "integer" or row.type == "number" then
      it("refuses out-of-range values of " .. path .. " in config.check and in core.new", function()
        local text = range_text(row)
        for _, v in ipairs(bad_numbers(row)) do
          local want = ("%s: %s expected, got %s"):format(path, text, num_text(v))
          assert.equal("notifyhub config: " .. want, config_error(path, v))
          local err = core_error(path, v)
          assert.is_string(err, path .. " = " .. num_text(v) .. " accepted by core.new")
          assert.truthy(err:find("notifyhub: " .. want, 1, true), err)
        end
        -- the bounds themselves are taken (by the same row in the binding: core.ranges)
        for _, v in ipairs({ row.above and row.max or row.min, row.max }) do
          assert.is_nil(config.ranged(path)(v), path .. " = " .. num_text(v))
        end
      end)
    end
    it("refuses a value of another type for " .. path .. " in config.check and in core.new", function()
      for _, v in ipairs(WRONG_TYPE[row.type]) do
        local err = config_error(path, v)
        assert.is_string(err, path)
        assert.truthy(err:find("notifyhub config: " .. path .. ": ", 1, true), err)
        err = core_error(path, v)
        assert.is_string(err, path .. " accepted by core.new")
        assert.truthy(err:find("notifyhub: " .. path .. ": ", 1, true), err)
        assert.matches("expected", err)
      end
    end)
  end

  it("says the same thing in config.check and core.new for a wrong type", function()
    assert.has_error(function() config.check({ async = { workers = "4" } }) end,
      "notifyhub config: async.workers: integer expected, got string")
    assert.has_error(function() core.new({ async = { workers = "4" } }) end,
      "notifyhub: async.workers: integer expected, got string")
    assert.has_error(function() core.new({ async = 4 }) end,
      "notifyhub: async: table expected, got number")
    assert.has_error(function() core.new({ http = { user_agent = "a\r\nX: 1" } }) end,
      "notifyhub: http.user_agent: string without control characters (CR, LF, NUL, ...) expected, got string")
  end)

  it("still raises on an unknown key, naming it", function()
    -- (not async.stack_size: the README's recipe adds that very row)
    assert.has_error(function() config.check({ async = { wokers = 1 } }) end,
      "notifyhub config: async.wokers: unknown key")
    assert.has_error(function() config.check({ retry = { attempts = 1 } }) end,
      "notifyhub config: retry.attempts: unknown key")
    assert.has_error(function() config.check({ pool = {} }) end, "notifyhub config: pool: unknown key")
    -- and core.new, called directly, does not ignore one either
    assert.has_error(function() core.new({ async = { wokers = 1 } }) end,
      "notifyhub: async.wokers: unknown key")
    assert.has_error(function() core.new({ logger = { failure = false } }) end,
      "notifyhub: logger.failure: unknown key")
  end)

  describe("async.timeout lives in the client", function()
    setup(function() server.start() end)
    teardown(function() server.stop() end)

    it("is how long a submit without a timeout of its own waits for room", function()
      local c = assert(notifyhub.new({ webhook = { url = server.url("/webhook/qt?delay=1") },
        async = { workers = 1, max_workers = 1, concurrency = 1, buffer_size = 1, timeout = 0.3 },
        logger = { failures = false } }))
      local function record(body)
        return { body = body, targets = { { platform = "webhook", url = server.url("/webhook/qt?delay=1"),
          label = "qt" } } }
      end
      assert(c.core:submit(record("a")))
      system.sleep(0.1)                  -- the worker takes "a"
      assert(c.core:submit(record("b")))
      local t0 = system.gettime()
      local token, _, code = c.core:submit(record("c"))
      local took = system.gettime() - t0
      assert.is_nil(token)
      assert.equal("QUEUE_FULL", code)
      assert.is_true(took >= 0.2 and took < 0.9, "took " .. took)
      t0 = system.gettime()
      token, _, code = c.core:submit(record("d"), 0)   -- its own: at once
      assert.is_nil(token)
      assert.equal("QUEUE_FULL", code)
      assert.is_true(system.gettime() - t0 < 0.2)
      c:close(0)
    end)
  end)
end)

describe("one validation for the config and a message's overrides (item 3)", function()
  local c
  setup(function()
    c = assert(notifyhub.new({ webhook = { url = REFUSED }, logger = { failures = false } }))
  end)
  teardown(function() c:close(0) end)

  local RETRY = {
    { "multiplier", 0.5 }, { "multiplier", NAN }, { "multiplier", INF }, { "max_attempts", 0 },
    { "max_attempts", 1e300 }, { "max_attempts", 2 ^ 31 }, { "max_attempts", 1.5 },
    { "initial_delay", -1 }, { "initial_delay", NAN }, { "max_delay", -INF },
    { "max_elapsed", 1e300 }, { "max_attempts", "3" },
  }

  for _, b in ipairs(RETRY) do
    local key, v = b[1], b[2]
    it(("refuses retry.%s = %s alike in the config, the message, its opts and the binding")
        :format(key, tostring(v)), function()
      local ok, cfg_err = pcall(notifyhub.new, { webhook = { url = REFUSED }, retry = { [key] = v } })
      assert.is_false(ok)
      local want = assert(cfg_err:match("^notifyhub config: (retry%." .. key .. ": .+)$"), cfg_err)
      local h, err, code = c:send_async({ body = "x" }, { retry = { [key] = v } })
      assert.is_nil(h)
      assert.equal("INVALID_MESSAGE", code)
      assert.equal(want, err)
      h, err, code = c:send_async({ body = "x", retry = { [key] = v } })
      assert.is_nil(h)
      assert.equal("INVALID_MESSAGE", code)
      assert.equal(want, err)
      -- the binding, called with what the façade would have refused
      local record = { body = "x", retry = { [key] = v },
        targets = { { platform = "webhook", url = REFUSED, label = "x" } } }
      local raised
      ok, raised = pcall(c.core.submit, c.core, record)
      assert.is_false(ok)
      assert.truthy(raised:find("notifyhub: " .. want, 1, true), raised)
    end)
  end

  it("refuses a message timeout alike in the message, its opts and the binding", function()
    local check = config.ranged("message.timeout")
    for _, v in ipairs({ -1, 0, INF, -INF, NAN, 1e300, 7 * 86400 + 1 }) do
      local expected, got = check(v)
      local want = ("timeout: %s expected, got %s"):format(expected, got)
      assert.equal("timeout: number > 0 and <= 604800 expected, got " .. num_text(v), want)
      local h, err, code = c:send_async({ body = "x" }, { timeout = v })
      assert.is_nil(h)
      assert.equal("INVALID_MESSAGE", code)
      assert.equal(want, err)
      h, err = c:send_async({ body = "x", timeout = v })
      assert.is_nil(h)
      assert.equal(want, err)
      local ok, raised = pcall(c.core.submit, c.core, { body = "x", timeout = v,
        targets = { { platform = "webhook", url = REFUSED, label = "x" } } })
      assert.is_false(ok)
      assert.truthy(raised:find("notifyhub: message." .. want, 1, true), raised)
    end
  end)

  it("refuses a target's override like the platform's config", function()
    local ok, cfg_err = pcall(notifyhub.new, { webhook = { url = REFUSED, rate_limit = { per_second = 0.5 } } })
    assert.is_false(ok)
    local want = assert(cfg_err:match("^notifyhub config: webhook(%.rate_limit.+)$"), cfg_err)
    local h, err, code = c:send_async({ body = "x", targets = { { platform = "webhook",
      rate_limit = { per_second = 0.5 } } } })
    assert.is_nil(h)
    assert.equal("INVALID_MESSAGE", code)
    assert.truthy(err:find("target" .. want, 1, true), err)
  end)
end)
