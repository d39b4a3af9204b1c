-- Review of the Redis spool's store (issue 15, items 1-3 and 6) from outside: what a user
-- or an attacker meets with real redis-server processes. Each case is named after what
-- broke: ACL users without the rights the scripts need (the error said "check the user and
-- password"), keys of the prefix written by another program or deleted under a running
-- client (every send refused, records holding secrets left behind), a message counter past
-- 2^53 (two messages on one record).

local shell = require("spec.support.shell")
local server = require("spec.support.server")
local redis = require("spec.support.redis")
local rs = require("spec.support.redis_spool")
local system = require("system")
local notifyhub = require("notifyhub")
local spool = require("notifyhub.spool")

-- The keys under prefix (redis-cli --scan), sorted.
local function keys(prefix)
  local out = {}
  for k in redis.cli("--scan", "--pattern", prefix .. ":*"):gmatch("[^\n]+") do out[#out + 1] = k end
  table.sort(out)
  return out
end

-- The records (P:m:<seq>) under prefix.
local function records(prefix)
  local out = {}
  for _, k in ipairs(keys(prefix)) do
    if k:match("^" .. prefix:gsub("%p", "%%%0") .. ":m:%d+$") then out[#out + 1] = k end
  end
  return out
end

-- A client on the spool at url/prefix whose log lines are kept (level, text).
local function client(url, prefix, extra)
  local log = {}
  local config = {
    spool = rs.spool(url, prefix),
    logger = { level = "debug", handler = function(level, msg) log[#log + 1] = level .. " " .. msg end },
  }
  for k, v in pairs(extra or {}) do config[k] = v end
  local c, err, code = notifyhub.new(config)
  return c, err, code, log
end

local function send(c, path, id)
  return c:send_async({ id = id, body = "id:" .. id, targets = { { platform = "webhook", value = server.url(path) } } })
end

-- Polls until every id reached path; the ids that did not.
local function missing(ids, path, timeout)
  local deadline = system.gettime() + timeout
  while true do
    local count = rs.arrivals(server.requests(path))
    local left = {}
    for _, id in ipairs(ids) do
      if not count[id] then left[#left + 1] = id end
    end
    if #left == 0 or system.gettime() > deadline then return left end
    system.sleep(0.1)
  end
end

describe("review: the Redis spool's store", function()
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

  it("an ACL user without EVALSHA is refused at open, in words naming the permission, not the password", function()
    local pw = "pw-" .. rs.prefix("acl")
    assert.equal("OK", redis.cli("ACL", "SETUSER", "noeval", "on", ">" .. pw, "~*", "+@all", "-evalsha"))
    local url = ("redis://noeval:%s@127.0.0.1:%d/0"):format(pw, r.port)
    local c, err, code = client(url, rs.prefix("acl"))
    if c then c:close(0) end
    assert.is_nil(c)
    assert.equal("INVALID_CONFIG", code)
    assert.matches("noeval", err, 1, true)
    assert.matches("evalsha", err:lower(), 1, true)
    assert.is_nil(err:find("password", 1, true), err)
    assert.is_nil(err:find(pw, 1, true), err)
    local sp, ierr, icode = spool.open({ redis = url, prefix = rs.prefix("acl") })
    if sp then sp:close() end
    assert.is_nil(sp)
    assert.equal("INVALID_CONFIG", icode)
    assert.matches("evalsha", ierr:lower(), 1, true)
  end)

  it("an ACL user whose scripts may not run XCLAIM is refused at open, naming it", function()
    local pw = "pw-" .. rs.prefix("acl")
    assert.equal("OK", redis.cli("ACL", "SETUSER", "noclaim", "on", ">" .. pw, "~*", "+@all", "-xclaim"))
    local url = ("redis://noclaim:%s@127.0.0.1:%d/0"):format(pw, r.port)
    local prefix = rs.prefix("acl")
    local c, err, code = client(url, prefix)
    if c then c:close(0) end
    assert.is_nil(c)
    assert.equal("INVALID_CONFIG", code)
    assert.matches("noclaim", err, 1, true)
    assert.matches("XCLAIM", err, 1, true)
    assert.is_nil(err:find(pw, 1, true), err)
    -- the probe leaves nothing behind
    assert.same({}, keys(prefix .. ":probe"))
  end)

  it("XCLAIM revoked while a client runs: the renewal's error says which right is missing", function()
    local pw = "pw-" .. rs.prefix("acl")
    assert.equal("OK", redis.cli("ACL", "SETUSER", "revoked", "on", ">" .. pw, "~*", "+@all"))
    local url = ("redis://revoked:%s@127.0.0.1:%d/0"):format(pw, r.port)
    -- a lease of 1 s renews every 0.33 s while the slow target holds the message
    local c, err, _, log = client(url, rs.prefix("acl"),
      { spool = { redis = url, prefix = rs.prefix("acl"), lease = 1 } })
    assert.is_truthy(c, err)
    assert.equal("OK", redis.cli("ACL", "SETUSER", "revoked", "-xclaim"))
    server.behave("/webhook/noclaim", { delay = 1.5 })
    local h = assert(send(c, "/webhook/noclaim", "noclaim-1"))
    assert.is_truthy(h:wait(10))
    c:close(2)
    local renew
    for _, line in ipairs(log) do
      if line:find("renewing", 1, true) then renew = line end
    end
    assert.is_truthy(renew, table.concat(log, "\n"))
    assert.matches("revoked", renew, 1, true)
    assert.matches("permission", renew, 1, true)
    assert.is_nil(renew:find("password", 1, true), renew)
  end)

  it("a key of the prefix that another program wrote (wrong type): a clear error, nothing half-recorded", function()
    for _, case in ipairs({ { "lab", "SET" }, { "n", "SET" }, { "h", "SET" }, { "q:1", "SET" }, { "due", "SET" },
      { "failed", "HSET" }, { "seq", "SET" } }) do
      local prefix = rs.prefix("wt")
      local c, err, _, log = client(r.url, prefix)
      assert.is_truthy(c, err)
      local h = assert(send(c, "/webhook/wt", prefix .. "-1"))
      assert.is_truthy(h:wait(5))
      -- its end written: the record left
      local deadline = system.gettime() + 5
      while #records(prefix) > 0 and system.gettime() < deadline do system.sleep(0.05) end
      assert.same({}, records(prefix))
      local key = prefix .. ":" .. case[1]
      redis.cli("DEL", key)
      if case[2] == "SET" then redis.cli("SET", key, "x") else redis.cli("HSET", key, "f", "x") end
      local h2, err2, code2 = send(c, "/webhook/wt", prefix .. "-2")
      c:close(1)
      -- refused (the spool cannot record it) naming the key, or accepted and delivered
      if h2 then
        assert.same({}, missing({ prefix .. "-2" }, "/webhook/wt", 5), case[1])
      else
        assert.equal("INVALID_CONFIG", code2, err2)
        assert.matches(key, err2, 1, true)
        assert.matches("another program", err2, 1, true)
      end
      assert.same({}, records(prefix), case[1] .. ": " .. tostring(err2) .. "\n" .. table.concat(log, "\n"))
      -- a new client on that prefix is refused at once, naming the key
      local c3, err3, code3 = client(r.url, prefix)
      if c3 then c3:close(0) end
      assert.is_nil(c3, case[1])
      assert.equal("INVALID_CONFIG", code3, err3)
      assert.matches(key, err3, 1, true)
    end
  end)

  it("a stream deleted under a running client: sends go on, every accepted one delivered, no record left", function()
    for _, which in ipairs({ "h", "q:1" }) do
      local prefix = rs.prefix("del")
      local c, err, _, log = client(r.url, prefix)
      assert.is_truthy(c, err)
      local ids, refused = {}, {}
      for i = 1, 60 do
        if i == 30 then redis.cli("DEL", prefix .. ":" .. which) end
        local id = ("%s-%03d"):format(prefix, i)
        local h, e, code = send(c, "/webhook/del", id)
        if h then ids[#ids + 1] = id else refused[#refused + 1] = tostring(code) .. " " .. tostring(e) end
        system.sleep(0.01)
      end
      assert.same({}, refused, which)
      assert.same({}, missing(ids, "/webhook/del", 10), which)
      assert.is_true(c:wait_all(10), which)
      c:close(2)
      for _, line in ipairs(log) do
        assert.is_nil(line:find("NOGROUP", 1, true), which .. ": " .. line)
      end
      assert.is_true((rs.drained(r.url, prefix, 10)), which)
      assert.same({}, records(prefix), which)
    end
  end)

  -- tests/redis_store.c late
  it("a put or take given up for lost that reaches Redis after its undo does nothing", function()
    assert.is_true(shell.execute("make -s build/redis_store >/dev/null"), "make build/redis_store")
    local p = assert(io.popen(("timeout 60 build/redis_store late redis://127.0.0.1:%d/3 2>&1"):format(r.port)))
    local out = p:read("*a")
    p:close()
    assert.is_nil(out:match("FAIL[^\n]*"), out)
    assert.matches("PASS late: a put that reaches Redis after its undo records nothing", out, 1, true)
    assert.matches("PASS late: a take that reaches Redis after its undo takes nothing", out, 1, true)
    assert.matches("PASS late: the handle's next calls work as before", out, 1, true)
  end)

  it("a message counter past 2^53 is refused: never two messages on one record", function()
    local prefix = rs.prefix("seq")
    local c, err = client(r.url, prefix)
    assert.is_truthy(c, err)
    redis.cli("SET", prefix .. ":seq", "9007199254740990")
    local hs, errs = {}, {}
    for i = 1, 4 do
      local h, e, code = send(c, "/webhook/seq", prefix .. "-" .. i)
      if h then hs[#hs + 1] = h else errs[#errs + 1] = tostring(code) .. " " .. tostring(e) end
    end
    c:close(3)
    -- whatever was accepted was delivered once, each under its own record
    local count = rs.arrivals(server.requests("/webhook/seq"))
    for _, h in ipairs(hs) do assert.equal(1, count[h.id], h.id) end
    assert.is_true(#errs > 0, "a counter past 2^53 was used")
    assert.matches(prefix .. ":seq", errs[1], 1, true)
  end)
end)
