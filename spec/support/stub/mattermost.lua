-- spec/support/stub/mattermost.lua -- Mattermost incoming webhook: POST
-- /mm/hooks/<key> (the server's base URL is .../mm)
-- (a stand-in of the loopback test server: spec/support/stub.lua, nginx.conf).
--
-- Built from Mattermost's docs (developers.mattermost.com/integrate/webhooks/incoming) and
-- its server's answers: a key is 26 characters of [a-z0-9]; JSON {text, channel, username,
-- icon_url, icon_emoji, attachments, props}; text or attachments required. 200 "ok"
-- (text/plain); errors are AppErrors {"id","message","detailed_error","request_id",
-- "status_code"}: an unknown key web.incoming_webhook.invalid.app_error (400), a body that is
-- not JSON web.incoming_webhook.parse.app_error (400), no text web.incoming_webhook.text.app_error
-- (400). The key "disabled00000000000000000a" answers as a server with webhooks turned off (501).

local cjson = require("cjson.safe")
local common = require("stub.common")
local send_json = common.send_json
local send_text = common.send_text
local begin = common.begin

local M = {}

local function app_error(status, id, message)
  return send_json(status, cjson.encode({ id = id, message = message, detailed_error = "",
    request_id = "k1dk5sw5ubfaxgwdcoa5y1upxc", status_code = status }))
end

function M.mattermost()
  local body = begin()
  local key = ngx.var.uri:match("^/mm/hooks/([^/]+)$")
  if key == "disabled00000000000000000a" then
    return app_error(501, "web.incoming_webhook.disabled.app_error",
      "Incoming webhooks have been disabled by the system admin.")
  end
  if not key or #key ~= 26 or not key:match("^[a-z0-9]+$") or key:match("^unknown") then
    return app_error(400, "web.incoming_webhook.invalid.app_error", "Invalid webhook.")
  end
  local msg = cjson.decode(body)
  if type(msg) ~= "table" then
    return app_error(400, "web.incoming_webhook.parse.app_error", "Unable to parse incoming data.")
  end
  local has_text = type(msg.text) == "string" and msg.text ~= ""
  local has_attachments = type(msg.attachments) == "table" and #msg.attachments > 0
  if not has_text and not has_attachments then
    return app_error(400, "web.incoming_webhook.text.app_error", "No text specified.")
  end
  return send_text(200, "ok")
end

return M
