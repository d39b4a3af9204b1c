--- The handlers of examples/openresty/nginx.conf.
local cjson = require("cjson.safe")
local nh = require("notifyhub.ngx")

local M = {}

-- init_by_lua: the platforms from the environment; no client yet (one is
-- made in each worker, after fork).
function M.configure()
  local cfg = { http = { timeout = 10 } }
  if os.getenv("FEISHU_WEBHOOK_URL") then
    cfg.feishu = { webhook_url = os.getenv("FEISHU_WEBHOOK_URL"), secret = os.getenv("FEISHU_SECRET") }
  end
  if os.getenv("WEBHOOK_URL") then cfg.webhook = { url = os.getenv("WEBHOOK_URL") } end
  nh.configure(cfg, { close_timeout = 5 })
  M.targets = {}
  for name in pairs(cfg) do
    if name ~= "http" then M.targets[#M.targets + 1] = { platform = name } end
  end
end

local function reply(status, value)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(value))
end

-- POST /alert: fans the alert out and answers with the receipt. The wait
-- yields: this worker keeps serving other requests meanwhile.
function M.alert()
  if ngx.req.get_method() ~= "POST" then return reply(405, { error = "POST a JSON alert" }) end
  ngx.req.read_body()
  local alert = cjson.decode(ngx.req.get_body_data() or "")
  if type(alert) ~= "table" then return reply(400, { error = "the body is not a JSON object" }) end
  if #M.targets == 0 then return reply(503, { error = "no platform is configured" }) end
  local receipt, err, code, failed = nh.send({
    title = type(alert.title) == "string" and alert.title or nil,
    body = type(alert.body) == "string" and alert.body or nil,
    priority = type(alert.priority) == "string" and alert.priority or nil,
    targets = M.targets,
  })
  if receipt then return reply(200, receipt) end
  reply(code == "INVALID_MESSAGE" and 400 or 502, { error = err, code = code, receipt = failed })
end

-- log_by_lua on /app/: a 5xx from the upstream sends a notification, async
-- (log_by_lua cannot wait, and the response has gone already).
function M.upstream_failed()
  local status = tonumber(ngx.var.upstream_status) or ngx.status
  if status < 500 or #M.targets == 0 then return end
  nh.send_async({
    title = "upstream " .. status,
    body = ("%s %s answered %d"):format(ngx.req.get_method(), ngx.var.request_uri, status),
    priority = "high",
    targets = M.targets,
  })
end

function M.stats()
  local s = nh.stats() or {}
  s.latency = nil
  reply(200, s)
end

return M
