-- spec/support/stub/gotify.lua -- Gotify: POST /gotify/message (the server's base URL is
-- .../gotify) (a stand-in of the loopback test server: spec/support/stub.lua, nginx.conf).
--
-- Built from Gotify's API docs (gotify.net/docs, the swagger spec of /message): the
-- application token in X-Gotify-Key, ?token= or "Authorization: Bearer"; application tokens
-- start with "A" (a client token, "C...", cannot push). JSON {title, message (required),
-- priority, extras}. 200 with the stored message {id, appid, message, title, priority,
-- extras, date}; errors {"error","errorCode","errorDescription"}.

local cjson = require("cjson.safe")
local common = require("stub.common")
local send_json = common.send_json
local begin = common.begin
local header = common.header
local next_id = common.next_id

local M = {}

local function fail(status, error, description)
  return send_json(status, cjson.encode({ error = error, errorCode = status,
    errorDescription = description }))
end

local function token()
  local t = header("x-gotify-key") or common.first(ngx.req.get_uri_args(0).token)
  if not t then t = (header("authorization") or ""):match("^Bearer%s+(.+)$") end
  return t
end

function M.gotify()
  local body = begin()
  if ngx.var.uri ~= "/gotify/message" or ngx.req.get_method() ~= "POST" then
    return fail(404, "Not Found", "page not found")
  end
  local t = token()
  if type(t) ~= "string" or not t:match("^A[%w%.%-_]+$") then
    return fail(401, "Unauthorized",
      "you need to provide a valid access token or user credentials to access this api")
  end
  local msg = cjson.decode(body)
  if type(msg) ~= "table" then return fail(400, "Bad Request", "invalid JSON") end
  if type(msg.message) ~= "string" or msg.message == "" then
    return fail(400, "Bad Request", "Field 'message' is required")
  end
  if msg.priority ~= nil and (type(msg.priority) ~= "number" or msg.priority ~= math.floor(msg.priority)) then
    return fail(400, "Bad Request", "Field 'priority' must be an integer")
  end
  local out = { id = next_id("gotify"), appid = 1, message = msg.message, title = msg.title or "app",
    priority = msg.priority or 0, extras = msg.extras, date = os.date("!%Y-%m-%dT%H:%M:%SZ") }
  return send_json(200, cjson.encode(out))
end

return M
