-- Tags (issue 14, item 4): instances and URLs carry tags; a message's tags
-- choose the destinations by Apprise's rules ("a,b" and { "a", "b" } mean
-- a AND b, several entries OR, "all" everything, "always" always, no tags:
-- the untagged ones), against the loopback webhook receiver.

local notifyhub = require("notifyhub")
local server = require("spec.support.server")

describe("tags", function()
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() server.clear() end)

  local function hook(name) return server.url("/webhook/" .. name) end

  -- A client with webhook instances: plain (untagged), ops, db (ops and db),
  -- dev (dev), and a json:// URL tagged ops.
  local function client(extra)
    local cfg = {
      webhook = {
        plain = { url = hook("plain") },
        ops = { url = hook("ops"), tags = { "ops" } },
        db = { url = hook("db"), tags = "ops, db" },
        dev = { url = hook("dev"), tags = { "dev" } },
      },
      urls = { { url = ("json://127.0.0.1:%d/webhook/j"):format(server.port()), tags = { "ops" } } },
      logger = { failures = false },
    }
    for k, v in pairs(extra or {}) do cfg[k] = v end
    return notifyhub.new(cfg)
  end

  -- The names of the receivers that got a request, sorted.
  local function reached()
    local names = {}
    for _, r in ipairs(server.requests("/webhook/")) do names[#names + 1] = r.path:match("^/webhook/(.*)$") end
    table.sort(names)
    return names
  end

  it("sends a message without tags to the untagged destinations only", function()
    local c = client()
    local receipt = assert(c:send({ body = "x" }))
    assert.equal(1, receipt.total)
    assert.same({ "plain" }, reached())
    c:close()
  end)

  it("reads one tag as every destination that has it, URLs included", function()
    local c = client()
    assert(c:send({ body = "x", tags = { "ops" } }))
    assert.same({ "db", "j", "ops" }, reached())
    c:close()
  end)

  it("reads \"a,b\" and { a, b } as AND, several entries as OR", function()
    local c = client()
    assert(c:send({ body = "x", tags = { "ops,db" } }))
    assert.same({ "db" }, reached())
    server.clear()
    assert(c:send({ body = "x", tags = { { "ops", "db" } } }))
    assert.same({ "db" }, reached())
    server.clear()
    assert(c:send({ body = "x", tags = { "db", "dev" } }))
    assert.same({ "db", "dev" }, reached())
    server.clear()
    assert(c:send({ body = "x", tags = "dev" }))        -- a string is one entry
    assert.same({ "dev" }, reached())
    c:close()
  end)

  it("reaches everything with \"all\", and the \"always\" ones with any message", function()
    local c = client({ urls = { { url = ("json://127.0.0.1:%d/webhook/always"):format(server.port()),
      tags = "always" } } })
    assert(c:send({ body = "x", tags = { "all" } }))
    assert.same({ "always", "db", "dev", "ops", "plain" }, reached())
    server.clear()
    assert(c:send({ body = "x", tags = { "dev" } }))
    assert.same({ "always", "dev" }, reached())
    server.clear()
    assert(c:send({ body = "x" }))
    assert.same({ "always", "plain" }, reached())
    c:close()
  end)

  it("routes send_async and send_async_batch the same way", function()
    local c = client()
    local h = assert(c:send_async({ body = "x", tags = { "dev" } }))
    assert(h:wait())
    local b = assert(c:send_async_batch({ { body = "1", tags = { "ops,db" } }, { body = "2" } }))
    assert(b:wait())
    assert.same({ "db", "dev", "plain" }, reached())
    c:close()
  end)

  it("refuses tags that match nothing, targets with tags, and tags on a target", function()
    local c = client()
    local h, err, code = c:send_async({ body = "x", tags = { "nope", "ops,dev" } })
    local _
    assert.is_nil(h)
    assert.equal("INVALID_MESSAGE", code)
    assert.equal("no destination has the tags nope or (dev and ops)", err)
    _, err, code = c:send_async({ body = "x", tags = { "ops" }, targets = { hook("x") } })
    assert.equal("INVALID_MESSAGE", code)
    assert.equal("a message gives targets or tags, not both", err)
    _, err, code = c:send_async({ body = "x", targets = { { platform = "webhook", instance = "ops",
      tags = { "a" } } } })
    assert.equal("INVALID_MESSAGE", code)
    assert.matches("tags belong to instances", err)
    for _, bad in ipairs({ {}, { "" }, { "a;b" }, { { 1 } } }) do
      _, err, code = c:send_async({ body = "x", tags = bad })
      assert.equal("INVALID_MESSAGE", code)
      assert.matches("^tags", err)
    end
    assert.has_error(function() c:send_async({ body = "x", tags = 5 }) end,
      "bad argument #1 to 'send_async' (message.tags: table or string expected, got number)")
    c:close()
  end)

  it("says so when every destination is tagged and the message has none", function()
    local c = notifyhub.new({ webhook = { ops = { url = hook("ops"), tags = { "ops" } } } })
    local _, err, code = c:send_async({ body = "x" })
    assert.equal("INVALID_MESSAGE", code)
    assert.matches("every destination has tags", err)
    c:close()
  end)

  it("says so when the client has no destination at all", function()
    local c = notifyhub.new({ urls = {} })
    local _, err, code = c:send_async({ body = "x", tags = "ops" })
    assert.equal("INVALID_MESSAGE", code)
    assert.equal("the client has no destinations configured (urls or platform sections)", err)
    c:close()
  end)

  it("checks an instance's tags in the config", function()
    assert.has_error(function() notifyhub.new({ webhook = { url = hook("x"), tags = 5 } }) end)
    assert.has_error(function() notifyhub.new({ webhook = { url = hook("x"), tags = { "a;b" } } }) end,
      "notifyhub config: webhook.tags: tag name or array of tag names (letters, digits, _ - . : @ /) expected,"
        .. " got a tag with other characters")
  end)

  it("keeps the old rule without urls or tags: the one platform's default instance", function()
    local c = notifyhub.new({ webhook = { url = hook("only") } })
    assert(c:send({ body = "x" }))
    assert.same({ "only" }, reached())
    c:close()
  end)
end)
