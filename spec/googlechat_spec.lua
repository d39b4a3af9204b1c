-- Google Chat against its loopback stand-in (spec/support/stub/googlechat.lua, built from
-- Google's Chat webhook docs): {text} in Chat's own markup, message.type as a leading emoji,
-- thread_key, the 4096-character limit, one message a second per space (429
-- RESOURCE_EXHAUSTED past it), Google's error body, the key and token kept secret.

local notifyhub = require("notifyhub")
local server = require("spec.support.server")
local cjson = require("cjson")

local KEY, TOKEN = "AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI", "Zb3_kRb9aQ5fNQ1tH0yV8pLx2Wc"

local function last()
  local reqs = server.requests("/v1/")
  local req = assert(reqs[#reqs], "no request")
  return req, cjson.decode(req.body)
end

describe("googlechat", function()
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() server.clear() end)

  local n = 0
  -- A space of its own for each use: the stand-in takes one message a second per space.
  local function hook(token)
    n = n + 1
    return server.url(("/v1/spaces/AAAA%d/messages?key=%s&token=%s"):format(n, KEY, token or TOKEN))
  end
  local function client(cfg, extra)
    local base = { webhook_url = hook() }
    for k, v in pairs(cfg or {}) do base[k] = v end
    local conf = { googlechat = base, retry = { max_attempts = 1 }, logger = { failures = false } }
    for k, v in pairs(extra or {}) do conf[k] = v end
    return notifyhub.new(conf)
  end

  it("posts {text} with the title in bold; the answer's message name is success", function()
    local c = client()
    local receipt = assert(c:send({ title = "Deploy", body = "v2 is live" }))
    assert.matches("^spaces/.+/messages/m%d+$", cjson.decode(receipt.results[1].response).name)
    local req, body = last()
    assert.matches("key=" .. KEY, req.args, 1, true)
    assert.equal("*Deploy*\nv2 is live", body.text)
    c:close()
  end)

  it("writes markdown in Chat's markup: *bold*, _italic_, `code`, ``` blocks, <url|text>", function()
    local c = client()
    assert(c:send({ body = "# Head\n\n**b** *i* `c` [run](https://ci.example/?a=1&b=2|x)\n\n```lua\nx = 1\n```",
      format = "markdown" }))
    assert.equal("*Head*\n\n*b* _i_ `c` <https://ci.example/?a=1&b=2%7Cx|run>\n\n```\nx = 1\n```",
      select(2, last()).text)
    c:close()
  end)

  it("shows Chat's <...> syntax in the text as text: no @all mention, no link that lies", function()
    local c = client()
    assert(c:send({ title = "<users/all>", body = "disk full <users/all> see <https://evil.example|docs>" }))
    local text, zw = select(2, last()).text, "\226\128\139"   -- U+200B, zero width
    assert.equal(("*<%susers/all>*\ndisk full <%susers/all> see <%shttps://evil.example|docs>")
      :format(zw, zw, zw), text)
    c:close()
    c = client()
    assert(c:send({ body = "a <users/all> and [docs](https://ok.example)", format = "markdown" }))
    assert.equal(("a <%susers/all> and <https://ok.example|docs>"):format(zw), select(2, last()).text)
    c:close()
  end)

  it("puts an emoji in front of a success, warning or failure", function()
    local c = client()
    local want = { info = "*T*\nb", success = "✅ *T*\nb", warning = "⚠️ *T*\nb", failure = "🚨 *T*\nb" }
    for kind, text in pairs(want) do
      c:close()
      c = client()
      assert(c:send({ title = "T", body = "b", type = kind }))
      assert.equal(text, select(2, last()).text, kind)
    end
    c:close()
  end)

  it("sends the message id as requestId, so that a resend makes no second message", function()
    local c = client({ rate_limit = false })
    local first = assert(c:send({ id = "deploy-42", body = "x" }))
    assert.matches("requestId=deploy-42", last().args, 1, true)
    local again = assert(c:send({ id = "deploy-42", body = "x" }))
    local name = function(r) return cjson.decode(r.results[1].response).name end
    assert.equal(name(first), name(again))
    local _, _, code = c:send({ id = "deploy-43", body = "x" })   -- a new one, at once: refused
    assert.equal("RATE_LIMITED", code)
    c:close()
    c = client({ overflow = "split" })
    local receipt = assert(c:send({ id = "long-1", body = string.rep("línea\n", 1000) }))
    assert.equal(2, receipt.results[1].parts_sent)
    local reqs = server.requests("/v1/")
    assert.matches("requestId=long%-1$", reqs[#reqs - 1].args)
    assert.matches("requestId=long%-1%-2$", reqs[#reqs].args)
    c:close()
  end)

  it("replies in a thread with thread_key", function()
    local c = client({ thread_key = "deploy 42" })
    local receipt = assert(c:send({ body = "x" }))
    local req = last()
    assert.matches("threadKey=deploy%2042&messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD", req.args, 1, true)
    assert.is_string(cjson.decode(receipt.results[1].response).thread.name)
    c:close()
  end)

  it("keeps the text within 4096 characters", function()
    local c = client({ overflow = "split" })
    local receipt = assert(c:send({ body = string.rep("línea\n", 1000) }), "sent")   -- 6000 characters
    assert.equal(2, receipt.results[1].parts_sent)
    c:close()
  end)

  it("spaces messages a second apart by default, so the space never answers 429", function()
    local c = client()
    local t0 = notifyhub.now()
    for i = 1, 3 do assert(c:send({ body = "n" .. i })) end
    assert.is_true(notifyhub.now() - t0 >= 1.9)
    c:close()
    assert.same({ per_second = 1 }, notifyhub.config.rate_limits.googlechat)
  end)

  it("reports RESOURCE_EXHAUSTED (429) as RATE_LIMITED, retried", function()
    local c = client({ rate_limit = false })
    assert(c:send({ body = "first" }))
    local _, err, code, receipt = c:send({ body = "second, at once" })
    assert.equal("RATE_LIMITED", code)
    assert.equal("googlechat: HTTP 429: RESOURCE_EXHAUSTED: Resource has been exhausted (e.g. check quota).", err)
    assert.equal(429, receipt.results[1].platform_code)
    c:close()
    server.behave("/v1/", { status = 429, times = 1, body = '{"error":{"code":429,'
      .. '"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}' })
    c = client(nil, { retry = { max_attempts = 2, initial_delay = 0.01 } })
    receipt = assert(c:send({ body = "after a retry" }))
    assert.equal(2, receipt.results[1].attempts)
    c:close()
  end)

  it("brings Google's error into the receipt: 401 not retried", function()
    local c = client({ webhook_url = hook("invalid") }, { retry = { max_attempts = 3, initial_delay = 0.01 } })
    local _, err, code, receipt = c:send({ body = "x" })
    assert.equal("HTTP_STATUS", code)
    assert.equal("googlechat: HTTP 401: UNAUTHENTICATED: Request had invalid authentication credentials.", err)
    assert.equal(1, receipt.results[1].attempts)
    c:close()
  end)

  it("takes a 200 without the message as a failure, and retries a 5xx", function()
    server.behave("/v1/", { status = 200, body = "{}", times = 1 })
    local c = client()
    local _, err, code = c:send({ body = "x" })
    assert.equal("PLATFORM_REJECTED", code)
    assert.equal("googlechat: HTTP 200: no message in the answer", err)
    c:close()
    server.behave("/v1/", { status = 503, times = 1,
      body = '{"error":{"code":503,"message":"The service is currently unavailable.","status":"UNAVAILABLE"}}' })
    c = client(nil, { retry = { max_attempts = 2, initial_delay = 0.01 } })
    local receipt = assert(c:send({ body = "x" }))
    assert.equal(2, receipt.results[1].attempts)
    c:close()
  end)

  it("takes a bare chat.googleapis.com webhook URL as a Google Chat target", function()
    local url = "https://chat.googleapis.com/v1/spaces/AAAA/messages?key=k&token=t"
    assert.same({ platform = "googlechat", value = url }, require("notifyhub.target").parse(url))
  end)

  it("keeps the key and token out of labels, errors, receipts and logs", function()
    server.behave("/v1/", { status = 400,
      body = '{"error":{"code":400,"message":"{{echo}}","status":"INVALID_ARGUMENT"}}' })
    local logs = {}
    local c = client(nil, { logger = { level = "debug", failures = true,
      handler = function(_, text, fields) logs[#logs + 1] = text .. cjson.encode(fields) end } })
    local _, err, _, receipt = c:send({ body = "x" })
    c:close()
    local all = err .. cjson.encode(receipt) .. table.concat(logs, "\n")
    assert.matches("key=%*%*%*&token=%*%*%*", all)
    assert.is_nil(all:find(KEY, 1, true), all)
    assert.is_nil(all:find(TOKEN, 1, true), all)
  end)
end)
