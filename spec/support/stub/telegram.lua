-- spec/support/stub/telegram.lua -- Telegram Bot API: POST /bot<token>/sendMessage (and getMe)
-- (a stand-in of the loopback test server: spec/support/stub.lua, nginx.conf).

local cjson = require("cjson.safe")
local common = require("stub.common")
local send_json = common.send_json
local jstr = common.jstr
local first = common.first
local begin = common.begin
local next_id = common.next_id
local utf8_len = common.utf8_len
local header = common.header
local json_value = common.json_value

local M = {}

---------------------------------------------------------------------------------------------
-- Telegram Bot API: POST /bot<token>/sendMessage (and getMe)
---------------------------------------------------------------------------------------------

local TG_BOT = '{"id":7000000001,"is_bot":true,"first_name":"notifyhub test",'
  .. '"username":"notifyhub_test_bot"}'

-- UTF-8 encoding of a code point (LuaJIT has no utf8 library).
local function utf8_char(cp)
  if cp < 0 or cp > 0x10FFFF then return "\239\191\189" end
  if cp < 0x80 then return string.char(cp) end
  if cp < 0x800 then
    return string.char(0xC0 + math.floor(cp / 0x40), 0x80 + cp % 0x40)
  end
  if cp < 0x10000 then
    return string.char(0xE0 + math.floor(cp / 0x1000), 0x80 + math.floor(cp / 0x40) % 0x40,
      0x80 + cp % 0x40)
  end
  return string.char(0xF0 + math.floor(cp / 0x40000), 0x80 + math.floor(cp / 0x1000) % 0x40,
    0x80 + math.floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
end

-- Tags Telegram's HTML parse mode supports.
local TG_HTML_TAGS = { b = true, strong = true, i = true, em = true, u = true, ins = true,
  s = true, strike = true, del = true, span = true, ["tg-spoiler"] = true, a = true,
  code = true, pre = true, blockquote = true, ["tg-emoji"] = true }
local TG_HTML_ENTITIES = { lt = "<", gt = ">", amp = "&", quot = '"' }

-- parse_mode HTML: plain text, or nil and the reason. Every "<" must open or close a
-- supported tag (properly nested), every "&" must start &lt; &gt; &amp; &quot; or a numeric
-- entity; a bare ">" is tolerated, as Telegram does.
local function tg_parse_html(s)
  local out, stack = {}, {}
  local i, n = 1, #s
  while i <= n do
    local c = s:sub(i, i)
    if c == "<" then
      local close = s:find(">", i, true)
      if not close then
        return nil, "Can't find end of the tag starting at byte offset " .. (i - 1)
      end
      local inner = s:sub(i + 1, close - 1)
      local slash, name, rest = inner:match("^(/?)([%a][%w%-]*)(.*)$")
      if not name then
        return nil, 'Unsupported start tag "' .. inner:match("^/?(%S*)") .. '" at byte offset '
          .. (i - 1)
      end
      name = name:lower()
      if slash == "/" then
        local top = stack[#stack]
        if not top then
          return nil, "Unexpected end tag at byte offset " .. (i - 1)
        end
        if top ~= name then
          return nil, "Unmatched end tag at byte offset " .. (i - 1) .. ', expected "</' .. top
            .. '>", found "</' .. name .. '>"'
        end
        stack[#stack] = nil
      else
        if not TG_HTML_TAGS[name] or (rest ~= "" and not rest:match("^%s")) then
          return nil, 'Unsupported start tag "' .. name .. '" at byte offset ' .. (i - 1)
        end
        stack[#stack + 1] = name
      end
      i = close + 1
    elseif c == "&" then
      local ent = s:match("^&(#?%w+);", i)
      local char
      if ent then
        if TG_HTML_ENTITIES[ent] then
          char = TG_HTML_ENTITIES[ent]
        elseif ent:match("^#%d+$") then
          char = utf8_char(tonumber(ent:sub(2)))
        elseif ent:match("^#[xX]%x+$") then
          char = utf8_char(tonumber(ent:sub(3), 16))
        end
      end
      if not char then
        return nil, 'Character "&" is reserved and must be written as "&amp;" at byte offset '
          .. (i - 1)
      end
      out[#out + 1] = char
      i = i + #ent + 2
    else
      out[#out + 1] = c
      i = i + 1
    end
  end
  if #stack > 0 then
    return nil, 'Can\'t find end tag corresponding to start tag "' .. stack[#stack] .. '"'
  end
  return table.concat(out)
end

local MDV2_RESERVED = "_*[]()~`>#+-=|{}.!"

-- parse_mode MarkdownV2 (simplified): "\" escapes any ASCII character; `code` and ```pre```
-- only need "`" and "\" escaped inside; * _ __ ~ || toggle bold, italic, underline,
-- strikethrough, spoiler and must all be closed at the end; [text](url) and ![emoji](url)
-- are links; ">" starts a quote at the start of a line. Any other reserved character not
-- escaped is an error, as in Telegram.
local function tg_parse_mdv2(s)
  local out = {}
  local open, order = {}, {}
  local link_start
  local i, n = 1, #s
  local function reserved(c)
    return nil, "Character '" .. c .. "' is reserved and must be escaped with the preceding '\\'"
  end
  local function toggle(name, at)
    if open[name] then
      open[name] = nil
    else
      open[name] = at
      order[#order + 1] = name
    end
  end
  while i <= n do
    local c = s:sub(i, i)
    if c == "\\" then
      local nb = s:byte(i + 1)
      if not nb or nb > 126 then return reserved("\\") end
      out[#out + 1] = s:sub(i + 1, i + 1)
      i = i + 2
    elseif c == "`" then
      local delim = s:sub(i, i + 2) == "```" and "```" or "`"
      local j, found = i + #delim, nil
      while j <= n do
        if s:sub(j, j) == "\\" then
          out[#out + 1] = s:sub(j + 1, j + 1)
          j = j + 2
        elseif s:sub(j, j + #delim - 1) == delim then
          found = j
          break
        else
          out[#out + 1] = s:sub(j, j)
          j = j + 1
        end
      end
      if not found then
        return nil, "Can't find end of " .. (delim == "```" and "PreCode" or "Code")
          .. " entity at byte offset " .. (i - 1)
      end
      i = found + #delim
    elseif c == "*" then
      toggle("Bold", i - 1)
      i = i + 1
    elseif c == "_" then
      if s:sub(i + 1, i + 1) == "_" then
        toggle("Underline", i - 1)
        i = i + 2
      else
        toggle("Italic", i - 1)
        i = i + 1
      end
    elseif c == "~" then
      toggle("Strikethrough", i - 1)
      i = i + 1
    elseif c == "|" then
      if s:sub(i + 1, i + 1) ~= "|" then return reserved("|") end
      toggle("Spoiler", i - 1)
      i = i + 2
    elseif c == "[" or (c == "!" and s:sub(i + 1, i + 1) == "[") then
      if link_start then return reserved("[") end
      link_start = i - 1
      i = i + (c == "!" and 2 or 1)
    elseif c == "]" then
      if not link_start then return reserved("]") end
      if s:sub(i + 1, i + 1) ~= "(" then
        return nil, "Can't find end of a URL at byte offset " .. i
      end
      local j, found = i + 2, nil
      while j <= n do
        local d = s:sub(j, j)
        if d == "\\" then
          j = j + 2
        elseif d == ")" then
          found = j
          break
        else
          j = j + 1
        end
      end
      if not found then return nil, "Can't find end of a URL at byte offset " .. i end
      link_start = nil
      i = found + 1
    elseif c == ">" and (i == 1 or s:sub(i - 1, i - 1) == "\n") then
      i = i + 1
    elseif MDV2_RESERVED:find(c, 1, true) then
      return reserved(c)
    else
      out[#out + 1] = c
      i = i + 1
    end
  end
  if link_start then
    return nil, "Can't find end of TextUrl entity at byte offset " .. link_start
  end
  for _, name in ipairs(order) do
    if open[name] then
      return nil, "Can't find end of " .. name .. " entity at byte offset " .. open[name]
    end
  end
  return table.concat(out)
end

-- parse_mode Markdown (legacy, simplified): * _ ` ``` toggle and must be closed, [text](url)
-- links; "\" escapes _ * ` [; everything else is literal.
local function tg_parse_markdown(s)
  local out = {}
  local i, n = 1, #s
  while i <= n do
    local c = s:sub(i, i)
    if c == "\\" and s:sub(i + 1, i + 1):match("^[_*`%[]$") then
      out[#out + 1] = s:sub(i + 1, i + 1)
      i = i + 2
    elseif c == "*" or c == "_" or c == "`" then
      local delim = (c == "`" and s:sub(i, i + 2) == "```") and "```" or c
      local close = s:find(delim, i + #delim, true)
      if not close then
        return nil, "Can't find end of the entity starting at byte offset " .. (i - 1)
      end
      out[#out + 1] = s:sub(i + #delim, close - 1)
      i = close + #delim
    elseif c == "[" then
      local text, _url, after = s:match("^%[([^%]]*)%]%(([^%)]*)%)()", i)
      if not text then
        return nil, "Can't find end of the entity starting at byte offset " .. (i - 1)
      end
      out[#out + 1] = text
      i = after
    else
      out[#out + 1] = c
      i = i + 1
    end
  end
  return table.concat(out)
end

local function tg_error(code, description, extra)
  return send_json(code, '{"ok":false,"error_code":' .. code .. ',"description":'
    .. jstr(description) .. (extra or "") .. '}')
end

-- Errors carry the HTTP status of their error_code:
--   404 "Not Found"      empty token, or a method other than sendMessage / getMe
--   401 "Unauthorized"   token "bad"
--   400 "Bad Request: chat_id is empty" / "message text is empty" / "message is too long"
--       (over 4096 characters, counted as code points after entity parsing, trimmed)
--       / "can't parse entities: ..." / "unsupported parse_mode" / "chat not found"
--       (chat_id 404, or neither an integer nor @username)
-- Parameters: query args, then the body (JSON, or form encoded), the body winning.
function M.telegram()
  local body = begin()
  local token, method = ngx.var.uri:match("^/bot([^/]*)/([^/]+)$")
  if not token or token == "" then return tg_error(404, "Not Found") end
  if token == "bad" then return tg_error(401, "Unauthorized") end
  method = method:lower()

  local params = {}
  for k, v in pairs(ngx.req.get_uri_args(0)) do params[k] = first(v) end
  local ct = (header("content-type") or ""):lower()
  local from_body
  if ct:find("json", 1, true) then
    from_body = cjson.decode(body)
    if body ~= "" and type(from_body) ~= "table" then
      return tg_error(400, "Bad Request: can't parse JSON")
    end
  elseif ct:find("application/x-www-form-urlencoded", 1, true) then
    from_body = ngx.decode_args(body, 0)
  end
  for k, v in pairs(type(from_body) == "table" and from_body or {}) do params[k] = first(v) end

  if method == "getme" then
    return send_json(200, '{"ok":true,"result":' .. TG_BOT .. '}')
  end
  if method ~= "sendmessage" then return tg_error(404, "Not Found") end

  local chat_id = params.chat_id
  if type(chat_id) == "number" then chat_id = json_value(chat_id) end
  if type(chat_id) ~= "string" or chat_id == "" then
    return tg_error(400, "Bad Request: chat_id is empty")
  end
  local text = params.text
  if type(text) == "number" then text = tostring(text) end
  if type(text) ~= "string" or text == "" then
    return tg_error(400, "Bad Request: message text is empty")
  end

  local mode = params.parse_mode
  local plain, why = text, nil
  if type(mode) == "string" and mode ~= "" then
    local m = mode:lower()
    if m == "html" then
      plain, why = tg_parse_html(text)
    elseif m == "markdownv2" then
      plain, why = tg_parse_mdv2(text)
    elseif m == "markdown" then
      plain, why = tg_parse_markdown(text)
    else
      return tg_error(400, "Bad Request: unsupported parse_mode")
    end
  end
  if not plain then
    return tg_error(400, "Bad Request: can't parse entities: " .. why)
  end
  plain = plain:gsub("^%s+", ""):gsub("%s+$", "")
  if plain == "" then return tg_error(400, "Bad Request: message text is empty") end
  if utf8_len(plain) > 4096 then return tg_error(400, "Bad Request: message is too long") end

  local chat
  if chat_id == "404" then
    return tg_error(400, "Bad Request: chat not found")
  elseif chat_id:match("^%-?%d+$") then
    local kind = chat_id:match("^%-100") and "supergroup" or chat_id:match("^%-") and "group"
      or "private"
    chat = '{"id":' .. chat_id .. ',"type":"' .. kind .. '"}'
  elseif chat_id:match("^@[%w_]+$") then
    chat = '{"id":-1001000000001,"title":' .. cjson.encode(chat_id:sub(2)) .. ',"username":'
      .. cjson.encode(chat_id:sub(2)) .. ',"type":"channel"}'
  else
    return tg_error(400, "Bad Request: chat not found")
  end

  ngx.update_time()
  return send_json(200, '{"ok":true,"result":{"message_id":' .. next_id("telegram")
    .. ',"from":' .. TG_BOT .. ',"chat":' .. chat .. ',"date":' .. ngx.time()
    .. ',"text":' .. jstr(plain) .. '}}')
end

return M
