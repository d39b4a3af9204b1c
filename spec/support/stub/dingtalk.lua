-- spec/support/stub/dingtalk.lua -- DingTalk custom robot: POST /robot/send?access_token=X[&timestamp=ms&sign=...]
-- (a stand-in of the loopback test server: spec/support/stub.lua, nginx.conf).

local cjson = require("cjson.safe")
local common = require("stub.common")
local hmac_sha256 = common.hmac_sha256
local send_json = common.send_json
local jstr = common.jstr
local begin = common.begin
local raw_query = common.raw_query
local unescape = common.unescape
local platform_opts = common.platform_opts
local is_json_ctype = common.is_json_ctype

local M = {}

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

  if not common.has_keyword(dingtalk_text(msg), opts.keywords) then
    return dingtalk_answer(310000, "keywords not in content, " .. DINGTALK_MORE)
  end
  return dingtalk_answer(0, "ok")
end

-- The opts of /_control/dingtalk/<token>: nil when fine, else the reason.
function M.check_opts(opts)
  if opts.secret ~= nil and type(opts.secret) ~= "string" then return "secret must be a string" end
  if opts.keywords ~= nil and type(opts.keywords) ~= "table" then
    return "keywords must be an array"
  end
  return nil
end

return M
