--- E-mail over SMTP: STARTTLS and AUTH, an HTML body with a text part, and
-- an attachment.
--   SMTP_HOST=smtp.example.com SMTP_PORT=587 SMTP_USER=... SMTP_PASSWORD=... \
--   MAIL_FROM=alerts@example.com MAIL_TO=ops@example.com [SMTP_CA_FILE=...] lua5.4 examples/email.lua
local notifyhub = require("notifyhub")
local client = notifyhub.new({
  email = {
    host = assert(os.getenv("SMTP_HOST"), "set SMTP_HOST"),
    port = tonumber(os.getenv("SMTP_PORT") or "587"),
    tls = os.getenv("SMTP_TLS") or "starttls",
    username = os.getenv("SMTP_USER"), password = os.getenv("SMTP_PASSWORD"),
    from = assert(os.getenv("MAIL_FROM"), "set MAIL_FROM"),
    to = { (assert(os.getenv("MAIL_TO"), "set MAIL_TO")) },
  },
  http = { ca_file = os.getenv("SMTP_CA_FILE") },
})
local receipt, err, code = client:send({
  title = "Weekly report — 週報",
  body = "<h3>All green</h3><p>412 checks passed.</p>", format = "html",
  platform_data = { email = { attachments = {
    { filename = "report.csv", content = "check,status\ndisk,ok\n", content_type = "text/csv" },
  } } },
})
print(receipt and "email: delivered" or ("email: " .. err .. " (" .. code .. ")"))
client:close()
