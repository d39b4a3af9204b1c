-- spec/support/stub/teams.lua -- Microsoft Teams Workflows webhook
-- (a stand-in of the loopback test server: spec/support/stub.lua, nginx.conf).

local cjson = require("cjson.safe")
local common = require("stub.common")
local send_json = common.send_json
local jstr = common.jstr
local begin = common.begin
local raw_query = common.raw_query
local unescape = common.unescape
local next_id = common.next_id
local send_empty = common.send_empty

local M = {}

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

return M
