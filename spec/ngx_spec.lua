-- notifyhub.ngx inside a real nginx (Debian's, with lua-nginx-module on
-- LuaJIT) that the suite starts: spec/support/app/ is the application, the
-- loopback stand-in of spec/support/server.lua is the webhook it notifies.

local server = require("spec.support.server")
local app = require("spec.support.app")
local cjson = require("cjson")
local system = require("system")

local function run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  p:close()
  return out
end

local function count(haystack, needle)
  local n = 0
  for _ in haystack:gmatch(needle) do n = n + 1 end
  return n
end

describe("notifyhub.ngx", function()
  teardown(function()
    app.stop()
    server.stop()
  end)

  before_each(function() server.start() end)
  after_each(function() app.stop() end)

  it("serves 100 concurrent requests waiting on 0.5 s notifications without blocking /ping", function()
    app.start()
    server.clear()
    local out = os.tmpname()
    local urls = {}
    for _ = 1, 100 do urls[#urls + 1] = "'" .. app.url("/notify?delay=0.5") .. "'" end
    local t0 = system.gettime()
    -- 100 requests at once, in the background; /ping meanwhile from here.
    os.execute(("(curl -s --parallel --parallel-max 100 -w '%%{time_total}\\n' %s > %s; echo done >> %s) &")
      :format(table.concat(urls, " "), out, out))
    local pings = {}
    while system.gettime() - t0 < 0.6 do
      local took = run("curl -s -o /dev/null -w '%{time_total}' " .. app.url("/ping"))
      pings[#pings + 1] = assert(tonumber(took), took)
      system.sleep(0.02)
    end
    local text = ""
    local deadline = system.gettime() + 10
    while not text:find("done") and system.gettime() < deadline do
      system.sleep(0.05)
      local f = io.open(out)
      text = f and f:read("*a") or ""
      if f then f:close() end
    end
    os.remove(out)
    local wall = system.gettime() - t0
    local statuses = count(text, '"status":"success"')
    assert.equal(100, statuses, text:sub(1, 500))
    assert.is_true(wall < 1.5, "100 requests took " .. wall)
    for took in text:gmatch('"took":([%d.e-]+)') do
      assert.is_true(tonumber(took) < 1.2, "one request waited " .. took)
    end
    assert.is_true(#pings >= 5)
    for _, p in ipairs(pings) do assert.is_true(p < 0.05, "/ping took " .. p) end
    assert.equal(100, server.count("/webhook/notify"))
  end)

  it("sends notifications from log_by_lua", function()
    app.start()
    server.clear()
    local status = server.http("GET", app.url("/logged?x=1"))
    assert.equal(502, status)
    local reqs = server.wait_for(1, "/webhook/logged", 5)
    assert.equal(1, #reqs)
    local body = cjson.decode(reqs[1].body)
    assert.equal("upstream failed", body.title)
    assert.equal("/logged?x=1 answered 502", body.body)
  end)

  it("logs callback errors and keeps pumping", function()
    app.start()
    local _, body = server.http("GET", app.url("/cb-error"))
    local id = cjson.decode(body).id
    local deadline = system.gettime() + 5
    while not app.error_log():find("callback boom", 1, true) and system.gettime() < deadline do
      system.sleep(0.05)
    end
    assert.matches("notifyhub: callback raised: .*callback boom", app.error_log())
    assert.is_string(id)
    local _, again = server.http("GET", app.url("/notify?delay=0"))
    assert.equal("success", cjson.decode(again).status)
  end)

  -- Every id the app queued is in the error log once: delivered, or not.
  local function accounted(ids)
    local log = app.error_log()
    local delivered, lost = 0, 0
    for _, id in ipairs(ids) do
      local d = log:find("delivered " .. id, 1, true) ~= nil
      local l = log:find("message " .. id .. " not delivered", 1, true) ~= nil
      assert.is_true(d ~= l, id .. (d and " twice" or " vanished"))
      if d then delivered = delivered + 1 else lost = lost + 1 end
    end
    return delivered, lost
  end

  it("delivers what was queued before a reload", function()
    app.start({ close_timeout = 3 })
    server.clear()
    local _, body = server.http("GET", app.url("/queue?n=20&delay=0.5"))
    local ids = cjson.decode(body)
    assert.equal(20, #ids)
    assert.is_true(app.signal("reload"))
    local deadline = system.gettime() + 10
    while system.gettime() < deadline do
      local log = app.error_log()
      if count(log, "notifyhub%-spec: delivered ") + count(log, " not delivered: ") >= 20 then break end
      system.sleep(0.1)
    end
    local delivered, lost = accounted(ids)
    assert.equal(20, delivered)
    assert.equal(0, lost)
    local _, again = server.http("GET", app.url("/notify?delay=0"))
    assert.equal("success", cjson.decode(again).status)    -- the new worker has its own client
  end)

  it("reports as undelivered what a quit cut off, and loses none", function()
    app.start({ close_timeout = 0.5 })
    server.clear()
    local _, body = server.http("GET", app.url("/queue?n=20&delay=5"))
    local ids = cjson.decode(body)
    assert.is_true(app.signal("quit"))
    assert.is_true(app.wait_exit(10))
    local delivered, lost = accounted(ids)
    assert.equal(0, delivered)
    assert.equal(20, lost)
    assert.matches("the worker exits; 20 message%(s%) were not delivered", app.error_log())
  end)
end)
