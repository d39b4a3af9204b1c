-- spec/server_harness_spec.lua -- self-test of the loopback test server harness.
--
-- Owned by the test harness: checks spec/support/server.lua, nginx.conf and stub.lua (the
-- Feishu stand-in, the generic receiver, the sinks, recording) without using notifyhub.
-- HTTP goes through server.http (the curl CLI); the Feishu signature is computed here with the
-- openssl CLI, independently of the server's FFI HMAC.
--
--   busted --lua=lua5.4 spec/server_harness_spec.lua
--   busted --lua=luajit spec/server_harness_spec.lua

local server = require("spec.support.server")
local cjson = require("cjson")
local system = require("system")

local JSON = { ["Content-Type"] = "application/json" }

-- base64(HMAC-SHA256(key, "")) with the openssl CLI. The key holds a newline, so it goes in
-- as hex (-macopt hexkey:).
local function hmac_sha256_b64(key, msg)
  local hex = key:gsub(".", function(c) return string.format("%02x", c:byte()) end)
  local tmp = os.tmpname()
  local f = assert(io.open(tmp, "wb"))
  f:write(msg or "")
  f:close()
  local p = assert(io.popen("openssl dgst -sha256 -mac HMAC -macopt hexkey:" .. hex
    .. " -binary " .. tmp .. " | openssl base64 -A"))
  local out = p:read("*a")
  p:close()
  os.remove(tmp)
  return (out:gsub("%s+$", ""))
end

-- Feishu: sign = base64(HMAC-SHA256(key = timestamp .. "\n" .. secret, message = "")).
local function feishu_sign(secret, timestamp)
  return hmac_sha256_b64(timestamp .. "\n" .. secret, "")
end

local function post_json(path, tbl)
  local status, body, headers = server.http("POST", path, cjson.encode(tbl), JSON)
  return status, cjson.decode(body), headers
end

local function text_msg(text, extra)
  local m = { msg_type = "text", content = { text = text } }
  for k, v in pairs(extra or {}) do m[k] = v end
  return m
end

local function keys_of(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks)
  return table.concat(ks, ",")
end

