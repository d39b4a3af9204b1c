-- spec/review_gaps_spec.lua -- defects the last review left open, each
-- shown failing before its fix: the attachments_dir race, proxy user info,
-- control characters in header values, and errors that name the right call.

local notifyhub = require("notifyhub")
local smtp = require("spec.support.smtp")

local function write(path, data)
  local fh = assert(io.open(path, "wb"))
  fh:write(data)
  fh:close()
end

describe("attachments_dir while a directory inside it is swapped for a link", function()
  local s
  setup(function() s = smtp.start() end)
  teardown(function() smtp.stop() end)

  it("never mails a file from outside, whatever the timing", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p '" .. dir .. "/in/sub' '" .. dir .. "/out'"))
    write(dir .. "/in/sub/file.txt", "inside\n")
    write(dir .. "/out/file.txt", "OUTSIDE-SECRET\n")
    assert(os.execute("ln -s '" .. dir .. "/out' '" .. dir .. "/in/link'"))
    -- A background process exchanges in/sub and in/link (renameat2
    -- RENAME_EXCHANGE) as fast as it can, for at most 60 s.
    local swapper = dir .. "/swap.py"
    write(swapper, table.concat({
      "import ctypes, os, sys, time",
      "libc = ctypes.CDLL(None, use_errno=True)",
      "a, b = sys.argv[1].encode(), sys.argv[2].encode()",
      "end = time.time() + 60",
      "while time.time() < end and os.path.exists(sys.argv[3]):",
      "    libc.renameat2(-100, a, -100, b, 2)",
    }, "\n"))
    local flag = dir .. "/running"
    write(flag, "")
    assert(os.execute(("python3 '%s' '%s/in/sub' '%s/in/link' '%s' >/dev/null 2>&1 &")
      :format(swapper, dir, dir, flag)))
    local c = notifyhub.new({ email = { host = s.host, port = s.port, tls = "none",
      from = "a@example.com", to = "o@example.com", attachments_dir = dir .. "/in" },
      async = { workers = 2, concurrency = 16 }, retry = { max_attempts = 1 },
      logger = { level = "off", failures = false } })
    local handles = {}
    for i = 1, 4000 do
      handles[#handles + 1] = c:send_async({ title = "t" .. i, body = "b",
        platform_data = { email = { attachments = { { filename = "f.txt", path = "sub/file.txt" } } } } })
    end
    for _, h in ipairs(handles) do h:wait(30) end
    c:close()
    os.remove(flag)
    local leaked, delivered = 0, 0
    for _, m in ipairs(smtp.messages()) do
      delivered = delivered + 1
      -- base64 of "OUTSIDE-SECRET\n" starts with "T1VUU0lERS1TRUNSRVQK"
      if m.data:find("T1VUU0lERS1TRUNSRVQK", 1, true) or m.data:find("OUTSIDE-SECRET", 1, true) then
        leaked = leaked + 1
      end
    end
    os.execute("sleep 0.2; rm -rf '" .. dir .. "'")
    assert.is_true(delivered > 0, "nothing was delivered at all")
    assert.equal(0, leaked, ("%d of %d delivered messages carried the outside file"):format(leaked, delivered))
  end)
end)

describe("argument errors of client:send", function()
  local c
  setup(function() c = notifyhub.new({ webhook = { url = "http://127.0.0.1:9/hook" } }) end)
  teardown(function() c:close(0) end)

  -- Each call is on its own line of this file; the error must name 'send'
  -- (not 'send_async', which the user did not call) and point at that line.
  local function raised(fn)
    local ok, err = pcall(fn)
    assert.is_false(ok)
    return tostring(err)
  end

  it("names send and the caller's line, for each kind of bad argument", function()
    local here = debug.getinfo(1, "l").currentline
    local e1 = raised(function() c:send(5) end)
    local e2 = raised(function() c:send({ title = 5 }) end)
    local e3 = raised(function() c:send({ body = "b" }, 5) end)
    local e4 = raised(function() c:send({ body = "b", targets = { 5 } }) end)
    for i, e in ipairs({ e1, e2, e3, e4 }) do
      assert.matches("to 'send' ", e, 1, true)
      assert.matches("review_gaps_spec.lua:" .. (here + i) .. ":", e, 1, true)
    end
  end)

  it("send_async still names send_async, at the caller's line", function()
    local line = debug.getinfo(1, "l").currentline + 1
    local ok, err = pcall(function() c:send_async({ title = 5 }) end)
    assert.is_false(ok)
    assert.matches("to 'send_async' ", err, 1, true)
    assert.matches("review_gaps_spec.lua:" .. line .. ":", err, 1, true)
  end)
end)

