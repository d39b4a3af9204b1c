--- Client configuration: the schema, its defaults and its checks.
--
-- `notifyhub.new(config)` runs `config.check(config)`, which raises on an
-- unknown key or a wrong type (naming the key) and returns a complete,
-- defaulted copy. `notifyhub.config.feishu(url [, opts])` is the short form
-- of the seed's `config.CreateFeishuConfig()`.
-- @module notifyhub.config

local util = require("notifyhub.util")
local tags = require("notifyhub.tags")

local M = {}

-- The general sections (async, http, retry, logger): their keys, defaults
-- and ranges are the rows of csrc/nh_options.h (`core.options`); M.defaults
-- and M.schema are built from them on first use (see `build` below), so that
-- this module (and target.lua, util.lua) load without the C module, as
-- fuzz/redact.c does. Keys the core never sees are listed in LUA_ONLY.

-- Checkers: each returns nil when the value is fine, else what was expected
-- and, optionally, what was given instead (default: its type) and the
-- sub-key it is about.

-- The rows of csrc/lnh_range.h, read on first use: this module (and
-- target.lua, util.lua) load without the C module, as fuzz/redact.c does.
local ranges

local function range_of(path)
  ranges = ranges or require("notifyhub.core").ranges
  return assert(ranges[path], path)
end

--- The range text of a key of `core.ranges` ("integer from 1 to 256").
function M.range_text(path)
  local r = range_of(path)
  local kind = r.integer and "integer" or "number"
  local min, max = util.num_text(r.min), util.num_text(r.max)
  if r.above then return ("%s > %s and <= %s"):format(kind, min, max) end
  return ("%s from %s to %s"):format(kind, min, max)
end

--- A checker for a number with its row in csrc/lnh_range.h (`core.ranges`),
-- the one list of ranges the binding checks too.
function M.ranged(path)
  local r, text
  return function(v)
    r = r or range_of(path)
    if type(v) ~= "number" then return r.integer and "integer" or "number" end
    text = text or M.range_text(path)
    local ok = v >= r.min and v <= r.max and not (r.above and v == r.min)
      and (not r.integer or v == math.floor(v))
    if not ok then return text, util.num_text(v) end
  end
end

-- A string that goes into a payload: it must be UTF-8.
local function text(v)
  if type(v) ~= "string" then return "string" end
  local at = util.utf8_invalid(v)
  if at then return "UTF-8 text", ("invalid UTF-8 at byte %d"):format(at) end
end

local function of_type(t)
  return function(v) if type(v) ~= t then return t end end
end

-- An SMTP host goes into a URL: a name, an IPv4 or a bracketed IPv6 address.
local function hostname(v)
  if type(v) ~= "string" then return "string" end
  if not v:match("^[%w%.%-]+$") and not v:match("^%[[%x:%.]+%]$") then
    return "host name or IP address", "a string with other characters"
  end
end

-- A signed webhook's secret: any string, but "whsec_" promises base64 after
-- it (Standard Webhooks), so a typo there is a config error, not a failed send.
local function webhook_secret(v)
  if type(v) ~= "string" then return "string" end
  local rest = v:match("^whsec_(.*)$")
  if not rest then return end
  -- what nh_base64_decode takes: the alphabet, then padding that completes
  -- the last group of four (none is fine unless the length is 4k + 1)
  local body, pads = rest:match("^([%w+/]+)(=*)$")
  if not body or #body % 4 == 1 or #pads > 2 or (#pads > 0 and (#body + #pads) % 4 ~= 0) then
    return "whsec_ followed by base64"
  end
end

local function http_url(v)
  if type(v) ~= "string" then return "string" end
  if not util.is_http_url(v) then return "http(s) URL", util.why_not_url(v) end
  local why = util.url_problem(v)
  if why then return "http(s) URL", why end
end

