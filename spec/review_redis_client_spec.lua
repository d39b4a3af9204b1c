-- Review of the client's Redis paths (issue 15, items 4 and 5), from outside: a
-- real redis-server (spec/support/redis.lua) and the loopback stand-ins.

local server = require("spec.support.server")
local redis = require("spec.support.redis")
local rs = require("spec.support.redis_spool")
local system = require("system")
local notifyhub = require("notifyhub")

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
end)
