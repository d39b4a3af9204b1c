-- spec/support/redis.lua -- start, break and stop the loopback redis-server of the Redis
-- spool specs (issue 15).
--
-- Owned by the test harness; used by the specs, never by the library. Plain Lua that runs on
-- lua5.4 and luajit. Needs: lua-system (sleep/gettime), Debian's redis-server and its
-- redis-cli (package redis-server, with redis-tools).
--
--   local redis = require("spec.support.redis")
--   local r = redis.start()                -- or redis.start({ password = "pw" })
--   -- r = { host = "127.0.0.1", port = P, url = "redis://127.0.0.1:P/0" (with ":pw@" when
--   --       a password is set: what a client connects with), public = "redis://127.0.0.1:P/0"
--   --       (never a password), password = "pw" or nil, dir = "/tmp/nh-redis-XXXXXX", pid = n }
--   redis.cli("XLEN", "notifyhub:q:normal")   -- redis-cli against it: its raw output
--   redis.stop()      -- SIGTERM: Redis writes and fsyncs its AOF, then exits (dir kept)
--   redis.kill()      -- SIGKILL: what appendfsync always acknowledged is on disk (dir kept)
--   redis.freeze()    -- SIGSTOP: connections open, nothing answers (a network cut)
--   redis.thaw()      -- SIGCONT
--   redis.restart()   -- stop (if running), then start again: same port, dir, AOF, password
--   local x = redis.proxy()   -- { port, url, public }: a line to the server that can be cut
--   redis.cut()       -- through the proxy nothing passes, nothing is reset (a network cut)
--   redis.mend()      -- the proxy forwards again (connections that lived through the cut close)
--   redis.cleanup()   -- stop and remove the dir; at the end of a spec file (teardown)
--
-- The server: `redis-server <dir>/redis.conf` (port P on 127.0.0.1 only, no RDB snapshots,
-- appendonly yes, appendfsync always, daemonize no; requirepass in the file, not on a command
-- line). P is a free port from 12000-19999 (never 6379, where Debian's own redis may run);
-- one in use is skipped. A watchdog (a sleeping sh) SIGKILLs the server when the process
-- that started it is gone, so a crashed spec run leaves no server behind; each start has its
-- own mktemp dir, so a leftover dir never meets the next run. The proxy is
-- spec/support/cut_proxy.py (Debian's python3), which exits with the process that started it.

local system = require("system")
local shell = require("spec.support.shell")
local q = shell.q
local execute = shell.execute
local capture = shell.capture
local read_file = shell.read_file
local trim = shell.trim
local alive = shell.alive

local M = {}

-- The server of this process, or nil: { info, conf, log, key }. info.pid is nil while the
-- server is stopped or killed (restart brings it back).
local state = nil

local function tail(path, n)
  local lines = {}
  for line in (read_file(path) or ""):gmatch("[^\n]+") do lines[#lines + 1] = line end
  return table.concat(lines, "\n", math.max(1, #lines - (n or 15) + 1))
end

local function conf_text(port, dir, opts)
  local lines = {
    "bind 127.0.0.1",
    "port " .. port,
    "daemonize no",
    "save \"\"",
    "appendonly yes",
    "appendfsync always",
    "dir " .. dir,
    "logfile " .. dir .. "/redis.log",
    "databases 16",
  }
  if opts.password then lines[#lines + 1] = "requirepass " .. opts.password end
  for _, line in ipairs(opts.config or {}) do lines[#lines + 1] = line end
  return table.concat(lines, "\n") .. "\n"
end

-- redis-cli with the password in its environment (not on a command line).
local function cli_prefix(info)
  local env = info.password and ("REDISCLI_AUTH=" .. q(info.password) .. " ") or ""
  return env .. "redis-cli -h 127.0.0.1 -p " .. info.port
end

-- The sleeping sh that SIGKILLs pid once parent is gone (a zombie counts as gone; the
-- command line is checked again before the kill, against a reused pid).
local function watchdog(pid, parent)
  local script = ([[
gone() { s=$(cat /proc/$1/stat 2>/dev/null) || return 0; case "${s##*) }" in Z*|X*) return 0;; esac; return 1; }
while ! gone %d && ! gone %d; do sleep 1; done
if ! gone %d && gone %d && tr '\0' ' ' </proc/%d/cmdline 2>/dev/null | grep -q redis-server; then
  kill -KILL %d
fi]]):format(parent, pid, pid, parent, pid, pid)
  execute("sh -c " .. q(script) .. " </dev/null >/dev/null 2>&1 &")
end

-- Starts redis-server on state's port; true, or false and why (its log).
local function launch(s)
  os.remove(s.log)
  -- "&" then "echo $!": the pid of redis-server itself (sh execs a simple command).
  local pid = tonumber(trim(capture("redis-server " .. q(s.conf) .. " </dev/null >>"
    .. q(s.info.dir .. "/stdout.log") .. " 2>&1 & echo $!")))
  if not pid then return false, "could not run redis-server" end
  local parent = shell.my_pid()
  if parent then watchdog(pid, parent) end
  local deadline = system.gettime() + 10   -- a restart replays the AOF first (LOADING)
  while system.gettime() < deadline do
    if not alive(pid) then
      return false, tail(s.log) .. tail(s.info.dir .. "/stdout.log")
    end
    if trim(capture(cli_prefix(s.info) .. " ping 2>/dev/null")) == "PONG" then
      s.info.pid = pid
      return true
    end
    system.sleep(0.02)
  end
  shell.stop_process(pid)
  return false, "no PONG within 10 s:\n" .. tail(s.log)
end

local function signal(sig)
  assert(state and state.info.pid, "redis: server not running")
  assert(execute("kill -" .. sig .. " " .. state.info.pid .. " 2>/dev/null"), "redis: kill -" .. sig)
end

local function wait_gone(pid, seconds)
  local deadline = system.gettime() + seconds
  while alive(pid) and system.gettime() < deadline do system.sleep(0.02) end
  return not alive(pid)
end

--- Starts a server: opts.password (requirepass), opts.config (extra redis.conf lines).
-- Idempotent: while a server with the same opts runs, returns its table; other opts
-- replace it (cleanup first). Raises when no server answers PING.
function M.start(opts)
  opts = opts or {}
  local key = tostring(opts.password) .. "\0" .. table.concat(opts.config or {}, "\n")
  if state then
    if state.key == key and state.info.pid and alive(state.info.pid) then return state.info end
    M.cleanup()
  end
  local dir = shell.tmpdir("redis")
  assert(dir ~= "" and execute("test -d " .. q(dir)), "redis: mktemp -d failed")
  local parent = shell.my_pid() or math.random(0, 65535)
  local first = 12000 + (parent * 7 + math.random(0, 997)) % 8000
  local why
  for try = 0, 19 do
    local port = 12000 + (first - 12000 + try * 13) % 8000
    local info = {
      host = "127.0.0.1", port = port, dir = dir, password = opts.password,
      public = ("redis://127.0.0.1:%d/0"):format(port),
      url = ("redis://%s127.0.0.1:%d/0"):format(opts.password and (":" .. opts.password .. "@") or "", port),
    }
    local s = { info = info, conf = dir .. "/redis.conf", log = dir .. "/redis.log", key = key }
    shell.write_file(s.conf, conf_text(port, dir, opts))
    execute("chmod 600 " .. q(s.conf))
    local ok
    ok, why = launch(s)
    if ok then
      state = s
      return info
    end
    if not tostring(why):find("in use", 1, true) then break end
  end
  execute("rm -rf " .. q(dir))
  error("redis: redis-server did not start:\n" .. tostring(why))
end

--- The table start returned, or nil.
function M.info() return state and state.info end

--- redis-cli ARGS... against the server (raw output, trimmed; errors included).
function M.cli(...)
  assert(state, "redis: server not started")
  local args = {}
  for i = 1, select("#", ...) do args[i] = q(select(i, ...)) end
  return trim(capture(cli_prefix(state.info) .. " " .. table.concat(args, " ") .. " 2>&1"))
end

--- SIGTERM and wait until it exited (Redis fsyncs the AOF on the way out); the dir stays.
function M.stop()
  if not (state and state.info.pid) then return end
  local pid = state.info.pid
  state.info.pid = nil
  execute("kill -CONT " .. pid .. " 2>/dev/null")   -- a frozen server cannot take TERM
  shell.stop_process(pid)
end

--- SIGKILL and wait until it is gone; the dir stays.
function M.kill()
  if not (state and state.info.pid) then return end
  local pid = state.info.pid
  execute("kill -CONT " .. pid .. " 2>/dev/null")
  execute("kill -KILL " .. pid .. " 2>/dev/null")
  state.info.pid = nil
  assert(wait_gone(pid, 5), "redis: still alive after SIGKILL")
end

--- SIGSTOP: the port still accepts connections (the kernel's backlog), nothing answers.
function M.freeze() signal("STOP") end

--- SIGCONT after freeze.
function M.thaw() signal("CONT") end

--- Stops the server if it runs, then starts it again with the same port, dir (AOF) and
-- password. Returns start's table.
function M.restart()
  assert(state, "redis: server not started")
  M.stop()
  local ok, why = launch(state)
  if not ok then error("redis: restart failed:\n" .. tostring(why)) end
  return state.info
end

--- A TCP proxy to the server (spec/support/cut_proxy.py) that cut() and mend() control;
-- one per server, started on first use. Returns { port, url, public } as start's for it.
function M.proxy()
  assert(state, "redis: server not started")
  if state.proxy then return state.proxy end
  local ready = state.info.dir .. "/proxy.json"
  local pid = tonumber(trim(capture(("python3 %s --target %d --ready %s --parent-pid %d </dev/null >%s 2>&1 & echo $!")
    :format(q(shell.support_dir() .. "/cut_proxy.py"), state.info.port, q(ready), shell.my_pid() or 1,
      q(state.info.dir .. "/proxy.log")))))
  local deadline = system.gettime() + 5
  while not read_file(ready) and system.gettime() < deadline and alive(pid) do system.sleep(0.02) end
  local port = tonumber((read_file(ready) or ""):match('"port":%s*(%d+)'))
  if not port then
    shell.stop_process(pid)
    error("redis: the proxy did not start:\n" .. tail(state.info.dir .. "/proxy.log"))
  end
  local pw = state.info.password
  state.proxy = { pid = pid, port = port, public = ("redis://127.0.0.1:%d/0"):format(port),
    url = ("redis://%s127.0.0.1:%d/0"):format(pw and (":" .. pw .. "@") or "", port) }
  return state.proxy
end

local function proxy_signal(sig)
  assert(state and state.proxy, "redis: no proxy")
  assert(execute("kill -" .. sig .. " " .. state.proxy.pid .. " 2>/dev/null"), "redis: proxy gone")
end

function M.cut() proxy_signal("USR1") end

function M.mend() proxy_signal("USR2") end

--- The last n lines of the server's log.
function M.log(n)
  return state and tail(state.log, n) or ""
end

--- Stops the server and removes its dir; idempotent.
function M.cleanup()
  if not state then return end
  M.stop()
  if state.proxy then shell.stop_process(state.proxy.pid) end
  local dir = state.info.dir
  state = nil
  if not os.getenv("NOTIFYHUB_KEEP_REDIS_DIR") then execute("rm -rf " .. q(dir)) end
end

-- Also when the Lua state closes (shell.stop_at_exit calls .stop of the table it is given).
M._exit = { stop = M.cleanup }
shell.stop_at_exit(M._exit)

return M
