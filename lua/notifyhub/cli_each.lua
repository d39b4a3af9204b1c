--- `notifyhub send --each FILE.jsonl`: one message per line, a JSON object
-- with the message's fields plus `to`, `tags` and `attach`; the command
-- line's -t, -b, --format, --type, --tag, --attach and destinations are the
-- defaults of every line. A line that is not such an object is reported
-- with its number and counted as failed; the other lines still go.
-- @module notifyhub.cli_each

local notifyhub = require("notifyhub")
local cli = require("notifyhub.cli")
local json = require("notifyhub.cli_json")
local output = require("notifyhub.cli_output")

local M = {}

-- Messages in flight at once: more wait for the oldest to finish, so a
-- file of any length is sent in bounded memory and never fills the queue.
local MAX_OUTSTANDING = 256

-- The keys of a line that the command reads itself; the rest go to the
-- message as they are (an unknown field is the library's INVALID_MESSAGE).
local CLI_KEYS = { to = true, tags = true, attach = true }
-- ... and the fields whose defaults the command line gives.
local FIELDS = { title = true, body = true, format = true, type = true }

local function read_lines(path, stdin)
  local f, err = stdin, nil
  if path ~= "-" then f, err = io.open(path, "rb") end
  if not f then cli.usage_error("send: --each: %s", err) end
  local lines = {}
  for line in f:lines() do lines[#lines + 1] = (line:gsub("\r$", "")) end
  if f ~= stdin then f:close() end
  return lines
end

local function string_list(v, key)
  if v == nil then return nil end
  if type(v) == "string" then return { v } end
  if type(v) ~= "table" then return nil, ("%s: a string or a list of strings expected"):format(key) end
  local n = 0
  for _ in pairs(v) do n = n + 1 end
  for i = 1, n do
    if type(v[i]) ~= "string" then
      return nil, v[i] == nil and ("%s: a list of strings expected, got an object"):format(key)
        or ("%s[%d]: a string expected"):format(key, i)
    end
  end
  return v
end

-- The targets of a line's `to` (none: the config's and the command line's
-- destinations, chosen by tags).
local function targets_of(to)
  if not to then return {} end
  local out = {}
  for i, u in ipairs(to) do
    local list, why = cli.parse_destination(u)
    if not list then return nil, ("to[%d]: %s"):format(i, why) end
    for _, t in ipairs(list) do out[#out + 1] = t end
  end
  return out
end

--- The message of one line, its targets, or nil and why.
function M.message_of(text, opts)
  local obj, why = json.decode(text)
  if not obj then return nil, "not JSON: " .. why end
  if type(obj) ~= "table" or (next(obj) ~= nil and obj[1] ~= nil) then
    return nil, "a JSON object expected"
  end
  local to, attach, err
  to, err = string_list(obj.to, "to")
  if err then return nil, err end
  attach, err = string_list(obj.attach, "attach")
  if err then return nil, err end
  local targets, terr = targets_of(to)
  if not targets then return nil, terr end
  -- a line's `to` replaces the destinations, so the command line's --tag
  -- does not apply to it (a line giving both is the library's error)
  local fields = { title = opts.title, body = opts.body, format = opts.format, type = opts.type,
    attach = attach or opts.attach, tags = obj.tags, extra = {} }
  if obj.tags == nil and not to then fields.tags = opts.tag end
  for k, v in pairs(obj) do
    if FIELDS[k] then
      fields[k] = v
    elseif not CLI_KEYS[k] then
      fields.extra[k] = v
    end
  end
  for _, path in ipairs(attach or {}) do
    local f, ferr = io.open(path, "rb")
    if not f then return nil, "attach: " .. ferr end
    f:close()
  end
  return cli.message(fields, targets), targets
end

local function summary(env, s, started, dry_run)
  env.stderr:write(("notifyhub: %d message(s): %d %s, %d failed%s in %.1f s\n"):format(
    s.total, s.delivered, dry_run and "would be sent" or "delivered", s.failed,
    s.bad > 0 and (" (%d bad line(s))"):format(s.bad) or "", notifyhub.now() - started))
end

--- Runs `send --each`; returns the exit status (0 all delivered, else 1).
function M.run(opts, dest, env)
  local lines = read_lines(opts.each, io.stdin)
  local session = cli.open(dest)
  local client, out = session.client, output.new(opts, session, env)
  local s = { total = 0, done = 0, delivered = 0, failed = 0, bad = 0 }
  for _, text in ipairs(lines) do if text:match("%S") then s.total = s.total + 1 end end
  local started = notifyhub.now()
  if not opts.dry_run then out:start_bar(s.total, cli.is_tty(2), notifyhub.now) end
  local function finish(receipt, n)
    s.done = s.done + 1
    if receipt.status == "success" then s.delivered = s.delivered + 1 else s.failed = s.failed + 1 end
    out:progress(s.done, s.failed)   -- first: a failure's note redraws the bar
    out:receipt(receipt, n)
  end
  local queue, first, last, sent = {}, 1, 0, 0   -- handles sent, oldest first
  -- never more than the queue holds (a config's small async.buffer_size)
  local window = math.min(MAX_OUTSTANDING, client.cfg.async.buffer_size)
  for n, text in ipairs(lines) do
    if text:match("%S") then
      local msg, why = M.message_of(text, opts)
      if not msg then
        s.bad = s.bad + 1
        finish(output.refused({}, why, "INVALID_MESSAGE"), n)
      elseif opts.dry_run then
        local rc = out:dry_run(msg, n)
        s.done = s.done + 1
        if rc == 0 then s.delivered = s.delivered + 1 else s.failed, s.bad = s.failed + 1, s.bad + 1 end
      else
        while sent - (s.done - s.bad) >= window do   -- the oldest is waited for
          output.wait(queue[first])
          queue[first], first = nil, first + 1
        end
        local h, err, code = output.send_async(client, msg, { timeout = opts.timeout })
        if h then
          sent, last = sent + 1, last + 1
          queue[last] = h
          h:on_complete(function(r) finish(r, n) end):on_error(function(_, _, r) finish(r, n) end)
        else
          s.bad = s.bad + 1   -- refused before sending: counted like a bad line
          finish(output.refused(msg, err, code), n)
        end
      end
    end
  end
  output.wait_all(client)
  out:end_bar()
  client:close()
  summary(env, s, started, opts.dry_run)
  return s.failed == 0 and 0 or 1
end

return M
