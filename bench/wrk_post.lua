-- bench/wrk_post.lua -- wrk script used by bench/run.lua (`wrk -s bench/wrk_post.lua`).
--
-- Makes wrk POST the same kind of request the library's webhook platform sends: a small JSON
-- message with the same Content-Type, so wrk's requests per second and the library's messages
-- per second are measured on comparable work. Runs inside wrk's own LuaJIT, not lua5.4.

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json; charset=utf-8"
wrk.headers["User-Agent"] = "notifyhub/0.1"
wrk.headers["Accept"] = "*/*"
wrk.body = '{"id":"5f3c9a0e1b2d4c6f-12345","body":"hello 12345","format":"text","priority":"normal"}'
