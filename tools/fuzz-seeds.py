#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/), in
the byte layouts the targets read (fuzz/*.c). Run from anywhere:

    python3 tools/fuzz-seeds.py

The seeds are small, realistic inputs: platform answers as the services
send them, messages and targets as the façade builds them, split/cut
bodies, metadata tables, URLs with tokens. Re-running rewrites them."""
import os
import re
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CORPUS = os.path.join(ROOT, "fuzz", "corpus")



def platform_names():
    """The platforms in nh_platform_id order, from the one list
    (csrc/nh_platforms.h): a fuzz target reads a byte % NH_PLATFORM_COUNT."""
    with open(os.path.join(ROOT, "csrc", "nh_platforms.h")) as f:
        text = f.read()
    body = text.split("#define NH_PLATFORMS(X)", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"X\(\w+,\s*(\w+)\)", body)


PLATFORMS = platform_names()
P = {name: i for i, name in enumerate(PLATFORMS)}


def u8(v):
    return bytes([v & 0xFF])


def u16(v):
    return struct.pack(">H", v)


def fz_str(s, maxlen):
    """fz_str(): a length byte (scaled when maxlen > 255), then the bytes; a
    NUL pads what the scaled length asks for beyond the text."""
    if isinstance(s, str):
        s = s.encode()
    scale = maxlen // 255 + 1 if maxlen > 255 else 1
    n = -(-len(s) // scale)
    assert n <= 255 and n * scale <= maxlen + scale, (s, maxlen)
    return u8(n) + s + b"\0" * (n * scale - len(s))


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- classify: platform, status (index into the common list), options, body

STATUS = [200, 201, 202, 204, 301, 400, 401, 403, 404, 408, 413, 429, 500, 502, 503, 504,
          0, 100, 299, 300, 199, 999]


def answer(platform, status, body, opts=0):
    return u8(P[platform]) + u16(STATUS.index(status)) + u8(opts) + body.encode()


CLASSIFY = {
    "feishu-ok": answer("feishu", 200, '{"code":0,"msg":"success","data":{}}'),
    "feishu-sign": answer("feishu", 200, '{"code":19021,"msg":"sign match fail or timestamp is '
                          'not within one hour from current time"}'),
    "feishu-legacy": answer("feishu", 200, '{"Extra":null,"StatusCode":0,"StatusMessage":"success"}'),
    "feishu-limited": answer("feishu", 200, '{"code":11232,"msg":"frequency limited psm"}'),
    "feishu-400": answer("feishu", 400, '{"code":9499,"msg":"Bad Request"}'),
    "webhook-204": answer("webhook", 204, ""),
    "webhook-503": answer("webhook", 503, "<html><body>503 Service Unavailable</body></html>"),
    "slack-ok": answer("slack", 200, "ok"),
    "slack-invalid": answer("slack", 400, "invalid_payload"),
    "slack-gone": answer("slack", 404, "no_service"),
    "dingtalk-ok": answer("dingtalk", 200, '{"errcode":0,"errmsg":"ok"}'),
    "dingtalk-fast": answer("dingtalk", 200, '{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}'),
    "wecom-ip": answer("wecom", 200, '{"errcode":45009,"errmsg":"api freq out of limit, from ip: '
                       '203.0.113.7, more info at https://open.work.weixin.qq.com/devtool/query?e=45009"}'),
    "discord-429": answer("discord", 429, '{"message": "You are being rate limited.", '
                          '"retry_after": 0.523, "global": false, "code": 0}', 1 | 2),
    "discord-204": answer("discord", 204, ""),
    "telegram-ok": answer("telegram", 200, '{"ok":true,"result":{"message_id":7,"chat":{"id":42}}}', 1),
    "telegram-429": answer("telegram", 429, '{"ok":false,"error_code":429,"description":"Too Many '
                           'Requests: retry after 5","parameters":{"retry_after":5}}'),
    "telegram-400": answer("telegram", 400, '{"ok":false,"error_code":400,"description":"Bad '
                           'Request: can\'t parse entities"}', 1 | 4),
    "teams-202": answer("teams", 202, ""),
    "email-250": answer("email", 200, ""),
    "matrix-ok": answer("matrix", 200, '{"event_id":"$YUwRidLecu:example.com"}'),
    "matrix-429": answer("matrix", 429, '{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests",'
                         '"retry_after_ms":2000}'),
    "matrix-403": answer("matrix", 403, '{"errcode":"M_FORBIDDEN","error":"You are not in this room."}'),
    "pagerduty-202": answer("pagerduty", 202, '{"status":"success","message":"Event processed",'
                            '"dedup_key":"srv01/HTTP"}'),
    "pagerduty-400": answer("pagerduty", 400, '{"status":"invalid event","message":"Event object is '
                            'invalid","errors":["Length of \'routing_key\' is incorrect"]}'),
    "opsgenie-202": answer("opsgenie", 202, '{"result":"Request will be processed","took":0.302,'
                           '"requestId":"43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}'),
    "opsgenie-401": answer("opsgenie", 401, '{"message":"Could not authenticate","took":0.001,'
                           '"requestId":"r"}'),
    "bark-ok": answer("bark", 200, '{"code":200,"message":"success","timestamp":1700000000}'),
    "bark-400": answer("bark", 400, '{"code":400,"message":"failed to get device token: failed to '
                       'get [x] device token from database","timestamp":1700000000}'),
    "serverchan-ok": answer("serverchan", 200, '{"code":0,"message":"","data":{"pushid":"1","readkey":'
                            '"rk","error":"SUCCESS","errno":0}}'),
    "serverchan-bad": answer("serverchan", 200, '{"code":40001,"message":"bad pushtoken","data":null}'),
    "pushplus-ok": answer("pushplus", 200, '{"code":200,"msg":"请求成功","data":"075074e3c17e449e9a0cb79cc6f3fc83"}'),
    "pushplus-900": answer("pushplus", 200, '{"code":900,"msg":"用户账号使用受限","data":null}'),
}

# ---- render: see fuzz/render.c for the order of the fields

# corpus_keys of fuzz/render.c, in its order (a seed names a key by its index);
# the fuzzer adds the descriptors' other option keys after them by itself.
OPTION_KEYS = ["template", "content_type", "parse_mode", "chat_id", "mentions", "username",
               "icon_emoji", "icon_url", "channel", "at_mobiles", "at_user_ids", "at_all",
               "mentioned_list", "mentioned_mobile_list", "avatar_url", "wait",
               "disable_notification", "from", "to", "cc", "bcc", "tls"]
DATA_KEYS = ["msg_type", "card", "image_key", "share_chat_id", "mentions", "blocks",
             "actionCard", "embeds", "allowed_mentions", "attachments"]
MSG_TYPES = ["text", "post", "interactive", "image", "share_chat", "x"]
FORMATS = ["text", "markdown", "html", None, "rtf"]


def j_string(s):
    return u8(0) + fz_str(s, 200)


def j_list(items):
    return u8(1) + u8(len(items)) + b"".join(fz_str(s, 60) for s in items)


def j_bool(b):
    return u8(2) + u8(1 if b else 0)


def j_json(text):
    return u8(4) + fz_str(text, 300)


def j_attachments(files):
    out = u8(5) + u8(len(files))
    for name, content in files:
        out += fz_str(name, 80) + fz_str(content, 200) + u8(1)
    return out


def option(key, value):
    """value: bytes of an fz_json, or ('ours', n) / ('mode', v2) / 'fixed'."""
    k = u8(OPTION_KEYS.index(key))
    if key in ("template", "parse_mode", "from", "to"):
        if isinstance(value, tuple) and value[0] == "ours":
            return k + u8(1) + u8(value[1])
        if isinstance(value, tuple) and value[0] == "mode":
            return k + u8(1) + u8(1 if value[1] else 0)
        if value == "fixed":
            return k + u8(1)
        return k + u8(0) + value
    return k + value


def data(key, value):
    k = u8(DATA_KEYS.index(key))
    if key == "msg_type":
        return k + u8(MSG_TYPES.index(value))
    return k + value


def message(platform, fmt="text", title=None, body="", msg_id="0123456789abcdef-1",
            priority=1, secret=None, whsec=False, keywords=None, header="X-Team: ops",
            options=None, platform_data=None, metadata=None, https=True):
    flags = (1 if https else 0) | (2 if secret is not None else 0) | (4 if whsec else 0)
    flags |= (8 if keywords else 0) | (16 if options else 0) | (32 if platform_data else 0)
    flags |= (64 if metadata else 0) | (128 if title is not None else 0)
    out = u8(P[platform]) + u16(flags) + u8(FORMATS.index(fmt)) + fz_str(msg_id, 64) + u8(priority)
    if secret is not None:
        out += fz_str(secret, 80)
    if keywords:
        out += u8(len(keywords) - 1) + b"".join(fz_str(k, 20) for k in keywords)
        out += fz_str(header, 60)
    if options:
        out += u8(len(options) - 1) + b"".join(option(k, v) for k, v in options)
    if platform_data:
        out += u8(len(platform_data) - 1) + b"".join(data(k, v) for k, v in platform_data)
    if metadata:
        out += fz_str(metadata, 200)
    if title is not None:
        out += fz_str(title, 300)
    return out + body.encode()


CARD = '{"header":{"title":{"tag":"plain_text","content":"Alert"}},"elements":[{"tag":"div","text":{"tag":"lark_md","content":"**cpu** 93%"}}]}'
RENDER = {
    "feishu-text": message("feishu", title="Deploy finished", body="api v1.2.3 is live"),
    "feishu-post-md": message("feishu", "markdown", title="Build #42",
                              body="see [the log](https://ci.example/42)\nsecond line [x](y)"),
    "feishu-keyword-signed": message("feishu", body="disk almost full on db-1",
                                     secret="s3cr3t-feishu", keywords=["alert", "ops"],
                                     options=[("mentions", j_list(["all", "ou_123"]))]),
    "feishu-card": message("feishu", body="fallback", platform_data=[
        ("msg_type", "interactive"), ("card", j_json(CARD))]),
    "webhook-json": message("webhook", title="Disk", body="92% used",
                            metadata='{"host":"db-1","tags":["prod"]}'),
    "webhook-template": message("webhook", title='Say "hi"', body="line1\nline2\t\\", options=[
        ("template", ("ours", 0)), ("content_type", j_string("application/json"))]),
    "webhook-whsec": message("webhook", body="signed", secret="MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                             whsec=True),
    "telegram-md": message("telegram", "markdown", title="<b>x</b> & y",
                           body="**bold** *it* `code` [link](https://e.x/?a=1&b=2)",
                           options=[("chat_id", u8(3) + u16(42))]),
    "telegram-v2": message("telegram", title="v1.2", body="a_b*c[d](e)~f!",
                           options=[("parse_mode", ("mode", True)), ("chat_id", j_string("@ops"))]),
    "slack-md": message("slack", "markdown", title="Deploy <prod>",
                        body="see [run 7](https://ci.example/run?id=7|x) & more",
                        options=[("username", j_string("notifyhub")), ("channel", j_string("#ops"))],
                        platform_data=[("blocks", j_json('[{"type":"section","text":{"type":"mrkdwn","text":"*hi*"}}]'))]),
    "dingtalk-md-signed": message("dingtalk", "markdown", title="Alert", body="cpu 93%",
                                  secret="SECabc123", options=[
                                      ("at_mobiles", j_list(["13800000000"])), ("at_all", j_bool(False))]),
    "wecom-md": message("wecom", "markdown", title="Alert", body="> cpu <font color=\"warning\">93%</font>"),
    "discord-wait": message("discord", title="Deploy", body="done", options=[
        ("wait", j_bool(True)), ("avatar_url", j_string("https://e.x/a.png"))],
        platform_data=[("embeds", j_json('[{"title":"t","description":"d"}]'))]),
    "teams-card": message("teams", title="Deploy", body="done",
                          platform_data=[("card", j_json('{"type":"AdaptiveCard","version":"1.4","body":[]}'))]),
    "email-html": message("email", "html", title="\u00dcberwachung \u2013 Alarm f\u00fcr db-1",
                          body="<p>cpu <b>93%</b></p>", https=False, secret="pw",
                          options=[("from", "fixed"), ("to", "fixed"), ("tls", j_string("starttls"))],
                          platform_data=[("attachments", j_attachments([("report.txt", "a,b\n1,2\n")]))]),
    "email-md": message("email", "markdown", title="Weekly", body="**bold** [l](https://e.x)\nline 2",
                        https=False, options=[("from", "fixed"), ("to", "fixed")]),
}

# ---- plan: platform (index in PLATFORMS), flags, limit, [title], body

def plan(platform, body, limit=0, real=False, fmt=0, overflow=1, mode=None, title=None):
    flags = (0 if real else 1) | (fmt << 2) | (overflow << 4)
    if mode is not None:
        flags |= 64 | (128 if mode == "MarkdownV2" else 0)
    if title is not None:
        flags |= 128
    out = u8(P[platform]) + u8(flags) + u16(limit)
    if title is not None:
        out += fz_str(title, 120)
    return out + body.encode()


WORDS = "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n" * 6
PLAN = {
    "telegram-split-utf8": plan("telegram", "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 " * 12, limit=40),
    "telegram-cut-md": plan("telegram", "**bold** *it* `code` " * 10, limit=50, fmt=1, overflow=0, title="T"),
    "discord-split-lines": plan("discord", WORDS, limit=90, title="Deploy"),
    "slack-split-links": plan("slack", "[a](https://e.x/1) & <b> " * 8, limit=60, fmt=1),
    "wecom-bytes": plan("wecom", "\u00e9t\u00e9 \u00e0 \u00fcber " * 20, limit=33),
    "feishu-cut": plan("feishu", "line with [link](https://e.x)\n" * 10, limit=400, fmt=1, overflow=0, title="T"),
    "dingtalk-emoji": plan("dingtalk", "\U0001F600\U0001F680 ok " * 15, limit=37, overflow=1),
    "teams-real-limit": plan("teams", "x" * 300, real=True),
    "telegram-error": plan("telegram", "y" * 200, limit=100, overflow=2),
}

# ---- json: a recipe of stack operations (fuzz/json.c)

OP_INT, OP_INT64, OP_FLOAT, OP_STR, OP_BOOL, OP_TABLE, OP_SET, OP_APPEND, OP_CYCLE, OP_WRAP = range(10)


def r_str(s):
    if isinstance(s, str):
        s = s.encode()
    return u8(OP_STR) + u8(len(s)) + s


def r_int(v):
    return u8(OP_INT) + u8(v & 0xFF)


JSON = {
    "object": u8(OP_TABLE) + r_str("host") + r_str("db-1") + u8(OP_SET)
              + r_str("cpu") + r_int(93) + u8(OP_SET) + r_str("ok") + u8(OP_BOOL) + u8(1) + u8(OP_SET),
    "array": u8(OP_TABLE) + r_int(1) + u8(OP_APPEND) + r_str("two") + u8(OP_APPEND)
             + u8(OP_FLOAT) + struct.pack(">d", 2.5) + u8(OP_APPEND),
    "nested": u8(OP_TABLE) + r_str("tags") + u8(OP_TABLE) + r_str("prod") + u8(OP_APPEND)
              + r_str("eu") + u8(OP_APPEND) + u8(OP_SET) + r_str("meta") + u8(OP_TABLE) + u8(OP_SET),
    "cycle": u8(OP_TABLE) + r_str("a") + r_int(1) + u8(OP_SET) + u8(OP_CYCLE) + u8(1),
    "deep": r_str("leaf") + u8(OP_WRAP) * 40,
    "mixed-keys": u8(OP_TABLE) + r_int(1) + r_str("x") + u8(OP_SET) + r_str("k") + r_str("v") + u8(OP_SET),
    "holes": u8(OP_TABLE) + r_int(0) + r_str("zero") + u8(OP_SET) + r_int(1) + r_str("one") + u8(OP_SET)
             + r_int(2) + r_str("two") + u8(OP_SET) + r_int(4) + r_str("four") + u8(OP_SET),
    "odd-numbers": u8(OP_TABLE) + r_str("nan") + u8(OP_FLOAT) + struct.pack(">d", float("nan")) + u8(OP_SET)
                   + r_str("big") + u8(OP_INT64) + struct.pack(">q", 2**62 + 1) + u8(OP_SET)
                   + r_str("nul") + r_str("a\0b") + u8(OP_SET),
}

# ---- redact: a prefix index, then the rest of the string

PREFIXES = ["", "https://", "http://", "https://user:pass@", "HTTPS://", "mailto:", "https://h/",
            "https://hooks.slack.com/services/", "https://open.feishu.cn/open-apis/bot/v2/hook/",
            "https://h?token="]
REDACT = {
    "slack": u8(7) + b"T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    "feishu": u8(8) + b"0123abcd-4567-89ef-0123-456789abcdef?lang=en#top",
    "telegram": u8(0) + b"https://api.telegram.org/bot123456:ABC-DEF1234ghIkl/sendMessage?chat_id=42",
    "userinfo": u8(0) + b"https://ops:correct-horse-battery@hooks.example.com:8443/v1/hooks/tok_abcdef123456?sig=9f86d081884c7d65&x=1",
    "teams": u8(1) + b"prod-00.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers&sig=AbCdEfGhIjKlMnOp",
    "email": u8(0) + b"ops@example.com",
    "not-a-url": u8(0) + b"ftp://files.example.com/drop/secret-file-name",
    "query-only": u8(9) + b"abcdefghijklmnop&lang=en",
}

# ---- text: the renderer (0 html as text, 1 e-mail HTML, 2 + nh_md_style), then the text

TEXT_MODES = ["html", "email", "slack", "telegram", "telegram-v2", "dingtalk", "wecom", "teams",
              "feishu", "html-telegram", "discord", "pushover", "rocketchat", "gchat"]  # fuzz/text.c's modes
MD_SAMPLE = ("# Release 2.0\n\nSome **bold**, *italic* and `x < y` & [notes](https://e.example/n?a=1&b=2)."
             "\n\n- one\n- two\n  1. nested\n\n> quoted\n> > deeper\n\n```lua\nprint(1 < 2)\n```\n\n---\n"
             "<b>raw</b> [js](javascript:alert(1)) ![img](data:image/png;base64,AA) <https://auto.example>")
TEXT = {"md-" + name: u8(i) + MD_SAMPLE.encode() for i, name in enumerate(TEXT_MODES)
        if 1 <= i < len(TEXT_MODES) and name != "html-telegram"}
TEXT.update({
    "html-mixed": u8(0) + b'<html><head><title>T</title></head><body><h1>Hi &amp; <a href="https://x/?a=1&amp;b=2">'
                  b'link</a></h1><ul><li>a<ol><li>b</ol></ul><pre>\n x\n\n y</pre><script>var p = "<p>";</script>'
                  b'&#x1F600; caf&eacute; &#0; &#99999999999;<br><br><br>end',
    "html-cut-tag": u8(0) + b"a <a href='https://x",
    "html-cut-entity": u8(0) + b"a &#x1F60",
    "html-cut-comment": u8(0) + b"a <!-- never closed",
    "deep-quotes": u8(1) + b"> " * 60 + b"x\nlazy\nlines",
    "html-telegram": u8(TEXT_MODES.index("html-telegram")) + b'<h1>Deploy</h1>\n<p>done <b>ok <i>x</b> y</i> <a href="https://e.example/?a=1&amp;b=2">log</a>'
                     b' <a href="javascript:x">js</a></p><blockquote>q<blockquote>qq</blockquote></blockquote>'
                     b'<pre><code class="language-py">1 < 2 &amp; <b>no</b></code></pre><ul><li>a</li></ul><span>s</span>',
})


def main():
    for target, seeds in (("classify", CLASSIFY), ("render", RENDER), ("plan", PLAN),
                          ("json", JSON), ("redact", REDACT), ("text", TEXT)):
        for name, blob in seeds.items():
            write(target, name, blob)
        print("fuzz/corpus/%s: %d seeds" % (target, len(seeds)))


if __name__ == "__main__":
    main()
