#!/bin/sh
# Installs the Debian packages that building, testing and the demo need,
# when one of them is missing. Needs root (or sudo) only when it installs.
set -e

missing=""
need() { # need PACKAGE TEST...
  pkg=$1; shift
  "$@" >/dev/null 2>&1 || missing="$missing $pkg"
}
has_file() { test -e "$1"; }
has_cmd() { command -v "$1"; }
has_lua_mod() { "$1" -e "require('$2')"; }
# Debian's python3 (a pyenv or venv python3 first on PATH does not see Debian's modules).
has_py_mod() { /usr/bin/python3 -c "import $1"; }

need gcc has_cmd cc
need make has_cmd make
need pkg-config has_cmd pkg-config
need lua5.4 has_cmd lua5.4
need liblua5.4-dev has_file /usr/include/lua5.4/lua.h
# luajit2 is the LuaJIT that Debian's nginx Lua module is built on.
need luajit2 has_cmd luajit
need libluajit2-5.1-dev has_file /usr/include/luajit-2.1/lua.h
need luarocks has_cmd luarocks
need lua-busted has_cmd busted
need libcurl4-openssl-dev has_file /usr/include/x86_64-linux-gnu/curl/curl.h
need libcjson-dev has_file /usr/include/cjson/cJSON.h
need libssl-dev has_file /usr/include/openssl/hmac.h
# cmark, the CommonMark reference library: markdown for e-mail and every chat platform.
need libcmark-dev has_file /usr/include/cmark.h
# SQLite: the spool (csrc/nh_spool*.c), one file shared by every process on a host.
need libsqlite3-dev has_file /usr/include/sqlite3.h
# hiredis: the Redis spool (csrc/nh_redis*.c, spool.redis); Debian's 0.14 has no TLS.
need libhiredis-dev has_file /usr/include/hiredis/hiredis.h
# redis-server: the Redis spool's specs start their own on a free port.
need redis-server has_cmd redis-server
need nginx has_cmd /usr/sbin/nginx
need libnginx-mod-http-lua has_file /usr/lib/nginx/modules/ngx_http_lua_module.so
need lua-cjson has_lua_mod lua5.4 cjson
need lua-system has_lua_mod lua5.4 system
# lyaml: notifyhub.config.load reads YAML config files (Apprise's format).
need lua-yaml has_lua_mod lua5.4 lyaml
need curl has_cmd curl
need openssl has_cmd openssl
need wrk has_cmd wrk
need clang has_cmd clang
# clang's sanitizer and libFuzzer runtimes (make tsan, make fuzz): only a
# Recommends of clang, which --no-install-recommends leaves out.
has_fuzzer_rt() { ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a; }
need libclang-rt-14-dev has_fuzzer_rt
need valgrind has_cmd valgrind
# make lint: cppcheck, clang-format (the style in .clang-format is clang-format
# 14's, Debian bookworm's) and luacheck (lua-check) with .luacheckrc.
need cppcheck has_cmd cppcheck
need clang-format has_cmd clang-format
need lua-check has_cmd luacheck
# The loopback SMTP server of the e-mail specs (spec/support/smtp_server.py).
need python3-aiosmtpd has_py_mod aiosmtpd

[ -z "$missing" ] && exit 0

echo "notifyhub: installing$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
