-- spec/support/stub/feishu.lua -- Feishu custom bot stand-in
-- (a stand-in of the loopback test server: spec/support/stub.lua, nginx.conf).

local cjson = require("cjson.safe")
local common = require("stub.common")
local hmac_sha256 = common.hmac_sha256
local send_json = common.send_json
local begin = common.begin
local bots = common.bots

local M = {}

-- Feishu's limit on the request body, in bytes.
local FEISHU_MAX_BODY = 20 * 1024

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

  if not common.has_keyword(message_text(msg), opts.keywords) then
    return 19024, FEISHU_MESSAGES[19024]
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

return M
