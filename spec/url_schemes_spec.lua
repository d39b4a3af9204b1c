-- Apprise URL schemes of the twelve new platforms (issue 14, item 2): what
-- notifyhub.target.parse makes of Apprise's documented forms, the errors for
-- forms notifyhub cannot send (never echoing a secret), and one delivery per
-- scheme through notifyhub.new{ urls = ... } to its loopback stand-in.

local notifyhub = require("notifyhub")
local url = require("notifyhub.url")
local server = require("spec.support.server")
local cjson = require("cjson")

local parse, parse_all = notifyhub.target.parse, notifyhub.target.parse_all

-- A 32-character key (PagerDuty routing keys and PushPlus tokens have 32).
local function key32(prefix) return prefix .. ("0"):rep(32 - #prefix) end

-- Each bad URL is refused with "<scheme>:// URL: ...", the why matching,
-- and no "SECRET" in it.
local function refuses(cases)
  for _, case in ipairs(cases) do
    local t, why = parse(case[1])
    assert.is_nil(t, case[1])
    assert.is_string(why, case[1])
    assert.is_nil(why:find("SECRET", 1, true), why)
    assert.matches("^%a+:// URL: ", why)
    assert.matches(case[2], why, 1, false, case[1])
  end
end

describe("Apprise URLs of the new platforms", function()
  describe("matrix:// and matrixs://", function()
    it("reads token@host/!room as the client-server API with that access token", function()
      assert.same({ platform = "matrix", value = "https://matrix.example.org", access_token = "syt_tok1",
        room_id = "!abc:example.org" }, parse("matrixs://syt_tok1@matrix.example.org/!abc:example.org"))
      assert.same({ platform = "matrix", value = "http://hs.example:8008", access_token = "tok2",
        room_id = "!abc:example.org", msgtype = "m.notice" },
        parse("matrix://hs.example:8008/%21abc%3Aexample.org?token=tok2&msgtype=notice&version=3&image=no"))
      local all = assert(parse_all("matrixs://tok@hs.example/!a:x.org/!b:x.org?to=!c:x.org"))
      assert.same({ "!a:x.org", "!b:x.org", "!c:x.org" }, { all[1].room_id, all[2].room_id, all[3].room_id })
    end)

    it("refuses logins, webhook modes, aliases and a missing room with what to give instead", function()
      refuses({
        { "matrixs://bob:SECRETpw1@hs.example/!a:x.org", "user:password login.*access token" },
        { "matrixs://bob@hs.example/!a:x.org?token=SECRETpw2", "user:password login" },
        { "matrix://SECRETt2bot3", "t2bot.*not supported" },
        { "matrixs://SECRETtok4@hs.example", "t2bot.*not supported" },
        { "matrixs://SECRETtok5@hs.example/!a:x.org?mode=slack", "mode=slack.*not supported" },
        { "matrixs://SECRETtok6@hs.example/%23room:x.org", "room 1: a room id" },
        { "matrixs://SECRETtok7@hs.example/!a:x.org/@user:x.org", "room 2: a room id" },
        { "matrixs://SECRETtok8@hs.example/!a:x.org?msgtype=SECRETx", "msgtype: text or notice" },
        { "matrixs://SECRETtok9@hs.example/!a:x.org?v=9", "version: 2 or 3" },
        { "matrixs://SECRETtok10@bad_host!/!a:x.org", "a host name" },
      })
    end)
  end)

  describe("pagerduty://", function()
    it("reads IntegrationKey@ApiKey[/Source[/Component]] as an Events API v2 target", function()
      assert.same({ platform = "pagerduty", value = "https://events.pagerduty.com/v2/enqueue",
        routing_key = "intkey1" }, parse("pagerduty://intkey1@apikey1"))
      assert.same({ platform = "pagerduty", value = "https://events.eu.pagerduty.com/v2/enqueue",
        routing_key = "intkey1", source = "web01", component = "disk", group = "prod", class = "ping" },
        parse("pagerduty://intkey1@apikey1/web01/disk?region=eu&group=prod&class=ping&image=no"))
      assert.same({ platform = "pagerduty", value = "https://events.pagerduty.com/v2/enqueue",
        routing_key = "int2", source = "s", component = "c" },
        parse("pagerduty://ignored@apikey?integrationkey=int2&apikey=k2&source=s&component=c&region=US"))
      -- ?severity= as Apprise reads it: a prefix of a severity's name
      assert.equal("critical", parse("pagerduty://i@a?severity=crit").severity)
      assert.equal("warning", parse("pagerduty://i@a?severity=Warning").severity)
    end)

    it("refuses what the Events API target cannot carry, and an unknown severity", function()
      refuses({
        { "pagerduty://SECRETapi1", "an integration %(routing%) key" },
        { "pagerduty://SECRETint2@", "an API key" },
        { "pagerduty://SECRETint3@SECRETapi3?region=mars", "region: us or eu" },
        { "pagerduty://SECRETint4@SECRETapi4?severity=SECRETsev", "severity: info, warning, error or critical" },
        { "pagerduty://SECRETint5@SECRETapi5?click=https://x.example", "click" },
        { "pagerduty://SECRETint6@SECRETapi6?+host=SECRETdetail", "custom details" },
      })
    end)
  end)

  describe("opsgenie://", function()
    it("reads ApiKey with region, entity and the alert's tags", function()
      assert.same({ platform = "opsgenie", value = "https://api.opsgenie.com/v2/alerts", api_key = "gk-1" },
        parse("opsgenie://gk-1"))
      assert.same({ platform = "opsgenie", value = "https://api.eu.opsgenie.com/v2/alerts", api_key = "gk-2",
        entity = "web", alert_tags = { "db", "prod" } },
        parse("opsgenie://ignored?apikey=gk-2&region=eu&entity=web&tags=db,prod&batch=yes&priority=normal"))
      -- ?priority= as P1..P5 or 1..5 (Apprise sends those as written); the default leaves it to the message
      for given, want in pairs({ p1 = "P1", ["1"] = "P1", P2 = "P2", ["4"] = "P4", p5 = "P5" }) do
        assert.equal(want, parse("opsgenie://gk-1?priority=" .. given).priority, given)
      end
      for _, given in ipairs({ "normal", "3", "p3", "bogus" }) do
        assert.is_nil(parse("opsgenie://gk-1?priority=" .. given).priority, given)
      end
      -- newer Apprise: user@ (the request's owner) is decoration; action=new is what notifyhub does
      assert.same({ platform = "opsgenie", value = "https://api.opsgenie.com/v2/alerts", api_key = "gk-3" },
        parse("opsgenie://ops-bot@gk-3?action=new"))
    end)

    it("refuses responders, a priority by name, an alias, details and actions other than new", function()
      refuses({
        { "opsgenie://SECRETk1/@user", "responders" },
        { "opsgenie://SECRETk2?to=%23team", "responders" },
        { "opsgenie://SECRETk3?priority=high", "priority: give P1 to P5" },
        { "opsgenie://SECRETk3?priority=emergency", "priority: give P1 to P5" },
        { "opsgenie://SECRETk4?alias=SECRETa", "alias" },
        { "opsgenie://SECRETk5?+k=SECRETv", "details" },
        { "opsgenie://SECRETk6?region=xx", "region: us or eu" },
        { "opsgenie://SECRETk7?action=close", "action=close: notifyhub creates an alert for every message" },
        { "opsgenie://SECRETk8?action=map", "action=map: notifyhub creates an alert for every message" },
        { "opsgenie://SECRETk9?action=SECRETa", "action: one of new, map, close, delete, acknowledge, note" },
        { "opsgenie://SECRETk10?:info=note", "action mappings" },
        { "opsgenie://", "an API key" },
      })
    end)
  end)

  describe("bark:// and barks://", function()
    it("reads host/DeviceKey[/DeviceKey...] as the server's /push, one target per device", function()
      assert.same({ platform = "bark", value = "http://bark.example/push", device_key = "dev1" },
        parse("bark://bark.example/dev1"))
      assert.same({ platform = "bark", value = "https://u:p%40ss@bark.example:8443/push", device_key = "dev1",
        sound = "bell.caf", group = "ops", click_url = "https://x.example/a" },
        parse("barks://u:p%40ss@bark.example:8443/dev1?sound=bell&group=ops&click=https%3A%2F%2Fx.example%2Fa"
          .. "&badge=3&category=c&image=no"))
      local all = assert(parse_all("bark://h.example/d1/d2?to=d3"))
      assert.same({ "d1", "d2", "d3" }, { all[1].device_key, all[2].device_key, all[3].device_key })
      -- an unknown sound or level is dropped, as Apprise does; a level by its first letter
      assert.is_nil(parse("bark://h.example/d1?sound=nosuch").sound)
      assert.is_nil(parse("bark://h.example/d1?level=loud").level)
      assert.equal("timeSensitive", parse("bark://h.example/d1?level=t").level)
      assert.equal("passive", parse("bark://h.example/d1?level=passive").level)
      assert.equal("critical", parse("bark://h.example/d1?level=critical").level)
    end)

    it("refuses a missing host or device key", function()
      refuses({
        { "bark://h.example", "a device key" },
        { "barks://u:SECRETpw@/SECRETd2", "a host name" },
        { "bark://h.example/SECRET%20d3", "a device key of letters" },
      })
    end)
  end)

  describe("schan:// and pushplus://", function()
    it("reads schan://SendKey and pushplus://Token", function()
      assert.same({ platform = "serverchan", value = "https://sctapi.ftqq.com", sendkey = "SCTabc123" },
        parse("schan://SCTabc123/"))
      local tok = key32("pp")
      assert.same({ platform = "pushplus", value = "https://www.pushplus.plus/send", token = tok },
        parse("pushplus://" .. tok))
      assert.same({ platform = "pushplus", value = "https://www.pushplus.plus/send", token = tok },
        parse("pushplus://x?token=" .. tok))
    end)

    it("refuses malformed keys", function()
      refuses({
        { "schan://", "a SendKey" },
        { "schan://SECRET_k-1", "a SendKey" },
        { "pushplus://SECRETshort", "a token of 32 to 64" },
      })
    end)
  end)

  describe("ntfy:// and ntfys://", function()
    it("reads a topic on ntfy.sh, or host/topic on a server of one's own, one target per topic", function()
      assert.same({ platform = "ntfy", value = "https://ntfy.sh/alerts" }, parse("ntfy://alerts"))
      assert.same({ platform = "ntfy", value = "https://ntfy.example.com/alerts" },
        parse("ntfys://ntfy.example.com/alerts"))
      assert.same({ platform = "ntfy", value = "http://phil:my%40pw@ntfy.example.com:8080/alerts",
        message_tags = { "ci", "prod" }, click = "https://x.example/a", icon = "https://x.example/i.png" },
        parse("ntfy://phil:my%40pw@ntfy.example.com:8080/alerts?tags=ci,prod&click=https%3A%2F%2Fx.example%2Fa"
          .. "&avatar_url=https%3A%2F%2Fx.example%2Fi.png&priority=default&image=yes"))
      assert.same({ platform = "ntfy", value = "https://ntfy.example.com/alerts", token = "tk_abc" },
        parse("ntfys://tk_abc@ntfy.example.com/alerts"))
      assert.same({ platform = "ntfy", value = "https://ntfy.example.com/alerts", token = "tk_q",
        message_tags = { "x" } }, parse("ntfys://bob:pw@ntfy.example.com/alerts?token=tk_q&xtags=x"))
      assert.is_nil(parse("ntfy://alerts?image=no&avatar_url=https%3A%2F%2Fi.example").icon)
      assert.same({ platform = "ntfy", value = "https://ntfy.example.com/alerts", token = "tk_pw" },
        parse("ntfys://bob:tk_pw@ntfy.example.com/alerts?auth=token"))
      local all = assert(parse_all("ntfy://alerts/builds?mode=cloud"))
      assert.same({ "https://ntfy.sh/alerts", "https://ntfy.sh/builds" }, { all[1].value, all[2].value })
      -- ntfy.sh's cloud mode sends no credentials, as Apprise does
      assert.same({ platform = "ntfy", value = "https://ntfy.sh/alerts" }, parse("ntfys://tk_x@alerts"))
    end)

    it("reads ?priority= as Apprise does: a name or 1-5 fixes ntfy's priority, the default leaves it", function()
      for given, want in pairs({ max = "5", emergency = "5", high = "4", ["4"] = "4", low = "2", moderate = "2",
          min = "1", ["1"] = "1" }) do
        assert.equal(want, parse("ntfy://alerts?priority=" .. given).priority, given)
      end
      for _, given in ipairs({ "default", "normal", "3", "bogus" }) do
        assert.is_nil(parse("ntfy://alerts?priority=" .. given).priority, given)
      end
    end)

    it("refuses attachments, delays, e-mail forwards and actions", function()
      refuses({
        { "ntfy://alerts?attach=https%3A%2F%2FSECRETa", "attach" },
        { "ntfy://alerts?delay=10m", "delay" },
        { "ntfy://alerts?email=SECRET@x.example", "email" },
        { "ntfy://alerts?actions=view", "actions" },
        { "ntfy://alerts?mode=SECRETm", "mode: cloud or private" },
        { "ntfys://h.example/alerts?auth=SECRETx", "auth: basic or token" },
        { "ntfys://h.example/alerts?auth=token", "auth=token: no token" },
        { "ntfys://SECRETu:SECRETp@h.example/bad%20topic", "topic 1: 1 to 64 letters" },
        { "ntfy://", "a topic" },
      })
    end)
  end)

  describe("gotify:// and gotifys://", function()
    it("reads host[:port][/path]/token, the last path segment being the application token", function()
      assert.same({ platform = "gotify", value = "http://gotify.example", token = "AppTok1" },
        parse("gotify://gotify.example/AppTok1"))
      assert.same({ platform = "gotify", value = "https://gotify.example:8443/sub/dir", token = "AppTok2" },
        parse("gotifys://gotify.example:8443/sub/dir/AppTok2?priority=normal"))
    end)

    it("reads ?priority= as Apprise does: low 0, moderate 3, high 8, emergency 10; normal leaves it", function()
      for given, want in pairs({ low = "0", ["2"] = "0", moderate = "3", ["4"] = "3", high = "8", ["9"] = "8",
          emergency = "10", ["10"] = "10" }) do
        assert.equal(want, parse("gotify://g.example/Atok?priority=" .. given).priority, given)
      end
      for _, given in ipairs({ "normal", "5", "7", "bogus" }) do
        assert.is_nil(parse("gotify://g.example/Atok?priority=" .. given).priority, given)
      end
    end)

    it("refuses a missing token", function()
      refuses({
        { "gotify://gotify.example", "an application token" },
        { "gotify://bad_host!/SECRETtok", "a host name" },
      })
    end)
  end)

  describe("pover://", function()
    it("reads UserKey@Token[/Device...][/#Group...]: the devices in one delivery, one per group", function()
      assert.same({ platform = "pushover", value = "https://api.pushover.net/1/messages.json", user = "ukey1",
        token = "atok1" }, parse("pover://ukey1@atok1"))
      local all = assert(parse_all("pover://ukey1@atok1/phone/tablet/%23grp1?to=%23grp2&sound=Siren"
        .. "&url=https%3A%2F%2Fx.example&url_title=X&priority=normal&interval=60&expire=600"))
      assert.same({
        { platform = "pushover", value = "https://api.pushover.net/1/messages.json", user = "ukey1", token = "atok1",
          device = "phone,tablet", sound = "siren", url = "https://x.example" },
        { platform = "pushover", value = "https://api.pushover.net/1/messages.json", user = "grp1", token = "atok1",
          sound = "siren", url = "https://x.example" },
        { platform = "pushover", value = "https://api.pushover.net/1/messages.json", user = "grp2", token = "atok1",
          sound = "siren", url = "https://x.example" },
      }, all)
    end)

    it("reads ?priority= as Apprise does: low -2, moderate -1, high 1, emergency 2; normal leaves it", function()
      for given, want in pairs({ low = "-2", ["-2"] = "-2", moderate = "-1", ["-1"] = "-1", high = "1", ["1"] = "1",
          emergency = "2", ["2"] = "2" }) do
        assert.equal(want, parse("pover://u1@t1?priority=" .. given).priority, given)
      end
      for _, given in ipairs({ "normal", "0", "bogus" }) do
        assert.is_nil(parse("pover://u1@t1?priority=" .. given).priority, given)
      end
    end)

    it("refuses missing keys, encryption and a malformed device", function()
      refuses({
        { "pover://SECRETtok", "a user key" },
        { "pover://SECRETuser@", "an application token" },
        { "pover://SECRETu@SECRETt?key=SECRETk", "end%-to%-end encryption" },
        { "pover://SECRETu@SECRETt/bad%20device", "target 1: a device" },
      })
    end)
  end)

  describe("mmost:// and mmosts://", function()
    it("reads [botname@]host[:port][/path]/token as <host>/<path>/hooks/<token>, one target per channel", function()
      assert.same({ platform = "mattermost", value = "http://mm.example.com/hooks/mmtoken1" },
        parse("mmost://mm.example.com/mmtoken1"))
      local all = assert(parse_all("mmosts://bot@mm.example.com:8443/sub/path/mmtoken2?channel=%23ops,dev"
        .. "&to=qa&image=no"))
      assert.equal(3, #all)
      for i, ch in ipairs({ "qa", "ops", "dev" }) do
        assert.same({ platform = "mattermost", value = "https://mm.example.com:8443/sub/path/hooks/mmtoken2",
          username = "bot", channel = ch }, all[i])
      end
    end)

    it("refuses a missing token", function()
      refuses({
        { "mmost://mm.example.com", "a webhook token" },
        { "mmost://bad_host!/SECRETtok", "a host name" },
      })
    end)
  end)

  describe("rocket:// and rockets://", function()
    it("reads the webhook form TokenA/TokenB@host, one target per channel, user or room", function()
      assert.same({ platform = "rocketchat", value = "http://rc.example.com/hooks/tokA/tokB" },
        parse("rocket://tokA/tokB@rc.example.com"))
      local all = assert(parse_all("rockets://user:tokA%2FtokB@rc.example.com:8443/%23general/@bob/ROOM1"))
      assert.same({ "@bob", "#general", "ROOM1" }, { all[1].channel, all[2].channel, all[3].channel })
      assert.equal("https://rc.example.com:8443/hooks/tokA/tokB", all[1].value)
      local one = assert(parse_all("rockets://user:tokA/tokB@rc.example.com/#ops?avatar=no"))
      assert.same({ { platform = "rocketchat", value = "https://rc.example.com/hooks/tokA/tokB", channel = "#ops" } },
        one)
      assert.equal("http://rc.example.com/hooks/w1/w2", parse("rocket://rc.example.com?webhook=w1/w2").value)
    end)

    it("refuses the login forms and malformed targets", function()
      refuses({
        { "rocket://bob:SECRETpw@rc.example.com/%23general", "login.*not supported.*webhook" },
        { "rocket://tokA/SECRETb@rc.example.com?mode=basic", "login.*not supported" },
        { "rocket://rc.example.com", "login.*not supported" },
        { "rocket://tokA/SECRETb@rc.example.com/bad%20room", "target 1: #channel, @user or a room id" },
      })
    end)
  end)

  describe("gchat://", function()
    it("reads Workspace/Key/Token[/ThreadKey] as the space's webhook", function()
      assert.same({ platform = "googlechat",
        value = "https://chat.googleapis.com/v1/spaces/AAAA1/messages?key=KEY-1&token=TOK%3D" },
        parse("gchat://AAAA1/KEY-1/TOK%3D"))
      assert.same({ platform = "googlechat",
        value = "https://chat.googleapis.com/v1/spaces/W/messages?key=K&token=T", thread_key = "th1" },
        parse("gchat://W/K/T/th1"))
      assert.equal("th2", parse("gchat://x/y/z?workspace=W&key=K&token=T&threadKey=th2").thread_key)
    end)

    it("refuses a missing part", function()
      refuses({
        { "gchat://SECRETw/SECRETk", "a workspace, a webhook key and a webhook token" },
        { "gchat://", "a workspace, a webhook key and a webhook token" },
      })
    end)
  end)

  it("takes Apprise's ?overflow=truncate|split where the platform can split", function()
    local splits = { "matrixs://t@hs.example/!a:x.org", "bark://h.example/d1", "schan://SCTk1", "ntfy://alerts",
      "pover://u1@t1", "mmost://h.example/tok1", "rocket://a/b@h.example", "gchat://w/k/t" }
    for _, u in ipairs(splits) do
      assert.equal("split", parse(u .. "?overflow=split").overflow, u)
      assert.equal("truncate", parse(u .. "?overflow=Truncate").overflow, u)
    end
    -- PagerDuty and Opsgenie cut (their default) and cannot split; PushPlus and Gotify send as is
    for _, u in ipairs({ "pagerduty://i@a", "opsgenie://k", "pushplus://" .. key32("p"), "gotify://h.example/Atok" }) do
      assert.is_nil(parse(u .. "?overflow=split").overflow, u)
    end
  end)

  it("names every scheme of url.schemes in the README's Apprise URLs table", function()
    local f = assert(io.open("README.md"))
    local readme = f:read("a")
    f:close()
    local section = readme:match("\n### Apprise URLs\n(.-)\n### ")
    assert.is_string(section)
    for name, entry in pairs(url.schemes) do
      assert.truthy(section:find("`" .. name .. "://", 1, true), name)
      assert.truthy(section:find("| `" .. entry.platform .. "` |", 1, true), entry.platform)
    end
  end)

  describe("delivery through notifyhub.new{ urls = ... }", function()
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

    -- Sends one message to the one URL; the receipt (or nil, err, code, receipt).
    local function deliver(u, msg)
      local c = notifyhub.new({ urls = { u }, retry = { max_attempts = 1 }, logger = { failures = false } })
      local receipt, err, code, r2 = c:send(msg or { title = "Deploy", body = "api is live" })
      c:close()
      return receipt, err, code, r2
    end

    local function last(prefix)
      local reqs = server.requests(prefix)
      local req = reqs[#reqs]
      assert(req, "no request under " .. prefix)
      return req, cjson.decode(req.body)
    end

    local function hides(receipt, ...)
      local text = cjson.encode(receipt)
      for _, secret in ipairs({ ... }) do assert.is_nil(text:find(secret, 1, true), secret) end
    end

    it("matrix:// PUTs the event with the access token", function()
      local receipt = assert(deliver(("matrix://tokMX1@127.0.0.1:%d/!room1:example.org?msgtype=notice")
        :format(server.port())))
      local req, body = last("/_matrix/")
      assert.equal("PUT", req.method)
      assert.matches("^/_matrix/client/v3/rooms/%%21room1%%3Aexample.org/send/m.room.message/", req.path)
      assert.equal("Bearer tokMX1", req.headers.authorization)
      assert.equal("m.notice", body.msgtype)
      assert.matches("api is live", body.body)
      hides(receipt, "tokMX1")
    end)

    it("pagerduty:// enqueues an event with the routing key, source and component", function()
      local routing = key32("PDint")
      local receipt = assert(deliver(("pagerduty://%s@PDapikey9/web01/disk?group=prod&severity=critical")
        :format(routing)))
      local _, body = last("/v2/enqueue")
      assert.equal("critical", body.payload.severity)   -- the URL's, over the message's type
      assert.equal(routing, body.routing_key)
      assert.equal("trigger", body.event_action)
      assert.equal("web01", body.payload.source)
      assert.equal("disk", body.payload.component)
      assert.equal("prod", body.payload.group)
      hides(receipt, routing, "PDapikey9")
    end)

    it("opsgenie:// creates an alert with the GenieKey, entity and tags", function()
      local receipt = assert(deliver("opsgenie://OGkey-77?entity=web&tags=db,prod&priority=p2"))
      local req, body = last("/v2/alerts")
      assert.equal("P2", body.priority)
      assert.equal("GenieKey OGkey-77", req.headers.authorization)
      assert.equal("web", body.entity)
      assert.same({ "db", "prod" }, body.tags)
      hides(receipt, "OGkey-77")
    end)

    it("bark:// pushes to the server's /push with Basic auth, the sound and the group", function()
      local receipt = assert(deliver(("bark://bu:BKpw-3@127.0.0.1:%d/BKdev-1?sound=bell&group=ops&level=passive")
        :format(server.port())))
      local req, body = last("/push")
      assert.equal("passive", body.level)
      assert.equal("Basic " .. require("notifyhub.util").base64("bu:BKpw-3"), req.headers.authorization)
      assert.equal("BKdev-1", body.device_key)
      assert.equal("bell.caf", body.sound)
      assert.equal("ops", body.group)
      hides(receipt, "BKdev-1", "BKpw-3")
    end)

    it("schan:// posts to <SendKey>.send", function()
      local receipt = assert(deliver("schan://SCTschanKey5"))
      local req, body = last("/SCT")
      assert.equal("/SCTschanKey5.send", req.path)
      assert.equal("Deploy", body.title)
      hides(receipt, "SCTschanKey5")
    end)

    it("pushplus:// posts the token and the content", function()
      local tok = key32("PPtok")
      local receipt = assert(deliver("pushplus://" .. tok))
      local _, body = last("/send")
      assert.equal(tok, body.token)
      assert.equal("api is live", body.content)
      hides(receipt, tok)
    end)

    it("keeps every URL's secrets out of errors, receipts and logs when the services echo the request", function()
      url.bases.ntfy = server.url("/ntfy")
      local echo = {
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
        ["/hooks/"] = { status = 400, body = '{"success":false,"error":"{{echo}}"}' },
        ["/v1/"] = { status = 400, body = '{"error":{"code":400,"message":"{{echo}}"}}' },
      }
      for prefix, answer in pairs(echo) do server.behave(prefix, answer) end
      local port = server.port()
      local secrets = { "MXtok-91", key32("PDrk92"), "PDapi-93", "OGkey-94", "BKpw-95", "BKdev-96", "SCTsk97",
        key32("PPtk98"), "NTtopic99", "AGOtok-100", ("u"):rep(24) .. "PVu101", ("a"):rep(24) .. "PVt102",
        ("m"):rep(22) .. "mm03", "RCtok104", "GCkey-105", "GCtok-106" }
      local urls = {
        ("matrix://%s@127.0.0.1:%d/!r:example.org"):format(secrets[1], port),
        ("pagerduty://%s@%s"):format(secrets[2], secrets[3]),
        "opsgenie://" .. secrets[4],
        ("bark://bu:%s@127.0.0.1:%d/%s"):format(secrets[5], port, secrets[6]),
        "schan://" .. secrets[7],
        "pushplus://" .. secrets[8],
        "ntfy://" .. secrets[9],
        ("gotify://127.0.0.1:%d/gotify/%s"):format(port, secrets[10]),
        ("pover://%s@%s"):format(secrets[11], secrets[12]),
        ("mmost://127.0.0.1:%d/mm/%s"):format(port, secrets[13]),
        ("rocket://rcid/%s@127.0.0.1:%d"):format(secrets[14], port),
        ("gchat://SPACE/%s/%s"):format(secrets[15], secrets[16]),
      }
      local logs = {}
      local function handler(level, text, fields)
        logs[#logs + 1] = level .. " " .. text .. " " .. cjson.encode(fields)
      end
      local c = notifyhub.new({ urls = urls, retry = { max_attempts = 1 },
        logger = { level = "debug", handler = handler } })
      local _, err, code, receipt = c:send({ title = "Deploy", body = "api is live" })
      c:close()
      assert.equal(#urls, receipt.failed)
      local seen = table.concat({ tostring(err), tostring(code), cjson.encode(receipt), table.concat(logs, "\n") },
        "\n")
      -- the answers echoed the requests, their secrets cut
      assert.matches("authorization: Bearer %*%*%*", seen)
      assert.matches("authorization: GenieKey %*%*%*", seen)
      assert.matches("token=%*%*%*&user=%*%*%*", seen)
      for _, secret in ipairs(secrets) do assert.is_nil(seen:find(secret, 1, true), secret) end
    end)

    it("reads the new schemes from an Apprise YAML file: tags route, an entry's options are URL arguments", function()
      local path = os.tmpname() .. ".yaml"
      local f = assert(io.open(path, "w"))
      f:write(table.concat({
        "urls:",
        "  - opsgenie://OGyaml-1:",
        "      - tag: ops",
        "        region: eu",
        "        entity: web",
        "  - pagerduty://" .. key32("PDyaml") .. "@apikey:",
        "      - tag: oncall",
        "",
      }, "\n"))
      f:close()
      local cfg, err = notifyhub.config.load(path)
      os.remove(path)
      assert(cfg, err)
      local c = notifyhub.new(cfg)
      assert(c:send({ body = "disk full", tags = { "ops" } }))
      assert.equal(0, #server.requests("/v2/enqueue"))
      local req, body = last("/v2/alerts")
      assert.equal("GenieKey OGyaml-1", req.headers.authorization)
      assert.equal("web", body.entity)
      assert(c:send({ body = "disk full", tags = { "oncall" } }))
      assert.equal(1, #server.requests("/v2/enqueue"))
      c:close()
    end)

    it("ntfy:// posts to the topic with ntfy's tags", function()
      url.bases.ntfy = server.url("/ntfy")
      local receipt = assert(deliver("ntfy://alerts?tags=ci&priority=max"))
      local req = server.requests("/ntfy/")[1]
      assert.equal("/ntfy/alerts", req.path)
      assert.matches("priority=5", req.args)
      assert.equal("api is live", req.body)
      assert.matches("tags=ci", req.args)
      assert.is_table(receipt)
    end)

    it("gotify:// posts to <host>/<path>/message with the application token", function()
      local receipt = assert(deliver(("gotify://127.0.0.1:%d/gotify/AgoTok-1?priority=high"):format(server.port())))
      local req, body = last("/gotify/")
      assert.equal(8, body.priority)
      assert.equal("/gotify/message", req.path)
      assert.equal("AgoTok-1", req.headers["x-gotify-key"])
      assert.equal("api is live", body.message)
      hides(receipt, "AgoTok-1")
    end)

    it("pover:// posts the form with the user key, the token and the device", function()
      local user, token = ("u"):rep(26) .. "PVu1", ("a"):rep(26) .. "PVt1"
      local receipt = assert(deliver(("pover://%s@%s/phone?sound=siren&priority=high"):format(user, token)))
      local req = server.requests("/1/messages.json")[1]
      local form = {}
      for k, v in req.body:gmatch("([^&=]+)=([^&]*)") do form[k] = v end
      assert.equal(user, form.user)
      assert.equal(token, form.token)
      assert.equal("phone", form.device)
      assert.equal("siren", form.sound)
      assert.equal("1", form.priority)
      hides(receipt, user, token)
    end)

    it("mmost:// posts to <path>/hooks/<token> with the bot name and the channel", function()
      local key = ("m"):rep(22) .. "mm42"
      local receipt = assert(deliver(("mmost://ci@127.0.0.1:%d/mm/%s?channel=ops"):format(server.port(), key)))
      local req, body = last("/mm/hooks/")
      assert.equal("/mm/hooks/" .. key, req.path)
      assert.equal("ci", body.username)
      assert.equal("ops", body.channel)
      hides(receipt, key)
    end)

    it("rocket:// posts to /hooks/<TokenA>/<TokenB> with the channel", function()
      local receipt = assert(deliver(("rocket://rcid1/RCtok77@127.0.0.1:%d/%%23general"):format(server.port())))
      local req, body = last("/hooks/")
      assert.equal("/hooks/rcid1/RCtok77", req.path)
      assert.equal("#general", body.channel)
      hides(receipt, "RCtok77")
    end)

    it("gchat:// posts to the space with its key and token", function()
      local receipt = assert(deliver("gchat://SPACE1/GCkey-5/GCtok-6"))
      local req, body = last("/v1/spaces/")
      assert.equal("/v1/spaces/SPACE1/messages", req.path)
      assert.matches("key=GCkey%-5", req.args)
      assert.matches("api is live", body.text)
      hides(receipt, "GCkey-5", "GCtok-6")
    end)
  end)
end)
