-- spec/support/stub/slack.lua -- Slack incoming webhook: POST /services/<T>/<B>/<token>
-- (a stand-in of the loopback test server: spec/support/stub.lua, nginx.conf).

local cjson = require("cjson.safe")
local common = require("stub.common")
local begin = common.begin
local send_text = common.send_text
local header = common.header

local M = {}

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

return M
