-- Review of issue 14 ("Reach") from outside: what an Apprise user's URLs
-- and command lines do, checked against Apprise's own semantics and the
-- loopback stand-ins. One block per defect found.

local notifyhub = require("notifyhub")
local url = require("notifyhub.url")
local server = require("spec.support.server")
local cjson = require("cjson")

local parse = notifyhub.target.parse

local function b64(s)
  return (require("notifyhub.util").base64(s))
end

describe("review of issue 14", function()
  describe("slack:// channels as Apprise reads them", function()
    -- Apprise (NotifySlack.send): "+ID" is an encoded channel id sent
    -- without the "+", "@user" as is, anything else is a channel name
    -- that gets its "#".
    it("sends +ID as the bare id, a bare name with its #", function()
      local all = assert(notifyhub.target.parse_all("slack://T1/B2/c3d4/+C0123ABC/general/@jane/%23ops"))
      local got = {}
      for i, t in ipairs(all) do got[i] = t.channel end
      assert.same({ "C0123ABC", "#general", "@jane", "#ops" }, got)
      assert.equal("#dev", parse("slack://T1/B2/c3d4?to=dev").channel)
    end)
  end)

  describe("json:// user info holding @ and :", function()
    setup(function() server.start() end)
    teardown(function() server.stop() end)
    before_each(function() server.clear() end)

    -- Apprise splits the user info at the last "@" and the password at
    -- the first ":"; the host is what follows the last "@".
    it("sends Basic auth of the user and password as Apprise splits them", function()
      local c = notifyhub.new({ retry = { max_attempts = 1 }, logger = { failures = false } })
      local target = ("json://ops@corp:pa:ss@w0rd@127.0.0.1:%d/webhook/ui"):format(server.port())
      local receipt, err = c:send({ body = "b", targets = { target } })
      c:close()
      assert.is_truthy(receipt, err)
      assert.equal("success", receipt.status)
      local reqs = server.requests("/webhook/ui")
      assert.equal(1, #reqs)
      assert.equal("Basic " .. b64("ops@corp:pa:ss@w0rd"), reqs[1].headers.authorization)
      assert.is_nil(cjson.encode(receipt):find("pa:ss", 1, true))
    end)
  end)
  describe("opsgenie: a 2xx that is not Opsgenie's answer", function()
    setup(function() server.start() end)
    teardown(function() server.stop() end)
    before_each(function() server.clear() end)

    -- Opsgenie answers 202 {"result","took","requestId"}; a 200 or 202 page
    -- without a requestId (a login page, a proxy) created no alert.
    it("is PLATFORM_REJECTED, not delivered, and not retried", function()
      local c = notifyhub.new({ opsgenie = { url = server.url("/v2/alerts"), api_key = "k-1234" },
        retry = { max_attempts = 3, initial_delay = 0.01 }, logger = { failures = false } })
      for _, status in ipairs({ 200, 202 }) do
        server.clear()
        server.behave("/v2/alerts", { status = status, body = "<html>sign in</html>" })
        local receipt, _, code, failed = c:send({ title = "T", body = "b" })
        assert.is_nil(receipt)
        assert.equal("PLATFORM_REJECTED", code)
        assert.is_false(failed.results[1].success)
        assert.equal(1, failed.results[1].attempts)
        assert.equal(1, server.count("/v2/alerts"))
      end
      server.behave("/v2/alerts", nil)
      assert(c:send({ title = "T", body = "b" }))
      c:close()
    end)
  end)
  describe("feishu: the card of a typed message", function()
    setup(function() server.start() end)
    teardown(function() server.stop() end)
    before_each(function() server.clear() end)

    -- Without mentions the card held a second, empty markdown element
    -- ({"tag":"markdown","content":""}): nothing for the chat to show.
    it("has no empty element when there is nobody to mention", function()
      local c = notifyhub.new({ feishu = { webhook_url = server.bot("rv14") }, retry = { max_attempts = 1 },
        logger = { failures = false } })
      assert(c:send({ title = "T", body = "b", type = "warning" }))
      c:close()
      local reqs = server.requests("/open-apis/bot/v2/hook/rv14")
      local body = cjson.decode(reqs[#reqs].body)
      assert.equal(1, #body.card.elements)
      for _, el in ipairs(body.card.elements) do
        assert.is_not.equal("", el.content or (el.text and el.text.content))
      end
    end)
  end)
  describe("a Lua config file's memory", function()
    local shell = require("spec.support.shell")
    local LUA = rawget(_G, "jit") and "luajit" or "lua5.4"
    -- The chunk's instructions were bounded, its memory not: one `s = s .. s`
    -- per turn of a 40-turn loop (a few hundred instructions) asked for a
    -- terabyte. The command runs under `ulimit -v` here so that a failure
    -- of this spec cannot take the machine's memory.
    local bombs = {
      'local s = "x" for i = 1, 40 do s = s .. s end return { urls = { s } }',
      'local s, t = ("x"):rep(2^20), {} for i = 1, 2^16 do t[i] = s end return { urls = { table.concat(t) } }',
    }
    for i, chunk in ipairs(bombs) do
      it("is bounded: a chunk that grows past 128 MB is an error (" .. i .. ")", function()
        local dir = shell.trim(shell.capture("mktemp -d"))
        shell.write_file(dir .. "/bomb.lua", chunk)
        local cmd = ("ulimit -v 4000000; timeout 120 %s bin/notifyhub check --config %s/bomb.lua"
          .. " >%s/out 2>%s/err </dev/null; echo $?"):format(LUA, dir, dir, dir)
        local status = tonumber(shell.trim(shell.capture("sh -c " .. shell.q(cmd))))
        local err = shell.read_file(dir .. "/err")
        os.execute("rm -rf " .. shell.q(dir))
        assert.equal(2, status, err)
        assert.matches("bomb.lua: uses more than 128 MB of memory", err, 1, true)
      end)
    end
  end)
  describe("discord:// ?thread=", function()
    -- Apprise posts into the thread (Discord's thread_id query argument);
    -- the argument was ignored and the message went to the channel.
    it("posts into the thread, and refuses an id that is not a number", function()
      assert.equal("https://discord.com/api/webhooks/123/tok-EN?thread_id=456",
        parse("discord://123/tok-EN?thread=456").value)
      assert.equal("https://discord.com/api/webhooks/123/tok-EN", parse("discord://123/tok-EN").value)
      local t, err = parse("discord://123/tok-EN?thread=4%265")
      assert.is_nil(t)
      assert.matches("thread", err)
    end)

    it("reaches the stand-in with thread_id in the query", function()
      server.start()
      local saved = url.bases.discord
      url.bases.discord = server.url("")
      local ok, err = pcall(function()
        local c = notifyhub.new({ retry = { max_attempts = 1 }, logger = { failures = false } })
        local receipt, e = c:send({ body = "in the thread", targets = { "discord://123/tok-EN?thread=456" } })
        c:close()
        assert.is_truthy(receipt, e)
        local reqs = server.requests("/api/webhooks/123/")
        assert.equal(1, #reqs)
        assert.equal("thread_id=456", reqs[1].args)
      end)
      url.bases.discord = saved
      server.stop()
      assert(ok, err)
    end)
  end)
  describe("YAML config mistakes named where they are", function()
    local shell = require("spec.support.shell")
    local function load(text)
      local path = os.tmpname() .. ".yml"
      shell.write_file(path, text)
      local cfg, err, code = notifyhub.config.load(path)
      os.remove(path)
      return cfg, err and err:gsub("^.-%.yml:", "f.yml:"), code
    end

    -- `urls:` written as a mapping loaded as no destination at all.
    it("refuses urls: that is a mapping", function()
      local cfg, err, code = load("urls:\n  slack: slack://T1/B2/c3d4\n")
      assert.is_nil(cfg)
      assert.equal("INVALID_CONFIG", code)
      assert.equal("f.yml:1: urls: a list of URLs expected", err)
    end)

    -- `- json://host:` with nothing under it (its tag line commented out)
    -- is the URL without options in Apprise; it was refused.
    it("takes a URL entry whose options are empty", function()
      local cfg, err = load("urls:\n  - json://localhost:\n  - json://h2.example:\n      # tag: ops\n")
      assert.is_truthy(cfg, err)
      assert.equal(2, #cfg.urls)
      assert.equal("json://localhost", cfg.urls[1].url or cfg.urls[1])
    end)

    -- A bad global tag was reported as the first URL's tags.
    it("names the global tag: when it is wrong", function()
      local cfg, err = load("tag: [ops, {db: 1}]\nurls:\n  - json://localhost\n")
      assert.is_nil(cfg)
      assert.matches("^f%.yml:1: tag: ", err)
    end)
  end)
  describe("Apprise's short options with the value attached", function()
    -- Apprise's command line (click) reads -tTitle as -t Title; they were
    -- unknown options (status 2).
    it("reads -tTITLE, -bBODY, -gTAG, -cFILE, -nTYPE, -iFORMAT", function()
      local cli = require("notifyhub.cli")
      local opts, urls = cli.parse("send", { "-tDeploy", "-bapi is live", "-gops", "-g", "db", "-cconf.yml",
        "-nwarning", "-imarkdown", "-vv", "slack://T1/B2/c3d4" })
      assert.equal("Deploy", opts.title)
      assert.equal("api is live", opts.body)
      assert.same({ "ops", "db" }, opts.tag)
      assert.equal("conf.yml", opts.config)
      assert.equal("warning", opts.type)
      assert.equal("markdown", opts.format)
      assert.is_true(opts.verbose)
      assert.same({ "slack://T1/B2/c3d4" }, urls)
      -- a flag takes no value, and an unknown letter stays unknown
      assert.has_error(function() cli.parse("send", { "-dx" }) end)
      assert.has_error(function() cli.parse("send", { "-Tx" }) end)
    end)
  end)
  describe("tgram:// chat names without @", function()
    -- Apprise reads a chat that is not a number as a name, with or
    -- without its @ (IS_CHAT_ID_RE); a bare name was refused.
    it("takes a bare channel name as @name", function()
      local all = assert(notifyhub.target.parse_all("tgram://123456:ABC-def/news_room/@ops/-1001"))
      assert.same({ "@news_room", "@ops", "-1001" }, { all[1].value, all[2].value, all[3].value })
      assert.is_nil((parse("tgram://123456:ABC-def/-100abc")))
    end)
  end)
  describe("tgram:// ChatID:Topic", function()
    -- Apprise posts into a forum topic (message_thread_id) for
    -- tgram://token/ChatID:Topic; notifyhub refused the form.
    it("sends message_thread_id for a chat's topic, and ?topic= for the others", function()
      local all = assert(notifyhub.target.parse_all("tgram://123456:ABC-def/-1001:45/-1002?topic=7"))
      assert.same({ "-1001", "-1002" }, { all[1].value, all[2].value })
      assert.same({ "45", "7" }, { all[1].topic, all[2].topic })
      assert.is_nil((parse("tgram://123456:ABC-def/-1001:4x5")))
      server.start()
      local saved = url.bases.tgram
      url.bases.tgram = server.url("")
      local ok, err = pcall(function()
        local c = notifyhub.new({ retry = { max_attempts = 1 }, logger = { failures = false } })
        local receipt, e = c:send({ body = "in the topic", targets = { "tgram://123456:ABC-def/-1001:45" } })
        local receipt2, e2 = c:send({ body = "no topic", targets = { "tgram://123456:ABC-def/-1001" } })
        c:close()
        assert.is_truthy(receipt, e)
        assert.is_truthy(receipt2, e2)
        local reqs = server.requests("/bot")
        assert.equal(2, #reqs)
        assert.equal(45, cjson.decode(reqs[1].body).message_thread_id)
        assert.is_nil(cjson.decode(reqs[2].body).message_thread_id)
      end)
      url.bases.tgram = saved
      server.stop()
      assert(ok, err)
    end)
  end)
end)
