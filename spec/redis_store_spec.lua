-- The Redis spool's store (issue 15): tests/redis_store.c drives csrc/nh_redis*.c
-- through its backend's entries against a real redis-server that this spec
-- starts on a free port (AOF on, a password required) and stops.

local shell = require("spec.support.shell")
local system = require("system")

local PASSWORD = "Redis-Secret-4242"

local server = {}

local function free_port()
  return tonumber(shell.trim(shell.capture(
    "python3 -c 'import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0));"
      .. " print(s.getsockname()[1])'")))
end

-- The shell command that starts redis-server (daemonized, its pid in dir/redis.pid).
local function start_cmd()
  return table.concat({
    "redis-server", "--port", server.port, "--bind 127.0.0.1", "--save ''",
    "--appendonly yes", "--dir", shell.q(server.dir), "--daemonize yes",
    "--pidfile", shell.q(server.dir .. "/redis.pid"), "--logfile", shell.q(server.dir .. "/log"),
    "--requirepass", PASSWORD,
  }, " ")
end

local function ping()
  return shell.execute("redis-cli -p " .. server.port .. " -a " .. PASSWORD
    .. " --no-auth-warning ping 2>/dev/null | grep -q PONG")
end

local function start()
  assert(shell.execute(start_cmd() .. " >/dev/null"))
  local deadline = system.gettime() + 10
  while not ping() and system.gettime() < deadline do system.sleep(0.05) end
  assert(ping(), "redis-server did not start")
end

function server.stop()
  if not server.dir then return end
  local pid = shell.read_file(server.dir .. "/redis.pid")
  if pid and tonumber(shell.trim(pid)) then shell.stop_process(tonumber(shell.trim(pid))) end
  shell.execute("rm -rf " .. shell.q(server.dir))
  server.dir = nil
end

local function url(db) return ("redis://:%s@127.0.0.1:%d/%d"):format(PASSWORD, server.port, db) end

local function run(mode, db)
  assert(shell.execute("make -s build/redis_store >/dev/null"))
  local env = table.concat({
    "REDIS_PASSWORD=" .. PASSWORD,
    "REDIS_STOP=" .. shell.q("redis-cli -p " .. server.port .. " -a " .. PASSWORD
      .. " --no-auth-warning shutdown >/dev/null 2>&1; sleep 0.3"),
    "REDIS_START=" .. shell.q(start_cmd() .. " >/dev/null"),
    "REDIS_PIDFILE=" .. shell.q(server.dir .. "/redis.pid"),
  }, " ")
  local p = assert(io.popen(env .. " timeout 120 build/redis_store " .. mode .. " "
    .. shell.q(url(db)) .. " 2>&1"))
  local out = p:read("*a")
  local ok = p:close()
  return ok, out
end

-- Each mode on a database of its own (Redis has 16).
local dbs = { queue = 1, race = 2, kill = 3, rate = 4, secret = 5, restart = 6, lost = 8 }

local function passes(mode, lines)
  local ok, out = run(mode, dbs[mode])
  assert.is_nil(out:match("FAIL[^\n]*"), out)
  assert.is_true(ok, out)
  assert.is_nil(out:find(PASSWORD, 1, true), "the password was printed")
  for _, line in ipairs(lines) do assert.matches("PASS " .. mode .. ": " .. line, out, 1, true) end
end

-- One server for the whole file (the last describe stops it).
local function ensure_server()
  if server.dir then return end
  server.dir = shell.tmpdir("redis")
  server.port = free_port()
  start()
  shell.stop_at_exit(server)
end

