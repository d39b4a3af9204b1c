-- bench/run.lua -- notifyhub benchmark: prints figures, asserts nothing (run by `make bench`).
--
-- Run from the repo root after `make build`:   lua5.4 bench/run.lua
--
-- What it measures, against the loopback nginx of spec/support/server.lua:
--   1. The seed's table: 200 messages, 8 workers, a sink that answers after 72 ms
--      (/sink/delay/72): wall time (first send_async .. wait_all returns), threads created and
--      peak RSS, for the pool at concurrency = 1, the pool at the default concurrency and
--      direct mode (use_pool = false); each beside its goal.
--   2. Throughput: 100,000 messages to /sink (answers at once) for a few pool settings and
--      three usage patterns (handles dropped; callbacks on every handle; callbacks plus a
--      poll() every 1000 sends), in messages per second, beside wrk's requests per second
--      against the same sink in the same run (POSTing a similar JSON body,
--      bench/wrk_post.lua), as a ratio.
--   3. The environment: date, nproc, Lua, libcurl and nginx versions, the git commit.
--
-- Every measured run happens in its own child process (`lua5.4 bench/run.lua --case NAME
-- --url BASE`), which prints one "RESULT key=value ..." line, so the peak RSS (VmHWM of
-- /proc/self/status, read at the end of the child) of one configuration does not mix with
-- another's. A child that fails shows as FAILED (its output goes under the tables) and the
-- rest goes on. The parent starts and stops nginx (stopped even when something fails).
--
-- Environment: BENCH_QUICK=1 runs fewer repeats and 20,000 throughput messages;
-- BENCH_TPUT_N=n sets the number of throughput messages; BENCH_ONLY=spool runs only the
-- spool table (section 3 of the tables: `BENCH_ONLY=spool lua5.4 bench/run.lua`);
-- BENCH_ONLY=redis the Redis table (section 4: none, SQLite and Redis in one run).

package.path = "lua/?.lua;lua/?/init.lua;./?.lua;" .. package.path
package.cpath = "./build/lua5.4/?.so;" .. package.cpath

local notifyhub = require("notifyhub")
local system = require("system")

local LUA = arg and arg[-1] or "lua5.4"
local SCRIPT = arg and arg[0] or "bench/run.lua"
local QUICK = os.getenv("BENCH_QUICK") == "1"
local ONLY = os.getenv("BENCH_ONLY")

local SEED_MESSAGES = 200
local SEED_WORKERS = 8
local SEED_DELAY_MS = 72
local TPUT_MESSAGES = tonumber(os.getenv("BENCH_TPUT_N") or "") or (QUICK and 20000 or 100000)
-- Runs per seed case (median printed; each run in a fresh child); concurrency = 1 is slow.
local SEED_REPEATS = { pool_c1 = QUICK and 1 or 3, pool_default = QUICK and 3 or 7,
                       pool_elastic = QUICK and 1 or 3, direct = QUICK and 3 or 7 }
local TPUT_REPEATS = QUICK and 1 or 3     -- best of these
local WRK_SECONDS = 5
local WRK_REPEATS = QUICK and 1 or 2      -- best of these, like the library's best of runs
-- A throughput child stops sending after this many seconds in its send_async loop (and then
-- waits for what it sent), so a pathologically slow path cannot blow the ~2 minute budget;
-- such a row is marked "cut".
local SEND_CAP = 8
local NGINX_WORKERS = 1

-- Ideal time of the concurrency = 1 pool: 200 messages * 72 ms / 8 workers = 1.8 s.
local C1_IDEAL = SEED_MESSAGES * SEED_DELAY_MS / 1000 / SEED_WORKERS
local GOAL_C1 = C1_IDEAL * 1.10
local GOAL_DEFAULT = 0.15
local GOAL_RATIO = 0.5

