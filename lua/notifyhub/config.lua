--- Client configuration: the schema, its defaults and its checks.
--
-- `notifyhub.new(config)` runs `config.check(config)`, which raises on an
-- unknown key or a wrong type (naming the key) and returns a complete,
-- defaulted copy. `notifyhub.config.feishu(url [, opts])` is the short form
-- of the seed's `config.CreateFeishuConfig()`.
-- @module notifyhub.config

local util = require("notifyhub.util")

local M = {}

local LOG_LEVELS = { debug = true, info = true, warn = true, error = true, off = true }

--- The defaults, as the README documents them.
M.defaults = {
  async = {
    enabled = true,        -- false: send on the calling thread, no threads
    use_pool = true,       -- false: one short-lived thread per message
    workers = 4,           -- threads started with the pool
    min_workers = nil,     -- default: min(1, workers)
    max_workers = nil,     -- default: max(16, workers)
    buffer_size = 1000,    -- queued messages before send_async waits
    timeout = 0,           -- seconds send_async waits for room; 0: QUEUE_FULL at once
    concurrency = 32,      -- transfers in flight per worker
    close_timeout = 5,     -- seconds close() gives queued and in-flight messages
    idle_timeout = 30,     -- seconds an idle worker above min_workers lives
    grow_after = 0.1,      -- seconds a backlog lasts (no worker has room) before the pool grows
    priority_aging = 2,    -- seconds a queued message waits before it goes first, whatever its priority
  },
  retry = {
    max_attempts = 3,      -- 1: no retries
    initial_delay = 0.5,   -- seconds; full jitter: a random delay up to
    max_delay = 30,        --   min(max_delay, initial_delay * multiplier ^ (attempt - 1))
    multiplier = 2,
    max_elapsed = 0,       -- seconds from submit after which no retry starts; 0: no limit
  },
  http = {
    timeout = 10,          -- seconds for a whole request
    connect_timeout = 5,
    verify_tls = true,
    ca_file = nil,
    proxy = nil,
    user_agent = nil,      -- default: "notifyhub/<version>" (csrc/nh_version.h)
    max_response = 1048576, -- bytes of an answer read before giving up
    follow_redirects = 0,  -- redirects followed (http and https only); 0: a 3xx is the answer
  },
  logger = {
    level = "warn",
    handler = nil,         -- default: one line per record on stderr
    failures = true,       -- every failed message is logged (warn; cut off by close: error); false: not
  },
}

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
      return "header values without CR, LF or NUL", "a value with one", k
    end
  end
end

local function header_value(v)
  if type(v) ~= "string" then return "string" end
  if not util.is_header_safe(v) then return "string without CR, LF or NUL" end
end

local function method(v)
  if type(v) ~= "string" then return "string" end
  if not v:match("^%u+$") then return "HTTP method in capitals (POST, PUT, ...)" end
end

local function log_level(v)
  if not LOG_LEVELS[v] then return "one of debug, info, warn, error, off" end
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

local overflow = one_of("truncate", "split", "error")

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

local function ranged_section(section, keys)
  local out = {}
  for _, k in ipairs(keys) do out[k] = M.ranged(section .. "." .. k) end
  return out
end

local schema = {
  async = ranged_section("async", { "workers", "min_workers", "max_workers", "buffer_size",
    "timeout", "concurrency", "close_timeout", "idle_timeout", "grow_after", "priority_aging" }),
  retry = ranged_section("retry", { "max_attempts", "initial_delay", "max_delay", "multiplier",
    "max_elapsed" }),
  http = ranged_section("http", { "timeout", "connect_timeout", "max_response", "follow_redirects" }),
  logger = { level = log_level, handler = of_type("function"), failures = of_type("boolean") },
}
schema.async.enabled, schema.async.use_pool = of_type("boolean"), of_type("boolean")
schema.http.verify_tls = of_type("boolean")
schema.http.ca_file, schema.http.proxy = of_type("string"), of_type("string")
schema.http.user_agent = header_value
M.schema = schema

