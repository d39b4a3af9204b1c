--- notifyhub: notifications from Lua without blocking.
--
-- `require("notifyhub")` returns this module. `notifyhub.new(config)` makes a
-- client; the C core (`notifyhub.core`) owns the threads, the queues and the
-- transfers, and this façade owns what touches Lua: checking input, handles,
-- running callbacks on the calling thread and the wait loops.
-- @module notifyhub

local core = require("notifyhub.core")
local config = require("notifyhub.config")
local message = require("notifyhub.message")
local Handle = require("notifyhub.handle")
local target = require("notifyhub.target")
local Batch = require("notifyhub.batch")

local M = {
  _VERSION = "notifyhub " .. core.version,   -- csrc/nh_version.h
  config = config,
  target = target,
  codes = {},
  platforms = {},     -- the platforms' names (core.platforms: their descriptors)
  curl_version = core.curl_version,
  now = core.now,     -- monotonic seconds
  spool = require("notifyhub.spool"),   -- the spool inspector (issue 13)
  url = require("notifyhub.url"),       -- Apprise-style URLs (issue 14)
}
for _, name in ipairs(core.codes) do M.codes[name] = name end
for i, p in ipairs(core.platforms) do M.platforms[i] = p.name end

-- logger.level's names in order (the row of nh_options.h): debug = 1 ... off = 5
local LEVELS = {}
for i, name in ipairs(core.options["logger.level"].values) do LEVELS[name] = i end

local Client = {}
Client.__index = Client

