-- spec/support/stub/wecom.lua -- WeCom group bot: POST /cgi-bin/webhook/send?key=K
-- (a stand-in of the loopback test server: spec/support/stub.lua, nginx.conf).

local cjson = require("cjson.safe")
local common = require("stub.common")
local send_json = common.send_json
local jstr = common.jstr
local begin = common.begin
local raw_query = common.raw_query
local unescape = common.unescape

local M = {}

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

return M
