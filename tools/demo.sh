#!/bin/sh
# make demo: runs examples/worker_pool.lua against a real Feishu bot when
# FEISHU_WEBHOOK_URL is set, otherwise against a loopback stand-in (nginx
# playing a signed Feishu bot that answers after 72 ms).
cd "$(dirname "$0")/.." || exit 1
export LUA_PATH_5_4="./lua/?.lua;./lua/?/init.lua;./?.lua;;"
export LUA_CPATH_5_4="./build/lua5.4/?.so;;"
if [ -n "$FEISHU_WEBHOOK_URL" ]; then
  echo "== sending to the bot in FEISHU_WEBHOOK_URL"
  exec lua5.4 examples/worker_pool.lua
fi
exec lua5.4 tools/demo.lua
