-- Issue 12 ("one source of truth") checked from outside: what config.check
-- refuses, core.new refuses in the same words; what the façade checked is
-- what the binding reads.

local notifyhub = require("notifyhub")
local core = require("notifyhub.core")
local config = require("notifyhub.config")
local shell = require("spec.support.shell")

local NAN, INF = 0 / 0, math.huge
local REFUSED = "http://127.0.0.1:9/never"   -- the discard port: connections are refused

-- Values no row takes as they are: hostile numbers, numbers as strings,
-- booleans, tables, control characters.
local HOSTILE = { NAN, INF, -INF, 1e300, -1e300, 2 ^ 31, 2 ^ 53 + 2, -0.0, 0.5, -1, "4", "",
  "loud", "a\r\nX-Injected: 1", "a\127", true, false, {} }

local function shown(v)
  if type(v) == "string" then return ("%q"):format(v) end
  return tostring(v)
end

-- The rows of core.options, sorted (the specs' order).
local PATHS = {}
for path in pairs(core.options) do PATHS[#PATHS + 1] = path end
table.sort(PATHS)

-- The error text after the prefix, or "accepted".
local function refusal(prefix, fn, ...)
  local ok, err = pcall(fn, ...)
  if ok then
    if type(err) == "userdata" then err:close(0) end
    return "accepted"
  end
  return (tostring(err):gsub("^" .. prefix:gsub("%p", "%%%0"), ""))
end

-- Rows whose value config.lua checks further than its type (http.proxy: a
-- URL libcurl takes): the binding checks the type and control characters,
-- which would reach a request, and may word its refusal its own way.
local REFINED = { ["http.proxy"] = true }

describe("config.check and core.new", function()
  for _, path in ipairs(PATHS) do
    it("refuse every bad value of " .. path .. " in the same words", function()
      local section, key = path:match("^([^.]+)%.(.+)$")
      local dir = path == "spool.path" and os.tmpname()
      if dir then assert(os.remove(dir) and os.execute("mkdir " .. dir)) end
      for _, v in ipairs(HOSTILE) do
        -- a spool path that is taken makes a file: in a folder of its own, not the checkout
        if dir and type(v) == "string" and v ~= "" then v = dir .. "/" .. v end
        local cfg = { [section] = { [key] = v } }
        local by_config = refusal("notifyhub config: ", config.check, cfg)
        local by_core = refusal("notifyhub: ", core.new, cfg)
        local what = path .. " = " .. shown(v)
        if REFINED[path] and type(v) == "string" then
          if v:find("%c") then assert.is_not.equal("accepted", by_core, what) end
        elseif by_config ~= "accepted" then
          assert.equal(by_config, by_core, what)
        end
      end
      if dir then os.execute("rm -rf '" .. dir .. "'") end
    end)
  end

  it("refuse a proxy with a control character, which would reach the request", function()
    for _, v in ipairs({ "http://p:3128\r\nX: 1", "p\0", "p\127" }) do
      assert.truthy(refusal("notifyhub: ", core.new, { http = { proxy = v } }):find("^http%.proxy: "))
    end
  end)

  it("name a key that is not a string alike", function()
    for _, k in ipairs({ 1, 2.5, true }) do
      local cfg = { async = { [k] = 1 } }
      assert.equal(refusal("notifyhub config: ", config.check, cfg), refusal("notifyhub: ", core.new, cfg))
    end
  end)
end)

describe("a message's retry", function()
  local c
  setup(function()
    c = assert(notifyhub.new({ webhook = { url = REFUSED }, logger = { failures = false },
      retry = { max_attempts = 1, initial_delay = 0, max_delay = 0 } }))
  end)
  teardown(function() c:close(0) end)

  -- A table whose fields come from __index: pairs() sees no key, so the
  -- check sees none; the binding must not read fields the check never saw.
  local function answering(fields)
    return setmetatable({}, { __index = function(_, k) return fields[k] end })
  end

  it("is read as it was checked: no field the check never saw (a NaN from __index)", function()
    local ok, h, err = pcall(c.send_async, c, { body = "x", retry = answering({ max_attempts = NAN }) })
    assert.is_true(ok, tostring(h))
    assert.is_truthy(h, err)
    local receipt = select(4, h:wait(20))
    assert.equal(1, receipt.results[1].attempts)
  end)

  it("is read as it was checked: no field the check never saw (a valid one from __index)", function()
    local h = assert(c:send_async({ body = "x" }, { retry = answering({ max_attempts = 3 }) }))
    local receipt = select(4, h:wait(20))
    assert.equal(1, receipt.results[1].attempts)
  end)
end)

describe("a range error's numbers", function()
  -- %.14g printed 2^53 + 2 as 9.007199254741e+15, the same as the range's
  -- end: "from -9.007199254741e+15 to 9.007199254741e+15 expected, got
  -- 9.007199254741e+15" reads as a value inside the range.
  it("print a whole number below 2^63 in full, in config.check and in core.new", function()
    local ok, err = pcall(config.check, { telegram = { token = "T", chat_id = 2 ^ 53 + 2 } })
    assert.is_false(ok)
    assert.equal("notifyhub config: telegram.chat_id: string or integer from -9007199254740992 to "
      .. "9007199254740992 expected, got 9007199254740994", err)
    assert.equal("async.buffer_size: integer from 1 to 10000000 expected, got 9007199254740994",
      refusal("notifyhub: ", core.new, { async = { buffer_size = 2 ^ 53 + 2 } }))
    assert.equal("http.max_response: integer from 1024 to 1073741824 expected, got 1152921504606846976",
      refusal("notifyhub: ", core.new, { http = { max_response = 2 ^ 60 } }))
    -- the rest as before
    assert.equal("async.workers: integer from 1 to 256 expected, got 1e+300",
      refusal("notifyhub: ", core.new, { async = { workers = 1e300 } }))
    assert.equal("async.workers: integer from 1 to 256 expected, got 2.5",
      refusal("notifyhub config: ", config.check, { async = { workers = 2.5 } }))
  end)
end)

describe("a platform's option keys", function()
  -- The files that read a platform's options (nh_opt_string(t, "key"), ...):
  -- its own, and for e-mail the attachment and SMTP parts it hands them to.
  local READERS = { email = { "nh_email.c", "nh_attach.c", "nh_smtp.c" } }

  -- The C that reads options: the platform's files without the descriptor's table.
  local function reader_text(name)
    local parts = {}
    for _, file in ipairs(READERS[name] or { "nh_" .. name .. ".c" }) do
      local text = shell.read_file("csrc/" .. file)
      parts[#parts + 1] = text:gsub("nh_platform_key%s+[%w_]+%[%]%s*=%s*%b{}", "")
    end
    return table.concat(parts, "\n")
  end

  -- target.lua hands each option key to the core (platform_table_spec); a key
  -- the platform's C never names would be checked, sent and then dropped.
  for _, d in ipairs(core.platforms) do
    it("are each read by " .. d.name .. "'s C", function()
      local text = reader_text(d.name)
      for _, k in ipairs(d.keys) do
        if k.option then
          assert.truthy(text:find('"' .. k.name .. '"', 1, true), d.name .. "." .. k.name .. " is never read")
        end
      end
    end)
  end
end)

describe("the README", function()
  -- "a new version is NH_VERSION plus renaming the rockspec": and the
  -- README's mentions of it, which this finds when they are left behind
  it("names the version of csrc/nh_version.h wherever it names notifyhub's", function()
    local readme = shell.read_file("README.md")
    local n = 0
    for v in readme:gmatch("notifyhub[ /%-](%d+%.%d+%.%d+)") do
      assert.equal(core.version, v)
      n = n + 1
    end
    assert.is_true(n >= 4, n)
  end)

  it("lists notifyhub.platforms as core.platforms has them", function()
    local readme = shell.read_file("README.md")
    local row = assert(readme:match("\n| `notifyhub%.platforms` | ([^\n]*)"), "no notifyhub.platforms row")
    local names = {}
    for _, d in ipairs(core.platforms) do names[#names + 1] = d.name end
    assert.truthy(row:find(table.concat(names, ", "), 1, true), row)
  end)
end)

describe("the README's configuration tables", function()
  local readme
  setup(function() readme = shell.read_file("README.md") end)

  -- The defaults written as a rule, not a value.
  local RULE = { ["async.min_workers"] = true, ["async.max_workers"] = true }

  local function cell(v)
    if type(v) == "string" then return ('"%s"'):format(v) end
    if type(v) == "number" then return ("%.14g"):format(v) end
    return tostring(v)
  end

  -- Adding an option is a row of nh_options.h "and a line in this README's tables".
  it("have a row for every option, with the option's default", function()
    for _, path in ipairs(PATHS) do
      local row = core.options[path]
      local section, key = path:match("^([^.]+)%.(.+)$")
      local tbl = readme:match("\n### `" .. section .. "`[^\n]*\n(.-)\n#")
      assert.is_string(tbl, "README: no ### `" .. section .. "` section")
      local default = tbl:match("\n| `" .. key .. "` | ([^|]*) |")
      assert.is_string(default, "README: no row for " .. path)
      if row.default ~= nil and not RULE[path] then
        assert.truthy(default:find("`" .. cell(row.default) .. "`", 1, true), path .. ": " .. default)
      end
    end
  end)

  it("give every numeric option's range", function()
    local ranges = assert(readme:match("\n#### Number ranges\n(.-)\n###"))
    for _, path in ipairs(PATHS) do
      local t = core.options[path].type
      if t == "integer" or t == "number" then
        local section, key = path:match("^([^.]+)%.(.+)$")
        local found = ranges:find("`" .. path .. "`", 1, true)
        for line in ranges:gmatch("[^\n]+") do
          found = found or (line:find("`" .. section .. ".", 1, true) and line:find("`" .. key .. "`", 1, true))
        end
        assert.truthy(found, "README, Number ranges: " .. path)
      end
    end
  end)
end)

describe("a wrong type in send_async's opts", function()
  it("names argument #2 and opts.<key>, at the caller's line", function()
    local c = assert(notifyhub.new({ webhook = { url = REFUSED }, async = { enabled = false } }))
    local WANT = { retry = "table", timeout = "number", priority = "string", utf8 = "string" }
    for key, v in pairs({ retry = "x", timeout = "5", priority = 1, utf8 = true }) do
      local line = debug.getinfo(1, "l").currentline + 1
      local ok, err = pcall(function() local h = c:send_async({ body = "x" }, { [key] = v }); return h end)
      assert.is_false(ok)
      assert.equal(("spec/review_source_spec.lua:%d: bad argument #2 to 'send_async' (opts.%s: %s "
        .. "expected, got %s)"):format(line, key, WANT[key], type(v)), err)
    end
    -- the message's own fields stay argument #1
    local ok, err = pcall(c.send_async, c, { body = "x", retry = "x" })
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'send_async' (message.retry: table expected, got string)", err, 1, true)
    c:close(0)
  end)
end)

describe("retries of a TLS failure and a timeout", function()
  -- platform_table_spec provokes network errors, 408, 429, 5xx, 404 and SMTP
  -- 4xx/5xx replies; these two classes it leaves out: a certificate nobody
  -- trusts (TLS) and a server that does not answer in time (TIMEOUT).
  local faults = require("spec.support.faults")
  local server = require("spec.support.server")
  local f
  setup(function()
    f = faults.start()
    server.start()
  end)
  teardown(function()
    faults.stop()
    server.stop()
  end)

  local SAMPLE = { string = "s3cr3t", hostname = "127.0.0.1", mailbox = "a@example.com",
    text = "s3cr3t", header_value = "s3cr3t" }

  -- An instance of platform d whose requests go to url (http(s)) or, for
  -- e-mail, to port with tls.
  local function instance(d, url, port, tls)
    local cfg = { rate_limit = false }
    for _, k in ipairs(d.keys) do
      if k.required then cfg[k.name] = SAMPLE[k.kind] end
    end
    if d.value == "address" then
      cfg.host, cfg.port, cfg.tls, cfg.to = "127.0.0.1", port, tls, "b@example.com"
    elseif d.value == "chat_id" then
      cfg.api_url, cfg.chat_id = url, 42
    else
      cfg[config.platforms[d.name].value_key] = url
    end
    return cfg
  end

  local function attempt(d, cfg, timeout)
    local c = notifyhub.new({ [d.name] = cfg, http = { timeout = timeout },
      retry = { max_attempts = 2, initial_delay = 0.01, max_delay = 0.01 }, logger = { failures = false } })
    local _, _, _, receipt = c:send({ title = "t", body = "b" })
    c:close(0)
    return assert(receipt and receipt.results[1])
  end

  for _, d in ipairs(core.platforms) do
    it(d.name .. ": retries them exactly when its descriptor calls them transient", function()
      local transient = {}
      for _, class in ipairs(d.transient) do transient[class] = true end
      local r = attempt(d, instance(d, f.tls_base .. "/ok", f.tls_port, "implicit"), 5)
      assert.equal("TLS", r.code, r.error)
      assert.equal(transient.tls and 2 or 1, r.attempts, "tls")
      -- the stand-in answers after 2 s; an SMTP client waits for a greeting
      -- the faults server's HTTP port never sends
      local path = "/webhook/slow-" .. d.name
      server.behave(path, { delay = 2 })
      r = attempt(d, instance(d, server.url(path), f.port, "none"), 0.3)
      server.behave(path, nil)
      assert.equal("TIMEOUT", r.code, r.error)
      assert.equal(transient.timeout and 2 or 1, r.attempts, "timeout")
    end)
  end
end)

describe("notifyhub.ngx.configure", function()
  local app = require("spec.support.app")
  local server = require("spec.support.server")
  setup(function()
    server.start()
    app.start()
  end)
  teardown(function()
    app.stop()
    server.stop()
  end)

  -- It copied cfg.async and cfg.logger with pairs() before config.check saw
  -- them: a number there raised "bad argument #1 to 'for iterator'".
  it("names a section that is not a table as notifyhub.new does", function()
    for _, section in ipairs({ "async", "logger", "http" }) do
      local _, body = server.http("GET", app.url("/bad-section?section=" .. section))
      local ok, err = pcall(notifyhub.new, { webhook = { url = REFUSED }, [section] = 5 })
      assert.is_false(ok)
      assert.equal(err, (body:gsub("\n$", "")), section)
    end
  end)
end)

describe("a target's override of a platform key", function()
  it("is refused in the config's words, for every key of every platform", function()
    local c = assert(notifyhub.new({ async = { enabled = false } }))
    local compared = 0
    for _, d in ipairs(core.platforms) do
      for _, k in ipairs(d.keys) do
        if not k.client then
          for _, v in ipairs(HOSTILE) do
            local ok, cfg_err = pcall(config.check, { [d.name] = { [k.name] = v } })
            local want = not ok and cfg_err:match("^notifyhub config: " .. d.name .. "(%." .. k.name .. ": .*)$")
            if want then
              local h, err, code = c:send_async({ body = "x", targets = { { platform = d.name, [k.name] = v } } })
              assert.is_nil(h, d.name .. "." .. k.name .. " = " .. shown(v))
              assert.equal("INVALID_MESSAGE", code)
              assert.equal("targets[1]: target" .. want, err)
              compared = compared + 1
            end
          end
        end
      end
    end
    c:close(0)
    assert.is_true(compared > 100, compared)
  end)
end)
