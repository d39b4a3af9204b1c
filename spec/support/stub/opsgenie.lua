-- spec/support/stub/opsgenie.lua -- Opsgenie Alert API: POST /v2/alerts
-- (a stand-in of the loopback test server: spec/support/stub.lua, nginx.conf).
-- From Opsgenie's Alert API and Response docs: "Authorization: GenieKey <key>", JSON body
-- with message (required, at most 130 characters), alias (512), description (15000),
-- tags (at most 20, each at most 50 characters), details (strings), priority P1..P5;
-- 202 {"result":"Request will be processed","took","requestId"}; 400 invalid JSON body;
-- 401 apiKey invalid; 422 {"message":"Request body is not processable. Please check the
-- errors.","errors":{field: why}}.

local cjson = require("cjson.safe")
local common = require("stub.common")
local send_json = common.send_json
local jstr = common.jstr
local begin = common.begin
local header = common.header
local utf8_len = common.utf8_len
local next_id = common.next_id

local M = {}

local PRIORITIES = { P1 = true, P2 = true, P3 = true, P4 = true, P5 = true }

local function answer(status, fields)
  return send_json(status, "{" .. fields .. ',"took":0.004,"requestId":"00000000-0000-4000-8000-'
    .. string.format("%012d", next_id("opsgenie")) .. '"}')
end

local function unprocessable(field, why)
  return answer(422, '"message":"Request body is not processable. Please check the errors.",'
    .. '"errors":{' .. jstr(field) .. ":" .. jstr(why) .. "}")
end

local function too_long(v, n) return type(v) == "string" and utf8_len(v) > n end

-- The first field wrong in an alert: field, why.
local function problem(a)
  if type(a.message) ~= "string" or a.message == "" then return "message", "Message can not be empty." end
  if too_long(a.message, 130) then return "message", "Message can not be longer than 130 characters." end
  if too_long(a.alias, 512) then return "alias", "Alias can not be longer than 512 characters." end
  if too_long(a.description, 15000) then
    return "description", "Description can not be longer than 15000 characters."
  end
  if a.priority ~= nil and not PRIORITIES[a.priority] then return "priority", "Invalid priority." end
  if a.tags ~= nil and (type(a.tags) ~= "table" or #a.tags > 20) then return "tags", "At most 20 tags." end
  for _, v in pairs(type(a.details) == "table" and a.details or {}) do
    if type(v) ~= "string" then return "details", "Details values must be strings." end
  end
  return nil
end

--   401 no "GenieKey" key, or the key "bad"; 402 the key "free-plan"; 400 not JSON;
--   422 a field wrong; 202 otherwise
function M.opsgenie()
  local body = begin()
  local key = (header("authorization") or ""):match("^GenieKey (.+)$")
  if not key or key == "bad" then return answer(401, '"message":"Could not authenticate"') end
  if key == "free-plan" then
    return answer(402, '"message":"Your plan does not allow using this integration."')
  end
  local alert = cjson.decode(body)
  if type(alert) ~= "table" then return answer(400, '"message":"Invalid JSON body"') end
  local field, why = problem(alert)
  if field then return unprocessable(field, why) end
  return answer(202, '"result":"Request will be processed"')
end

return M
