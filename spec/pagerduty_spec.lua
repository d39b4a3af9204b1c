-- PagerDuty Events API v2 against its loopback stand-in (spec/support/stub/pagerduty.lua):
-- the event, the message id as dedup_key, severity from message.type, the 1,024-character
-- summary, 400 invalid events (not retried), 429 and 5xx (retried), the routing key kept
-- out of errors, receipts and logs, and the published 120 events a minute per key.

local notifyhub = require("notifyhub")
local server = require("spec.support.server")
local cjson = require("cjson")

local KEY = "R0UT1NGKEYsecret0123456789abcdef"   -- 32 characters, as PagerDuty's are

local function events()
  local out = {}
  for i, r in ipairs(server.requests("/v2/enqueue")) do out[i] = cjson.decode(r.body) end
  return out
end

local function client(overrides, extra)
  local cfg = { url = server.url("/v2/enqueue"), routing_key = KEY }
  for k, v in pairs(overrides or {}) do cfg[k] = v end
  local full = { pagerduty = cfg, retry = { max_attempts = 1 } }
  for k, v in pairs(extra or {}) do full[k] = v end
  return notifyhub.new(full)
end

describe("pagerduty", function()
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() server.clear() end)

  it("triggers an event with the message id as dedup_key; 202 success is delivered", function()
    local c = client({ source = "api-1", component = "db" })
    local receipt = assert(c:send({ id = "deploy-42", title = "Disk full", body = "/var at 99%",
      type = "failure", metadata = { host = "db1" } }))
    local r = receipt.results[1]
    assert.equal(202, r.http_status)
    assert.equal('{"status":"success","message":"Event processed","dedup_key":"deploy-42"}', r.response)
    local e = events()[1]
    assert.same({ routing_key = KEY, event_action = "trigger", dedup_key = "deploy-42",
      payload = { summary = "Disk full: /var at 99%", source = "api-1", severity = "error",
        component = "db", custom_details = { host = "db1" } } }, e)
    assert.equal("https://events.pagerduty.com/v2/enqueue",
      notifyhub.config.check({ pagerduty = { routing_key = KEY } }).platforms.pagerduty.instances.default.url)
    c:close()
  end)

  it("maps message.type to severity, and an urgent message to critical", function()
    local c = client()
    for _, t in ipairs({ "info", "success", "warning", "failure" }) do assert(c:send({ body = t, type = t })) end
    assert(c:send({ body = "now", type = "info", priority = "urgent" }))
    local got = {}
    for i, e in ipairs(events()) do got[i] = e.payload.severity end
    assert.same({ "info", "info", "warning", "error", "critical" }, got)
    c:close()
  end)

  it("resolves an alert by the dedup_key platform_data names, without a payload", function()
    local c = client()
    assert(c:send({ body = "fixed", platform_data = { pagerduty = { event_action = "resolve",
      dedup_key = "deploy-42" } } }))
    assert.same({ routing_key = KEY, event_action = "resolve", dedup_key = "deploy-42" }, events()[1])
    c:close()
  end)

  it("cuts the summary to 1,024 characters, or refuses it with overflow = error", function()
    local c = client()
    assert(c:send({ body = string.rep("\u{00e9}", 3000) }))
    local summary = events()[1].payload.summary
    assert.equal(1024, select(2, summary:gsub("[^\128-\191]", "")))
    assert.equal("\u{2026}", summary:sub(-3))
    c:close()
    c = client({ overflow = "error" })
    local h, _, code = c:send_async({ body = string.rep("x", 1025) })
    assert.is_nil(h)
    assert.equal("INVALID_MESSAGE", code)
    c:close()
  end)

  it("fails at once on an invalid event, with PagerDuty's errors, never the routing key", function()
    local logs = {}
    local c = notifyhub.new({ pagerduty = { url = server.url("/v2/enqueue"), routing_key = KEY .. "x" },
      retry = { max_attempts = 3, initial_delay = 0.01 },
      logger = { level = "debug", handler = function(_, msg) logs[#logs + 1] = msg end } })
    local _, err, code, receipt = c:send({ body = "x" })
    assert.equal("HTTP_STATUS", code)
    assert.equal(400, receipt.results[1].http_status)
    assert.equal(1, receipt.results[1].attempts)
    assert.equal("pagerduty: HTTP 400: Event object is invalid: 'routing_key' must be 32 characters", err)
    c:close()
    local seen = table.concat(logs, "\n") .. cjson.encode(receipt) .. err
    assert.is_nil(seen:find(KEY, 1, true))
  end)

  it("retries 429 and 5xx, and takes a 2xx without status success as a failure", function()
    local c = client({}, { retry = { max_attempts = 3, initial_delay = 0.01, max_delay = 0.01 } })
    for _, status in ipairs({ 429, 502 }) do
      server.behave("/v2/enqueue", { status = status, times = 1, body = "" })
      local receipt = assert(c:send({ body = "x" }))
      assert.equal(2, receipt.results[1].attempts, status)
    end
    server.behave("/v2/enqueue", { status = 202, body = '{"status":"queued"}' })
    local _, _, code = c:send({ body = "y" })
    assert.equal("PLATFORM_REJECTED", code)
    c:close()
  end)

  it("keeps PagerDuty's 120 events a minute per routing key by default", function()
    local spec = notifyhub.config.rate_limits.pagerduty
    assert.same({ per_minute = 120 }, spec)
    local cfg = notifyhub.config.check({ pagerduty = { routing_key = KEY } })
    local target = require("notifyhub.target")
    local a = target.resolve(cfg.platforms, { platform = "pagerduty" })
    local b = target.resolve(cfg.platforms, { platform = "pagerduty", routing_key = string.rep("b", 32) })
    assert.not_equal(a.rate_key, b.rate_key)   -- two integrations share the URL, not the window
  end)
end)
