--- Discord webhook: content and an embed; long text is split into messages.
--   DISCORD_WEBHOOK_URL=https://discord.com/api/webhooks/... lua5.4 examples/discord.lua
local notifyhub = require("notifyhub")
local url = assert(os.getenv("DISCORD_WEBHOOK_URL"), "set DISCORD_WEBHOOK_URL")
local client = notifyhub.new({ discord = { webhook_url = url, username = "notifyhub",
  overflow = "split" } })
local receipt, err, code = client:send({ title = "Nightly build", body = "all 412 tests passed",
  platform_data = { discord = { embeds = { { title = "Build #42", color = 3066993 } } } } })
print(receipt and "discord: delivered" or ("discord: " .. err .. " (" .. code .. ")"))
client:close()
