-- Issue 13 reviewed from outside: what a user or an attacker could do to the
-- spool that the parts did not hold. Each block is named after what broke.

local shell = require("spec.support.shell")
local child = require("spec.support.child")
local notifyhub = require("notifyhub")
local spool = require("notifyhub.spool")

local INTERPRETER = os.getenv("NH_SPEC_LUA") or (jit and "luajit" or "lua5.4")

local function tmpdir() return shell.tmpdir("review-spool") end

local function is_root()
  return shell.capture("id -u"):match("^0%s") ~= nil
end

-- Runs code as the user nobody (root bypasses permissions); returns its stdout.
local function as_nobody(code)
  local path = child.script(code, INTERPRETER)
  shell.execute("chmod 0644 " .. shell.q(path))
  local out = shell.capture(("cd %s && su nobody -s /bin/sh -c %s 2>&1"):format(
    shell.q(shell.trim(shell.capture("pwd"))),
    shell.q(child.preload() .. INTERPRETER .. " " .. shell.q(path))))
  os.remove(path)
  return out
end

-- Another process holds path's write lock for seconds s (from when this returns).
local function lock_for(path, s)
  local flag = path .. ".locked"
  shell.execute(("python3 -c %s %s %s %s >/dev/null 2>&1 &"):format(shell.q(
    "import sqlite3,sys,time,pathlib\n"
    .. "c=sqlite3.connect(sys.argv[1],isolation_level=None); c.execute('begin exclusive')\n"
    .. "pathlib.Path(sys.argv[2]).touch(); time.sleep(float(sys.argv[3]))"),
    shell.q(path), shell.q(flag), s))
  for _ = 1, 100 do
    if shell.read_file(flag) then break end
    shell.execute("sleep 0.05")
  end
end

describe("review: spool.lease below a second", function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() shell.execute("rm -rf " .. shell.q(dir)) end)

  -- A lease of 1e-300 s ran out before it was written: every other client on
  -- the spool took a live process's messages (20 messages reached the
  -- receiver 202 times) and the writer renewed in a busy loop (a core).
  it("is refused: a lease shorter than the renewal cycle gives live messages away", function()
    for _, v in ipairs({ 1e-300, 0.001, 0.5, 0.999 }) do
      assert.error_matches(function()
        notifyhub.new({ spool = { path = dir .. "/a.db", lease = v } })
      end, "spool.lease: number from 1 to 86400 expected", nil, true)
    end
    local c = assert(notifyhub.new({ spool = { path = dir .. "/a.db", lease = 1 } }))
    c:close()
    c = assert(notifyhub.new({ spool = { path = dir .. "/a.db", lease = 86400 } }))
    c:close()
  end)
end)

describe("review: the inspector and NUL bytes", function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() shell.execute("rm -rf " .. shell.q(dir)) end)

  -- A failed message "m1" in the spool (port 9: refused at once).
  local function failed_spool()
    local path = dir .. "/f.db"
    local c = assert(notifyhub.new({ spool = { path = path }, retry = { max_attempts = 1 },
      logger = { failures = false }, webhook = { url = "http://127.0.0.1:9/x" } }))
    local h = assert(c:send_async({ id = "m1", title = "t", targets = { { platform = "webhook" } } }))
    h:wait(20)
    c:close()
    return path
  end

  it(":retry(id) with a NUL inside the id does not re-queue the id's prefix", function()
    local sp = assert(spool.open(failed_spool()))
    assert.equals(1, assert(sp:stats()).failed)
    assert.is_false(sp:retry("m1\0anything"))
    local st = assert(sp:stats())
    assert.equals(1, st.failed)
    assert.equals(0, st.queued)
    assert.is_true(sp:retry("m1"))
    sp:close()
  end)

  it("spool.open(path) with a NUL inside the path opens nothing", function()
    local path = failed_spool()
    local sp, err, code = spool.open(path .. "\0.other")
    assert.is_nil(sp)
    assert.equals("INVALID_CONFIG", code)
    assert.matches("NUL", err, 1, true)
  end)
