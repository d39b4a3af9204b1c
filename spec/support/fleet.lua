-- spec/support/fleet.lua: client processes in the background (spec/support/child.lua's
-- scripts, not waited for): many at once, each printing what it did to a file the spec
-- reads while they run, killed with any signal.
--
--   local fleet = require("spec.support.fleet")
--   local p = fleet.start(code, "lua5.4")   -- { pid, out, err }
--   fleet.lines(p)              -- its stdout so far, as lines
--   fleet.kill(p, "KILL"); fleet.wait(p, 10)
--   fleet.stop_all()            -- SIGKILL whatever still runs, remove the files (teardown)
--
-- A script should end by itself too (a deadline of its own): the spec that started it may
-- fail before it asks it to stop.
local shell = require("spec.support.shell")
local child = require("spec.support.child")
local system = require("system")

local M = {}
local started = {}

--- Runs code (child.script) in interpreter, stdout and stderr to files.
function M.start(code, interpreter)
  local script = child.script("io.stdout:setvbuf('line')\n" .. code, interpreter)
  local p = { script = script, out = script .. ".out", err = script .. ".err" }
  p.pid = assert(tonumber(shell.trim(shell.capture(("%s%s %s </dev/null >%s 2>%s & echo $!")
    :format(child.preload(), interpreter, shell.q(script), shell.q(p.out), shell.q(p.err))))))
  started[#started + 1] = p
  return p
end

--- Its stdout so far, one entry a line (a line being written is left out).
function M.lines(p)
  local text = shell.read_file(p.out) or ""
  local lines = {}
  for line in text:gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  return lines
end

--- Its stderr so far.
function M.stderr(p) return shell.read_file(p.err) or "" end

function M.alive(p) return shell.alive(p.pid) end

function M.kill(p, sig)
  shell.execute("kill -" .. (sig or "TERM") .. " " .. p.pid .. " 2>/dev/null")
end

--- Waits until it exited; true when it did within timeout seconds.
function M.wait(p, timeout)
  local deadline = system.gettime() + timeout
  while shell.alive(p.pid) and system.gettime() < deadline do system.sleep(0.05) end
  return not shell.alive(p.pid)
end

--- Waits until fn(lines) is true; true, or false at the deadline or once the process
-- exited without it.
function M.wait_lines(p, fn, timeout)
  local deadline = system.gettime() + timeout
  repeat
    local gone = not shell.alive(p.pid)
    if fn(M.lines(p)) then return true end
    if gone then return false end
    system.sleep(0.05)
  until system.gettime() > deadline
  return false
end

--- SIGKILL every process still running and remove every file; idempotent.
function M.stop_all()
  for _, p in ipairs(started) do
    if shell.alive(p.pid) then
      shell.execute("kill -CONT " .. p.pid .. " 2>/dev/null; kill -KILL " .. p.pid .. " 2>/dev/null")
      M.wait(p, 5)
    end
    os.remove(p.script)
    os.remove(p.out)
    os.remove(p.err)
  end
  started = {}
end

M._exit = { stop = M.stop_all }
shell.stop_at_exit(M._exit)

return M
