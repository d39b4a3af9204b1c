--- Small helpers the façade's modules share: URL checks and redaction.
-- @module notifyhub.util

local M = {}

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
