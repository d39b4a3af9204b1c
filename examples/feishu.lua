--- Feishu/Lark custom bot: a text message, a post (title and paragraphs), a
-- signed bot and keywords, and what a receipt holds.
--
--   FEISHU_WEBHOOK_URL=https://open.feishu.cn/open-apis/bot/v2/hook/... \
--   [FEISHU_SECRET=...] [FEISHU_KEYWORD=...] lua5.4 examples/feishu.lua
local notifyhub = require("notifyhub")

local url = os.getenv("FEISHU_WEBHOOK_URL")
if not url then
  io.stderr:write("set FEISHU_WEBHOOK_URL to a Feishu/Lark bot's webhook URL\n")
  os.exit(2)
end

local client = notifyhub.new(notifyhub.config.feishu(url, {
  secret = os.getenv("FEISHU_SECRET"),     -- signs every request when set
  keywords = os.getenv("FEISHU_KEYWORD") and { os.getenv("FEISHU_KEYWORD") } or nil,
}))

local function show(what, receipt, err, code)
  if receipt then
    local r = receipt.results[1]
    print(("%-6s delivered to %s (code %s, %.1f ms)"):format(what, r.target,
      tostring(r.platform_code), r.duration_ms))
  else
    print(("%-6s failed: %s (%s)"):format(what, err, code))
  end
end

-- A body alone is a text message.
show("text", client:send({ body = "Deploy of api finished" }))

-- A title makes a post: each line of the body is a paragraph.
show("post", client:send({
  title = "Release {{version}}",
  body = "api: deployed\nweb: deployed\nworker: deployed",
  variables = { version = "1.4.2" },
}))

-- Feishu answers HTTP 200 even when it refuses a message; notifyhub reads
-- the code in the body, so a refusal is a failure with that code:
local receipt, err, code, failed = client:send({ body = "x", targets = {
  { platform = "feishu", value = url, secret = "not-the-bot-secret" },
} })
if not receipt and failed then
  print(("a wrong secret gives %s, platform code %s"):format(code,
    tostring(failed.results[1].platform_code)))
end

client:close()
