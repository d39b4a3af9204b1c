--- Batches: what `client:send_async_batch(messages)` returns.
--
-- Every message of a batch also has its own handle (`batch.handles[i]`).
-- `on_progress(fn(done, total))` runs after each message finishes;
-- `on_complete(fn(receipts))` once all have, when every one succeeded;
-- otherwise `on_error(fn(err, receipts))` with the first failure's text.
-- Receipts are in the order of the messages.
-- @classmod notifyhub.batch

local Batch = {}
Batch.__index = Batch

local function check_fn(fn, fname)
  if type(fn) ~= "function" then
    error(("bad argument #1 to '%s' (function expected, got %s)"):format(fname, type(fn)), 3)
  end
end

function Batch.new(client, handles)
  local b = setmetatable({
    client = client, handles = handles, total = #handles, done = 0,
    failed = 0, first_error = nil, progress = {}, completes = {}, errors = {},
  }, Batch)
  for _, h in ipairs(handles) do h.batch = b end
  return b
end

function Batch:receipts()
  local out = {}
  for i, h in ipairs(self.handles) do out[i] = h.receipt or false end
  return out
end

function Batch:_finished() return self.done == self.total end

-- Called by each handle after its own callbacks.
function Batch:_one_done(h)
  self.done = self.done + 1
  if h.receipt.status ~= "success" then
    self.failed = self.failed + 1
    self.first_error = self.first_error or h.receipt.error
  end
  for _, fn in ipairs(self.progress) do self.client:_call(fn, self.done, self.total) end
  if self:_finished() then self:_run_end() end
end

function Batch:_run_end()
  local receipts = self:receipts()
  if self.failed == 0 then
    for _, fn in ipairs(self.completes) do self.client:_call(fn, receipts) end
  else
    for _, fn in ipairs(self.errors) do self.client:_call(fn, self.first_error, receipts) end
  end
  self.completes, self.errors = {}, {}
end

--- `fn(done, total)` after each message of the batch finishes.
function Batch:on_progress(fn)
  check_fn(fn, "on_progress")
  self.progress[#self.progress + 1] = fn
  return self
end

--- `fn(receipts)` once every message has finished and succeeded.
function Batch:on_complete(fn)
  check_fn(fn, "on_complete")
  if self:_finished() then
    if self.failed == 0 then self.client:_call(fn, self:receipts()) end
  else
    self.completes[#self.completes + 1] = fn
  end
  return self
end

--- `fn(err, receipts)` once every message has finished and one failed.
function Batch:on_error(fn)
  check_fn(fn, "on_error")
  if self:_finished() then
    if self.failed > 0 then self.client:_call(fn, self.first_error, self:receipts()) end
  else
    self.errors[#self.errors + 1] = fn
  end
  return self
end

--- Waits for every message of the batch.
-- @return the receipts, or nil, err, code, receipts when one failed;
--   nil, err, "TIMEOUT" when the wait ran out
function Batch:wait(timeout)
  local Handle = require("notifyhub.handle")
  local t, err, code = Handle.check_timeout(timeout, "wait")
  if err then return nil, err, code end
  local ok, werr, wcode = self.client:_wait_until(function() return self:_finished() end, t)
  if not ok then return nil, werr, wcode end
  local receipts = self:receipts()
  if self.failed == 0 then return receipts end
  for _, r in ipairs(receipts) do
    if r.status ~= "success" then return nil, r.error, r.code, receipts end
  end
end

--- Cancels every message of the batch that has not finished.
-- @treturn integer how many were still running
function Batch:cancel()
  local n = 0
  for _, h in ipairs(self.handles) do
    if h:cancel() then n = n + 1 end
  end
  return n
end

function Batch:__tostring()
  return ("notifyhub.batch (%d of %d done)"):format(self.done, self.total)
end

return Batch
