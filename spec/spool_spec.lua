-- The spool (issue 13, phase 1: the store). tests/spool_store.c drives the
-- core's spool against real files and real processes (build/spool_store,
-- built by `make build`); the inspector, notifyhub.spool.open, is checked
-- here from Lua on a spool that program leaves.

local shell = require("spec.support.shell")
local notifyhub = require("notifyhub")
local spool = require("notifyhub.spool")

local URL_SECRET, SIGN_SECRET = "TOKEN-SECRET-1234", "SIGN-SECRET-5678"

local function tmpdir() return shell.tmpdir("spool") end

local function run(mode, dir)
  assert(shell.execute("make -s build/spool_store >/dev/null"))
  local p = assert(io.popen("build/spool_store " .. mode .. " " .. shell.q(dir) .. " 2>&1"))
  local out = p:read("*a")
  local ok = p:close()
  return ok, out
end

local function passes(mode, lines)
  local dir = tmpdir()
  local ok, out = run(mode, dir)
  shell.execute("rm -rf " .. shell.q(dir))
  assert.is_nil(out:match("FAIL[^\n]*"), out)
  assert.is_true(ok, out)
  for _, line in ipairs(lines) do assert.matches("PASS " .. mode .. ": " .. line, out, 1, true) end
end

describe("the spool store, from C", function()
  it("refuses what is not a spool, naming the path, and makes new files 0600", function()
    passes("open", {
      "a missing directory is refused, naming the path",
      "a file of random bytes is refused",
      "another SQLite database is refused",
      "an unwritable file is refused, naming it",
      "a new spool file has mode 0600",
      "its -wal file has mode 0600 too",
      "reopened, it holds what was put",
    })
  end)

  it("puts, takes, renews, finishes, hands back and bounds its records", function()
    passes("queue", {
      "a record decodes into the job it was made from (URL, secret, headers, retry)",
      "a receipt holds no secret",
      "take: the highest priority first, nothing before its due time",
      "release queues everything held again: same id, same attempt",
      "max_queued: a batch that does not fit is refused whole (QUEUE_FULL)",
      "groups sharing one transaction: the one that fits goes in, the other is refused",
      "finish: many ends in one transaction, each says whether it was held",
      "put as taken: held by this owner at once, another holder does not get them",
      "records that are not jobs decode to nothing; out-of-range numbers are clamped",
      "a failure is kept keep_failed seconds (1 s here), then purged",
      -- Each handle reserves max_queued slots in blocks: the count bounds the
      -- rows (exact after a clean close), instead of matching them at every put.
      "the count max_queued reads bounds the rows",
      "and agrees with them once the handle closed cleanly",
      "in a child of fork() a handle answers CLOSED; the parent's goes on",
    })
  end)

  it("never lets two processes take the same record", function()
    passes("race", { "two processes taking at once took every record exactly once" })
  end)

  it("takes over at once what a holder killed with SIGKILL held", function()
    passes("kill", {
      "a live holder keeps what it took (10 of 100)",
      "killed with SIGKILL, its 10 records are taken over at once (all 100 recorded)",
      "a holder whose pid now belongs to a process started at another time is dead",
      "a holder's row holds its process start time (/proc/<pid>/stat field 22)",
      "a live holder is not dead, whatever its size",
    })
  end)

  it("takes over what a holder on another host held once its lease ran out", function()
    passes("foreign", {
      "a holder on another host keeps its records while its lease runs",
      "after its lease (1 s) ran out they are taken over",
    })
  end)

  it("answers SPOOL_BUSY when another process holds the lock past the timeout", function()
    passes("busy", {
      "a lock held past the timeout (0.5 s): SPOOL_BUSY, naming the path, after about the timeout",
      "once the lock is gone it works again; nothing of the refused put was recorded",
    })
  end)

  it("answers SPOOL_FULL past a file-size limit, records nothing half, and works again", function()
    passes("full", {
      "past the file-size limit: SPOOL_FULL, naming the path",
      "nothing of the refused batch was recorded",
      "once there is room the spool works again",
    })
  end)

  it("keeps 4 processes together under one destination's rate limit", function()
    passes("rate", { "4 processes together: never more than 5 in 1 s nor 8 in 2 s" })
  end)
end)

