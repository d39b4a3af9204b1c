-- spec/support/stub/control.lua -- Slow sink (no recording)
-- (a stand-in of the loopback test server: spec/support/stub.lua, nginx.conf).

local cjson = require("cjson.safe")
local common = require("stub.common")
local read_body = common.read_body
local send_json = common.send_json
local first = common.first
local requests = common.requests
local bots = common.bots
local behave = common.behave
local platforms = common.platforms

local M = {}

---------------------------------------------------------------------------------------------
-- Slow sink (no recording)
---------------------------------------------------------------------------------------------

-- /sink/slow?delay=<seconds> or /sink/delay/<ms>; any other /sink/... answers at once.
function M.sink()
  ngx.req.discard_body()
  local delay = tonumber(ngx.var.arg_delay) or 0
  local ms = ngx.var.uri:match("^/sink/delay/(%d+)")
  if ms then delay = tonumber(ms) / 1000 end
  if delay > 0 then ngx.sleep(delay) end
  return send_json(200, '{"code":0,"msg":"success"}')
end
---------------------------------------------------------------------------------------------
-- Control endpoints
---------------------------------------------------------------------------------------------

-- Calls fn(seq) for each recorded request whose path starts with prefix (or all), in order.
local function each_recorded(prefix, fn)
  local last = requests:get("seq") or 0
  for i = 1, last do
    local path = requests:get("p:" .. i)
    if path and (prefix == nil or prefix == "" or path:sub(1, #prefix) == prefix) then
      fn(i)
    end
  end
end

-- GET /_requests[?prefix=/path]: JSON array of the recorded requests, in arrival order.
function M.list_requests()
  local prefix = first(ngx.req.get_uri_args().prefix)
  local out = {}
  each_recorded(prefix, function(i)
    local json = requests:get("r:" .. i)
    if json then out[#out + 1] = json end
  end)
  return send_json(200, "[" .. table.concat(out, ",") .. "]")
end

-- GET /_count[?prefix=/path]: {"count":n,"dropped":d} (cheap polling for wait_for).
function M.count_requests()
  local prefix = first(ngx.req.get_uri_args().prefix)
  local n = 0
  each_recorded(prefix, function() n = n + 1 end)
  return send_json(200, cjson.encode({ count = n, dropped = requests:get("dropped") or 0 }))
end

-- POST /_reset: forget recorded requests, bot and platform configurations, forced
-- behaviour and the id counters.
function M.reset()
  ngx.req.discard_body()
  for _, dict in ipairs({ requests, bots, behave, platforms }) do
    dict:flush_all()
    dict:flush_expired(0)
  end
  return send_json(200, '{"ok":true}')
end

-- GET, DELETE, POST/PUT of the opts stored under key in dict: GET answers them ({} when
-- none), DELETE forgets them, POST/PUT stores a JSON object body (check(opts): nil when
-- fine, else why it is refused).
local function stored_opts(dict, key, check)
  local method = ngx.req.get_method()
  if method == "GET" then
    return send_json(200, dict:get(key) or "{}")
  elseif method == "DELETE" then
    dict:delete(key)
    return send_json(200, '{"ok":true}')
  elseif method == "POST" or method == "PUT" then
    local body = read_body()
    local opts = cjson.decode(body)
    if type(opts) ~= "table" then
      return send_json(400, '{"ok":false,"error":"body must be a JSON object"}')
    end
    local bad = check and check(opts)
    if bad then return send_json(400, cjson.encode({ ok = false, error = bad })) end
    local ok, err = dict:safe_set(key, body)
    if not ok then
      return send_json(500, cjson.encode({ ok = false, error = err }))
    end
    return send_json(200, '{"ok":true}')
  end
  return send_json(405, '{"ok":false,"error":"method not allowed"}')
end

-- /_control/bot/<token>:
--   POST (or PUT) with a JSON object body: store the opts of that bot;
--   GET: the stored opts ({} when none); DELETE: forget them.
function M.control_bot()
  return stored_opts(bots, ngx.var.uri:match("^/_control/bot/(.*)$") or "")
end

-- POST /_control/behave with {"prefix": "/path", "opts": {...}}: store forced behaviour for
-- requests whose raw path starts with prefix ("opts" missing or null: forget that prefix).
--   opts: status (number), body (string; "{{echo}}" in it becomes the request's URI,
--   headers and body), headers (object name -> value), delay (seconds),
--   times (positive integer: only the next N matching requests).
-- GET /_control/behave: {"<prefix>": {opts}, ...}.
local function control_behave()
  local method = ngx.req.get_method()
  if method == "GET" then
    local out = {}
    for _, key in ipairs(behave:get_keys(0)) do
      if key:sub(1, 2) == "b:" then
        out[#out + 1] = cjson.encode(key:sub(3)) .. ":" .. behave:get(key)
      end
    end
    return send_json(200, "{" .. table.concat(out, ",") .. "}")
  elseif method ~= "POST" and method ~= "PUT" then
    return send_json(405, '{"ok":false,"error":"method not allowed"}')
  end
  local req = cjson.decode(read_body())
  if type(req) ~= "table" or type(req.prefix) ~= "string" or req.prefix:sub(1, 1) ~= "/" then
    return send_json(400, '{"ok":false,"error":"body must be {\\"prefix\\":\\"/...\\",\\"opts\\":{...}}"}')
  end
  local prefix, opts = req.prefix, req.opts
  if opts == nil or opts == cjson.null then
    behave:delete("b:" .. prefix)
    behave:delete("n:" .. prefix)
    return send_json(200, '{"ok":true}')
  end
  if type(opts) ~= "table" then
    return send_json(400, '{"ok":false,"error":"opts must be an object"}')
  end
  local bad
  if opts.status ~= nil and not tonumber(opts.status) then bad = "status must be a number" end
  if opts.body ~= nil and type(opts.body) ~= "string" then bad = "body must be a string" end
  if opts.delay ~= nil and not tonumber(opts.delay) then bad = "delay must be a number" end
  if opts.headers ~= nil and type(opts.headers) ~= "table" then bad = "headers must be an object" end
  if opts.times ~= nil then
    local t = tonumber(opts.times)
    if not t or t < 1 or t ~= math.floor(t) then bad = "times must be a positive integer" end
  end
  if bad then return send_json(400, cjson.encode({ ok = false, error = bad })) end
  local ok, err = true, nil
  if opts.times ~= nil then
    ok, err = behave:safe_set("n:" .. prefix, tonumber(opts.times))
  else
    behave:delete("n:" .. prefix)
  end
  if ok then ok, err = behave:safe_set("b:" .. prefix, cjson.encode(opts)) end
  if not ok then return send_json(500, cjson.encode({ ok = false, error = err })) end
  return send_json(200, '{"ok":true}')
end

-- /_control/behave (above); /_control/dingtalk/<token>, /_control/signed/<name>:
--   POST (or PUT) with a JSON object body: store the opts; GET: the stored opts ({} when
--   none); DELETE: forget them.
function M.control()
  if ngx.var.uri == "/_control/behave" then return control_behave() end
  local kind, name = ngx.var.uri:match("^/_control/([^/]+)/(.*)$")
  if kind ~= "dingtalk" and kind ~= "signed" then
    return send_json(404, '{"ok":false,"error":"no such control endpoint"}')
  end
  return stored_opts(platforms, kind .. ":" .. name, require("stub." .. kind).check_opts)
end

return M