end)

describe("review: a spool file in a directory the user cannot write", function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() shell.execute("rm -rf " .. shell.q(dir)) end)

  -- WAL needs the -wal and -shm files beside the spool: the open failed deep
  -- in SQLite with INTERNAL ("attempt to write a readonly database").
  it("is INVALID_CONFIG naming the path, from notifyhub.new and spool.open", function()
    if not is_root() then
      pending("needs root to run the check as nobody")
      return
    end
    local path = dir .. "/ro/spool.db"
    shell.execute("mkdir " .. shell.q(dir .. "/ro"))
    assert(notifyhub.new({ spool = { path = path } })):close()
    shell.execute(("chmod 0755 %s %s && chown nobody %s"):format(shell.q(dir), shell.q(dir .. "/ro"),
      shell.q(path)))
    local out = as_nobody(([[
      local notifyhub = require("notifyhub")
      local c, err, code = notifyhub.new({ spool = { path = %q } })
      print("new", tostring(c), code, err)
      local sp, err2, code2 = require("notifyhub.spool").open(%q)
      print("open", tostring(sp), code2, err2)
    ]]):format(path, path))
    assert.matches("new\tnil\tINVALID_CONFIG\tspool " .. path, out, 1, true)
    assert.matches("open\tnil\tINVALID_CONFIG\tspool " .. path, out, 1, true)
    assert.matches("directory", out, 1, true)
  end)
end)

describe("review: a file-size limit (ulimit -f) without trap", function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() shell.execute("rm -rf " .. shell.q(dir)) end)

  -- SIGXFSZ's default action ends the process: the first write past the
  -- limit killed the sender (status 153) instead of answering SPOOL_FULL.
  it("answers SPOOL_FULL instead of the process dying of SIGXFSZ", function()
    local path = dir .. "/fsz.db"
    local script = child.script(([[
      local notifyhub = require("notifyhub")
      local c = assert(notifyhub.new({ spool = { path = %q }, async = { enabled = false },
        retry = { max_attempts = 1 }, logger = { failures = false }, webhook = { url = "http://127.0.0.1:9/x" } }))
      for i = 1, 20000 do
        local h, err, code = c:send_async_batch({ { title = "t", body = ("x"):rep(8000),
          targets = { { platform = "webhook" } } } })
        if not h and code ~= "NETWORK" then print("REFUSED " .. tostring(code)) break end
      end
      c:close(0)
      print("DONE")
    ]]):format(path), INTERPRETER)
    local p = assert(io.popen(("sh -c %s 2>&1; echo \"status=$?\""):format(shell.q(
      ("ulimit -f 512; exec env %s%s %s"):format(child.preload(), INTERPRETER, shell.q(script))))))
    local out = p:read("*a")
    p:close()
    os.remove(script)
    assert.matches("REFUSED SPOOL_FULL", out, 1, true)
    assert.matches("DONE", out, 1, true)
    assert.matches("status=0", out, 1, true)
  end)
end)