-- The configurations. seed: 200 messages to /sink/delay/72, callbacks on every handle.
-- tput: TPUT_MESSAGES to /sink; `callbacks = false` drops each handle at once (fire and
-- forget); `poll_every = k` calls client:poll() after every k sends. `async` is what the case
-- sets (buffer_size = 100000 and timeout = 0 are added to every case).
local CASES = {
  -- The seed's pool is a fixed 8: min = max = 8 (no elastic growth).
  pool_c1      = { kind = "seed", label = "pool, concurrency = 1",
                   async = { workers = 8, min_workers = 8, max_workers = 8, concurrency = 1 } },
  pool_default = { kind = "seed", label = "pool, default concurrency",
                   async = { workers = 8, min_workers = 8, max_workers = 8 } },
  pool_elastic = { kind = "seed", label = "elastic, c = 1, 8 up to 16",
                   async = { workers = 8, max_workers = 16, concurrency = 1 } },
  direct       = { kind = "seed", label = "direct (use_pool = false)",
                   async = { workers = 8, use_pool = false } },

  ff_default   = { kind = "tput", label = "4 x 32 (default)", pattern = "fire & forget",
                   async = { max_workers = 4 }, in_flight = 4 * 32, callbacks = false },
  ff_w2        = { kind = "tput", label = "2 x 32", pattern = "fire & forget",
                   async = { workers = 2, max_workers = 2 }, in_flight = 2 * 32, callbacks = false },
  ff_w2_c64    = { kind = "tput", label = "2 x 64", pattern = "fire & forget",
                   async = { workers = 2, max_workers = 2, concurrency = 64 }, in_flight = 2 * 64,
                   callbacks = false },
  ff_w1_c128   = { kind = "tput", label = "1 x 128", pattern = "fire & forget",
                   async = { workers = 1, max_workers = 1, concurrency = 128 }, in_flight = 128,
                   callbacks = false },
  cb_default   = { kind = "tput", label = "4 x 32 (default)", pattern = "callbacks",
                   async = { max_workers = 4 }, in_flight = 4 * 32 },
  cb_poll      = { kind = "tput", label = "4 x 32 (default)",
                   pattern = "callbacks + poll/1000", async = { max_workers = 4 }, in_flight = 4 * 32,
                   poll_every = 1000 },
  cb_w2_poll   = { kind = "tput", label = "2 x 32", pattern = "callbacks + poll/1000",
                   async = { workers = 2, max_workers = 2 }, in_flight = 2 * 32, poll_every = 1000 },

  -- The spool (issue 13): ff_default with spool.path (a fresh file each run) and its sync.
  ff_spool     = { kind = "tput", label = "4 x 32, spool sync = normal", pattern = "fire & forget",
                   async = { max_workers = 4 }, in_flight = 4 * 32, callbacks = false,
                   spool = "normal" },
  ff_spool_full = { kind = "tput", label = "4 x 32, spool sync = full", pattern = "fire & forget",
                   async = { max_workers = 4 }, in_flight = 4 * 32, callbacks = false,
                   spool = "full" },
}
local SPOOL_ORDER = { "ff_default", "ff_spool", "ff_spool_full" }

-- Redis (issue 15): the same fire-and-forget run through a redis-server the bench starts
-- (spec/support/redis.lua: loopback, AOF on, appendfsync everysec), delivered by the
-- process that accepted each message (deliver = "local") or by whichever worker reads it
-- from the shared stream (deliver = "any": here the same process, through the stream).
CASES.ff_redis = { kind = "tput", label = "4 x 32, Redis, deliver = local",
                   pattern = "fire & forget", async = { max_workers = 4 }, in_flight = 4 * 32,
                   callbacks = false, redis = "local" }
CASES.ff_redis_any = { kind = "tput", label = "4 x 32, Redis, deliver = any",
                       pattern = "fire & forget", async = { max_workers = 4 },
                       in_flight = 4 * 32, callbacks = false, redis = "any" }
-- Pipelined: send_async_batch of BATCH messages, one round trip to Redis per batch (and
-- the same batches without a spool and on SQLite, for the ratio).
local BATCH = 100
CASES.ff_default_batch = { kind = "tput", label = "4 x 32, batches of 100", pattern = "fire & forget",
                           async = { max_workers = 4 }, in_flight = 4 * 32, callbacks = false,
                           batch = BATCH }
