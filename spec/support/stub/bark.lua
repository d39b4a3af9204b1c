-- spec/support/stub/bark.lua -- Bark server: POST /push (JSON, device_key in the body)
-- (a stand-in of the loopback test server: spec/support/stub.lua, nginx.conf).
-- From Bark's docs (bark.day.app, tutorial: "JSON 请求 key 可以放进请求体中, URL 路径须为
-- /push") and bark-server's answers: {"code":200,"message":"success","timestamp":n};
-- failures carry their code in the body and as the HTTP status: 400 for a device key the
-- server does not know (its message names the key), 500 when APNs refuses the push.

local cjson = require("cjson.safe")
local common = require("stub.common")
local send_json = common.send_json
local jstr = common.jstr
local begin = common.begin

local M = {}

local LEVELS = { active = true, timeSensitive = true, passive = true, critical = true }

local function answer(code, message)
  ngx.update_time()
  return send_json(code, '{"code":' .. code .. ',"message":' .. jstr(message) .. ',"timestamp":'
    .. ngx.time() .. '}')
end

--   400 body not JSON, device_key missing, level unknown, or a key starting "unknown"
--   500 device key "apns-fail" (APNs: BadDeviceToken)
--   200 otherwise
function M.bark()
  local body = begin()
  local push = cjson.decode(body)
  if type(push) ~= "table" then return answer(400, "request bind failed: invalid JSON") end
  local key = push.device_key
  if type(key) ~= "string" or key == "" then return answer(400, "device key is empty") end
  if push.level ~= nil and not LEVELS[push.level] then return answer(400, "invalid level") end
  if key:match("^unknown") then
    return answer(400, "failed to get device token: failed to get [" .. key .. "] device token from database")
  end
  if key == "apns-fail" then return answer(500, "push failed: BadDeviceToken") end
  return answer(200, "success")
end

return M
