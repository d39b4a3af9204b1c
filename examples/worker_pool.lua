--- The worker pool: configure it, send 200 messages, report each one through
-- callbacks, then print the stats and how many threads were created.
--
--   FEISHU_WEBHOOK_URL=https://open.feishu.cn/open-apis/bot/v2/hook/... \
--   [FEISHU_SECRET=...] lua5.4 examples/worker_pool.lua
--
-- `make demo` runs it against a loopback stand-in for a Feishu bot.
local notifyhub = require("notifyhub")

local url = os.getenv("FEISHU_WEBHOOK_URL")
if not url then
  io.stderr:write("set FEISHU_WEBHOOK_URL to a Feishu/Lark bot's webhook URL\n")
  os.exit(2)
end
local count = tonumber(os.getenv("MESSAGES") or "200")

-- A real bot takes 5 messages a second and 100 a minute, and notifyhub
-- keeps to that by default: 200 messages then take two minutes. A loopback
-- stand-in has no such limit: FEISHU_RATE_LIMIT=off shows the pool at full
-- speed (make demo sets it for its stand-in).
local rate_limit = nil                    -- nil: Feishu's published limit
if os.getenv("FEISHU_RATE_LIMIT") == "off" then rate_limit = false end
local client = notifyhub.new(notifyhub.config.feishu(url, {
  secret = os.getenv("FEISHU_SECRET"),
  rate_limit = rate_limit,
  async = {
    workers = 8,            -- threads started with the pool
    min_workers = 2,
    max_workers = 16,
    buffer_size = 500,      -- queued messages before send_async waits
    timeout = 5,            -- seconds send_async waits for room, then QUEUE_FULL
    concurrency = 8,        -- requests in flight per worker
  },
  http = { timeout = 10 },
}))

local delivered, failed = 0, 0
local started = notifyhub.now()
for i = 1, count do
  local handle, err, code = client:send_async({
    title = ("Pool demo %d/%d"):format(i, count),
    body = "sent through the notifyhub worker pool",
  })
  if not handle then
    io.stderr:write(("message %d not queued: %s (%s)\n"):format(i, err, code))
  else
    handle
      :on_complete(function(receipt)
        delivered = delivered + 1
        if i % 50 == 0 then
          print(("message %3d delivered in %.1f ms"):format(i, receipt.results[1].duration_ms))
        end
      end)
      :on_error(function(_, err2, receipt)
        failed = failed + 1
        print(("message %3d failed: %s (%s)"):format(i, err2, receipt.code))
      end)
  end
end

client:wait_all()
local elapsed = notifyhub.now() - started
local stats = client:stats()
print(("%d delivered, %d failed in %.2f s"):format(delivered, failed, elapsed))
print(("stats: submitted=%d succeeded=%d failed=%d queued=%d in_flight=%d workers=%d"):format(
  stats.submitted, stats.succeeded, stats.failed, stats.queued, stats.in_flight, stats.workers))
print(("threads created: %d"):format(stats.threads_created))
client:close()
os.exit(failed == 0 and 0 or 1)
