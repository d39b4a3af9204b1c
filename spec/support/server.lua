-- spec/support/server.lua -- start, drive and stop the loopback test server (nginx + Lua).
--
-- Owned by the test harness; used by the busted specs and the benchmarks, never by the library.
-- Plain Lua that runs on both lua5.4 and luajit. Needs: cjson, lua-system (sleep/gettime),
-- the nginx binary with the lua module, and the curl CLI (the HTTP client of this module, so
-- the harness does not depend on notifyhub or luasocket).
--
--   local server = require("spec.support.server")   -- or package.path + require("server")
--   local base = server.start()                        -- "http://127.0.0.1:PORT"
--   server.bot("tok", { secret = "s3cret", keywords = { "alert" } })
--   ... let the code under test POST to server.url("/open-apis/bot/v2/hook/tok") ...
--   local reqs = server.wait_for(1, "/open-apis/bot/v2/hook/tok", 2)
--   server.behave("/services/", { status = 429, headers = { ["Retry-After"] = "1" }, times = 1 })
--   server.dingtalk("tok", { secret = "SEC..." }); server.signed("name", { secret = "whsec_..." })
--   server.stop()
--
-- Platform stand-ins (Slack, DingTalk, WeCom, Discord, Telegram, Teams Workflows, Standard
-- Webhooks) are listed in nginx.conf and documented in stub/<name>.lua; e-mail is spec/support/smtp.lua.
--
-- The server itself: spec/support/nginx.conf (template) and spec/support/stub.lua (locations).

local cjson = require("cjson")
local system = require("system")
local shell = require("spec.support.shell")
local q = shell.q
local execute = shell.execute
local capture = shell.capture
local read_file = shell.read_file
local write_file = shell.write_file
local trim = shell.trim
local alive = shell.alive

local M = {}

-- Running server of this process, or nil:
--   { base, port, prefix, pid, workers, bin }
local state = nil

---------------------------------------------------------------------------------------------
-- Small OS helpers (no dependency beyond os/io)
---------------------------------------------------------------------------------------------

