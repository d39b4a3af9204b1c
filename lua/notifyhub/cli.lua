--- The `notifyhub` command (bin/notifyhub): argument parsing, the sources
-- of destinations (URLs, --to, --config, NOTIFYHUB_URLS, NOTIFYHUB_CONFIG)
-- and the subcommands send, check and platforms.
--
-- Exit status: 0 everything delivered (or checked), 1 something failed,
-- 2 a usage or config error. Errors go to stderr; with --json, stdout holds
-- nothing but JSON lines.
-- @module notifyhub.cli

local notifyhub = require("notifyhub")
local json = require("notifyhub.cli_json")
local output = require("notifyhub.cli_output")

local M = {}

local USAGE = [[
Usage: notifyhub send [options] [URL...]        send one message (body: -b or stdin)
       notifyhub send --each FILE.jsonl [options] [URL...]   one message per line
       notifyhub check [--config FILE] [URL...]  validate the destinations, send nothing
       notifyhub platforms [--json]              the platforms and their URL schemes
       notifyhub --help | --version

Options of send (Apprise's spellings in brackets):
  -t, --title TITLE           the title
  -b, --body BODY             the body (else read from stdin when it is not a terminal)
      --format FMT            text | markdown | html       [-i, --input-format]
      --type TYPE             info | success | warning | failure   [-n, --notification-type]
      --to URL                a destination (repeatable); URLs may also be plain arguments
      --tag TAG               send to tagged destinations [-g]: --tag a,b = a AND b,
                              repeated --tag = OR, "all" = every destination
      --config FILE           a config file: Apprise's YAML or TEXT, or Lua   [-c]
      --attach FILE           attach a file (e-mail destinations) (repeatable)   [-a]
      --timeout S             seconds for each message's whole delivery (0.001 to 86400)
      --each FILE             one JSON object per line ("-": stdin)
      --json                  one JSON receipt per message on stdout
      --dry-run               show what would be sent, send nothing   [-d]
  -e, --interpret-escapes     \n, \t, \r, \\ in -t and -b as the characters
  -v, --verbose               report every delivery on stderr, not only failures

Without URL, --to or --config: NOTIFYHUB_URLS (URLs separated by spaces
or commas) and NOTIFYHUB_CONFIG (a config file). Exit status: 0 all
delivered, 1 something failed, 2 usage or config error.
]]

-- Options: kind "value" (last wins), "list" (repeatable) or "flag".
local OPTIONS = {
  title = { "value", "-t", "--title" },
  body = { "value", "-b", "--body" },
  format = { "value", "--format", "-i", "--input-format" },
  type = { "value", "--type", "-n", "--notification-type" },
  to = { "list", "--to" },
  tag = { "list", "--tag", "-g" },
  config = { "value", "--config", "-c" },
  attach = { "list", "--attach", "-a" },
  timeout = { "value", "--timeout" },
  each = { "value", "--each" },
  json = { "flag", "--json" },
  dry_run = { "flag", "--dry-run", "-d" },
  escapes = { "flag", "--interpret-escapes", "-e" },
  verbose = { "flag", "--verbose", "-v", "-vv", "-vvv", "-vvvv" },   -- Apprise's levels: one here
  help = { "flag", "--help", "-h" },
}

-- The options each subcommand takes.
local ALLOWED = {
  send = { title = true, body = true, format = true, type = true, to = true, tag = true,
    config = true, attach = true, timeout = true, each = true, json = true, dry_run = true,
    verbose = true, help = true, escapes = true },
  check = { to = true, tag = true, config = true, json = true, help = true },
  platforms = { json = true, help = true },
}

local BY_SPELLING = {}
for name, o in pairs(OPTIONS) do
  for i = 2, #o do BY_SPELLING[o[i]] = name end
end

local FORMATS = { text = true, markdown = true, html = true }
local TYPES = { info = true, success = true, warning = true, failure = true }

-- A usage or config error: main prints it and exits 2.
local function usage_error(fmt, ...)
  error({ exit = 2, text = fmt:format(...) }, 0)
end
M.usage_error = usage_error

-- What an argument is called in an error: never a URL (it may hold a token).
local function shown(arg)
  if arg:find("://", 1, true) or #arg > 40 then return "(not shown)" end
  return "'" .. arg .. "'"
end

local function set_option(opts, name, value)
  local kind = OPTIONS[name][1]
  if kind == "list" then
    opts[name] = opts[name] or {}
    opts[name][#opts[name] + 1] = value
  else
    opts[name] = value
  end
end

--- Parses the arguments after the subcommand: options and positional URLs.
function M.parse(command, args)
  local opts, urls, i = {}, {}, 1
  while i <= #args do
    local a = args[i]
    if a == "--" then
      for j = i + 1, #args do urls[#urls + 1] = args[j] end
      break
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      local spelling, inline = a:match("^(%-%-[^=]+)=(.*)$")
      if not spelling and not BY_SPELLING[a] then        -- -tTITLE, as Apprise's click reads it
        local short, rest = a:match("^(%-%a)(.+)$")
        local name = short and BY_SPELLING[short]
        if name and OPTIONS[name][1] ~= "flag" then spelling, inline = short, rest end
      end
      spelling = spelling or a
      local name = BY_SPELLING[spelling]
      if not name or not ALLOWED[command][name] then
        usage_error("%s: unknown option %s", command, shown(spelling))
      end
      if OPTIONS[name][1] == "flag" then
        if inline then usage_error("%s: %s takes no value", command, spelling) end
        opts[name] = true
      else
        local value = inline
        if not value then
          i = i + 1
          value = args[i]
          if value == nil then usage_error("%s: %s needs a value", command, spelling) end
        end
        set_option(opts, name, value)
      end
    else
      urls[#urls + 1] = a
    end
    i = i + 1
  end
  return opts, urls
end

--- Splits NOTIFYHUB_URLS: URLs separated by spaces and/or commas; a comma
-- inside a URL (`?to=a@x,b@x`) stays, since only a comma before `scheme://`
-- or next to a blank separates.
function M.split_urls(s)
  local out = {}
  s = s:gsub(",(%s*%a[%w+.%-]*://)", " %1")
  for word in s:gmatch("%S+") do
    word = word:gsub("^,+", ""):gsub(",+$", "")
    if word ~= "" then out[#out + 1] = word end
  end
  return out
end

-- The checked --timeout, or a usage error.
local function timeout_of(s)
  if s == nil then return nil end
  -- decimal seconds only: tonumber would take 0x10 and 1e1 too
  local n = s:match("^%d+%.?%d*$") and tonumber(s) or s:match("^%.%d+$") and tonumber(s)
  if not n or n ~= n or n < 0.001 or n > 86400 then
    usage_error("send: --timeout: seconds from 0.001 to 86400 expected, got %s", shown(s))
  end
  return n
end

local function check_choice(value, choices, flag, list)
  if value ~= nil and not choices[value] then
    usage_error("send: %s: %s expected, got %s", flag, list, shown(value))
  end
end

--- Where the messages go: the command line's URLs, --to and --config, or
-- else NOTIFYHUB_URLS and NOTIFYHUB_CONFIG. Returns { urls, config }.
function M.destinations(opts, urls, getenv)
  local dest = { urls = {}, config = opts.config }
  for _, u in ipairs(urls) do dest.urls[#dest.urls + 1] = u end
  for _, u in ipairs(opts.to or {}) do dest.urls[#dest.urls + 1] = u end
  if #dest.urls == 0 and not dest.config then
    dest.urls = M.split_urls(getenv("NOTIFYHUB_URLS") or "")
    local path = getenv("NOTIFYHUB_CONFIG")
    if path and path ~= "" then dest.config = path end
  end
  return dest
end

--- The targets a destination string names, or nil and why. The library
-- shows a short string that is no URL; it may still be a password typed
-- without its scheme, so the command never echoes it.
function M.parse_destination(u)
  local list, why = notifyhub.target.parse_all(u)
  if list then return list end
  local at = why:find(u, 1, true)
  if at and #u > 0 then why = why:sub(1, at - 1) .. "(not shown)" .. why:sub(at + #u) end
  return nil, why
end

-- Checks the command line's URLs first, so that an error says which
-- argument (its scheme, never the whole URL) rather than an index of `urls`.
local function check_urls(urls)
  for i, u in ipairs(urls) do
    local list, why = M.parse_destination(u)
    if not list then usage_error("destination %d: %s", i, why) end
  end
end

-- The config table for notifyhub.new, or a config error.
local function load_config(path)
  if not path then return {} end
  local cfg, err = notifyhub.config.load(path)
  if not cfg then usage_error("%s", tostring(err)) end
  return cfg
end

--- Makes the client for the destinations: the config file's, with the
-- URLs appended to its `urls` (untagged). Always with `urls`, so that
-- Apprise's routing holds: no --tag reaches the untagged destinations.
-- Returns { client, targets = {} } or raises a config error.
function M.open(dest)
  check_urls(dest.urls)
  local cfg = load_config(dest.config)
  local urls = type(cfg.urls) == "string" and { cfg.urls } or cfg.urls or {}
  if type(urls) == "table" then   -- else config.check says what is wrong
    local all = {}
    for i, u in ipairs(urls) do all[i] = u end
    for _, u in ipairs(dest.urls) do all[#all + 1] = u end
    urls = all
  end
  cfg.urls = urls
  -- failures are reported by the command itself; the library's log says
  -- only what went wrong around them
  if cfg.logger == nil then cfg.logger = { level = "error" } end
  local ok, client, err = pcall(notifyhub.new, cfg)
  if not ok then usage_error("%s", (tostring(client):gsub("^notifyhub config: ", "config: "))) end
  if not client then error({ exit = 1, text = tostring(err) }, 0) end
  M.session = { client = client, targets = {}, config = cfg }   -- for Ctrl-C
  return M.session
end

--- The destinations the tags (a list of --tag values, or nil) choose:
-- { { platform, instance, target, tags } } with the secrets hidden, or a
-- usage error (no destination, a bad tag, one that cannot be sent to).
function M.selection(session, given, command)
  local tags = require("notifyhub.tags")
  local expr, why
  if given then
    expr, why = tags.expression(given)
    if not expr then usage_error("%s: --tag: %s", command, why) end
  end
  local platforms = session.client.cfg.platforms
  local chosen
  chosen, why = tags.select(platforms, expr)
  if not chosen then usage_error("%s: no destination: %s", command, why) end
  local out = {}
  for i, ref in ipairs(chosen) do
    local rec, rwhy = notifyhub.target.resolve_uncached(platforms, { platform = ref[1], instance = ref[2] })
    if not rec then usage_error("%s: %s instance '%s': %s", command, ref[1], ref[2], rwhy) end
    local set = json.array()
    for tag in pairs(tags.set(platforms[ref[1]].instances[ref[2]].tags)) do set[#set + 1] = tag end
    table.sort(set)
    out[i] = { platform = ref[1], instance = ref[2], target = rec.label, tags = set }
  end
  return out
end

-- ---------------------------------------------------------------------------
-- Messages
-- ---------------------------------------------------------------------------

local function basename(path) return path:match("([^/]+)/*$") or path end

--- The message table from the command line's fields (and a --each line's).
-- Attachments become e-mail attachments (the only platform with files).
function M.message(fields, targets)
  local msg = { title = fields.title, body = fields.body, format = fields.format,
    type = fields.type, tags = fields.tags }
  for k, v in pairs(fields.extra or {}) do msg[k] = v end
  if #targets > 0 then msg.targets = targets end
  if fields.attach and #fields.attach > 0 then
    local list = {}
    for i, path in ipairs(fields.attach) do list[i] = { filename = basename(path), path = path } end
    msg.platform_data = msg.platform_data or {}
    msg.platform_data.email = msg.platform_data.email or {}
    msg.platform_data.email.attachments = list
  end
  return msg
end

-- Each --attach must be a readable file: a usage error otherwise.
local function check_attachments(list)
  for _, path in ipairs(list or {}) do
    if path:find("^%a[%w+.%-]*://") then usage_error("send: --attach takes a file path, not a URL") end
    local f, err = io.open(path, "rb")
    if not f then usage_error("send: --attach: %s", err) end
    local ok = f:read(0) ~= nil or f:seek("end") == 0
    f:close()
    if not ok then usage_error("send: --attach: %s: not a readable file", path) end
  end
end

local function is_tty(fd)
  local r = os.execute("test -t " .. fd)
  return r == true or r == 0
end
M.is_tty = is_tty

-- The body from stdin when no -b and stdin is not a terminal; one final
-- line end is dropped (`echo text |` gives "text").
local function stdin_body()
  if is_tty(0) then return nil end
  local s = io.stdin:read("*a") or ""
  s = s:gsub("\r?\n$", "")
  if s == "" then return nil end
  return s
end

-- ---------------------------------------------------------------------------
-- Subcommands
-- ---------------------------------------------------------------------------

local ESCAPES = { n = "\n", t = "\t", r = "\r", ["\\"] = "\\", ['"'] = '"', ["'"] = "'" }

-- Apprise's -e: backslash escapes in the title and body; others stay as written.
local function unescape(s)
  if s == nil then return nil end
  return (s:gsub("\\(.)", function(c) return ESCAPES[c] or ("\\" .. c) end))
end

local function send_one(opts, dest, env)
  local fields = { title = opts.title, body = opts.body, format = opts.format,
    type = opts.type, attach = opts.attach, tags = opts.tag }
  if fields.body == nil then fields.body = stdin_body() end
  if (fields.title or "") == "" and (fields.body or "") == "" then
    usage_error("send: nothing to send: give -b BODY, -t TITLE or a body on stdin")
  end
  local session = M.open(dest)
  local ok, err = pcall(M.selection, session, opts.tag, "send")   -- no destination: status 2
  if not ok then session.client:close(); error(err, 0) end
  local out = output.new(opts, session, env)
  local msg = M.message(fields, session.targets)
  if opts.dry_run then
    local rc = out:dry_run(msg)
    session.client:close()
    return rc
  end
  local h, code
  h, err, code = output.send_async(session.client, msg, { timeout = opts.timeout })
  local receipt
  if h then
    receipt = output.wait(h)
  else
    receipt = output.refused(msg, err, code)
  end
  out:receipt(receipt)
  session.client:close()
  return receipt.status == "success" and 0 or 1
end

local function cmd_send(args, env)
  local opts, urls = M.parse("send", args)
  if opts.help then env.stdout:write(USAGE); return 0 end
  check_choice(opts.format, FORMATS, "--format", "text, markdown or html")
  check_choice(opts.type, TYPES, "--type", "info, success, warning or failure")
  opts.timeout = timeout_of(opts.timeout)
  local expr, why = true, nil
  if opts.tag then expr, why = require("notifyhub.tags").expression(opts.tag) end
  if not expr then usage_error("send: --tag: %s", why) end
  if opts.escapes then opts.title, opts.body = unescape(opts.title), unescape(opts.body) end
  check_attachments(opts.attach)
  local dest = M.destinations(opts, urls, env.getenv)
  if #dest.urls == 0 and not dest.config then
    usage_error("send: no destination: give a URL, --to or --config, or set NOTIFYHUB_URLS or NOTIFYHUB_CONFIG")
  end
  if opts.each then return require("notifyhub.cli_each").run(opts, dest, env) end
  return send_one(opts, dest, env)
end

local function cmd_check(args, env)
  local opts, urls = M.parse("check", args)
  if opts.help then env.stdout:write(USAGE); return 0 end
  local dest = M.destinations(opts, urls, env.getenv)
  if #dest.urls == 0 and not dest.config then
    usage_error("check: no destination: give a URL, --to or --config, or set NOTIFYHUB_URLS or NOTIFYHUB_CONFIG")
  end
  local session = M.open(dest)
  local ok, list = pcall(M.selection, session, opts.tag or { "all" }, "check")
  session.client:close()
  if not ok then error(list, 0) end
  for _, d in ipairs(list) do
    if opts.json then
      d.ok = true
      env.stdout:write(json.encode(d), "\n")
    else
      local tags = #d.tags > 0 and ("  [" .. table.concat(d.tags, ", ") .. "]") or ""
      env.stdout:write(("ok  %-10s %s%s\n"):format(d.platform, d.target, tags))
    end
  end
  if not opts.json then env.stdout:write(("%d destination(s), config valid\n"):format(#list)) end
  return 0
end

local function cmd_platforms(args, env)
  local opts = M.parse("platforms", args)
  if opts.help then env.stdout:write(USAGE); return 0 end
  local schemes = {}   -- platform -> { "slack://", ... }
  for scheme, entry in pairs(require("notifyhub.url").schemes) do
    schemes[entry.platform] = schemes[entry.platform] or {}
    table.insert(schemes[entry.platform], scheme .. "://")
  end
  for _, name in ipairs(notifyhub.platforms) do
    local list = schemes[name] or {}
    table.sort(list)
    if opts.json then
      env.stdout:write(json.encode({ platform = name, schemes = list }), "\n")
    else
      env.stdout:write(("%-10s %s\n"):format(name, table.concat(list, " ")))
    end
  end
  return 0
end

local COMMANDS = { send = cmd_send, check = cmd_check, platforms = cmd_platforms }

local function version_text()
  return ("%s (%s, libcurl %s)\n"):format(notifyhub._VERSION,
    rawget(_G, "jit") and jit.version or _VERSION, notifyhub.curl_version)
end

local function run(argv, env)
  local first = argv[1]
  if first == nil then env.stderr:write(USAGE); return 2 end
  if first == "--help" or first == "-h" or first == "help" then env.stdout:write(USAGE); return 0 end
  if first == "--version" or first == "-V" then env.stdout:write(version_text()); return 0 end
  local rest = {}
  for i = 2, #argv do rest[i - 1] = argv[i] end
  local command = COMMANDS[first]
  -- Apprise's form, `notifyhub -b body URL`: a flag or a URL first is send
  if not command and (first:sub(1, 1) == "-" or first:find("://", 1, true)) then
    command, rest = cmd_send, argv
  end
  if not command then usage_error("unknown command %s (send, check, platforms)", shown(first)) end
  return command(rest, env)
end

--- Runs the command. argv: the arguments (arg of the script); env:
-- { stdout, stderr, getenv } (the process's by default). Returns the exit status.
function M.main(argv, env)
  env = env or {}
  env.stdout = env.stdout or io.stdout
  env.stderr = env.stderr or io.stderr
  env.getenv = env.getenv or os.getenv
  local ok, status = pcall(run, argv, env)
  if ok then return status end
  if type(status) == "table" and status.exit then
    env.stderr:write("notifyhub: ", status.text, "\n")
    if status.exit == 2 then env.stderr:write("Try 'notifyhub --help'.\n") end
    return status.exit
  end
  if tostring(status):find("interrupted!$") then   -- Ctrl-C (the interpreter's SIGINT hook)
    -- what is in flight is cut off now (CLOSED), not after close_timeout
    local cut = M.session and M.session.client:close(0) or 0
    env.stderr:write(("\nnotifyhub: interrupted (%d message(s) not delivered)\n"):format(cut))
    return 130
  end
  env.stderr:write("notifyhub: internal error: ", tostring(status), "\n")
  return 1
end

return M
