--- WeCom group bot: text that mentions everyone, then markdown.
--   WECOM_WEBHOOK_URL='https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...' lua5.4 examples/wecom.lua
local notifyhub = require("notifyhub")
local url = assert(os.getenv("WECOM_WEBHOOK_URL"), "set WECOM_WEBHOOK_URL")
local client = notifyhub.new({ wecom = { webhook_url = url, mentioned_list = { "@all" } } })
for _, msg in ipairs({
  { title = "Backup", body = "nightly backup failed on db1" },
  { title = "Backup", body = "**db1**: retry at 02:00", format = "markdown" },
}) do
  local receipt, err, code = client:send(msg)
  print(receipt and "wecom: delivered" or ("wecom: " .. err .. " (" .. code .. ")"))
end
client:close()
