-- overflow = "split" / "truncate" on large bodies: the planner is linear (a 10 MB body
-- plans in well under the seconds a quadratic one takes), and a body over 64 KB
-- (NH_PLAN_SYNC_MAX) is planned by the worker, off the caller's thread: send_async
-- returns at once, and overflow = "error" then ends the handle with INVALID_MESSAGE
-- instead of returning nil. Timing goals live in bench/split.lua; the bounds here are
-- generous and only catch quadratic work or planning on the caller.

local notifyhub = require("notifyhub")
local server = require("spec.support.server")
local system = require("system")
local cjson = require("cjson")

local MB = 1024 * 1024
local LINE = "the quick brown fox jumps over the lazy dog 0123456789 & <tag>\n"

local function body_of(bytes)
  return string.rep(LINE, math.floor(bytes / #LINE))
end

-- A loopback port with nothing behind it: connections are refused at once (no nginx).
local DEAD = "http://127.0.0.1:9"

local function dead_client(platform, overflow, extra)
  local cfg = { retry = { max_attempts = 1 } }
  if platform == "slack" then
    cfg.slack = { webhook_url = DEAD .. "/services/T/B/tok", overflow = overflow }
  elseif platform == "telegram" then
    cfg.telegram = { token = "1:tok", chat_id = "1", api_url = DEAD, overflow = overflow }
  end
  for k, v in pairs(extra or {}) do cfg[k] = v end
  return notifyhub.new(cfg)
end

-- send_async timed on the caller, then wait: caller seconds, total seconds, and the
-- result (the receipt's first result, success or not).
local function timed_send(c, msg)
  local t0 = system.monotime()
  local h, err, code = c:send_async(msg)
  local caller = system.monotime() - t0
  assert(h, tostring(err) .. " " .. tostring(code))
  local ok, _, _, failed = h:wait(60)
  return caller, system.monotime() - t0, (ok or failed).results[1]
end

local function unescape_slack(s)
  return (s:gsub("&lt;", "<"):gsub("&gt;", ">"):gsub("&amp;", "&"))
end

describe("overflow on large bodies", function()
  it("splits 10 MB for Slack and Telegram off the caller's thread, in linear time", function()
    for _, platform in ipairs({ "slack", "telegram" }) do
      local c = dead_client(platform, "split")
      local caller, total, r = timed_send(c, { title = "big", body = body_of(10 * MB) })
      -- Before: 10 to 190 s, all of it inside send_async.
      assert.is_true(caller < 1, platform .. ": send_async took " .. caller .. " s")
      assert.is_true(total < 10, platform .. ": planning took " .. total .. " s")
      assert.equal("NETWORK", r.code)                         -- the dead port: part 1 failed
      assert.is_true(r.parts > (platform == "slack" and 250 or 2500), tostring(r.parts))
      assert.equal(0, r.parts_sent)
      c:close()
    end
  end)

  it("truncates 10 MB off the caller's thread", function()
    local c = dead_client("slack", "truncate")
    local caller, total, r = timed_send(c, { title = "big", body = body_of(10 * MB) })
    assert.is_true(caller < 1, "send_async took " .. caller .. " s")
    assert.is_true(total < 10, "planning took " .. total .. " s")
    assert.equal("NETWORK", r.code)
    c:close()
  end)

  it("ends a body over 64 KB with overflow = error through the handle", function()
    local c = dead_client("slack", "error")
    local h, err = c:send_async({ body = body_of(200 * 1024) })
    assert(h, err)                                            -- before: nil, err, INVALID_MESSAGE
    local ok, werr, code, receipt = h:wait(10)
    assert.is_nil(ok)
    assert.equal("INVALID_MESSAGE", code)
    assert.matches("slack: the message is %d+ characters, over the limit of 40000", werr)
    assert.equal("INVALID_MESSAGE", receipt.results[1].code)
    assert.equal(0, receipt.results[1].attempts)
    c:close()
  end)

  it("lets a body over 64 KB with overflow = error fail alone in a batch", function()
    local c = dead_client("slack", "error")
    local batch = assert(c:send_async_batch({ { body = "small" }, { body = body_of(200 * 1024) } }))
    local ok, _, _, receipts = batch:wait(10)
    assert.is_nil(ok)
    assert.equal("NETWORK", receipts[1].results[1].code)       -- sent (to the dead port)
    assert.equal("INVALID_MESSAGE", receipts[2].results[1].code)
    c:close()
  end)

  it("still refuses at once a body up to 64 KB over the limit with overflow = error", function()
    local c = dead_client("slack", "error")
    local body = body_of(60 * 1024)
    assert.is_true(#body > 40000 and #body <= 64 * 1024)
    local h, err, code = c:send_async({ body = body })
    assert.is_nil(h)
    assert.equal("INVALID_MESSAGE", code)
    assert.matches("over the limit of 40000", err)
    c:close()
  end)

  it("plans a large body in direct mode and with async.enabled = false", function()
    for _, async in ipairs({ { use_pool = false }, { enabled = false } }) do
      local c = dead_client("telegram", "split", { async = async })
      local _, _, r = timed_send(c, { body = body_of(MB) })
      assert.equal("NETWORK", r.code)
      assert.is_true(r.parts > 250, tostring(r.parts))
      c:close()
      c = dead_client("telegram", "error", { async = async })
      local h = assert(c:send_async({ body = body_of(MB) }))
      local _, _, code = h:wait(10)
      assert.equal("INVALID_MESSAGE", code)
      c:close()
    end
  end)

  describe("delivered", function()
    setup(function() server.start() end)
    teardown(function() server.stop() end)
    before_each(function() server.clear() end)

    it("splits 2 MB for Slack into parts within 40,000 characters that rebuild the body", function()
      local hook = server.url("/services/T000/B000/bigsplit")
      local c = notifyhub.new({ slack = { webhook_url = hook, overflow = "split", rate_limit = false } })
      local body = body_of(2 * MB)
      local receipt = assert(c:send({ title = "Report", body = body }))
      local reqs = server.requests("/services/T000/B000/bigsplit")
      assert.equal(#reqs, receipt.results[1].parts)
      assert.equal(#reqs, receipt.results[1].parts_sent)
      local pieces = {}
      for i, req in ipairs(reqs) do
        local text = cjson.decode(req.body).text
        assert.is_true(#text <= 40000, i .. ": " .. #text)
        assert.is_true(#text > 30000 or i == #reqs, i .. ": " .. #text)   -- parts are full
        assert.equal("*Report*\n", text:sub(1, 9))
        local piece = unescape_slack(text:sub(10))
        assert.equal("\n", piece:sub(-1))                    -- cut after a line
        pieces[i] = piece
      end
      assert.equal(body, table.concat(pieces))
      c:close()
    end)

    it("truncates 2 MB for Slack to a prefix that ends with U+2026", function()
      local hook = server.url("/services/T000/B000/bigcut")
      local c = notifyhub.new({ slack = { webhook_url = hook, rate_limit = false } })
      local body = body_of(2 * MB)
      assert(c:send({ body = body }))
      local reqs = server.requests("/services/T000/B000/bigcut")
      assert.equal(1, #reqs)
      local text = cjson.decode(reqs[1].body).text
      assert.is_true(#text - 2 <= 40000 and #text > 39000, tostring(#text))   -- "…" is 1 of 3 bytes
      assert.equal("\u{2026}", text:sub(-3))
      local kept = unescape_slack(text:sub(1, -4))
      assert.equal(body:sub(1, #kept), kept)
      c:close()
    end)

    it("plans in the core what a C caller did not plan", function()
      local p = assert(io.popen("build/core_driver plan " .. server.url("/api/webhooks/1/tok")
        .. " 2>&1"))
      local out = p:read("*a")
      p:close()
      assert.matches("small split: submit=OK result=OK parts=3\n", out, 1, true)
      assert.matches("small error: submit=INVALID_MESSAGE\n", out, 1, true)
      assert.matches("large split: submit=OK result=OK parts=50\n", out, 1, true)
      assert.matches("large error: submit=OK result=INVALID_MESSAGE parts=0\n", out, 1, true)
    end)
  end)
end)
