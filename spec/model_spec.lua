-- The message model: Feishu's message types, mentions and markdown, named
-- instances, string targets, generated ids; and the secrets of every
-- platform kept out of everything a user can see.

local notifyhub = require("notifyhub")
local server = require("spec.support.server")
local smtp = require("spec.support.smtp")
local cjson = require("cjson")

local target = notifyhub.target

local function hook(token) return server.url("/open-apis/bot/v2/hook/" .. token) end

local function body_of(token)
  local reqs = server.requests("/open-apis/bot/v2/hook/" .. token)
  return cjson.decode(reqs[#reqs].body)
end

describe("message model", function()
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() server.clear() end)

  describe("feishu message types", function()
    it("puts an interactive card at the top level, not inside content", function()
      local c = notifyhub.new({ feishu = { webhook_url = hook("card") } })
      local card = { header = { title = { tag = "plain_text", content = "Deploy" } },
        elements = { { tag = "div", text = { tag = "lark_md", content = "**done**" } } } }
      assert(c:send({ body = "fallback", platform_data = { feishu = { card = card } } }))
      local body = body_of("card")
      assert.equal("interactive", body.msg_type)
      assert.same(card, body.card)
      assert.is_nil(body.content)
      c:close()
    end)

    it("sends image and share_chat messages", function()
      local c = notifyhub.new({ feishu = { webhook_url = hook("img") } })
      assert(c:send({ body = "x", platform_data = { feishu = { image_key = "img_v2_abc" } } }))
      assert.same({ msg_type = "image", content = { image_key = "img_v2_abc" } }, body_of("img"))
      assert(c:send({ body = "x", platform_data = { feishu = { share_chat_id = "oc_123" } } }))
      assert.same({ msg_type = "share_chat", content = { share_chat_id = "oc_123" } }, body_of("img"))
      c:close()
    end)

    it("mentions people in text and post messages", function()
      local c = notifyhub.new({ feishu = { webhook_url = hook("at"), mentions = { "ou_1", "all" } } })
      assert(c:send({ body = "look" }))
      assert.equal('look <at user_id="ou_1"></at> <at user_id="all">All</at>', body_of("at").content.text)
      assert(c:send({ title = "T", body = "look" }))
      local post = body_of("at").content.post.zh_cn
      assert.same({ { tag = "at", user_id = "ou_1" }, { tag = "at", user_id = "all" } },
        post.content[#post.content])
      c:close()
    end)

    it("turns markdown links into a tags in a post", function()
      local c = notifyhub.new({ feishu = { webhook_url = hook("md") } })
      assert(c:send({ body = "see [the run](https://ci.example/1) now", format = "markdown" }))
      local post = body_of("md").content.post.zh_cn
      assert.same({ { tag = "text", text = "see " },
        { tag = "a", text = "the run", href = "https://ci.example/1" },
        { tag = "text", text = " now" } }, post.content[1])
      c:close()
    end)

    it("refuses a msg_type the message cannot fill", function()
      local c = notifyhub.new({ feishu = { webhook_url = hook("bad") } })
      local _, err, code = c:send({ body = "x", platform_data = { feishu = { msg_type = "image" } } })
      assert.equal("INVALID_MESSAGE", code)
      assert.matches("msg_type 'image' needs", err)
      c:close()
    end)
  end)

  describe("named instances", function()
    it("selects a bot by name and uses the default one otherwise", function()
      server.bot("opsbot", { secret = "ops-secret" })
      local c = notifyhub.new({ feishu = {
        default = { webhook_url = hook("defaultbot") },
        ops = { webhook_url = hook("opsbot"), secret = "ops-secret" },
      } })
      assert(c:send({ body = "to default" }))
      assert(c:send({ body = "to ops", targets = { target.feishu("ops") } }))
      assert.equal("to default", body_of("defaultbot").content.text)
      assert.equal("to ops", body_of("opsbot").content.text)
      local _, err, code = c:send({ body = "x", targets = { target.feishu("nope") } })
      assert.equal("INVALID_MESSAGE", code)
      assert.matches("feishu has no instance 'nope'", err)
      c:close()
    end)

    it("asks for a name when several instances have no default", function()
      local c = notifyhub.new({ feishu = { a = { webhook_url = hook("a") }, b = { webhook_url = hook("b") } } })
      local _, err, code = c:send({ body = "x", targets = { target.feishu() } })
      assert.equal("INVALID_MESSAGE", code)
      assert.matches("several instances: name one", err)
      c:close()
    end)

    it("checks every instance's keys when the client is made", function()
      assert.has_error(function()
        notifyhub.new({ feishu = { ops = { webhook_url = hook("x"), secrett = "s" } } })
      end, "notifyhub config: feishu.ops.secrett: unknown key")
      assert.has_error(function() notifyhub.new({ slack = { team = {} } }) end,
        "notifyhub config: slack.team.webhook_url: missing")
    end)

    it("lets a target override an instance's keys", function()
      local c = notifyhub.new({ feishu = { webhook_url = hook("base") } })
      assert(c:send({ body = "kw", targets = { target.feishu({ keywords = { "ALERT" } }) } }))
      assert.equal("ALERT kw", body_of("base").content.text)
      local _, err, code = c:send({ body = "x", targets = { target.feishu({ secrett = 1 }) } })
      assert.equal("INVALID_MESSAGE", code)
      assert.matches("target.secrett: unknown key", err)
      c:close()
    end)
  end)

  describe("string targets", function()
    it("knows each platform's own webhook URL, e-mail addresses, and other URLs", function()
      local cases = {
        ["https://open.feishu.cn/open-apis/bot/v2/hook/abc"] = "feishu",
        ["https://open.larksuite.com/open-apis/bot/v2/hook/abc"] = "feishu",
        ["https://hooks.slack.com/services/T/B/x"] = "slack",
        ["https://oapi.dingtalk.com/robot/send?access_token=x"] = "dingtalk",
        ["https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x"] = "wecom",
        ["https://discord.com/api/webhooks/1/x"] = "discord",
        ["https://prod-01.westus.logic.azure.com:443/workflows/x/triggers/manual/paths/invoke"] = "teams",
        ["https://example.com/hook"] = "webhook",
        ["http://open.feishu.cn.evil.example/open-apis/bot/v2/hook/abc"] = "webhook",
        ["ops@example.com"] = "email",
      }
      for s, platform in pairs(cases) do
        assert.equal(platform, target.parse(s).platform, s)
        assert.equal(s, target.parse(s).value)
      end
      local none, err = target.parse("not a target")
      assert.is_nil(none)
      assert.matches("neither an e%-mail address nor an http%(s%) URL", err)
    end)

    it("sends to a bare URL string as the platform it names", function()
      local c = notifyhub.new({ webhook = { url = server.url("/webhook/base") } })
      assert(c:send({ body = "x", targets = { server.url("/webhook/by-string") } }))
      assert.equal(1, #server.requests("/webhook/by-string"))
      c:close()
    end)
  end)

  describe("message ids", function()
    it("are unique across threads and processes, and not timestamps", function()
      local ids = {}
      local c = notifyhub.new({ webhook = { url = server.url("/webhook/ids") } })
      for _ = 1, 1000 do
        local h = assert(c:send_async({ body = "x" }))
        assert.is_nil(ids[h.id])
        ids[h.id] = true
      end
      c:wait_all(10)
      c:close()
      -- Another process, started in the same second, makes ids of its own.
      local cmd = ("%s -e 'package.path=\"lua/?.lua;lua/?/init.lua;\"..package.path;"
        .. "package.cpath=\"./build/%s/?.so;\"..package.cpath;"
        .. "local c=require(\"notifyhub\").new({webhook={url=\"http://127.0.0.1:9/\"}});"
        .. "for i=1,3 do print(c:send_async({body=\"x\"}).id) end c:close(0)'")
        :format(rawget(_G, "jit") and "luajit" or "lua5.4", rawget(_G, "jit") and "luajit" or "lua5.4")
      local p = assert(io.popen(cmd))
      local other = p:read("*a")
      p:close()
      local n = 0
      for id in other:gmatch("[^\n]+") do
        n = n + 1
        assert.is_nil(ids[id])
        assert.is_nil(id:match("^%d+$"))
      end
      assert.equal(3, n)
    end)
  end)
end)

describe("secrets", function()
  local TOKENS = {
    feishu = "FEISHU-TOKEN-7781", feishu_secret = "FEISHU-SIGN-SECRET-7782",
    slack = "SLACK-TOKEN-7783", dingtalk = "DING-TOKEN-7784", dingtalk_secret = "SECDING-7785",
    wecom = "WECOM-KEY-7786", discord = "DISCORD-TOKEN-7787", telegram = "7788:TELEGRAM-TOKEN",
    teams = "TEAMS-SIG-7789", webhook_secret = "whsec_U0VDUkVULVdFQkhPT0stNzc5MA==",
    webhook_path = "WEBHOOK-PATH-7791", smtp_password = "SMTP-PASSWORD-7792",
    matrix = "MATRIX-TOKEN-7793", pagerduty = "PAGERDUTY-ROUTING-KEY-7794-abcde",
    opsgenie = "OPSGENIE-KEY-7795", bark = "BARK-DEVICE-7796", serverchan = "SCT-SENDKEY-7797",
    pushplus = "PUSHPLUS-TOKEN-7798",
    ntfy_topic = "NtfyTopic-7793", ntfy_token = "tk_NTFY-7794", gotify = "AGOTIFY-7795",
    pushover_token = "aPushoverToken7796aaaaaaaaaaaa", pushover_user = "uPushoverUser7797uuuuuuuuuuuuu",
    mattermost = "mmkey7798aaaaaaaaaaaaaaaaa", rocketchat = "RC-TOKEN-7799",
    gchat_key = "GC-KEY-7800", gchat_token = "GC-TOKEN-7801",
  }

  setup(function() server.start() end)
  teardown(function() server.stop(); smtp.stop() end)

  local function run_all(fail)
    local s = smtp.start({ user = "u", password = TOKENS.smtp_password })
    local logs = {}
    local q = fail and "&status=500" or ""
    local c = notifyhub.new({
      logger = { level = "debug", handler = function(level, text, fields)
        logs[#logs + 1] = level .. " " .. text .. " " .. cjson.encode(fields)
      end },
      http = { ca_file = s.ca_file, timeout = 5 },
      feishu = { webhook_url = server.url("/open-apis/bot/v2/hook/" .. TOKENS.feishu),
        secret = TOKENS.feishu_secret },
      slack = { webhook_url = server.url("/services/T/B/" .. (fail and "archived" or TOKENS.slack)) },
      dingtalk = { webhook_url = server.url("/robot/send?access_token=" .. TOKENS.dingtalk),
        secret = TOKENS.dingtalk_secret },
      wecom = { webhook_url = server.url("/cgi-bin/webhook/send?key=" .. (fail and "invalid" or TOKENS.wecom)) },
      discord = { webhook_url = server.url("/api/webhooks/1/" .. TOKENS.discord) },
      telegram = { token = fail and "bad" or TOKENS.telegram, chat_id = "1", api_url = server.url("") },
      teams = { webhook_url = server.url("/workflows/w/triggers/manual/paths/invoke?api-version=1&sig="
        .. TOKENS.teams) },
      webhook = { url = server.url("/webhook/" .. TOKENS.webhook_path .. "?x=1" .. q),
        secret = TOKENS.webhook_secret },
      email = { host = s.host, port = s.port, username = "u",
        password = fail and (TOKENS.smtp_password .. "-wrong") or TOKENS.smtp_password,
        from = "a@example.com", to = "b@example.com" },
      matrix = { homeserver = server.url(""), access_token = fail and "bad" or TOKENS.matrix,
        room_id = "!r:example.org" },
      pagerduty = { url = server.url("/v2/enqueue"), routing_key = TOKENS.pagerduty .. (fail and "x" or "") },
      opsgenie = { url = server.url("/v2/alerts"), api_key = fail and "bad" or TOKENS.opsgenie },
      bark = { url = server.url("/push"), device_key = (fail and "unknown-" or "") .. TOKENS.bark },
      serverchan = { url = server.url(""), sendkey = (fail and "x" or "") .. TOKENS.serverchan },
      pushplus = { url = server.url("/send"), token = fail and "limited" or TOKENS.pushplus },
      ntfy = { url = server.url("/ntfy/" .. TOKENS.ntfy_topic), token = TOKENS.ntfy_token },
      gotify = { url = server.url("/gotify"), token = TOKENS.gotify },
      pushover = { token = TOKENS.pushover_token, user = TOKENS.pushover_user,
        api_url = server.url("/1/messages.json") },
      mattermost = { webhook_url = server.url("/mm/hooks/" .. TOKENS.mattermost) },
      rocketchat = { webhook_url = server.url("/rc/hooks/rc1/" .. TOKENS.rocketchat) },
      googlechat = { webhook_url = server.url("/v1/spaces/S/messages?key=" .. TOKENS.gchat_key
        .. "&token=" .. TOKENS.gchat_token) },
    })
    local seen = {}
    local targets = {}
    -- every platform of core.platforms: one configured above for each
    for _, p in ipairs(notifyhub.platforms) do targets[#targets + 1] = { platform = p } end
    local h = assert(c:send_async({ title = "t", body = "b", targets = targets }))
    h:on_error(function(_, err, receipt) seen[#seen + 1] = err .. cjson.encode(receipt) end)
    local receipt, err, code, failed = h:wait()
    seen[#seen + 1] = tostring(c) .. tostring(h) .. tostring(err) .. tostring(code)
    seen[#seen + 1] = cjson.encode(receipt or failed)
    c:close()
    return table.concat(seen, "\n") .. table.concat(logs, "\n"), receipt or failed, #logs
  end

  local function assert_clean(text)
    for name, secret in pairs(TOKENS) do
      assert.is_nil(text:find(secret, 1, true), name .. " leaked")
    end
  end

  it("are cut out of the URL a receipt or log line shows, whatever the URL's shape", function()
    local util = require("notifyhub.util")
    local cases = {
      { "https://hooks.slack.com/services/T/B/TOKEN-1", "https://hooks.slack.com/services/T/B/***" },
      { "https://hooks.slack.com/services/T/B/TOKEN-1//", "https://hooks.slack.com/services/T/B/***//" },
      { "HTTPS://user:PASS-2@h:8443/x/TOKEN-3/?key=VALUE-4&flag#FRAG-5",
        "https://h:8443/x/***/?key=***&flag" },
      { "not a url TOKEN-6", "***" },
    }
    for _, case in ipairs(cases) do
      assert.equal(case[2], util.redact_url(case[1]))
    end
  end)

  it("appear nowhere when every platform succeeds", function()
    local text, receipt, nlogs = run_all(false)
    assert.equal("success", receipt.status, text)
    assert.equal(#notifyhub.platforms, receipt.successful)
    assert.is_true(nlogs > 0)
    assert_clean(text)
  end)

  it("appear nowhere when every platform fails", function()
    local text, receipt = run_all(true)
    assert.is_true(receipt.failed >= 5, text)
    assert_clean(text)
  end)
end)
