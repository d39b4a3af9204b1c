-- spec/support/stub/pushover.lua -- Pushover: POST /1/messages.json
-- (a stand-in of the loopback test server: spec/support/stub.lua, nginx.conf).
--
-- Built from Pushover's API docs (pushover.net/api): form fields token and user (30
-- characters of [A-Za-z0-9] each), message (required, at most 1024 characters), title (at
-- most 250), priority -2..2 (2 needs retry >= 30 and expire <= 10800), url (at most 512),
-- html=1. Success: 200 {"status":1,"request":"<uuid>"} (priority 2 adds "receipt") with the
-- X-Limit-App-* headers; a refusal: 4xx {"status":0,"errors":[...],"request":...} (and the
-- field that was wrong: "token":"invalid"). The user "uQuotaSpentuQuotaSpentuQuotaSp" stands
-- for an application past its monthly quota: 429.

local cjson = require("cjson.safe")
local common = require("stub.common")
local send_json = common.send_json
local begin = common.begin
local next_id = common.next_id
local utf8_len = common.utf8_len

local M = {}

local QUOTA_SPENT = "uQuotaSpentuQuotaSpentuQuotaSp"

local function request_id()
  return ("5042853c-%04d-4d3c-9b4d-6d3b2d0a1f00"):format(next_id("pushover") % 10000)
end

local function fail(status, errors, field)
  local out = { status = 0, errors = errors, request = request_id() }
  if field then out[field] = "invalid" end
  return send_json(status, cjson.encode(out))
end

local function key_ok(v) return type(v) == "string" and #v == 30 and v:match("^%w+$") ~= nil end

-- The first thing wrong with the fields, as Pushover words it, or nil.
local function check(f)
  local p = tonumber(f.priority or "0")
  if not p or p ~= math.floor(p) or p < -2 or p > 2 then return { "priority is invalid" } end
  if type(f.message) ~= "string" or f.message == "" then return { "message cannot be blank" }, "message" end
  if utf8_len(f.message) > 1024 then return { "message is too long" }, "message" end
  if f.title and utf8_len(f.title) > 250 then return { "title is too long" }, "title" end
  if f.url and #f.url > 512 then return { "url is too long" }, "url" end
  if p == 2 then
    local retry, expire = tonumber(f.retry or ""), tonumber(f.expire or "")
    if not retry or retry < 30 then return { "retry must be at least 30 seconds" }, "retry" end
    if not expire or expire > 10800 then return { "expire must be at most 10800 seconds" }, "expire" end
  end
end

function M.pushover()
  local body = begin()
  local ct = (common.header("content-type") or ""):lower()
  if not ct:find("application/x-www-form-urlencoded", 1, true) then
    return fail(400, { "message cannot be blank" }, "message")
  end
  local f = ngx.decode_args(body, 0)
  for k, v in pairs(f) do f[k] = common.first(v) end
  if not key_ok(f.token) then return fail(400, { "application token is invalid" }, "token") end
  if not key_ok(f.user) then
    return fail(400, { "user identifier is not a valid user, group, or subscribed user key" }, "user")
  end
  if f.user == QUOTA_SPENT then
    return fail(429, { "application has exceeded its monthly message limit" })
  end
  local errors, field = check(f)
  if errors then return fail(400, errors, field) end
  ngx.header["X-Limit-App-Limit"] = "10000"
  ngx.header["X-Limit-App-Remaining"] = "7496"
  ngx.header["X-Limit-App-Reset"] = "1393653600"
  local out = { status = 1, request = request_id() }
  if f.priority == "2" then out.receipt = "rLqVuqTRh62UzxtmqiaLzQmVcPgiCy" end
  return send_json(200, cjson.encode(out))
end

return M
