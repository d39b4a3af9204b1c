-- spec/support/smtp.lua -- start, read and stop the loopback SMTP server of the e-mail specs.
--
-- Owned by the test harness; used by the specs, never by the library. Plain Lua that runs on
-- lua5.4 and luajit. Needs: cjson, lua-system (sleep/gettime), the openssl CLI (a throw-away
-- CA and server certificate per start) and a python3 with Debian's python3-aiosmtpd (the
-- server itself is spec/support/smtp_server.py).
--
--   local smtp = require("spec.support.smtp")
--   local s = smtp.start({ user = "u", password = "p" })
--   -- s = { host = "127.0.0.1", port = P (plain + STARTTLS), tls_port = Q (implicit TLS),
--   --       ca_file = "/tmp/.../ca.pem", user = "u", password = "p", pid = n, dir = "..." }
--   ... let the code under test send mail ...
--   local msgs = smtp.messages()   -- { { mail_from, rcpt_tos, data, tls, auth_user, ... } }
--   local mail = smtp.parse(msgs[1].data)   -- headers and MIME tree, parsed by Python
--   smtp.clear()
--   smtp.stop()
--
-- The Python is $NOTIFYHUB_PYTHON, else /usr/bin/python3 (Debian's, which sees
-- python3-aiosmtpd; a pyenv "python3" first on PATH does not), else "python3".

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
local my_pid = shell.my_pid
local support_dir = shell.support_dir

local M = {}

-- Running server: { info = <what start returned>, key = <opts fingerprint>, pid, dir, spool }
local state = nil

