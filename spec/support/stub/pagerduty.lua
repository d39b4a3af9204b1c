-- spec/support/stub/pagerduty.lua -- PagerDuty Events API v2: POST /v2/enqueue
-- (a stand-in of the loopback test server: spec/support/stub.lua, nginx.conf).
-- From PagerDuty's Events API v2 docs: routing_key (32 characters), event_action
-- trigger|acknowledge|resolve, dedup_key (at most 255 characters; made up when a trigger
-- has none), a trigger's payload.summary (at most 1024 characters), source and severity
-- (critical|error|warning|info); 202 {"status","message","dedup_key"}, 400 {"status":
-- "invalid event","message":"Event object is invalid","errors":[...]}.

local cjson = require("cjson.safe")
local common = require("stub.common")
local send_json = common.send_json
local jstr = common.jstr
local begin = common.begin
local utf8_len = common.utf8_len
local next_id = common.next_id

local M = {}

local SEVERITIES = { critical = true, error = true, warning = true, info = true }
local ACTIONS = { trigger = true, acknowledge = true, resolve = true }

local function invalid(why)
  return send_json(400, '{"status":"invalid event","message":"Event object is invalid","errors":['
    .. jstr(why) .. ']}')
end

local function blank(v) return type(v) ~= "string" or v == "" end

-- The first thing wrong with an event, or nil.
local function problem(e)
  if blank(e.routing_key) then return "'routing_key' is missing or blank" end
  if #e.routing_key ~= 32 then return "'routing_key' must be 32 characters" end
  if not ACTIONS[e.event_action] then return "'event_action' is missing or invalid" end
  if e.dedup_key ~= nil and (blank(e.dedup_key) or utf8_len(e.dedup_key) > 255) then
    return "'dedup_key' must be 1 to 255 characters"
  end
  if e.event_action ~= "trigger" then
    if blank(e.dedup_key) then return "'dedup_key' is missing or blank" end
    return nil
  end
  local p = e.payload
  if type(p) ~= "table" then return "'payload' is missing or invalid" end
  if blank(p.summary) then return "'payload.summary' is missing or blank" end
  if utf8_len(p.summary) > 1024 then return "'payload.summary' must be at most 1024 characters" end
  if blank(p.source) then return "'payload.source' is missing or blank" end
  if not SEVERITIES[p.severity] then return "'payload.severity' is missing or invalid" end
  return nil
end

function M.pagerduty()
  local body = begin()
  if ngx.req.get_method() ~= "POST" then return send_json(405, '{"status":"method not allowed"}') end
  local e = cjson.decode(body)
  if type(e) ~= "table" then return invalid("Malformed JSON") end
  local why = problem(e)
  if why then return invalid(why) end
  local key = e.dedup_key or ("notifyhub" .. next_id("pagerduty"))
  return send_json(202, '{"status":"success","message":"Event processed","dedup_key":' .. jstr(key) .. '}')
end

return M
