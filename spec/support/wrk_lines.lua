-- spec/support/wrk_lines.lua: a wrk script that writes every answer, "<status> <body>",
-- to a file per wrk thread: <args[1]>.<thread number>. The specs read what wrk was told
-- (spec/ngx_redis_spec.lua: the ids /accept answered).
--   wrk -t2 -c8 -d3s -s spec/support/wrk_lines.lua URL -- /tmp/out
-- luacheck: globals setup init response wrk number
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("number", threads)
end

local out

function init(args)
  out = assert(io.open(args[1] .. "." .. number, "w"))
  out:setvbuf("line")
end

function response(status, _, body)
  out:write(status, " ", body)
  if body:sub(-1) ~= "\n" then out:write("\n") end
end
