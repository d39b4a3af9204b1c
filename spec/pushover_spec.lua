-- Pushover against its loopback stand-in (spec/support/stub/pushover.lua, built from
-- Pushover's API docs): the form fields, message.type and priority (emergency with retry
-- and expire), markdown as Pushover's HTML, the 1024/250-character limits, and each class
-- of failure (status 0, the monthly quota's 429 not retried, 5xx retried).

local notifyhub = require("notifyhub")
local server = require("spec.support.server")
local cjson = require("cjson")

local TOKEN = "azGDORePK8gMaC0QOYAMyEEuzJnyUi"
local USER = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"

local function last()
  local reqs = server.requests("/1/")
  local req = assert(reqs[#reqs], "no request")
  local f = {}
  for k, v in req.body:gmatch("([^&=]+)=([^&]*)") do
    f[k] = v:gsub("+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
  end
  return req, f
end

describe("pushover", function()
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() server.clear() end)

  local function client(cfg, extra)
    local base = { token = TOKEN, user = USER, api_url = server.url("/1/messages.json") }
    for k, v in pairs(cfg or {}) do base[k] = v end
    local conf = { pushover = base, retry = { max_attempts = 1 }, logger = { failures = false } }
    for k, v in pairs(extra or {}) do conf[k] = v end
    return notifyhub.new(conf)
  end

  it("posts the form Pushover documents and takes status 1 as success", function()
    local c = client({ device = "phone", sound = "siren", url = "https://ci.example/7" })
    local receipt = assert(c:send({ title = "Backup & restore", body = "done: 100%" }))
    assert.equal(1, cjson.decode(receipt.results[1].response).status)
    local req, f = last()
    assert.equal("/1/messages.json", req.path)
    assert.matches("^application/x%-www%-form%-urlencoded", req.headers["content-type"])
    assert.same({ token = TOKEN, user = USER, title = "Backup & restore", message = "done: 100%",
      priority = "0", device = "phone", sound = "siren", url = "https://ci.example/7" }, f)
    c:close()
  end)

  it("maps message.type and priority: failure high, urgent an emergency with retry and expire", function()
    local c = client()
    local want = { { { type = "info" }, "0" }, { { type = "warning" }, "0" },
      { { type = "failure" }, "1" }, { { priority = "low", type = "failure" }, "-1" },
      { { priority = "high" }, "1" } }
    for _, w in ipairs(want) do
      local msg = { body = "x" }
      for k, v in pairs(w[1]) do msg[k] = v end
      assert(c:send(msg))
      assert.equal(w[2], select(2, last()).priority, cjson.encode(w[1]))
    end
    local receipt = assert(c:send({ body = "pager", priority = "urgent" }))
    local _, f = last()
    assert.same({ "2", "60", "3600" }, { f.priority, f.retry, f.expire })
    assert.is_string(cjson.decode(receipt.results[1].response).receipt)
    c:close()
  end)

  it("sends markdown as Pushover's HTML (html=1: <b>, <i>, <a href>) and html as text", function()
    local c = client()
    assert(c:send({ body = "**up** _again_ <x> `code` [run](https://ci.example/?a=1&b=2)", format = "markdown" }))
    local _, f = last()
    assert.equal("1", f.html)
    assert.equal('<b>up</b> <i>again</i> &lt;x&gt; code <a href="https://ci.example/?a=1&amp;b=2">run</a>',
      f.message)
    assert(c:send({ body = "<p>a <b>b</b></p>", format = "html" }))
    _, f = last()
    assert.is_nil(f.html)
    assert.equal("a b", f.message)
    c:close()
  end)

  it("sends a title alone as the message (Pushover requires one)", function()
    local c = client()
    assert(c:send({ title = "only a title" }))
    local _, f = last()
    assert.same({ "only a title" }, { f.message, f.title })
    assert(c:send({ title = string.rep("t", 1500) }))   -- within 1024 characters, as a message
    assert.equal(string.rep("t", 1024), select(2, last()).message)
    c:close()
  end)

  it("keeps the message within 1024 characters and the title within 250", function()
    local c = client()
    local title, body = string.rep("t", 300), string.rep("ü", 1500)
    assert(c:send({ title = title, body = body }))
    local _, f = last()
    assert.equal(string.rep("t", 250), f.title)
    assert.is_true(select(2, f.message:gsub("[^\128-\191]", "")) <= 1024)
    c:close()
    c = client({ overflow = "error" })
    local _, _, code = c:send({ body = body })
    assert.equal("INVALID_MESSAGE", code)
    c:close()
  end)

  it("brings Pushover's errors (status 0) into the receipt, not retried", function()
    local c = client({ user = "uShortKey" }, { retry = { max_attempts = 3, initial_delay = 0.01 } })
    local _, err, code, receipt = c:send({ body = "x" })
    assert.equal("HTTP_STATUS", code)
    assert.equal("pushover: HTTP 400: user identifier is not a valid user, group, or subscribed user key", err)
    assert.equal(0, receipt.results[1].platform_code)
    assert.equal(1, receipt.results[1].attempts)
    c:close()
  end)

  it("takes a 200 without status 1 as a failure", function()
    server.behave("/1/", { status = 200, body = '{"status":0,"errors":["message cannot be blank"]}' })
    local c = client()
    local _, err, code = c:send({ body = "x" })
    assert.equal("PLATFORM_REJECTED", code)
    assert.equal("pushover: HTTP 200: message cannot be blank", err)
    c:close()
  end)

  it("does not retry the monthly quota's 429, and retries a 5xx", function()
    local c = client({ user = "uQuotaSpentuQuotaSpentuQuotaSp" },
      { retry = { max_attempts = 3, initial_delay = 0.01 } })
    local _, err, code, receipt = c:send({ body = "x" })
    assert.equal("RATE_LIMITED", code)
    assert.matches("monthly message limit", err)
    assert.equal(1, receipt.results[1].attempts)
    c:close()
    server.behave("/1/", { status = 500, times = 1, body = "oops" })
    c = client(nil, { retry = { max_attempts = 2, initial_delay = 0.01 } })
    receipt = assert(c:send({ body = "x" }))
    assert.equal(2, receipt.results[1].attempts)
    c:close()
  end)

  it("keeps the token and user key out of errors, receipts and logs when the answer echoes them", function()
    server.behave("/1/", { status = 400, body = '{"status":0,"errors":["{{echo}}"],"request":"r"}' })
    local logs = {}
    local c = client(nil, { logger = { level = "debug", failures = true,
      handler = function(_, text, fields) logs[#logs + 1] = text .. cjson.encode(fields) end } })
    local _, err, _, receipt = c:send({ body = "x" })
    c:close()
    local all = err .. cjson.encode(receipt) .. table.concat(logs, "\n")
    assert.matches("token=%*%*%*&user=%*%*%*", all)
    assert.is_nil(all:find(TOKEN, 1, true), all)
    assert.is_nil(all:find(USER, 1, true), all)
  end)

  it("sends to api.pushover.net by default; a target elsewhere gets neither key", function()
    assert.equal("https://api.pushover.net/1/messages.json",
      notifyhub.config.platform_defaults.pushover.api_url)
    local c = client()
    local _, err, code = c:send({ body = "x",
      targets = { { platform = "pushover", value = server.url("/webhook/elsewhere") } } })
    assert.equal("INVALID_MESSAGE", code)
    assert.matches("give the target its own token", err)
    c:close()
  end)
end)
