-- Matrix (client-server API) against its loopback stand-in (spec/support/stub/matrix.lua):
-- PUT .../rooms/<room>/send/m.room.message/<txnId> with a Bearer token, the HTML dialect
-- in formatted_body, the message id as the transaction id, errcode errors, and
-- M_LIMIT_EXCEEDED's retry_after_ms.

local notifyhub = require("notifyhub")
local server = require("spec.support.server")
local cjson = require("cjson")

local TOKEN = "syt_bm90aWZ5aHVi_SECRETmatrixTOKEN"
local ROOM = "!ops:example.org"

local function last()
  local reqs = server.requests("/_matrix/")
  local req = reqs[#reqs]
  return req, req and cjson.decode(req.body)
end

-- A client on the stand-in; logs collects every log line.
local function client(overrides, logs)
  local cfg = { homeserver = server.url(""), access_token = TOKEN, room_id = ROOM }
  for k, v in pairs(overrides or {}) do cfg[k] = v end
  return notifyhub.new({ matrix = cfg, retry = { max_attempts = 1 },
    logger = { level = "debug", handler = function(_, msg) if logs then logs[#logs + 1] = msg end end } })
end

describe("matrix", function()
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() server.clear() end)

  it("PUTs an m.text event to the room with the message id as transaction id", function()
    local c = client()
    local receipt = assert(c:send({ id = "deploy-42", title = "Deploy", body = "a <b> & c\nline 2" }))
    local req, body = last()
    assert.equal("PUT", req.method)
    assert.equal("/_matrix/client/v3/rooms/%21ops%3Aexample.org/send/m.room.message/deploy-42", req.path)
    assert.equal("Bearer " .. TOKEN, req.headers.authorization)
    assert.matches("application/json", req.headers["content-type"], 1, true)
    assert.same({ msgtype = "m.text", body = "Deploy\na <b> & c\nline 2", format = "org.matrix.custom.html",
      formatted_body = "<strong>Deploy</strong><br>a &lt;b&gt; &amp; c<br>line 2" }, body)
    assert.matches('"event_id":"%$', receipt.results[1].response)
    assert.is_nil(cjson.encode(receipt):find(TOKEN, 1, true))
    c:close()
  end)

  it("sends plain text alone without a title, and m.notice when asked", function()
    local c = client({ msgtype = "m.notice" })
    assert(c:send({ body = "just text" }))
    local _, body = last()
    assert.same({ msgtype = "m.notice", body = "just text" }, body)
    c:close()
  end)

  it("renders markdown as HTML in formatted_body, the source as body, unsafe links dropped", function()
    local c = client()
    local md = "**bold** and `x<y`\n\n- [docs](https://e.example/?a=1&b=2)\n- [bad](javascript:alert(1))"
    assert(c:send({ body = md, format = "markdown" }))
    local _, body = last()
    assert.equal(md, body.body)
    assert.equal("org.matrix.custom.html", body.format)
    assert.matches("<strong>bold</strong>", body.formatted_body, 1, true)
    assert.matches("<code>x&lt;y</code>", body.formatted_body, 1, true)
    assert.matches('<a href="https://e.example/?a=1&amp;b=2">docs</a>', body.formatted_body, 1, true)
    assert.matches("<li>", body.formatted_body, 1, true)
    assert.is_nil(body.formatted_body:find("javascript:", 1, true))
    c:close()
  end)

  it("sends an html body as formatted_body and its text as body", function()
    local c = client()
    assert(c:send({ title = "T", body = "<p>Hello <em>there</em></p>", format = "html" }))
    local _, body = last()
    assert.equal("<strong>T</strong><br><p>Hello <em>there</em></p>", body.formatted_body)
    assert.equal("T\nHello there", body.body)
    c:close()
  end)

  it("resends under the same transaction id: the homeserver answers the same event", function()
    local c = client()
    local r1 = assert(c:send({ id = "same-id", body = "once" }))
    local r2 = assert(c:send({ id = "same-id", body = "once" }))
    local reqs = server.requests("/_matrix/")
    assert.equal(2, #reqs)
    assert.equal(reqs[1].path, reqs[2].path)
    assert.equal(cjson.decode(r1.results[1].response).event_id, cjson.decode(r2.results[1].response).event_id)
    c:close()
  end)

  it("gives each part of a split message its own transaction id", function()
    local c = client({ overflow = "split" })
    local receipt = assert(c:send({ id = "big", body = string.rep("word ", 14000) }))
    local reqs = server.requests("/_matrix/")
    assert.is_true(#reqs >= 2)
    assert.equal(#reqs, receipt.results[1].parts_sent)
    for i, r in ipairs(reqs) do
      assert.equal("/_matrix/client/v3/rooms/%21ops%3Aexample.org/send/m.room.message/big-" .. i, r.path)
      assert.is_true(#r.body <= 65536)
    end
    c:close()
  end)

  it("sends to the room a target names, with the instance's token", function()
    local c = client()
    assert(c:send({ body = "x", targets = { { platform = "matrix", room_id = "!dev:example.org" } } }))
    local req = last()
    assert.matches("/rooms/%21dev%3Aexample.org/send/", req.path, 1, true)
    assert.equal("Bearer " .. TOKEN, req.headers.authorization)
    -- another homeserver does not get the instance's token
    local h, err, code = c:send_async({ body = "x", targets = { { platform = "matrix",
      value = "https://other.example" } } })
    assert.is_nil(h)
    assert.equal("INVALID_MESSAGE", code)
    assert.matches("give the target its own access_token", err, 1, true)
    c:close()
  end)

  it("fails at once on M_FORBIDDEN and M_UNKNOWN_TOKEN, showing errcode and error, never the token", function()
    local logs = {}
    local c = client({ room_id = "!forbidden:example.org" }, logs)
    local _, err, code, receipt = c:send({ body = "x" })
    assert.equal("HTTP_STATUS", code)
    assert.equal(403, receipt.results[1].http_status)
    assert.equal(1, receipt.results[1].attempts)
    assert.matches("M_FORBIDDEN: User @notifyhub:example.org not in room", err, 1, true)
    c:close()
    c = notifyhub.new({ matrix = { homeserver = server.url(""), access_token = "bad", room_id = ROOM },
      retry = { max_attempts = 3, initial_delay = 0.01 } })
    _, err, code, receipt = c:send({ body = "x" })
    assert.equal("HTTP_STATUS", code)
    assert.equal(1, receipt.results[1].attempts)
    assert.matches("M_UNKNOWN_TOKEN", err, 1, true)
    c:close()
    assert.is_true(#logs > 0)
    assert.is_nil(table.concat(logs, "\n"):find(TOKEN, 1, true))
  end)

  it("retries M_LIMIT_EXCEEDED, taking retry_after_ms as the delay", function()
    server.behave("/_matrix/", { status = 429, times = 1,
      body = '{"errcode":"M_LIMIT_EXCEEDED","error":"Too Many Requests","retry_after_ms":1500}' })
    local c = notifyhub.new({ matrix = { homeserver = server.url(""), access_token = TOKEN, room_id = ROOM },
      retry = { max_attempts = 2, max_delay = 0.05 } })
    local receipt = assert(c:send({ body = "x" }))
    assert.equal(2, receipt.results[1].attempts)
    server.behave("/_matrix/", { status = 429,
      body = '{"errcode":"M_LIMIT_EXCEEDED","error":"Too Many Requests","retry_after_ms":1500}' })
    local _, err, code, r2 = c:send({ body = "y" })
    assert.equal("RATE_LIMITED", code)
    assert.equal(1.5, r2.results[1].retry_after)
    assert.matches("M_LIMIT_EXCEEDED", err, 1, true)
    c:close()
  end)

  it("fails at once when room_id is an alias, which the send endpoint does not take", function()
    local c = client({ room_id = "#ops:example.org" })
    local _, err, code, receipt = c:send({ body = "x" })
    assert.equal("HTTP_STATUS", code)
    assert.equal(400, receipt.results[1].http_status)
    assert.matches("M_INVALID_PARAM", err, 1, true)
    assert.matches("/rooms/%23ops%3Aexample.org/send/", server.requests("/_matrix/")[1].path, 1, true)
    c:close()
  end)

  it("takes a 200 without an event_id as a failure", function()
    server.behave("/_matrix/", { status = 200, body = "{}" })
    local c = client()
    local _, _, code = c:send({ body = "x" })
    assert.equal("PLATFORM_REJECTED", code)
    c:close()
  end)
end)
