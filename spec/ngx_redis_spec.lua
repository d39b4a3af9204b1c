-- notifyhub.ngx with the Redis spool (issue 15) inside a real nginx with 2 workers
-- (spec/support/app.lua) and a real redis-server (spec/support/redis.lua): under wrk every
-- accepted id is delivered and nothing is logged as undelivered, a quit leaves nothing
-- behind, a rate limit holds across the workers through Redis alone, and a Redis that does
-- not answer never holds the event loop. The codes expected: spec/support/redis_spool.lua.

local server = require("spec.support.server")
local app = require("spec.support.app")
local redis = require("spec.support.redis")
local shell = require("spec.support.shell")
local rs = require("spec.support.redis_spool")
local system = require("system")
local cjson = require("cjson")

-- Lua source of app.start's extra: the Redis spool (a lease of 5 s), more config, ngx options.
local function extra(url, prefix, config, opts)
  local parts = { "spool = " .. rs.spool_source(url, prefix, { lease = 5 }) }
  for k, v in pairs(config or {}) do parts[#parts + 1] = k .. " = " .. v end
  local o = {}
  for k, v in pairs(opts or {}) do o[#o + 1] = k .. " = " .. v end
  return ("{ config = { %s }, opts = { %s } }"):format(table.concat(parts, ", "), table.concat(o, ", "))
end

-- The ids of ids (a set) that have not reached path (after the time `after`, if given)
-- within timeout seconds.
local function wait_delivered(ids, path, timeout, after)
  local deadline = system.gettime() + timeout
  while true do
    local reqs = {}
    for _, req in ipairs(server.requests(path)) do
      if not after or req.time > after then reqs[#reqs + 1] = req end
    end
    local got, missing = rs.arrivals(reqs), {}
    for id in pairs(ids) do if not got[id] then missing[#missing + 1] = id end end
    if #missing == 0 or system.gettime() > deadline then return missing end
    system.sleep(0.2)
  end
end

describe("notifyhub.ngx with the Redis spool", function()
  local r, dir
  setup(function()
    r = redis.start()
    server.start()
  end)
  teardown(function()
    app.stop()
    server.stop()
    redis.cleanup()
  end)
  before_each(function()
    dir = shell.tmpdir("ngxredis")
    server.clear()
  end)
  after_each(function()
    app.stop()
    shell.execute("rm -rf " .. shell.q(dir))
  end)

  it("2 workers under wrk: every accepted id delivered, none logged as undelivered, nothing left after quit", function()
    local prefix = rs.prefix("wrk")
    app.start({ workers = 2, extra = extra(r.url, prefix) })
    local out = dir .. "/wrk"
    local report = shell.capture(("wrk -t2 -c8 -d3s -s %s %s -- %s 2>&1"):format(
      shell.q(shell.support_dir() .. "/wrk_lines.lua"), shell.q(app.url("/accept")), shell.q(out)))
    local ids, n, pids, refused = {}, 0, {}, {}
    for t = 1, 2 do
      for line in (shell.read_file(out .. "." .. t) or ""):gmatch("[^\n]+") do
        local id, pid = line:match("^200 OK (%S+) (%d+)")
        if id then
          ids[id], n, pids[pid] = true, n + 1, true
        else
          local ok, r503 = pcall(cjson.decode, line:match("^%d+ (.*)$") or "")
          refused[#refused + 1] = ok and type(r503) == "table" and tostring(r503.code) or line
        end
      end
    end
    assert.is_true(n >= 200, ("only %d accepted; wrk said:\n%s"):format(n, report))
    for _, code in ipairs(refused) do   -- a full queue may refuse; nothing else may
      assert.is_true(code == "QUEUE_FULL", "refused: " .. code)
    end
    local missing = wait_delivered(ids, "/webhook/accept", 120)
    assert.equal(0, #missing, ("%d of %d accepted ids never delivered, e.g. %s")
      :format(#missing, n, tostring(missing[1])))
    local log = app.error_log()
    assert.is_nil(log:find("not delivered", 1, true), log:match("[^\n]*not delivered[^\n]*"))
    assert.is_true((rs.drained(r.url, prefix, 20)))
    assert.is_true(app.signal("quit"))
    assert.is_true(app.wait_exit(15))
    log = app.error_log()
    assert.is_nil(log:find("not delivered", 1, true), log:match("[^\n]*not delivered[^\n]*"))
    local ok, st = rs.drained(r.url, prefix, 1)
    assert.is_true(ok, cjson.encode(st))
    assert.equal(0, st.failed)
    if os.getenv("NH_SPEC_VERBOSE") then
      local np = 0
      for _ in pairs(pids) do np = np + 1 end
      print(("%d accepted by %d workers, %d refused"):format(n, np, #refused))
    end
  end)

  it("a quit hands what the workers hold back to Redis; a plain client on the queue delivers it", function()
    local prefix = rs.prefix("ngxquit")
    server.behave("/webhook/slowr", { delay = 20 })
    app.start({ workers = 2, close_timeout = 0.3, extra = extra(r.url, prefix) })
    local ids, n = {}, 0
    for _ = 1, 40 do
      local status, body = server.http("GET", app.url("/accept?path=/webhook/slowr"), nil, nil, 5)
      assert.equal(200, status, body)
      ids[body:match("OK (%S+)")] = true
      n = n + 1
    end
    assert.is_true(app.signal("quit"))
    assert.is_true(app.wait_exit(15))
    local quit_at = system.gettime()
    local log = app.error_log()
    assert.is_nil(log:find("not delivered", 1, true), log:match("[^\n]*not delivered[^\n]*"))
    local sp = assert(rs.open(r.url, prefix))
    local st = assert(sp:stats())
    sp:close()
    assert.equal(n, st.queued, "every message is back in Redis, queued: " .. cjson.encode(st))
    assert.equal(0, st.taken)
    server.behave("/webhook/slowr", nil)
    local c = assert(require("notifyhub").new({ spool = rs.spool(r.url, prefix) }))
    local missing = wait_delivered(ids, "/webhook/slowr", 30, quit_at)
    c:close()
    assert.same({}, missing)
  end)

  it("2 workers keep a per_second = 5 limit together through Redis (shared_rates = false)", function()
    local prefix = rs.prefix("ngxrate")
    local url = server.url("/webhook/rate")
    app.start({ workers = 2, extra = extra(r.url, prefix,
      { webhook = ("{ url = %q, rate_limit = { per_second = 5 } }"):format(url) }, { shared_rates = "false" }) })
    local pids, n, n_pids = {}, 0, 0
    local deadline = system.gettime() + 10
    while (n_pids < 2 or n < 30) and n < 60 and system.gettime() < deadline do
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
    for _, req in ipairs(server.requests("/webhook/rate")) do times[#times + 1] = req.time end
    assert.equal(n, #times)
    table.sort(times)
    for i = 6, #times do
      assert.is_true(times[i] - times[i - 5] >= 0.95,
        ("6 requests within %.3f s (at %d of %d)"):format(times[i] - times[i - 5], i, n))
    end
  end)

  it("a Redis that does not answer: /accept answers 503 within 0.5 s, /ping stays fast, then it works again", function()
    local prefix = rs.prefix("ngxdown")
    app.start({ workers = 2, extra = extra(r.url, prefix) })
    local status, body = server.http("GET", app.url("/accept"), nil, nil, 5)
    assert.equal(200, status, body)
    for _, mode in ipairs({ "freeze", "kill" }) do
      redis[mode]()
      local worst_ping = 0
      for _ = 1, 5 do
        local t0 = system.gettime()
        status, body = server.http("GET", app.url("/accept"), nil, nil, 5)
        local wall = system.gettime() - t0
        assert.equal(503, status, body)
        local answer = cjson.decode(body)
        assert.is_true(rs.DOWN[answer.code] == true, body)
        assert.matches(rs.names(r.public), answer.err, 1, true)
        assert.is_true(answer.took < 0.5, ("send_async held the event loop %.3f s (%s)"):format(answer.took, mode))
        assert.is_true(wall < 1.5, ("the request took %.3f s"):format(wall))
        t0 = system.gettime()
        assert.equal(200, (server.http("GET", app.url("/ping"), nil, nil, 5)))
        worst_ping = math.max(worst_ping, system.gettime() - t0)
      end
      assert.is_true(worst_ping < 0.5, ("/ping took %.3f s (%s)"):format(worst_ping, mode))
      if mode == "freeze" then redis.thaw() else redis.restart() end
      local deadline, id = system.gettime() + 10
      repeat
        status, body = server.http("GET", app.url("/accept"), nil, nil, 5)
        id = status == 200 and body:match("OK (%S+)")
        if not id then system.sleep(0.2) end
      until id or system.gettime() > deadline
      assert.is_truthy(id, "not accepted again after " .. mode .. ": " .. tostring(body))
      assert.same({}, wait_delivered({ [id] = true }, "/webhook/accept", 20))
    end
  end)
end)
