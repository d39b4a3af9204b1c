-- spec/support/stub/discord.lua -- Discord webhook: POST /api/webhooks/<id>/<token>[?wait=true]
-- (a stand-in of the loopback test server: spec/support/stub.lua, nginx.conf).

local cjson = require("cjson.safe")
local common = require("stub.common")
local send_json = common.send_json
local jstr = common.jstr
local first = common.first
local begin = common.begin
local raw_query = common.raw_query
local unescape = common.unescape
local next_id = common.next_id
local send_empty = common.send_empty
local utf8_len = common.utf8_len
local header = common.header

local M = {}

---------------------------------------------------------------------------------------------
-- Discord webhook: POST /api/webhooks/<id>/<token>[?wait=true]
---------------------------------------------------------------------------------------------

local function discord_form_error(field, code, message)
  return send_json(400, '{"code":50035,"errors":{"' .. field .. '":{"_errors":[{"code":"'
    .. code .. '","message":' .. jstr(message) .. '}]}},"message":"Invalid Form Body"}')
end

-- Characters an embed counts towards Discord's 6000 for all embeds of a message.
local function embed_chars(e)
  if type(e) ~= "table" then return 0 end
  local n = 0
  local function add(v) if type(v) == "string" then n = n + utf8_len(v) end end
  add(e.title)
  add(e.description)
  if type(e.footer) == "table" then add(e.footer.text) end
  if type(e.author) == "table" then add(e.author.name) end
  if type(e.fields) == "table" then
    for _, f in ipairs(e.fields) do
      if type(f) == "table" then add(f.name) add(f.value) end
    end
  end
  return n
end

--   404 {"code":10015,"message":"Unknown Webhook"}        malformed path, or id "unknown"
--   401 {"code":50027,"message":"Invalid Webhook Token"}  token "invalid"
--   400 {"code":50109,...}  JSON content type but the body is not a JSON object
--   400 {"code":50035,...}  content over 2000 characters, over 10 embeds, embeds over 6000
--   400 {"code":50006,...}  neither content nor embeds
--   204 (no body); with ?wait=true 200 and the message object.
-- A body that is application/x-www-form-urlencoded is read as form fields (Discord takes it).
function M.discord()
  local body = begin()
  local id, token = ngx.var.uri:match("^/api/webhooks/([^/]+)/([^/]+)/?$")
  if not id or id == "unknown" then
    return send_json(404, '{"message":"Unknown Webhook","code":10015}')
  end
  if token == "invalid" then
    return send_json(401, '{"message":"Invalid Webhook Token","code":50027}')
  end

  local msg
  local ct = (header("content-type") or ""):lower()
  if ct:find("application/x-www-form-urlencoded", 1, true) then
    msg = ngx.decode_args(body, 0)
    for k, v in pairs(msg) do msg[k] = first(v) end
  else
    msg = cjson.decode(body)
    if type(msg) ~= "table" or (msg[1] ~= nil) then
      return send_json(400, '{"message":"The request body contains invalid JSON.","code":50109}')
    end
  end

  local content = msg.content
  if content == cjson.null then content = nil end
  if content ~= nil and type(content) ~= "string" then content = tostring(content) end
  if content and utf8_len(content) > 2000 then
    return discord_form_error("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
  end
  local embeds = msg.embeds
  if embeds == cjson.null then embeds = nil end
  if embeds ~= nil then
    if type(embeds) ~= "table" then
      return discord_form_error("embeds", "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType.")
    end
    if #embeds > 10 then
      return discord_form_error("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    end
    local total = 0
    for _, e in ipairs(embeds) do total = total + embed_chars(e) end
    if total > 6000 then
      return discord_form_error("embeds", "MAX_EMBED_SIZE_EXCEEDED",
        "Embed size exceeds maximum size of 6000")
    end
  end
  if (content == nil or content == "") and (embeds == nil or #embeds == 0) then
    return send_json(400, '{"message":"Cannot send an empty message","code":50006}')
  end

  local wait = unescape(raw_query().wait)
  if wait and (wait:lower() == "true" or wait == "1") then
    local n = next_id("discord")
    local username = type(msg.username) == "string" and msg.username or "notifyhub-test"
    local parts = {
      '"id":"12000000000' .. string.format("%08d", n) .. '"',
      '"type":0',
      '"content":' .. jstr(content or ""),
      '"channel_id":"1100000000000000001"',
      '"author":{"id":' .. cjson.encode(id) .. ',"username":' .. cjson.encode(username)
        .. ',"discriminator":"0000","bot":true}',
      '"embeds":' .. ((embeds and #embeds > 0) and cjson.encode(embeds) or "[]"),
      '"attachments":[]',
      '"mentions":[]',
      '"timestamp":"' .. os.date("!%Y-%m-%dT%H:%M:%S", ngx.time()) .. '.000000+00:00"',
      '"webhook_id":' .. cjson.encode(id),
    }
    return send_json(200, "{" .. table.concat(parts, ",") .. "}")
  end
  return send_empty(204)
end

return M
