-- The Feishu/Lark custom bot against the loopback stand-in, which checks
-- signatures with its own HMAC (OpenSSL through LuaJIT's FFI, inside nginx)
-- and answers like Feishu: HTTP 200 with the verdict in `code`.

local notifyhub = require("notifyhub")
local server = require("spec.support.server")
local cjson = require("cjson")

local function hook(token) return server.url("/open-apis/bot/v2/hook/" .. token) end

local function bot_client(token, opts)
  return notifyhub.new(notifyhub.config.feishu(hook(token), opts))
end

local function only_request(token)
  local reqs = server.requests("/open-apis/bot/v2/hook/" .. token)
  assert.equal(1, #reqs)
  return reqs[1], cjson.decode(reqs[1].body)
end

describe("feishu", function()
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() server.clear() end)

  it("sends a text message as Feishu expects it", function()
    local c = bot_client("text")
    local receipt = assert(c:send({ body = "deploy finished" }))
    assert.equal("success", receipt.status)
    local r = receipt.results[1]
    assert.equal("feishu", r.platform)
    assert.equal(0, r.platform_code)
    assert.matches("/open%-apis/bot/v2/hook/%*%*%*$", r.target)
    local req = only_request("text")
    assert.equal('{"msg_type":"text","content":{"text":"deploy finished"}}', req.body)
    assert.equal("application/json; charset=utf-8", req.headers["content-type"])
    c:close()
  end)

  it("sends a message with a title as a post, one paragraph per line", function()
    local c = bot_client("post")
    assert(c:send({ title = "Release 1.2", body = "api: done\nweb: done" }))
    local req = only_request("post")
    assert.equal('{"msg_type":"post","content":{"post":{"zh_cn":{"title":"Release 1.2",'
      .. '"content":[[{"tag":"text","text":"api: done"}],[{"tag":"text","text":"web: done"}]]}}}}',
      req.body)
    c:close()
  end)

  it("sends title and body as text when platform_data asks for text", function()
    local c = bot_client("astext")
    assert(c:send({ title = "T", body = "B", platform_data = { feishu = { msg_type = "text" } } }))
    local _, body = only_request("astext")
    assert.same({ msg_type = "text", content = { text = "T\nB" } }, body)
    c:close()
  end)

  it("signs with the secret, and the server's own HMAC accepts it", function()
    server.bot("signed", { secret = "s3cret-SIGNING-key" })
    local c = bot_client("signed", { secret = "s3cret-SIGNING-key" })
    local receipt = assert(c:send({ body = "signed hello" }))
    assert.equal(0, receipt.results[1].platform_code)
    local _, body = only_request("signed")
    assert.matches("^%d+$", body.timestamp)
    assert.is_true(math.abs(tonumber(body.timestamp) - os.time()) < 5)
    assert.is_string(body.sign)
    assert.equal(44, #body.sign)               -- base64 of 32 bytes
    c:close()
  end)

  it("reports a signature the server rejects as on_error with code 19021", function()
    server.bot("badsign", { secret = "the-right-secret" })
    local c = bot_client("badsign", { secret = "a-wrong-secret" })
    local got
    local h = c:send_async({ body = "x" }):on_error(function(msg, err, receipt)
      got = { msg = msg, err = err, receipt = receipt }
    end)
    local ok, err, code, receipt = h:wait()
    assert.is_nil(ok)
    assert.equal("PLATFORM_REJECTED", code)
    assert.matches("^feishu: code 19021: sign match fail", err)
    assert.equal(19021, receipt.results[1].platform_code)
    assert.equal(200, receipt.results[1].http_status)
    assert.equal("x", got.msg.body)
    assert.equal(err, got.err)
    c:close()
  end)

  it("signs every request afresh", function()
    server.bot("fresh", { secret = "k" })
    local c = bot_client("fresh", { secret = "k" })
    assert(c:send({ body = "1" }))
    server.clear()
    server.bot("fresh", { secret = "k" })
    assert(c:send({ body = "2" }))
    local _, body = only_request("fresh")
    assert.is_string(body.sign)
    c:close()
  end)

  it("adds a keyword when the text has none, so keyword bots accept it", function()
    server.bot("kw", { keywords = { "ALERT" } })
    local c = bot_client("kw", { keywords = { "ALERT", "NOTICE" } })
    assert(c:send({ body = "disk full" }))
    local _, body = only_request("kw")
    assert.equal("ALERT disk full", body.content.text)
    server.clear()
    server.bot("kw", { keywords = { "NOTICE" } })
    assert(c:send({ body = "a NOTICE for you" }))
    local _, body2 = only_request("kw")
    assert.equal("a NOTICE for you", body2.content.text)   -- untouched
    c:close()
  end)

  it("fails with 19024 when the bot wants a keyword the client does not know", function()
    server.bot("kwmiss", { keywords = { "ALERT" } })
    local c = bot_client("kwmiss")
    local ok, err, code, receipt = c:send({ body = "disk full" })
    assert.is_nil(ok)
    assert.equal("PLATFORM_REJECTED", code)
    assert.matches("19024", err)
    assert.equal(19024, receipt.results[1].platform_code)
    c:close()
  end)

  it("classifies 11232 as RATE_LIMITED", function()
    server.bot("limited", { code = 11232, msg = "frequency limited psm" })
    local c = bot_client("limited")
    local _, err, code = c:send({ body = "x" })
    assert.equal("RATE_LIMITED", code)
    assert.matches("11232", err)
    c:close()
  end)

  it("reads the legacy StatusCode when code is absent", function()
    server.bot("legacy", { legacy = true })
    local c = bot_client("legacy")
    local receipt = assert(c:send({ body = "x" }))
    assert.equal(0, receipt.results[1].platform_code)
    server.bot("legacy", { legacy = true, code = 19001, msg = "param invalid: incoming webhook access token invalid" })
    local _, err, code, r2 = c:send({ body = "x" })
    assert.equal("PLATFORM_REJECTED", code)
    assert.matches("19001", err)
    assert.equal(19001, r2.results[1].platform_code)
    c:close()
  end)

  it("takes a code that is no whole number (1e300, 0.5) as no code at all, never as success", function()
    local c = bot_client("odd")
    for _, body in ipairs({ '{"code":1e300,"msg":"x"}', '{"code":0.5,"msg":"x"}' }) do
      server.behave("/open-apis/bot/v2/hook/odd", { body = body, times = 1 })
      local receipt, err, code, failed = c:send({ body = "x" })
      assert.is_nil(receipt)
      assert.equal("PLATFORM_REJECTED", code)
      assert.matches("the answer carries no code", err)
      assert.is_nil(failed.results[1].platform_code)
    end
    c:close()
  end)

  it("treats an HTTP error from the bot as HTTP_STATUS", function()
    server.bot("http500", { status = 500 })
    local c = bot_client("http500")
    local _, _, code, receipt = c:send({ body = "x" })
    assert.equal("HTTP_STATUS", code)
    assert.equal(500, receipt.results[1].http_status)
    c:close()
  end)

  it("refuses a body over 20 KB with overflow = error, sending nothing", function()
    local c = bot_client("big", { overflow = "error" })
    local h, err, code = c:send_async({ body = string.rep("x", 21 * 1024) })
    assert.is_nil(h)
    assert.equal("INVALID_MESSAGE", code)
    assert.matches("feishu: the message is %d+ bytes, over the limit of 20480", err)
    assert.equal(0, #server.requests("/open-apis/bot/v2/hook/big"))
    c:close()
  end)

  it("cuts a body over 20 KB on a UTF-8 boundary by default", function()
    local c = bot_client("cut")
    assert(c:send({ body = string.rep("\u{4e2d}", 8000) }))   -- 24,000 bytes of CJK
    local req, body = only_request("cut")
    assert.is_true(#req.body <= 20 * 1024, #req.body)
    assert.is_true(#req.body > 19 * 1024, #req.body)
    local text = body.content.text
    assert.equal("\u{2026}", text:sub(-3))                     -- the ellipsis
    assert.equal(0, (#text - 3) % 3)                           -- whole characters only
    assert.equal(string.rep("\u{4e2d}", (#text - 3) / 3), text:sub(1, -4))
    c:close()
  end)

  it("splits a body over 20 KB into several posts in order", function()
    local c = bot_client("split", { overflow = "split" })
    local lines = {}
    for i = 1, 900 do lines[i] = ("line %04d %s"):format(i, string.rep("y", 30)) end
    local receipt = assert(c:send({ title = "Report", body = table.concat(lines, "\n") }))
    local reqs = server.requests("/open-apis/bot/v2/hook/split")
    assert.is_true(#reqs >= 2)
    assert.equal(#reqs, receipt.results[1].parts_sent)
    local seen = {}
    for _, req in ipairs(reqs) do
      assert.is_true(#req.body <= 20 * 1024)
      local post = cjson.decode(req.body).content.post.zh_cn
      assert.equal("Report", post.title)
      for _, para in ipairs(post.content) do seen[#seen + 1] = para[1].text end
    end
    assert.same(lines, seen)                                   -- nothing lost, in order
    c:close()
  end)

  it("sends to a second bot named by the target, with its own secret", function()
    server.bot("second", { secret = "second-secret" })
    local c = bot_client("first")
    local receipt = assert(c:send({ body = "to both", targets = {
      { platform = "feishu" },
      { platform = "feishu", value = hook("second"), secret = "second-secret" },
    } }))
    assert.equal(2, receipt.successful)
    assert.equal(1, #server.requests("/open-apis/bot/v2/hook/first"))
    assert.equal(1, #server.requests("/open-apis/bot/v2/hook/second"))
    c:close()
  end)

  it("keeps the token and the secret out of receipts, errors, logs and tostring", function()
    local token = "tok-7f3a9c51d2"
    local secret = "SEC-very-secret-42"
    server.bot(token, { secret = "another-secret" })
    local logs = {}
    local c = bot_client(token, { secret = secret, logger = { level = "debug",
      handler = function(level, text, fields)
        logs[#logs + 1] = level .. text .. cjson.encode(fields)
      end } })
    local h = c:send_async({ body = "x" })
    local _, err, _, receipt = h:wait()
    c:close()
    local all = table.concat({ err, cjson.encode(receipt), tostring(c), tostring(h),
      table.concat(logs, "\n") }, "\n")
    assert.is_true(#logs > 0)
    assert.is_nil(all:find(token, 1, true))
    assert.is_nil(all:find(secret, 1, true))
    assert.matches("/hook/%*%*%*", receipt.results[1].target)
  end)
end)
