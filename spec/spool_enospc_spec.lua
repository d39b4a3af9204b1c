-- A full disk under the spool (issue 13): a 2 MiB tmpfs mounted for the
-- test (needs root and a container that allows mount; else pending). The
-- spool answers SPOOL_FULL, records nothing half, and works again once
-- there is room. (spool_client_spec.lua covers the file-size limit, EFBIG.)

local shell = require("spec.support.shell")
local server = require("spec.support.server")
local system = require("system")
local notifyhub = require("notifyhub")
local spool = require("notifyhub.spool")

local SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

-- Fills the file system under dir with `name` until a write fails.
local function fill(dir, name)
  shell.execute(("dd if=/dev/zero of=%s bs=4k 2>/dev/null"):format(shell.q(dir .. "/" .. name)))
  local free = shell.capture(("df -k --output=avail %s | tail -1"):format(shell.q(dir)))
  return tonumber(free:match("%d+"))
end

local function stats(path)
  local sp = assert(spool.open(path))
  local st = assert(sp:stats())
  sp:close()
  return st
end

describe("spool: a full disk (ENOSPC)", function()
  local dir, mounted, why
  setup(function()
    server.start()
    dir = (shell.capture("mktemp -d /tmp/nh-enospc-XXXXXX"):gsub("%s+$", ""))
    local out = shell.capture(("mount -t tmpfs -o size=2m tmpfs %s 2>&1; echo \"rc=$?\""):format(shell.q(dir)))
    mounted = out:match("rc=0%s*$") ~= nil
    why = out:gsub("%s*rc=%d+%s*$", "")
  end)
  teardown(function()
    server.stop()
    if mounted then shell.execute("umount " .. shell.q(dir)) end
    shell.execute("rm -rf " .. shell.q(dir))
  end)

  it("refuses with SPOOL_FULL, records nothing half, and accepts again once there is room", function()
    if not mounted then
      pending("mount -t tmpfs refused (root and a container that allows mount needed): " .. why)
      return
    end
    local path = dir .. "/full.db"
    local url = server.signed("enospc", { secret = SECRET })
    local c = assert(notifyhub.new({ spool = { path = path }, webhook = { url = url, secret = SECRET } }))
    -- leave some 800 KiB: room for a few hundred KiB of records in the WAL
    shell.execute(("dd if=/dev/zero of=%s bs=1k count=1200 2>/dev/null"):format(shell.q(dir .. "/filler")))
    local body, accepted, refused = string.rep("z", 4000), {}, nil
    for i = 1, 2000 do
      local id = "enospc-" .. i
      local h, err, code = c:send_async({ id = id, body = body })
      if not h then
        refused = { id = id, err = err, code = code }
        break
      end
      accepted[#accepted + 1] = id
    end
    assert.truthy(refused, "the disk never filled")
    assert.equal("SPOOL_FULL", refused.code)
    assert.matches(path, refused.err, 1, true)
    assert.matches("no room", refused.err, 1, true)
    assert.is_true(#accepted > 5, #accepted .. " accepted")
    assert(c:wait_all(30))                   -- every accepted one is delivered
    if os.getenv("NH_SPEC_VERBOSE") then print(("accepted %d, then %s"):format(#accepted, refused.err)) end

    -- the disk quite full: a send and a new spool there are refused the same way.
    -- The send is 100 KB: the WAL keeps the frames the refused transaction
    -- wrote before it ran out of room, and a small put (2 pages since seqs and
    -- max_queued slots are reserved in blocks) fits in them, needing no room.
    assert.equal(0, fill(dir, "filler2"))
    local h, _, code = c:send_async({ id = "enospc-refused-2", body = string.rep("x", 100000) })
    assert.is_nil(h)
    assert.equal("SPOOL_FULL", code)
    local other, err2, code2 = notifyhub.new({ spool = { path = dir .. "/other.db" } })
    assert.is_nil(other)
    assert.equal("SPOOL_FULL", code2)
    assert.matches(dir .. "/other.db", err2, 1, true)

    -- room again: the spool accepts, and the ends held back meanwhile are written
    os.remove(dir .. "/filler")
    os.remove(dir .. "/filler2")
    local err
    h, err = c:send_async({ id = "enospc-again", body = "small" })
    assert.truthy(h, err)
    assert(h:wait(10))
    local deadline, st = system.gettime() + 10
    repeat
      st = stats(path)
      if st.queued + st.taken == 0 then break end
      system.sleep(0.1)
    until system.gettime() > deadline
    c:close()
    assert.equal(0, st.queued + st.taken + st.failed)

    local seen = {}
    for _, r in ipairs(server.requests("/signed/enospc")) do seen[r.headers["webhook-id"]] = true end
    for _, id in ipairs(accepted) do assert.truthy(seen[id], id .. " was accepted, not delivered") end
    assert.is_nil(seen[refused.id])          -- refused: not recorded, not sent
    assert.is_nil(seen["enospc-refused-2"])
    assert.truthy(seen["enospc-again"])
  end)
end)
