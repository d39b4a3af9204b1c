--- notifyhub inside nginx (lua-nginx-module / OpenResty): one client per
-- nginx worker, a pump that runs the callbacks, and waits that yield.
--
--   init_by_lua_block        { require("notifyhub.ngx").configure({ feishu = { ... } }) }
--   init_worker_by_lua_block { require("notifyhub.ngx").init_worker() }
--   exit_worker_by_lua_block { require("notifyhub.ngx").exit_worker() }
--   content_by_lua_block     { local nh = require("notifyhub.ngx")
--                              local receipt, err, code = nh.send({ body = "..." }) }
--   log_by_lua_block         { require("notifyhub.ngx").send_async({ body = "..." }) }
--
-- Threads do not survive fork, so the client is made in each worker (in
-- init_worker, or lazily on first use, guarded by the worker's pid), never in
-- the master. `send_async` is a short non-blocking C call and works in every
-- phase. Workers finish messages on their threads; the pump (one timer per
-- nginx worker) takes the completions, runs the callbacks and wakes the
-- requests waiting on them through semaphores: a wait yields, it never
-- blocks the event loop. When the worker exits (reload, quit) the client is
-- closed with a deadline and every message it could not deliver is written
-- to the error log; with a spool (`spool.path`) those are handed back to
-- the spool instead, and the other workers (after a reload) or the next
-- nginx on the spool (after a quit) deliver them. Without a spool path the
-- workers still share rate limits through a small SQLite file of rate
-- windows only (see `shared_rates`).
-- @module notifyhub.ngx

local notifyhub = require("notifyhub")
local core = require("notifyhub.core")
local semaphore = require("ngx.semaphore")

local ngx = ngx
local M = {}

local settings = {
  config = nil,
  shared_rates = true, -- true: a rate-windows file in /dev/shm or /tmp; a path; false: none
  close_timeout = 3,   -- seconds the client gets when the worker exits
  busy_interval = 0.001,  -- pump sleep while messages are pending (grows x2 to busy_max)
  busy_max = 0.02,
  idle_interval = 0.1, -- pump sleep while nothing is pending
}

local state = { pid = nil, client = nil, waiters = {}, pumping = false, closed = false,
  pump_co = nil, ticker = nil }

-- ngx.semaphore and ngx.sleep work in whole milliseconds: a wait under
-- 1 ms returns at once without yielding, so never ask for less.
local MIN_WAIT = 0.001

local LEVELS = { debug = ngx.DEBUG, info = ngx.INFO, warn = ngx.WARN, error = ngx.ERR }

local function ngx_logger(level, text, fields)
  local extra = {}
  for _, k in ipairs({ "worker_id", "message_id", "attempt" }) do
    if fields[k] then extra[#extra + 1] = k .. "=" .. tostring(fields[k]) end
  end
  ngx.log(LEVELS[level] or ngx.ERR, "notifyhub: ", text,
    #extra > 0 and " (" .. table.concat(extra, " ") .. ")" or "")
end

-- Seconds a send_async with a spool may hold the event loop for another
-- process's lock or commit before SPOOL_BUSY (spool.wait; async.timeout is 0).
local SPOOL_WAIT = 0.1

-- Where the shared rate windows live when shared_rates is true: this
-- user's own directory (0700) in the first of these that works.
local RATE_DIRS = { "/dev/shm", "/tmp" }

-- Phases in which a request may yield (ngx.semaphore, ngx.sleep).
local YIELDING = { rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true }

--- Stores the client configuration (call it in init_by_lua*: it makes no
-- client and starts no thread).
-- @tparam table cfg as for `notifyhub.new`; `async.timeout` is forced to 0
--   (a full queue answers QUEUE_FULL at once: nothing may block the event loop)
--   With `spool = { path = ... }` every worker's client opens that spool;
--   `spool.wait` defaults to 0.1 s (the longest a send_async waits for the
--   spool's lock before SPOOL_BUSY).
-- @tparam[opt] table opts `close_timeout` (seconds, default 3), `idle_interval`,
--   `busy_interval`, `busy_max` (the pump's sleeps), `shared_rates` (without
--   `spool.path`: true (default) keeps the workers' rate windows in
--   /dev/shm/notifyhub-UID/rates.db (else /tmp/...), a string names that
--   file, false keeps them per worker)
function M.configure(cfg, opts)
  if type(cfg) ~= "table" then
    error(("bad argument #1 to 'configure' (table expected, got %s)"):format(type(cfg)), 2)
  end
  -- a section that is not a table is named by config.check, as
  -- notifyhub.new names it, before it is copied
  for _, section in ipairs({ "async", "logger" }) do
    if cfg[section] ~= nil and type(cfg[section]) ~= "table" then notifyhub.config.check(cfg) end
  end
  local copy = {}
  for k, v in pairs(cfg) do copy[k] = v end
  copy.async = {}
  for k, v in pairs(cfg.async or {}) do copy.async[k] = v end
  copy.async.timeout = 0
  if type(cfg.spool) == "table" then
    copy.spool = {}
    for k, v in pairs(cfg.spool) do copy.spool[k] = v end
    if copy.spool.wait == nil then copy.spool.wait = SPOOL_WAIT end
  end
  -- Each nginx worker has its own client: one thread with many transfers
  -- in flight keeps the wake-ups between the event loop and the threads few
  -- (measured on 2 cores, 2 nginx workers: 47k notifications/s with 1 x 128
  -- against 29-37k with 2 x 32, 18k with 2 x 64 before the waker, 11k
  -- with 4 x 32; a second thread added when the 128 are busy brought it
  -- back to 29-37k: on a saturated machine more threads only add wake-ups).
  if copy.async.workers == nil then copy.async.workers = 1 end
  if copy.async.max_workers == nil then copy.async.max_workers = copy.async.workers end
  if copy.async.concurrency == nil then copy.async.concurrency = 128 end
  if copy.async.enabled == false then
    error("notifyhub.ngx: async.enabled = false would send on the nginx event loop", 2)
  end
  copy.logger = copy.logger or {}
  local logger = {}
  for k, v in pairs(copy.logger) do logger[k] = v end
  logger.handler = logger.handler or ngx_logger
  -- Every failure reaches the error log, and a message that the worker's
  -- exit cut off is logged as not delivered: none vanishes, even when the
  -- caller dropped its handle (log_by_lua*). The core writes these records,
  -- so a dropped handle costs nothing more.
  if logger.failures == nil then logger.failures = true end
  copy.logger = logger
  notifyhub.config.check(copy)           -- raise now, in init, not in a request
  for k, v in pairs(opts or {}) do       -- all checked before any is kept
    if settings[k] == nil or k == "config" then error("notifyhub.ngx: unknown option " .. tostring(k), 2) end
    local expected, got
    if k == "shared_rates" then
      if type(v) ~= "boolean" and (type(v) ~= "string" or v == "" or v:find("%c")) then
        expected = "boolean or file name"
        got = v == "" and "an empty name" or type(v) == "string" and "a name with control characters" or nil
      end
    else
      expected, got = notifyhub.config.ranged("ngx." .. k)(v)
    end
    if expected then
      error(("notifyhub.ngx: %s: %s expected, got %s"):format(k, expected, got or type(v)), 2)
    end
  end
  settings.config = copy
  for k, v in pairs(opts or {}) do settings[k] = v end
end

local function wake_waiters()
  for sema in pairs(state.waiters) do sema:post(1) end
end

local function close_client(timeout)
  local c = state.client
  if not c or state.closed then return end
  state.closed = true
  c.core:wake()                          -- a pump asleep on the waker sees closed
  local cut = c:close(timeout)
  wake_waiters()
  if cut > 0 then
    ngx.log(ngx.ERR, "notifyhub: the worker exits; ", cut, " message(s) were not delivered")
  end
end

-- The pump: polls completions, runs callbacks, wakes waiting requests;
-- sleeps 1 ms to 20 ms while messages are pending, 100 ms when idle.
-- state.pump_co is the pump's coroutine: a callback that waits runs on it,
-- and must then pump itself (nobody else posts the semaphores).
local function pump_once(c)
  local ok, n = pcall(c.poll, c)
  if not ok then
    ngx.log(ngx.ERR, "notifyhub: poll failed: ", n)
    n = 0
  end
  if n > 0 then wake_waiters() end
  return n
end

-- The waker: the core writes a byte to a unix socket when a message
-- finishes while the pump sleeps on it (armed), so the pump wakes at once
-- and an idle worker costs nothing. Its read timeout is long on purpose
-- (lua_socket_log_errors logs every timeout): the ticker wakes the pump
-- when the worker exits.
local WAKER_TIMEOUT_MS = 3600 * 1000

local function open_waker(c)
  local path, err = c.core:waker_listen()
  if not path then
    ngx.log(ngx.WARN, "notifyhub: no wake-up socket (", err, "); the pump polls instead")
    return nil
  end
  local sock = ngx.socket.tcp()
  local ok, cerr = sock:connect("unix:" .. path)
  local accepted = c.core:waker_accept()   -- also removes the path, connected or not
  if not (ok and accepted) then
    sock:close()
    ngx.log(ngx.WARN, "notifyhub: no wake-up socket (", cerr or "accept failed", "); the pump polls instead")
    return nil
  end
  sock:settimeout(WAKER_TIMEOUT_MS)
  return sock
end

-- Sleeps until a completion arrives (waker) or, without a waker, for a
-- while that grows from busy_interval to busy_max while messages are
-- pending (idle_interval when none is). Returns the waker, or nil when it
-- broke.
local function pump_sleep(c, waker, nap)
  if waker then
    if not c.core:arm() then return waker end        -- records are ready
    local data, err = waker:receiveany(256)
    if data then return waker end
    ngx.log(ngx.WARN, "notifyhub: wake-up socket: ", err, "; the pump polls instead")
    waker:close()
    return nil
  end
  ngx.sleep(c.core:pending() > 0 and nap or settings.idle_interval)
  return nil
end

-- The ticker: logs that workers wrote while nothing finished, and the
-- pump's wake-up when the worker exits.
local function tick(premature, c)
  if state.client ~= c or state.closed then return end
  if premature or ngx.worker.exiting() then
    c.core:wake()
    return
  end
  local ok, err = pcall(c._drain_logs, c)
  if not ok then ngx.log(ngx.ERR, "notifyhub: logs: ", err) end
end

-- The worker exits: messages still pending get close_timeout to finish
-- while the pump goes on yielding (a blocking close would hold every
-- request still in flight on this worker); then close cuts the rest off
-- (with a spool: hands them back, in flight or not, for the other workers
-- or the next nginx; meanwhile this worker takes nothing more from the
-- spool, which it would only hand back).
local function drain(c)
  c.core:stop_taking()
  ngx.update_time()
  local deadline = ngx.now() + settings.close_timeout
  local nap = settings.busy_interval
  while c.core:pending() > 0 and not state.closed do
    ngx.update_time()
    local left = deadline - ngx.now()
    if left <= 0 then break end
    if pump_once(c) > 0 then nap = settings.busy_interval end
    -- an exiting worker's sleeps may end early; the deadline still holds
    ngx.sleep(math.max(MIN_WAIT, math.min(nap, left)))
    nap = math.min(nap * 2, settings.busy_max)
  end
  close_client(0)
end

local function pump(premature)
  local c = state.client
  local nap = settings.busy_interval
  state.pump_co = coroutine.running()
  local waker = not premature and open_waker(c)
  while not premature and not ngx.worker.exiting() and not state.closed and state.client == c do
    if pump_once(c) > 0 then
      -- Busy: completions gather for a moment instead of each one costing a
      -- wake-up (the waker is not armed meanwhile); a waiter waits 1 ms more.
      nap = settings.busy_interval
      ngx.sleep(MIN_WAIT)
    else
      waker = pump_sleep(c, waker, nap)
      nap = math.min(nap * 2, settings.busy_max)
    end
  end
  if state.client == c and not state.closed and (ngx.worker.exiting() or premature) then
    drain(c)
  end
  if waker then waker:close() end
  if state.client == c then
    state.pumping = false
    state.pump_co = nil
    if ngx.worker.exiting() or premature then close_client(settings.close_timeout) end
  end
end

local function start_pump()
  if state.pumping then return true end
  local ok, err = ngx.timer.at(0, pump)
  if not ok then return nil, err end
  state.pumping = true
  if state.ticker ~= state.client then
    local tok = ngx.timer.every(settings.idle_interval, tick, state.client)
    if tok then state.ticker = state.client end
  end
  return true
end

-- Seconds left before deadline on a fresh clock (nginx caches its clock per
-- event-loop turn: a loop that does not yield would never see it move).
local function seconds_left(deadline)
  if not deadline then return nil end
  ngx.update_time()
  return deadline - ngx.now()
end

-- In ngx mode a wait yields on a semaphore that the pump posts, instead of
-- blocking in C. A wait inside a callback runs on the pump itself, which is
-- then the only one left to poll: it polls and sleeps in its place.
local function wait_until(self, cond, timeout)
  local phase = ngx.get_phase()
  if not YIELDING[phase] then
    error("notifyhub.ngx: cannot wait in the " .. phase .. " phase (use send_async there)", 3)
  end
  start_pump()
  ngx.update_time()
  local deadline = timeout and timeout < math.huge and ngx.now() + timeout or nil
  local in_pump = state.pump_co ~= nil and coroutine.running() == state.pump_co
  local sema = not in_pump and semaphore.new() or nil
  if sema then state.waiters[sema] = true end
  local nap = settings.busy_interval
  while true do
    if in_pump and pump_once(self) > 0 then nap = settings.busy_interval end
    if cond() then
      if sema then state.waiters[sema] = nil end
      return true
    end
    if state.closed and self.core:pending() == 0 then
      if sema then state.waiters[sema] = nil end
      return cond() or nil, "the client is closed", "CLOSED"
    end
    local left = seconds_left(deadline)
    if left and left <= 0 then
      if sema then state.waiters[sema] = nil end
      return nil, "timed out while waiting", "TIMEOUT"
    end
    if sema then
      sema:wait(math.max(MIN_WAIT, math.min(left or 1, 1)))
    else
      ngx.sleep(math.max(MIN_WAIT, math.min(left or nap, nap)))
      nap = math.min(nap * 2, settings.busy_max)
    end
  end
end

-- The file of the shared rate windows (shared_rates), or nil and why.
local function rates_path()
  local want = settings.shared_rates
  if type(want) == "string" then return want end
  local why = {}
  for _, base in ipairs(RATE_DIRS) do
    local dir, err = core.private_dir(base)
    if dir then return dir .. "/rates.db" end
    why[#why + 1] = err
  end
  return nil, table.concat(why, "; ")
end

-- The worker's config: without a spool (path or Redis), one that keeps only the rate
-- windows in a file every worker opens (nothing recorded: a send pays no
-- commit; only a rate-limited send counts itself there, on a worker thread).
-- With spool.redis the workers already share Redis's windows.
local function rates_config(cfg)
  local s = cfg.spool
  if (s and (s.path or s.redis)) or not settings.shared_rates then return nil end
  local path, err = rates_path()
  if not path then return nil, err end
  local copy = {}
  for k, v in pairs(cfg) do copy[k] = v end
  copy.spool = {}
  for k, v in pairs(cfg.spool or {}) do copy.spool[k] = v end
  copy.spool.path, copy.spool.messages = path, false
  if copy.spool.wait == nil then copy.spool.wait = SPOOL_WAIT end
  return copy
end

-- A new client for this worker; shared rate windows when they can be had,
-- else (logged) each worker keeps its own.
local function new_client()
  local cfg = settings.config
  local shared, why = rates_config(cfg)
  if shared then
    local c, err = notifyhub.new(shared)
    if c then return c end
    why = err
  end
  if why then
    ngx.log(ngx.WARN, "notifyhub: rate limits are kept per worker (no shared rate windows: ", why, ")")
  end
  return notifyhub.new(cfg)
end

--- The client of this nginx worker, made on first use after fork.
-- @return the client, or nil, why and the code (notifyhub.new's; CLOSED else)
function M.client()
  local pid = ngx.worker.pid()
  if state.client and state.pid == pid then return state.client end
  if ngx.get_phase() == "init" then
    return nil, "notifyhub.ngx: make clients per worker (init_worker_by_lua or later), not in init_by_lua"
  end
  if not settings.config then return nil, "notifyhub.ngx: call configure() in init_by_lua first" end
  -- A client inherited from the master or an old worker belongs to another
  -- process: its threads are not here. Never touch it.
  local c, err, code = new_client()
  if not c then return nil, err, code or "CLOSED" end
  c._wait_until = wait_until
  state.client, state.pid, state.closed, state.pumping = c, pid, false, false
  state.waiters, state.pump_co = {}, nil
  local ok, perr = start_pump()
  if not ok and ngx.get_phase() ~= "init_worker" then
    ngx.log(ngx.WARN, "notifyhub: pump not started yet: ", perr)
  end
  return c
end

--- For init_worker_by_lua*: makes this worker's client and starts its pump.
function M.init_worker()
  local c, err = M.client()
  if not c then ngx.log(ngx.ERR, err) end
  return c, err
end

--- For exit_worker_by_lua*: closes the client with `close_timeout` and
-- logs the messages it could not deliver.
function M.exit_worker()
  close_client(settings.close_timeout)
end

-- The body of send_async and send; fname and depth make an argument error
-- name the user's call and point at the user's line.
local function submit(msg, opts, fname, depth)
  local c, err, code = M.client()
  if not c then return nil, err, code or "CLOSED" end
  local h, serr, scode = c:_queue(msg, opts, fname, depth + 1)
  if h and not state.pumping then start_pump() end
  return h, serr, scode
end

--- Queues a message; safe in every phase, log_by_lua* included.
-- @return a handle, or nil, err, code
function M.send_async(msg, opts)
  local h, err, code = submit(msg, opts, "send_async", 0)   -- not a tail call: see depth
  return h, err, code
end

--- Sends a message and yields until it is finished (rewrite, access,
-- content and timer phases).
-- @return the receipt, or nil, err, code, receipt
function M.send(msg, opts)
  local h, err, code = submit(msg, opts, "send", 0)
  if not h then return nil, err, code end
  return h:wait()
end

--- Queues several messages, all or none (see `client:send_async_batch`).
function M.send_async_batch(messages, opts)
  local c, err, ccode = M.client()
  if not c then return nil, err, ccode or "CLOSED" end
  local b, berr, code = c:send_async_batch(messages, opts)
  if b and not state.pumping then start_pump() end
  return b, berr, code
end

--- This worker's client stats (see `client:stats`).
function M.stats()
  local c = M.client()
  return c and c:stats()
end

return M
