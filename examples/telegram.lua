--- Telegram bot: HTML with correct escaping, to a chat.
--   TELEGRAM_BOT_TOKEN=123:abc TELEGRAM_CHAT_ID=-100123 lua5.4 examples/telegram.lua
--   (TELEGRAM_API_URL points elsewhere than https://api.telegram.org, e.g. a test server)
local notifyhub = require("notifyhub")
local token = assert(os.getenv("TELEGRAM_BOT_TOKEN"), "set TELEGRAM_BOT_TOKEN")
local client = notifyhub.new({ telegram = { token = token, chat_id = os.getenv("TELEGRAM_CHAT_ID"),
  api_url = os.getenv("TELEGRAM_API_URL") } })
local receipt, err, code = client:send({ title = "CPU > 90% on <web1>",
  body = "load is **high** since `09:00`", format = "markdown" })
print(receipt and "telegram: delivered" or ("telegram: " .. err .. " (" .. code .. ")"))
client:close()
