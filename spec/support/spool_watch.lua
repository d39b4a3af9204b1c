-- What the specs read of a spool from outside: through the inspector
-- (notifyhub.spool.open), as a user would.
local spool = require("notifyhub.spool")
local system = require("system")

local M = {}

--- Polls the spool until nothing is queued or taken, or `timeout` seconds.
-- @treturn boolean drained, and the last stats when it is
function M.drained(path, timeout)
  local deadline = system.gettime() + timeout
  repeat
    local sp = assert(spool.open(path))
    local st = assert(sp:stats())
    sp:close()
    if st.queued == 0 and st.taken == 0 then return true, st end
    system.sleep(0.05)
  until system.gettime() > deadline
  return false
end

return M
