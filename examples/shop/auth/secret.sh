# Token scheme shared by login and check: TOKEN = USER "." hex(sha256(USER ":" SECRET)).
# The secret comes from a file (compose `secrets:` mounts it at /run/secrets/auth_secret).
# A demo, not a MAC: good enough to show that a token made by auth is checked by auth.

AUTH_SECRET_FILE=${AUTH_SECRET_FILE:-/run/secrets/auth_secret}

# load_secret: sets SECRET, or fails when the file is missing or empty.
load_secret() {
  SECRET=$(cat "$AUTH_SECRET_FILE" 2>/dev/null) && [ -n "$SECRET" ]
}

# valid_user NAME: 1 to 32 of [A-Za-z0-9_.-].
valid_user() {
  case $1 in
    '' | *[!A-Za-z0-9_.-]*) return 1 ;;
  esac
  [ "${#1}" -le 32 ]
}

# sign USER: the hex signature for USER under SECRET.
sign() {
  printf '%s:%s' "$1" "$SECRET" | sha256sum | cut -d' ' -f1
}
