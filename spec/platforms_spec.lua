-- Slack, DingTalk, WeCom, Discord, Telegram, Teams and signed webhooks
-- against loopback stand-ins that answer the way the real services do
-- (spec/support/stub.lua), success and errors alike. The payload each
-- platform builds is checked against what the stand-in received.

local notifyhub = require("notifyhub")
local server = require("spec.support.server")
local cjson = require("cjson")

-- The last request under prefix, and its body decoded when it is JSON.
local function last(prefix)
  local reqs = server.requests(prefix)
  local req = reqs[#reqs]
  local ok, body = pcall(cjson.decode, req and req.body or "")
  return req, ok and body or nil
end

local function client(cfg) return notifyhub.new(cfg) end

-- The request's query arguments, decoded once.
local function query(args)
  local out = {}
  for k, v in args:gmatch("([^&=]+)=([^&]*)") do
    out[k] = v:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
  end
  return out
end

describe("platforms", function()
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() server.clear() end)

  describe("slack", function()
    local hook = function(token) return server.url("/services/T000/B000/" .. token) end

    it("sends mrkdwn text with the title in bold and & < > escaped", function()
      local c = client({ slack = { webhook_url = hook("ok1"), username = "bot" } })
      local receipt = assert(c:send({ title = "Deploy <api>", body = "a & b > c",
        platform_data = { slack = { blocks = { { type = "section",
          text = { type = "mrkdwn", text = "hi" } } } } } }))
      assert.equal("ok", receipt.results[1].response)
      local _, body = last("/services/")
      assert.equal("*Deploy &lt;api&gt;*\na &amp; b &gt; c", body.text)
      assert.equal("bot", body.username)
      assert.is_true(body.mrkdwn)
      assert.equal("section", body.blocks[1].type)
      c:close()
    end)

    it("turns markdown links into <url|text>", function()
      local c = client({ slack = { webhook_url = hook("ok2") } })
      assert(c:send({ body = "see [the run](https://ci.example/1?a=1&b=2)", format = "markdown" }))
      local _, body = last("/services/")
      assert.equal("see <https://ci.example/1?a=1&amp;b=2|the run>", body.text)
      c:close()
    end)

    it("brings Slack's plain-text error into the receipt", function()
      local c = client({ slack = { webhook_url = hook("archived") } })
      local _, err, code, receipt = c:send({ body = "x" })
      assert.equal("HTTP_STATUS", code)
      assert.matches("channel_is_archived", err)
      assert.equal(410, receipt.results[1].http_status)
      c:close()
    end)

    it("reports 429 as RATE_LIMITED with its Retry-After", function()
      server.behave("/services/T000/B000/busy", { status = 429, body = "rate_limited",
        headers = { ["Retry-After"] = "7" } })
      local c = client({ slack = { webhook_url = hook("busy") }, retry = { max_attempts = 1 } })
      local _, _, code, receipt = c:send({ body = "x" })
      assert.equal("RATE_LIMITED", code)
      assert.equal(7, receipt.results[1].retry_after)
      c:close()
    end)
  end)

  describe("dingtalk", function()
    local robot = function(token) return server.url("/robot/send?access_token=" .. token) end

    it("signs with a millisecond timestamp, encoded once, and the robot accepts it", function()
      server.dingtalk("signed", { secret = "SECabc+/=123" })
      local c = client({ dingtalk = { webhook_url = robot("signed"), secret = "SECabc+/=123",
        at_mobiles = { "13800000000" } } })
      local receipt = assert(c:send({ body = "disk full" }))
      assert.equal(0, receipt.results[1].platform_code)
      local req, body = last("/robot/send")
      local q = query(req.args)
      assert.matches("^%d+$", q.timestamp)
      assert.is_true(math.abs(tonumber(q.timestamp) / 1000 - os.time()) < 5)
      assert.equal(1, select(2, req.args:gsub("sign=", "")))   -- exactly once
      assert.same({ msgtype = "text", text = { content = "disk full" },
        at = { atMobiles = { "13800000000" }, atUserIds = {}, isAtAll = false } }, body)
      c:close()
    end)

    it("sends markdown with the title and @mobile for each mention", function()
      local c = client({ dingtalk = { webhook_url = robot("md"), at_mobiles = { "139" } } })
      assert(c:send({ title = "Alert", body = "**high** load", format = "markdown" }))
      local _, body = last("/robot/send")
      assert.equal("markdown", body.msgtype)
      assert.equal("Alert", body.markdown.title)
      assert.equal("### Alert\n\n**high** load @139", body.markdown.text)
      c:close()
    end)

    it("sends an actionCard from platform_data", function()
      local c = client({ dingtalk = { webhook_url = robot("card") } })
      assert(c:send({ body = "x", platform_data = { dingtalk = { actionCard = {
        title = "T", text = "t", singleTitle = "Open", singleURL = "https://e.example" } } } }))
      local _, body = last("/robot/send")
      assert.equal("actionCard", body.msgtype)
      assert.equal("Open", body.actionCard.singleTitle)
      c:close()
    end)

    it("reports a wrong secret as errcode 310000", function()
      server.dingtalk("wrong", { secret = "SECright" })
      local c = client({ dingtalk = { webhook_url = robot("wrong"), secret = "SECwrong" } })
      local _, err, code, receipt = c:send({ body = "x" })
      assert.equal("PLATFORM_REJECTED", code)
      assert.equal(310000, receipt.results[1].platform_code)
      assert.matches("errcode 310000", err)
      c:close()
    end)

    it("classifies 130101 (send too fast) as RATE_LIMITED", function()
      server.behave("/robot/send", { body = '{"errcode":130101,"errmsg":"send too fast"}' })
      local c = client({ dingtalk = { webhook_url = robot("fast") }, retry = { max_attempts = 1 } })
      local _, _, code = c:send({ body = "x" })
      assert.equal("RATE_LIMITED", code)
      c:close()
    end)
  end)

  describe("wecom", function()
    local bot = function(key) return server.url("/cgi-bin/webhook/send?key=" .. key) end

    it("sends text with mention lists and markdown without them", function()
      local c = client({ wecom = { webhook_url = bot("k1"), mentioned_list = { "@all" } } })
      assert(c:send({ title = "T", body = "B" }))
      local _, body = last("/cgi-bin/")
      assert.same({ msgtype = "text", text = { content = "T\nB", mentioned_list = { "@all" } } }, body)
      assert(c:send({ title = "T", body = "**B**", format = "markdown" }))
      local _, md = last("/cgi-bin/")
      assert.same({ msgtype = "markdown", markdown = { content = "**T**\n**B**" } }, md)
      c:close()
    end)

    it("keeps the caller's IP out of the error and the receipt", function()
      local c = client({ wecom = { webhook_url = bot("invalid") } })
      local _, err, code, receipt = c:send({ body = "x" })
      assert.equal("PLATFORM_REJECTED", code)
      assert.equal(93000, receipt.results[1].platform_code)
      assert.matches("invalid webhook url", err)
      local all = err .. cjson.encode(receipt)
      assert.is_nil(all:find("203.0.113.7", 1, true))
      c:close()
    end)

    it("cuts text at 2048 bytes and markdown at 4096, on UTF-8 boundaries", function()
      local c = client({ wecom = { webhook_url = bot("k2") } })
      assert(c:send({ body = string.rep("\u{00e9}", 3000) }))       -- 6000 bytes
      local _, body = last("/cgi-bin/")
      assert.is_true(#body.text.content <= 2048)
      assert.equal("\u{2026}", body.text.content:sub(-3))
      assert(c:send({ body = string.rep("m", 5000), format = "markdown" }))
      local _, md = last("/cgi-bin/")
      assert.equal(4096, #md.markdown.content)
      c:close()
    end)

    it("classifies 45009 as RATE_LIMITED", function()
      server.behave("/cgi-bin/webhook/send", { body = '{"errcode":45009,"errmsg":"api freq out of limit"}' })
      local c = client({ wecom = { webhook_url = bot("k3") }, retry = { max_attempts = 1 } })
      local _, _, code = c:send({ body = "x" })
      assert.equal("RATE_LIMITED", code)
      c:close()
    end)
  end)

  describe("discord", function()
    local hook = function(path) return server.url("/api/webhooks/123/" .. path) end

    it("sends content, username and embeds, and takes 204 as success", function()
      local c = client({ discord = { webhook_url = hook("tok"), username = "notifier" } })
      local receipt = assert(c:send({ title = "Build", body = "green",
        platform_data = { discord = { embeds = { { title = "details", description = "d" } } } } }))
      assert.equal(204, receipt.results[1].http_status)
      local _, body = last("/api/webhooks/")
      assert.equal("**Build**\ngreen", body.content)
      assert.equal("notifier", body.username)
      assert.equal("details", body.embeds[1].title)
      c:close()
    end)

    it("waits for the message with wait = true", function()
      local c = client({ discord = { webhook_url = hook("tok"), wait = true } })
      local receipt = assert(c:send({ body = "x" }))
      assert.equal(200, receipt.results[1].http_status)
      assert.matches("wait=true", last("/api/webhooks/").args)
      c:close()
    end)

    it("splits content over 2000 characters", function()
      local c = client({ discord = { webhook_url = hook("tok"), overflow = "split" } })
      local body = string.rep("\u{00e9}", 4500)                     -- 4500 characters
      local receipt = assert(c:send({ body = body }))
      local reqs = server.requests("/api/webhooks/")
      assert.equal(3, #reqs)
      assert.equal(3, receipt.results[1].parts_sent)
      local joined = {}
      for i, r in ipairs(reqs) do joined[i] = cjson.decode(r.body).content end
      assert.equal(body, table.concat(joined))
      c:close()
    end)

    it("reads retry_after from a 429's JSON body", function()
      server.behave("/api/webhooks/", { status = 429,
        body = '{"message":"You are being rate limited.","retry_after":1.5,"global":false}' })
      local c = client({ discord = { webhook_url = hook("tok") }, retry = { max_attempts = 1 } })
      local _, err, code, receipt = c:send({ body = "x" })
      assert.equal("RATE_LIMITED", code)
      assert.equal(1.5, receipt.results[1].retry_after)
      assert.matches("being rate limited", err)
      c:close()
    end)
  end)

  describe("telegram", function()
    local function tg(overrides)
      local cfg = { token = "123456:SECRET-bot-token", chat_id = "42",
        api_url = server.url(""), rate_limit = false }
      for k, v in pairs(overrides or {}) do cfg[k] = v end
      return client({ telegram = cfg, retry = { max_attempts = 1 } })
    end

    it("sends HTML with escaping the stand-in parses", function()
      local c = tg()
      local receipt = assert(c:send({ title = "a<b", body = "x & y <z>" }))
      local req, body = last("/bot")
      assert.equal("/bot123456:SECRET-bot-token/sendMessage", req.path)
      assert.same({ chat_id = "42", parse_mode = "HTML", text = "<b>a&lt;b</b>\nx &amp; y &lt;z&gt;" }, body)
      assert.is_nil(cjson.encode(receipt):find("SECRET-bot-token", 1, true))
      assert.matches("/bot%*%*%*/sendMessage%?chat_id=42", receipt.results[1].target)
      c:close()
    end)

    it("turns markdown into Telegram HTML", function()
      local c = tg()
      assert(c:send({ body = "**bold** and `x<y` [site](https://e.example/?a=1&b=2)", format = "markdown" }))
      local _, body = last("/bot")
      assert.equal('<b>bold</b> and <code>x&lt;y</code> <a href="https://e.example/?a=1&amp;b=2">site</a>',
        body.text)
      c:close()
    end)

    it("escapes every reserved character for MarkdownV2", function()
      local c = tg({ parse_mode = "MarkdownV2" })
      assert(c:send({ body = "1.5 - (a) [b] #c! _d_ *e*" }))
      local _, body = last("/bot")
      assert.equal("1\\.5 \\- \\(a\\) \\[b\\] \\#c\\! \\_d\\_ \\*e\\*", body.text)
      c:close()
    end)

    it("sends to the chat named by the target", function()
      local c = tg()
      assert(c:send({ body = "x", targets = { notifyhub.target.telegram("-100777") } }))
      local _, body = last("/bot")
      assert.equal("-100777", body.chat_id)
      c:close()
    end)

    it("reports ok = false with its error_code and description, without the token", function()
      local c = tg({ chat_id = "404" })
      local _, err, code, receipt = c:send({ body = "x" })
      assert.equal("HTTP_STATUS", code)
      assert.equal(400, receipt.results[1].platform_code)
      assert.matches("chat not found", err)
      assert.is_nil((err .. cjson.encode(receipt)):find("SECRET-bot-token", 1, true))
      c:close()
    end)

    it("reads parameters.retry_after from a 429", function()
      server.behave("/bot", { status = 429, body = '{"ok":false,"error_code":429,'
        .. '"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}' })
      local c = tg()
      local _, _, code, receipt = c:send({ body = "x" })
      assert.equal("RATE_LIMITED", code)
      assert.equal(3, receipt.results[1].retry_after)
      c:close()
    end)
  end)

  describe("teams", function()
    it("wraps an Adaptive Card in the attachments envelope; 202 is success", function()
      local url = server.url("/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=SIGSECRET")
      local c = client({ teams = { webhook_url = url } })
      local receipt = assert(c:send({ title = "Deploy", body = "done" }))
      assert.equal(202, receipt.results[1].http_status)
      assert.is_nil(cjson.encode(receipt):find("SIGSECRET", 1, true))
      local _, body = last("/workflows/")
      assert.equal("message", body.type)
      local att = body.attachments[1]
      assert.equal("application/vnd.microsoft.card.adaptive", att.contentType)
      assert.equal("AdaptiveCard", att.content.type)
      assert.equal("Deploy", att.content.body[1].text)
      assert.equal("Bolder", att.content.body[1].weight)
      assert.equal("done", att.content.body[2].text)
      c:close()
    end)
  end)

  describe("signed webhook", function()
    local secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    it("signs by Standard Webhooks and the receiver's own HMAC accepts it", function()
      server.signed("svc", { secret = secret })
      local c = client({ webhook = { url = server.url("/signed/svc"), secret = secret } })
      local receipt = assert(c:send({ id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", body = "x" }))
      assert.equal(204, receipt.results[1].http_status)
      local req = last("/signed/")
      assert.equal("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", req.headers["webhook-id"])
      assert.matches("^%d+$", req.headers["webhook-timestamp"])
      assert.matches("^v1,[%w+/]+=*$", req.headers["webhook-signature"])
      c:close()
    end)

    it("is refused by the receiver with a different secret", function()
      server.signed("other", { secret = "whsec_" .. ("QUJDREVGR0hJSktMTU5PUA==") })
      local c = client({ webhook = { url = server.url("/signed/other"), secret = secret } })
      local _, _, code, receipt = c:send({ body = "x" })
      assert.equal("HTTP_STATUS", code)
      assert.equal(401, receipt.results[1].http_status)
      c:close()
    end)

    it("sends the user's template with the fields JSON-escaped", function()
      local c = client({ webhook = { url = server.url("/webhook/tpl"),
        template = '{"text":"{{title}}: {{body}}","id":"{{id}}","n":{{unknown}}}' } })
      assert(c:send({ id = "t1", title = 'say "hi"', body = "line\nnext" }))
      local req = last("/webhook/tpl")
      assert.equal('{"text":"say \\"hi\\": line\\nnext","id":"t1","n":{{unknown}}}', req.body)
      c:close()
    end)

    it("sends another content type as it is", function()
      local c = client({ webhook = { url = server.url("/webhook/plain"), content_type = "text/plain",
        template = "{{title}}: {{body}}" } })
      assert(c:send({ title = 'a "b"', body = "c" }))
      local req = last("/webhook/plain")
      assert.equal("text/plain", req.headers["content-type"])
      assert.equal('a "b": c', req.body)
      c:close()
    end)
  end)
end)
