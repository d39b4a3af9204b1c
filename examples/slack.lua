--- Slack incoming webhook: mrkdwn text with the title in bold, and blocks.
--   SLACK_WEBHOOK_URL=https://hooks.slack.com/services/... lua5.4 examples/slack.lua
local notifyhub = require("notifyhub")
local url = assert(os.getenv("SLACK_WEBHOOK_URL"), "set SLACK_WEBHOOK_URL")
local client = notifyhub.new({ slack = { webhook_url = url, username = "notifyhub" } })
local receipt, err, code = client:send({
  title = "Deploy finished",
  body = "api 1.4.2 is live: see [the run](https://ci.example.com/runs/42)",
  format = "markdown",
  platform_data = { slack = { blocks = {
    { type = "section", text = { type = "mrkdwn", text = "*api* 1.4.2 is live" } },
  } } },
})
print(receipt and "slack: delivered" or ("slack: " .. err .. " (" .. code .. ")"))
client:close()
