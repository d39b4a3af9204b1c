--- Targets: where a message goes, and how a target becomes the record the
-- core sends to (URL, label, secret, options).
--
-- A target is a table `{ platform = ..., value = ..., instance = ... }` plus
-- any of the platform's config keys as per-target overrides, or a string
-- that is unambiguous (an e-mail address, a platform's own webhook URL, any
-- other http(s) URL as a generic webhook). `notifyhub.target.<platform>(...)`
-- builds the tables.
-- @module notifyhub.target

local config = require("notifyhub.config")
local util = require("notifyhub.util")
local apprise = require("notifyhub.url")

local M = {}

-- Hosts (and a path start) that name a platform in a bare URL.
local URL_PLATFORMS = {
  { "^https://open%.feishu%.cn/open%-apis/bot/", "feishu" },
  { "^https://open%.larksuite%.com/open%-apis/bot/", "feishu" },
  { "^https://hooks%.slack%.com/", "slack" },
  { "^https://oapi%.dingtalk%.com/robot/", "dingtalk" },
  { "^https://qyapi%.weixin%.qq%.com/cgi%-bin/webhook/", "wecom" },
  { "^https://discord%.com/api/webhooks/", "discord" },
  { "^https://discordapp%.com/api/webhooks/", "discord" },
  { "^https://[%w%.%-]+%.logic%.azure%.com[:%d]*/workflows/", "teams" },
  { "^https://[%w%.%-]+%.powerplatform%.com[:%d]*/", "teams" },
  { "^https://ntfy%.sh/", "ntfy" },
  { "^https://chat%.googleapis%.com/v1/spaces/", "googlechat" },
}

-- Keys of a platform's section that this file reads itself: the rest go to
-- the core as they are, when the descriptor calls them options.
local COMMON_KEYS = { secret = true, keywords = true, method = true, headers = true,
  overflow = true, rate_limit = true }
-- ... and those the resolver of the platform's kind of value reads.
local RESOLVER_KEYS = {
  url = {},
  chat_id = { token = true, api_url = true },
  address = { host = true, port = true, password = true, cc = true, bcc = true },
}

