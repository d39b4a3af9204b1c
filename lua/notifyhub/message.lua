--- Messages: checks a message table and resolves its targets against the
-- client's configuration into the flat record the core copies.
--
-- Wrong types raise (with the `luaL_argerror` wording); a message that is
-- well typed but cannot be sent returns `nil, err, "INVALID_MESSAGE"`.
-- @module notifyhub.message

local target = require("notifyhub.target")

local M = {}

local FORMATS = { text = true, markdown = true, html = true }
local PRIORITIES = { low = 0, normal = 1, high = 2, urgent = 3 }
local MAX_ID_LEN = 128                  -- NH_MAX_ID_LEN in csrc/nh_core.h

local FIELD_TYPES = {
  id = "string", title = "string", body = "string", format = "string",
  priority = "string", targets = "table", variables = "table",
  metadata = "table", platform_data = "table", timeout = "number", retry = "table",
}

local RETRY_KEYS = { max_attempts = true, initial_delay = true, max_delay = true,
  multiplier = true, max_elapsed = true }

local function type_error(fname, field, expected, got)
  error(("bad argument #1 to '%s' (%s: %s expected, got %s)")
    :format(fname, field, expected, type(got)), 4)
end

local function invalid(fmt, ...)
  return nil, fmt:format(...), "INVALID_MESSAGE"
end

--- What a client keeps to resolve targets: its platforms and the targets of
-- a message that names none.
function M.defaults(cfg)
  return { platforms = cfg.platforms, implicit = target.implicit(cfg.platforms), retry = cfg.retry,
    cache = { records = {}, size = 0 } }
end

-- {{name}} substitution; an unknown name is an error, not an empty string.
local function render(text, vars, field)
  if not text or not vars then return text end
  local missing
  local out = text:gsub("{{%s*([%w_%.%-]+)%s*}}", function(name)
    local v = vars[name]
    if v == nil then missing = missing or name; return "" end
    return tostring(v)
  end)
  if missing then return nil, ("%s: unknown variable '%s'"):format(field, missing) end
  return out
end

local ATTACHMENT_KEYS = { filename = "string", content = "string", path = "string",
  content_type = "string" }

-- platform_data.email.attachments leave platform_data (which is JSON and
-- cannot carry bytes) for the record's own `attachments`: content is
-- copied with its length, NUL bytes and all. Returns the list and
-- platform_data without them, or nil and why.
local function take_attachments(pd)
  local email = pd and pd.email
  local list = type(email) == "table" and email.attachments
  if list == nil or list == false then return nil, pd end
  local where = "platform_data.email.attachments"
  if type(list) ~= "table" then return nil, nil, where .. ": an array of tables expected" end
  for k in pairs(list) do
    if type(k) ~= "number" or k ~= math.floor(k) or k < 1 or k > #list then
      return nil, nil, where .. ": an array of tables expected"
    end
  end
  for i, a in ipairs(list) do
    local at = ("%s[%d]"):format(where, i)
    if type(a) ~= "table" then return nil, nil, at .. ": a table expected" end
    for k, v in pairs(a) do
      if not ATTACHMENT_KEYS[k] then
        return nil, nil, ("%s: unknown key '%s' (filename, content or path, content_type)"):format(at, tostring(k))
      end
      if type(v) ~= ATTACHMENT_KEYS[k] then return nil, nil, ("%s.%s: a string expected"):format(at, k) end
    end
    if a.filename == nil or a.filename == "" or a.filename:find("%z") then
      return nil, nil, at .. ".filename: a non-empty string without NUL bytes expected"
    end
    if (a.content == nil) == (a.path == nil) then
      return nil, nil, at .. ": exactly one of content and path expected"
    end
    if (a.path and a.path:find("%z")) or (a.content_type and a.content_type:find("%z")) then
      return nil, nil, at .. ": a NUL byte in path or content_type"
    end
  end
  local rest, mail = {}, {}
  for k, v in pairs(pd) do rest[k] = v end
  for k, v in pairs(email) do if k ~= "attachments" then mail[k] = v end end
  rest.email = mail
  return list, rest
end

--- Checks msg and builds the core record.
-- @tparam table msg the user's message
-- @tparam table defaults from `M.defaults(cfg)`
-- @tparam string fname the calling function's name, for error messages
-- @treturn table|nil the record, or nil, err, "INVALID_MESSAGE"
-- @raise when msg or one of its fields has the wrong type
local OPTION_KEYS = { timeout = true, retry = true, priority = true }

