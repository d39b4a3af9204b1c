-- bench/run.lua -- notifyhub benchmark: prints figures, asserts nothing (run by `make bench`).
--
-- Run from the repo root after `make build`:   lua5.4 bench/run.lua
--
-- What it measures, against the loopback nginx of spec/support/server.lua:
--   1. The seed's table: 200 messages, 8 workers, a sink that answers after 72 ms
--      (/sink/delay/72): wall time (first send_async .. wait_all returns), threads created and
--      peak RSS, for the pool at concurrency = 1, the pool at the default concurrency and
--      direct mode (use_pool = false); each beside its goal.
--   2. Throughput: 100,000 messages to /sink (answers at once) for a few pool settings, in
--      messages per second, beside wrk's requests per second against the same sink in the
--      same run (POSTing a similar JSON body, bench/wrk_post.lua), as a ratio.
--   3. The environment: date, nproc, Lua, libcurl and nginx versions.
--
-- Every measured run happens in its own child process (`lua5.4 bench/run.lua --case NAME
-- --url BASE`), which prints one "RESULT key=value ..." line, so the peak RSS (VmHWM of
-- /proc/self/status, read at the end of the child) of one configuration does not mix with
-- another's. The parent starts and stops nginx (stopped even when something fails).
--
-- Environment: BENCH_QUICK=1 runs fewer repeats and 20,000 throughput messages.

package.path = "lua/?.lua;lua/?/init.lua;./?.lua;" .. package.path
package.cpath = "./build/lua5.4/?.so;" .. package.cpath

local notifyhub = require("notifyhub")
local system = require("system")

local LUA = arg and arg[-1] or "lua5.4"
local SCRIPT = arg and arg[0] or "bench/run.lua"
local QUICK = os.getenv("BENCH_QUICK") == "1"

local SEED_MESSAGES = 200
local SEED_WORKERS = 8
local SEED_DELAY_MS = 72
local TPUT_MESSAGES = tonumber(os.getenv("BENCH_TPUT_N") or "") or (QUICK and 20000 or 100000)
local SEED_REPEATS = QUICK and 1 or 3     -- median of these (each in a fresh child)
local TPUT_REPEATS = QUICK and 1 or 2     -- best of these
local WRK_SECONDS = 5
local NGINX_WORKERS = 1

-- Ideal time of the concurrency = 1 pool: 200 messages * 72 ms / 8 workers = 1.8 s.
local C1_IDEAL = SEED_MESSAGES * SEED_DELAY_MS / 1000 / SEED_WORKERS
local GOAL_C1 = C1_IDEAL * 1.10
local GOAL_DEFAULT = 0.15
local GOAL_RATIO = 0.5

-- The configurations. seed: 200 messages to /sink/delay/72; tput: TPUT_MESSAGES to /sink.
-- `async` is what the case sets (buffer_size and timeout are added to every case).
local CASES = {
  pool_c1      = { kind = "seed", label = "pool, concurrency = 1",
                   async = { workers = 8, concurrency = 1 } },
  pool_default = { kind = "seed", label = "pool, default concurrency",
                   async = { workers = 8 } },
  direct       = { kind = "seed", label = "direct (use_pool = false)",
                   async = { workers = 8, use_pool = false } },
  tput_default = { kind = "tput", label = "default (workers 4, concurrency 32)",
                   async = {}, in_flight = 4 * 32 },
  tput_w2      = { kind = "tput", label = "workers 2 (concurrency 32)",
                   async = { workers = 2 }, in_flight = 2 * 32 },
  tput_w2_c64  = { kind = "tput", label = "workers 2, concurrency 64",
                   async = { workers = 2, concurrency = 64 }, in_flight = 2 * 64 },
  tput_w1_c128 = { kind = "tput", label = "workers 1, concurrency 128",
                   async = { workers = 1, concurrency = 128 }, in_flight = 128 },
  x_default_nocb = { kind = "tput", label = "x", async = {}, in_flight = 128, callbacks = false },
  x_default_poll = { kind = "tput", label = "x", async = {}, in_flight = 128, poll_every = 1000 },
  x_default_poll100 = { kind = "tput", label = "x", async = {}, in_flight = 128, poll_every = 100 },
  x_w2_poll = { kind = "tput", label = "x", async = {workers=2}, in_flight = 64, poll_every = 1000 },
  x_w1_poll = { kind = "tput", label = "x", async = {workers=1, concurrency=128}, in_flight = 128, poll_every = 1000 },
  x_w1_c32_poll = { kind = "tput", label = "x", async = {workers=1}, in_flight = 32, poll_every = 1000 },
}
local SEED_ORDER = { "pool_c1", "pool_default", "direct" }
local TPUT_ORDER = { "tput_default", "tput_w2", "tput_w2_c64", "tput_w1_c128" }

