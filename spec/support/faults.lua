-- spec/support/faults.lua -- start and stop the misbehaving loopback HTTP server.
--
-- Owned by the test harness; used by spec/faults_spec.lua and spec/stress_spec.lua, never
-- by the library. Plain Lua that runs on lua5.4 and luajit (shells out; no luasocket).
-- Needs: cjson, lua-system (sleep/gettime), Debian's python3 (standard library only), the
-- openssl CLI (the server makes a throw-away CA and certificate at each start) and the curl
-- CLI (to see that both ports answer, and for stats()).
--
--   local faults = require("spec.support.faults")
--   local f = faults.start()
--   -- f = { base = "http://127.0.0.1:P", tls_base = "https://127.0.0.1:Q",
--   --       ca_file = "/tmp/.../ca.pem", port = P, tls_port = Q,
--   --       closed_port = R (bound, never listening: connections are refused),
--   --       other_base = "http://127.0.0.1:O" (a second plain port: another origin),
--   --       other_port = O, smtp_port = S (a recording SMTP responder),
--   --       pid = n, dir = "/tmp/..." }
--   ... point the code under test at f.base .. "/reset", f.tls_base .. "/ok", ... ...
--   faults.stats()   -- { connections, requests = { ["/ok"] = n, ... }, random = {...} }
--   faults.captured(clear) -- what /capture... and the SMTP port recorded (then forgets it)
--   faults.stop()
--
-- The paths and what each does: see spec/support/faults.py (the server itself).
-- The Python is $NOTIFYHUB_PYTHON, else /usr/bin/python3, else "python3".

local cjson = require("cjson")
local system = require("system")
local shell = require("spec.support.shell")
local q = shell.q
local execute = shell.execute
local capture = shell.capture
local read_file = shell.read_file
local trim = shell.trim
local alive = shell.alive
local my_pid = shell.my_pid
local support_dir = shell.support_dir

local M = {}

-- Running server: { info = <what start returned>, pid, dir }
local state = nil

local function python()
  local env = os.getenv("NOTIFYHUB_PYTHON")
  if env and env ~= "" then return env end
  if execute("test -x /usr/bin/python3") then return "/usr/bin/python3" end
  return "python3"
end

local function shutdown(s)
  if s.pid then
    shell.stop_process(s.pid)
  end
  if s.dir and not os.getenv("NOTIFYHUB_KEEP_FAULTS_DIR") then
    execute("rm -rf " .. q(s.dir))
  end
end

-- Does url answer at all (any HTTP status)? curl's -w prints 000 when nothing came back.
local function answers(url, ca_file)
  local cmd = "curl -s -o /dev/null -m 2 -w '%{http_code}' "
  if ca_file then cmd = cmd .. "--cacert " .. q(ca_file) .. " " end
  local code = trim(capture(cmd .. q(url) .. " 2>/dev/null"))
  return code ~= "" and code ~= "000"
end

-- M.start() -> { base, tls_base, ca_file, port, tls_port, closed_port, pid, dir }
-- Waits (at most 10 s) until both ports answer /ok. Idempotent: while the server runs,
-- returns the same table.
function M.start()
  if state then
    if alive(state.pid) then return state.info end
    M.stop()
  end

  local dir = trim(capture("mktemp -d " .. q((os.getenv("TMPDIR") or "/tmp")
    .. "/notifyhub-faults.XXXXXX")))
  assert(dir ~= "" and execute("test -d " .. q(dir)), "faults.lua: mktemp -d failed")

  local ready = dir .. "/ready.json"
  local log = dir .. "/server.log"
  local args = { q(python()), q(support_dir() .. "/faults.py"), "--dir " .. q(dir),
    "--ready " .. q(ready) }
  local parent = my_pid()
  if parent then args[#args + 1] = "--parent-pid " .. parent end
  -- "&" then "echo $!": the pid of python itself (sh execs a simple command directly).
  local pid = tonumber(trim(capture(table.concat(args, " ") .. " </dev/null >" .. q(log)
    .. " 2>&1 & echo $!")))
  if not pid then
    execute("rm -rf " .. q(dir))
    error("faults.lua: could not start " .. python())
  end

  local deadline = system.gettime() + 10
  local info
  while system.gettime() < deadline do
    local r = read_file(ready)
    if r then
      info = cjson.decode(r)
      break
    end
    if not alive(pid) then break end
    system.sleep(0.02)
  end
  local base, tls_base
  if info then
    base = "http://127.0.0.1:" .. math.floor(info.port)
    tls_base = "https://127.0.0.1:" .. math.floor(info.tls_port)
    local up = false
    while system.gettime() < deadline do
      if answers(base .. "/ok") and answers(tls_base .. "/ok", info.ca_file) then
        up = true
        break
      end
      system.sleep(0.05)
    end
    if not up then info = nil end
  end
  if not info then
    local out = read_file(log) or ""
    shutdown({ pid = pid, dir = dir })
    error("faults.lua: the faults server did not start within 10 s:\n" .. out)
  end

  state = {
    pid = pid, dir = dir,
    info = {
      base = base,
      tls_base = tls_base,
      ca_file = info.ca_file,
      port = math.floor(info.port),
      tls_port = math.floor(info.tls_port),
      closed_port = math.floor(info.closed_port),
      other_port = math.floor(info.other_port),
      other_base = "http://127.0.0.1:" .. math.floor(info.other_port),
      smtp_port = math.floor(info.smtp_port),
      pid = pid,
      dir = dir,
    },
  }
  return state.info
end

-- M.info() -> the table start returned, or nil when no server runs.
function M.info()
  return state and state.info
end

-- M.stats() -> what the server counted: { connections = n, tls_handshake_failures = n,
--   requests = { [path] = n }, random = { [outcome] = n } }
function M.stats()
  assert(state, "faults.stats: server not started")
  local out = capture("curl -s -m 5 " .. q(state.info.base .. "/__stats"))
  return cjson.decode(out)
end

-- M.captured([clear]) -> { { port, method, target, headers, body } or { port, smtp }, ... }:
-- the requests /capture... took and the SMTP sessions, in arrival order; clear: forget them.
function M.captured(clear)
  assert(state, "faults.captured: server not started")
  local path = clear and "/__captured-clear" or "/__captured"
  return cjson.decode(capture("curl -s -m 5 " .. q(state.info.base .. path)))
end

-- M.stop(): kill the server, wait until it is gone, remove its temp dir; idempotent.
function M.stop()
  if not state then return end
  local s = state
  state = nil
  shutdown(s)
end

shell.stop_at_exit(M)   -- also when the Lua state closes

return M