describe("control characters in header values", function()
  local URL = "http://127.0.0.1:9/hook"
  local BAD = { "a\1b", "a\27[31mb", "a\8b", "a\127b", "a\31b", "a\11b", "a\12b" }

  local function refused(cfg, key)
    local ok, err = pcall(notifyhub.new, cfg)
    assert.is_false(ok, key)
    assert.matches(key, tostring(err), 1, true)
    assert.matches("control characters", tostring(err), 1, true)
  end

  it("are refused in user_agent, content_type and headers (config and per target)", function()
    for _, v in ipairs(BAD) do
      refused({ webhook = { url = URL }, http = { user_agent = v } }, "http.user_agent")
      refused({ webhook = { url = URL, content_type = "text/" .. v } }, "webhook.content_type")
      refused({ webhook = { url = URL, headers = { ["X-A"] = v } } }, "webhook.headers")
      local c = notifyhub.new({ webhook = { url = URL } })
      local h, err, code = c:send_async({ body = "x", targets = { { platform = "webhook",
        headers = { ["X-A"] = v } } } })
      c:close(0)
      assert.is_nil(h)
      assert.equal("INVALID_MESSAGE", code)
      assert.matches("headers", err)
    end
  end)

  it("leave a tab, spaces and UTF-8 alone", function()
    notifyhub.new({ webhook = { url = URL, headers = { ["X-A"] = "a\tb c \195\164" } },
      http = { user_agent = "app/1.0 (x\tz)" } }):close(0)
  end)
end)

describe("http.proxy with user info", function()
  local SECRET = "pwPROXYsecret"

  it("a malformed proxy is a config error that does not quote it", function()
    for _, proxy in ipairs({ "http://user:" .. SECRET .. "@[::1", "ftp://user:" .. SECRET .. "@h",
        "http://user:" .. SECRET .. "@h:99999", "http://user:" .. SECRET .. "@h x" }) do
      local ok, err = pcall(notifyhub.new, { webhook = { url = "http://127.0.0.1:9/x" },
        http = { proxy = proxy } })
      assert.is_false(ok, proxy)
      assert.matches("http.proxy", err, 1, true)
      assert.is_nil(err:find(SECRET, 1, true), err)
    end
  end)

  it("a well-formed one (or none) is taken, and its failures do not quote it", function()
    for _, proxy in ipairs({ "http://user:" .. SECRET .. "@127.0.0.1:9", "user:" .. SECRET .. "@127.0.0.1:9",
        "socks5h://user:" .. SECRET .. "@127.0.0.1:9", "" }) do
      local c = notifyhub.new({ webhook = { url = "http://127.0.0.1:9/x" },
        http = { proxy = proxy, timeout = 2 }, retry = { max_attempts = 1 },
        logger = { level = "off", failures = false } })
      local r, err, code, failed = c:send({ body = "x" })
      c:close(0)
      assert.is_nil(r)
      assert.equal("NETWORK", code)
      assert.is_nil(err:find(SECRET, 1, true), err)
      assert.equal("failed", failed.status)
    end
  end)
end)

describe("http.proxy's user info in what a proxy answers", function()
  local server = require("spec.support.server")
  local SECRET = "pwPROXYsecret42"
  setup(function() server.start() end)
  teardown(function() server.stop() end)

  it("is cut out of the receipt and the logs (plain, and as the Basic credentials)", function()
    -- The nginx stand-in plays the proxy: an http:// target through an
    -- HTTP proxy is one request to the proxy, which answers by echoing
    -- every header it got, Proxy-Authorization included.
    server.behave("/webhook/", { status = 400, body = "{{echo}}" })
    local port = server.url("/"):match(":(%d+)/")
    local logs = {}
    local c = notifyhub.new({ webhook = { url = "http://notifyhub.invalid/webhook/x" },
      http = { proxy = "http://proxyuser:" .. SECRET .. "@127.0.0.1:" .. port, timeout = 5 },
      retry = { max_attempts = 1 },
      logger = { level = "debug", failures = true, handler = function(_, text) logs[#logs + 1] = text end } })
    local r, err, code, failed = c:send({ body = "x" })
    c:close()
    assert.is_nil(r)
    assert.equal("HTTP_STATUS", code, err)
    local text = err .. "\n" .. require("cjson").encode(failed) .. "\n" .. table.concat(logs, "\n")
    assert.matches("proxy-authorization", text:lower(), 1, true)  -- the echo did arrive
    local basic = require("notifyhub.util").base64("proxyuser:" .. SECRET)
    assert.is_nil(text:find(SECRET, 1, true), text)
    assert.is_nil(text:find(basic, 1, true), text)
  end)
end)
