-- message.type (info | success | warning | failure) on the platforms that
-- show one: Feishu's card header colour, Slack's attachment colour,
-- Discord's embed colour, Teams' container style. Each stand-in checks the
-- payload as its platform does; a message without a type looks as before.

local notifyhub = require("notifyhub")
local server = require("spec.support.server")
local cjson = require("cjson")

local function only(prefix)
  local reqs = server.requests(prefix)
  assert.equal(1, #reqs)
  return cjson.decode(reqs[1].body)
end

local function send(cfg, msg)
  local c = notifyhub.new(cfg)
  local receipt = assert(c:send(msg))
  c:close()
  assert.equal("success", receipt.status, receipt.results[1] and receipt.results[1].error)
  return receipt
end

describe("message.type", function()
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() server.clear() end)

  describe("feishu", function()
    local function hook(t) return server.url("/open-apis/bot/v2/hook/" .. t) end
    local colours = { info = "blue", success = "green", warning = "orange", failure = "red" }
    for kind, colour in pairs(colours) do
      it(kind .. " becomes a card with a " .. colour .. " header", function()
        send(notifyhub.config.feishu(hook("t" .. kind)), { type = kind, title = "Deploy", body = "line 1\nline 2" })
        local body = only("/open-apis/bot/v2/hook/t" .. kind)
        assert.equal("interactive", body.msg_type)
        assert.equal(colour, body.card.header.template)
        assert.same({ tag = "plain_text", content = "Deploy" }, body.card.header.title)
        assert.same({ tag = "div", text = { tag = "plain_text", content = "line 1\nline 2" } },
          body.card.elements[1])
      end)
    end

    it("titles the card with the type's word when there is no title; markdown stays markdown", function()
      send(notifyhub.config.feishu(hook("notitle")), { type = "failure", format = "markdown", body = "**down**" })
      local body = only("/open-apis/bot/v2/hook/notitle")
      assert.equal("Failure", body.card.header.title.content)
      assert.same({ tag = "markdown", content = "**down**" }, body.card.elements[1])
    end)

    it("puts a missing keyword in the header and mentions under the body", function()
      server.bot("kw", { keywords = { "ALERT" } })
      send(notifyhub.config.feishu(hook("kw"), { keywords = { "ALERT" }, mentions = { "all" } }),
        { type = "warning", title = "disk", body = "90%" })
      local body = only("/open-apis/bot/v2/hook/kw")
      assert.equal("ALERT disk", body.card.header.title.content)
      assert.same({ tag = "markdown", content = "<at id=all></at>" }, body.card.elements[2])
    end)

    it("leaves a card of the message's own alone, and untyped messages as text", function()
      local card = { elements = { { tag = "div", text = { tag = "plain_text", content = "mine" } } } }
      send(notifyhub.config.feishu(hook("own")),
        { type = "failure", body = "x", platform_data = { feishu = { card = card } } })
      assert.same(card, only("/open-apis/bot/v2/hook/own").card)
      send(notifyhub.config.feishu(hook("plain")), { body = "x" })
      assert.equal("text", only("/open-apis/bot/v2/hook/plain").msg_type)
    end)
  end)

  describe("slack", function()
    local function hook(t) return server.url("/services/T000/B000/" .. t) end
    it("sends one attachment in Apprise's colour for the type", function()
      local colours = { info = "#3AA3E3", success = "#3AA337", warning = "#CACF29", failure = "#A32037" }
      for kind, colour in pairs(colours) do
        send({ slack = { webhook_url = hook("c" .. kind) } }, { type = kind, title = "T", body = "a < b" })
        local body = only("/services/T000/B000/c" .. kind)
        assert.is_nil(body.text)
        assert.equal(1, #body.attachments)
        assert.equal(colour, body.attachments[1].color)
        assert.equal("*T*\na &lt; b", body.attachments[1].text)
        assert.same({ "text" }, body.attachments[1].mrkdwn_in)
      end
    end)
    it("keeps text (and blocks) when there is no type or the message has blocks", function()
      send({ slack = { webhook_url = hook("plain") } }, { body = "x" })
      local body = only("/services/T000/B000/plain")
      assert.equal("x", body.text)
      assert.is_nil(body.attachments)
    end)
  end)

  describe("discord", function()
    local function hook(t) return server.url("/api/webhooks/123/" .. t) end
    it("sends one embed in the type's colour, title and description", function()
      send({ discord = { webhook_url = hook("typed") } }, { type = "failure", title = "DB", body = "down" })
      local body = only("/api/webhooks/123/typed")
      assert.is_nil(body.content)
      assert.same({ { title = "DB", description = "down", color = 0xA32037 } }, body.embeds)
    end)
    it("sends the message's own embeds as they are", function()
      local embeds = { { title = "mine" } }
      send({ discord = { webhook_url = hook("own") } },
        { type = "success", body = "x", platform_data = { discord = { embeds = embeds } } })
      local body = only("/api/webhooks/123/own")
      assert.same(embeds, body.embeds)
      assert.equal("x", body.content)
    end)
  end)

  describe("teams", function()
    it("wraps the card's blocks in a container of the type's style", function()
      local url = server.url("/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=SIGSECRET")
      send({ teams = { webhook_url = url } }, { type = "warning", title = "T", body = "B" })
      local card = only("/workflows/abc/").attachments[1].content
      assert.equal(1, #card.body)
      assert.equal("Container", card.body[1].type)
      assert.equal("warning", card.body[1].style)
      assert.equal("Warning", card.body[1].items[1].color)
      assert.equal("B", card.body[1].items[2].text)
    end)
  end)

  it("survives the spool: handed back and delivered by another client, still typed", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    local path = dir .. "/s.db"
    local prefix = "/open-apis/bot/v2/hook/spooled"
    server.behave(prefix, { delay = 30, times = 1 })
    local c = notifyhub.new({ spool = { path = path }, feishu = { webhook_url = server.url(prefix) } })
    local code
    assert(c:send_async({ type = "success", body = "x" })):on_error(function(_, _, r) code = r.code end)
    require("system").sleep(0.3)
    c:close(0.1)
    assert.equal("HANDED_OVER", code)
    server.behave(prefix, nil)
    local c2 = notifyhub.new({ spool = { path = path } })
    assert.is_true((require("spec.support.spool_watch").drained(path, 30)))
    c2:close()
    local reqs = server.requests(prefix)
    local last = cjson.decode(reqs[#reqs].body)
    assert.equal("green", last.card.header.template)
    os.execute("rm -rf " .. dir)
  end)
end)
