-- Gotify against its loopback stand-in (spec/support/stub/gotify.lua, built from Gotify's
-- API docs): POST <server>/message with X-Gotify-Key, JSON {title, message, priority,
-- extras}, message.type as priority, markdown through extras, and each class of failure.

local notifyhub = require("notifyhub")
local server = require("spec.support.server")
local cjson = require("cjson")

local function last(prefix)
  local reqs = server.requests(prefix)
  local req = assert(reqs[#reqs], "no request under " .. prefix)
  return req, cjson.decode(req.body)
end

describe("gotify", function()
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() server.clear() end)

  local TOKEN = "AGotifyAppToken.8861"
  local function client(cfg, extra)
    local base = { url = server.url("/gotify/"), token = TOKEN }
    for k, v in pairs(cfg or {}) do base[k] = v end
    local conf = { gotify = base, retry = { max_attempts = 1 }, logger = { failures = false } }
    for k, v in pairs(extra or {}) do conf[k] = v end
    return notifyhub.new(conf)
  end

  it("posts JSON to <server>/message with the token in X-Gotify-Key", function()
    local c = client({ click = "https://ci.example/7" })
    local receipt = assert(c:send({ title = "Backup", body = "done" }))
    assert.equal(200, receipt.results[1].http_status)
    assert.is_number(cjson.decode(receipt.results[1].response).id)
    local req, body = last("/gotify/")
    assert.equal("/gotify/message", req.path)
    assert.equal(TOKEN, req.headers["x-gotify-key"])
    assert.equal("", req.args)   -- the token never goes into the URL
    assert.equal("Backup", body.title)
    assert.equal("done", body.message)
    assert.equal(5, body.priority)
    assert.equal("text/plain", body.extras["client::display"].contentType)
    assert.equal("https://ci.example/7", body.extras["client::notification"].click.url)
    c:close()
  end)

  it("maps message.type to a priority; a priority other than normal wins", function()
    local c = client()
    local want = { info = 5, success = 5, warning = 7, failure = 8 }
    for kind, p in pairs(want) do
      assert(c:send({ body = kind, type = kind }))
      assert.equal(p, select(2, last("/gotify/")).priority, kind)
    end
    local by_priority = { low = 2, high = 8, urgent = 10 }
    for prio, p in pairs(by_priority) do
      assert(c:send({ body = prio, type = "failure", priority = prio }))
      assert.equal(p, select(2, last("/gotify/")).priority, prio)
    end
    c:close()
  end)

  it("marks markdown as text/markdown and sends html as plain text", function()
    local c = client()
    assert(c:send({ body = "# Title\n\n**bold**", format = "markdown" }))
    local _, body = last("/gotify/")
    assert.equal("text/markdown", body.extras["client::display"].contentType)
    assert.equal("# Title\n\n**bold**", body.message)
    assert(c:send({ body = "<h1>T</h1><p>x &lt; y</p>", format = "html" }))
    _, body = last("/gotify/")
    assert.equal("text/plain", body.extras["client::display"].contentType)
    assert.equal("T\n\nx < y", body.message)
    c:close()
  end)

  it("sends a title alone as the message (Gotify requires one)", function()
    local c = client()
    assert(c:send({ title = "only a title" }))
    local _, body = last("/gotify/")
    assert.same({ "only a title" }, { body.message, body.title })
    c:close()
  end)

  it("refuses a bad token with Gotify's error, not retried, the token kept out", function()
    local c = client({ token = "CClientToken-8862" }, { retry = { max_attempts = 3, initial_delay = 0.01 } })
    local _, err, code, receipt = c:send({ body = "x" })
    assert.equal("HTTP_STATUS", code)
    assert.equal("gotify: HTTP 401: Unauthorized: you need to provide a valid access token"
      .. " or user credentials to access this api", err)
    assert.equal(401, receipt.results[1].platform_code)
    assert.equal(1, receipt.results[1].attempts)
    c:close()
  end)

  it("takes a 200 without the stored message as a failure", function()
    server.behave("/gotify/", { status = 200, body = "<html>proxy login</html>" })
    local c = client()
    local _, err, code = c:send({ body = "x" })
    assert.equal("PLATFORM_REJECTED", code)
    assert.matches("no message in the answer", err)
    c:close()
  end)

  it("retries a 5xx and a 429", function()
    server.behave("/gotify/", { status = 503, times = 1, body = "starting" })
    local c = client(nil, { retry = { max_attempts = 2, initial_delay = 0.01 } })
    local receipt = assert(c:send({ body = "x" }))
    assert.equal(2, receipt.results[1].attempts)
    server.behave("/gotify/", { status = 429, times = 1, body = "{}" })
    receipt = assert(c:send({ body = "y" }))
    assert.equal(2, receipt.results[1].attempts)
    c:close()
  end)

  it("keeps the token out of errors, receipts and logs when the server echoes it", function()
    server.behave("/gotify/", { status = 400,
      body = '{"error":"Bad Request","errorCode":400,"errorDescription":"{{echo}}"}' })
    local logs = {}
    local c = client(nil, { logger = { level = "debug", failures = true,
      handler = function(_, text, fields) logs[#logs + 1] = text .. cjson.encode(fields) end } })
    local _, err, _, receipt = c:send({ body = "x" })
    c:close()
    local all = err .. cjson.encode(receipt) .. table.concat(logs, "\n")
    assert.matches("x%-gotify%-key: %*%*%*", all)
    assert.is_nil(all:find(TOKEN, 1, true), all)
  end)

  it("has no default rate limit (a server of one's own)", function()
    assert.is_nil(notifyhub.config.rate_limits.gotify)
  end)
end)
