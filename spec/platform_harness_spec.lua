-- spec/platform_harness_spec.lua -- self-test of the platform stand-ins and the SMTP server.
--
-- Owned by the test harness: checks spec/support/stub.lua's Slack, DingTalk, WeCom, Discord,
-- Telegram, Teams (Workflows) and Standard Webhooks stand-ins, server.behave(), and
-- spec/support/smtp.lua + smtp_server.py, without using notifyhub. HTTP goes through
-- server.http (the curl CLI); signatures are computed here with the openssl CLI, independently
-- of the server's FFI HMAC; mail is sent with Python's smtplib (spec/support/smtp_client.py)
-- and the curl CLI.
--
--   busted --lua=lua5.4 spec/platform_harness_spec.lua
--   busted --lua=luajit spec/platform_harness_spec.lua

local server = require("spec.support.server")
local smtp = require("spec.support.smtp")
local cjson = require("cjson")
local system = require("system")

local JSON = { ["Content-Type"] = "application/json" }

local function q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function capture(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("*a")
  p:close()
  return out
end

local function tmpfile(data)
  local tmp = os.tmpname()
  local f = assert(io.open(tmp, "wb"))
  f:write(data)
  f:close()
  return tmp
end

-- base64(HMAC-SHA256(key, msg)) with the openssl CLI (the key as hex: it may hold any byte).
local function hmac_sha256_b64(key, msg)
  local hex = key:gsub(".", function(c) return string.format("%02x", c:byte()) end)
  local tmp = tmpfile(msg)
  local out = capture("openssl dgst -sha256 -mac HMAC -macopt hexkey:" .. hex .. " -binary "
    .. tmp .. " | openssl base64 -A")
  os.remove(tmp)
  return (out:gsub("%s+$", ""))
end

local function base64(data)
  local tmp = tmpfile(data)
  local out = capture("openssl base64 -A -in " .. tmp)
  os.remove(tmp)
  return (out:gsub("%s+$", ""))
end

-- Percent-encode everything but the unreserved characters (what a URL query needs).
local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

local function now_ms()
  return string.format("%.0f", os.time() * 1000)
end

-- { status, body } of an answer (drops the headers).
local function two(a, b) return { a, b } end

local function post_json(path, tbl, headers)
  local status, body, h = server.http("POST", path, cjson.encode(tbl), headers or JSON)
  local ok, decoded = pcall(cjson.decode, body)
  return status, ok and decoded or body, h
end

-- Alive and not a zombie.
local function alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return false end
  local st = f:read("*a"):match("^%d+ %b() (%a)")
  f:close()
  return st ~= "Z" and st ~= "X"
end

describe("platform stand-ins", function()
  setup(function()
    server.start()
  end)

  teardown(function()
    server.stop()
  end)

  before_each(function()
    server.clear()
  end)

  it("checks the spec's own HMAC and base64 helpers against known vectors", function()
    assert.are.equal("97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg=",
      hmac_sha256_b64("key", "The quick brown fox jumps over the lazy dog"))
    assert.are.equal("W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=",
      hmac_sha256_b64("Jefe", "what do ya want for nothing?"))
    assert.are.equal("AGEK/w==", base64("\0a\n\255"))
  end)

  ---------------------------------------------------------------------------------------------
  describe("server.behave", function()
    local SLACK = "/services/T0/B0/tok"

    it("forces status, body and headers for a prefix and still records the request", function()
      server.behave("/services/", { status = 429, body = "rate_limited",
        headers = { ["Retry-After"] = "2" } })
      local status, body, h = server.http("POST", SLACK, '{"text":"x"}', JSON)
      assert.are.equal(429, status)
      assert.are.equal("rate_limited", body)
      assert.are.equal("2", h["retry-after"])
      assert.matches("^text/plain", h["content-type"])
      local reqs = server.requests(SLACK)
      assert.are.equal(1, #reqs)
      assert.are.equal('{"text":"x"}', reqs[1].body)
      -- Other stand-ins are not affected.
      assert.are.equal(204, (server.http("POST", "/signed/any", "x")))
    end)

    it("lets the longest matching prefix win", function()
      server.behave("/services/", { status = 500, body = "rollup_error" })
      server.behave("/services/T0/B0/special", { status = 403, body = "action_prohibited" })
      assert.are.equal(403, (server.http("POST", "/services/T0/B0/special", '{"text":"x"}', JSON)))
      assert.are.equal(500, (server.http("POST", SLACK, '{"text":"x"}', JSON)))
      server.behave("/services/", nil)   -- forgets only that prefix
      assert.are.equal(200, (server.http("POST", SLACK, '{"text":"x"}', JSON)))
      assert.are.equal(403, (server.http("POST", "/services/T0/B0/special", '{"text":"x"}', JSON)))
    end)

    it("applies `times` only to the next N requests (fail once, then succeed)", function()
      server.behave(SLACK, { status = 503, body = "", times = 1 })
      assert.are.equal(503, (server.http("POST", SLACK, '{"text":"x"}', JSON)))
      local status, body = server.http("POST", SLACK, '{"text":"x"}', JSON)
      assert.are.equal(200, status)
      assert.are.equal("ok", body)

      -- Used up: a shorter prefix applies again.
      server.behave("/services/", { status = 500, body = "rollup_error" })
      server.behave(SLACK, { status = 429, body = "slow", times = 2 })
      assert.are.equal(429, (server.http("POST", SLACK, '{"text":"x"}', JSON)))
      assert.are.equal(429, (server.http("POST", SLACK, '{"text":"x"}', JSON)))
      assert.are.equal(500, (server.http("POST", SLACK, '{"text":"x"}', JSON)))
      assert.are.equal(5, #server.requests(SLACK))
    end)

    it("with only delay and headers answers normally, later, with the headers", function()
      server.behave("/cgi-bin/", { delay = 0.3, headers = { ["X-Test"] = "yes" } })
      local t0 = system.gettime()
      local status, resp, h = post_json("/cgi-bin/webhook/send?key=k",
        { msgtype = "text", text = { content = "x" } })
      assert.is_true(system.gettime() - t0 >= 0.3)
      assert.are.equal(200, status)
      assert.are.equal(0, resp.errcode)
      assert.are.equal("yes", h["x-test"])
    end)

    it("matches a prefix holding ? against path and query (one DingTalk robot)", function()
      server.behave("/robot/send?access_token=slow", { status = 200,
        body = '{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}' })
      local _, resp, h = post_json("/robot/send?access_token=slow", { msgtype = "text",
        text = { content = "x" } })
      assert.are.equal(130101, resp.errcode)
      assert.matches("application/json", h["content-type"])
      _, resp = post_json("/robot/send?access_token=fast", { msgtype = "text",
        text = { content = "x" } })
      assert.are.equal(0, resp.errcode)
    end)

    it("works on the Feishu stand-in and the generic receiver, 204 without a body", function()
      server.behave("/open-apis/", { status = 502, body = "bad gateway" })
      assert.are.equal(502, (server.http("POST", "/open-apis/bot/v2/hook/t", "{}", JSON)))
      server.behave("/webhook/x", { status = 204, body = "ignored" })
      local status, body = server.http("POST", "/webhook/x", "{}", JSON)
      assert.are.equal(204, status)
      assert.are.equal("", body)
      assert.are.equal(2, #server.requests())
    end)

    it("is forgotten by server.clear()", function()
      server.behave("/", { status = 500, body = "down" })
      assert.are.equal(500, (server.http("POST", "/webhook/a", "x")))
      server.clear()
      assert.are.equal(200, (server.http("POST", "/webhook/a", "x")))
    end)

    it("refuses bad options", function()
      assert.has_error(function() server.behave("/x", { times = 0 }) end)
      assert.has_error(function() server.behave("/x", { status = "abc" }) end)
      assert.has_error(function() server.behave("x", { status = 500 }) end)
    end)
  end)

  ---------------------------------------------------------------------------------------------
  describe("Slack", function()
    local function hook(token) return "/services/T000/B000/" .. token end

    it("answers 200 text/plain ok to text or blocks and records the request", function()
      local body = '{"text":"hello <https://x|x> &amp;"}'
      local status, resp, h = server.http("POST", hook("secret") .. "?x=1", body, JSON)
      assert.are.equal(200, status)
      assert.are.equal("ok", resp)
      assert.matches("^text/plain", h["content-type"])
      local r = server.requests(hook("secret"))[1]
      assert.are.equal("POST", r.method)
      assert.are.equal(hook("secret"), r.path)
      assert.are.equal("x=1", r.args)
      assert.are.equal("application/json", r.headers["content-type"])
      assert.are.equal(body, r.body)

      local blocks = { { type = "section", text = { type = "mrkdwn", text = "*hi*" } } }
      assert.are.same({ 200, "ok" }, two(post_json(hook("t"), { blocks = blocks })))
      -- 50 blocks is the limit.
      local fifty = {}
      for i = 1, 50 do fifty[i] = { type = "divider" } end
      assert.are.same({ 200, "ok" }, two(post_json(hook("t"), { text = "f", blocks = fifty })))
      -- The legacy form encoding: payload=<json>.
      assert.are.same({ 200, "ok" }, two(server.http("POST", hook("t"),
        "payload=" .. urlencode('{"text":"form"}'),
        { ["Content-Type"] = "application/x-www-form-urlencoded" })))
    end)

    it("answers the documented errors", function()
      local function plain(status, body) return { status, body } end
      assert.are.same(plain(400, "invalid_payload"),
        two(server.http("POST", hook("t"), "not json", JSON)))
      assert.are.same(plain(400, "no_text"), two(post_json(hook("t"), { username = "x" })))
      assert.are.same(plain(400, "no_text"), two(post_json(hook("t"), { text = "" })))
      local many = {}
      for i = 1, 51 do many[i] = { type = "divider" } end
      assert.are.same(plain(400, "invalid_blocks"),
        two(post_json(hook("t"), { text = "x", blocks = many })))
      assert.are.same(plain(410, "channel_is_archived"),
        two(post_json(hook("archived"), { text = "x" })))
      assert.are.same(plain(404, "no_service"), two(post_json(hook("gone"), { text = "x" })))
      assert.are.same(plain(404, "no_service"), two(post_json("/services/only-one", { text = "x" })))
      assert.are.equal(7, #server.requests("/services/"))
    end)
  end)

  ---------------------------------------------------------------------------------------------
  describe("DingTalk", function()
    local SECRET = "SEC0123456789abcdef+/notifyhub"
    local function text(content) return { msgtype = "text", text = { content = content } } end
    local function sign(ts, secret)
      return hmac_sha256_b64(secret or SECRET, ts .. "\n" .. (secret or SECRET))
    end
    local function send(token, ts, sig, msg)
      local path = "/robot/send?access_token=" .. token
      if ts then path = path .. "&timestamp=" .. ts end
      if sig then path = path .. "&sign=" .. sig end
      local _, resp = post_json(path, msg or text("hello"))
      return resp
    end

    it("answers ok to a robot never configured and records the query", function()
      local status, resp = post_json("/robot/send?access_token=plain", text("hi"))
      assert.are.equal(200, status)
      assert.are.same({ errcode = 0, errmsg = "ok" }, resp)
      local r = server.requests("/robot/send")[1]
      assert.are.equal("access_token=plain", r.args)
      assert.are.equal("/robot/send", r.path)
    end)

    it("answers 300001 to a missing or invalid token", function()
      assert.are.same({ errcode = 300001, errmsg = "token is not exist" }, send("invalid"))
      local _, resp = post_json("/robot/send", text("x"))
      assert.are.equal(300001, resp.errcode)
    end)

    it("checks the signature: encoded once, fresh, with the right secret", function()
      assert.matches("access_token=signed$", server.dingtalk("signed", { secret = SECRET }))
      local ts = now_ms()
      local good = sign(ts)
      assert.are.same({ errcode = 0, errmsg = "ok" }, send("signed", ts, urlencode(good)))

      local function refused(resp, what)
        assert.are.equal(310000, resp.errcode, what)
        assert.matches("^sign not match, more: %[", resp.errmsg, nil, what)
      end
      refused(send("signed", ts, urlencode(urlencode(good))), "double-encoded")
      refused(send("signed", ts, urlencode(sign(ts, "SECother"))), "other secret")
      refused(send("signed", ts, nil), "no sign")
      refused(send("signed", nil, urlencode(good)), "no timestamp")
      local secs = tostring(os.time())                           -- seconds, not ms
      refused(send("signed", secs, urlencode(sign(secs))), "seconds")
      local old = string.format("%.0f", (os.time() - 7200) * 1000)  -- 2 hours old
      refused(send("signed", old, urlencode(sign(old))), "stale")
      local soon = string.format("%.0f", (os.time() + 3000) * 1000)  -- 50 min ahead: fine
      assert.are.equal(0, send("signed", soon, urlencode(sign(soon))).errcode)

      -- Not encoded at all: a "+" in the base64 becomes a space after one decoding.
      local plus_ts
      for i = 0, 40 do
        local t = string.format("%.0f", os.time() * 1000 - i)
        if sign(t):find("+", 1, true) then plus_ts = t break end
      end
      assert.is_not_nil(plus_ts, "no timestamp with a '+' in its sign")
      refused(send("signed", plus_ts, sign(plus_ts)), "not encoded")
      assert.are.equal(0, send("signed", plus_ts, urlencode(sign(plus_ts))).errcode)
    end)

    it("answers 40035 without msgtype and 43004 without a JSON Content-Type", function()
      assert.are.same({ errcode = 40035, errmsg = "missing msgtype" },
        send("t", nil, nil, { text = { content = "x" } }))
      local _, resp = server.http("POST", "/robot/send?access_token=t", "not json", JSON)
      assert.are.equal(40035, cjson.decode(resp).errcode)
      _, resp = server.http("POST", "/robot/send?access_token=t", cjson.encode(text("x")),
        { ["Content-Type"] = "text/plain" })
      assert.are.equal(43004, cjson.decode(resp).errcode)
    end)

    it("checks keywords in text, markdown and actionCard messages", function()
      server.dingtalk("kw", { keywords = { "alert", "告警" } })
      assert.are.equal(0, send("kw", nil, nil, text("disk alert")).errcode)
      assert.are.equal(0, send("kw", nil, nil, text("磁盘告警")).errcode)
      assert.are.equal(0, send("kw", nil, nil, { msgtype = "markdown",
        markdown = { title = "t", text = "## alert" } }).errcode)
      assert.are.equal(0, send("kw", nil, nil, { msgtype = "actionCard",
        actionCard = { title = "t", text = "an alert", singleTitle = "go",
          singleURL = "https://x" } }).errcode)
      local resp = send("kw", nil, nil, text("all quiet"))
      assert.are.equal(310000, resp.errcode)
      assert.matches("^keywords not in content", resp.errmsg)
      assert.are.equal(310000, send("kw", nil, nil, { msgtype = "markdown",
        markdown = { title = "alert", text = "title does not count" } }).errcode)
    end)

    it("combines secret and keywords, and forces answers per token", function()
      server.dingtalk("both", { secret = SECRET, keywords = { "alert" } })
      local ts = now_ms()
      assert.are.equal(0, send("both", ts, urlencode(sign(ts)), text("alert")).errcode)
      assert.are.equal(310000, send("both", ts, urlencode(sign(ts)), text("x")).errcode)
      server.dingtalk("busy", { errcode = 130101, errmsg = "send too fast" })
      assert.are.same({ errcode = 130101, errmsg = "send too fast" }, send("busy"))
    end)
  end)

  ---------------------------------------------------------------------------------------------
  describe("WeCom", function()
    local function send(key, msg)
      local status, resp = post_json("/cgi-bin/webhook/send?key=" .. key, msg)
      assert.are.equal(200, status)
      return resp
    end
    local function text(c) return { msgtype = "text", text = { content = c } } end
    local function md(c) return { msgtype = "markdown", markdown = { content = c } } end

    it("answers ok to text and markdown and records the key", function()
      assert.are.same({ errcode = 0, errmsg = "ok" }, send("k-1", text("hi")))
      assert.are.same({ errcode = 0, errmsg = "ok" }, send("k-1", md("**hi**")))
      assert.are.equal("key=k-1", server.requests("/cgi-bin/webhook/send")[1].args)
    end)

    it("answers 93000 to an invalid key, with the caller's IP in errmsg", function()
      local _, body = server.http("POST", "/cgi-bin/webhook/send?key=invalid",
        cjson.encode(text("x")), JSON)
      assert.are.equal('{"errcode":93000,"errmsg":"invalid webhook url, hint: '
        .. '[1700000000_abc], from ip: 203.0.113.7, more info at '
        .. 'https://open.work.weixin.qq.com/devtool/query?e=93000"}', body)
    end)

    it("answers 40008 without msgtype and 40058 past the byte limits", function()
      assert.are.same({ errcode = 40008, errmsg = "invalid message type" },
        send("k", { text = { content = "x" } }))
      assert.are.equal(40008, send("k", { msgtype = "nope" }).errcode)
      assert.are.equal(0, send("k", text(string.rep("a", 2048))).errcode)
      assert.are.same({ errcode = 40058, errmsg = "content exceed max length" },
        send("k", text(string.rep("a", 2049))))
      -- Bytes, not characters: 700 CJK characters are 2100 bytes.
      assert.are.equal(40058, send("k", text(string.rep("中", 700))).errcode)
      assert.are.equal(0, send("k", md(string.rep("a", 4096))).errcode)
      assert.are.equal(40058, send("k", md(string.rep("a", 4097))).errcode)
    end)
  end)

  ---------------------------------------------------------------------------------------------
  describe("Discord", function()
    local HOOK = "/api/webhooks/123456789012345678/tok-en"

    it("answers 204 without a body, or 200 and the message with wait=true", function()
      local status, body = server.http("POST", HOOK, '{"content":"hi"}', JSON)
      assert.are.equal(204, status)
      assert.are.equal("", body)
      local resp
      status, resp = post_json(HOOK .. "?wait=true", { content = "hé", username = "bot" })
      assert.are.equal(200, status)
      assert.are.equal("string", type(resp.id))
      assert.are.equal("hé", resp.content)
      assert.are.equal("123456789012345678", resp.webhook_id)
      assert.are.equal("bot", resp.author.username)
      local _, resp2 = post_json(HOOK .. "?wait=true", { embeds = { { title = "t" } } })
      assert.are_not.equal(resp.id, resp2.id)
      assert.are.equal("t", resp2.embeds[1].title)
      assert.are.equal("wait=true", server.requests(HOOK)[2].args)
    end)

    it("counts content in characters: 2000 pass, 2001 get 50035", function()
      assert.are.equal(204, (post_json(HOOK, { content = string.rep("é", 2000) })))
      local status, resp = post_json(HOOK, { content = string.rep("é", 2001) })
      assert.are.equal(400, status)
      assert.are.equal(50035, resp.code)
      assert.are.equal("Invalid Form Body", resp.message)
      assert.is_table(resp.errors.content)
    end)

    it("takes at most 10 embeds and refuses an empty message", function()
      local embeds = {}
      for i = 1, 10 do embeds[i] = { description = "e" .. i } end
      assert.are.equal(204, (post_json(HOOK, { embeds = embeds })))
      embeds[11] = { description = "e11" }
      local status, resp = post_json(HOOK, { content = "x", embeds = embeds })
      assert.are.equal(400, status)
      assert.are.equal(50035, resp.code)
      assert.is_table(resp.errors.embeds)

      status, resp = post_json(HOOK, { username = "x" })
      assert.are.equal(400, status)
      assert.are.same({ code = 50006, message = "Cannot send an empty message" }, resp)
      resp = select(2, post_json(HOOK, { content = "", embeds = {} }))
      assert.are.equal(50006, resp.code)
    end)

    it("answers invalid JSON, a bad token and an unknown webhook", function()
      local status, body = server.http("POST", HOOK, "{nope", JSON)
      assert.are.equal(400, status)
      assert.are.equal(50109, cjson.decode(body).code)
      status, body = server.http("POST", "/api/webhooks/1/invalid", '{"content":"x"}', JSON)
      assert.are.equal(401, status)
      assert.are.equal(50027, cjson.decode(body).code)
      status, body = server.http("POST", "/api/webhooks/unknown/t", '{"content":"x"}', JSON)
      assert.are.equal(404, status)
      assert.are.equal(10015, cjson.decode(body).code)
    end)
  end)

  ---------------------------------------------------------------------------------------------
  describe("Telegram", function()
    local SEND = "/bot123456:ABC-def_ghi/sendMessage"
    local function send(params, path)
      local status, resp = post_json(path or SEND, params)
      return status, resp
    end
    local function refused(params, description)
      local status, resp = send(params)
      assert.are.equal(400, status, params.text)
      assert.are.equal(false, resp.ok)
      assert.are.equal(400, resp.error_code)
      if description then assert.are.equal(description, resp.description, params.text) end
      return resp.description
    end
    local function entities_error(params)
      local d = refused(params)
      assert.matches("^Bad Request: can't parse entities: ", d, nil, params.text)
    end

    it("answers ok with the message, numbering messages", function()
      local status, resp = send({ chat_id = 42, text = "hello" })
      assert.are.equal(200, status)
      assert.is_true(resp.ok)
      assert.are.equal(1, resp.result.message_id)
      assert.are.equal(42, resp.result.chat.id)
      assert.are.equal("hello", resp.result.text)
      local _, resp2 = send({ chat_id = "-1001234567890", text = "again" })
      assert.are.equal(2, resp2.result.message_id)
      assert.are.equal(-1001234567890, resp2.result.chat.id)
      local r = server.requests(SEND)[1]
      assert.are.same({ chat_id = 42, text = "hello" }, cjson.decode(r.body))
    end)

    it("refuses empty and too long texts (4096 characters, not bytes)", function()
      refused({ chat_id = 1, text = "" }, "Bad Request: message text is empty")
      refused({ chat_id = 1 }, "Bad Request: message text is empty")
      assert.are.equal(200, (send({ chat_id = 1, text = string.rep("é", 4096) })))
      refused({ chat_id = 1, text = string.rep("a", 4097) }, "Bad Request: message is too long")
    end)

    it("parses HTML: supported tags and entities pass, anything else is refused", function()
      local status, resp = send({ chat_id = 1, parse_mode = "HTML",
        text = '<b>bold</b> <a href="https://x.y/?a=1&amp;b=2">l</a> 1 &lt; 2 &amp; '
          .. '<code>x</code> &#169; <pre><code class="language-lua">y</code></pre>' })
      assert.are.equal(200, status)
      assert.are.equal("bold l 1 < 2 & x © y", resp.result.text)
      for _, t in ipairs({ "1 < 2", "<foo>x</foo>", "a & b", "<b>open", "<b>x</i>",
                           "x</b>", "AT&T" }) do
        entities_error({ chat_id = 1, parse_mode = "HTML", text = t })
      end
    end)

    it("parses MarkdownV2: escaped and paired characters pass, stray ones are refused", function()
      local status, resp = send({ chat_id = 1, parse_mode = "MarkdownV2",
        text = "*bold* _it_ __u__ ~s~ ||sp|| `co.de` [link](https://x.y/a\\)b) 1\\.5\\! \\- "
          .. "\\(x\\)\n>quote" })
      assert.are.equal(200, status)
      assert.are.equal("bold it u s sp co.de link 1.5! - (x)\nquote", resp.result.text)
      for _, t in ipairs({ "a.b", "1-2", "(x)", "wow!", "a=b", "#tag", "*bold", "_it",
                           "`code", "[l](http://x", "a|b", "x{y}" }) do
        entities_error({ chat_id = 1, parse_mode = "MarkdownV2", text = t })
      end
    end)

    it("answers chat not found, Unauthorized and a forced 429", function()
      refused({ chat_id = 404, text = "x" }, "Bad Request: chat not found")
      refused({ chat_id = "404", text = "x" }, "Bad Request: chat not found")
      local status, resp = send({ chat_id = 1, text = "x" }, "/botbad/sendMessage")
      assert.are.equal(401, status)
      assert.are.same({ ok = false, error_code = 401, description = "Unauthorized" }, resp)

      local limited = '{"ok":false,"error_code":429,"description":"Too Many Requests: retry '
        .. 'after 3","parameters":{"retry_after":3}}'
      server.behave(SEND, { status = 429, body = limited, times = 1 })
      local body, h
      status, body, h = server.http("POST", SEND, '{"chat_id":1,"text":"x"}', JSON)
      assert.are.equal(429, status)
      assert.are.equal(limited, body)
      assert.matches("application/json", h["content-type"])
      assert.are.equal(3, cjson.decode(body).parameters.retry_after)
      assert.are.equal(200, (send({ chat_id = 1, text = "x" })))
    end)
  end)

  ---------------------------------------------------------------------------------------------
  describe("Teams Workflows", function()
    local HOOK = "/workflows/0a1b2c/triggers/manual/paths/invoke?api-version=1&sig=s1g"
    local function card(extra)
      local m = { type = "message", attachments = { {
        contentType = "application/vnd.microsoft.card.adaptive", contentUrl = cjson.null,
        content = { ["$schema"] = "http://adaptivecards.io/schemas/adaptive-card.json",
          type = "AdaptiveCard", version = "1.4",
          body = { { type = "TextBlock", text = "hi", wrap = true } } } } } }
      if extra then extra(m) end
      return m
    end

    it("answers 202 with an empty body to an Adaptive Card message", function()
      local status, body = server.http("POST", HOOK, cjson.encode(card()), JSON)
      assert.are.equal(202, status)
      assert.are.equal("", body)
      local r = server.requests("/workflows/")[1]
      assert.are.equal("api-version=1&sig=s1g", r.args)
    end)

    it("answers 400 with a JSON error to anything else", function()
      local bad = {
        card(function(m) m.type = "card" end),
        card(function(m) m.attachments = {} end),
        card(function(m) m.attachments[1].contentType = "application/json" end),
        card(function(m) m.attachments[1].content.type = "HeroCard" end),
        { text = "old connector payload" },
      }
      for i, m in ipairs(bad) do
        local status, resp = post_json(HOOK, m)
        assert.are.equal(400, status, "case " .. i)
        assert.are.equal("TriggerInputSchemaMismatch", resp.error.code, "case " .. i)
      end
      local status, body = server.http("POST", HOOK, "nope", JSON)
      assert.are.equal(400, status)
      assert.are.equal("InvalidRequestContent", cjson.decode(body).error.code)
    end)

    it("checks sig and api-version", function()
      local path = "/workflows/0a1b2c/triggers/manual/paths/invoke"
      local status, resp = post_json(path .. "?api-version=1", card())
      assert.are.equal(401, status)
      assert.are.equal("DirectApiAuthorizationRequired", resp.error.code)
      status = post_json(path .. "?api-version=1&sig=invalid", card())
      assert.are.equal(401, status)
      status, resp = post_json(path .. "?sig=x", card())
      assert.are.equal(400, status)
      assert.are.equal("MissingApiVersionParameter", resp.error.code)
      -- The newer URL form.
      assert.are.equal(202, (post_json("/powerautomate/automations/direct" .. HOOK, card())))
    end)
  end)

  ---------------------------------------------------------------------------------------------
  describe("Standard Webhooks receiver", function()
    local KEY = "notifyhub\0\1\2\255 standard webhooks key"
    local SECRET = "whsec_" .. base64(KEY)
    local BODY = '{"type":"alert","data":{"text":"h\\u00e9llo"}}'

    local function headers(id, ts, sig)
      return { ["Content-Type"] = "application/json", ["webhook-id"] = id,
        ["webhook-timestamp"] = ts, ["webhook-signature"] = sig }
    end
    local function sig_of(id, ts, body, key)
      return "v1," .. hmac_sha256_b64(key or KEY, id .. "." .. ts .. "." .. body)
    end

    it("accepts anything with 204 on a name never configured", function()
      local status, body = server.http("POST", "/signed/open", "whatever")
      assert.are.equal(204, status)
      assert.are.equal("", body)
    end)

    it("verifies id, timestamp and signature of the exact body", function()
      assert.matches("/signed/rx$", server.signed("rx", { secret = SECRET }))
      local ts = tostring(os.time())
      local good = sig_of("msg_1", ts, BODY)
      assert.are.equal(204, (server.http("POST", "/signed/rx", BODY, headers("msg_1", ts, good))))
      -- One of several is enough (rotation); unknown versions are skipped.
      assert.are.equal(204, (server.http("POST", "/signed/rx", BODY, headers("msg_1", ts,
        "v1,AAAA v2,xyz " .. good))))
      local r = server.requests("/signed/rx")[1]
      assert.are.equal("msg_1", r.headers["webhook-id"])
      assert.are.equal(BODY, r.body)

      local function refused(h, body, what)
        local status, resp = server.http("POST", "/signed/rx", body or BODY, h)
        assert.are.equal(401, status, what)
        assert.is_string(cjson.decode(resp).error, what)
      end
      refused(headers("msg_1", ts, sig_of("msg_1", ts, BODY, "other key")), nil, "other key")
      refused(headers("msg_1", ts, good), BODY .. " ", "changed body")
      refused(headers("msg_2", ts, good), nil, "other id")
      refused(headers("msg_1", ts, good:gsub("^v1,", "v2,")), nil, "v2 only")
      local old = tostring(os.time() - 301)
      refused(headers("msg_1", old, sig_of("msg_1", old, BODY)), nil, "too old")
      local future = tostring(os.time() + 400)
      refused(headers("msg_1", future, sig_of("msg_1", future, BODY)), nil, "too new")
      refused({ ["webhook-id"] = "msg_1", ["webhook-timestamp"] = ts }, nil, "no signature")
      refused({ ["webhook-signature"] = good, ["webhook-timestamp"] = ts }, nil, "no id")
      local within = tostring(os.time() - 250)
      assert.are.equal(204, (server.http("POST", "/signed/rx", BODY,
        headers("msg_1", within, sig_of("msg_1", within, BODY)))))
    end)

    it("takes several secrets and refuses a malformed one", function()
      server.signed("rot", { secret = { "whsec_" .. base64("old key"), SECRET } })
      local ts = tostring(os.time())
      assert.are.equal(204, (server.http("POST", "/signed/rot", BODY,
        headers("m", ts, sig_of("m", ts, BODY, "old key")))))
      assert.are.equal(204, (server.http("POST", "/signed/rot", BODY,
        headers("m", ts, sig_of("m", ts, BODY)))))
      assert.has_error(function() server.signed("bad", { secret = "whsec_!!!" }) end)
      assert.has_error(function() server.signed("bad", {}) end)
    end)
  end)
end)

-------------------------------------------------------------------------------------------------
describe("SMTP server", function()
  local s

  -- Sends one message with smtplib (spec/support/smtp_client.py); returns its JSON report.
  local function send(args)
    args.host = args.host or s.host
    args.mail_from = args.mail_from or "alerts@notifyhub.test"
    args.rcpt_tos = args.rcpt_tos or { "ops@example.test" }
    args.data = args.data or "From: alerts@notifyhub.test\r\nTo: ops@example.test\r\n"
      .. "Subject: disk\r\n\r\nDisk full on db-1.\r\n"
    local out = capture(q(smtp.python()) .. " spec/support/smtp_client.py "
      .. q(cjson.encode(args)) .. " 2>&1")
    local ok, report = pcall(cjson.decode, out)
    assert(ok, "smtp_client.py said: " .. out)
    return report
  end

  setup(function()
    s = smtp.start({ user = "u", password = "p@ss word" })
  end)

  teardown(function()
    smtp.stop()
  end)

  before_each(function()
    smtp.clear()
  end)

  it("starts on two loopback ports with a CA that verifies", function()
    assert.are.equal("127.0.0.1", s.host)
    assert.is_number(s.port)
    assert.is_number(s.tls_port)
    assert.are_not.equal(s.port, s.tls_port)
    assert.is_not_nil(io.open(s.ca_file))
    assert.are.equal(s, smtp.start({ user = "u", password = "p@ss word" }))   -- idempotent
    -- The openssl CLI agrees: the chain verifies for the IP 127.0.0.1.
    local out = capture("openssl s_client -connect 127.0.0.1:" .. s.tls_port .. " -CAfile "
      .. q(s.ca_file) .. " -verify_ip 127.0.0.1 -verify_return_error </dev/null 2>&1")
    assert.matches("Verify return code: 0 %(ok%)", out)
    out = capture("openssl s_client -connect 127.0.0.1:" .. s.port .. " -starttls smtp -CAfile "
      .. q(s.ca_file) .. " -verify_hostname localhost -verify_return_error </dev/null 2>&1")
    assert.matches("Verify return code: 0 %(ok%)", out)
  end)

  it("delivers after STARTTLS + AUTH PLAIN and records the message", function()
    local r = send({ port = s.port, mode = "starttls", ca_file = s.ca_file, user = "u",
      password = "p@ss word", mech = "PLAIN" })
    assert.is_true(r.ok, cjson.encode(r))
    -- AUTH is offered only after STARTTLS.
    assert.is_truthy(table.concat(r.features, " "):find("starttls"))
    assert.is_falsy(table.concat(r.features, " "):find("auth"))
    assert.is_truthy(table.concat(r.features_tls, " "):find("auth"))
    local msgs = smtp.messages()
    assert.are.equal(1, #msgs)
    local m = msgs[1]
    assert.are.equal("alerts@notifyhub.test", m.mail_from)
    assert.are.same({ "ops@example.test" }, m.rcpt_tos)
    assert.is_true(m.tls)
    assert.are.equal("u", m.auth_user)
    assert.matches("Subject: disk\r\n", m.data, 1, true)
    assert.matches("Disk full on db%-1%.", m.data)
  end)

  it("delivers over implicit TLS with AUTH LOGIN", function()
    local r = send({ port = s.tls_port, mode = "tls", ca_file = s.ca_file, user = "u",
      password = "p@ss word", mech = "LOGIN",
      data = "Subject: =?UTF-8?B?w6k=?=\r\n\r\nh\195\169llo\r\n" })
    assert.is_true(r.ok, cjson.encode(r))
    local m = smtp.wait_for(1, 2)[1]
    assert.is_true(m.tls)
    assert.are.equal("u", m.auth_user)
    assert.matches("h\195\169llo", m.data, 1, true)
  end)

  it("refuses a wrong password, plain-text AUTH and mail without AUTH", function()
    local r = send({ port = s.port, mode = "starttls", ca_file = s.ca_file, user = "u",
      password = "wrong", mech = "PLAIN" })
    assert.are.equal("SMTPAuthenticationError", r.error)
    assert.are.equal(535, r.code)
    r = send({ port = s.tls_port, mode = "tls", ca_file = s.ca_file, user = "x",
      password = "p@ss word", mech = "LOGIN" })
    assert.are.equal(535, r.code)
    r = send({ port = s.port, mode = "plain", user = "u", password = "p@ss word",
      raw_auth = true })
    assert.are.equal("AuthRefused", r.error)
    assert.are.equal(538, r.code)
    r = send({ port = s.port, mode = "starttls", ca_file = s.ca_file })
    assert.are.equal("SMTPSenderRefused", r.error)
    assert.are.equal(530, r.code)
    assert.are.equal(0, #smtp.messages())
  end)

  it("answers 550 at RCPT to reject@...", function()
    local base = { port = s.tls_port, mode = "tls", ca_file = s.ca_file, user = "u",
      password = "p@ss word" }
    base.rcpt_tos = { "reject@example.test" }
    local r = send(base)
    assert.are.equal("SMTPRecipientsRefused", r.error)
    assert.are.equal(550, r.recipients["reject@example.test"][1])
    base.rcpt_tos = { "ok@example.test", "reject@example.test" }
    r = send(base)
    assert.is_true(r.ok)
    assert.are.equal(550, r.refused["reject@example.test"][1])
    local msgs = smtp.messages()
    assert.are.equal(1, #msgs)
    assert.are.same({ "ok@example.test" }, msgs[1].rcpt_tos)
  end)

  it("fails verification without the CA", function()
    local r = send({ port = s.tls_port, mode = "tls", user = "u", password = "p@ss word" })
    assert.are.equal("SSLCertVerificationError", r.error)
  end)

  it("works with the curl CLI (libcurl) over STARTTLS and implicit TLS", function()
    local mail = tmpfile("From: a@notifyhub.test\r\nSubject: curl\r\n\r\nvia curl\r\n")
    local function curl(url, extra)
      return capture("curl -s -S -m 10 --url " .. q(url) .. " " .. (extra or "")
        .. " --cacert " .. q(s.ca_file) .. " --user " .. q("u:p@ss word")
        .. " --mail-from a@notifyhub.test --mail-rcpt b@example.test -T " .. q(mail)
        .. " 2>&1; echo rc=$?")
    end
    assert.matches("rc=0", curl("smtp://127.0.0.1:" .. s.port, "--ssl-reqd"))
    assert.matches("rc=0", curl("smtps://127.0.0.1:" .. s.tls_port))
    os.remove(mail)
    local msgs = smtp.messages()
    assert.are.equal(2, #msgs)
    for _, m in ipairs(msgs) do
      assert.is_true(m.tls)
      assert.are.equal("u", m.auth_user)
      assert.matches("via curl", m.data)
    end
  end)

  it("restarts with auth_require_tls = false, stops idempotently, leaves nothing", function()
    local old = s
    s = smtp.start({ user = "u", password = "p", auth_require_tls = false })
    assert.are_not.equal(old.pid, s.pid)
    assert.is_false(alive(old.pid))
    assert.is_nil(io.open(old.ca_file))
    local r = send({ port = s.port, mode = "plain", user = "u", password = "p" })
    assert.is_true(r.ok, cjson.encode(r))
    local m = smtp.messages()[1]
    assert.is_false(m.tls)
    assert.are.equal("u", m.auth_user)

    local pid, dir = s.pid, s.dir
    smtp.stop()
    smtp.stop()
    assert.is_false(alive(pid))
    assert.is_nil(io.open(dir .. "/ca.pem"))
    assert.is_nil(smtp.info())

    -- Without user: any credentials, and mail without AUTH is fine.
    s = smtp.start()
    r = send({ port = s.port, mode = "starttls", ca_file = s.ca_file })
    assert.is_true(r.ok, cjson.encode(r))
    r = send({ port = s.port, mode = "starttls", ca_file = s.ca_file, user = "any",
      password = "thing" })
    assert.is_true(r.ok, cjson.encode(r))
    assert.are.equal("any", smtp.messages()[2].auth_user)
    assert.is_nil(smtp.messages()[1].auth_user)
  end)
end)
