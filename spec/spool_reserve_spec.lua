-- The spool's reservations (issue 13, the 0.5x goal): each handle takes seqs
-- and max_queued slots from counts in blocks, so that a put does not write the
-- counts page. tests/spool_store.c (mode reserve) checks, against real files
-- and a process that dies without closing, that seqs stay unique, the rows
-- never pass max_queued (max_queued = 1 still means one), a clean close gives
-- the unused slots back and a takeover counts a dead holder's out.

local shell = require("spec.support.shell")

describe("the spool's reserved blocks, from C", function()
  it("keeps seqs unique and max_queued a bound, across handles and a dead process", function()
    assert(shell.execute("make -s build/spool_store >/dev/null"))
    local dir = (shell.capture("mktemp -d /tmp/nh-spool-XXXXXX"):gsub("%s+$", ""))
    local p = assert(io.popen("build/spool_store reserve " .. shell.q(dir) .. " 2>&1"))
    local out = p:read("*a")
    local ok = p:close()
    shell.execute("rm -rf " .. shell.q(dir))
    assert.is_nil(out:match("FAIL[^\n]*"), out)
    assert.is_true(ok, out)
    for _, line in ipairs({
      "two handles on one file never give out the same seq",
      "a handle opened later gives seqs above every earlier one",
      "max_queued = 1 holds exactly one message, and one again once it was delivered",
      "two live handles: never more rows than max_queued, QUEUE_FULL at most 2 per handle early",
      "closed cleanly, they give back what they reserved",
      "a dead holder's unused reservation is counted out by the takeover",
      "a live handle whose reservation was recounted gives back nothing twice",
    }) do
      assert.matches("PASS reserve: " .. line, out, 1, true)
    end
  end)
end)
