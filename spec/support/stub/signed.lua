-- spec/support/stub/signed.lua -- Standard Webhooks receiver: POST /signed/<name>
-- (a stand-in of the loopback test server: spec/support/stub.lua, nginx.conf).

local cjson = require("cjson.safe")
local common = require("stub.common")
local hmac_sha256 = common.hmac_sha256
local send_json = common.send_json
local begin = common.begin
local platform_opts = common.platform_opts
local send_empty = common.send_empty
local header = common.header

local M = {}

---------------------------------------------------------------------------------------------
-- Standard Webhooks receiver: POST /signed/<name>
---------------------------------------------------------------------------------------------

-- The HMAC key of a secret "whsec_<base64>" (the prefix is optional), or nil.
local function signed_key(secret)
  if type(secret) ~= "string" then return nil end
  local b64 = secret:gsub("^whsec_", "")
  if b64 == "" then return nil end
  return ngx.decode_base64(b64)
end

-- The secrets of a config: opts.secret, a string or an array of strings (key rotation).
local function signed_secrets(opts)
  local s = opts.secret
  if type(s) == "string" then return { s } end
  if type(s) == "table" then return s end
  return {}
end

local function signed_error(message)
  return send_json(401, cjson.encode({ error = message }))
end

-- Unconfigured name: 204 to anything. Configured (server.signed): the three headers must be
-- there, webhook-timestamp Unix seconds within opts.tolerance (300) s of now, and one of the
-- "v1,<base64>" entries of webhook-signature must equal base64(HMAC-SHA256(key, id .. "." ..
-- timestamp .. "." .. body)) for one of the secrets -> 204; else 401 {"error": "..."}.
function M.signed()
  local body = begin()
  local name = ngx.var.uri:match("^/signed/(.*)$") or ""
  local opts = platform_opts("signed:" .. name)
  if not opts then return send_empty(204) end

  local id, ts, sigs = header("webhook-id"), header("webhook-timestamp"),
    header("webhook-signature")
  if not id or id == "" or not ts or not sigs then
    return signed_error("missing required headers")
  end
  if not ts:match("^%d+$") then return signed_error("invalid timestamp") end
  ngx.update_time()
  local tolerance = tonumber(opts.tolerance) or 300
  local age = ngx.time() - tonumber(ts)
  if age > tolerance then return signed_error("message timestamp too old") end
  if age < -tolerance then return signed_error("message timestamp too new") end

  local signed = id .. "." .. ts .. "." .. body
  for _, secret in ipairs(signed_secrets(opts)) do
    local key = signed_key(secret)
    if key then
      local expected = ngx.encode_base64(hmac_sha256(key, signed))
      for entry in sigs:gmatch("%S+") do
        local version, value = entry:match("^([^,]+),(.+)$")
        if version == "v1" and value == expected then return send_empty(204) end
      end
    end
  end
  return signed_error("no matching signature found")
end

-- The opts of /_control/signed/<name>: nil when fine, else the reason.
function M.check_opts(opts)
  local secrets = signed_secrets(opts)
  if #secrets == 0 then return "secret (string or array of strings) is required" end
  for _, s in ipairs(secrets) do
    if not signed_key(s) then return "secret must be whsec_<base64>: " .. tostring(s) end
  end
  return nil
end

return M
