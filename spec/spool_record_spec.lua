-- A spool record (issue 13): written straight as JSON text (nh_spool_item_from_job), the same
-- JSON as the earlier cJSON writer for ordinary and hostile jobs, decoded back to the same job;
-- a record the earlier writer made still decodes. tests/spool_record.c does the work.

local shell = require("spec.support.shell")

describe("spool record", function()
  it("is the earlier writer's JSON, decodes back, and old records still read", function()
    assert(shell.execute("make -s build/spool_record >/dev/null"))
    local p = assert(io.popen("build/spool_record 2>&1"))
    local out = p:read("*a")
    local ok = p:close()
    assert.is_nil(out:match("FAIL[^\n]*"), out)
    assert.truthy(ok, out)
    local _, passes = out:gsub("PASS", "")
    assert.equals(16, passes, out)
  end)
end)
