-- spec/support/faults.lua: starts and stops spec/support/faults.py, the
-- loopback server that misbehaves on purpose (plain and TLS with its own CA).
-- Plain Lua for lua5.4 and luajit; the server exits when this process's
-- pipe to it closes.
local system = require("system")

local M = {}
local state

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

--- Returns { base, tls_base, ca_file }.
function M.start()
  if state then return state.info end
  local p = io.popen("mktemp -d /tmp/notifyhub-faults.XXXXXX")
  local dir = p:read("*l")
  p:close()
  local python = os.getenv("NOTIFYHUB_PYTHON") or "/usr/bin/python3"
  -- The server reads its stdin until EOF: keeping this pipe open keeps it alive.
  local pipe = io.popen(q(python) .. " spec/support/faults.py " .. q(dir) .. " >" .. q(dir .. "/log")
    .. " 2>&1", "w")
  local deadline = system.gettime() + 20
  local ports
  while system.gettime() < deadline do
    local f = io.open(dir .. "/ports")
    if f then
      ports = f:read("*l")
      f:close()
      break
    end
    system.sleep(0.05)
  end
  if not ports then
    local f = io.open(dir .. "/log")
    error("faults.lua: the server did not start: " .. (f and f:read("*a") or "?"))
  end
  local plain, tls = ports:match("(%d+) (%d+)")
  state = { pipe = pipe, dir = dir, info = { base = "http://127.0.0.1:" .. plain,
    tls_base = "https://127.0.0.1:" .. tls, ca_file = dir .. "/ca.pem" } }
  return state.info
end

function M.stop()
  if not state then return end
  state.pipe:close()                         -- EOF on its stdin: it exits
  os.execute("rm -rf " .. q(state.dir))
  state = nil
end

return M
