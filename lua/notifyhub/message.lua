--- Messages: checks a message table and resolves its targets against the
-- client's configuration into the flat record the core copies.
--
-- Wrong types raise (with the `luaL_argerror` wording); a message that is
-- well typed but cannot be sent returns `nil, err, "INVALID_MESSAGE"`.
-- @module notifyhub.message

local target = require("notifyhub.target")
local config = require("notifyhub.config")
local util = require("notifyhub.util")
local tags = require("notifyhub.tags")

local M = {}

local FORMATS = { text = true, markdown = true, html = true }
local PRIORITIES = { low = 0, normal = 1, high = 2, urgent = 3 }
-- NH_TYPE_* in csrc/nh_core.h: what the message reports (colour, severity)
local TYPES = { info = 0, success = 1, warning = 2, failure = 3 }
local MAX_ID_LEN = 128                  -- NH_MAX_ID_LEN in csrc/nh_core.h
local MAX_DEPTH = 32                    -- MAX_DEPTH in csrc/lnh_json.c
local UTF8_MODES = { strict = true, replace = true }
local check_timeout = config.ranged("message.timeout")

local FIELD_TYPES = {
  id = "string", title = "string", body = "string", format = "string",
  priority = "string", type = "string", targets = "table", variables = "table",
  metadata = "table", platform_data = "table", timeout = "number", retry = "table",
  utf8 = "string", tags = "table",
}

local function type_error(fname, field, expected, got, depth, arg)
  error(("bad argument #%d to '%s' (%s: %s expected, got %s)")
    :format(arg or 1, fname, field, expected, type(got)), 4 + depth)
end

local function invalid(fmt, ...)
  return nil, fmt:format(...), "INVALID_MESSAGE"
end

--- What a client keeps to resolve targets: its platforms and the targets of
-- a message that names none.
function M.defaults(cfg)
  return { platforms = cfg.platforms, implicit = target.implicit(cfg.platforms),
    routing = cfg.routing, cache = { records = {}, size = 0 } }
end

-- The text of a string field: itself when it is UTF-8, U+FFFD in place of
-- each bad sequence with utf8 = "replace", else nil and why.
local function utf8_text(s, field, replace)
  local at = util.utf8_invalid(s)
  if not at then return s end
  if replace then return util.utf8_replace(s) end
  return nil, ("%s: invalid UTF-8 at byte %d"):format(field, at)
end

-- How a path shows a key: .name, [1], ["a b"], or [?] for what it must not echo.
local function key_path(path, k)
  if type(k) == "number" then return ("%s[%s]"):format(path, util.num_text(k)) end
  if type(k) ~= "string" then return path .. "[?]" end
  if k:match("^[%a_][%w_]*$") then return path .. "." .. k end
  if #k <= 40 and not k:find("[^\32-\126]") then return ("%s[%q]"):format(path, k) end
  return path .. "[?]"
end

-- Checks a metadata or platform_data tree before the binding copies it:
-- UTF-8 in every string and key, no cycle, at most MAX_DEPTH levels.
-- Returns the tree (a copy with utf8 = "replace"), or nil and why.
local function check_tree(v, path, replace, active, done, depth)
  if type(v) == "string" then return utf8_text(v, path, replace) end
  if type(v) ~= "table" then return v end
  if active[v] then return nil, path .. ": a cycle (the table contains itself)" end
  local seen = done[v]                   -- a shared table, checked at this depth or deeper
  if seen and depth <= seen.depth then return seen.out end
  if depth >= MAX_DEPTH then
    return nil, ("%s: nested deeper than %d levels"):format(path, MAX_DEPTH)
  end
  active[v] = true
  local out = replace and {} or v
  for k, x in pairs(v) do
    local key, err = k
    if type(k) == "string" then
      key, err = utf8_text(k, path .. ": a key", replace)
      if err then return nil, err end
    end
    local y
    y, err = check_tree(x, key_path(path, key), replace, active, done, depth + 1)
    if err then return nil, err end
    if replace then out[key] = y end
  end
  active[v], done[v] = nil, { out = out, depth = depth }
  return out
end

-- A variable's value as the text {{name}} becomes: a string, a number or a
-- boolean, or what __tostring makes of a table or userdata that has one. A
-- plain table (a cycle among them) would show as "table: 0x...", and a
-- __tostring that raises must not raise out of send_async.
local function variable_text(v, field, replace)
  local kind = type(v)
  if kind == "number" or kind == "boolean" then return v end
  if kind ~= "string" then
    local mt = (kind == "table" or kind == "userdata") and getmetatable(v)
    if kind ~= "cdata" and not (type(mt) == "table" and rawget(mt, "__tostring")) then
      return nil, ("%s: a string, number or boolean expected, got %s"):format(field, kind)
    end
    local ok, s = pcall(tostring, v)
    if not ok or type(s) ~= "string" then return nil, field .. ": its __tostring failed" end
    v = s
  end
  return utf8_text(v, field, replace)
