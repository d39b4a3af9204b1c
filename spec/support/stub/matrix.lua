-- spec/support/stub/matrix.lua -- Matrix client-server API:
-- PUT /_matrix/client/v3/rooms/<roomId>/send/<eventType>/<txnId>
-- (a stand-in of the loopback test server: spec/support/stub.lua, nginx.conf).
-- From the spec (spec.matrix.org, client-server API): access token in
-- "Authorization: Bearer", errors {"errcode","error"}, a transaction id
-- scoped to the access token (a repeat answers the same event_id), events
-- at most 65536 bytes, 429 M_LIMIT_EXCEEDED with retry_after_ms.

local cjson = require("cjson.safe")
local common = require("stub.common")
local send_json = common.send_json
local jstr = common.jstr
local begin = common.begin
local header = common.header
local next_id = common.next_id
local platforms = common.platforms

local M = {}

local function matrix_error(status, errcode, message)
  return send_json(status, '{"errcode":"' .. errcode .. '","error":' .. jstr(message) .. '}')
end

--   401 M_MISSING_TOKEN   no Authorization: Bearer
--   401 M_UNKNOWN_TOKEN   token "bad"
--   405 M_UNRECOGNIZED    a method other than PUT, or another path
--   400 M_INVALID_PARAM   a room that is not a room id ("!opaque:server"; an alias is "#...")
--   403 M_FORBIDDEN       room "!forbidden:example.org" (the user is not in it)
--   400 M_NOT_JSON        body not a JSON object
--   400 M_BAD_JSON        m.room.message without a string msgtype and body
--   413 M_TOO_LARGE       event content over 65536 bytes
--   200 {"event_id":"$..."}; the same token + room + txnId again: the same event_id
function M.matrix()
  local body = begin()
  local room, etype, txn = ngx.var.uri:match("^/_matrix/client/v3/rooms/([^/]+)/send/([^/]+)/([^/]+)$")
  if not room or ngx.req.get_method() ~= "PUT" then
    return matrix_error(405, "M_UNRECOGNIZED", "Unrecognized request")
  end
  local auth = header("authorization") or ""
  local token = auth:match("^Bearer (.+)$")
  if not token then return matrix_error(401, "M_MISSING_TOKEN", "Missing access token") end
  if token == "bad" then return matrix_error(401, "M_UNKNOWN_TOKEN", "Invalid access token passed.") end
  room = ngx.unescape_uri(room)
  if not room:match("^![^:]+:.+$") then
    return matrix_error(400, "M_INVALID_PARAM", "'" .. room .. "' is not a valid room ID")
  end
  if room:match("^!forbidden:") then
    return matrix_error(403, "M_FORBIDDEN", "User @notifyhub:example.org not in room " .. room)
  end
  local content = cjson.decode(body)
  if type(content) ~= "table" or content[1] ~= nil then
    return matrix_error(400, "M_NOT_JSON", "Content not JSON.")
  end
  if #body > 65536 then return matrix_error(413, "M_TOO_LARGE", "event too large") end
  if etype == "m.room.message" and (type(content.msgtype) ~= "string" or type(content.body) ~= "string") then
    return matrix_error(400, "M_BAD_JSON", "m.room.message needs a string msgtype and body")
  end
  local key = "matrix:txn:" .. ngx.md5(token) .. ":" .. room .. ":" .. ngx.unescape_uri(txn)
  local event = platforms:get(key)
  if not event then
    event = "$" .. next_id("matrix") .. "notifyhubtestevent"
    platforms:set(key, event)
  end
  return send_json(200, '{"event_id":' .. jstr(event) .. '}')
end

return M
