-- spec/support/stub/pushplus.lua -- PushPlus: POST /send (JSON)
-- (a stand-in of the loopback test server: spec/support/stub.lua, nginx.conf).
-- From PushPlus's API docs (发送消息接口, 接口返回码说明): the body must be JSON
-- (Content-Type application/json); token and content required; template html (default),
-- txt, json, markdown, cloudMonitor, jenkins, route, pay; answers HTTP 200 with
-- {"code","msg","data"}: 200 success (data: the message's serial number), 900 account
-- restricted (too many requests), 903 invalid token, 999 server-side validation error,
-- 500 system error (try again later).

local cjson = require("cjson.safe")
local common = require("stub.common")
local send_json = common.send_json
local jstr = common.jstr
local begin = common.begin
local header = common.header
local next_id = common.next_id

local M = {}

local TEMPLATES = { html = true, txt = true, json = true, markdown = true, cloudMonitor = true,
  jenkins = true, route = true, pay = true }

local function answer(code, msg, data)
  return send_json(200, '{"code":' .. code .. ',"msg":' .. jstr(msg) .. ',"data":'
    .. (data and jstr(data) or "null") .. '}')
end

--   903 token missing or "bad"; 900 token "limited"; 500 token "sysfail"
--   999 not JSON, content missing, template unknown; 200 otherwise
function M.pushplus()
  local body = begin()
  if not (header("content-type") or ""):lower():find("application/json", 1, true) then
    return answer(999, "请求参数错误")
  end
  local p = cjson.decode(body)
  if type(p) ~= "table" then return answer(999, "请求参数错误") end
  if type(p.token) ~= "string" or p.token == "" or p.token == "bad" then
    return answer(903, "无效的用户令牌")
  end
  if p.token == "limited" then return answer(900, "用户账号使用受限") end
  if p.token == "sysfail" then return answer(500, "系统异常,请稍后再试") end
  if type(p.content) ~= "string" or p.content == "" then return answer(999, "消息内容不能为空") end
  if p.template ~= nil and not TEMPLATES[p.template] then return answer(999, "模板类型错误") end
  return answer(200, "请求成功", string.format("%032x", next_id("pushplus")))
end

return M
