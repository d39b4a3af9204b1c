-- spec/support/child.lua: Lua chunks run in a child interpreter with this
-- build of the module, from the repository root (exit paths, fork, os.exit:
-- what a spec cannot do to its own process).
--
--   local child = require("spec.support.child")
--   local status, stdout, stderr = child.run_code("os.exit(3)", "lua5.4")
local shell = require("spec.support.shell")

local M = {}

local BUILD = os.getenv("NOTIFYHUB_BUILD") or "build"

--- What to put before an interpreter's command: under make asan the child
-- loads the instrumented module too, so it needs the sanitizer runtime that
-- spec/helper.lua keeps from commands.
function M.preload()
  local rt = os.getenv("LD_PRELOAD")
  return rt and ("LD_PRELOAD=" .. shell.q(rt) .. " ") or ""
end

--- Writes code to a temporary file that finds this build's module; returns its path.
function M.script(code, interpreter)
  local path = os.tmpname()
  shell.write_file(path, ('package.path = "lua/?.lua;lua/?/init.lua;./?.lua;" .. package.path\n'
    .. 'package.cpath = "./%s/%s/?.so;" .. package.cpath\n'):format(BUILD, interpreter) .. code)
  return path
end

--- Runs a script; returns the exit status (128 + n for signal n), stdout, stderr.
function M.run(path, interpreter, args)
  local err = os.tmpname()
  local out = shell.capture(("%s%s %s %s 2>%s; echo \"status=$?\""):format(M.preload(), interpreter,
    shell.q(path), args or "", shell.q(err)))
  local stderr = shell.read_file(err) or ""
  os.remove(err)
  local status = tonumber(out:match("status=(%d+)%s*$"))
  return status, out:gsub("status=%d+%s*$", ""), stderr
end

--- script + run + remove.
function M.run_code(code, interpreter, args)
  local path = M.script(code, interpreter)
  local status, out, err = M.run(path, interpreter, args)
  os.remove(path)
  return status, out, err
end

return M
