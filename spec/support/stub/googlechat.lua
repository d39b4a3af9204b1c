-- spec/support/stub/googlechat.lua -- Google Chat incoming webhook:
-- POST /v1/spaces/<space>/messages?key=<key>&token=<token>[&threadKey=..&messageReplyOption=..]
-- (a stand-in of the loopback test server: spec/support/stub.lua, nginx.conf).
--
-- Built from Google's Chat docs (developers.google.com/workspace/chat: quickstart/webhooks,
-- format-messages, limits): JSON {text} (at most 4096 characters) or cardsV2; one message per
-- second per space, past it 429 RESOURCE_EXHAUSTED; errors are Google's
-- {"error":{"code","message","status"}}. 200 with the message {name, sender, text, thread,
-- space, createTime}. A missing key is 403 PERMISSION_DENIED; the token "invalid" 401
-- UNAUTHENTICATED. requestId (spaces.messages.create's query parameter): a request ID the
-- space has seen returns the message made with it instead of a new one.

local cjson = require("cjson.safe")
local common = require("stub.common")
local send_json = common.send_json
local begin = common.begin
local utf8_len = common.utf8_len
local unescape = common.unescape

local M = {}

local MAX_TEXT = 4096
local MIN_GAP = 0.9   -- one a second, with some room for the loopback's jitter

local function fail(code, status, message)
  return send_json(code, cjson.encode({ error = { code = code, message = message, status = status } }))
end

-- True when this space sent a message less than a second ago.
local function too_soon(space)
  local dict, key = common.platforms, "googlechat:last:" .. space
  ngx.update_time()
  local now, last = ngx.now(), dict:get(key)
  dict:set(key, now)
  return last ~= nil and now - last < MIN_GAP
end

function M.googlechat()
  local body = begin()
  local space = ngx.var.uri:match("^/v1/spaces/([^/]+)/messages$")
  if not space then return fail(404, "NOT_FOUND", "Requested entity was not found.") end
  local q = common.raw_query()
  if not q.key or q.key == "" then
    return fail(403, "PERMISSION_DENIED", "The request is missing a valid API key.")
  end
  if unescape(q.token) == "invalid" or not q.token then
    return fail(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
  end
  local msg = cjson.decode(body)
  if type(msg) ~= "table" then
    return fail(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
  end
  local text = type(msg.text) == "string" and msg.text or ""
  if text == "" and type(msg.cardsV2) ~= "table" then
    return fail(400, "INVALID_ARGUMENT", "Message cannot be empty. Discarding empty create message request.")
  end
  if utf8_len(text) > MAX_TEXT then
    return fail(400, "INVALID_ARGUMENT", "Invalid message: text exceeds 4096 characters.")
  end
  local request = unescape(q.requestId)
  local seen = request and common.platforms:get(("googlechat:req:%s:%s"):format(space, request))
  if seen then return send_json(200, seen) end
  if too_soon(space) then
    return fail(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).")
  end
  local thread = unescape(q.threadKey) or ("t" .. common.next_id("googlechat"))
  local out = {
    name = ("spaces/%s/messages/m%d"):format(space, common.next_id("googlechat")),
    sender = { name = "users/114022495153014004089", type = "BOT", displayName = "notifyhub" },
    text = text, space = { name = "spaces/" .. space, type = "ROOM" },
    thread = { name = ("spaces/%s/threads/%s"):format(space, ngx.md5(thread):sub(1, 11)) },
    createTime = os.date("!%Y-%m-%dT%H:%M:%S.000000Z"),
  }
  local json = cjson.encode(out)
  if request then common.platforms:set(("googlechat:req:%s:%s"):format(space, request), json) end
  return send_json(200, json)
end

return M