local python_cache
-- M.python() -> the python3 command that can import aiosmtpd (also good for smtplib clients).
function M.python()
  if python_cache then return python_cache end
  local env = os.getenv("NOTIFYHUB_PYTHON")
  local candidates = {}
  if env and env ~= "" then candidates[1] = env end
  candidates[#candidates + 1] = "/usr/bin/python3"
  candidates[#candidates + 1] = "python3"
  for _, py in ipairs(candidates) do
    if execute(q(py) .. " -c 'import aiosmtpd' >/dev/null 2>&1") then
      python_cache = py
      return py
    end
  end
  error("smtp.lua: no python3 with aiosmtpd (apt-get install python3-aiosmtpd, or set "
    .. "NOTIFYHUB_PYTHON)")
end

-- A throw-away CA and a server certificate for 127.0.0.1 / localhost, signed by it (EC P-256,
-- valid 2 days). Returns ca_file, cert_file, key_file.
local function make_certs(dir)
  write_file(dir .. "/server.ext", table.concat({
    "basicConstraints = critical, CA:FALSE",
    "keyUsage = critical, digitalSignature, keyEncipherment",
    "extendedKeyUsage = serverAuth",
    "subjectAltName = IP:127.0.0.1, DNS:localhost",
    "subjectKeyIdentifier = hash",
    "authorityKeyIdentifier = keyid, issuer",
    "",
  }, "\n"))
  local d = q(dir)
  local cmd = table.concat({
    "cd " .. d,
    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
      .. " -keyout ca.key -out ca.pem -days 2 -subj '/CN=notifyhub test CA'"
      .. " -addext 'basicConstraints=critical,CA:TRUE'"
      .. " -addext 'keyUsage=critical,keyCertSign,cRLSign'",
    "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
      .. " -keyout server.key -out server.csr -subj '/CN=127.0.0.1'",
    "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 0x"
      .. string.format("%08x%08x", math.random(0, 0x7fffffff), math.random(0, 0x7fffffff))
      .. " -days 2 -sha256 -extfile server.ext -out server.pem",
  }, " && ")
  if not execute("(" .. cmd .. ") >" .. q(dir .. "/openssl.log") .. " 2>&1") then
    error("smtp.lua: openssl failed:\n" .. (read_file(dir .. "/openssl.log") or ""))
  end
  return dir .. "/ca.pem", dir .. "/server.pem", dir .. "/server.key"
end

local function shutdown(s)
  if s.pid then
    shell.stop_process(s.pid)
  end
  if s.dir and not os.getenv("NOTIFYHUB_KEEP_SMTP_DIR") then
    execute("rm -rf " .. q(s.dir))
  end
end

local function bool(v, default)
  if v == nil then return default end
  return v and true or false
end

-- M.start([opts]) -> { host = "127.0.0.1", port = P, tls_port = Q, ca_file = path,
--                      user = opts.user, password = opts.password, pid = n, dir = path }
--   opts.user / opts.password: the only credentials AUTH PLAIN / LOGIN accept (without a
--     user, any credentials are accepted);
--   opts.auth_require_tls (default true): on `port`, AUTH only after STARTTLS (538 before);
--     false allows AUTH in plain text. On tls_port AUTH is always allowed.
--   opts.auth_required (default: true when a user is given): MAIL needs AUTH first (530);
--   opts.require_starttls (default false): on `port`, every command but EHLO/HELO/NOOP/QUIT/
--     STARTTLS needs STARTTLS first (530).
-- Waits (at most 5 s) until both ports listen. Idempotent: while a server runs with the same
-- opts, returns its table; other opts restart it (and forget its messages).
function M.start(opts)
  opts = opts or {}
  local cfg = {
    user = opts.user,
    password = opts.password or "",
    auth_require_tls = bool(opts.auth_require_tls, true),
    auth_required = bool(opts.auth_required, opts.user ~= nil),
    require_starttls = bool(opts.require_starttls, false),
  }
  local key = cjson.encode({ cfg.user or cjson.null, cfg.password, cfg.auth_require_tls,
    cfg.auth_required, cfg.require_starttls })
  if state then
    if state.key == key and alive(state.pid) then return state.info end
    M.stop()
  end

  local py = M.python()
  local dir = trim(capture("mktemp -d " .. q((os.getenv("TMPDIR") or "/tmp")
    .. "/notifyhub-smtp.XXXXXX")))
  assert(dir ~= "" and execute("test -d " .. q(dir)), "smtp.lua: mktemp -d failed")
  local spool = dir .. "/spool"
  assert(execute("mkdir -p " .. q(spool)), "smtp.lua: mkdir failed")
  local ok, ca_file, cert, keyfile = pcall(make_certs, dir)
  if not ok then
    execute("rm -rf " .. q(dir))
    error(ca_file, 0)
  end

  local ready = dir .. "/ready.json"
  local args = {
    q(py), q(support_dir() .. "/smtp_server.py"),
    "--host 127.0.0.1",
    "--cert " .. q(cert), "--key " .. q(keyfile),
    "--spool " .. q(spool), "--ready " .. q(ready),
    "--password " .. q(cfg.password),
    "--auth-require-tls " .. (cfg.auth_require_tls and 1 or 0),
    "--auth-required " .. (cfg.auth_required and 1 or 0),
    "--require-starttls " .. (cfg.require_starttls and 1 or 0),
  }
  if cfg.user then args[#args + 1] = "--user " .. q(cfg.user) end
  local parent = my_pid()
  if parent then args[#args + 1] = "--parent-pid " .. parent end
  local log = dir .. "/server.log"
  -- "&" then "echo $!": the pid of python itself (sh execs a simple command directly).
  local pid = tonumber(trim(capture(table.concat(args, " ") .. " </dev/null >" .. q(log)
    .. " 2>&1 & echo $!")))
  if not pid then
    execute("rm -rf " .. q(dir))
    error("smtp.lua: could not start " .. py)
  end

  -- The ready file appears once both sockets listen (a listening socket accepts at once).
  local deadline = system.gettime() + 5
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
  if not info then
    local out = read_file(log) or ""
    shutdown({ pid = pid, dir = dir })
    error("smtp.lua: SMTP server did not start within 5 s:\n" .. out)
  end

  state = {
    key = key, pid = pid, dir = dir, spool = spool,
    info = {
      host = "127.0.0.1",
      port = math.floor(info.port),
      tls_port = math.floor(info.tls_port),
      ca_file = ca_file,
      user = cfg.user,
      password = opts.password,
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

local function null_to_nil(t)
  for k, v in pairs(t) do
    if v == cjson.null then t[k] = nil end
  end
  return t
end

-- M.messages() -> array, in arrival order, of
--   { seq = n, mail_from = "a@x", rcpt_tos = { "b@y", ... }, data = "raw RFC 5322 text",
--     size = bytes, tls = bool, auth_user = "u" or nil, helo = "...", mail_options = {...},
--     rcpt_options = {...}, peer = "127.0.0.1", time = unix seconds (float) }
function M.messages()
  assert(state, "smtp.messages: server not started")
  local names = {}
  for name in capture("ls -1 " .. q(state.spool) .. " 2>/dev/null"):gmatch("[^\n]+") do
    if name:match("^%d+%.json$") then names[#names + 1] = name end
  end
  table.sort(names)
  local list = {}
  for _, name in ipairs(names) do
    local text = read_file(state.spool .. "/" .. name)
    if text then
      local m = null_to_nil(cjson.decode(text))
      m.seq = math.floor(m.seq)
      m.size = math.floor(m.size)
      list[#list + 1] = m
    end
  end
  return list
end

-- M.wait_for(n, [timeout = 5]) -> messages(), reached (boolean)
function M.wait_for(n, timeout)
  local deadline = system.gettime() + (timeout or 5)
  while true do
    local list = M.messages()
    if #list >= n then return list, true end
    if system.gettime() >= deadline then return list, false end
    system.sleep(0.02)
  end
end

-- M.parse(data) -> what spec/support/parse_mail.py (Python's email package) makes of one
--   received message: decoded headers, "mailboxes" of From/To/Cc, "defects", the MIME "tree".
function M.parse(data)
  local tmp = os.tmpname()
  write_file(tmp, data)
  local out = capture(q(M.python()) .. " " .. q(support_dir() .. "/parse_mail.py") .. " < " .. q(tmp))
  os.remove(tmp)
  return cjson.decode(out)
end

-- M.clear(): forget received messages.
function M.clear()
  assert(state, "smtp.clear: server not started")
  execute("rm -f " .. q(state.spool) .. "/*.json")
end

-- M.parse(data) -> what spec/support/parse_mail.py makes of a received message (Python's
-- email package, an independent MIME parser): decoded headers, defects, the MIME tree.
function M.parse(data)
  local tmp = os.tmpname()
  write_file(tmp, data)
  local out = capture(M.python() .. " spec/support/parse_mail.py < " .. q(tmp))
  os.remove(tmp)
  return require("cjson").decode(out)
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
