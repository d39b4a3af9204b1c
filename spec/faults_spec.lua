-- Faults: a server that resets, closes early, drips, answers garbage, 50 MB, redirects,
-- refuses, does not resolve, or has a certificate nobody trusts (spec/support/faults.py).
-- Each ends the message with a clear error code, and nothing else breaks: after each, the
-- same client still delivers to /ok and its counters still add up.

local notifyhub = require("notifyhub")
local faults = require("spec.support.faults")
local cjson = require("cjson")

local now = notifyhub.now

-- Resident memory of this process, in MB (VmRSS of /proc/self/status).
local function rss_mb()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmRSS:%s+(%d+)")
    if kb then return tonumber(kb) / 1024 end
  end
  error("no VmRSS in /proc/self/status")
end

local function assert_adds_up(s)
  assert.equal(s.submitted, s.queued + s.in_flight + s.waiting + s.succeeded + s.failed
    + s.cancelled + s.timed_out, cjson.encode(s))
end

describe("faults", function()
  local f

  setup(function() f = faults.start() end)
  teardown(function() faults.stop() end)

  -- A generic webhook client for url; http overrides merged over { timeout = 2 }.
  local function webhook(url, http, extra)
    local h = { timeout = 2 }
    for k, v in pairs(http or {}) do h[k] = v end
    local cfg = { webhook = { url = url }, http = h, retry = { max_attempts = 1 } }
    for k, v in pairs(extra or {}) do cfg[k] = v end
    return notifyhub.new(cfg)
  end

  -- send, expecting a failure with code; returns err, receipt.
  local function fails_with(c, code, msg)
    local ok, err, got, receipt = c:send(msg or { body = "x" })
    assert.is_nil(ok, "expected " .. code .. ", it was delivered")
    assert.equal(code, got, tostring(err))
    assert.is_string(err)
    assert.equal("failed", receipt.status)
    assert.equal(code, receipt.code)
    assert.equal(1, receipt.failed)
    local r = receipt.results[1]
    assert.is_false(r.success)
    assert.equal(code, r.code)
    assert.equal(1, r.attempts)
    return err, receipt
  end

  -- The same client still delivers to the well-behaved /ok (a target override of the
  -- platform), its counters add up and nothing is left running.
  local function still_delivers(c, platform, path)
    platform = platform or "webhook"
    local receipt, err, code = c:send({ body = "after", targets = {
      { platform = platform, value = f.base .. (path or "/ok") } } })
    assert.is_table(receipt, "after the fault: " .. tostring(err) .. " " .. tostring(code))
    assert.equal("success", receipt.status)
    assert.equal(200, receipt.results[1].http_status)
    local s = c:stats()
    assert_adds_up(s)
    assert.equal(0, s.queued + s.in_flight + s.waiting)
    assert.is_true(s.succeeded >= 1)
  end

  it("serves /ok on both ports (the stand-in itself)", function()
    local c = webhook(f.base .. "/ok")
    local receipt = assert(c:send({ body = "x" }))
    assert.equal('{"ok":true}', receipt.results[1].response)
    local t = assert(webhook(f.tls_base .. "/ok", { ca_file = f.ca_file }):send({ body = "x" }))
    assert.equal("success", t.status)
    c:close()
  end)

  it("a connection reset in the middle of the answer is NETWORK", function()
    local c = webhook(f.base .. "/reset")
    local err = fails_with(c, "NETWORK")
    assert.matches("^webhook: ", err)
    assert.matches("reset", err)
    still_delivers(c)
    c:close()
  end)

  it("a connection closed before the status line is NETWORK", function()
    local c = webhook(f.base .. "/close-early")
    local err, receipt = fails_with(c, "NETWORK")
    assert.matches("^webhook: ", err)
    assert.matches("[Ee]mpty reply", err)
    assert.is_nil(receipt.results[1].http_status)
    still_delivers(c)
    -- Also on a kept-alive connection (curl retries a reused connection once on its own;
    -- the second, fresh one is closed as well).
    fails_with(c, "NETWORK")
    still_delivers(c)
    c:close()
  end)

  it("an answer that drips past http.timeout is TIMEOUT, on time", function()
    local c = webhook(f.base .. "/drip", { timeout = 1 })
    local t0 = now()
    local err = fails_with(c, "TIMEOUT")
    local took = now() - t0
    assert.matches("^webhook: ", err)
    assert.is_true(took >= 0.9 and took < 1.9, "took " .. took)
    still_delivers(c)
    c:close()
  end)

  describe("an answer that is not JSON", function()
    it("is a success for the generic webhook (any 2xx)", function()
      local c = webhook(f.base .. "/garbage")
      local r1 = assert(c:send({ body = "x" }))
      assert.equal("success", r1.status)
      assert.equal(200, r1.results[1].http_status)
      c:close()
      c = webhook(f.base .. "/notjson")
      local r2 = assert(c:send({ body = "x" }))
      assert.equal("success", r2.status)
      assert.equal("this is not json", r2.results[1].response)
      still_delivers(c)
      c:close()
    end)

    it("is PLATFORM_REJECTED for Feishu (the answer carries no code)", function()
      for _, path in ipairs({ "/garbage", "/notjson", "/ok" }) do
        local c = notifyhub.new({ feishu = { webhook_url = f.base .. path, rate_limit = false },
          http = { timeout = 2 }, retry = { max_attempts = 1 } })
        local err, receipt = fails_with(c, "PLATFORM_REJECTED")
        assert.matches("^feishu: ", err)
        assert.matches("no code", err)
        assert.equal(200, receipt.results[1].http_status)
        assert.is_nil(receipt.results[1].platform_code)
        still_delivers(c, "feishu", "/feishu-ok")
        c:close()
      end
    end)

    -- README, Receipts: "`response` keeps the first 512 bytes of the answer".
    it("keeps the answer's bytes in the receipt, NUL bytes included", function()
      local c = webhook(f.base .. "/nul")
      local receipt = assert(c:send({ body = "x" }))
      assert.equal("ab\0cd\0e", receipt.results[1].response)
      c:close()
    end)
  end)

  it("a 50 MB answer stops at http.max_response with NETWORK, and memory stays small", function()
    local c = webhook(f.base .. "/huge", { timeout = 10 })
    collectgarbage()
    collectgarbage()
    local before = rss_mb()
    local t0 = now()
    for _ = 1, 5 do
      local err, receipt = fails_with(c, "NETWORK")
      assert.matches("^webhook: ", err)
      assert.matches("larger than 1048576 bytes", err)
      assert.equal(200, receipt.results[1].http_status)
    end
    local took = now() - t0
    collectgarbage()
    collectgarbage()
    local grew = rss_mb() - before
    print(string.format("\n  faults: 5 x 50 MB answers cut at 1 MiB in %.2f s, VmRSS %+.1f MB",
      took, grew))
    assert.is_true(grew < 60, "VmRSS grew by " .. grew .. " MB")
    assert.is_true(took < 5, "took " .. took)
    still_delivers(c)
    c:close()

    -- A larger cap is a cap all the same.
    c = webhook(f.base .. "/huge", { timeout = 10, max_response = 4 * 1024 * 1024 })
    local err = fails_with(c, "NETWORK")
    assert.matches("larger than 4194304 bytes", err)
    c:close()
  end)

  describe("redirects", function()
    it("are not followed by default: a 302 is HTTP_STATUS", function()
      local c = webhook(f.base .. "/redirect-http")
      local before = faults.stats().requests["/ok"] or 0
      local err, receipt = fails_with(c, "HTTP_STATUS")
      assert.matches("302", err)
      assert.equal(302, receipt.results[1].http_status)
      assert.equal(before, faults.stats().requests["/ok"] or 0, "the redirect was followed")
      still_delivers(c)
      c:close()
    end)

    it("to ftp:// are not followed either", function()
      local c = webhook(f.base .. "/redirect-ftp")
      local _, receipt = fails_with(c, "HTTP_STATUS")
      assert.equal(302, receipt.results[1].http_status)
      still_delivers(c)
      c:close()
    end)

    it("with follow_redirects, http is followed and ftp still is not", function()
      local c = webhook(f.base .. "/redirect-http", { follow_redirects = 3 })
      local before = faults.stats().requests["/ok"] or 0
      local receipt = assert(c:send({ body = "x" }))
      assert.equal(200, receipt.results[1].http_status)
      assert.equal(before + 1, faults.stats().requests["/ok"])
      c:close()

      c = webhook(f.base .. "/redirect-ftp", { follow_redirects = 3 })
      -- Another scheme is another origin: the redirect is not followed (and the
      -- Location is not shown).
      local err = fails_with(c, "HTTP_STATUS")
      assert.matches("not followed", err)
      still_delivers(c)
      c:close()
    end)
  end)

  it("a refused connection is NETWORK", function()
    local c = webhook("http://127.0.0.1:" .. f.closed_port .. "/x")
    local err, receipt = fails_with(c, "NETWORK")
    assert.matches("^webhook: ", err)
    assert.is_nil(receipt.results[1].http_status)
    still_delivers(c)
    c:close()
  end)

  it("a host name that does not resolve is NETWORK", function()
    local c = webhook("http://nonexistent.invalid/x")
    local err = fails_with(c, "NETWORK")
    assert.matches("^webhook: ", err)
    assert.matches("resolve", err)
    still_delivers(c)
    c:close()
  end)

  describe("TLS with a self-signed CA", function()
    it("is rejected by default with TLS", function()
      local c = webhook(f.tls_base .. "/ok")
      local err = fails_with(c, "TLS")
      assert.matches("^webhook: ", err)
      assert.matches("certificate", err)
      still_delivers(c)
      c:close()
    end)

    it("is accepted with http.ca_file", function()
      local c = webhook(f.tls_base .. "/ok", { ca_file = f.ca_file })
      local receipt = assert(c:send({ body = "x" }))
      assert.equal("success", receipt.status)
      assert.equal('{"ok":true}', receipt.results[1].response)
      -- localhost is in the certificate too.
      local r2 = assert(c:send({ body = "x", targets = { { platform = "webhook",
        value = f.tls_base:gsub("127%.0%.0%.1", "localhost") .. "/ok" } } }))
      assert.equal("success", r2.status)
      still_delivers(c)
      c:close()
    end)

    it("is accepted with http.verify_tls = false", function()
      local c = webhook(f.tls_base .. "/ok", { verify_tls = false })
      local receipt = assert(c:send({ body = "x" }))
      assert.equal("success", receipt.status)
      still_delivers(c)
      c:close()
    end)

    it("faults behind TLS end the same way", function()
      local c = webhook(f.tls_base .. "/reset", { ca_file = f.ca_file, timeout = 1 })
      fails_with(c, "NETWORK")
      local cases = { ["/close-early"] = "NETWORK", ["/huge"] = "NETWORK",
        ["/drip"] = "TIMEOUT", ["/redirect-http"] = "HTTP_STATUS" }
      for path, code in pairs(cases) do
        fails_with(c, code, { body = "x", targets = { { platform = "webhook",
          value = f.tls_base .. path } } })
      end
      still_delivers(c)
      c:close()
    end)
  end)

  it("every fault at once on one client: each its own code, one callback each", function()
    local c = webhook(f.base .. "/ok", { timeout = 1 },
      { async = { workers = 2, concurrency = 8 } })
    local closed = "http://127.0.0.1:" .. f.closed_port .. "/x"
    local cases = {
      { f.base .. "/ok" }, { f.base .. "/reset", "NETWORK" },
      { f.base .. "/close-early", "NETWORK" }, { f.base .. "/drip", "TIMEOUT" },
      { f.base .. "/garbage" }, { f.base .. "/notjson" },
      { f.base .. "/huge", "NETWORK" }, { f.base .. "/redirect-http", "HTTP_STATUS" },
      { f.base .. "/redirect-ftp", "HTTP_STATUS" }, { closed, "NETWORK" },
      { "http://nonexistent.invalid/x", "NETWORK" }, { f.tls_base .. "/ok", "TLS" },
    }
    local seen = {}
    for i, case in ipairs(cases) do
      seen[i] = {}
      assert(c:send_async({ body = "m" .. i,
        targets = { { platform = "webhook", value = case[1] } } }))
        :on_complete(function() seen[i][#seen[i] + 1] = "ok" end)
        :on_error(function(_, _, receipt) seen[i][#seen[i] + 1] = receipt.code end)
    end
    assert.is_true(c:wait_all(10))
    for i, case in ipairs(cases) do
      assert.same({ case[2] or "ok" }, seen[i], case[1])
    end
    local s = c:stats()
    assert_adds_up(s)
    assert.equal(#cases, s.submitted)
    local good = 0
    for _, case in ipairs(cases) do
      if not case[2] then good = good + 1 end
    end
    assert.equal(good, s.succeeded)
    assert.equal(#cases - good, s.failed)
    still_delivers(c)
    assert.equal(0, c:close())
  end)
end)