-- A proxy as libcurl takes it: [scheme://][user:password@]host[:port],
-- scheme one of PROXY_SCHEMES (none: http); "" turns the proxy off, even
-- one set in the environment. Checked here because libcurl's complaint
-- about a malformed proxy quotes it whole, password and all.
local PROXY_SCHEMES = { http = true, https = true, socks4 = true, socks4a = true,
  socks5 = true, socks5h = true }

local function proxy_url(v)
  if type(v) ~= "string" then return "string" end
  if v == "" then return nil end
  local expected = "proxy URL ([scheme://][user:password@]host[:port])"
  if v:find("[%s%c]") then return expected, "a string with spaces or control characters" end
  local scheme, rest = v:match("^(%a[%w+.-]*)://(.*)$")
  if scheme and not PROXY_SCHEMES[scheme:lower()] then
    local which = "(http, https, socks4, socks4a, socks5 or socks5h expected)"
    return expected, #scheme <= 16 and ("a string with scheme '%s' %s"):format(scheme, which)
      or "a string with another scheme " .. which
  end
  local why = util.url_problem("http://" .. (rest or v))
  if why then return expected, why end
end

local function string_list(v)
  if type(v) ~= "table" then return "array of strings" end
  for i = 1, #v do
    if type(v[i]) ~= "string" or v[i] == "" then return "array of non-empty strings" end
    local expected, got = text(v[i])
    if expected then return expected, got, i end
  end
  for k in pairs(v) do
    if type(k) ~= "number" then return "array of strings" end
  end
end

-- Header names notifyhub or libcurl sets, or that change how the request is
-- framed: a user's copy would break the request or be sent twice.
local RESERVED_HEADERS = {}
for _, name in ipairs({ "Host", "Content-Length", "Transfer-Encoding", "Connection", "Expect",
    "Upgrade", "TE", "Trailer", "Keep-Alive", "Proxy-Connection", "Content-Type",
    "webhook-id", "webhook-timestamp", "webhook-signature" }) do
  RESERVED_HEADERS[name:lower()] = name
end

local function header_map(v)
  if type(v) ~= "table" then return "table of header names to strings" end
  for k, val in pairs(v) do
    if type(k) ~= "string" or type(val) ~= "string" then
      return "table of header names to strings"
    end
    if not util.is_token(k) then
      return "header names made of letters, digits and !#$%&'*+-.^_`|~", "a name with other characters"
    end
    if RESERVED_HEADERS[k:lower()] then
      return "a header other than Host, Content-Length, Transfer-Encoding, Connection, Expect, "
        .. "Upgrade, TE, Trailer, Keep-Alive, Proxy-Connection, Content-Type (use content_type) "
        .. "and webhook-id/-timestamp/-signature", "'" .. RESERVED_HEADERS[k:lower()] .. "'"
    end
    if not util.is_header_safe(val) then
      return "header values without control characters (CR, LF, NUL, ...)", "a value with one", k
    end
  end
end

-- JSON field names to strings (a json:// URL's `:name=value` payload fields).
local function field_map(v)
  local what = "table of field names to strings"
  if type(v) ~= "table" then return what end
  for k, val in pairs(v) do
    if type(k) ~= "string" or type(val) ~= "string" or k == "" then return what end
    local expected, got = text(k)
    if not expected then expected, got = text(val) end
    if expected then return expected, got, k end
  end
end

local function header_value(v)
  if type(v) ~= "string" then return "string" end
  if not util.is_header_safe(v) then return "string without control characters (CR, LF, NUL, ...)" end
end

local function method(v)
  if type(v) ~= "string" then return "string" end
  if not v:match("^%u+$") then return "HTTP method in capitals (POST, PUT, ...)" end
end

local function one_of(...)
  local allowed, names = {}, { ... }
  for _, v in ipairs(names) do allowed[v] = true end
  return function(v)
    if not allowed[v] then return "one of " .. table.concat(names, ", ") end
  end
end

local chat_id_number = M.ranged("telegram.chat_id")

local function chat_id(v)
  if type(v) == "string" then return text(v) end
  if type(v) ~= "number" then return "string or integer" end
  local expected, got = chat_id_number(v)
  if expected then return "string or " .. expected, got end
end

local function address(v)
  if type(v) ~= "string" then return "string" end
  local expected, got = text(v)
  if expected then return expected, got end
  if not util.is_email(v) then return "e-mail address (name@example.com)", util.why_not_email(v) end
end

-- from: an address, or "Display Name <address>" (the name may be quoted).
local function mailbox(v)
  local expected, got = text(v)
  if expected then return expected, got end
  if v:find("%c") then return "e-mail address (name@example.com)", "a string with a control character" end
  if util.is_email(v) then return nil end
  local name, addr = v:match("^(.-)%s*<([^<>]*)>$")
  if not name then return "e-mail address (name@example.com)", util.why_not_email(v) end
  local what = 'e-mail address as "Name <name@example.com>"'
  if not util.is_email(addr) or #addr > 254 then return what, util.why_not_email(addr) end
  if name:find("[<>]") then return what, "a display name with < or >" end
end

-- attachments_max_bytes: 0 (no attachments) to 1 GiB; the core's default is 25 MiB.
local function attachment_bytes(v)
  if type(v) ~= "number" or v ~= math.floor(v) or v < 0 or v > 1073741824 then
    return "integer from 0 to 1073741824 (bytes)"
  end
end

local function address_list(v)
  if type(v) == "string" then return address(v) end
  if type(v) ~= "table" then return "e-mail address or array of them" end
  for i = 1, #v do
    local expected, got = address(v[i])
    if expected then return expected, got, i end
  end
end

local port = M.ranged("email.port")

-- false, or { per_second = n, per_minute = n, per_hour = n } (any of them),
-- with `burst`: per_second on average, at most `burst` at once.
local RATE_KEYS = { per_second = true, per_minute = true, per_hour = true, burst = true }

local RATE_RANGES = {}
for k in pairs(RATE_KEYS) do RATE_RANGES[k] = M.ranged("rate_limit." .. k) end

local function rate_limit(v)
  if v == false then return nil end
  local what = "false or a table of per_second, per_minute, per_hour (and burst) counts"
  if type(v) ~= "table" or next(v) == nil then return what end
  for k, n in pairs(v) do
    if not RATE_KEYS[k] then return what, "a table with key '" .. tostring(k) .. "'" end
    local expected, got = RATE_RANGES[k](n)
    if expected then return expected, got, k end
  end
  if v.burst and not v.per_second then return "burst only with per_second" end
end

-- A checker for each kind of row of core.options.
local RULES = {
  integer = function(path) return M.ranged(path) end,
  number = function(path) return M.ranged(path) end,
  boolean = function() return of_type("boolean") end,
  string = function() return of_type("string") end,
  header = function() return header_value end,
  enum = function(_, row)
    local allowed = {}
    for _, v in ipairs(row.values) do allowed[v] = true end
    local what = "one of " .. table.concat(row.values, ", ")
    return function(v) if not allowed[v] then return what end end
  end,
}

-- Rows whose value needs more than its type's check.
local REFINED = {
  ["http.proxy"] = proxy_url,
  ["spool.sync"] = function(v)
    if type(v) ~= "string" then return "string" end
    if v ~= "normal" and v ~= "full" then return "one of normal, full" end
  end,
  ["spool.deliver"] = function(v)
    if type(v) ~= "string" then return "string" end
    if v ~= "local" and v ~= "any" then return "one of local, any" end
  end,
  ["spool.path"] = function(v)
    local expected, got = header_value(v)     -- a string without control characters
    if expected then return expected, got end
    if v == "" then return "a file name", "an empty name" end
  end,
  ["spool.redis"] = function(v)
    local expected, got = header_value(v)
    if expected then return expected, got end
    if v == "" then return "a URL redis://host:port/db", "an empty string" end
  end,
  ["spool.prefix"] = function(v)
    local expected, got = header_value(v)
    if expected then return expected, got end
    if #v < 1 or #v > 64 or not v:match("^[A-Za-z0-9_.:%-]+$") then
      return "1 to 64 characters of A-Z a-z 0-9 _ . : -"
    end
  end,
}

--- Keys of the general sections that stay in Lua (the core never sees them):
-- their checkers; their default is nil.
M.LUA_ONLY = {
  ["logger.handler"] = of_type("function"),   -- default: one line per record on stderr
}

-- M.schema and M.defaults of the general sections from core.options.
local function build()
  local schema, defaults = {}, {}
  local function put(path, rule, default)
    local section, key = path:match("^([^.]+)%.(.+)$")
    schema[section] = schema[section] or {}
    defaults[section] = defaults[section] or {}
    schema[section][key], defaults[section][key] = rule, default
  end
  for path, row in pairs(require("notifyhub.core").options) do
    put(path, REFINED[path] or RULES[row.type](path, row), row.default)
  end
  for path, rule in pairs(M.LUA_ONLY) do put(path, rule, nil) end
  rawset(M, "schema", schema)
  rawset(M, "defaults", defaults)
end

--- M.schema: the checker of each key of the general sections;
-- M.defaults: their defaults, as the README documents them (min_workers and
-- max_workers are at most / at least `workers` when not given).
-- (built on first use by the one metatable below)

-- The checkers of the key kinds that core.platforms names (the descriptors
-- in csrc/nh_<platform>.c); kind "choice" is one_of(key.choices).
M.kinds = {
  string = of_type("string"), text = text, boolean = of_type("boolean"), strings = string_list,
  http_url = http_url, method = method, headers = header_map, webhook_secret = webhook_secret,
  header_value = header_value, chat_id = chat_id, hostname = hostname, port = port,
  mailbox = mailbox, addresses = address_list, attachment_bytes = attachment_bytes,
  fields = field_map,
}

local unpack = table.unpack or unpack

local function checker_of(platform, key)
  if key.kind == "choice" then return one_of(unpack(key.choices)) end
  return M.kinds[key.kind] or error(("notifyhub: core.platforms: %s.%s has the unknown kind '%s'")
    :format(platform, key.name, tostring(key.kind)), 0)
end

-- M.platforms, M.rate_limits and M.platform_defaults, from core.platforms.
local function derive()
  local platforms, limits, defaults = {}, {}, {}
  for _, d in ipairs(require("notifyhub.core").platforms) do
    local spec = { keys = { rate_limit = rate_limit, tags = tags.check }, required_keys = {}, client_keys = {},
      value = d.value, descriptor = d }
    for _, key in ipairs(d.keys) do
      spec.keys[key.name] = checker_of(d.name, key)
      if key.required then spec.required_keys[#spec.required_keys + 1] = key.name end
      if key.client then spec.client_keys[#spec.client_keys + 1] = key.name end
      if key.value then spec.value_key = key.name end
      if key.default ~= nil then
        defaults[d.name] = defaults[d.name] or {}
        defaults[d.name][key.name] = key.default
      end
    end
    spec.required = spec.required_keys[1]
    platforms[d.name], limits[d.name] = spec, d.rate_limit
  end
  return platforms, limits, defaults
end

--- Derived on first use from `core.platforms` (so that this module loads
-- without the C module, as fuzz/redact.c does):
-- `M.platforms[name]`: `{ keys = { key = checker }, required = first
-- required key, required_keys, client_keys, value = "url" | "chat_id" |
-- "address" | "none", value_key, descriptor }`. A platform section is either
-- one instance (`feishu = { webhook_url = ... }`) or named instances
-- (`feishu = { ops = { ... }, dev = { ... } }`).
-- `M.rate_limits[name]`: each platform's published limit, per destination
-- (a bot, a chat); a platform or target sets `rate_limit = false` to turn
-- it off, or a table of its own. Discord publishes none (its 429 answers
-- are followed instead).
-- `M.platform_defaults[name]`: defaults of keys an instance does not set.
-- The one metatable of the module: the tables derived from the C module,
-- built on first use.
setmetatable(M, { __index = function(t, k)
  if k == "schema" or k == "defaults" then
    build()
  elseif k == "platforms" or k == "rate_limits" or k == "platform_defaults" then
    t.platforms, t.rate_limits, t.platform_defaults = derive()
  end
  return rawget(t, k)
end })

local function fail(path, message)
  error(("notifyhub config: %s: %s"):format(path, message), 0)
end

--- Checks the keys of a table against rules (a section of the schema).
-- @treturn nil|string nil when every key is fine, else "path.key: what is
--   wrong", the error text without the "notifyhub config: " prefix
function M.check_fields(name, given, rules)
  if type(given) ~= "table" then return ("%s: table expected, got %s"):format(name, type(given)) end
  for key, value in pairs(given) do
    local path = name .. "." .. tostring(key)
    local rule = rules[key]
    if not rule then return path .. ": unknown key" end
    local expected, got, sub = rule(value)
    if sub then path = ("%s.%s"):format(path, tostring(sub)) end
    if expected then return ("%s: %s expected, got %s"):format(path, expected, got or type(value)) end
  end
end

--- Checks a retry table (the client's `retry` or a message's own): the one
-- check for both. nil when fine, else the error text.
function M.check_retry(given, name)
  return M.check_fields(name or "retry", given, M.schema.retry)
end

local function check_section(name, given, rules)
  local err = M.check_fields(name, given, rules)
  if err then error("notifyhub config: " .. err, 0) end
end

local function merged(defaults, given)
  local out = {}
  for k, v in pairs(defaults or {}) do out[k] = v end
  for k, v in pairs(given or {}) do out[k] = v end
  return out
end

-- Named instances: a table without any of the platform's keys whose values
-- are all tables.
local function is_named(section, keys)
  if next(section) == nil then return false end
  for k, v in pairs(section) do
    if keys[k] or type(v) ~= "table" then return false end
  end
  return true
end

--- Checks one instance of a platform (also used for a target's overrides).
-- @raise naming path and the key
function M.check_instance(platform, path, given, partial)
  local spec = M.platforms[platform]
  check_section(path, given, spec.keys)
  for _, key in ipairs(partial and {} or spec.required_keys) do
    if given[key] == nil then fail(path .. "." .. key, "missing") end
  end
  -- e.g. what a message may attach is the client's rule: no target loosens it
  for _, key in ipairs(partial and spec.client_keys or {}) do
    if given[key] ~= nil then fail(path .. "." .. key, "set in the client's config only, not per target") end
  end
end

-- { instances = { name = cfg }, default = name or nil }
local function check_platform(name, section)
  if type(section) ~= "table" then fail(name, "table expected, got " .. type(section)) end
  local spec, out = M.platforms[name], { instances = {} }
  if is_named(section, spec.keys) then
    local count = 0
    for inst, cfg in pairs(section) do
      if type(inst) ~= "string" then fail(name, "instance names must be strings") end
      M.check_instance(name, name .. "." .. inst, cfg)
      out.instances[inst] = merged(M.platform_defaults[name], cfg)
      count = count + 1
    end
    out.default = section.default and "default" or nil
    if not out.default and count == 1 then out.default = next(section) end
  else
    M.check_instance(name, name, section)
    out.instances.default = merged(M.platform_defaults[name], section)
    out.default = "default"
  end
  return out
end

local add_urls

local function has_tags(platforms)
  for _, section in pairs(platforms) do
    for _, cfg in pairs(section.instances) do
      if next(tags.set(cfg.tags)) then return true end
    end
  end
  return false
end

local URL_ENTRY_KEYS = { url = true, tags = true, tag = true, name = true }

-- One entry of `urls`: a URL string or { url = ..., tags = ..., name = ... }
-- (`tag` as Apprise's YAML spells it). Returns url, tags, name.
local function url_entry(path, entry)
  if type(entry) == "string" then return entry end
  if type(entry) ~= "table" then fail(path, "URL string or table { url = ..., tags = ... } expected, got "
    .. type(entry)) end
  for k in pairs(entry) do
    if not URL_ENTRY_KEYS[k] then fail(path .. "." .. tostring(k), "unknown key (url, tags, name)") end
  end
  if type(entry.url) ~= "string" then fail(path .. ".url", "string expected, got " .. type(entry.url)) end
  local given = entry.tags
  if entry.tag ~= nil then
    if given ~= nil then fail(path .. ".tag", "give tags or tag, not both") end
    given = entry.tag
  end
  if given ~= nil then
    local expected, got = tags.check(given)
    if expected then fail(path .. ".tags", ("%s expected, got %s"):format(expected, got or type(given))) end
  end
  if entry.name ~= nil and (type(entry.name) ~= "string" or not entry.name:match("^[%w_%-]+$")
      or #entry.name > 40) then
    fail(path .. ".name", "instance name of 1 to 40 letters, digits, _ and - expected")
  end
  return entry.url, given, entry.name
end

-- An instance of the target's platform from a parsed URL's target: its
-- value under the platform's value key (webhook_url, url, chat_id).
local function url_instance(t)
  local spec, cfg = M.platforms[t.platform], {}
  for k, v in pairs(t) do
    if k ~= "platform" and k ~= "value" then cfg[k] = v end
  end
  if t.value ~= nil and spec.value == "address" then cfg.to = { t.value }
  elseif t.value ~= nil then cfg[spec.value_key] = t.value end
  return cfg
end

-- `urls = { "slack://...", { url = "json://...", tags = { "ops" } } }`: each
-- URL's destinations become instances of their platform, named by `name`
-- or "url<i>" ("url<i>-<j>" for the j-th destination of a URL naming several).
add_urls = function(platforms, urls)
  if type(urls) == "string" then urls = { urls } end
  if type(urls) ~= "table" then fail("urls", "array of URLs expected, got " .. type(urls)) end
  for k in pairs(urls) do
    if type(k) ~= "number" then fail("urls", "array of URLs expected, got a table with key '"
      .. tostring(k):sub(1, 20) .. "'") end
  end
  for i = 1, #urls do
    local path = ("urls[%d]"):format(i)
    local s, given, name = url_entry(path, urls[i])
    -- an http(s) URL or an address too, as a target string is read
    local targets, err = require("notifyhub.target").parse_all(s)
    if not targets then fail(path, err) end
    for j, t in ipairs(targets) do
      local inst = (name or ("url%d"):format(i)) .. (#targets > 1 and ("-%d"):format(j) or "")
      local cfg = url_instance(t)
      cfg.tags = given
      M.check_instance(t.platform, path, cfg)
      local section = platforms[t.platform] or { instances = {} }
      platforms[t.platform] = section
      if section.instances[inst] then
        fail(path, ("%s already has an instance named '%s': give this URL another name"):format(t.platform, inst))
      end
      section.instances[inst] = merged(M.platform_defaults[t.platform], cfg)
    end
  end
  for _, section in pairs(platforms) do
    if not section.default then
      local only, count = nil, 0
      for n in pairs(section.instances) do only, count = n, count + 1 end
      if count == 1 then section.default = only end
    end
  end
end

--- Checks a configuration table and returns a complete copy with defaults.
-- Platform sections come back under `platforms[name]` as
-- `{ instances = { name = cfg }, default = name }`.
-- @tparam table cfg the user's configuration
-- @treturn table the checked configuration
-- @raise on an unknown key, a wrong type or an inconsistent pool size
function M.check(cfg)
  if type(cfg) ~= "table" then
    error(("bad argument #1 to 'new' (table expected, got %s)"):format(type(cfg)), 3)
  end
  local out, schema = { platforms = {} }, M.schema
  for key, value in pairs(cfg) do
    if schema[key] then
      check_section(key, value, schema[key])
    elseif M.platforms[key] then
      out.platforms[key] = check_platform(key, value)
    elseif key ~= "urls" then
      fail(tostring(key), "unknown key")
    end
  end
  if cfg.urls ~= nil then add_urls(out.platforms, cfg.urls) end
  -- Apprise's routing (see notifyhub.tags) once URLs or tags are configured
  out.routing = cfg.urls ~= nil or has_tags(out.platforms)
  for name in pairs(schema) do out[name] = merged(M.defaults[name], cfg[name]) end
  local a, given = out.async, cfg.async or {}
  if given.min_workers == nil then a.min_workers = math.min(M.defaults.async.min_workers, a.workers) end
  if given.max_workers == nil then a.max_workers = math.max(M.defaults.async.max_workers, a.workers) end
  if a.min_workers > a.workers or a.workers > a.max_workers then
    fail("async", ("min_workers (%d) <= workers (%d) <= max_workers (%d) expected")
      :format(a.min_workers, a.workers, a.max_workers))
  end
  return out
end

--- Reads a config file: YAML in Apprise's format (`urls:` with tags) plus
-- notifyhub's own sections, or a `.lua` file returning a config table (see
-- notifyhub.config_file).
-- @tparam string path the file
-- @return the config table for `notifyhub.new`, or nil, err, "INVALID_CONFIG"
--   where err is "path:line: key: what is wrong"
function M.load(path)
  return require("notifyhub.config_file").load(path)
end

--- The configuration of a client for one Feishu/Lark bot.
-- @tparam string webhook_url the bot's webhook URL
-- @tparam[opt] table opts `secret`, `keywords`, and any other top-level
--   sections (`async`, `http`, `logger`) to merge in
-- @treturn table a configuration for `notifyhub.new`
function M.feishu(webhook_url, opts)
  if type(webhook_url) ~= "string" then
    error(("bad argument #1 to 'feishu' (string expected, got %s)"):format(type(webhook_url)), 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument #2 to 'feishu' (table expected, got %s)"):format(type(opts)), 2)
  end
  local cfg = { feishu = { webhook_url = webhook_url } }
  for k, v in pairs(opts or {}) do
    if M.platforms.feishu.keys[k] then cfg.feishu[k] = v else cfg[k] = v end
  end
  return cfg
end

return M
