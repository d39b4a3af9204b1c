-- Loaded by busted before the specs (see .busted): points package.cpath at
-- the module built for the running interpreter, so one suite runs on both.
local flavour = rawget(_G, "jit") and "luajit" or "lua5.4"
package.cpath = "./build/" .. flavour .. "/?.so;" .. package.cpath
