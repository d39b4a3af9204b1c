-- 100,000 messages against a server that injects faults at random
-- (spec/support/faults.py /random): every handle gets exactly one terminal
-- callback, the stats add up, and memory comes back near where it started.

local notifyhub = require("notifyhub")
local faults = require("spec.support.faults")

local N = tonumber(os.getenv("NOTIFYHUB_STRESS_N") or "100000")

local function rss_kb()
  local f = io.open("/proc/self/status")
  local kb = f and tonumber(f:read("*a"):match("VmRSS:%s*(%d+)")) or 0
  if f then f:close() end
  return kb
end

describe("stress", function()
  setup(function() faults.start() end)
  teardown(function() faults.stop() end)

  it(("sends %d messages through random faults, each ending once"):format(N), function()
    local f = faults.start()
    local core = require("notifyhub.core")
    collectgarbage()
    collectgarbage()
    local before, lua_before, heap_before = rss_kb(), collectgarbage("count"), core.heap_in_use()
    local c = notifyhub.new({ webhook = { url = f.base .. "/random" }, http = { timeout = 2 },
      retry = { max_attempts = 1 }, async = { buffer_size = N, workers = 4, concurrency = 64 },
      logger = { handler = function() end } })   -- failures are logged by default: half of N
    local calls = {}
    local ok_count, err_count = 0, 0
    for i = 1, N do
      local h = assert(c:send_async({ body = tostring(i) }))
      h:on_complete(function() calls[i] = (calls[i] or 0) + 1; ok_count = ok_count + 1 end)
       :on_error(function() calls[i] = (calls[i] or 0) + 1; err_count = err_count + 1 end)
      if i % 5000 == 0 then c:poll() end
    end
    assert.is_true(c:wait_all(120))
    for i = 1, N do
      if calls[i] ~= 1 then error(("message %d got %s terminal callbacks"):format(i, tostring(calls[i]))) end
    end
    assert.equal(N, ok_count + err_count)
    assert.is_true(ok_count > N / 3 and err_count > N / 10, ok_count .. " / " .. err_count)
    local s = c:stats()
    assert.equal(N, s.submitted)
    assert.equal(N, s.succeeded + s.failed + s.cancelled + s.timed_out)
    assert.equal(0, s.queued + s.in_flight + s.waiting)
    assert.equal(ok_count, s.succeeded)
    c:close()
    c, calls = nil, nil -- luacheck: ignore 311
    collectgarbage()
    collectgarbage()
    -- Freed C memory sits in malloc's free lists (one arena per worker
    -- thread) until trimmed, and LuaJIT keeps the pages its own allocator
    -- used; so the check is on memory in use: the C heap and the Lua heap.
    core.trim_memory()
    local heap_grown = (core.heap_in_use() - heap_before) / 1024
    local lua_grown = collectgarbage("count") - lua_before
    print(("stress: %d delivered, %d failed; in use after: C heap %+.0f kB, Lua heap %+.0f kB; RSS %+d kB")
      :format(ok_count, err_count, heap_grown, lua_grown, rss_kb() - before))
    assert.is_true(heap_grown < 20 * 1024, ("the C heap grew %.0f kB"):format(heap_grown))
    assert.is_true(lua_grown < 20 * 1024, ("the Lua heap grew %.0f kB"):format(lua_grown))
  end)
end)
