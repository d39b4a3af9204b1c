-- ntfy against its loopback stand-in (spec/support/stub/ntfy.lua, built from ntfy's
-- publishing docs): the message as the body of a POST to the topic URL, the rest as query
-- parameters, auth, message.type as priority and tag, markdown, the 4096-byte limit, and
-- each class of failure (refused, retried, a 200 that is no message), secrets kept out.

local notifyhub = require("notifyhub")
local server = require("spec.support.server")
local cjson = require("cjson")

-- The last request under prefix, and its query decoded.
local function last(prefix)
  local reqs = server.requests(prefix)
  local req = assert(reqs[#reqs], "no request under " .. prefix)
  local q = {}
  for k, v in req.args:gmatch("([^&=]+)=([^&]*)") do
    q[k] = v:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
  end
  return req, q
end

describe("ntfy", function()
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() server.clear() end)

  local function topic(name) return server.url("/ntfy/" .. name) end
  local function client(cfg, extra)
    local conf = { ntfy = cfg, retry = { max_attempts = 1 }, logger = { failures = false } }
    for k, v in pairs(extra or {}) do conf[k] = v end
    return notifyhub.new(conf)
  end

  it("posts the body to the topic, the title, priority and tags as parameters", function()
    local c = client({ url = topic("alerts"), token = "tk_goodtoken", message_tags = { "ci", "prod" },
      click = "https://ci.example/run/7" })
    local receipt = assert(c:send({ title = "Déploiement", body = "done in 3 min" }))
    local r = receipt.results[1]
    assert.equal(200, r.http_status)
    assert.equal("message", cjson.decode(r.response).event)
    local req, q = last("/ntfy/")
    assert.equal("POST", req.method)
    assert.equal("/ntfy/alerts", req.path)
    assert.equal("done in 3 min", req.body)
    assert.matches("^text/plain", req.headers["content-type"])
    assert.equal("Bearer tk_goodtoken", req.headers["authorization"])
    assert.equal("Déploiement", q.title)
    assert.equal("3", q.priority)
    assert.equal("ci,prod", q.tags)
    assert.equal("https://ci.example/run/7", q.click)
    assert.is_nil(q.markdown)
    c:close()
  end)

  it("maps message.type to a priority and an emoji tag; a priority other than normal wins", function()
    local c = client({ url = topic("types"), message_tags = { "ci" } })
    local want = { info = { "3", "ci" }, success = { "3", "white_check_mark,ci" },
      warning = { "4", "warning,ci" }, failure = { "5", "rotating_light,ci" } }
    for kind, w in pairs(want) do
      assert(c:send({ body = kind, type = kind }))
      local _, q = last("/ntfy/")
      assert.same(w, { q.priority, q.tags }, kind)
    end
    assert(c:send({ body = "quiet", type = "failure", priority = "low" }))
    assert.equal("2", select(2, last("/ntfy/")).priority)
    assert(c:send({ body = "loud", priority = "urgent" }))
    assert.equal("5", select(2, last("/ntfy/")).priority)
    c:close()
  end)

  it("sends markdown as written with markdown=yes, and html as plain text", function()
    local c = client({ url = topic("fmt") })
    assert(c:send({ body = "**bold** and [link](https://e.example)", format = "markdown" }))
    local req, q = last("/ntfy/")
    assert.equal("yes", q.markdown)
    assert.equal("**bold** and [link](https://e.example)", req.body)
    assert(c:send({ body = "<p>a &amp; <b>b</b></p>", format = "html" }))
    req, q = last("/ntfy/")
    assert.is_nil(q.markdown)
    assert.equal("a & b", req.body)
    c:close()
  end)

  it("authenticates with a token or with user:password in the URL (Basic)", function()
    local c = client({ url = topic("protected"), token = "tk_goodtoken" })
    assert(c:send({ body = "x" }))
    c:close()
    c = client({ url = topic("protected"):gsub("^http://", "http://phil:mypass@") })
    assert(c:send({ body = "x" }))
    assert.matches("^Basic ", last("/ntfy/").headers["authorization"])
    c:close()
  end)

  it("refuses a wrong token (401) and no token (403) without retrying", function()
    local c = client({ url = topic("protected"), token = "tk_wrongtoken" },
      { retry = { max_attempts = 3, initial_delay = 0.01 } })
    local _, err, code, receipt = c:send({ body = "x" })
    assert.equal("HTTP_STATUS", code)
    assert.equal("ntfy: HTTP 401: unauthorized", err)
    assert.equal(40101, receipt.results[1].platform_code)
    assert.equal(1, receipt.results[1].attempts)
    assert.is_nil(cjson.encode(receipt):find("tk_wrongtoken", 1, true))
    c:close()
    c = client({ url = topic("protected") })
    _, err, code, receipt = c:send({ body = "x" })
    assert.equal("HTTP_STATUS", code)
    assert.equal(40301, receipt.results[1].platform_code)
    assert.matches("forbidden", err)
    c:close()
  end)

  it("takes a 200 without a message (a login page in front) as a failure", function()
    server.behave("/ntfy/portal", { status = 200, body = "<html>Sign in</html>" })
    local c = client({ url = topic("portal") })
    local _, err, code = c:send({ body = "x" })
    assert.equal("PLATFORM_REJECTED", code)
    assert.equal("ntfy: HTTP 200: no message in the answer", err)
    c:close()
  end)

  it("retries a 429 (with its Retry-After) and a 5xx", function()
    server.behave("/ntfy/busy", { status = 429, times = 1, headers = { ["Retry-After"] = "1" },
      body = '{"code":42901,"http":429,"error":"limit reached: too many requests"}' })
    local c = client({ url = topic("busy") }, { retry = { max_attempts = 2, initial_delay = 0.01 } })
    local receipt = assert(c:send({ body = "x" }))
    assert.equal(2, receipt.results[1].attempts)
    server.behave("/ntfy/busy", { status = 429, headers = { ["Retry-After"] = "3" },
      body = '{"code":42901,"http":429,"error":"limit reached: too many requests"}' })
    c:close()
    c = client({ url = topic("busy") })
    local _, err, code
    _, err, code, receipt = c:send({ body = "x" })
    assert.equal("RATE_LIMITED", code)
    assert.equal(3, receipt.results[1].retry_after)
    assert.equal(42901, receipt.results[1].platform_code)
    assert.matches("too many requests", err)
    c:close()
    server.behave("/ntfy/down", { status = 502, times = 1, body = "bad gateway" })
    c = client({ url = topic("down") }, { retry = { max_attempts = 2, initial_delay = 0.01 } })
    receipt = assert(c:send({ body = "x" }))
    assert.equal(2, receipt.results[1].attempts)
    c:close()
  end)

  it("keeps a message within ntfy's 4096 bytes (truncate, split)", function()
    local body = string.rep("é", 3000)   -- 6000 bytes
    local c = client({ url = topic("long") })
    assert(c:send({ body = body }))
    local sent = last("/ntfy/").body
    assert.is_true(#sent <= 4096, #sent)
    assert.equal(body:sub(1, 100), sent:sub(1, 100))
    c:close()
    server.clear()
    c = client({ url = topic("long"), overflow = "split" })
    local receipt = assert(c:send({ body = body }))
    local parts = {}
    for i, r in ipairs(server.requests("/ntfy/")) do parts[i] = r.body end
    assert.equal(2, receipt.results[1].parts_sent)
    assert.equal(body, table.concat(parts))
    c:close()
  end)

  it("keeps the token and the topic out of errors, receipts and logs when ntfy echoes them", function()
    server.behave("/ntfy/", { status = 400, body = '{"code":40000,"http":400,"error":"{{echo}}"}' })
    local logs = {}
    local c = client({ url = topic("SecretTopic-4471"), token = "tk_SecretToken-4472" },
      { logger = { level = "debug", failures = true,
        handler = function(_, text, fields) logs[#logs + 1] = text .. cjson.encode(fields) end } })
    local _, err, code, receipt = c:send({ title = "t", body = "b" })
    c:close()
    assert.equal("HTTP_STATUS", code)
    local all = err .. cjson.encode(receipt) .. table.concat(logs, "\n")
    assert.matches("Bearer %*%*%*", all)   -- the echo arrived, masked
    assert.is_nil(all:find("tk_SecretToken-4472", 1, true), all)
    assert.is_nil(all:find("SecretTopic-4471", 1, true), all)
  end)

  it("takes a bare ntfy.sh URL as an ntfy target, without the instance's token", function()
    local target = require("notifyhub.target")
    assert.same({ platform = "ntfy", value = "https://ntfy.sh/alerts" },
      target.parse("https://ntfy.sh/alerts"))
    local cfg = notifyhub.config.check({ ntfy = { url = topic("alerts"), token = "tk_goodtoken" } })
    local home = assert(target.resolve(cfg.platforms, { platform = "ntfy" }))
    assert.equal("tk_goodtoken", home.options.token)
    local there = assert(target.resolve(cfg.platforms, "https://ntfy.sh/elsewhere"))
    assert.equal("ntfy", there.platform)
    assert.is_nil(there.options and there.options.token)   -- the token stays with its server
  end)

  it("has ntfy's visitor limit as its default rate limit", function()
    assert.same({ per_minute = 12 }, notifyhub.config.rate_limits.ntfy)
  end)
end)