CASES.ff_spool_batch = { kind = "tput", label = "4 x 32, spool sync = normal, batches of 100",
                         pattern = "fire & forget", async = { max_workers = 4 }, in_flight = 4 * 32,
                         callbacks = false, spool = "normal", batch = BATCH }
CASES.ff_redis_batch = { kind = "tput", label = "4 x 32, Redis, deliver = local, batches of 100",
                         pattern = "fire & forget", async = { max_workers = 4 }, in_flight = 4 * 32,
                         callbacks = false, redis = "local", batch = BATCH }
CASES.ff_redis_any_batch = { kind = "tput", label = "4 x 32, Redis, deliver = any, batches of 100",
                             pattern = "fire & forget", async = { max_workers = 4 },
                             in_flight = 4 * 32, callbacks = false, redis = "any", batch = BATCH }
local REDIS_ORDER = { "ff_default", "ff_spool", "ff_redis", "ff_redis_any",
                      "ff_default_batch", "ff_spool_batch", "ff_redis_batch", "ff_redis_any_batch" }
local GOAL_REDIS = 20000
local SEED_ORDER = { "pool_c1", "pool_default", "pool_elastic", "direct" }
local TPUT_ORDER = { "ff_default", "ff_w2", "ff_w2_c64", "ff_w1_c128",
                     "cb_default", "cb_poll", "cb_w2_poll" }

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

