--- What the `notifyhub` command writes: receipts (a line per failed
-- delivery on stderr, or JSON lines on stdout with --json), the --dry-run
-- preview and the progress bar of `send --each` (stderr, terminals only).
-- @module notifyhub.cli_output

local json = require("notifyhub.cli_json")
local message = require("notifyhub.message")

local Output = {}
Output.__index = Output

local M = {}

--- A writer for one run: opts (json, verbose, dry_run), session (client,
-- targets), env (stdout, stderr).
function M.new(opts, session, env)
  return setmetatable({ opts = opts, session = session, stdout = env.stdout,
    stderr = env.stderr, bar = nil }, Output)
end

--- A receipt for a message send_async refused (nothing was sent).
function M.refused(msg, err, code)
  return { message_id = msg.id, status = "failed", total = 0, successful = 0, failed = 0,
    error = err, code = code, results = json.array() }
end

-- A message field of the wrong JSON type (a --each line's "title": 5)
-- raises in the library: here it is that message's INVALID_MESSAGE.
local function protect(fn, ...)
  local ok, a, b, c = pcall(fn, ...)
  if ok then return a, b, c end
  local text = tostring(a):gsub("^[^:\n]*:%d+: ", ""):gsub("^bad argument #%d+ to '[%w_]+' %((.*)%)$", "%1")
  return nil, text, "INVALID_MESSAGE"
end

--- client:send_async(msg, opts), an argument error as nil, err, code.
function M.send_async(client, msg, opts)
  return protect(client.send_async, client, msg, opts)
end

-- Waits happen in short slices: the interpreter's Ctrl-C hook runs only
-- between Lua instructions, never inside one long C wait.
local SLICE = 0.2

--- handle:wait(), interruptible: the receipt (failed ones too).
function M.wait(h)
  while not h.done do h:wait(SLICE) end
  local r, _, _, failed = h:wait()
  return r or failed
end

--- client:wait_all(), interruptible.
function M.wait_all(client)
  repeat until client:wait_all(SLICE)
end

-- The text of a number of milliseconds or nil.
local function ms(v) return v and ("%.0f ms"):format(v) or "?" end

-- Stderr, with the progress bar cleared first (it is drawn again later).
function Output:note(text)
  if self.bar then self.stderr:write("\r\27[K") end
  self.stderr:write("notifyhub: ", text, "\n")
  if self.bar then self.bar.drawn = nil; self:progress() end
end

--- Reports one finished message; line is its --each line number or nil.
function Output:receipt(r, line)
  if self.opts.json then
    local copy = {}
    for k, v in pairs(r) do copy[k] = v end
    copy.line = line
    copy.results = json.array()   -- [] even when no target was tried
    for i, res in ipairs(r.results or {}) do copy.results[i] = res end
    -- stdout may be the bar's terminal too: the line goes above the bar
    if self.bar then self.stderr:write("\r\27[K"); self.stderr:flush() end
    self.stdout:write(json.encode(copy), "\n")
    self.stdout:flush()
    if self.bar then self.bar.drawn = nil; self:progress() end
  end
  local at = line and ("line %d: "):format(line) or ""
  if #r.results == 0 and r.status ~= "success" then
    self:note(("%sfailed: %s (%s)"):format(at, tostring(r.error), tostring(r.code)))
  end
  for _, res in ipairs(r.results) do
    if not res.success then
      self:note(("%sfailed: %s %s: %s (%s)"):format(at, res.platform, res.target,
        tostring(res.error), tostring(res.code)))
    elseif self.opts.verbose then
      self:note(("%sdelivered: %s %s (status %s, %d attempt(s), %s)"):format(at, res.platform,
        res.target, tostring(res.http_status), res.attempts or 1, ms(res.duration_ms)))
    end
  end
end

-- At most n characters of text on one line, cut on a UTF-8 boundary.
local function preview(s, n)
  s = s:gsub("[%c]+", " ")
  if #s <= n then return s end
  local cut = n
  while cut > 0 and s:byte(cut + 1) and s:byte(cut + 1) >= 0x80 and s:byte(cut + 1) < 0xC0 do
    cut = cut - 1
  end
  return s:sub(1, cut) .. "..."
end

local function attachments_of(msg)
  local out = json.array()
  local email = msg.platform_data and msg.platform_data.email
  for i, a in ipairs(email and email.attachments or {}) do
    local f = io.open(a.path, "rb")
    local size = f and f:seek("end")
    if f then f:close() end
    out[i] = { filename = a.filename, bytes = size }
  end
  return out
end

--- The --dry-run preview of one message: checked as send_async would
-- (an invalid message is a failure, 1), its destinations with their secrets
-- hidden; nothing is sent. line: its --each line or nil. Returns 0 or 1.
function Output:dry_run(msg, line)
  local client = self.session.client
  local record, err, code = protect(message.build, msg, client.defaults, "send")
  if not record then
    self:receipt(M.refused(msg, err, code), line)
    return 1
  end
  -- the resolved targets: what tags, URLs and the config chose, labelled
  -- as receipts label them
  local reached = {}
  for i, t in ipairs(record.targets) do reached[i] = { platform = t.platform, target = t.label } end
  local summary = { dry_run = true, line = line, title = msg.title, format = msg.format or "text",
    type = msg.type or "info", body_bytes = #(msg.body or ""), destinations = reached,
    attachments = attachments_of(msg) }
  if self.opts.json then
    self.stdout:write(json.encode(summary), "\n")
    return 0
  end
  local w = function(...) self.stdout:write(...) end
  if line then w(("line %d:\n"):format(line)) end
  w(("would send to %d destination(s):\n"):format(#reached))
  for _, d in ipairs(reached) do w(("  %-10s %s\n"):format(d.platform, d.target)) end
  if msg.title then w("  title:  ", preview(msg.title, 60), "\n") end
  if msg.body then w(("  body:   %d bytes: %s\n"):format(#msg.body, preview(msg.body, 60))) end
  w(("  format: %s, type: %s\n"):format(summary.format, summary.type))
  for _, a in ipairs(summary.attachments) do
    w(("  attach: %s (%s bytes, e-mail only)\n"):format(a.filename, tostring(a.bytes)))
  end
  return 0
end

-- ---------------------------------------------------------------------------
-- The progress bar (send --each, stderr a terminal): redrawn in place with
-- "\r" and erase-to-end-of-line, at most 10 times a second, like pip's and
-- cargo's bars; a newline when done.
-- ---------------------------------------------------------------------------

--- Starts the bar when stderr is a terminal (tty: the caller's check).
function Output:start_bar(total, tty, now)
  if tty then self.bar = { total = total, done = 0, failed = 0, now = now } end
end

function Output:progress(done, failed)
  local bar = self.bar
  if not bar then return end
  bar.done, bar.failed = done or bar.done, failed or bar.failed
  local t = bar.now()
  if bar.drawn and t - bar.drawn < 0.1 and bar.done < bar.total then return end
  bar.drawn = t
  local width = 30
  local fill = bar.total > 0 and math.floor(width * bar.done / bar.total) or width
  self.stderr:write(("\r\27[K[%s%s] %d/%d%s"):format(("#"):rep(fill), ("-"):rep(width - fill),
    bar.done, bar.total, bar.failed > 0 and (" (%d failed)"):format(bar.failed) or ""))
  self.stderr:flush()
end

function Output:end_bar()
  if not self.bar then return end
  self.bar.drawn = nil
  self:progress()
  self.stderr:write("\n")
  self.bar = nil
end

return M
