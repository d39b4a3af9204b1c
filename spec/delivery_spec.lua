-- Delivery policy against the loopback server: retries and their backoff,
-- rate limits per destination, deadlines, cancel, priorities, batches, the
-- elastic pool, stats and logging.

local notifyhub = require("notifyhub")
local server = require("spec.support.server")
local system = require("system")
local cjson = require("cjson")

local now = notifyhub.now

local function client(cfg)
  cfg.http = cfg.http or { timeout = 5 }
  return notifyhub.new(cfg)
end

local function hook(token) return server.url("/open-apis/bot/v2/hook/" .. token) end

-- The request times recorded by the server under prefix.
local function arrival_times(prefix)
  local t = {}
  for i, r in ipairs(server.requests(prefix)) do t[i] = r.time end
  return t
end

-- Every state count adds up to what was submitted.
local function assert_adds_up(s)
  assert.equal(s.submitted, s.queued + s.in_flight + s.waiting + s.succeeded + s.failed
    + s.cancelled + s.timed_out, cjson.encode(s))
end

describe("delivery policy", function()
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() server.clear() end)

  describe("retries", function()
    it("retries transient failures and succeeds, with a backoff between attempts", function()
      server.behave("/webhook/flaky", { status = 503, times = 2 })
      local logs = {}
      local c = client({ webhook = { url = server.url("/webhook/flaky") },
        retry = { max_attempts = 4, initial_delay = 0.1, max_delay = 0.2 },
        logger = { level = "info", handler = function(_, text, fields)
          logs[#logs + 1] = { text = text, fields = fields } end } })
      local receipt = assert(c:send({ body = "x" }))
      assert.equal(3, receipt.results[1].attempts)
      assert.equal(3, #server.requests("/webhook/flaky"))
      local s = c:stats()
      assert.equal(2, s.retried)
      assert.equal(2, #logs)
      assert.equal(1, logs[1].fields.attempt)
      assert.equal(2, logs[2].fields.attempt)
      assert.matches("retrying in", logs[1].text)
      c:close()
    end)

    it("fails at once on a permanent error", function()
      server.behave("/webhook/gone", { status = 410 })
      local c = client({ webhook = { url = server.url("/webhook/gone") }, retry = { max_attempts = 5 } })
      local _, _, code, receipt = c:send({ body = "x" })
      assert.equal("HTTP_STATUS", code)
      assert.equal(1, receipt.results[1].attempts)
      assert.equal(0, c:stats().retried)
      c:close()
    end)

    it("does not retry a Feishu code that will not change, and retries 11232", function()
      server.bot("perm", { code = 19024, msg = "Key Words Not Found" })
      local c = client({ feishu = { webhook_url = hook("perm"), rate_limit = false },
        retry = { max_attempts = 3, initial_delay = 0.05 } })
      local _, _, _, r1 = c:send({ body = "x" })
      assert.equal(1, r1.results[1].attempts)
      server.behave("/open-apis/bot/v2/hook/busy", { body = '{"code":11232,"msg":"frequency limited"}', times = 1 })
      local r2 = assert(c:send({ body = "x", targets = { { platform = "feishu", value = hook("busy") } } }))
      assert.equal(2, r2.results[1].attempts)
      c:close()
    end)

    it("follows Retry-After, capped by max_delay", function()
      server.behave("/webhook/later", { status = 429, headers = { ["Retry-After"] = "1" }, times = 1 })
      local c = client({ webhook = { url = server.url("/webhook/later") },
        retry = { max_attempts = 2, initial_delay = 0.01, max_delay = 5 } })
      assert(c:send({ body = "x" }))
      local t = arrival_times("/webhook/later")
      assert.is_true(t[2] - t[1] >= 0.95, "gap " .. (t[2] - t[1]))
      server.clear()
      server.behave("/webhook/capped", { status = 429, headers = { ["Retry-After"] = "30" }, times = 1 })
      local c2 = client({ webhook = { url = server.url("/webhook/capped") },
        retry = { max_attempts = 2, max_delay = 0.2 } })
      local t0 = now()
      assert(c2:send({ body = "x" }))
      assert.is_true(now() - t0 < 2, "took " .. (now() - t0))
      c:close()
      c2:close()
    end)

    it("signs every attempt afresh and keeps the Standard Webhooks id", function()
      local secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
      server.signed("retry", { secret = secret })
      server.behave("/signed/retry", { status = 503, times = 1 })
      local c = client({ webhook = { url = server.url("/signed/retry"), secret = secret },
        retry = { max_attempts = 2, initial_delay = 1.2, max_delay = 1.2 } })
      -- Full jitter can pick a short delay; a 1.2 s cap makes a new second likely,
      -- and the check below does not depend on it.
      local receipt = assert(c:send({ id = "evt_retry_1", body = "x" }))
      assert.equal(204, receipt.results[1].http_status)     -- the receiver verified it
      local reqs = server.requests("/signed/retry")
      assert.equal(2, #reqs)
      assert.equal("evt_retry_1", reqs[1].headers["webhook-id"])
      assert.equal("evt_retry_1", reqs[2].headers["webhook-id"])
      c:close()
    end)

    it("lets a message override the retry policy", function()
      server.behave("/webhook/once", { status = 500 })
      local c = client({ webhook = { url = server.url("/webhook/once") },
        retry = { max_attempts = 5, initial_delay = 0.01, max_delay = 0.02 } })
      local _, _, _, r = c:send_async({ body = "x" }, { retry = { max_attempts = 2 } }):wait()
      assert.equal(2, r.results[1].attempts)
      local _, _, _, r2 = c:send({ body = "x", retry = { max_attempts = 1 } })
      assert.equal(1, r2.results[1].attempts)
      c:close()
    end)

    it("frees the transfer slot while a message waits for its retry", function()
      -- Retry-After makes the wait exactly 1 s (full jitter alone could pick 0).
      server.behave("/webhook/slot-a", { status = 503, times = 1, headers = { ["Retry-After"] = "1" } })
      local c = client({ webhook = { url = server.url("/webhook/slot-a") },
        async = { workers = 1, max_workers = 1, concurrency = 1 },
        retry = { max_attempts = 2, initial_delay = 1, max_delay = 1 } })
      local order = {}
      local a = c:send_async({ body = "a" }):on_complete(function() order[#order + 1] = "a" end)
      system.sleep(0.1)                                     -- a failed, waits up to 1 s
      local b = c:send_async({ body = "b", targets = { { platform = "webhook",
        value = server.url("/webhook/slot-b") } } }):on_complete(function() order[#order + 1] = "b" end)
      assert(b:wait(5))
      assert(a:wait(5))
      -- b went out while a waited, on the only transfer slot there is.
      assert.same({ "b", "a" }, order)
      c:close()
    end)
  end)

  describe("rate limits", function()
    it("keeps 20 messages to one Feishu bot at 5 in any second", function()
      local c = client({ feishu = { webhook_url = hook("limited") }, async = { buffer_size = 100 } })
      for i = 1, 20 do c:send_async({ body = "m" .. i }) end
      assert.is_true(c:wait_all(20))
      local t = arrival_times("/open-apis/bot/v2/hook/limited")
      assert.equal(20, #t)
      table.sort(t)
      for i = 6, #t do
        assert.is_true(t[i] - t[i - 5] >= 1.0, ("requests %d and %d %.3f s apart"):format(i - 5, i, t[i] - t[i - 5]))
      end
      assert.is_true(t[20] - t[1] >= 3.0)                   -- 20 at 5/s
      assert.equal(20, c:stats().succeeded)
      c:close()
    end)

    it("does not slow 20 messages to 20 different bots", function()
      local c = client({ feishu = { webhook_url = hook("b0") } })
      local t0 = now()
      for i = 1, 20 do
        c:send_async({ body = "x", targets = { { platform = "feishu", value = hook("b" .. i) } } })
      end
      assert.is_true(c:wait_all(10))
      assert.is_true(now() - t0 < 1.0, "took " .. (now() - t0))
      c:close()
    end)

    it("lets other destinations pass while one waits for its limit", function()
      local c = client({ feishu = { webhook_url = hook("slowbot"), rate_limit = { per_second = 1 } },
        async = { workers = 1, max_workers = 1, concurrency = 4 } })
      for i = 1, 3 do c:send_async({ body = "limited " .. i }) end
      local t0 = now()
      local other = c:send_async({ body = "free", targets = { { platform = "feishu", value = hook("freebot") } } })
      assert(other:wait(5))
      assert.is_true(now() - t0 < 0.5, "the other bot waited " .. (now() - t0))
      assert.is_true(c:stats().waiting >= 1)
      assert.is_true(c:wait_all(10))
      c:close()
    end)

    it("forgets destinations whose windows have passed, however many there were", function()
      local c = client({ feishu = { webhook_url = hook("d0"), rate_limit = { per_second = 1 } },
        async = { buffer_size = 1000 } })
      local function wave(name, n)
        local t0 = now()
        for i = 1, n do
          c:send_async({ body = "x", targets = { { platform = "feishu", value = hook(name .. i) } } })
        end
        assert.is_true(c:wait_all(20))
        return now() - t0
      end
      local took = wave("first", 300)
      local count = c:stats().rate_destinations
      assert.is_true(count > 0 and count <= 300)
      if took < 0.8 then assert.equal(300, count) end   -- all still inside their 1 s windows
      system.sleep(1.2)                               -- every window of the first wave is over
      wave("second", 260)                             -- 260 calls sweep all 256 buckets once
      assert.is_true(c:stats().rate_destinations <= 260, "kept " .. c:stats().rate_destinations)
      assert.equal(560, c:stats().succeeded)
      c:close()
    end)

    it("can be turned off or set per target", function()
      local c = client({ feishu = { webhook_url = hook("nolimit"), rate_limit = false } })
      local t0 = now()
      for _ = 1, 12 do c:send_async({ body = "x" }) end
      assert.is_true(c:wait_all(10))
      assert.is_true(now() - t0 < 1.0)
      local t1 = now()
      for _ = 1, 3 do
        c:send_async({ body = "x", targets = { notifyhub.target.feishu({ rate_limit = { per_second = 1 } }) } })
      end
      assert.is_true(c:wait_all(10))
      assert.is_true(now() - t1 >= 1.9)
      c:close()
    end)
  end)

  describe("deadlines", function()
    it("ends a message in flight at its deadline with TIMEOUT", function()
      local c = client({ webhook = { url = server.url("/webhook/slow?delay=3") } })
      local t0 = now()
      local _, _, code = c:send_async({ body = "x" }, { timeout = 0.3 }):wait()
      assert.equal("TIMEOUT", code)
      assert.is_true(now() - t0 < 1.5)
      local s = c:stats()
      assert.equal(1, s.timed_out)
      assert_adds_up(s)
      c:close()
    end)

    it("ends a queued message at its deadline, even when no worker is free", function()
      local c = client({ webhook = { url = server.url("/webhook/busy?delay=2") },
        async = { workers = 1, max_workers = 1, concurrency = 1 } })
      c:send_async({ body = "blocker" })
      local t0 = now()
      local _, err, code = c:send({ body = "late", timeout = 0.3 })
      assert.equal("TIMEOUT", code)
      assert.matches("while it was queued", err)
      assert.is_true(now() - t0 < 1.2, "took " .. (now() - t0))
      c:close(0)
    end)

    it("ends a message waiting for a retry at its deadline", function()
      server.behave("/webhook/never", { status = 503, headers = { ["Retry-After"] = "5" } })
      local c = client({ webhook = { url = server.url("/webhook/never") },
        retry = { max_attempts = 10, initial_delay = 5, max_delay = 5 } })
      local t0 = now()
      local _, err, code = c:send({ body = "x", timeout = 0.5 })
      assert.equal("TIMEOUT", code)
      assert.matches("deadline", err)
      assert.is_true(now() - t0 < 1.5)
      c:close()
    end)

    it("refuses a timeout that is not a positive number", function()
      local c = client({ webhook = { url = server.url("/webhook/x") } })
      local _, _, code = c:send_async({ body = "x", timeout = -1 })
      assert.equal("INVALID_MESSAGE", code)
      assert.has_error(function() c:send_async({ body = "x", timeout = "soon" }) end)
      c:close()
    end)
  end)

  describe("cancel", function()
    it("cancels a queued message, which is never sent", function()
      local c = client({ webhook = { url = server.url("/webhook/cq?delay=1") },
        async = { workers = 1, max_workers = 1, concurrency = 1 } })
      c:send_async({ body = "blocker" })
      local got
      local h = c:send_async({ body = "victim" }):on_error(function(_, _, r) got = r.code end)
      assert.is_true(h:cancel())
      local _, _, code = h:wait(5)
      assert.equal("CANCELLED", code)
      assert.equal("CANCELLED", got)
      assert.is_false(h:cancel())                           -- finished now
      c:wait_all(5)
      for _, r in ipairs(server.requests("/webhook/cq")) do assert.is_nil(r.body:find("victim")) end
      local s = c:stats()
      assert.equal(1, s.cancelled)
      assert_adds_up(s)
      c:close()
    end)

    it("aborts a message in flight", function()
      local c = client({ webhook = { url = server.url("/webhook/cf?delay=3") } })
      local h = c:send_async({ body = "x" })
      system.sleep(0.2)
      local t0 = now()
      assert.is_true(h:cancel())
      local _, err, code = h:wait(5)
      assert.equal("CANCELLED", code)
      assert.matches("in flight", err)
      assert.is_true(now() - t0 < 1, "took " .. (now() - t0))
      c:close()
    end)

    it("cancels a message waiting for its retry", function()
      server.behave("/webhook/cr", { status = 503, headers = { ["Retry-After"] = "10" } })
      local c = client({ webhook = { url = server.url("/webhook/cr") },
        retry = { max_attempts = 5, initial_delay = 10, max_delay = 10 } })
      local h = c:send_async({ body = "x" })
      system.sleep(0.2)
      assert.equal(1, c:stats().waiting)
      local t0 = now()
      assert.is_true(h:cancel())
      local _, _, code = h:wait(5)
      assert.equal("CANCELLED", code)
      assert.is_true(now() - t0 < 1)
      c:close()
    end)
  end)

  describe("priorities", function()
    it("takes urgent and high messages before normal and low ones", function()
      local c = client({ webhook = { url = server.url("/webhook/prio?delay=0.3") },
        async = { workers = 1, max_workers = 1, concurrency = 1, priority_aging = 30 } })
      c:send_async({ body = "blocker" })
      system.sleep(0.05)
      for i = 1, 3 do c:send_async({ body = "low" .. i, priority = "low" }) end
      for i = 1, 2 do c:send_async({ body = "normal" .. i }) end
      c:send_async({ body = "high", priority = "high" })
      c:send_async({ body = "urgent", priority = "urgent" })
      assert.is_true(c:wait_all(10))
      local order = {}
      for i, r in ipairs(server.requests("/webhook/prio")) do order[i] = cjson.decode(r.body).body end
      assert.same({ "blocker", "urgent", "high", "normal1", "normal2", "low1", "low2", "low3" }, order)
      c:close()
    end)

    it("never starves low messages: one that waited past priority_aging goes first", function()
      local c = client({ webhook = { url = server.url("/webhook/starve?delay=0.1") },
        async = { workers = 1, max_workers = 1, concurrency = 1, priority_aging = 0.3 } })
      c:send_async({ body = "low", priority = "low" })
      for i = 1, 15 do c:send_async({ body = "high" .. i, priority = "high" }) end
      assert.is_true(c:wait_all(10))
      local position
      for i, r in ipairs(server.requests("/webhook/starve")) do
        if cjson.decode(r.body).body == "low" then position = i end
      end
      -- The first message goes at once; the low one is taken once it has
      -- waited 0.3 s, after about 3 of the 15 high ones, not after all 15.
      assert.is_true(position <= 6, "low was number " .. tostring(position))
      c:close()
    end)
  end)

  describe("batches", function()
    it("reports progress and completes with the receipts in order", function()
      local c = client({ webhook = { url = server.url("/webhook/batch") } })
      local progress, receipts = {}, nil
      local msgs = {}
      for i = 1, 5 do msgs[i] = { body = "b" .. i } end
      local b = assert(c:send_async_batch(msgs))
      b:on_progress(function(done, total) progress[#progress + 1] = done .. "/" .. total end)
       :on_complete(function(r) receipts = r end)
      local r = assert(b:wait(5))
      assert.same({ "1/5", "2/5", "3/5", "4/5", "5/5" }, progress)
      assert.equal(r, receipts and r)
      for i = 1, 5 do
        assert.equal(b.handles[i].id, receipts[i].message_id)
        assert.equal("success", b.handles[i]:status())
      end
      c:close()
    end)

    it("calls on_error when one message of the batch fails", function()
      local c = client({ webhook = { url = server.url("/webhook/bok") }, retry = { max_attempts = 1 } })
      local got
      local b = c:send_async_batch({ { body = "ok" }, { body = "bad", targets = {
        { platform = "webhook", value = server.url("/webhook/bbad?status=400") } } } })
      b:on_error(function(err, receipts) got = { err = err, n = #receipts } end)
      local ok, err, code, receipts = b:wait(5)
      assert.is_nil(ok)
      assert.equal("HTTP_STATUS", code)
      assert.equal(2, #receipts)
      assert.equal(err, got.err)
      c:close()
    end)

    it("queues a batch whole or not at all", function()
      local c = client({ webhook = { url = server.url("/webhook/whole") },
        async = { buffer_size = 3, workers = 1, max_workers = 1, concurrency = 1 } })
      local msgs = {}
      for i = 1, 4 do msgs[i] = { body = "w" .. i } end
      local b, err, code = c:send_async_batch(msgs)
      assert.is_nil(b)
      assert.equal("QUEUE_FULL", code)
      assert.matches("4 messages do not fit a queue of 3", err)
      local b2, err2, code2 = c:send_async_batch({ { body = "fine" }, { tittle = "typo" } })
      assert.is_nil(b2)
      assert.equal("INVALID_MESSAGE", code2)
      assert.matches("^message 2: ", err2)
      local _, err3, code3 = c:send_async_batch({})
      assert.equal("INVALID_MESSAGE", code3)
      assert.matches("empty", err3)
      assert.equal(0, c:stats().submitted)
      system.sleep(0.1)
      assert.equal(0, #server.requests("/webhook/whole"))
      c:close()
    end)

    it("cancels what is left of a batch", function()
      local c = client({ webhook = { url = server.url("/webhook/bc?delay=1") },
        async = { workers = 1, max_workers = 1, concurrency = 1 } })
      local b = c:send_async_batch({ { body = "1" }, { body = "2" }, { body = "3" } })
      system.sleep(0.1)
      assert.equal(3, b:cancel())
      local _, _, code = b:wait(5)
      assert.equal("CANCELLED", code)
      assert.equal(3, c:stats().cancelled)
      c:close()
    end)
  end)

  describe("the elastic pool", function()
    it("grows while a backlog lasts and shrinks back when idle", function()
      local c = client({ webhook = { url = server.url("/webhook/elastic?delay=0.3") },
        async = { workers = 1, min_workers = 1, max_workers = 4, concurrency = 1,
          grow_after = 0.05, idle_timeout = 0.5, buffer_size = 100 } })
      for i = 1, 24 do c:send_async({ body = tostring(i) }) end
      local peak = 1
      local deadline = now() + 10
      while c:stats().pending > 0 and now() < deadline do
        peak = math.max(peak, c:stats().workers)
        c:poll()
        system.sleep(0.05)
      end
      assert.is_true(c:wait_all(10))
      assert.is_true(peak >= 3, "peak " .. peak)
      local s = c:stats()
      assert.is_true(s.threads_created >= 3)
      assert.equal(4, s.max_workers)
      deadline = now() + 5
      while c:stats().workers > 1 and now() < deadline do system.sleep(0.1) end
      assert.equal(1, c:stats().workers)                   -- back to min_workers
      assert(c:send({ body = "still works" }))
      c:close()
    end)
  end)

  describe("stats and logging", function()
    it("adds up while messages are in every state, and gives latency per platform", function()
      server.behave("/webhook/st-wait", { status = 503, headers = { ["Retry-After"] = "5" } })
      local c = client({ webhook = { url = server.url("/webhook/st-ok") },
        async = { workers = 1, max_workers = 1, concurrency = 1 },
        retry = { max_attempts = 3, initial_delay = 5, max_delay = 5 } })
      assert(c:send({ body = "done" }))
      c:send_async({ body = "waiting", targets = { server.url("/webhook/st-wait") } })
      c:send_async({ body = "in flight", targets = { server.url("/webhook/st-slow?delay=2") } })
      c:send_async({ body = "queued" })
      c:send_async({ body = "cancelled" }):cancel()
      system.sleep(0.3)
      local s = c:stats()
      -- done; waiting for its retry (no slot held); in flight (the one slot); queued; cancelled
      assert.same({ 1, 1, 1, 1, 1 }, { s.succeeded, s.waiting, s.in_flight, s.queued, s.cancelled })
      assert_adds_up(s)
      assert.same({ pending = 1, processing = 2 }, c:queue_stats())
      local l = s.latency.webhook
      assert.equal(1, l.count)
      assert.is_true(l.p50 > 0 and l.p50 <= l.p90 and l.p90 <= l.p99)
      c:close(0)
      assert_adds_up(c:stats())
    end)

    it("logs enqueue, pick and result at debug with their fields", function()
      local logs = {}
      local c = client({ webhook = { url = server.url("/webhook/log") },
        logger = { level = "debug", handler = function(level, text, fields)
          logs[#logs + 1] = { level = level, text = text, fields = fields } end } })
      local h = c:send_async({ id = "log-1", body = "x" })
      assert(h:wait(5))
      c:close()
      local seen = {}
      for _, l in ipairs(logs) do
        if l.fields.message_id == "log-1" then seen[#seen + 1] = l.text end
        assert.equal("debug", l.level)
      end
      assert.matches("message queued", seen[1])
      assert.matches("worker %d+ picked message", seen[2])
      assert.matches("message finished: delivered", seen[3])
      for _, l in ipairs(logs) do
        if l.text:match("picked") then assert.is_number(l.fields.worker_id) end
      end
    end)
  end)
end)