describe("test server harness", function()
  local base

  setup(function()
    base = server.start()
  end)

  teardown(function()
    server.stop()
  end)

  before_each(function()
    server.clear()
  end)

  it("checks its own HMAC helper against known vectors", function()
    -- HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog")
    assert.are.equal("97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg=",
      hmac_sha256_b64("key", "The quick brown fox jumps over the lazy dog"))
    -- RFC 4231 test case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?")
    assert.are.equal("W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=",
      hmac_sha256_b64("Jefe", "what do ya want for nothing?"))
    -- An empty message, as Feishu signs (key with a newline, like timestamp .. "\n" .. secret).
    assert.are.equal(44, #hmac_sha256_b64("1700000000\nsecret", ""))
  end)

  it("starts once per process and answers /_ping", function()
    assert.matches("^http://127%.0%.0%.1:%d+$", base)
    assert.are.equal(base, server.start())
    assert.are.equal(base .. "/x", server.url("/x"))
    local status, body = server.http("GET", base .. "/_ping")
    assert.are.equal(200, status)
    assert.are.equal("pong", body)
  end)

  describe("Feishu stand-in", function()
    local function hook(token) return "/open-apis/bot/v2/hook/" .. token end

    it("answers success for a bot never configured and records the exact body", function()
      local body = '{"msg_type":"text","content":{"text":"h\\u00e9llo \\"q\\" \\n ok"}}'
      local status, resp, headers = server.http("POST", hook("plain-tok") .. "?a=1&b=2", body,
        JSON)
      assert.are.equal(200, status)
      assert.matches("application/json", headers["content-type"])
      assert.are.same({ StatusCode = 0, StatusMessage = "success", code = 0, data = {},
        msg = "success" }, cjson.decode(resp))
      local reqs = server.requests(hook("plain-tok"))
      assert.are.equal(1, #reqs)
      local r = reqs[1]
      assert.are.equal(1, r.seq)
      assert.are.equal("POST", r.method)
      assert.are.equal(hook("plain-tok"), r.path)
      assert.are.equal("a=1&b=2", r.args)
      assert.are.equal(body, r.body)
      assert.are.equal("application/json", r.headers["content-type"])
      assert.are.equal(tostring(#body), r.headers["content-length"])
      assert.is_true(math.abs(r.time - system.gettime()) < 5)
    end)

    it("accepts a correct signature and refuses a wrong or stale one with 19021", function()
      server.bot("signed", { secret = "s3cr3t-Key" })
      local ts = tostring(os.time())
      local status, resp = post_json(hook("signed"),
        text_msg("hi", { timestamp = ts, sign = feishu_sign("s3cr3t-Key", ts) }))
      assert.are.equal(200, status)
      assert.are.equal(0, resp.code)

      local bad = {
        text_msg("hi", { timestamp = ts, sign = feishu_sign("other", ts) }),  -- wrong secret
        text_msg("hi", { timestamp = ts }),                                    -- no sign
        text_msg("hi", { sign = feishu_sign("s3cr3t-Key", ts) }),              -- no timestamp
        text_msg("hi", { timestamp = tonumber(ts),                             -- number
          sign = feishu_sign("s3cr3t-Key", ts) }),
      }
      local old = tostring(os.time() - 7200)                                   -- 2 hours old
      bad[#bad + 1] = text_msg("hi", { timestamp = old, sign = feishu_sign("s3cr3t-Key", old) })
      for i, msg in ipairs(bad) do
        status, resp = post_json(hook("signed"), msg)
        assert.are.equal(200, status, "case " .. i)
        assert.are.equal(19021, resp.code, "case " .. i)
        assert.are.equal("sign match fail or timestamp is not within one hour from current time",
          resp.msg)
      end
      assert.are.equal(1 + #bad, #server.requests(hook("signed")))
    end)

    it("answers 19002 to a body that is not JSON or lacks msg_type, 9499 over 20 KB", function()
      local status, resp = server.http("POST", hook("t"), "not json", JSON)
      assert.are.equal(200, status)
      assert.are.equal(19002, cjson.decode(resp).code)
      assert.are.equal("params error, msg_type need", cjson.decode(resp).msg)

      status, resp = post_json(hook("t"), { content = { text = "x" } })
      assert.are.equal(200, status)
      assert.are.equal(19002, resp.code)

      status, resp = post_json(hook("t"), text_msg(string.rep("a", 21 * 1024)))
      assert.are.equal(200, status)
      assert.are.equal(9499, resp.code)
    end)

    it("checks keywords in text and post messages (19024 when missing)", function()
      server.bot("kw", { keywords = { "alert", "告警" } })
      assert.are.equal(0, select(2, post_json(hook("kw"), text_msg("an alert here"))).code)
      assert.are.equal(0, select(2, post_json(hook("kw"), text_msg("磁盘告警"))).code)
      local _, resp = post_json(hook("kw"), text_msg("nothing to see"))
      assert.are.equal(19024, resp.code)
      assert.are.equal("Key Words Not Found", resp.msg)

      local function post(lang, title, elements)
        return { msg_type = "post", content = { post = { [lang] = {
          title = title, content = { { { tag = "text", text = "plain" } }, elements } } } } }
      end
      assert.are.equal(0, select(2, post_json(hook("kw"), post("zh_cn", "alert!", {
        { tag = "text", text = "x" } }))).code)
      assert.are.equal(0, select(2, post_json(hook("kw"), post("en_us", "t", {
        { tag = "a", text = "see alert", href = "http://x" } }))).code)
      assert.are.equal(19024, select(2, post_json(hook("kw"), post("en_us", "t", {
        { tag = "at", user_id = "alert" } }))).code)
      -- An image has no text: never matches a keyword.
      assert.are.equal(19024, select(2, post_json(hook("kw"),
        { msg_type = "image", content = { image_key = "alert" } })).code)
    end)

    it("honours forced code/msg, status, legacy answers and delay", function()
      server.bot("limited", { code = 11232, msg = "frequency limited psm" })
      local status, resp = post_json(hook("limited"), text_msg("x"))
      assert.are.equal(200, status)
      assert.are.same({ code = 11232, data = {}, msg = "frequency limited psm" }, resp)

      server.bot("down", { status = 502 })
      status = post_json(hook("down"), text_msg("x"))
      assert.are.equal(502, status)

      server.bot("old", { legacy = true })
      status, resp = post_json(hook("old"), text_msg("x"))
      assert.are.equal(200, status)
      assert.are.equal("StatusCode,StatusMessage", keys_of(resp))
      assert.are.equal(0, resp.StatusCode)
      assert.are.equal("success", resp.StatusMessage)

      server.bot("slow", { delay = 0.3 })
      local t0 = system.gettime()
      resp = select(2, post_json(hook("slow"), text_msg("x")))
      local elapsed = system.gettime() - t0
      assert.are.equal(0, resp.code)
      assert.is_true(elapsed >= 0.3, "elapsed " .. elapsed)

      -- Reconfiguring replaces; clear() forgets every configuration.
      server.bot("limited", {})
      assert.are.equal(0, select(2, post_json(hook("limited"), text_msg("x"))).code)
      server.bot("limited", { code = 19001 })
      server.clear()
      assert.are.equal(0, select(2, post_json(hook("limited"), text_msg("x"))).code)
    end)
  end)

  describe("generic receiver", function()
    it("answers {\"ok\":true} by default to any method and records it", function()
      for _, method in ipairs({ "POST", "PUT", "PATCH", "DELETE", "GET" }) do
        local req_body = "b"
        if method == "GET" then req_body = nil end
        local status, body = server.http(method, "/webhook/any", req_body)
        assert.are.equal(200, status, method)
        assert.are.equal('{"ok":true}', body)
      end
      local reqs = server.requests("/webhook/any")
      assert.are.equal(5, #reqs)
      assert.are.equal("PATCH", reqs[3].method)
      assert.are.equal("", reqs[5].body)
    end)

    it("follows status, body, delay and retry_after query args", function()
      local status, body, headers = server.http("POST",
        "/webhook/x?status=429&retry_after=7&body=slow%20down", "{}", JSON)
      assert.are.equal(429, status)
      assert.are.equal("slow down", body)
      assert.are.equal("7", headers["retry-after"])

      status, body = server.http("POST", "/webhook/x?status=204", "{}", JSON)
      assert.are.equal(204, status)
      assert.are.equal("", body)

      local t0 = system.gettime()
      status = server.http("POST", "/webhook/x?delay=0.25", "{}", JSON)
      assert.are.equal(200, status)
      assert.is_true(system.gettime() - t0 >= 0.25)

      local r = server.requests("/webhook/x")[1]
      assert.are.equal("status=429&retry_after=7&body=slow%20down", r.args)
    end)

    it("records large bodies exactly (beyond the in-memory buffer)", function()
      local parts = {}
      for i = 1, 150000 do parts[i] = string.char(32 + i % 90) end
      local big = table.concat(parts) .. string.rep("é\n\"\\", 300000)   -- ~1.8 MB
      local status = server.http("POST", "/webhook/big", big, { ["Content-Type"] = "text/plain" })
      assert.are.equal(200, status)
      local r = server.requests("/webhook/big")[1]
      assert.are.equal(#big, #r.body)
      assert.is_true(big == r.body)
    end)
  end)

  describe("sinks", function()
    it("answer without recording, at once or after a delay", function()
      local status, body = server.http("POST", "/sink", "x", JSON)
      assert.are.equal(200, status)
      assert.are.equal('{"code":0,"msg":"success"}', body)

      local t0 = system.gettime()
      status, body = server.http("POST", "/sink/slow?delay=0.2", "x", JSON)
      assert.are.equal(200, status)
      assert.are.equal('{"code":0,"msg":"success"}', body)
      assert.is_true(system.gettime() - t0 >= 0.2)

      t0 = system.gettime()
      status = server.http("POST", "/sink/delay/150", "x", JSON)
      assert.are.equal(200, status)
      assert.is_true(system.gettime() - t0 >= 0.15)

      assert.are.equal(0, #server.requests())
    end)
  end)

  describe("recording", function()
    it("keeps arrival order, filters by prefix, clears, and waits", function()
      server.http("POST", "/webhook/a/1", "1")
      server.http("POST", "/open-apis/bot/v2/hook/z", "2")
      server.http("POST", "/webhook/a/2", "3")
      server.http("POST", "/webhook/b", "4")

      local all = server.requests()
      assert.are.equal(4, #all)
      for i, r in ipairs(all) do
        assert.are.equal(i, r.seq)
        assert.are.equal(tostring(i), r.body)
        if i > 1 then assert.is_true(r.time >= all[i - 1].time) end
      end
      local a = server.requests("/webhook/a")
      assert.are.equal(2, #a)
      assert.are.equal("/webhook/a/2", a[2].path)
      assert.are.equal(2, server.count("/webhook/a"))

      -- wait_for: reached, and timing out with what there is.
      local list, reached = server.wait_for(2, "/webhook/a", 1)
      assert.is_true(reached)
      assert.are.equal(2, #list)
      local t0 = system.gettime()
      list, reached = server.wait_for(3, "/webhook/a", 0.3)
      assert.is_false(reached)
      assert.are.equal(2, #list)
      assert.is_true(system.gettime() - t0 >= 0.3)

      -- wait_for sees a request that arrives later (a delayed one in the background).
      os.execute("curl -s -o /dev/null -m 5 -d late '" .. server.url("/webhook/late?delay=0")
        .. "' &")
      list, reached = server.wait_for(1, "/webhook/late", 5)
      assert.is_true(reached)
      assert.are.equal("late", list[1].body)

      server.clear()
      assert.are.equal(0, #server.requests())
      server.http("POST", "/webhook/c", "again")
      assert.are.equal(1, server.requests()[1].seq)
    end)

    it("holds 20,000 requests of 1 KB", function()
      local tmp = os.tmpname()
      local f = assert(io.open(tmp, "wb"))
      f:write(string.rep("k", 1024))
      f:close()
      -- curl's URL globbing sends them one after another on one connection.
      assert.is_true(os.execute("curl -s -o /dev/null -H 'Content-Type: application/json'"
        .. " --data-binary @" .. tmp .. " '" .. server.url("/webhook/cap/[1-20000]") .. "'")
        == (_VERSION == "Lua 5.1" and 0 or true))
      os.remove(tmp)
      local count, dropped = server.count("/webhook/cap")
      assert.are.equal(20000, count)
      assert.are.equal(0, dropped)
      local reqs = server.requests("/webhook/cap")
      assert.are.equal("/webhook/cap/20000", reqs[20000].path)
      assert.are.equal(1024, #reqs[20000].body)
    end)
  end)

  describe("lifecycle", function()
    it("restarts with more workers, stops idempotently and leaves nothing behind", function()
      local prefix = server.prefix()
      local url2 = server.start({ workers = 2 })
      assert.are.equal(nil, io.open(prefix .. "/conf/nginx.conf"))   -- old dir removed
      assert.are.equal(200, (server.http("GET", url2 .. "/_ping")))
      local conf = io.open(server.prefix() .. "/conf/nginx.conf"):read("*a")
      assert.matches("worker_processes 2;", conf, 1, true)

      prefix = server.prefix()
      local pid = io.open(prefix .. "/logs/nginx.pid"):read("*a"):match("%d+")
      server.stop()
      server.stop()
      assert.are.equal(nil, server.base())
      -- The master is gone (or a zombie waiting for its reaper).
      local stat = io.open("/proc/" .. pid .. "/stat")
      if stat then
        assert.are.equal("Z", stat:read("*a"):match("^%d+ %b() (%a)"))
        stat:close()
      end
      assert.are.equal(nil, io.open(prefix .. "/conf/nginx.conf"))
      assert.are.equal(0, (server.http("GET", url2 .. "/_ping", nil, nil, 1)))

      -- And it starts again (the rest of the file, and teardown, expect a server).
      base = server.start()
      assert.are.equal(200, (server.http("GET", "/_ping")))
    end)
  end)
end)
