-- Apprise-style URLs (issue 14, item 2): notifyhub.target.parse of every
-- scheme, a message sent through each URL reaching its loopback stand-in,
-- json:// with Apprise's JSON fields, Basic auth and extra headers, and
-- secrets kept out of errors and receipts.

local notifyhub = require("notifyhub")
local url = require("notifyhub.url")
local server = require("spec.support.server")
local smtp = require("spec.support.smtp")
local cjson = require("cjson")

local parse = notifyhub.target.parse

-- The last request under prefix, and its body decoded when it is JSON.
local function last(prefix)
  local reqs = server.requests(prefix)
  local req = reqs[#reqs]
  local ok, body = pcall(cjson.decode, req and req.body or "")
  return req, ok and body or nil
end

local function b64(s)
  return (require("notifyhub.util").base64(s))
end

describe("Apprise URLs", function()
  describe("target.parse", function()
    it("reads slack:// as an incoming webhook, the user as the bot name", function()
      assert.same({ platform = "slack", value = "https://hooks.slack.com/services/T1/B2/c3d4" },
        parse("slack://T1/B2/c3d4"))
      assert.same({ platform = "slack", value = "https://hooks.slack.com/services/T1/B2/c3d4",
        username = "bot", channel = "#ops" }, parse("slack://bot@T1/B2/c3d4/%23ops"))
      local all = assert(notifyhub.target.parse_all("slack://T1/B2/c3d4/#ops/#dev"))
      assert.equal(2, #all)
      assert.equal("#dev", all[2].channel)
    end)

    it("reads discord://, dingtalk://, wecombot://, lark:// and feishu://", function()
      assert.same({ platform = "discord", value = "https://discord.com/api/webhooks/123/tok-EN",
        username = "ci", avatar_url = "https://x.example/a.png" },
        parse("discord://ci@123/tok-EN?avatar_url=https%3A%2F%2Fx.example%2Fa.png"))
      assert.same({ platform = "dingtalk", value = "https://oapi.dingtalk.com/robot/send?access_token=tok1",
        secret = "SEC99", at_mobiles = { "13800138000" } }, parse("dingtalk://SEC99@tok1/13800138000"))
      assert.same({ platform = "wecom", value = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k-1" },
        parse("wecombot://k-1"))
      assert.same({ platform = "feishu", value = "https://open.larksuite.com/open-apis/bot/v2/hook/t-1" },
        parse("lark://t-1"))
      assert.same({ platform = "feishu", value = "https://open.feishu.cn/open-apis/bot/v2/hook/t-1",
        secret = "s3" }, parse("feishu://t-1?secret=s3"))
    end)

    it("reads tgram:// with one target per chat", function()
      assert.same({ platform = "telegram", value = "-1001", token = "123456:ABC-def",
        api_url = "https://api.telegram.org", disable_notification = true },
        parse("tgram://123456:ABC-def/-1001?silent=yes"))
      local all = assert(notifyhub.target.parse_all("tgram://123456:ABC/42/@news"))
      assert.same({ "42", "@news" }, { all[1].value, all[2].value })
      local t, err = parse("tgram://123456:ABC/42/43")
      assert.is_nil(t)
      assert.matches("2 destinations", err)
    end)

    it("reads msteams:// (connector) and workflows:// (Power Automate) as teams", function()
      assert.same({ platform = "teams",
        value = "https://acme.webhook.office.com/webhookb2/a1@b2/IncomingWebhook/c3/d-4/V2x" },
        parse("msteams://acme/a1@b2/c3/d-4/V2x"))
      assert.same({ platform = "teams", value = "https://outlook.office.com/webhook/a1@b2/IncomingWebhook/c3/d4" },
        parse("msteams://a1@b2/c3/d4"))
      assert.same({ platform = "teams", value = "https://prod-1.logic.azure.com:443/workflows/wf1/triggers/"
        .. "manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=s-1" },
        parse("workflows://prod-1.logic.azure.com:443/wf1/s-1"))
    end)

    it("reads json:// and jsons:// as the webhook with Apprise's body", function()
      assert.same({ platform = "webhook", value = "http://u:p%40ss@h.example:8080/a/b?x=1", method = "PUT",
        headers = { ["X-Token"] = "v 1" }, payload = "apprise" },
        parse("json://u:p%40ss@h.example:8080/a/b?method=put&+X-Token=v%201&-x=1"))
      assert.same({ platform = "webhook", value = "https://h.example/", method = "POST", payload = "apprise" },
        parse("jsons://h.example"))
      assert.same({ message = "body", version = "" }, parse("json://h.example?:message=body&:version=").fields)
    end)

    it("reads mailto:// as plain SMTP and mailtos:// as TLS, with Apprise's defaults", function()
      assert.same({ platform = "email", host = "example.com", port = 25, tls = "none",
        from = "bob@example.com", to = { "bob@example.com" }, username = "bob", password = "pw" },
        parse("mailto://bob:pw@example.com"))
      -- one e-mail per recipient, as Apprise sends them: nobody sees another's address
      local function to(addr)
        return { platform = "email", host = "mx.example.com", port = 587, tls = "starttls",
          from = "bob@example.com", to = { addr }, username = "bob", password = "pw", cc = { "c@x.example" } }
      end
      assert.same({ to("a@x.example"), to("b@x.example") }, notifyhub.target.parse_all(
        "mailtos://bob:pw@example.com/a@x.example?smtp=mx.example.com&to=b@x.example&cc=c@x.example"))
      assert.same({ platform = "email", host = "example.com", port = 465, tls = "implicit",
        from = '"Ops" <ops@example.com>', to = { "ops@example.com" } },
        parse("mailtos://example.com?mode=ssl&from=Ops%20%3Cops@example.com%3E"))
      -- a well-known provider: its server, port and TLS, the login is the address
      assert.same({ platform = "email", host = "smtp.gmail.com", port = 587, tls = "starttls",
        from = "me@gmail.com", to = { "me@gmail.com" }, username = "me@gmail.com", password = "app" },
        parse("mailto://me:app@gmail.com"))
    end)

    it("takes Apprise's ?overflow= where the platform has a limit", function()
      assert.equal("split", parse("slack://T1/B2/c3?overflow=split").overflow)
      assert.equal("truncate", parse("tgram://1:a/2?overflow=TRUNCATE").overflow)
      assert.is_nil(parse("discord://1/t?overflow=upstream").overflow)
      assert.is_nil(parse("json://h.example?overflow=split").overflow)
      local t, err = parse("lark://t?overflow=bogus")
      assert.is_nil(t)
      assert.equal("lark:// URL: overflow: one of upstream, truncate, split expected", err)
    end)

    it("names an unknown scheme and a malformed URL without echoing it", function()
      local t, err = parse("foo://secret-token-123/x")
      assert.is_nil(t)
      assert.matches("unknown URL scheme 'foo'", err)
      assert.matches("slack://", err)
      for _, bad in ipairs({ "slack://only-one-token-SECRETA", "tgram://SECRETB/42", "discord://x/SECRETC",
          "json://SECRETD:pw@/x", "mailto://SECRETE:pw@bad_host!", "slack://xoxb-SECRETF/#c",
          "mailtos://u:SECRETG@example.com?mode=weird", "dingtalk://SECRETH@tok/12" }) do
        local r, why = parse(bad)
        assert.is_nil(r, bad)
        assert.is_nil(why:find("SECRET", 1, true), why)
        assert.matches("^%a+:// URL: ", why)
      end
    end)

    it("never raises on random URLs of every scheme", function()
      local schemes = {}
      for k in pairs(url.schemes) do schemes[#schemes + 1] = k end
      table.sort(schemes)
      local alphabet = "abcXYZ019:@/?&=#%+-_.,;<> \"'~![]%2%40%3A"
      math.randomseed(14)
      for _ = 1, 20000 do
        local t = { schemes[math.random(#schemes)], "://" }
        for _ = 1, math.random(0, 40) do
          local k = math.random(#alphabet)
          t[#t + 1] = alphabet:sub(k, k)
        end
        local s = table.concat(t)
        local ok, r, why = pcall(url.parse, s)
        assert(ok, s .. ": " .. tostring(r))
        assert(r or type(why) == "string", s)
      end
    end)

    it("shows an Apprise URL redacted: the scheme, and the host where it is no token", function()
      assert.equal(url, notifyhub.url)
      assert.equal("slack://***", url.redact("slack://T1/B2/SECRET"))
      assert.equal("tgram://***", url.redact("tgram://1:SECRET/2"))
      assert.equal("json://h.example:8080/***", url.redact("json://u:SECRET@h.example:8080/p?+X=SECRET"))
      assert.equal("mailtos://example.com/***", url.redact("mailtos://u:SECRET@example.com"))
      assert.equal("***", url.redact("not a url SECRET"))
    end)

    it("raises on a target that is not a string", function()
      assert.has_error(function() parse(nil) end, "bad argument #1 to 'parse' (string expected, got nil)")
    end)
  end)

  describe("delivery", function()
    local saved = {}

    setup(function()
      server.start()
      for k, v in pairs(url.bases) do saved[k] = v end
      for k in pairs(url.bases) do url.bases[k] = server.url("") end
    end)
    teardown(function()
      for k, v in pairs(saved) do url.bases[k] = v end
      server.stop()
    end)
    before_each(function() server.clear() end)

    local function send(target, msg)
      local c = notifyhub.new({ retry = { max_attempts = 1 }, logger = { failures = false } })
      msg = msg or { title = "Deploy", body = "api is live" }
      msg.targets = { target }
      local receipt, err, code, r2 = c:send(msg)
      c:close()
      return receipt, err, code, r2
    end

    it("json:// posts Apprise's fields with Basic auth and the extra header", function()
      local port = server.port()
      local receipt = assert(send(("json://alice:pa%%3Ass@127.0.0.1:%d/webhook/apprise?+X-Team=ops&-auth="
        .. "alice:pa%%3Ass"):format(port), { title = "Disk", body = "/var is full", type = "warning" }))
      local req, body = last("/webhook/apprise")
      assert.equal("POST", req.method)
      assert.equal("Basic " .. b64("alice:pa:ss"), req.headers.authorization)
      assert.equal("ops", req.headers["x-team"])
      assert.matches("^application/json", req.headers["content-type"])
      assert.same({ version = "1.0", title = "Disk", message = "/var is full", type = "warning",
        attachments = {} }, body)
      assert.is_nil(cjson.encode(receipt):find("pa:ss", 1, true))
      assert.is_nil(cjson.encode(receipt):find("pa%3Ass", 1, true))
    end)

    it("json:// without the right credentials fails with the stand-in's 401, no password shown", function()
      local _, err, code, receipt = send(("json://alice:wrong-PW-9@127.0.0.1:%d/webhook/apprise?-auth=alice:pw")
        :format(server.port()))
      assert.equal("HTTP_STATUS", code)
      assert.equal(401, receipt.results[1].http_status)
      assert.is_nil(err:find("wrong-PW-9", 1, true))
      assert.is_nil(cjson.encode(receipt):find("wrong-PW-9", 1, true))
    end)

    it("keeps a URL's secrets out of logs, receipts, stats and the spool inspector", function()
      local dir = io.popen("mktemp -d /tmp/nh-urls-XXXXXX"):read("l")
      local path = dir .. "/s.db"
      local logs = {}
      local c = assert(notifyhub.new({ spool = { path = path }, retry = { max_attempts = 2, initial_delay = 0 },
        logger = { level = "debug", handler = function(level, text, fields)
          logs[#logs + 1] = level .. " " .. text .. " " .. cjson.encode(fields)
        end },
        urls = {
          ("json://jim:PWjson-1@127.0.0.1:%d/webhook/s?-status=500&+X-Key=HDRsecret-2"):format(server.port()),
          "discord://99/DISCtoken-3", "tgram://123:TGtoken-4/42", "slack://T9/B9/SLACKtoken5",
          "dingtalk://DINGsecret6@DINGtoken7", "wecombot://WECOMkey-8", "feishu://FEItoken-9?secret=FEIsec10",
          "workflows://127.0.0.1/wf/WFsig-11",
        } }))
      local _, err, code, receipt = c:send({ id = "sec-1", body = "x" })
      assert.equal("partial", receipt.status)          -- the json:// stand-in answers 500
      local st = c:stats()
      c:close()
      local sp = assert(notifyhub.spool.open(path))
      local failed = assert(sp:failed())
      assert.equal(1, #failed)
      local seen = table.concat({ tostring(err), tostring(code), cjson.encode(receipt), table.concat(logs, "\n"),
        cjson.encode(st), cjson.encode((assert(sp:stats()))), cjson.encode(failed) }, "\n")
      sp:close()
      os.execute("rm -rf " .. dir)
      assert.truthy(#logs > 0)
      for _, secret in ipairs({ "PWjson-1", "HDRsecret-2", "DISCtoken-3", "TGtoken-4", "SLACKtoken5",
          "DINGsecret6", "DINGtoken7", "WECOMkey-8", "FEItoken-9", "FEIsec10", "WFsig-11" }) do
        assert.is_nil(seen:find(secret, 1, true), secret)
      end
    end)

    it("json:// with ?method=put and an empty title", function()
      assert(send(("json://127.0.0.1:%d/webhook/put?method=put"):format(server.port()), { body = "b" }))
      local req, body = last("/webhook/put")
      assert.equal("PUT", req.method)
      assert.same({ version = "1.0", title = "", message = "b", type = "info", attachments = {} }, body)
    end)

    it("json:// renames, removes and adds body fields with ?:name=value", function()
      assert(send(("json://127.0.0.1:%d/webhook/fields?:message=text&:version=&:source=ci"):format(server.port()),
        { title = "T", body = "B", type = "failure" }))
      local _, body = last("/webhook/fields")
      assert.same({ title = "T", text = "B", type = "failure", attachments = {}, source = "ci" }, body)
    end)

    it("slack:// reaches the Slack stand-in", function()
      local receipt = assert(send("slack://ci@T000/B000/okurl1"))
      local req, body = last("/services/")
      assert.equal("/services/T000/B000/okurl1", req.path)
      assert.equal("*Deploy*\napi is live", body.text)
      assert.equal("ci", body.username)
      assert.is_nil(receipt.results[1].target:find("okurl1", 1, true))
    end)

    it("discord:// reaches the Discord stand-in", function()
      local receipt = assert(send("discord://ci@123/tokDISC"))
      local req, body = last("/api/webhooks/")
      assert.equal("/api/webhooks/123/tokDISC", req.path)
      assert.equal("**Deploy**\napi is live", body.content)
      assert.equal("ci", body.username)
      assert.is_nil(receipt.results[1].target:find("tokDISC", 1, true))
    end)

    it("tgram:// reaches the Telegram stand-in", function()
      local receipt = assert(send("tgram://123456:TGsecret-x/42"))
      local req, body = last("/bot")
      assert.equal("/bot123456:TGsecret-x/sendMessage", req.path)
      assert.equal("42", body.chat_id)
      assert.is_nil(cjson.encode(receipt):find("TGsecret", 1, true))
    end)

    it("a target URL naming several destinations is a delivery to each", function()
      local receipt = assert(send("tgram://123456:TGx/41/42"))
      assert.equal(2, receipt.total)
      local chats = {}
      for _, r in ipairs(server.requests("/bot")) do chats[#chats + 1] = cjson.decode(r.body).chat_id end
      table.sort(chats)
      assert.same({ "41", "42" }, chats)
    end)

    it("dingtalk:// signs with the secret and mentions the phone", function()
      server.dingtalk("dtok", { secret = "SECdd11" })
      local receipt = assert(send("dingtalk://SECdd11@dtok/13800138000"))
      local req, body = last("/robot/send")
      assert.matches("sign=", req.args)
      assert.same({ "13800138000" }, body.at.atMobiles)
      assert.is_nil(cjson.encode(receipt):find("SECdd11", 1, true))
      assert.is_nil(cjson.encode(receipt):find("dtok", 1, true))
    end)

    it("wecombot:// reaches the WeCom stand-in", function()
      local receipt = assert(send("wecombot://wkey-77"))
      local req, body = last("/cgi-bin/")
      assert.matches("key=wkey%-77", req.args)
      assert.equal("text", body.msgtype)
      assert.is_nil(cjson.encode(receipt):find("wkey-77", 1, true))
    end)

    it("lark:// and feishu:// reach the Feishu stand-in", function()
      server.bot("larktok1")
      server.bot("feitok2", { secret = "fs-secret" })
      assert(send("lark://larktok1"))
      assert.equal("/open-apis/bot/v2/hook/larktok1", last("/open-apis/").path)
      local receipt = assert(send("feishu://feitok2?secret=fs-secret"))
      local _, body = last("/open-apis/")
      assert.is_string(body.sign)
      assert.is_nil(cjson.encode(receipt):find("fs-secret", 1, true))
    end)

    it("workflows:// reaches the Teams stand-in", function()
      local receipt = assert(send("workflows://teams.example/wfid/SIGwf1"))
      local req, body = last("/workflows/")
      assert.equal("/workflows/wfid/triggers/manual/paths/invoke", req.path)
      assert.matches("sig=SIGwf1", req.args)
      assert.equal("message", body.type)
      assert.is_nil(cjson.encode(receipt):find("SIGwf1", 1, true))
    end)
  end)

  describe("notifyhub.new{ urls = ... }", function()
    setup(function() server.start() end)
    teardown(function() server.stop() end)
    before_each(function() server.clear() end)

    it("makes an instance per destination, named url<i> (url<i>-<j>) or by name", function()
      local cfg = notifyhub.config.check({ urls = {
        ("json://127.0.0.1:%d/webhook/a"):format(server.port()),
        { url = "tgram://123456:ABC/1/2", tags = "ops" },
        { url = "slack://T1/B2/c3", name = "alerts", tag = { "dev" } },
      } })
      assert.same({ "url1" }, (function() local n = {} for k in pairs(cfg.platforms.webhook.instances) do
        n[#n + 1] = k end return n end)())
      assert.equal("apprise", cfg.platforms.webhook.instances.url1.payload)
      assert.equal("1", cfg.platforms.telegram.instances["url2-1"].chat_id)
      assert.equal("2", cfg.platforms.telegram.instances["url2-2"].chat_id)
      assert.equal("ops", cfg.platforms.telegram.instances["url2-2"].tags)
      assert.equal("https://hooks.slack.com/services/T1/B2/c3", cfg.platforms.slack.instances.alerts.webhook_url)
      assert.equal("alerts", cfg.platforms.slack.default)
      assert.is_true(cfg.routing)
    end)

    it("sends a message without targets to every untagged URL, and a target may name one", function()
      local base = ("json://127.0.0.1:%d/webhook/"):format(server.port())
      local c = notifyhub.new({ urls = { base .. "one", base .. "two", { url = base .. "ops", tags = { "ops" } } },
        webhook = { mine = { url = server.url("/webhook/mine") } } })
      local receipt = assert(c:send({ body = "x" }))
      assert.equal(3, receipt.total)
      assert.equal(3, #server.requests("/webhook/"))
      server.clear()
      assert(c:send({ body = "x", targets = { notifyhub.target.webhook("url2") } }))
      assert.equal("/webhook/two", server.requests("/webhook/")[1].path)
      c:close()
    end)

    it("names the entry and never the URL in its errors", function()
      local cases = {
        { { "foo://SECRET1" }, "notifyhub config: urls%[1%]: unknown URL scheme 'foo'" },
        { { "slack://x", "slack://SECRET2" }, "notifyhub config: urls%[1%]: slack:// URL: three tokens" },
        { { { url = "slack://A/B/SECRET3", tags = 5 } }, "notifyhub config: urls%[1%]%.tags: tag name" },
        { { { url = "slack://A/B/SECRET4", nmae = "x" } }, "notifyhub config: urls%[1%]%.nmae: unknown key" },
        { { { url = "slack://A/B/SECRET5", name = "a b" } }, "notifyhub config: urls%[1%]%.name: instance name" },
        { { "slack://A/B/SECRET6", { url = "slack://A/B/SECRET7", name = "url1" } },
          "urls%[2%]: slack already has an instance named 'url1'" },
        { { "mailtos://u:SECRET8@example.com?from=bad" }, nil },
        { "nope", "urls%[1%]: 'nope' is neither an e%-mail address nor" },
        { { "https://hooks.slack.com/services/A/B/SECRET9", "ftp://SECRET10" },
          "urls%[2%]: unknown URL scheme 'ftp'" },
        { { x = 1 }, "notifyhub config: urls: array of URLs expected" },
        { { 5 }, "notifyhub config: urls%[1%]: URL string or table" },
      }
      for _, case in ipairs(cases) do
        local ok, err = pcall(notifyhub.new, { urls = case[1] })
        if case[2] then
          assert.is_false(ok)
          assert.matches(case[2], err)
        end
        if not ok then assert.is_nil(tostring(err):find("SECRET", 1, true), err) end
        if ok then err:close() end
      end
    end)
  end)

  describe("mailto:// and mailtos://", function()
    local s
    local PW = "mail-PW-secret-5"
    setup(function() s = smtp.start({ user = "mailer", password = PW }) end)
    teardown(function() smtp.stop() end)
    before_each(function() smtp.clear() end)

    local function send(u)
      local c = notifyhub.new({ http = { ca_file = s.ca_file }, retry = { max_attempts = 1 },
        logger = { failures = false } })
      local receipt, err, code = c:send({ title = "t", body = "b", targets = { u } })
      c:close()
      return receipt, err, code
    end

    it("mailtos:// logs in over STARTTLS and sends to ?to=", function()
      local receipt = assert(send(("mailtos://mailer:%s@example.com:%d?smtp=%s&to=ops@example.com")
        :format(PW, s.port, s.host)))
      local m = smtp.wait_for(1, 5)[1]
      assert.is_true(m.tls)
      assert.equal("mailer", m.auth_user)
      assert.equal("mailer@example.com", m.mail_from)
      assert.same({ "ops@example.com" }, m.rcpt_tos)
      assert.is_nil(cjson.encode(receipt):find(PW, 1, true))
    end)

    it("mailtos:// with two recipients sends each an e-mail of their own, as Apprise does", function()
      local receipt = assert(send(("mailtos://mailer:%s@example.com:%d?smtp=%s&to=a@example.com,b@example.com")
        :format(PW, s.port, s.host)))
      assert.equal(2, #receipt.results)
      local got = {}
      for _, m in ipairs(smtp.wait_for(2, 5)) do got[#got + 1] = table.concat(m.rcpt_tos, ",") end
      table.sort(got)
      assert.same({ "a@example.com", "b@example.com" }, got)
    end)

    it("mailtos://?mode=ssl uses implicit TLS", function()
      assert(send(("mailtos://mailer:%s@example.com:%d?smtp=%s&mode=ssl"):format(PW, s.tls_port, s.host)))
      local m = smtp.wait_for(1, 5)[1]
      assert.is_true(m.tls)
      assert.same({ "mailer@example.com" }, m.rcpt_tos)
    end)

    it("a refused login shows no password", function()
      local _, err = send(("mailtos://mailer:WRONG-pw-77@example.com:%d?smtp=%s"):format(s.port, s.host))
      assert.is_string(err)
      assert.is_nil(err:find("WRONG-pw-77", 1, true))
    end)
  end)
end)