--- The keys of a platform that nothing would send: neither an option of
-- its descriptor nor read here. Empty for every platform (a spec checks).
function M.unsent_keys(platform)
  local spec, out = config.platforms[platform], {}
  for _, key in ipairs(spec.descriptor.keys) do
    local read = COMMON_KEYS[key.name] or key.value or (RESOLVER_KEYS[spec.value] or {})[key.name]
    if not key.option and not read then out[#out + 1] = key.name end
  end
  return out
end

-- What target.lua needs of a platform, from its descriptor (once each):
-- { url_value, options = { key, ... }, secrets = { key, ... } }.
local derived = {}

local function platform_info(platform)
  local info = derived[platform]
  if info then return info end
  local spec = config.platforms[platform]
  local unsent = M.unsent_keys(platform)
  if #unsent > 0 then
    error(("notifyhub: core.platforms: %s.%s is neither an option nor read by target.lua")
      :format(platform, unsent[1]), 0)
  end
  info = { url_value = spec.value == "url", options = {}, secrets = {} }
  for _, key in ipairs(spec.descriptor.keys) do
    if key.option then info.options[#info.options + 1] = key.name end
    if key.secret then info.secrets[#info.secrets + 1] = key.name end
  end
  derived[platform] = info
  return info
end

--- Every target a string names, or nil and why: an http(s) URL or an
-- e-mail address names one, an Apprise-style URL (`slack://`, `tgram://`,
-- ..., see notifyhub.url) one or more (a `tgram://` URL per chat).
function M.parse_all(s)
  if type(s) ~= "string" then
    error(("bad argument #1 to 'parse_all' (string expected, got %s)"):format(type(s)), 2)
  end
  local scheme = (util.scheme_of(s) or ""):lower()
  if s:find("://", 1, true) and scheme ~= "http" and scheme ~= "https" and scheme ~= "" then
    return apprise.parse(s)
  end
  local t, err = M.parse(s)
  if not t then return nil, err end
  return { t }
end

--- The table form of a string target, or nil and why: an e-mail address,
-- an http(s) URL (a platform's own webhook URL, else a generic webhook) or
-- an Apprise-style URL (see notifyhub.url) that names one destination.
function M.parse(s)
  if type(s) ~= "string" then
    error(("bad argument #1 to 'parse' (string expected, got %s)"):format(type(s)), 2)
  end
  -- a URL first: "https://user:pass@host/x" has an '@' too, and is no address
  if util.is_http_url(s) then
    for _, rule in ipairs(URL_PLATFORMS) do
      if s:match(rule[1]) then return { platform = rule[2], value = s } end
    end
    return { platform = "webhook", value = s }
  end
  local scheme = (util.scheme_of(s) or ""):lower()
  if s:find("://", 1, true) and scheme ~= "http" and scheme ~= "https" and scheme ~= "" then
    local list, err = apprise.parse(s)
    if not list then return nil, err end
    if #list > 1 then
      return nil, ("%s:// URL names %d destinations: use notifyhub.target.parse_all, or one per URL")
        :format(scheme, #list)
    end
    return list[1]
  end
  if util.is_email(s) and not s:find("://", 1, true) then return { platform = "email", value = s } end
  local shown = util.scheme_of(s) and (util.scheme_of(s) .. ":...") or (#s > 20 and s:sub(1, 20) .. "..." or s)
  -- say what is wrong with the form it looks like
  local why = util.scheme_of(s) and util.why_not_url(s)
    or (s:find("@", 1, true) and not s:find("/", 1, true) and util.why_not_email(s))
  return nil, ("'%s' is neither an e-mail address nor an http(s) URL (name@example.com or https://host/...)%s")
    :format(shown, why and (": got " .. why) or "")
end

-- Constructors: target.feishu(), target.feishu("ops"), target.feishu(url),
-- target.email(address), target.telegram(chat_id), ... and an optional
-- table of overrides as the last argument.
local function constructor(platform)
  return function(arg, overrides)
    -- target.email({ "a@x", "b@x" }): a list of recipients, one delivery
    local to
    if config.platforms[platform].value == "address" and type(arg) == "table" and arg[1] ~= nil then
      arg, to = nil, arg
    end
    if type(arg) == "table" and overrides == nil then arg, overrides = nil, arg end
    local t = {}
    for k, v in pairs(overrides or {}) do t[k] = v end
    t.platform = platform
    t.to = to or t.to
    if arg ~= nil then
      local kind = config.platforms[platform].value
      local is_value = kind == "chat_id" or kind == "address"
        or (kind == "url" and util.scheme_of(arg) ~= nil)
      if is_value then t.value = arg else t.instance = arg end
    end
    return t
  end
end

-- target.<platform>: made on first use, for each platform of core.platforms
-- (this module loads without the C module, as fuzz/redact.c does).
setmetatable(M, { __index = function(_, name)
  if type(name) ~= "string" or not config.platforms[name] then return nil end
  M[name] = constructor(name)
  return M[name]
end })

-- ---------------------------------------------------------------------------
-- Resolution into core records
-- ---------------------------------------------------------------------------

local function list(v)
  if v == nil then return nil end
  return type(v) == "table" and v or { v }
end

-- The keys the descriptor calls options go to the C platform as they are.
local function options_of(platform, cfg)
  local opts = nil
  for _, k in ipairs(platform_info(platform).options) do
    if cfg[k] ~= nil then
      opts = opts or {}
      opts[k] = cfg[k]
    end
  end
  return opts
end

-- One resolver per kind of value (core.platforms[i].value).
local resolvers = {}

function resolvers.url(platform, cfg, value)
  local url = value or cfg[config.platforms[platform].value_key]
  if not util.is_http_url(url) then
    local scheme = (util.scheme_of(url) or ""):lower()
    if type(url) == "string" and (scheme == "http" or scheme == "https") then
      return nil, "value is not an http(s) URL: " .. util.why_not_url(url)   -- "https:/x"
    end
    return nil, ("value is not an http(s) URL (scheme '%s')"):format(util.scheme_of(url) or "none")
  end
  local why = util.url_problem(url)
  if why then return nil, "value is not an http(s) URL: " .. why end
  -- A service with one URL for everyone (PagerDuty, Bark, ...) tells its
  -- users apart by a secret key sent with the request: the rate limits count
  -- per URL and key.
  local keys = {}
  for _, key in ipairs(config.platforms[platform].descriptor.keys) do
    if key.secret and key.option and type(cfg[key.name]) == "string" then
      keys[#keys + 1] = cfg[key.name]
    end
  end
  return { url = url, label = util.redact_url(url), secret = cfg.secret,
    rate_key = #keys > 0 and (url .. "#" .. table.concat(keys, "#")) or nil }
end

function resolvers.chat_id(platform, cfg, value)
  local chat = value or cfg.chat_id
  if chat == nil then return nil, "no chat_id (give it in the config or as the target's value)" end
  -- the value is checked as the config's chat_id is (NaN, 0.5 or 1e300 would
  -- go out as null or a float)
  local expected, got = config.platforms[platform].keys.chat_id(chat)
  if expected then return nil, ("value: %s expected, got %s"):format(expected, got or type(chat)) end
  local base = cfg.api_url:gsub("/+$", "")
  return {
    url = base .. "/bot" .. cfg.token .. "/sendMessage",
    label = ("%s/bot***/sendMessage?chat_id=%s"):format(util.redact_url(base, true),
      tostring(chat)),
    extra = { chat_id = chat },
    rate_key = base .. "/bot" .. cfg.token .. "#" .. tostring(chat),   -- limits count per chat
  }
end

function resolvers.address(_, cfg, value)
  local to = value and { value } or list(cfg.to)
  if not to or #to == 0 then return nil, "no recipient (give `to` in the config or an address)" end
  for i, a in ipairs(to) do
    local name = value and "value" or ("to[%d]"):format(i)
    local at = type(a) == "string" and util.utf8_invalid(a)
    if at then return nil, ("%s: invalid UTF-8 at byte %d"):format(name, at) end
    if not util.is_email(a) then
      return nil, ("%s: e-mail address (name@example.com) expected, got %s"):format(name,
        type(a) == "string" and util.why_not_email(a) or type(a))
    end
  end
  local tls = cfg.tls or "starttls"
  local port = cfg.port or (tls == "implicit" and 465 or tls == "starttls" and 587 or 25)
  local url = ("%s://%s:%d"):format(tls == "implicit" and "smtps" or "smtp", cfg.host, port)
  return {
    url = url, label = "email:" .. table.concat(to, ","), secret = cfg.password,
    -- from, username, tls and the attachment rules go as options
    extra = { to = to, cc = list(cfg.cc), bcc = list(cfg.bcc), tls = tls },
  }
end

-- ---------------------------------------------------------------------------
-- Secrets stay with their destination
-- ---------------------------------------------------------------------------

-- The instance keys that hold secrets are the descriptor's secret keys (a
-- URL platform's token is its webhook URL itself, which an override replaces).

local function email_port(cfg)
  local tls = cfg.tls or "starttls"
  return cfg.port or (tls == "implicit" and 465 or tls == "starttls" and 587 or 25)
end

-- Where a target's requests go: key -> value, compared between the instance
-- and the target.
local function destination(platform, cfg, value)
  local spec = config.platforms[platform]
  if spec.value == "address" then
    return { host = tostring(cfg.host):lower(), port = email_port(cfg), tls = cfg.tls or "starttls" }
  elseif spec.value == "chat_id" then
    return { api_url = (tostring(cfg.api_url):gsub("/+$", "")) }
  end
  local key = spec.value_key
  return { [key] = value or cfg[key] }
end

-- The first destination key (sorted) the target changes, or nil.
local function moved_key(platform, instance_cfg, cfg, value)
  local was, now = destination(platform, instance_cfg, nil), destination(platform, cfg, value)
  local keys = {}
  for k in pairs(now) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    if was[k] ~= now[k] then return (value ~= nil and platform_info(platform).url_value) and "value" or k end
  end
  return nil
end

-- A target that sends somewhere else than its instance gets none of the
-- instance's secrets: only those the target gives itself. Nil, or why the
-- target cannot be sent (a secret it needs is missing).
local function keep_secrets_home(platform, instance_cfg, overrides, cfg, value)
  local moved = moved_key(platform, instance_cfg, cfg, value)
  if not moved then return nil end
  for _, k in ipairs(platform_info(platform).secrets) do
    if overrides[k] == nil then cfg[k] = nil end
  end
  local required = config.platforms[platform].required
  if cfg[required] == nil then
    return ("the target changes %s, so the instance's %s is not sent there: give the target its own %s")
      :format(moved, required, required)
  end
  return nil
end

-- The secret values of a resolved target, for the core to cut out of every
-- text it hands back (answers, errors, logs, labels).
local function secrets_of(platform, cfg, rec)
  local values
  if config.platforms[platform].value == "chat_id" then
    values = util.url_secrets(cfg.api_url, { cfg.token })
  else
    values = util.url_secrets(rec.url, {})
  end
  values[#values + 1] = cfg.secret
  values[#values + 1] = cfg.password
  -- the descriptor's secret keys (an access token, a user key) sent as options
  for _, k in ipairs(platform_info(platform).secrets) do
    if type(cfg[k]) == "string" then values[#values + 1] = cfg[k] end
  end
  if config.platforms[platform].value == "address" and cfg.password then
    -- what AUTH sends, which a server may echo in its refusal
    local user, pw = cfg.username or "", cfg.password
    values[#values + 1] = cfg.username
    values[#values + 1] = util.base64(user)
    values[#values + 1] = util.base64(pw)
    values[#values + 1] = util.base64("\0" .. user .. "\0" .. pw)
    values[#values + 1] = util.base64(user .. "\0" .. pw)
  end
  for _, v in pairs(cfg.headers or {}) do util.header_secrets(v, values) end
  return util.secret_forms(values)
end

-- A key for a target that names only platform, instance and value (or is a
-- string): those resolve the same every time, so a client caches them.
local function cache_key(t)
  if type(t) == "string" then return t end
  for k in pairs(t) do
    if k ~= "platform" and k ~= "value" and k ~= "instance" then return nil end
  end
  return ("%s\0%s\0%s"):format(tostring(t.platform), tostring(t.instance), tostring(t.value))
end

local CACHE_MAX = 1024

--- Resolves one target (table or string) against the client's platforms.
-- @tparam[opt] table cache the client's cache of resolved plain targets
-- @treturn table|nil the core record, or nil and why
function M.resolve(platforms, t, cache)
  local key = cache and cache_key(t)
  local hit = key and cache.records[key]
  if hit then return hit end
  local rec, err = M.resolve_uncached(platforms, t)
  if rec and key then
    if cache.size >= CACHE_MAX then cache.records, cache.size = {}, 0 end
    cache.records[key], cache.size = rec, cache.size + 1
  end
  return rec, err
end

function M.resolve_uncached(platforms, t)
  if type(t) == "string" then
    local parsed, err = M.parse(t)
    if not parsed then return nil, err end
    t = parsed
  end
  local platform = t.platform
  local at = type(t.value) == "string" and util.utf8_invalid(t.value)
  if at then return nil, ("value: invalid UTF-8 at byte %d"):format(at) end
  local spec = config.platforms[platform]
  if not spec then return nil, ("unknown platform '%s'"):format(tostring(platform)) end
  local section = platforms[platform]
  local base
  if t.instance ~= nil then
    base = section and section.instances[t.instance]
    if not base then
      -- a URL without its scheme lands here: its token must not be echoed
      local name = tostring(t.instance)
      if not name:match("^[%w_%-]+$") or #name > 40 then
        return nil, ("%s has no instance of that name (not shown: it looks like a URL or an address;"
          .. " a URL needs http:// or https://)"):format(platform)
      end
      return nil, ("%s has no instance '%s'"):format(platform, name)
    end
  elseif section then
    base = section.instances[section.default or ""]
    if not base and t.value == nil then
      return nil, ("%s has several instances: name one"):format(platform)
    end
  end
  local cfg = {}
  for k, v in pairs(config.platform_defaults[platform] or {}) do cfg[k] = v end
  for k, v in pairs(base or {}) do cfg[k] = v end
  if t.tags ~= nil then return nil, "tags belong to instances and URLs (the config), not to a target" end
  local overrides = {}
  for k, v in pairs(t) do
    if k ~= "platform" and k ~= "value" and k ~= "instance" then overrides[k] = v; cfg[k] = v end
  end
  local ok, err = pcall(config.check_instance, platform, "target", overrides, true)
  if not ok then return nil, (err:gsub("^notifyhub config: ", "")) end
  if base then
    local instance_cfg = {}
    for k, v in pairs(config.platform_defaults[platform] or {}) do instance_cfg[k] = v end
    for k, v in pairs(base) do instance_cfg[k] = v end
    local why = keep_secrets_home(platform, instance_cfg, overrides, cfg, t.value)
    if why then return nil, why end
  end
  -- an e-mail target may give its recipients as `to` (mailto:// does)
  if not base and t.value == nil and not (spec.value == "address" and t.to ~= nil) then
    return nil, ("%s is not configured and the target has no value"):format(platform)
  end
  if not base and cfg[spec.required] == nil and spec.value ~= "url" and spec.value ~= "address" then
    return nil, ("%s is not configured (%s missing)"):format(platform, spec.required)
  end
  if spec.value == "address" and not cfg[spec.required] then
    return nil, ("%s is not configured (%s missing)"):format(platform, spec.required)
  end
  local resolve = resolvers[spec.value]
  if not resolve then return nil, ("%s: no resolver for a value of kind '%s'"):format(platform, spec.value) end
  local rec, rerr = resolve(platform, cfg, t.value)
  if not rec then return nil, rerr end
  rec.platform = platform
  rec.secrets = secrets_of(platform, cfg, rec)
  rec.keywords = cfg.keywords
  rec.method = cfg.method
  rec.headers = cfg.headers and M.header_lines(cfg.headers) or nil
  rec.overflow = cfg.overflow
  rec.rate = M.rate_rules(platform, cfg)
  if not rec.rate then rec.rate_key = nil end
  rec.options = options_of(platform, cfg)
  for k, v in pairs(rec.extra or {}) do
    rec.options = rec.options or {}
    rec.options[k] = v
  end
  rec.extra = nil
  return rec
end

--- The core's rate rules `{ { count, seconds }, ... }` for a target, from
-- its `rate_limit` (or the platform's published limit); nil: not limited.
function M.rate_rules(platform, cfg)
  local limit = cfg.rate_limit
  if limit == nil then limit = config.rate_limits[platform] end
  if not limit then return nil end
  local rules = {}
  if limit.per_second then
    local burst = limit.burst or limit.per_second
    rules[#rules + 1] = { burst, burst / limit.per_second }
  end
  if limit.per_minute then rules[#rules + 1] = { limit.per_minute, 60 } end
  if limit.per_hour then rules[#rules + 1] = { limit.per_hour, 3600 } end
  return rules
end

--- "Name: value" lines from a header table, sorted by name.
function M.header_lines(headers)
  local names, lines = {}, {}
  for name in pairs(headers) do names[#names + 1] = name end
  table.sort(names)
  for i, name in ipairs(names) do lines[i] = name .. ": " .. headers[name] end
  return lines
end

--- The targets of a message that names none: the default instance of the
-- one configured platform, or nil.
function M.implicit(platforms)
  local only
  for name, section in pairs(platforms) do
    if only or not section.default then return nil end
    only = name
  end
  if not only then return nil end
  local rec = M.resolve(platforms, { platform = only })
  return rec and { rec } or nil
end

return M
