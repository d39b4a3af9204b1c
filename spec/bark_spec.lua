-- Bark (iOS push) against its loopback stand-in (spec/support/stub/bark.lua): the JSON push
-- with the device key in the body, level from message.type and priority, the message id as
-- the notification id, the 3,500-byte limit, a code other than 200 as a failure (also under
-- HTTP 200), 5xx retried, the device key kept out of errors, receipts and logs.

local notifyhub = require("notifyhub")
local server = require("spec.support.server")
local cjson = require("cjson")

local KEY = "qW3rTyDeViCeKeYsecret"

local function last()
  local reqs = server.requests("/push")
  local req = reqs[#reqs]
  return req, req and cjson.decode(req.body)
end

local function client(overrides, retry, logs)
  local cfg = { url = server.url("/push"), device_key = KEY }
  for k, v in pairs(overrides or {}) do cfg[k] = v end
  return notifyhub.new({ bark = cfg, retry = retry or { max_attempts = 1 },
    logger = { level = "debug", handler = function(_, msg) if logs then logs[#logs + 1] = msg end end } })
end

describe("bark", function()
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() server.clear() end)

  it("pushes title, body, level and the message id; code 200 is success", function()
    local c = client({ group = "ops", sound = "alarm", icon = "https://e.example/i.png",
      click_url = "https://e.example/run/1" })
    local receipt = assert(c:send({ id = "run-1", title = "Build", body = "green" }))
    local req, push = last()
    assert.equal("POST", req.method)
    assert.same({ device_key = KEY, title = "Build", body = "green", level = "active", group = "ops",
      sound = "alarm", icon = "https://e.example/i.png", url = "https://e.example/run/1", id = "run-1" }, push)
    assert.equal(200, receipt.results[1].platform_code)
    assert.equal("https://api.day.app/push",
      notifyhub.config.check({ bark = { device_key = KEY } }).platforms.bark.instances.default.url)
    c:close()
  end)

  it("maps message.type and priority to Bark's level", function()
    local c = client()
    local got = {}
    local cases = { { "info" }, { "success" }, { "warning" }, { "failure" }, { "info", "low" },
      { "failure", "urgent" } }
    for _, case in ipairs(cases) do
      assert(c:send({ body = "x", type = case[1], priority = case[2] }))
      got[#got + 1] = select(2, last()).level
    end
    assert.same({ "active", "active", "timeSensitive", "timeSensitive", "passive", "critical" }, got)
    c:close()
  end)

  it("sends html as text and markdown as written", function()
    local c = client()
    assert(c:send({ body = "<p>a &amp; <b>b</b></p>", format = "html" }))
    assert.equal("a & b", select(2, last()).body)
    assert(c:send({ body = "**b**", format = "markdown" }))
    assert.equal("**b**", select(2, last()).body)
    c:close()
  end)

  it("splits past 3,500 bytes, each part with its own id", function()
    local c = client({ overflow = "split" })
    local receipt = assert(c:send({ id = "long", body = string.rep("line of text\n", 600) }))
    local reqs = server.requests("/push")
    assert.is_true(#reqs >= 3)
    assert.equal(#reqs, receipt.results[1].parts_sent)
    for i, r in ipairs(reqs) do
      local push = cjson.decode(r.body)
      assert.equal("long-" .. i, push.id)
      assert.is_true(#push.body <= 3500)
    end
    c:close()
  end)

  it("fails at once on an unknown device key, whose echo is hidden everywhere", function()
    local logs = {}
    local key = "unknownKEYsecret123"
    local c = client({ device_key = key }, { max_attempts = 3, initial_delay = 0.01 }, logs)
    local _, err, code, receipt = c:send({ body = "x" })
    assert.equal("HTTP_STATUS", code)
    assert.equal(1, receipt.results[1].attempts)
    assert.equal(400, receipt.results[1].platform_code)
    assert.matches("failed to get device token", err, 1, true)
    c:close()
    assert.is_true(#logs > 0)
    assert.is_nil((err .. cjson.encode(receipt) .. table.concat(logs, "\n")):find(key, 1, true))
  end)

  it("takes HTTP 200 with another code as a failure, and retries APNs' 500", function()
    server.behave("/push", { status = 200, body = '{"code":400,"message":"bad params","timestamp":1}' })
    local c = client({}, { max_attempts = 2, initial_delay = 0.01, max_delay = 0.01 })
    local _, err, code, receipt = c:send({ body = "x" })
    assert.equal("PLATFORM_REJECTED", code)
    assert.equal(1, receipt.results[1].attempts)
    assert.equal("bark: bad params", err)
    server.behave("/push", nil)
    c:close()
    c = client({ device_key = "apns-fail" }, { max_attempts = 2, initial_delay = 0.01, max_delay = 0.01 })
    _, err, code, receipt = c:send({ body = "x" })
    assert.equal("HTTP_STATUS", code)
    assert.equal(2, receipt.results[1].attempts)
    assert.matches("BadDeviceToken", err, 1, true)
    c:close()
  end)
end)
