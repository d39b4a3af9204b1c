-- Bad input: wrong types raise with the luaL_argerror wording, well-typed
-- input that cannot be sent returns nil, err, code, and nothing is queued
-- half-way. No server is needed: nothing here reaches the network.

local notifyhub = require("notifyhub")

local URL = "http://127.0.0.1:9/never"

local function client(extra)
  local cfg = { webhook = { url = URL }, async = { workers = 1 } }
  for k, v in pairs(extra or {}) do cfg[k] = v end
  return notifyhub.new(cfg)
end

describe("configuration", function()
  it("raises on an unknown key, naming it", function()
    assert.has_error(function() notifyhub.new({ asink = {} }) end,
      "notifyhub config: asink: unknown key")
    assert.has_error(function() notifyhub.new({ async = { wokers = 2 } }) end,
      "notifyhub config: async.wokers: unknown key")
  end)

  it("raises on a whsec_ webhook secret that is not base64 after the prefix", function()
    assert.has_error(function() notifyhub.new({ webhook = { url = URL, secret = "whsec_====" } }) end,
      "notifyhub config: webhook.secret: whsec_ followed by base64 expected, got string")
    assert.has_error(function() notifyhub.new({ webhook = { url = URL, secret = "whsec_a b" } }) end,
      "notifyhub config: webhook.secret: whsec_ followed by base64 expected, got string")
    for _, bad in ipairs({ "whsec_QUJD=", "whsec_QUJD==", "whsec_QUJD====", "whsec_Q", "whsec_QUI=x" }) do
      assert.has_error(function() notifyhub.new({ webhook = { url = URL, secret = bad } }) end,
        "notifyhub config: webhook.secret: whsec_ followed by base64 expected, got string")
    end
    notifyhub.new({ webhook = { url = URL, secret = "whsec_QUJD" } }):close(0)
    notifyhub.new({ webhook = { url = URL, secret = "whsec_QUI=" } }):close(0)
    notifyhub.new({ webhook = { url = URL, secret = "whsec_QQ==" } }):close(0)
    notifyhub.new({ webhook = { url = URL, secret = "whsec_QQ" } }):close(0)
    notifyhub.new({ webhook = { url = URL, secret = "plain secret" } }):close(0)
  end)

  it("raises on a webhook content_type that would split a header", function()
    assert.has_error(function()
      notifyhub.new({ webhook = { url = URL, content_type = "text/plain\r\nX-Injected: 1" } })
    end, "notifyhub config: webhook.content_type: string without control characters (CR, LF, NUL, ...)"
      .. " expected, got string")
  end)

  it("raises on a wrong type, naming the key and the type", function()
    assert.has_error(function() notifyhub.new({ async = { workers = "4" } }) end,
      'notifyhub config: async.workers: integer expected, got string')
    assert.has_error(function() notifyhub.new({ http = { timeout = -1 } }) end,
      "notifyhub config: http.timeout: number > 0 and <= 86400 expected, got -1")
    assert.has_error(function() notifyhub.new({ http = { timeout = "soon" } }) end,
      'notifyhub config: http.timeout: number expected, got string')
    assert.has_error(function() notifyhub.new({ logger = { level = "loud" } }) end,
      'notifyhub config: logger.level: one of debug, info, warn, error, off expected, got string')
    assert.has_error(function() notifyhub.new({ feishu = { webhook_url = "ftp://x" } }) end,
      "notifyhub config: feishu.webhook_url: http(s) URL expected, got a string with scheme 'ftp'")
    assert.has_error(function() notifyhub.new({ async = { timeout = -0.5 } }) end,
      "notifyhub config: async.timeout: number from 0 to 3600 expected, got -0.5")
  end)

  it("raises on an inconsistent pool size", function()
    assert.has_error(function()
      notifyhub.new({ async = { workers = 4, max_workers = 2 } })
    end, "notifyhub config: async: min_workers (1) <= workers (4) <= max_workers (2) expected")
  end)

  it("raises on a header with CR or LF", function()
    assert.has_error(function()
      notifyhub.new({ webhook = { url = URL, headers = { ["X-A"] = "a\r\nX-Injected: 1" } } })
    end)
  end)

  it("raises when config is not a table, and for config.feishu's arguments", function()
    assert.has_error(function() notifyhub.new("x") end,
      "bad argument #1 to 'new' (table expected, got string)")
    assert.has_error(function() notifyhub.config.feishu(nil) end,
      "bad argument #1 to 'feishu' (string expected, got nil)")
    assert.has_error(function() notifyhub.config.feishu("https://x", 3) end,
      "bad argument #2 to 'feishu' (table expected, got number)")
  end)

  it("fills the documented defaults", function()
    local cfg = notifyhub.config.check({})
    assert.same({ enabled = true, use_pool = true, workers = 4, min_workers = 1, max_workers = 16,
      buffer_size = 1000, timeout = 0, concurrency = 32, close_timeout = 5, idle_timeout = 30,
      grow_after = 0.1, priority_aging = 2 }, cfg.async)
    assert.same({ max_attempts = 3, initial_delay = 0.5, max_delay = 30, multiplier = 2,
      max_elapsed = 0 }, cfg.retry)
    assert.equal(10, cfg.http.timeout)
    assert.equal(5, cfg.http.connect_timeout)
    assert.is_true(cfg.http.verify_tls)
    assert.equal("warn", cfg.logger.level)
    local big = notifyhub.config.check({ async = { workers = 32 } })
    assert.equal(32, big.async.max_workers)
  end)
end)

