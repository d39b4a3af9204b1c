-- The examples run as a user would run them, against the loopback server,
-- so they cannot rot. Each one is a separate process of the same Lua.

local server = require("spec.support.server")
local cjson = require("cjson")

local LUA = rawget(_G, "jit") and "luajit" or "lua5.4"
local FLAVOUR = rawget(_G, "jit") and "luajit" or "lua5.4"

local function run_example(name, env)
  local vars = {}
  for k, v in pairs(env) do vars[#vars + 1] = ("%s='%s'"):format(k, v) end
  local cmd = ("%s LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_PATH_5_4='./lua/?.lua;./lua/?/init.lua;;' "
    .. "LUA_CPATH='./build/%s/?.so;;' LUA_CPATH_5_4='./build/%s/?.so;;' %s examples/%s 2>&1")
    :format(table.concat(vars, " "), FLAVOUR, FLAVOUR, LUA, name)
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  local ok = p:close()
  return ok, out
end

describe("examples", function()
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() server.clear() end)

  it("worker_pool.lua sends 200 signed messages through the pool", function()
    server.bot("pool", { secret = "pool-secret", delay = 0.02 })
    local ok, out = run_example("worker_pool.lua", {
      FEISHU_WEBHOOK_URL = server.url("/open-apis/bot/v2/hook/pool"), FEISHU_SECRET = "pool-secret",
      FEISHU_RATE_LIMIT = "off" })
    assert(ok, out)
    assert.matches("200 delivered, 0 failed", out)
    assert.matches("threads created: 8", out)
    assert.equal(200, server.count("/open-apis/bot/v2/hook/pool"))
  end)

  it("async_callbacks.lua shows success, failure and wait", function()
    local ok, out = run_example("async_callbacks.lua", { WEBHOOK_URL = server.url("/webhook/example") })
    assert(ok, out)
    assert.matches("delivered [%w%-]+ with HTTP 200", out)
    assert.matches("expected failure: .*%(NETWORK%)", out)
    assert.matches("waited: success", out)
  end)

  it("feishu.lua sends text and post, and shows a refusal's code", function()
    server.bot("ex", { secret = "ex-secret" })
    local ok, out = run_example("feishu.lua", {
      FEISHU_WEBHOOK_URL = server.url("/open-apis/bot/v2/hook/ex"), FEISHU_SECRET = "ex-secret" })
    assert(ok, out)
    assert.matches("text   delivered", out)
    assert.matches("post   delivered", out)
    assert.matches("a wrong secret gives PLATFORM_REJECTED, platform code 19021", out)
    local reqs = server.requests("/open-apis/bot/v2/hook/ex")
    assert.equal(3, #reqs)
    assert.matches('"title":"Release 1.4.2"', reqs[2].body)
  end)

  describe("one per platform", function()
    local smtp = require("spec.support.smtp")

    local cases = {
      { "slack.lua", { SLACK_WEBHOOK_URL = "/services/T1/B1/ex" }, "/services/" },
      { "dingtalk.lua", { DINGTALK_WEBHOOK_URL = "/robot/send?access_token=ex", DINGTALK_SECRET = "SECex" },
        "/robot/send" },
      { "wecom.lua", { WECOM_WEBHOOK_URL = "/cgi-bin/webhook/send?key=ex" }, "/cgi-bin/", 2 },
      { "discord.lua", { DISCORD_WEBHOOK_URL = "/api/webhooks/1/ex" }, "/api/webhooks/" },
      { "telegram.lua", { TELEGRAM_BOT_TOKEN = "1:ex", TELEGRAM_CHAT_ID = "7", TELEGRAM_API_URL = "" }, "/bot" },
      { "teams.lua", { TEAMS_WEBHOOK_URL = "/workflows/ex/triggers/manual/paths/invoke?api-version=1&sig=s" },
        "/workflows/" },
      { "webhook_signed.lua", { WEBHOOK_URL = "/signed/ex",
        WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }, "/signed/" },
    }
    for _, case in ipairs(cases) do
      it(case[1] .. " delivers to its stand-in", function()
        server.dingtalk("ex", { secret = "SECex" })
        server.signed("ex", { secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" })
        local env = {}
        for k, v in pairs(case[2]) do
          env[k] = (k:match("URL$") and (v == "" or v:sub(1, 1) == "/")) and server.url(v) or v
        end
        local ok, out = run_example(case[1], env)
        assert(ok, out)
        assert.is_nil(out:find("failed", 1, true), out)
        assert.matches("delivered", out)
        assert.equal(case[4] or 1, #server.requests(case[3]))
      end)
    end

    it("email.lua delivers over STARTTLS with an attachment", function()
      local s = smtp.start({ user = "u", password = "p" })
      smtp.clear()
      local ok, out = run_example("email.lua", { SMTP_HOST = s.host, SMTP_PORT = s.port,
        SMTP_USER = "u", SMTP_PASSWORD = "p", MAIL_FROM = "a@example.com",
        MAIL_TO = "b@example.com", SMTP_CA_FILE = s.ca_file })
      smtp.stop()
      assert(ok, out)
      assert.matches("email: delivered", out)
    end)
  end)

  describe("openresty", function()
    local prefix, port

    local function sh(cmd)
      local p = assert(io.popen(cmd .. " 2>&1"))
      local out = p:read("*a")
      local ok = p:close()
      return ok, out
    end

    after_each(function()
      if prefix then
        sh("PREFIX=" .. prefix .. " sh examples/openresty/run.sh stop; sleep 0.3; rm -rf " .. prefix)
        prefix = nil
      end
    end)

    it("relays POST /alert with its receipt and notifies from log_by_lua on a 5xx", function()
      prefix = os.tmpname()
      os.remove(prefix)
      server.bot("relay", {})
      local ok, out
      for try = 0, 4 do                       -- below the ephemeral ports; next if taken
        port = 12000 + (server.port() * 3 + try * 211) % 18000
        local env = ("PREFIX=%s PORT=%d FEISHU_WEBHOOK_URL='%s' WEBHOOK_URL='%s'"):format(prefix, port,
          server.url("/open-apis/bot/v2/hook/relay"), server.url("/webhook/relay"))
        ok, out = sh(env .. " sh examples/openresty/run.sh")
        if ok or not out:find("Address already in use", 1, true) then break end
      end
      assert(ok, out)
      local base = "http://127.0.0.1:" .. port
      local status, body
      for _ = 1, 50 do
        status, body = server.http("POST", base .. "/alert", '{"title":"disk","body":"full"}',
          { ["Content-Type"] = "application/json" }, 5)
        if status ~= 0 then break end
        os.execute("sleep 0.1")
      end
      assert.equal(200, status, body)
      local receipt = cjson.decode(body)
      assert.equal("success", receipt.status)
      assert.equal(2, receipt.total)
      assert.equal(200, (server.http("GET", base .. "/app/ok")))
      assert.equal(503, (server.http("GET", base .. "/app/broken")))
      local reqs = server.wait_for(2, "/webhook/relay", 5)
      assert.equal(2, #reqs)                                -- the alert, then the 5xx
      local note = cjson.decode(reqs[2].body)
      assert.equal("upstream 503", note.title)
      assert.equal("GET /app/broken answered 503", note.body)
      assert.equal(2, #server.requests("/open-apis/bot/v2/hook/relay"))
    end)
  end)
end)
