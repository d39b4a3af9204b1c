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
  pagerduty = "https://events.pagerduty.com",
  pagerduty_eu = "https://events.eu.pagerduty.com",
  opsgenie = "https://api.opsgenie.com",
  opsgenie_eu = "https://api.eu.opsgenie.com",
  schan = "https://sctapi.ftqq.com",
  pushplus = "https://www.pushplus.plus",
  ntfy = "https://ntfy.sh",
  pover = "https://api.pushover.net",
  gchat = "https://chat.googleapis.com",
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
    -- Apprise: "+ID" is an encoded channel id (sent bare), "@user" as is, a name gets its "#"
    if channel and channel:sub(1, 1) == "+" then channel = channel:sub(2)
    elseif channel and not channel:match("^[#@]") then channel = "#" .. channel end
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
  local thread = u.query.thread                      -- Apprise: into that thread
  if thread == "" then thread = nil end
  if thread and not thread:match("^%d+$") then return nil, "thread: a numeric thread id expected" end
  return { { platform = "discord", value = ("%s/api/webhooks/%s/%s%s"):format(base("discord"), id, token,
    thread and "?thread_id=" .. thread or ""),
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
  local default_topic = u.query.topic or u.query.thread
  if default_topic == "" then default_topic = nil end
  for i, chat in ipairs(chats) do
    local topic
    chat, topic = chat:match("^([^:]*):?(.*)$")              -- Apprise's ChatID:Topic (a forum topic)
    topic = topic ~= "" and topic or default_topic
    if topic and not topic:match("^%d+$") then return nil, ("chat %d: a numeric topic expected"):format(i) end
    if chat:match("^[%a_][%w_]*$") then chat = "@" .. chat end   -- Apprise: a name, with or without @
    if not chat:match("^%-?%d+$") and not chat:match("^@[%w_]+$") then
      return nil, ("chat %d: a numeric chat id or an @channel name expected"):format(i)
    end
    out[i] = { platform = "telegram", value = chat, token = token, api_url = base("tgram"),
      disable_notification = bool(u.query.silent, nil), topic = topic }
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
    -- user info encoded again: a raw "@" or ":" in it (Apprise splits at the last "@") is refused by libcurl
    local auth = u.authority:find("@", 1, true)
      and encode(u.user or "") .. (u.password and ":" .. encode(u.password) or "") or nil
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
    -- one e-mail per recipient, as Apprise sends them (no recipient sees
    -- another's address), each with the cc and bcc
    local out = {}
    for i, addr in ipairs(to) do
      out[i] = { platform = "email", to = { addr }, host = q.smtp or (known and known[2]) or u.host,
        port = u.port or (known and not mode and known[3]) or PORTS[tls], tls = tls,
        from = name and ('"%s" <%s>'):format(name, from) or from,
        username = password and username or nil, password = password,
        cc = #list(q.cc) > 0 and list(q.cc) or nil, bcc = #list(q.bcc) > 0 and list(q.bcc) or nil }
    end
    return out
  end }
end
S.mailto, S.mailtos = mail(false), mail(true)

-- ---------------------------------------------------------------------------
-- The new platforms (issue 14): Apprise's forms of Matrix, PagerDuty,
-- Opsgenie, Bark, ServerChan and PushPlus. A part of an Apprise URL that the
-- platform cannot send is an error saying so, unless Apprise itself treats
-- it as decoration (an image, a badge): those are ignored.
-- ---------------------------------------------------------------------------

-- A query value, nil when absent or empty (Apprise skips empty ones).
local function opt(u, key)
  local v = u.query[key]
  if v == nil or v == "" then return nil end
  return v
end

-- "host[:port]" of a URL that names its own server, or nil and why.
local function server(u)
  if not token_ok(u.host, "^[%w%.%-]+$") and not token_ok(u.host, "^%[[%x:%.]+%]$") then
    return nil, "a host name expected"
  end
  if u.port and (u.port < 1 or u.port > 65535) then return nil, "a port of 1 to 65535 expected" end
  return u.host .. (u.port and ":" .. u.port or "")
end

-- "user[:password]" for an http(s) URL's Basic auth, each part
-- percent-encoded again (libcurl refuses raw specials there), or nil.
local function userinfo(u)
  if not u.user then return nil end
  return encode(u.user) .. (u.password and ":" .. encode(u.password) or "")
end

-- ?region=us (the default) or eu: the base of that region, or nil.
local function region(u, scheme)
  local r = (opt(u, "region") or "us"):lower()
  if r == "us" then return base(scheme) end
  if r == "eu" then return base(scheme .. "_eu") end
end

-- Apprise reads ?priority= by prefix, in its own order, an unknown value
-- being its default (normal). Each entry of `order` is "prefix=value" or,
-- for the default, "prefix". Returns the service's value, or nil for the
-- default: the platform then takes the priority from the message.
local function apprise_priority(u, order)
  local v = opt(u, "priority")
  if not v then return nil end
  v = v:lower()
  for _, entry in ipairs(order) do
    local prefix, value = entry:match("^([^=]*)=?(.*)$")
    if v:sub(1, #prefix) == prefix then return value ~= "" and value or nil end
  end
  return nil
end

-- matrix://AccessToken@host[:port]/!room... (http) and matrixs:// (https):
-- the client-server API, one target per room. Apprise's other forms need
-- calls notifyhub does not make (a /login, a room alias join) or another
-- API (the t2bot and slack webhook modes).
local MSGTYPES = { text = "m.text", notice = "m.notice" }
local MATRIX_MODES = { matrix = true, slack = true, t2bot = true }

local function matrix_token(u)
  local token, user = u.password, u.user
  if opt(u, "token") then token = opt(u, "token")
  elseif not token and user then token, user = user, nil end   -- token@host
  if user then
    return nil, "a user:password login is not supported (notifyhub does not call /login): give an access"
      .. " token (matrixs://AccessToken@host/!RoomID:server, or ?token=)"
  end
  if not token_ok(token, "^[%w%p]+$") then return nil, "an access token expected" end
  return token
end

local function matrix_rooms(u)
  local rooms = list(u.path, u.query.to)
  if #rooms == 0 then return nil, "no room: give room ids (/!RoomID:server or ?to=)" end
  for i, room in ipairs(rooms) do
    if not room:match("^![%w%p]+$") then
      return nil, ("room %d: a room id (!RoomID:server) expected: aliases (#name) and users (@name) need"
        .. " a join notifyhub does not make"):format(i)
    end
  end
  return rooms
end

local function matrix(secure)
  local scheme = secure and "matrixs" or "matrix"
  return { platform = "matrix", overflow = true,
    form = scheme .. "://AccessToken@host[:port]/!RoomID:server[/!RoomID...]",
    parse = function(u)
    local mode = opt(u, "mode") and u.query.mode:lower()
    if not mode and not u.password and #u.path == 0 and not opt(u, "to") then
      return nil, "a t2bot webhook (matrix://WebhookToken) is not supported: give an access token and a"
        .. " room (matrixs://AccessToken@host/!RoomID:server)"
    end
    if mode and mode ~= "off" then
      if not MATRIX_MODES[mode] then return nil, "mode: one of off, matrix, slack, t2bot expected" end
      return nil, ("the webhook mode ?mode=%s is not supported: notifyhub uses the client-server API"
        .. " (matrixs://AccessToken@host/!RoomID:server)"):format(mode)
    end
    local token, why = matrix_token(u)
    if not token then return nil, why end
    local host, herr = server(u)
    if not host then return nil, herr end
    local mt = opt(u, "msgtype") and u.query.msgtype:lower()
    if mt and not MSGTYPES[mt] then return nil, "msgtype: text or notice expected" end
    local version = opt(u, "version") or opt(u, "v")
    if version and version ~= "2" and version ~= "3" then
      return nil, "version: 2 or 3 expected (notifyhub always speaks v3)"
    end
    local rooms, rerr = matrix_rooms(u)
    if not rooms then return nil, rerr end
    local out = {}
    for i, room in ipairs(rooms) do
      out[i] = { platform = "matrix", value = (secure and "https://" or "http://") .. host, access_token = token,
        room_id = room, msgtype = mt and MSGTYPES[mt] }
    end
    return out
  end }
end
S.matrix, S.matrixs = matrix(false), matrix(true)

-- pagerduty://IntegrationKey@ApiKey[/Source[/Component]]: an Events API v2
-- event. The API key is Apprise's (it sends it as a header the Events API
-- ignores): required, as Apprise does, and never sent.
local PD_SEVERITIES = { info = true, warning = true, error = true, critical = true }
S.pagerduty = { platform = "pagerduty", form = "pagerduty://IntegrationKey@ApiKey[/Source[/Component]][?region=eu]" }
function S.pagerduty.parse(u)
  local routing = opt(u, "integrationkey") or u.user
  if not token_ok(routing, "^[%w_%-]+$") then
    return nil, "an integration (routing) key expected (letters, digits, _ and -)"
  end
  if not (opt(u, "apikey") or u.host ~= "") then return nil, "an API key expected" end
  local url = region(u, "pagerduty")
  if not url then return nil, "region: us or eu expected" end
  local severity = opt(u, "severity")
  if severity then   -- Apprise: the first severity whose name starts with the value
    severity = severity:lower()
    for _, s in ipairs({ "info", "warning", "critical", "error" }) do
      if s:sub(1, #severity) == severity then severity = s break end
    end
    if not PD_SEVERITIES[severity] then return nil, "severity: info, warning, error or critical expected" end
  end
  if opt(u, "click") then return nil, "click (a link on the event) is not supported" end
  if next(u.headers) then
    return nil, "custom details (?+name=value) are not supported: give them as the message's metadata"
  end
  return { { platform = "pagerduty", value = url .. "/v2/enqueue", routing_key = routing,
    source = opt(u, "source") or u.path[1], component = opt(u, "component") or u.path[2],
    group = opt(u, "group"), class = opt(u, "class"), severity = severity } }
end

-- opsgenie://[user@]ApiKey: an alert through the key's integration (no
-- responders). ?batch= (how Apprise groups responders) has nothing to act
-- on; user@ (newer Apprise: the request's owner shown in the log) is
-- decoration.
-- Apprise sends 1..5 and p1..p5 as P1..P5, but its names low to P1,
-- Opsgenie's most urgent, and emergency to P5: a name ("!") is refused
-- rather than sent inverted.
local OPSGENIE_PRIORITIES = { "l=!", "m=!", "n", "h=!", "e=!", "1=P1", "2=P2", "3", "4=P4", "5=P5", "p1=P1",
  "p2=P2", "p3", "p4=P4", "p5=P5" }
-- Newer Apprise's ?action= (default map: close the alerts it opened on
-- info and success) needs the alert ids of earlier messages, which notifyhub
-- does not keep: only new (an alert per message) is accepted. Nil or why.
local OPSGENIE_ACTIONS = { "map", "new", "close", "delete", "acknowledge", "note" }

local function opsgenie_action(u)
  if next(u.fields) then return "action mappings (?:type=action) are not supported: every message is an alert" end
  local action = opt(u, "action")
  if not action then return nil end
  for _, a in ipairs(OPSGENIE_ACTIONS) do
    if a:sub(1, #action) == action:lower() then
      if a == "new" then return nil end
      return ("action=%s: notifyhub creates an alert for every message (action=new); it keeps no alert ids"
        .. " to close, acknowledge, delete or annotate"):format(a)
    end
  end
  return "action: one of new, map, close, delete, acknowledge, note expected"
end

S.opsgenie = { platform = "opsgenie", form = "opsgenie://ApiKey[?region=eu&entity=name&tags=a,b]" }
function S.opsgenie.parse(u)
  local key = opt(u, "apikey") or u.host
  if not token_ok(key, "^[%w_%-]+$") then return nil, "an API key expected (letters, digits, _ and -)" end
  local url = region(u, "opsgenie")
  if not url then return nil, "region: us or eu expected" end
  if #u.path > 0 or opt(u, "to") then
    return nil, "responders (@user, #team, *schedule, ^escalation) are not supported: the alert goes where"
      .. " the API key's integration routes it"
  end
  local priority = apprise_priority(u, OPSGENIE_PRIORITIES)
  if priority == "!" then
    return nil, "priority: give P1 to P5 (1 to 5): Apprise sends low as P1, Opsgenie's most urgent, and"
      .. " emergency as P5"
  end
  if opt(u, "alias") then return nil, "alias: notifyhub uses the message id (a message sent again is one alert)" end
  local why = opsgenie_action(u)
  if why then return nil, why end
  if next(u.headers) then
    return nil, "details (?+name=value) are not supported: give them as the message's metadata"
  end
  local tags = list(opt(u, "tags"))
  return { { platform = "opsgenie", value = url .. "/v2/alerts", api_key = key, entity = opt(u, "entity"),
    alert_tags = #tags > 0 and tags or nil, priority = priority } }
end

-- bark://[user:password@]host[:port]/DeviceKey[/DeviceKey...] (http) and
-- barks:// (https): the server's /push, one target per device. ?badge=,
-- ?category= (unused by Bark) and ?image= (Apprise's icon) are decoration.
local BARK_SOUNDS = { "alarm", "anticipate", "bell", "birdsong", "bloom", "calypso", "chime", "choo", "descent",
  "electronic", "fanfare", "glass", "gotosleep", "healthnotification", "horn", "ladder", "mailsent", "minuet",
  "multiwayinvitation", "newmail", "newsflash", "noir", "paymentsuccess", "shake", "sherwoodforest", "silence",
  "spell", "suspense", "telegraph", "tiptoes", "typewriters", "update" }

-- Apprise's ?level=: by its first letter; an unknown one is dropped.
local BARK_LEVELS = { a = "active", t = "timeSensitive", p = "passive", c = "critical" }

-- Apprise's lookup: the first sound whose name starts with the value; an
-- unknown one is dropped.
local function bark_sound(v)
  if not v then return nil end
  v = v:lower()
  for _, s in ipairs(BARK_SOUNDS) do
    if (s .. ".caf"):sub(1, #v) == v then return s .. ".caf" end
  end
end

local function bark(secure)
  local scheme = secure and "barks" or "bark"
  return { platform = "bark", overflow = true,
    form = scheme .. "://[user:password@]host[:port]/DeviceKey[/DeviceKey...]",
    parse = function(u)
    local host, why = server(u)
    if not host then return nil, why end
    local keys = list(u.path, u.query.to)
    if #keys == 0 then return nil, "a device key expected" end
    local auth = userinfo(u)
    local url = ("%s://%s%s/push"):format(secure and "https" or "http", auth and auth .. "@" or "", host)
    local out = {}
    for i, key in ipairs(keys) do
      if not token_ok(key, "^[%w_%-]+$") then return nil, "a device key of letters, digits, _ and - expected" end
      out[i] = { platform = "bark", value = url, device_key = key, sound = bark_sound(opt(u, "sound")),
        group = opt(u, "group"), click_url = opt(u, "click"), level = BARK_LEVELS[(opt(u, "level") or ""):sub(1, 1)] }
    end
    return out
  end }
end
S.bark, S.barks = bark(false), bark(true)

-- schan://SendKey: ServerChan (a Server酱³ key sctp<uid>t... goes to its own host).
S.schan = { platform = "serverchan", overflow = true, form = "schan://SendKey" }
function S.schan.parse(u)
  if not token_ok(u.host, "^%w+$") then return nil, "a SendKey (letters and digits) expected" end
  return { { platform = "serverchan", value = base("schan"), sendkey = u.host } }
end

-- pushplus://Token
S.pushplus = { platform = "pushplus", form = "pushplus://Token" }
function S.pushplus.parse(u)
  local token = opt(u, "token") or u.host
  if not token_ok(token, "^[%w_%-]+$") or #token < 32 or #token > 64 then
    return nil, "a token of 32 to 64 letters, digits, _ and - expected"
  end
  return { { platform = "pushplus", value = base("pushplus") .. "/send", token = token } }
end

-- ---------------------------------------------------------------------------
-- ntfy, Gotify, Pushover, Mattermost, Rocket.Chat and Google Chat.
-- ---------------------------------------------------------------------------

-- ntfy://topic (ntfy.sh), ntfy://host[:port]/topic... and ntfys://: one
-- target per topic. Apprise's cloud mode (a bare topic, or ?mode=cloud)
-- sends no credentials; on a server of one's own user:password@ is Basic
-- auth and a token (tk_...@, ?token=, ?auth=token) goes as Bearer.
local NTFY_PRIORITIES = { "l=2", "mo=2", "n", "h=4", "e=5", "mi=1", "ma=5", "d", "1=1", "2=2", "3", "4=4", "5=5" }

local function ntfy_topics(u)
  local topics = list(u.path, u.query.to)
  local mode = opt(u, "mode") and u.query.mode:lower()
  if not mode then mode = (server(u) and #topics > 0) and "private" or "cloud" end
  if mode ~= "cloud" and mode ~= "private" then return nil, "mode: cloud or private expected" end
  if mode == "cloud" and u.host ~= "" and not u.host:lower():find("ntfy.sh", 1, true) then
    table.insert(topics, 1, u.host)
  end
  if #topics == 0 then return nil, "a topic expected" end
  for i, topic in ipairs(topics) do
    if not topic:match("^[%w_%-]+$") or #topic > 64 then
      return nil, ("topic %d: 1 to 64 letters, digits, _ and - expected"):format(i)
    end
  end
  return topics, mode
end

-- Apprise's choice of Basic or token auth: the userinfo to keep in the URL
-- and the token, or nil and why.
local function ntfy_auth(u)
  local token, auth = opt(u, "token"), opt(u, "auth") and u.query.auth:lower()
  if token and not auth then auth = "token" end
  if not auth and u.user and not u.password then auth = u.user:match("^tk_") and "token" or "basic" end
  auth = auth or "basic"
  if auth ~= "basic" and auth ~= "token" then return nil, nil, "auth: basic or token expected" end
  if auth == "basic" then return userinfo(u) end
  token = token or (u.password or u.user)
  if not token_ok(token, "^[%w%p]+$") then return nil, nil, "auth=token: no token given (tk_...@host or ?token=)" end
  return nil, token
end

local function ntfy(secure)
  local scheme = secure and "ntfys" or "ntfy"
  return { platform = "ntfy", overflow = true,
    form = scheme .. "://[user:password@|token@]host[:port]/Topic[/Topic...], or "
    .. scheme .. "://Topic (ntfy.sh)", parse = function(u)
    for _, k in ipairs({ "attach", "delay", "email", "actions" }) do
      if opt(u, k) then return nil, ("?%s= is not supported by notifyhub's ntfy target"):format(k) end
    end
    local topics, mode = ntfy_topics(u)
    if not topics then return nil, mode end
    local base_url, token = base("ntfy"), nil
    if mode == "private" then
      local host, why = server(u)
      if not host then return nil, why end
      local auth, t, aerr = ntfy_auth(u)
      if aerr then return nil, aerr end
      token = t
      base_url = ("%s://%s%s"):format(secure and "https" or "http", auth and auth .. "@" or "", host)
    end
    local tags = list(opt(u, "xtags") or opt(u, "tags"))
    local out = {}
    for i, topic in ipairs(topics) do
      out[i] = { platform = "ntfy", value = base_url .. "/" .. encode(topic), token = token,
        message_tags = #tags > 0 and tags or nil, click = opt(u, "click"),
        priority = apprise_priority(u, NTFY_PRIORITIES),
        icon = bool(u.query.image, true) and opt(u, "avatar_url") or nil }
    end
    return out
  end }
end
S.ntfy, S.ntfys = ntfy(false), ntfy(true)

-- gotify://host[:port][/path]/Token and gotifys:// (https): the last path
-- segment is the application token, the rest the server's path.
local GOTIFY_PRIORITIES = { "l=0", "m=3", "n", "h=8", "e=10", "10=10", "0=0", "1=0", "2=0", "3=3", "4=3", "5", "6", "7",
  "8=8", "9=8" }

local function gotify(secure)
  local scheme = secure and "gotifys" or "gotify"
  return { platform = "gotify", form = scheme .. "://host[:port][/path]/Token", parse = function(u)
    local host, why = server(u)
    if not host then return nil, why end
    local token = u.path[#u.path]
    if not token_ok(token, "^[%w%p]+$") then return nil, "an application token expected" end
    local path = {}
    for i = 1, #u.path - 1 do path[i] = "/" .. encode(u.path[i]) end
    return { { platform = "gotify", value = ("%s://%s%s"):format(secure and "https" or "http", host,
      table.concat(path)), token = token, priority = apprise_priority(u, GOTIFY_PRIORITIES) } }
  end }
end
S.gotify, S.gotifys = gotify(false), gotify(true)

-- pover://UserKey@Token[/Device...][/#Group...]: the devices go in one
-- delivery (Pushover's comma-separated device), each group key in its own.
-- ?url_title= (the link's caption) is decoration; ?interval= and ?expire=
-- only shape an emergency (2) priority, for which notifyhub sends its own
-- retry (60 s) and expire (3600 s).
local PUSHOVER_PRIORITIES = { "l=-2", "m=-1", "n", "h=1", "e=2", "-2=-2", "-1=-1", "0", "1=1", "2=2" }

local function pover_targets(u)
  local devices, groups = {}, {}
  for i, t in ipairs(list(u.path, u.query.to)) do
    local group = t:match("^#(%w+)$")
    if group then groups[#groups + 1] = group
    elseif t:match("^[%w_%-]+$") and #t <= 25 then devices[#devices + 1] = t
    else return nil, ("target %d: a device (1 to 25 letters, digits, _ and -) or a #group key expected"):format(i) end
  end
  return devices, groups
end

S.pover = { platform = "pushover", overflow = true, form = "pover://UserKey@Token[/Device...][/#GroupKey...]" }
function S.pover.parse(u)
  if not token_ok(u.user, "^%w+$") then return nil, "a user key expected (letters and digits)" end
  if not token_ok(u.host, "^%w+$") then return nil, "an application token expected (letters and digits)" end
  if opt(u, "key") and bool(u.query.e2ee, true) then
    return nil, "end-to-end encryption (?key=) is not supported: notifyhub would send the text in the clear"
  end
  local devices, groups = pover_targets(u)
  if not devices then return nil, groups end
  local function one(user, device)
    return { platform = "pushover", value = base("pover") .. "/1/messages.json", user = user, token = u.host,
      device = device, sound = opt(u, "sound") and u.query.sound:lower(), url = opt(u, "url"),
      priority = apprise_priority(u, PUSHOVER_PRIORITIES) }
  end
  local out = {}
  if #devices > 0 or #groups == 0 then out[1] = one(u.user, #devices > 0 and table.concat(devices, ",") or nil) end
  for _, g in ipairs(groups) do out[#out + 1] = one(g) end
  return out
end

-- mmost://[botname@]host[:port][/path]/Token and mmosts:// (https): the
-- incoming webhook <host>/<path>/hooks/<Token>, one target per channel.
-- ?image= (Apprise's icon) is decoration.
local function mmost(secure)
  local scheme = secure and "mmosts" or "mmost"
  return { platform = "mattermost", overflow = true, form = scheme .. "://[botname@]host[:port][/path]/Token",
    parse = function(u)
    local host, why = server(u)
    if not host then return nil, why end
    local token = u.path[#u.path]
    if not token_ok(token, "^[%w_%-]+$") then return nil, "a webhook token expected (letters, digits, _ and -)" end
    local path = {}
    for i = 1, #u.path - 1 do path[i] = "/" .. encode(u.path[i]) end
    local url = ("%s://%s%s/hooks/%s"):format(secure and "https" or "http", host, table.concat(path), token)
    local channels = list(opt(u, "to") or "", opt(u, "channel") or "", opt(u, "channels") or "")
    local function one(channel)
      return { platform = "mattermost", value = url, username = u.user, channel = channel and channel:gsub("^#+", "") }
    end
    if #channels == 0 then return { one(nil) } end
    local out = {}
    for i, ch in ipairs(channels) do out[i] = one(ch) end
    return out
  end }
end
S.mmost, S.mmosts = mmost(false), mmost(true)

-- rocket://[user:]TokenA/TokenB@host[:port][/#channel|@user|RoomID...] and
-- rockets:// (https): the incoming webhook <host>/hooks/TokenA/TokenB, one
-- target per channel, user or room. The webhook's '/' ends the authority
-- as split() reads it, so its second half and the host come in the path.
-- ?avatar= (Apprise's icon) is decoration.
local function rocket_webhook(u)
  local first = u.path[1] and u.path[1]:match("^([^@]*)@")
  if not u.authority:find("@", 1, true) and first then
    local a = decode(u.authority)
    local targets = {}
    for i = 2, #u.path do targets[#targets + 1] = u.path[i] end
    return (a:match(":(.*)$") or a) .. "/" .. first, u.path[1]:match("^[^@]*@(.*)$"), targets
  end
  return u.password or u.user, u.hostport, u.path
end

local function rocket_targets(list_)
  local users, channels, rooms = {}, {}, {}
  for i, t in ipairs(list_) do
    if t:match("^#[%w_%-]+$") then channels[#channels + 1] = t
    elseif t:match("^@[%w%._%-]+$") then users[#users + 1] = t
    elseif t:match("^%w+$") then rooms[#rooms + 1] = t
    else return nil, ("target %d: #channel, @user or a room id expected"):format(i) end
  end
  for _, v in ipairs(channels) do users[#users + 1] = v end   -- Apprise's order
  for _, v in ipairs(rooms) do users[#users + 1] = v end
  return users
end

local function rocket(secure)
  local scheme = secure and "rockets" or "rocket"
  return { platform = "rocketchat", overflow = true,
    form = scheme .. "://TokenA/TokenB@host[:port][/#channel|@user|RoomID...]",
    parse = function(u)
    local login = "user/password and API token logins are not supported (notifyhub does not log in):"
      .. " give the incoming webhook (" .. scheme .. "://TokenA/TokenB@host)"
    local webhook, hostport, path = rocket_webhook(u)
    webhook = opt(u, "webhook") or webhook
    local mode = opt(u, "mode") and u.query.mode:lower()
    if mode and mode ~= "webhook" and mode ~= "basic" and mode ~= "token" then
      return nil, "mode: webhook, basic or token expected"
    end
    if (mode and mode ~= "webhook") or not (webhook and webhook:match("^%w+/%w+$")) then return nil, login end
    local host, port = hostport:match("^(.-):(%d+)$")
    local h, why = server({ host = decode(host or hostport), port = port and tonumber(port) })
    if not h then return nil, why end
    local targets, terr = rocket_targets(list(path, u.query.to))
    if not targets then return nil, terr end
    local url = ("%s://%s/hooks/%s"):format(secure and "https" or "http", h, webhook)
    if #targets == 0 then return { { platform = "rocketchat", value = url } } end
    local out = {}
    for i, t in ipairs(targets) do out[i] = { platform = "rocketchat", value = url, channel = t } end
    return out
  end }
end
S.rocket, S.rockets = rocket(false), rocket(true)

-- gchat://Workspace/Key/Token[/ThreadKey]: the space's incoming webhook.
S.gchat = { platform = "googlechat", overflow = true, form = "gchat://Workspace/Key/Token[/ThreadKey]" }
function S.gchat.parse(u)
  local workspace = opt(u, "workspace") or u.host
  local key, token = opt(u, "key") or u.path[1], opt(u, "token") or u.path[2]
  local thread = opt(u, "thread") or opt(u, "threadkey") or u.path[3]
  if not (token_ok(workspace, "^[%w%p]+$") and token_ok(key, "^[%w%p]+$") and token_ok(token, "^[%w%p]+$")) then
    return nil, "a workspace, a webhook key and a webhook token expected"
  end
  return { { platform = "googlechat", value = ("%s/v1/spaces/%s/messages?key=%s&token=%s"):format(base("gchat"),
    encode(workspace), encode(key), encode(token)), thread_key = thread } }
end

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
