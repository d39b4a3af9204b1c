-- Receipts back to the producer (issue 15, item 4) and spool.deliver = "any"
-- (the client side of item 2): a message this process accepts and another
-- process delivers still ends here, once, with that process's outcome.
-- The Redis parts run against spec/support/redis.lua's redis-server.

local shell = require("spec.support.shell")
local child = require("spec.support.child")
local server = require("spec.support.server")
local system = require("system")
local notifyhub = require("notifyhub")
local redis = require("spec.support.redis")

local INTERPRETER = os.getenv("NH_SPEC_LUA") or (jit and "luajit" or "lua5.4")
local SECRET = "whsec_RcptSecret8870aaaaaaaaaaaaaaaa"
local TOKEN = "RCPT-SLACK-TOKEN-8871"
local AUTH = "Bearer RCPT-AUTH-8872"

-- ---- consumer processes -------------------------------------------------------

-- Starts a process that delivers from the spool until stopped; returns
-- { pid, stop = file, log }.
local function consumer(r, prefix)
  local stop = os.tmpname()
  os.remove(stop)
  local log = os.tmpname()
  local script = child.script(([[
    local notifyhub = require("notifyhub")
    local system = require("system")
    local c = assert(notifyhub.new({ spool = { redis = %q, prefix = %q, lease = 2 },
      async = { workers = 2, concurrency = 16 } }))
    while not io.open(%q) do
      c:poll()
      system.sleep(0.02)
    end
    c:close(2)
  ]]):format(r.url, prefix, stop), INTERPRETER)
  local pid = shell.trim(shell.capture(("%s%s %s >%s 2>&1 & echo $!"):format(child.preload(),
    INTERPRETER, shell.q(script), shell.q(log))))
  return { pid = assert(tonumber(pid)), stop = stop, log = log, script = script }
end

local function stop_consumer(p)
  shell.write_file(p.stop, "stop")
  local deadline = system.gettime() + 10
  while shell.alive(p.pid) and system.gettime() < deadline do system.sleep(0.05) end
  if shell.alive(p.pid) then shell.execute("kill -9 " .. p.pid) end
  local log = shell.read_file(p.log) or ""
  os.remove(p.stop)
  os.remove(p.log)
  os.remove(p.script)
  return log
end

local prefixes = 0
local function fresh_prefix()
  prefixes = prefixes + 1
  return ("rcpt%d-%d"):format(os.time() % 100000, prefixes)
end

-- ---- specs ----------------------------------------------------------------------

describe("spool.deliver", function()
  local dir
  before_each(function() dir = shell.tmpdir("rcpt") end)
  after_each(function() shell.execute("rm -rf " .. shell.q(dir)) end)

  it("is local or any; anything else raises naming the key", function()
    assert.equals("local", require("notifyhub.config").defaults.spool.deliver)
    assert.error_matches(function()
      notifyhub.new({ spool = { path = dir .. "/a.db", deliver = "all" } })
    end, "spool.deliver: one of local, any expected")
    assert.error_matches(function()
      notifyhub.new({ spool = { path = dir .. "/a.db", deliver = 1 } })
    end, "spool.deliver")
    assert(notifyhub.new({ spool = { path = dir .. "/a.db", deliver = "local" } })):close()
  end)

  it("any with a SQLite spool is refused with INVALID_CONFIG", function()
    local c, err, code = notifyhub.new({ spool = { path = dir .. "/b.db", deliver = "any" } })
    assert.is_nil(c)
    assert.equals("INVALID_CONFIG", code)
    assert.equals('spool.deliver = "any" needs spool.redis', err)
  end)
end)

describe("the spool's writer after stop_taking()", function()
  it("sleeps: no CPU spent while idle", function()
    local dir = shell.tmpdir("rcpt")
    local c = assert(notifyhub.new({ spool = { path = dir .. "/idle.db" } }))
    c.core:stop_taking()
    local cpu = os.clock()
    system.sleep(2)
    cpu = os.clock() - cpu
    c:close()
    shell.execute("rm -rf " .. shell.q(dir))
    assert.is_true(cpu < 0.5, ("%.2f s of CPU in 2 s idle"):format(cpu))
  end)
end)

