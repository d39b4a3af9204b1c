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

local M = {
  _VERSION = "notifyhub 0.1.0",
  config = config,
  target = target,
  codes = {},
  platforms = core.platforms,
  curl_version = core.curl_version,
  now = core.now,     -- monotonic seconds
}
for _, name in ipairs(core.codes) do M.codes[name] = name end

local LEVELS = { debug = 1, info = 2, warn = 3, error = 4, off = 5 }

local Client = {}
Client.__index = Client

local function stderr_handler(level, text, fields)
  local extra = {}
  for _, k in ipairs({ "worker_id", "message_id" }) do
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
  local a, h = c.async, c.http
  local ud, err, code = core.new({
    enabled = a.enabled, use_pool = a.use_pool, workers = a.workers,
    min_workers = a.min_workers, max_workers = a.max_workers,
    buffer_size = a.buffer_size, queue_timeout = a.timeout,
    concurrency = a.concurrency, timeout = h.timeout,
    connect_timeout = h.connect_timeout, verify_tls = h.verify_tls,
    ca_file = h.ca_file, proxy = h.proxy, user_agent = h.user_agent,
    max_response = h.max_response, log_level = c.logger.level,
  })
  if not ud then return nil, err, code end
  local self = setmetatable({
    core = ud, cfg = c, defaults = message.defaults(c),
    log_level = LEVELS[c.logger.level], log_handler = c.logger.handler or stderr_handler,
    anchored = {},                              -- seq -> handle with callbacks
    live = setmetatable({}, { __mode = "v" }),  -- seq -> any handle still referenced
    closed = false,
  }, Client)
  -- Runs when the client is collected without close(): the core's __gc calls
  -- it first, so cut-off messages still get their on_error on this thread.
  ud:set_finalizer(function(_, deadline) self:_shutdown(deadline) end)
  return self
end

--- Logs through the configured handler (or stderr); never raises.
function Client:log(level, text, fields)
  if (LEVELS[level] or 5) < self.log_level then return end
  local ok, err = pcall(self.log_handler, level, text, fields or {})
  if not ok then
    io.stderr:write(("[notifyhub] log handler failed: %s\n"):format(tostring(err)))
  end
end

-- Runs a user callback; an error is logged and goes no further.
function Client:_call(fn, ...)
  local ok, err = pcall(fn, ...)
  if not ok then self:log("error", "callback raised: " .. tostring(err), {}) end
end

function Client:_anchor(h)
  if not self.anchored[h.seq] then
    self.anchored[h.seq] = h
    h.token:anchor()
  end
end

--- Queues a message and returns at once.
-- @tparam table msg the message: `title`, `body`, `targets`, ... (README)
-- @return a handle, or nil, err, code (`INVALID_MESSAGE`, `QUEUE_FULL`,
--   `CLOSED`, ...)
-- @raise when msg or a field of it has the wrong type
function Client:send_async(msg)
  local record, err, code = message.build(msg, self.defaults, "send_async")
  if not record then return nil, err, code end
  if self.closed then return nil, "the client is closed", "CLOSED" end
  local token, id, seq = self.core:submit(record, self.cfg.async.timeout)
  if not token then return nil, id, seq end
  local h = Handle.new(self, msg, token, id, seq)
  self.live[seq] = h
  if not self.cfg.async.enabled then self:poll() end
  return h
end

--- Sends a message and waits for it.
-- @return the receipt, or nil, err, code (and the receipt when there is one)
function Client:send(msg)
  local h, err, code = self:send_async(msg)
  if not h then return nil, err, code end
  return h:wait()
end

--- Runs the callbacks of finished messages; never blocks.
-- @tparam[opt] integer max at most this many messages (default: all ready)
-- @treturn integer how many messages finished in this call
function Client:poll(max)
  if max ~= nil and (type(max) ~= "number" or max < 1) then
    error(("bad argument #1 to 'poll' (positive number expected, got %s)"):format(tostring(max)), 2)
  end
  self:_drain_logs()
  local done, left = 0, max or math.huge
  while left > 0 do
    local batch = self.core:take(math.min(left, 256))
    if #batch == 0 then break end
    for i = 1, #batch do
      local r = batch[i]
      local seq = r.seq
      r.seq = nil
      local h = self.anchored[seq] or self.live[seq]
      self.anchored[seq], self.live[seq] = nil, nil
      if h then h:_finish(r) end
    end
    done, left = done + #batch, left - #batch
  end
  return done
end

function Client:_drain_logs()
  local records = self.core:logs()
  for i = 1, #records do
    local r = records[i]
    self:log(r.level, r.text, { worker_id = r.worker_id ~= 0 and r.worker_id or nil,
      message_id = r.message_id })
  end
end

-- Polls until cond() holds or timeout seconds pass (nil: no limit).
function Client:_wait_until(cond, timeout)
  local now = core.now
  local deadline = timeout and now() + timeout
  while true do
    self:poll()
    if cond() then return true end
    local left = deadline and deadline - now()
    if left and left <= 0 then return nil, "timed out while waiting", "TIMEOUT" end
    self.core:wait(left and math.min(left, 1) or 1)
  end
end

--- Waits until every message sent so far is finished and its callbacks ran.
-- @tparam[opt] number timeout seconds; nil: no limit
-- @return true, or nil, err, code (`TIMEOUT`)
function Client:wait_all(timeout)
  local t, err, code = Handle.check_timeout(timeout, "wait_all")
  if err then return nil, err, code end
  return self:_wait_until(function() return self.core:pending() == 0 end, t)
end

--- A file descriptor that becomes readable when a message finishes, for
-- event loops (cqueues, luv, ...): on readable, call `poll()`.
function Client:fd()
  return self.core:fd()
end

--- Counters of the client; see the README for each field.
function Client:stats()
  local s = self.core:stats()
  s.pending = self.core:pending()
  return s
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
    local t, err, code = Handle.check_timeout(timeout, "close")
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
