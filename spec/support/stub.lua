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
--   * plays Slack, DingTalk, WeCom, Discord, Telegram, Teams (Workflows) and a Standard Webhooks
--     receiver (see "Platform stand-ins" below; configs in the "platforms" shared dict);
--   * applies forced behaviour set per path prefix (server.behave, "behave" shared dict) in
--     every recording stand-in, before its own checks;
--   * answers /sink/... after an optional delay without recording;
--   * serves the control endpoints (/_requests, /_count, /_reset, /_control/bot/<token>,
--     /_control/dingtalk/<token>, /_control/signed/<name>, /_control/behave).

local cjson = require("cjson.safe")
local ffi = require("ffi")

local M = {}

local requests = ngx.shared.requests   -- "seq" counter, "r:<n>" JSON record, "p:<n>" path
local bots = ngx.shared.bots           -- token -> JSON opts
local behave = ngx.shared.behave       -- "b:<prefix>" JSON opts, "n:<prefix>" requests left
local platforms = ngx.shared.platforms -- "dingtalk:<token>" / "signed:<name>" JSON opts,
                                       -- "counter:<name>" ids handed out

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
  local body = begin()

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
  begin()

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

---------------------------------------------------------------------------------------------
-- Slack incoming webhook: POST /services/<T>/<B>/<token>
---------------------------------------------------------------------------------------------

local SLACK_MAX_BLOCKS = 50