describe("the Redis spool store, from C", function()
  setup(ensure_server)

  it("puts, takes, renews, finishes, parks, hands back and bounds its records", function()
    passes("queue", {
      "take: the highest priority first, nothing before its due time, data intact",
      "renew counts what this owner holds",
      "finish: delivered, failed, again were held; a second end of one record is not",
      "a requeued record comes back with its attempt",
      "release queues everything held again for others",
      "put as taken: held by this owner at once, nobody takes it",
      "only its holder can end it",
      "park and unpark: the parked record stays its holder's",
      "a released parked record waits for its due time",
      "a record taken again brings its targets' progress",
      "max_queued: a group that does not fit is refused whole (QUEUE_FULL)",
      "groups in one call: the one that fits goes in, the other is refused",
      "receipts of records another owner ended go back to their producer",
      "and are read once",
      "stats: queued, taken, failed, in all and per label",
      "failed: the dead letter with its receipt",
      "retry queues a failure again, attempt 0",
      "purge_failed drops every dead letter",
      "a failure is kept keep_failed seconds (1 s here), then purged",
      "in a child of fork() a handle answers CLOSED; the parent's goes on",
    })
  end)

  it("never gives one record to two processes taking at once", function()
    passes("race", {
      "two processes taking at once took every record exactly once",
      "both processes took some",
    })
  end)

  it("hands a holder killed with SIGKILL's records to another after the lease", function()
    passes("kill", {
      "a killed holder's records wait for its lease",
      "then another owner takes every one of them",
      "the dead holder leaves the consumer group once it holds nothing",
    })
  end)

  it("keeps 4 processes under one shared rate window (Redis's clock)", function()
    passes("rate", {
      "4 processes together: never more than 5 in 1 s nor 8 in 2 s",
      "and the window lets sends through",
    })
  end)

  it("never shows the password, and refuses malformed URLs and rediss://", function()
    passes("secret", {
      "a wrong password: INVALID_CONFIG, and the error does not repeat it",
      "nothing listening: SPOOL_BUSY naming the URL without its password",
      "a database the server does not have: INVALID_CONFIG",
      "the handle's path has no password",
      "malformed URLs are refused naming the part, never the password",
      "a prefix with a space is refused",
      "URLs: IPv6, default port and database, %-escapes in user and password",
    })
  end)

  it("undoes a put or take whose answer was lost (Redis stopped, then continued)", function()
    passes("lost", {
      "a put whose answer was lost is undone at the next call: refused means not recorded",
      "a take whose answer was lost is undone: its messages are queued again for anyone",
    })
  end)

  it("fails within the timeout while Redis is down and works again after a restart", function()
    passes("restart", {
      "Redis stopped: a put fails within the timeout with SPOOL_BUSY, saying why",
      "restarted: the same handle works again, and what was recorded before is there (AOF)",
    })
  end)
end)

