-- The spool wired into the client (issue 13, phase 2): spool.* config keys,
-- accepted = recorded, takeover by a new process, close() handing back,
-- rate limits shared across processes.

local shell = require("spec.support.shell")
local child = require("spec.support.child")
local server = require("spec.support.server")
local system = require("system")
local notifyhub = require("notifyhub")
local spool = require("notifyhub.spool")

local SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
local INTERPRETER = os.getenv("NH_SPEC_LUA") or (jit and "luajit" or "lua5.4")

local drained = require("spec.support.spool_watch").drained

-- Ids by how often they reached the stand-in, and each one's first arrival.
local function arrivals(prefix)
  local count, first = {}, {}
  for _, r in ipairs(server.requests(prefix)) do
    local id = r.headers["webhook-id"]
    if id then
      count[id] = (count[id] or 0) + 1
      first[id] = first[id] or r.time
    end
  end
  return count, first
end

local function tmpdir() return shell.tmpdir("wire") end

describe("spool config", function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() shell.execute("rm -rf " .. shell.q(dir)) end)

  it("takes the spool keys and creates the file 0600", function()
    local path = dir .. "/a.db"
    local c = assert(notifyhub.new({ spool = { path = path, sync = "full", lease = 5,
      keep_failed = 60, max_queued = 100 } }))
    assert.is_true(c:stats().handed_over == 0)
    c:close()
    local mode = shell.capture("stat -c %a " .. shell.q(path)):gsub("%s+$", "")
    assert.equals("600", mode)
  end)

  it("refuses a sync other than normal or full, and unknown spool keys", function()
    assert.error_matches(function() notifyhub.new({ spool = { path = dir .. "/b.db", sync = "fast" } }) end,
      "spool.sync: one of normal, full expected")
    assert.error_matches(function() notifyhub.new({ spool = { path = dir .. "/b.db", bogus = 1 } }) end,
      "spool.bogus")
    assert.error_matches(function() notifyhub.new({ spool = { path = dir .. "/b.db", lease = 0 } }) end,
      "spool.lease")
    assert.error_matches(function() notifyhub.new({ spool = { path = dir .. "/b.db", max_queued = 0 } }) end,
      "spool.max_queued")
    assert.error_matches(function() notifyhub.new({ spool = { path = "" } }) end, "spool.path")
  end)

  it("fails with INVALID_CONFIG naming the path: missing directory, random bytes, unwritable", function()
    local missing = dir .. "/no/such/dir/x.db"
    local c, err, code = notifyhub.new({ spool = { path = missing } })
    assert.is_nil(c)
    assert.equals("INVALID_CONFIG", code)
    assert.matches(missing, err, 1, true)

    local junk = dir .. "/junk.db"
    local f = assert(io.open(junk, "wb"))
    for i = 1, 4096 do f:write(string.char((i * 7919) % 256)) end
    f:close()
    c, err, code = notifyhub.new({ spool = { path = junk } })
    assert.is_nil(c)
    assert.equals("INVALID_CONFIG", code)
    assert.matches(junk, err, 1, true)

    if shell.capture("id -u"):match("^0") == nil then
      local ro = dir .. "/ro.db"
      assert(notifyhub.new({ spool = { path = ro } })):close()
      shell.execute("chmod 0400 " .. shell.q(ro))
      c, err, code = notifyhub.new({ spool = { path = ro } })
      assert.is_nil(c)
      assert.equals("INVALID_CONFIG", code)
      assert.matches(ro, err, 1, true)
    end
  end)

  it("without spool.path nothing changes: no file, handed_over stays 0", function()
    local c = assert(notifyhub.new({}))
    assert.equals(0, c:stats().handed_over)
    c:close()
  end)
end)

