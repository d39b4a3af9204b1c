-- bench/wrk_post.lua -- wrk script used by bench/run.lua (`wrk -s bench/wrk_post.lua`).
--
-- Makes wrk POST the same kind of request the library's webhook platform sends: a small JSON
-- message with the same Content-Type, so wrk's requests per second and the library's messages
-- per second are measured on comparable work. Runs inside wrk's own LuaJIT, not lua5.4.

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json; charset=utf-8"
-- the library's default User-Agent: notifyhub/ and NH_VERSION (bench/run.lua runs wrk from the root)
local header = io.open("csrc/nh_version.h")
local version = header and header:read("*a"):match('#define NH_VERSION%s+"([^"]+)"')
if header then header:close() end
wrk.headers["User-Agent"] = "notifyhub/" .. (version or "0")
wrk.headers["Accept"] = "*/*"
wrk.body = '{"id":"5f3c9a0e1b2d4c6f-12345","body":"hello 12345","format":"text","priority":"normal"}'
