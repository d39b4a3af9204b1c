-- bench/ngx.lua: notifyhub inside nginx (`make bench` runs it after
-- bench/run.lua). wrk against three endpoints of the app in spec/support/app/,
-- one nginx worker, each request queueing one notification to the loopback
-- sink (or not), printed side by side:
--   /nothing   the same handler without a notification
--   /one       notifyhub.ngx.send_async, one notification per request
--   /cosocket  what users do without notifyhub: ngx.timer.at + a cosocket POST
-- Goal (the ngx issue): /one at least 1.0x /cosocket, /one-cb at least 0.9x.
package.path = "lua/?.lua;lua/?/init.lua;./?.lua;" .. package.path
local app = require("spec.support.app")
local server = require("spec.support.server")

local SECONDS = tonumber(os.getenv("BENCH_NGX_SECONDS") or "5")
local CONNECTIONS = 64

local function wrk(path)
  local p = io.popen(("wrk -t2 -c%d -d%ds %s 2>&1"):format(CONNECTIONS, SECONDS, app.url(path)))
  local out = p:read("*a")
  p:close()
  local rps = tonumber(out:match("Requests/sec:%s*([%d.]+)"))
  if not rps then error("wrk printed no Requests/sec:\n" .. out) end
  local non2xx = tonumber(out:match("Non%-2xx or 3xx responses:%s*(%d+)") or "0")
  return rps, non2xx
end

local function main()
  print("\n3. Inside nginx: wrk -t2 -c" .. CONNECTIONS .. " -d" .. SECONDS
    .. "s, 2 nginx workers, 2 notifyhub workers each, the sink on the loopback stand-in")
  app.start({ workers = 2 })
  local rows, rps_of = {}, {}
  local base
  for _, case in ipairs({
    { "/nothing", "the handler alone" },
    { "/one", "+ notifyhub.ngx.send_async (one notification per request)" },
    { "/one-cb", "+ the same with an on_complete callback per message" },
    { "/cosocket", "+ ngx.timer.at and a cosocket POST (without notifyhub)" },
  }) do
    wrk(case[1])                                  -- warm up
    local rps, non2xx = wrk(case[1])
    base = base or rps
    rps_of[case[1]] = rps
    rows[#rows + 1] = ("  %-10s %-58s %10.0f req/s  %5.2f%s"):format(case[1], case[2], rps, rps / base,
      non2xx > 0 and ("  (" .. non2xx .. " non-2xx)") or "")
  end
  local _, stats = server.http("GET", app.url("/stats"))
  for _, r in ipairs(rows) do print(r) end
  local idiom = rps_of["/cosocket"]
  local one, one_cb = rps_of["/one"] / idiom, rps_of["/one-cb"] / idiom
  print(("  goal: /one >= 1.00x the timer + cosocket idiom: %.2fx %s; /one-cb >= 0.90x: %.2fx %s")
    :format(one, one >= 1.0 and "MET" or "NOT MET", one_cb, one_cb >= 0.9 and "MET" or "NOT MET"))
  print("  notifyhub stats of the worker: " .. (stats or "?"))
end

local ok, err = pcall(main)
app.stop()
server.stop()
if not ok then
  io.stderr:write(tostring(err) .. "\n")
  os.exit(1)
end
