--- Microsoft Teams through a Workflows webhook: an Adaptive Card.
--   TEAMS_WEBHOOK_URL='https://...logic.azure.com/workflows/...&sig=...' lua5.4 examples/teams.lua
local notifyhub = require("notifyhub")
local url = assert(os.getenv("TEAMS_WEBHOOK_URL"), "set TEAMS_WEBHOOK_URL")
local client = notifyhub.new({ teams = { webhook_url = url } })
local receipt, err, code = client:send({ title = "Incident 311 resolved", body = "root cause: a full disk" })
print(receipt and "teams: delivered" or ("teams: " .. err .. " (" .. code .. ")"))
client:close()
