-- Runs a command against the loopback test server (spec/support/server.lua,
-- nginx + Lua), then stops the server; exits with the command's status.
--
--   lua5.4 tools/with-server.lua build/tsan/stress_core {base} 2
--
-- "{base}" in an argument becomes the server's "http://127.0.0.1:PORT"; the
-- command also sees it as $NOTIFYHUB_SERVER. Run from the repository root.
package.path = "./?.lua;" .. package.path
local server = require("spec.support.server")

local function q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

if #arg == 0 then
  io.stderr:write("usage: lua5.4 tools/with-server.lua COMMAND [ARG...]\n")
  os.exit(2)
end
local base = server.start()
local words = {}
for i = 1, #arg do words[i] = q((arg[i]:gsub("{base}", base))) end
local cmd = "NOTIFYHUB_SERVER=" .. q(base) .. " " .. table.concat(words, " ")
local ok, how, code = os.execute(cmd)
server.stop()
if type(ok) == "number" then os.exit(ok == 0 and 0 or 1) end
if how == "signal" then os.exit(128 + code) end
os.exit(ok and 0 or (code ~= 0 and code or 1))