--- Each platform's keys; `required` names the key an instance must have.
-- A platform section is either one instance (`feishu = { webhook_url = ... }`)
-- or named instances (`feishu = { ops = { ... }, dev = { ... } }`).
M.platforms = {
  feishu = { required = "webhook_url", keys = {
    webhook_url = http_url, secret = of_type("string"), keywords = string_list,
    mentions = string_list, overflow = overflow } },
  slack = { required = "webhook_url", keys = {
    webhook_url = http_url, username = text, icon_emoji = text,
    icon_url = text, channel = text, overflow = overflow } },
  dingtalk = { required = "webhook_url", keys = {
    webhook_url = http_url, secret = of_type("string"), at_mobiles = string_list,
    at_user_ids = string_list, at_all = of_type("boolean"), overflow = overflow } },
  wecom = { required = "webhook_url", keys = {
    webhook_url = http_url, mentioned_list = string_list,
    mentioned_mobile_list = string_list, overflow = overflow } },
  discord = { required = "webhook_url", keys = {
    webhook_url = http_url, username = text, avatar_url = text,
    wait = of_type("boolean"), overflow = overflow } },
  telegram = { required = "token", keys = {
    token = of_type("string"), chat_id = chat_id, api_url = http_url,
    parse_mode = one_of("HTML", "MarkdownV2", "none"),
    disable_notification = of_type("boolean"), overflow = overflow } },
  teams = { required = "webhook_url", keys = { webhook_url = http_url, overflow = overflow } },
  webhook = { required = "url", keys = {
    url = http_url, method = method, headers = header_map, secret = webhook_secret,
    template = text, content_type = header_value } },
  email = { required = "host", keys = {
    host = hostname, port = port, tls = one_of("starttls", "implicit", "none"),
    username = of_type("string"), password = of_type("string"), from = mailbox,
    to = address_list, cc = address_list, bcc = address_list,
    attachments_dir = of_type("string"), attachments_max_bytes = attachment_bytes } },
}

for _, spec in pairs(M.platforms) do spec.keys.rate_limit = rate_limit end

--- Each platform's published limit, per destination (a bot, a chat); a
-- platform or target sets `rate_limit = false` to turn it off, or a table of
-- its own. Discord publishes none (its 429 answers are followed instead).
M.rate_limits = {
  feishu = { per_second = 5, per_minute = 100 },
  dingtalk = { per_minute = 20 },
  wecom = { per_minute = 20 },
  slack = { per_second = 1, burst = 3 },
  telegram = { per_second = 1 },
  teams = { per_second = 4 },
}

--- Defaults of platform keys an instance does not set.
M.platform_defaults = {
  telegram = { api_url = "https://api.telegram.org", parse_mode = "HTML" },
  email = { tls = "starttls" },
}

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
  return M.check_fields(name or "retry", given, schema.retry)
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
  if not partial and given[spec.required] == nil then
    fail(path .. "." .. spec.required, "missing")
  end
  if platform == "email" and not partial and not given.from then
    fail(path .. ".from", "missing")
  end
  -- what a message may attach is the client's rule: no target loosens it
  for _, key in ipairs(partial and platform == "email" and { "attachments_dir", "attachments_max_bytes" } or {}) do
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
  local out = { platforms = {} }
  for key, value in pairs(cfg) do
    if schema[key] then
      check_section(key, value, schema[key])
    elseif M.platforms[key] then
      out.platforms[key] = check_platform(key, value)
    else
      fail(tostring(key), "unknown key")
    end
  end
  for name in pairs(schema) do out[name] = merged(M.defaults[name], cfg[name]) end
  local a = out.async
  a.min_workers = a.min_workers or math.min(1, a.workers)
  a.max_workers = a.max_workers or math.max(16, a.workers)
  if a.min_workers > a.workers or a.workers > a.max_workers then
    fail("async", ("min_workers (%d) <= workers (%d) <= max_workers (%d) expected")
      :format(a.min_workers, a.workers, a.max_workers))
  end
  return out
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
