-- spec/support/stub/common.lua -- what the stand-ins of spec/support/stub/ share: the
-- shared dicts, HMAC-SHA256, recording, forced behaviour (server.behave) and small answer
-- helpers. Runs inside nginx; spec/support/stub.lua puts the stand-ins together.

local cjson = require("cjson.safe")
local ffi = require("ffi")

local M = {}

local requests = ngx.shared.requests   -- "seq" counter, "r:<n>" JSON record, "p:<n>" path
local bots = ngx.shared.bots           -- token -> JSON opts
local behave = ngx.shared.behave       -- "b:<prefix>" JSON opts, "n:<prefix>" requests left
local platforms = ngx.shared.platforms -- "dingtalk:<token>" / "signed:<name>" JSON opts,
                                       -- "counter:<name>" ids handed out

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

-- A JSON string literal without cjson's "\/" escaping of slashes (the real services send
-- URLs in their messages with plain slashes). cjson never emits a bare "/", so every "\/" is
-- an escaped slash.
local function jstr(s)
  return (cjson.encode(s):gsub("\\/", "/"))
end

local function first(v)
  if type(v) == "table" then return v[1] end
  return v
end

---------------------------------------------------------------------------------------------
-- Forced behaviour per path prefix (server.behave)
---------------------------------------------------------------------------------------------

