--- Messages: checks a message table and resolves its targets against the
-- client's configuration into the flat record the core copies.
--
-- Wrong types raise (with the `luaL_argerror` wording); a message that is
-- well typed but cannot be sent returns `nil, err, "INVALID_MESSAGE"`.
-- @module notifyhub.message

local util = require("notifyhub.util")

local M = {}

local FORMATS = { text = true, markdown = true, html = true }
local PRIORITIES = { low = 0, normal = 1, high = 2, urgent = 3 }

local FIELD_TYPES = {
  id = "string", title = "string", body = "string", format = "string",
  priority = "string", targets = "table", variables = "table",
  metadata = "table", platform_data = "table",
}

local TARGET_KEYS = {
  platform = "string", value = "string", secret = "string",
  keywords = "table", method = "string", headers = "table",
}

local function type_error(fname, field, expected, got)
  error(("bad argument #1 to '%s' (%s: %s expected, got %s)")
    :format(fname, field, expected, type(got)), 4)
end

local function invalid(fmt, ...)
  return nil, fmt:format(...), "INVALID_MESSAGE"
end

--- "Name: value" lines from a header table, sorted by name.
function M.header_lines(headers)
  local names, lines = {}, {}
  for name in pairs(headers or {}) do names[#names + 1] = name end
  table.sort(names)
  for i, name in ipairs(names) do lines[i] = name .. ": " .. headers[name] end
  return lines
end

--- The targets a client sends to when a message names none, and the
-- platform defaults a named target starts from.
function M.defaults(cfg)
  local d = {}
  if cfg.feishu then
    d.feishu = {
      platform = "feishu", url = cfg.feishu.webhook_url,
      label = util.redact_url(cfg.feishu.webhook_url),
      secret = cfg.feishu.secret, keywords = cfg.feishu.keywords,
    }
  end
  if cfg.webhook then
    d.webhook = {
      platform = "webhook", url = cfg.webhook.url, label = util.redact_url(cfg.webhook.url),
      method = cfg.webhook.method, headers = M.header_lines(cfg.webhook.headers),
    }
  end
  local only, count = nil, 0
  for _, t in pairs(d) do only, count = t, count + 1 end
  d.implicit = count == 1 and { only } or nil
  return d
end

local function resolve_target(defaults, t, i, fname)
  if type(t) ~= "table" then type_error(fname, ("targets[%d]"):format(i), "table", t) end
  for k, v in pairs(t) do
    if not TARGET_KEYS[k] then return invalid("targets[%d]: unknown key '%s'", i, tostring(k)) end
    if type(v) ~= TARGET_KEYS[k] then
      type_error(fname, ("targets[%d].%s"):format(i, k), TARGET_KEYS[k], v)
    end
  end
  local platform = t.platform
  if platform ~= "feishu" and platform ~= "webhook" then
    return invalid("targets[%d]: unknown platform '%s' (feishu, webhook)", i, tostring(platform))
  end
  local base = defaults[platform]
  if not t.value and not t.secret and not t.method and not t.headers and not t.keywords then
    if base then return base end
  end
  local url = t.value or (base and base.url)
  if not url then
    return invalid("targets[%d]: %s is not configured and the target has no value", i, platform)
  end
  if not util.is_http_url(url) then
    return invalid("targets[%d]: value is not an http(s) URL (scheme '%s')",
      i, util.scheme_of(url) or "none")
  end
  local headers = base and base.headers
  if t.headers then
    for name, v in pairs(t.headers) do
      if type(name) ~= "string" or type(v) ~= "string" then
        type_error(fname, ("targets[%d].headers"):format(i), "table of strings", v)
      end
      if not util.is_header_safe(name) or not util.is_header_safe(v) then
        return invalid("targets[%d].headers: CR, LF or NUL in header '%s'", i, name:gsub("[%c]", "?"))
      end
    end
    headers = M.header_lines(t.headers)
  end
  return {
    platform = platform, url = url, label = util.redact_url(url),
    secret = t.secret or (base and base.secret),
    keywords = t.keywords or (base and base.keywords),
    method = t.method or (base and base.method), headers = headers,
  }
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

--- Checks msg and builds the core record.
-- @tparam table msg the user's message
-- @tparam table defaults from `M.defaults(cfg)`
-- @tparam string fname the calling function's name, for error messages
-- @treturn table|nil the record, or nil, err, "INVALID_MESSAGE"
-- @raise when msg or one of its fields has the wrong type
function M.build(msg, defaults, fname)
  if type(msg) ~= "table" then
    error(("bad argument #1 to '%s' (table expected, got %s)"):format(fname, type(msg)), 3)
  end
  for k, v in pairs(msg) do
    local want = FIELD_TYPES[k]
    if not want then return invalid("unknown message field '%s'", tostring(k)) end
    if type(v) ~= want then type_error(fname, "message." .. k, want, v) end
  end
  if (msg.title == nil or msg.title == "") and (msg.body == nil or msg.body == "") then
    return invalid("the message has neither a title nor a body")
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
  local targets = defaults.implicit
  if msg.targets then
    targets = {}
    local n = #msg.targets
    if n == 0 then return invalid("targets is empty") end
    for i = 1, n do
      local t, terr, code = resolve_target(defaults, msg.targets[i], i, fname)
      if not t then return nil, terr, code end
      targets[i] = t
    end
  elseif not targets then
    return invalid("the message names no targets and the client has %s platforms configured",
      defaults.feishu and defaults.webhook and "several" or "no")
  end
  return {
    id = msg.id, title = title, body = body, format = msg.format or "text",
    priority = priority, metadata = msg.metadata, platform_data = msg.platform_data,
    targets = targets,
  }
end

return M
