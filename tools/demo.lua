-- The loopback half of `make demo`: starts the Feishu stand-in from
-- spec/support (a signed bot answering after 72 ms), runs
-- examples/worker_pool.lua against it, checks what the bot received, stops it.
local server = require("spec.support.server")

local TOKEN, SECRET = "demo-bot", "demo-signing-secret"

local function run()
  server.start()
  server.bot(TOKEN, { secret = SECRET, delay = 0.072 })
  local url = server.url("/open-apis/bot/v2/hook/" .. TOKEN)
  print(("== loopback Feishu bot at %s (signed, answers after 72 ms)"):format(url))
  local ok = os.execute(("FEISHU_RATE_LIMIT=off FEISHU_WEBHOOK_URL='%s' FEISHU_SECRET='%s' lua5.4 examples/worker_pool.lua")
    :format(url, SECRET))
  local received = server.count("/open-apis/bot/v2/hook/" .. TOKEN)
  print(("== the bot received %d signed requests"):format(received))
  return (ok == true or ok == 0) and received > 0
end

local ok, result = pcall(run)
server.stop()
if not ok then
  io.stderr:write(tostring(result) .. "\n")
  os.exit(1)
end
os.exit(result and 0 or 1)
