-- The spool on Redis (issue 15) from outside, as a user or an attacker sees it: the
-- spool.redis option and its errors, a password that never shows, processes sharing one
-- queue, one of them killed, a rate limit held by several processes together, receipts of
-- messages another process delivered, and the inspector. A real redis-server
-- (spec/support/redis.lua); what the API is expected to answer: spec/support/redis_spool.lua.

local shell = require("spec.support.shell")
local server = require("spec.support.server")
local redis = require("spec.support.redis")
local fleet = require("spec.support.fleet")
local rs = require("spec.support.redis_spool")
local system = require("system")
local notifyhub = require("notifyhub")

local SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
local INTERPRETER = os.getenv("NH_SPEC_LUA") or (jit and "luajit" or "lua5.4")

local function tmpfile(tag)
  local dir = shell.tmpdir("redisspool")
  return dir .. "/" .. tag, dir
end

-- Every accepted id reached the stand-in? The missing ones and how many came twice or more.
local function check(ids, count)
  local missing, dups = {}, 0
  for _, id in ipairs(ids) do
    if not count[id] then missing[#missing + 1] = id end
    if (count[id] or 0) > 1 then dups = dups + 1 end
  end
  return missing, dups
end

-- Waits until every id of ids reached path; the arrival counts and first times.
local function wait_all(ids, path, timeout)
  local deadline = system.gettime() + timeout
  while true do
    local count, first = rs.arrivals(server.requests(path))
    local missing = check(ids, count)
    if #missing == 0 or system.gettime() > deadline then return count, first end
    system.sleep(0.2)
  end
end

describe("spool.redis: options and errors", function()
  local r
  setup(function() r = redis.start() end)
  teardown(function() redis.cleanup() end)

  it("refuses malformed URLs with INVALID_CONFIG (or a raise) naming the wrong part, never the password", function()
    local password = "pw-" .. rs.prefix("X")
    local wrong = {}
    for _, case in ipairs(rs.BAD_URLS) do
      local url = case[1]:gsub("PORT", tostring(r.port))
      local with_pw = url:find("://", 1, true) and url:gsub("://", "://nhuser:" .. password .. "@", 1)
        or ("nhuser:" .. password .. "@" .. url)
      for _, u in ipairs({ url, with_pw }) do
        local how, text, code = rs.refusal({ spool = rs.spool(u, rs.prefix()) })
        local named = false
        for _, pat in ipairs(case[2]) do
          if text:lower():find(pat, 1, true) then named = true end
        end
        if how == "accepted" then
          wrong[#wrong + 1] = ("%q accepted"):format(u)
        elseif how == "returned" and code ~= rs.CONFIG_CODE then
          wrong[#wrong + 1] = ("%q: code %s, expected %s"):format(u, tostring(code), rs.CONFIG_CODE)
        elseif not named then
          wrong[#wrong + 1] = ("%q: %q names none of %s"):format(u, text, table.concat(case[2], ", "))
        end
        if text:find(password, 1, true) then
          wrong[#wrong + 1] = ("%q: the password is in %q"):format(u, text)
        end
      end
    end
    assert.same({}, wrong)
  end)

  it("refuses a redis or prefix that is not a non-empty string, and leases out of range, naming the key", function()
    local url = r.url
    assert.equal("accepted", (rs.refusal({ spool = rs.spool(url, rs.prefix()) })))
    for _, case in ipairs({
      { { redis = 5 }, "spool.redis" },
      { { redis = "" }, "spool.redis" },
      { { redis = url, prefix = "" }, "spool.prefix" },
      { { redis = url, prefix = 5 }, "spool.prefix" },
      { { redis = url, prefix = "a b" }, "spool.prefix" },
      { { redis = url, prefix = "{x}" }, "spool.prefix" },
      { { redis = url, prefix = "a\0b" }, "spool.prefix" },
      { { redis = url, prefix = ("p"):rep(4096) }, "spool.prefix" },
      { { redis = url, lease = 0 }, "spool.lease" },
      { { redis = url, lease = -1 }, "spool.lease" },
      { { redis = url, lease = 0 / 0 }, "spool.lease" },
      { { redis = url, lease = math.huge }, "spool.lease" },
      { { redis = url, lease = 1e300 }, "spool.lease" },
    }) do
      local how, text, code = rs.refusal({ spool = case[1] })
      assert.is_not.equal("accepted", how, case[2])
      if how == "returned" then assert.equal(rs.CONFIG_CODE, code) end
      assert.matches(case[2], text, 1, true)
    end
  end)

  it("takes a good URL (db, no db); every key it writes begins with the prefix, in that db only", function()
    assert.equal("OK", redis.cli("-n", "5", "FLUSHDB"))
    assert.equal("OK", redis.cli("-n", "0", "FLUSHDB"))
    local prefix = rs.prefix("db")
    server.start()
    server.behave("/webhook/db5", { delay = 30 })   -- held: its record stays in Redis
    local c = assert(notifyhub.new({ spool = rs.spool(r.url:gsub("/0$", "/5"), prefix),
      webhook = { url = server.url("/webhook/db5") } }))
    assert(c:send_async({ id = "db-1", body = "x" }))
    local keys = redis.cli("-n", "5", "--scan", "--pattern", "*")
    assert.is_true(#keys > 0, "nothing written in db 5")
    for key in keys:gmatch("[^\n]+") do
      assert.equal(prefix .. ":", key:sub(1, #prefix + 1), "key " .. key)
    end
    assert.equal("0", redis.cli("-n", "0", "DBSIZE"))
    c:close(0)
    server.behave("/webhook/db5", nil)
    -- no db part: db 0
    local c0 = assert(notifyhub.new({ spool = rs.spool(("redis://127.0.0.1:%d"):format(r.port), prefix) }))
    c0:close(0)
    server.stop()
  end)
end)

describe("spool.redis with a password", function()
  local r
  local PASSWORD = "pw-" .. rs.prefix("P")
  setup(function()
    r = redis.start({ password = PASSWORD })
    server.start()
  end)
  teardown(function()
    server.stop()
    redis.cleanup()
  end)
  before_each(function() server.clear() end)

  it("never shows it: tostring, stats, receipts, errors, log records, the inspector", function()
    local prefix = rs.prefix("pw")
    local records = {}
    local url = server.url("/webhook/pw")
    server.behave("/webhook/pw/bad", { status = 404, body = "no" })
    local c = assert(notifyhub.new({ spool = rs.spool(r.url, prefix), retry = { max_attempts = 1 },
      webhook = { url = url },
      logger = { level = "debug", handler = function(level, msg, fields)
        records[#records + 1] = { level, msg, fields }
      end } }))
    local good = assert(c:send_async({ id = "pw-good", body = "x" }))
    local bad = assert(c:send_async({ id = "pw-bad", body = "x",
      targets = { { platform = "webhook", value = url .. "/bad" } } }))
    local receipt = assert(good:wait(20))
    assert.equal("success", receipt.status)
    local r2, err, code, bad_receipt = bad:wait(20)
    assert.is_nil(r2)
    assert.equal("HTTP_STATUS", code)
    local seen = { tostring(c), c:stats(), receipt, err, bad_receipt, records }
    c:close()   -- its ends are written by now
    seen[#seen + 1] = tostring(c)
    local sp, ierr = rs.open(r.url, prefix)
    assert(sp, ierr)
    seen[#seen + 1] = tostring(sp)
    seen[#seen + 1] = assert(sp:stats())
    local failed = assert(sp:failed())
    assert.equal("pw-bad", failed[1] and failed[1].id)
    seen[#seen + 1] = failed
    sp:close()
    assert.is_true(#records > 0, "no log records at debug")
    assert.is_nil(rs.leak(seen, PASSWORD))
  end)

  it("a wrong or missing password: a clear error naming the server, not the password", function()
    local wrong_pw = "wrong-" .. rs.prefix("W")
    for _, url in ipairs({
      ("redis://:%s@127.0.0.1:%d/0"):format(wrong_pw, r.port),
      ("redis://default:%s@127.0.0.1:%d/0"):format(wrong_pw, r.port),
      r.public,
    }) do
      local t0 = system.gettime()
      local how, text, code = rs.refusal({ spool = rs.spool(url, rs.prefix()),
        async = { timeout = 0.5 } })
      if how == "accepted" then   -- a store that connects lazily: the first send says it
        local c = assert(notifyhub.new({ spool = rs.spool(url, rs.prefix()), async = { timeout = 0.5 } }))
        local h
        h, text, code = c:send_async({ body = "x", targets = { { platform = "webhook",
          value = server.url("/webhook/nopw") } } })
        assert.is_nil(h)
        c:close(0)
      end
      assert.is_true(system.gettime() - t0 < 5, "took " .. (system.gettime() - t0))
      assert.is_true(rs.AUTH[code] == true, tostring(code) .. ": " .. text)
      assert.matches(rs.names(r.public), text, 1, true)
      assert.truthy(text:lower():find("auth", 1, true) or text:lower():find("password", 1, true), text)
      assert.is_nil(text:find(wrong_pw, 1, true), text)
      assert.is_nil(text:find(PASSWORD, 1, true), text)
      -- the inspector: refused the same way (at open or at its first call)
      local sp, ierr, icode = rs.open(url, rs.prefix())
      if sp then
        local st
        st, ierr, icode = sp:stats()
        assert.is_nil(st)
        sp:close()
      end
      assert.is_true(rs.AUTH[icode] == true, tostring(icode) .. ": " .. tostring(ierr))
      assert.is_nil(ierr:find(wrong_pw, 1, true), ierr)
    end
    assert.equal(0, server.count("/webhook/nopw"))
  end)

  it("an ACL user with its password works, and neither shows", function()
    local user_pw = "acl-" .. rs.prefix("A")
    assert.equal("OK", redis.cli("ACL", "SETUSER", "nhuser", "on", ">" .. user_pw, "~*", "&*", "+@all"))
    local url = ("redis://nhuser:%s@127.0.0.1:%d/0"):format(user_pw, r.port)
    local prefix = rs.prefix("acl")
    local c = assert(notifyhub.new({ spool = rs.spool(url, prefix),
      webhook = { url = server.url("/webhook/acl") } }))
    local receipt = assert(assert(c:send_async({ id = "acl-1", body = "x" })):wait(20))
    assert.equal("success", receipt.status)
    local seen = { tostring(c), c:stats(), receipt }
    c:close()
    local sp = assert(rs.open(url, prefix))
    seen[#seen + 1] = { tostring(sp), sp:stats(), sp:failed() }
    sp:close()
    assert.is_nil(rs.leak(seen, user_pw))
    assert.is_nil(rs.leak(seen, PASSWORD))
  end)
end)

describe("spool.redis: processes sharing one queue", function()
  local r, files
  setup(function()
    r = redis.start()
    server.start()
  end)
  teardown(function()
    fleet.stop_all()
    server.stop()
    redis.cleanup()
  end)
  before_each(function()
    server.clear()
    files = {}
  end)
  after_each(function()
    fleet.stop_all()
    for _, dir in ipairs(files) do shell.execute("rm -rf " .. shell.q(dir)) end
  end)

  local function stopfile()
    local path, dir = tmpfile("stop")
    files[#files + 1] = dir
    return path
  end

  -- A client process on url/prefix sending n ids "<ids>-NNNNN" to the signed stand-in
  -- `name`; `async` is Lua source of the async section.
  local function client(prefix, name, ids, n, stop, async, extra)
    local config = ("{ spool = %s, webhook = { url = %q, secret = %q }, async = %s%s }"):format(
      rs.spool_source(r.url, prefix), server.signed(name, { secret = SECRET }), SECRET,
      async or "{ workers = 2, concurrency = 16, buffer_size = 10000 }", extra and (", " .. extra) or "")
    return fleet.start(rs.client_code({ config = config, ids = ids, n = n, stop = stop }), INTERPRETER)
  end

  -- Delivered messages leave the spool (DESIGN): once drained, a queue of hundreds of
  -- messages keeps a few keys of its own (streams, counters), nothing per message.
  local function few_keys(prefix)
    local n = 0
    for _ in redis.cli("--scan", "--pattern", prefix .. ":*"):gmatch("[^\n]+") do n = n + 1 end
    assert.is_true(n <= 50, n .. " keys left under " .. prefix)
  end

  local function all_sent(p)
    return fleet.wait_lines(p, function(lines) return lines[#lines] == "SENT" end, 60)
  end

  it("3 processes share one queue: every id delivered, none twice", function()
    local prefix, stop = rs.prefix("share"), stopfile()
    local ps, ids = {}, {}
    for k = 1, 3 do ps[k] = client(prefix, "share", "p" .. k, 300, stop) end
    for k = 1, 3 do
      assert.is_true(all_sent(ps[k]), fleet.stderr(ps[k]))
      local accepted, refused = rs.accepted(fleet.lines(ps[k]))
      assert.same({}, refused)
      for _, id in ipairs(accepted) do ids[#ids + 1] = id end
    end
    assert.equal(900, #ids)
    local count = wait_all(ids, "/signed/share", 60)
    local missing, dups = check(ids, count)
    assert.same({}, missing)
    assert.equal(0, dups)
    assert(io.open(stop, "w")):close()
    for k = 1, 3 do
      assert.is_true(fleet.wait(ps[k], 20))
      local lines = fleet.lines(ps[k])
      assert.equal("CLOSE 0", lines[#lines])
    end
    assert.is_true((rs.drained(r.url, prefix, 10)))
    few_keys(prefix)
  end)

  it("deliver = \"any\": the others deliver a producer's messages, and its handles get every receipt", function()
    local prefix, stop = rs.prefix("any"), stopfile()
    server.behave("/signed/any", { delay = 0.05 })
    local any = rs.spool_source(r.url, prefix, { deliver = "any" })
    local function consumer(ids)
      return fleet.start(rs.client_code({ ids = ids, n = 0, stop = stop,
        config = ("{ spool = %s, webhook = { url = %q, secret = %q } }"):format(any,
          server.signed("any", { secret = SECRET }), SECRET) }), INTERPRETER)
    end
    local b, c = consumer("b"), consumer("c")
    assert.is_true(all_sent(b) and all_sent(c), fleet.stderr(b))
    -- one transfer at a time of 0.05 s: alone, the producer would need 15 s for 300
    local p = fleet.start(([[
local notifyhub = require("notifyhub")
local system = require("system")
local c = assert(notifyhub.new({ spool = %s, webhook = { url = %q, secret = %q },
  async = { workers = 1, max_workers = 1, concurrency = 1 } }))
local ok_n, err_n = 0, 0
local t0 = system.gettime()
for i = 1, 300 do
  local h = assert(c:send_async({ id = ("any-%%05d"):format(i), body = "x" }))
  h:on_complete(function() ok_n = ok_n + 1 end)
  h:on_error(function(_, e) err_n = err_n + 1 print("ERR " .. tostring(e)) end)
end
print("SENT")
print("WAIT " .. tostring(c:wait_all(60)))
print(("DONE %%d %%d %%.1f"):format(ok_n, err_n, system.gettime() - t0))
c:close()
]]):format(any, server.signed("any", { secret = SECRET }), SECRET), INTERPRETER)
    assert.is_true(fleet.wait(p, 90), "the producer did not finish")
    local lines = fleet.lines(p)
    local done = lines[#lines] or ""
    assert.equal("WAIT true", lines[#lines - 1], table.concat(lines, "\n") .. fleet.stderr(p))
    local ok_n, err_n, took = done:match("^DONE (%d+) (%d+) ([%d.]+)$")
    assert.equal("300", ok_n, done)
    assert.equal("0", err_n, done)
    assert.is_true(tonumber(took) < 12, "took " .. took .. " s: the others did not deliver")
    local ids = {}
    for i = 1, 300 do ids[i] = ("any-%05d"):format(i) end
    local missing, dups = check(ids, (rs.arrivals(server.requests("/signed/any"))))
    assert.same({}, missing)
    assert.equal(0, dups)
    assert(io.open(stop, "w")):close()
  end)

  it("a producer that closes with messages in flight hands them to the others, who deliver them", function()
    local prefix, stop = rs.prefix("hand"), stopfile()
    server.behave("/signed/hand", { delay = 0.3 })
    local b = client(prefix, "hand", "b", 0, stop)
    local c = client(prefix, "hand", "c", 0, stop)
    assert.is_true(all_sent(b) and all_sent(c), fleet.stderr(b))
    -- 1 worker, 2 transfers at a time: 100 messages take 15 s; it closes after 0.5 s
    local p = fleet.start(rs.client_code({ ids = "h", n = 100, close_timeout = 0.5, lifetime = 0,
      config = ("{ spool = %s, webhook = { url = %q, secret = %q }, async = { workers = 1, "
        .. "max_workers = 1, concurrency = 2 } }"):format(rs.spool_source(r.url, prefix),
        server.signed("hand", { secret = SECRET }), SECRET) }), INTERPRETER)
    assert.is_true(fleet.wait(p, 30), "the producer did not close")
    local closed_at = system.gettime()
    local lines = fleet.lines(p)
    local ids, refused = rs.accepted(lines)
    assert.same({}, refused)
    assert.equal(100, #ids)
    assert.equal("CLOSE 0", lines[#lines])   -- handed over: not counted as undelivered
    local count, first = wait_all(ids, "/signed/hand", 60)
    local missing, dups = check(ids, count)
    assert.same({}, missing)
    local later = 0
    for _, id in ipairs(ids) do if first[id] > closed_at then later = later + 1 end end
    assert.is_true(later >= 50, later .. " ids arrived after the producer was gone")
    assert.is_true(dups <= 4, dups .. " ids twice (only those in flight at the hand-over may be)")
    assert(io.open(stop, "w")):close()
    assert.is_true((rs.drained(r.url, prefix, 10)))
  end)

  it("one process killed with SIGKILL in the middle of a burst: the others deliver every id it accepted", function()
    local prefix, stop = rs.prefix("kill"), stopfile()
    server.behave("/signed/kill", { delay = 0.05 })
    local b = client(prefix, "kill", "b", 0, stop)
    local c = client(prefix, "kill", "c", 0, stop)
    assert.is_true(all_sent(b) and all_sent(c), fleet.stderr(b))
    local a = client(prefix, "kill", "a", 2000, stop,
      "{ workers = 1, max_workers = 1, concurrency = 4, buffer_size = 10000 }")
    assert.is_true(fleet.wait_lines(a, function(lines) return #lines >= 500 end, 60), fleet.stderr(a))
    fleet.kill(a, "KILL")
    assert.is_true(fleet.wait(a, 5))
    local last_before = 0
    for _, req in ipairs(server.requests("/signed/kill")) do last_before = math.max(last_before, req.time) end
    local ids, refused = rs.accepted(fleet.lines(a))
    assert.same({}, refused)
    assert.is_true(#ids >= 400, #ids .. " accepted")
    local before = server.count("/signed/kill")
    assert.is_true(before < #ids, "everything was delivered before the kill")
    local count, first = wait_all(ids, "/signed/kill", 120)
    local missing, dups = check(ids, count)
    assert.same({}, missing)
    for _, id in ipairs(ids) do
      if count[id] > 1 then
        assert.is_true(first[id] <= last_before + 0.5, id .. " sent twice but first sent after the kill")
      end
    end
    assert.is_true(dups <= 64, dups .. " duplicates")
    assert(io.open(stop, "w")):close()
    assert.is_true((rs.drained(r.url, prefix, 10)))
    few_keys(prefix)
  end)

  it("a network cut between one process and Redis duplicates no more than the messages it had in flight", function()
    local prefix, stop = rs.prefix("cut"), stopfile()
    local line = redis.proxy()
    server.behave("/signed/cut", { delay = 0.2 })
    local b = client(prefix, "cut", "b", 0, stop)
    assert.is_true(all_sent(b), fleet.stderr(b))
    -- through the proxy, 2 transfers at a time of 0.2 s each: 200 messages take 20 s
    local a = fleet.start(rs.client_code({ ids = "cut", n = 200, stop = stop,
      config = ("{ spool = %s, webhook = { url = %q, secret = %q }, async = { workers = 1, max_workers = 1, "
        .. "concurrency = 2, buffer_size = 1000 } }"):format(rs.spool_source(line.url, prefix),
        server.signed("cut", { secret = SECRET }), SECRET) }), INTERPRETER)
    assert.is_true(all_sent(a), fleet.stderr(a))
    local ids, refused = rs.accepted(fleet.lines(a))
    assert.same({}, refused)
    assert.equal(200, #ids)
    server.wait_for(10, "/signed/cut", 10)
    redis.cut()
    system.sleep(rs.LEASE + 4)   -- a's lease runs out: b takes over what a holds
    redis.mend()
    local count = wait_all(ids, "/signed/cut", 60)
    local missing, dups = check(ids, count)
    assert.same({}, missing)
    -- 2 in flight when the line was cut, and those a began while it noticed (a call hanging
    -- 0.2 s: about one more round of 2 at 0.2 s a send, more under a sanitizer's slowness)
    assert.is_true(dups <= 8, dups .. " ids sent twice; a had 2 in flight when the line was cut")
    assert(io.open(stop, "w")):close()
  end)

  it("3 processes keep a per_second = 5 limit together (never 6 within 0.95 s)", function()
    local prefix, stop = rs.prefix("rate"), stopfile()
    local url = server.url("/webhook/rate3")
    local ps = {}
    for k = 1, 3 do
      ps[k] = fleet.start(rs.client_code({ ids = "r" .. k, n = 10, stop = stop,
        config = ("{ spool = %s, webhook = { url = %q, rate_limit = { per_second = 5 } } }")
          :format(rs.spool_source(r.url, prefix), url) }), INTERPRETER)
    end
    for k = 1, 3 do
      assert.is_true(all_sent(ps[k]), fleet.stderr(ps[k]))
      assert.same({}, select(2, rs.accepted(fleet.lines(ps[k]))))
    end
    local _, reached = server.wait_for(30, "/webhook/rate3", 60)
    assert.is_true(reached)
    local times = {}
    for _, req in ipairs(server.requests("/webhook/rate3")) do times[#times + 1] = req.time end
    assert.equal(30, #times)
    table.sort(times)
    for i = 6, #times do
      assert.is_true(times[i] - times[i - 5] >= 0.95,
        ("6 requests within %.3f s (at %d of %d)"):format(times[i] - times[i - 5], i, #times))
    end
    assert(io.open(stop, "w")):close()
  end)

  -- The producer's message waits 3 s for its second attempt (429, Retry-After: 3); the
  -- producer is stopped (SIGSTOP) past that and its lease, another process sends the
  -- attempt; the producer, let go on, gets the receipt of what the other did.
  local function taken_over(name, second)
    local prefix, stop = rs.prefix("rc"), stopfile()
    local path = "/signed/" .. name
    server.behave(path, { status = 429, headers = { ["Retry-After"] = "3" }, times = 1 })
    local b = client(prefix, name, "b", 0, stop)
    assert.is_true(all_sent(b), fleet.stderr(b))
    local p = fleet.start(([[
local notifyhub = require("notifyhub")
local c = assert(notifyhub.new({ spool = %s, webhook = { url = %q, secret = %q },
  retry = { max_attempts = 3, initial_delay = 0.1, max_delay = 5 } }))
local h = assert(c:send_async({ id = %q, body = "x" }))
h:on_complete(function(r) print("COMPLETE " .. r.status) end)
h:on_error(function(_, err, r) print("ERROR " .. tostring(r and r.status) .. " " .. tostring(r and r.code)
  .. " " .. tostring(r and r.results[1] and r.results[1].code)) end)
print("A " .. h.id)
local r, err, code = h:wait(60)
print("DONE " .. tostring(r and r.status or code))
c:close(1)
]]):format(rs.spool_source(r.url, prefix), server.signed(name, { secret = SECRET }), SECRET, name .. "-1"),
      INTERPRETER)
    assert.is_true(fleet.wait_lines(p, function(lines) return lines[1] == "A " .. name .. "-1" end, 20),
      fleet.stderr(p))
    local _, got = server.wait_for(1, path, 20)
    assert.is_true(got, fleet.stderr(p))
    fleet.kill(p, "STOP")
    server.behave(path, second)
    _, got = server.wait_for(2, path, 30)
    fleet.kill(p, "CONT")
    assert.is_true(got, "nobody sent the second attempt while the producer was stopped")
    assert.is_true(fleet.wait(p, 30), "the producer did not finish")
    assert(io.open(stop, "w")):close()
    return fleet.lines(p), prefix
  end

  it("receipts: on_complete and wait run in the producer when another process delivered its message", function()
    local lines = taken_over("rcok", nil)
    assert.same({ "A rcok-1", "COMPLETE success", "DONE success" }, lines)
  end)

  it("receipts: on_error runs in the producer when another process failed it; the inspector keeps it", function()
    local lines, prefix = taken_over("rcbad", { status = 404, body = "gone" })
    assert.same({ "A rcbad-1", "ERROR failed HTTP_STATUS HTTP_STATUS", "DONE HTTP_STATUS" }, lines)
    local sp = assert(rs.open(r.url, prefix))
    local failed = assert(sp:failed())
    sp:close()
    assert.equal(1, #failed)
    assert.equal("rcbad-1", failed[1].id)
    assert.equal("failed", failed[1].receipt.status)
  end)
end)

describe("spool.redis: the inspector", function()
  local r
  setup(function()
    r = redis.start()
    server.start()
  end)
  teardown(function()
    server.stop()
    redis.cleanup()
  end)
  before_each(function() server.clear() end)

  it("stats, failed, retry and purge_failed, with no secret in labels or receipts", function()
    local prefix = rs.prefix("insp")
    local token = "tok-" .. rs.prefix("T")
    local good_url = server.url("/webhook/insp/" .. token)
    local bad_url = server.url("/webhook/inspbad/" .. token)
    server.behave("/webhook/inspbad/", { status = 404, body = "no" })
    local c = assert(notifyhub.new({ spool = rs.spool(r.url, prefix), retry = { max_attempts = 1 } }))
    local function to(url) return { { platform = "webhook", value = url } } end
    local good = assert(c:send_async({ id = "i-ok", body = "x", targets = to(good_url) }))
    local bad = assert(c:send_async({ id = "i-bad", body = "x", targets = to(bad_url) }))
    assert(good:wait(20))
    assert.is_nil(bad:wait(20))
    c:close()
    local sp = assert(rs.open(r.url, prefix))
    local st = assert(sp:stats())
    assert.equal(0, st.queued + st.taken)
    assert.equal(1, st.failed)
    local failed = assert(sp:failed())
    assert.equal(1, #failed)
    assert.equal("i-bad", failed[1].id)
    assert.equal("failed", failed[1].receipt.status)
    assert.is_number(failed[1].failed_at)
    assert.is_true(math.abs(failed[1].failed_at - os.time()) < 120)
    assert.is_nil(rs.leak({ st, failed }, token))
    -- retry: queued again, and the next client on the queue delivers it
    assert.is_true(sp:retry("i-bad"))
    assert.falsy(sp:retry("no-such-id"))
    st = assert(sp:stats())
    assert.equal(1, st.queued + st.taken)
    assert.equal(0, st.failed)
    server.behave("/webhook/inspbad/", nil)
    local c2 = assert(notifyhub.new({ spool = rs.spool(r.url, prefix) }))
    local ok = rs.drained(r.url, prefix, 20)
    c2:close()
    assert.is_true(ok)
    assert.equal(2, server.count("/webhook/inspbad/"), "i-bad: once failed, once retried")
    -- purge
    server.behave("/webhook/inspbad/", { status = 404, body = "no" })
    local c3 = assert(notifyhub.new({ spool = rs.spool(r.url, prefix), retry = { max_attempts = 1 } }))
    assert.is_nil(assert(c3:send_async({ id = "i-bad2", body = "x",
      targets = { { platform = "webhook", value = bad_url } } })):wait(20))
    c3:close()
    assert.equal(1, assert(sp:purge_failed()))
    assert.equal(0, assert(sp:stats()).failed)
    assert.same({}, assert(sp:failed()))
    sp:close()
    assert.is_nil(sp:stats())
  end)

  it("a prefix that begins with another (p and p:m) is its own queue: stats, failed and purge see only it", function()
    local a = rs.prefix("nest")
    local b = a .. ":m"
    server.behave("/webhook/nest", { status = 404, body = "no" })
    for _, prefix in ipairs({ a, b, b }) do
      local c = assert(notifyhub.new({ spool = rs.spool(r.url, prefix), retry = { max_attempts = 1 },
        webhook = { url = server.url("/webhook/nest") } }))
      assert.is_nil(assert(c:send_async({ body = "x" })):wait(20))
      c:close()
    end
    local sa, sb = assert(rs.open(r.url, a)), assert(rs.open(r.url, b))
    assert.equal(1, assert(sa:stats()).failed)
    assert.equal(1, #assert(sa:failed()))
    assert.equal(2, assert(sb:stats()).failed)
    assert.equal(1, assert(sa:purge_failed()))
    assert.equal(2, assert(sb:stats()).failed, "purging " .. a .. " removed what " .. b .. " holds")
    assert.equal(2, #assert(sb:failed()))
    assert.equal(2, assert(sb:purge_failed()))
    sa:close()
    sb:close()
  end)

  it("two prefixes on one Redis are two queues", function()
    local a, b = rs.prefix("qa"), rs.prefix("qb")
    server.behave("/webhook/qa", { delay = 30 })
    -- one transfer at a time: one message in flight, 4 queued, all 5 handed back at close
    local ca = assert(notifyhub.new({ spool = rs.spool(r.url, a), webhook = { url = server.url("/webhook/qa") },
      async = { workers = 1, max_workers = 1, concurrency = 1 } }))
    local ids = {}
    for i = 1, 5 do
      ids[i] = "qa-" .. i
      assert(ca:send_async({ id = ids[i], body = "id:" .. ids[i] }))
    end
    ca:close(0.2)
    local cb = assert(notifyhub.new({ spool = rs.spool(r.url, b) }))
    system.sleep(rs.LEASE + 1.5)
    cb:close()
    assert.is_true(server.count("/webhook/qa") <= 1, "a client on prefix b took a's messages")
    local sa = assert(rs.open(r.url, a))
    local sb = assert(rs.open(r.url, b))
    assert.equal(5, assert(sa:stats()).queued)
    local stb = assert(sb:stats())
    assert.equal(0, stb.queued + stb.taken + stb.failed)
    sa:close()
    sb:close()
    server.behave("/webhook/qa", nil)
    local ca2 = assert(notifyhub.new({ spool = rs.spool(r.url, a) }))
    local ok = rs.drained(r.url, a, 20)
    ca2:close()
    assert.is_true(ok)
    assert.same({}, (check(ids, rs.arrivals(server.requests("/webhook/qa")))))
  end)

end)
