-- spec/support/stub.lua -- the Lua code of the loopback test server's locations.
--
-- Owned by the test harness. Runs INSIDE nginx (lua-nginx-module on LuaJIT), loaded through the
-- lua_package_path set in spec/support/nginx.conf; spec/support/server.lua is the client side.
--
-- What it does:
--   * records requests (method, raw path, raw query, lowercase headers, raw body, arrival time)
--     into the "requests" shared dict, in arrival order;
--   * plays a Feishu custom bot (/open-apis/bot/v2/hook/<token>): JSON checks, the signature
--     check (HMAC-SHA256 through OpenSSL's libcrypto via FFI), keywords, and forced answers
--     configured per token in the "bots" shared dict;
--   * plays a generic webhook receiver (/webhook/...) driven by query args;
--   * answers /sink/... after an optional delay without recording;
--   * serves the control endpoints (/_requests, /_count, /_reset, /_control/bot/<token>).

local cjson = require("cjson.safe")
local ffi = require("ffi")

local M = {}

local requests = ngx.shared.requests   -- "seq" counter, "r:<n>" JSON record, "p:<n>" path
local bots = ngx.shared.bots           -- token -> JSON opts

-- Feishu's limit on the request body, in bytes.
local FEISHU_MAX_BODY = 20 * 1024

---------------------------------------------------------------------------------------------
-- HMAC-SHA256 through OpenSSL's libcrypto (independent of whatever the client under test uses)
---------------------------------------------------------------------------------------------

pcall(ffi.cdef, [[
typedef struct evp_md_st EVP_MD;
const EVP_MD *EVP_sha256(void);
unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len,
                    const unsigned char *d, size_t n, unsigned char *md,
                    unsigned int *md_len);
]])

-- Find libcrypto: the runtime soname first (libcrypto.so.3 on bookworm; the bare
-- "libcrypto.so" only exists with libssl-dev), then nginx's own process (it links OpenSSL).
local crypto
for _, name in ipairs({ "libcrypto.so.3", "crypto", "libcrypto.so.1.1" }) do
  local ok, lib = pcall(ffi.load, name)
  if ok then crypto = lib break end
end
if not crypto and pcall(function() return ffi.C.HMAC end) then
  crypto = ffi.C
end

