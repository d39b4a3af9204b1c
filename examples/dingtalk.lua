--- DingTalk custom robot: a signed markdown message that mentions a phone.
--   DINGTALK_WEBHOOK_URL='https://oapi.dingtalk.com/robot/send?access_token=...' \
--   DINGTALK_SECRET=SEC... lua5.4 examples/dingtalk.lua
local notifyhub = require("notifyhub")
local url = assert(os.getenv("DINGTALK_WEBHOOK_URL"), "set DINGTALK_WEBHOOK_URL")
local client = notifyhub.new({ dingtalk = { webhook_url = url, secret = os.getenv("DINGTALK_SECRET"),
  at_mobiles = { "13800000000" } } })
local receipt, err, code = client:send({ title = "Disk", body = "**/var** is 91% full",
  format = "markdown" })
print(receipt and "dingtalk: delivered" or ("dingtalk: " .. err .. " (" .. code .. ")"))
client:close()
