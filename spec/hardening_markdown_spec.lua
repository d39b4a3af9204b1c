-- Markdown through cmark and HTML as text (hardening issue, item 14): one
-- markdown message with a heading, a nested list, a code span and block, a
-- quote, bold, italic and a link, sent to every platform that renders
-- markdown; what arrives at the loopback stand-in is each platform's own
-- markup (Telegram's is parsed by the stand-in as Telegram would). An html
-- body reaches the platforms that cannot show HTML, and the text/plain
-- part of an e-mail, as plain text with "text (url)" links.

local notifyhub = require("notifyhub")
local server = require("spec.support.server")
local smtp = require("spec.support.smtp")
local cjson = require("cjson")

local MD = table.concat({
  "# Release 2.0",
  "",
  "Some **bold**, *italic* and `x < y` & [the notes](https://e.example/n?a=1&b=2).",
  "",
  "- one",
  "- two",
  "  - nested",
  "",
  "> quoted",
  "",
  "```lua",
  "print(1 < 2)",
  "```",
}, "\n")

local HTML = '<h1>Report &amp; summary</h1>\n<p>See   <a href="https://e.example/r?a=1&amp;b=2">the'
  .. ' report</a>.<br>Next line</p><ul><li>one</li><li>two</li></ul>'
  .. '<script>var x = "<p>hidden</p>";</script><style>p { color: red }</style>'
  .. '<p>caf&eacute; &#8212; &#x263A; &lt;ok&gt;</p>'
local HTML_TEXT = "Report & summary\n\nSee the report (https://e.example/r?a=1&b=2).\nNext line"
  .. "\n\n- one\n- two\n\ncafé — ☺ <ok>"

local function last(prefix)
  local reqs = server.requests(prefix)
  local req = assert(reqs[#reqs], "nothing arrived under " .. prefix)
  return cjson.decode(req.body)
end

describe("markdown (cmark) and html as text", function()
  setup(function() server.start() end)
  teardown(function() server.stop() end)
  before_each(function() server.clear() end)

  describe("slack", function()
    local function hook() return server.url("/services/T000/B000/md") end

    it("renders markdown as mrkdwn", function()
      local c = notifyhub.new({ slack = { webhook_url = hook() } })
      assert(c:send({ body = MD, format = "markdown" }))
      assert.equal(table.concat({
        "*Release 2.0*",
        "",
        "Some *bold*, _italic_ and `x &lt; y` &amp; <https://e.example/n?a=1&amp;b=2|the notes>.",
        "",
        "\u{2022} one",
        "\u{2022} two",
        "  \u{2022} nested",
        "",
        "> quoted",
        "",
        "```",
        "print(1 &lt; 2)",
        "```",
      }, "\n"), last("/services/").text)
      c:close()
    end)

    it("turns **bold** into *bold*, and drops a javascript: link's address", function()
      local c = notifyhub.new({ slack = { webhook_url = hook() } })
      assert(c:send({ title = "T", body = "**bold** and __also__ [x](javascript:alert(1))\n"
        .. "[two\nlines](https://e.example)", format = "markdown" }))
      assert.equal("*T*\n*bold* and *also* x\n<https://e.example|two lines>", last("/services/").text)
      c:close()
    end)

    it("numbers ordered lists from their start, nested ones indented under the text", function()
      local c = notifyhub.new({ slack = { webhook_url = hook() } })
      assert(c:send({ body = "3. c\n4. d\n   - e\n\n   f\n10. g", format = "markdown" }))
      assert.equal("3. c\n\n4. d\n\n   \u{2022} e\n\n   f\n\n5. g", last("/services/").text)
      c:close()
    end)

    it("sends an html body as its text, escaped for Slack", function()
      local c = notifyhub.new({ slack = { webhook_url = hook() } })
      assert(c:send({ body = '<p>a &amp; <b>b</b> <a href="https://e.example">c</a></p>', format = "html" }))
      assert.equal("a &amp; b c (https://e.example)", last("/services/").text)
      c:close()
    end)
  end)

  describe("telegram", function()
    local function tg(mode)
      return notifyhub.new({ telegram = { token = "123:TOKEN", chat_id = "42", parse_mode = mode,
        api_url = server.url(""), rate_limit = false }, retry = { max_attempts = 1 } })
    end

    it("renders markdown as Telegram HTML, which the stand-in parses", function()
      local c = tg()
      local receipt = assert(c:send({ body = MD, format = "markdown" }))
      assert.is_true(receipt.results[1].success)
      assert.equal(table.concat({
        "<b>Release 2.0</b>",
        "",
        'Some <b>bold</b>, <i>italic</i> and <code>x &lt; y</code> &amp; '
          .. '<a href="https://e.example/n?a=1&amp;b=2">the notes</a>.',
        "",
        "\u{2022} one",
        "\u{2022} two",
        "  \u{2022} nested",
        "",
        "<blockquote>quoted</blockquote>",
        "",
        '<pre><code class="language-lua">print(1 &lt; 2)</code></pre>',
      }, "\n"), last("/bot").text)
      c:close()
    end)

    it("renders markdown as MarkdownV2, which the stand-in parses", function()
      local c = tg("MarkdownV2")
      local receipt = assert(c:send({ body = MD, format = "markdown" }))
      assert.is_true(receipt.results[1].success)
      assert.equal(table.concat({
        "*Release 2\\.0*",
        "",
        "Some *bold*, _italic_ and `x < y` & [the notes](https://e.example/n?a=1&b=2)\\.",
        "",
        "\u{2022} one",
        "\u{2022} two",
        "  \u{2022} nested",
        "",
        ">quoted",
        "",
        "```lua",
        "print(1 < 2)",
        "```",
      }, "\n"), last("/bot").text)
      c:close()
    end)

    it("keeps Telegram's tags of an html body and turns the others into text", function()
      local c = tg()
      local receipt = assert(c:send({ body = '<h1>Deploy</h1>\n<p>done <b>ok</b> &amp; '
        .. '<a href="https://e.example/?a=1&amp;b=2">log</a> <a href="javascript:x">js</a></p>'
        .. '<ul><li>a</li></ul><blockquote>q</blockquote><pre><code class="language-py">if x < 1:\n'
        .. '    y()</code></pre><span>s</span>\nline <i>open', format = "html" }))
      assert.is_true(receipt.results[1].success)
      assert.equal('Deploy\n\ndone <b>ok</b> &amp; <a href="https://e.example/?a=1&amp;b=2">log</a> js'
        .. '\n\n- a\n\n<blockquote>q</blockquote><pre><code class="language-py">if x &lt; 1:\n'
        .. '    y()</code></pre>s\nline <i>open</i>', last("/bot").text)
      c:close()
    end)

    it("does not nest blockquotes, which Telegram refuses", function()
      local c = tg()
      local receipt = assert(c:send({ body = "> a\n>\n> > b", format = "markdown" }))
      assert.is_true(receipt.results[1].success)
      assert.equal("<blockquote>a\n\nb</blockquote>", last("/bot").text)
      c:close()
    end)
  end)

  describe("discord", function()
    it("renders markdown in Discord's dialect and sends html as text", function()
      local c = notifyhub.new({ discord = { webhook_url = server.url("/api/webhooks/1/t") } })
      assert(c:send({ body = MD, format = "markdown" }))
      assert.equal(MD, last("/api/webhooks/").content)    -- CommonMark that Discord reads the same
      -- __bold__ is underline on Discord, #### is not a heading there, a text
      -- that looks like markup stays text, images are links
      assert(c:send({ body = "__b__ _i_ a\\_b\\_c ~x~ \\# no\n#### H4\n\n![img](http://i/x.png)",
        format = "markdown" }))
      assert.equal("**b** *i* a\\_b\\_c \\~x\\~ \\# no\n\n**H4**\n\n[img](http://i/x.png)",
        last("/api/webhooks/").content)
      assert(c:send({ title = "T", body = HTML, format = "html" }))
      assert.equal("**T**\n" .. HTML_TEXT, last("/api/webhooks/").content)
      c:close()
    end)

    it("survives html cut inside a tag or an entity", function()
      local c = notifyhub.new({ discord = { webhook_url = server.url("/api/webhooks/1/t") } })
      assert(c:send({ body = "a<b>b</b> &amp &#x41 &#xZZ; &#99999999999; x <a href='y", format = "html" }))
      assert.equal("ab &amp A &#xZZ; \u{FFFD} x", last("/api/webhooks/").content)
      assert(c:send({ body = "a <!-- never closed", format = "html" }))
      assert.equal("a", last("/api/webhooks/").content)
      assert(c:send({ body = "<ul><li><p>a</p></li><li></li><li>b<ul><li>c</ul></ul>", format = "html" }))
      assert.equal("- a\n\n- \n- b\n  - c", last("/api/webhooks/").content)
      assert(c:send({ body = "<ol start=\"3\"><li>x<li>y</ol><ol start=-1><li>z</ol>", format = "html" }))
      assert.equal("3. x\n4. y\n\n1. z", last("/api/webhooks/").content)
      c:close()
    end)
  end)

  describe("dingtalk and wecom", function()
    it("renders DingTalk's markdown subset", function()
      local c = notifyhub.new({ dingtalk = { webhook_url = server.url("/robot/send?access_token=md") } })
      assert(c:send({ title = "Rel", body = MD .. "\n\nline  \nbreak __b__ * star", format = "markdown" }))
      assert.equal(table.concat({
        "### Rel",
        "",
        "# Release 2.0",
        "",
        "Some **bold**, *italic* and `x < y` & [the notes](https://e.example/n?a=1&b=2).",
        "",
        "- one",
        "- two",
        "  - nested",
        "",
        "> quoted",
        "",
        "```lua",
        "print(1 < 2)",
        "```",
        "",
        "line  ",                               -- DingTalk breaks a line after two spaces
        "break **b** * star",
      }, "\n"), last("/robot/send").markdown.text)
      c:close()
    end)

    it("renders WeCom's subset: no italic, code blocks as lines", function()
      local c = notifyhub.new({ wecom = { webhook_url = server.url("/cgi-bin/webhook/send?key=md") } })
      assert(c:send({ title = "Rel", body = MD .. '\n\n<font color="warning">hot</font>', format = "markdown" }))
      assert.equal(table.concat({
        "**Rel**",
        "# Release 2.0",
        "",
        "Some **bold**, italic and `x < y` & [the notes](https://e.example/n?a=1&b=2).",
        "",
        "- one",
        "- two",
        "  - nested",
        "",
        "> quoted",
        "",
        "print(1 < 2)",
        "",
        '<font color="warning">hot</font>',
      }, "\n"), last("/cgi-bin/").markdown.content)
      c:close()
    end)

    it("sends an html body as text in their text messages", function()
      local c = notifyhub.new({ wecom = { webhook_url = server.url("/cgi-bin/webhook/send?key=h") } })
      assert(c:send({ title = "T", body = HTML, format = "html" }))
      assert.equal("T\n" .. HTML_TEXT, last("/cgi-bin/").text.content)
      c:close()
    end)
  end)

  describe("teams", function()
    it("renders the TextBlock markdown subset and html as text", function()
      local c = notifyhub.new({ teams = {
        webhook_url = server.url("/workflows/md/triggers/manual/paths/invoke?api-version=1&sig=S") } })
      assert(c:send({ title = "Rel", body = MD, format = "markdown" }))
      local card = last("/workflows/").attachments[1].content
      assert.equal("Rel", card.body[1].text)
      assert.equal(table.concat({
        "**Release 2.0**",
        "",
        "Some **bold**, _italic_ and `x < y` & [the notes](https://e.example/n?a=1&b=2).",
        "",
        "- one",
        "- two",
        "  - nested",
        "",
        "> quoted",
        "",
        "print(1 < 2)",
      }, "\n"), card.body[2].text)
      assert(c:send({ body = HTML, format = "html" }))
      assert.equal(HTML_TEXT, last("/workflows/").attachments[1].content.body[1].text)
      c:close()
    end)
  end)

  describe("feishu", function()
    local function hook() return server.url("/open-apis/bot/v2/hook/md") end

    local function text(s, style) return { tag = "text", text = s, style = style } end

    it("renders markdown as post paragraphs with styles and a tags", function()
      local c = notifyhub.new({ feishu = { webhook_url = hook() } })
      assert(c:send({ title = "Rel", body = MD, format = "markdown" }))
      local post = last("/open-apis/").content.post.zh_cn
      assert.equal("Rel", post.title)
      assert.same({
        { text("Release 2.0", { "bold" }) },
        { text("") },
        { text("Some "), text("bold", { "bold" }), text(", "), text("italic", { "italic" }),
          text(" and x < y & "), { tag = "a", text = "the notes", href = "https://e.example/n?a=1&b=2" },
          text(".") },
        { text("") },
        { text("\u{2022} one") },
        { text("\u{2022} two") },
        { text("  \u{2022} nested") },
        { text("") },
        { text("> quoted") },
        { text("") },
        { text("print(1 < 2)") },
      }, post.content)
      c:close()
    end)

    it("keeps a bold link bold and an html body as text", function()
      local c = notifyhub.new({ feishu = { webhook_url = hook() } })
      assert(c:send({ body = "**see [x](https://e.example)**", format = "markdown" }))
      assert.same({ { text("see ", { "bold" }),
        { tag = "a", text = "x", href = "https://e.example", style = { "bold" } } } },
        last("/open-apis/").content.post.zh_cn.content)
      assert(c:send({ body = HTML, format = "html" }))
      assert.equal(HTML_TEXT, last("/open-apis/").content.text)
      c:close()
    end)
  end)

  describe("email", function()
    local s
    local PASSWORD = "pw-md-1"

    local function client()
      return notifyhub.new({ email = { host = s.host, port = s.port, tls = "starttls",
        username = "u", password = PASSWORD, from = "a@example.com", to = { "b@example.com" } },
        http = { ca_file = s.ca_file } })
    end

    setup(function() s = smtp.start({ user = "u", password = PASSWORD }) end)
    teardown(function() smtp.stop() end)
    before_each(function() smtp.clear() end)

    it("renders markdown as HTML with cmark, without raw HTML or javascript: links", function()
      local c = client()
      assert(c:send({ title = "Rel", body = MD .. "\n\n<img src=x onerror=alert(1)> [bad](javascript:alert(1))",
        format = "markdown" }))
      local mail = smtp.parse(smtp.wait_for(1, 5)[1].data)
      assert.same({}, mail.defects)
      local html = mail.tree.parts[2].text
      assert.matches("<h1>Release 2.0</h1>", html, 1, true)
      assert.matches("<ul>\n<li>one</li>\n<li>two\n<ul>\n<li>nested</li>\n</ul>\n</li>\n</ul>", html, 1, true)
      assert.matches("<strong>bold</strong>, <em>italic</em> and <code>x &lt; y</code> &amp; "
        .. '<a href="https://e.example/n?a=1&amp;b=2">the notes</a>', html, 1, true)
      assert.matches("<blockquote>\n<p>quoted</p>\n</blockquote>", html, 1, true)
      assert.matches('<pre><code class="language-lua">print(1 &lt; 2)\n</code></pre>', html, 1, true)
      assert.is_nil(html:find("onerror", 1, true))
      assert.is_nil(html:find("javascript:", 1, true))
      assert.equal(MD, (mail.tree.parts[1].text:match("^(.-)\n\n<img")))   -- the text part: the markdown
      c:close()
    end)

    it("keeps the author's line breaks in the HTML", function()
      local c = client()
      assert(c:send({ body = "line one\nline two", format = "markdown" }))
      local html = smtp.parse(smtp.wait_for(1, 5)[1].data).tree.parts[2].text
      assert.matches("<p>line one<br />\nline two</p>", html, 1, true)
      c:close()
    end)

    it("gives an html body a text/plain part that is its text, links as text (url)", function()
      local c = client()
      assert(c:send({ title = "Report", body = HTML, format = "html" }))
      local mail = smtp.parse(smtp.wait_for(1, 5)[1].data)
      assert.equal("multipart/alternative", mail.tree.type)
      assert.equal(HTML_TEXT, (mail.tree.parts[1].text:gsub("\n$", "")))
      assert.matches(HTML, mail.tree.parts[2].text, 1, true)
      c:close()
    end)
  end)
end)
