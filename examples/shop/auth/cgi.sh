# CGI helpers for busybox httpd, sourced by every script in cgi-bin/ (POSIX sh, busybox applets).
# Values that end up in JSON are validated by the callers (names, digits), so no JSON escaping
# is done here.

# reply STATUS JSON: a complete CGI response. httpd turns "Status:" into the HTTP status line.
reply() {
  printf 'Status: %s\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n\r\n%s\n' \
    "$1" "$2"
}

# param NAME FIELDS: the URL-decoded value of NAME in "a=1&b=2" (empty when absent).
param() {
  _raw=$(printf '%s\n' "$2" | tr '&' '\n' | sed -n "s/^$1=//p" | head -n 1)
  # httpd -d is busybox's URL decoder (%XX and '+').
  [ -n "$_raw" ] && httpd -d "$_raw"
}

# form_fields: the request's fields, from a POST body (x-www-form-urlencoded) or the query.
form_fields() {
  if [ "$REQUEST_METHOD" = POST ] && [ "${CONTENT_LENGTH:-0}" -gt 0 ] 2>/dev/null; then
    head -c "$CONTENT_LENGTH"
    printf '&'
  fi
  printf '%s' "$QUERY_STRING"
}

# bearer_token: the token from an "Authorization: Bearer T" header, if any.
bearer_token() {
  case ${HTTP_AUTHORIZATION:-} in
    "Bearer "*) printf '%s' "${HTTP_AUTHORIZATION#Bearer }" ;;
  esac
}
