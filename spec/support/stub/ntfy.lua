-- spec/support/stub/ntfy.lua -- ntfy: POST /ntfy/<topic> (the server's base URL is .../ntfy)
-- (a stand-in of the loopback test server: spec/support/stub.lua, nginx.conf).
--
-- Built from ntfy's publishing docs (docs.ntfy.sh/publish): the body is the message; every
-- parameter comes from its X- header, its plain header or the query (title/t, priority/p,
-- tags/ta, markdown/md, click, icon); priority is 1-5 or min/low/default/high/urgent/max.
-- Auth (docs.ntfy.sh/publish/#authentication): the topic "protected" takes only
-- "Authorization: Bearer tk_goodtoken" or Basic phil:mypass (401 for other credentials, 403
-- for none). Answers: 200 with the message as JSON; errors {"code","http","error","link"}.

local cjson = require("cjson.safe")
local common = require("stub.common")
local send_json = common.send_json
local begin = common.begin
local header = common.header
local next_id = common.next_id

local M = {}

local MAX_MESSAGE = 4096    -- message-size-limit: longer bodies would become attachments
local PRIORITIES = { min = 1, low = 2, default = 3, high = 4, urgent = 5, max = 5 }

local function fail(http, code, text)
  return send_json(http, cjson.encode({ code = code, http = http, error = text,
    link = "https://ntfy.sh/docs/publish/" }))
end

-- A parameter as ntfy's readParam reads it: headers first, then the query.
local function param(args, ...)
  for _, name in ipairs({ ... }) do
    local v = header(name)
    if v and v ~= "" then return v end
  end
  for _, name in ipairs({ ... }) do
    local v = common.first(args[name])
    if type(v) == "string" and v ~= "" then return v end
  end
end

local function authorized(topic)
  if topic ~= "protected" then return true end
  local auth = header("authorization")
  if not auth then return false, 403 end
  if auth == "Bearer tk_goodtoken" or auth == "Basic " .. ngx.encode_base64("phil:mypass") then
    return true
  end
  return false, 401
end

function M.ntfy()
  local body = begin()
  local topic = ngx.var.uri:match("^/ntfy/([^/]+)$")
  if not topic or not topic:match("^[%w_%-]+$") or #topic > 64 then
    return fail(400, 40009, "invalid request: topic invalid")
  end
  local ok, status = authorized(topic)
  if not ok then
    return status == 401 and fail(401, 40101, "unauthorized") or fail(403, 40301, "forbidden")
  end
  if #body > MAX_MESSAGE then return fail(413, 41301, "request entity too large") end
  local args = ngx.req.get_uri_args(0)
  local prio = param(args, "x-priority", "priority", "prio", "p")
  local priority = prio and (tonumber(prio) or PRIORITIES[prio:lower()]) or 3
  if priority ~= math.floor(priority) or priority < 1 or priority > 5 then
    return fail(400, 40007, "invalid request: priority invalid")
  end
  local msg = { id = ("m%011d"):format(next_id("ntfy")), time = ngx.time(), event = "message",
    topic = topic, message = body ~= "" and body or "triggered",
    title = param(args, "x-title", "title", "t"),
    click = param(args, "x-click", "click"), icon = param(args, "x-icon", "icon") }
  if priority ~= 3 then msg.priority = priority end
  local tags = param(args, "x-tags", "tags", "tag", "ta")
  if tags then
    msg.tags = {}
    for tag in tags:gmatch("[^,]+") do msg.tags[#msg.tags + 1] = tag:match("^%s*(.-)%s*$") end
  end
  local md = param(args, "x-markdown", "markdown", "md")
  if md and (md == "yes" or md == "true" or md == "1") then msg.content_type = "text/markdown" end
  msg.expires = msg.time + 43200
  return send_json(200, cjson.encode(msg))
end

return M
