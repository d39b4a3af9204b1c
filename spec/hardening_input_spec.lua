-- Hardening of input checks (issue items 5, 6, 11, 12, 13, 15, 17): every
-- number of the config has a range, a message's own retry is checked like
-- the client's, headers cannot be injected, invalid UTF-8 never reaches the
-- wire, metadata integers stay exact and errors say what was expected.

local notifyhub = require("notifyhub")
local core = require("notifyhub.core")
local server = require("spec.support.server")
local smtp = require("spec.support.smtp")
local cjson = require("cjson")

local URL = "http://127.0.0.1:9/never"
local NAN, INF = 0 / 0, math.huge

local function refused_config(cfg, path)
  local ok, err = pcall(notifyhub.new, cfg)
  assert.is_false(ok, "accepted " .. path)
  assert.is_string(err)
  assert.truthy(err:find("notifyhub config: " .. path, 1, true), err)
  return err
end

local function with(section, key, value)
  local cfg = { webhook = { url = URL }, async = { workers = 1 } }
  cfg[section] = cfg[section] or {}
  cfg[section][key] = value
  return cfg
end

describe("config numbers (item 6)", function()
  -- key, integer?, values that are in range and must be refused otherwise
  local KEYS = {
    { "async", "workers", true, zero = false }, { "async", "min_workers", true, zero = true },
    { "async", "max_workers", true }, { "async", "buffer_size", true },
    { "async", "timeout", false, zero = true }, { "async", "concurrency", true },
    { "async", "close_timeout", false, zero = true }, { "async", "idle_timeout", false },
    { "async", "grow_after", false, zero = true }, { "async", "priority_aging", false },
    { "retry", "max_attempts", true }, { "retry", "initial_delay", false, zero = true },
    { "retry", "max_delay", false, zero = true }, { "retry", "multiplier", false },
    { "retry", "max_elapsed", false, zero = true },
    { "http", "timeout", false }, { "http", "connect_timeout", false },
    { "http", "max_response", true }, { "http", "follow_redirects", true, zero = true },
  }

  for _, k in ipairs(KEYS) do
    local section, key, int = k[1], k[2], k[3]
    local path = section .. "." .. key
    it("refuses NaN, inf, negative, huge" .. (int and ", fractional" or "") .. " " .. path, function()
      local bad = { NAN, INF, -INF, -1, 1e300, 2 ^ 31, 2 ^ 63, -2 ^ 63 }
      if int then bad[#bad + 1] = 1.5 end
      if not k.zero then bad[#bad + 1] = 0 end
      for _, v in ipairs(bad) do
        local err = refused_config(with(section, key, v), path)
        assert.truthy(err:match("from %-?[%d.]+ to [%d.]+ expected, got ")
          or err:match("> [%d.]+ and <= [%d.]+ expected, got "), err)
      end
    end)
  end

  it("has one range list: every numeric key has a row, every row a key", function()
    local config = notifyhub.config
    for _, section in ipairs({ "async", "retry", "http" }) do
      for key, rule in pairs(config.schema[section]) do
        local numeric = type(config.defaults[section][key]) == "number"
          or key == "min_workers" or key == "max_workers"
        assert.equal(numeric, core.ranges[section .. "." .. key] ~= nil, section .. "." .. key)
        assert.is_function(rule)
      end
    end
    local ELSEWHERE = { message = true, rate = true, ngx = true, rate_limit = true }
    for path in pairs(core.ranges) do
      local head, key = path:match("^([^.]+)%.(.+)$")
      if config.schema[head] then
        assert.truthy(config.schema[head][key], path)
      elseif config.platforms[head] then
        assert.truthy(config.platforms[head].keys[key], path)
      else
        assert.truthy(ELSEWHERE[head], path)
      end
    end
  end)

  it("names the range and the value, and accepts the bounds", function()
    assert.has_error(function() notifyhub.new(with("async", "workers", 1e9)) end,
      "notifyhub config: async.workers: integer from 1 to 256 expected, got 1000000000")
    assert.has_error(function() notifyhub.new(with("async", "concurrency", 2 ^ 31)) end,
      "notifyhub config: async.concurrency: integer from 1 to 1024 expected, got 2147483648")
    assert.has_error(function() notifyhub.new(with("http", "max_response", 1e300)) end,
      "notifyhub config: http.max_response: integer from 1024 to 1073741824 expected, got 1e+300")
    assert.has_error(function() notifyhub.new(with("http", "timeout", NAN)) end)
    notifyhub.new({ webhook = { url = URL }, async = { workers = 256, max_workers = 256,
      concurrency = 1024, buffer_size = 10000000 }, http = { max_response = 1073741824 } }):close(0)
  end)

  it("refuses out-of-range rate limits, naming the key", function()
    for _, key in ipairs({ "per_second", "per_minute", "per_hour" }) do
      for _, v in ipairs({ NAN, INF, -1, 0, 1.5, 1e300, 2 ^ 31, 2 ^ 63 }) do
        refused_config({ webhook = { url = URL, rate_limit = { [key] = v } } }, "webhook.rate_limit." .. key)
      end
    end
    refused_config({ webhook = { url = URL, rate_limit = { per_second = 1, burst = 2 ^ 31 } } },
      "webhook.rate_limit.burst")
  end)

  it("refuses an out-of-range port and chat_id, in the config and per target", function()
    for _, v in ipairs({ NAN, INF, 0, -1, 65536, 1.5, 2 ^ 31 }) do
      refused_config({ email = { host = "h", from = "a@example.com", port = v } }, "email.port")
    end
    for _, v in ipairs({ NAN, INF, 1.5, 2 ^ 63, 1e300 }) do
      refused_config({ telegram = { token = "t", chat_id = v } }, "telegram.chat_id")
    end
    local c = notifyhub.new({ email = { host = "h", from = "a@example.com", to = "b@example.com" } })
    local h, err, code = c:send_async({ body = "x", targets = { { platform = "email", port = 2 ^ 31 } } })
    assert.is_nil(h)
    assert.equal("INVALID_MESSAGE", code)
    assert.matches("port", err)
    h, err, code = c:send_async({ body = "x", targets = { { platform = "email",
      rate_limit = { per_minute = NAN } } } })
    assert.is_nil(h)
    assert.equal("INVALID_MESSAGE", code)
    assert.matches("target%.rate_limit%.per_minute: integer from 1 to 1000000 expected, got nan", err)
    c:close(0)
  end)

  it("guards every conversion in the binding, whatever the facade passed", function()
    for _, opt in ipairs({ { "async", "workers", 2 ^ 31 }, { "async", "workers", NAN },
        { "async", "buffer_size", 1e300 }, { "async", "concurrency", -1 }, { "http", "timeout", 1e300 },
        { "http", "connect_timeout", NAN }, { "http", "max_response", 2 ^ 63 },
        { "http", "follow_redirects", INF }, { "async", "timeout", NAN },
        { "async", "idle_timeout", -INF }, { "async", "min_workers", 1.5 } }) do
      local ok, err = pcall(core.new, { [opt[1]] = { [opt[2]] = opt[3] } })
      assert.is_false(ok, opt[2])
      assert.truthy(err:find(opt[1] .. "." .. opt[2], 1, true), err)
      assert.matches("expected, got", err)
    end
  end)
end)

describe("a message's own retry, timeout and priority (items 5, 12)", function()
  local c
  before_each(function()
    c = notifyhub.new({ webhook = { url = URL }, async = { workers = 1 }, retry = { max_attempts = 1 } })
  end)
  after_each(function() c:close(0) end)

  local function refused(msg, opts, pattern)
    local h, err, code = c:send_async(msg, opts)
    assert.is_nil(h)
    assert.equal("INVALID_MESSAGE", code)
    assert.matches(pattern, err)
  end

  it("refuses what the client config refuses, in the message and in opts", function()
    local BAD = {
      { "initial_delay", NAN }, { "initial_delay", INF }, { "initial_delay", -1 },
      { "max_delay", NAN }, { "max_delay", -INF }, { "multiplier", 0.5 }, { "multiplier", NAN },
      { "max_attempts", 1.5 }, { "max_attempts", 0 }, { "max_attempts", 2 ^ 31 },
      { "max_elapsed", INF }, { "max_elapsed", -1 },
    }
    for _, b in ipairs(BAD) do
      local r = { [b[1]] = b[2] }
      refused({ body = "x", retry = r }, nil, "retry%." .. b[1] .. ": .* from .* to .* expected")
      refused({ body = "x" }, { retry = r }, "retry%." .. b[1] .. ": .* from .* to .* expected")
      local ok, err = pcall(notifyhub.new, { webhook = { url = URL }, retry = r })
      assert.is_false(ok)
      assert.matches("retry%." .. b[1], err)
    end
    refused({ body = "x", retry = { tries = 2 } }, nil, "retry%.tries: unknown key")
    for _, t in ipairs({ NAN, INF, -1, 0, 1e300 }) do
      refused({ body = "x", timeout = t }, nil, "timeout: number > 0")
      refused({ body = "x" }, { timeout = t }, "timeout: number > 0")
    end
  end)

  it("poll refuses NaN and numbers below 1", function()
    for _, v in ipairs({ NAN, 0, -INF }) do
      assert.has_error(function() c:poll(v) end)
    end
    assert.equal(0, c:poll(INF))
    assert.equal(0, c:poll(1.5))
  end)

  it("send honours opts like send_async", function()
    local receipt = select(4, c:send({ body = "x" },
      { retry = { max_attempts = 3, initial_delay = 0, max_delay = 0 } }))
    assert.equal(3, receipt.results[1].attempts)
    local _, err, code = c:send({ body = "x" }, { priority = "asap" })
    assert.equal("INVALID_MESSAGE", code)
    assert.matches("priority 'asap'", err)
    local _, _, tcode = c:send({ body = "x" }, { timeout = 0.2,
      retry = { max_attempts = 100, initial_delay = 1, max_delay = 1 } })
    assert.equal("TIMEOUT", tcode)
  end)

  it("the binding checks a message's retry (each field over the client's) and its numbers", function()
    assert.equal(3, notifyhub.config.check({}).retry.max_attempts)
    local retry = { initial_delay = NAN }
    local ok, err = pcall(c.core.submit, c.core, { body = "x", retry = retry,
      targets = { { platform = "webhook", url = URL, label = "x" } } }, 0)
    assert.is_false(ok)
    assert.matches("initial_delay", err)
    -- and the other numbers of a message: timeout, priority, rate rules
    retry.initial_delay = 0
    for _, bad in ipairs({ { timeout = NAN }, { timeout = 1e300 }, { priority = 2 ^ 31 },
        { priority = NAN }, { rate = { { 2 ^ 31, 1 } } }, { rate = { { 1, NAN } } } }) do
      local msg = { body = "x", retry = retry, timeout = bad.timeout, priority = bad.priority,
        targets = { { platform = "webhook", url = URL, label = "x", rate = bad.rate } } }
      ok, err = pcall(c.core.submit, c.core, msg, 0)
      assert.is_false(ok)
      assert.matches("expected", err)
    end
    assert.equal(0, c:stats().submitted)
  end)
end)

describe("headers (item 11)", function()
  it("refuses CR, LF or NUL in user_agent", function()
    for _, ua in ipairs({ "a\r\nX-Injected: 1", "a\nb", "a\0b" }) do
      refused_config({ webhook = { url = URL }, http = { user_agent = ua } }, "http.user_agent")
    end
  end)

  it("refuses header names that break the request or are not tokens", function()
    for _, name in ipairs({ "Host", "content-length", "Transfer-Encoding", "Connection",
        "Expect", "Upgrade", "TE", "Trailer", "Keep-Alive", "Proxy-Connection",
        "X A", "X:A", "", "X\r\nY", "Ä" }) do
      refused_config({ webhook = { url = URL, headers = { [name] = "v" } } }, "webhook.headers")
    end
    refused_config({ webhook = { url = URL, headers = { ["X-A"] = "a\0b" } } }, "webhook.headers")
    refused_config({ webhook = { ops = { url = URL, headers = { Host = "evil" } } } }, "webhook.ops.headers")
    notifyhub.new({ webhook = { url = URL, headers = { ["X-Token_1.a"] = "v\tw" } } }):close(0)
  end)

  it("refuses them per target too", function()
    local c = notifyhub.new({ webhook = { url = URL } })
    local h, err, code = c:send_async({ body = "x", targets = { { platform = "webhook",
      headers = { ["Content-Length"] = "0" } } } })
    assert.is_nil(h)
    assert.equal("INVALID_MESSAGE", code)
    assert.matches("headers", err)
    c:close(0)
  end)
end)

describe("UTF-8 (item 13)", function()
  local INVALID = {
    overlong = "ab\xC0\xAF", surrogate = "ab\xED\xA0\x80", too_big = "ab\xF4\x90\x80\x80",
    truncated = "ab\xE2\x82", lone = "ab\x80", ff = "ab\xFF",
  }
  local c
  before_each(function() c = notifyhub.new({ webhook = { url = URL }, async = { workers = 1 } }) end)
  after_each(function() c:close(0) end)

  local function refused(msg, opts, pattern)
    local h, err, code = c:send_async(msg, opts)
    assert.is_nil(h, pattern)
    assert.equal("INVALID_MESSAGE", code)
    assert.matches(pattern, err)
    assert.is_nil(err:find("[\128-\255]"))             -- never echoes the bytes
  end

  it("refuses invalid UTF-8 in every field, naming it and the byte offset", function()
    for name, s in pairs(INVALID) do
      refused({ title = s, body = "x" }, nil, "title: invalid UTF%-8 at byte 3")
      refused({ body = s }, nil, "body: invalid UTF%-8 at byte 3")
      refused({ body = "{{v}}", variables = { v = s } }, nil, "variables%.v: invalid UTF%-8 at byte 3")
      refused({ body = "x", metadata = { a = { s } } }, nil, "metadata%.a%[1%]: invalid UTF%-8 at byte 3")
      refused({ body = "x", metadata = { [s] = 1 } }, nil, "metadata: a key: invalid UTF%-8 at byte 3")
      refused({ body = "x", platform_data = { webhook = { k = s } } }, nil,
        "platform_data%.webhook%.k: invalid UTF%-8 at byte 3")
      refused({ body = "x", targets = { { platform = "webhook", template = s } } }, nil,
        "template: UTF%-8 text expected, got invalid UTF%-8 at byte 3")
      assert.equal(0, c:stats().submitted, name)
    end
    refused({ body = "x", utf8 = "lax" }, nil, "utf8 'lax' is not one of strict, replace")
    assert.truthy(c:send_async({ body = "caf\xC3\xA9 \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF" })):cancel()
  end)

  it("refuses it in config strings and addresses", function()
    refused_config({ slack = { webhook_url = URL, username = "ab\xFF" } }, "slack.username")
    refused_config({ email = { host = "h", from = "a\xFF@example.com" } }, "email.from")
  end)

  describe("on every platform", function()
    local s
    setup(function()
      server.start()
      s = smtp.start({})
    end)
    teardown(function()
      server.stop()
      smtp.stop()
    end)
    before_each(function() server.clear(); smtp.clear() end)

    local PLATFORMS = {
      feishu = function() server.bot("u8"); return { webhook_url = server.url("/open-apis/bot/v2/hook/u8") } end,
      slack = function() return { webhook_url = server.url("/services/T000/B000/u8") } end,
      dingtalk = function() return { webhook_url = server.url("/robot/send?access_token=u8") } end,
      wecom = function() return { webhook_url = server.url("/cgi-bin/webhook/send?key=u8") } end,
      discord = function() return { webhook_url = server.url("/api/webhooks/1/u8") } end,
      telegram = function() return { token = "1:u8", chat_id = 7, api_url = server.base() } end,
      teams = function()
        return { webhook_url = server.url("/workflows/u8/triggers/manual/paths/invoke?api-version=1&sig=s") }
      end,
      webhook = function() return { url = server.url("/webhook/u8") } end,
      email = function() return { host = s.host, port = s.port, tls = "none",
        from = "a@example.com", to = "b@example.com" } end,
      matrix = function() return { homeserver = server.base(), access_token = "u8", room_id = "!u8:e.org" } end,
      pagerduty = function() return { url = server.url("/v2/enqueue"), routing_key = string.rep("k", 32) } end,
      opsgenie = function() return { url = server.url("/v2/alerts"), api_key = "u8" } end,
      bark = function() return { url = server.url("/push"), device_key = "u8" } end,
      serverchan = function() return { url = server.base(), sendkey = "SCTu8" } end,
      pushplus = function() return { url = server.url("/send"), token = "u8" } end,
      ntfy = function() return { url = server.url("/ntfy/u8") } end,
      gotify = function() return { url = server.url("/gotify"), token = "Au8" } end,
      pushover = function() return { token = string.rep("a", 30), user = string.rep("u", 30),
        api_url = server.url("/1/messages.json") } end,
      mattermost = function() return { webhook_url = server.url("/mm/hooks/" .. string.rep("k", 26)) } end,
      rocketchat = function() return { webhook_url = server.url("/rc/hooks/u8/t8") } end,
      googlechat = function() return { webhook_url = server.url("/v1/spaces/u8/messages?key=k&token=t") } end,
    }

    it("covers every platform the core has", function()
      for _, name in ipairs(notifyhub.platforms) do assert.truthy(PLATFORMS[name], name) end
    end)

    for name, make in pairs(PLATFORMS) do
      it(name .. ": strict refuses, replace sends U+FFFD", function()
        local pc = notifyhub.new({ [name] = make(), http = { timeout = 5 }, retry = { max_attempts = 1 } })
        local _, err, code = pc:send({ title = "t", body = "bad \xED\xA0\x80 x" })
        assert.equal("INVALID_MESSAGE", code)
        assert.matches("body: invalid UTF%-8 at byte 5", err)
        local receipt = assert(pc:send({ title = "t\xFF", body = "bad \xED\xA0\x80 x",
          metadata = { k = "\xC0" } }, { utf8 = "replace" }))
        assert.equal("success", receipt.status)
        local wire
        if name == "email" then
          local mail = smtp.parse(smtp.wait_for(1, 5)[1].data)
          assert.same({}, mail.defects)
          assert.equal("t\xEF\xBF\xBD", mail.subject)
          wire = mail.tree.text
        else
          local reqs = server.requests("/")
          wire = reqs[#reqs].body
          local not_json = { webhook = true, ntfy = true, pushover = true }   -- text, a form
          if not not_json[name] or wire:sub(1, 1) == "{" then assert.truthy(cjson.decode(wire)) end
        end
        assert.truthy(wire:find("\xEF\xBF\xBD", 1, true) or wire:find("\\ufffd", 1, true)
          or wire:find("77+9", 1, true) or wire:find("%EF%BF%BD", 1, true), wire)
        -- raw, JSON-escaped, base64 or in a form
        assert.is_nil(wire:find("\xED\xA0\x80", 1, true))
        pc:close()
      end)
    end
  end)
end)

describe("metadata (item 15)", function()
  local c
  before_each(function() c = notifyhub.new({ webhook = { url = URL }, async = { workers = 1 } }) end)
  after_each(function() c:close(0) end)

  it("refuses a cyclic table with INVALID_MESSAGE naming the path", function()
    local cyclic = { a = {} }
    cyclic.a.back = cyclic
    local h, err, code = c:send_async({ body = "x", metadata = cyclic })
    assert.is_nil(h)
    assert.equal("INVALID_MESSAGE", code)
    assert.matches("metadata%.a%.back: a cycle", err)
    local deep = {}
    local t = deep
    for _ = 1, 40 do t.n = {}; t = t.n end
    h, err, code = c:send_async({ body = "x", platform_data = { webhook = deep } })
    assert.is_nil(h)
    assert.equal("INVALID_MESSAGE", code)
    assert.matches("platform_data%.webhook%.n.*nested deeper than", err)
    -- a table shared at two depths: fine where it fits, refused (not raised) where it does not
    local shared = { x = 1 }
    local deep31 = {}
    t = deep31
    for _ = 1, 29 do t.n = {}; t = t.n end       -- metadata 0, b 1, n 2..30, shared 31
    t.s = shared
    h = assert(c:send_async({ body = "x", metadata = { a = shared, b = deep31 } }))
    h:cancel()
    t.s = { shared }
    h, err, code = c:send_async({ body = "x", metadata = { a = shared, b = deep31 } })
    assert.is_nil(h)
    assert.equal("INVALID_MESSAGE", code)
    assert.matches("nested deeper than 32", err)
  end)

  describe("on the wire", function()
    setup(function() server.start() end)
    teardown(function() server.stop() end)

    it("keeps integers above 2^53 exact", function()
      local w = notifyhub.new({ webhook = { url = server.url("/webhook/int") } })
      local big = math.maxinteger and math.maxinteger or 2 ^ 53
      assert(w:send({ body = "x", metadata = { big = big, small = 2 ^ 53, neg = math.mininteger or -2 ^ 53,
        frac = 0.5, id16 = 1234567890123456, third = 1 / 3 } }))
      local reqs = server.requests("/webhook/int")
      local raw = reqs[#reqs].body
      if math.maxinteger then
        assert.truthy(raw:find('"big":9223372036854775807', 1, true), raw)
        assert.truthy(raw:find('"neg":-9223372036854775808', 1, true), raw)
        assert.truthy(raw:find('"small":9007199254740992', 1, true), raw)
      end
      assert.truthy(raw:find('"frac":0.5', 1, true), raw)
      assert.truthy(raw:find('"id16":1234567890123456', 1, true), raw)   -- 16 digits, on LuaJIT too
      assert.equal(1 / 3, cjson.decode(raw).metadata.third)
      w:close()
    end)
  end)
end)

describe("errors that say what was wrong (item 17)", function()
  it("one platform with several instances and no default", function()
    local c = notifyhub.new({ webhook = { a = { url = URL }, b = { url = URL } } })
    local _, err = c:send_async({ body = "x" })
    assert.matches("webhook has several instances", err)
    assert.is_nil(err:find("several platforms", 1, true))
    c:close(0)
  end)

  it("a wrong e-mail address or URL says which form is expected", function()
    local err = refused_config({ email = { host = "h", from = "not-an-address" } }, "email.from")
    assert.matches("e%-mail address %(name@example%.com%) expected, got a string without '@'", err)
    err = refused_config({ slack = { webhook_url = "ftp://secret-token@x/y" } }, "slack.webhook_url")
    assert.matches("http%(s%) URL expected, got a string with scheme 'ftp'", err)
    assert.is_nil(err:find("secret", 1, true))
    err = refused_config({ slack = { webhook_url = "hooks.slack.com/x" } }, "slack.webhook_url")
    assert.matches("http%(s%) URL expected, got a string without a scheme", err)
  end)

  it("target.email takes a list of addresses", function()
    local t = notifyhub.target.email({ "a@example.com", "b@example.com" })
    local c = notifyhub.new({ email = { host = "h", from = "f@example.com" } })
    local h = assert(c:send_async({ body = "x", targets = { t } }))
    h:cancel()
    local _, err = c:send_async({ body = "x", targets = { notifyhub.target.email({ "a@example.com", "nope" }) } })
    assert.matches("to%.2: e%-mail address %(name@example%.com%) expected, got a string without '@'", err)
    assert.is_nil(err:find("unknown key", 1, true))
    _, err = c:send_async({ body = "x", targets = { notifyhub.target.email("nope") } })
    assert.matches("value: e%-mail address %(name@example%.com%) expected, got a string without '@'", err)
    c:close(0)
  end)

  it("STARTTLS required before login says so", function()
    local s = smtp.start({ user = "u", password = "pw", require_starttls = true })
    local c = notifyhub.new({ email = { host = s.host, port = s.port, tls = "none", username = "u",
      password = "pw", from = "a@example.com", to = "b@example.com" }, retry = { max_attempts = 1 } })
    local _, err = c:send({ body = "x" })
    assert.matches("STARTTLS", err)
    assert.matches("tls = 'starttls'", err)
    c:close()
    smtp.stop()
  end)
end)

describe("notifyhub.ngx options (item 6)", function()
  local app = require("spec.support.app")
  teardown(function()
    app.stop()
    server.stop()
  end)

  it("refuses pump sleeps and a close timeout outside their ranges", function()
    app.start()
    local RANGES = { close_timeout = "number from 0 to 3600", busy_interval = "number > 0 and <= 1",
      busy_max = "number > 0 and <= 10", idle_interval = "number > 0 and <= 10" }
    for name, range in pairs(RANGES) do
      for _, v in ipairs({ "nan", "inf", "-inf", "-1", "1e300" }) do
        local status, body = server.http("GET", app.url("/bad-option?name=" .. name .. "&value=" .. v))
        assert.equal(200, status)
        assert.truthy(body:find("notifyhub.ngx: " .. name .. ": " .. range .. " expected, got ", 1, true), body)
      end
    end
    local _, zero = server.http("GET", app.url("/bad-option?name=idle_interval&value=0"))
    assert.matches("idle_interval", zero)
    local status = server.http("GET", app.url("/ping"))
    assert.equal(200, status)
  end)
end)
