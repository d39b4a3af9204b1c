-- Mattermost against its loopback stand-in (spec/support/stub/mattermost.lua, built from
-- Mattermost's incoming-webhook docs): text or a coloured attachment by message.type,
-- markdown as written, the 16383-character limit, and each class of failure.

local notifyhub = require("notifyhub")
local server = require("spec.support.server")
local cjson = require("cjson")

local KEY = "xkq7pmh3ttfd8bnc4ywa5r9g1e"

local function last()
  local reqs = server.requests("/mm/")
  local req = assert(reqs[#reqs], "no request")
  return req, cjson.decode(req.body)
end

describe("mattermost", function()
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() server.clear() end)

  local function hook(key) return server.url("/mm/hooks/" .. (key or KEY)) end
  local function client(cfg, extra)
    local base = { webhook_url = hook() }
    for k, v in pairs(cfg or {}) do base[k] = v end
    local conf = { mattermost = base, retry = { max_attempts = 1 }, logger = { failures = false } }
    for k, v in pairs(extra or {}) do conf[k] = v end
    return notifyhub.new(conf)
  end

  it("posts text (the title in bold) with username, icon and channel; 200 ok is success", function()
    local c = client({ username = "ci", icon_url = "https://e.example/i.png", icon_emoji = "robot",
      channel = "town-square" })
    local receipt = assert(c:send({ title = "Deploy", body = "**v2** is live" , format = "markdown" }))
    assert.equal("ok", receipt.results[1].response)
    local _, body = last()
    assert.equal("**Deploy**\n**v2** is live", body.text)
    assert.same({ "ci", "https://e.example/i.png", "robot", "town-square" },
      { body.username, body.icon_url, body.icon_emoji, body.channel })
    assert.is_nil(body.attachments)
    c:close()
  end)

  it("sends a success, warning or failure as one attachment in the type's colour", function()
    local c = client()
    local want = { success = "#36a64f", warning = "#daa038", failure = "#a30200" }
    for kind, colour in pairs(want) do
      assert(c:send({ title = "Job", body = "it ran", type = kind }))
      local _, body = last()
      assert.is_nil(body.text, kind)
      assert.same({ fallback = "Job", color = colour, title = "Job", text = "it ran" },
        body.attachments[1], kind)
    end
    c:close()
  end)

  it("sends html as plain text", function()
    local c = client()
    assert(c:send({ body = "<ul><li>a</li><li>b</li></ul>", format = "html" }))
    assert.equal("- a\n- b", select(2, last()).text)
    c:close()
  end)

  it("keeps a post within 16383 characters", function()
    local c = client({ overflow = "split" })
    local body = string.rep("word ", 4000)   -- 20000 characters
    local receipt = assert(c:send({ body = body }))
    assert.equal(2, receipt.results[1].parts_sent)
    for _, r in ipairs(server.requests("/mm/")) do
      assert.is_true(#cjson.decode(r.body).text <= 16383)
    end
    c:close()
  end)

  it("brings Mattermost's AppError into the receipt, not retried", function()
    local c = client({ webhook_url = hook("unknown0000000000000000000") },
      { retry = { max_attempts = 3, initial_delay = 0.01 } })
    local _, err, code, receipt = c:send({ body = "x" })
    assert.equal("HTTP_STATUS", code)
    assert.equal("mattermost: HTTP 400: Invalid webhook. (web.incoming_webhook.invalid.app_error)", err)
    assert.equal(1, receipt.results[1].attempts)
    c:close()
  end)

  it("takes a 200 other than ok as a failure", function()
    server.behave("/mm/", { status = 200, body = "<html>SSO login</html>" })
    local c = client()
    local _, err, code = c:send({ body = "x" })
    assert.equal("PLATFORM_REJECTED", code)
    assert.equal("mattermost: HTTP 200: (no message)", err)
    c:close()
  end)

  it("retries a 429 and a 5xx", function()
    server.behave("/mm/", { status = 429, times = 1, headers = { ["Retry-After"] = "1" },
      body = "limit exceeded" })
    local c = client(nil, { retry = { max_attempts = 2, initial_delay = 0.01 } })
    local receipt = assert(c:send({ body = "x" }))
    assert.equal(2, receipt.results[1].attempts)
    server.behave("/mm/", { status = 503, times = 1, body = "" })
    receipt = assert(c:send({ body = "y" }))
    assert.equal(2, receipt.results[1].attempts)
    c:close()
  end)

  it("keeps the hook's key out of errors, receipts and logs when the answer echoes it", function()
    server.behave("/mm/", { status = 400, body = '{"id":"x","message":"{{echo}}"}' })
    local logs = {}
    local c = client(nil, { logger = { level = "debug", failures = true,
      handler = function(_, text, fields) logs[#logs + 1] = text .. cjson.encode(fields) end } })
    local _, err, _, receipt = c:send({ body = "x" })
    c:close()
    local all = err .. cjson.encode(receipt) .. table.concat(logs, "\n")
    assert.matches("hooks\\?/%*%*%*", all)
    assert.is_nil(all:find(KEY, 1, true), all)
  end)

  it("has Mattermost's rate limiting defaults as its default rate limit", function()
    assert.same({ per_second = 10, burst = 100 }, notifyhub.config.rate_limits.mattermost)
  end)
end)
