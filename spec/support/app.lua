-- spec/support/app.lua: starts, signals and stops the nginx under test (the
-- application that uses notifyhub.ngx: spec/support/app/), next to the
-- loopback stand-in of spec/support/server.lua. Plain Lua for lua5.4 and
-- luajit; used by spec/ngx_spec.lua and bench/ngx.lua.
local server = require("spec.support.server")
local system = require("system")
local shell = require("spec.support.shell")
local q = shell.q
local execute = shell.execute
local read_file = shell.read_file
local alive = shell.alive

local M = {}
local state

local function root_dir()
  return shell.trim(shell.capture("pwd"))
end

local function modules()
  local dir = os.getenv("NOTIFYHUB_NGINX_MODULES") or "/usr/lib/nginx/modules"
  local lines = {}
  if execute("test -f " .. q(dir .. "/ndk_http_module.so")) then
    lines[#lines + 1] = "load_module " .. dir .. "/ndk_http_module.so;"
  end
  lines[#lines + 1] = "load_module " .. dir .. "/ngx_http_lua_module.so;"
  return table.concat(lines, "\n")
end

--- Starts the app; opts: workers (1), close_timeout (3), extra (Lua source of
-- a table { config = {...}, opts = {...} } merged into handlers.configure's
-- config and notifyhub.ngx options; default nil). Returns its base URL.
function M.start(opts)
  opts = opts or {}
  assert(not state, "app.lua: already running")
  server.start()
  local p = io.popen("mktemp -d /tmp/notifyhub-app.XXXXXX")
  local prefix = p:read("*l")
  p:close()
  execute("mkdir -p " .. q(prefix .. "/conf") .. " " .. q(prefix .. "/logs") .. " " .. q(prefix .. "/tmp"))
  local template = assert(read_file("spec/support/app/nginx.conf"))
  local is_root = io.popen("id -u"):read("*l") == "0"
  local bin = os.getenv("NOTIFYHUB_NGINX") or "nginx"
  -- Below the kernel's ephemeral ports (32768 and up), so that no outgoing
  -- connection holds the port; the next one when it is taken all the same.
  local port, started, why
  for try = 0, 9 do
    port = 10000 + (server.port() * 7 + try * 101) % 20000
    local vars = {
      LOAD_MODULES = modules(), USER = is_root and "user root;" or "", WORKERS = opts.workers or 1,
      PREFIX = prefix, PORT = port, ROOT = root_dir(), STANDIN = server.base(),
      CLOSE_TIMEOUT = opts.close_timeout or 3, EXTRA = opts.extra or "nil",
    }
    local conf = template:gsub("{{(%u[%u_]*)}}", function(k) return tostring(assert(vars[k], k)) end)
    local f = assert(io.open(prefix .. "/conf/nginx.conf", "wb"))
    f:write(conf)
    f:close()
    started = execute(q(bin) .. " -p " .. q(prefix .. "/") .. " -c conf/nginx.conf </dev/null >"
      .. q(prefix .. "/logs/start.out") .. " 2>&1")
    if started then break end
    why = (read_file(prefix .. "/logs/start.out") or "") .. (read_file(prefix .. "/logs/error.log") or "")
    if not why:find("Address already in use", 1, true) then break end
  end
  if not started then error("app.lua: nginx failed:\n" .. tostring(why)) end
  state = { prefix = prefix, base = "http://127.0.0.1:" .. port, bin = bin }
  local deadline = system.gettime() + 5
  while system.gettime() < deadline do
    local status = server.http("GET", state.base .. "/ping", nil, nil, 1)
    if status == 200 then return state.base end
    system.sleep(0.05)
  end
  local log = M.error_log()
  M.stop()
  error("app.lua: nginx is not answering:\n" .. log)
end

function M.url(path) return state.base .. path end

function M.pid() return tonumber(read_file(state.prefix .. "/logs/nginx.pid") or "") end

--- Sends a signal through nginx -s (reload, quit, stop).
function M.signal(sig)
  return execute(q(state.bin) .. " -p " .. q(state.prefix .. "/") .. " -c conf/nginx.conf -s " .. sig
    .. " >/dev/null 2>&1")
end

--- Waits until the master process is gone (after quit).
function M.wait_exit(timeout)
  local pid = M.pid()
  local deadline = system.gettime() + (timeout or 10)
  while pid and alive(pid) and system.gettime() < deadline do system.sleep(0.05) end
  return not (pid and alive(pid))
end

function M.error_log()
  return read_file(state.prefix .. "/logs/error.log") or ""
end

function M.stop()
  if not state then return end
  local pid = M.pid()
  if pid and alive(pid) then
    shell.stop_process(pid)
  end
  execute("rm -rf " .. q(state.prefix))
  state = nil
end

return M