function M.build(msg, defaults, fname, opts)
  if type(msg) ~= "table" then
    error(("bad argument #1 to '%s' (table expected, got %s)"):format(fname, type(msg)), 3)
  end
  if opts ~= nil then
    if type(opts) ~= "table" then
      error(("bad argument #2 to '%s' (table expected, got %s)"):format(fname, type(opts)), 3)
    end
    local merged = {}
    for k, v in pairs(msg) do merged[k] = v end
    for k, v in pairs(opts) do
      if not OPTION_KEYS[k] then return invalid("unknown option '%s' (timeout, retry, priority)", tostring(k)) end
      merged[k] = v
    end
    msg = merged
  end
  for k, v in pairs(msg) do
    local want = FIELD_TYPES[k]
    if not want then return invalid("unknown message field '%s'", tostring(k)) end
    if type(v) ~= want then type_error(fname, "message." .. k, want, v) end
  end
  if (msg.title == nil or msg.title == "") and (msg.body == nil or msg.body == "") then
    return invalid("the message has neither a title nor a body")
  end
  -- The id goes into headers (webhook-id, Message-ID) and logs: the core
  -- refuses anything else too; this says so before any work is done.
  if msg.id and (#msg.id < 1 or #msg.id > MAX_ID_LEN or msg.id:find("[^\33-\126]")) then
    return invalid("id: 1 to %d printable ASCII characters without spaces expected", MAX_ID_LEN)
  end
  if msg.format and not FORMATS[msg.format] then
    return invalid("format '%s' is not one of text, markdown, html", msg.format)
  end
  local priority = PRIORITIES[msg.priority or "normal"]
  if not priority then
    return invalid("priority '%s' is not one of low, normal, high, urgent", msg.priority)
  end
  local title, err = render(msg.title, msg.variables, "title")
  if err then return invalid("%s", err) end
  local body
  body, err = render(msg.body, msg.variables, "body")
  if err then return invalid("%s", err) end
  -- after {{variables}}, which count too
  local nul = title and title:find("\0", 1, true) and "title" or body and body:find("\0", 1, true) and "body"
  if nul then
    return invalid("%s: a NUL byte, which no service takes (the text would be cut there)", nul)
  end
  local targets = defaults.implicit
  if msg.targets then
    targets = {}
    local n = #msg.targets
    if n == 0 then return invalid("targets is empty") end
    for i = 1, n do
      local t = msg.targets[i]
      if type(t) ~= "table" and type(t) ~= "string" then
        type_error(fname, ("targets[%d]"):format(i), "table or string", t)
      end
      local rec, err = target.resolve(defaults.platforms, t, defaults.cache)
      if not rec then return invalid("targets[%d]: %s", i, err) end
      targets[i] = rec
    end
  elseif not targets then
    local count = 0
    for _ in pairs(defaults.platforms) do count = count + 1 end
    return invalid("the message names no targets and the client has %s platforms configured",
      count == 0 and "no" or "several")
  end
  for i, t in ipairs(targets) do
    if t.platform == "email" and title and title:find("[\r\n]") then
      return invalid("targets[%d]: CR or LF in the title, which is an e-mail subject", i)
    end
  end
  if msg.timeout and not (msg.timeout > 0) then
    return invalid("timeout must be a number of seconds > 0, got %s", tostring(msg.timeout))
  end
  local retry = defaults.retry
  if msg.retry then
    retry = {}
    for k, v in pairs(defaults.retry) do retry[k] = v end
    for k, v in pairs(msg.retry) do
      if not RETRY_KEYS[k] then return invalid("retry: unknown key '%s'", tostring(k)) end
      if type(v) ~= "number" or v < 0 then return invalid("retry.%s: a number >= 0 expected", k) end
      retry[k] = v
    end
    if retry.max_attempts < 1 then return invalid("retry.max_attempts: at least 1") end
  end
  local attachments, platform_data, aerr = take_attachments(msg.platform_data)
  if aerr then return invalid("%s", aerr) end
  return {
    timeout = msg.timeout, retry = retry,
    id = msg.id, title = title, body = body, format = msg.format or "text",
    priority = priority, metadata = msg.metadata, platform_data = platform_data,
    targets = targets, attachments = attachments,
  }
end

return M
