-- The Redis spool with a SQLite file beside it (issue 15, item 5: spool.redis + spool.path):
-- Redis first; while Redis cannot be reached the same submits are recorded in the file (no
-- error for the caller, within async.timeout), then Redis again once it answers. What went
-- to each store is seen through that store's own inspector: failed messages stay as dead
-- letters where they were recorded. A real redis-server (spec/support/redis.lua).

local shell = require("spec.support.shell")
local server = require("spec.support.server")
local redis = require("spec.support.redis")
local rs = require("spec.support.redis_spool")
local system = require("system")
local notifyhub = require("notifyhub")
local spool = require("notifyhub.spool")

local TIMEOUT, SLACK = 0.5, 1.5

describe("spool.redis with spool.path beside it (the fallback)", function()
  local r, dir, prefix
  setup(function() server.start() end)
  teardown(function()
    server.stop()
    redis.cleanup()
  end)
  before_each(function()
    r = redis.start()
    server.clear()
    server.behave("/webhook/bad", { status = 400, body = "no" })
    server.behave("/webhook/slow", { delay = 2 })
    dir = shell.tmpdir("redisfallback")
    prefix = rs.prefix("fb")
  end)
  after_each(function()
    redis.cleanup()
    shell.execute("rm -rf " .. shell.q(dir))
  end)

  local function client(extra)
    local cfg = { spool = rs.spool(r.url, prefix, { path = dir .. "/local.db", wait = TIMEOUT }),
      async = { timeout = TIMEOUT }, retry = { max_attempts = 1 },
      webhook = { url = server.url("/webhook/fb") } }
    for k, v in pairs(extra or {}) do cfg[k] = v end
    return assert(notifyhub.new(cfg))
  end

  -- A message to a destination that answers 400: it fails at once and stays, as a dead
  -- letter, in the store that recorded it.
  local function send_failing(c, id)
    local t0 = system.gettime()
    local h, err, code = c:send_async({ id = id, body = "id:" .. id,
      targets = { { platform = "webhook", value = server.url("/webhook/bad") } } })
    assert(h, tostring(code) .. ": " .. tostring(err))
    assert.is_true(system.gettime() - t0 < TIMEOUT + SLACK, ("send_async took %.2f s"):format(system.gettime() - t0))
    local res, why = h:wait(20)
    assert.is_nil(res)
    assert.matches("400", tostring(why))
  end

  local function failed_ids(sp)
    local ids = {}
    for _, f in ipairs(assert(sp:failed())) do ids[#ids + 1] = f.id end
    table.sort(ids)
    return ids
  end

  it("records in Redis while it answers, in the file while it is down, in Redis again after", function()
    local c = client()
    send_failing(c, "up-1")
    redis.stop()
    send_failing(c, "down-1")
    send_failing(c, "down-2")
    redis.restart()
    -- Redis is asked again within a second or two of answering
    local deadline = system.gettime() + 10
    local n = 0
    repeat
      n = n + 1
      send_failing(c, "back-" .. n)
      local sp = rs.open(r.url, prefix)
      local ids = sp and failed_ids(sp) or {}
      if sp then sp:close() end
      local back = false
      for _, id in ipairs(ids) do back = back or id:match("^back%-") ~= nil end
      if back then break end
      system.sleep(0.3)
    until system.gettime() > deadline
    c:close(2)
    local file = assert(spool.open(dir .. "/local.db"))
    local in_file = failed_ids(file)
    file:close()
    local sp = assert(rs.open(r.url, prefix))
    local in_redis = failed_ids(sp)
    sp:close()
    local seen = ("file: %s; redis: %s"):format(table.concat(in_file, " "), table.concat(in_redis, " "))
    local function has(list, pattern)
      for _, id in ipairs(list) do if id:match(pattern) then return true end end
      return false
    end
    assert.is_true(has(in_file, "^down%-1$") and has(in_file, "^down%-2$"), seen)
    assert.is_false(has(in_file, "^up%-"), seen)
    assert.is_true(has(in_redis, "^up%-1$"), seen)
    assert.is_false(has(in_redis, "^down%-"), seen)
    assert.is_true(has(in_redis, "^back%-"), "nothing went to Redis after it came back: " .. seen)
  end)

  it("a burst across an outage: every accepted message delivered once, none refused", function()
    local c = client()
    local handles = {}
    for i = 1, 60 do
      if i == 21 then redis.stop() end
      if i == 41 then redis.restart() end
      local id = ("burst-%d"):format(i)
      local h, err, code = c:send_async({ id = id, body = "id:" .. id })
      assert(h, ("%s: %s: %s"):format(id, tostring(code), tostring(err)))
      handles[#handles + 1] = h
    end
    for _, h in ipairs(handles) do assert.equal("success", assert(h:wait(20)).status) end
    c:close(2)
    local count = rs.arrivals(server.requests("/webhook/fb"))
    for i = 1, 60 do assert.equal(1, count[("burst-%d"):format(i)], "burst-" .. i) end
  end)

  it("Redis down when the client opens: the file takes the messages; a wrong password is still an error", function()
    redis.stop()
    local t0 = system.gettime()
    local c = client()
    local h = assert(c:send_async({ id = "cold-1", body = "id:cold-1" }))
    assert.equal("success", assert(h:wait(20)).status)
    assert.is_true(system.gettime() - t0 < 2 * (TIMEOUT + SLACK), ("took %.2f s"):format(system.gettime() - t0))
    c:close(2)
    redis.restart()
    local bad = r.url:gsub("^redis://", "redis://nobody:wrong-pass-123@")
    local ok, res, err, code = pcall(notifyhub.new, {
      spool = rs.spool(bad, prefix, { path = dir .. "/local.db" }),
      webhook = { url = server.url("/webhook/fb") } })
    local text = ok and tostring(err) or tostring(res)
    assert.is_true(not ok or res == nil, "a wrong password was taken")
    if ok then assert.is_true(rs.AUTH[code] == true, tostring(code)) end
    assert.falsy(text:find("wrong-pass-123", 1, true))
  end)

  it("a process killed while Redis is down: the next one on the same file delivers what it accepted", function()
    redis.stop()
    local code = ([[
      package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
      package.cpath = "./build/%s/?.so;" .. package.cpath
      local notifyhub = require("notifyhub")
      local c = assert(notifyhub.new({ spool = { redis = %q, prefix = %q, path = %q, lease = 2 },
        webhook = { url = %q }, async = { workers = 1, max_workers = 1, concurrency = 1 } }))
      for i = 1, 30 do assert(c:send_async({ id = "kill-" .. i, body = "id:kill-" .. i })) end
      io.stdout:write("SENT\n"); io.stdout:flush()
      os.execute("sleep 30")
    ]]):format(jit and "luajit" or "lua5.4", r.url, prefix, dir .. "/local.db", server.url("/webhook/slow"))
    local f = assert(io.open(dir .. "/child.lua", "w"))
    f:write(code)
    f:close()
    local p = assert(io.popen(("%s %s & echo $!"):format(jit and "luajit" or "lua5.4", shell.q(dir .. "/child.lua"))))
    local pid = tonumber(p:read("l"))
    assert.equal("SENT", p:read("l"))
    shell.execute("kill -9 " .. pid)
    p:close()
    redis.restart()
    local c = client({ webhook = { url = server.url("/webhook/fb") } })
    -- the dead process's records in the file are this host's: taken over at once
    local deadline = system.gettime() + 20
    local got
    repeat
      system.sleep(0.3)
      got = rs.arrivals(server.requests("/webhook/slow"))
      local n = 0
      for _ in pairs(got) do n = n + 1 end
      if n >= 30 then break end
    until system.gettime() > deadline
    c:close(2)
    for i = 1, 30 do assert.truthy(got["kill-" .. i], "kill-" .. i .. " never delivered") end
  end)
end)
