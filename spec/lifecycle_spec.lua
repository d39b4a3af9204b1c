-- Shutdown, garbage collection and fork: close racing sends from callbacks,
-- handles and clients collected mid-flight, a Lua state closed with a live
-- client, and a forked child's copy of a client.

local notifyhub = require("notifyhub")
local server = require("spec.support.server")

local FLAVOUR = rawget(_G, "jit") and "luajit" or "lua5.4"

-- Runs a Lua chunk in a child interpreter of the same kind; returns ok, output.
local function child(code, interpreter)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(('package.path = "lua/?.lua;lua/?/init.lua;./?.lua;" .. package.path\n'
    .. 'package.cpath = "./build/%s/?.so;" .. package.cpath\n'):format(
      interpreter == "luajit" and "luajit" or FLAVOUR), code)
  f:close()
  local p = assert(io.popen((interpreter or FLAVOUR) .. " " .. path .. " 2>&1"))
  local out = p:read("*a")
  local ok = p:close()
  os.remove(path)
  return ok, out
end

describe("life cycle", function()
  setup(function() server.start() end)
  teardown(function() server.stop() end)

  it("refuses sends from callbacks that run while close cuts messages off", function()
    local c = notifyhub.new({ webhook = { url = server.url("/webhook/lc?delay=2") },
      async = { workers = 1, max_workers = 1, concurrency = 1 } })
    local answers = {}
    for i = 1, 3 do
      c:send_async({ body = tostring(i) }):on_error(function()
        local h, _, code = c:send_async({ body = "from a callback" })
        answers[#answers + 1] = h and "queued" or code
      end)
    end
    assert.equal(3, c:close(0.1))
    assert.same({ "CLOSED", "CLOSED", "CLOSED" }, answers)
    assert.equal(0, c:close())
    assert.equal(0, c:close(1))
  end)

  it("drops the completion of a handle collected before its message finished", function()
    local c = notifyhub.new({ webhook = { url = server.url("/webhook/lc-drop?delay=2") } })
    local function fire_and_forget()
      for i = 1, 50 do c:send_async({ body = tostring(i) }) end
    end
    -- The full suite saw 49 of 50 dropped, once on each interpreter: after
    -- hundreds of specs in one process, two full collections of its heap on
    -- a busy machine can outlast a 1 s delivery. So: the garbage collected
    -- first, a 2 s delivery, and the handles made in a coroutine (once it
    -- is dead, no stale stack slot can keep the last one alive).
    collectgarbage()
    local t0 = notifyhub.now()
    coroutine.wrap(fire_and_forget)()
    collectgarbage()
    collectgarbage()                        -- the handles are gone, their jobs in flight
    local gone = notifyhub.now() - t0
    assert.is_true(c:wait_all(10))
    local s = c:stats()
    assert.equal(50, s.succeeded)
    assert.equal(50, s.dropped, ("sent and collected in %.3f s, all done after %.3f s"):format(gone,
      notifyhub.now() - t0))
    assert.equal(0, s.completed_unread)
    c:close()
  end)

  it("closes a client whose Lua state is closed while messages are in flight", function()
    local ok, out = child(([[
      local c = require("notifyhub").new({ webhook = { url = %q } })
      for i = 1, 3 do
        c:send_async({ body = "x" }):on_error(function(_, _, r) print("on_error " .. r.code) end)
      end
      local t0 = require("notifyhub").now()
      io.stdout:setvbuf("no")
      os.exit(0, true)                      -- closes the state: the client's __gc runs
    ]]):format(server.url("/webhook/lc-state?delay=5")))
    assert(ok, out)
    local _, n = out:gsub("on_error CLOSED", "")
    assert.equal(3, n, out)
  end)

  it("a forked child's copy refuses to send and the parent keeps working", function()
    -- fork() through LuaJIT's FFI; the library is the same for Lua 5.4.
    local ok, out = child(([[
      local ffi = require("ffi")
      ffi.cdef("int fork(void); int waitpid(int pid, int *status, int options); void _exit(int);")
      local notifyhub = require("notifyhub")
      local c = notifyhub.new({ webhook = { url = %q } })
      assert(c:send({ body = "before fork" }))
      local pid = ffi.C.fork()
      if pid == 0 then
        local h, err, code = c:send_async({ body = "from the child" })
        local s = c:stats()
        io.stdout:write(("child: %%s %%s %%s polled=%%d\n"):format(tostring(h), code, err, c:poll()))
        io.stdout:flush()
        c:close(0)                          -- must not touch the parent's threads
        ffi.C._exit(h == nil and code == "CLOSED" and 0 or 1)
      end
      local status = ffi.new("int[1]")
      ffi.C.waitpid(pid, status, 0)
      local r = assert(c:send({ body = "after fork" }))
      print(("parent: child exit %%d, %%s"):format(bit.rshift(status[0], 8), r.status))
      c:close()
    ]]):format(server.url("/webhook/lc-fork")), "luajit")
    assert(ok, out)
    assert.matches("child: nil CLOSED the client belongs to another process %(created before fork%) polled=0", out)
    assert.matches("parent: child exit 0, success", out)
    local bodies = {}
    for _, r in ipairs(server.requests("/webhook/lc-fork")) do
      bodies[#bodies + 1] = r.body:match('"body":"([^"]*)"')
    end
    assert.same({ "before fork", "after fork" }, bodies)
  end)

  it("forks 20 times while workers are busy, and no child deadlocks on a copied lock", function()
    -- Each fork copies the client while 4 workers hold and release its locks
    -- (queue, completions, log, rate limits) at random moments; the child
    -- uses every entry point and must end at once. alarm(5) turns a
    -- deadlock into SIGALRM instead of a hung suite.
    local ok, out = child(([[
      local ffi = require("ffi")
      ffi.cdef("int fork(void); int waitpid(int pid, int *status, int options); void _exit(int);"
        .. "unsigned int alarm(unsigned int seconds);")
      local notifyhub = require("notifyhub")
      local c = notifyhub.new({ webhook = { url = %q, rate_limit = { per_second = 1000 } },
        async = { workers = 4, concurrency = 8, buffer_size = 2000 },
        logger = { level = "debug", handler = function() end } })
      local handles, bad = {}, 0
      for round = 1, 20 do
        for i = 1, 50 do handles[#handles + 1] = c:send_async({ body = round .. "-" .. i }) end
        local pid = ffi.C.fork()
        if pid == 0 then
          ffi.C.alarm(5)
          local h, _, code = c:send_async({ body = "from the child" })
          local s = c:stats()
          local polled = c:poll()
          handles = nil
          collectgarbage()
          collectgarbage()
          c:close(0)
          ffi.C._exit((h == nil and code == "CLOSED" and s.submitted == 0 and polled == 0) and 0 or 1)
        end
        local status = ffi.new("int[1]")
        ffi.C.waitpid(pid, status, 0)
        if status[0] ~= 0 then
          bad = bad + 1
          print(("round %%d: child status %%d"):format(round, status[0]))
        end
      end
      assert(c:wait_all(30))
      local s = c:stats()
      print(("children failed: %%d, parent succeeded: %%d of %%d"):format(bad, s.succeeded, s.submitted))
      c:close()
    ]]):format(server.url("/webhook/lc-forks?delay=0.02")), "luajit")
    assert(ok, out)
    assert.matches("children failed: 0, parent succeeded: 1000 of 1000", out)
  end)

  it("survives close from inside a callback", function()
    local c = notifyhub.new({ webhook = { url = server.url("/webhook/lc-inner") } })
    local closed
    c:send_async({ body = "x" }):on_complete(function() closed = c:close(1) end)
    c:send_async({ body = "y" })
    assert.is_true(c:wait_all(5))
    assert.equal(0, closed)
    local h, _, code = c:send_async({ body = "z" })
    assert.is_nil(h)
    assert.equal("CLOSED", code)
  end)
end)
