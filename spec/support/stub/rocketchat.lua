-- spec/support/stub/rocketchat.lua -- Rocket.Chat incoming webhook: POST
-- /rc/hooks/<integrationId>/<token> (the server's base URL is .../rc)
-- (a stand-in of the loopback test server: spec/support/stub.lua, nginx.conf).
--
-- Built from Rocket.Chat's integration docs and its server's answers: JSON {text, alias,
-- emoji, avatar, channel, attachments: [{title, text, color, ...}]}; {"success":true}, or
-- {"success":false,"error":...}: an unknown id or token 404 "Invalid integration id or token
-- provided.", text over Message_MaxAllowedSize (5000 characters) 400
-- "error-message-size-exceeded". The API rate limiter (on by default, hooks included) allows
-- 10 calls a minute per hook; past it 429 [error-too-many-requests].

local cjson = require("cjson.safe")
local common = require("stub.common")
local send_json = common.send_json
local begin = common.begin
local utf8_len = common.utf8_len

local M = {}

local MAX_SIZE = 5000
local CALLS, WINDOW = 10, 60

local function fail(status, error)
  return send_json(status, cjson.encode({ success = false, error = error }))
end

-- The limiter's count of this hook's calls in the current window.
local function calls(id)
  local window = math.floor(ngx.now() / WINDOW)
  return common.platforms:incr(("rocketchat:%s:%d"):format(id, window), 1, 0, WINDOW * 2)
end

function M.rocketchat()
  local body = begin()
  local id, token = ngx.var.uri:match("^/rc/hooks/([^/]+)/([^/]+)$")
  if not id or id == "unknown" or token == "invalid" then
    return fail(404, "Invalid integration id or token provided.")
  end
  local n = calls(id)
  if n and n > CALLS then
    ngx.header["X-RateLimit-Limit"] = tostring(CALLS)
    ngx.header["X-RateLimit-Remaining"] = "0"
    return fail(429, "Error, too many requests. Please slow down. You must wait "
      .. (WINDOW - math.floor(ngx.now()) % WINDOW) .. " seconds before trying this endpoint again."
      .. " [error-too-many-requests]")
  end
  local msg = cjson.decode(body)
  if type(msg) ~= "table" then return fail(400, "Unexpected token in JSON") end
  if type(msg.text) == "string" and utf8_len(msg.text) > MAX_SIZE then
    return fail(400, "Message size exceeds Message_MaxAllowedSize [error-message-size-exceeded]")
  end
  return send_json(200, '{"success":true}')
end

return M
