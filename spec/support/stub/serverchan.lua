-- spec/support/stub/serverchan.lua -- ServerChan (Server酱 Turbo): POST /<SENDKEY>.send and
-- Server酱³: POST /send/<SENDKEY>.send (a stand-in of the loopback test server:
-- spec/support/stub.lua, nginx.conf). From ServerChan's API docs: JSON, form or multipart
-- bodies; title required (at most 32 characters), desp markdown (at most 32 KB);
-- {"code":0,"message":"","data":{"pushid","readkey","error":"SUCCESS","errno":0}} on
-- success, another code otherwise (with HTTP 200). The error codes and texts below are
-- ASSUMED (not in the docs found): 40001 "bad pushtoken".

local cjson = require("cjson.safe")
local common = require("stub.common")
local send_json = common.send_json
local jstr = common.jstr
local begin = common.begin
local first = common.first
local header = common.header
local utf8_len = common.utf8_len
local next_id = common.next_id

local M = {}

local function fail(code, message)
  return send_json(200, '{"code":' .. code .. ',"message":' .. jstr(message) .. ',"data":null}')
end

--   40001 a key that starts with neither SCT nor sctp<digits>t (e.g. "bad")
--   20001 title missing or over 32 characters; desp over 32768 bytes (ASSUMED code)
--   30001 key "SCTquota": the day's quota is spent (ASSUMED code and text)
function M.serverchan()
  local body = begin()
  local key = ngx.var.uri:match("^/([^/]+)%.send$") or ngx.var.uri:match("^/send/([^/]+)%.send$")
  key = key and ngx.unescape_uri(key) or ""
  if not key:match("^SCT") and not key:match("^sctp%d+t") then return fail(40001, "bad pushtoken") end
  local params
  if (header("content-type") or ""):lower():find("json", 1, true) then
    params = cjson.decode(body)
  else
    params = ngx.decode_args(body, 0)
    for k, v in pairs(params or {}) do params[k] = first(v) end
  end
  if type(params) ~= "table" then return fail(20001, "bad params") end
  local title = params.title or params.text
  if type(title) ~= "string" or title == "" then return fail(20001, "title required") end
  if utf8_len(title) > 32 then return fail(20001, "title too long (32 characters at most)") end
  if type(params.desp) == "string" and #params.desp > 32768 then return fail(20001, "desp too long") end
  if key == "SCTquota" then return fail(30001, "超过当天的发送次数限制[5]，请明天再试") end
  local n = next_id("serverchan")
  return send_json(200, '{"code":0,"message":"","data":{"pushid":"' .. n .. '","readkey":"rk' .. n
    .. '","error":"SUCCESS","errno":0}}')
end

return M