describe("spool: accepted = recorded", function()
  local dir
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() dir = tmpdir(); server.clear() end)
  after_each(function() shell.execute("rm -rf " .. shell.q(dir)) end)

  it("a sender killed with SIGKILL mid-way loses nothing it accepted; a new process delivers it", function()
    local path = dir .. "/kill.db"
    local url = server.signed("kill", { secret = SECRET })
    server.behave("/signed/kill", { delay = 0.2 })
    -- The child prints its pid, then each id once send_async returned a handle.
    local script = child.script(([[
      io.stdout:setvbuf("line")
      local notifyhub = require("notifyhub")
      local c = assert(notifyhub.new({ spool = { path = %q },
        async = { workers = 1, concurrency = 4, buffer_size = 10000 },
        webhook = { url = %q, secret = %q } }))
      for i = 1, 5000 do
        local id = ("kill-%%05d"):format(i)
        local h, err = c:send_async({ id = id, body = id })
        if h then print("A " .. id) else print("E " .. tostring(err)) end
      end
      print("SENT")
      while true do c:poll(); os.execute("sleep 0.05") end
    ]]):format(path, url, SECRET), INTERPRETER)
    local p = assert(io.popen(child.preload() .. "sh -c 'echo PID $$; exec " .. INTERPRETER .. " "
      .. shell.q(script) .. "'"))
    local pid = assert(tonumber(p:read("*l"):match("^PID (%d+)")))
    local accepted, errors, killed_at = {}, {}, nil
    for line in p:lines() do
      local id = line:match("^A (.+)$")
      if id then accepted[#accepted + 1] = id end
      if line:match("^E ") then errors[#errors + 1] = line end
      if not killed_at and (#accepted >= 2500 or line == "SENT") then
        assert(shell.execute("kill -9 " .. pid))
        killed_at = system.gettime()
      end
    end
    p:close()
    os.remove(script)
    assert.same({}, errors)
    assert.is_true(#accepted >= 2500, "accepted " .. #accepted)
    local before = server.count("/signed/kill")
    assert.is_true(before < #accepted, "the child delivered everything before the kill")
    local kill_arrival = #server.requests("/signed/kill") > 0 and server.requests("/signed/kill")
    -- the time of the last arrival before the kill, on the stand-in's clock
    local last_before = 0
    for _, r in ipairs(kill_arrival or {}) do if r.time > last_before then last_before = r.time end end

    server.behave("/signed/kill", { delay = 0.01 })
    local c = assert(notifyhub.new({ spool = { path = path },
      async = { workers = 2, concurrency = 32, buffer_size = 1000 } }))
    local ok = drained(path, 120)
    c:close()
    assert.is_true(ok, "the new process did not drain the spool")
    local count, first = arrivals("/signed/kill")
    local dups, missing = 0, {}
    for _, id in ipairs(accepted) do
      if not count[id] then missing[#missing + 1] = id end
      if (count[id] or 0) > 1 then
        dups = dups + 1
        -- a duplicate was in flight at the kill: its first arrival came before it
        assert.is_true(first[id] <= last_before, id .. " sent twice but first sent after the kill")
      end
    end
    assert.same({}, missing)
    assert.is_true(dups <= 64, dups .. " duplicates")
    -- the same id on the wire: webhook-id is the message's id (its body here)
    for _, r in ipairs(server.requests("/signed/kill")) do
      assert.truthy(r.body:find(r.headers["webhook-id"], 1, true))
    end
    if os.getenv("NH_SPEC_VERBOSE") then
      print(("accepted %d, delivered before the kill %d, duplicates %d"):format(#accepted, before, dups))
    end
  end)

  it("a delivered message leaves the spool, a failed one stays with its receipt", function()
    local path = dir .. "/ends.db"
    local c = assert(notifyhub.new({ spool = { path = path }, retry = { max_attempts = 1 } }))
    local good = assert(c:send_async({ id = "ok-1", body = "x", targets = { { platform = "webhook",
      value = server.url("/webhook/ok") } } }))
    local bad = assert(c:send_async({ id = "bad-1", body = "x", targets = { { platform = "webhook",
      value = server.url("/webhook/bad?status=404") } } }))
    assert(good:wait())
    assert.is_nil(bad:wait())
    c:close()
    local sp = assert(spool.open(path))
    local st = assert(sp:stats())
    assert.equal(0, st.queued + st.taken)
    assert.equal(1, st.failed)
    local f = assert(sp:failed())
    assert.equal("bad-1", f[1].id)
    assert.equal("failed", f[1].receipt.status)
    sp:close()
  end)

  it("a batch is recorded whole; max_queued refuses with QUEUE_FULL and records nothing", function()
    local path = dir .. "/full.db"
    server.behave("/webhook/hang", { delay = 5 })
    local c = assert(notifyhub.new({ spool = { path = path, max_queued = 3 },
      webhook = { url = server.url("/webhook/hang") } }))
    assert(c:send_async({ body = "1" }))
    local b, err, code = c:send_async_batch({ { body = "2" }, { body = "3" }, { body = "4" } })
    assert.is_nil(b)
    assert.equal("QUEUE_FULL", code)
    assert.matches("max_queued", err)
    assert(c:send_async_batch({ { body = "2" }, { body = "3" } }))
    local sp = assert(spool.open(path))
    assert.equal(3, sp:stats().taken)
    sp:close()
    c:close(0.1)
  end)
end)

describe("spool: close hands back, another client takes over", function()
  local dir
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() dir = tmpdir(); server.clear() end)
  after_each(function() shell.execute("rm -rf " .. shell.q(dir)) end)

  it("close() ends unfinished messages HANDED_OVER; a second client delivers them", function()
    local path = dir .. "/close.db"
    local url = server.signed("hand", { secret = SECRET })
    server.behave("/signed/hand", { delay = 30, times = 20 })
    local c = assert(notifyhub.new({ spool = { path = path }, webhook = { url = url, secret = SECRET },
      async = { workers = 1, concurrency = 4 } }))
    local codes, ids = {}, {}
    for i = 1, 10 do
      ids[i] = "hand-" .. i
      assert(c:send_async({ id = ids[i], body = ids[i] })):on_error(function(_, _, receipt)
        codes[#codes + 1] = receipt.code
      end)
    end
    system.sleep(0.3)                                  -- 4 in flight, 6 queued
    local t0 = system.gettime()
    local lost = c:close(0.5)
    local closed_at = system.gettime()  -- wall-clock seconds, as the stand-in records
    assert.is_true(system.gettime() - t0 < 5)
    assert.equal(0, lost)
    assert.equal(10, #codes)
    for _, code in ipairs(codes) do assert.equal("HANDED_OVER", code) end
    assert.equal(10, c:stats().handed_over)
    local sp = assert(spool.open(path))
    assert.equal(10, sp:stats().queued)
    sp:close()

    server.behave("/signed/hand", nil)
    local c2 = assert(notifyhub.new({ spool = { path = path } }))
    assert.is_true((drained(path, 30)))
    c2:close()
    local after = {}                                   -- what reached the stand-in after close()
    for _, r in ipairs(server.requests("/signed/hand")) do
      if r.time > closed_at then after[r.headers["webhook-id"]] = true end
    end
    for _, id in ipairs(ids) do assert.is_true(after[id], id .. " not delivered by the second client") end
  end)
end)

describe("spool: rate limits across processes", function()
  local dir
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() dir = tmpdir(); server.clear() end)
  after_each(function() shell.execute("rm -rf " .. shell.q(dir)) end)

  it("4 processes on one spool keep a destination at 5 per second together", function()
    local path, url = dir .. "/rate.db", server.url("/webhook/rate")
    assert(notifyhub.new({ spool = { path = path } })):close()   -- the file exists before the race
    local script = child.script(([[
      local notifyhub = require("notifyhub")
      local c = assert(notifyhub.new({ spool = { path = %q },
        webhook = { url = %q, rate_limit = { per_second = 5 } } }))
      for i = 1, 8 do assert(c:send_async({ body = "x" .. i })) end
      assert(c:wait_all(60))
      local s = c:stats()
      c:close()
      print("DONE " .. s.succeeded)
    ]]):format(path, url), INTERPRETER)
    local pipes = {}
    for i = 1, 4 do pipes[i] = assert(io.popen(child.preload() .. INTERPRETER .. " " .. shell.q(script) .. " 2>&1")) end
    for i = 1, 4 do
      local out = pipes[i]:read("*a")
      pipes[i]:close()
      assert.matches("DONE 8", out)
    end
    os.remove(script)
    local reqs = server.requests("/webhook/rate")
    assert.equal(32, #reqs)
    local times = {}
    for _, r in ipairs(reqs) do times[#times + 1] = r.time end
    table.sort(times)
    -- any 6 consecutive arrivals span at least (nearly) a second: 5 per window at most
    -- (0.05 s of slack for the way from the check to the stand-in's clock)
    for i = 6, #times do
      assert.is_true(times[i] - times[i - 5] >= 0.95,
        ("6 requests within %.3f s (at %d)"):format(times[i] - times[i - 5], i))
    end
  end)
end)

describe("spool: bad conditions", function()
  local dir
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() dir = tmpdir(); server.clear() end)
  after_each(function() shell.execute("rm -rf " .. shell.q(dir)) end)

  it("a spool locked past async.timeout answers SPOOL_BUSY, records nothing, then works again", function()
    local path = dir .. "/busy.db"
    local c = assert(notifyhub.new({ spool = { path = path }, async = { timeout = 0 },
      webhook = { url = server.url("/webhook/busy") } }))
    local flag = dir .. "/locked"
    -- another process holds the write lock for 4 s
    local locker = assert(io.popen(("python3 -c %s"):format(shell.q(([[
import sqlite3, time, pathlib
db = sqlite3.connect(%q, isolation_level=None, timeout=10)
db.execute("BEGIN IMMEDIATE")
pathlib.Path(%q).touch()
time.sleep(4)
db.execute("ROLLBACK")
]]):format(path, flag)))))
    local deadline = system.gettime() + 10
    while not io.open(flag) and system.gettime() < deadline do system.sleep(0.05) end
    local t0 = system.gettime()
    local h, err, code = c:send_async({ id = "busy-1", body = "x" })
    local took = system.gettime() - t0
    assert.is_nil(h)
    assert.equal("SPOOL_BUSY", code)
    assert.matches(path, err, 1, true)
    assert.is_true(took >= 0.5 and took < 3.5, ("waited %.3f s"):format(took))   -- the 1 s floor
    locker:close()
    local h2 = assert(c:send_async({ id = "busy-2", body = "x" }))
    assert(h2:wait(10))
    c:close()
    local count = arrivals("/webhook/busy")
    assert.is_nil(count["busy-1"])
    local sp = assert(spool.open(path))
    local st = sp:stats()
    sp:close()
    assert.equal(0, st.queued + st.taken + st.failed)
  end)
end)

describe("spool: a full file system", function()
  local dir
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() dir = tmpdir(); server.clear() end)
  after_each(function() shell.execute("rm -rf " .. shell.q(dir)) end)

  it("past a file-size limit refuses with SPOOL_FULL, records nothing half, and works again", function()
    local path = dir .. "/full.db"
    local script = child.script(([[
      io.stdout:setvbuf("line")
      local notifyhub = require("notifyhub")
      local spool = require("notifyhub.spool")
      local c = assert(notifyhub.new({ spool = { path = %q }, webhook = { url = %q, secret = %q } }))
      local body, accepted, code = string.rep("z", 4000), 0, nil
      for i = 1, 2000 do
        local h, err, why = c:send_async({ id = "full-" .. i, body = body })
        if not h then code = why; print("REFUSED " .. tostring(why) .. " " .. tostring(err)); break end
        accepted = accepted + 1
      end
      print("ACCEPTED " .. accepted)
      assert(c:wait_all(30))
      -- the ends of delivered messages are written a moment after their callbacks
      local left
      for _ = 1, 100 do
        local sp = assert(spool.open(%q))
        local st = sp:stats()
        sp:close()
        left = st.queued + st.taken + st.failed
        if left == 0 then break end
        os.execute("sleep 0.05")
      end
      print("LEFT " .. left)
      -- delivered records left the file: there is room again
      local h, err = c:send_async({ id = "again", body = "small" })
      print(h and "AGAIN ok" or ("AGAIN " .. tostring(err)))
      if h then h:wait(10) end
      c:close()
    ]]):format(path, server.signed("full", { secret = SECRET }), SECRET, path), INTERPRETER)
    -- dash's ulimit -f counts 512-byte blocks: 1 MiB; SIGXFSZ ignored, so writes fail with EFBIG;
    -- `exec env`: under make asan the command starts with LD_PRELOAD=..., which exec alone refuses
    local p = assert(io.popen(("sh -c %s 2>&1"):format(shell.q(("trap '' XFSZ; ulimit -f 2048; exec env %s%s %s")
      :format(child.preload(), INTERPRETER, shell.q(script))))))
    local out = p:read("*a")
    p:close()
    os.remove(script)
    assert.matches("REFUSED SPOOL_FULL", out)
    local accepted = tonumber(out:match("ACCEPTED (%d+)"))
    assert.is_true(accepted > 10, out)
    assert.matches("LEFT 0", out)
    assert.matches("AGAIN ok", out)
    local count = arrivals("/signed/full")
    for i = 1, accepted do assert.truthy(count["full-" .. i], "full-" .. i .. " was accepted, not delivered") end
    assert.is_nil(count["full-" .. (accepted + 1)])   -- refused: not recorded, not sent
    assert.truthy(count["again"])
  end)
end)