local function hmac_sha256(key, msg)
  if not crypto then
    error("stub.lua: libcrypto not found, cannot verify Feishu signatures")
  end
  local md = ffi.new("unsigned char[64]")
  local md_len = ffi.new("unsigned int[1]")
  local out = crypto.HMAC(crypto.EVP_sha256(), key, #key, msg, #msg, md, md_len)
  if out == nil then error("stub.lua: HMAC() failed") end
  return ffi.string(md, md_len[0])
end
M.hmac_sha256 = hmac_sha256

---------------------------------------------------------------------------------------------
-- Recording
---------------------------------------------------------------------------------------------

-- Read the whole request body: from memory, or from the temp file nginx spilled it to.
local function read_body()
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if body == nil then
    local path = ngx.req.get_body_file()
    if path then
      local f = io.open(path, "rb")
      if f then
        body = f:read("*a")
        f:close()
      end
    end
  end
  return body or ""
end

-- Store one request under its own keys; the seq counter keeps arrival order across workers.
local function record(body)
  ngx.update_time()                     -- ngx.now() is cached per event-loop iteration
  local now = ngx.now()

  local headers = {}
  for name, value in pairs(ngx.req.get_headers(0)) do   -- 0: no limit; names lowercased
    if type(value) == "table" then value = table.concat(value, ", ") end
    headers[name] = value
  end

  -- The path as the client sent it (not percent-decoded), without the query string.
  local path = (ngx.var.request_uri or ngx.var.uri):match("^[^?]*")

  local seq = requests:incr("seq", 1, 0)
  local rec = {
    seq = seq,
    method = ngx.req.get_method(),
    path = path,
    args = ngx.var.args or "",
    headers = headers,
    body = body,
    time = now,
  }
  local json = cjson.encode(rec)
  local ok, err = requests:safe_set("r:" .. seq, json)
  if ok then
    ok, err = requests:safe_set("p:" .. seq, path)
  end
  if not ok then
    requests:incr("dropped", 1, 0)
    ngx.log(ngx.ERR, "stub: could not record request ", seq, ": ", err)
  end
end

---------------------------------------------------------------------------------------------
-- Small helpers
---------------------------------------------------------------------------------------------

local function send_json(status, text)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json; charset=utf-8"
  ngx.print(text)
  return ngx.exit(ngx.HTTP_OK)
end

local function first(v)
  if type(v) == "table" then return v[1] end
  return v
end

---------------------------------------------------------------------------------------------
-- Feishu custom bot stand-in
---------------------------------------------------------------------------------------------

local FEISHU_MESSAGES = {
  [9499] = "Bad Request",
  [11232] = "frequency limited",
  [19001] = "param invalid: incoming webhook access token invalid",
  [19002] = "params error, msg_type need",
  [19021] = "sign match fail or timestamp is not within one hour from current time",
  [19022] = "Ip Not Allowed",
  [19024] = "Key Words Not Found",
}

-- The text a keyword must be found in.
--   text: content.text; post: title and the text of every "text"/"a" element of every
--   paragraph of zh_cn and en_us; interactive: every string anywhere in the card.
--   Other types (image, share_chat) have no text, so they never match a keyword.
local function collect_strings(t, out, depth)
  if depth > 20 then return end
  for _, v in pairs(t) do
    if type(v) == "string" then
      out[#out + 1] = v
    elseif type(v) == "table" then
      collect_strings(v, out, depth + 1)
    end
  end
end

local function message_text(msg)
  local parts = {}
  local content = msg.content
  if msg.msg_type == "text" then
    if type(content) == "table" and type(content.text) == "string" then
      parts[#parts + 1] = content.text
    end
  elseif msg.msg_type == "post" then
    local post = type(content) == "table" and content.post
    if type(post) == "table" then
      for _, lang in ipairs({ "zh_cn", "en_us" }) do
        local p = post[lang]
        if type(p) == "table" then
          if type(p.title) == "string" then parts[#parts + 1] = p.title end
          if type(p.content) == "table" then
            for _, paragraph in ipairs(p.content) do
              if type(paragraph) == "table" then
                for _, el in ipairs(paragraph) do
                  if type(el) == "table" and (el.tag == "text" or el.tag == "a")
                      and type(el.text) == "string" then
                    parts[#parts + 1] = el.text
                  end
                end
              end
            end
          end
        end
      end
    end
  elseif msg.msg_type == "interactive" then
    if type(msg.card) == "table" then collect_strings(msg.card, parts, 0) end
  end
  return table.concat(parts, "\n")
end

-- Check a request the way a Feishu bot with these opts would. Returns code, msg.
local function feishu_check(opts, body)
  if #body > (tonumber(opts.max_body) or FEISHU_MAX_BODY) then
    return 9499, FEISHU_MESSAGES[9499]
  end

  local msg = cjson.decode(body)
  if type(msg) ~= "table" or type(msg.msg_type) ~= "string" or msg.msg_type == "" then
    return 19002, FEISHU_MESSAGES[19002]
  end

  if type(opts.secret) == "string" then
    local ts, sign = msg.timestamp, msg.sign
    -- The timestamp is Unix seconds as a string of digits; a number is refused.
    if type(ts) ~= "string" or not ts:match("^%d+$") or type(sign) ~= "string"
        or math.abs(ngx.time() - tonumber(ts)) > 3600
        or sign ~= ngx.encode_base64(hmac_sha256(ts .. "\n" .. opts.secret, "")) then
      return 19021, FEISHU_MESSAGES[19021]
    end
  end

  if type(opts.keywords) == "table" and #opts.keywords > 0 then
    local text = message_text(msg)
    local found = false
    for _, kw in ipairs(opts.keywords) do
      if type(kw) == "string" and text:find(kw, 1, true) then found = true break end
    end
    if not found then return 19024, FEISHU_MESSAGES[19024] end
  end

  return 0, "success"
end

-- POST /open-apis/bot/v2/hook/<token>
function M.feishu()
  local body = read_body()
  record(body)

  local token = ngx.var.uri:match("^/open%-apis/bot/v2/hook/(.*)$") or ""
  -- A token never configured is a healthy bot without secret or keywords.
  local opts = cjson.decode(bots:get(token) or "{}")
  if type(opts) ~= "table" then opts = {} end

  local delay = tonumber(opts.delay)
  if delay and delay > 0 then ngx.sleep(delay) end

  local code, msg
  if opts.code ~= nil then
    -- A forced answer wins over every check (like a rate limit checked first).
    code = tonumber(opts.code) or 0
    msg = opts.msg or FEISHU_MESSAGES[code] or (code == 0 and "success" or "error")
  elseif token == "" then
    code, msg = 19001, FEISHU_MESSAGES[19001]
  else
    code, msg = feishu_check(opts, body)
  end

  local answer
  if opts.legacy then
    answer = '{"StatusCode":' .. code .. ',"StatusMessage":' .. cjson.encode(msg) .. '}'
  elseif code == 0 then
    answer = '{"StatusCode":0,"StatusMessage":' .. cjson.encode(msg)
      .. ',"code":0,"data":{},"msg":' .. cjson.encode(msg) .. '}'
  else
    answer = '{"code":' .. code .. ',"data":{},"msg":' .. cjson.encode(msg) .. '}'
  end
  -- Feishu answers its errors with HTTP 200 too; "status" forces another status.
  return send_json(tonumber(opts.status) or 200, answer)
end

---------------------------------------------------------------------------------------------
-- Generic webhook receiver
---------------------------------------------------------------------------------------------

-- Any method on /webhook or /webhook/...; query args:
--   status=<n>        HTTP status to answer (default 200)
--   delay=<seconds>   sleep before answering (float)
--   body=<text>       answer body (default {"ok":true})
--   ctype=<type>      Content-Type of the answer (default application/json)
--   retry_after=<v>   add a Retry-After header
function M.webhook()
  local body = read_body()
  record(body)

  local args = ngx.req.get_uri_args(0)
  local delay = tonumber(first(args.delay))
  if delay and delay > 0 then ngx.sleep(delay) end

  local status = tonumber(first(args.status)) or 200
  local answer = first(args.body)
  if type(answer) ~= "string" then answer = '{"ok":true}' end
  local retry_after = first(args.retry_after)
  if type(retry_after) == "string" then ngx.header["Retry-After"] = retry_after end

  ngx.status = status
  if status == 204 or status == 304 or (status >= 100 and status < 200) then
    ngx.send_headers()            -- no body for these statuses
    return ngx.exit(ngx.HTTP_OK)
  end
  local ctype = first(args.ctype)
  ngx.header["Content-Type"] = type(ctype) == "string" and ctype or "application/json"
  ngx.print(answer)
  return ngx.exit(ngx.HTTP_OK)
end

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

-- POST /_reset: forget recorded requests and bot configurations.
function M.reset()
  ngx.req.discard_body()
  requests:flush_all()
  requests:flush_expired(0)
  bots:flush_all()
  bots:flush_expired(0)
  return send_json(200, '{"ok":true}')
end

-- /_control/bot/<token>:
--   POST (or PUT) with a JSON object body: store the opts of that bot;
--   GET: the stored opts ({} when none); DELETE: forget them.
function M.control_bot()
  local token = ngx.var.uri:match("^/_control/bot/(.*)$") or ""
  local method = ngx.req.get_method()
  if method == "GET" then
    return send_json(200, bots:get(token) or "{}")
  elseif method == "DELETE" then
    bots:delete(token)
    return send_json(200, '{"ok":true}')
  elseif method == "POST" or method == "PUT" then
    local body = read_body()
    local opts = cjson.decode(body)
    if type(opts) ~= "table" then
      return send_json(400, '{"ok":false,"error":"body must be a JSON object"}')
    end
    local ok, err = bots:safe_set(token, body)
    if not ok then
      return send_json(500, cjson.encode({ ok = false, error = err }))
    end
    return send_json(200, '{"ok":true}')
  end
  return send_json(405, '{"ok":false,"error":"method not allowed"}')
end

return M
