-- ServerChan (Server酱 Turbo and Server酱³) against its loopback stand-in
-- (spec/support/stub/serverchan.lua): the SendKey in the path and nowhere shown, title
-- (at most 32 characters) and desp (markdown), a code other than 0 as a failure under
-- HTTP 200, 5xx retried.

local notifyhub = require("notifyhub")
local server = require("spec.support.server")
local cjson = require("cjson")

local KEY = "SCT123456TsecretSENDKEY"

local function last()
  local reqs = server.requests()
  local req = reqs[#reqs]
  return req, req and cjson.decode(req.body)
end

local function client(overrides, retry, logs)
  local cfg = { url = server.url(""), sendkey = KEY }
  for k, v in pairs(overrides or {}) do cfg[k] = v end
  return notifyhub.new({ serverchan = cfg, retry = retry or { max_attempts = 1 },
    logger = { level = "debug", handler = function(_, msg) if logs then logs[#logs + 1] = msg end end } })
end

local function chars(s) return select(2, s:gsub("[^\128-\191]", "")) end

describe("serverchan", function()
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() server.clear() end)

  it("posts title and desp to /<SENDKEY>.send; code 0 is success; the key is never shown", function()
    local c = client({ channel = "9|66", noip = true })
    local receipt = assert(c:send({ title = "Deploy", body = "**api** is live", format = "markdown" }))
    local req, body = last()
    assert.equal("/" .. KEY .. ".send", req.path)
    assert.same({ title = "Deploy", desp = "**api** is live", channel = "9|66", noip = 1 }, body)
    local r = receipt.results[1]
    assert.equal(0, r.platform_code)
    assert.is_nil(cjson.encode(receipt):find(KEY, 1, true))
    assert.equal("https://sctapi.ftqq.com",
      notifyhub.config.check({ serverchan = { sendkey = KEY } }).platforms.serverchan.instances.default.url)
    c:close()
  end)

  it("sends a Server酱³ key (sctp<uid>t...) to /send/<SENDKEY>.send", function()
    local key = "sctp1234tSECRETkey"
    local c = client({ sendkey = key })
    assert(c:send({ title = "t", body = "b" }))
    assert.equal("/send/" .. key .. ".send", last().path)
    c:close()
  end)

  it("cuts the title to 32 characters, taking the body's first line when there is none", function()
    local c = client()
    assert(c:send({ body = string.rep("\u{4e2d}", 40) .. "\nmore" }))
    local _, body = last()
    assert.equal(32, chars(body.title))
    assert.equal("\u{2026}", body.title:sub(-3))
    assert.equal(string.rep("\u{4e2d}", 40) .. "\nmore", body.desp)
    c:close()
  end)

  it("fails at once on a bad key or a spent quota (HTTP 200), never showing the key", function()
    local logs = {}
    local c = client({ sendkey = "badSECRETkey99" }, { max_attempts = 3, initial_delay = 0.01 }, logs)
    local _, err, code, receipt = c:send({ title = "t", body = "x" })
    assert.equal("PLATFORM_REJECTED", code)
    assert.equal(200, receipt.results[1].http_status)
    assert.equal(40001, receipt.results[1].platform_code)
    assert.equal(1, receipt.results[1].attempts)
    assert.equal("serverchan: bad pushtoken", err)
    c:close()
    assert.is_true(#logs > 0)
    assert.is_nil((cjson.encode(receipt) .. table.concat(logs, "\n")):find("badSECRETkey99", 1, true))
    c = client({ sendkey = "SCTquota" }, { max_attempts = 3, initial_delay = 0.01 })
    _, err, code, receipt = c:send({ title = "t", body = "x" })
    assert.equal("PLATFORM_REJECTED", code)
    assert.equal(1, receipt.results[1].attempts)
    assert.matches("请明天再试", err, 1, true)
    c:close()
  end)

  it("retries 429 and 5xx", function()
    local c = client({}, { max_attempts = 2, initial_delay = 0.01, max_delay = 0.01 })
    for _, status in ipairs({ 429, 500 }) do
      server.behave("/" .. KEY .. ".send", { status = status, times = 1, body = "busy" })
      local receipt = assert(c:send({ title = "t", body = "x" }))
      assert.equal(2, receipt.results[1].attempts, status)
    end
    c:close()
  end)
end)
