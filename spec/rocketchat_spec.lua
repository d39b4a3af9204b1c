-- Rocket.Chat against its loopback stand-in (spec/support/stub/rocketchat.lua, built from
-- Rocket.Chat's integration docs): text or a coloured attachment by message.type, markdown
-- in Rocket.Chat's markup, the 5000-character limit, the API rate limiter's 429, and a
-- "success": false under HTTP 200.

local notifyhub = require("notifyhub")
local server = require("spec.support.server")
local cjson = require("cjson")

local TOKEN = "Xq3tLmPp9WzR2vKc8sJd4FhN7yBa5GuE6oTiQ1wZeRxYcVb"

local function last()
  local reqs = server.requests("/rc/")
  local req = assert(reqs[#reqs], "no request")
  return req, cjson.decode(req.body)
end

describe("rocketchat", function()
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() server.clear() end)

  local function hook(id, token) return server.url("/rc/hooks/" .. (id or "hk1") .. "/" .. (token or TOKEN)) end
  local function client(cfg, extra)
    local base = { webhook_url = hook(), rate_limit = false }
    for k, v in pairs(cfg or {}) do base[k] = v end
    local conf = { rocketchat = base, retry = { max_attempts = 1 }, logger = { failures = false } }
    for k, v in pairs(extra or {}) do conf[k] = v end
    return notifyhub.new(conf)
  end

  it("posts text (the title in bold) with alias, emoji, avatar and channel", function()
    local c = client({ alias = "CI", emoji = ":robot:", avatar = "https://e.example/a.png", channel = "#ops" })
    local receipt = assert(c:send({ title = "Deploy", body = "v2 is live" }))
    assert.equal('{"success":true}', receipt.results[1].response)
    local _, body = last()
    assert.equal("*Deploy*\nv2 is live", body.text)
    assert.same({ "CI", ":robot:", "https://e.example/a.png", "#ops" },
      { body.alias, body.emoji, body.avatar, body.channel })
    c:close()
  end)

  it("writes markdown in Rocket.Chat's markup", function()
    local c = client()
    assert(c:send({ body = "**bold** *it* `x` [run](<https://ci.example/a b>)\n\n- one\n- two", format = "markdown" }))
    assert.equal("*bold* _it_ `x` [run](https://ci.example/a%20b)\n\n- one\n- two", select(2, last()).text)
    c:close()
  end)

  it("sends a success, warning or failure as one attachment in the type's colour", function()
    local c = client()
    local want = { success = "#36a64f", warning = "#daa038", failure = "#a30200" }
    for kind, colour in pairs(want) do
      assert(c:send({ title = "Job", body = "it ran", type = kind }))
      local _, body = last()
      assert.is_nil(body.text, kind)
      assert.same({ title = "Job", text = "it ran", color = colour }, body.attachments[1], kind)
    end
    c:close()
  end)

  it("keeps a message within 5000 characters", function()
    local c = client()
    assert(c:send({ body = string.rep("ß", 6000) }))
    local n = select(2, select(2, last()).text:gsub("[^\128-\191]", ""))
    assert.is_true(n <= 5000 and n > 4900, n)
    c:close()
  end)

  it("brings Rocket.Chat's error into the receipt: 404 not retried", function()
    local c = client({ webhook_url = hook("unknown") }, { retry = { max_attempts = 3, initial_delay = 0.01 } })
    local _, err, code, receipt = c:send({ body = "x" })
    assert.equal("HTTP_STATUS", code)
    assert.equal("rocketchat: HTTP 404: Invalid integration id or token provided.", err)
    assert.equal(1, receipt.results[1].attempts)
    c:close()
  end)

  it("takes success false under HTTP 200 as a failure", function()
    server.behave("/rc/", { status = 200, body = '{"success":false,"error":"error-running-script"}' })
    local c = client()
    local _, err, code = c:send({ body = "x" })
    assert.equal("PLATFORM_REJECTED", code)
    assert.equal("rocketchat: HTTP 200: error-running-script", err)
    c:close()
  end)

  it("meets the API rate limiter's 429 past 10 calls a minute when the default limit is off", function()
    local c = client({ webhook_url = hook("hk-limited") })
    for i = 1, 10 do assert(c:send({ body = "n" .. i })) end
    local _, err, code = c:send({ body = "eleventh" })
    assert.equal("RATE_LIMITED", code)
    assert.matches("error%-too%-many%-requests", err)
    c:close()
    assert.same({ per_minute = 10 }, notifyhub.config.rate_limits.rocketchat)
  end)

  it("retries a 5xx", function()
    server.behave("/rc/", { status = 502, times = 1, body = "" })
    local c = client(nil, { retry = { max_attempts = 2, initial_delay = 0.01 } })
    local receipt = assert(c:send({ body = "x" }))
    assert.equal(2, receipt.results[1].attempts)
    c:close()
  end)

  it("keeps the hook's token out of errors, receipts and logs when the answer echoes it", function()
    server.behave("/rc/", { status = 400, body = '{"success":false,"error":"{{echo}}"}' })
    local logs = {}
    local c = client(nil, { logger = { level = "debug", failures = true,
      handler = function(_, text, fields) logs[#logs + 1] = text .. cjson.encode(fields) end } })
    local _, err, _, receipt = c:send({ body = "x" })
    c:close()
    local all = err .. cjson.encode(receipt) .. table.concat(logs, "\n")
    assert.matches("hk1\\?/%*%*%*", all)
    assert.is_nil(all:find(TOKEN, 1, true), all)
  end)
end)
