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

-- Waits until the file at path holds mark; returns its text.
local function wait_file(path, mark, timeout)
  local text, deadline = "", system.gettime() + (timeout or 10)
  while not text:find(mark, 1, true) and system.gettime() < deadline do
    system.sleep(0.05)
    local f = io.open(path)
    text = f and f:read("*a") or ""
    if f then f:close() end
  end
  return text
end

-- Waits until nginx's error log holds text (or seconds pass).
local function wait_error_log(text, seconds)
  local deadline = system.gettime() + seconds
  while not app.error_log():find(text, 1, true) and system.gettime() < deadline do
    system.sleep(0.05)
  end
end

-- Fetches urls all at once with curl in the background (curl_opts added)
-- while this process times /ping for `seconds`; returns what curl printed,
-- the /ping times and the wall time until curl was done.
local function parallel_while_pinging(urls, curl_opts, seconds)
  local out = os.tmpname()
  local quoted = {}
  for i, u in ipairs(urls) do quoted[i] = "'" .. u .. "'" end
  local t0 = system.gettime()
  os.execute(("(curl -s --parallel --parallel-max %d %s %s > %s; echo done >> %s) &")
    :format(#urls, curl_opts, table.concat(quoted, " "), out, out))
  local pings = {}
  while system.gettime() - t0 < seconds do
    local took = run("curl -s -o /dev/null -m 2 -w '%{time_total}' " .. app.url("/ping"))
    pings[#pings + 1] = assert(tonumber(took), took)
    system.sleep(0.02)
  end
  local text = wait_file(out, "done", 10)
  os.remove(out)
  return text, pings, system.gettime() - t0
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
    local urls = {}
    for _ = 1, 100 do urls[#urls + 1] = app.url("/notify?delay=0.5") end
    -- 100 requests at once, in the background; /ping meanwhile from here.
    local text, pings, wall = parallel_while_pinging(urls, "-w '%{time_total}\\n'", 0.6)
    local statuses = count(text, '"status":"success"')
    assert.equal(100, statuses, text:sub(1, 500))
    assert.is_true(wall < 1.5, "100 requests took " .. wall)
    for took in text:gmatch('"took":([%d.e-]+)') do
      assert.is_true(tonumber(took) < 1.2, "one request waited " .. took)
    end
    assert.is_true(#pings >= 5)
    -- A blocked event loop would hold /ping for the 0.5 s of a notification;
    -- 0.25 s leaves room for a machine busy with other work (0.05 s did not).
    for _, p in ipairs(pings) do assert.is_true(p < 0.25, "/ping took " .. p) end
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
    wait_error_log("callback boom", 5)
    assert.matches("notifyhub: callback raised: .*callback boom", app.error_log())
    assert.is_string(id)
    local _, again = server.http("GET", app.url("/notify?delay=0"))
    assert.equal("success", cjson.decode(again).status)
  end)

  it("returns every wait with a timeout on time, even under 1 ms, while /ping stays fast", function()
    app.start()
    local urls = {}
    for i = 0, 199 do
      local t = 0.0001 * 10000 ^ (i / 199)        -- 0.0001 s to 1 s
      urls[#urls + 1] = app.url(("/wait-for?t=%.6f"):format(t))
    end
    local text, pings = parallel_while_pinging(urls, "-m 5", 1.2)
    local answered = 0
    for line in text:gmatch("[^\n]+") do
      if line:sub(1, 1) == "{" then
        local r = cjson.decode(line)
        answered = answered + 1
        assert.equal("TIMEOUT", r.code, line)
        assert.is_true(r.took <= r.t + 0.05, line)
      end
    end
    assert.equal(200, answered, text:sub(1, 300))
    -- A spinning wait held the worker for good (/ping never answered);
    -- 0.25 s leaves room for a busy machine and still catches any spin.
    for _, p in ipairs(pings) do assert.is_true(p < 0.25, "/ping took " .. p) end
  end)

  it("wakes a waiting request as soon as its message finishes, on an idle worker", function()
    app.start()
    local tooks = {}
    for i = 1, 20 do
      system.sleep(0.15)                         -- the worker goes idle between sends
      local _, body = server.http("GET", app.url("/notify?delay=0"))
      local r = cjson.decode(body)
      assert.equal("success", r.status, body)
      tooks[i] = r.took
    end
    table.sort(tooks)
    -- the pump used to sleep 100 ms when idle: sends took 74-94 ms
    assert.is_true(tooks[10] < 0.02, "median send() took " .. tooks[10])
    assert.is_true(tooks[19] < 0.05, "send() took " .. tooks[19])
    local log = app.error_log()
    assert.falsy(log:find("wake-up socket", 1, true), log)
    assert.falsy(log:find("[error]", 1, true), log)
  end)

  it("lets a callback wait on another handle", function()
    app.start()
    local status, body = server.http("GET", app.url("/nested"), nil, nil, 10)
    assert.equal(200, status)
    local r = cjson.decode(body)
    assert.equal("success", r.outer, body)
    assert.equal("success", r.inner, body)
    -- the pump goes on afterwards
    local _, again = server.http("GET", app.url("/notify?delay=0"))
    assert.equal("success", cjson.decode(again).status)
  end)

  it("logs a callback error whose __tostring raises, and runs the handle's other callbacks", function()
    app.start()
    local _, body = server.http("GET", app.url("/bad-tostring"))
    local id = cjson.decode(body).id
    wait_error_log("second callback ran " .. id, 5)
    local log = app.error_log()
    assert.truthy(log:find("second callback ran " .. id, 1, true), log:sub(-2000))
    assert.matches("notifyhub: callback raised", log)
    assert.falsy(log:find("poll failed", 1, true))
  end)

  it("names send or send_async in an argument error, at the caller's line", function()
    app.start()
    local _, body = server.http("GET", app.url("/arg-errors"))
    local got = cjson.decode(body)
    for i, name in ipairs({ "send_async", "send" }) do
      local line, err = got[i][1], got[i][2]
      assert.matches("bad argument #1 to '" .. name .. "'", err, 1, true)
      assert.matches(("handlers.lua:%d:"):format(line), err, 1, true)
    end
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

  it("keeps serving requests in flight while an exiting worker drains", function()
    app.start({ close_timeout = 5 })
    server.clear()
    local _, body = server.http("GET", app.url("/queue?n=5&delay=2.5"))
    local ids = cjson.decode(body)
    local out = os.tmpname()
    os.execute(("(curl -s -m 10 -w ' %%{time_total}' '%s' > %s; echo ' done' >> %s) &")
      :format(app.url("/sleep?t=0.5"), out, out))
    system.sleep(0.1)
    assert.is_true(app.signal("reload"))
    local text = wait_file(out, "done", 10)
    os.remove(out)
    local took = tonumber(text:match("slept%s+([%d.]+)"))
    assert.is_number(took, text)
    assert.is_true(took < 1.2, "a 0.5 s request took " .. tostring(took) .. " across the reload")
    -- and the drain still delivered what was queued
    local deadline = system.gettime() + 10
    while count(app.error_log(), "notifyhub%-spec: delivered ") < 5 and system.gettime() < deadline do
      system.sleep(0.1)
    end
    local delivered = accounted(ids)
    assert.equal(5, delivered)
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
