-- A second look at the hardening items, from outside: variants of the
-- attacks the hardening_*_spec.lua files cover (other keys, other
-- encodings, other platforms). Against the loopback servers: the nginx
-- stand-ins (spec/support/server.lua), the misbehaving HTTP server and its
-- recording SMTP responder (spec/support/faults.lua) and the aiosmtpd
-- server (spec/support/smtp.lua).

local notifyhub = require("notifyhub")
local server = require("spec.support.server")
local faults = require("spec.support.faults")
local smtp = require("spec.support.smtp")
local util = require("notifyhub.util")
local cjson = require("cjson")

local f, s

setup(function()
  server.start()
  f = faults.start()
  s = smtp.start({ user = "mailer", password = "pw-Review-4411" })
end)
teardown(function()
  server.stop()
  faults.stop()
  smtp.stop()
end)
before_each(function()
  server.clear()
  faults.captured(true)
  smtp.clear()
end)

local function assert_absent(text, secrets)
  for name, secret in pairs(secrets) do
    assert.is_nil(text:find(secret, 1, true), name .. " reached: " .. text)
  end
end

-- Everything a failed send hands back: the error, the receipt, the logs.
local function outcome(cfg, msg)
  local logs = {}
  cfg.logger = { level = "debug", failures = true, handler = function(level, text, fields)
    logs[#logs + 1] = level .. " " .. text .. " " .. cjson.encode(fields)
  end }
  cfg.retry = cfg.retry or { max_attempts = 1 }
  cfg.http = cfg.http or { timeout = 5 }
  local c = notifyhub.new(cfg)
  local h = assert(c:send_async(msg or { title = "t", body = "b" }))
  local receipt, err, code, failed = h:wait(20)
  local text = table.concat({ tostring(err), tostring(code), cjson.encode(receipt or failed or {}),
    tostring(c), tostring(h) }, "\n")
  c:close()
  return text .. "\n" .. table.concat(logs, "\n"), receipt or failed
end

describe("secrets the services echo (item 10)", function()
  it("a lowercase token as the last path segment or a query value", function()
    server.behave("/webhook/", { status = 400, body = "{{echo}}" })
    for _, url in ipairs({ server.url("/webhook/x?token=supersecretvalue"),
      server.url("/webhook/hooksecretword") }) do
      local text, receipt = outcome({ webhook = { url = url } })
      assert.equal("HTTP_STATUS", receipt.results[1].code, text)
      assert.matches("webhook", text)     -- the echo arrived, redacted
      assert_absent(text, { query = "supersecretvalue", last = "hooksecretword" })
    end
  end)

  it("the credentials of an Authorization header, alone or decoded from Basic", function()
    local cases = {
      { { Authorization = "Bearer tok-ABCD-9911" }, "tok-ABCD-9911" },
      { { Authorization = "Basic " .. util.base64("bobuser:pass-7788") }, "pass-7788" },
      { { Authorization = "Basic " .. util.base64("bobuser:pass-7788") }, "bobuser:pass-7788" },
      { { ["X-Api-Key"] = "Token key-5566-abcd" }, "key-5566-abcd" },
    }
    for _, case in ipairs(cases) do
      server.behave("/webhook/", { status = 401,
        body = '{"error":"credentials rejected: ' .. case[2] .. '"}' })
      local text, receipt = outcome({ webhook = { url = server.url("/webhook/x"), headers = case[1] } })
      assert.equal("HTTP_STATUS", receipt.results[1].code, text)
      assert.matches("credentials rejected", text)
      assert_absent(text, { secret = case[2] })
    end
  end)

  it("an SMTP server that echoes the login in its refusal", function()
    local user, password = "echo-user-7711", "PW-echo-7712"
    local text, receipt = outcome({ email = { host = "127.0.0.1", port = f.smtp_port, tls = "none",
      username = user, password = password, from = "a@example.com", to = "b@example.com" } })
    assert.equal("PLATFORM_REJECTED", receipt.results[1].code, text)
    assert.matches("535", text)
    assert_absent(text, { user = user, password = password,
      plain = util.base64("\0" .. user .. "\0" .. password),
      login_user = util.base64(user), login_password = util.base64(password) })
  end)
end)

describe("e-mail attachments (items 7, 13)", function()
  local function client()
    return notifyhub.new({ email = { host = s.host, port = s.port, tls = "starttls", username = "mailer",
      password = "pw-Review-4411", from = "a@example.com", to = { "o@example.com" } },
      http = { ca_file = s.ca_file, timeout = 5 }, retry = { max_attempts = 1 } })
  end
  local function with(a, extra)
    local msg = { title = "t", body = "b", platform_data = { email = { attachments = { a } } } }
    for k, v in pairs(extra or {}) do msg[k] = v end
    return msg
  end

  it("refuses a filename that is not UTF-8, naming it and the byte offset", function()
    local c = client()
    local r, err, code = c:send(with({ filename = "a\255b.txt", content = "x" }))
    assert.is_nil(r)
    assert.equal("INVALID_MESSAGE", code)
    assert.matches("attachments%[1%]%.filename: invalid UTF%-8 at byte 2", err)
    c:close()
    assert.equal(0, #smtp.messages())
  end)

  it("with utf8 = replace sends the filename with U+FFFD, as UTF-8", function()
    local c = client()
    local att = { filename = "r\255sum\233.txt", content = "x" }
    local list = { att }
    local r = assert(c:send({ title = "t", body = "b", utf8 = "replace",
      platform_data = { email = { attachments = list } } }))
    assert.equal("success", r.status)
    assert.equal("r\255sum\233.txt", att.filename)     -- the caller's table is left alone
    assert.equal(att, list[1])
    c:close()
    local got = smtp.messages()
    assert.equal(1, #got)
    -- the bytes on the wire (a reader would show U+FFFD for bad bytes too)
    local word = got[1].data:match('filename="=%?UTF%-8%?B%?([^?]+)%?="')
    assert.equal("r\239\191\189sum\239\191\189.txt", word and util.unbase64(word), got[1].data)
  end)

  it("refuses control characters in a filename and 8-bit or blanks in a content type", function()
    local c = client()
    for _, a in ipairs({
      { filename = "a\1b.txt", content = "x" }, { filename = "a\tb.txt", content = "x" },
      { filename = "a\127b.txt", content = "x" },
      { filename = "a.txt", content = "x", content_type = "text/pl\195\169in" },
      { filename = "a.txt", content = "x", content_type = "text/plain x" },
    }) do
      local r, err, code = c:send(with(a))
      assert.is_nil(r, err)
      assert.equal("INVALID_MESSAGE", code)
      assert.matches("attachments%[1%]%.", err)
    end
    c:close()
    assert.equal(0, #smtp.messages())
  end)
end)

describe("errors that say what was wrong (item 17)", function()
  local U = "http://127.0.0.1:9/x"
  local function refused(cfg, msg)
    local c = notifyhub.new(cfg)
    local h, err, code = c:send_async(msg)
    if h then h:cancel() end
    c:close()
    assert.is_nil(h)
    assert.equal("INVALID_MESSAGE", code)
    return err
  end

  it("one platform, one instance that cannot be sent to alone: says why, not 'several'", function()
    local err = refused({ email = { host = "127.0.0.1", from = "a@example.com" } }, { body = "x" })
    assert.is_nil(err:find("several", 1, true), err)
    assert.matches("no recipient", err)
    err = refused({ telegram = { token = "1:x" } }, { body = "x" })
    assert.is_nil(err:find("several", 1, true), err)
    assert.matches("no chat_id", err)
  end)

  it("a target URL or address of the wrong form says which form and what is wrong", function()
    local cfg = { feishu = { webhook_url = U } }
    local err = refused(cfg, { body = "x", targets = { notifyhub.target.feishu("https:/x") } })
    assert.matches("not an http%(s%) URL: a URL without // after 'https:'", err)
    err = refused(cfg, { body = "x", targets = { "a@b" } })
    assert.matches("name@example%.com", err)
    assert.matches("domain has no dot", err)
    err = refused(cfg, { body = "x", targets = { "example.com/hook" } })
    assert.matches("https://host/", err, 1, true)
  end)
end)

describe("valid JSON on the wire (item 13)", function()
  it("a webhook template is JSON-escaped whatever the JSON content type's case", function()
    for _, ctype in ipairs({ "application/json", "Application/JSON", "application/vnd.api+JSON" }) do
      server.clear()
      local c = notifyhub.new({ webhook = { url = server.url("/webhook/tpl"), content_type = ctype,
        template = '{"title":"{{title}}","body":"{{body}}"}' } })
      local title, body = 'say "hi"\\', "line1\nline2\t\1"
      assert(c:send({ title = title, body = body }))
      c:close()
      local got = server.requests("/webhook/tpl")
      assert.equal(1, #got)
      local ok, decoded = pcall(cjson.decode, got[1].body)
      assert.is_true(ok, ctype .. ": " .. got[1].body)
      assert.equal(title, decoded.title)
      assert.equal(body, decoded.body)
    end
  end)
end)

describe("redirects in disguise (item 9)", function()
  local KEY = "REVIEW-KEY-5521"
  local function send(to, code)
    local c = notifyhub.new({ http = { follow_redirects = 3, timeout = 5 }, retry = { max_attempts = 1 },
      webhook = { url = f.base .. "/redirect/" .. code .. "/" .. to, headers = { ["X-Api-Key"] = KEY } } })
    local receipt, err, ecode = c:send({ body = "hello-" .. to })
    c:close()
    return receipt, err, ecode
  end

  it("follows the same origin written otherwise, as the same POST", function()
    for _, to in ipairs({ "absolute", "upper", "userinfo" }) do
      for _, code in ipairs({ 302, 303 }) do
        faults.captured(true)
        local receipt, err = send(to, code)
        assert.equal("success", receipt and receipt.status, to .. " " .. tostring(err))
        local got = faults.captured()
        assert.equal(1, #got)
        assert.equal("POST", got[1].method)
        assert.equal(f.port, got[1].port)
        assert.equal(KEY, got[1].headers["x-api-key"])
        assert.matches("hello%-" .. to, got[1].body)
      end
    end
  end)

  it("refuses another origin behind //, user info or another name for the host", function()
    for _, to in ipairs({ "protorel", "userhost", "hostname" }) do
      for _, code in ipairs({ 301, 302, 303, 307, 308 }) do
        faults.captured(true)
        local receipt, err, ecode = send(to, code)
        assert.is_nil(receipt, to)
        assert.equal("HTTP_STATUS", ecode)
        assert.matches("to another origin", err)
        assert.equal(0, #faults.captured(), to)
      end
    end
  end)
end)

describe("secrets a service echoes encoded otherwise (item 10)", function()
  it("a percent-encoded token echoed with other hex digits' case", function()
    -- the URL carries "tok/en-..." as tok%2fen-...; the service echoes it decoded and re-encoded
    local raw = "Tok/En-8123:Q"
    local given = "Tok%2fEn-8123%3aQ"
    server.behave("/webhook/", { status = 400,
      body = "bad token " .. raw .. " | Tok%2FEn-8123%3AQ | tok" })
    local text, receipt = outcome({ webhook = { url = server.url("/webhook/" .. given) } })
    assert.equal("HTTP_STATUS", receipt.results[1].code, text)
    assert.matches("bad token", text)
    assert_absent(text, { raw = raw, upper = "Tok%2FEn-8123%3AQ", json = "Tok\\/En-8123:Q" })
  end)
end)

describe("labels (item 10)", function()
  it("hide a long lowercase token in the middle of a path", function()
    server.behave("/webhook/", { status = 400, body = "{{echo}}" })
    local text, receipt = outcome({ webhook = { url = server.url("/webhook/supersecrettoken/send") } })
    assert.equal("HTTP_STATUS", receipt.results[1].code, text)
    assert.matches("/webhook/%*%*%*/%*%*%*", receipt.results[1].target)
    assert_absent(text, { middle = "supersecrettoken" })
  end)
end)

describe("invalid UTF-8 in the keyword fields (item 13)", function()
  it("names the field and the byte offset, never echoing the bytes", function()
    local c = notifyhub.new({ webhook = { url = server.url("/webhook/kw") } })
    for _, field in ipairs({ "format", "priority", "utf8", "id" }) do
      local msg = { body = "x", [field] = "ab\255cd" }
      local h, err, code = c:send_async(msg)
      assert.is_nil(h, field)
      assert.equal("INVALID_MESSAGE", code)
      assert.equal(field .. ": invalid UTF-8 at byte 3", err)
    end
    local h, err, code = c:send_async({ body = "x", ["tit\255le"] = "y" })
    assert.is_nil(h)
    assert.equal("INVALID_MESSAGE", code)
    assert.is_nil(err:find("\255", 1, true), err)
    c:close()
  end)
end)

describe("e-mail errors that say which tls setting to use (item 17)", function()
  local function fails(cfg)
    cfg.from, cfg.to = "a@example.com", "b@example.com"
    local c = notifyhub.new({ email = cfg, http = { timeout = 5, ca_file = s.ca_file },
      retry = { max_attempts = 1 }, logger = { level = "off" } })
    local receipt, err, code = c:send({ title = "t", body = "b" })
    c:close()
    assert.is_nil(receipt)
    return err, code
  end

  it("starttls against a server without STARTTLS", function()
    local err, code = fails({ host = "127.0.0.1", port = f.smtp_port, tls = "starttls" })
    assert.equal("TLS", code)
    assert.matches("does not offer STARTTLS: set tls = 'implicit'", err, 1, true)
  end)

  it("implicit against a server that starts in plain text", function()
    local err, code = fails({ host = s.host, port = s.port, tls = "implicit", username = "mailer",
      password = "pw-Review-4411" })
    assert.equal("TLS", code)
    assert.matches("set tls = 'starttls'", err, 1, true)
  end)

  it("no login where the server requires one", function()
    local err, code = fails({ host = s.host, port = s.port, tls = "starttls" })
    assert.equal("PLATFORM_REJECTED", code)
    assert.matches("530", err, 1, true)
    assert.matches("set username and password", err, 1, true)
  end)
end)

describe("attachments_dir and relative paths (item 7)", function()
  it("takes a relative path inside attachments_dir, and refuses one that climbs out", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p '" .. dir .. "/in/sub'"))
    local function write(path, data)
      local fh = assert(io.open(path, "wb"))
      fh:write(data)
      fh:close()
    end
    write(dir .. "/in/report.csv", "x,y\n")
    write(dir .. "/secret.txt", "top secret\n")
    local c = notifyhub.new({ email = { host = s.host, port = s.port, tls = "starttls",
      username = "mailer", password = "pw-Review-4411", from = "a@example.com", to = "o@example.com",
      attachments_dir = dir .. "/in" }, http = { ca_file = s.ca_file, timeout = 5 },
      retry = { max_attempts = 1 }, logger = { level = "off" } })
    local function with(path)
      return { title = "t", body = "b",
        platform_data = { email = { attachments = { { filename = "f.txt", path = path } } } } }
    end
    local r, err = c:send(with("report.csv"))
    assert.equal("success", r and r.status, err)
    assert.equal("782c790a", smtp.parse(smtp.messages()[1].data).tree.parts[2].content_hex)
    for _, path in ipairs({ "../secret.txt", "sub/../../secret.txt", "./../in/../secret.txt" }) do
      local h, perr, code = c:send_async(with(path))
      assert.is_nil(h, path)
      assert.equal("INVALID_MESSAGE", code)
      assert.matches("outside attachments_dir", perr, 1, true)
    end
    c:close()
    assert.equal(1, #smtp.messages())
    os.execute("rm -rf '" .. dir .. "'")
  end)
end)

describe("SMTP replies that echo the password (item 10)", function()
  local function refusal(user, password)
    return outcome({ email = { host = "127.0.0.1", port = f.smtp_port, tls = "none",
      username = user, password = password, from = "a@example.com", to = "b@example.com" } })
  end

  it("hides a password that the reply's length limit would cut in two", function()
    local password = "CUT-PASSWORD-0123456789-abcdef"
    local text, receipt = refusal("echo-cut", password)
    assert.equal("PLATFORM_REJECTED", receipt.results[1].code, text)
    assert.matches("535 5%.7%.8 rejected %.%.%.", text)
    assert_absent(text, { head = password:sub(1, 8) })
  end)

  it("hides a password with 8-bit bytes (not turned into '?' first)", function()
    local password = "p\195\164ssw\195\182rd-8841"
    local text, receipt = refusal("echo-8bit", password)
    assert.equal("PLATFORM_REJECTED", receipt.results[1].code, text)
    assert_absent(text, { cleaned = "p??ssw??rd", tail = "rd-8841" })
  end)
end)

describe("a URL without its scheme taken for an instance name (item 10)", function()
  it("is refused without echoing its token", function()
    local c = notifyhub.new({ feishu = { webhook_url = "http://127.0.0.1:9/x" },
      webhook = { url = "http://127.0.0.1:9/y" } })
    for _, t in ipairs({ notifyhub.target.feishu("open.feishu.cn/open-apis/bot/v2/hook/SECRET-TOKEN-991"),
      { platform = "webhook", instance = "hooks.example.com/x?key=SECRET-992" } }) do
      local h, err, code = c:send_async({ body = "x", targets = { t } })
      assert.is_nil(h)
      assert.equal("INVALID_MESSAGE", code)
      assert.matches("http:// or https://", err, 1, true)
      assert.is_nil(err:find("SECRET", 1, true), err)
    end
    local _, err = c:send_async({ body = "x", targets = { notifyhub.target.feishu("ops") } })
    assert.matches("feishu has no instance 'ops'", err, 1, true)
    c:close()
  end)
end)

describe("a URL libcurl cannot parse (item 17)", function()
  it("is a config or target error that says why, not a NETWORK failure at send", function()
    local bad = { "https://127.0.0.1:99999/x", "https://[::1/x", "https://127.0.0.1:abc/x",
      "http://:80/x" }
    for _, url in ipairs(bad) do
      local ok, err = pcall(notifyhub.new, { webhook = { url = url } })
      assert.is_false(ok, url)
      assert.matches("webhook.url: http(s) URL expected, got", err, 1, true)
      assert.is_nil(err:find(url, 1, true), err)
    end
    local c = notifyhub.new({ webhook = { url = server.url("/webhook/ok") } })
    for _, url in ipairs(bad) do
      local h, err, code = c:send_async({ body = "x", targets = { { platform = "webhook", value = url } } })
      assert.is_nil(h, url)
      assert.equal("INVALID_MESSAGE", code)
      assert.is_nil(err:find(url, 1, true), err)
    end
    assert(c:send({ body = "x" }))        -- a good one still goes
    c:close()
  end)
end)

describe("targets that point elsewhere in disguise (item 8)", function()
  it("never carry the instance's headers or signature", function()
    local KEY, SECRET = "INST-KEY-6601", "INST-SIGNING-6602"
    local c = notifyhub.new({ http = { timeout = 5 }, retry = { max_attempts = 1 }, logger = { level = "off" },
      webhook = { url = f.base .. "/capture-home", headers = { ["X-Api-Key"] = KEY }, secret = SECRET } })
    local other = "127.0.0.1:" .. f.other_port
    for _, value in ipairs({
      "HTTP://127.0.0.1:" .. f.port .. "/capture-case",                 -- the same place, spelt otherwise
      "http://127.0.0.1:" .. f.port .. "@" .. other .. "/capture-userinfo",
      "http://localhost:" .. f.port .. "/capture-home",                  -- another name for home
      "http://[::ffff:127.0.0.1]:" .. f.other_port .. "/capture-v6",
    }) do
      faults.captured(true)
      c:send({ body = "x", targets = { value } })
      local got = faults.captured()
      assert.equal(1, #got, value)
      assert.is_nil(got[1].headers["x-api-key"], value)
      assert.is_nil(got[1].headers["webhook-signature"], value)
    end
    faults.captured(true)
    assert(c:send({ body = "x" }))                                     -- home still gets both
    local got = faults.captured()
    assert.equal(KEY, got[1].headers["x-api-key"])
    assert.truthy(got[1].headers["webhook-signature"])
    c:close()
  end)
end)

describe("a bare URL with user info (items 8, 10)", function()
  it("is a URL, never an e-mail address whose label would show the credentials", function()
    local target = require("notifyhub.target")
    assert.equal("webhook", target.parse("https://bob:PW-6611@hooks.example.com/x").platform)
    assert.equal("webhook", target.parse("https://u:p@hooks.slack.com/services/T/B/X").platform)
    assert.is_nil(target.parse("ftp://bob:PW-6612@files.example.com/x"))
    assert.equal("email", target.parse("ops@example.com").platform)
    -- sent: the label hides the user info
    local c = notifyhub.new({ http = { timeout = 5 }, retry = { max_attempts = 1 }, logger = { level = "off" },
      email = { host = "127.0.0.1", port = f.smtp_port, tls = "none", from = "a@example.com", to = "b@example.com" } })
    faults.captured(true)
    local url = "http://bob:PW-6613@127.0.0.1:" .. f.port .. "/capture-basic"
    local receipt = assert(c:send({ body = "x", targets = { url } }))
    assert.equal("webhook", receipt.results[1].platform)
    assert.is_nil(receipt.results[1].target:find("PW-6613", 1, true), receipt.results[1].target)
    assert.equal(1, #faults.captured())
    c:close()
  end)
end)