end

-- title, body and the variables they use, as UTF-8.
local function check_texts(msg, replace)
  local out, err = {}
  for _, field in ipairs({ "title", "body" }) do
    if msg[field] then
      out[field], err = utf8_text(msg[field], field, replace)
      if err then return nil, err end
    end
  end
  if msg.variables then
    out.vars = {}
    for k, v in pairs(msg.variables) do
      v, err = variable_text(v, key_path("variables", k), replace)
      if err then return nil, err end
      out.vars[k] = v
    end
  end
  return out
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
local function take_attachments(pd, replace)
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
    -- the filename goes into a header labelled UTF-8; the content type as it is
    if a.filename:find("%c") then
      return nil, nil, at .. ".filename: a name without control characters expected"
    end
    if a.content_type and a.content_type:find("[^\33-\126]") then
      return nil, nil, at .. ".content_type: printable ASCII without spaces expected (type/subtype)"
    end
    local name, err = utf8_text(a.filename, at .. ".filename", replace)
    if not name then return nil, nil, err end
    if name ~= a.filename then
      local copy = {}
      for k, v in pairs(a) do copy[k] = v end
      copy.filename = name
      if list == email.attachments then            -- the caller's list stays as it is
        local own = {}
        for j, v in ipairs(list) do own[j] = v end
        list = own
      end
      list[i] = copy
    end
  end
  local rest, mail = {}, {}
  for k, v in pairs(pd) do rest[k] = v end
  for k, v in pairs(email) do if k ~= "attachments" then mail[k] = v end end
  rest.email = mail
  return list, rest
end

-- The resolved targets of the instances a tag expression selects (nil: the
-- message gave no tags), or nil and why.
local function tagged(defaults, expr)
  local chosen, err = tags.select(defaults.platforms, expr)
  if not chosen then return nil, err end
  local out = {}
  for i, ref in ipairs(chosen) do
    local rec, why = target.resolve(defaults.platforms, { platform = ref[1], instance = ref[2] }, defaults.cache)
    if not rec then return nil, ("%s instance '%s': %s"):format(ref[1], ref[2], why) end
    out[i] = rec
  end
  return out
end

--- Checks msg and builds the core record.
-- @tparam table msg the user's message
-- @tparam table defaults from `M.defaults(cfg)`
-- @tparam string fname the calling function's name, for error messages
-- @tparam[opt] integer depth calls between the user's call and build (0: direct)
-- @treturn table|nil the record, or nil, err, "INVALID_MESSAGE"
-- @raise when msg or one of its fields has the wrong type
local OPTION_KEYS = { timeout = true, retry = true, priority = true, utf8 = true }

