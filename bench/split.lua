-- bench/split.lua -- the overflow planner on large bodies: prints figures, asserts nothing.
--
--   lua5.4 bench/split.lua          luajit bench/split.lua        (after `make build`)
--
-- For each body size and overflow rule, one send_async of a body of short lines to a
-- Slack target (40,000 characters) at a loopback port that refuses connections (no nginx:
-- the delivery fails at once with NETWORK), then wait(). "caller" is the time send_async
-- takes on the calling thread, "total" the time until wait() returns (planning included).
-- Goal: 10 MB split in under 0.2 s of caller time.
--
-- Environment: BENCH_SPLIT_MB="2 10" (the sizes), BENCH_SPLIT_PLATFORM=slack|discord|telegram.

local jit_name = rawget(_G, "jit") and "luajit" or "lua5.4"
package.path = "lua/?.lua;lua/?/init.lua;./?.lua;" .. package.path
package.cpath = "./build/" .. jit_name .. "/?.so;" .. package.cpath

local notifyhub = require("notifyhub")
local system = require("system")

local sizes = {}
for mb in (os.getenv("BENCH_SPLIT_MB") or "2 10"):gmatch("%S+") do sizes[#sizes + 1] = tonumber(mb) end
local platform = os.getenv("BENCH_SPLIT_PLATFORM") or "slack"

-- A port nothing listens on: bind to an ephemeral port is not needed, port 9 (discard)
-- is closed on the loopback here and refuses at once.
local DEAD = "http://127.0.0.1:9"
local configs = {
  slack = { webhook_url = DEAD .. "/services/T/B/tok" },
  discord = { webhook_url = DEAD .. "/api/webhooks/1/tok" },
  telegram = { token = "1:tok", chat_id = "1", api_url = DEAD },
}

local function body_of(mb)
  local line = "the quick brown fox jumps over the lazy dog 0123456789 & <tag>\n"
  return string.rep(line, math.floor(mb * 1024 * 1024 / #line))
end

print(("%s (%s), platform %s"):format(jit_name, _VERSION, platform))
print(("%-6s %-9s %10s %10s %7s"):format("size", "overflow", "caller s", "total s", "parts"))
for _, mb in ipairs(sizes) do
  local body = body_of(mb)
  for _, overflow in ipairs({ "split", "truncate" }) do
    local cfg = { retry = { max_attempts = 1 } }
    cfg[platform] = {}
    for k, v in pairs(configs[platform]) do cfg[platform][k] = v end
    cfg[platform].overflow = overflow
    local c = notifyhub.new(cfg)
    local t0 = system.monotime()
    local h, err = c:send_async({ title = "bench", body = body })
    local t1 = system.monotime()
    local receipt
    if h then
      local ok, _, _, failed = h:wait(600)
      receipt = ok or failed
    end
    local t2 = system.monotime()
    local r = receipt and receipt.results and receipt.results[1]
    print(("%-6s %-9s %10.3f %10.3f %7s%s"):format(mb .. " MB", overflow, t1 - t0, t2 - t0,
      r and tostring(r.parts or 1) or "-", h and "" or ("  " .. tostring(err))))
    c:close()
  end
end
