-- spec/platform_table_spec.lua -- the C platform descriptors (csrc/nh_<platform>.c, exported
-- as core.platforms) and everything that must agree with them, the way luv's bindcov.sh
-- checks that every libuv function is bound: per platform a config section with exactly the
-- descriptor's keys, checked by their kinds, its required and client-only keys, defaults and
-- rate limit; a target constructor; every key either sent to the core as an option or read
-- by target.lua; a stand-in in spec/support, a nginx location, a spec and a README row; and
-- the failure classes it retries are the ones the descriptor names.

local notifyhub = require("notifyhub")
local core = require("notifyhub.core")
local config = require("notifyhub.config")
local target = require("notifyhub.target")
local server = require("spec.support.server")
local smtp = require("spec.support.smtp")

local shell = require("spec.support.shell")

local function read(path) return assert(shell.read_file(path), path) end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function set_of(list, extra)
  local out = {}
  for _, v in ipairs(list) do out[v] = true end
  for _, v in ipairs(extra or {}) do out[v] = true end
  return out
end

local function key_names(d)
  local out = {}
  for _, k in ipairs(d.keys) do out[#out + 1] = k.name end
  return out
end

-- A valid value of each key kind config.lua checks (kind "choice": its first choice).
local SAMPLE = {
  string = "s3cr3t", text = "some text", boolean = true, strings = { "alert" },
  http_url = "http://127.0.0.1:1/hook/sample", method = "PUT", headers = { ["X-Sample"] = "1" },
  webhook_secret = "whsec_c2VjcmV0", header_value = "application/json", chat_id = 42,
  hostname = "127.0.0.1", port = 2525, mailbox = "a@example.com", addresses = "b@example.com",
  attachment_bytes = 1024, fields = { extra = "1" },
}

local function sample(key)
  if key.kind == "choice" then return key.choices[1] end
  return SAMPLE[key.kind]
end

-- An instance with every key of the descriptor set.
local function full_instance(d)
  local cfg = {}
  for _, k in ipairs(d.keys) do cfg[k.name] = sample(k) end
  return cfg
end

-- The stand-in of a platform that nginx does not play.
local STAND_IN = { email = "spec/support/smtp.lua" }

local VALUES = set_of({ "none", "url", "chat_id", "address" })
local RATE_KEYS = set_of({ "per_second", "per_minute", "per_hour", "burst" })

describe("core.platforms", function()
  it("lists the platforms in the enum's order, each once, with a kind of value and keys", function()
    assert.is_true(#core.platforms >= 9)
    local seen = {}
    for i, d in ipairs(core.platforms) do
      assert.equal("string", type(d.name))
      assert.is_nil(seen[d.name], d.name)
      seen[d.name] = true
      assert.equal(d.name, notifyhub.platforms[i])
      assert.truthy(VALUES[d.value], d.name .. ": value " .. tostring(d.value))
      assert.is_true(#d.keys > 0, d.name)
    end
    assert.equal(#core.platforms, #notifyhub.platforms)
  end)

  it("names failure classes core.failures knows, and rate limits of known kinds", function()
    local classes = set_of(core.failures)
    for _, d in ipairs(core.platforms) do
      for _, f in ipairs(d.transient) do assert.truthy(classes[f], d.name .. ": " .. f) end
      for k, v in pairs(d.rate_limit or {}) do
        assert.truthy(RATE_KEYS[k], d.name .. ": " .. k)
        assert.is_true(v > 0 and v == math.floor(v), d.name .. "." .. k)
      end
    end
  end)

  it("gives every key a kind config.lua checks and this spec has a sample of", function()
    for _, d in ipairs(core.platforms) do
      for _, k in ipairs(d.keys) do
        local where = d.name .. "." .. k.name
        if k.kind == "choice" then
          assert.is_true(type(k.choices) == "table" and #k.choices > 0, where)
        else
          assert.equal("function", type(config.kinds[k.kind]), where .. ": kind " .. tostring(k.kind))
        end
        assert.is_not_nil(sample(k), where)
        assert.is_nil(config.platforms[d.name].keys[k.name](sample(k)), where)
      end
    end
  end)

  it("has exactly one key that holds the value of a platform whose value is not 'none'", function()
    for _, d in ipairs(core.platforms) do
      local n = 0
      for _, k in ipairs(d.keys) do if k.value then n = n + 1 end end
      assert.equal(d.value == "none" and 0 or 1, n, d.name)
    end
  end)
end)

describe("each platform of core.platforms", function()
  local readme, nginx_conf, specs

  setup(function()
    -- the "Platforms" table: one row per platform, its config keys in the second column
    readme = read("README.md"):match("\n## Platforms\n(.-)\n## ")
    nginx_conf = read("spec/support/nginx.conf")
    local list = io.popen("ls spec/*_spec.lua")
    specs = {}
    for path in list:lines() do specs[#specs + 1] = read(path) end
    list:close()
  end)

  for _, d in ipairs(core.platforms) do
    describe(d.name, function()
      it("has a config section with exactly the descriptor's keys (and rate_limit, tags)", function()
        local spec = assert(config.platforms[d.name])
        -- tags route messages on every platform: no descriptor may take the name
        -- (ntfy's and Opsgenie's own tags are message_tags and alert_tags)
        for _, k in ipairs(key_names(d)) do assert.is_not.equal("tags", k, d.name) end
        local want, got = set_of(key_names(d), { "rate_limit", "tags" }), {}
        for k in pairs(spec.keys) do got[k] = true end
        assert.same(want, got)
        assert.equal(d.value, spec.value)
        local ok, err = pcall(config.check, { [d.name] = { not_a_key = 1 } })
        assert.is_false(ok)
        assert.matches(d.name .. ".not_a_key: unknown key", err, 1, true)
      end)

      it("checks each key by its kind, naming it", function()
        for _, k in ipairs(d.keys) do
          local cfg = full_instance(d)
          cfg[k.name] = function() end   -- no kind takes a function
          local ok, err = pcall(config.check, { [d.name] = cfg })
          assert.is_false(ok, k.name)
          assert.matches(d.name .. "." .. k.name .. ": ", err, 1, true)
        end
      end)

      it("takes an instance with every key, and refuses one without a required key", function()
        local out = config.check({ [d.name] = full_instance(d) })
        assert.is_table(out.platforms[d.name].instances.default)
        for _, k in ipairs(d.keys) do
          if k.required then
            local cfg = full_instance(d)
            cfg[k.name] = nil
            local ok, err = pcall(config.check, { [d.name] = cfg })
            assert.is_false(ok, k.name)
            assert.matches(d.name .. "." .. k.name .. ": missing", err, 1, true)
          end
        end
      end)

      it("refuses client-only keys on a target", function()
        for _, k in ipairs(d.keys) do
          if k.client then
            local ok, err = pcall(config.check_instance, d.name, "target", { [k.name] = sample(k) }, true)
            assert.is_false(ok, k.name)
            assert.matches("client's config only", err, 1, true)
          end
        end
      end)

      it("has the descriptor's defaults and rate limit", function()
        local defaults = {}
        for _, k in ipairs(d.keys) do
          if k.default ~= nil then defaults[k.name] = k.default end
        end
        assert.same(defaults, config.platform_defaults[d.name] or {})
        assert.same(d.rate_limit, config.rate_limits[d.name])
        local out = config.check({ [d.name] = full_instance(d) })
        local rules = target.rate_rules(d.name, out.platforms[d.name].instances.default)
        assert.equal(d.rate_limit ~= nil, rules ~= nil)
      end)

      it("has a target constructor", function()
        assert.equal("function", type(target[d.name]))
        assert.equal(d.name, target[d.name]().platform)
      end)

      it("sends every option key to the core, and reads every other key in target.lua", function()
        assert.same({}, target.unsent_keys(d.name))
        local out = config.check({ [d.name] = full_instance(d) })
        local rec, err = target.resolve(out.platforms, { platform = d.name })
        assert.is_table(rec, err)
        assert.equal(d.name, rec.platform)
        for _, k in ipairs(d.keys) do
          if k.option then
            assert.is_table(rec.options, k.name)
            assert.same(sample(k), rec.options[k.name], k.name)
          end
        end
      end)

      it("has a stand-in, an nginx location, a spec and a README row naming its keys", function()
        local stand_in = STAND_IN[d.name] or ("spec/support/stub/" .. d.name .. ".lua")
        assert.is_true(exists(stand_in), stand_in)
        if not STAND_IN[d.name] then
          assert.truthy(nginx_conf:find('require("stub").' .. d.name .. "()", 1, true), "nginx.conf")
        end
        local has_spec = exists("spec/" .. d.name .. "_spec.lua")
        local pattern = 'describe%("[^"]-%f[%w_]' .. d.name .. '%f[^%w_]'
        for _, text in ipairs(specs) do has_spec = has_spec or text:find(pattern) ~= nil end
        assert.is_true(has_spec, "spec/" .. d.name .. "_spec.lua or a describe block")
        local row = readme:match("\n| `" .. d.name .. "` | ([^\n]*)")
        assert.is_string(row, "README row")
        local keys_cell = row:match("^([^|]*)|")
        for _, k in ipairs(d.keys) do
          assert.truthy(keys_cell:find("`" .. k.name .. "`", 1, true), "README row: " .. k.name)
        end
      end)
    end)
  end
end)

-- The class of a failed result, as nh_failure_class (csrc/nh_platform.c) sees it. The SMTP
-- 4xx fact is not in a receipt: a PLATFORM_REJECTED e-mail with a 4xx reply code is one.
local function class_of(d, r)
  local simple = { NETWORK = "network", TIMEOUT = "timeout", TLS = "tls", RATE_LIMITED = "rate_limited" }
  if simple[r.code] then return simple[r.code] end
  if r.code == "HTTP_STATUS" then
    if r.http_status == 408 then return "http_408" end
    return r.http_status >= 500 and "http_5xx" or "http_other"
  end
  if r.code == "PLATFORM_REJECTED" then
    local reply = d.value == "address" and r.platform_code or 0
    return (reply >= 400 and reply < 500) and "reply_4xx" or "rejected"
  end
  return "other"
end

describe("retries", function()
  local s

  setup(function()
    server.start()
    s = smtp.start({})
  end)
  teardown(function()
    server.stop()
    smtp.stop()
  end)
  before_each(function() server.clear(); smtp.clear() end)

  -- A working instance whose requests reach the loopback servers (or a dead port), and the
  -- failures to provoke there: { class, instance overrides, forced HTTP answer }.
  local function cases(d)
    local path = "/webhook/class-" .. d.name
    local reach, dead
    if d.value == "address" then
      local to = function(who) return { host = s.host, port = s.port, tls = "none", to = who } end
      return {
        { "reply_4xx", to("defer@example.com") },
        { "rejected", to("reject@example.com") },
        { "network", { host = "127.0.0.1", port = 1, tls = "none", to = "b@example.com" } },
      }
    elseif d.value == "chat_id" then
      reach, dead = { api_url = server.url(path) }, { api_url = "http://127.0.0.1:1" }
    else
      local value_key = config.platforms[d.name].value_key
      reach, dead = { [value_key] = server.url(path) }, { [value_key] = "http://127.0.0.1:1/x" }
    end
    return {
      { "network", dead },
      { "http_5xx", reach, { status = 503, body = "down" } },
      { "http_408", reach, { status = 408, body = "slow" } },
      { "rate_limited", reach, { status = 429, body = "slow down" } },
      { "http_other", reach, { status = 404, body = "no such hook" } },
    }, path
  end

  for _, d in ipairs(core.platforms) do
    it(d.name .. ": retries exactly the failure classes its descriptor calls transient", function()
      local transient = set_of(d.transient)
      local list, path = cases(d)
      for _, case in ipairs(list) do
        local class, overrides, answer = case[1], case[2], case[3]
        local cfg = { rate_limit = false }   -- the required keys and the value only
        for _, k in ipairs(d.keys) do
          if k.required or k.value then cfg[k.name] = sample(k) end
        end
        for k, v in pairs(overrides) do cfg[k] = v end
        if answer then server.behave(path, answer) end
        local c = notifyhub.new({ [d.name] = cfg, http = { timeout = 5 },
          retry = { max_attempts = 2, initial_delay = 0.01, max_delay = 0.01 },
          logger = { failures = false } })
        local _, _, _, receipt = c:send({ title = "t", body = "b" })
        c:close()
        local r = assert(receipt and receipt.results[1], class)
        assert.is_false(r.success, class)
        assert.equal(d.name, r.platform)   -- the X-macro's name (nh_platform_name) is the descriptor's
        assert.equal(class, class_of(d, r), class .. ": " .. tostring(r.code) .. " " .. tostring(r.error))
        assert.equal(transient[class] and 2 or 1, r.attempts, class)
      end
    end)
  end

  it("covers every class some platform calls transient", function()
    local covered = {}
    for _, d in ipairs(core.platforms) do
      for _, case in ipairs(cases(d)) do covered[case[1]] = true end
    end
    for _, d in ipairs(core.platforms) do
      for _, f in ipairs(d.transient) do
        assert.is_true(covered[f] or f == "timeout", d.name .. ": " .. f)
      end
    end
  end)
end)
