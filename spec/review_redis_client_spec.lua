-- Review of the client's Redis paths (issue 15, items 4 and 5), from outside: a
-- real redis-server (spec/support/redis.lua) and the loopback stand-ins.

local server = require("spec.support.server")
local app = require("spec.support.app")
local redis = require("spec.support.redis")
local rs = require("spec.support.redis_spool")
local system = require("system")
local notifyhub = require("notifyhub")
local shell = require("spec.support.shell")
local child = require("spec.support.child")

local INTERPRETER = os.getenv("NH_SPEC_LUA") or (jit and "luajit" or "lua5.4")

describe("review: the Redis spool's client", function()
  local r
  setup(function()
    server.start()
    r = redis.start()
  end)
  teardown(function()
    redis.thaw()
    server.stop()
    redis.cleanup()
  end)
  before_each(function() server.clear() end)

  -- A worker that confirms a job in doubt (unpark) on the client's connection held its
  -- lock for a whole Redis timeout; a send_async (an event loop) behind it waited as
  -- long, past spool.wait (seen: 1.2 s for a wait of 0.1 s).
  it("Redis frozen while workers confirm held jobs: send_async answers within spool.wait", function()
    local c = assert(notifyhub.new({
      spool = { redis = r.url, prefix = rs.prefix("rvblock"), lease = 3, wait = 0.1 },
      async = { timeout = 0, workers = 1, max_workers = 1, concurrency = 16 },
      retry = { max_attempts = 1 },
      webhook = { url = server.url("/webhook/rvblock?delay=0.3") } }))
    for i = 1, 400 do assert(c:send_async({ body = "q" .. i })) end
    system.sleep(0.3)
    redis.freeze()
    local worst, calls = 0, 0
    local stop = system.gettime() + 8
    while system.gettime() < stop do
      local t0 = system.gettime()
      local h, err, code = c:send_async({ body = "x" })
      worst = math.max(worst, system.gettime() - t0)
      calls = calls + 1
      assert.is_nil(h, "accepted while Redis was frozen")
      assert.is_true(rs.DOWN[code] == true, tostring(code) .. ": " .. tostring(err))
      c:poll()
      system.sleep(0.02)
    end
    redis.thaw()
    c:close(2)
    assert.is_true(calls > 20)
    assert.is_true(worst < 0.6, ("send_async took %.3f s (spool.wait = 0.1)"):format(worst))
  end)

  -- A worker whose client could not open (Redis frozen at init_worker) opened it again
  -- in every send_async, for up to 1 s each (NH_SPOOL_MIN_WAIT), holding the event loop,
  -- and answered CLOSED instead of the store's code.
  it("nginx started while Redis is frozen: send_async answers SPOOL_BUSY within spool.wait, then works", function()
    local prefix = rs.prefix("rvngx")
    redis.freeze()
    app.start({ workers = 1, close_timeout = 1,
      extra = ("{ config = { spool = %s } }"):format(rs.spool_source(r.url, prefix, { lease = 3 })) })
    local worst = 0
    for _ = 1, 4 do
      local t0 = system.gettime()
      local status, body = server.http("GET", app.url("/accept"), nil, nil, 10)
      worst = math.max(worst, system.gettime() - t0)
      assert.equal(503, status, body)
      local answer = require("cjson").decode(body)
      assert.is_true(rs.DOWN[answer.code] == true, body)
      assert.matches(rs.names(r.public), answer.err, 1, true)
      assert.is_true(answer.took < 0.5, ("send_async held the event loop %.3f s"):format(answer.took))
    end
    assert.is_true(worst < 1.5, ("a request took %.3f s"):format(worst))
    redis.thaw()
    local deadline, id = system.gettime() + 10
    repeat
      local status, body = server.http("GET", app.url("/accept"), nil, nil, 5)
      id = status == 200 and body:match("OK (%S+)")
      if not id then system.sleep(0.2) end
    until id or system.gettime() > deadline
    assert.is_truthy(id, "not accepted after the thaw")
    local reqs = server.wait_for(1, "/webhook/accept", 20)
    assert.is_truthy(rs.arrivals(reqs)[id])
    app.stop()
  end)

  -- While Redis did not answer, the writer's every look at it (a renew, a take, opening
  -- it again) waited half the writer's 1 s; a send_async handed to the writer meanwhile
  -- was refused SPOOL_BUSY at spool.wait although the file beside Redis was there to
  -- take it (seen: 8 of 40 refused).
  it("fallback, Redis frozen: the file takes every send_async, each within spool.wait", function()
    local dir = shell.tmpdir("rvfb")
    server.behave("/webhook/rvfb", { status = 503, headers = { ["Retry-After"] = "5" } })
    redis.freeze()
    local c = assert(notifyhub.new({
      spool = { redis = r.url, path = dir .. "/fb.db", prefix = rs.prefix("rvfb"), lease = 3, wait = 0.1 },
      async = { timeout = 0, workers = 2, max_workers = 2, concurrency = 64 },
      retry = { max_attempts = 3 },
      webhook = { url = server.url("/webhook/rvfb") } }))
    local worst, accepted, refused = 0, 0, {}
    for _ = 1, 200 do assert(c:send_async({ body = "x" })) end
    local stop = system.gettime() + 10
    while system.gettime() < stop do                -- sparse, as requests come to nginx
      local t0 = system.gettime()
      local h, err, code = c:send_async({ body = "x" })
      worst = math.max(worst, system.gettime() - t0)
      if h then accepted = accepted + 1 else refused[#refused + 1] = code .. " " .. err end
      c:poll()
      system.sleep(0.13)
    end
    redis.thaw()
    server.behave("/webhook/rvfb", nil)
    c:close(1)
    shell.execute("rm -rf " .. shell.q(dir))
    assert.is_true(accepted > 0, "the file took nothing")
    assert.same({}, refused)
    assert.is_true(worst < 0.6, ("send_async took %.3f s (spool.wait = 0.1)"):format(worst))
  end)

  -- spool.deliver = "any" with the file beside Redis: while Redis was down the file took
  -- the messages for any client, another process on the file delivered them, and the
  -- producer, waiting for receipts the file never sends, ended each one TIMEOUT.
  it("fallback with deliver = any, Redis down: each handle ends once with the delivery's outcome", function()
    local dir = shell.tmpdir("rvany")
    local spool = ("{ redis = %q, path = %q, prefix = %q, deliver = 'any', lease = 2 }")
      :format(r.url, dir .. "/any.db", rs.prefix("rvany"))
    redis.stop()
    local stop = dir .. "/stop"
    local script = child.script(([[
      local notifyhub = require("notifyhub")
      local system = require("system")
      local c = assert(notifyhub.new({ spool = %s }))
      while not io.open(%q) do c:poll() system.sleep(0.02) end
      c:close(1)
    ]]):format(spool, stop), INTERPRETER)
    local pid = assert(tonumber(shell.trim(shell.capture(("%s%s %s >/dev/null 2>&1 & echo $!")
      :format(child.preload(), INTERPRETER, shell.q(script))))))
    local c = assert(notifyhub.new({ spool = assert(load("return " .. spool))(),
      retry = { max_attempts = 1 } }))
    c.core:stop_taking()                        -- the other process may take what it can
    system.sleep(0.5)
    local ends, outcome = {}, {}
    for i = 1, 10 do
      local h = assert(c:send_async({ id = "rvany-" .. i, body = "id:rvany-" .. i,
        targets = { { platform = "webhook", value = server.url("/webhook/rvany") } } }, { timeout = 5 }))
      h:on_complete(function() ends[i] = (ends[i] or 0) + 1; outcome[i] = "success" end)
      h:on_error(function(_, _, rc) ends[i] = (ends[i] or 0) + 1; outcome[i] = rc and rc.code or "?" end)
    end
    local deadline = system.gettime() + 10
    local function done() for i = 1, 10 do if not ends[i] then return false end end return true end
    while not done() and system.gettime() < deadline do c:poll() system.sleep(0.05) end
    c:close(1)
    shell.write_file(stop, "stop")
    local gone = system.gettime() + 10
    while shell.alive(pid) and system.gettime() < gone do system.sleep(0.05) end
    if shell.alive(pid) then shell.execute("kill -9 " .. pid) end
    os.remove(script)
    redis.restart()
    local got = rs.arrivals(server.requests("/webhook/rvany"))
    shell.execute("rm -rf " .. shell.q(dir))
    for i = 1, 10 do
      assert.equal(1, ends[i], "rvany-" .. i .. " ended " .. tostring(ends[i]) .. " times")
      assert.equal("success", outcome[i], "rvany-" .. i)
      assert.equal(1, got["rvany-" .. i], "rvany-" .. i .. " arrived " .. tostring(got["rvany-" .. i]) .. " times")
    end
  end)
end)