describe("receipts from another process (Redis)", function()
  local r
  setup(function()
    server.start()
    r = redis.start()
  end)
  teardown(function()
    server.stop()
    redis.cleanup()
  end)
  before_each(function() server.clear() end)

  it("any without async.enabled or spool.messages is refused", function()
    local c, err, code = notifyhub.new({ async = { enabled = false },
      spool = { redis = r.url, prefix = fresh_prefix(), deliver = "any" } })
    assert.is_nil(c)
    assert.equals("INVALID_CONFIG", code)
    assert.equals('spool.deliver = "any" needs async.enabled = true', err)
    c, err, code = notifyhub.new({ spool = { redis = r.url, prefix = fresh_prefix(), deliver = "any",
      messages = false } })
    assert.is_nil(c)
    assert.equals("INVALID_CONFIG", code)
    assert.equals('spool.deliver = "any" needs spool.messages = true', err)
  end)

  it("any: on_complete, on_error and wait see what the other process delivered", function()
    local prefix = fresh_prefix()
    local p = consumer(r, prefix)
    local c = assert(notifyhub.new({ spool = { redis = r.url, prefix = prefix, deliver = "any" },
      retry = { max_attempts = 1 } }))
    c.core:stop_taking()                                   -- only the other process delivers
    local done, failed = {}, {}
    local good = assert(c:send_async({ id = "rcpt-good", body = "x",
      targets = { { platform = "webhook", value = server.url("/webhook/good") } } }))
    good:on_complete(function(receipt) done[#done + 1] = receipt end)
    local bad = assert(c:send_async({ id = "rcpt-bad", body = "x",
      targets = { { platform = "webhook", value = server.url("/webhook/bad?status=404") } } }))
    bad:on_error(function(_, err, receipt) failed[#failed + 1] = { err = err, receipt = receipt } end)
    assert.is_false(bad:cancel())                     -- recorded for any client: not cancellable
    local receipt = assert(good:wait(20))
    assert.equals("success", receipt.status)
    assert.equals(1, receipt.successful)
    local none, err, code, bad_receipt = bad:wait(20)
    assert.is_nil(none)
    assert.equals("HTTP_STATUS", code)
    assert.matches("404", err)
    assert.equals(404, bad_receipt.results[1].http_status)
    assert(c:wait_all(5))
    assert.equals(1, #done)
    assert.equals(1, #failed)
    assert.equals("HTTP_STATUS", failed[1].receipt.code)
    local st = c:stats()
    assert.equals(1, st.succeeded)
    assert.equals(1, st.failed)
    assert.equals(0, st.remote)
    c:close()
    stop_consumer(p)
    assert.equals(1, (server.count("/webhook/good")))
    assert.equals(1, (server.count("/webhook/bad")))
  end)

  it("any: with nobody else on the spool, the producer's own workers deliver", function()
    local c = assert(notifyhub.new({ spool = { redis = r.url, prefix = fresh_prefix(), deliver = "any" } }))
    local hs = {}
    for i = 1, 20 do
      hs[i] = assert(c:send_async({ id = "self-" .. i, body = "x",
        targets = { { platform = "webhook", value = server.url("/webhook/self") } } }))
    end
    for i = 1, 20 do assert.equals("success", assert(hs[i]:wait(20)).status) end
    c:close()
    assert.equals(20, (server.count("/webhook/self")))
  end)

  it("any: a burst of 300 with 2 consumer processes: every handle ends exactly once", function()
    local prefix = fresh_prefix()
    local p1, p2 = consumer(r, prefix), consumer(r, prefix)
    local c = assert(notifyhub.new({ spool = { redis = r.url, prefix = prefix, deliver = "any" },
      async = { buffer_size = 1000 } }))
    c.core:stop_taking()
    local ends, ids = {}, {}
    for i = 1, 300 do
      local id = ("burst-%03d"):format(i)
      ids[i] = id
      local h = assert(c:send_async({ id = id, body = id,
        targets = { { platform = "webhook", value = server.url("/webhook/burst") } } }))
      h:on_complete(function() ends[id] = (ends[id] or 0) + 1 end)
      h:on_error(function() ends[id] = (ends[id] or 0) + 1 end)
    end
    assert(c:wait_all(60))
    local st = c:stats()
    c:close()
    local log1, log2 = stop_consumer(p1), stop_consumer(p2)
    for _, id in ipairs(ids) do assert.equals(1, ends[id], id .. " ended " .. tostring(ends[id])) end
    assert.equals(300, st.succeeded)
    assert.equals(0, st.remote)
    local seen = {}
    for _, q in ipairs(server.requests("/webhook/burst")) do
      for id in q.body:gmatch("burst%-%d%d%d") do seen[id] = true end
    end
    for _, id in ipairs(ids) do assert.is_true(seen[id], id .. " never reached the stand-in") end
    assert.equals("", log1 .. log2)
  end)

  it("any: the deadline passes with no consumer alive: TIMEOUT within deadline + 2 s", function()
    local c = assert(notifyhub.new({ spool = { redis = r.url, prefix = fresh_prefix(), deliver = "any" } }))
    c.core:stop_taking()
    local t0 = system.gettime()
    local h = assert(c:send_async({ id = "late-1", body = "x",
      targets = { { platform = "webhook", value = server.url("/webhook/late") } } }, { timeout = 1 }))
    local errors = 0
    h:on_error(function() errors = errors + 1 end)
    local none, err, code = h:wait(10)
    local took = system.gettime() - t0
    assert.is_nil(none)
    assert.equals("TIMEOUT", code)
    assert.matches("no receipt within the deadline", err)
    assert.is_true(took >= 1 and took < 3.5, "ended after " .. took .. " s")
    c:poll()
    assert.equals(1, errors)
    assert.equals(1, c:stats().timed_out)
    c:close()
    assert.equals(0, (server.count("/webhook/late")))
  end)

  it("any: close() with messages waiting for receipts ends each HANDED_OVER once", function()
    local prefix = fresh_prefix()
    local c = assert(notifyhub.new({ spool = { redis = r.url, prefix = prefix, deliver = "any" } }))
    c.core:stop_taking()
    local codes = {}
    for i = 1, 5 do
      local id = "closing-" .. i
      assert(c:send_async({ id = id, body = "x",
        targets = { { platform = "webhook", value = server.url("/webhook/closing") } } }))
        :on_error(function(_, _, receipt) codes[id] = (codes[id] or "") .. receipt.code end)
    end
    assert.equals(5, c:stats().remote)
    local lost = c:close(0.3)
    assert.equals(0, lost)
    for i = 1, 5 do assert.equals("HANDED_OVER", codes["closing-" .. i]) end
    assert.equals(5, c:stats().handed_over)
    -- the records stay for another client, which delivers them
    local p = consumer(r, prefix)
    server.wait_for(5, "/webhook/closing", 20)
    stop_consumer(p)
    assert.equals(5, (server.count("/webhook/closing")))
  end)

  it("receipts carry no secret: URL token, signing secret, header value", function()
    local prefix = fresh_prefix()
    local p = consumer(r, prefix)
    server.behave("/webhook/", { status = 400, body = "{{echo}}" })
    server.behave("/services/", { status = 400, body = "{{echo}}" })
    local logs = {}
    local c = assert(notifyhub.new({ spool = { redis = r.url, prefix = prefix, deliver = "any" },
      retry = { max_attempts = 1 },
      logger = { level = "debug", handler = function(_, text) logs[#logs + 1] = text end },
      slack = { webhook_url = server.url("/services/T/B/" .. TOKEN) },
      webhook = { url = server.url("/webhook/" .. TOKEN .. "/x"), secret = SECRET,
        headers = { Authorization = AUTH } } }))
    c.core:stop_taking()
    local h = assert(c:send_async({ id = "secret-1", body = "x",
      targets = { { platform = "slack" }, { platform = "webhook" } } }))
    local none, err, code, receipt = h:wait(20)
    assert.is_nil(none)
    assert.equals("HTTP_STATUS", receipt.results[1].code)
    assert.equals("HTTP_STATUS", receipt.results[2].code)
    c:close()
    stop_consumer(p)
    local text = require("cjson").encode(receipt) .. tostring(err) .. tostring(code)
      .. table.concat(logs, "\n")
    for _, secret in ipairs({ TOKEN, SECRET, AUTH, "RCPT-AUTH-8872" }) do
      assert.is_nil(text:find(secret, 1, true), secret .. " in " .. text)
    end
    -- the echo did reach the other process: the stand-in saw the token
    assert.truthy(server.requests("/services/")[1].path:find(TOKEN, 1, true))
  end)
end)

describe("receipts for a parked record another process took over (Redis, spool.deliver = local)", function()
  local r
  setup(function()
    server.start()
    r = redis.start()
  end)
  teardown(function()
    server.stop()
    redis.cleanup()
  end)

  it("the producer, stopped past its lease, ends with the other process's outcome", function()
    local prefix = fresh_prefix()
    server.behave("/webhook/park", { status = 503, headers = { ["Retry-After"] = "3" }, times = 1 })
    local script = child.script(([[
      io.stdout:setvbuf("line")
      local notifyhub = require("notifyhub")
      local c = assert(notifyhub.new({ spool = { redis = %q, prefix = %q, lease = 2 } }))
      c.core:stop_taking()
      local h = assert(c:send_async({ id = "parked-1", body = "x",
        targets = { { platform = "webhook", value = %q } } }))
      print("SENT")
      local receipt, err, code = h:wait(30)
      print("END " .. (receipt and receipt.status or tostring(code) .. " " .. tostring(err)))
      c:close(1)
    ]]):format(r.url, prefix, server.url("/webhook/park")), INTERPRETER)
    local p = assert(io.popen(child.preload() .. "sh -c 'echo PID $$; exec " .. INTERPRETER .. " "
      .. shell.q(script) .. "'"))
    local pid = assert(tonumber(p:read("*l"):match("^PID (%d+)")))
    assert.equals("SENT", p:read("*l"))
    server.wait_for(1, "/webhook/park", 10)           -- the 503: its retry waits 3 s, parked
    system.sleep(0.5)
    shell.execute("kill -STOP " .. pid)               -- no renewal: the lease (2 s) runs out
    local c = assert(notifyhub.new({ spool = { redis = r.url, prefix = prefix, lease = 2 } }))
    server.wait_for(2, "/webhook/park", 15)           -- this process sent it, at its due time
    system.sleep(0.5)                                 -- its end (and receipt) is written
    shell.execute("kill -CONT " .. pid)
    local last = p:read("*l")
    p:close()
    os.remove(script)
    c:close()
    assert.equals("END success", last)
    assert.equals(2, (server.count("/webhook/park")))
  end)
end)
