-- A job that fails before any request (its thread or its place in the
-- queue cannot be had) ends like every other: one completion record, the
-- job's code set, nothing accepted lost. tests/fail_job.c makes the
-- allocations fail for real, from C (build/fail_job, built by `make build`).

local shell = require("spec.support.shell")

local function run(mode)
  assert(shell.execute("make -s build/fail_job >/dev/null"))
  local p = assert(io.popen("build/fail_job " .. mode .. " 2>&1"))
  local out = p:read("*a")
  local ok = p:close()
  return ok, out
end

describe("a job failed by the core", function()
  it("in direct mode without a thread ends with one record whose code is INTERNAL", function()
    local ok, out = run("direct")
    assert.is_nil(out:match("FAIL[^\n]*"), out)
    assert.is_true(ok, out)
    assert.matches("PASS direct: the job's code is INTERNAL", out, 1, true)
  end)

  it("whose queue cannot grow is refused with NO_MEMORY, and nothing accepted is lost", function()
    local ok, out = run("queue")
    assert.is_nil(out:match("FAIL[^\n]*"), out)
    assert.is_true(ok, out)
    assert.matches("PASS queue: the submit is refused with NO_MEMORY and says why", out, 1, true)
    assert.matches("PASS queue: every accepted job ends in one record", out, 1, true)
  end)
end)
