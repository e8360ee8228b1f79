# Turns products.tsv (id TAB name TAB price) into JSON objects. Variables: id (only that product;
# empty for all), host (the replica's name, reported as served_by). Prints nothing when id
# matches no row; with id empty, prints a JSON list.
BEGIN { FS = "\t"; n = 0 }
/^[ \t]*(#|$)/ { next }
id == "" || $1 == id {
  item = sprintf("{\"id\": %d, \"name\": \"%s\", \"price\": %s, \"served_by\": \"%s\"}", $1, $2, $3, host)
  out = (n == 0) ? item : out ", " item
  n++
}
END {
  if (id == "") print "[" out "]"
  else if (n > 0) print out
}
