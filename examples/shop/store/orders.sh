# The order log: /data/orders.jsonl (a named volume), one JSON object per line; an order's
# number is its line number. Appends are serialized with a lock directory (mkdir is atomic;
# busybox has no flock). The lock is held only around "count lines, append one"; serve removes
# a lock left by a killed script before httpd starts, since no script can hold it then.

ORDERS_DIR=${ORDERS_DIR:-/data}
ORDERS=$ORDERS_DIR/orders.jsonl
ORDERS_LOCK=$ORDERS_DIR/.orders.lock

# lock_orders: take the lock, waiting up to about 10 s; fails when it could not.
lock_orders() {
  _tries=0
  until mkdir "$ORDERS_LOCK" 2>/dev/null; do
    _tries=$((_tries + 1))
    [ "$_tries" -le 200 ] || return 1
    usleep 50000
  done
}

unlock_orders() { rmdir "$ORDERS_LOCK"; }

# order_count: how many orders the log holds.
order_count() {
  if [ -f "$ORDERS" ]; then wc -l <"$ORDERS"; else echo 0; fi
}
