--- Small helpers the façade's modules share: URL checks and redaction.
-- @module notifyhub.util

local M = {}

-- The C module, on first use only (fuzz/redact.c loads this file without it).
local function core() return require("notifyhub.core") end

--- A number as an error shows it: "nan", "inf", "-inf", "1e+300", "2147483648".
function M.num_text(v)
  if v ~= v then return "nan" end
  if v == math.huge then return "inf" end
  if v == -math.huge then return "-inf" end
  -- a whole number in full: %.14g writes 2^53 + 2 as 9.007199254741e+15
  if v == math.floor(v) and math.abs(v) < 2 ^ 63 then return ("%.0f"):format(v) end
  return ("%.14g"):format(v)
end

--- nil when s is UTF-8 (RFC 3629: no overlong forms, surrogates, code
-- points above U+10FFFF or truncated sequences), else the 1-based offset of
-- the first byte that is not.
function M.utf8_invalid(s)
  -- ASCII, the common case: a pattern for short text; a long one goes to C,
  -- whose loop is six times faster (10 MB: 13 ms, the pattern 80 ms).
  if #s < 4096 and not s:find("[\128-\255]") then return nil end
  return core().utf8_check(s)
end

--- s with each invalid UTF-8 sequence replaced by U+FFFD.
function M.utf8_replace(s)
  return core().utf8_replace(s)
end

--- True when s is an HTTP token (RFC 9110), what a header name must be.
function M.is_token(s)
  return s:match("^[%w!#$%%&'*+%-.^_`|~]+$") ~= nil
end

--- Why s is not an http(s) URL, without echoing it (it may hold a token).
function M.why_not_url(s)
  local scheme = M.scheme_of(s)
  if not s:match("^%a[%w+.-]*://") then
    local lower = scheme and scheme:lower()
    if lower == "http" or lower == "https" then return "a URL without // after '" .. lower .. ":'" end
    return "a string without a scheme (http:// or https://)"
  end
  local lower = scheme:lower()
  if lower ~= "http" and lower ~= "https" then
    return #scheme <= 16 and ("a string with scheme '%s'"):format(scheme) or "a string with another scheme"
  end
  if s:find("[%s%c]") then return "a URL with spaces or control characters" end
  return "a URL without a host"
end

--- Why libcurl would refuse the http(s) URL s (a bad port, IPv6 address or
-- host), without echoing it; nil when it parses.
function M.url_problem(s)
  local why = core().url_problem(s)
  return why and ("a URL libcurl refuses (%s)"):format(why:gsub("%.$", "")) or nil
end

--- Why s is not one e-mail address, without echoing it.
function M.why_not_email(s)
  if not s:find("@", 1, true) then return "a string without '@'" end
  if s:find("[%s<>,;\"]") then return "a string with spaces, brackets, commas or quotes" end
  if select(2, s:gsub("@", "")) > 1 then return "a string with more than one '@'" end
  return "a string whose domain has no dot"
end

--- True when s is an http:// or https:// URL with a host.
function M.is_http_url(s)
  if type(s) ~= "string" then return false end
  local scheme, rest = s:match("^(%a[%w+.-]*)://(.*)$")
  if not scheme then return false end
  scheme = scheme:lower()
  if scheme ~= "http" and scheme ~= "https" then return false end
  local host = rest:match("^([^/?#]*)")
  return host ~= nil and host ~= "" and not s:find("[%s%c]")
end

--- True when s looks like one e-mail address (local@domain, no spaces,
-- brackets, CR or LF).
function M.is_email(s)
  return type(s) == "string" and s:match("^[^%s@<>,;\"]+@[^%s@<>,;\"]+%.[^%s@<>,;\"]+$") ~= nil
end

--- The scheme of a URL-like string, for errors that must not echo it whole.
function M.scheme_of(s)
  return type(s) == "string" and s:match("^(%a[%w+.-]*):") or nil
end

--- True when s has no control character but HTAB: CR, LF and NUL would
-- split a header; the others (RFC 9110 forbids them in a field value) are
-- refused by some servers and proxies and read differently by others.
function M.is_header_safe(s)
  return not s:find("[%z\1-\8\10-\31\127]")
end

-- A path segment a label may show: a short one ("v2", "T") or a short
-- lowercase word ("open-apis", "webhooks"); anything else may be a token
-- (a lowercase one too: "?token=supersecretvalue").
local function plain_segment(seg)
  return #seg <= 3 or (#seg <= 9 and seg:match("^[a-z][a-z_.-]*$") ~= nil)
end

local function split_url(url)
  local scheme, rest = url:match("^(%a[%w+.-]*)://(.*)$")
  if not scheme then return nil end
  local authority, path, query = rest:match("^([^/?#]*)([^?#]*)%??([^#]*)")
  return scheme, authority, path, query