---------------------------------------------------------------------------------------------
-- Small helpers
---------------------------------------------------------------------------------------------

local function capture(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  p:close()
  return out
end

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- Peak resident set size of this process, in kB (VmHWM).
local function peak_rss_kb()
  local f = io.open("/proc/self/status", "r")
  if not f then return 0 end
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmHWM:%s*(%d+)")) or 0
end

local function median(list)
  local t = {}
  for i, v in ipairs(list) do t[i] = v end
  table.sort(t)
  local n = #t
  if n == 0 then return nil end
  if n % 2 == 1 then return t[(n + 1) // 2] end
  return (t[n // 2] + t[n // 2 + 1]) / 2
end

local function fmt_thousands(n)
  local s = tostring(math.floor(n + 0.5))
  local out = s:reverse():gsub("(%d%d%d)", "%1,"):reverse()
  return (out:gsub("^,", ""))
end

-- Prints rows (arrays of strings) as a table with aligned columns; numbers right-aligned.
local function print_table(header, rows)
  local widths = {}
  for _, row in ipairs({ header, table.unpack(rows) }) do
    for i, cell in ipairs(row) do
      widths[i] = math.max(widths[i] or 0, #cell)
    end
  end
  local function line(row, is_header)
    local cells = {}
    for i, cell in ipairs(row) do
      local numeric = not is_header and cell:match("^[%d%.,%-]+[%a%%]*$")
      local pad = string.rep(" ", widths[i] - #cell)
      cells[i] = (numeric and i > 1) and (pad .. cell) or (cell .. pad)
    end
    print("  " .. trim(table.concat(cells, "  ")))
  end
  line(header, true)
  local rule = {}
  for i, w in ipairs(widths) do rule[i] = string.rep("-", w) end
  print("  " .. table.concat(rule, "  "))
  for _, row in ipairs(rows) do line(row, false) end
end

---------------------------------------------------------------------------------------------
-- Child: run one case, print one RESULT line
---------------------------------------------------------------------------------------------

local function run_case(name, base)
  local case = assert(CASES[name], "unknown case " .. tostring(name))
  local seed = case.kind == "seed"
  local n = seed and SEED_MESSAGES or TPUT_MESSAGES
  local url = base .. (seed and ("/sink/delay/" .. SEED_DELAY_MS) or "/sink")

  local async = { buffer_size = 100000, timeout = 0 }
  for k, v in pairs(case.async) do async[k] = v end
  local c = assert(notifyhub.new({
    webhook = { url = url },
    async = async,
    http = { timeout = 10 },
  }))

  -- Callbacks as a user would attach them; they also count what really finished.
  local ok_count, err_count, first_err = 0, 0, nil
  local function on_ok() ok_count = ok_count + 1 end
  local function on_err(_, err)
    err_count = err_count + 1
    first_err = first_err or err
  end

  local callbacks = case.callbacks ~= false
  local poll_every = case.poll_every
  local rejected, reject_err = 0, nil
  local t0 = system.monotime()
  for i = 1, n do
    local h, err = c:send_async({ body = "hello " .. i })
    if h then
      if callbacks then h:on_complete(on_ok):on_error(on_err) end
    else
      rejected = rejected + 1
      reject_err = reject_err or err
    end
    if poll_every and i % poll_every == 0 then c:poll() end
  end
  local t_submitted = system.monotime()
  local done = c:wait_all(120)
  local t1 = system.monotime()

  local s = c:stats()
  c:close(5)
  if not callbacks then ok_count, err_count = s.succeeded, s.failed end
  local fields = {
    ("case=%s"):format(name),
    ("wall=%.6f"):format(t1 - t0),
    ("submit=%.6f"):format(t_submitted - t0),
    ("n=%d"):format(n),
    ("ok=%d"):format(ok_count),
    ("err=%d"):format(err_count),
    ("rejected=%d"):format(rejected),
    ("threads=%d"):format(s.threads_created),
    ("succeeded=%d"):format(s.succeeded),
    ("failed=%d"):format(s.failed),
    ("waited=%s"):format(done and "yes" or "no"),
    ("rss_kb=%d"):format(peak_rss_kb()),
  }
  print("RESULT " .. table.concat(fields, " "))
  if first_err then print("FIRST_ERROR " .. tostring(first_err)) end
  if reject_err then print("FIRST_REJECT " .. tostring(reject_err)) end
end

---------------------------------------------------------------------------------------------
-- Parent
---------------------------------------------------------------------------------------------

-- Runs one case in a fresh child process; returns its RESULT fields as a table.
local function spawn(name, base)
  local out = capture(("%s %s --case %s --url %s 2>&1"):format(q(LUA), q(SCRIPT), name, q(base)))
  local line = out:match("RESULT ([^\n]*)")
  if not line then error("case " .. name .. " printed no RESULT line:\n" .. out) end
  local r = { raw = out }
  for k, v in line:gmatch("([%w_]+)=(%S+)") do r[k] = tonumber(v) or v end
  r.first_error = out:match("FIRST_ERROR ([^\n]*)")
  r.first_reject = out:match("FIRST_REJECT ([^\n]*)")
  return r
end

-- Notes on a run that did not deliver everything (printed under the tables).
local notes = {}
local function check_run(label, r)
  if r.ok ~= r.n or r.waited ~= "yes" then
    notes[#notes + 1] = ("%s: %d of %d delivered, %d failed, %d rejected, wait_all %s%s%s")
      :format(label, r.ok, r.n, r.err, r.rejected, r.waited == "yes" and "returned" or "timed out",
        r.first_error and ("; first error: " .. r.first_error) or "",
        r.first_reject and ("; first rejection: " .. r.first_reject) or "")
  end
end

local function environment()
  local date = trim(capture("date -u '+%Y-%m-%d %H:%M:%S UTC'"))
  local nproc = trim(capture("nproc"))
  local nginx = trim(capture("nginx -v 2>&1 || /usr/sbin/nginx -v 2>&1")):gsub("^nginx version: ", "")
  local wrk = trim(capture("wrk -v 2>&1 | head -1")):match("^(wrk %S+)") or "wrk ?"
  local cpu = trim(capture("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"))
  print(("Environment: %s | nproc %s | %s | libcurl %s | %s | %s")
    :format(date, nproc, _VERSION, notifyhub.curl_version, nginx, wrk))
  if cpu ~= "" then print("CPU: " .. cpu) end
end

local function seed_table(base)
  print()
  print(("1. Seed table: %d messages, %d workers, loopback sink answering after %d ms "
    .. "(/sink/delay/%d)"):format(SEED_MESSAGES, SEED_WORKERS, SEED_DELAY_MS, SEED_DELAY_MS))
  print(("   wall = first send_async .. wait_all returns; median of %d runs, each in a fresh "
    .. "process (range in brackets)"):format(SEED_REPEATS))
  print("   seed (Go library): pool 1.8 s, direct 2.5 s")
  print()
  local goals = {
    pool_c1 = { GOAL_C1, ("<= %.2f s (%.1f s + 10%%)"):format(GOAL_C1, C1_IDEAL) },
    pool_default = { GOAL_DEFAULT, ("<= %.2f s"):format(GOAL_DEFAULT) },
    direct = { nil, "none (seed: 2.5 s)" },
  }
  local rows = {}
  for _, name in ipairs(SEED_ORDER) do
    local walls, rss, threads = {}, 0, 0
    for i = 1, SEED_REPEATS do
      local r = spawn(name, base)
      check_run(CASES[name].label .. " (run " .. i .. ")", r)
      walls[#walls + 1] = r.wall
      rss = math.max(rss, r.rss_kb)
      threads = math.max(threads, r.threads)
    end
    local wall = median(walls)
    local lo, hi = math.min(table.unpack(walls)), math.max(table.unpack(walls))
    local goal = goals[name]
    local verdict = goal[1] == nil and "-" or (wall <= goal[1] and "MET" or "NOT MET")
    rows[#rows + 1] = {
      CASES[name].label,
      ("%.3f s"):format(wall),
      SEED_REPEATS > 1 and ("[%.3f-%.3f]"):format(lo, hi) or "-",
      tostring(threads),
      ("%.1f MB"):format(rss / 1024),
      goal[2],
      verdict,
    }
  end
  print_table({ "configuration", "wall", "range", "threads", "peak RSS", "goal", "met?" }, rows)
end

-- wrk against /sink with `connections` connections; returns requests per second.
local function run_wrk(base, connections)
  local cmd = ("wrk -t2 -c%d -d%ds -s %s %s 2>&1"):format(connections, WRK_SECONDS,
    q("bench/wrk_post.lua"), q(base .. "/sink"))
  local out = capture(cmd)
  local rps = tonumber(out:match("Requests/sec:%s*([%d%.]+)"))
  if not rps then error("wrk printed no Requests/sec:\n" .. out) end
  local non2xx = tonumber(out:match("Non%-2xx or 3xx responses:%s*(%d+)")) or 0
  local errors = out:match("Socket errors:[^\n]*")
  if non2xx > 0 or errors then
    notes[#notes + 1] = ("wrk -c%d: %d non-2xx answers%s"):format(connections, non2xx,
      errors and ("; " .. errors) or "")
  end
  return rps
end

local function throughput_table(base)
  print()
  print(("2. Throughput: %s messages to /sink (answers at once), buffer_size 100000, "
    .. "best of %d runs"):format(fmt_thousands(TPUT_MESSAGES), TPUT_REPEATS))
  print(("   nginx: %d worker process(es); wrk: -t2 -d%ds, POST of a similar JSON body "
    .. "(bench/wrk_post.lua); %s cores shared by nginx, wrk / the library")
    :format(NGINX_WORKERS, WRK_SECONDS, trim(capture("nproc"))))
  print()

  -- wrk first, at the default pool's transfers in flight (4 workers x 32 = 128), and at the
  -- in-flight count of each other library setting, so each ratio has a like-for-like line.
  local wrk_rps, conns = {}, {}
  for _, name in ipairs(TPUT_ORDER) do
    local c = CASES[name].in_flight
    if not wrk_rps[c] then
      wrk_rps[c] = run_wrk(base, c)
      conns[#conns + 1] = c
    end
  end

  local rows, best = {}, nil
  for _, name in ipairs(TPUT_ORDER) do
    local case = CASES[name]
    local pick
    for i = 1, TPUT_REPEATS do
      local r = spawn(name, base)
      check_run(case.label .. " (run " .. i .. ")", r)
      r.mps = r.ok / r.wall
      if not pick or r.mps > pick.mps then pick = r end
    end
    local ref = wrk_rps[128]
    local ratio = pick.mps / ref
    local same = wrk_rps[case.in_flight]
    rows[#rows + 1] = {
      case.label,
      tostring(case.in_flight),
      ("%.2f s"):format(pick.wall),
      ("%.2f s"):format(pick.submit),
      fmt_thousands(pick.mps),
      ("%.2f"):format(ratio),
      ("%.2f"):format(pick.mps / same),
      tostring(pick.threads),
      ("%.1f MB"):format(pick.rss_kb / 1024),
    }
    if not best or ratio > best.ratio then best = { ratio = ratio, label = case.label, mps = pick.mps } end
  end
  print_table({ "library setting", "in flight", "wall", "submit", "msg/s", "/wrk-c128",
    "/wrk-same-c", "threads", "peak RSS" }, rows)
  print()
  local wrows = {}
  for _, c in ipairs(conns) do
    wrows[#wrows + 1] = { ("wrk -t2 -c%d"):format(c), fmt_thousands(wrk_rps[c]) }
  end
  print_table({ "reference", "req/s" }, wrows)
  print()
  print(("   (wall: first send_async .. wait_all returns; submit: time spent in the send_async "
    .. "loop; /wrk-c128: ratio to wrk at 128 connections = the default pool's transfers in "
    .. "flight; /wrk-same-c: ratio to wrk at the setting's own in-flight count)"))
  print()
  print(("   best ratio: %.2f (%s, %s msg/s vs wrk -c128 %s req/s); goal >= %.1f on %s: %s")
    :format(best.ratio, best.label, fmt_thousands(best.mps), fmt_thousands(wrk_rps[128]),
      GOAL_RATIO, _VERSION, best.ratio >= GOAL_RATIO and "MET" or "NOT MET"))
end

local function main()
  local server = require("spec.support.server")
  local started = system.monotime()
  print("notifyhub benchmark (" .. notifyhub._VERSION .. ")")
  environment()
  local ok, err = pcall(function()
    local base = server.start({ workers = NGINX_WORKERS })
    print("Server: " .. base .. " (nginx, " .. NGINX_WORKERS .. " worker process)")
    seed_table(base)
    throughput_table(base)
  end)
  server.stop()
  if #notes > 0 then
    print()
    print("Notes (runs that did not deliver everything, wrk errors):")
    for _, n in ipairs(notes) do print("  - " .. n) end
  end
  print()
  print(("Total bench time: %.1f s"):format(system.monotime() - started))
  if not ok then
    io.stderr:write("bench/run.lua failed: " .. tostring(err) .. "\n")
    os.exit(1)
  end
end

-- Entry: `--case NAME --url BASE` runs one case (child); no argument runs everything.
local case_name, base_url
do
  local i = 1
  while arg and arg[i] do
    if arg[i] == "--case" then case_name = arg[i + 1]; i = i + 2
    elseif arg[i] == "--url" then base_url = arg[i + 1]; i = i + 2
    else io.stderr:write("bench/run.lua: unknown argument " .. arg[i] .. "\n"); os.exit(2) end
  end
end

if case_name then
  assert(base_url, "--case needs --url BASE (the running sink server)")
  run_case(case_name, base_url)
else
  main()
end
