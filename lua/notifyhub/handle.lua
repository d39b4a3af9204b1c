--- Handles: what `client:send_async` returns for one message.
--
-- A handle finishes exactly once, when its completion record is polled on
-- the owner thread; then either every `on_complete` callback runs (all
-- targets delivered) or every `on_error` callback runs. A callback added
-- after that runs at once. Handles are plain Lua objects: they own no C
-- memory beyond the job token, whose collection tells the core that nobody
-- will read this message's completion.
-- @classmod notifyhub.handle

local Handle = {}
Handle.__index = Handle

local function check_fn(fn, fname)
  if type(fn) ~= "function" then
    error(("bad argument #1 to '%s' (function expected, got %s)"):format(fname, type(fn)), 3)
  end
end

local function check_timeout(timeout, fname)
  if timeout == nil then return nil end
  if type(timeout) ~= "number" or timeout ~= timeout then
    error(("bad argument #1 to '%s' (number expected, got %s)"):format(fname,
      timeout ~= timeout and "nan" or type(timeout)), 3)
  end
  if timeout < 0 then
    return nil, ("%s: timeout must be >= 0, got %s"):format(fname, tostring(timeout)), "INVALID_ARGUMENT"
  end
  return timeout
end
Handle.check_timeout = check_timeout

function Handle.new(client, message, token, id, seq)
  return setmetatable({
    id = id, seq = seq, client = client, message = message, token = token,
    done = false, receipt = nil, completes = nil, errors = nil,
  }, Handle)
end

--- Adds a callback for a message whose every target succeeded.
-- @tparam function fn called as `fn(receipt)`
-- @return the handle, to chain
function Handle:on_complete(fn)
  check_fn(fn, "on_complete")
  if self.done then
    if self.receipt.status == "success" then self.client:_call(fn, self.receipt) end
  else
    self.completes = self.completes or {}
    self.completes[#self.completes + 1] = fn
    self.client:_anchor(self)
  end
  return self
end

--- Adds a callback for a message that failed on at least one target.
-- @tparam function fn called as `fn(message, err, receipt)`
-- @return the handle, to chain
function Handle:on_error(fn)
  check_fn(fn, "on_error")
  if self.done then
    if self.receipt.status ~= "success" then
      self.client:_call(fn, self.message, self.receipt.error, self.receipt)
    end
  else
    self.errors = self.errors or {}
    self.errors[#self.errors + 1] = fn
    self.client:_anchor(self)
  end
  return self
end

-- Called once by the client with the polled receipt: the handle is done
-- from now on; its callbacks run when the client drains its ready queue.
function Handle:_settle(receipt)
  self.done, self.receipt, self.token = true, receipt, nil
end

function Handle:_run_callbacks()
  local client, receipt = self.client, self.receipt
  if receipt.status == "success" then
    for _, fn in ipairs(self.completes or {}) do client:_call(fn, receipt) end
  else
    for _, fn in ipairs(self.errors or {}) do
      client:_call(fn, self.message, receipt.error, receipt)
    end
  end
  self.completes, self.errors = nil, nil
  if self.batch then self.batch:_one_done(self) end
end

local function result_of(self)
  local r = self.receipt
  if r.status == "success" then return r end
  return nil, r.error, r.code, r
end

--- Waits until the message is finished, running other handles' callbacks
-- meanwhile.
-- @tparam[opt] number timeout seconds; nil waits until the message ends
--   (every transfer is bounded by `http.timeout`)
-- @return the receipt, or nil, err, code (and the receipt when there is one);
--   `TIMEOUT` when the wait ran out (the message goes on)
function Handle:wait(timeout)
  local t, err, code = check_timeout(timeout, "wait")
  if err then return nil, err, code end
  local ok, werr, wcode = self.client:_wait_until(function() return self.done end, t)
  if not ok then return nil, werr, wcode end
  return result_of(self)
end

--- Stops the message: queued, waiting for a retry or a rate limit, or in
-- flight (the transfer is aborted); it ends with `CANCELLED` and on_error
-- runs. Targets already delivered stay delivered.
-- @treturn boolean true when the message had not finished, false after
function Handle:cancel()
  if self.done then return false end
  return self.client.core:cancel(self.token)
end

--- "queued", "sending", or when finished the receipt's status:
-- "success", "partial" or "failed".
function Handle:status()
  if not self.done then self.client:poll() end
  if self.done then return self.receipt.status end
  local state = self.token:state()
  return state == "done" and "sending" or state
end

function Handle:__tostring()
  return ("notifyhub.handle %s (%s)"):format(self.id, self.done and self.receipt.status or "pending")
end

-- `local h <close> = client:send_async(m)` waits for the message at the end
-- of the scope, so its callbacks have run when the scope is left.
function Handle:__close()
  if not self.done then self:wait() end
end

return Handle
