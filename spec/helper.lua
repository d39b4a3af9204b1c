-- Loaded by busted before the specs (see .busted): points package.cpath at
-- the module built for the running interpreter, so one suite runs on both.
-- NOTIFYHUB_BUILD picks another build folder (make asan: build/asan).
local flavour = rawget(_G, "jit") and "luajit" or "lua5.4"
local dir = os.getenv("NOTIFYHUB_BUILD") or "build"
package.cpath = "./" .. dir .. "/" .. flavour .. "/?.so;" .. package.cpath

-- make asan preloads the sanitizer runtime into this interpreter only: the
-- programs the specs start (nginx, curl, python, other interpreters) run
-- without it.
if os.getenv("LD_PRELOAD") then
  local execute, popen = os.execute, io.popen
  local function plain(cmd)
    -- exec: the command's shell stays a direct child ($PPID is this process).
    return "exec env -u LD_PRELOAD sh -c '" .. cmd:gsub("'", "'\\''") .. "'"
  end
  os.execute = function(cmd) return execute(cmd and plain(cmd)) end
  io.popen = function(cmd, mode) return popen(plain(cmd), mode) end
end
