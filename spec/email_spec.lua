-- E-mail over SMTP through libcurl, against a real SMTP server on loopback
-- (Debian's python3-aiosmtpd, started by spec/support/smtp.lua) with
-- STARTTLS, implicit TLS and AUTH. What the server received is parsed by
-- Python's email package, an independent MIME parser.

local notifyhub = require("notifyhub")
local smtp = require("spec.support.smtp")
local cjson = require("cjson")

local PASSWORD = "pw-Very-Secret-77"

local function hex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

local parse = smtp.parse

describe("email", function()
  local s

  local function client(overrides)
    local cfg = { host = s.host, port = s.port, tls = "starttls", username = "mailer",
      password = PASSWORD, from = "alerts@example.com", to = { "ops@example.com" } }
    for k, v in pairs(overrides or {}) do cfg[k] = v end
    return notifyhub.new({ email = cfg, http = { ca_file = s.ca_file } })
  end

  setup(function() s = smtp.start({ user = "mailer", password = PASSWORD }) end)
  teardown(function() smtp.stop() end)
  before_each(function() smtp.clear() end)

  it("sends over STARTTLS with AUTH, with the headers a mail needs", function()
    local c = client({ cc = "lead@example.com", bcc = { "audit@example.com" } })
    local receipt = assert(c:send({ id = "m-1", title = "Disk full", body = "/var is at 91%" }))
    assert.equal("email:ops@example.com", receipt.results[1].target)
    local msgs = smtp.wait_for(1, 5)
    local m = msgs[1]
    assert.is_true(m.tls)
    assert.equal("mailer", m.auth_user)
    assert.equal("<alerts@example.com>", "<" .. m.mail_from .. ">")
    table.sort(m.rcpt_tos)
    assert.same({ "audit@example.com", "lead@example.com", "ops@example.com" }, m.rcpt_tos)
    local mail = parse(m.data)
    assert.same({}, mail.defects)
    assert.equal("alerts@example.com", mail.from)
    assert.equal("ops@example.com", mail.to)
    assert.equal("lead@example.com", mail.cc)
    assert.is_nil(mail.bcc)                                  -- only in the envelope
    assert.equal("Disk full", mail.subject)
    assert.matches("^%a%a%a, %d%d %a%a%a %d%d%d%d %d%d:%d%d:%d%d %+0000$", mail.date)
    assert.equal("<m-1@example.com>", mail["message-id"])
    assert.equal("text/plain", mail.tree.type)
    assert.equal("/var is at 91%", mail.tree.text)
    c:close()
  end)

  it("sends over implicit TLS", function()
    local c = client({ port = s.tls_port, tls = "implicit" })
    assert(c:send({ title = "t", body = "b" }))
    assert.is_true(smtp.wait_for(1, 5)[1].tls)
    c:close()
  end)

  it("encodes a non-ASCII subject by RFC 2047", function()
    local c = client()
    local title = "磁盘已满 — " .. string.rep("ünïcödé ", 8)
    assert(c:send({ title = title, body = "x" }))
    local m = smtp.wait_for(1, 5)[1]
    assert.is_nil(m.data:match("\nSubject: [^\r\n]*\128"))  -- no raw 8-bit in the header
    assert.equal(title, parse(m.data).subject)
    c:close()
  end)

  it("sends html as multipart/alternative with a text and an HTML part", function()
    local c = client()
    assert(c:send({ title = "Report", body = "<p>all <b>green</b></p>", format = "html" }))
    local mail = parse(smtp.wait_for(1, 5)[1].data)
    assert.equal("multipart/alternative", mail.tree.type)
    assert.equal("text/plain", mail.tree.parts[1].type)
    assert.equal("text/html", mail.tree.parts[2].type)
    assert.matches("<p>all <b>green</b></p>", mail.tree.parts[2].text, 1, true)
    c:close()
  end)

  it("turns markdown into the HTML part, escaped", function()
    local c = client()
    assert(c:send({ body = "**bold** & [link](https://e.example)", format = "markdown" }))
    local mail = parse(smtp.wait_for(1, 5)[1].data)
    local html = mail.tree.parts[2].text
    assert.matches('<p><strong>bold</strong> &amp; <a href="https://e.example">link</a></p>', html, 1, true)
    assert.equal("**bold** & [link](https://e.example)", mail.tree.parts[1].text:gsub("\n$", ""))
    c:close()
  end)

  it("attaches files from platform_data, as multipart/mixed", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    local bytes = "\0\1\2binary\255"
    f:write(bytes)
    f:close()
    local c = client()
    assert(c:send({ title = "logs", body = "see attached", platform_data = { email = {
      attachments = {
        { filename = "notes.txt", content = "hello\nworld", content_type = "text/plain" },
        { filename = "dump.bin", path = path },
      } } } }))
    os.remove(path)
    local mail = parse(smtp.wait_for(1, 5)[1].data)
    assert.equal("multipart/mixed", mail.tree.type)
    assert.equal("see attached", mail.tree.parts[1].text:gsub("\n$", ""))
    assert.equal("notes.txt", mail.tree.parts[2].filename)
    assert.equal(hex("hello\nworld"), mail.tree.parts[2].content_hex)
    assert.equal("dump.bin", mail.tree.parts[3].filename)
    assert.equal("application/octet-stream", mail.tree.parts[3].type)
    assert.equal(hex(bytes), mail.tree.parts[3].content_hex)
    c:close()
  end)

  it("gives every message its own Message-ID", function()
    local c = client()
    assert(c:send({ title = "a", body = "1" }))
    assert(c:send({ title = "b", body = "2" }))
    local msgs = smtp.wait_for(2, 5)
    assert.are_not.equal(parse(msgs[1].data)["message-id"], parse(msgs[2].data)["message-id"])
    c:close()
  end)

  it("writes an id's characters that a Message-ID cannot hold as =XX", function()
    local c = client()
    assert(c:send({ id = "db:1<x>@y..z", title = "a", body = "1" }))
    local mail = parse(smtp.wait_for(1, 5)[1].data)
    assert.same({}, mail.defects)
    assert.equal("<db=3A1=3Cx=3E=40y=2E=2Ez@example.com>", mail["message-id"])
    c:close()
  end)

  it("encodes a subject that is not UTF-8 without overrunning anything", function()
    local c = client()
    local title = "\xe9" .. ("\x80"):rep(100) .. " tail"        -- a lead byte and 100 continuations
    -- strict (the default) refuses it; replace sends U+FFFD for each stray byte
    assert.equal("INVALID_MESSAGE", select(3, c:send({ title = title, body = "x" })))
    assert(c:send({ title = title, body = "x" }, { utf8 = "replace" }))
    local m = smtp.wait_for(1, 5)[1]
    assert.is_nil(m.data:match("\nSubject: [^\r\n]*\128"))
    for word in m.data:gmatch("=%?UTF%-8%?B%?([^?]*)%?=") do assert.is_true(#word <= 56) end
    c:close()
  end)

  it("sends to the address a target names", function()
    local c = client()
    assert(c:send({ title = "x", body = "y", targets = { "someone@example.org" } }))
    assert.same({ "someone@example.org" }, smtp.wait_for(1, 5)[1].rcpt_tos)
    c:close()
  end)

  it("refuses CR or LF in a header value, sending nothing", function()
    local c = client()
    local h, err, code = c:send_async({ title = "hi\r\nBcc: victim@example.com", body = "x" })
    assert.is_nil(h)
    assert.equal("INVALID_MESSAGE", code)
    assert.matches("CR or LF", err)
    local h2, _, code2 = c:send_async({ title = "x", body = "y",
      targets = { { platform = "email", value = "a@example.com\r\nRCPT TO:<b@example.com>" } } })
    assert.is_nil(h2)
    assert.equal("INVALID_MESSAGE", code2)
    assert.has_error(function()
      notifyhub.new({ email = { host = "h", from = "x@example.com\nBcc: y@example.com" } })
    end)
    assert.equal(0, #smtp.messages())
    c:close()
  end)

  it("reports a wrong password as PLATFORM_REJECTED, without the password", function()
    local c = client({ password = "not-the-password" })
    local _, err, code, receipt = c:send({ title = "x", body = "y" })
    assert.equal("PLATFORM_REJECTED", code)
    assert.is_nil((err .. cjson.encode(receipt) .. tostring(c)):find("not-the-password", 1, true))
    c:close()
  end)

  it("reports a recipient the server refuses", function()
    local c = client({ to = { "reject@example.com" } })
    local _, err, code, receipt = c:send({ title = "x", body = "y" })
    assert.equal("PLATFORM_REJECTED", code)
    assert.equal(550, receipt.results[1].http_status)
    assert.matches("email:", err)
    c:close()
  end)

  it("refuses to send the password in clear text unless tls = none is chosen", function()
    local c = client({ tls = "none" })
    local _, _, code = c:send({ title = "x", body = "y" })
    -- The server only allows AUTH after STARTTLS: without TLS the login fails.
    assert.equal("PLATFORM_REJECTED", code)
    c:close()
  end)
end)