-- The Redis spool wired into clients: two processes on one Redis, close() handing back.
describe("the Redis spool from Lua", function()
  local http = require("spec.support.server")
  local child = require("spec.support.child")
  local notifyhub = require("notifyhub")
  local spool = require("notifyhub.spool")
  local SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
  local INTERPRETER = os.getenv("NH_SPEC_LUA") or (jit and "luajit" or "lua5.4")
  local n_prefix = 0

  local function prefix()
    n_prefix = n_prefix + 1
    return ("lua%d-%d"):format(shell.my_pid(), n_prefix)
  end

  local function spool_of(p) return { redis = url(7), prefix = p, lease = 2 } end

  local function counts(path)
    local count = {}
    for _, r in ipairs(http.requests(path)) do
      local id = r.headers["webhook-id"]
      if id then count[id] = (count[id] or 0) + 1 end
    end
    return count
  end

  -- Polls the inspector until nothing is queued or taken.
  local function drained(p, timeout)
    local deadline, last = system.gettime() + timeout
    repeat
      local sp = assert(spool.open({ redis = url(7), prefix = p }))
      last = assert(sp:stats())
      sp:close()
      if last.queued == 0 and last.taken == 0 then return true, last end
      system.sleep(0.1)
    until system.gettime() > deadline
    return false, last
  end

  setup(function()
    ensure_server()
    http.start()
  end)
  teardown(function()
    http.stop()
    server.stop()
  end)
  before_each(function() http.clear() end)

  it("two processes on one Redis deliver every message exactly once", function()
    local p, hook = prefix(), http.signed("two", { secret = SECRET })
    local code = ([[
      local notifyhub = require("notifyhub")
      local tag = ...
      local c = assert(notifyhub.new({ spool = { redis = %q, prefix = %q, lease = 2 },
        webhook = { url = %q, secret = %q }, async = { workers = 2 } }))
      local hs = {}
      for i = 1, 100 do hs[i] = assert(c:send_async({ id = tag .. "-" .. i, body = "x" })) end
      local ok = 0
      for _, h in ipairs(hs) do if h:wait(30) then ok = ok + 1 end end
      print("OK " .. ok)
      c:close(5)
    ]]):format(url(7), p, hook, SECRET)
    local script = child.script(code, INTERPRETER)
    local pipes = {}
    for i, tag in ipairs({ "a", "b" }) do
      pipes[i] = assert(io.popen(child.preload() .. INTERPRETER .. " " .. shell.q(script) .. " "
        .. tag .. " 2>&1"))
    end
    for i = 1, 2 do
      local out = pipes[i]:read("*a")
      pipes[i]:close()
      assert.matches("OK 100", out, 1, true)
      assert.is_nil(out:find(PASSWORD, 1, true), out)
    end
    os.remove(script)
    local count = counts("/signed/two")
    for _, tag in ipairs({ "a", "b" }) do
      for i = 1, 100 do assert.equal(1, count[tag .. "-" .. i], tag .. "-" .. i) end
    end
    assert.is_true((drained(p, 10)))
  end)

  it("close() hands unfinished messages back; another client delivers them", function()
    local p, hook = prefix(), http.signed("hand", { secret = SECRET })
    http.behave("/signed/hand", { delay = 30, times = 20 })
    local c = assert(notifyhub.new({ spool = spool_of(p), webhook = { url = hook, secret = SECRET },
      async = { workers = 1, concurrency = 4 } }))
    local codes, ids = {}, {}
    for i = 1, 10 do
      ids[i] = "hand-" .. i
      assert(c:send_async({ id = ids[i], body = ids[i] })):on_error(function(_, _, receipt)
        codes[#codes + 1] = receipt.code
      end)
    end
    system.sleep(0.3)
    local lost = c:close(0.5)
    local closed_at = system.gettime()
    assert.equal(0, lost)
    assert.equal(10, #codes)
    for _, code in ipairs(codes) do assert.equal("HANDED_OVER", code) end
    local sp = assert(spool.open({ redis = url(7), prefix = p }))
    local st = assert(sp:stats())
    assert.equal(10, st.queued)
    assert.is_nil(tostring(sp):find(PASSWORD, 1, true))
    sp:close()
    http.behave("/signed/hand", nil)
    local c2 = assert(notifyhub.new({ spool = spool_of(p) }))
    assert.is_true((drained(p, 30)))
    c2:close(5)
    local after = {}
    for _, r in ipairs(http.requests("/signed/hand")) do
      if r.time > closed_at then after[r.headers["webhook-id"]] = true end
    end
    for _, id in ipairs(ids) do assert.is_true(after[id], id .. " not delivered by the second client") end
  end)

  it("a Redis that is not there: notifyhub.new fails with SPOOL_BUSY, never the password", function()
    local c, err, code = notifyhub.new({ spool = { redis = "redis://:" .. PASSWORD .. "@127.0.0.1:1/0" } })
    assert.is_nil(c)
    assert.equal("SPOOL_BUSY", code)
    assert.matches("spool redis://127.0.0.1:1/0: cannot connect", err, 1, true)
    assert.is_nil(err:find(PASSWORD, 1, true))
    local _, err2, code2 = spool.open({ redis = "rediss://127.0.0.1:1/0" })
    assert.equal("INVALID_CONFIG", code2)
    assert.matches("TLS", err2, 1, true)
  end)
end)
