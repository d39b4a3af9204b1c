-- PushPlus against its loopback stand-in (spec/support/stub/pushplus.lua): the JSON body
-- with the token, template from the message's format, HTTP 200 answers whose code decides
-- (200 success, 900 rate limited and 500 retried, 903 and 999 not), the token kept out of
-- errors, receipts and logs.

local notifyhub = require("notifyhub")
local server = require("spec.support.server")
local cjson = require("cjson")

local TOKEN = "be8652e98bd04139SECRETpushplus71"

local function last()
  local reqs = server.requests("/send")
  local req = reqs[#reqs]
  return req, req and cjson.decode(req.body)
end

local function client(overrides, retry, logs)
  local cfg = { url = server.url("/send"), token = TOKEN }
  for k, v in pairs(overrides or {}) do cfg[k] = v end
  return notifyhub.new({ pushplus = cfg, retry = retry or { max_attempts = 1 },
    logger = { level = "debug", handler = function(_, msg) if logs then logs[#logs + 1] = msg end end } })
end

describe("pushplus", function()
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() server.clear() end)

  it("posts token, title, content and template; code 200 is success", function()
    local c = client({ topic = "ops", channel = "wechat" })
    local receipt = assert(c:send({ title = "Deploy", body = "api is live" }))
    local req, body = last()
    assert.matches("application/json", req.headers["content-type"], 1, true)
    assert.same({ token = TOKEN, title = "Deploy", content = "api is live", template = "txt",
      topic = "ops", channel = "wechat" }, body)
    assert.equal(200, receipt.results[1].platform_code)
    assert.is_nil(cjson.encode(receipt):find(TOKEN, 1, true))
    assert.equal("https://www.pushplus.plus/send",
      notifyhub.config.check({ pushplus = { token = TOKEN } }).platforms.pushplus.instances.default.url)
    c:close()
  end)

  it("picks the template from the format: markdown and html as written", function()
    local c = client()
    assert(c:send({ body = "**b**", format = "markdown" }))
    local _, body = last()
    assert.equal("markdown", body.template)
    assert.equal("**b**", body.content)
    assert(c:send({ body = "<b>b</b>", format = "html" }))
    _, body = last()
    assert.equal("html", body.template)
    assert.equal("<b>b</b>", body.content)
    c:close()
  end)

  it("fails at once on 903 (bad token) under HTTP 200, never showing the token", function()
    local logs = {}
    local c = client({ token = "bad" }, { max_attempts = 3, initial_delay = 0.01 }, logs)
    local _, err, code, receipt = c:send({ body = "x" })
    assert.equal("PLATFORM_REJECTED", code)
    assert.equal(903, receipt.results[1].platform_code)
    assert.equal(1, receipt.results[1].attempts)
    assert.equal("pushplus: 无效的用户令牌", err)
    c:close()
    server.behave("/send", { status = 200, body = '{"code":999,"msg":"token ' .. TOKEN .. ' refused","data":null}' })
    c = client({}, { max_attempts = 3, initial_delay = 0.01 }, logs)
    _, err, code, receipt = c:send({ body = "x" })
    assert.equal("PLATFORM_REJECTED", code)
    assert.equal(999, receipt.results[1].platform_code)
    assert.equal(1, receipt.results[1].attempts)
    c:close()
    assert.is_nil((err .. cjson.encode(receipt) .. table.concat(logs, "\n")):find(TOKEN, 1, true))
  end)

  it("retries 900 (too frequent) as RATE_LIMITED, and 500 (try again later)", function()
    local c = client({ token = "limited" }, { max_attempts = 2, initial_delay = 0.01, max_delay = 0.01 })
    local _, _, code, receipt = c:send({ body = "x" })
    assert.equal("RATE_LIMITED", code)
    assert.equal(900, receipt.results[1].platform_code)
    assert.equal(2, receipt.results[1].attempts)
    c:close()
    c = client({ token = "sysfail" }, { max_attempts = 2, initial_delay = 0.01, max_delay = 0.01 })
    _, _, code, receipt = c:send({ body = "x" })
    assert.equal("PLATFORM_REJECTED", code)
    assert.equal(500, receipt.results[1].platform_code)
    assert.equal(2, receipt.results[1].attempts)
    server.behave("/send", { status = 502, times = 1, body = "bad gateway" })
    c:close()
    c = client({}, { max_attempts = 2, initial_delay = 0.01, max_delay = 0.01 })
    receipt = assert(c:send({ body = "x" }))
    assert.equal(2, receipt.results[1].attempts)
    c:close()
  end)
end)
