-- The spool's per-target progress and long waits written back (issue 13):
-- a message taken over after a crash or a close() sends only the targets
-- that had not ended; a retry waiting longer than 2 s gives its record back
-- to the spool with its attempts and due time.

local shell = require("spec.support.shell")
local child = require("spec.support.child")
local server = require("spec.support.server")
local system = require("system")
local notifyhub = require("notifyhub")
local spool = require("notifyhub.spool")

local SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
local INTERPRETER = os.getenv("NH_SPEC_LUA") or (jit and "luajit" or "lua5.4")

local function tmpdir() return shell.tmpdir("progress") end

local drained = require("spec.support.spool_watch").drained

-- The requests at a stand-in that carried message id.
local function hits(prefix, id)
  local list = {}
  for _, r in ipairs(server.requests(prefix)) do
    if r.headers["webhook-id"] == id then list[#list + 1] = r end
  end
  return list
end

local function targets(...)
  local list = {}
  for i, name in ipairs({ ... }) do
    list[i] = { platform = "webhook", value = server.signed(name, { secret = SECRET }), secret = SECRET }
  end
  return list
end

describe("spool: per-target progress", function()
  local dir
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() dir = tmpdir(); server.clear() end)
  after_each(function() shell.execute("rm -rf " .. shell.q(dir)) end)

  it("after a SIGKILL, a new client sends only the target that had not ended", function()
    local path = dir .. "/kill.db"
    targets("inst", "slow")
    server.behave("/signed/slow", { delay = 60 })
    local script = child.script(([[
      io.stdout:setvbuf("line")
      local notifyhub = require("notifyhub")
      local c = assert(notifyhub.new({ spool = { path = %q } }))
      local secret = %q
      assert(c:send_async({ id = "two-1", body = "two-1", targets = {
        { platform = "webhook", value = %q, secret = secret },
        { platform = "webhook", value = %q, secret = secret } } }))
      print("ACCEPTED")
      while true do c:poll(); os.execute("sleep 0.05") end
    ]]):format(path, SECRET, server.url("/signed/inst"), server.url("/signed/slow")), INTERPRETER)
    local p = assert(io.popen(child.preload() .. "sh -c 'echo PID $$; exec " .. INTERPRETER .. " "
      .. shell.q(script) .. "'"))
    local pid = assert(tonumber(p:read("*l"):match("^PID (%d+)")))
    assert.equal("ACCEPTED", p:read("*l"))
    local _, got = server.wait_for(1, "/signed/inst", 10)
    assert.is_true(got, "the instant target was not sent")
    local _, hanging = server.wait_for(1, "/signed/slow", 10)
    assert.is_true(hanging, "the slow target was not sent")
    system.sleep(1)                          -- the instant target's end is written (10 ms batches)
    assert(shell.execute("kill -9 " .. pid))
    p:close()
    os.remove(script)
    local killed_at = system.gettime()

    server.behave("/signed/slow", nil)
    local c = assert(notifyhub.new({ spool = { path = path } }))
    local ok = drained(path, 30)
    c:close()
    assert.is_true(ok, "the new client did not deliver the message")
    assert.equal(1, #hits("/signed/inst", "two-1"))       -- the instant stand-in saw it once
    local slow = hits("/signed/slow", "two-1")
    assert.equal(2, #slow)                                 -- hanging at the kill, then again
    assert.is_true(slow[2].time >= killed_at - 0.5)
    local sp = assert(spool.open(path))
    local st = sp:stats()
    sp:close()
    assert.equal(0, st.queued + st.taken + st.failed)
  end)

  it("after close() hands back, a second client sends only the unfinished target", function()
    local path = dir .. "/close.db"
    local list = targets("inst", "slow")
    server.behave("/signed/slow", { delay = 60 })
    local c = assert(notifyhub.new({ spool = { path = path } }))
    local receipt
    assert(c:send_async({ id = "two-2", body = "two-2", targets = list })):on_error(function(_, _, r)
      receipt = r
    end)
    assert.is_true(select(2, server.wait_for(1, "/signed/inst", 10)))
    assert.is_true(select(2, server.wait_for(1, "/signed/slow", 10)))
    system.sleep(0.5)
    assert.equal(0, c:close(0.2))
    assert.equal("HANDED_OVER", receipt.code)
    -- what the closing process's handle saw: the instant target as it ended
    assert.is_true(receipt.results[1].success)
    assert.equal("HANDED_OVER", receipt.results[2].code)

    server.behave("/signed/slow", nil)
    local c2 = assert(notifyhub.new({ spool = { path = path } }))
    assert.is_true((drained(path, 30)))
    c2:close()
    assert.equal(1, #hits("/signed/inst", "two-2"))
    assert.equal(2, #hits("/signed/slow", "two-2"))
  end)

  it("a taken-over message that fails keeps a receipt of every target; retry() resends the failed one only", function()
    local path = dir .. "/receipt.db"
    local list = targets("inst", "slow")
    server.behave("/signed/slow", { delay = 60 })
    local c = assert(notifyhub.new({ spool = { path = path } }))
    assert(c:send_async({ id = "two-3", body = "two-3", targets = list }))
    assert.is_true(select(2, server.wait_for(1, "/signed/inst", 10)))
    assert.is_true(select(2, server.wait_for(1, "/signed/slow", 10)))
    system.sleep(0.5)
    c:close(0.2)

    server.behave("/signed/slow", { status = 404 })
    local c2 = assert(notifyhub.new({ spool = { path = path } }))
    assert.is_true((drained(path, 30)))
    c2:close()
    local sp = assert(spool.open(path))
    local failed = assert(sp:failed())
    assert.equal(1, #failed)
    local r = failed[1].receipt
    assert.equal("two-3", failed[1].id)
    assert.equal("partial", r.status)
    assert.equal(2, r.total)
    assert.equal(1, r.successful)
    assert.is_true(r.results[1].success)
    assert.equal(1, r.results[1].attempts)
    assert.is_false(r.results[2].success)
    assert.equal("HTTP_STATUS", r.results[2].code)
    assert.equal(404, r.results[2].http_status)
    assert.is_true(sp:retry("two-3"))
    sp:close()

    server.behave("/signed/slow", nil)
    local c3 = assert(notifyhub.new({ spool = { path = path } }))
    assert.is_true((drained(path, 30)))
    c3:close()
    assert.equal(1, #hits("/signed/inst", "two-3"))
    assert.equal(3, #hits("/signed/slow", "two-3"))     -- hanging, 404, delivered
    sp = assert(spool.open(path))
    assert.equal(0, sp:stats().failed)
    sp:close()
  end)
end)

describe("spool: a long retry wait is written back", function()
  local dir
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() dir = tmpdir(); server.clear() end)
  after_each(function() shell.execute("rm -rf " .. shell.q(dir)) end)

  it("closed during a Retry-After wait: the next client sends at the due time, attempts carried on", function()
    local path = dir .. "/later.db"
    local list = targets("later")
    server.behave("/signed/later", { status = 429, headers = { ["Retry-After"] = "3" } })
    local c = assert(notifyhub.new({ spool = { path = path }, retry = { max_attempts = 2 } }))
    local code
    assert(c:send_async({ id = "later-1", body = "later-1", targets = list })):on_error(function(_, _, r)
      code = r.code
    end)
    assert.is_true(select(2, server.wait_for(1, "/signed/later", 10)))
    system.sleep(0.5)                        -- the wait is written back
    local sp = assert(spool.open(path))
    assert.equal(1, sp:stats().queued)       -- given back while it waits
    sp:close()
    assert.equal(0, c:close(0.2))
    assert.equal("HANDED_OVER", code)

    -- the record carries its own retry policy: this client's max_attempts does not apply
    local c2 = assert(notifyhub.new({ spool = { path = path }, retry = { max_attempts = 5 } }))
    assert.is_true((drained(path, 30)))
    c2:close()
    local reqs = hits("/signed/later", "later-1")
    assert.equal(2, #reqs)                   -- max_attempts = 2 counts across processes
    assert.is_true(reqs[2].time - reqs[1].time >= 2.9,
      ("second attempt %.3f s after the first"):format(reqs[2].time - reqs[1].time))
    sp = assert(spool.open(path))
    local failed = assert(sp:failed())
    sp:close()
    assert.equal(1, #failed)
    assert.equal(2, failed[1].receipt.results[1].attempts)
    assert.equal("RATE_LIMITED", failed[1].receipt.results[1].code)
  end)

  it("one target delivered, the other waiting: after close() the next client sends only the waiting one", function()
    local path = dir .. "/mixed.db"
    local list = targets("now", "wait")
    server.behave("/signed/wait", { status = 429, headers = { ["Retry-After"] = "3" }, times = 1 })
    local c = assert(notifyhub.new({ spool = { path = path }, retry = { max_attempts = 2 } }))
    assert(c:send_async({ id = "mixed-1", body = "mixed-1", targets = list }))
    assert.is_true(select(2, server.wait_for(1, "/signed/wait", 10)))
    assert.is_true(select(2, server.wait_for(1, "/signed/now", 10)))
    system.sleep(0.5)
    assert.equal(0, c:close(0.2))

    local c2 = assert(notifyhub.new({ spool = { path = path } }))
    assert.is_true((drained(path, 30)))
    c2:close()
    assert.equal(1, #hits("/signed/now", "mixed-1"))
    local reqs = hits("/signed/wait", "mixed-1")
    assert.equal(2, #reqs)
    assert.is_true(reqs[2].time - reqs[1].time >= 2.9)
    local sp = assert(spool.open(path))
    local st = sp:stats()
    sp:close()
    assert.equal(0, st.queued + st.taken + st.failed)   -- delivered to both in the end
  end)

  it("the waiting process takes its record back when due; another client on the spool does not send it", function()
    local path = dir .. "/back.db"
    local list = targets("back")
    server.behave("/signed/back", { status = 429, headers = { ["Retry-After"] = "3" }, times = 1 })
    local c = assert(notifyhub.new({ spool = { path = path } }))
    local other = assert(notifyhub.new({ spool = { path = path } }))
    local h = assert(c:send_async({ id = "back-1", body = "back-1", targets = list }))
    local receipt = h:wait(20)
    assert.truthy(receipt, "not delivered by the process that accepted it")
    assert.equal(2, receipt.results[1].attempts)
    system.sleep(2)                          -- the other client has had every chance
    other:close()
    c:close()
    local reqs = hits("/signed/back", "back-1")
    assert.equal(2, #reqs)
    assert.is_true(reqs[2].time - reqs[1].time >= 2.9)
    local sp = assert(spool.open(path))
    local st = sp:stats()
    sp:close()
    assert.equal(0, st.queued + st.taken + st.failed)
  end)
end)
