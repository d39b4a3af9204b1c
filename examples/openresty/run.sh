#!/bin/sh
# Starts examples/openresty/nginx.conf on 127.0.0.1:${PORT:-8080} from the
# checkout (build first: make build). Stop it with: sh examples/openresty/run.sh stop
set -e
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
PREFIX=${PREFIX:-/tmp/notifyhub-openresty}
PORT=${PORT:-8080}
UPSTREAM_PORT=${UPSTREAM_PORT:-$((PORT + 1))}
NGINX=${NGINX:-nginx}
if [ "$1" = stop ]; then
  exec "$NGINX" -p "$PREFIX/" -c conf/nginx.conf -s quit
fi
mkdir -p "$PREFIX/conf" "$PREFIX/logs" "$PREFIX/tmp"
MODULES=""
for m in ndk_http_module ngx_http_lua_module; do
  [ -f /usr/lib/nginx/modules/$m.so ] && MODULES="$MODULES load_module /usr/lib/nginx/modules/$m.so;"
done
USER_LINE=""
[ "$(id -u)" = 0 ] && USER_LINE="user root;"
sed -e "s|{{PREFIX}}|$PREFIX|g" -e "s|{{PORT}}|$PORT|g" -e "s|{{UPSTREAM_PORT}}|$UPSTREAM_PORT|g" \
    -e "s|{{ROOT}}|$ROOT|g" -e "s|{{LOAD_MODULES}}|$MODULES|" -e "s|{{USER}}|$USER_LINE|" \
    examples/openresty/nginx.conf > "$PREFIX/conf/nginx.conf"
"$NGINX" -p "$PREFIX/" -c conf/nginx.conf
echo "listening on http://127.0.0.1:$PORT (logs in $PREFIX/logs/error.log)"
