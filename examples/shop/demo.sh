#!/usr/bin/env bash
# The shop demo (examples/shop): build and start the four services with `wharf compose`, place
# an order through web's published port (web -> store -> auth + catalog), print what each step
# answers, and take the app down without -v, so the orders stay in the store-data volume and
# the next run numbers its order after them. Each command is echoed before it runs, as
# "$ command". On a failure the app is still taken down.
#
# Environment: WHARF    the wharf CLI (default: .venv/bin/wharf of this work tree)
#              SHOP_PORT the host port for web (default: examples/shop/.env, else 8080)
#              WHARF_HOST as for any wharf command
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
wharf=${WHARF:-$root/.venv/bin/wharf}
compose_file=examples/shop/compose.yaml

# The port compose will publish: the environment wins over .env, as in compose itself.
if [ -z "${SHOP_PORT:-}" ]; then
  SHOP_PORT=$(sed -n 's/^SHOP_PORT=//p' examples/shop/.env 2>/dev/null | tail -n 1)
fi
export SHOP_PORT=${SHOP_PORT:-8080}
base=http://127.0.0.1:$SHOP_PORT

# Echo a command the way a user would type it (quoting only where needed), then run it.
run() {
  local line='$' word
  for word in "$@"; do
    if [[ $word =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then line+=" $word"
    else line+=" '${word//\'/\'\\\'\'}'"
    fi
  done
  echo "$line"
  "$@"
}

compose() { run "$wharf" compose -f "$compose_file" "$@"; }

up=0
take_down() {
  local status=$?
  if [ "$up" = 1 ]; then
    echo "shop demo failed (status $status); taking the app down" >&2
    "$wharf" compose -f "$compose_file" down >&2 || true
  fi
}
trap take_down EXIT

up=1
compose up -d --build --wait
compose ps

echo "# web serves the page on $base/"
run curl -fsS -o /dev/null -w '%{http_code} %{content_type}\n' "$base/"

echo "# log in: web -> auth"
login=$(run curl -fsS "$base/api/auth/login?user=demo")
echo "$login"
token=$(sed -n 's/.*"token": *"\([^"]*\)".*/\1/p' <<<"$login")
[ -n "$token" ] || { echo "no token in the login answer" >&2; exit 1; }

echo "# a product: web -> catalog"
run curl -fsS "$base/api/catalog/product?id=2"

echo "# order it: web -> store -> auth (who is this?) + catalog (what does it cost?)"
run curl -fsS -X POST -H "Authorization: Bearer $token" --data 'product=2&quantity=2' \
  "$base/api/store/order"

echo "# the last 3 orders, from the store-data volume (they survive down and up without -v)"
run curl -fsS "$base/api/store/orders?last=3"

compose down
up=0
