-- The Redis spool (issue 15) when Redis fails: down before a client opens, killed or
-- frozen (a network cut) under a running client, restarted in the middle of a burst, killed
-- together with the producer; none may hang a caller past async.timeout, lose what was
-- accepted, or show the password. A real redis-server (spec/support/redis.lua); the codes
-- expected: spec/support/redis_spool.lua.

local shell = require("spec.support.shell")
local server = require("spec.support.server")
local redis = require("spec.support.redis")
local fleet = require("spec.support.fleet")
local rs = require("spec.support.redis_spool")
local system = require("system")
local notifyhub = require("notifyhub")

local SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
local INTERPRETER = os.getenv("NH_SPEC_LUA") or (jit and "luajit" or "lua5.4")
-- async.timeout (and spool.wait) of the clients here; a call may take this plus SLACK on a
-- busy machine, never more.
local TIMEOUT, SLACK = 0.5, 1.5

-- The ids of ids that never reached path within timeout seconds (a body "id:ID").
local function undelivered(ids, path, timeout)
  local deadline = system.gettime() + timeout
  while true do
    local count, missing = rs.arrivals(server.requests(path)), {}
    for _, id in ipairs(ids) do if not count[id] then missing[#missing + 1] = id end end
    if #missing == 0 or system.gettime() > deadline then return missing end
    system.sleep(0.2)
  end
end

-- send_async while Redis cannot answer: nil, err, a DOWN code, within the bound; the
-- error names the server. Returns how long the slowest call took.
local function refused_in_time(c, public, path, n)
  local worst = 0
  for i = 1, n do
    local t0 = system.gettime()
    local h, err, code = c:send_async({ id = ("down-%d-%d"):format(i, math.random(1e6)), body = "x",
      targets = { { platform = "webhook", value = server.url(path) } } })
    worst = math.max(worst, system.gettime() - t0)
    assert.is_true(h == nil, "accepted while Redis was down")
    assert.is_true(rs.DOWN[code] == true, tostring(code) .. ": " .. tostring(err))
    assert.matches(rs.names(public), err, 1, true)
  end
  assert.is_true(worst < TIMEOUT + SLACK, ("send_async took %.2f s"):format(worst))
  return worst
end

-- Sends until one is accepted (the store reconnects); that handle, within timeout.
local function accepted_again(c, path, timeout)
  local deadline = system.gettime() + timeout
  repeat
    local h = c:send_async({ id = "again-" .. math.random(1e9), body = "x",
      targets = { { platform = "webhook", value = server.url(path) } } })
    if h then return h end
    system.sleep(0.2)
  until system.gettime() > deadline
  return nil
end

local function config(url, prefix, extra)
  local cfg = { spool = rs.spool(url, prefix, { wait = TIMEOUT }), async = { timeout = TIMEOUT },
    retry = { max_attempts = 1 }, webhook = { url = server.url("/webhook/faults") } }
  for k, v in pairs(extra or {}) do cfg[k] = v end
  return cfg
end

describe("spool.redis when Redis fails", function()
  local r, dirs
  setup(function() server.start() end)
  teardown(function()
    fleet.stop_all()
    server.stop()
    redis.cleanup()
  end)
  before_each(function()
    r = redis.start()
    server.clear()
    dirs = {}
  end)
  after_each(function()
    fleet.stop_all()
    redis.cleanup()   -- every test breaks its server: a fresh one for the next
    for _, d in ipairs(dirs) do shell.execute("rm -rf " .. shell.q(d)) end
  end)

  local function stopfile()
    local dir = shell.tmpdir("redisfaults")
    dirs[#dirs + 1] = dir
    return dir .. "/stop"
  end

  it("down before the client opens: a clear error, fast, from new or the first send_async and the inspector", function()
    redis.stop()
    local prefix = rs.prefix("down")
    local t0 = system.gettime()
    local how, text, code = rs.refusal(config(r.url, prefix))
    if how == "accepted" then   -- a store that connects lazily: the first send says it
      local c = assert(notifyhub.new(config(r.url, prefix)))
      refused_in_time(c, r.public, "/webhook/down", 3)
      c:close(1)
    else
      assert.equal("returned", how, text)
      assert.is_true(rs.DOWN[code] == true, tostring(code) .. ": " .. text)
      assert.matches(rs.names(r.public), text, 1, true)
    end
    assert.is_true(system.gettime() - t0 < 2 * (TIMEOUT + SLACK), ("took %.2f s"):format(system.gettime() - t0))
    t0 = system.gettime()
    local sp, err, icode = rs.open(r.url, prefix)
    if sp then
      sp, err, icode = sp:stats()
      assert.is_nil(sp)
    end
    assert.is_true(rs.DOWN[icode] == true, tostring(icode) .. ": " .. tostring(err))
    assert.matches(rs.names(r.public), err, 1, true)
    assert.is_true(system.gettime() - t0 < 6, ("the inspector took %.2f s"):format(system.gettime() - t0))
    -- and once Redis is there, the same config works
    redis.restart()
    local c = assert(notifyhub.new(config(r.url, prefix)))
    assert(assert(c:send_async({ id = "after-up", body = "x" })):wait(20))
    c:close()
    assert.equal(0, server.count("/webhook/down"))
  end)

  it("down, with spool.path beside spool.redis (the fallback): send_async records in SQLite; delivered", function()
    redis.stop()
    local dir = shell.tmpdir("redisfallback")
    dirs[#dirs + 1] = dir
    local cfg = config(r.url, rs.prefix("fb"))
    cfg.spool.path = dir .. "/fallback.db"
    local t0 = system.gettime()
    local c, err, code = notifyhub.new(cfg)
    assert(c, tostring(code) .. ": " .. tostring(err))
    local h, serr, scode = c:send_async({ id = "fb-1", body = "id:fb-1",
      targets = { { platform = "webhook", value = server.url("/webhook/fallback") } } })
    assert(h, tostring(scode) .. ": " .. tostring(serr))
    assert.is_true(system.gettime() - t0 < 2 * (TIMEOUT + SLACK), ("took %.2f s"):format(system.gettime() - t0))
    assert.equal("success", assert(h:wait(20)).status)
    c:close()
    assert.same({}, undelivered({ "fb-1" }, "/webhook/fallback", 5))
  end)

  it("killed under a running client: send_async answers within async.timeout, works again after a restart", function()
    local prefix = rs.prefix("killed")
    local c = assert(notifyhub.new(config(r.url, prefix)))
    local before = {}
    for i = 1, 20 do
      before[i] = "pre-" .. i
      assert(c:send_async({ id = before[i], body = "id:" .. before[i],
        targets = { { platform = "webhook", value = server.url("/webhook/killed") } } }))
    end
    assert.same({}, undelivered(before, "/webhook/killed", 20))
    redis.kill()
    refused_in_time(c, r.public, "/webhook/killed", 10)
    redis.restart()
    local h = accepted_again(c, "/webhook/killed", 10)
    assert.is_not_nil(h, "no send accepted within 10 s of the restart")
    assert.equal("success", assert(h:wait(20)).status)
    local t0 = system.gettime()
    c:close(5)
    assert.is_true(system.gettime() - t0 < 7)
  end)

  it("frozen (SIGSTOP: connections open, no answer): send_async and close stay bounded, then work again", function()
    local prefix = rs.prefix("frozen")
    local c = assert(notifyhub.new(config(r.url, prefix)))
    assert(assert(c:send_async({ id = "pre-frozen", body = "x" })):wait(20))
    redis.freeze()
    refused_in_time(c, r.public, "/webhook/frozen", 5)
    local t0 = system.gettime()
    assert.is_nil((c:send_async_batch({ { body = "b1" }, { body = "b2" } })))
    assert.is_true(system.gettime() - t0 < TIMEOUT + SLACK, ("a batch took %.2f s"):format(system.gettime() - t0))
    redis.thaw()
    local h = accepted_again(c, "/webhook/frozen", 10)
    assert.is_not_nil(h, "no send accepted within 10 s of the thaw")
    assert(h:wait(20))
    -- closing while Redis does not answer: bounded too
    redis.freeze()
    t0 = system.gettime()
    c:close(1)
    local took = system.gettime() - t0
    redis.thaw()
    assert.is_true(took < 1 + 2 * (TIMEOUT + SLACK) + 2, ("close took %.2f s"):format(took))
  end)

  it("restarted (SIGTERM, same AOF) mid-burst: every accepted id delivered, none refused delivered later", function()
    local prefix, stop = rs.prefix("restart"), stopfile()
    server.behave("/signed/restart", { delay = 0.02 })
    local p = fleet.start(rs.client_code({ ids = "rs", n = 3000, pace = 0.0005, stop = stop,
      config = ("{ spool = %s, webhook = { url = %q, secret = %q }, async = { timeout = %s, "
        .. "concurrency = 8, buffer_size = 10000 } }"):format(rs.spool_source(r.url, prefix, { wait = TIMEOUT }),
        server.signed("restart", { secret = SECRET }), SECRET, TIMEOUT) }), INTERPRETER)
    assert.is_true(fleet.wait_lines(p, function(lines) return #lines >= 1000 end, 60), fleet.stderr(p))
    redis.restart()
    assert.is_true(fleet.wait_lines(p, function(lines) return lines[#lines] == "SENT" end, 120), fleet.stderr(p))
    local ids, refused = rs.accepted(fleet.lines(p))
    for _, line in ipairs(refused) do   -- only refusals while Redis was away
      assert.is_true(rs.DOWN[line:match("^E %S+ (%S+)")] == true, line)
    end
    assert.is_true(#ids >= 1000, #ids .. " accepted")
    local missing = undelivered(ids, "/signed/restart", 120)
    assert.same({}, missing)
    assert(io.open(stop, "w")):close()
    assert.is_true(fleet.wait(p, 20))
    local lines = fleet.lines(p)
    assert.equal("CLOSE 0", lines[#lines])
    -- never half-recorded (DESIGN: accepted, or refused with a code): a send refused as
    -- Redis went away is not in the spool, and another client does not deliver it later
    local drained, st = rs.drained(r.url, prefix, 10)
    local c = assert(notifyhub.new({ spool = rs.spool(r.url, prefix) }))
    system.sleep(rs.LEASE + 1)
    c:close()
    local count, late = rs.arrivals(server.requests("/signed/restart")), {}
    for _, line in ipairs(refused) do
      local id = line:match("^E (%S+)")
      if count[id] then late[#late + 1] = line end
    end
    assert.same({}, late)
    assert.is_true(drained, "left in the spool: " .. require("cjson").encode(st))
  end)

  it("killed (SIGKILL) with the producer: a new process delivers every id accepted (appendfsync always)", function()
    local prefix = rs.prefix("crash")
    server.behave("/signed/crash", { delay = 30 })   -- nothing is delivered before the crash
    local p = fleet.start(rs.client_code({ ids = "cr", n = 500, lifetime = 60,
      config = ("{ spool = %s, webhook = { url = %q, secret = %q }, async = { workers = 1, max_workers = 1, "
        .. "concurrency = 2, buffer_size = 10000 } }"):format(rs.spool_source(r.url, prefix),
        server.signed("crash", { secret = SECRET }), SECRET) }), INTERPRETER)
    assert.is_true(fleet.wait_lines(p, function(lines) return lines[#lines] == "SENT" end, 60), fleet.stderr(p))
    redis.kill()
    fleet.kill(p, "KILL")
    assert.is_true(fleet.wait(p, 5))
    local ids, refused = rs.accepted(fleet.lines(p))
    assert.same({}, refused)
    assert.equal(500, #ids)
    server.behave("/signed/crash", nil)
    redis.restart()
    local c = assert(notifyhub.new({ spool = rs.spool(r.url, prefix) }))
    local missing = undelivered(ids, "/signed/crash", 60)
    c:close()
    assert.same({}, missing)
  end)

  it("out of memory (maxmemory, noeviction): SPOOL_FULL, nothing recorded, accepted again with room", function()
    redis.cleanup()
    r = redis.start({ config = { "maxmemory 4mb", "maxmemory-policy noeviction" } })
    local prefix = rs.prefix("oom")
    server.behave("/webhook/oom", { delay = 30 })
    local c = assert(notifyhub.new(config(r.url, prefix, { async = { timeout = TIMEOUT, workers = 1,
      max_workers = 1, concurrency = 1, buffer_size = 10000 } })))
    local body, accepted, refused = ("x"):rep(50000), {}, nil
    for i = 1, 400 do
      local id = ("oom-%03d"):format(i)
      local h, err, code = c:send_async({ id = id, body = "id:" .. id .. " " .. body,
        targets = { { platform = "webhook", value = server.url("/webhook/oom") } } })
      if not h then
        refused = { id = id, err = err, code = code }
        break
      end
      accepted[#accepted + 1] = id
    end
    assert.is_not_nil(refused, "400 messages of 50 KB fit in 4 MB")
    assert.equal(rs.FULL, refused.code, refused.err)
    assert.matches(rs.names(r.public), refused.err, 1, true)
    assert.equal("OK", redis.cli("CONFIG", "SET", "maxmemory", "0"))
    assert.is_not_nil(accepted_again(c, "/webhook/oom", 5), "not accepted again once there was room")
    c:close(0.5)   -- hands back what it holds
    server.behave("/webhook/oom", nil)
    local c2 = assert(notifyhub.new({ spool = rs.spool(r.url, prefix) }))
    local missing = undelivered(accepted, "/webhook/oom", 60)
    system.sleep(1)
    c2:close()
    assert.same({}, missing)
    assert.is_nil(rs.arrivals(server.requests("/webhook/oom"))[refused.id], "the refused message was delivered")
  end)

  it("a password in the URL never shows, also when Redis dies under the client and the process exits", function()
    redis.cleanup()
    local password = "pw-" .. rs.prefix("F")
    r = redis.start({ password = password })
    local prefix, go = rs.prefix("pwf"), stopfile()
    server.behave("/webhook/pwf", { delay = 30 })
    local p = fleet.start(([[
local notifyhub = require("notifyhub")
local system = require("system")
local function exists(path) local f = io.open(path) if f then f:close() end return f ~= nil end
local c = assert(notifyhub.new({ spool = %s, async = { timeout = %s }, webhook = { url = %q },
  logger = { level = "debug", handler = function(level, msg) print("LOG " .. level .. " " .. msg) end } }))
print("TOSTRING " .. tostring(c))
for i = 1, 20 do
  local h, err, code = c:send_async({ id = "pwf-" .. i, body = "x" })
  print(h and ("A " .. h.id) or ("E " .. tostring(code) .. " " .. tostring(err)))
end
print("SENT")
local deadline = system.gettime() + 30
while not exists(%q) and system.gettime() < deadline do c:poll() system.sleep(0.05) end
for i = 21, 30 do
  local h, err, code = c:send_async({ id = "pwf-" .. i, body = "x" })
  print(h and ("A " .. h.id) or ("E " .. tostring(code) .. " " .. tostring(err)))
  c:poll()
end
print("STATS " .. require("cjson").encode(c:stats()))
os.exit(0)
]]):format(rs.spool_source(r.url, prefix, { wait = TIMEOUT }), TIMEOUT, server.url("/webhook/pwf"), go),
      INTERPRETER)
    local function sent(lines)
      for _, line in ipairs(lines) do if line == "SENT" then return true end end
    end
    assert.is_true(fleet.wait_lines(p, sent, 30), table.concat(fleet.lines(p), "\n") .. fleet.stderr(p))
    redis.kill()
    assert(io.open(go, "w")):close()
    assert.is_true(fleet.wait(p, 60), "the child did not exit")
    local out, err = table.concat(fleet.lines(p), "\n"), fleet.stderr(p)
    local refusals = 0
    for _ in out:gmatch("\nE ") do refusals = refusals + 1 end
    assert.is_true(refusals >= 10, "expected the sends after the kill to be refused:\n" .. out .. err)
    assert.is_nil(out:find(password, 1, true), out)
    assert.is_nil(err:find(password, 1, true), err)
  end)
end)
