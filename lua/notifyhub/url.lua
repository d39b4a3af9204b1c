--- Apprise-style URLs: `slack://`, `discord://`, `tgram://`, `mailto://`,
-- `json://`, ... as notifyhub targets, with Apprise's forms and semantics
-- (https://github.com/caronc/apprise/wiki), so that an Apprise user's URLs
-- work unchanged.
--
-- `M.parse(url)` returns the list of targets a URL names (a `tgram://` URL
-- with two chats names two), each the table `notifyhub.target.<platform>`
-- builds: `{ platform = ..., value = ..., <options> }`; or nil and why. The
-- why never holds the URL or a part of it (tokens and passwords live there).
--
-- A scheme is one entry of `M.schemes`: its platform, the Apprise form for
-- errors and the README, a function from the split URL to targets, and
-- `overflow = true` when the platform takes Apprise's ?overflow=.
-- @module notifyhub.url

local M = {}

--- Where the fixed-host schemes send: the services' own base URLs
-- (`{team}` and `{host}` come from the URL). Tests and private gateways
-- may point them elsewhere.
M.bases = {
  slack = "https://hooks.slack.com",
  discord = "https://discord.com",
  tgram = "https://api.telegram.org",
  dingtalk = "https://oapi.dingtalk.com",
  wecombot = "https://qyapi.weixin.qq.com",
  lark = "https://open.larksuite.com",
  feishu = "https://open.feishu.cn",
  msteams = "https://{team}.webhook.office.com",
  workflows = "https://{host}",
}

local function decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function encode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

--- Splits `scheme://[user[:password]@]host[:port][/path][?query]` the way
-- Apprise reads it: the path's segments and every query value
-- percent-decoded, query keys lowercased except those of `+name` (HTTP
-- headers), `:name` (payload fields) and `-name` (query arguments to pass on). `#` is no fragment (Slack channels).
-- @treturn table|nil `{ scheme, authority, user, password, host, port, path
--   = { segments }, query = {}, headers = {}, fields = {} }`, or nil and why
function M.split(url)
  if type(url) ~= "string" then return nil, "a string expected" end
  if url:find("[%s%c]") then return nil, "a URL with spaces or control characters" end
  local scheme, rest = url:match("^(%a[%w+.-]*)://(.*)$")
  if not scheme then return nil, "no scheme://" end
  local head, query = rest:match("^([^?]*)%??(.*)$")
  local authority, path = head:match("^([^/]*)(.*)$")
  local u = { scheme = scheme:lower(), authority = authority, path = {}, query = {},
    headers = {}, fields = {}, params = {} }
  local userinfo, hostport = authority:match("^(.*)@([^@]*)$")
  hostport = hostport or authority
  if userinfo then
    local user, password = userinfo:match("^([^:]*):(.*)$")
    u.user, u.password = decode(user or userinfo), password and decode(password)
    if u.user == "" then u.user = nil end
  end
  local host, port = hostport:match("^(.-):(%d+)$")
  u.host, u.port = decode(host or hostport), port and tonumber(port)
  u.hostport = hostport
  for seg in path:gmatch("[^/]+") do u.path[#u.path + 1] = decode(seg) end
  for pair in query:gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    k, v = decode(k), decode(v)
    local prefix = k:sub(1, 1)
    if prefix == "+" and #k > 1 then u.headers[k:sub(2)] = v
    elseif prefix == ":" and #k > 1 then u.fields[k:sub(2)] = v
    elseif prefix == "-" and #k > 1 then u.params[#u.params + 1] = { k:sub(2), v }
    elseif k ~= "" then u.query[k:lower()] = v end
  end
  return u
end

-- Apprise's parse_bool: yes, true, on, enable(d), 1 (and their opposites).
local function bool(v, default)
  if v == nil or v == "" then return default end
  v = v:lower()
  if v:match("^[yt1]") or v == "on" or v:match("^enable") or v:match("^allow") then return true end
  return false
end

-- Apprise's parse_list: items separated by commas, spaces or semicolons.
local function list(...)
  local out = {}
  for _, s in ipairs({ ... }) do
    if type(s) == "table" then
      for _, v in ipairs(s) do out[#out + 1] = v end
    elseif s then
      for item in s:gmatch("[^,%s;]+") do out[#out + 1] = item end
    end
  end
  return out
end

local function base(scheme, vars)
  return (M.bases[scheme]:gsub("{(%w+)}", vars or {}):gsub("/+$", ""))
end

local function token_ok(s, pattern) return type(s) == "string" and s ~= "" and s:match(pattern) ~= nil end

local S = {}
M.schemes = S

-- slack://[botname@]TokenA/TokenB/TokenC[/#channel...]: an incoming webhook,
-- one target per channel (none: the webhook's own channel).
S.slack = { platform = "slack", overflow = true, form = "slack://[botname@]TokenA/TokenB/TokenC[/#channel]" }
function S.slack.parse(u)
  if u.host:match("^xox[bpa]%-") then
    return nil, "Slack bot and app tokens (xoxb-/xoxp-) need Slack's Web API, which notifyhub does not"
      .. " use: give the incoming webhook's three tokens"
  end
  local a, b, c = u.host, u.path[1], u.path[2]
  if not (token_ok(a, "^%w+$") and token_ok(b, "^%w+$") and token_ok(c, "^%w+$")) then
    return nil, "three tokens expected (letters and digits)"
  end
  local url = ("%s/services/%s/%s/%s"):format(base("slack"), a, b, c)
  local rest = {}
  for i = 3, #u.path do rest[#rest + 1] = u.path[i] end
  local channels = list(rest, u.query.to)
  local function one(channel)
    return { platform = "slack", value = url, username = u.query.botname or u.user, channel = channel }
  end
  if #channels == 0 then return { one(nil) } end
  local out = {}
  for i, ch in ipairs(channels) do out[i] = one(ch) end
  return out
end

-- discord://[botname@]WebhookID/WebhookToken
S.discord = { platform = "discord", overflow = true, form = "discord://[botname@]WebhookID/WebhookToken" }
function S.discord.parse(u)
  local id, token = u.host, u.path[1]
  if not (token_ok(id, "^%d+$") and token_ok(token, "^[%w_%-]+$")) then
    return nil, "a numeric webhook id and a webhook token expected"
  end
  return { { platform = "discord", value = ("%s/api/webhooks/%s/%s"):format(base("discord"), id, token),
    username = u.query.botname or u.user, avatar_url = u.query.avatar_url } }
end

-- tgram://BotToken/ChatID[/ChatID...]: one target per chat. The token
-- (123456:ABC-def) has a colon, so it is the whole authority.
S.tgram = { platform = "telegram", overflow = true, form = "tgram://BotToken/ChatID[/ChatID...]" }
function S.tgram.parse(u)
  local token = decode(u.authority):gsub("^bot", "")
  if not token:match("^%d+:[%w_%-]+$") then return nil, "a bot token (123456789:ABC...) expected" end
  local chats = list(u.path, u.query.to)
  if #chats == 0 then
    return nil, "no chat id (notifyhub does not guess one from getUpdates): tgram://BotToken/ChatID"
  end
  local out = {}
  for i, chat in ipairs(chats) do
    if not chat:match("^%-?%d+$") and not chat:match("^@[%w_]+$") then
      return nil, ("chat %d: a numeric chat id or an @channel name expected"):format(i)
    end
    out[i] = { platform = "telegram", value = chat, token = token, api_url = base("tgram"),
      disable_notification = bool(u.query.silent, nil) }
  end
  return out
end

-- dingtalk://[Secret@]Token[/Phone...]
S.dingtalk = { platform = "dingtalk", overflow = true, form = "dingtalk://[Secret@]Token[/Phone...]" }
function S.dingtalk.parse(u)
  local token = u.query.token or u.host
  local secret = u.query.secret or u.user
  if not token_ok(token, "^%w+$") then return nil, "a token (letters and digits) expected" end
  if secret and not token_ok(secret, "^%w+$") then return nil, "a secret of letters and digits expected" end
  local phones = {}
  for _, p in ipairs(list(u.path, u.query.to)) do
    local digits = p:gsub("%D", "")
    if #digits < 11 or #digits > 14 then return nil, "a phone number of 11 to 14 digits expected" end
    phones[#phones + 1] = digits
  end
  return { { platform = "dingtalk", value = ("%s/robot/send?access_token=%s"):format(base("dingtalk"), token),
    secret = secret, at_mobiles = #phones > 0 and phones or nil } }
end

-- wecombot://BotKey
S.wecombot = { platform = "wecom", overflow = true, form = "wecombot://BotKey" }
function S.wecombot.parse(u)
  local key = u.query.key or u.host
  if not token_ok(key, "^[%w_%-]+$") then return nil, "a bot key expected" end
  return { { platform = "wecom", value = ("%s/cgi-bin/webhook/send?key=%s"):format(base("wecombot"), key) } }
end

-- lark://Token (open.larksuite.com) and feishu://Token (open.feishu.cn);
-- ?secret= (a notifyhub addition) signs the requests.
local function bot(scheme)
  return { platform = "feishu", overflow = true, form = scheme .. "://Token", parse = function(u)
    local token = u.query.token or u.host
    if not token_ok(token, "^[%w_%-]+$") then return nil, "a bot token expected" end
    return { { platform = "feishu", value = ("%s/open-apis/bot/v2/hook/%s"):format(base(scheme), token),
      secret = u.query.secret } }
  end }
end
S.lark, S.feishu = bot("lark"), bot("feishu")

-- msteams://Team/TokenA/TokenB/TokenC[/TokenD]: an Office 365 connector
-- (Microsoft retires them); the three-token form is the legacy outlook one.
S.msteams = { platform = "teams", overflow = true, form = "msteams://Team/TokenA/TokenB/TokenC[/TokenD]" }
function S.msteams.parse(u)
  local parts = { u.host }
  for _, p in ipairs(u.path) do parts[#parts + 1] = p end
  local team, a, b, c, d
  if #parts == 3 then a, b, c = parts[1], parts[2], parts[3]
  elseif #parts == 4 or #parts == 5 then team, a, b, c, d = parts[1], parts[2], parts[3], parts[4], parts[5]
  else return nil, "a team name and three or four tokens expected" end
  if decode(u.authority):find("@") then a = (u.user or "") .. "@" .. u.host end   -- msteams://A@B/...
  if not (token_ok(a, "^[%w%-]+@?[%w%-]*$") and token_ok(b, "^%w+$") and token_ok(c, "^[%w%-]+$"))
    or (team and not token_ok(team, "^[%w_%-]+$")) or (d and not token_ok(d, "^[%w_%-]+$")) then
    return nil, "tokens of letters, digits and '-' expected"
  end
  local url
  if team then
    url = ("%s/webhookb2/%s/IncomingWebhook/%s/%s%s"):format(base("msteams", { team = team }), a, b, c,
      d and "/" .. d or "")
  else
    url = ("https://outlook.office.com/webhook/%s/IncomingWebhook/%s/%s"):format(a, b, c)
  end
  return { { platform = "teams", value = url } }
end

-- workflows://Host[:Port]/Workflow/Signature: a Power Automate (Workflows)
-- webhook, what Teams uses now.
S.workflows = { platform = "teams", overflow = true, form = "workflows://Host[:Port]/Workflow/Signature" }
function S.workflows.parse(u)
  local workflow, sig = u.path[1], u.path[2]
  if not token_ok(u.host, "^[%w%.%-]+$") then return nil, "a host name expected" end
  if not (token_ok(workflow, "^[%w_%-]+$") and token_ok(sig, "^[%w_%-]+$")) then
    return nil, "a workflow id and a signature expected"
  end
  local host = u.host .. (u.port and ":" .. u.port or "")
  return { { platform = "teams", value = ("%s/workflows/%s/triggers/manual/paths/invoke?api-version=%s"
    .. "&sp=%%2Ftriggers%%2Fmanual%%2Frun&sv=1.0&sig=%s"):format(base("workflows", { host = host }),
    workflow, encode(u.query["api-version"] or "2016-06-01"), encode(sig)) } }
end
S.workflow = S.workflows

-- json://[user[:password]@]host[:port][/path]: Apprise's JSON body
-- (version, title, message, attachments, type) with Basic auth, ?method=,
-- ?+Header=value, ?-arg=value (a query argument of the request),
-- ?:field=name (renames a field of the body; empty: removes it; another
-- name: adds it with that value); jsons:// is https.
local METHODS = { POST = true, GET = true, PUT = true, DELETE = true, HEAD = true, PATCH = true }

local function json(secure)
  return { platform = "webhook", form = (secure and "jsons" or "json")
    .. "://[user[:password]@]host[:port][/path][?method=POST&+X-Header=value]", parse = function(u)
    if not token_ok(u.host, "^[%w%.%-]+$") and not token_ok(u.host, "^%[[%x:%.]+%]$") then
      return nil, "a host name expected"
    end
    local method = (u.query.method or "POST"):upper()
    if not METHODS[method] then return nil, "method: one of POST, GET, PUT, DELETE, HEAD, PATCH expected" end
    local path = {}
    for i, seg in ipairs(u.path) do path[i] = encode(seg) end
    local auth = u.authority:match("^(.*)@") -- as written (percent-encoded)
    local query = {}
    for i, p in ipairs(u.params) do query[i] = encode(p[1]) .. "=" .. encode(p[2]) end
    local value = ("%s://%s%s/%s%s"):format(secure and "https" or "http", auth and auth .. "@" or "",
      u.hostport, table.concat(path, "/"), #query > 0 and "?" .. table.concat(query, "&") or "")
    local headers = next(u.headers) and u.headers or nil
    return { { platform = "webhook", value = value, method = method, headers = headers, payload = "apprise",
      fields = next(u.fields) and u.fields or nil } }
  end }
end
S.json, S.jsons = json(false), json(true)

-- mailto:// (plain SMTP, port 25) and mailtos:// (STARTTLS, 587; ?mode=ssl:
-- implicit TLS, 465): the user and the host make the From address, the
-- host is the SMTP server unless ?smtp= or a well-known provider says
-- otherwise, recipients are the path and ?to= (none: the sender).
-- Apprise's well-known providers (templates.py), where it is simple:
local PROVIDERS = {
  { "^gmail%.com$", "smtp.gmail.com", 587, "starttls" },
  { "^hotmail%.com$", "smtp-mail.outlook.com", 587, "starttls" },
  { "^hotmail%.com%.au$", "smtp-mail.outlook.com", 587, "starttls" },
  { "^live%.com$", "smtp-mail.outlook.com", 587, "starttls" },
  { "^live%.com%.au$", "smtp-mail.outlook.com", 587, "starttls" },
  { "^outlook%.com$", "smtp.outlook.com", 587, "starttls" },
  { "^outlook%.com%.au$", "smtp.outlook.com", 587, "starttls" },
  { "^yahoo%.com$", "smtp.mail.yahoo.com", 465, "implicit" },
  { "^yahoo%.ca$", "smtp.mail.yahoo.com", 465, "implicit" },
  { "^fastmail%.com$", "smtp.fastmail.com", 465, "implicit" },
  { "^zoho%.com$", "smtp.zoho.com", 587, "starttls" },
  { "^zohomail%.com$", "smtp.zoho.com", 587, "starttls" },
  { "^163%.com$", "smtp.163.com", 465, "implicit" },
  { "^qq%.com$", "smtp.qq.com", 587, "starttls" },
  { "^foxmail%.com$", "smtp.qq.com", 587, "starttls" },
}
local MODES = { ssl = "implicit", starttls = "starttls", insecure = "none" }
local PORTS = { implicit = 465, starttls = 587, none = 25 }

local function provider(domain)
  for _, p in ipairs(PROVIDERS) do
    if domain:lower():match(p[1]) then return p end
  end
end

local function mail(secure)
  return { platform = "email", form = (secure and "mailtos" or "mailto")
    .. "://[user:password@]domain[:port][/to...][?smtp=host&from=addr&to=addr&mode=ssl]", parse = function(u)
    local q = u.query
    local user, password = q.user or u.user, q.pass or q.password or u.password
    if not token_ok(u.host, "^[%w%.%-]+$") then return nil, "a domain expected" end
    local mode = q.mode and MODES[q.mode:lower()]
    if q.mode and not mode then return nil, "mode: one of ssl, starttls, insecure expected" end
    local known = not q.smtp and provider(u.host)
    local tls = mode or (known and known[4]) or (secure and "starttls" or "none")
    local mailbox = user and user:match("^[^%s@]+")
    if user and not mailbox then return nil, "user: a user name expected" end
    local from = mailbox and (mailbox .. "@" .. u.host) or nil
    local name = q.name
    if q.from then
      local n, a = q.from:match("^(.-)%s*<([^<>]+)>$")
      if n then name, from = n ~= "" and n or name, a
      elseif q.from:find("@", 1, true) then from = q.from
      else name = q.from end
    end
    if not from then return nil, "no sender: give user@domain or ?from=name@example.com" end
    local to = list(u.path, q.to)
    if #to == 0 then to = { from } end
    local username = user
    if user and password and known and not user:find("@", 1, true) then username = user .. "@" .. u.host end
    if name and name:find("[<>\"]") then return nil, "name: a display name without <, > or quotes expected" end
    return { { platform = "email", to = to, host = q.smtp or (known and known[2]) or u.host,
      port = u.port or (known and not mode and known[3]) or PORTS[tls], tls = tls,
      from = name and ('"%s" <%s>'):format(name, from) or from,
      username = password and username or nil, password = password,
      cc = #list(q.cc) > 0 and list(q.cc) or nil, bcc = #list(q.bcc) > 0 and list(q.bcc) or nil } }
  end }
end
S.mailto, S.mailtos = mail(false), mail(true)

--- The targets an Apprise-style URL names, or nil and why (never the URL).
function M.parse(url)
  local u, why = M.split(url)
  local scheme = type(url) == "string" and url:match("^(%a[%w+.-]*):")
  if not u then
    return nil, scheme and ("%s:// URL: %s"):format(scheme:lower(), why) or "not a URL: " .. why
  end
  local entry = S[u.scheme]
  if not entry then
    local known = {}
    for name in pairs(S) do known[#known + 1] = name .. "://" end
    table.sort(known)
    local shown = #u.scheme <= 16 and u.scheme or u.scheme:sub(1, 16) .. "..."
    return nil, ("unknown URL scheme '%s' (known: http(s)://, %s)"):format(shown, table.concat(known, ", "))
  end
  local targets, err = entry.parse(u)
  if not targets then return nil, ("%s:// URL: %s (%s)"):format(u.scheme, err, entry.form) end
  -- Apprise's ?overflow=: truncate and split are notifyhub's own; upstream
  -- (the service cuts) is the platform's default
  local overflow = (u.query.overflow or ""):lower()
  if overflow ~= "" and overflow ~= "upstream" and overflow ~= "truncate" and overflow ~= "split" then
    return nil, ("%s:// URL: overflow: one of upstream, truncate, split expected"):format(u.scheme)
  end
  for _, t in ipairs(targets) do
    for k, v in pairs(t) do
      if v == "" then t[k] = nil end
    end
    if entry.overflow and (overflow == "truncate" or overflow == "split") then t.overflow = overflow end
  end
  return targets
end

--- What a log or `--dry-run` may show of an Apprise-style URL: the scheme
-- and, for the schemes whose host is not a token (json, mailto,
-- workflows), the host and port. Everything else is `***`.
function M.redact(url)
  local u = M.split(url)
  if not u then return "***" end
  local keep = u.scheme:match("^json") or u.scheme:match("^mailto") or u.scheme:match("^workflow")
  return u.scheme .. "://" .. (keep and (u.hostport .. "/***") or "***")
end

return M
