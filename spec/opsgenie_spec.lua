-- Opsgenie's Alert API against its loopback stand-in (spec/support/stub/opsgenie.lua):
-- GenieKey auth, the alert (message <= 130, alias = message id, description <= 15,000,
-- priority from message.type), 202 accepted, 401/422 not retried, 429/5xx retried, the key
-- kept out of errors, receipts and logs.

local notifyhub = require("notifyhub")
local server = require("spec.support.server")
local cjson = require("cjson")

local KEY = "eb243592-faa2-4ba2-a551-SECRETgenieKEY"

local function last()
  local reqs = server.requests("/v2/alerts")
  local req = reqs[#reqs]
  return req, req and cjson.decode(req.body)
end

local function client(overrides, retry)
  local cfg = { url = server.url("/v2/alerts"), api_key = KEY }
  for k, v in pairs(overrides or {}) do cfg[k] = v end
  return notifyhub.new({ opsgenie = cfg, retry = retry or { max_attempts = 1 } })
end

local function chars(s) return select(2, s:gsub("[^\128-\191]", "")) end

describe("opsgenie", function()
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() server.clear() end)

  it("creates an alert with GenieKey auth and the message id as alias; 202 is accepted", function()
    local c = client({ alert_tags = { "ops", "db" }, source = "notifyhub-test", entity = "db1" })
    local receipt = assert(c:send({ id = "disk-7", title = "Disk full", body = "/var at 99%",
      type = "failure", metadata = { host = "db1", n = 3 } }))
    local req, alert = last()
    assert.equal("GenieKey " .. KEY, req.headers.authorization)
    assert.same({ message = "Disk full", alias = "disk-7", description = "/var at 99%", priority = "P2",
      tags = { "ops", "db" }, source = "notifyhub-test", entity = "db1",
      details = { host = "db1", n = "3" } }, alert)
    assert.equal(202, receipt.results[1].http_status)
    assert.matches('"result":"Request will be processed"', receipt.results[1].response, 1, true)
    c:close()
  end)

  it("maps message.type and an urgent priority to P1..P5; platform_data fields win", function()
    local c = client()
    local got = {}
    for _, t in ipairs({ "info", "success", "warning", "failure" }) do
      assert(c:send({ body = t, type = t }))
      got[#got + 1] = select(2, last()).priority
    end
    assert(c:send({ body = "now", priority = "urgent" }))
    got[#got + 1] = select(2, last()).priority
    assert.same({ "P3", "P5", "P3", "P2", "P1" }, got)
    assert(c:send({ body = "x", platform_data = { opsgenie = { priority = "P4", note = "n" } } }))
    local _, alert = last()
    assert.equal("P4", alert.priority)
    assert.equal("n", alert.note)
    c:close()
  end)

  it("takes the message from the body's first line, cut to 130 characters", function()
    local c = client()
    local line = string.rep("\u{00e9}", 200)
    assert(c:send({ body = line .. "\nsecond line" }))
    local _, alert = last()
    assert.equal(130, chars(alert.message))
    assert.equal("\u{2026}", alert.message:sub(-3))
    assert.equal(line .. "\nsecond line", alert.description)
    c:close()
  end)

  it("cuts the description to 15,000 characters", function()
    local c = client()
    assert(c:send({ title = "big", body = string.rep("\u{00e9}", 20000) }))
    local _, alert = last()
    assert.equal(15000, chars(alert.description))
    c:close()
  end)

  it("fails at once on 401 and 422 with Opsgenie's message, never the key", function()
    local logs = {}
    local c = notifyhub.new({ opsgenie = { url = server.url("/v2/alerts"), api_key = "bad" },
      retry = { max_attempts = 3, initial_delay = 0.01 } })
    local _, err, code, receipt = c:send({ body = "x" })
    assert.equal("HTTP_STATUS", code)
    assert.equal(1, receipt.results[1].attempts)
    assert.equal("opsgenie: HTTP 401: Could not authenticate", err)
    c:close()
    c = notifyhub.new({ opsgenie = { url = server.url("/v2/alerts"), api_key = KEY },
      retry = { max_attempts = 3, initial_delay = 0.01 },
      logger = { level = "debug", handler = function(_, msg) logs[#logs + 1] = msg end } })
    _, err, code, receipt = c:send({ body = "x", platform_data = { opsgenie = { priority = "P9" } } })
    assert.equal("HTTP_STATUS", code)
    assert.equal(422, receipt.results[1].http_status)
    assert.equal(1, receipt.results[1].attempts)
    assert.equal("opsgenie: HTTP 422: Request body is not processable. Please check the errors. "
      .. "(priority: Invalid priority.)", err)
    c:close()
    assert.is_true(#logs > 0)
    assert.is_nil((table.concat(logs, "\n") .. cjson.encode(receipt)):find(KEY, 1, true))
  end)

  it("retries 429 (with Retry-After) and 5xx", function()
    local c = client({}, { max_attempts = 2, initial_delay = 0.01, max_delay = 0.01 })
    server.behave("/v2/alerts", { status = 429, times = 1, headers = { ["Retry-After"] = "1" },
      body = '{"message":"Rate limit exceeded","took":0.0,"requestId":"r"}' })
    local receipt = assert(c:send({ body = "x" }))
    assert.equal(2, receipt.results[1].attempts)
    server.behave("/v2/alerts", { status = 503, body = "unavailable" })
    local _, _, code, r2 = c:send({ body = "y" })
    assert.equal("HTTP_STATUS", code)
    assert.equal(2, r2.results[1].attempts)
    server.behave("/v2/alerts", { status = 429, headers = { ["Retry-After"] = "7" },
      body = '{"message":"Rate limit exceeded","took":0.0,"requestId":"r"}' })
    local _, err, code3, r3 = c:send({ body = "z" })
    assert.equal("RATE_LIMITED", code3)
    assert.equal(7, r3.results[1].retry_after)
    assert.matches("Rate limit exceeded", err, 1, true)
    c:close()
  end)

  it("refuses a key with CR or LF when the client is made, naming the key only", function()
    local ok, err = pcall(notifyhub.new, { opsgenie = { api_key = "k\r\nX-Injected: 1" } })
    assert.is_false(ok)
    assert.equal("notifyhub config: opsgenie.api_key: string without control characters (CR, LF, NUL, ...)"
      .. " expected, got string", err)
    ok, err = pcall(notifyhub.new, { matrix = { homeserver = "https://m.example", room_id = "!r:m.example",
      access_token = "t\nX: 1" } })
    assert.is_false(ok)
    assert.matches("matrix.access_token: string without control characters", err, 1, true)
  end)

  it("sends to Opsgenie's US endpoint by default; another URL gets no key of the instance", function()
    local cfg = notifyhub.config.check({ opsgenie = { api_key = KEY } })
    assert.equal("https://api.opsgenie.com/v2/alerts", cfg.platforms.opsgenie.instances.default.url)
    local c = client()
    local h, err, code = c:send_async({ body = "x", targets = { { platform = "opsgenie",
      value = "https://api.eu.opsgenie.com/v2/alerts" } } })
    assert.is_nil(h)
    assert.equal("INVALID_MESSAGE", code)
    assert.matches("give the target its own api_key", err, 1, true)
    c:close()
  end)
end)