function M.build(msg, defaults, fname, opts, depth)
  depth = depth or 0
  if type(msg) ~= "table" then
    error(("bad argument #1 to '%s' (table expected, got %s)"):format(fname, type(msg)), 3 + depth)
  end
  if opts ~= nil then
    if type(opts) ~= "table" then
      error(("bad argument #2 to '%s' (table expected, got %s)"):format(fname, type(opts)), 3 + depth)
    end
    local merged = {}
    for k, v in pairs(msg) do merged[k] = v end
    for k, v in pairs(opts) do
      if not OPTION_KEYS[k] then
        return invalid("unknown option '%s' (timeout, retry, priority, utf8)", tostring(k))
      end
      -- a wrong type names the argument it came in: #2, opts.<key>
      if type(v) ~= FIELD_TYPES[k] then type_error(fname, "opts." .. k, FIELD_TYPES[k], v, depth, 2) end
      merged[k] = v
    end
    msg = merged
  end
  for k, v in pairs(msg) do
    local want = FIELD_TYPES[k]
    if not want then
      -- a name that is not printable ASCII is not echoed (the error may go into JSON logs)
      local shown = tostring(k)
      if type(k) == "string" and k:find("[^\32-\126]") then shown = "?" end
      return invalid("unknown message field '%s'", #shown > 40 and shown:sub(1, 40) .. "..." or shown)
    end
    if type(v) ~= want and not (k == "tags" and type(v) == "string") then
      type_error(fname, "message." .. k, k == "tags" and "table or string" or want, v, depth)
    end
  end
  -- the keyword fields are ASCII words: bad bytes are named, not echoed
  for _, field in ipairs({ "id", "format", "priority", "type", "utf8" }) do
    local at = msg[field] and util.utf8_invalid(msg[field])
    if at then return invalid("%s: invalid UTF-8 at byte %d", field, at) end
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
  local kind = TYPES[msg.type or "info"]
  if not kind then
    return invalid("type '%s' is not one of info, success, warning, failure", msg.type)
  end
  local utf8 = msg.utf8 or "strict"
  if not UTF8_MODES[utf8] then return invalid("utf8 '%s' is not one of strict, replace", utf8) end
  local replace = utf8 == "replace"
  local texts, err = check_texts(msg, replace)
  if not texts then return invalid("%s", err) end
  local title, body
  title, err = render(texts.title, texts.vars, "title")
  if err then return invalid("%s", err) end
  body, err = render(texts.body, texts.vars, "body")
  if err then return invalid("%s", err) end
  -- attachments are bytes, not text: they leave platform_data before the
  -- UTF-8 check of its strings
  local attachments, pd, aerr = take_attachments(msg.platform_data, replace)
  if aerr then return invalid("%s", aerr) end
  local trees, sources = {}, { metadata = msg.metadata, platform_data = pd }
  for _, field in ipairs({ "metadata", "platform_data" }) do
    if sources[field] then
      trees[field], err = check_tree(sources[field], field, replace, {}, {}, 0)
      if err then return invalid("%s", err) end
    end
  end
  -- after {{variables}}, which count too
  local nul = title and title:find("\0", 1, true) and "title" or body and body:find("\0", 1, true) and "body"
  if nul then
    return invalid("%s: a NUL byte, which no service takes (the text would be cut there)", nul)
  end
  local targets = defaults.implicit
  if msg.tags ~= nil and msg.targets ~= nil then
    return invalid("a message gives targets or tags, not both")
  end
  if msg.tags ~= nil or (defaults.routing and msg.targets == nil) then
    local expr
    if msg.tags ~= nil then
      expr, err = tags.expression(msg.tags)
      if not expr then return invalid("%s", err) end
    end
    targets, err = tagged(defaults, expr)
    if not targets then return invalid("%s", err) end
  elseif msg.targets then
    targets = {}
    local n = #msg.targets
    if n == 0 then return invalid("targets is empty") end
    for i = 1, n do
      local t = msg.targets[i]
      if type(t) ~= "table" and type(t) ~= "string" then
        type_error(fname, ("targets[%d]"):format(i), "table or string", t, depth)
      end
      -- an Apprise-style URL naming several destinations (tgram://token/1/2)
      -- is a delivery to each
      local many = type(t) == "string" and target.parse_all(t)
      for _, one in ipairs(many and #many > 1 and many or { t }) do
        local rec, why = target.resolve(defaults.platforms, one, defaults.cache)
        if not rec then return invalid("targets[%d]: %s", i, why) end
        targets[#targets + 1] = rec
      end
    end
  elseif not targets then
    local names = {}
    for name in pairs(defaults.platforms) do names[#names + 1] = name end
    table.sort(names)
    local only = #names == 1 and defaults.platforms[names[1]]
    if only and only.default then
      -- one instance, which cannot be sent to as it is (no recipient, no chat_id)
      local _, why = target.resolve(defaults.platforms, { platform = names[1] })
      return invalid("the message names no targets and %s's instance cannot be used alone: %s",
        names[1], tostring(why))
    end
    if #names == 1 then
      return invalid("the message names no targets and %s has several instances, none named "
        .. "'default': give targets (e.g. notifyhub.target.%s(\"name\"))", names[1], names[1])
    end
    return invalid("the message names no targets and the client has %s: give targets",
      #names == 0 and "no platforms configured"
        or ("several platforms configured (%s)"):format(table.concat(names, ", ")))
  end
  for i, t in ipairs(targets) do
    if t.platform == "email" and title and title:find("[\r\n]") then
      return invalid("targets[%d]: CR or LF in the title, which is an e-mail subject", i)
    end
  end
  if msg.timeout then
    local expected, got = check_timeout(msg.timeout)
    if expected then return invalid("timeout: %s expected, got %s", expected, got) end
  end
  local retry
  if msg.retry then
    -- the same check as the client's retry section (config.check_retry); the
    -- binding takes each field given over the client's retry. It gets the
    -- fields the check saw (pairs), not a table whose __index answers more.
    err = config.check_retry(msg.retry)
    if err then return invalid("%s", err) end
    retry = {}
    for k, v in pairs(msg.retry) do retry[k] = v end
  end
  return {
    timeout = msg.timeout, retry = retry,
    id = msg.id, title = title, body = body, format = msg.format or "text",
    priority = priority, type = kind, metadata = trees.metadata, platform_data = trees.platform_data,
    targets = targets, attachments = attachments,
  }
end

return M
