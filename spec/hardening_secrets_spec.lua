-- Secrets stay with their destination and out of every text:
--   * a target that overrides where it sends (URL, api_url, host/port/tls) gets
--     none of its instance's secrets (it may bring its own);
--   * redirects are followed to the same origin only, as the same request;
--   * every secret value of a target is cut out of answers, errors, logs,
--     labels and tostring, whatever the service echoes.
-- Two loopback servers: the nginx stand-ins (spec/support/stub.lua) play the
-- instances; spec/support/faults.py (/capture on another port, a recording
-- SMTP responder) plays where an override points.

local notifyhub = require("notifyhub")
local server = require("spec.support.server")
local faults = require("spec.support.faults")
local cjson = require("cjson")

local f

local function b64(s)
  local chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  return ((s:gsub(".", function(x)
    local r, byte = "", x:byte()
    for i = 8, 1, -1 do r = r .. (byte % 2 ^ i - byte % 2 ^ (i - 1) > 0 and "1" or "0") end
    return r
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return chars:sub(c + 1, c + 1)
  end) .. ({ "", "==", "=" })[#s % 3 + 1])
end

-- Everything the override's server saw, as one string (raw, not JSON-escaped).
local function captured_text()
  local out = {}
  for _, rec in ipairs(faults.captured()) do
    out[#out + 1] = table.concat({ rec.method or "", rec.target or "", rec.body or "", rec.smtp or "" }, " ")
    for k, v in pairs(rec.headers or {}) do out[#out + 1] = k .. ": " .. v end
  end
  return table.concat(out, "\n")
end

local function assert_absent(text, secrets)
  for name, secret in pairs(secrets) do
    assert.is_nil(text:find(secret, 1, true), name .. " reached: " .. text)
  end
end

setup(function()
  server.start()
  f = faults.start()
end)
teardown(function()
  server.stop()
  faults.stop()
end)
before_each(function()
  server.clear()
  faults.captured(true)
end)

describe("an override that changes where a target sends", function()
  it("feishu: the instance's signing secret does not sign for another URL", function()
    local c = notifyhub.new({ feishu = { webhook_url = server.url("/open-apis/bot/v2/hook/FS-1"),
      secret = "FEISHU-SIGN-8801" } })
    c:send({ body = "x", targets = {
      notifyhub.target.feishu(f.other_base .. "/capture/open-apis/bot/v2/hook/x") } })
    local got = faults.captured()
    assert.equal(1, #got)
    assert.is_nil(cjson.decode(got[1].body).sign, "signed with the instance's secret")
    c:close()
  end)

  it("feishu: a target that keeps the URL keeps the secret", function()
    server.bot("FS-2", { secret = "FEISHU-SIGN-8802" })
    local c = notifyhub.new({ feishu = { webhook_url = server.url("/open-apis/bot/v2/hook/FS-2"),
      secret = "FEISHU-SIGN-8802" } })
    local receipt = assert(c:send({ body = "x", targets = {
      { platform = "feishu", mentions = { "all" } },
      notifyhub.target.feishu(server.url("/open-apis/bot/v2/hook/FS-2")) } }))
    assert.equal("success", receipt.status, cjson.encode(receipt))
    c:close()
  end)

  it("dingtalk: the instance's secret does not sign for another URL", function()
    local c = notifyhub.new({ dingtalk = { webhook_url = server.url("/robot/send?access_token=D1"),
      secret = "SECDING-8803" } })
    c:send({ body = "x", targets = { { platform = "dingtalk",
      webhook_url = f.other_base .. "/capture/robot/send?access_token=other" } } })
    local got = faults.captured()
    assert.equal(1, #got)
    assert.is_nil(got[1].target:find("sign=", 1, true), "signed with the instance's secret")
    c:close()
  end)

  it("telegram: another api_url never gets the instance's bot token", function()
    local c = notifyhub.new({ telegram = { token = "8804:TG-INSTANCE", chat_id = "1",
      api_url = server.url("") } })
    local receipt, err, code = c:send({ body = "x", targets = {
      { platform = "telegram", api_url = f.other_base .. "/capture" } } })
    assert.is_nil(receipt)
    assert.equal("INVALID_MESSAGE", code)
    assert.matches("api_url", err)
    assert.matches("token", err)
    -- With a token of its own, the target sends that one.
    c:send({ body = "x", targets = { { platform = "telegram",
      api_url = f.other_base .. "/capture", token = "8805:TG-OWN" } } })
    local text = captured_text()
    assert.matches("8805:TG%-OWN", text)
    assert_absent(text, { token = "8804:TG-INSTANCE" })
    c:close()
  end)

  it("webhook: another URL gets neither the instance's headers nor its signature", function()
    local c = notifyhub.new({ webhook = { url = server.url("/webhook/w"),
      headers = { Authorization = "Bearer WH-AUTH-8806", ["X-Api-Key"] = "WH-KEY-8807" },
      secret = "whsec_V0gtU0VDUkVULTg4MDg=" } })
    c:send({ body = "x", targets = { { platform = "webhook", url = f.other_base .. "/capture/1" },
      notifyhub.target.webhook(f.other_base .. "/capture/2") } })
    local got = faults.captured()
    assert.equal(2, #got)
    for _, req in ipairs(got) do
      assert.is_nil(req.headers["authorization"])
      assert.is_nil(req.headers["x-api-key"])
      assert.is_nil(req.headers["webhook-signature"])
    end
    assert_absent(captured_text(), { auth = "WH-AUTH-8806", key = "WH-KEY-8807" })
    c:close()
  end)

  it("webhook: headers the target gives itself are sent", function()
    local c = notifyhub.new({ webhook = { url = server.url("/webhook/w"),
      headers = { Authorization = "Bearer WH-AUTH-8809" } } })
    c:send({ body = "x", targets = { { platform = "webhook", url = f.other_base .. "/capture/3",
      headers = { Authorization = "Bearer OWN-8810" } } } })
    local got = faults.captured()
    assert.equal("Bearer OWN-8810", got[1].headers["authorization"])
    c:close()
  end)

  for _, p in ipairs({ "slack", "wecom", "discord", "teams" }) do
    it(p .. ": another URL never sees the instance's URL token", function()
      local c = notifyhub.new({ [p] = { webhook_url = server.url("/x/" .. p:upper() .. "-TOKEN-8811?k=Q-8812") } })
      c:send({ body = "x", targets = { { platform = p, webhook_url = f.other_base .. "/capture/" .. p } } })
      local text = captured_text()
      assert.matches("/capture/" .. p, text)
      assert_absent(text, { token = p:upper() .. "-TOKEN-8811", query = "Q-8812" })
      c:close()
    end)
  end

  describe("email", function()
    local PASSWORD = "SMTP-PASS-8813"
    local function instance()
      return notifyhub.new({ http = { timeout = 5 }, email = { host = "127.0.0.1", port = f.closed_port,
        tls = "starttls", username = "mailer", password = PASSWORD, from = "a@example.com" } })
    end

    it("another port with tls = none gets no AUTH with the instance's password", function()
      local c = instance()
      local receipt = c:send({ title = "t", body = "x", targets = { { platform = "email",
        value = "b@example.com", port = f.smtp_port, tls = "none" } } })
      assert.equal("success", receipt and receipt.status)
      local text = captured_text()
      assert.matches("MAIL FROM", text)
      assert.is_nil(text:find("AUTH", 1, true), text)
      assert_absent(text, { password = PASSWORD, plain = b64("\0mailer\0" .. PASSWORD),
        login = b64(PASSWORD) })
      c:close()
    end)

    it("the same host and port with only tls lowered to none gets no AUTH either", function()
      local c = notifyhub.new({ http = { timeout = 5 }, email = { host = "127.0.0.1",
        port = f.smtp_port, tls = "starttls", username = "mailer", password = PASSWORD,
        from = "a@example.com" } })
      local receipt = c:send({ title = "t", body = "x", targets = { { platform = "email",
        value = "b@example.com", tls = "none" } } })
      assert.equal("success", receipt and receipt.status)
      local text = captured_text()
      assert.is_nil(text:find("AUTH", 1, true), text)
      assert_absent(text, { password = PASSWORD, plain = b64("\0mailer\0" .. PASSWORD) })
      c:close()
    end)

    it("another host gets no password either; one the target gives is used", function()
      local c = instance()
      c:send({ title = "t", body = "x", targets = { { platform = "email", value = "b@example.com",
        host = "localhost", port = f.smtp_port, tls = "none", username = "own", password = "OWN-8814" } } })
      local text = captured_text()
      assert.matches("AUTH", text)
      assert_absent(text, { password = PASSWORD, plain = b64("\0mailer\0" .. PASSWORD) })
      c:close()
    end)
  end)
end)

describe("redirects (http.follow_redirects = 3)", function()
  local KEY = "REDIR-KEY-8815"
  local function client(path)
    return notifyhub.new({ http = { follow_redirects = 3, timeout = 5 },
      webhook = { url = f.base .. path, headers = { ["X-Api-Key"] = KEY } } })
  end

  for _, status in ipairs({ 301, 302, 303, 307, 308 }) do
    it(status .. " to the same origin: the same POST, body and headers arrive", function()
      local c = client("/redirect/" .. status .. "/same")
      local receipt = assert(c:send({ body = "hello-" .. status }))
      assert.equal("success", receipt.status)
      local got = faults.captured()
      assert.equal(1, #got)
      assert.equal("POST", got[1].method)
      assert.equal(f.port, got[1].port)
      assert.matches("hello%-" .. status, got[1].body)
      assert.equal(KEY, got[1].headers["x-api-key"])
      c:close()
    end)

    it(status .. " to another port is a failure and the other server gets nothing", function()
      local c = client("/redirect/" .. status .. "/other")
      local receipt, err, code = c:send({ body = "x" })
      assert.is_nil(receipt)
      assert.equal("HTTP_STATUS", code)
      assert.matches("not followed", err)
      assert.is_nil(err:find(tostring(f.other_port), 1, true), err)
      assert.equal(0, #faults.captured())
      c:close()
    end)
  end

  it("past follow_redirects hops is a failure", function()
    local c = client("/redirect/307/loop")
    local before = faults.stats().requests["/redirect/307/loop"] or 0
    local receipt, err, code = c:send({ body = "x" })
    assert.is_nil(receipt)
    assert.equal("HTTP_STATUS", code)
    assert.matches("too many redirects", err)
    assert.equal(before + 4, faults.stats().requests["/redirect/307/loop"])
    c:close()
  end)

  it("to another scheme is a failure and nothing is sent there", function()
    local c = notifyhub.new({ http = { follow_redirects = 3, ca_file = f.ca_file, timeout = 5 },
      webhook = { url = f.base .. "/redirect/307/scheme" } })
    local receipt, err, code = c:send({ body = "x" })
    assert.is_nil(receipt)
    assert.equal("HTTP_STATUS", code)
    assert.matches("not followed", err)
    assert.equal(0, #faults.captured())
    c:close()
  end)
end)

describe("secret values", function()
  local T = {
    feishu = "FEISHU-TOKEN-8820", slack = "SLACK-TOKEN-8821", dingtalk = "DING-TOKEN-8822",
    wecom = "WECOM-KEY-8823", discord = "DISCORD-TOKEN-8824", telegram = "8825:TELEGRAM-TOKEN",
    teams = "TEAMS-SIG-8826", webhook_mid = "MIDTOKEN-8827", webhook_auth = "Bearer WH-AUTH-8828",
    tg_user = "tguser-8829", tg_pass = "TG-PASS-8830", webhook_key = "WH-HDR-8831",
    smtp = "SMTP-PASS-8832", tg_basic = b64("tguser-8829:TG-PASS-8830"),
    matrix = "MATRIX-TOKEN-8833", pagerduty = "PAGERDUTY-ROUTING-KEY-8834-abcde",
    opsgenie = "OPSGENIE-KEY-8835", bark = "BARK-DEVICE-8836", serverchan = "SCT-SENDKEY-8837",
    pushplus = "PUSHPLUS-TOKEN-8838",
    ntfy_topic = "NtfyTopic-8850", ntfy_token = "tk_NTFY-TOKEN-8851", gotify = "AGOTIFY-TOKEN-8852",
    pushover_token = "aPushoverToken8853aaaaaaaaaaaa", pushover_user = "uPushoverUser8854uuuuuuuuuuuuu",
    mattermost = "mmkey8855aaaaaaaaaaaaaaaaa", rocketchat = "RC-TOKEN-8856",
    gchat_key = "GC-KEY-8857", gchat_token = "GC-TOKEN-8858",
  }
  -- Each stand-in answers with an error that echoes the request (URI, headers, body).
  local ECHO = {
    ["/open-apis/"] = { status = 200, body = '{"code":19001,"msg":"{{echo}}"}' },
    ["/services/"] = { status = 400, body = "{{echo}}" },
    ["/robot/"] = { status = 200, body = '{"errcode":310000,"errmsg":"{{echo}}"}' },
    ["/cgi-bin/"] = { status = 200, body = '{"errcode":93000,"errmsg":"{{echo}}"}' },
    ["/api/webhooks/"] = { status = 400, body = '{"message":"{{echo}}","code":50006}' },
    ["/bot"] = { status = 400, body = '{"ok":false,"error_code":400,"description":"{{echo}}"}' },
    ["/workflows/"] = { status = 400, body = '{"error":{"code":"X","message":"{{echo}}"}}' },
    ["/webhook/"] = { status = 400, body = "{{echo}}" },
    ["/_matrix/"] = { status = 400, body = '{"errcode":"M_UNKNOWN","error":"{{echo}}"}' },
    ["/v2/enqueue"] = { status = 400, body = '{"status":"invalid event","message":"{{echo}}"}' },
    ["/v2/alerts"] = { status = 422, body = '{"message":"{{echo}}"}' },
    ["/push"] = { status = 400, body = '{"code":400,"message":"{{echo}}"}' },
    ["/SCT"] = { status = 200, body = '{"code":40001,"message":"{{echo}}"}' },
    ["/send"] = { status = 200, body = '{"code":903,"msg":"{{echo}}"}' },
    ["/ntfy/"] = { status = 400, body = '{"code":40000,"http":400,"error":"{{echo}}"}' },
    ["/gotify/"] = { status = 400, body = '{"error":"{{echo}}","errorCode":400}' },
    ["/1/"] = { status = 400, body = '{"status":0,"errors":["{{echo}}"]}' },
    ["/mm/"] = { status = 400, body = '{"id":"x","message":"{{echo}}"}' },
    ["/rc/"] = { status = 400, body = '{"success":false,"error":"{{echo}}"}' },
    ["/v1/"] = { status = 400, body = '{"error":{"code":400,"message":"{{echo}}"}}' },
  }

  local function run(echo)
    if echo then
      for prefix, opts in pairs(ECHO) do server.behave(prefix, opts) end
    end
    local logs = {}
    local api = server.url(""):gsub("^http://", "http://" .. T.tg_user .. ":" .. T.tg_pass .. "@")
    local c = notifyhub.new({
      logger = { level = "debug", failures = true, handler = function(level, text, fields)
        logs[#logs + 1] = level .. " " .. text .. " " .. cjson.encode(fields)
      end },
      http = { timeout = 5 },
      feishu = { webhook_url = server.url("/open-apis/bot/v2/hook/" .. T.feishu) },
      slack = { webhook_url = server.url("/services/T/B/" .. T.slack) },
      dingtalk = { webhook_url = server.url("/robot/send?access_token=" .. T.dingtalk) },
      wecom = { webhook_url = server.url("/cgi-bin/webhook/send?key=" .. T.wecom) },
      discord = { webhook_url = server.url("/api/webhooks/1/" .. T.discord) },
      telegram = { token = T.telegram, chat_id = "1", api_url = api },
      teams = { webhook_url = server.url("/workflows/w/triggers/manual/paths/invoke?api-version=1&sig="
        .. T.teams) },
      webhook = { url = server.url("/webhook/" .. T.webhook_mid .. "/end"),
        headers = { Authorization = T.webhook_auth, ["X-Key"] = T.webhook_key } },
      email = { host = "127.0.0.1", port = f.smtp_port, tls = "none", username = "u",
        password = T.smtp, from = "a@example.com", to = "b@example.com" },
      matrix = { homeserver = server.url(""), access_token = T.matrix, room_id = "!r:example.org" },
      pagerduty = { url = server.url("/v2/enqueue"), routing_key = T.pagerduty },
      opsgenie = { url = server.url("/v2/alerts"), api_key = T.opsgenie },
      bark = { url = server.url("/push"), device_key = T.bark },
      serverchan = { url = server.url(""), sendkey = T.serverchan },
      pushplus = { url = server.url("/send"), token = T.pushplus },
      ntfy = { url = server.url("/ntfy/" .. T.ntfy_topic), token = T.ntfy_token },
      gotify = { url = server.url("/gotify"), token = T.gotify },
      pushover = { token = T.pushover_token, user = T.pushover_user, api_url = server.url("/1/messages.json") },
      mattermost = { webhook_url = server.url("/mm/hooks/" .. T.mattermost) },
      rocketchat = { webhook_url = server.url("/rc/hooks/rc1/" .. T.rocketchat) },
      googlechat = { webhook_url = server.url("/v1/spaces/S/messages?key=" .. T.gchat_key
        .. "&token=" .. T.gchat_token) },
    })
    local targets = {}
    -- every platform of core.platforms: one configured above for each
    for _, p in ipairs(notifyhub.platforms) do targets[#targets + 1] = { platform = p } end
    local seen = {}
    local h = assert(c:send_async({ title = "t", body = "b", targets = targets }))
    h:on_error(function(_, err, receipt) seen[#seen + 1] = tostring(err) .. cjson.encode(receipt) end)
    local receipt, err, code, failed = h:wait(20)
    seen[#seen + 1] = tostring(c) .. tostring(h) .. tostring(err) .. tostring(code)
    seen[#seen + 1] = cjson.encode(receipt or failed)
    local r2, err2 = c:send({ body = "sync", targets = { { platform = "webhook" } } })
    seen[#seen + 1] = cjson.encode(r2 or {}) .. tostring(err2)
    c:close()
    return table.concat(seen, "\n") .. "\n" .. table.concat(logs, "\n"), receipt or failed
  end

  it("never leave the core when every service echoes the request into its error", function()
    local text, receipt = run(true)
    assert.equal(#notifyhub.platforms - 1, receipt.failed, text)   -- e-mail: no echo
    assert_absent(text, T)
    -- The echo did reach the receipt (redacted): the path shows around the mask.
    assert.matches("webhook\\*/%*%*%*\\*/end", text)
  end)

  it("never show in labels: user info anywhere, a token in the middle of a path", function()
    local text, receipt = run(false)
    assert.equal("success", receipt.status, text)
    for _, r in ipairs(receipt.results) do
      assert_absent(r.target, T)
    end
    assert_absent(text, T)
  end)

  it("are cut out of a label: every path segment that may be a token", function()
    local util = require("notifyhub.util")
    assert.equal("https://h/hook/***/***", util.redact_url("https://u:p@h/hook/MIDTOKEN/LAST"))
    assert.equal("https://h/api/webhooks/1/***",
      util.redact_url("https://h/api/webhooks/1/Abc-9f8e7d6c"))
  end)
end)

describe("nh_redact (the core's one redaction)", function()
  it("masks the longest of overlapping secrets, percent-encoded forms too", function()
    local c = notifyhub.new({ webhook = { url = server.url("/webhook/AB%2FCD-8840/x") } })
    server.behave("/webhook/", { status = 400, body = "{{echo}}" })
    local _, err, _, receipt = c:send({ body = "x" })
    local response = receipt.results[1].response
    assert.is_nil(response:find("AB%2FCD-8840", 1, true), response)
    assert.is_nil(response:find("AB\\/CD-8840", 1, true), response)
    assert.is_nil(err:find("AB%2FCD-8840", 1, true), err)
    assert.matches("webhook\\/%*%*%*\\/x", response)
    c:close()
  end)

  it("hides every byte of overlapping secrets", function()
    local c = notifyhub.new({ webhook = { url = server.url("/webhook/AAAA-BBBB-8841/x"),
      headers = { ["X-K"] = "BBBB-8841-CCCC" } } })
    server.behave("/webhook/", { status = 400, body = "seen: AAAA-BBBB-8841-CCCC!" })
    local _, _, _, receipt = c:send({ body = "x" })
    assert.equal("seen: ***!", receipt.results[1].response)
    c:close()
  end)
end)
