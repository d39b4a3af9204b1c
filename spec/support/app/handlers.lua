-- Request handlers of the nginx under test (spec/support/app/nginx.conf):
-- each one uses notifyhub.ngx the way an application would.
local cjson = require("cjson")
local nh = require("notifyhub.ngx")

local M = {}
local standin
local delivered = 0
local refused = 0          -- send_async answered nil (QUEUE_FULL): /stats says so

-- extra (spec/support/app.lua's opts.extra): { config = {...}, opts = {...} }
-- merged over the defaults (a spool, a rate limit, shared_rates).
function M.configure(base, close_timeout, extra)
  standin = base
  local cfg = {
    webhook = { url = base .. "/webhook/app" },
    http = { timeout = 5 },
    retry = { max_attempts = 1 },
    async = { buffer_size = 20000 },
  }
  local opts = { close_timeout = close_timeout }
  for k, v in pairs(extra and extra.config or {}) do cfg[k] = v end
  for k, v in pairs(extra and extra.opts or {}) do opts[k] = v end
  nh.configure(cfg, opts)
end

-- Waits on its own notification (the webhook answers after ?delay=).
function M.notify()
  local delay = ngx.var.arg_delay or "0"
  local t0 = ngx.now()
  local receipt, err, code = nh.send({ body = "notify " .. ngx.var.request_id,
    targets = { { platform = "webhook", value = standin .. "/webhook/notify?delay=" .. delay } } })
  ngx.update_time()
  ngx.say(cjson.encode({ status = receipt and receipt.status or code, err = err,
    took = ngx.now() - t0 }))
end

-- Queues ?n= messages to a webhook answering after ?delay=, without waiting.
function M.queue()
  local n, delay = tonumber(ngx.var.arg_n or "1"), ngx.var.arg_delay or "0"
  local ids = {}
  for i = 1, n do
    local h = assert(nh.send_async({ body = "queued " .. i,
      targets = { { platform = "webhook", value = standin .. "/webhook/queued?delay=" .. delay } } }))
    h:on_complete(function(r) ngx.log(ngx.NOTICE, "notifyhub-spec: delivered ", r.message_id) end)
    ids[i] = h.id
  end
  ngx.say(cjson.encode(ids))
end

-- One message to the webhook ?path= (default /webhook/accept) with ?delay=,
-- not waited for; its id is in its body ("id:ID"). Answers 200 "OK ID pid"
-- or 503 with {code, err} and, either way, how long send_async took.
function M.accept()
  local path, delay = ngx.var.arg_path or "/webhook/accept", ngx.var.arg_delay or "0"
  local id = "a-" .. ngx.var.request_id
  ngx.update_time()
  local t0 = ngx.now()
  local h, err, code = nh.send_async({ id = id, body = "id:" .. id,
    targets = { { platform = "webhook", value = standin .. path .. "?delay=" .. delay } } })
  ngx.update_time()
  local took = ngx.now() - t0
  if h then
    ngx.say("OK ", h.id, " ", ngx.worker.pid(), " ", took)
  else
    ngx.status = 503
    ngx.say(cjson.encode({ code = code, err = err, took = took }))
  end
end

-- One notification per request, not waited for (the benchmark's endpoint).
function M.one()
  local h = nh.send_async({ body = "one" , targets = { { platform = "webhook", value = standin .. "/sink" } } })
  if not h then refused = refused + 1 end
  ngx.say("ok")
end

-- The same with a callback per message.
local function count_delivered() delivered = delivered + 1 end

function M.one_cb()
  local h = nh.send_async({ body = "one", targets = { { platform = "webhook", value = standin .. "/sink" } } })
  if h then h:on_complete(count_delivered) else refused = refused + 1 end
  ngx.say("ok")
end

-- The same workload the way it is done without notifyhub: a cosocket POST
-- from a timer.
local function post(premature, host, port)
  if premature then return end
  local sock = ngx.socket.tcp()
  sock:settimeout(5000)
  local ok = sock:connect(host, port)
  if not ok then return end
  local body = '{"body":"one"}'
  sock:send("POST /sink HTTP/1.1\r\nHost: " .. host .. "\r\nContent-Type: application/json\r\n"
    .. "Content-Length: " .. #body .. "\r\n\r\n" .. body)
  local reader = sock:receiveuntil("\r\n\r\n")
  local head = reader()
  local len = head and tonumber(head:lower():match("content%-length:%s*(%d+)"))
  if len then sock:receive(len) end
  sock:setkeepalive(10000, 256)
end

function M.cosocket()
  local host, port = standin:match("^http://([^:/]+):(%d+)")
  ngx.timer.at(0, post, host, tonumber(port))
  ngx.say("ok")
end

function M.callback_error()
  local h = assert(nh.send_async({ body = "raises" }))
  h:on_complete(function() error("callback boom") end)
  ngx.say(cjson.encode({ id = h.id }))
end

function M.log_phase()
  if ngx.status >= 500 then
    nh.send_async({ title = "upstream failed", body = ngx.var.request_uri .. " answered " .. ngx.status,
      targets = { { platform = "webhook", value = standin .. "/webhook/logged" } } })
  end
end

-- Waits ?t= seconds on a notification to a webhook that answers after 5 s.
function M.wait_for()
  local t = tonumber(ngx.var.arg_t)
  local h = assert(nh.send_async({ body = "hangs",
    targets = { { platform = "webhook", value = standin .. "/webhook/hung?delay=5" } } }))
  ngx.update_time()
  local t0 = ngx.now()
  local _, err, code = h:wait(t)
  ngx.update_time()
  h:cancel()
  ngx.say(cjson.encode({ t = t, code = code, err = err, took = ngx.now() - t0 }))
end

-- A callback of one message waits on another message (callbacks run in the
-- pump, which then has to keep pumping).
function M.nested()
  local hook = standin .. "/webhook/nested?delay="
  local first = assert(nh.send_async({ body = "first",
    targets = { { platform = "webhook", value = hook .. "0.1" } } }))
  local second = assert(nh.send_async({ body = "second",
    targets = { { platform = "webhook", value = hook .. "0.5" } } }))
  local inner
  first:on_complete(function()
    local r, _, code = second:wait(5)
    inner = r and r.status or code
  end)
  local r, err, code = first:wait(5)
  ngx.say(cjson.encode({ outer = r and r.status or code, inner = inner, err = err }))
end

-- A callback raises an error value whose __tostring raises too; the
-- handle's other callback must still run.
function M.bad_tostring()
  local h = assert(nh.send_async({ body = "bad tostring" }))
  h:on_complete(function()
    error(setmetatable({}, { __tostring = function() error("tostring boom") end }))
  end)
  h:on_complete(function(r) ngx.log(ngx.NOTICE, "notifyhub-spec: second callback ran ", r.message_id) end)
  ngx.say(cjson.encode({ id = h.id }))
end

-- The errors of send_async and send with a message of the wrong type, and
-- the line of this file each call is on.
function M.arg_errors()
  local out = {}
  local line = debug.getinfo(1, "l").currentline
  out[#out + 1] = { line + 1, select(2, pcall(function() nh.send_async({ title = 5 }) end)) }
  out[#out + 1] = { line + 2, select(2, pcall(function() nh.send(5) end)) }
  ngx.say(cjson.encode(out))
end

-- configure() with one pump option from ?name=&value= (nan, inf, -inf, a
-- number, or empty / ctl: "" / a string with a newline): the error it
-- raises, or "ok".
function M.bad_option()
  local special = { nan = 0 / 0, inf = math.huge, ["-inf"] = -math.huge, empty = "", ctl = "a\nb" }
  local v = special[ngx.var.arg_value] or tonumber(ngx.var.arg_value)
  local ok, err = pcall(nh.configure, { webhook = { url = standin .. "/webhook/app" } },
    { [ngx.var.arg_name] = v })
  ngx.say(ok and "ok" or err)
end

-- configure() with ?section= (async, http, logger, ...) set to a number: the
-- error it raises, or "ok".
function M.bad_section()
  local ok, err = pcall(nh.configure, { webhook = { url = standin .. "/webhook/app" },
    [ngx.var.arg_section] = 5 })
  ngx.say(ok and "ok" or err)
end

function M.stats()
  local s = nh.stats()
  s.latency = nil
  s.pid = ngx.worker.pid()          -- bench/ngx.lua adds up the workers' counts
  s.refused = refused
  ngx.say(cjson.encode(s))
end

return M
