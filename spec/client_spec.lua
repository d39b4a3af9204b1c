-- The client's semantics against a real nginx on loopback: delivery,
-- failures, the queue bound, close, callbacks, many messages, garbage
-- collection. The server is spec/support (started and stopped here).

local notifyhub = require("notifyhub")
local server = require("spec.support.server")
local cjson = require("cjson")
local system = require("system")

local function webhook_client(path, overrides)
  local cfg = { webhook = { url = server.url(path) }, http = { timeout = 5 } }
  for k, v in pairs(overrides or {}) do cfg[k] = v end
  return notifyhub.new(cfg)
end

describe("client", function()
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() server.clear() end)

  it("delivers a message and the server receives the exact JSON", function()
    local c = webhook_client("/webhook/exact")
    local receipt = assert(c:send({
      id = "msg-1", title = "Disk", body = "/var is 91% full", priority = "high",
      metadata = { host = "db1", tags = { "disk", "prod" }, level = 3 },
    }))
    assert.equal("success", receipt.status)
    assert.equal("msg-1", receipt.message_id)
    assert.same({ total = 1, successful = 1, failed = 0 },
      { total = receipt.total, successful = receipt.successful, failed = receipt.failed })
    local r = receipt.results[1]
    assert.is_true(r.success)
    assert.equal("webhook", r.platform)
    assert.equal(200, r.http_status)
    assert.equal(1, r.attempts)
    assert.equal('{"ok":true}', r.response)
    local reqs = server.requests("/webhook/exact")
    assert.equal(1, #reqs)
    assert.equal("POST", reqs[1].method)
    assert.equal("application/json; charset=utf-8", reqs[1].headers["content-type"])
    assert.equal('{"id":"msg-1","title":"Disk","body":"/var is 91% full","format":"text",'
      .. '"priority":"high","metadata":{"host":"db1","level":3,"tags":["disk","prod"]}}',
      reqs[1].body)
    c:close()
  end)

  it("substitutes {{variables}} in title and body before sending", function()
    local c = webhook_client("/webhook/vars")
    assert(c:send({ id = "v1", title = "{{svc}} down", body = "since {{ when }}",
      variables = { svc = "api", when = "09:00" } }))
    local body = cjson.decode(server.requests("/webhook/vars")[1].body)
    assert.equal("api down", body.title)
    assert.equal("since 09:00", body.body)
    c:close()
  end)

  it("uses the configured method and headers", function()
    local c = notifyhub.new({ webhook = { url = server.url("/webhook/put"), method = "PUT",
      headers = { ["X-Team"] = "ops", Authorization = "Bearer abc" } } })
    assert(c:send({ body = "hello" }))
    local req = server.requests("/webhook/put")[1]
    assert.equal("PUT", req.method)
    assert.equal("ops", req.headers["x-team"])
    assert.equal("Bearer abc", req.headers["authorization"])
    c:close()
  end)

  it("reports an HTTP error status through on_error with HTTP_STATUS", function()
    local c = webhook_client("/webhook/fail?status=500")
    local seen
    local h = c:send_async({ body = "x" })
    h:on_complete(function() seen = "complete" end)
     :on_error(function(msg, err, receipt) seen = { msg = msg, err = err, receipt = receipt } end)
    local ok, err, code, receipt = h:wait()
    assert.is_nil(ok)
    assert.equal("HTTP_STATUS", code)
    assert.matches("HTTP status 500", err)
    assert.equal(500, receipt.results[1].http_status)
    assert.equal("x", seen.msg.body)
    assert.equal(err, seen.err)
    assert.equal("failed", seen.receipt.status)
    c:close()
  end)

  it("reports a refused connection as NETWORK", function()
    local c = notifyhub.new({ webhook = { url = "http://127.0.0.1:9/refused" } })
    local ok, err, code = c:send({ body = "x" })
    assert.is_nil(ok)
    assert.equal("NETWORK", code)
    assert.matches("webhook:", err)
    c:close()
  end)

  it("reports a server slower than http.timeout as TIMEOUT", function()
    local c = webhook_client("/webhook/slow?delay=2", { http = { timeout = 0.3 },
      retry = { max_attempts = 1 } })
    local t0 = system.gettime()
    local ok, _, code = c:send({ body = "x" })
    local took = system.gettime() - t0
    assert.is_nil(ok)
    assert.equal("TIMEOUT", code)
    assert.is_true(took < 1.5, "took " .. took)
    c:close()
  end)

  it("answers QUEUE_FULL at once when the queue is full and timeout is 0", function()
    local c = webhook_client("/webhook/full?delay=0.5",
      { async = { workers = 1, max_workers = 1, concurrency = 1, buffer_size = 2, timeout = 0 } })
    local handles, full = {}, 0
    for i = 1, 6 do
      local h, err, code = c:send_async({ body = "m" .. i })
      if h then handles[#handles + 1] = h
      else
        assert.equal("QUEUE_FULL", code)
        assert.matches("queue is full", err)
        full = full + 1
      end
    end
    -- One in flight and two queued fit; the rest is refused, none dropped.
    assert.is_true(full >= 3, "full " .. full)
    assert.equal(6, #handles + full)
    assert.is_true(c:wait_all(5))
    for _, h in ipairs(handles) do assert.equal("success", h:status()) end
    assert.equal(#handles, #server.requests("/webhook/full"))
    c:close()
  end)

  it("waits up to async.timeout for room, then answers QUEUE_FULL", function()
    local c = webhook_client("/webhook/fullwait?delay=1",
      { async = { workers = 1, max_workers = 1, concurrency = 1, buffer_size = 1, timeout = 0.2 } })
    assert(c:send_async({ body = "a" }))
    system.sleep(0.1)                 -- the worker takes "a"
    assert(c:send_async({ body = "b" }))
    local t0 = system.gettime()
    local h, _, code = c:send_async({ body = "c" })
    local took = system.gettime() - t0
    assert.is_nil(h)
    assert.equal("QUEUE_FULL", code)
    assert.is_true(took >= 0.15 and took < 0.9, "took " .. took)
    c:close(0)
  end)

  it("close() finishes what it can, cuts off the rest with CLOSED and joins", function()
    local c = webhook_client("/webhook/close?delay=2",
      { async = { workers = 1, max_workers = 1, concurrency = 1, buffer_size = 10 } })
    local errors, completes = {}, 0
    for i = 1, 5 do
      c:send_async({ body = "m" .. i })
       :on_complete(function() completes = completes + 1 end)
       :on_error(function(_, _, receipt) errors[#errors + 1] = receipt.code end)
    end
    local t0 = system.gettime()
    local cut = c:close(0.3)
    local took = system.gettime() - t0
    assert.equal(5, cut)
    assert.equal(0, completes)
    assert.same({ "CLOSED", "CLOSED", "CLOSED", "CLOSED", "CLOSED" }, errors)
    assert.is_true(took < 1.5, "took " .. took)
    local s = c:stats()
    assert.equal(0, s.workers)
    assert.equal(5, s.closed)
    local h, _, code = c:send_async({ body = "late" })
    assert.is_nil(h)
    assert.equal("CLOSED", code)
    assert.equal(0, c:close())         -- twice is fine
  end)

  it("close() with room on the deadline delivers everything", function()
    local c = webhook_client("/webhook/drain?delay=0.1", { async = { workers = 2 } })
    local done = 0
    for i = 1, 20 do
      c:send_async({ body = "m" .. i }):on_complete(function() done = done + 1 end)
    end
    assert.equal(0, c:close(5))
    assert.equal(20, done)
    assert.equal(20, #server.requests("/webhook/drain"))
  end)

  it("logs an error raised in a callback and runs the other callbacks", function()
    local logs = {}
    local c = webhook_client("/webhook/cb", { logger = { level = "error",
      handler = function(level, text) logs[#logs + 1] = level .. ": " .. text end } })
    local ran = {}
    local h1 = c:send_async({ body = "1" })
      :on_complete(function() error("boom in callback") end)
      :on_complete(function() ran[#ran + 1] = "h1 second" end)
    local h2 = c:send_async({ body = "2" }):on_complete(function() ran[#ran + 1] = "h2" end)
    assert(h1:wait())
    assert(h2:wait())
    table.sort(ran)
    assert.same({ "h1 second", "h2" }, ran)
    assert.equal(1, #logs)
    assert.matches("^error: callback raised: .*boom in callback", logs[1])
    c:close()
  end)

  it("accounts for every one of 10,000 async messages", function()
    local c = webhook_client("/webhook/many", { async = { buffer_size = 10000, workers = 4 } })
    local completes, errors, calls = 0, 0, {}
    for i = 1, 10000 do
      local h = assert(c:send_async({ body = tostring(i) }))
      h:on_complete(function() completes = completes + 1; calls[i] = (calls[i] or 0) + 1 end)
       :on_error(function() errors = errors + 1; calls[i] = (calls[i] or 0) + 1 end)
    end
    assert.is_true(c:wait_all(60))
    assert.equal(10000, completes + errors)
    assert.equal(10000, completes)
    for i = 1, 10000 do assert.equal(1, calls[i]) end
    local s = c:stats()
    assert.equal(10000, s.submitted)
    assert.equal(10000, s.succeeded)
    assert.equal(0, s.failed + s.queued + s.in_flight + s.pending)
    assert.equal(10000, server.count("/webhook/many"))
    c:close()
  end)

  it("waits on several handles in any order and returns the same receipt", function()
    local c = webhook_client("/webhook/order")
    local slow = c:send_async({ body = "slow", targets = { { platform = "webhook",
      value = server.url("/webhook/order?delay=0.3") } } })
    local fast = c:send_async({ body = "fast" })
    local failing = c:send_async({ body = "bad", targets = { { platform = "webhook",
      value = server.url("/webhook/order?status=404") } } })
    local r1 = assert(slow:wait())
    assert.equal("success", fast:status())         -- finished while waiting on slow
    local r2 = assert(fast:wait())
    assert.is_nil(failing:wait())
    assert.equal(r1, slow:wait())                  -- the same table again
    assert.equal(r2, fast:wait())
    local _, _, code = failing:wait()
    assert.equal("HTTP_STATUS", code)
    c:close()
  end)

  it("runs a callback registered after the handle finished at once", function()
    local c = webhook_client("/webhook/late")
    local h = c:send_async({ body = "x" })
    assert(h:wait())
    local got
    h:on_error(function() got = "error" end):on_complete(function(r) got = r.status end)
    assert.equal("success", got)
    c:close()
  end)

  it("wait() with a timeout returns TIMEOUT and the message goes on", function()
    local c = webhook_client("/webhook/waitto?delay=0.5")
    local h = c:send_async({ body = "x" })
    local ok, _, code = h:wait(0.05)
    assert.is_nil(ok)
    assert.equal("TIMEOUT", code)
    assert(h:wait(5))
    local _, err, code2 = h:wait(-1)
    assert.equal("INVALID_ARGUMENT", code2)
    assert.matches("timeout must be >= 0", err)
    assert.has_error(function() h:wait("soon") end,
      "bad argument #1 to 'wait' (number expected, got string)")
    c:close()
  end)

  it("a client dropped without close ends its messages and its threads", function()
    local errors = {}
    -- In a function of its own, so no stack slot of this one keeps it alive.
    local function send_and_drop()
      local c = webhook_client("/webhook/dropped?delay=3", { async = { workers = 2 } })
      for i = 1, 3 do
        c:send_async({ body = "m" .. i }):on_error(function(_, _, r) errors[#errors + 1] = r.code end)
      end
    end
    send_and_drop()
    local t0 = system.gettime()
    collectgarbage()
    collectgarbage()
    local took = system.gettime() - t0
    assert.same({ "CLOSED", "CLOSED", "CLOSED" }, errors)
    assert.is_true(took < 2.5, "took " .. took)
  end)

  it("fire-and-forget handles do not pile up completions", function()
    local c = webhook_client("/webhook/forget", { async = { buffer_size = 5000 } })
    local function send_many()
      for i = 1, 3000 do c:send_async({ body = tostring(i) }) end
    end
    send_many()
    local deadline = system.gettime() + 20
    while c:stats().succeeded < 3000 and system.gettime() < deadline do system.sleep(0.05) end
    collectgarbage()
    collectgarbage()
    -- Nobody polled: the handles are gone, so the next submit drops their
    -- records instead of keeping 3000 of them for a poll that never comes.
    assert(c:send_async({ body = "one more" }))
    local s = c:stats()
    assert.equal(3001, s.submitted)
    assert.is_true(s.completed_unread <= 300, "unread " .. s.completed_unread)
    assert.is_true(s.dropped + (3000 - s.completed_unread) >= 2700)
    c:close()
  end)

  it("exposes a file descriptor that becomes readable on completion", function()
    local c = webhook_client("/webhook/fd")
    local fd = c:fd()
    assert.is_number(fd)
    assert.is_true(fd >= 0)
    local h = c:send_async({ body = "x" })
    assert.is_true(c.core:wait(5))     -- the same fd, polled in C
    assert.equal(1, c:poll())
    assert.equal("success", h:status())
    c:close()
  end)

  it("direct mode makes one thread per message", function()
    local c = webhook_client("/webhook/direct", { async = { use_pool = false } })
    for i = 1, 10 do c:send_async({ body = tostring(i) }) end
    assert.is_true(c:wait_all(10))
    local s = c:stats()
    assert.equal(10, s.threads_created)
    assert.equal(10, s.succeeded)
    c:close()
  end)

  it("async.enabled = false sends on the calling thread", function()
    local c = webhook_client("/webhook/sync", { async = { enabled = false } })
    local h = c:send_async({ body = "x" })
    assert.equal("success", h:status())
    assert.equal(0, c:stats().threads_created)
    assert.equal(1, #server.requests("/webhook/sync"))
    c:close()
  end)

  it("fans one message out to several targets, with partial status", function()
    local c = webhook_client("/webhook/fan")
    local ok, err, code, receipt = c:send({ body = "x", targets = {
      { platform = "webhook" },
      { platform = "webhook", value = server.url("/webhook/fan2?status=503") },
    } })
    assert.is_nil(ok)
    assert.equal("HTTP_STATUS", code)
    assert.matches("503", err)
    assert.equal("partial", receipt.status)
    assert.equal(1, receipt.successful)
    assert.equal(1, receipt.failed)
    c:close()
  end)

  it("never shows the URL's token in receipts, errors or tostring", function()
    local secret_url = server.url("/webhook/TOKEN-abc123secret?key=SUPERSECRET&status=500")
    local c = notifyhub.new({ webhook = { url = secret_url } })
    local _, err, _, receipt = c:send({ body = "x" })
    local text = err .. cjson.encode(receipt) .. tostring(c)
    assert.is_nil(text:find("abc123secret", 1, true))
    assert.is_nil(text:find("SUPERSECRET", 1, true))
    assert.matches("/webhook/%*%*%*%?key=%*%*%*", receipt.results[1].target)
    c:close()
  end)

  if _VERSION == "Lua 5.4" then
    it("closes a client and waits a handle with <close> (Lua 5.4)", function()
      local chunk = assert(load([[
        local notifyhub, url = ...
        local done
        do
          local c <close> = notifyhub.new({ webhook = { url = url } })
          do
            local h <close> = c:send_async({ body = "x" })
            h:on_complete(function() done = "complete" end)
          end
          assert(done == "complete")
          return c
        end
      ]]))
      local c = chunk(notifyhub, server.url("/webhook/tbc"))
      assert.equal("complete", "complete")
      assert.matches("closed", tostring(c))
    end)
  end
end)