-- Last n lines of a file (for error messages).
local function tail(path, n)
  local s = read_file(path)
  if not s or s == "" then return "(empty or missing: " .. path .. ")" end
  local lines = {}
  for line in s:gmatch("[^\n]+") do lines[#lines + 1] = line end
  local from = math.max(1, #lines - (n or 20) + 1)
  return table.concat(lines, "\n", from)
end


-- Does something already accept connections on 127.0.0.1:port? (curl exit 7: refused.)
-- Checked before starting nginx, because nginx retries a bind() that fails with "Address
-- already in use" 5 times, 500 ms apart: 2.5 s lost per busy port.
local function port_busy(port)
  local rc = trim(capture("curl -s -o /dev/null -m 1 http://127.0.0.1:" .. port
    .. "/ </dev/null >/dev/null 2>&1; echo $?"))
  return rc ~= "7"
end

local function is_root()
  return trim(capture("id -u 2>/dev/null")) == "0"
end

-- The nginx binary: $NOTIFYHUB_NGINX, else "nginx" on PATH, else /usr/sbin/nginx.
local function nginx_bin()
  local env = os.getenv("NOTIFYHUB_NGINX")
  if env and env ~= "" then return env end
  local found = trim(capture("command -v nginx 2>/dev/null"))
  if found ~= "" then return found end
  if execute("test -x /usr/sbin/nginx") then return "/usr/sbin/nginx" end
  error("server.lua: nginx not found (set NOTIFYHUB_NGINX or install nginx)")
end

-- load_module lines: NDK first when present (Debian builds the lua module against it).
local function load_module_lines()
  local dir = os.getenv("NOTIFYHUB_NGINX_MODULES") or "/usr/lib/nginx/modules"
  local lines = {}
  if execute("test -f " .. q(dir .. "/ndk_http_module.so")) then
    lines[#lines + 1] = "load_module " .. dir .. "/ndk_http_module.so;"
  end
  lines[#lines + 1] = "load_module " .. dir .. "/ngx_http_lua_module.so;"
  return table.concat(lines, "\n")
end

---------------------------------------------------------------------------------------------
-- HTTP through the curl CLI
---------------------------------------------------------------------------------------------

-- M.http(method, url_or_path, body, headers, timeout) -> status, body, resp_headers
--   url_or_path: a full URL, or a path joined to the running server's base URL.
--   body: string or nil; headers: { ["Name"] = "value" } or nil; timeout: seconds (10).
--   status is a number (0 when no HTTP answer came: refused, timed out); resp_headers maps
--   lowercase names to values (the last one wins).
function M.http(method, url, body, headers, timeout)
  if url:sub(1, 1) == "/" then
    assert(state, "server.http: server not started")
    url = state.base .. url
  end
  local tmp = os.tmpname()
  local parts = {
    "curl -s -g -o " .. q(tmp .. ".body") .. " -D " .. q(tmp .. ".hdr"),
    "-w '%{http_code}'",
    "-m " .. tostring(timeout or 10),
    "-X " .. q(method or "GET"),
    "-H 'Expect:'",
  }
  for name, value in pairs(headers or {}) do
    parts[#parts + 1] = "-H " .. q(name .. ": " .. value)
  end
  if body then
    write_file(tmp, body)
    parts[#parts + 1] = "--data-binary @" .. q(tmp)
  end
  parts[#parts + 1] = q(url) .. " </dev/null 2>/dev/null"
  local status = tonumber(capture(table.concat(parts, " "))) or 0
  local resp = read_file(tmp .. ".body") or ""
  local resp_headers = {}
  for line in (read_file(tmp .. ".hdr") or ""):gmatch("[^\r\n]+") do
    local name, value = line:match("^([^:%s]+):%s*(.-)%s*$")
    if name then resp_headers[name:lower()] = value end
  end
  os.remove(tmp)
  os.remove(tmp .. ".body")
  os.remove(tmp .. ".hdr")
  return status, resp, resp_headers
end

---------------------------------------------------------------------------------------------
-- Start / stop
---------------------------------------------------------------------------------------------

local function render(template, vars)
  return (template:gsub("{{([%w_]+)}}", function(name)
    local v = vars[name]
    if v == nil then error("server.lua: unknown placeholder {{" .. name .. "}} in nginx.conf") end
    return tostring(v)
  end))
end

-- Poll /_ping until it answers "pong" (true), nginx dies or the deadline passes (false, why).
local function wait_ready(prefix, base, deadline)
  local pid
  while system.gettime() < deadline do
    pid = pid or tonumber(read_file(prefix .. "/logs/nginx.pid") or "")
    if pid and not alive(pid) then return false, "nginx exited", pid end
    if pid then
      local status, body = M.http("GET", base .. "/_ping", nil, nil, 1)
      if status == 200 and body == "pong" then return true, nil, pid end
    end
    system.sleep(0.02)
  end
  return false, "no answer on /_ping within 5 s", pid
end

-- Kill a server's processes (master then, if it lingers, its workers too) and remove its dir.
local function shutdown(s)
  local pid = s.pid or tonumber(read_file(s.prefix .. "/logs/nginx.pid") or "")
  if pid then
    shell.stop_process(pid)     -- TERM: nginx's fast shutdown, no wait for sleeping requests
  end
  if not os.getenv("NOTIFYHUB_KEEP_NGINX_DIR") then
    execute("rm -rf " .. q(s.prefix))
  end
end

-- M.start([opts]) -> base URL "http://127.0.0.1:PORT"
--   opts.workers: worker_processes (default 1); opts.port: first port to try.
--   Idempotent: while a server runs, returns its URL (restarts it if workers differ).
function M.start(opts)
  opts = opts or {}
  local workers = tonumber(opts.workers) or 1
  if state then
    if state.workers == workers then return state.base end
    M.stop()
  end

  local bin = nginx_bin()
  local support = shell.support_dir()
  local template = read_file(support .. "/nginx.conf")
    or error("server.lua: cannot read " .. support .. "/nginx.conf")

  local prefix = trim(capture("mktemp -d " .. q((os.getenv("TMPDIR") or "/tmp")
    .. "/notifyhub-nginx.XXXXXX")))
  assert(prefix ~= "" and execute("test -d " .. q(prefix)), "server.lua: mktemp -d failed")
  assert(execute("mkdir -p " .. q(prefix .. "/conf") .. " " .. q(prefix .. "/logs") .. " "
    .. q(prefix .. "/tmp")), "server.lua: mkdir failed")

  local root = is_root()
  local first_port = tonumber(opts.port) or (20000 + (shell.my_pid() or math.random(0, 19999)) % 20000)

  -- One try on one port: returns base, pid on success; nil, output of nginx on failure.
  local function try_port(port)
    write_file(prefix .. "/conf/nginx.conf", render(template, {
      LOAD_MODULES = load_module_lines(),
      -- As root, nginx would run its workers as "nobody", who cannot enter the mktemp dir
      -- (mode 700) nor read the repo; "user root;" keeps them as root. Not root: leave it out
      -- (nginx would only warn and ignore it).
      USER = root and "user root;" or "",
      WORKERS = workers,
      PREFIX = prefix,
      PORT = port,
      SUPPORT = support,
    }))
    os.remove(prefix .. "/logs/error.log")
    -- nginx binds, then daemonizes; this command returns once the daemon has forked.
    -- Its output goes to a file: a pipe would stay open in the daemon.
    local out_file = prefix .. "/logs/start.out"
    local ok = execute(q(bin) .. " -p " .. q(prefix .. "/") .. " -c conf/nginx.conf"
      .. " </dev/null >" .. q(out_file) .. " 2>&1")
    if not ok then
      local out = (read_file(out_file) or "") .. (read_file(prefix .. "/logs/error.log") or "")
      if out == "" then out = "(" .. bin .. " failed without a word)" end
      return nil, out
    end
    local base = "http://127.0.0.1:" .. port
    local ready, why, pid = wait_ready(prefix, base, system.gettime() + 5)
    if not ready then
      local log = tail(prefix .. "/logs/error.log", 30)
      shutdown({ prefix = prefix, pid = pid })
      error("server.lua: nginx started but is not answering (" .. why .. "); error.log:\n"
        .. log)
    end
    return base, pid
  end

  local last_error
  for attempt = 0, 19 do
    local port = first_port + attempt
    if port > 65535 then port = port - 45535 end
    if port_busy(port) then
      last_error = "port " .. port .. " busy"
    else
      local base, pid = try_port(port)
      if base then
        state = { base = base, port = port, prefix = prefix, pid = pid, workers = workers,
                  bin = bin }
        return base
      end
      last_error = pid
      if not last_error:find("Address already in use", 1, true) then break end
    end
  end
  execute("rm -rf " .. q(prefix))
  error("server.lua: nginx failed to start:\n" .. tostring(last_error))
end

-- M.stop(): stop the server (if any) and wait until its processes are gone; idempotent.
function M.stop()
  if not state then return end
  local s = state
  state = nil
  shutdown(s)
end

-- M.base() -> base URL of the running server, or nil. M.port() / M.prefix() likewise.
function M.base() return state and state.base end
function M.port() return state and state.port end
function M.prefix() return state and state.prefix end

-- M.error_log([n]) -> the last n (30) lines of nginx's error log (for debugging failures).
function M.error_log(n)
  assert(state, "server.error_log: server not started")
  return tail(state.prefix .. "/logs/error.log", n or 30)
end

shell.stop_at_exit(M)   -- also when the Lua state closes

---------------------------------------------------------------------------------------------
-- Driving the server
---------------------------------------------------------------------------------------------

-- M.url(path) -> base .. path
function M.url(path)
  assert(state, "server.url: server not started")
  return state.base .. (path or "")
end

local function control(method, path, body)
  local status, resp = M.http(method, path, body, body and { ["Content-Type"] = "application/json" })
  if status ~= 200 then
    error("server.lua: " .. method .. " " .. path .. " answered " .. status .. ": " .. resp)
  end
  return resp
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~/]", function(c) return string.format("%%%02X", c:byte()) end))
end

local function prefix_query(path_prefix)
  if path_prefix == nil or path_prefix == "" then return "" end
  return "?prefix=" .. urlencode(path_prefix)
end

-- M.requests([path_prefix]) -> array, in arrival order, of
--   { seq = n, method = "POST", path = "/raw/path", args = "raw=query" or "",
--     headers = { ["lowercase-name"] = "value" (repeats joined with ", ") },
--     body = "raw body", time = <ngx.now() at arrival, float seconds> }
function M.requests(path_prefix)
  local list = cjson.decode(control("GET", "/_requests" .. prefix_query(path_prefix)))
  for _, r in ipairs(list) do r.seq = math.floor(r.seq) end   -- integer on 5.4 too
  return list
end

-- M.count([path_prefix]) -> number of recorded requests (cheap), dropped count
function M.count(path_prefix)
  local r = cjson.decode(control("GET", "/_count" .. prefix_query(path_prefix)))
  return math.floor(r.count), math.floor(r.dropped)
end

-- M.clear(): forget recorded requests, bot / DingTalk / signed configurations, forced
-- behaviours (M.behave) and the ids the stand-ins hand out.
function M.clear()
  control("POST", "/_reset", "")
end

-- M.bot(token, [opts]): configure the Feishu stand-in at /open-apis/bot/v2/hook/<token>.
--   opts: secret (string), keywords (array of strings), code/msg (forced answer), delay
--   (seconds), status (HTTP status), legacy (true: StatusCode/StatusMessage only),
--   max_body (bytes, default 20480). Replaces any earlier opts of that token.
--   Returns the hook URL.
function M.bot(token, opts)
  local body = cjson.encode(opts or {})
  if body == "[]" then body = "{}" end
  control("POST", "/_control/bot/" .. urlencode(token), body)
  return M.url("/open-apis/bot/v2/hook/" .. token)
end

-- M.behave(path_prefix, opts): force how every recording stand-in (Feishu, /webhook, and the
-- platform stand-ins) answers requests whose raw path starts with path_prefix; the longest
-- matching prefix wins. A prefix holding "?" is matched against the raw "path?query" (e.g.
-- "/robot/send?access_token=t1" for one DingTalk robot). The request is recorded either way.
--   opts.status   HTTP status of the forced answer (default 200 when body is set)
--   opts.body     body of the forced answer (string; default ""); "{{echo}}" in it becomes
--                 the request's raw URI, headers and body (escaped for a JSON string)
--   opts.headers  extra answer headers, e.g. { ["Retry-After"] = "2" }
--   opts.delay    seconds to sleep first
--   opts.times    only for the next N matching requests, then back to normal
-- With status or body, that answer is sent instead of the stand-in's own (Content-Type:
-- JSON when the body starts with { or [, else text/plain, unless headers set one); with only
-- delay/headers, the stand-in answers normally after the delay, with the extra headers.
-- opts = nil forgets the prefix; M.clear() forgets all. Returns nothing.
function M.behave(path_prefix, opts)
  assert(type(path_prefix) == "string" and path_prefix:sub(1, 1) == "/",
    "server.behave: path_prefix must start with /")
  local req = { prefix = path_prefix }
  if opts ~= nil then
    assert(type(opts) == "table", "server.behave: opts must be a table or nil")
    req.opts = opts
    if next(opts) == nil then req.opts = { delay = 0 } end   -- {} must stay an object
  end
  control("POST", "/_control/behave", cjson.encode(req))
end

local function platform_config(kind, name, opts)
  local body = cjson.encode(opts or {})
  if body == "[]" then body = "{}" end
  control("POST", "/_control/" .. kind .. "/" .. urlencode(name), body)
end

local function query_encode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

-- M.dingtalk(token, [opts]): configure the DingTalk stand-in for access_token=<token>.
--   opts: secret ("SEC..."; then timestamp + sign are required), keywords (array of strings,
--   searched in text.content / markdown.text / actionCard.text), errcode/errmsg (forced
--   answer, e.g. 130101 "send too fast"), delay (seconds). A token never configured is a
--   healthy robot; the token "invalid" answers 300001. Replaces earlier opts of that token.
--   Returns the robot URL base .. "/robot/send?access_token=<token>".
function M.dingtalk(token, opts)
  platform_config("dingtalk", token, opts)
  return M.url("/robot/send?access_token=" .. query_encode(token))
end

-- M.signed(name, opts): make /signed/<name> a Standard Webhooks receiver that verifies.
--   opts.secret: "whsec_<base64 of the key>" (or an array of them: any one may match);
--   opts.tolerance: seconds the webhook-timestamp may be off (default 300).
--   A name never configured accepts anything with 204. Returns base .. "/signed/<name>".
function M.signed(name, opts)
  platform_config("signed", name, opts)
  return M.url("/signed/" .. name)
end

-- M.wait_for(n, [path_prefix], [timeout = 5]) -> requests(path_prefix), reached (boolean)
--   Polls until at least n requests under path_prefix are recorded or timeout seconds pass;
--   returns the list either way.
function M.wait_for(n, path_prefix, timeout)
  local deadline = system.gettime() + (timeout or 5)
  while true do
    local count = M.count(path_prefix)
    if count >= n then return M.requests(path_prefix), true end
    if system.gettime() >= deadline then return M.requests(path_prefix), false end
    system.sleep(0.02)
  end
end

return M
