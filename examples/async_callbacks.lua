--- Async sending with callbacks: chain on_complete / on_error on a handle,
-- send to a target that fails, and run the callbacks from a poll loop (or
-- wait on the handles directly).
--
--   WEBHOOK_URL=https://example.com/hook lua5.4 examples/async_callbacks.lua
local notifyhub = require("notifyhub")

local url = os.getenv("WEBHOOK_URL")
if not url then
  io.stderr:write("set WEBHOOK_URL to an http(s) endpoint that accepts POSTed JSON\n")
  os.exit(2)
end

local client = notifyhub.new({ webhook = { url = url }, http = { timeout = 5 } })

-- 1. Callbacks chain; exactly one of them runs, on this thread. send_async
--    returns nil, err, code when it refuses the message (INVALID_MESSAGE,
--    QUEUE_FULL, CLOSED): check before chaining.
local h, why, refused = client:send_async({ title = "Build", body = "build 42 passed",
  metadata = { build = 42 } })
if not h then
  io.stderr:write(("refused: %s (%s)\n"):format(why, refused))
  os.exit(1)
end
h:on_complete(function(receipt)
  print(("delivered %s with HTTP %d"):format(receipt.message_id, receipt.results[1].http_status))
end):on_error(function(message, err, receipt)
  print(("%q failed: %s (%s)"):format(message.title, err, receipt.code))
end)

-- 2. A target that refuses the connection: on_error gets the code (assert
--    is the short form of the check above).
assert(client:send_async({ body = "this one fails", targets = {
  { platform = "webhook", value = "http://127.0.0.1:9/nobody-listens" },
} })):on_error(function(_, err, receipt)
  print(("expected failure: %s (%s)"):format(err, receipt.code))
end)

-- 3. Run the callbacks: poll() runs those of finished messages and never
--    blocks (call it when client:fd() is readable, from cqueues, luv or any
--    poll loop); wait_all() polls until everything sent so far is finished.
client:poll()
client:wait_all(15)

-- 4. Or wait on one handle: the receipt, or nil, err, code.
local handle = client:send_async({ body = "waited for" })
local receipt, err, code = handle:wait(10)
print(receipt and ("waited: " .. receipt.status) or ("waited: " .. err .. " " .. code))

client:close()
