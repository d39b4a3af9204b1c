--- A generic webhook signed by the Standard Webhooks scheme
-- (webhook-id, webhook-timestamp, webhook-signature).
--   WEBHOOK_URL=https://example.com/hooks WEBHOOK_SECRET=whsec_... lua5.4 examples/webhook_signed.lua
local notifyhub = require("notifyhub")
local url = assert(os.getenv("WEBHOOK_URL"), "set WEBHOOK_URL")
local client = notifyhub.new({ webhook = { url = url, secret = os.getenv("WEBHOOK_SECRET"),
  headers = { ["X-Source"] = "notifyhub" } } })
local receipt, err, code = client:send({ id = "evt_1001", title = "invoice.paid",
  body = "invoice 1001 was paid", metadata = { amount = 4200, currency = "EUR" } })
print(receipt and "webhook: delivered" or ("webhook: " .. err .. " (" .. code .. ")"))
client:close()
