-- spec/support/redis_spool.lua: what the Redis spool specs (issue 15) expect of the API, in
-- one place (codes, the config and inspector calls, the bad URLs and what their errors must
-- name), and the client process they run many of. When the store settles a name or a code,
-- change it here, not in the specs.
local notifyhub = require("notifyhub")
local system = require("system")

local M = {}

-- A config the store refuses: notifyhub.new raises, or returns nil, err, CONFIG_CODE.
M.CONFIG_CODE = "INVALID_CONFIG"
-- Redis down, unreachable or not answering: send_async (or notifyhub.new, or an inspector
-- call) answers nil, err, one of these codes.
M.DOWN = { SPOOL_BUSY = true, SPOOL_UNREACHABLE = true }
-- Redis out of memory (maxmemory with noeviction): nothing recorded, this code.
M.FULL = "SPOOL_FULL"
-- A wrong or missing password: one of these.
M.AUTH = { INVALID_CONFIG = true, SPOOL_BUSY = true, SPOOL_UNREACHABLE = true }
-- close() gave a message back to the spool.
M.HANDED_OVER = "HANDED_OVER"
-- What an error about Redis names: its host and port (a user may show, a password never).
function M.names(public) return public:match("^redis://([^/]+)") end

-- The lease of every spec: a process that dies loses what it held after this many seconds.
M.LEASE = 2

-- Malformed URLs and what the error must say (any one of the patterns, case-insensitive):
-- the part that is wrong. "PORT" stands for a free port of the spec's server. Every case is
-- also tried with a user and password in it, which must not show.
M.BAD_URLS = {
  { "redis://", { "host" } },
  { "redis://:PORT/0", { "host" } },
  { "redis://127.0.0.1:0/0", { "port" } },
  { "redis://127.0.0.1:70000/0", { "port" } },
  { "redis://127.0.0.1:2147483648/0", { "port" } },
  { "redis://127.0.0.1:x/0", { "port" } },
  { "redis://127.0.0.1:-1/0", { "port" } },
  { "redis://127.0.0.1:PORT/-1", { "db" } },
  { "redis://127.0.0.1:PORT/nan", { "db" } },
  { "redis://127.0.0.1:PORT/1e300", { "db" } },
  { "redis://127.0.0.1:PORT/99999999999999999999", { "db" } },
  { "redis://127.0.0.1:PORT/0x", { "db" } },
  { "rediss://127.0.0.1:PORT/0", { "tls" } },
  { "http://127.0.0.1:PORT/0", { "redis://", "scheme" } },
  { "127.0.0.1:PORT", { "redis://", "scheme" } },
  { "redis://127.0.0.1:PORT/0\n", { "spool.redis", "control", "invalid" } },
}

--- A fresh key prefix: specs on one Redis never see each other's keys.
function M.prefix(tag)
  return ("t%s%06x%04x"):format(tag or "", math.random(0, 0xffffff), math.floor(system.gettime() * 1000) % 0xffff)
end

--- The spool section for url and prefix (lease LEASE), extra keys merged in.
function M.spool(url, prefix, extra)
  local s = { redis = url, prefix = prefix, lease = M.LEASE }
  for k, v in pairs(extra or {}) do s[k] = v end
  return s
end

