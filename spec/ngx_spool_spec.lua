-- notifyhub.ngx with a spool (issue 13, item 7) inside a real nginx
-- (spec/support/app.lua): reloads and a quit lose nothing and log nothing
-- as undelivered, a locked spool answers SPOOL_BUSY without holding the
-- event loop, and the workers of one nginx share a rate limit without a
-- spool path.

local server = require("spec.support.server")
local app = require("spec.support.app")
local shell = require("spec.support.shell")
local spool = require("notifyhub.spool")
local system = require("system")
local cjson = require("cjson")

local function tmpdir() return shell.tmpdir("ngxspool") end

-- Lua source of app.start's extra: a spool at path, more config, ngx options.
local function extra(path, config, opts)
  local parts = {}
  -- a lease of 120 s: what arrives sooner was taken over without waiting one out
  if path then parts[#parts + 1] = ("spool = { path = %q, lease = 120 }"):format(path) end
  for k, v in pairs(config or {}) do parts[#parts + 1] = k .. " = " .. v end
  local o = {}
  for k, v in pairs(opts or {}) do o[#o + 1] = k .. " = " .. v end
  return ("{ config = { %s }, opts = { %s } }"):format(table.concat(parts, ", "), table.concat(o, ", "))
end

-- The ids that reached the stand-in under path (a body "id:ID"), with how
-- often and the time of the first arrival after `after` (nil: any).
local function arrivals(path, after)
  local count = {}
  for _, r in ipairs(server.requests(path)) do
    local id = r.body:match("id:([%w%-]+)")
    if id and (not after or r.time > after) then count[id] = (count[id] or 0) + 1 end
  end
  return count
end

-- Waits until every id of the list reached path (after `after`); the
-- ones still missing.
local function wait_delivered(ids, path, timeout, after)
  local deadline = system.gettime() + timeout
  while true do
    local got, missing = arrivals(path, after), {}
    for id in pairs(ids) do if not got[id] then missing[#missing + 1] = id end end
    if #missing == 0 or system.gettime() > deadline then return missing end
    system.sleep(0.2)
  end
end

local function spool_stats(path)
  local sp = assert(spool.open(path))
  local st = assert(sp:stats())
  sp:close()
  return st
end

-- Requests /accept (query) over and over from `n` curl loops in the
-- background until the file `stop` exists; every answer goes to `out`.
local function load_start(query, n, out, stop)
  local cfg = out .. ".curl"
  local f = assert(io.open(cfg, "w"))
  for _ = 1, 50 do f:write(('url = "%s"\n'):format(app.url("/accept?" .. query))) end
  f:close()
  for i = 1, n do
    os.execute(("(while [ ! -f %s ]; do curl -s -m 10 -K %s >> %s.%d; done; echo done > %s.%d.end) &")
      :format(shell.q(stop), shell.q(cfg), shell.q(out), i, shell.q(out), i))
  end
end

-- Waits for the loops to end; the ids answered OK, how many, and the codes of the refused.
local function load_stop(n, out, stop)
  assert(io.open(stop, "w")):close()
  local deadline = system.gettime() + 30
  for i = 1, n do
    while not io.open(out .. "." .. i .. ".end") and system.gettime() < deadline do system.sleep(0.05) end
  end
  local ids, n_ok, refused = {}, 0, ""
  for i = 1, n do
    local f = io.open(out .. "." .. i)
    local text = f and f:read("*a") or ""
    if f then f:close() end
    for id in text:gmatch("OK (%S+)") do ids[id] = true; n_ok = n_ok + 1 end
    for code in text:gmatch('"code":"(%u+)"') do refused = refused .. " " .. code end
  end
  return ids, n_ok, refused
end

describe("notifyhub.ngx with a spool", function()
  local dir
  setup(function() server.start() end)
  teardown(function()
    app.stop()
    server.stop()
  end)
  before_each(function()
    dir = tmpdir()
    server.clear()
  end)
  after_each(function()
    app.stop()
    shell.execute("rm -rf " .. shell.q(dir))
  end)

  it("answers SPOOL_BUSY within spool.wait (0.1 s) when another process locks the spool; /ping stays fast", function()
    local path = dir .. "/busy.db"
    app.start({ workers = 1, extra = extra(path) })
    local flag = dir .. "/locked"
    local locker = assert(io.popen(("python3 -c %s"):format(shell.q(([[
import sqlite3, time, pathlib
db = sqlite3.connect(%q, isolation_level=None, timeout=10)
db.execute("BEGIN IMMEDIATE")
pathlib.Path(%q).touch()
time.sleep(3)
db.execute("ROLLBACK")
]]):format(path, flag)))))
    local deadline = system.gettime() + 10
    while not io.open(flag) and system.gettime() < deadline do system.sleep(0.05) end
    local worst_ping = 0
    for _ = 1, 5 do
      local t0 = system.gettime()
      local status, body = server.http("GET", app.url("/accept"), nil, nil, 5)
      local wall = system.gettime() - t0
      assert.equal(503, status, body)
      local r = cjson.decode(body)
      assert.equal("SPOOL_BUSY", r.code)
      assert.matches(path, r.err, 1, true)
      -- the event loop was held 0.1 s (plus a busy machine's slack), not the plain 1 s
      assert.is_true(r.took < 0.5, ("send_async took %.3f s"):format(r.took))
      assert.is_true(wall < 1.5, ("the request took %.3f s"):format(wall))
      t0 = system.gettime()
      assert.equal(200, (server.http("GET", app.url("/ping"), nil, nil, 5)))
      worst_ping = math.max(worst_ping, system.gettime() - t0)
    end
    assert.is_true(worst_ping < 0.5, ("/ping took %.3f s"):format(worst_ping))
    locker:close()
    local status, body = server.http("GET", app.url("/accept"), nil, nil, 5)
    assert.equal(200, status, body)
    local id = body:match("OK (%S+)")
    assert.same({}, wait_delivered({ [id] = true }, "/webhook/accept", 10))
  end)

  it("answers SPOOL_BUSY within the bound also while workers count rate-limited sends in the spool", function()
    local path = dir .. "/busyrate.db"
    local url = server.url("/webhook/slowrate")
    app.start({ workers = 1, extra = extra(path,
      { webhook = ("{ url = %q, rate_limit = { per_second = 2 } }"):format(url) }) })
    for _ = 1, 30 do   -- a backlog that asks the spool's rate windows again and again
      local status, body = server.http("GET", app.url("/accept?path=/webhook/slowrate"), nil, nil, 5)
      assert.equal(200, status, body)
    end
    local flag = dir .. "/locked"
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
    local worst = 0
    for _ = 1, 12 do
      local status, body = server.http("GET", app.url("/accept?path=/webhook/other"), nil, nil, 5)
      assert.equal(503, status, body)
      local r = cjson.decode(body)
      assert.equal("SPOOL_BUSY", r.code)
      worst = math.max(worst, r.took)
      system.sleep(0.1)
    end
    assert.is_true(worst < 0.5, ("send_async held the event loop %.3f s"):format(worst))
    locker:close()
  end)

  it("loses nothing over 3 reloads under load with 4 workers, and logs nothing as undelivered", function()
    local path = dir .. "/reload.db"
    -- in-flight messages outlast close_timeout: the exiting workers hand them back
    app.start({ workers = 4, close_timeout = 0.3, extra = extra(path) })
    local out, stop, loops = dir .. "/out", dir .. "/stop", 4
    load_start("delay=0.5", loops, out, stop)
    for _ = 1, 3 do
      system.sleep(0.7)
      assert.is_true(app.signal("reload"))
    end
    system.sleep(0.7)
    local ids, n_ok, refused = load_stop(loops, out, stop)
    assert.is_true(n_ok >= 200, ("only %d accepted"):format(n_ok))
    local t0 = system.gettime()
    local missing = wait_delivered(ids, "/webhook/accept", 100)
    assert.equal(0, #missing, ("%d of %d accepted ids never delivered (refused:%s), e.g. %s")
      :format(#missing, n_ok, refused, tostring(missing[1])))
    -- the new workers take what the old ones handed back within 0.5 s: no lease to wait out
    local took = system.gettime() - t0
    assert.is_true(took < 90, ("the last ids arrived %.1f s after the load stopped"):format(took))
    local log = app.error_log()
    assert.is_nil(log:find("not delivered", 1, true), log:match("[^\n]*not delivered[^\n]*"))
    local deadline = system.gettime() + 10
    local st = spool_stats(path)
    while st.queued + st.taken > 0 and system.gettime() < deadline do
      system.sleep(0.2)
      st = spool_stats(path)
    end
    assert.equal(0, st.queued + st.taken)
    assert.equal(0, st.failed)
  end)

  it("hands queued messages back on quit; a new nginx on the spool delivers them", function()
    local path = dir .. "/quit.db"
    server.behave("/webhook/slow", { delay = 20 })
    app.start({ workers = 2, close_timeout = 0.3, extra = extra(path) })
    local ids, n = {}, 0
    for _ = 1, 40 do
      local status, body = server.http("GET", app.url("/accept?path=/webhook/slow"), nil, nil, 5)
      assert.equal(200, status, body)
      ids[body:match("OK (%S+)")] = true
      n = n + 1
    end
    assert.is_true(app.signal("quit"))
    assert.is_true(app.wait_exit(15))
    local quit_at = system.gettime()
    local log = app.error_log()
    assert.is_nil(log:find("not delivered", 1, true), log:match("[^\n]*not delivered[^\n]*"))
    local st = spool_stats(path)
    assert.equal(n, st.queued, "every message is back in the spool, queued")
    assert.equal(0, st.taken)
    app.stop()
    server.behave("/webhook/slow", nil)
    local t0 = system.gettime()
    app.start({ workers = 2, extra = extra(path) })
    assert.same({}, wait_delivered(ids, "/webhook/slow", 30, quit_at))
    local took = system.gettime() - t0
    assert.is_true(took < 10, ("the new nginx took %.1f s to deliver them"):format(took))
  end)

  it("without a spool path, 4 workers keep a destination at 5 per second together", function()
    local url = server.url("/webhook/rate")
    app.start({ workers = 4, extra = extra(nil,
      { webhook = ("{ url = %q, rate_limit = { per_second = 5 } }"):format(url) }) })
    -- requests on new connections until 3 workers have each accepted some
    local pids, n, n_pids = {}, 0, 0
    local deadline = system.gettime() + 10
    while (n_pids < 3 or n < 30) and n < 60 and system.gettime() < deadline do
      local out = shell.capture(("curl -s --parallel --parallel-max 8 %s 2>/dev/null"):format(
        (" " .. shell.q(app.url("/accept?path=/webhook/rate"))):rep(6)))
      for pid in out:gmatch("OK %S+ (%d+)") do
        n = n + 1
        if not pids[pid] then pids[pid], n_pids = true, n_pids + 1 end
      end
    end
    assert.is_true(n_pids >= 2, "the requests all went to one worker")
    local _, reached = server.wait_for(n, "/webhook/rate", 60)
    assert.is_true(reached)
    local times = {}
    for _, r in ipairs(server.requests("/webhook/rate")) do times[#times + 1] = r.time end
    assert.equal(n, #times)
    table.sort(times)
    -- any 6 consecutive arrivals span at least (nearly) a second: 5 per window at most
    for i = 6, #times do
      assert.is_true(times[i] - times[i - 5] >= 0.95,
        ("6 requests within %.3f s (at %d of %d, %d workers)"):format(times[i] - times[i - 5], i, n, n_pids))
    end
    assert.is_nil(app.error_log():find("rate limits are kept per worker", 1, true))
  end)
end)

describe("notifyhub.ngx's spool options", function()
  local notifyhub = require("notifyhub")
  local core = require("notifyhub.core")
  local dir
  setup(function() server.start() end)
  teardown(function()
    app.stop()
    server.stop()
  end)
  before_each(function()
    dir = tmpdir()
    server.clear()
  end)
  after_each(function()
    app.stop()
    shell.execute("rm -rf " .. shell.q(dir))
  end)

  it("spool.messages = false records nothing and hands nothing back; spool.wait is checked", function()
    local path = dir .. "/rates.db"
    server.behave("/webhook/norec", { delay = 1 })
    local c = assert(notifyhub.new({ spool = { path = path, messages = false },
      webhook = { url = server.url("/webhook/norec") } }))
    local handles = {}
    for i = 1, 5 do handles[i] = assert(c:send_async({ body = "x" .. i })) end
    system.sleep(0.3)                                  -- in flight now
    local st = spool_stats(path)
    assert.equal(0, st.queued + st.taken + st.failed)
    for i = 1, 5 do assert(handles[i]:wait(10)) end
    assert.equal(0, c:close(1))
    assert.equal(0, c:stats().handed_over)
    for _, bad in ipairs({ 0, -1, 61, 0 / 0, math.huge }) do
      local ok, err = pcall(notifyhub.new, { spool = { path = path, wait = bad } })
      assert.is_false(ok)
      assert.matches("spool.wait: number > 0 and <= 60 expected", err, 1, true)
    end
  end)

  it("spool.wait bounds a plain client's wait for a locked spool too", function()
    local path = dir .. "/wait.db"
    local c = assert(notifyhub.new({ spool = { path = path, wait = 0.2 },
      webhook = { url = server.url("/webhook/wait") } }))
    local flag = dir .. "/locked"
    local locker = assert(io.popen(("python3 -c %s"):format(shell.q(([[
import sqlite3, time, pathlib
db = sqlite3.connect(%q, isolation_level=None, timeout=10)
db.execute("BEGIN IMMEDIATE")
pathlib.Path(%q).touch()
time.sleep(2)
db.execute("ROLLBACK")
]]):format(path, flag)))))
    local deadline = system.gettime() + 10
    while not io.open(flag) and system.gettime() < deadline do system.sleep(0.05) end
    local t0 = system.gettime()
    local h, _, code = c:send_async({ body = "x" })
    local took = system.gettime() - t0
    assert.is_nil(h)
    assert.equal("SPOOL_BUSY", code)
    assert.is_true(took >= 0.1 and took < 0.9, ("waited %.3f s"):format(took))
    locker:close()
    assert(assert(c:send_async({ body = "y" })):wait(10))
    c:close()
  end)

  it("makes the rate windows' directory 0700 and refuses one another user could enter", function()
    local made = assert(core.private_dir(dir))
    assert.matches("^" .. dir:gsub("%p", "%%%0") .. "/notifyhub%-%d+$", made)
    assert.equal("drwx------", shell.capture("stat -c %A " .. shell.q(made)):match("%S+"))
    assert.equal(made, core.private_dir(dir))           -- again: the same, still fine
    shell.execute("chmod 0755 " .. shell.q(made))
    local none, err = core.private_dir(dir)
    assert.is_nil(none)
    assert.matches("closed to others", err, 1, true)
    shell.execute("rm -rf " .. shell.q(made) .. " && mkdir " .. shell.q(dir .. "/elsewhere")
      .. " && chmod 0700 " .. shell.q(dir .. "/elsewhere")
      .. " && ln -s " .. shell.q(dir .. "/elsewhere") .. " " .. shell.q(made))
    none, err = core.private_dir(dir)                   -- a symlink, even to a good directory
    assert.is_nil(none)
    assert.matches("not a directory", err, 1, true)
    none, err = core.private_dir(dir .. "/missing")
    assert.is_nil(none)
    assert.matches("cannot be made", err, 1, true)
  end)

  it("configure refuses a shared_rates that is neither a boolean nor a file name", function()
    app.start()
    local got = { ["5"] = "number", nan = "number", empty = "an empty name",
      ctl = "a name with control characters" }
    for v, what in pairs(got) do
      local status, body = server.http("GET", app.url("/bad-option?name=shared_rates&value=" .. v), nil, nil, 5)
      assert.equal(200, status)
      assert.matches("notifyhub.ngx: shared_rates: boolean or file name expected, got " .. what, body, 1, true)
    end
  end)

  it("keeps the windows per worker, and says so, when shared_rates names a file it cannot open", function()
    app.start({ extra = extra(nil, nil, { shared_rates = ("%q"):format(dir .. "/missing/rates.db") }) })
    local status = server.http("GET", app.url("/accept?path=/webhook/fallback"), nil, nil, 5)
    assert.equal(200, status)
    assert.is_true(select(2, server.wait_for(1, "/webhook/fallback", 10)))
    assert.matches("rate limits are kept per worker (no shared rate windows: spool "
      .. dir .. "/missing/rates.db", app.error_log(), 1, true)
  end)
end)

-- Two handles on one spool file in one process (notifyhub.ngx's worker
-- had the client's and the rate windows'; an application may inspect the
-- spool its client uses): opening the second must not drop the first's
-- locks (POSIX locks belong to the process: any close() of the file drops
-- them all), or another process closing the file last deletes the WAL the
-- first still writes, and what it accepted afterwards is gone.
describe("a second handle on a spool in one process", function()
  local notifyhub = require("notifyhub")
  local child = require("spec.support.child")
  local INTERPRETER = jit and "luajit" or "lua5.4"
  local dir
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function()
    dir = tmpdir()
    server.clear()
  end)
  after_each(function() shell.execute("rm -rf " .. shell.q(dir)) end)

  it("keeps the first handle's locks: what it accepts after another process closed the file stays", function()
    local path = dir .. "/two.db"
    server.behave("/webhook/two", { delay = 30 })
    local c = assert(notifyhub.new({ spool = { path = path },
      webhook = { url = server.url("/webhook/two") } }))
    assert(c:send_async({ body = "first" }))
    assert(spool.open(path)):close()            -- the second handle, in this process
    local status, out, err = child.run_code(([[
      local sp = assert(require("notifyhub.spool").open(%q))
      assert(sp:stats())
      sp:close()
    ]]):format(path), INTERPRETER)
    assert.equal(0, status, out .. err)
    for i = 1, 5 do assert(c:send_async({ body = "after " .. i })) end
    local st = spool_stats(path)                 -- read from another process
    status, out, err = child.run_code(([[
      local sp = assert(require("notifyhub.spool").open(%q))
      local st = sp:stats()
      print("HELD " .. (st.queued + st.taken))
      sp:close()
    ]]):format(path), INTERPRETER)
    assert.equal(0, status, out .. err)
    c:close(0)
    assert.equal("HELD 6", out:match("HELD %d+"), "the records accepted after the other process closed")
    assert.equal(6, st.queued + st.taken)
  end)
end)