describe("messages", function()
  local c
  before_each(function() c = client() end)
  after_each(function() c:close(0) end)

  local function refused(msg, pattern, code)
    local h, err, got = c:send_async(msg)
    assert.is_nil(h)
    assert.equal(code or "INVALID_MESSAGE", got)
    assert.matches(pattern, err)
    assert.equal(0, c:stats().submitted)        -- nothing half-queued
  end

  it("raises when the message is not a table", function()
    assert.has_error(function() c:send_async(nil) end,
      "bad argument #1 to 'send_async' (table expected, got nil)")
    assert.has_error(function() c:send("text") end,
      "bad argument #1 to 'send' (table expected, got string)")
  end)

  it("raises when a field has the wrong type", function()
    assert.has_error(function() c:send_async({ body = 42 }) end,
      "bad argument #1 to 'send_async' (message.body: string expected, got number)")
    assert.has_error(function() c:send_async({ body = "x", targets = { 42 } }) end,
      "bad argument #1 to 'send_async' (targets[1]: table or string expected, got number)")
  end)

  it("refuses a message with neither title nor body", function()
    refused({}, "neither a title nor a body")
    refused({ title = "", body = "" }, "neither a title nor a body")
  end)

  it("refuses an unknown field, platform, format or priority", function()
    refused({ body = "x", tittle = "typo" }, "unknown message field 'tittle'")
    refused({ body = "x", targets = { { platform = "pager" } } }, "unknown platform 'pager'")
    refused({ body = "x", format = "rtf" }, "format 'rtf' is not one of")
    refused({ body = "x", priority = "asap" }, "priority 'asap' is not one of")
    refused({ body = "x", type = "error" }, "type 'error' is not one of info, success, warning, failure")
    refused({ body = "x", type = "\255" }, "type: invalid UTF%-8 at byte 1")
  end)

  it("refuses a non-http(s) URL without echoing it", function()
    refused({ body = "x", targets = { { platform = "webhook", value = "file:///etc/passwd" } } },
      "not an http%(s%) URL %(scheme 'file'%)")
    refused({ body = "x", targets = { { platform = "webhook", value = "gopher://h/x" } } },
      "scheme 'gopher'")
  end)

  it("refuses a string target that is neither an address nor a URL", function()
    refused({ body = "x", targets = { "feishu" } }, "neither an e%-mail address nor an http%(s%) URL")
  end)

  it("refuses a target of a platform that is not configured", function()
    refused({ body = "x", targets = { { platform = "feishu" } } }, "feishu is not configured")
  end)

  it("needs targets when several platforms are configured", function()
    local two = notifyhub.new({ webhook = { url = URL },
      feishu = { webhook_url = "https://open.feishu.cn/open-apis/bot/v2/hook/x" } })
    local h, err, code = two:send_async({ body = "x" })
    assert.is_nil(h)
    assert.equal("INVALID_MESSAGE", code)
    assert.matches("names no targets", err)
    two:close(0)
  end)

  it("refuses an unknown variable instead of sending an empty string", function()
    refused({ body = "hello {{name}}", variables = { other = 1 } }, "unknown variable 'name'")
  end)

  it("refuses a message id that could break a header or a log line", function()
    local why = "id: 1 to 128 printable ASCII characters without spaces expected"
    refused({ id = "a\r\nX-Injected: 1", body = "x" }, why)
    refused({ id = "two words", body = "x" }, why)
    refused({ id = "", body = "x" }, why)
    refused({ id = ("x"):rep(129), body = "x" }, why)
    refused({ id = "caf\xc3\xa9", body = "x" }, why)
    local h = assert(c:send_async({ id = ("x"):rep(128), body = "x" }))
    assert.equal(("x"):rep(128), h.id)
    h:cancel()
  end)

  it("refuses a table that is neither an array 1..n nor an object with string keys", function()
    -- four integer keys whose border is 4, but not 1..4: not an array
    assert.has_error(function()
      c:send_async({ body = "x", metadata = { list = { [0] = "a", "b", "c", [4] = "d" } } })
    end, "message field 'metadata': list: a number key in an object (keys must be strings)")
    assert.has_error(function()
      c:send_async({ body = "x", metadata = { [-1e300] = 1 } })
    end, "message field 'metadata': a number key in an object (keys must be strings)")
  end)

  it("refuses a NUL byte in the text or in JSON strings instead of cutting them short", function()
    refused({ title = "a\0b", body = "x" }, "title: a NUL byte")
    refused({ body = "before\0after" }, "body: a NUL byte")
    refused({ title = "t {{x}}", body = "b", variables = { x = "a\0b" } }, "title: a NUL byte")
    assert.has_error(function()
      c:send_async({ body = "x", metadata = { note = "a\0b" } })
    end, "message field 'metadata': note: a string with a NUL byte, which JSON here cannot carry")
    assert.has_error(function()
      c:send_async({ body = "x", metadata = { ["a\0b"] = 1 } })
    end, "message field 'metadata': a string key in an object (a NUL byte, which JSON here cannot carry)")
  end)

  it("refuses metadata that cannot be JSON", function()
    assert.has_error(function()
      c:send_async({ body = "x", metadata = { f = function() end } })
    end, "message field 'metadata': f: cannot encode a function as JSON")
    local cyclic = {}
    cyclic.self = cyclic
    local h, err, code = c:send_async({ body = "x", metadata = cyclic })   -- a value, not a type
    assert.is_nil(h)
    assert.equal("INVALID_MESSAGE", code)
    assert.matches("metadata%.self: a cycle", err)
    assert.equal(0, c:stats().submitted)
  end)

  it("checks the arguments of wait, wait_all, close and the callbacks", function()
    assert.has_error(function() c:wait_all("x") end,
      "bad argument #1 to 'wait_all' (number expected, got string)")
    local _, err, code = c:wait_all(-1)
    assert.equal("INVALID_ARGUMENT", code)
    assert.matches("timeout must be >= 0", err)
    local _, _, code2 = c:close(-3)
    assert.equal("INVALID_ARGUMENT", code2)
    assert.has_error(function() c:poll(0) end)
    local h = assert(c:send_async({ body = "x" }))
    assert.has_error(function() h:on_complete("not a function") end,
      "bad argument #1 to 'on_complete' (function expected, got string)")
    assert.has_error(function() h:on_error(nil) end,
      "bad argument #1 to 'on_error' (function expected, got nil)")
  end)
end)