-- Every string in v (keys too), for the secret checks.
local function strings(v, out)
  out = out or {}
  if type(v) == "table" then
    for k, x in pairs(v) do
      strings(k, out)
      strings(x, out)
    end
  elseif type(v) == "string" then
    out[#out + 1] = v
  end
  return out
end

local function assert_no_secret(v)
  for _, s in ipairs(strings(v)) do
    assert.is_nil(s:find(URL_SECRET, 1, true), s)
    assert.is_nil(s:find(SIGN_SECRET, 1, true), s)
  end
end

describe("notifyhub.spool.open", function()
  local dir, path
  before_each(function()
    dir = tmpdir()
    path = dir .. "/inspect.db"
    local ok, out = run("inspect", path)
    assert.is_true(ok, out)
  end)
  after_each(function() shell.execute("rm -rf " .. shell.q(dir)) end)

  it("counts what the spool holds, per state and per destination label", function()
    local sp = assert(spool.open(path))
    local st = assert(sp:stats())
    assert.same({ queued = 2, taken = 1, failed = 3 }, { queued = st.queued, taken = st.taken, failed = st.failed })
    assert.same({
      ["webhook https://hooks.example/***"] = { queued = 1, taken = 0, failed = 2 },
      ["feishu bot ***"] = { queued = 1, taken = 1, failed = 1 },
    }, st.destinations)
    sp:close()
  end)

  it("opens from a table too: { path = file, wait = s }, as the Redis form { redis = url }", function()
    local sp = assert(spool.open({ path = path, wait = 2 }))
    assert.equal(3, assert(sp:stats()).failed)
    sp:close()
    assert.has_error(function() spool.open({ path = path, bogus = 1 }) end,
      "bad argument #1 to 'open' (bogus: unknown key)")
    assert.has_error(function() spool.open({ path = 5 }) end,
      "bad argument #1 to 'open' (path: string expected, got number)")
  end)

  it("lists the failed messages oldest first, with their receipts and no secret", function()
    local sp = assert(spool.open(path))
    local failed = assert(sp:failed())
    assert.equal(3, #failed)
    assert.same({ "msg-0", "msg-1", "msg-2" }, { failed[1].id, failed[2].id, failed[3].id })
    assert.is_true(failed[1].failed_at < failed[2].failed_at)
    local r = failed[1].receipt
    assert.equal("msg-0", r.message_id)
    assert.equal("failed", r.status)
    assert.equal("HTTP_STATUS", r.results[1].code)
    assert.equal("webhook https://hooks.example/***", r.results[1].target)
    assert.matches("HTTP 500 at https://hooks.example/***", r.results[1].error, 1, true)
    assert.equal(1, #assert(sp:failed(1)))
    assert.equal(0, #assert(sp:failed(0)))
    assert_no_secret(failed)
    assert_no_secret(sp:stats())
    -- the records themselves hold the secrets (what delivery needs): the file is 0600
    local bytes = (shell.read_file(path) or "") .. (shell.read_file(path .. "-wal") or "")
    assert.truthy(bytes:find(URL_SECRET, 1, true))
    assert.equal("600", shell.capture("stat -c %a " .. shell.q(path)):match("%d+"))
    sp:close()
  end)

  it("retries a failed message by id and purges the rest", function()
    local sp = assert(spool.open(path))
    assert.is_true(sp:retry("msg-1"))
    assert.is_false(sp:retry("msg-1"))          -- no longer failed
    assert.is_false(sp:retry("no-such-id"))
    local st = sp:stats()
    assert.equal(3, st.queued)
    assert.equal(2, st.failed)
    assert.equal(2, sp:purge_failed())
    assert.equal(0, sp:purge_failed())
    st = sp:stats()
    assert.same({ 3, 1, 0 }, { st.queued, st.taken, st.failed })
    assert.same({}, sp:failed())
    sp:close()
  end)

  it("is closed safely twice, and answers CLOSED after", function()
    local sp = assert(spool.open(path))
    assert.matches("^notifyhub%.spool %(", tostring(sp))
    sp:close()
    sp:close()
    assert.equal("notifyhub.spool (closed)", tostring(sp))
    local v, err, code = sp:stats()
    assert.is_nil(v)
    assert.equal("CLOSED", code)
    assert.truthy(err)
    local v2, _, code2 = sp:retry("msg-0")
    assert.is_nil(v2)
    assert.equal("CLOSED", code2)
  end)

  it("refuses a missing file and a file that is not a spool, naming the path", function()
    local sp, err, code = spool.open(dir .. "/nope.db")
    assert.is_nil(sp)
    assert.equal("INVALID_CONFIG", code)
    assert.matches(dir .. "/nope.db: does not exist", err, 1, true)
    local f = assert(io.open(dir .. "/junk.db", "wb"))
    f:write(string.rep("\1\2\3junk", 500))
    f:close()
    sp, err, code = spool.open(dir .. "/junk.db")
    assert.is_nil(sp)
    assert.equal("INVALID_CONFIG", code)
    assert.matches(dir .. "/junk.db: is not a spool", err, 1, true)
  end)

  it("raises on bad arguments", function()
    assert.has_error(function() spool.open(nil) end, "bad argument #1 to 'open' (string or table expected, got nil)")
    local sp = assert(spool.open(path))
    assert.has_error(function() sp:failed(-1) end)
    assert.has_error(function() sp:failed(0.5) end)
    assert.has_error(function() sp:failed(0 / 0) end)
    assert.has_error(function() sp:retry({}) end)
    sp:close()
  end)

  it("is part of a client's config (phase 2): notifyhub.new takes a spool section, not unknown keys", function()
    assert(notifyhub.new({ spool = { path = path } })):close()
    assert.has_error(function() notifyhub.new({ spool = { path = path, paht = 1 } }) end)
  end)

  it("is reachable as notifyhub.spool, and its codes are in notifyhub.codes", function()
    assert.equal(spool, notifyhub.spool)
    for _, name in ipairs({ "SPOOL_BUSY", "SPOOL_FULL", "HANDED_OVER" }) do
      assert.equal(name, notifyhub.codes[name])
    end
  end)
end)
