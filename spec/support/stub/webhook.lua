-- spec/support/stub/webhook.lua -- Generic webhook receiver
-- (a stand-in of the loopback test server: spec/support/stub.lua, nginx.conf).

local common = require("stub.common")
local first = common.first
local begin = common.begin

local M = {}

---------------------------------------------------------------------------------------------
-- Generic webhook receiver
---------------------------------------------------------------------------------------------

-- Any method on /webhook or /webhook/...; query args:
--   status=<n>        HTTP status to answer (default 200)
--   delay=<seconds>   sleep before answering (float)
--   body=<text>       answer body (default {"ok":true})
--   ctype=<type>      Content-Type of the answer (default application/json)
--   retry_after=<v>   add a Retry-After header
--   auth=<user:pass>  answer 401 unless the request has Basic auth with these credentials
function M.webhook()
  begin()

  local args = ngx.req.get_uri_args(0)
  local auth = first(args.auth)
  if type(auth) == "string" and ngx.var.http_authorization ~= "Basic " .. ngx.encode_base64(auth) then
    ngx.status = 401
    ngx.header["WWW-Authenticate"] = 'Basic realm="stand-in"'
    ngx.print('{"error":"unauthorized"}')
    return ngx.exit(ngx.HTTP_OK)
  end
  local delay = tonumber(first(args.delay))
  if delay and delay > 0 then ngx.sleep(delay) end

  local status = tonumber(first(args.status)) or 200
  local answer = first(args.body)
  if type(answer) ~= "string" then answer = '{"ok":true}' end
  local retry_after = first(args.retry_after)
  if type(retry_after) == "string" then ngx.header["Retry-After"] = retry_after end

  ngx.status = status
  if status == 204 or status == 304 or (status >= 100 and status < 200) then
    ngx.send_headers()            -- no body for these statuses
    return ngx.exit(ngx.HTTP_OK)
  end
  local ctype = first(args.ctype)
  ngx.header["Content-Type"] = type(ctype) == "string" and ctype or "application/json"
  ngx.print(answer)
  return ngx.exit(ngx.HTTP_OK)
end

return M
