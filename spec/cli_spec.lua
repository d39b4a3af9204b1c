-- The `notifyhub` command as a user runs it: bin/notifyhub in a subprocess
-- under the interpreter that runs this spec, stdout and stderr captured
-- apart, the exit status, against the loopback stand-ins; the progress bar
-- under a pseudo-terminal (util-linux `script`).

local cjson = require("cjson")
local server = require("spec.support.server")
local shell = require("spec.support.shell")
local q = shell.q

local LUA = rawget(_G, "jit") and "luajit" or "lua5.4"
local TMP = shell.trim(shell.capture("mktemp -d"))

-- Runs bin/notifyhub with args (a list, each quoted) and opts.env (name ->
-- value; NOTIFYHUB_URLS and NOTIFYHUB_CONFIG are unset otherwise),
-- opts.stdin (text; else /dev/null). Returns status, stdout, stderr.
local function run(args, opts)
  opts = opts or {}
  local words = {}
  for i, a in ipairs(args) do words[i] = q(a) end
  local env = { "env -u NOTIFYHUB_URLS -u NOTIFYHUB_CONFIG" }
  for k, v in pairs(opts.env or {}) do env[#env + 1] = k .. "=" .. q(v) end
  local input = "/dev/null"
  if opts.stdin then
    input = TMP .. "/stdin"
    shell.write_file(input, opts.stdin)
  end
  local cmd = ("%s %s bin/notifyhub %s <%s >%s/out 2>%s/err; echo $?"):format(
    table.concat(env, " "), opts.interpreter or LUA, table.concat(words, " "), input, TMP, TMP)
  local status = tonumber(shell.trim(shell.capture(cmd)))
  return status, shell.read_file(TMP .. "/out"), shell.read_file(TMP .. "/err")
end

local function lines(s)
  local out = {}
  for l in s:gmatch("[^\n]+") do out[#out + 1] = l end
  return out
end

-- Every stdout line is JSON: the decoded objects.
local function json_lines(s)
  local out = {}
  for i, l in ipairs(lines(s)) do
    local ok, v = pcall(cjson.decode, l)
    assert(ok and type(v) == "table", "stdout line " .. i .. " is not a JSON object: " .. l)
    out[i] = v
  end
  return out
end

local function write(name, text)
  local path = TMP .. "/" .. name
  shell.write_file(path, text)
  return path
end

describe("notifyhub command", function()
  local hook
  setup(function()
    server.start()
    hook = function(name) return server.url("/webhook/" .. name) end
  end)
  teardown(function()
    server.stop()
    os.execute("rm -rf " .. q(TMP))
  end)
  before_each(function() server.clear() end)

  describe("usage", function()
    it("--version and --help answer on stdout with status 0", function()
      local status, out, err = run({ "--version" })
      assert.equal(0, status, err)
      local version = require("notifyhub")._VERSION
      assert.equal(version, out:match("^(notifyhub [%d.]+)"))
      status, out = run({ "--help" })
      assert.equal(0, status)
      assert.truthy(out:find("notifyhub send", 1, true))
      status, out = run({ "send", "-h" })
      assert.equal(0, status)
      assert.truthy(out:find("--each", 1, true))
    end)

    it("runs from the checkout through its #! line (lua5.4)", function()
      local out = shell.capture("env -u NOTIFYHUB_URLS bin/notifyhub --version 2>&1; echo \"rc=$?\"")
      assert.truthy(out:find("rc=0", 1, true), out)
      assert.truthy(out:find("Lua 5.4", 1, true), out)
    end)

    it("finds the checkout through a symbolic link to bin/notifyhub", function()
      local link = TMP .. "/nh-link"
      assert.is_true(shell.execute(("ln -sf %s %s"):format(q(shell.trim(shell.capture("pwd")) .. "/bin/notifyhub"),
        q(link))))
      local out = shell.capture(("cd / && env -u NOTIFYHUB_URLS %s %s --version 2>&1; echo \"rc=$?\"")
        :format(LUA, q(link)))
      assert.truthy(out:find("rc=0", 1, true), out)
      assert.truthy(out:find("^notifyhub [%d.]+"), out)
    end)

    it("no arguments, an unknown command or option: status 2, the reason on stderr, stdout empty", function()
      for _, args in ipairs({ {}, { "sned" }, { "send", "--bogus", "-b", "x", hook("a") },
          { "check", "--title", "x", hook("a") }, { "platforms", "--tag", "x" },
          { "send", "-b" }, { "send", "--json=yes", "-b", "x", hook("a") } }) do
        local status, out, err = run(args)
        assert.equal(2, status, table.concat(args, " "))
        assert.equal("", out, table.concat(args, " "))
        assert.truthy(err:find("notifyhub", 1, true), err)
      end
      local _, _, err = run({ "send", "--bogus", "-b", "x", hook("a") })
      assert.truthy(err:find("unknown option '--bogus'", 1, true), err)
      _, _, err = run({ "sned" })
      assert.truthy(err:find("unknown command 'sned'", 1, true), err)
      assert.equal(0, server.count("/webhook/"))
    end)

    it("no destination at all is status 2", function()
      local status, out, err = run({ "send", "-b", "hello" })
      assert.equal(2, status)
      assert.equal("", out)
      assert.truthy(err:find("no destination", 1, true), err)
      status = run({ "send", "-b", "hello" }, { env = { NOTIFYHUB_URLS = " , " } })
      assert.equal(2, status)
    end)

    it("an unknown scheme is status 2 and the URL is not echoed", function()
      local status, out, err = run({ "send", "-b", "x", "ftp://user:pw@host/s3cretTOKEN" })
      assert.equal(2, status)
      assert.equal("", out)
      assert.truthy(err:find("ftp", 1, true), err)
      assert.falsy(err:find("s3cretTOKEN", 1, true), err)
      assert.falsy(err:find("pw@", 1, true), err)
    end)

    it("a destination that is no URL is not echoed either (it may be a password without its scheme)", function()
      local status, _, err = run({ "send", "-b", "x", "hunter2@localhost" })
      assert.equal(2, status)
      assert.truthy(err:find("destination 1: '(not shown)' is neither", 1, true), err)
      assert.falsy(err:find("hunter2", 1, true), err)
    end)

    it("refuses a --timeout, --format or --type outside its range with status 2", function()
      for _, t in ipairs({ "nan", "inf", "-1", "0", "1e300", "2147483648", "abc", "", "0x10", "1e1", " 5" }) do
        local status, _, err = run({ "send", "-b", "x", "--timeout", t, hook("t") })
        assert.equal(2, status, t)
        assert.truthy(err:find("--timeout: seconds from 0.001 to 86400 expected", 1, true), err)
      end
      local status, _, err = run({ "send", "-b", "x", "--format", "rtf", hook("t") })
      assert.equal(2, status)
      assert.truthy(err:find("text, markdown or html expected, got 'rtf'", 1, true), err)
      status, _, err = run({ "send", "-b", "x", "--type", "panic", hook("t") })
      assert.equal(2, status)
      assert.truthy(err:find("info, success, warning or failure expected", 1, true), err)
      assert.equal(0, server.count("/webhook/"))
    end)

    it("a missing --attach file is status 2", function()
      local status, out, err = run({ "send", "-b", "x", "--attach", TMP .. "/nope.csv", hook("a") })
      assert.equal(2, status)
      assert.equal("", out)
      assert.truthy(err:find("nope.csv", 1, true), err)
    end)

    it("nothing to send (no title, no body, empty stdin) is status 2", function()
      local status, _, err = run({ "send", hook("a") }, { stdin = "" })
      assert.equal(2, status)
      assert.truthy(err:find("nothing to send", 1, true), err)
    end)
  end)

  describe("send", function()
    it("delivers title and body: status 0, nothing on stdout", function()
      local status, out, err = run({ "send", "-t", "Deploy", "-b", "api 1.4.2 is live", hook("ok") })
      assert.equal(0, status, err)
      assert.equal("", out)
      local reqs = server.requests("/webhook/ok")
      assert.equal(1, #reqs)
      local body = cjson.decode(reqs[1].body)
      assert.equal("Deploy", body.title)
      assert.equal("api 1.4.2 is live", body.body)
    end)

    it("reads the body from stdin (one final line end dropped)", function()
      local status, _, err = run({ "send", "--to", hook("stdin") }, { stdin = "line one\nline two\n" })
      assert.equal(0, status, err)
      local body = cjson.decode(server.requests("/webhook/stdin")[1].body)
      assert.equal("line one\nline two", body.body)
    end)

    it("takes Apprise's spellings and URLs as arguments, send implied", function()
      local status, _, err = run({ "-vv", "-t", "T", "-b", "**hi**", "-i", "markdown", "-n", "warning",
        hook("apprise") })
      assert.equal(0, status, err)
      assert.truthy(err:find("delivered: webhook", 1, true), err)
      local body = cjson.decode(server.requests("/webhook/apprise")[1].body)
      assert.equal("markdown", body.format)
      assert.equal("**hi**", body.body)
    end)

    it("-e interprets backslash escapes in the title and body, as Apprise's", function()
      local status, _, err = run({ "send", "-e", "-t", "a\\tb", "-b", "l1\\nl2 \\\\n \\q", hook("esc") })
      assert.equal(0, status, err)
      local body = cjson.decode(server.requests("/webhook/esc")[1].body)
      assert.equal("a\tb", body.title)
      assert.equal("l1\nl2 \\n \\q", body.body)
      status = run({ "send", "-b", "l1\\nl2", hook("noesc") })
      assert.equal(0, status)
      assert.equal("l1\\nl2", cjson.decode(server.requests("/webhook/noesc")[1].body).body)
    end)

    it("a failed delivery is status 1 with the failure on stderr, the token hidden", function()
      local url = hook("s3cretTOKEN42") .. "?status=400"
      local status, out, err = run({ "send", "-b", "x", url })
      assert.equal(1, status)
      assert.equal("", out)
      assert.truthy(err:find("failed: webhook", 1, true), err)
      assert.truthy(err:find("HTTP_STATUS", 1, true), err)
      assert.falsy(err:find("s3cretTOKEN42", 1, true), err)
    end)

    it("--json: stdout is one JSON receipt per message and nothing else", function()
      local status, out, err = run({ "send", "--json", "-b", "x", hook("j1"), hook("j2tok3n") .. "?status=500" })
      assert.equal(1, status, err)
      local receipts = json_lines(out)
      assert.equal(1, #receipts)
      local r = receipts[1]
      assert.equal("partial", r.status)
      assert.equal(2, r.total)
      assert.equal(1, r.successful)
      assert.equal(2, #r.results)
      assert.falsy(out:find("j2tok3n", 1, true), out)
      status, out = run({ "send", "--json", "-b", "x", hook("j3") })
      assert.equal(0, status)
      assert.equal("success", json_lines(out)[1].status)
    end)

    it("--json stays valid UTF-8 when a service answers with broken UTF-8", function()
      server.behave("/webhook/utf8", { status = 200, body = "ok\228\184\255" })
      local status, out, err = run({ "send", "--json", "-b", "x", hook("utf8") })
      assert.equal(0, status, err)
      assert.truthy(out:find("ok\239\191\189", 1, true), out)
      local path = write("receipts.jsonl", out)
      assert.is_true(shell.execute("python3 -c 'import json,sys; [json.loads(l) for l in "
        .. "open(sys.argv[1], encoding=\"utf-8\", errors=\"strict\")]' " .. q(path)))
    end)

    it("--timeout bounds the whole delivery", function()
      local t0 = require("notifyhub").now()
      local status, out = run({ "send", "--json", "--timeout", "0.5", "-b", "x", hook("slow") .. "?delay=5" })
      assert.equal(1, status)
      assert.equal("TIMEOUT", json_lines(out)[1].results[1].code)
      assert.is_true(require("notifyhub").now() - t0 < 4)
    end)

    it("Ctrl-C (SIGINT) ends the run at once with status 130, cutting off what is in flight", function()
      local cmd = ("env -u NOTIFYHUB_URLS %s bin/notifyhub send -b x %s >%s/out 2>%s/err </dev/null & pid=$!; "
        .. "sleep 1; kill -INT $pid; wait $pid; echo $?"):format(LUA, q(hook("int") .. "?delay=8"), TMP, TMP)
      local t0 = require("notifyhub").now()
      local status = tonumber(shell.trim(shell.capture(cmd)))
      local took = require("notifyhub").now() - t0
      local err = shell.read_file(TMP .. "/err")
      assert.equal(130, status, err)
      assert.truthy(err:find("interrupted (1 message(s) not delivered)", 1, true), err)
      assert.is_true(took < 5, ("took %.1f s"):format(took))
    end)

    it("--dry-run shows destinations and payload, secrets hidden, and sends nothing", function()
      local url = hook("dryT0KEN99") .. "?key=hush"
      local status, out, err = run({ "send", "--dry-run", "-t", "Title", "-b", "the body", url })
      assert.equal(0, status, err)
      assert.truthy(out:find("would send to 1 destination", 1, true), out)
      assert.truthy(out:find("webhook", 1, true), out)
      assert.truthy(out:find("8 bytes: the body", 1, true), out)
      assert.falsy(out:find("dryT0KEN99", 1, true), out)
      assert.falsy(out:find("hush", 1, true), out)
      status, out = run({ "send", "-d", "--json", "-b", "the body", url })
      assert.equal(0, status)
      local plan = json_lines(out)[1]
      assert.is_true(plan.dry_run)
      assert.equal(8, plan.body_bytes)
      assert.equal("webhook", plan.destinations[1].platform)
      assert.truthy(out:find('"attachments":[]', 1, true), out)
      assert.falsy(out:find("hush", 1, true), out)
      assert.equal(0, server.count("/webhook/"))
    end)

    it("--dry-run lists attachments with their size", function()
      local path = write("report.csv", "a,b\n1,2\n")
      local status, out, err = run({ "send", "--dry-run", "-b", "x", "-a", path, hook("att") })
      assert.equal(0, status, err)
      assert.truthy(out:find("report.csv (8 bytes", 1, true), out)
    end)

    it("takes Apprise URLs: json:// posts Apprise's fields with Basic auth, the password never shown", function()
      local port = server.port()
      local url = ("json://robot:pa55w0rd@127.0.0.1:%d/webhook/apprise-json"):format(port)
      local status, out, err = run({ "send", "--json", "-v", "-t", "T", "-b", "B", "-n", "failure", url })
      assert.equal(0, status, err)
      assert.equal("success", json_lines(out)[1].status)
      local req = server.requests("/webhook/apprise-json")[1]
      local body = cjson.decode(req.body)
      assert.equal("B", body.message)
      assert.equal("T", body.title)
      assert.equal("failure", body.type)
      assert.truthy(req.headers.authorization:find("^Basic "))
      for _, text in ipairs({ out, err }) do assert.falsy(text:find("pa55w0rd", 1, true), text) end
      status, out = run({ "send", "--dry-run", "-b", "x", url })
      assert.equal(0, status)
      assert.falsy(out:find("pa55w0rd", 1, true), out)
    end)

    it("--attach goes to the e-mail destinations (mailto://), the others get the message", function()
      local smtp = require("spec.support.smtp")
      local s = smtp.start({})
      local path = write("report.csv", "a,b\n1,2\n")
      local mail = ("mailto://127.0.0.1:%d/rcpt@example.com?from=ops@example.com"):format(s.port)
      local status, _, err = run({ "send", "-v", "-t", "Report", "-b", "see attached", "--attach", path,
        mail, hook("att") })
      local msgs = smtp.messages()
      smtp.stop()
      assert.equal(0, status, err)
      assert.truthy(err:find("delivered: email email:rcpt@example.com (status 250", 1, true), err)
      assert.equal(1, #msgs)
      local parts = smtp.parse(msgs[1].data).tree.parts
      assert.equal("see attached", parts[1].text)
      assert.equal("report.csv", parts[2].filename)
      assert.equal("612c620a312c320a", parts[2].content_hex)
      assert.equal("see attached", cjson.decode(server.requests("/webhook/att")[1].body).body)
    end)

    it("NOTIFYHUB_URLS: URLs separated by spaces and commas; the command line wins", function()
      local env = { NOTIFYHUB_URLS = hook("e1") .. ", " .. hook("e2") .. "," .. hook("e3") .. " " .. hook("e4") }
      local status, _, err = run({ "send", "-b", "x" }, { env = env })
      assert.equal(0, status, err)
      for i = 1, 4 do assert.equal(1, server.count("/webhook/e" .. i)) end
      server.clear()
      status = run({ "send", "-b", "x", hook("cli") }, { env = env })
      assert.equal(0, status)
      assert.equal(1, server.count("/webhook/cli"))
      assert.equal(0, server.count("/webhook/e"))
    end)
  end)

  describe("send --each", function()
    it("sends one message per line; a bad line is reported with its number and the others go", function()
      local file = write("batch.jsonl", table.concat({
        '{"title":"one","body":"first"}',
        '{"body": "second",}',
        '',
        '{"body":"third","to":"' .. hook("other") .. '"}',
        '["not", "an", "object"]',
        '{"body":"fifth","type":"success"}',
      }, "\n") .. "\n")
      local status, out, err = run({ "send", "--each", file, "--json", hook("each") })
      assert.equal(1, status, err)
      local receipts = json_lines(out)
      assert.equal(5, #receipts)
      local by_line = {}
      for _, r in ipairs(receipts) do by_line[r.line] = r end
      assert.equal("success", by_line[1].status)
      assert.equal("failed", by_line[2].status)
      assert.equal("INVALID_MESSAGE", by_line[2].code)
      assert.equal("success", by_line[4].status)
      assert.equal("failed", by_line[5].status)
      assert.equal("success", by_line[6].status)
      assert.truthy(err:find("line 2: failed: not JSON", 1, true), err)
      assert.truthy(err:find("line 5: failed: a JSON object expected", 1, true), err)
      assert.truthy(err:find("5 message(s): 3 delivered, 2 failed (2 bad line(s))", 1, true), err)
      assert.equal(2, server.count("/webhook/each"))
      assert.equal(1, server.count("/webhook/other"))
    end)

    it("all delivered is status 0, with the summary on stderr; stdin with '-'", function()
      local status, out, err = run({ "send", "--each", "-", hook("stdin-each") },
        { stdin = '{"body":"a"}\n{"body":"b"}\n{"title":"c"}\n' })
      assert.equal(0, status, err)
      assert.equal("", out)
      assert.truthy(err:find("3 message(s): 3 delivered, 0 failed", 1, true), err)
      assert.equal(3, server.count("/webhook/stdin-each"))
      assert.falsy(err:find("\27[K", 1, true), "no progress bar when stderr is not a terminal")
    end)

    it("a line refused by the library (unknown field) fails alone", function()
      local file = write("typo.jsonl", '{"tittle":"x","body":"y"}\n{"body":"z"}\n')
      local status, _, err = run({ "send", "--each", file, hook("typo") })
      assert.equal(1, status)
      assert.truthy(err:find("line 1: failed:", 1, true), err)
      assert.truthy(err:find("tittle", 1, true), err)
      assert.equal(1, server.count("/webhook/typo"))
    end)

    it("lines of the wrong JSON types fail alone, each with its number, and never stop the run", function()
      local bad = { '{"title":5}', '{"metadata":"x"}', '{"body":{"a":1}}', '{"body":"x","id":"has space"}',
        '{"body":"x","to":5}', '{"body":"x","to":"hunter2@localhost"}', '{"body":"x","extra":5}',
        '{"body":"x","attach":["/nonexistent/a.csv"]}', '{"body":"x","attach":{"a":1}}',
        '{"body":"\\ud800"}', '{"body":"a\\u0000b"}', '{"body":"x","priority":1e300}',
        '{"body":NaN}', '{"body":"x"', '{"body":"x","variables":{"a":[1]}}', '{"body":"x","to":["gopher://h/p"]}' }
      local file = write("hostile.jsonl", table.concat(bad, "\n") .. '\n{"body":"fine"}\n')
      for _, dry in ipairs({ false, true }) do
        local args = { "send", "--each", file, "--json", hook("hostile") }
        if dry then args[#args + 1] = "--dry-run" end
        local status, out, err = run(args)
        assert.equal(1, status, err)
        assert.falsy(err:find("internal error", 1, true), err)
        local receipts = json_lines(out)
        assert.equal(#bad + 1, #receipts)
        for _, r in ipairs(receipts) do
          if r.line <= #bad then
            assert.equal("INVALID_MESSAGE", r.code, cjson.encode(r))
            assert.truthy(err:find(("line %d: failed: "):format(r.line), 1, true), err)
          end
        end
        assert.truthy(err:find(("%d failed (%d bad line(s))"):format(#bad, #bad), 1, true), err)
        assert.falsy((out .. err):find("hunter2", 1, true), err)
      end
      assert.equal(1, server.count("/webhook/hostile"))
    end)

    it("draws a progress bar on a terminal", function()
      if not shell.execute("command -v script >/dev/null 2>&1") then
        pending("util-linux script is not installed")
        return
      end
      local file = write("bar.jsonl", ('{"body":"x"}\n'):rep(12))
      local cmd = ("env -u NOTIFYHUB_URLS %s bin/notifyhub send --each %s %s"):format(LUA, q(file), q(hook("bar")))
      local out = shell.capture("script -qec " .. q(cmd) .. " /dev/null </dev/null")
      assert.truthy(out:find("\r\27[K[", 1, true), out)
      assert.truthy(out:find("] 12/12", 1, true), out)
      assert.truthy(out:find("12 delivered", 1, true), out)
      assert.equal(12, server.count("/webhook/bar"))
      -- with --json on the same terminal, each receipt starts on a line of its own
      out = shell.capture("script -qec " .. q(cmd .. " --json") .. " /dev/null </dev/null")
      assert.truthy(out:find("\r\27[K{", 1, true), out)
      assert.falsy(out:find("%] %d+/%d+[^\r\n]*{"), out)
    end)

    it("--dry-run previews every line and sends nothing", function()
      local file = write("dry.jsonl", '{"body":"a"}\n{"body":"b","to":"ftp://x/y"}\n')
      local status, out = run({ "send", "--each", file, "--dry-run", hook("dry") })
      assert.equal(1, status)
      assert.truthy(out:find("line 1:", 1, true), out)
      assert.equal(0, server.count("/webhook/"))
    end)

    it("a config's small queue (buffer_size 2, no wait for room) still takes a long file", function()
      local cfg = write("small.lua", ("return { urls = { %q }, async = { buffer_size = 2, timeout = 0 } }")
        :format(hook("small")))
      local file = write("long.jsonl", ('{"body":"x"}\n'):rep(40))
      local status, _, err = run({ "send", "--each", file, "-c", cfg })
      assert.equal(0, status, err)
      assert.equal(40, server.count("/webhook/small"))
    end)

    it("an --each file that cannot be read is status 2", function()
      local status, _, err = run({ "send", "--each", TMP .. "/missing.jsonl", hook("x") })
      assert.equal(2, status)
      assert.truthy(err:find("missing.jsonl", 1, true), err)
    end)
  end)

  describe("config files and tags", function()
    -- a (ops), b (db), c (untagged), d (ops and db), by Apprise's YAML and notifyhub's form
    local function yaml()
      return write("notifyhub.yml", table.concat({
        "urls:",
        "  - " .. hook("a") .. ":",
        "      tag: ops",
        "  - " .. hook("b") .. ":",
        "      - tag: db",
        "  - " .. hook("c"),
        "  - url: " .. hook("dT0KEN"),
        "    tags: [ops, db]",
      }, "\n") .. "\n")
    end
    local function reached()
      local got = {}
      for _, name in ipairs({ "a", "b", "c", "dT0KEN" }) do
        if server.count("/webhook/" .. name) > 0 then got[#got + 1] = name end
      end
      server.clear()
      return table.concat(got, " ")
    end

    it("--tag follows Apprise's rules: none = untagged, a,b = AND, repeated = OR, all = every one", function()
      local cfg = yaml()
      local cases = {
        { {}, "c" },
        { { "--tag", "ops" }, "a dT0KEN" },
        { { "--tag", "ops,db" }, "dT0KEN" },
        { { "-g", "ops", "-g", "db" }, "a b dT0KEN" },
        { { "--tag", "all" }, "a b c dT0KEN" },
      }
      for _, case in ipairs(cases) do
        local args = { "send", "-b", "x", "--config", cfg }
        for _, a in ipairs(case[1]) do args[#args + 1] = a end
        local status, _, err = run(args)
        assert.equal(0, status, err)
        assert.equal(case[2], reached(), table.concat(case[1], " "))
      end
    end)

    it("tags that reach nothing, or a bad tag, are status 2 and send nothing", function()
      local cfg = yaml()
      local status, _, err = run({ "send", "-b", "x", "-c", cfg, "--tag", "nope" })
      assert.equal(2, status)
      assert.truthy(err:find("no destination has the tags nope", 1, true), err)
      status, _, err = run({ "send", "-b", "x", "-c", cfg, "--tag", "a b!" })
      assert.equal(2, status)
      assert.truthy(err:find("--tag", 1, true), err)
      status, _, err = run({ "send", "--each", write("t.jsonl", '{"body":"x"}\n'), "-c", cfg, "--tag", "a b!" })
      assert.equal(2, status)
      assert.truthy(err:find("--tag", 1, true), err)
      assert.equal("", reached())
    end)

    it("command-line URLs join the config's, untagged; NOTIFYHUB_CONFIG when the command line names none", function()
      local cfg = yaml()
      local status, _, err = run({ "send", "-b", "x", "-c", cfg, hook("extra") })
      assert.equal(0, status, err)
      assert.equal(1, server.count("/webhook/extra"))
      assert.equal("c", reached())
      status, _, err = run({ "send", "-b", "x", "--tag", "db" }, { env = { NOTIFYHUB_CONFIG = cfg } })
      assert.equal(0, status, err)
      assert.equal("b dT0KEN", reached())
    end)

    it("--each lines choose with their own tags, or their own destinations", function()
      local cfg = yaml()
      local file = write("tags.jsonl", '{"body":"1","tags":"db"}\n{"body":"2"}\n{"body":"3","to":"'
        .. hook("own") .. '"}\n{"body":"4","tags":["nope"]}\n')
      local status, out, err = run({ "send", "--each", file, "-c", cfg, "--tag", "ops", "--json" })
      assert.equal(1, status, err)
      local by_line = {}
      for _, r in ipairs(json_lines(out)) do by_line[r.line] = r end
      assert.equal(2, by_line[1].total)       -- b, d
      assert.equal(2, by_line[2].total)       -- --tag ops: a, d
      assert.equal(1, by_line[3].total)       -- its own URL
      assert.equal("INVALID_MESSAGE", by_line[4].code)
      assert.equal(1, server.count("/webhook/own"))
    end)

    it("check lists every destination of the config with its tags; --tag narrows it", function()
      local cfg = yaml()
      local status, out, err = run({ "check", "-c", cfg })
      assert.equal(0, status, err)
      assert.truthy(out:find("[db, ops]", 1, true), out)
      assert.truthy(out:find("4 destination(s), config valid", 1, true), out)
      assert.falsy(out:find("dT0KEN", 1, true), out)
      status, out = run({ "check", "-c", cfg, "--tag", "ops", "--json" })
      assert.equal(0, status)
      local list = json_lines(out)
      assert.equal(2, #list)
      assert.same({ "ops" }, list[1].tags)
      assert.equal("", reached())
    end)

    it("a config that does not load is status 2, naming the file, the line and the key", function()
      local bad = write("bad.yml", "urls:\n  - " .. hook("x") .. "\nasync:\n  wokers: 3\n")
      local status, out, err = run({ "send", "-b", "x", "-c", bad })
      assert.equal(2, status)
      assert.equal("", out)
      assert.truthy(err:find(bad .. ":4: async.wokers: unknown key", 1, true), err)
      status, out, err = run({ "check", "-c", TMP .. "/missing.yml" })
      assert.equal(2, status)
      assert.equal("", out)
      assert.truthy(err:find("missing.yml", 1, true), err)
      status, out, err = run({ "check", "-c", write("scheme.yml", "urls:\n  - gopher://h/s3cr3t\n") })
      assert.equal(2, status)
      assert.equal("", out)
      assert.truthy(err:find("gopher", 1, true), err)
      assert.falsy(err:find("s3cr3t", 1, true), err)
    end)

    it("reads Apprise's TEXT config format", function()
      local cfg = write("apprise.txt", "# ops hooks\n" .. hook("plain") .. "\nops, db=" .. hook("tagged") .. "\n")
      local status, _, err = run({ "send", "-b", "x", "-c", cfg, "--tag", "db" })
      assert.equal(0, status, err)
      assert.equal(1, server.count("/webhook/tagged"))
      assert.equal(0, server.count("/webhook/plain"))
    end)

    it("reads a Lua config file", function()
      local cfg = write("notifyhub.lua", ("return { urls = { { url = %q, tags = { 'lua' } } } }"):format(hook("lua")))
      local status, _, err = run({ "send", "-b", "x", "-c", cfg, "--tag", "lua" })
      assert.equal(0, status, err)
      assert.equal(1, server.count("/webhook/lua"))
    end)
  end)

  describe("check and platforms", function()
    it("check validates the destinations, shows them redacted and sends nothing", function()
      local status, out, err = run({ "check", hook("chkT0KEN") })
      assert.equal(0, status, err)
      assert.truthy(out:find("ok  webhook", 1, true), out)
      assert.falsy(out:find("chkT0KEN", 1, true), out)
      status, out = run({ "check", "--json" }, { env = { NOTIFYHUB_URLS = hook("c1") .. " " .. hook("c2") } })
      assert.equal(0, status)
      assert.equal(2, #json_lines(out))
      -- a tgram:// URL with two chats is two destinations; tokens hidden
      status, out = run({ "check", "tgram://123456:AAbbCCtok/111/222", "slack://TA1/TB2/TC3secret" })
      assert.equal(0, status)
      assert.equal(4, #lines(out))
      for _, secret in ipairs({ "AAbbCCtok", "TC3secret" }) do assert.falsy(out:find(secret, 1, true), out) end
      status = run({ "check", "gopher://x/y" })
      assert.equal(2, status)
      status = run({ "check" })
      assert.equal(2, status)
      assert.equal(0, server.count("/webhook/"))
    end)

    it("platforms lists every platform the library knows", function()
      local status, out = run({ "platforms" })
      assert.equal(0, status)
      for _, name in ipairs(require("notifyhub").platforms) do
        assert.truthy(out:find(name, 1, true), name)
      end
      for scheme in pairs(require("notifyhub.url").schemes) do
        assert.truthy(out:find(" " .. scheme .. "://", 1, true), scheme)
      end
      status, out = run({ "platforms", "--json" })
      assert.equal(0, status)
      assert.equal(#require("notifyhub").platforms, #json_lines(out))
    end)
  end)
end)