-- Answers are plain text: 200 "ok", or a 4xx with the error name (Slack's own format).
function M.slack()
  local body = begin()
  local token = ngx.var.uri:match("^/services/[^/]+/[^/]+/([^/]+)/?$")
  if not token then return send_text(404, "no_service") end
  if token == "gone" then return send_text(404, "no_service") end
  if token == "archived" then return send_text(410, "channel_is_archived") end

  -- Slack also takes the form encoding payload=<json> (its legacy way).
  local json = body
  local ct = (header("content-type") or ""):lower()
  if ct:find("application/x-www-form-urlencoded", 1, true) and body:match("^payload=") then
    json = ngx.decode_args(body, 0).payload
    if type(json) ~= "string" then json = "" end
  end
  local msg = cjson.decode(json)
  if type(msg) ~= "table" or msg[1] ~= nil then return send_text(400, "invalid_payload") end

  if msg.blocks ~= nil then
    if type(msg.blocks) ~= "table" or #msg.blocks > SLACK_MAX_BLOCKS then
      return send_text(400, "invalid_blocks")
    end
    for _, block in ipairs(msg.blocks) do
      if type(block) ~= "table" or type(block.type) ~= "string" then
        return send_text(400, "invalid_blocks")
      end
    end
  end
  local has_text = type(msg.text) == "string" and msg.text ~= ""
  local has_blocks = type(msg.blocks) == "table" and #msg.blocks > 0
  -- Legacy attachments carry their own text, so Slack takes them without "text".
  local has_attachments = type(msg.attachments) == "table" and #msg.attachments > 0
  if not (has_text or has_blocks or has_attachments) then
    return send_text(400, "no_text")
  end
  return send_text(200, "ok")
end

---------------------------------------------------------------------------------------------
-- DingTalk custom robot: POST /robot/send?access_token=X[&timestamp=ms&sign=...]
---------------------------------------------------------------------------------------------

local DINGTALK_MORE = "more: [https://open.dingtalk.com/document/robots/customize-robot-security-settings]"

local function dingtalk_answer(code, msg)
  return send_json(200, '{"errcode":' .. code .. ',"errmsg":' .. jstr(msg) .. '}')
end

-- The text keywords are searched in: text.content, markdown.text, actionCard.text, and (not
-- asked for, for completeness) link.title/link.text and feedCard.links[].title.
local function dingtalk_text(msg)
  local parts = {}
  local function add(v) if type(v) == "string" then parts[#parts + 1] = v end end
  local function field(t, name) return type(t) == "table" and t[name] or nil end
  if msg.msgtype == "text" then
    add(field(msg.text, "content"))
  elseif msg.msgtype == "markdown" then
    add(field(msg.markdown, "text"))
  elseif msg.msgtype == "actionCard" then
    add(field(msg.actionCard, "text"))
  elseif msg.msgtype == "link" then
    add(field(msg.link, "title"))
    add(field(msg.link, "text"))
  elseif msg.msgtype == "feedCard" then
    local links = field(msg.feedCard, "links")
    if type(links) == "table" then
      for _, l in ipairs(links) do add(field(l, "title")) end
    end
  end
  return table.concat(parts, "\n")
end

-- Errors come with HTTP 200; the body's errcode decides:
--   300001 "token is not exist"   access_token missing, empty or "invalid"
--   43004                         Content-Type not JSON (DingTalk's "无效的HTTP HEADER
--                                 Content-Type", given here in English)
--   310000 "sign not match, ..."  signature missing/wrong/double-encoded, or timestamp off
--                                 by more than 3600 s
--   40035 "missing msgtype"       body not JSON or without msgtype. ASSUMED code: 40035 is
--                                 DingTalk's generic "invalid parameter" code; the exact
--                                 answer of the robot endpoint is not documented.
--   310000 "keywords not in content, ..."  no configured keyword in the text
function M.dingtalk()
  local body = begin()
  local query = raw_query()
  local token = unescape(query.access_token) or ""
  if token == "" or token == "invalid" then
    return dingtalk_answer(300001, "token is not exist")
  end
  -- A token never configured is a healthy robot without secret or keywords.
  local opts = platform_opts("dingtalk:" .. token) or {}

  local delay = tonumber(opts.delay)
  if delay and delay > 0 then ngx.sleep(delay) end
  if opts.errcode ~= nil then
    -- A forced answer (e.g. 130101 "send too fast") wins over every check.
    local code = tonumber(opts.errcode) or 0
    return dingtalk_answer(code, opts.errmsg or (code == 0 and "ok" or "error"))
  end

  if not is_json_ctype() then
    return dingtalk_answer(43004, "invalid HTTP HEADER Content-Type")
  end

  if type(opts.secret) == "string" then
    -- Exactly one decoding of the query args: a double-encoded sign still holds %XX and
    -- cannot equal a base64 string; an unencoded one has "+" turned into " ".
    local ts, sign = unescape(query.timestamp), unescape(query.sign)
    ngx.update_time()
    local ok = type(ts) == "string" and ts:match("^%d+$") ~= nil and type(sign) == "string"
      and math.abs(ngx.now() * 1000 - tonumber(ts)) <= 3600 * 1000
      and sign == ngx.encode_base64(hmac_sha256(opts.secret, ts .. "\n" .. opts.secret))
    if not ok then
      return dingtalk_answer(310000, "sign not match, " .. DINGTALK_MORE)
    end
  end

  local msg = cjson.decode(body)
  if type(msg) ~= "table" or type(msg.msgtype) ~= "string" or msg.msgtype == "" then
    return dingtalk_answer(40035, "missing msgtype")
  end

  if type(opts.keywords) == "table" and #opts.keywords > 0 then
    local text = dingtalk_text(msg)
    local found = false
    for _, kw in ipairs(opts.keywords) do
      if type(kw) == "string" and text:find(kw, 1, true) then found = true break end
    end
    if not found then
      return dingtalk_answer(310000, "keywords not in content, " .. DINGTALK_MORE)
    end
  end
  return dingtalk_answer(0, "ok")
end

---------------------------------------------------------------------------------------------
-- WeCom group bot: POST /cgi-bin/webhook/send?key=K
---------------------------------------------------------------------------------------------

local WECOM_TYPES = { text = true, markdown = true, markdown_v2 = true, image = true,
  news = true, file = true, voice = true, template_card = true }

local function wecom_answer(code, msg)
  return send_json(200, '{"errcode":' .. code .. ',"errmsg":' .. jstr(msg) .. '}')
end

-- Errors come with HTTP 200; the body's errcode decides:
--   93000  key missing, empty or "invalid" (errmsg holds the caller's IP, as WeCom's does)
--   40008  body not JSON, msgtype missing or unknown ("invalid message type")
--   44004  text/markdown content missing or empty. ASSUMED (WeCom's "empty content" code).
--   40058  text.content over 2048 bytes or markdown.content over 4096 bytes. ASSUMED code
--          (WeCom's "invalid parameter"); the message is "content exceed max length".
function M.wecom()
  local body = begin()
  local key = unescape(raw_query().key) or ""
  if key == "" or key == "invalid" then
    return wecom_answer(93000, "invalid webhook url, hint: [1700000000_abc], from ip: "
      .. "203.0.113.7, more info at https://open.work.weixin.qq.com/devtool/query?e=93000")
  end
  local msg = cjson.decode(body)
  if type(msg) ~= "table" or type(msg.msgtype) ~= "string" or not WECOM_TYPES[msg.msgtype] then
    return wecom_answer(40008, "invalid message type")
  end
  local limit = ({ text = 2048, markdown = 4096, markdown_v2 = 4096 })[msg.msgtype]
  if limit then
    local part = msg[msg.msgtype]
    local content = type(part) == "table" and part.content or nil
    if type(content) ~= "string" or content == "" then
      return wecom_answer(44004, "empty content")
    end
    if #content > limit then
      return wecom_answer(40058, "content exceed max length")
    end
  end
  return wecom_answer(0, "ok")
end

---------------------------------------------------------------------------------------------
-- Discord webhook: POST /api/webhooks/<id>/<token>[?wait=true]
---------------------------------------------------------------------------------------------

local function discord_form_error(field, code, message)
  return send_json(400, '{"code":50035,"errors":{"' .. field .. '":{"_errors":[{"code":"'
    .. code .. '","message":' .. jstr(message) .. '}]}},"message":"Invalid Form Body"}')
end

-- Characters an embed counts towards Discord's 6000 for all embeds of a message.
local function embed_chars(e)
  if type(e) ~= "table" then return 0 end
  local n = 0
  local function add(v) if type(v) == "string" then n = n + utf8_len(v) end end
  add(e.title)
  add(e.description)
  if type(e.footer) == "table" then add(e.footer.text) end
  if type(e.author) == "table" then add(e.author.name) end
  if type(e.fields) == "table" then
    for _, f in ipairs(e.fields) do
      if type(f) == "table" then add(f.name) add(f.value) end
    end
  end
  return n
end

--   404 {"code":10015,"message":"Unknown Webhook"}        malformed path, or id "unknown"
--   401 {"code":50027,"message":"Invalid Webhook Token"}  token "invalid"
--   400 {"code":50109,...}  JSON content type but the body is not a JSON object
--   400 {"code":50035,...}  content over 2000 characters, over 10 embeds, embeds over 6000
--   400 {"code":50006,...}  neither content nor embeds
--   204 (no body); with ?wait=true 200 and the message object.
-- A body that is application/x-www-form-urlencoded is read as form fields (Discord takes it).
function M.discord()
  local body = begin()
  local id, token = ngx.var.uri:match("^/api/webhooks/([^/]+)/([^/]+)/?$")
  if not id or id == "unknown" then
    return send_json(404, '{"message":"Unknown Webhook","code":10015}')
  end
  if token == "invalid" then
    return send_json(401, '{"message":"Invalid Webhook Token","code":50027}')
  end

  local msg
  local ct = (header("content-type") or ""):lower()
  if ct:find("application/x-www-form-urlencoded", 1, true) then
    msg = ngx.decode_args(body, 0)
    for k, v in pairs(msg) do msg[k] = first(v) end
  else
    msg = cjson.decode(body)
    if type(msg) ~= "table" or (msg[1] ~= nil) then
      return send_json(400, '{"message":"The request body contains invalid JSON.","code":50109}')
    end
  end

  local content = msg.content
  if content == cjson.null then content = nil end
  if content ~= nil and type(content) ~= "string" then content = tostring(content) end
  if content and utf8_len(content) > 2000 then
    return discord_form_error("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
  end
  local embeds = msg.embeds
  if embeds == cjson.null then embeds = nil end
  if embeds ~= nil then
    if type(embeds) ~= "table" then
      return discord_form_error("embeds", "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType.")
    end
    if #embeds > 10 then
      return discord_form_error("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    end
    local total = 0
    for _, e in ipairs(embeds) do total = total + embed_chars(e) end
    if total > 6000 then
      return discord_form_error("embeds", "MAX_EMBED_SIZE_EXCEEDED",
        "Embed size exceeds maximum size of 6000")
    end
  end
  if (content == nil or content == "") and (embeds == nil or #embeds == 0) then
    return send_json(400, '{"message":"Cannot send an empty message","code":50006}')
  end

  local wait = unescape(raw_query().wait)
  if wait and (wait:lower() == "true" or wait == "1") then
    local n = next_id("discord")
    local username = type(msg.username) == "string" and msg.username or "notifyhub-test"
    local parts = {
      '"id":"12000000000' .. string.format("%08d", n) .. '"',
      '"type":0',
      '"content":' .. jstr(content or ""),
      '"channel_id":"1100000000000000001"',
      '"author":{"id":' .. cjson.encode(id) .. ',"username":' .. cjson.encode(username)
        .. ',"discriminator":"0000","bot":true}',
      '"embeds":' .. ((embeds and #embeds > 0) and cjson.encode(embeds) or "[]"),
      '"attachments":[]',
      '"mentions":[]',
      '"timestamp":"' .. os.date("!%Y-%m-%dT%H:%M:%S", ngx.time()) .. '.000000+00:00"',
      '"webhook_id":' .. cjson.encode(id),
    }
    return send_json(200, "{" .. table.concat(parts, ",") .. "}")
  end
  return send_empty(204)
end

---------------------------------------------------------------------------------------------
-- Telegram Bot API: POST /bot<token>/sendMessage (and getMe)
---------------------------------------------------------------------------------------------

local TG_BOT = '{"id":7000000001,"is_bot":true,"first_name":"notifyhub test",'
  .. '"username":"notifyhub_test_bot"}'

-- UTF-8 encoding of a code point (LuaJIT has no utf8 library).
local function utf8_char(cp)
  if cp < 0 or cp > 0x10FFFF then return "\239\191\189" end
  if cp < 0x80 then return string.char(cp) end
  if cp < 0x800 then
    return string.char(0xC0 + math.floor(cp / 0x40), 0x80 + cp % 0x40)
  end
  if cp < 0x10000 then
    return string.char(0xE0 + math.floor(cp / 0x1000), 0x80 + math.floor(cp / 0x40) % 0x40,
      0x80 + cp % 0x40)
  end
  return string.char(0xF0 + math.floor(cp / 0x40000), 0x80 + math.floor(cp / 0x1000) % 0x40,
    0x80 + math.floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
end

-- Tags Telegram's HTML parse mode supports.
local TG_HTML_TAGS = { b = true, strong = true, i = true, em = true, u = true, ins = true,
  s = true, strike = true, del = true, span = true, ["tg-spoiler"] = true, a = true,
  code = true, pre = true, blockquote = true, ["tg-emoji"] = true }
local TG_HTML_ENTITIES = { lt = "<", gt = ">", amp = "&", quot = '"' }

-- parse_mode HTML: plain text, or nil and the reason. Every "<" must open or close a
-- supported tag (properly nested), every "&" must start &lt; &gt; &amp; &quot; or a numeric
-- entity; a bare ">" is tolerated, as Telegram does.
local function tg_parse_html(s)
  local out, stack = {}, {}
  local i, n = 1, #s
  while i <= n do
    local c = s:sub(i, i)
    if c == "<" then
      local close = s:find(">", i, true)
      if not close then
        return nil, "Can't find end of the tag starting at byte offset " .. (i - 1)
      end
      local inner = s:sub(i + 1, close - 1)
      local slash, name, rest = inner:match("^(/?)([%a][%w%-]*)(.*)$")
      if not name then
        return nil, 'Unsupported start tag "' .. inner:match("^/?(%S*)") .. '" at byte offset '
          .. (i - 1)
      end
      name = name:lower()
      if slash == "/" then
        local top = stack[#stack]
        if not top then
          return nil, "Unexpected end tag at byte offset " .. (i - 1)
        end
        if top ~= name then
          return nil, "Unmatched end tag at byte offset " .. (i - 1) .. ', expected "</' .. top
            .. '>", found "</' .. name .. '>"'
        end
        stack[#stack] = nil
      else
        if not TG_HTML_TAGS[name] or (rest ~= "" and not rest:match("^%s")) then
          return nil, 'Unsupported start tag "' .. name .. '" at byte offset ' .. (i - 1)
        end
        stack[#stack + 1] = name
      end
      i = close + 1
    elseif c == "&" then
      local ent = s:match("^&(#?%w+);", i)
      local char
      if ent then
        if TG_HTML_ENTITIES[ent] then
          char = TG_HTML_ENTITIES[ent]
        elseif ent:match("^#%d+$") then
          char = utf8_char(tonumber(ent:sub(2)))
        elseif ent:match("^#[xX]%x+$") then
          char = utf8_char(tonumber(ent:sub(3), 16))
        end
      end
      if not char then
        return nil, 'Character "&" is reserved and must be written as "&amp;" at byte offset '
          .. (i - 1)
      end
      out[#out + 1] = char
      i = i + #ent + 2
    else
      out[#out + 1] = c
      i = i + 1
    end
  end
  if #stack > 0 then
    return nil, 'Can\'t find end tag corresponding to start tag "' .. stack[#stack] .. '"'
  end
  return table.concat(out)
end

local MDV2_RESERVED = "_*[]()~`>#+-=|{}.!"

-- parse_mode MarkdownV2 (simplified): "\" escapes any ASCII character; `code` and ```pre```
-- only need "`" and "\" escaped inside; * _ __ ~ || toggle bold, italic, underline,
-- strikethrough, spoiler and must all be closed at the end; [text](url) and ![emoji](url)
-- are links; ">" starts a quote at the start of a line. Any other reserved character not
-- escaped is an error, as in Telegram.
local function tg_parse_mdv2(s)
  local out = {}
  local open, order = {}, {}
  local link_start
  local i, n = 1, #s
  local function reserved(c)
    return nil, "Character '" .. c .. "' is reserved and must be escaped with the preceding '\\'"
  end
  local function toggle(name, at)
    if open[name] then
      open[name] = nil
    else
      open[name] = at
      order[#order + 1] = name
    end
  end
  while i <= n do
    local c = s:sub(i, i)
    if c == "\\" then
      local nb = s:byte(i + 1)
      if not nb or nb > 126 then return reserved("\\") end
      out[#out + 1] = s:sub(i + 1, i + 1)
      i = i + 2
    elseif c == "`" then
      local delim = s:sub(i, i + 2) == "```" and "```" or "`"
      local j, found = i + #delim, nil
      while j <= n do
        if s:sub(j, j) == "\\" then
          out[#out + 1] = s:sub(j + 1, j + 1)
          j = j + 2
        elseif s:sub(j, j + #delim - 1) == delim then
          found = j
          break
        else
          out[#out + 1] = s:sub(j, j)
          j = j + 1
        end
      end
      if not found then
        return nil, "Can't find end of " .. (delim == "```" and "PreCode" or "Code")
          .. " entity at byte offset " .. (i - 1)
      end
      i = found + #delim
    elseif c == "*" then
      toggle("Bold", i - 1)
      i = i + 1
    elseif c == "_" then
      if s:sub(i + 1, i + 1) == "_" then
        toggle("Underline", i - 1)
        i = i + 2
      else
        toggle("Italic", i - 1)
        i = i + 1
      end
    elseif c == "~" then
      toggle("Strikethrough", i - 1)
      i = i + 1
    elseif c == "|" then
      if s:sub(i + 1, i + 1) ~= "|" then return reserved("|") end
      toggle("Spoiler", i - 1)
      i = i + 2
    elseif c == "[" or (c == "!" and s:sub(i + 1, i + 1) == "[") then
      if link_start then return reserved("[") end
      link_start = i - 1
      i = i + (c == "!" and 2 or 1)
    elseif c == "]" then
      if not link_start then return reserved("]") end
      if s:sub(i + 1, i + 1) ~= "(" then
        return nil, "Can't find end of a URL at byte offset " .. i
      end
      local j, found = i + 2, nil
      while j <= n do
        local d = s:sub(j, j)
        if d == "\\" then
          j = j + 2
        elseif d == ")" then
          found = j
          break
        else
          j = j + 1
        end
      end
      if not found then return nil, "Can't find end of a URL at byte offset " .. i end
      link_start = nil
      i = found + 1
    elseif c == ">" and (i == 1 or s:sub(i - 1, i - 1) == "\n") then
      i = i + 1
    elseif MDV2_RESERVED:find(c, 1, true) then
      return reserved(c)
    else
      out[#out + 1] = c
      i = i + 1
    end
  end
  if link_start then
    return nil, "Can't find end of TextUrl entity at byte offset " .. link_start
  end
  for _, name in ipairs(order) do
    if open[name] then
      return nil, "Can't find end of " .. name .. " entity at byte offset " .. open[name]
    end
  end
  return table.concat(out)
end

-- parse_mode Markdown (legacy, simplified): * _ ` ``` toggle and must be closed, [text](url)
-- links; "\" escapes _ * ` [; everything else is literal.
local function tg_parse_markdown(s)
  local out = {}
  local i, n = 1, #s
  while i <= n do
    local c = s:sub(i, i)
    if c == "\\" and s:sub(i + 1, i + 1):match("^[_*`%[]$") then
      out[#out + 1] = s:sub(i + 1, i + 1)
      i = i + 2
    elseif c == "*" or c == "_" or c == "`" then
      local delim = (c == "`" and s:sub(i, i + 2) == "```") and "```" or c
      local close = s:find(delim, i + #delim, true)
      if not close then
        return nil, "Can't find end of the entity starting at byte offset " .. (i - 1)
      end
      out[#out + 1] = s:sub(i + #delim, close - 1)
      i = close + #delim
    elseif c == "[" then
      local text, _, after = s:match("^%[([^%]]*)%]%(([^%)]*)%)()", i)
      if not text then
        return nil, "Can't find end of the entity starting at byte offset " .. (i - 1)
      end
      out[#out + 1] = text
      i = after
    else
      out[#out + 1] = c
      i = i + 1
    end
  end
  return table.concat(out)
end

local function tg_error(code, description, extra)
  return send_json(code, '{"ok":false,"error_code":' .. code .. ',"description":'
    .. jstr(description) .. (extra or "") .. '}')
end

-- Errors carry the HTTP status of their error_code:
--   404 "Not Found"      empty token, or a method other than sendMessage / getMe
--   401 "Unauthorized"   token "bad"
--   400 "Bad Request: chat_id is empty" / "message text is empty" / "message is too long"
--       (over 4096 characters, counted as code points after entity parsing, trimmed)
--       / "can't parse entities: ..." / "unsupported parse_mode" / "chat not found"
--       (chat_id 404, or neither an integer nor @username)
-- Parameters: query args, then the body (JSON, or form encoded), the body winning.
function M.telegram()
  local body = begin()
  local token, method = ngx.var.uri:match("^/bot([^/]*)/([^/]+)$")
  if not token or token == "" then return tg_error(404, "Not Found") end
  if token == "bad" then return tg_error(401, "Unauthorized") end
  method = method:lower()

  local params = {}
  for k, v in pairs(ngx.req.get_uri_args(0)) do params[k] = first(v) end
  local ct = (header("content-type") or ""):lower()
  local from_body
  if ct:find("json", 1, true) then
    from_body = cjson.decode(body)
    if body ~= "" and type(from_body) ~= "table" then
      return tg_error(400, "Bad Request: can't parse JSON")
    end
  elseif ct:find("application/x-www-form-urlencoded", 1, true) then
    from_body = ngx.decode_args(body, 0)
  end
  for k, v in pairs(type(from_body) == "table" and from_body or {}) do params[k] = first(v) end

  if method == "getme" then
    return send_json(200, '{"ok":true,"result":' .. TG_BOT .. '}')
  end
  if method ~= "sendmessage" then return tg_error(404, "Not Found") end

  local chat_id = params.chat_id
  if type(chat_id) == "number" then chat_id = json_value(chat_id) end
  if type(chat_id) ~= "string" or chat_id == "" then
    return tg_error(400, "Bad Request: chat_id is empty")
  end
  local text = params.text
  if type(text) == "number" then text = tostring(text) end
  if type(text) ~= "string" or text == "" then
    return tg_error(400, "Bad Request: message text is empty")
  end

  local mode = params.parse_mode
  local plain, why = text, nil
  if type(mode) == "string" and mode ~= "" then
    local m = mode:lower()
    if m == "html" then
      plain, why = tg_parse_html(text)
    elseif m == "markdownv2" then
      plain, why = tg_parse_mdv2(text)
    elseif m == "markdown" then
      plain, why = tg_parse_markdown(text)
    else
      return tg_error(400, "Bad Request: unsupported parse_mode")
    end
  end
  if not plain then
    return tg_error(400, "Bad Request: can't parse entities: " .. why)
  end
  plain = plain:gsub("^%s+", ""):gsub("%s+$", "")
  if plain == "" then return tg_error(400, "Bad Request: message text is empty") end
  if utf8_len(plain) > 4096 then return tg_error(400, "Bad Request: message is too long") end

  local chat
  if chat_id == "404" then
    return tg_error(400, "Bad Request: chat not found")
  elseif chat_id:match("^%-?%d+$") then
    local kind = chat_id:match("^%-100") and "supergroup" or chat_id:match("^%-") and "group"
      or "private"
    chat = '{"id":' .. chat_id .. ',"type":"' .. kind .. '"}'
  elseif chat_id:match("^@[%w_]+$") then
    chat = '{"id":-1001000000001,"title":' .. cjson.encode(chat_id:sub(2)) .. ',"username":'
      .. cjson.encode(chat_id:sub(2)) .. ',"type":"channel"}'
  else
    return tg_error(400, "Bad Request: chat not found")
  end

  ngx.update_time()
  return send_json(200, '{"ok":true,"result":{"message_id":' .. next_id("telegram")
    .. ',"from":' .. TG_BOT .. ',"chat":' .. chat .. ',"date":' .. ngx.time()
    .. ',"text":' .. jstr(plain) .. '}}')
end

---------------------------------------------------------------------------------------------
-- Microsoft Teams Workflows webhook:
--   POST /workflows/<id>/triggers/manual/paths/invoke?api-version=1&sig=<sig>
--   (also under /powerautomate/automations/direct/, the newer URL form)
---------------------------------------------------------------------------------------------

local function teams_error(status, code, message)
  return send_json(status, '{"error":{"code":"' .. code .. '","message":'
    .. jstr(message) .. '}}')
end

local ADAPTIVE = "application/vnd.microsoft.card.adaptive"

--   404 WorkflowNotFound                       another path
--   400 MissingApiVersionParameter             no api-version
--   401 DirectApiAuthorizationRequired         no sig
--   401 DirectApiInvalidAuthorizationSignature sig "invalid"
--   400 InvalidRequestContent                  body not JSON
--   400 TriggerInputSchemaMismatch             not a message with an Adaptive Card first
--   202 (empty body)                           accepted
function M.teams()
  local body = begin()
  local uri = ngx.var.uri
  local id = uri:match("^/workflows/([^/]+)/triggers/manual/paths/invoke/?$")
    or uri:match("^/powerautomate/automations/direct/workflows/([^/]+)/triggers/manual/paths/invoke/?$")
  if not id then
    return teams_error(404, "WorkflowNotFound", "The workflow could not be found.")
  end
  local query = raw_query()
  if (unescape(query["api-version"]) or "") == "" then
    return teams_error(400, "MissingApiVersionParameter",
      "The api-version query parameter (?api-version=) is required for all requests.")
  end
  local sig = unescape(query.sig)
  if sig == nil or sig == "" then
    return teams_error(401, "DirectApiAuthorizationRequired",
      "The request must be authenticated only by Shared Access scheme.")
  end
  if sig == "invalid" then
    return teams_error(401, "DirectApiInvalidAuthorizationSignature",
      "The provided authorization signature is invalid.")
  end

  local msg = cjson.decode(body)
  if type(msg) ~= "table" then
    return teams_error(400, "InvalidRequestContent", "The request content is not valid JSON.")
  end
  local function mismatch(detail)
    return teams_error(400, "TriggerInputSchemaMismatch", "The input body for trigger 'manual' "
      .. "of type 'Request' did not match its schema definition. Error details: '" .. detail
      .. "'.")
  end
  if msg.type ~= "message" then return mismatch('"type" must be "message"') end
  local att = msg.attachments
  if type(att) ~= "table" or type(att[1]) ~= "table" then
    return mismatch('"attachments" must be a non-empty array')
  end
  if att[1].contentType ~= ADAPTIVE then
    return mismatch('"attachments[0].contentType" must be "' .. ADAPTIVE .. '"')
  end
  if type(att[1].content) ~= "table" or att[1].content.type ~= "AdaptiveCard" then
    return mismatch('"attachments[0].content.type" must be "AdaptiveCard"')
  end
  ngx.header["x-ms-workflow-run-id"] = string.format("08584%015d", next_id("teams"))
  return send_empty(202)
end

---------------------------------------------------------------------------------------------
-- Standard Webhooks receiver: POST /signed/<name>
---------------------------------------------------------------------------------------------

-- The HMAC key of a secret "whsec_<base64>" (the prefix is optional), or nil.
local function signed_key(secret)
  if type(secret) ~= "string" then return nil end
  local b64 = secret:gsub("^whsec_", "")
  if b64 == "" then return nil end
  return ngx.decode_base64(b64)
end

-- The secrets of a config: opts.secret, a string or an array of strings (key rotation).
local function signed_secrets(opts)
  local s = opts.secret
  if type(s) == "string" then return { s } end
  if type(s) == "table" then return s end
  return {}
end

local function signed_error(message)
  return send_json(401, cjson.encode({ error = message }))
end

-- Unconfigured name: 204 to anything. Configured (server.signed): the three headers must be
-- there, webhook-timestamp Unix seconds within opts.tolerance (300) s of now, and one of the
-- "v1,<base64>" entries of webhook-signature must equal base64(HMAC-SHA256(key, id .. "." ..
-- timestamp .. "." .. body)) for one of the secrets -> 204; else 401 {"error": "..."}.
function M.signed()
  local body = begin()
  local name = ngx.var.uri:match("^/signed/(.*)$") or ""
  local opts = platform_opts("signed:" .. name)
  if not opts then return send_empty(204) end

  local id, ts, sigs = header("webhook-id"), header("webhook-timestamp"),
    header("webhook-signature")
  if not id or id == "" or not ts or not sigs then
    return signed_error("missing required headers")
  end
  if not ts:match("^%d+$") then return signed_error("invalid timestamp") end
  ngx.update_time()
  local tolerance = tonumber(opts.tolerance) or 300
  local age = ngx.time() - tonumber(ts)
  if age > tolerance then return signed_error("message timestamp too old") end
  if age < -tolerance then return signed_error("message timestamp too new") end

  local signed = id .. "." .. ts .. "." .. body
  for _, secret in ipairs(signed_secrets(opts)) do
    local key = signed_key(secret)
    if key then
      local expected = ngx.encode_base64(hmac_sha256(key, signed))
      for entry in sigs:gmatch("%S+") do
        local version, value = entry:match("^([^,]+),(.+)$")
        if version == "v1" and value == expected then return send_empty(204) end
      end
    end
  end
  return signed_error("no matching signature found")
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

-- Checks the opts of a platform config; nil when fine, else the reason.
local function check_platform_opts(kind, opts)
  if kind == "signed" then
    local secrets = signed_secrets(opts)
    if #secrets == 0 then return "secret (string or array of strings) is required" end
    for _, s in ipairs(secrets) do
      if not signed_key(s) then return "secret must be whsec_<base64>: " .. tostring(s) end
    end
  elseif kind == "dingtalk" then
    if opts.secret ~= nil and type(opts.secret) ~= "string" then return "secret must be a string" end
    if opts.keywords ~= nil and type(opts.keywords) ~= "table" then
      return "keywords must be an array"
    end
  end
  return nil
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
  local key = kind .. ":" .. name
  local method = ngx.req.get_method()
  if method == "GET" then
    return send_json(200, platforms:get(key) or "{}")
  elseif method == "DELETE" then
    platforms:delete(key)
    return send_json(200, '{"ok":true}')
  elseif method == "POST" or method == "PUT" then
    local body = read_body()
    local opts = cjson.decode(body)
    if type(opts) ~= "table" then
      return send_json(400, '{"ok":false,"error":"body must be a JSON object"}')
    end
    local bad = check_platform_opts(kind, opts)
    if bad then return send_json(400, cjson.encode({ ok = false, error = bad })) end
    local ok, err = platforms:safe_set(key, body)
    if not ok then
      return send_json(500, cjson.encode({ ok = false, error = err }))
    end
    return send_json(200, '{"ok":true}')
  end
  return send_json(405, '{"ok":false,"error":"method not allowed"}')
end

return M
