-- Hardening of e-mail: attachments (item 7: regular files only, a size
-- limit, an optional directory, binary content from memory) and SMTP
-- (item 14: folded headers, display names, 4xx retried, the server's own
-- reply text, one refused recipient does not stop the others). Against the
-- loopback SMTP server of spec/support/smtp.lua; what arrived is parsed by
-- Python's email package.

local notifyhub = require("notifyhub")
local cjson = require("cjson")
local shell = require("spec.support.shell")
local smtp = require("spec.support.smtp")
local faults = require("spec.support.faults")
local system = require("system")

local PASSWORD = "pw-Hardening-31"

local function hex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

local function tmpdir()
  return shell.trim(shell.capture("mktemp -d"))
end

local function write(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

local function longest_line(data)
  local max = 0
  for line in (data .. "\r\n"):gmatch("(.-)\r\n") do
    if #line > max then max = #line end
  end
  return max
end

-- A tag unique to this run, for the server's per-address counters.
local RUN = ("%d%d"):format(os.time(), math.random(1000, 9999))

describe("hardening: email", function()
  local s, dir

  local function client(overrides, extra)
    local cfg = { host = s.host, port = s.port, tls = "starttls", username = "mailer",
      password = PASSWORD, from = "alerts@example.com", to = { "ops@example.com" } }
    for k, v in pairs(overrides or {}) do cfg[k] = v end
    local full = { email = cfg, http = { ca_file = s.ca_file },
      retry = { max_attempts = 1, initial_delay = 0.05, max_delay = 0.1 } }
    for k, v in pairs(extra or {}) do full[k] = v end
    return notifyhub.new(full)
  end

  local function with_files(list)
    return { title = "files", body = "see attached", platform_data = { email = { attachments = list } } }
  end

  setup(function()
    s = smtp.start({ user = "mailer", password = PASSWORD })
    dir = tmpdir()
  end)
  teardown(function()
    smtp.stop()
    faults.stop()
    os.execute("rm -rf '" .. dir .. "'")
  end)
  before_each(function() smtp.clear() end)

  describe("attachments (item 7)", function()
    it("sends binary content from memory byte-exact (NUL bytes, every byte value)", function()
      local png = "\137PNG\r\n\26\n\0\0\0\rIHDR\0\0\0\1\0\0\0\1\8\6\0\0\0\31\21\196\137"
      local all = {}
      for i = 0, 255 do all[#all + 1] = string.char(i) end
      all = table.concat(all):rep(3)
      local c = client()
      assert(c:send(with_files({
        { filename = "pixel.png", content = png, content_type = "image/png" },
        { filename = "bytes.bin", content = all },
      })))
      local mail = smtp.parse(smtp.wait_for(1, 5)[1].data)
      assert.same({}, mail.defects)
      assert.equal("image/png", mail.tree.parts[2].type)
      assert.equal(hex(png), mail.tree.parts[2].content_hex)
      assert.equal(hex(all), mail.tree.parts[3].content_hex)
      c:close()
    end)

    it("refuses a device file, a FIFO and a directory at once, naming the attachment", function()
      local fifo = dir .. "/fifo"
      assert(os.execute("mkfifo '" .. fifo .. "'"))
      local c = client()
      for _, path in ipairs({ "/dev/zero", "/dev/urandom", fifo, dir }) do
        local t0 = system.gettime()
        local h, err, code = c:send_async(with_files({ { filename = "x.bin", path = path } }))
        assert.is_nil(h)
        assert.equal("INVALID_MESSAGE", code)
        assert.matches("x.bin", err, 1, true)
        assert.matches("not a regular file", err, 1, true)
        assert.is_true(system.gettime() - t0 < 2)
      end
      local t0 = system.gettime()
      c:close(5)
      assert.is_true(system.gettime() - t0 < 3)
      assert.equal(0, #smtp.messages())
    end)

    it("refuses a file or content over attachments_max_bytes, and the default is 25 MiB", function()
      local path = dir .. "/big.bin"
      write(path, ("z"):rep(2000))
      local c = client({ attachments_max_bytes = 1000 })
      local h, err, code = c:send_async(with_files({ { filename = "big.bin", path = path } }))
      assert.is_nil(h)
      assert.equal("INVALID_MESSAGE", code)
      assert.matches("big.bin", err, 1, true)
      assert.matches("1000 bytes", err, 1, true)
      h, err, code = c:send_async(with_files({ { filename = "a", content = ("z"):rep(600) },
        { filename = "b", content = ("z"):rep(600) } }))        -- together over the limit
      assert.is_nil(h)
      assert.equal("INVALID_MESSAGE", code)
      assert.matches("'b'", err, 1, true)
      c:close()
      c = client()
      h, err, code = c:send_async(with_files({ { filename = "huge", content = ("z"):rep(25 * 1048576 + 1) } }))
      assert.is_nil(h)
      assert.equal("INVALID_MESSAGE", code)
      assert.matches("26214400 bytes", err, 1, true)
      c:close()
      assert.equal(0, #smtp.messages())
    end)

    it("keeps paths inside attachments_dir (symlinks resolved), never mailing the file", function()
      local inside = dir .. "/inside"
      os.execute("mkdir -p '" .. inside .. "'")
      write(inside .. "/report.csv", "a,b\n1,2\n")
      os.execute("ln -sf /etc/passwd '" .. inside .. "/passwd'")
      local c = client({ attachments_dir = inside })
      for _, path in ipairs({ "/etc/passwd", inside .. "/passwd", inside .. "/../inside/../../../etc/passwd" }) do
        local h, err, code = c:send_async(with_files({ { filename = "p.txt", path = path } }))
        assert.is_nil(h)
        assert.equal("INVALID_MESSAGE", code)
        assert.matches("outside attachments_dir", err, 1, true)
        assert.is_nil(err:find("root:", 1, true))
      end
      assert(c:send(with_files({ { filename = "report.csv", path = inside .. "/report.csv" } })))
      local mail = smtp.parse(smtp.wait_for(1, 5)[1].data)
      assert.equal(hex("a,b\n1,2\n"), mail.tree.parts[2].content_hex)
      c:close()
    end)

    it("refuses a missing file without sending", function()
      local c = client()
      local h, err, code = c:send_async(with_files({ { filename = "gone.txt", path = dir .. "/nope" } }))
      assert.is_nil(h)
      assert.equal("INVALID_MESSAGE", code)
      assert.matches("gone.txt", err, 1, true)
      c:close()
    end)

    it("checks the file again when the worker reads it (a FIFO or a bigger file since submit)", function()
      local f = faults.start()
      local fifo, grows = dir .. "/later-fifo", dir .. "/later-big"
      write(fifo, "small")
      write(grows, "small")
      -- one worker, one transfer at a time: the mails wait behind a webhook that drips
      local c = client({ attachments_max_bytes = 1000 }, {
        async = { workers = 1, min_workers = 1, max_workers = 1, concurrency = 1 },
        http = { ca_file = s.ca_file, timeout = 1.5 },
        webhook = { url = f.base .. "/drip" } })
      local slow = assert(c:send_async({ body = "x", targets = { { platform = "webhook" } } }))
      local m1 = with_files({ { filename = "f.txt", path = fifo } })
      local m2 = with_files({ { filename = "g.txt", path = grows } })
      m1.targets, m2.targets = { { platform = "email" } }, { { platform = "email" } }
      local h1 = assert(c:send_async(m1))
      local h2 = assert(c:send_async(m2))
      os.remove(fifo)
      assert(os.execute("mkfifo '" .. fifo .. "'"))
      write(grows, ("g"):rep(5000))
      local t0 = system.gettime()
      local _, err1, code1 = h1:wait(10)
      local _, err2, code2 = h2:wait(10)
      assert.is_true(system.gettime() - t0 < 8)
      assert.equal("INVALID_MESSAGE", code1)
      assert.matches("'f.txt': not a regular file", err1, 1, true)
      assert.equal("INVALID_MESSAGE", code2)
      assert.matches("'g.txt': over the limit", err2, 1, true)
      slow:wait(5)
      c:close(5)
      assert.equal(0, #smtp.messages())
    end)

    it("checks the attachment list's shape", function()
      local c = client()
      for _, list in ipairs({ "x", { "x" }, { { filename = "a" } }, { { content = "x" } },
        { { filename = "a", content = "x", path = "/tmp/y" } }, { { filename = "a", content = 1 } },
        { { filename = "a", contents = "x" } }, { { filename = "a\r\nX: y", content = "x" } } }) do
        local h, _, code = c:send_async(with_files(list))
        assert.is_nil(h)
        assert.equal("INVALID_MESSAGE", code)
      end
      c:close()
    end)

    it("checks the attachment options in the config, and no target loosens them", function()
      for _, v in ipairs({ -1, 1.5, 0 / 0, 1 / 0, 2 ^ 40, "10" }) do
        assert.has_error(function() client({ attachments_max_bytes = v }) end)
      end
      assert.has_error(function() client({ attachments_dir = 5 }) end)
      local c = client({ attachments_dir = dir })
      local h, err, code = c:send_async({ title = "x", body = "y",
        targets = { { platform = "email", attachments_dir = "/" } } })
      assert.is_nil(h)
      assert.equal("INVALID_MESSAGE", code)
      assert.matches("attachments_dir", err, 1, true)
      c:close()
    end)
  end)

  describe("SMTP (item 14)", function()
    it("folds a long ASCII subject, with or without spaces, and it arrives whole", function()
      local c = client()
      for _, title in ipairs({ ("word "):rep(400) .. "end", ("a"):rep(2000), ("x"):rep(900) .. " " .. ("y"):rep(900),
        "a" .. (" "):rep(1500) .. "b", "tab\tand =?not?= a word " .. ("z"):rep(100) }) do
        smtp.clear()
        local ok, err = c:send({ title = title, body = "b" })
        assert(ok, err)
        local m = smtp.wait_for(1, 5)[1]
        assert.is_true(longest_line(m.data) <= 998)
        local mail = smtp.parse(m.data)
        assert.same({}, mail.defects)
        assert.equal(title, mail.subject)
      end
      c:close()
    end)

    it("keeps a long non-ASCII subject in encoded-words of at most 75 characters", function()
      local c = client()
      local title = ("ünïcödé 磁盘 "):rep(150)
      assert(c:send({ title = title, body = "b" }))
      local m = smtp.wait_for(1, 5)[1]
      assert.is_true(longest_line(m.data) <= 998)
      for word in m.data:gmatch("=%?UTF%-8%?B%?[^?]*%?=") do assert.is_true(#word <= 75) end
      assert.equal(title, smtp.parse(m.data).subject)
      c:close()
    end)

    it("folds a To header with many addresses", function()
      local to = {}
      for i = 1, 80 do to[i] = ("recipient-number-%02d@example.com"):format(i) end
      local c = client({ to = to })
      assert(c:send({ title = "t", body = "b" }))
      local m = smtp.wait_for(1, 5)[1]
      assert.is_true(longest_line(m.data) <= 998)
      local mail = smtp.parse(m.data)
      assert.equal(80, #mail.mailboxes.to)
      assert.equal(to[80], mail.mailboxes.to[80].addr)
      c:close()
    end)

    it("takes a from with a display name, quoting or encoding it as needed", function()
      for _, case in ipairs({
        { "Alerts <alerts@example.com>", "Alerts" },
        { 'Ops, Team "A" <ops@example.com>', 'Ops, Team "A"' },
        { '"Quoted Name" <q@example.com>', "Quoted Name" },
        { '"Say \\"hi\\", \\\\o/" <s@example.com>', 'Say "hi", \\o/' },
        { "Überwachung 監視 <mon@example.com>", "Überwachung 監視" },
      }) do
        smtp.clear()
        local c = client({ from = case[1] })
        assert(c:send({ id = "dn-1", title = "t", body = "b" }))
        local m = smtp.wait_for(1, 5)[1]
        local addr = case[1]:match("<(.*)>")
        assert.equal(addr, m.mail_from)
        local mail = smtp.parse(m.data)
        assert.same({}, mail.defects)
        assert.same({ { name = case[2], addr = addr } }, mail.mailboxes.from)
        assert.equal("<dn-1@" .. addr:match("@(.*)") .. ">", mail["message-id"])
        c:close()
      end
      for _, bad in ipairs({ "Alerts <not an address>", "Alerts <a@example.com", "A\r\nBcc: x <a@example.com>",
        "<a@example.com> trailing" }) do
        assert.has_error(function() client({ from = bad }) end)
      end
    end)

    it("retries 451 and 452 replies, then delivers", function()
      local c = client(nil, { retry = { max_attempts = 4, initial_delay = 0.05, max_delay = 0.1 } })
      for _, kind in ipairs({ "defer2", "full1" }) do
        local addr = ("%s-%s@example.com"):format(kind, RUN)
        local receipt = assert(c:send({ title = "t", body = "b", targets = { addr } }))
        assert.equal(kind == "defer2" and 3 or 2, receipt.results[1].attempts)
      end
      assert.equal(2, #smtp.wait_for(2, 5))
      c:close()
    end)

    it("gives up on a lasting 451 with the server's reply and its code", function()
      local c = client({ to = { "defer@example.com" } },
        { retry = { max_attempts = 2, initial_delay = 0.05, max_delay = 0.1 } })
      local _, err, code, receipt = c:send({ title = "t", body = "b" })
      assert.equal("PLATFORM_REJECTED", code)
      local r = receipt.results[1]
      assert.equal(2, r.attempts)
      assert.equal(451, r.platform_code)
      assert.matches("451 4.3.0", err, 1, true)
      assert.matches("Temporary failure", r.error, 1, true)
      c:close()
    end)

    it("does not retry a 550, and keeps its text", function()
      local c = client({ to = { "reject@example.com" } },
        { retry = { max_attempts = 3, initial_delay = 0.05, max_delay = 0.1 } })
      local _, err, code, receipt = c:send({ title = "t", body = "b" })
      assert.equal("PLATFORM_REJECTED", code)
      local r = receipt.results[1]
      assert.equal(1, r.attempts)
      assert.equal(550, r.platform_code)
      assert.matches("550 5.1.1", err, 1, true)
      assert.matches("User unknown", err, 1, true)
      assert.same({ "reject@example.com" }, r.rejected)
      c:close()
    end)

    it("delivers to the other recipients when one is refused: a partial receipt naming it", function()
      local c = client({ to = { "ops@example.com", "reject-a@example.com", "dev@example.com" },
        cc = "reject-b@example.com" }, { retry = { max_attempts = 3, initial_delay = 0.05, max_delay = 0.1 } })
      local _, err, code, receipt = c:send({ title = "t", body = "b" })
      local m = smtp.wait_for(1, 5)[1]
      table.sort(m.rcpt_tos)
      assert.same({ "dev@example.com", "ops@example.com" }, m.rcpt_tos)
      assert.equal("PLATFORM_REJECTED", code)
      assert.equal("partial", receipt.status)
      local r = receipt.results[1]
      assert.is_false(r.success)
      assert.equal(1, r.attempts)                      -- never sent twice to the others
      assert.same({ "reject-a@example.com", "reject-b@example.com" }, r.rejected)
      assert.matches("reject-a@example.com", err, 1, true)
      assert.matches("550 5.1.1", r.error, 1, true)
      assert.equal(1, #smtp.messages())
      c:close()
    end)
  end)

  -- The stand-in itself, seen by smtplib (spec/support/smtp_client.py), not by notifyhub.
  describe("the SMTP stand-in", function()
    local function send(rcpt, data)
      local args = { host = s.host, port = s.port, mode = "starttls", ca_file = s.ca_file,
        user = "mailer", password = PASSWORD, mail_from = "a@example.com", rcpt_tos = { rcpt },
        data = data or "Subject: x\r\n\r\nbody\r\n" }
      local out = shell.capture(shell.q(smtp.python()) .. " spec/support/smtp_client.py "
        .. shell.q(cjson.encode(args)) .. " 2>&1")
      return cjson.decode(out)
    end

    it("answers deferN- with 451 and fullN- with 452 N times, then accepts", function()
      for _, case in ipairs({ { "defer2", 451 }, { "full1", 452 } }) do
        local addr = ("%s-h%s@example.com"):format(case[1], RUN)
        local tries = tonumber(case[1]:match("%d+"))
        for _ = 1, tries do
          local r = send(addr)
          assert.is_false(r.ok)
          assert.equal(case[2], r.recipients[addr][1])
        end
        assert.is_true(send(addr).ok)
      end
    end)

    it("refuses reject- addresses with 550 and lines over 998 octets with 500", function()
      local r = send("reject-h@example.com")
      assert.equal(550, r.recipients["reject-h@example.com"][1])
      r = send("ok@example.com", "Subject: " .. ("x"):rep(990) .. "\r\n\r\nbody\r\n")
      assert.is_false(r.ok)
      assert.equal(500, r.code)
      assert.is_true(send("ok@example.com", "Subject: " .. ("x"):rep(989) .. "\r\n\r\nbody\r\n").ok)
    end)
  end)
end)