end

--- What receipts and logs show instead of a URL that may hold a token:
-- scheme, host and port, the path with its last non-empty segment and every
-- segment that may be a token (not a short lowercase word) as ***, query
-- values replaced by ***, no user info, no fragment. keep_last: the last
-- segment is hidden only when it may be a token (a base URL).
function M.redact_url(url, keep_last)
  local scheme, authority, path, query = split_url(url)
  if not scheme then return "***" end
  authority = authority:gsub("^.*@", "")
  if path ~= "" and path ~= "/" then
    if not keep_last then path = path:gsub("/[^/]+(/*)$", "/***%1") end
    path = path:gsub("[^/]+", function(seg) return plain_segment(seg) and seg or "***" end)
  end
  local out = scheme:lower() .. "://" .. authority .. path
  if query ~= "" then
    out = out .. "?" .. query:gsub("=[^&]*", "=***")
  end
  return out
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

--- Standard base64 (with = padding) of a string.
function M.base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local idx = { math.floor(n / 262144) % 64, math.floor(n / 4096) % 64,
      math.floor(n / 64) % 64, n % 64 }
    for k = 1, 4 do out[#out + 1] = B64:sub(idx[k] + 1, idx[k] + 1) end
    if not b then out[#out - 1], out[#out] = "=", "=" elseif not c then out[#out] = "=" end
  end
  return table.concat(out)
end

--- The bytes of standard base64 text (padding optional), or nil.
function M.unbase64(s)
  s = s:gsub("=+$", "")
  if s:find("[^%w+/]") or #s % 4 == 1 then return nil end
  local out, bits, n = {}, 0, 0
  for i = 1, #s do
    bits = bits * 64 + (B64:find(s:sub(i, i), 1, true) - 1)
    n = n + 6
    if n >= 8 then
      n = n - 8
      local byte = math.floor(bits / 2 ^ n)
      out[#out + 1] = string.char(byte)
      bits = bits - byte * 2 ^ n
    end
  end
  return table.concat(out)
end

local function percent_decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function percent_encode(s)
  return (s:gsub("[^%w%-._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

--- Appends to `out` the parts of a URL that may be secret: its user info
-- (whole, user, password, and as Basic credentials), every path segment and
-- query value that may be a token (not a short lowercase word).
function M.url_secrets(url, out)
  local scheme, authority, path, query = split_url(url or "")
  if not scheme then return out end
  local userinfo = authority:match("^(.*)@")
  if userinfo then
    out[#out + 1] = userinfo
    local user, password = userinfo:match("^([^:]*):(.*)$")
    out[#out + 1] = user or userinfo
    out[#out + 1] = password
    out[#out + 1] = M.base64(percent_decode(userinfo))   -- as in Authorization: Basic
  end
  for seg in path:gmatch("[^/]+") do
    if not plain_segment(seg) then out[#out + 1] = seg end
  end
  for value in query:gmatch("=([^&]*)") do
    if not plain_segment(value) then out[#out + 1] = value end
  end
  return out
end

--- Appends to `out` the secret parts of a header value: the value, the
-- credentials after an auth scheme ("Bearer <token>"), and Basic
-- credentials decoded (whole, user and password).
function M.header_secrets(value, out)
  out[#out + 1] = value
  local scheme, cred = value:match("^%s*(%S+)%s+(.-)%s*$")
  if not cred or cred == "" then return out end
  out[#out + 1] = cred
  if scheme:lower() == "basic" then
    local plain = M.unbase64(cred)
    if plain then
      out[#out + 1] = plain
      local user, password = plain:match("^([^:]*):(.*)$")
      out[#out + 1] = user
      out[#out + 1] = password
    end
  end
  return out
end

--- The secret values a target's texts are cleaned of: each given value as
-- it is, percent-decoded, percent-encoded and JSON-escaped; values shorter
-- than 4 bytes are left out (they would cut ordinary words).
function M.secret_forms(values)
  local out, seen = {}, {}
  local function add(v)
    if #v >= 4 and not seen[v] then
      seen[v] = true
      out[#out + 1] = v
    end
  end
  for _, v in ipairs(values) do
    if type(v) == "string" then
      -- re-encoded as a server may echo it: upper- and lowercase hex digits
      local encoded = percent_encode(percent_decode(v))
      local lower = encoded:gsub("%%%x%x", string.lower)
      for _, form in ipairs({ v, percent_decode(v), percent_encode(v), encoded, lower }) do
        add(form)
        add((form:gsub('[/"\\]', "\\%0")))
      end
    end
  end
  return out
end

return M
