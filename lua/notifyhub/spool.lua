--- notifyhub.spool: the inspector of a spool file (issue 13).
--
-- A spool is the SQLite file where clients keep what they accepted and have
-- not delivered, and the failed messages for `spool.keep_failed` seconds.
-- `open(path)` shows what it holds and retries or purges the failed ones.
-- Nothing read back out of the file shows a secret: destination labels and
-- receipts are stored redacted, the records themselves are never read here.
-- @module notifyhub.spool

local core = require("notifyhub.core")

local M = {}

--- Opens the spool at path for inspection (it is not created when missing).
-- @tparam string|table path the spool file, or `{ redis = url, prefix =, wait = }`
-- @tparam[opt] table opts `wait`: seconds (> 0 and <= 60) each call waits
--   for another process's lock before `SPOOL_BUSY`; default 5, and 0.1
--   inside nginx (an event loop must not stall)
-- @return the inspector, or nil, message, code (`INVALID_CONFIG`: missing,
--   not a spool, not writable; `SPOOL_BUSY`: locked by another process
--   for more than `wait` seconds)
-- @raise when path is not a string, or opts is not a table of `wait`
--
-- The inspector's methods (each returns nil, message, code on failure;
-- `CLOSED` once closed):
--
-- - `:stats()` -> `{ queued = n, taken = n, failed = n,
--   destinations = { [label] = { queued = n, taken = n, failed = n } } }`
-- - `:failed([limit])` -> `{ { id =, receipt = {...}, failed_at = }, ... }`,
--   oldest first (failed_at: Unix seconds)
-- - `:retry(id)` -> true when it queued that failed message again
-- - `:purge_failed()` -> how many failed messages it removed
-- - `:close()` (also on collection and `<close>`); safe to call twice
--
-- `open{ path = file, wait = s }` is `open(file, { wait = s })`.
-- `open{ redis = "redis://[user:password@]host:port/db", prefix = "notifyhub",
-- wait = s }` inspects the Redis spool of that URL and prefix the same way
-- (`wait`: seconds each call waits for Redis; errors never show the
-- password).
function M.open(path, opts)
  -- `{ path = file, wait = s }`: the file, as open(file, { wait = s })
  if type(path) == "table" and path.redis == nil and path.path ~= nil then
    if opts ~= nil then error("bad argument #2 to 'open' (no second argument with a table)", 2) end
    for k in pairs(path) do
      if k ~= "path" and k ~= "wait" then
        error(("bad argument #1 to 'open' (%s: unknown key)"):format(tostring(k)), 2)
      end
    end
    if type(path.path) ~= "string" then
      error(("bad argument #1 to 'open' (path: string expected, got %s)"):format(type(path.path)), 2)
    end
    return M.open(path.path, path.wait ~= nil and { wait = path.wait } or nil)
  end
  if type(path) == "table" then
    if opts ~= nil then error("bad argument #2 to 'open' (no second argument with a table)", 2) end
    local ngx = rawget(_G, "ngx")
    if path.wait == nil and type(ngx) == "table" and ngx.get_phase then
      local copy = { wait = 0.1 }
      for k, v in pairs(path) do copy[k] = v end
      path = copy
    end
    return core.spool_open(path)
  end
  if type(path) ~= "string" then
    error(("bad argument #1 to 'open' (string or table expected, got %s)"):format(type(path)), 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument #2 to 'open' (table expected, got %s)"):format(type(opts)), 2)
  end
  local ngx = rawget(_G, "ngx")
  if opts == nil and type(ngx) == "table" and ngx.get_phase then opts = { wait = 0.1 } end
  return core.spool_open(path, opts)
end

return M
