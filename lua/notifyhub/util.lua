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
  return ("%.14g"):format(v)
end

--- nil when s is UTF-8 (RFC 3629: no overlong forms, surrogates, code
-- points above U+10FFFF or truncated sequences), else the 1-based offset of
-- the first byte that is not.
function M.utf8_invalid(s)
  if not s:find("[\128-\255]") then return nil end   -- ASCII: the common case
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
  if not s:match("^%a[%w+.-]*://") then return "a string without a scheme (http:// or https://)" end
  local lower = scheme:lower()
  if lower ~= "http" and lower ~= "https" then
    return #scheme <= 16 and ("a string with scheme '%s'"):format(scheme) or "a string with another scheme"
  end
  if s:find("[%s%c]") then return "a URL with spaces or control characters" end
  return "a URL without a host"
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

--- True when s has no CR, LF or NUL (what would split a header).
function M.is_header_safe(s)
  return not s:find("[\r\n%z]")
end

--- What receipts and logs show instead of a URL that may hold a token:
-- scheme, host and port, the path with its last non-empty segment as ***,
-- query values replaced by ***, no user info, no fragment.
function M.redact_url(url)
  local scheme, rest = url:match("^(%a[%w+.-]*)://(.*)$")
  if not scheme then return "***" end
  local authority, path, query = rest:match("^([^/?#]*)([^?#]*)%??([^#]*)")
  authority = authority:gsub("^.*@", "")
  if path ~= "" and path ~= "/" then
    path = path:gsub("/[^/]+(/*)$", "/***%1")
  end
  local out = scheme:lower() .. "://" .. authority .. path
  if query ~= "" then
    out = out .. "?" .. query:gsub("=[^&]*", "=***")
  end
  return out
end

return M
