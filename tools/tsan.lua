-- make tsan: runs build/tsan_core (tests/tsan_core.c under ThreadSanitizer)
-- against the loopback sink of spec/support/server.lua, then stops it.
package.path = "./?.lua;" .. package.path
local server = require("spec.support.server")
local base = server.start()
local rounds = os.getenv("TSAN_ROUNDS") or "5"
local ok = os.execute("TSAN_OPTIONS='halt_on_error=1 second_deadlock_stack=1' build/tsan_core "
  .. base .. "/sink " .. rounds)
server.stop()
os.exit((ok == true or ok == 0) and 0 or 1)
