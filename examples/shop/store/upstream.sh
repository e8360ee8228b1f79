# Calls to the other services, by service name. busybox wget drops the body of a 4xx/5xx answer
# and cannot tell "401" from "unreachable" by exit code, so requests go out over nc instead:
# a raw HTTP/1.0 request, the whole response read back until the server closes.

UPSTREAM_TIMEOUT=${UPSTREAM_TIMEOUT:-10}

# resolve NAME: one of NAME's IPv4 addresses at random (a scaled service has one per replica, and
# glibc's address sorting would send every request to the same one), or NAME itself when DNS
# gives none.
resolve() {
  _address=$(timeout 2 nslookup -type=a "$1" 2>/dev/null \
    | awk '/^Name:/ { named = 1 } named && $1 == "Address:" && $2 ~ /^[0-9.]+$/ { print $2 }' \
    | shuf -n 1)
  echo "${_address:-$1}"
}

# http_get HOST PORT PATH BODYFILE: prints the response's status code (000 when there was no
# answer: name unknown, connection refused, timeout) and writes the response body to BODYFILE.
http_get() {
  _raw=$(mktemp)
  printf 'GET %s HTTP/1.0\r\nHost: %s:%s\r\nConnection: close\r\n\r\n' "$3" "$1" "$2" \
    | timeout "$UPSTREAM_TIMEOUT" nc "$(resolve "$1")" "$2" 2>/dev/null | tr -d '\r' >"$_raw"
  _status=$(head -n 1 "$_raw" | sed -n 's|^HTTP/1\.[01] \([0-9][0-9][0-9]\).*|\1|p')
  sed '1,/^$/d' "$_raw" >"$4"
  rm -f "$_raw"
  echo "${_status:-000}"
}

# json_str FIELD FILE / json_num FIELD FILE: one flat field of a small JSON object (our own
# services' answers, one object per response).
json_str() { sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p" "$2" | head -n 1; }
json_num() { sed -n "s/.*\"$1\": *\([0-9.][0-9.]*\).*/\1/p" "$2" | head -n 1; }