describe("review: a spool file that others can read", function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() shell.execute("rm -rf " .. shell.q(dir)) end)

  local function mode(path)
    return shell.trim(shell.capture("stat -c %a " .. shell.q(path)))
  end

  -- An empty file made by `touch` (0644 under umask 022) became the spool
  -- as it was: the records (webhook URLs, signing secrets) and its -wal and
  -- -shm files (SQLite gives them the file's mode) were world-readable.
  it("is made 0600 with its -wal and -shm files when this user owns it", function()
    local path = dir .. "/touched.db"
    shell.execute("touch " .. shell.q(path) .. " && chmod 0644 " .. shell.q(path))
    local c = assert(notifyhub.new({ spool = { path = path }, async = { enabled = false },
      retry = { max_attempts = 1 }, logger = { failures = false },
      webhook = { url = "http://127.0.0.1:9/hooks/TOKEN", secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" } }))
    c:send_async({ title = "t", targets = { { platform = "webhook" } } })
    assert.equals("600", mode(path))
    assert.equals("600", mode(path .. "-wal"))
    assert.equals("600", mode(path .. "-shm"))
    c:close(0)
    -- a spool left 0666 by hand is made 0600 again when opened
    shell.execute("chmod 0666 " .. shell.q(path))
    local sp = assert(spool.open(path))
    assert.equals("600", mode(path))
    sp:close()
  end)

  it("is refused, naming the path, when it belongs to another user", function()
    if not is_root() then
      pending("needs root to run the check as nobody")
      return
    end
    local path = dir .. "/shared.db"
    assert(notifyhub.new({ spool = { path = path } })):close()
    shell.execute(("chmod 0777 %s && chmod 0666 %s"):format(shell.q(dir), shell.q(path)))
    local out = as_nobody(([[
      local c, err, code = require("notifyhub").new({ spool = { path = %q } })
      print("new", tostring(c), code, err)
    ]]):format(path))
    assert.matches("new\tnil\tINVALID_CONFIG\tspool " .. path, out, 1, true)
    assert.matches("other users", out, 1, true)
  end)
end)

describe("review: SPOOL_BUSY's message", function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() shell.execute("rm -rf " .. shell.q(dir)) end)

  -- It named async.timeout (0 by default) when the wait was spool.wait's.
  it("names the wait that ran out, in seconds", function()
    local path = dir .. "/busy.db"
    local c = assert(notifyhub.new({ spool = { path = path, wait = 0.2 },
      webhook = { url = "http://127.0.0.1:9/x" } }))
    lock_for(path, 3)
    local h, err, code = c:send_async({ title = "t", targets = { { platform = "webhook" } } })
    assert.is_nil(h)
    assert.equals("SPOOL_BUSY", code)
    assert.matches(path, err, 1, true)
    assert.matches("0.2 s", err, 1, true)
    c:close(0)
  end)
end)

describe("review: a damaged spool file", function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() shell.execute("rm -rf " .. shell.q(dir)) end)

  -- A spool cut short (a copy that stopped, a disk error) was INTERNAL
  -- ("reading its header: database disk image is malformed").
  it("is INVALID_CONFIG naming the path, from notifyhub.new and spool.open", function()
    local good, cut = dir .. "/good.db", dir .. "/cut.db"
    assert(notifyhub.new({ spool = { path = good } })):close()
    shell.write_file(cut, shell.read_file(good):sub(1, 100))
    local c, err, code = notifyhub.new({ spool = { path = cut } })
    assert.is_nil(c)
    assert.equals("INVALID_CONFIG", code)
    assert.matches("spool " .. cut .. ": is not a spool (a damaged SQLite database", err, 1, true)
    local sp
    sp, err, code = spool.open(cut)
    assert.is_nil(sp)
    assert.equals("INVALID_CONFIG", code)
    assert.matches(cut, err, 1, true)
  end)
end)

describe("review: the inspector's wait for a locked spool", function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() shell.execute("rm -rf " .. shell.q(dir)) end)

  -- It always waited 5 s: inside nginx, an admin page's :retry() or
  -- :purge_failed() held the worker's event loop that long.
  it("is opts.wait seconds: SPOOL_BUSY after it, and bad values raise", function()
    local system = require("system")
    local path = dir .. "/i.db"
    assert(notifyhub.new({ spool = { path = path } })):close()
    local sp = assert(spool.open(path, { wait = 0.2 }))
    lock_for(path, 4)
    local t0 = system.gettime()
    local n, err, code = sp:purge_failed()
    local took = system.gettime() - t0
    assert.is_nil(n)
    assert.equals("SPOOL_BUSY", code)
    assert.matches(path, err, 1, true)
    assert.is_true(took < 2, "waited " .. took .. " s")
    sp:close()
    for _, v in ipairs({ 0, -1, 0 / 0, math.huge, 61, "1" }) do
      assert.error_matches(function() spool.open(path, { wait = v }) end, "wait", nil, true)
    end
    assert.error_matches(function() spool.open(path, { bogus = 1 }) end, "bogus", nil, true)
  end)
end)