-- The forced behaviour for this request, or nil. Candidates are the stored prefixes that the
-- raw path starts with (a prefix holding "?" is matched against the raw "path?query"); the
-- longest wins. A prefix stored with "times" applies to that many requests only (counted
-- atomically across workers); once used up it is skipped, so a shorter prefix (or the normal
-- answer) applies again.
local function find_behaviour()
  local keys = behave:get_keys(0)
  if #keys == 0 then return nil end
  local uri = ngx.var.request_uri or ngx.var.uri
  local path = uri:match("^[^?]*")
  local matches = {}
  for _, key in ipairs(keys) do
    if key:sub(1, 2) == "b:" then
      local prefix = key:sub(3)
      local subject = prefix:find("?", 1, true) and uri or path
      if subject:sub(1, #prefix) == prefix then matches[#matches + 1] = prefix end
    end
  end
  table.sort(matches, function(a, b)
    if #a ~= #b then return #a > #b end
    return a < b
  end)
  for _, prefix in ipairs(matches) do
    local opts = cjson.decode(behave:get("b:" .. prefix) or "")
    if type(opts) == "table" then
      if opts.times == nil then return opts end
      local left = behave:incr("n:" .. prefix, -1)
      if left and left >= 0 then return opts end
    end
  end
  return nil
end

local function has_header(tbl, name)
  name = name:lower()
  for k in pairs(tbl) do
    if type(k) == "string" and k:lower() == name then return true end
  end
  return false
end

-- A forced body's "{{echo}}" becomes what the request carried: the raw URI, every header
-- and the body, escaped for a JSON string (services that echo the request do this).
local function echo_into(body)
  local parts = { ngx.var.request_uri or "" }
  for name, value in pairs(ngx.req.get_headers(0)) do
    parts[#parts + 1] = name .. ": " .. (type(value) == "table" and table.concat(value, ", ") or value)
  end
  parts[#parts + 1] = ngx.req.get_body_data() or ""
  local text = cjson.encode(table.concat(parts, " | ")):sub(2, -2)
  return (body:gsub("{{echo}}", function() return text end))
end

-- Apply the forced behaviour of this request, if any: sleep "delay" seconds, add "headers";
-- then, when "status" or "body" is set, send that answer and end the request here (status
-- defaults to 200, body to ""; Content-Type defaults to JSON when the body starts with { or
-- [, text/plain otherwise, unless "headers" sets one). With only delay/headers, the stand-in
-- goes on with its normal answer (the headers stay on it).
local function apply_behaviour()
  local opts = find_behaviour()
  if not opts then return end
  local delay = tonumber(opts.delay)
  if delay and delay > 0 then ngx.sleep(delay) end
  local headers = type(opts.headers) == "table" and opts.headers or {}
  for name, value in pairs(headers) do
    if type(name) == "string" then
      ngx.header[name] = type(value) == "table" and value or tostring(value)
    end
  end
  if opts.status == nil and opts.body == nil then return end
  local status = tonumber(opts.status) or 200
  local body = type(opts.body) == "string" and opts.body or ""
  if body:find("{{echo}}", 1, true) then body = echo_into(body) end
  ngx.status = status
  if status == 204 or status == 304 or status < 200 then
    ngx.send_headers()
    return ngx.exit(ngx.HTTP_OK)
  end
  if not has_header(headers, "content-type") then
    ngx.header["Content-Type"] = body:match("^%s*[%[{]") and "application/json; charset=utf-8"
      or "text/plain; charset=utf-8"
  end
  ngx.print(body)
  return ngx.exit(ngx.HTTP_OK)
end

-- Common start of every platform stand-in: read and record the body, then forced behaviour.
local function begin()
  local body = read_body()
  record(body)
  apply_behaviour()
  return body
end

---------------------------------------------------------------------------------------------
-- Platform stand-ins: shared helpers
---------------------------------------------------------------------------------------------

-- The raw query string split into name -> raw (still percent-encoded) value; the first
-- occurrence of a name wins. Decoding is left to the caller, so it can decode exactly once.
local function raw_query()
  local out = {}
  for pair in (ngx.var.args or ""):gmatch("[^&]+") do
    local name, value = pair:match("^([^=]*)=?(.*)$")
    name = ngx.unescape_uri(name)
    if out[name] == nil then out[name] = value end
  end
  return out
end

-- One form-style decoding (%XX, and "+" as a space, like Java's and nginx's decoders).
local function unescape(v)
  if v == nil then return nil end
  return ngx.unescape_uri(v)
end

-- Stored JSON opts of a platform config ("dingtalk:<token>", "signed:<name>"), or nil.
local function platform_opts(key)
  local json = platforms:get(key)
  if not json then return nil end
  local opts = cjson.decode(json)
  return type(opts) == "table" and opts or nil
end

-- Next value of a counter that survives across requests and workers (reset by /_reset).
local function next_id(name)
  return platforms:incr("counter:" .. name, 1, 0)
end

local function send_text(status, text, ctype)
  ngx.status = status
  ngx.header["Content-Type"] = ctype or "text/plain; charset=utf-8"
  ngx.print(text)
  return ngx.exit(ngx.HTTP_OK)
end

local function send_empty(status)
  ngx.status = status
  ngx.header["Content-Length"] = "0"
  ngx.send_headers()
  return ngx.exit(ngx.HTTP_OK)
end

-- Number of UTF-8 characters (code points) of s: bytes that are not continuation bytes.
local function utf8_len(s)
  local n = 0
  for i = 1, #s do
    local b = s:byte(i)
    if b < 0x80 or b >= 0xC0 then n = n + 1 end
  end
  return n
end

local function header(name)
  return first(ngx.req.get_headers(0)[name])
end

local function is_json_ctype()
  local ct = header("content-type")
  return type(ct) == "string" and ct:lower():find("json", 1, true) ~= nil
end

-- An integral number as a JSON integer (cjson prints 14 significant digits only); anything
-- else through cjson.
local function json_value(v)
  if type(v) == "number" and v == math.floor(v) and math.abs(v) < 2 ^ 53 then
    return string.format("%.0f", v)
  end
  return cjson.encode(v)
end

-- A bot's keyword rule (Feishu, DingTalk): true when keywords is not a non-empty list or
-- text holds one of them.
local function has_keyword(text, keywords)
  if type(keywords) ~= "table" or #keywords == 0 then return true end
  for _, kw in ipairs(keywords) do
    if type(kw) == "string" and text:find(kw, 1, true) then return true end
  end
  return false
end

-- what the stand-ins use
M.requests, M.bots, M.behave, M.platforms = requests, bots, behave, platforms
M.read_body = read_body
M.record = record
M.send_json = send_json
M.jstr = jstr
M.first = first
M.find_behaviour = find_behaviour
M.has_header = has_header
M.echo_into = echo_into
M.apply_behaviour = apply_behaviour
M.begin = begin
M.raw_query = raw_query
M.unescape = unescape
M.platform_opts = platform_opts
M.next_id = next_id
M.send_text = send_text
M.send_empty = send_empty
M.utf8_len = utf8_len
M.header = header
M.is_json_ctype = is_json_ctype
M.json_value = json_value
M.has_keyword = has_keyword

return M