local function stderr_handler(level, text, fields)
  local extra = {}
  for _, k in ipairs({ "worker_id", "message_id", "attempt" }) do
    if fields[k] then extra[#extra + 1] = k .. "=" .. tostring(fields[k]) end
  end
  io.stderr:write(("[notifyhub] %s %s%s\n"):format(level:upper(), text,
    #extra > 0 and " (" .. table.concat(extra, " ") .. ")" or ""))
end

--- Makes a client.
-- @tparam table cfg `async`, `http`, `logger` and platform sections
--   (`feishu`, `webhook`); see the README for every key and default
-- @return the client, or nil, err, code when the core could not start
-- @raise on an unknown key or a wrong type in cfg
function M.new(cfg)
  local c = config.check(cfg)
  -- the core reads every option by the name the user writes (c.async.workers)
  local ud, err, code = core.new(c)
  if not ud then return nil, err, code end
  local self = setmetatable({
    core = ud, cfg = c, defaults = message.defaults(c),
    log_level = LEVELS[c.logger.level], log_handler = c.logger.handler or stderr_handler,
    anchored = {},                              -- seq -> handle with callbacks
    live = setmetatable({}, { __mode = "v" }),  -- seq -> any handle still referenced
    ready = { first = 1, last = 0 },            -- settled handles whose callbacks wait
    closed = false,
  }, Client)
  -- Runs when the client is collected without close(): the core's __gc calls
  -- it first, so cut-off messages still get their on_error on this thread.
  ud:set_finalizer(function(_, deadline) self:_shutdown(deadline) end)
  return self
end

-- An error value as text, even when its __tostring raises or returns no string.
local function error_text(err)
  local ok, s = pcall(tostring, err)
  if ok and type(s) == "string" then return s end
  return ("(a %s whose __tostring failed)"):format(type(err))
end

--- Logs through the configured handler (or stderr); never raises.
function Client:log(level, text, fields)
  if (LEVELS[level] or 5) < self.log_level then return end
  local ok, err = pcall(self.log_handler, level, text, fields or {})
  if not ok then
    io.stderr:write(("[notifyhub] log handler failed: %s\n"):format(error_text(err)))
  end
end

-- Runs a user callback; an error is logged and goes no further.
function Client:_call(fn, ...)
  local ok, err = pcall(fn, ...)
  if not ok then self:log("error", "callback raised: " .. error_text(err), {}) end
end

function Client:_anchor(h)
  if not self.anchored[h.seq] then
    self.anchored[h.seq] = h
    h.token:anchor()
  end
end

-- The body of send_async and send: depth counts the calls between the
-- user's and this one (so that argument errors point at the user's line).
local function queue(self, msg, opts, fname, depth)
  local record, err, code = message.build(msg, self.defaults, fname, opts, depth + 1)
  if not record then return nil, err, code end
  if self.closed then return nil, "the client is closed", "CLOSED" end
  local token, id, seq = self.core:submit(record, self.cfg.async.timeout)
  if not token then return nil, id, seq end
  local h = Handle.new(self, msg, token, id, seq)
  self.live[seq] = h
  if not self.cfg.async.enabled then self:poll() end
  return h
end

-- For notifyhub.ngx, whose send_async and send wrap it (not a public API).
Client._queue = queue

--- Queues a message and returns at once.
-- @tparam table msg the message: `title`, `body`, `targets`, ... (README)
-- @tparam[opt] table opts `timeout` (seconds for the whole delivery, else
--   `TIMEOUT`), `retry` (overrides of the client's retry policy),
--   `priority`; each overrides the message's own field
-- @return a handle, or nil, err, code (`INVALID_MESSAGE`, `QUEUE_FULL`,
--   `CLOSED`, ...)
-- @raise when msg or a field of it has the wrong type
function Client:send_async(msg, opts)
  local h, err, code = queue(self, msg, opts, "send_async", 0)   -- not a tail call: see depth
  return h, err, code
end

--- Queues several messages at once, all of them or none.
-- @tparam table messages an array of messages
-- @tparam[opt] table opts as for `send_async`, for every message
-- @return a batch handle (see `notifyhub.batch`), or nil, err, code
function Client:send_async_batch(messages, opts)
  if type(messages) ~= "table" then
    error(("bad argument #1 to 'send_async_batch' (table expected, got %s)"):format(type(messages)), 2)
  end
  if #messages == 0 then return nil, "the batch is empty", "INVALID_MESSAGE" end
  local records = {}
  for i = 1, #messages do
    local record, err, code = message.build(messages[i], self.defaults, "send_async_batch", opts)
    if not record then return nil, ("message %d: %s"):format(i, err), code end
    records[i] = record
  end
  if self.closed then return nil, "the client is closed", "CLOSED" end
  local tokens, ids, seqs = self.core:submit_many(records, self.cfg.async.timeout)
  if not tokens then return nil, ids, seqs end
  local handles = {}
  for i = 1, #messages do
    local h = Handle.new(self, messages[i], tokens[i], ids[i], seqs[i])
    handles[i] = h
    self:_anchor(h)                             -- the batch counts every one
  end
  local b = Batch.new(self, handles)
  if not self.cfg.async.enabled then self:poll() end
  return b
end

--- Sends a message and waits for it.
-- @tparam table msg the message, as for `send_async`
-- @tparam[opt] table opts as for `send_async`: `timeout`, `retry`, `priority`, `utf8`
-- @return the receipt, or nil, err, code (and the receipt when there is one)
function Client:send(msg, opts)
  local h, err, code = queue(self, msg, opts, "send", 0)
  if not h then return nil, err, code end
  return h:wait()
end

--- Runs the callbacks of finished messages; never blocks.
-- @tparam[opt] integer max at most this many messages (default: all ready)
-- @treturn integer how many messages finished in this call
function Client:poll(max)
  if max ~= nil and (type(max) ~= "number" or not (max >= 1)) then   -- NaN too
    error(("bad argument #1 to 'poll' (positive number expected, got %s)"):format(tostring(max)), 2)
  end
  self:_drain_logs()
  local done, left = 0, max or math.huge
  while left > 0 do
    local batch = self.core:take(math.min(left, 256))
    if #batch == 0 then break end
    self:_settle(batch)
    self:_run_ready()
    done, left = done + #batch, left - #batch
  end
  self:_run_ready()
  return done
end

-- Every handle of a batch of records is done before any callback runs, so
-- that a callback waiting on another handle of the same batch sees it done.
function Client:_settle(batch)
  local ready = self.ready
  for i = 1, #batch do
    local r = batch[i]
    local seq = r.seq
    r.seq = nil
    local h = self.anchored[seq] or self.live[seq]
    self.anchored[seq], self.live[seq] = nil, nil
    if h then
      h:_settle(r)
      ready.last = ready.last + 1
      ready[ready.last] = h
    end
  end
end

-- Runs queued callbacks in order; a callback that polls again drains the
-- same queue, so each handle's callbacks run exactly once.
function Client:_run_ready()
  local ready = self.ready
  while ready.first <= ready.last do
    local h = ready[ready.first]
    ready[ready.first] = nil
    ready.first = ready.first + 1
    h:_run_callbacks()
  end
end

function Client:_drain_logs()
  local records = self.core:logs()
  for i = 1, #records do
    local r = records[i]
    self:log(r.level, r.text, { worker_id = r.worker_id ~= 0 and r.worker_id or nil,
      message_id = r.message_id, attempt = r.attempt })
  end
end

local FORKED = "the client belongs to another process (created before fork)"

-- Polls until cond() holds or timeout seconds pass (nil: no limit). In a
-- child of fork() nothing can finish: CLOSED at once instead of a spin.
function Client:_wait_until(cond, timeout)
  local now = core.now
  local deadline = timeout and timeout < math.huge and now() + timeout or nil
  while true do
    self:poll()
    if cond() then return true end
    if self.core:forked() then return nil, FORKED, "CLOSED" end
    local left = deadline and deadline - now()
    if left and left <= 0 then return nil, "timed out while waiting", "TIMEOUT" end
    self.core:wait(left and math.min(left, 1) or 1)
  end
end

--- Waits until every message sent so far is finished and its callbacks ran.
-- `true` means finished, not delivered: failures reach `on_error`, the
-- receipts and the failure log (`logger.failures`).
-- @tparam[opt] number timeout seconds; nil: no limit
-- @return true, or nil, err, code (`TIMEOUT`; `CLOSED` in a child of fork)
function Client:wait_all(timeout)
  local t, err, code = Handle.check_timeout(timeout, "wait_all")
  if err then return nil, err, code end
  if self.core:forked() then return nil, FORKED, "CLOSED" end
  return self:_wait_until(function()
    return self.core:pending() == 0 and self.ready.first > self.ready.last
  end, t)
end

--- A file descriptor that becomes readable when a message finishes, for
-- event loops (cqueues, luv, ...): on readable, call `poll()`.
function Client:fd()
  return self.core:fd()
end

--- Counters of the client; see the README for each field. Every submitted
-- message is in exactly one of queued, in_flight, waiting, succeeded,
-- failed, cancelled, timed_out.
function Client:stats()
  local s = self.core:stats()
  s.pending = self.core:pending()
  s.latency = self.core:latency()
  return s
end

--- The seed's queue statistics: `pending` (queued) and `processing` (taken
-- by a worker: in flight or waiting for a retry or a rate limit).
function Client:queue_stats()
  local s = self.core:stats()
  return { pending = s.queued, processing = s.in_flight + s.waiting }
end

function Client:_shutdown(timeout)
  if self.closed then return 0 end
  self.closed = true
  local cut = self.core:close(timeout)
  self:poll()
  return cut
end

--- Stops accepting messages, lets queued and in-flight ones finish until the
-- deadline, ends the rest with `CLOSED` (their on_error runs) and joins every
-- thread. Safe to call twice.
-- @tparam[opt] number timeout seconds (default `async.close_timeout`)
-- @treturn integer how many messages were not delivered because of close
function Client:close(timeout)
  if timeout ~= nil then
    local _, err, code = Handle.check_timeout(timeout, "close")
    if err then return nil, err, code end
  end
  return self:_shutdown(timeout or self.cfg.async.close_timeout)
end

Client.__close = function(self) self:close() end

function Client:__tostring()
  local s = self.core:stats()
  return ("notifyhub.client (%s, %d workers, %d queued)")
    :format(self.closed and "closed" or "open", s.workers, s.queued)
end

M.Client = Client
M.Handle = Handle

return M