-- Prints rows (arrays of strings) as a table with aligned columns; align is a string with one
-- letter per column, "l" (left) or "r" (right).
local function print_table(header, rows, align)
  local widths = {}
  for _, row in ipairs({ header, table.unpack(rows) }) do
    for i, cell in ipairs(row) do
      widths[i] = math.max(widths[i] or 0, #cell)
    end
  end
  local function line(row)
    local cells = {}
    for i, cell in ipairs(row) do
      local pad = string.rep(" ", widths[i] - #cell)
      cells[i] = align:sub(i, i) == "r" and (pad .. cell) or (cell .. pad)
    end
    print((("  " .. table.concat(cells, "  ")):gsub("%s+$", "")))
  end
  line(header)
  local rule = {}
  for i, w in ipairs(widths) do rule[i] = string.rep("-", w) end
  print("  " .. table.concat(rule, "  "))
  for _, row in ipairs(rows) do line(row) end
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
  local spool_path = case.spool and (os.tmpname() .. ".spool.db")
  local c = assert(notifyhub.new({
    webhook = { url = url },
    async = async,
    http = { timeout = 10 },
    spool = (spool_path and { path = spool_path, sync = case.spool })
      or (case.redis and { redis = assert(os.getenv("NH_BENCH_REDIS"), "NH_BENCH_REDIS unset"),
                           prefix = ("bench%d"):format(os.time() % 100000 * 100 + math.random(99)),
                           deliver = case.redis })
      or nil,
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
  local cap = not seed and SEND_CAP or nil
  local rejected, reject_err, sent, cut = 0, nil, 0, false
  local t0 = system.monotime()
  if case.batch then
    -- send_async_batch: all of a batch or none; the handle is dropped (fire & forget)
    for i = 1, n, case.batch do
      local msgs = {}
      for k = i, math.min(n, i + case.batch - 1) do msgs[#msgs + 1] = { body = "hello " .. k } end
      local h, err = c:send_async_batch(msgs)
      sent = i + #msgs - 1
      if not h then
        rejected = rejected + #msgs
        reject_err = reject_err or err
      end
      if cap and system.monotime() - t0 > cap then
        cut = sent < n
        break
      end
    end
  end
  for i = 1, case.batch and 0 or n do
    local h, err = c:send_async({ body = "hello " .. i })
    sent = i
    if h then
      if callbacks then h:on_complete(on_ok):on_error(on_err) end
    else
      rejected = rejected + 1
      reject_err = reject_err or err
    end
    if poll_every and i % poll_every == 0 then c:poll() end
    if cap and i % 500 == 0 and system.monotime() - t0 > cap then
      cut = i < n
      break
    end
  end
  local t_submitted = system.monotime()
  local done = c:wait_all(120)
  local t1 = system.monotime()

  local s = c:stats()
  c:close(5)
  if spool_path then
    for _, suffix in ipairs({ "", "-wal", "-shm" }) do os.remove(spool_path .. suffix) end
    os.remove((spool_path:gsub("%.spool%.db$", "")))
  end
  if not callbacks then ok_count, err_count = s.succeeded, s.failed end
  local fields = {
    ("case=%s"):format(name),
    ("wall=%.6f"):format(t1 - t0),
    ("submit=%.6f"):format(t_submitted - t0),
    ("n=%d"):format(n),
    ("sent=%d"):format(sent),
    ("cut=%s"):format(cut and "yes" or "no"),
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

-- Notes printed under the tables: runs that did not deliver everything, failed children,
-- wrk errors.
local notes, note_runs = {}, {}

-- Adds a note once; the same note from another run of a case only adds that run's number.
local function add_note(text, run)
  if not note_runs[text] then
    notes[#notes + 1] = text
    note_runs[text] = {}
  end
  if run then table.insert(note_runs[text], run) end
end

-- Runs one case in a fresh child process; returns its RESULT fields as a table, or nil (and
-- a note with the end of the child's output) when the child printed no RESULT line.
local function spawn(name, base, env)
  local prefix = ""
  for k, v in pairs(env or {}) do prefix = prefix .. ("%s=%s "):format(k, q(v)) end
  local out = capture(("%s%s %s --case %s --url %s 2>&1")
    :format(prefix, q(LUA), q(SCRIPT), name, q(base)))
  local line = out:match("RESULT ([^\n]*)")
  if not line then
    local note = ("case %s FAILED (no RESULT line); end of its output:\n      %s")
      :format(name, trim(out:sub(-600)):gsub("\n", "\n      "))
    add_note(note)
    return nil
  end
  local r = {}
  for k, v in line:gmatch("([%w_]+)=(%S+)") do r[k] = tonumber(v) or v end
  r.first_error = out:match("FIRST_ERROR ([^\n]*)")
  r.first_reject = out:match("FIRST_REJECT ([^\n]*)")
  return r
end

-- A run is clean when every message it sent was delivered and wait_all returned true;
-- otherwise this adds a note and answers false (its figures are not comparable).
local function check_run(label, run, r)
  if r.ok == r.sent and r.waited == "yes" then return true end
  add_note(("%s: %d of %d sent delivered, %d failed, %d rejected, wait_all %s%s%s")
    :format(label, r.ok, r.sent, r.err, r.rejected,
      r.waited == "yes" and "returned" or "timed out",
      r.first_error and ("; first error: " .. r.first_error) or "",
      r.first_reject and ("; first rejection: " .. r.first_reject) or ""), run)
  return false
end

local function environment()
  local date = trim(capture("date -u '+%Y-%m-%d %H:%M:%S UTC'"))
  local nproc = trim(capture("nproc"))
  local nginx = trim(capture("nginx -v 2>&1 || /usr/sbin/nginx -v 2>&1")):gsub("^nginx version: ", "")
  local wrk = trim(capture("wrk -v 2>&1 | head -1")):match("^(wrk %S+)") or "wrk ?"
  local cpu = trim(capture("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"))
  local lua = trim(capture(q(LUA) .. " -v 2>&1")):match("^(Lua %S+)") or _VERSION
  local commit = trim(capture("git rev-parse --short HEAD 2>/dev/null"))
  local dirty = trim(capture("git status --porcelain -- csrc lua 2>/dev/null | wc -l"))
  print(("Environment: %s | nproc %s | %s | libcurl %s | %s | %s")
    :format(date, nproc, lua, notifyhub.curl_version, nginx, wrk))
  if cpu ~= "" then print("CPU: " .. cpu) end
  if commit ~= "" then
    print(("Library: git %s%s"):format(commit,
      dirty ~= "0" and (" + " .. dirty .. " changed files under csrc/ lua/") or ""))
  end
end

local function seed_table(base)
  print()
  print(("1. Seed table: %d messages, %d workers, loopback sink answering after %d ms "
    .. "(/sink/delay/%d)"):format(SEED_MESSAGES, SEED_WORKERS, SEED_DELAY_MS, SEED_DELAY_MS))
  print("   wall = first send_async .. wait_all returns (on_complete/on_error on every handle);")
  print("   median of the runs, each in a fresh process; range and runs over the goal beside it")
  print("   seed (Go library): pool 1.8 s, direct 2.5 s")
  print()
  local goals = {
    pool_c1 = { GOAL_C1, ("<= %.2f s (%.1f s + 10%%)"):format(GOAL_C1, C1_IDEAL) },
    pool_default = { GOAL_DEFAULT, ("<= %.2f s"):format(GOAL_DEFAULT) },
    pool_elastic = { nil, "none (grows on the backlog)" },
    direct = { nil, "none (seed: 2.5 s)" },
  }
  local rows = {}
  for _, name in ipairs(SEED_ORDER) do
    local walls, rss, threads, over, unclean = {}, 0, 0, 0, 0
    local goal = goals[name]
    for i = 1, SEED_REPEATS[name] do
      local r = spawn(name, base)
      if r and not check_run(CASES[name].label, i, r) then
        unclean = unclean + 1
        if r.ok == 0 then break end           -- nothing delivered: no figure, no more runs
      end
      if r then
        walls[#walls + 1] = r.wall
        rss = math.max(rss, r.rss_kb)
        threads = math.max(threads, r.threads)
        if goal[1] and r.wall > goal[1] then over = over + 1 end
      end
    end
    if #walls == 0 then
      rows[#rows + 1] = { CASES[name].label, "FAILED", "-", "-", "-", "-", goal[2], "-" }
      goto next_case
    end
    local wall = median(walls)
    local lo, hi = math.min(table.unpack(walls)), math.max(table.unpack(walls))
    local verdict = goal[1] == nil and "-" or (wall <= goal[1] and "MET" or "NOT MET")
    if unclean > 0 then verdict = verdict .. (" (%d unclean runs, see notes)"):format(unclean) end
    rows[#rows + 1] = {
      CASES[name].label,
      ("%.3f s"):format(wall),
      ("%.3f-%.3f"):format(lo, hi),
      goal[1] and ("%d/%d"):format(over, #walls) or ("-/%d"):format(#walls),
      tostring(threads),
      ("%.1f MB"):format(rss / 1024),
      goal[2],
      verdict,
    }
    ::next_case::
  end
  print_table({ "configuration", "wall", "range (s)", "runs over", "threads", "peak RSS",
    "goal", "median met?" }, rows, "lrrrrrll")
end

-- wrk against /sink with `connections` connections; returns requests per second.
local function run_wrk_once(base, connections)
  local cmd = ("wrk -t2 -c%d -d%ds -s %s %s 2>&1"):format(connections, WRK_SECONDS,
    q("bench/wrk_post.lua"), q(base .. "/sink"))
  local out = capture(cmd)
  local rps = tonumber(out:match("Requests/sec:%s*([%d%.]+)"))
  if not rps then error("wrk printed no Requests/sec:\n" .. out) end
  local non2xx = tonumber(out:match("Non%-2xx or 3xx responses:%s*(%d+)")) or 0
  local errors = out:match("Socket errors:[^\n]*")
  if non2xx > 0 or errors then
    add_note(("wrk -c%d: %d non-2xx answers%s"):format(connections, non2xx,
      errors and ("; " .. errors) or ""))
  end
  return rps
end

-- bench/curl_multi.c (built by `make bench`): 100,000 POSTs from 2 threads
-- with 64 in flight each, libcurl and nothing else; best of WRK_REPEATS.
local function run_curl_multi(base)
  local best
  for _ = 1, WRK_REPEATS do
    local out = capture(("build/curl_multi %s 100000 2 64 2>&1"):format(q(base .. "/sink")))
    local n, secs = out:match("requests=(%d+) seconds=([%d.]+)")
    if not n then
      add_note("libcurl reference did not run: " .. trim(out))
      return nil
    end
    local rps = tonumber(n) / tonumber(secs)
    best = math.max(best or 0, rps)
  end
  return best
end

-- Best of WRK_REPEATS wrk runs.
local function run_wrk(base, connections)
  local best = 0
  for _ = 1, WRK_REPEATS do best = math.max(best, run_wrk_once(base, connections)) end
  return best
end

local function throughput_table(base)
  print()
  print(("2. Throughput: %s messages to /sink (answers at once), buffer_size 100000, "
    .. "best of %d runs"):format(fmt_thousands(TPUT_MESSAGES), TPUT_REPEATS))
  print(("   nginx: %d worker process; wrk: -t2 -d%ds, best of %d, POST of a similar JSON body "
    .. "(bench/wrk_post.lua);"):format(NGINX_WORKERS, WRK_SECONDS, WRK_REPEATS))
  print(("   %s cores shared by nginx and wrk / the library"):format(trim(capture("nproc"))))
  print("   patterns: fire & forget = send_async in a loop, handle dropped, then wait_all;")
  print("             callbacks = on_complete + on_error on every handle, then wait_all;")
  print("             callbacks + poll/1000 = the same, with client:poll() after every 1000 sends")
  print()

  -- wrk first: at 128 connections (the default pool's transfers in flight, 4 workers x 32),
  -- and at the in-flight count of each other library setting, for a like-for-like ratio.
  local wrk_rps, conns = {}, {}
  for _, name in ipairs(TPUT_ORDER) do
    local c = CASES[name].in_flight
    if not wrk_rps[c] then
      wrk_rps[c] = run_wrk(base, c)
      conns[#conns + 1] = c
    end
  end
  table.sort(conns)

  local rows, best = {}, nil
  for _, name in ipairs(TPUT_ORDER) do
    local case = CASES[name]
    local pick
    for i = 1, TPUT_REPEATS do
      local r = spawn(name, base)
      if r and not check_run(case.label .. ", " .. case.pattern, i, r) then
        r.unclean = true
        if r.ok == 0 then break end           -- nothing delivered: no figure, no more runs
      end
      if r then
        r.mps = r.ok / r.wall
        if not pick or r.mps > pick.mps then pick = r end
        if r.cut == "yes" then break end     -- one capped run is enough
      end
    end
    if not pick then
      rows[#rows + 1] = { case.label, case.pattern, tostring(case.in_flight), "FAILED",
        "-", "-", "-", "-", "-", "-", "-" }
      goto next_case
    end
    local ratio = pick.mps / wrk_rps[128]
    rows[#rows + 1] = {
      case.label,
      case.pattern,
      tostring(case.in_flight),
      pick.cut == "yes" and (fmt_thousands(pick.sent) .. " (cut)") or fmt_thousands(pick.sent),
      ("%.2f s"):format(pick.submit),
      ("%.2f s"):format(pick.wall),
      fmt_thousands(pick.mps) .. (pick.unclean and " (!)" or ""),
      ("%.2f"):format(ratio),
      ("%.2f"):format(pick.mps / wrk_rps[case.in_flight]),
      tostring(pick.threads),
      ("%.1f MB"):format(pick.rss_kb / 1024),
    }
    if not best or ratio > best.ratio then
      best = { ratio = ratio, label = case.label .. ", " .. case.pattern, mps = pick.mps }
    end
    ::next_case::
  end
  print_table({ "workers x concurrency", "pattern", "in flight", "messages", "send loop", "wall",
    "msg/s", "/wrk-c128", "/wrk-same-c", "threads", "peak RSS" }, rows, "llrrrrrrrrr")
  print()
  local wrows = {}
  for _, c in ipairs(conns) do
    wrows[#wrows + 1] = { ("wrk -t2 -c%d"):format(c), fmt_thousands(wrk_rps[c]), "1.00" }
  end
  -- libcurl alone (bench/curl_multi.c): what any libcurl-based sender can reach here.
  local curl_rps = run_curl_multi(base)
  if curl_rps then
    wrows[#wrows + 1] = { "libcurl multi alone, 2 x 64", fmt_thousands(curl_rps),
      ("%.2f"):format(curl_rps / wrk_rps[128]) }
  end
  print_table({ "reference", "req/s", "/wrk-c128" }, wrows, "lrr")
  print()
  print("   send loop: time in the send_async loop; wall: first send_async .. wait_all returns;")
  print("   msg/s = delivered / wall; /wrk-c128: ratio to wrk at 128 connections (the default")
  print("   pool's transfers in flight); /wrk-same-c: ratio to wrk at the row's own in-flight count;")
  print(("   (cut): the send loop was stopped after %d s, figures are for the messages sent;")
    :format(SEND_CAP))
  print("   (!): not every message sent was delivered (see the notes).")
  print()
  if not best then
    print("   best ratio: none (every throughput run failed)")
    return
  end
  print(("   best ratio: %.2f (%s: %s msg/s vs wrk -c128 %s req/s); goal >= %.1f on %s: %s")
    :format(best.ratio, best.label, fmt_thousands(best.mps), fmt_thousands(wrk_rps[128]),
      GOAL_RATIO, _VERSION, best.ratio >= GOAL_RATIO and "MET" or "NOT MET"))
end

-- 3. The spool: the same fire-and-forget run with and without spool.path; wall from the
-- first send_async until every message is delivered, and the caller's time per send_async.
local function spool_table(base)
  print()
  print(("3. Spool (issue 13): %s messages to /sink, fire & forget, 4 x 32, best of %d runs")
    :format(fmt_thousands(TPUT_MESSAGES), TPUT_REPEATS))
  print()
  local rows, plain = {}, nil
  for _, name in ipairs(SPOOL_ORDER) do
    local case, pick = CASES[name], nil
    for i = 1, TPUT_REPEATS do
      local r = spawn(name, base)
      if r and not check_run(case.label .. ", " .. case.pattern, i, r) then r.unclean = true end
      if r and r.ok > 0 then
        r.mps = r.ok / r.wall
        if not pick or r.mps > pick.mps then pick = r end
      end
    end
    if not pick then
      rows[#rows + 1] = { name == "ff_default" and "none" or case.spool, "FAILED", "-", "-", "-", "-" }
    else
      plain = plain or (name == "ff_default" and pick) or nil
      rows[#rows + 1] = {
        name == "ff_default" and "none" or case.spool,
        fmt_thousands(pick.sent) .. (pick.cut == "yes" and " (cut)" or ""),
        ("%.2f s"):format(pick.wall),
        fmt_thousands(pick.mps) .. (pick.unclean and " (!)" or ""),
        plain and ("%.2f"):format(pick.mps / plain.mps) or "-",
        ("%.1f"):format(pick.submit / pick.sent * 1e6),
      }
    end
  end
  print_table({ "spool", "messages", "wall", "msg/s", "/no spool", "us per send_async" }, rows,
    "lrrrrr")
  print()
  print("   wall: first send_async .. every message delivered (wait_all); us per send_async: the")
  print("   caller's time in the send loop per message (with a spool: until it is committed);")
  print(("   goal: sync = normal >= 0.5 x no spool: %s"):format(
    (function()
      local normal = rows[2] and tonumber((rows[2][5] or ""):match("^[%d.]+$"))
      if not normal then return "no figure" end
      return normal >= 0.5 and "MET" or "NOT MET"
    end)()))
end

-- 4. Redis: none, the SQLite spool and Redis in the same run, the same messages.
local function redis_table(base)
  print()
  print(("4. Redis spool (issue 15): %s messages to /sink, fire & forget, 4 x 32, best of %d runs")
    :format(fmt_thousands(TPUT_MESSAGES), TPUT_REPEATS))
  local have, redis = pcall(require, "spec.support.redis")
  local ok, srv = false, redis
  if have then ok, srv = pcall(redis.start, { config = { "appendfsync everysec" } }) end
  if not ok then
    print("   redis-server did not start: " .. tostring(srv))
    return
  end
  print(("   redis-server %s on 127.0.0.1:%d (appendonly yes, appendfsync everysec), the same 2 cores")
    :format(trim(capture("redis-server --version"):match("v=(%S+)") or "?"), srv.port))
  print()
  local env_redis = srv.url
  local rows, plain = {}, nil
  local label = { ff_default = "none", ff_spool = "SQLite (sync = normal)",
                  ff_redis = "Redis, deliver = local", ff_redis_any = "Redis, deliver = any",
                  ff_default_batch = "none, batches of 100",
                  ff_spool_batch = "SQLite, batches of 100",
                  ff_redis_batch = "Redis, local, batches of 100 (pipelined)",
                  ff_redis_any_batch = "Redis, any, batches of 100 (pipelined)" }
  local redis_best
  for _, name in ipairs(REDIS_ORDER) do
    local case, pick = CASES[name], nil
    for i = 1, TPUT_REPEATS do
      local r = spawn(name, base, { NH_BENCH_REDIS = env_redis })
      if r and not check_run(case.label .. ", " .. case.pattern, i, r) then r.unclean = true end
      if r and r.ok > 0 then
        r.mps = r.ok / r.wall
        if not pick or r.mps > pick.mps then pick = r end
      end
    end
    if not pick then
      rows[#rows + 1] = { label[name], "FAILED", "-", "-", "-", "-" }
    else
      if name == "ff_default" or name == "ff_default_batch" then plain = pick end
      if case.redis and (not redis_best or pick.mps > redis_best) and not pick.unclean then
        redis_best = pick.mps
      end
      rows[#rows + 1] = {
        label[name],
        fmt_thousands(pick.sent) .. (pick.cut == "yes" and " (cut)" or ""),
        ("%.2f s"):format(pick.wall),
        fmt_thousands(pick.mps) .. (pick.unclean and " (!)" or ""),
        plain and ("%.2f"):format(pick.mps / plain.mps) or "-",
        ("%.1f"):format(pick.submit / pick.sent * 1e6),
      }
    end
  end
  redis.stop(srv)
  print_table({ "spool", "messages", "wall", "msg/s", "/no spool", "us per send_async" }, rows,
    "lrrrrr")
  print()
  print("   wall: first send_async .. every message delivered (wait_all); us per send_async: the")
  print("   caller's time per message until Redis acknowledged it (pipelined by the writer);")
  print(("   goal: >= %s msg/s through Redis on this machine: %s"):format(fmt_thousands(GOAL_REDIS),
    redis_best and (redis_best >= GOAL_REDIS and ("MET (" .. fmt_thousands(redis_best) .. ")")
      or ("NOT MET (" .. fmt_thousands(redis_best) .. ")")) or "no figure"))
end

local function main()
  local server = require("spec.support.server")
  local started = system.monotime()
  print("notifyhub benchmark (" .. notifyhub._VERSION .. ")")
  environment()
  local ok, err = pcall(function()
    local base = server.start({ workers = NGINX_WORKERS })
    print("Server: " .. base .. " (nginx, " .. NGINX_WORKERS .. " worker process)")
    if not ONLY or ONLY == "seed" then seed_table(base) end
    if not ONLY or ONLY == "tput" then throughput_table(base) end
    if not ONLY or ONLY == "spool" then spool_table(base) end
    if not ONLY or ONLY == "redis" then redis_table(base) end
  end)
  server.stop()
  if #notes > 0 then
    print()
    print("Notes (failed children, runs that did not deliver everything, wrk errors):")
    for _, n in ipairs(notes) do
      local runs = note_runs[n]
      print("  - " .. n .. (#runs > 0 and (" [run " .. table.concat(runs, ", ") .. "]") or ""))
    end
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