--- The same as Lua source, for a child process's or nginx's config.
function M.spool_source(url, prefix, extra)
  local s, parts = M.spool(url, prefix, extra), {}
  for k, v in pairs(s) do
    parts[#parts + 1] = ("%s = %s"):format(k, type(v) == "string" and ("%q"):format(v) or ("%.17g"):format(v))
  end
  table.sort(parts)
  return "{ " .. table.concat(parts, ", ") .. " }"
end

--- The inspector of the queue at url / prefix: nil, err, code when it fails.
function M.open(url, prefix)
  return require("notifyhub.spool").open({ redis = url, prefix = prefix })
end

--- Polls the inspector until nothing is queued or taken; true and the stats, or false and
-- the last stats (or the error) at the deadline.
function M.drained(url, prefix, timeout)
  local deadline = system.gettime() + timeout
  local last
  repeat
    local sp, err = M.open(url, prefix)
    if sp then
      last, err = sp:stats()
      sp:close()
      if last and last.queued == 0 and last.taken == 0 then return true, last end
    end
    last = last or err
    system.sleep(0.1)
  until system.gettime() > deadline
  return false, last
end

--- What notifyhub.new(config) does with a config the store must refuse: "raised", message;
-- "returned", err, code; or "accepted" (the client is closed at once).
function M.refusal(config)
  local ok, c, err, code = pcall(notifyhub.new, config)
  if not ok then return "raised", tostring(c) end
  if c == nil then return "returned", tostring(err), code end
  c:close(0)
  return "accepted", ""
end

--- The first place in v (strings, numbers, nested tables, keys included, tostring of
-- userdata) where secret shows, or nil.
function M.leak(v, secret, path, seen)
  path, seen = path or "value", seen or {}
  local t = type(v)
  if t == "table" then
    if seen[v] then return nil end
    seen[v] = true
    for k, x in pairs(v) do
      local where = M.leak(k, secret, path .. "[key]", seen)
        or M.leak(x, secret, path .. "." .. tostring(k), seen)
      if where then return where end
    end
    return nil
  end
  if t == "string" or t == "number" or t == "userdata" then
    if tostring(v):find(secret, 1, true) then return path end
  end
  return nil
end

--- Lua source of a client process: opens notifyhub.new(<config source>) (prints
-- "OPEN ok", or "OPEN <code> <err>" and exits 3), sends `n` messages with ids
-- "<ids>-00001"... (prints "A <id>" for each accepted, "E <id> <code> <err>" for each
-- refused; `pace` seconds between sends), prints "SENT", then polls until the file `stop`
-- exists or `lifetime` seconds passed and prints "CLOSE <close(close_timeout)'s count>".
function M.client_code(o)
  return ([[
local notifyhub = require("notifyhub")
local system = require("system")
local function exists(p) local f = io.open(p) if f then f:close() end return f ~= nil end
local deadline = system.gettime() + %s
local c, err, code = notifyhub.new(%s)
if not c then print("OPEN " .. tostring(code) .. " " .. tostring(err)) os.exit(3) end
print("OPEN ok")
for i = 1, %d do
  local id = ("%s-%%05d"):format(i)
  local h, e, ecode = c:send_async({ id = id, body = id })
  if h then print("A " .. id) else print("E " .. id .. " " .. tostring(ecode) .. " " .. tostring(e)) end
  if %s > 0 then system.sleep(%s) end
  c:poll()
end
print("SENT")
while not exists(%q) and system.gettime() < deadline do c:poll() system.sleep(0.05) end
print("CLOSE " .. tostring(c:close(%s)))
]]):format(o.lifetime or 120, o.config, o.n or 0, o.ids or "m", o.pace or 0, o.pace or 0,
    o.stop or "/nonexistent", o.close_timeout or 5)
end

--- From a client process's lines: the accepted ids (array), the refusals (array of lines).
function M.accepted(lines)
  local ids, refused = {}, {}
  for _, line in ipairs(lines) do
    local id = line:match("^A (%S+)$")
    if id then ids[#ids + 1] = id end
    if line:match("^E ") or line:match("^OPEN %u") then refused[#refused + 1] = line end
  end
  return ids, refused
end

--- Ids by how often they reached a stand-in (its requests: server.requests(path)), by
-- their webhook-id (a signed webhook) or else an "id:ID" body, with each one's first arrival.
function M.arrivals(requests)
  local count, first = {}, {}
  for _, r in ipairs(requests) do
    local id = r.headers["webhook-id"] or r.body:match("id:([%w%-]+)")
    if id then
      count[id] = (count[id] or 0) + 1
      first[id] = first[id] or r.time
    end
  end
  return count, first
end

return M
