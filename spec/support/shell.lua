-- spec/support/shell.lua: the few shell and file helpers the test harness
-- modules share (server.lua, smtp.lua, faults.lua, app.lua). Plain Lua for
-- lua5.4 and luajit, no luasocket or luaposix.
local M = {}

--- s quoted for /bin/sh.
function M.q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- os.execute that answers true/false on Lua 5.1/LuaJIT (a status number) and 5.2+ alike.
function M.execute(cmd)
  local a = os.execute(cmd)
  if type(a) == "number" then return a == 0 end
  return a == true
end

--- Output of a shell command (stdout only, unless the command redirects).
function M.capture(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("*a")
  p:close()
  return out
end

function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

function M.write_file(path, data)
  local f = assert(io.open(path, "wb"))
  assert(f:write(data))
  f:close()
end

function M.trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

-- A fresh folder /tmp/nh-<name>-XXXXXX (mktemp -d); the spec removes it.
function M.tmpdir(name)
  return M.trim(M.capture("mktemp -d /tmp/nh-" .. name .. "-XXXXXX"))
end

--- Is process pid alive? A zombie counts as gone (a daemon's reaper may be slow or absent).
function M.alive(pid)
  local stat = M.read_file("/proc/" .. pid .. "/stat")
  if stat then
    local st = stat:match("^%d+ %b() (%a)")
    return st ~= "Z" and st ~= "X"
  end
  if M.execute("test -d /proc/self") then return false end   -- /proc exists: pid is gone
  return M.execute("kill -0 " .. pid .. " 2>/dev/null")
end

--- This Lua process's pid: the shell started by io.popen is our child, so
-- its $PPID is our pid.
function M.my_pid()
  return tonumber(M.trim(M.capture("echo $PPID")))
end

--- The directory of the harness (spec/support), absolute: the servers'
-- scripts and configs are there.
function M.support_dir()
  local src = debug.getinfo(1, "S").source
  local dir = src:sub(1, 1) == "@" and src:sub(2):match("^(.*)/[^/]*$") or "."
  if dir:sub(1, 1) ~= "/" then
    dir = M.trim(M.capture("cd " .. M.q(dir) .. " && pwd -P"))
  end
  return dir
end

--- Stops process pid: TERM (nginx's fast shutdown), up to 5 s to go, then
-- KILL for it and its children (nginx workers), up to 2 s more.
function M.stop_process(pid)
  local system = require("system")
  local function wait(seconds)
    local deadline = system.gettime() + seconds
    while M.alive(pid) and system.gettime() < deadline do system.sleep(0.02) end
  end
  M.execute("kill -TERM " .. pid .. " 2>/dev/null")
  wait(5)
  if M.alive(pid) then
    M.execute("pkill -KILL -P " .. pid .. " 2>/dev/null")
    M.execute("kill -KILL " .. pid .. " 2>/dev/null")
    wait(2)
  end
end

--- Runs module.stop() at exit: a finalizer runs on lua_close (busted ends
-- with os.exit(code, true)) or when the module itself is dropped (busted's
-- insulation), when no one can reach its server anyway. LuaJIT has no __gc
-- on tables, hence newproxy there.
function M.stop_at_exit(module)
  local function stop() pcall(module.stop) end
  if newproxy then
    local sentinel = newproxy(true)
    getmetatable(sentinel).__gc = stop
    module._sentinel = sentinel
  else
    module._sentinel = setmetatable({}, { __gc = stop })
  end
end

return M
